//! The HTTP functions' edge: an API Gateway HTTP API (payload 2.0) event in, the router's answer
//! out, and nothing in between that can panic.
//!
//! lambda_http's own conversion of an event into a request unwraps in several places: a body
//! marked `isBase64Encoded` that does not decode, a `Host` header that is not a host, a query
//! that is not a URI's. Built with `panic = "abort"` (as `make lambda` builds), one such event
//! aborts the execution environment. Here every step is fallible: an event that is not a
//! request is answered 400 (`application/problem+json`) and the function serves the next one.

use axum::body::Body;
use axum::http::{self, HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use base64::Engine;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The most of a response body the edge reads (API Gateway's own limit is 6 MB a response).
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// Why an event is not a request this edge serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotARequest(String);

/// Serves `router` to the Lambda Runtime API, one invocation at a time, until the process ends;
/// `after` runs once each invocation is answered (the functions flush their metrics there).
pub async fn serve(
    router: axum::Router,
    after: impl Fn() + Send + Sync,
) -> Result<(), lambda_runtime::Error> {
    let (router, after) = (&router, &after);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The invocation's span goes on from the X-Ray trace API Gateway started.
        let span = tracing::debug_span!("invocation", otel.name = "lambda invocation");
        if let Some(trace) = &event.context.xray_trace_id {
            telemetry::traces::join_lambda(&span, trace);
        }
        let answer =
            tracing::Instrument::instrument(handle(router.clone(), event.payload), span).await;
        after();
        Ok::<Value, lambda_runtime::Error>(answer)
    }))
    .await
}

/// One invocation: the answer as API Gateway takes it (payload 2.0 response).
pub async fn handle(router: axum::Router, event: Value) -> Value {
    let response = match request(event) {
        Ok(request) => match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(why) => {
            tracing::warn!(error = %why, "an invocation that is not an HTTP API request");
            problem(StatusCode::BAD_REQUEST, &why.0)
        }
    };
    answer(response).await
}

/// The request an API Gateway HTTP API event (payload 2.0) carries.
pub fn request(event: Value) -> Result<Request<Body>, NotARequest> {
    let bad = |why: String| NotARequest(why);
    if !event.is_object() {
        return Err(bad(format!(
            "the event is {}, not an HTTP API request",
            kind(&event)
        )));
    }
    let event: ApiGatewayV2httpRequest =
        serde_json::from_value(event).map_err(|e| bad(format!("not an HTTP API request: {e}")))?;
    if event.version.as_deref() != Some("2.0") {
        return Err(bad(
            "not an HTTP API request: `version` is not \"2.0\"".into()
        ));
    }
    let path = event
        .raw_path
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| bad("not an HTTP API request: no `rawPath`".into()))?;
    let uri = match event.raw_query_string.as_deref() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path,
    };
    let uri: http::Uri = uri
        .parse()
        .map_err(|e| bad(format!("the path or query is not a URI's: {e}")))?;
    let body = match event.body {
        None => Vec::new(),
        Some(b) if event.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(b.as_bytes())
            .map_err(|e| {
                bad(format!(
                    "the body is marked base64 and does not decode: {e}"
                ))
            })?,
        Some(b) => b.into_bytes(),
    };
    let mut headers = event.headers;
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty()) {
        let joined = HeaderValue::from_str(&cookies.join("; "))
            .map_err(|e| bad(format!("the cookies are not a header's value: {e}")))?;
        headers.insert(header::COOKIE, joined);
    }
    let mut request = Request::builder()
        .method(event.request_context.http.method)
        .uri(uri)
        .body(Body::from(body))
        .map_err(|e| bad(format!("not a request: {e}")))?;
    *request.headers_mut() = headers;
    Ok(request)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A refusal as the API writes them (RFC 9457).
fn problem(status: StatusCode, detail: &str) -> Response<Body> {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// The response as API Gateway takes it: text bodies as they are, others in base64; headers
/// with one value each (repeated ones joined), `set-cookie` as `cookies`.
async fn answer(response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let (status, body) = match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
        Ok(bytes) => (parts.status, bytes),
        Err(e) => {
            tracing::error!(error = %e, "the response body could not be read");
            let fallback = problem(StatusCode::INTERNAL_SERVER_ERROR, "the response was lost");
            let bytes = axum::body::to_bytes(fallback.into_body(), MAX_RESPONSE_BYTES)
                .await
                .unwrap_or_default();
            (StatusCode::INTERNAL_SERVER_ERROR, bytes)
        }
    };
    let (headers, cookies) = headers(&parts.headers);
    let (body, base64) = match std::str::from_utf8(&body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&body),
            true,
        ),
    };
    json!({
        "statusCode": status.as_u16(),
        "headers": headers,
        "cookies": cookies,
        "body": body,
        "isBase64Encoded": base64,
    })
}

fn headers(map: &HeaderMap) -> (serde_json::Map<String, Value>, Vec<String>) {
    let mut out = serde_json::Map::new();
    let mut cookies = Vec::new();
    for name in map.keys() {
        let values: Vec<&str> = map
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if name == header::SET_COOKIE {
            cookies.extend(values.iter().map(|v| (*v).to_owned()));
        } else if !values.is_empty() {
            out.insert(name.as_str().to_owned(), Value::from(values.join(", ")));
        }
    }
    (out, cookies)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn event(body: &str, base64: bool) -> Value {
        json!({
            "version": "2.0",
            "routeKey": "POST /echo",
            "rawPath": "/echo",
            "rawQueryString": "a=1",
            "headers": {"content-type": "application/json", "host": "api.example.com"},
            "requestContext": {"http": {"method": "POST", "path": "/echo"}},
            "body": body,
            "isBase64Encoded": base64,
        })
    }

    fn echo() -> axum::Router {
        axum::Router::new().route(
            "/echo",
            axum::routing::post(|uri: http::Uri, body: String| async move {
                ([("x-seen", uri.to_string())], body)
            }),
        )
    }

    #[tokio::test]
    async fn a_request_goes_through_with_its_body_decoded() {
        let r = handle(echo(), event("eyJhIjoxfQ==", true)).await;
        assert_eq!(r["statusCode"], 200, "{r}");
        assert_eq!(r["body"], r#"{"a":1}"#);
        assert_eq!(r["headers"]["x-seen"], "/echo?a=1");
        assert_eq!(r["isBase64Encoded"], false);
        let r = handle(echo(), event("plain", false)).await;
        assert_eq!(r["body"], "plain");
    }

    #[tokio::test]
    async fn what_is_not_a_request_is_answered_400() {
        let mut bad_host = event("{}", false);
        bad_host["headers"]["host"] = json!("not a host");
        let mut bad_query = event("{}", false);
        bad_query["rawQueryString"] = json!("a b");
        for (e, why) in [
            (json!({}), "not an HTTP API request"),
            (json!([]), "an array"),
            (Value::Null, "null"),
            (json!("text"), "a string"),
            (event("%%% not base64", true), "does not decode"),
            (bad_query, "not a URI's"),
        ] {
            let r = handle(echo(), e.clone()).await;
            assert_eq!(r["statusCode"], 400, "{e}: {r}");
            assert_eq!(r["headers"]["content-type"], "application/problem+json");
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            assert!(
                body["detail"].as_str().unwrap().contains(why),
                "{e}: {body}"
            );
        }
        // The Host header is the router's business, not the edge's: it goes through.
        let r = handle(echo(), bad_host).await;
        assert_eq!(r["statusCode"], 200, "{r}");
    }

    #[tokio::test]
    async fn binary_bodies_go_out_in_base64_and_cookies_apart() {
        let router = axum::Router::new().route(
            "/echo",
            axum::routing::post(|| async {
                (
                    [(header::SET_COOKIE, "a=1"), (header::CONTENT_TYPE, "x/y")],
                    vec![0xffu8, 0x00],
                )
            }),
        );
        let r = handle(router, event("", false)).await;
        assert_eq!(r["isBase64Encoded"], true);
        assert_eq!(r["body"], "/wA=");
        assert_eq!(r["cookies"], json!(["a=1"]));
        assert!(r["headers"].get("set-cookie").is_none());
    }
}
