//! The release Lambda binaries as Lambda runs them: each one a child process whose
//! `AWS_LAMBDA_RUNTIME_API` is a local fake of the Runtime API, fed every file of its
//! `events/<function>/` folder, over a DynamoDB Local table and moto's Secrets Manager, SQS and
//! EventBridge. Each response is checked; the time from process start to the first `next`
//! request (init) is printed with the binary's size.
//!
//! `make test` builds the release binaries first (`make lambda-bins`); run by hand, build them
//! with `cargo build --release -p graphql -p webhook-add-order -p webhook-shipment-tracker
//! -p event-consumer -p outbox-relay`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use app::platform::{Platform, WebhookRequest};
use auth::dev::{DEV_AUDIENCE, DevIdp};
use domain::access::{Operation, OperationKind};
use domain::ids::{Issuer, PlanName, Subject, TenantId};
use domain::webhook::{WebhookHook, WebhookProvider};
use serde_json::{Value, json};
use testkit::lambda_runtime::{RunFailure, run_binary};

use crate::server::service_endpoint;

const ISSUER: &str = "https://idp.lambda-test.example";
const CURSOR_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Where the release binaries are: beside the debug `oms`, in `release/`.
fn release_dir() -> PathBuf {
    let oms = PathBuf::from(env!("CARGO_BIN_EXE_oms"));
    oms.parent().unwrap().parent().unwrap().join("release")
}

/// Runs the release `binary` over `events`: each answer in order, and the init time (printed
/// with the binary's size).
async fn invoke(
    binary: &str,
    env: &[(&str, String)],
    events: Vec<Value>,
) -> (Vec<Result<Value, Value>>, Duration) {
    let path = release_dir().join(binary);
    assert!(
        path.exists(),
        "{} is missing: `make lambda-bins` builds the release binaries",
        path.display()
    );
    let wanted = events.len();
    let run = run_binary(&path, env, events)
        .await
        .unwrap_or_else(|e| panic!("{binary}: {e:?}"));
    assert_eq!(run.answers.len(), wanted, "{binary}");
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{binary}: init {:.1} ms, binary {:.1} MB (unstripped release; `make bench` measures the \
         deployed ones)",
        run.init.as_secs_f64() * 1e3,
        size as f64 / 1e6
    );
    (run.answers, run.init)
}

fn event(folder: &str, file: &str) -> Value {
    let path = format!("{}/../events/{folder}/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Signs an add-order event's body again at `t` (the files are signed at a fixed past time).
fn resign(mut e: Value, secret: &str, t: i64) -> Value {
    use hmac::{KeyInit, Mac};
    let body = e["body"].as_str().unwrap().to_owned();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    let sig = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
    if e["headers"]["x-oms-signature"]
        .as_str()
        .is_some_and(|h| !h.contains("v1=0000"))
    {
        e["headers"]["x-oms-signature"] = Value::String(sig);
    }
    e
}

fn status(a: &Result<Value, Value>) -> u64 {
    a.as_ref().unwrap()["statusCode"].as_u64().unwrap()
}

/// The deployment the binaries run over: a fresh table on DynamoDB Local, secrets on moto.
struct Deployment {
    env: Vec<(&'static str, String)>,
    idp: DevIdp,
    _dir: tempfile::TempDir,
}

async fn deployment() -> Deployment {
    let dynamodb = service_endpoint("OMS_DYNAMODB_ENDPOINT");
    let moto = service_endpoint("OMS_MOTO_ENDPOINT");
    let table = format!("oms-lambda-{}", std::process::id());
    let prefix = format!("lambda-test-{}", std::process::id());
    let clock: Arc<dyn domain::Clock> = Arc::new(domain::SystemClock);
    let dynamo = store::dynamo::DynamoStore::new(
        store::dynamo::local_client(&dynamodb),
        table.clone(),
        clock.clone(),
    );
    dynamo.ensure_table().await.unwrap();
    let store: Arc<dyn store::ItemStore> = Arc::new(dynamo);
    let sm = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .endpoint_url(&moto)
            .build(),
    );
    let secrets: Arc<dyn domain::ports::SecretStore> = Arc::new(secrets::SecretsManagerStore::new(
        sm,
        prefix.clone(),
        clock.clone(),
    ));
    let platform = Platform::new(store, clock, Subject::parse("cli:test").unwrap(), None)
        .with_secrets(secrets);
    let plan = PlanName::parse("standard").unwrap();
    let ops = Operation::ALL
        .iter()
        .copied()
        .filter(|o| o.kind() != OperationKind::Platform)
        .collect();
    platform.set_plan(&plan, ops).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    for tenant in ["demo", "shippo-demo"] {
        let id = TenantId::parse(tenant).unwrap();
        platform.create_tenant(&id, tenant, &plan, 1).await.unwrap();
    }
    let demo = TenantId::parse("demo").unwrap();
    let mut reg = idp.registration().unwrap();
    reg.issuer = Issuer::parse(ISSUER).unwrap();
    reg.shared = false;
    reg.tenant_claim = None;
    platform.set_idp(&demo, reg).await.unwrap();
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
                "demo-add-order-secret",
            ),
        )
        .await
        .unwrap();
    platform
        .set_webhook(
            &demo,
            hook(
                WebhookHook::ShipmentTracker,
                WebhookProvider::Easypost,
                "demo-easypost-webhook-secret",
            ),
        )
        .await
        .unwrap();
    platform
        .set_webhook(
            &TenantId::parse("shippo-demo").unwrap(),
            hook(
                WebhookHook::ShipmentTracker,
                WebhookProvider::Shippo,
                "demo-shippo-webhook-token",
            ),
        )
        .await
        .unwrap();
    platform
        .set_event_source(
            &demo,
            domain::tenant::EventSource::parse("123456789012", "com.acme.orders").unwrap(),
        )
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .endpoint_url(&moto)
            .build(),
    );
    let dlq = sqs
        .create_queue()
        .queue_name(format!("oms-lambda-dlq-{}", std::process::id()))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    Deployment {
        env: vec![
            ("TABLE_NAME", table),
            ("OMS_CURSOR_KEY", CURSOR_KEY.into()),
            ("OMS_SECRETS_PREFIX", prefix),
            ("OMS_DYNAMODB_ENDPOINT", dynamodb),
            ("OMS_SECRETS_ENDPOINT", moto.clone()),
            ("OMS_SQS_ENDPOINT", moto.clone()),
            ("OMS_EVENTBRIDGE_ENDPOINT", moto),
            ("OMS_DEAD_LETTER_QUEUE_URL", dlq),
            ("OMS_EVENT_BUS", "default".into()),
            ("OMS_LOG", "warn".into()),
        ],
        idp,
        _dir: dir,
    }
}

fn token(idp: &DevIdp) -> String {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    idp.sign_claims(&json!({
        "iss": ISSUER, "aud": DEV_AUDIENCE, "sub": "lambda-staff", "roles": ["staff"],
        "email": "staff@example.com", "iat": now, "nbf": now, "exp": now + 600,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_file_through_the_release_binaries() {
    let d = deployment().await;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let mut inits = Vec::new();

    // graphql: the viewer, then an order created.
    let tok = token(&d.idp);
    let with_token = |f: &str| {
        let text = event("graphql", f).to_string().replace("<token>", &tok);
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let (answers, init) = invoke(
        "graphql",
        &d.env,
        vec![with_token("viewer.json"), with_token("create-order.json")],
    )
    .await;
    inits.push(("graphql", init));
    let bodies: Vec<Value> = answers
        .iter()
        .map(|a| serde_json::from_str(a.as_ref().unwrap()["body"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(status(&answers[0]), 200, "{bodies:?}");
    assert_eq!(
        bodies[0]["data"]["viewer"]["tenant"], "demo",
        "{}",
        bodies[0]
    );
    assert_eq!(
        bodies[1]["data"]["createOrder"]["order"]["status"], "PENDING",
        "{}",
        bodies[1]
    );

    // webhook-add-order: ours, signed again now.
    let files = [
        ("add-order.json", 201),
        ("add-order-replay.json", 200),
        ("add-order-duplicate.json", 200),
        ("add-order-bad-signature.json", 401),
        ("add-order-unknown-tenant.json", 404),
    ];
    let events = files
        .iter()
        .map(|(f, _)| resign(event("webhook-add-order", f), "demo-add-order-secret", now))
        .collect();
    let (answers, init) = invoke("webhook-add-order", &d.env, events).await;
    inits.push(("webhook-add-order", init));
    for ((file, want), a) in files.iter().zip(&answers) {
        assert_eq!(status(a), *want, "{file}: {a:?}");
    }

    // webhook-shipment-tracker: EasyPost signs the body only; the numbers are unknown here.
    let files = [
        ("easypost-tracker-updated.json", 200),
        ("easypost-replay.json", 200),
        ("easypost-bad-signature.json", 401),
        ("easypost-unknown-tenant.json", 404),
        ("shippo-track-updated.json", 200),
    ];
    let events = files
        .iter()
        .map(|(f, _)| event("webhook-shipment-tracker", f))
        .collect();
    let (answers, init) = invoke("webhook-shipment-tracker", &d.env, events).await;
    inits.push(("webhook-shipment-tracker", init));
    for ((file, want), a) in files.iter().zip(&answers) {
        assert_eq!(status(a), *want, "{file}: {a:?}");
    }

    // event-consumer: a domain event for notifications, then tenant events.
    let files = [
        ("order-created.json", "skipped"),
        ("order-submitted.json", "applied"),
        ("order-submitted.json", "duplicate"),
        ("shipment-requested.json", "dead_lettered"),
        ("order-cancelled.json", "applied"),
        ("order-submitted-unregistered-source.json", "dead_lettered"),
        ("order-submitted-malformed.json", "dead_lettered"),
    ];
    let events = files
        .iter()
        .map(|(f, _)| event("event-consumer", f))
        .collect();
    let (answers, init) = invoke("event-consumer", &d.env, events).await;
    inits.push(("event-consumer", init));
    for ((file, want), a) in files.iter().zip(&answers) {
        assert_eq!(a.as_ref().unwrap()["outcome"], *want, "{file}: {a:?}");
    }

    // outbox-relay: published to moto's EventBridge; the unreadable record is named.
    let (answers, init) = invoke(
        "outbox-relay",
        &d.env,
        vec![
            event("outbox-relay", "stream-batch.json"),
            event("outbox-relay", "stream-unreadable.json"),
        ],
    )
    .await;
    inits.push(("outbox-relay", init));
    assert_eq!(
        answers[0].as_ref().unwrap()["batchItemFailures"],
        json!([]),
        "{answers:?}"
    );
    assert_eq!(
        answers[1].as_ref().unwrap()["batchItemFailures"][0]["itemIdentifier"],
        "1600"
    );

    for (binary, init) in inits {
        assert!(
            init < Duration::from_secs(5),
            "{binary} took {init:?} to start"
        );
    }
}

/// A function whose configuration is missing or malformed never takes a request: it stops at
/// init, exiting with one log line that names the variable.
#[tokio::test]
async fn a_function_without_its_configuration_stops_at_init_naming_the_setting() {
    type Case = (&'static str, Vec<(&'static str, String)>, &'static str);
    let cases: [Case; 3] = [
        ("graphql", vec![], "TABLE_NAME is not set"),
        (
            "event-consumer",
            vec![
                ("TABLE_NAME", "t".into()),
                ("OMS_CURSOR_KEY", CURSOR_KEY.into()),
            ],
            "OMS_DEAD_LETTER_QUEUE_URL is not set",
        ),
        (
            "webhook-add-order",
            vec![
                ("TABLE_NAME", "t".into()),
                ("OMS_CURSOR_KEY", "c2hvcnQ=".into()),
            ],
            "OMS_CURSOR_KEY is invalid",
        ),
    ];
    for (binary, env, expected) in cases {
        let failure = run_binary(&release_dir().join(binary), &env, vec![json!({})])
            .await
            .unwrap_err();
        let RunFailure::Exited { status, stderr } = failure else {
            panic!("{binary}: {failure:?}");
        };
        assert!(!status.contains("exit status: 0"), "{binary}: {status}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{binary}: {stderr}");
        let line: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["level"], "ERROR", "{line}");
        let message = line["fields"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{binary}: {message}");
        assert_eq!(line["fields"]["function"], binary);
    }
}
