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

/// The `outbox-relay` function's relay: the table's stream to the bus, what cannot go out for
/// good to its dead-letter queue.
pub async fn outbox_relay(config: &LambdaConfig) -> Result<app::relay::StreamRelay, String> {
    let bus = config.event_bus.clone().ok_or("OMS_EVENT_BUS is not set")?;
    let queue = config
        .dead_letter_queue
        .clone()
        .ok_or("OMS_DEAD_LETTER_QUEUE_URL is not set")?;
    let aws = Aws::load(config).await;
    Ok(app::relay::StreamRelay::new(
        Arc::new(bus::EventBridgePublisher::new(aws.eventbridge(), bus)),
        Arc::new(bus::SqsDeadLetters::new(aws.sqs(), queue)),
    ))
}

/// The `event-consumer` function: tenant events (any registered source) are applied; an event
/// that claims a reserved source (`tenantoms`, `aws.*`) is forged here: our own events reach
/// the notifier only, through the notifications queue.
pub struct EventFunction {
    pub tenant_events: api::tenant_events::TenantEventConsumer,
    pub dead_letters: Arc<dyn domain::ports::DeadLetters>,
}

/// The `event-consumer` function.
pub async fn event_function(config: &LambdaConfig) -> Result<EventFunction, String> {
    let queue = config
        .dead_letter_queue
        .clone()
        .ok_or("OMS_DEAD_LETTER_QUEUE_URL is not set")?;
    let aws = Aws::load(config).await;
    let dead_letters = Arc::new(bus::SqsDeadLetters::new(aws.sqs(), queue));
    let (services, _) = function_services(config, &aws, auth::VerifierConfig::default())?;
    Ok(EventFunction {
        tenant_events: api::tenant_events::TenantEventConsumer::new(
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
) -> Result<crate::notifier::NotifierFunction, String> {
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
    let sender = auth::outbound::HttpSender::with_policy(
        crate::notifier::ATTEMPT_TIMEOUT,
        config.outbound.clone(),
    )?;
    let notifier = Arc::new(services.notifier(secrets, Arc::new(sender)));
    let policy = app::notify::RetryPolicy {
        attempts: config.notify.max_attempts,
        base: std::time::Duration::from_secs(u64::from(config.notify.backoff_secs)),
        max: app::notify::MAX_BACKOFF,
    };
    Ok(crate::notifier::NotifierFunction {
        queued: app::notify::QueuedNotifier::new(notifier, app::notify::Breaker::default(), policy),
        queue: bus::SqsQueue::new(aws.sqs(), queue),
        dead_letters: Arc::new(bus::SqsDeadLetters::new(aws.sqs(), dead)),
    })
}

/// The account a function runs in, from its ARN (`arn:aws:lambda:{region}:{account}:function:…`).
pub fn account_of(function_arn: &str) -> Option<&str> {
    function_arn
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

/// The dead-letter reason of an event that claims a source it may not use.
pub const FORGED_SOURCE: &str = "forged_source";

/// Why an event is not one of our own domain events, if it is not: our source (`tenantoms`),
/// put by this function's own account (EventBridge sets `account` to the putter's, which the
/// putter cannot choose). The notifier takes only these.
pub fn not_ours(event: &serde_json::Value, function_arn: &str) -> Option<String> {
    let source = event["source"].as_str().unwrap_or_default();
    if source != domain::events::EVENT_SOURCE {
        return Some(format!(
            "source `{source}` is not ours (`{}`)",
            domain::events::EVENT_SOURCE
        ));
    }
    let from = event["account"].as_str().unwrap_or_default();
    match account_of(function_arn) {
        Some(own) if own == from => None,
        Some(own) => Some(format!(
            "source `{source}` put by account `{from}`, not by this deployment's ({own})"
        )),
        None => Some(format!(
            "source `{source}`: this function's own account is unknown, so no event can prove it is ours"
        )),
    }
}

/// Why a tenant event claims a source it may not: `aws.*` (no AWS service event is routed
/// here) or ours (our events go to the notifier, never to the intake).
fn forged(event: &serde_json::Value) -> Option<String> {
    let source = event["source"].as_str().unwrap_or_default();
    if source.starts_with("aws.") {
        return Some(format!("source `{source}` is reserved to AWS services"));
    }
    if source == domain::events::EVENT_SOURCE {
        let from = event["account"].as_str().unwrap_or_default();
        return Some(format!(
            "source `{source}` (account `{from}`) is ours: our events reach the notifier only, never the event consumer"
        ));
    }
    None
}

/// One EventBridge invocation: the outcome as JSON, or an error (a failure of the system) so
/// that Lambda retries the event and, after its retries, sends it to the function's on-failure
/// destination.
pub async fn handle_event(
    function: &EventFunction,
    event: serde_json::Value,
) -> Result<serde_json::Value, api::tenant_events::Retry> {
    use api::tenant_events::{Consumed, Retry};
    if let Some(why) = forged(&event) {
        tracing::warn!(reason = FORGED_SOURCE, detail = %why, "an event with a reserved source was dead-lettered");
        let letter = domain::ports::DeadLetter {
            reason: FORGED_SOURCE.to_owned(),
            detail: why,
            event_id: event["id"].as_str().map(str::to_owned),
            body: event.to_string(),
        };
        function
            .dead_letters
            .dead_letter(&letter)
            .await
            .map_err(|e| Retry(e.to_string()))?;
        return Ok(serde_json::json!({ "outcome": "dead_lettered", "reason": FORGED_SOURCE }));
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

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:notifier";

    fn event(source: &str, account: &str) -> serde_json::Value {
        serde_json::json!({ "source": source, "account": account })
    }

    #[test]
    fn only_our_own_account_may_use_our_source() {
        assert_eq!(account_of(ARN), Some("123456789012"));
        assert_eq!(account_of("arn:aws:lambda:us-east-1::function:x"), None);
        assert!(not_ours(&event("tenantoms", "123456789012"), ARN).is_none());
        let why = not_ours(&event("tenantoms", "999999999999"), ARN).unwrap_or_default();
        assert!(why.contains("999999999999"), "{why}");
        assert!(not_ours(&event("com.acme.orders", "123456789012"), ARN).is_some());
        assert!(not_ours(&event("tenantoms", "123456789012"), "not an arn").is_some());
    }

    #[test]
    fn the_intake_takes_no_reserved_source() {
        assert!(forged(&event("com.acme.orders", "999999999999")).is_none());
        assert!(forged(&event("tenantoms", "123456789012")).is_some());
        assert!(forged(&event("aws.s3", "123456789012")).is_some());
    }
}
