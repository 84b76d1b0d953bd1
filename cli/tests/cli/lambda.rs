//! The release Lambda binaries as Lambda runs them: each one a child process whose
//! `AWS_LAMBDA_RUNTIME_API` is a local fake of the Runtime API, fed every file of its
//! `events/<function>/` folder, over a DynamoDB Local table and moto's Secrets Manager, SQS and
//! EventBridge. Each response is checked; the time from process start to the first `next`
//! request (init) is printed with the binary's size.
//!
//! `make test` builds the binaries first (`make lambda-bins`); run by hand, build them with
//! `cargo build --profile lambda-host --bin graphql --bin webhook-add-order --bin webhook-shipment-tracker
//! --bin event-consumer --bin outbox-relay --bin notifier`.

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

/// Where the Lambda binaries are: beside the debug `oms`, in `lambda-host/` (the release
/// profile with `panic = "abort"`, as deployed; `make lambda-bins` builds them).
pub(crate) fn release_dir() -> PathBuf {
    let oms = PathBuf::from(env!("CARGO_BIN_EXE_oms"));
    oms.parent().unwrap().parent().unwrap().join("lambda-host")
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
        "{} is missing: `make lambda-bins` builds the Lambda binaries",
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
pub(crate) struct Deployment {
    pub(crate) env: Vec<(&'static str, String)>,
    idp: DevIdp,
    _dir: tempfile::TempDir,
    /// The table, the secrets and the platform use cases over them (to set tenants up).
    pub(crate) store: Arc<dyn store::ItemStore>,
    pub(crate) secrets: Arc<dyn domain::ports::SecretStore>,
    pub(crate) platform: Platform,
    pub(crate) sqs: aws_sdk_sqs::Client,
}

pub(crate) async fn deployment() -> Deployment {
    let dynamodb = service_endpoint("OMS_DYNAMODB_ENDPOINT");
    let moto = service_endpoint("OMS_MOTO_ENDPOINT");
    // One deployment per test: tests of this binary run at once.
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let table = format!("oms-lambda-{tag}");
    let prefix = format!("lambda-test-{tag}");
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
    let platform = Platform::new(
        store::repo::platform_repositories(store.clone()),
        clock,
        Subject::parse("cli:test").unwrap(),
        None,
    )
    .with_secrets(secrets.clone());
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
        .queue_name(format!("oms-lambda-dlq-{tag}"))
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
            ("OMS_DEAD_LETTER_QUEUE_URL", dlq.clone()),
            ("OMS_NOTIFICATIONS_QUEUE_URL", dlq),
            ("OMS_EVENT_BUS", "default".into()),
            ("OMS_LOG", "warn".into()),
        ],
        idp,
        _dir: dir,
        store,
        secrets,
        platform,
        sqs,
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
        ("order-created.json", "dead_lettered"),
        ("order-created-forged.json", "dead_lettered"),
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

    // outbox-relay: published to moto's EventBridge; the unreadable record is dead-lettered
    // and the shard moves on.
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
    for a in &answers {
        assert_eq!(
            a.as_ref().unwrap()["batchItemFailures"],
            json!([]),
            "{answers:?}"
        );
    }

    // notifier: our event from this account (demo subscribes to nothing: skipped, done), and
    // one put by another account (dead-lettered as forged, done).
    let (answers, init) = invoke(
        "notifier",
        &d.env,
        vec![
            event("notifier", "notification.json"),
            event("notifier", "notification-forged.json"),
        ],
    )
    .await;
    inits.push(("notifier", init));
    for a in &answers {
        assert_eq!(
            a.as_ref().unwrap()["batchItemFailures"],
            json!([]),
            "{answers:?}"
        );
    }

    for (binary, init) in inits {
        assert!(
            init < Duration::from_secs(5),
            "{binary} took {init:?} to start"
        );
    }
}

/// Every function, built with `panic = "abort"`, fed what is not its event: `{}`, `[]`, `null`,
/// text that is not JSON and an HTTP event whose base64 body does not decode. Each gets an
/// answer (HTTP functions 400 problem+json; event functions dead-letter it and succeed; text
/// that is not JSON an invocation error from the runtime) and the process lives on to serve a
/// real event after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_payload_brings_a_function_down() {
    let d = deployment().await;
    let mut bad_base64 = event("webhook-add-order", "add-order-unknown-tenant.json");
    bad_base64["isBase64Encoded"] = json!(true);
    bad_base64["body"] = json!("%%% not base64 %%%");
    let junk = [
        "{}".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        "this is not JSON".to_owned(),
        bad_base64.to_string(),
    ];
    let real = [
        (
            "graphql",
            event("webhook-add-order", "add-order-unknown-tenant.json"),
        ),
        (
            "webhook-add-order",
            event("webhook-add-order", "add-order-unknown-tenant.json"),
        ),
        (
            "webhook-shipment-tracker",
            event("webhook-shipment-tracker", "easypost-unknown-tenant.json"),
        ),
        (
            "event-consumer",
            event("event-consumer", "order-created.json"),
        ),
        ("outbox-relay", event("outbox-relay", "stream-batch.json")),
        ("notifier", event("notifier", "notification.json")),
    ];
    for (binary, last) in real {
        let mut payloads = junk.to_vec();
        payloads.push(last.to_string());
        let run = testkit::lambda_runtime::run_binary_raw(
            &release_dir().join(binary),
            &d.env,
            payloads.clone(),
        )
        .await
        .unwrap_or_else(|e| panic!("{binary} did not live through the junk: {e:?}"));
        assert_eq!(run.answers.len(), payloads.len(), "{binary}");
        let http = binary == "graphql" || binary.starts_with("webhook-");
        for (payload, answer) in payloads[..junk.len()].iter().zip(&run.answers) {
            if payload == "this is not JSON" {
                assert!(answer.is_err(), "{binary}: {answer:?}");
                continue;
            }
            let answer = answer
                .as_ref()
                .unwrap_or_else(|e| panic!("{binary} {payload}: {e}"));
            if http {
                assert_eq!(answer["statusCode"], 400, "{binary} {payload}: {answer}");
                assert_eq!(
                    answer["headers"]["content-type"], "application/problem+json",
                    "{binary}"
                );
            } else if binary == "outbox-relay" || binary == "notifier" {
                assert_eq!(answer["batchItemFailures"], json!([]), "{binary} {payload}");
            } else {
                assert_eq!(
                    answer["outcome"], "dead_lettered",
                    "{binary} {payload}: {answer}"
                );
            }
        }
        let last = run.answers.last().unwrap().as_ref().unwrap();
        match binary {
            // The graphql route is not this event's: the router answers, not the edge.
            "graphql" => assert_eq!(last["statusCode"], 404, "{last}"),
            "webhook-add-order" | "webhook-shipment-tracker" => {
                assert_eq!(last["statusCode"], 404, "{binary}: {last}");
            }
            "event-consumer" => assert_eq!(last["reason"], "forged_source", "{last}"),
            _ => assert_eq!(last["batchItemFailures"], json!([]), "{last}"),
        }
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
