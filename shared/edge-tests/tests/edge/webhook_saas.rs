//! The SaaS-level tracker route: signed with the SaaS provider's own secret, it finds the tenant
//! through the global index of labels bought through the gateway, and nothing else.

use std::sync::Arc;

use app::platform::WebhookRequest;
use domain::ids::{CarrierCode, OrderId, ShipmentId, TrackingNumber};
use domain::scope::TenantScope;
use domain::webhook::{WebhookHook, WebhookProvider};
use store::ItemStore;
use store::repo::OrderRepository;
use testkit::WebhookEnv;

const PATH: &str = "/webhooks/shipment-tracker";

fn event(number: &str, status: &str) -> Vec<u8> {
    serde_json::json!({"id": format!("evt_{number}_{status}"), "object": "Event", "description": "tracker.updated",
        "result": {"object": "Tracker", "tracking_code": number, "carrier": "USPS", "status": status}})
    .to_string()
    .into_bytes()
}

async fn saas_env(secret: &secrecy::SecretString) -> WebhookEnv {
    let env = WebhookEnv::new().await;
    env.platform
        .set_saas_webhook(WebhookRequest {
            hook: WebhookHook::ShipmentTracker,
            provider: WebhookProvider::Easypost,
            secret: secret.clone(),
            max_age_seconds: None,
            tracking_reference: None,
        })
        .await
        .unwrap();
    env
}

/// What the gateway writes when it buys a label (the carrier gateway's purchase, simulated).
async fn gateway_label(env: &WebhookEnv, order: &str, shipment: &str, number: &str) {
    let action = OrderRepository::global_tracking_item(
        &TenantScope::for_tests("demo"),
        &CarrierCode::parse("usps").unwrap(),
        &TrackingNumber::parse(number).unwrap(),
        OrderId::parse(order).unwrap(),
        ShipmentId::parse(shipment).unwrap(),
    );
    let store: Arc<dyn ItemStore> = env.store.clone();
    store.transact_write(vec![action]).await.unwrap();
}

fn headers(secret: &secrecy::SecretString, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        (
            "x-hmac-signature",
            auth::webhook::easypost_signature(secret, body),
        ),
    ]
}

#[tokio::test]
async fn a_gateway_label_finds_its_tenant_and_moves_the_shipment() {
    let saas = secrecy::SecretString::from("whsec-saas-easypost-0001".to_owned());
    let env = saas_env(&saas).await;
    let (order, shipment) = env.dispatched_by("usps", "GW-0001").await;
    gateway_label(&env, &order, &shipment, "GW-0001").await;
    let body = event("GW-0001", "out_for_delivery");
    let (status, _, text) = env.post(PATH, &headers(&saas, &body), body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("OUT_FOR_DELIVERY"), "{text}");
    let now = env
        .graphql(&format!(
            r#"{{ order(id: "{order}") {{ shipments {{ status }} }} }}"#
        ))
        .await;
    assert_eq!(
        now["data"]["order"]["shipments"][0]["status"],
        "OUT_FOR_DELIVERY"
    );
}

#[tokio::test]
async fn a_number_a_user_typed_in_is_not_found_through_the_saas_route() {
    let saas = secrecy::SecretString::from("whsec-saas-easypost-0001".to_owned());
    let env = saas_env(&saas).await;
    let (order, _) = env.dispatched_by("usps", "TYPED-0001").await;
    let before = env.store.writes();
    let body = event("TYPED-0001", "delivered");
    let (status, _, text) = env.post(PATH, &headers(&saas, &body), body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"ignored\":true"), "{text}");
    assert_eq!(env.store.writes(), before, "nothing written");
    let now = env
        .graphql(&format!(
            r#"{{ order(id: "{order}") {{ shipments {{ status }} }} }}"#
        ))
        .await;
    assert_eq!(now["data"]["order"]["shipments"][0]["status"], "IN_TRANSIT");
}

#[tokio::test]
async fn the_saas_route_takes_only_the_saas_secret() {
    let saas = secrecy::SecretString::from("whsec-saas-easypost-0001".to_owned());
    let env = saas_env(&saas).await;
    let (order, shipment) = env.dispatched_by("usps", "GW-0002").await;
    gateway_label(&env, &order, &shipment, "GW-0002").await;
    let before = env.store.writes();
    let body = event("GW-0002", "delivered");
    // A tenant's secret, a forged signature, no signature: 401, nothing written.
    for h in [
        headers(&env.secret, &body),
        vec![
            ("content-type", "application/json".to_owned()),
            (
                "x-hmac-signature",
                format!("hmac-sha256-hex={}", "0".repeat(64)),
            ),
        ],
        vec![("content-type", "application/json".to_owned())],
    ] {
        let (status, _, text) = env.post(PATH, &h, body.clone()).await;
        assert_eq!(status, 401, "{text}");
    }
    assert_eq!(env.store.writes(), before);
}

#[tokio::test]
async fn without_a_saas_hook_the_route_does_not_exist() {
    let env = WebhookEnv::new().await;
    let body = event("GW-0003", "delivered");
    let (status, _, text) = env.post(PATH, &headers(&env.secret, &body), body).await;
    assert_eq!(status, 404, "{text}");
}

async fn shipment_status(env: &WebhookEnv, order: &str, shipment: &str) -> String {
    let now = env
        .graphql(&format!(
            r#"{{ order(id: "{order}") {{ shipments {{ id status }} }} }}"#
        ))
        .await;
    now["data"]["order"]["shipments"]
        .as_array()
        .unwrap_or_else(|| panic!("{now}"))
        .iter()
        .find(|s| s["id"] == shipment)
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .unwrap()
}

/// The SaaS-level route reads who owns a number from the global item only: another tenant's
/// tenant item for the same number, and the tenant's own tenant item naming another shipment,
/// have no say.
#[tokio::test]
async fn the_saas_route_follows_the_global_item_alone() {
    let saas = secrecy::SecretString::from("whsec-saas-easypost-0001".to_owned());
    let env = saas_env(&saas).await;
    // The label's shipment, and another shipment of the tenant whose typed number is the same.
    let (order, shipment) = env.dispatched_by("usps", "GW-OTHER-0001").await;
    let (typed_order, typed_shipment) = env.dispatched_by("usps", "GW-0100").await;
    gateway_label(&env, &order, &shipment, "GW-0100").await;
    // Another tenant's own tracking item for the number.
    let theirs = OrderRepository::tracking_item(
        &TenantScope::for_tests("other"),
        &CarrierCode::parse("usps").unwrap(),
        &TrackingNumber::parse("GW-0100").unwrap(),
        OrderId::from_ulid(ulid::Ulid::from(7_u128)),
        ShipmentId::from_ulid(ulid::Ulid::from(8_u128)),
    );
    let store: Arc<dyn ItemStore> = env.store.clone();
    store.transact_write(vec![theirs]).await.unwrap();

    let body = event("GW-0100", "out_for_delivery");
    let (status, _, text) = env.post(PATH, &headers(&saas, &body), body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&shipment), "{text}");
    assert_eq!(
        shipment_status(&env, &order, &shipment).await,
        "OUT_FOR_DELIVERY"
    );
    assert_eq!(
        shipment_status(&env, &typed_order, &typed_shipment).await,
        "IN_TRANSIT",
        "the tenant item's shipment is not the label's"
    );
}

/// A number only another tenant's tenant item knows (typed in there) is not attributable on the
/// SaaS-level route: `200`, ignored, nothing written.
#[tokio::test]
async fn a_number_only_a_tenant_item_knows_is_ignored_on_the_saas_route() {
    let saas = secrecy::SecretString::from("whsec-saas-easypost-0001".to_owned());
    let env = saas_env(&saas).await;
    let theirs = OrderRepository::tracking_item(
        &TenantScope::for_tests("other"),
        &CarrierCode::parse("usps").unwrap(),
        &TrackingNumber::parse("GW-0200").unwrap(),
        OrderId::from_ulid(ulid::Ulid::from(7_u128)),
        ShipmentId::from_ulid(ulid::Ulid::from(8_u128)),
    );
    let store: Arc<dyn ItemStore> = env.store.clone();
    store.transact_write(vec![theirs]).await.unwrap();
    let before = env.store.writes();
    let body = event("GW-0200", "delivered");
    let (status, _, text) = env.post(PATH, &headers(&saas, &body), body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"ignored\":true"), "{text}");
    assert_eq!(env.store.writes(), before, "nothing written");
}
