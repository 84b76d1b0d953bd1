//! The Lambda functions' start-up: one configuration read by all ([`LambdaConfig`]), the AWS
//! clients built once from one SDK configuration, and each function's service, once per cold
//! start. The binaries' `main` only wires these to the runtime.

use std::sync::Arc;

use domain::{Clock, SystemClock};
use store::cursor::Cursors;
use store::dynamo::DynamoStore;

mod config;

pub use config::{ConfigError, Endpoints, Function, LambdaConfig, env};

/// Where secrets are on AWS (the CLI beside a DynamoDB table uses it too).
#[derive(Debug, Clone)]
pub struct SecretsManagerConfig {
    /// Names start with this (`OMS_SECRETS_PREFIX`, default `tenantoms`).
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

/// The AWS clients of one function, all from one loaded SDK configuration (region and
/// credentials providers; credentials themselves are fetched lazily, on the first call).
pub struct Aws {
    sdk: aws_config::SdkConfig,
    endpoints: Endpoints,
}

impl Aws {
    pub async fn load(config: &LambdaConfig) -> Self {
        Self {
            sdk: aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await,
            endpoints: config.endpoints.clone(),
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
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
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
    let services = app::services_with_outbound(
        store,
        clock,
        verifier,
        Cursors::new(config.cursor_key.clone()),
        Some(secrets.clone()),
        config.outbound.clone(),
    )
    .map_err(|e| format!("cannot build the services: {e}"))?;
    Ok((services, secrets))
}

/// The `graphql` function's router: GraphQL only (no GraphiQL, introspection as configured),
/// tenant tokens and, when configured, the platform issuer's.
pub async fn graphql_router(config: &LambdaConfig) -> Result<axum::Router, String> {
    let aws = Aws::load(config).await;
    let verifier = auth::VerifierConfig {
        platform: config.platform.clone(),
        ..auth::VerifierConfig::default()
    };
    let (services, _) = function_services(config, &aws, verifier)?;
    Ok(api::graphql_router(
        api::api_state(services),
        graphql_http(config),
    ))
}

/// The HTTP settings of the `graphql` function.
pub fn graphql_http(config: &LambdaConfig) -> api::HttpConfig {
    api::HttpConfig {
        limits: api::Limits {
            introspection: config.introspection,
            ..api::Limits::production()
        },
        graphiql: false,
        jwks: None,
    }
}

/// A webhook function's router.
pub async fn webhook_router(config: &LambdaConfig) -> Result<axum::Router, String> {
    let aws = Aws::load(config).await;
    let (services, _) = function_services(config, &aws, auth::VerifierConfig::default())?;
    Ok(api::webhook_router(api::api_state(services)))
}

/// The `outbox-relay` function's relay: the table's stream to the bus.
pub async fn outbox_relay(config: &LambdaConfig) -> Result<app::relay::StreamRelay, String> {
    let bus = config.event_bus.clone().ok_or("OMS_EVENT_BUS is not set")?;
    let aws = Aws::load(config).await;
    Ok(app::relay::StreamRelay::new(Arc::new(
        bus::EventBridgePublisher::new(aws.eventbridge(), bus),
    )))
}

/// The `event-consumer` function: tenant events (any registered source) are applied; our own
/// domain events (source `tenantoms`, from the notifications rule) are notified to tenants.
pub struct EventFunction {
    pub tenant_events: api::tenant_events::TenantEventConsumer,
    pub notifier: app::notify::Notifier,
}

/// The `event-consumer` function.
pub async fn event_function(config: &LambdaConfig) -> Result<EventFunction, String> {
    let queue = config
        .dead_letter_queue
        .clone()
        .ok_or("OMS_DEAD_LETTER_QUEUE_URL is not set")?;
    let aws = Aws::load(config).await;
    let dead_letters = Arc::new(bus::SqsDeadLetters::new(aws.sqs(), queue));
    let (services, secrets) = function_services(config, &aws, auth::VerifierConfig::default())?;
    // Production: only public https receivers (and the allow-list's targets).
    let sender = auth::outbound::HttpSender::with_policy(
        std::time::Duration::from_secs(10),
        config.outbound.clone(),
    )?;
    Ok(EventFunction {
        notifier: services.notifier(secrets, Arc::new(sender)),
        tenant_events: api::tenant_events::TenantEventConsumer::new(
            services.app,
            services.event_sources,
            dead_letters,
        ),
    })
}

/// One EventBridge invocation: the outcome as JSON, or an error (a failure of the system) so
/// that Lambda retries the event and, after its retries, sends it to the function's on-failure
/// destination.
pub async fn handle_event(
    function: &EventFunction,
    event: serde_json::Value,
) -> Result<serde_json::Value, api::tenant_events::Retry> {
    use api::tenant_events::{Consumed, Retry};
    use app::notify::Notified;
    if event["source"] == domain::events::EVENT_SOURCE {
        let domain_event: domain::events::DomainEvent =
            serde_json::from_value(event["detail"].clone())
                .map_err(|e| Retry(format!("not one of our domain events: {e}")))?;
        let outcome = function
            .notifier
            .notify(&domain_event)
            .await
            .map_err(|e| Retry(e.to_string()))?;
        return Ok(match outcome {
            Notified::Delivered { attempts } => {
                serde_json::json!({ "outcome": "notified", "attempts": attempts })
            }
            Notified::Skipped(why) => serde_json::json!({ "outcome": "skipped", "reason": why }),
            Notified::GaveUp { attempts, .. } => {
                serde_json::json!({ "outcome": "gave_up", "attempts": attempts })
            }
        });
    }
    let outcome = function.tenant_events.consume(&event.to_string()).await?;
    Ok(match outcome {
        Consumed::Applied => serde_json::json!({ "outcome": "applied" }),
        Consumed::Duplicate => serde_json::json!({ "outcome": "duplicate" }),
        Consumed::DeadLettered(reason) => {
            serde_json::json!({ "outcome": "dead_lettered", "reason": reason })
        }
    })
}
