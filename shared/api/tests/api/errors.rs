//! Internal failures reach a client as `INTERNAL` only: the cause (here a store error naming a
//! host and a table) is logged, never sent — through plain GraphQL and through the keyed path.

use std::sync::Arc;

use auth::dev::DevIdp;
use domain::access::Role;
use domain::{Clock, SystemClock};
use store::ItemStore;
use store::embedded::EmbeddedStore;
use testkit::{FailingStore, SECRET_DETAIL};

const CREATE: &str = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 2, unitPrice: "19.99"}]}) { order { id } userErrors { code } } }"#;

struct Env {
    router: axum::Router,
    store: Arc<FailingStore>,
    token: String,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let inner: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).unwrap());
    let store = Arc::new(FailingStore::new(inner));
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let router = testkit::demo_router(
        store.clone(),
        clock.clone(),
        &idp,
        testkit::production_http(),
    )
    .await;
    let token = testkit::demo_token(&idp, clock.as_ref(), Role::Staff);
    Env {
        router,
        store,
        token,
        _dir: dir,
    }
}

fn assert_internal_only(body: &serde_json::Value, text: &str) {
    assert!(!text.contains(SECRET_DETAIL), "leaked: {text}");
    assert!(!text.contains("10.9.8.7"), "leaked: {text}");
    assert!(!text.contains("storage backend"), "leaked: {text}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{text}"
    );
    assert_eq!(body["errors"][0]["message"], "internal error", "{text}");
}

#[tokio::test]
async fn a_store_failure_reaches_a_graphql_client_as_internal_only() {
    let env = env().await;
    // A working request first: the directory (tenant, plan, issuer) is cached from here on.
    let (_, ok, _) = testkit::post_graphql(
        &env.router,
        &env.token,
        &[],
        serde_json::json!({"query": CREATE}),
    )
    .await;
    let id = ok["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.store.fail(true);
    let read = format!("{{ order(id: \"{id}\") {{ id status }} }}");
    let (status, body, text) = testkit::post_graphql(
        &env.router,
        &env.token,
        &[],
        serde_json::json!({"query": read}),
    )
    .await;
    assert_eq!(status, 200);
    assert_internal_only(&body, &text);
    let (_, body, text) = testkit::post_graphql(
        &env.router,
        &env.token,
        &[],
        serde_json::json!({"query": CREATE}),
    )
    .await;
    assert_internal_only(&body, &text);
}

#[tokio::test]
async fn a_store_failure_reaches_a_keyed_client_as_internal_only() {
    let env = env().await;
    let (_, warm, _) = testkit::post_graphql(
        &env.router,
        &env.token,
        &[],
        serde_json::json!({"query": "{ viewer { tenant } }"}),
    )
    .await;
    assert_eq!(warm["data"]["viewer"]["tenant"], "demo");
    env.store.fail(true);
    let (_, body, text) = testkit::post_graphql(
        &env.router,
        &env.token,
        &[("idempotency-key", "k-1")],
        serde_json::json!({"query": CREATE}),
    )
    .await;
    assert_internal_only(&body, &text);
    // Once the store answers again, the same key runs the command (nothing was remembered).
    env.store.fail(false);
    let (status, body, text) = testkit::post_graphql(
        &env.router,
        &env.token,
        &[("idempotency-key", "k-1")],
        serde_json::json!({"query": CREATE}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        body["data"]["createOrder"]["order"]["id"].is_string(),
        "{text}"
    );
}
