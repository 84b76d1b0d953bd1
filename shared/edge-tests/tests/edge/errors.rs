//! Internal failures reach a client as `INTERNAL` only: the cause (here a store error naming a
//! host and a table) is logged, never sent — through plain GraphQL and through the keyed path.

use domain::access::Role;
use testkit::SECRET_DETAIL;

const CREATE: &str = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 2, unitPrice: "19.99"}]}) { order { id } userErrors { code } } }"#;

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
    let env = testkit::DemoEnv::new().await;
    let token = env.token(Role::Staff);
    // A working request first: the directory (tenant, plan, issuer) is cached from here on.
    let (_, ok, _) = testkit::post_graphql(
        &env.router,
        &token,
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
    let (status, body, text) =
        testkit::post_graphql(&env.router, &token, &[], serde_json::json!({"query": read})).await;
    assert_eq!(status, 200);
    assert_internal_only(&body, &text);
    let (_, body, text) = testkit::post_graphql(
        &env.router,
        &token,
        &[],
        serde_json::json!({"query": CREATE}),
    )
    .await;
    assert_internal_only(&body, &text);
}

#[tokio::test]
async fn a_store_failure_reaches_a_keyed_client_as_internal_only() {
    let env = testkit::DemoEnv::new().await;
    let token = env.token(Role::Staff);
    let (_, warm, _) = testkit::post_graphql(
        &env.router,
        &token,
        &[],
        serde_json::json!({"query": "{ viewer { tenant } }"}),
    )
    .await;
    assert_eq!(warm["data"]["viewer"]["tenant"], "demo");
    env.store.fail(true);
    let (_, body, text) = testkit::post_graphql(
        &env.router,
        &token,
        &[("idempotency-key", "k-1")],
        serde_json::json!({"query": CREATE}),
    )
    .await;
    assert_internal_only(&body, &text);
    // Once the store answers again, the same key runs the command (nothing was remembered).
    env.store.fail(false);
    let (status, body, text) = testkit::post_graphql(
        &env.router,
        &token,
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
