//! Start-up, written once: logging (and, with an OTLP endpoint, trace export) for a Lambda
//! function or the CLI, the store a process runs
//! over, from configuration (an embedded file in a data directory, or a DynamoDB table), and the
//! AWS SDK's configuration (its HTTPS client trusting the process's one reading of the root
//! certificates), and the services over a store ([`services`], the one composition root);
//! [`lambda`] builds each function's.

pub mod lambda;
mod services;

pub use services::{DIRECTORY_TTL_SECS, services, services_of_stage, services_with_outbound};

use std::path::PathBuf;
use std::sync::Arc;

use domain::Clock;
use store::ItemStore;
use store::dynamo::DynamoStore;
use store::embedded::EmbeddedStore;

/// Where the store is.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// The embedded store, `store.redb` in this directory (created if missing).
    Embedded { data_dir: PathBuf },
    /// A DynamoDB table; `endpoint` overrides AWS's (DynamoDB Local).
    Dynamo {
        table: String,
        endpoint: Option<String>,
        /// The stage's secrets beside the table: Secrets Manager names start with this
        /// (`tenantoms/{stage}` unless `OMS_SECRETS_PREFIX` says otherwise).
        secrets_prefix: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("cannot build the services: {0}")]
    Services(String),
    #[error("cannot open the secret store in {path}: {reason}")]
    OpenSecrets { path: String, reason: String },
    #[error(
        "cannot open the store at {path}: {reason} (is `oms serve` running on this data directory?)"
    )]
    OpenStore { path: String, reason: String },
    /// Another process (a running `oms serve`) holds the embedded store.
    #[error(
        "the store at {path} is held by another process (a running `oms serve`?); the admin \
         commands reach a running server through its admin socket (`run/admin.sock`)"
    )]
    StoreInUse { path: String },
}

/// Opens the configured store, reading `clock` for expiry.
pub async fn open_store(
    config: &StoreConfig,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn ItemStore>, BootError> {
    match config {
        StoreConfig::Embedded { data_dir } => {
            let failed = |path: &std::path::Path, reason: String| BootError::OpenStore {
                path: path.display().to_string(),
                reason,
            };
            std::fs::create_dir_all(data_dir).map_err(|e| failed(data_dir, e.to_string()))?;
            let path = data_dir.join("store.redb");
            let store = EmbeddedStore::open(&path, clock).map_err(|e| match e {
                store::StoreError::InUse => BootError::StoreInUse {
                    path: path.display().to_string(),
                },
                e => failed(&path, e.to_string()),
            })?;
            Ok(Arc::new(store))
        }
        StoreConfig::Dynamo {
            table, endpoint, ..
        } => Ok(Arc::new(
            open_dynamo(table, endpoint.as_deref(), clock).await,
        )),
    }
}

/// The AWS SDK's configuration loader, its HTTPS client trusting the process's shared roots
/// ([`outbound_http::roots`]) rather than reading the system's certificates once more.
pub fn aws_loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls;
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    let trust = tls::TrustStore::empty().with_pem_certificate(outbound_http::roots::pem_bundle());
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => loader.http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .tls_context(context)
                .build_https(),
        ),
        Err(e) => {
            tracing::error!("the shared TLS roots cannot be given to the AWS SDK: {e}");
            loader
        }
    }
}

/// A DynamoDB table (`endpoint` overrides AWS's: DynamoDB Local).
pub async fn open_dynamo(
    table: &str,
    endpoint: Option<&str>,
    clock: Arc<dyn Clock>,
) -> DynamoStore {
    let mut loader = aws_loader();
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
    DynamoStore::new(client, table, clock)
}

/// The local secret store in `data_dir` (`secrets.json`, master key `secrets.key` beside it,
/// or base64 in `OMS_SECRETS_MASTER_KEY`).
pub fn open_local_secrets(
    data_dir: &std::path::Path,
) -> Result<Arc<dyn domain::ports::SecretStore>, BootError> {
    use base64::Engine;
    let failed = |reason: String| BootError::OpenSecrets {
        path: data_dir.display().to_string(),
        reason,
    };
    let master = match std::env::var("OMS_SECRETS_MASTER_KEY") {
        Ok(k) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(k.trim())
                .map_err(|e| failed(format!("OMS_SECRETS_MASTER_KEY is not base64: {e}")))?,
        ),
        Err(_) => None,
    };
    open_local_secrets_with(data_dir, master.as_deref())
}

/// The local secret store in `data_dir` opened with `master` (32 bytes) when given, else with
/// `secrets.key` beside it (generated on first use: dev mode only).
pub fn open_local_secrets_with(
    data_dir: &std::path::Path,
    master: Option<&[u8]>,
) -> Result<Arc<dyn domain::ports::SecretStore>, BootError> {
    let store =
        secrets::LocalSecretStore::open(data_dir, master).map_err(|e| BootError::OpenSecrets {
            path: data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(Arc::new(store))
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, to stderr (the CLI's default).
    Text,
    /// One JSON object a line, to stderr.
    Json,
    /// JSON without timestamps (CloudWatch adds its own): the Lambda functions.
    Lambda,
}

/// The target of spans that name a client (its address): logged, never exported as traces.
pub const ACCESS_LOG: &str = "oms::access";

/// Installs the process's log subscriber once; `OMS_LOG` (an `EnvFilter`) sets levels, default
/// `info`. With `OTEL_EXPORTER_OTLP_ENDPOINT` set (and a tokio runtime running), the spans of
/// the service's own crates are exported as OpenTelemetry traces too; hold the returned
/// pipeline and flush or shut it down (a Lambda function after each invocation).
pub fn init_logging(format: LogFormat) -> Option<telemetry::traces::Traces> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    type Boxed = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;
    let filter = tracing_subscriber::EnvFilter::try_from_env(lambda::env::LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: a file or a pipe gets plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let logs: Boxed = match format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().with_filter(filter).boxed(),
        LogFormat::Lambda => fmt
            .json()
            .with_target(false)
            .without_time()
            .with_filter(filter)
            .boxed(),
    };
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty());
    let (traces, spans): (Option<telemetry::traces::Traces>, Option<Boxed>) = match endpoint {
        Some(endpoint) => match telemetry::traces::pipeline(&endpoint, "tenantoms") {
            Ok((traces, tracer)) => {
                // The service's own spans (DEBUG and up) and GraphQL's resolvers; nothing of
                // the libraries beneath.
                let ours = tracing_subscriber::filter::Targets::new()
                    .with_default(tracing::Level::WARN)
                    .with_targets(
                        [
                            "http_edge",
                            "graphql",
                            "app",
                            "store",
                            "carriers",
                            "events",
                            "oms",
                            "boot",
                            "async_graphql",
                        ]
                        .map(|t| (t, tracing::Level::DEBUG)),
                    )
                    .with_target(ACCESS_LOG, tracing_subscriber::filter::LevelFilter::OFF);
                (
                    Some(traces),
                    Some(telemetry::traces::layer(tracer).with_filter(ours).boxed()),
                )
            }
            Err(e) => {
                eprintln!("traces are off: {e}");
                (None, None)
            }
        },
        None => (None, None),
    };
    let layers: Vec<Boxed> = std::iter::once(logs).chain(spans).collect();
    tracing_subscriber::registry().with(layers).init();
    traces
}
