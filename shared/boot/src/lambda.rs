//! What every Lambda function reads from its environment (template.yaml sets it), and the
//! services built from it, once per cold start.

use std::sync::Arc;

use base64::Engine;
use domain::{Clock, SystemClock};
use store::cursor::{CursorKey, Cursors};

use crate::{BootError, StoreConfig, open_store};

/// The environment variables the functions read (template.yaml sets them; a test holds the
/// template to these lists).
pub mod env {
    /// The table's name.
    pub const TABLE_NAME: &str = "TABLE_NAME";
    /// The listing-cursor signing key (base64, at least 32 bytes).
    pub const CURSOR_KEY: &str = "OMS_CURSOR_KEY";
    /// Secret names start with this (default `tenantoms`).
    pub const SECRETS_PREFIX: &str = "OMS_SECRETS_PREFIX";
    /// The event consumer's dead-letter queue.
    pub const DEAD_LETTER_QUEUE_URL: &str = "OMS_DEAD_LETTER_QUEUE_URL";
    /// The bus the outbox relay publishes to.
    pub const EVENT_BUS: &str = "OMS_EVENT_BUS";
    /// Log levels (an `EnvFilter`; default `info`).
    pub const LOG: &str = "OMS_LOG";
    /// GraphQL introspection (`true` to allow; off by default).
    pub const INTROSPECTION: &str = "OMS_INTROSPECTION";
    /// The deployment stage (informational).
    pub const STAGE: &str = "STAGE";

    /// What each function requires (binary name, variables).
    pub const REQUIRED: &[(&str, &[&str])] = &[
        ("graphql", &[TABLE_NAME, CURSOR_KEY]),
        ("webhook-add-order", &[TABLE_NAME, CURSOR_KEY]),
        ("webhook-shipment-tracker", &[TABLE_NAME, CURSOR_KEY]),
        (
            "event-consumer",
            &[TABLE_NAME, CURSOR_KEY, DEAD_LETTER_QUEUE_URL],
        ),
        ("outbox-relay", &[EVENT_BUS]),
    ];

    /// Read when set, defaulted otherwise.
    pub const OPTIONAL: &[&str] = &[SECRETS_PREFIX, LOG, INTROSPECTION, STAGE];

    /// Endpoint overrides for local emulators: never set in a deployment.
    pub const LOCAL_ONLY: &[&str] = &[
        "OMS_DYNAMODB_ENDPOINT",
        "OMS_SECRETS_ENDPOINT",
        "OMS_SQS_ENDPOINT",
        "OMS_EVENTBRIDGE_ENDPOINT",
        "OMS_SECRETS_MASTER_KEY",
    ];
}

/// Where secrets are on AWS.
#[derive(Debug, Clone)]
pub struct SecretsManagerConfig {
    /// Names start with this (`OMS_SECRETS_PREFIX`, default `tenantoms`).
    pub prefix: String,
    /// An endpoint override (`OMS_SECRETS_ENDPOINT`: moto in tests; unset in AWS).
    pub endpoint: Option<String>,
}

/// A function's configuration.
#[derive(Debug)]
pub struct FunctionConfig {
    /// The table (`TABLE_NAME`), and a DynamoDB endpoint override (`OMS_DYNAMODB_ENDPOINT`,
    /// DynamoDB Local; unset in AWS).
    pub store: StoreConfig,
    /// The listing-cursor signing key (`OMS_CURSOR_KEY`, base64, ≥ 32 bytes).
    pub cursor_key: CursorKey,
    pub secrets: SecretsManagerConfig,
}

impl FunctionConfig {
    /// Reads the environment; a missing or malformed setting is a start-up error naming it.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let table = get(env::TABLE_NAME).ok_or("TABLE_NAME is not set")?;
        let key = get(env::CURSOR_KEY)
            .ok_or("OMS_CURSOR_KEY is not set (base64 of at least 32 random bytes)")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|e| format!("OMS_CURSOR_KEY is not base64: {e}"))?;
        let cursor_key = CursorKey::from_bytes(&key).map_err(|e| format!("OMS_CURSOR_KEY: {e}"))?;
        Ok(Self {
            store: StoreConfig::Dynamo {
                table,
                endpoint: get("OMS_DYNAMODB_ENDPOINT"),
            },
            cursor_key,
            secrets: SecretsManagerConfig {
                prefix: get(env::SECRETS_PREFIX).unwrap_or_else(|| "tenantoms".into()),
                endpoint: get("OMS_SECRETS_ENDPOINT"),
            },
        })
    }
}

/// The Secrets Manager secret store.
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

/// The services of a webhook function: the store, Secrets Manager, the system clock.
pub async fn webhook_services(config: FunctionConfig) -> Result<app::Services, BootError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&config.store, clock.clone()).await?;
    let secrets = open_secrets_manager(&config.secrets, clock.clone()).await;
    app::services(
        store,
        clock,
        auth::VerifierConfig::default(),
        Cursors::new(config.cursor_key),
        Some(secrets),
    )
    .map_err(|e| BootError::Services(e.to_string()))
}

/// A webhook function's router, from its environment.
pub async fn webhook_router_from_env() -> Result<axum::Router, String> {
    let config = FunctionConfig::from_env(|k| std::env::var(k).ok())?;
    let services = webhook_services(config).await.map_err(|e| e.to_string())?;
    Ok(api::webhook_router(api::api_state(services)))
}

/// The dead-letter queue of the event consumer (`OMS_DEAD_LETTER_QUEUE_URL`), and an SQS
/// endpoint override (`OMS_SQS_ENDPOINT`: moto in tests; unset in AWS).
pub async fn sqs_dead_letters(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Arc<bus::SqsDeadLetters>, String> {
    let queue = get(env::DEAD_LETTER_QUEUE_URL).ok_or("OMS_DEAD_LETTER_QUEUE_URL is not set")?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(e) = get("OMS_SQS_ENDPOINT") {
        loader = loader.endpoint_url(e);
    }
    let client = aws_sdk_sqs::Client::new(&loader.load().await);
    Ok(Arc::new(bus::SqsDeadLetters::new(client, queue)))
}

/// The `event-consumer` function: tenant events (any registered source) are applied; our own
/// domain events (source `tenantoms`, from the notifications rule) are notified to tenants.
pub struct EventFunction {
    pub tenant_events: api::tenant_events::TenantEventConsumer,
    pub notifier: app::notify::Notifier,
}

/// The `event-consumer` function, from its environment.
pub async fn event_function_from_env() -> Result<EventFunction, String> {
    let get = |k: &str| std::env::var(k).ok();
    let config = FunctionConfig::from_env(get)?;
    let dead_letters = sqs_dead_letters(get).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&config.store, clock.clone())
        .await
        .map_err(|e| e.to_string())?;
    let secrets = open_secrets_manager(&config.secrets, clock.clone()).await;
    let services = app::services(
        store,
        clock,
        auth::VerifierConfig::default(),
        Cursors::new(config.cursor_key),
        Some(secrets.clone()),
    )
    .map_err(|e| e.to_string())?;
    // Production: only public https receivers.
    let sender = auth::outbound::HttpSender::new(std::time::Duration::from_secs(10), false)
        .map_err(|e| format!("cannot build the notification client: {e}"))?;
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
