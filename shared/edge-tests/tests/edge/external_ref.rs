//! `orderByExternalRef`: the first lookup of a reference reads it and then the order; the
//! process remembers which order a reference names, so a repeated lookup reads the order only,
//! and still answers only within the caller's tenant and vendor scope.

use domain::access::Role;
use serde_json::json;

const CREATE: &str = r#"mutation { createOrder(input: {externalRef: "WEB-7", currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 1, unitPrice: "10.00"}]}) { order { id } userErrors { code } } }"#;
const BY_REF: &str = r#"{ orderByExternalRef(externalRef: "WEB-7") { id } }"#;

#[tokio::test]
async fn a_repeated_lookup_reads_the_order_only() {
    let env = testkit::DemoEnv::new().await;
    let staff = env.token(Role::Staff);
    let post = |token: String, query: &'static str| {
        let router = env.router.clone();
        async move { testkit::post_graphql(&router, &token, &[], json!({ "query": query })).await }
    };
    let (_, created, text) = post(staff.clone(), CREATE).await;
    let id = created["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();

    let before = env.store.gets();
    let (_, first, text) = post(staff.clone(), BY_REF).await;
    assert_eq!(
        first["data"]["orderByExternalRef"]["id"],
        id.as_str(),
        "{text}"
    );
    assert_eq!(
        env.store.gets() - before,
        2,
        "the reference, then the order"
    );

    let before = env.store.gets();
    let (_, again, text) = post(staff.clone(), BY_REF).await;
    assert_eq!(
        again["data"]["orderByExternalRef"]["id"],
        id.as_str(),
        "{text}"
    );
    assert_eq!(env.store.gets() - before, 1, "the order only");

    // The remembered answer does not widen anyone's view: a vendor without lines on the order
    // still gets NOT_FOUND, and the order's own vendor gets it.
    let other = testkit::vendor_token(&env.idp, env.clock.as_ref(), Role::Vendor, Some("v9"));
    let (_, hidden, text) = post(other, BY_REF).await;
    assert_eq!(
        hidden["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{text}"
    );
    let own = testkit::vendor_token(&env.idp, env.clock.as_ref(), Role::Vendor, Some("v1"));
    let (_, seen, text) = post(own, BY_REF).await;
    assert_eq!(
        seen["data"]["orderByExternalRef"]["id"],
        id.as_str(),
        "{text}"
    );
}
