//! A vendor's listing honours the status and creation filters, and refuses `updatedAfter`
//! clearly instead of ignoring it.

use domain::access::Role;

const CREATE: &str = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 1, unitPrice: "10.00"}]}) { order { id } } }"#;

#[tokio::test]
async fn a_vendors_listing_honours_its_filters() {
    let env = testkit::DemoEnv::new().await;
    let router = env.router.clone();
    let staff = env.token(Role::Staff);
    let vendor = testkit::vendor_token(&env.idp, env.clock.as_ref(), Role::Vendor, Some("v1"));
    let post = |token: String, query: String| {
        let router = router.clone();
        async move {
            testkit::post_graphql(&router, &token, &[], serde_json::json!({ "query": query })).await
        }
    };
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body, text) = post(staff.clone(), CREATE.to_owned()).await;
        ids.push(
            body["data"]["createOrder"]["order"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{text}"))
                .to_owned(),
        );
    }
    let approve = format!(
        r#"mutation {{ approveOrder(orderId: "{}") {{ order {{ status }} }} }}"#,
        ids[1]
    );
    post(staff.clone(), approve).await;

    let nodes = |body: &serde_json::Value| -> Vec<String> {
        body["data"]["orders"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all, _) = post(vendor.clone(), "{ orders { nodes { id } } }".into()).await;
    assert_eq!(nodes(&all).len(), 3, "{all}");
    let (_, confirmed, _) = post(
        vendor.clone(),
        "{ orders(status: CONFIRMED) { nodes { id status } } }".into(),
    )
    .await;
    assert_eq!(nodes(&confirmed), [ids[1].clone()], "{confirmed}");
    let (_, pending, _) = post(
        vendor.clone(),
        "{ orders(status: PENDING) { nodes { id } } }".into(),
    )
    .await;
    assert_eq!(nodes(&pending).len(), 2, "{pending}");
    let (_, future, _) = post(
        vendor.clone(),
        r#"{ orders(createdFrom: "2999-01-01T00:00:00Z") { nodes { id } } }"#.into(),
    )
    .await;
    assert!(nodes(&future).is_empty(), "{future}");
    let (_, changed, text) = post(
        vendor,
        r#"{ orders(updatedAfter: "2020-01-01T00:00:00Z") { nodes { id } } }"#.into(),
    )
    .await;
    assert_eq!(
        changed["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{text}"
    );
}

/// A vendor reads only its own actions in an order's audit log; staff read all of it.
#[tokio::test]
async fn a_vendor_reads_only_its_own_actions_in_an_orders_audit_log() {
    let env = testkit::DemoEnv::new().await;
    let router = env.router.clone();
    let staff = env.token(Role::Staff);
    let v1 = testkit::vendor_token(&env.idp, env.clock.as_ref(), Role::Vendor, Some("v1"));
    let post = |token: String, query: String| {
        let router = router.clone();
        async move {
            testkit::post_graphql(&router, &token, &[], serde_json::json!({ "query": query })).await
        }
    };
    let create = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 1, unitPrice: "10.00"}, {sku: "B", vendor: "v2", quantity: 1, unitPrice: "5.00"}]}) { order { id } } }"#;
    let (_, body, text) = post(staff.clone(), create.into()).await;
    let id = body["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    post(
        staff.clone(),
        format!(r#"mutation {{ approveOrder(orderId: "{id}") {{ order {{ status }} }} }}"#),
    )
    .await;
    let (_, shipped, text) = post(
        v1.clone(),
        format!(
            r#"mutation {{ createShipment(orderId: "{id}", input: {{lines: [{{sku: "A", quantity: 1}}]}}) {{ shipment {{ id }} userErrors {{ code }} }} }}"#
        ),
    )
    .await;
    assert!(
        shipped["data"]["createShipment"]["shipment"]["id"].is_string(),
        "{text}"
    );
    let log = format!(r#"{{ orderAuditLog(orderId: "{id}") {{ nodes {{ actor action }} }} }}"#);
    let actions = |body: &serde_json::Value| -> Vec<String> {
        body["data"]["orderAuditLog"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|n| n["action"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all, _) = post(staff.clone(), log.clone()).await;
    assert_eq!(
        actions(&all),
        ["createOrder", "approveOrder", "createShipment"],
        "{all}"
    );
    let (_, mine, _) = post(v1.clone(), log).await;
    assert_eq!(actions(&mine), ["createShipment"], "{mine}");
    // An order that does not exist is NOT_FOUND for staff (read without the order) and vendors.
    let missing =
        r#"{ orderAuditLog(orderId: "01J00000000000000000000000") { nodes { action } } }"#;
    for who in [staff, v1] {
        let (_, body, text) = post(who, missing.to_owned()).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{text}"
        );
        assert!(body["data"].is_null(), "{text}");
    }
}
