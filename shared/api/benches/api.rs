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

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn ItemStore> =
        Arc::new(EmbeddedStore::open(&dir.path().join("store.redb"), clock.clone()).unwrap());
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let router = rt.block_on(testkit::demo_router(
        store,
        clock.clone(),
        &idp,
        testkit::production_http(),
    ));
    let token = testkit::demo_token(&idp, clock.as_ref(), Role::Staff);
    let created = rt.block_on(post(&router, &token, CREATE.to_owned()));
    let id = created["data"]["createOrder"]["order"]["id"]
        .as_str()
        .expect("order created")
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
    c.bench_function(
        "http/createOrder through the router (embedded store, fsync per commit)",
        |b| b.iter(|| rt.block_on(post(&router, &token, CREATE.to_owned()))),
    );
}

criterion_group!(api_benches, benches);
criterion_main!(api_benches);
