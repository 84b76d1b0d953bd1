//! Traces: the process's `tracing` spans (request → use case → store, carrier, bus) exported as
//! OpenTelemetry spans over OTLP/HTTP (JSON) when an endpoint is configured
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`), off otherwise. Spans are recorded at DEBUG, so without an
//! exporter they are never even created. Span fields are ids, names, kinds and codes: never a
//! token, a secret or a personal field (the edges put nothing else in them).

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The exporter's pipeline; flushed and shut down when the process stops.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Sends what is batched now (a Lambda function calls it after each invocation).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            eprintln!("trace flush failed: {e}");
        }
    }

    /// Flushes and stops the exporter.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("trace shutdown failed: {e}");
        }
    }
}

/// The exporter's HTTP client: the process's reqwest, its calls run on the tokio runtime the
/// pipeline was built on (the batch processor sends from a thread of its own).
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let (parts, body) = request.into_parts();
        let call = async move {
            let mut req = client
                .request(parts.method, parts.uri.to_string())
                .body(body);
            for (name, value) in &parts.headers {
                req = req.header(name, value);
            }
            let resp = req.send().await?;
            let status = resp.status();
            let bytes = resp.bytes().await?;
            let mut out = Response::new(bytes);
            *out.status_mut() = status;
            Ok::<_, reqwest::Error>(out)
        };
        Ok(self.runtime.spawn(call).await??)
    }
}

/// The OTLP pipeline to `endpoint` (its `/v1/traces`) for `service`, and the tracer the
/// `tracing` layer records into. Needs a tokio runtime (the current one).
pub fn pipeline(
    endpoint: &str,
    service: &'static str,
) -> Result<(Traces, opentelemetry_sdk::trace::Tracer), String> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "traces need a tokio runtime".to_owned())?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("the trace exporter's client: {e}"))?;
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(url)
        .with_http_client(OnRuntime { client, runtime })
        .build()
        .map_err(|e| format!("the trace exporter: {e}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let tracer = provider.tracer(service);
    Ok((Traces { provider }, tracer))
}

/// The parent an AWS Lambda invocation's spans join: the X-Ray trace id of
/// `_X_AMZN_TRACE_ID` (`Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled=1`), so a trace goes on
/// from API Gateway's.
pub fn lambda_parent(header: &str) -> Option<opentelemetry::Context> {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    let field = |name: &str| {
        header
            .split(';')
            .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
    };
    let root = field("Root")?;
    let mut parts = root.split('-');
    let (_, time, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let trace = TraceId::from_hex(&format!("{time}{rest}")).ok()?;
    let parent = SpanId::from_hex(field("Parent")?).ok()?;
    let flags = if field("Sampled") == Some("1") {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let context = SpanContext::new(trace, parent, flags, true, TraceState::default());
    Some(opentelemetry::Context::new().with_remote_span_context(context))
}

/// Makes `span` (an invocation's) a child of the X-Ray trace of `xray_trace_id`, when it
/// parses.
pub fn join_lambda(span: &tracing::Span, xray_trace_id: &str) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if let Some(parent) = lambda_parent(xray_trace_id) {
        let _ = span.set_parent(parent);
    }
}

/// The `tracing` layer that records spans into `tracer`.
pub fn layer<S>(
    tracer: opentelemetry_sdk::trace::Tracer,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(tracer)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn an_xray_header_names_the_parent() {
        let cx = super::lambda_parent(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(
            sc.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
        assert!(sc.is_sampled() && sc.is_remote());
        assert!(super::lambda_parent("Root=nonsense").is_none());
        assert!(super::lambda_parent("").is_none());
    }
}
