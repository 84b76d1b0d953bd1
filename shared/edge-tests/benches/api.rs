//! The API end to end in process (`make bench`): `order(id)` and `createOrder` through the axum
//! router — JSON parsing, limits, token verification (cache hit after the first), authorization,
//! one store read (embedded store, a redb file), GraphQL execution and serialization.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use auth::dev::DevIdp;
use criterion::{Criterion, criterion_group, criterion_main};
use domain::access::Role;
use http_body_util::BodyExt;
use store::embedded::EmbeddedStore;
use store::{Clock, ItemStore, SystemClock};
use tower::ServiceExt;

async fn post(router: &axum::Router, token: &str, query: String) -> serde_json::Value {
    let req = axum::http::Request::post("/graphql")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            serde_json::json!({"query": query}).to_string(),
        ))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

const CREATE: &str = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 2, unitPrice: "19.99"}, {sku: "B", vendor: "v2", quantity: 1, unitPrice: "5.00"}]}) { order { id status total { amount } } userErrors { code } } }"#;

/// The demo tenant's router over a store (a redb file, or in memory), a staff token and one
/// order created through it.
struct Demo {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    /// A tenant-admin token (to create API keys).
    admin: String,
    id: String,
    _dir: tempfile::TempDir,
}

fn demo(on_disk: bool) -> Demo {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn ItemStore> = if on_disk {
        Arc::new(EmbeddedStore::open(&dir.path().join("store.redb"), clock.clone()).unwrap())
    } else {
        Arc::new(EmbeddedStore::in_memory(clock.clone()).unwrap())
    };
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let router = rt.block_on(testkit::demo_router(
        store,
        clock.clone(),
        &idp,
        testkit::production_http(),
    ));
    let token = testkit::demo_token(&idp, clock.as_ref(), Role::Staff);
    let admin = testkit::demo_token(&idp, clock.as_ref(), Role::TenantAdmin);
    let created = rt.block_on(post(&router, &token, CREATE.to_owned()));
    let id = created["data"]["createOrder"]["order"]["id"]
        .as_str()
        .expect("order created")
        .to_owned();
    Demo {
        rt,
        router,
        token,
        admin,
        id,
        _dir: dir,
    }
}

fn benches(c: &mut Criterion) {
    let Demo {
        rt,
        router,
        token,
        admin,
        id,
        _dir,
    } = demo(true);
    let created = rt.block_on(post(
        &router,
        &admin,
        r#"mutation { createApiKey(input: {name: "bench", role: STAFF}) { secret } }"#.to_owned(),
    ));
    let key = created["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("key created")
        .to_owned();
    let read = format!(
        "{{ order(id: \"{id}\") {{ id status version total {{ amount currency }} lines {{ sku quantity due allocated }} payment {{ status }} }} }}"
    );
    c.bench_function("http/order(id) through the router (embedded store)", |b| {
        b.iter(|| {
            let v = rt.block_on(post(&router, &token, read.clone()));
            assert!(v["data"]["order"]["id"].is_string());
        })
    });
    // The same read with its metrics recorded (what `oms serve` does): the cost of measuring,
    // in the same run (target: at most 3 % over the read without a recorder).
    let recorder = telemetry::prometheus::recorder().expect("a recorder");
    c.bench_function(
        "http/order(id) through the router with metrics recorded (embedded store)",
        |b| {
            b.iter(|| {
                telemetry::prometheus::with_recorder(&recorder, || {
                    let v = rt.block_on(post(&router, &token, read.clone()));
                    assert!(v["data"]["order"]["id"].is_string());
                })
            })
        },
    );
    let rendered = recorder.handle().render();
    assert!(
        rendered.contains("oms_requests_total{operation=\"order\",outcome=\"ok\"}"),
        "the recorder saw nothing: {rendered}"
    );
    // The same read with a tenant API key (target: at least 0.9 of the JWT read's throughput).
    c.bench_function(
        "http/order(id) with an API key through the router (embedded store)",
        |b| {
            b.iter(|| {
                let v = rt.block_on(post(&router, &key, read.clone()));
                assert!(v["data"]["order"]["id"].is_string());
            })
        },
    );
    c.bench_function(
        "http/createOrder through the router (embedded store, fsync per commit)",
        |b| b.iter(|| rt.block_on(post(&router, &token, CREATE.to_owned()))),
    );
}

/// A command on an existing order (`assignOrderReviewer`, the reviewer alternating so every run
/// changes the order) through the router on the in-memory embedded store: read, authorize, the
/// domain command and its commit, without the disk's fsync hiding their cost.
fn command_benches(c: &mut Criterion) {
    let Demo {
        rt,
        router,
        token,
        id,
        _dir,
        ..
    } = demo(false);
    let assign = |reviewer: &str| {
        format!(
            "mutation {{ assignOrderReviewer(orderId: \"{id}\", reviewer: \"{reviewer}\") {{ order {{ id version }} userErrors {{ code }} }} }}"
        )
    };
    let (a, b) = (assign("rev-a"), assign("rev-b"));
    let mut flip = false;
    c.bench_function(
        "http/assignOrderReviewer through the router (in-memory embedded store)",
        |bench| {
            bench.iter(|| {
                flip = !flip;
                let q = if flip { a.clone() } else { b.clone() };
                let v = rt.block_on(post(&router, &token, q));
                assert!(
                    v["data"]["assignOrderReviewer"]["order"]["id"].is_string(),
                    "{v}"
                );
            })
        },
    );
}

criterion_group!(api_benches, benches, command_benches);

/// The add-order webhook through the router on a file-backed embedded store (fsync per commit):
/// a criterion mean, and the latency distribution of 2,000 sequential signed deliveries.
fn webhook_benches(c: &mut Criterion) {
    use domain::webhook::{WebhookHook, WebhookProvider};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn ItemStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("store.redb"), clock.clone()).unwrap());
    let secret = secrecy::SecretString::from("whsec-bench-0123456789".to_owned());
    let hooks = [("demo", WebhookHook::AddOrder, WebhookProvider::Oms, &secret)];
    let env = rt.block_on(testkit::WebhookEnv::build_on(store, clock.clone(), &hooks));
    let n = std::sync::atomic::AtomicU64::new(0);
    let deliver = || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = serde_json::json!({
            "externalRef": format!("BENCH-{i}"),
            "currency": "USD",
            "customer": {"name": "Ana", "email": "ana@example.com"},
            "destination": {"name": "Ana", "line1": "1 Main St", "city": "Springfield", "postalCode": "62701", "country": "US"},
            "lines": [{"sku": "TEE-M", "vendor": "v1", "quantity": 2, "unitPrice": "19.99"}]
        })
        .to_string()
        .into_bytes();
        let sig = testkit::WebhookEnv::sign(&secret, clock.now_secs(), &body);
        let headers = [("content-type", "application/json".to_owned()), sig];
        let (status, _, _) = rt.block_on(env.post("/webhooks/add-order/demo", &headers, body));
        assert_eq!(status, 201);
    };
    let mut latencies: Vec<std::time::Duration> = (0..2_000)
        .map(|_| {
            let t = std::time::Instant::now();
            deliver();
            t.elapsed()
        })
        .collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "webhook add-order, 2,000 sequential signed deliveries (embedded store, fsync): p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        latencies[latencies.len() - 1]
    );
    c.bench_function(
        "webhook/add-order through the router (embedded store, fsync per commit)",
        |b| b.iter(&deliver),
    );
}

criterion_group!(webhooks, webhook_benches);
criterion_main!(api_benches, webhooks);
