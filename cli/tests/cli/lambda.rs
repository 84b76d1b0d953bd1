//! The release Lambda binaries as Lambda runs them: each one a child process whose
//! `AWS_LAMBDA_RUNTIME_API` is a local fake of the Runtime API, fed every file of its
//! `events/<function>/` folder, over a DynamoDB Local table and moto's Secrets Manager, SQS and
//! EventBridge. Each response is checked; the time from process start to the first `next`
//! request (init) is printed with the binary's size.
//!
//! `make test` builds the release binaries first (`make lambda-bins`); run by hand, build them
//! with `cargo build --release -p graphql -p webhook-add-order -p webhook-shipment-tracker
//! -p event-consumer -p outbox-relay`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::platform::{Platform, WebhookRequest};
use auth::dev::{DEV_AUDIENCE, DevIdp};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use domain::access::{Operation, OperationKind};
use domain::ids::{Issuer, PlanName, Subject, TenantId};
use domain::webhook::{WebhookHook, WebhookProvider};
use serde_json::{Value, json};

use crate::server::service_endpoint;

const ISSUER: &str = "https://idp.lambda-test.example";
const CURSOR_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Where the release binaries are: beside the debug `oms`, in `release/`.
fn release_dir() -> PathBuf {
    let oms = PathBuf::from(env!("CARGO_BIN_EXE_oms"));
    oms.parent().unwrap().parent().unwrap().join("release")
}

/// One invocation the fake runtime hands out, and what came back.
#[derive(Default)]
struct Runtime {
    queue: VecDeque<(String, Value)>,
    answers: Vec<(String, Result<Value, Value>)>,
    first_next: Option<Instant>,
    init_error: Option<Value>,
}

type Shared = Arc<Mutex<Runtime>>;

async fn next(State(rt): State<Shared>) -> axum::response::Response {
    let item = {
        let mut r = rt.lock().unwrap();
        r.first_next.get_or_insert_with(Instant::now);
        r.queue.pop_front()
    };
    let Some((id, event)) = item else {
        // Nothing more: hold the request until the test ends (the process is killed).
        tokio::time::sleep(Duration::from_secs(600)).await;
        return StatusCode::NO_CONTENT.into_response();
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:test".to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        event.to_string(),
    )
        .into_response()
}

async fn response(State(rt): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rt.lock().unwrap().answers.push((id, Ok(v)));
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Shared>, Path(id): Path<String>, body: String) -> StatusCode {
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rt.lock().unwrap().answers.push((id, Err(v)));
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Shared>, _h: HeaderMap, body: String) -> StatusCode {
    rt.lock().unwrap().init_error = Some(Value::String(body));
    StatusCode::ACCEPTED
}

/// Runs `binary` over `events` and returns each answer in order, with the init time.
async fn invoke(
    binary: &str,
    env: &[(&str, String)],
    events: Vec<Value>,
) -> (Vec<Result<Value, Value>>, Duration) {
    let rt: Shared = Arc::default();
    {
        let mut r = rt.lock().unwrap();
        for (i, e) in events.iter().enumerate() {
            r.queue.push_back((format!("req-{i}"), e.clone()));
        }
    }
    let app = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            axum::routing::get(next),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            axum::routing::post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            axum::routing::post(error),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            axum::routing::post(init_error),
        )
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let path = release_dir().join(binary);
    assert!(
        path.exists(),
        "{} is missing: `make lambda-bins` builds the release binaries",
        path.display()
    );
    let started = Instant::now();
    let mut child = std::process::Command::new(&path)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{binary}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wanted = events.len();
    for _ in 0..600 {
        let done = {
            let r = rt.lock().unwrap();
            assert!(
                r.init_error.is_none(),
                "{binary} failed init: {:?}",
                r.init_error
            );
            r.answers.len() >= wanted
        };
        if done {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{binary} exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    let r = rt.lock().unwrap();
    assert_eq!(
        r.answers.len(),
        wanted,
        "{binary} answered {} of {wanted}",
        r.answers.len()
    );
    let init = r.first_next.map_or(Duration::MAX, |t| t - started);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{binary}: init {:.1} ms, binary {:.1} MB",
        init.as_secs_f64() * 1e3,
        size as f64 / 1e6
    );
    let mut answers: Vec<(String, Result<Value, Value>)> = r.answers.clone();
    answers.sort_by_key(|(id, _)| id.trim_start_matches("req-").parse::<usize>().unwrap());
    (answers.into_iter().map(|(_, a)| a).collect(), init)
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
