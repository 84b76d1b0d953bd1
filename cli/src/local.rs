//! `oms local …`: the Lambda functions on this machine (`make lambda-local`), over DynamoDB Local
//! and moto. `setup` makes the local deployment the `events/` files expect (the table, the
//! `demo` tenants, the fixtures' webhook secrets, the queues and the bus) and writes the
//! functions' environment to one file; `event` makes an `events/` file invokable now (a fresh
//! token in place of `<token>`, webhook bodies signed again at the current time).
//!
//! Tokens are signed by a key generated per checkout (`.lambda-local/dev-idp.pk8`, git-ignored)
//! for the issuer [`LOCAL_ISSUER`], registered in the local table only: a `.invalid` name, so it
//! can never be a real identity provider. Nothing here runs against AWS itself: every command
//! needs the emulators' endpoints.

use std::path::Path;
use std::sync::Arc;

use app::platform::{Platform, PlatformError, WebhookRequest};
use auth::dev::{DEV_AUDIENCE, DevIdp};
use base64::Engine;
use domain::access::{Operation, OperationKind};
use domain::ids::{Issuer, PlanName, Subject, TenantId};
use domain::webhook::{WebhookHook, WebhookProvider};
use domain::{Clock, SystemClock};
use serde_json::{Value, json};

use crate::error::CliError;

/// The issuer of local tokens (a reserved top-level domain: never a real IdP).
pub const LOCAL_ISSUER: &str = "https://lambda-local.tenantoms.invalid";
/// The fixtures' secrets (events/README.md): for this local deployment only.
const ADD_ORDER_SECRET: &str = "demo-add-order-secret";
const EASYPOST_SECRET: &str = "demo-easypost-webhook-secret";
const SHIPPO_TOKEN: &str = "demo-shippo-webhook-token";
/// The account and source the tenant-event samples carry.
const SAMPLE_ACCOUNT: &str = "123456789012";
const SAMPLE_SOURCE: &str = "com.acme.orders";
const TABLE: &str = "tenantoms-local";

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn required(var: &str) -> Result<String, CliError> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            usage(format!(
                "{var} is not set: `oms local` runs against the local emulators only \
                 (`make lambda-local` sets it from .services/env)"
            ))
        })
}

/// Sets the local deployment up in `dir` (idempotent: run it again at will) and writes
/// `dir/env`, the functions' environment.
pub async fn setup(dir: &Path) -> Result<(), CliError> {
    let dynamodb = required(boot::lambda::env::DYNAMODB_ENDPOINT)?;
    let endpoints = boot::lambda::Endpoints {
        dynamodb: Some(dynamodb.clone()),
        secrets: Some(required(boot::lambda::env::SECRETS_ENDPOINT)?),
        sqs: Some(required(boot::lambda::env::SQS_ENDPOINT)?),
        eventbridge: Some(required(boot::lambda::env::EVENTBRIDGE_ENDPOINT)?),
    };
    std::fs::create_dir_all(dir).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dynamo = boot::open_dynamo(TABLE, Some(&dynamodb), clock.clone()).await;
    dynamo
        .ensure_table()
        .await
        .map_err(|e| usage(format!("cannot create the local table: {e}")))?;
    eprintln!("local: table {TABLE} ready at {dynamodb}");
    let prefix = boot::lambda::secrets_prefix("dev").map_err(usage)?;
    let secrets = boot::lambda::open_secrets_manager(
        &boot::lambda::SecretsManagerConfig {
            prefix,
            endpoint: endpoints.secrets.clone(),
        },
        clock.clone(),
    )
    .await;
    let platform = Platform::new(
        store::repo::platform_repositories(Arc::new(dynamo)),
        clock,
        Subject::parse("cli:lambda-local")?,
        None,
    )
    .with_secrets(secrets);
    tenants(&platform, dir).await?;
    eprintln!("local: tenants demo and shippo-demo, issuer {LOCAL_ISSUER}, fixture secrets set");

    let aws = boot::lambda::Aws::load_with(endpoints.clone()).await;
    let queue = |name: &'static str| {
        let sqs = aws.sqs();
        async move {
            sqs.create_queue()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| usage(format!("cannot create queue {name}: {e}")))?
                .queue_url()
                .map(str::to_owned)
                .ok_or_else(|| usage(format!("queue {name} has no URL")))
        }
    };
    let dead_letters = queue("tenantoms-local-dead-letters").await?;
    let notifications = queue("tenantoms-local-notifications").await?;
    let bus = "tenantoms-local";
    let eventbridge = aws.eventbridge();
    let buses = eventbridge
        .list_event_buses()
        .name_prefix(bus)
        .send()
        .await
        .map_err(|e| usage(format!("cannot list the event buses: {e}")))?;
    if !buses.event_buses().iter().any(|b| b.name() == Some(bus)) {
        eventbridge
            .create_event_bus()
            .name(bus)
            .send()
            .await
            .map_err(|e| usage(format!("cannot create the bus: {e}")))?;
    }
    eprintln!("local: queues and bus {bus} ready");

    store::cursor::CursorKey::load_or_generate(&dir.join("cursor.key")).map_err(usage)?;
    let cursor = std::fs::read(dir.join("cursor.key")).map_err(usage)?;
    let env = [
        ("TABLE_NAME", TABLE.to_owned()),
        (
            "OMS_CURSOR_KEY",
            base64::engine::general_purpose::STANDARD.encode(cursor),
        ),
        ("STAGE", "dev".to_owned()),
        ("OMS_LOG", "info".to_owned()),
        ("OMS_EVENT_BUS", bus.to_owned()),
        ("OMS_DEAD_LETTER_QUEUE_URL", dead_letters),
        ("OMS_NOTIFICATIONS_QUEUE_URL", notifications),
        ("OMS_DYNAMODB_ENDPOINT", dynamodb),
        (
            "OMS_SECRETS_ENDPOINT",
            endpoints.secrets.unwrap_or_default(),
        ),
        ("OMS_SQS_ENDPOINT", endpoints.sqs.unwrap_or_default()),
        (
            "OMS_EVENTBRIDGE_ENDPOINT",
            endpoints.eventbridge.unwrap_or_default(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ];
    // Quoted: cargo-lambda's env-file reader refuses a bare `=` inside a value (base64).
    let text: String = env.iter().map(|(k, v)| format!("{k}=\"{v}\"\n")).collect();
    let path = dir.join("env");
    std::fs::write(&path, text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    println!("{}", path.display());
    Ok(())
}

/// The tenants the samples name, as the samples expect them.
async fn tenants(platform: &Platform, dir: &Path) -> Result<(), CliError> {
    let plan = PlanName::parse("standard")?;
    let ops = Operation::ALL
        .iter()
        .copied()
        .filter(|o| o.kind() != OperationKind::Platform)
        .collect();
    platform.set_plan(&plan, ops).await?;
    for tenant in ["demo", "shippo-demo"] {
        match platform
            .create_tenant(&TenantId::parse(tenant)?, tenant, &plan, 1)
            .await
        {
            Ok(_) | Err(PlatformError::Exists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let demo = TenantId::parse("demo")?;
    let idp = DevIdp::load_or_generate(dir)?;
    let mut registration = idp.registration()?;
    registration.issuer = Issuer::parse(LOCAL_ISSUER)?;
    registration.shared = false;
    registration.tenant_claim = None;
    platform.set_idp(&demo, registration).await?;
    let hook = |hook, provider, secret: &str| WebhookRequest {
        hook,
        provider,
        secret: secrecy::SecretString::from(secret.to_owned()),
        max_age_seconds: None,
        tracking_reference: None,
    };
    platform
        .set_webhook(
            &demo,
            hook(
                WebhookHook::AddOrder,
                WebhookProvider::Oms,
                ADD_ORDER_SECRET,
            ),
        )
        .await?;
    platform
        .set_webhook(
            &demo,
            hook(
                WebhookHook::ShipmentTracker,
                WebhookProvider::Easypost,
                EASYPOST_SECRET,
            ),
        )
        .await?;
    platform
        .set_webhook(
            &TenantId::parse("shippo-demo")?,
            hook(
                WebhookHook::ShipmentTracker,
                WebhookProvider::Shippo,
                SHIPPO_TOKEN,
            ),
        )
        .await?;
    platform
        .set_event_source(
            &demo,
            domain::tenant::EventSource::parse(SAMPLE_ACCOUNT, SAMPLE_SOURCE)?,
        )
        .await?;
    Ok(())
}

/// A token of `demo`'s staff, signed by this checkout's key for [`LOCAL_ISSUER`] (10 minutes).
pub fn token(dir: &Path) -> Result<String, CliError> {
    let idp = DevIdp::load_or_generate(dir)?;
    let now = SystemClock.now_secs();
    Ok(idp.sign_claims(&json!({
        "iss": LOCAL_ISSUER, "aud": DEV_AUDIENCE, "sub": "local-staff", "roles": ["staff"],
        "email": "local-staff@lambda-local.tenantoms.invalid",
        "iat": now, "nbf": now, "exp": now + 600,
    }))?)
}

/// The `events/` file at `path` made invokable now: `<token>` replaced by a fresh token, an
/// add-order body signed again at the current time (a zero signature stays zero: it is the
/// bad-signature sample).
pub fn event(path: &Path, dir: &Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let text = if text.contains("<token>") {
        text.replace("<token>", &token(dir)?)
    } else {
        text
    };
    let mut event: Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("{} is not JSON: {e}", path.display())))?;
    let signed = event["headers"]["x-oms-signature"]
        .as_str()
        .is_some_and(|s| !s.contains("v1=0000"));
    if signed {
        let body = event["body"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec();
        let secret = secrecy::SecretString::from(ADD_ORDER_SECRET.to_owned());
        let now = SystemClock.now_secs();
        event["headers"]["x-oms-signature"] =
            Value::String(auth::webhook::oms_signature(&secret, now, &body));
    }
    Ok(event)
}
