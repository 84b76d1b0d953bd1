//! A tracking number has one owner: a number another shipment of the tenant holds cannot be
//! typed in for a second one (`TRACKING_NUMBER_TAKEN`, nothing written); another tenant's
//! numbers are its own business; carrier names are taken in any case.

use domain::access::Role;
use serde_json::Value;
use testkit::WebhookEnv;

/// A confirmed shipment of a new approved order of `tenant`: (order id, shipment id).
async fn confirmed(env: &WebhookEnv, tenant: &str) -> (String, String) {
    let gql = |q: String| async move { env.graphql_as(tenant, Role::Staff, &q).await };
    let created = gql(r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 1, unitPrice: "10.00"}]}) { order { id } } }"#.to_owned()).await;
    let order = created["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    gql(format!(
        r#"mutation {{ approveOrder(orderId: "{order}") {{ order {{ id }} }} }}"#
    ))
    .await;
    let shipped = gql(format!(r#"mutation {{ createShipment(orderId: "{order}", input: {{lines: [{{sku: "A", quantity: 1}}]}}) {{ shipment {{ id }} }} }}"#)).await;
    let shipment = shipped["data"]["createShipment"]["shipment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{shipped}"))
        .to_owned();
    let ok = gql(format!(r#"mutation {{ confirmShipment(orderId: "{order}", shipmentId: "{shipment}") {{ userErrors {{ code }} }} }}"#)).await;
    assert_eq!(
        ok["data"]["confirmShipment"]["userErrors"],
        serde_json::json!([]),
        "{ok}"
    );
    (order, shipment)
}

/// `dispatchShipment` as staff of `tenant`: the payload.
async fn dispatch(
    env: &WebhookEnv,
    tenant: &str,
    (order, shipment): &(String, String),
    carrier: &str,
    number: &str,
) -> Value {
    let r = env.graphql_as(tenant, Role::Staff, &format!(r#"mutation {{ dispatchShipment(orderId: "{order}", shipmentId: "{shipment}", carrier: "{carrier}", trackingNumber: "{number}") {{ order {{ version shipments {{ id status carrier trackingNumber }} }} userErrors {{ code field message }} }} }}"#)).await;
    r["data"]["dispatchShipment"].clone()
}

/// The shipment as `tenant` reads it: (status, carrier, tracking number) and the order's version.
async fn read(
    env: &WebhookEnv,
    tenant: &str,
    (order, shipment): &(String, String),
) -> (Value, Value, Value, Value) {
    let r = env
        .graphql_as(
            tenant,
            Role::Staff,
            &format!(
                r#"{{ order(id: "{order}") {{ version shipments {{ id status carrier trackingNumber }} }} }}"#
            ),
        )
        .await;
    let o = &r["data"]["order"];
    let s = o["shipments"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .find(|s| s["id"] == shipment.as_str())
        .unwrap()
        .clone();
    (
        s["status"].clone(),
        s["carrier"].clone(),
        s["trackingNumber"].clone(),
        o["version"].clone(),
    )
}

#[tokio::test]
async fn a_second_shipment_typing_a_number_another_holds_is_tracking_number_taken() {
    let env = WebhookEnv::new().await;
    let first = confirmed(&env, "demo").await;
    let done = dispatch(&env, "demo", &first, "FedEx", "TRK-ONE-OWNER").await;
    assert_eq!(done["userErrors"], serde_json::json!([]), "{done}");
    // Carriers write their names in any case: stored lower-case.
    assert_eq!(
        read(&env, "demo", &first).await.1,
        "fedex",
        "carrier stored normalized"
    );

    let second = confirmed(&env, "demo").await;
    let before = read(&env, "demo", &second).await;
    let writes = env.store.writes();
    // The same carrier in another case is the same carrier: the number is taken.
    let refused = dispatch(&env, "demo", &second, "FEDEX", "TRK-ONE-OWNER").await;
    assert_eq!(refused["order"], Value::Null, "{refused}");
    assert_eq!(refused["userErrors"][0]["code"], "TRACKING_NUMBER_TAKEN");
    assert_eq!(
        refused["userErrors"][0]["field"],
        serde_json::json!(["trackingNumber"])
    );
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        !message.contains(&first.0) && !message.contains(&first.1),
        "the holder is not named: {message}"
    );
    // updateShipmentTracking with the number is refused the same way.
    let (o2, s2) = &second;
    let tracked = env.graphql_as("demo", Role::Staff, &format!(r#"mutation {{ updateShipmentTracking(orderId: "{o2}", shipmentId: "{s2}", status: IN_TRANSIT, carrier: "fedex", trackingNumber: "TRK-ONE-OWNER") {{ ignored userErrors {{ code field }} }} }}"#)).await;
    assert_eq!(
        tracked["data"]["updateShipmentTracking"]["userErrors"][0]["code"], "TRACKING_NUMBER_TAKEN",
        "{tracked}"
    );
    assert_eq!(env.store.writes(), writes, "nothing written");
    assert_eq!(read(&env, "demo", &second).await, before);

    // The tenant's carrier webhooks still find the first shipment: the tenant item is its own.
    let body = serde_json::json!({"trackingNumber": "TRK-ONE-OWNER", "carrier": "FedEx", "status": "out_for_delivery"}).to_string().into_bytes();
    let headers = [
        ("content-type", "application/json".to_owned()),
        WebhookEnv::sign(&env.secret, env.clock.now_secs(), &body),
    ];
    let (status, _, text) = env
        .post("/webhooks/shipment-tracker/demo", &headers, body)
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(read(&env, "demo", &first).await.0, "OUT_FOR_DELIVERY");
    assert_eq!(read(&env, "demo", &second).await.0, "CONFIRMED");

    // Another number is fine for the second shipment.
    let other = dispatch(&env, "demo", &second, "fedex", "TRK-ONE-OWNER-2").await;
    assert_eq!(other["userErrors"], serde_json::json!([]), "{other}");
}

#[tokio::test]
async fn another_tenants_shipment_may_type_the_same_number() {
    let env = WebhookEnv::new().await;
    let mine = confirmed(&env, "demo").await;
    let done = dispatch(&env, "demo", &mine, "usps", "TRK-TWO-TENANTS").await;
    assert_eq!(done["userErrors"], serde_json::json!([]), "{done}");
    // The tenant index is per tenant: another tenant learns nothing and is not refused.
    let theirs = confirmed(&env, "other").await;
    let done = dispatch(&env, "other", &theirs, "USPS", "TRK-TWO-TENANTS").await;
    assert_eq!(done["userErrors"], serde_json::json!([]), "{done}");
    assert_eq!(read(&env, "other", &theirs).await.0, "IN_TRANSIT");
    assert_eq!(read(&env, "other", &theirs).await.1, "usps");
}
