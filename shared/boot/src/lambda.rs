//! The Lambda functions' start-up: one configuration read by all ([`LambdaConfig`]), the AWS
//! clients built once from one SDK configuration, and each function's service, once per cold
//! start. The binaries' `main` only wires these to the runtime.

use std::sync::Arc;

use domain::{Clock, SystemClock};
use store::cursor::Cursors;
use store::dynamo::DynamoStore;

mod config;

pub use config::{
    ConfigError, Endpoints, Function, LambdaConfig, NotifyConfig, env, secrets_prefix,
};

/// Where secrets are on AWS (the CLI beside a DynamoDB table uses it too).
#[derive(Debug, Clone)]
pub struct SecretsManagerConfig {
    /// Names start with this (`OMS_SECRETS_PREFIX`, default `tenantoms/{stage}`).
    pub prefix: String,
    /// An endpoint override (`OMS_SECRETS_ENDPOINT`: moto in tests; unset in AWS).
    pub endpoint: Option<String>,
}

/// Reads the function's configuration at init; on a missing or malformed setting, logs one
/// line naming it and exits, so the function never takes a request half-configured.
pub fn start(function: Function) -> LambdaConfig {
    match LambdaConfig::from_process_env(function) {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(function = function.binary(), "configuration: {e}");
            std::process::exit(1)
        }
    }
}

/// What a function reports after each invocation: its metrics and, when exported, its traces.
pub struct Observed {
    emf: telemetry::emf::Emf,
    traces: Option<telemetry::traces::Traces>,
}

impl Observed {
    /// After an invocation: the metrics as EMF lines on standard output, the batched spans
    /// sent (the environment may freeze before a background flush would).
    pub fn flush(&self) {
        self.emf.flush();
        if let Some(t) = &self.traces {
            t.flush();
        }
    }
}

/// The function's metrics recorder — CloudWatch EMF lines on standard output, every document
/// naming the function as deployed (`AWS_LAMBDA_FUNCTION_NAME`, one per stack and stage; the
/// binary's name elsewhere) — with the trace pipeline `init_logging` started, if any.
/// Installed at init; a failure stops the function there, naming it.
pub fn observed(function: Function, traces: Option<telemetry::traces::Traces>) -> Observed {
    let name =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| function.binary().to_owned());
    match telemetry::emf::Emf::install(name) {
        Ok(emf) => Observed { emf, traces },
        Err(e) => {
            tracing::error!(function = function.binary(), "metrics: {e}");
            std::process::exit(1)
        }
    }
}

/// The AWS clients of one function, all from one loaded SDK configuration (region and
/// credentials providers; credentials themselves are fetched lazily, on the first call).
pub struct Aws {
    sdk: aws_config::SdkConfig,
    endpoints: Endpoints,
}

impl Aws {
    pub async fn load(config: &LambdaConfig) -> Self {
        Self::load_with(config.endpoints.clone()).await
    }

    /// The clients with these endpoint overrides (the CLI's, from `OMS_*_ENDPOINT`).
    pub async fn load_with(endpoints: Endpoints) -> Self {
        Self {
            sdk: crate::aws_loader().load().await,
            endpoints,
        }
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut b = aws_sdk_dynamodb::config::Builder::from(&self.sdk);
        if let Some(e) = &self.endpoints.dynamodb {
            b = b.endpoint_url(e);
        }
        aws_sdk_dynamodb::Client::from_conf(b.build())
    }

    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        let mut b = aws_sdk_secretsmanager::config::Builder::from(&self.sdk);
        if let Some(e) = &self.endpoints.secrets {
            b = b.endpoint_url(e);
        }
        aws_sdk_secretsmanager::Client::from_conf(b.build())
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let mut b = aws_sdk_sqs::config::Builder::from(&self.sdk);
        if let Some(e) = &self.endpoints.sqs {
            b = b.endpoint_url(e);
        }
        aws_sdk_sqs::Client::from_conf(b.build())
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        let mut b = aws_sdk_eventbridge::config::Builder::from(&self.sdk);
        if let Some(e) = &self.endpoints.eventbridge {
            b = b.endpoint_url(e);
        }
        aws_sdk_eventbridge::Client::from_conf(b.build())
    }
}

/// The Secrets Manager secret store (the CLI's, beside a DynamoDB table).
pub async fn open_secrets_manager(
    config: &SecretsManagerConfig,
    clock: Arc<dyn Clock>,
) -> Arc<dyn domain::ports::SecretStore> {
    let mut loader = crate::aws_loader();
    if let Some(e) = &config.endpoint {
        loader = loader.endpoint_url(e);
    }
    let client = aws_sdk_secretsmanager::Client::new(&loader.load().await);
    Arc::new(secrets::SecretsManagerStore::new(
        client,
        config.prefix.clone(),
        clock,
    ))
}

/// The shared services of a function over the table and Secrets Manager. The table is opened
/// as DynamoDB directly (not through [`crate::open_store`]), so the Lambda binaries do not
/// link the embedded store.
fn function_services(
    config: &LambdaConfig,
    aws: &Aws,
    verifier: auth::VerifierConfig,
) -> Result<(app::Services, Arc<dyn domain::ports::SecretStore>), String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(DynamoStore::new(
        aws.dynamodb(),
        config.table.clone(),
        clock.clone(),
    ));
    let secrets: Arc<dyn domain::ports::SecretStore> = Arc::new(secrets::SecretsManagerStore::new(
        aws.secrets_manager(),
        config.secrets_prefix.clone(),
        clock.clone(),
    ));
    let services = crate::services_of_stage(
        store,
        clock,
        verifier,
        Cursors::new(config.cursor_key.clone()),
        Some(secrets.clone()),
        config.outbound.clone(),
        domain::apikey::KeyStage::of_deployment(&config.stage),
    )
    .map_err(|e| format!("cannot build the services: {e}"))?;
    Ok((services, secrets))
}

/// The `graphql` function's services: tenant tokens and, when configured, the platform
/// issuer's. Its `main` serves them through the GraphQL router (`http_edge`).
pub async fn graphql_services(config: &LambdaConfig) -> Result<app::Services, String> {
    let aws = Aws::load(config).await;
    let verifier = auth::VerifierConfig {
        platform: config.platform.clone(),
        ..auth::VerifierConfig::default()
    };
    Ok(function_services(config, &aws, verifier)?.0)
}

/// A webhook function's services. Its `main` serves them through the webhook router (`http_edge`).
pub async fn webhook_services(config: &LambdaConfig) -> Result<app::Services, String> {
    let aws = Aws::load(config).await;
    Ok(function_services(config, &aws, auth::VerifierConfig::default())?.0)
}

/// The `outbox-relay` function's relay: the table's stream to the bus, what cannot go out for
/// good to its dead-letter queue.
pub async fn outbox_relay(config: &LambdaConfig) -> Result<events::relay::StreamRelay, String> {
    let bus = config.event_bus.clone().ok_or("OMS_EVENT_BUS is not set")?;
    let queue = config
        .dead_letter_queue
        .clone()
        .ok_or("OMS_DEAD_LETTER_QUEUE_URL is not set")?;
    let aws = Aws::load(config).await;
    Ok(events::relay::StreamRelay::new(
        Arc::new(events::EventBridgePublisher::new(aws.eventbridge(), bus)),
        Arc::new(events::SqsDeadLetters::new(aws.sqs(), queue)),
    ))
}

/// The `event-consumer` function.
pub async fn event_function(
    config: &LambdaConfig,
) -> Result<events::dispatch::EventFunction, String> {
    let queue = config
        .dead_letter_queue
        .clone()
        .ok_or("OMS_DEAD_LETTER_QUEUE_URL is not set")?;
    let aws = Aws::load(config).await;
    let dead_letters = Arc::new(events::SqsDeadLetters::new(aws.sqs(), queue));
    let (services, _) = function_services(config, &aws, auth::VerifierConfig::default())?;
    Ok(events::dispatch::EventFunction {
        tenant_events: events::tenant::TenantEventConsumer::new(
            services.app,
            services.event_sources,
            dead_letters.clone(),
        ),
        dead_letters,
    })
}

/// The `notifier` function: our domain events from the notifications queue, one delivery
/// attempt each (a 5 s timeout), retried by the queue with backoff, circuit-broken per endpoint.
pub async fn notifier_function(
    config: &LambdaConfig,
) -> Result<events::notifier::NotifierFunction, String> {
    let queue = config
        .notifications_queue
        .clone()
        .ok_or("OMS_NOTIFICATIONS_QUEUE_URL is not set")?;
    let dead = config
        .dead_letter_queue
        .clone()
        .ok_or("OMS_DEAD_LETTER_QUEUE_URL is not set")?;
    let aws = Aws::load(config).await;
    let (services, secrets) = function_services(config, &aws, auth::VerifierConfig::default())?;
    // Production: only public https receivers (and the allow-list's targets).
    let sender = outbound_http::HttpSender::with_policy(
        events::notifier::ATTEMPT_TIMEOUT,
        config.outbound.clone(),
    )?;
    let notifier = Arc::new(events::notify::Notifier::of(
        &services,
        secrets,
        Arc::new(sender),
    ));
    let policy = events::notify::RetryPolicy {
        attempts: config.notify.max_attempts,
        base: std::time::Duration::from_secs(u64::from(config.notify.backoff_secs)),
        max: events::notify::MAX_BACKOFF,
    };
    Ok(events::notifier::NotifierFunction {
        queued: events::notify::QueuedNotifier::new(
            notifier,
            events::notify::Breaker::default(),
            policy,
        ),
        queue: events::SqsQueue::new(aws.sqs(), queue),
        dead_letters: Arc::new(events::SqsDeadLetters::new(aws.sqs(), dead)),
    })
}

/// [`events::stream::redrive`] over the queue at `queue_url`, publishing to `bus`, with these endpoint
/// overrides (the CLI's `oms outbox redrive`).
pub async fn redrive_queue(
    queue_url: &str,
    bus: &str,
    endpoints: Endpoints,
) -> Result<events::stream::RedriveReport, String> {
    let aws = Aws::load_with(endpoints).await;
    let queue = events::SqsQueue::new(aws.sqs(), queue_url);
    let publisher = events::EventBridgePublisher::new(aws.eventbridge(), bus);
    events::stream::redrive(&queue, &publisher).await
}
