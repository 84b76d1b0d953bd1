//! The order of refusals: limits, then authentication, then permission, then input, then the
//! store — also for keyed requests, and for listings.

use domain::access::Role;

fn code(body: &serde_json::Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A keyed request that does not validate is refused as such before its token is verified and
/// before its idempotency record is read.
#[tokio::test]
async fn a_keyed_request_is_validated_before_authentication_and_the_store() {
    let env = testkit::DemoEnv::new().await;
    let invalid = serde_json::json!({
        "query": r#"mutation { approveOrder(orderId: "01J0000000000000000000000") { order { noSuchField } } }"#
    });
    let (status, body, text) = testkit::post_graphql(
        &env.router,
        "not-a-token",
        &[("idempotency-key", "k-1")],
        invalid.clone(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_ne!(
        code(&body),
        "UNAUTHENTICATED",
        "authenticated before validating: {text}"
    );
    assert!(text.contains("noSuchField"), "{text}");

    // A valid token, and a store that fails: validation answers first, nothing is read.
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
    let (_, body, text) =
        testkit::post_graphql(&env.router, &token, &[("idempotency-key", "k-2")], invalid).await;
    assert_ne!(
        code(&body),
        "INTERNAL",
        "read the store before validating: {text}"
    );
    assert!(text.contains("noSuchField"), "{text}");
}

/// A read-only caller sending invalid input is refused for the permission (audited), not for
/// the input; a page size out of bounds is refused before the store is read.
#[tokio::test]
async fn permission_before_input_and_input_before_the_store() {
    let env = testkit::DemoEnv::new().await;
    let reader = env.token(Role::ReadOnly);
    let bad_input = serde_json::json!({
        "query": r#"mutation { createOrder(input: {currency: "XXX-NOT", customer: {name: "", email: "nope"}, destination: {name: "A", line1: "1", city: "C", postalCode: "1", country: "US"}, lines: []}) { order { id } userErrors { code } } }"#
    });
    let (_, body, text) = testkit::post_graphql(&env.router, &reader, &[], bad_input).await;
    assert_eq!(code(&body), "FORBIDDEN", "{text}");
    let config = serde_json::json!({
        "query": r#"mutation { updateTenantConfig(input: {restockingFeeBps: 20000}) { userErrors { code } } }"#
    });
    let (_, body, text) = testkit::post_graphql(&env.router, &reader, &[], config).await;
    assert_eq!(code(&body), "FORBIDDEN", "{text}");
    // Both refusals are in the tenant audit as denials.
    let admin = env.token(Role::TenantAdmin);
    let (_, audit, text) = testkit::post_graphql(
        &env.router,
        &admin,
        &[],
        serde_json::json!({"query": "{ auditLog { nodes { action outcome } } }"}),
    )
    .await;
    let denied: Vec<&str> = audit["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{text}"))
        .iter()
        .filter(|r| r["outcome"] == "DENIED")
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert!(denied.contains(&"createOrder"), "{text}");
    assert!(denied.contains(&"updateTenantConfig"), "{text}");
    let staff = env.token(Role::Staff);
    env.store.fail(true);
    let (_, body, text) = testkit::post_graphql(
        &env.router,
        &staff,
        &[],
        serde_json::json!({"query": "{ orders(first: 251) { nodes { id } } }"}),
    )
    .await;
    assert_eq!(code(&body), "INVALID_INPUT", "{text}");
}

/// A full page of order summaries, every field, fits the complexity bound; five do not.
#[tokio::test]
async fn a_full_page_of_summaries_fits_the_complexity_bound() {
    let env = testkit::DemoEnv::new().await;
    let staff = env.token(Role::Staff);
    let page = "orders(first: 250) { nodes { id status createdAt updatedAt total { amount currency } customerName externalRef } pageInfo { hasNextPage endCursor } }";
    let (_, body, text) = testkit::post_graphql(
        &env.router,
        &staff,
        &[],
        serde_json::json!({ "query": format!("{{ {page} }}") }),
    )
    .await;
    assert!(body["errors"].is_null(), "{text}");
    assert!(body["data"]["orders"]["nodes"].is_array(), "{text}");
    let five: String = (0..5).map(|i| format!("p{i}: {page} ")).collect();
    let (_, body, text) = testkit::post_graphql(
        &env.router,
        &staff,
        &[],
        serde_json::json!({ "query": format!("{{ {five} }}") }),
    )
    .await;
    assert!(text.contains("complex"), "{text}");
    assert!(body["data"].is_null(), "{text}");
}
