//! The shipment-tracker webhook: carriers' updates move shipments through the same command as
//! `updateShipmentTracking`; every refusal has its status and writes nothing.

use domain::webhook::{WebhookHook, WebhookProvider};
use testkit::WebhookEnv;

const PATH: &str = "/webhooks/shipment-tracker/demo";

fn update(number: &str, status: &str) -> Vec<u8> {
    serde_json::json!({"trackingNumber": number, "carrier": "fedex", "status": status})
        .to_string()
        .into_bytes()
}

fn json() -> (&'static str, String) {
    ("content-type", "application/json".to_owned())
}

fn now(env: &WebhookEnv) -> i64 {
    env.clock.now_secs()
}

async fn shipment_status(env: &WebhookEnv, order: &str) -> (String, String) {
    let v = env
        .graphql(&format!(
            r#"{{ order(id: "{order}") {{ status shipments {{ status }} }} }}"#
        ))
        .await;
    (
        v["data"]["order"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        v["data"]["order"]["shipments"][0]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn missing_signature() {
    let env = WebhookEnv::new().await;
    env.dispatched("TRK-1").await;
    env.refused(PATH, &[json()], update("TRK-1", "delivered"), 401)
        .await;
}

#[tokio::test]
async fn bad_signature() {
    let env = WebhookEnv::new().await;
    env.dispatched("TRK-1").await;
    let forged = (
        "x-oms-signature",
        format!("t={},v1={}", now(&env), "cd".repeat(32)),
    );
    env.refused(PATH, &[json(), forged], update("TRK-1", "delivered"), 401)
        .await;
}

#[tokio::test]
async fn signature_over_a_different_body() {
    let env = WebhookEnv::new().await;
    env.dispatched("TRK-1").await;
    let signed = update("TRK-1", "returned");
    let sig = WebhookEnv::sign(&env.secret, now(&env), &signed);
    env.refused(PATH, &[json(), sig], update("TRK-1", "delivered"), 401)
        .await;
}

#[tokio::test]
async fn another_tenants_secret() {
    let env = WebhookEnv::new().await;
    env.dispatched("TRK-1").await;
    let body = update("TRK-1", "delivered");
    let sig = WebhookEnv::sign(&env.other_secret, now(&env), &body);
    env.refused(PATH, &[json(), sig], body, 401).await;
}

#[tokio::test]
async fn stale_and_future_timestamps() {
    let env = WebhookEnv::new().await;
    env.dispatched("TRK-1").await;
    let body = update("TRK-1", "delivered");
    // Well outside the 300 s window: the system clock may tick between signing and verifying.
    for t in [now(&env) - 360, now(&env) + 360] {
        let sig = WebhookEnv::sign(&env.secret, t, &body);
        env.refused(PATH, &[json(), sig], body.clone(), 401).await;
    }
}

#[tokio::test]
async fn malformed_json_and_a_payload_without_its_tracking_number() {
    let env = WebhookEnv::new().await;
    env.dispatched("TRK-1").await;
    let body = b"{\"trackingNumber\": ".to_vec();
    let sig = WebhookEnv::sign(&env.secret, now(&env), &body);
    env.refused(PATH, &[json(), sig], body, 400).await;
    let body = serde_json::json!({"carrier": "fedex", "status": "delivered"})
        .to_string()
        .into_bytes();
    let sig = WebhookEnv::sign(&env.secret, now(&env), &body);
    let text = env.refused(PATH, &[json(), sig], body, 400).await;
    assert!(text.contains("trackingNumber"), "{text}");
}

#[tokio::test]
async fn oversize_body_and_wrong_content_type() {
    let env = WebhookEnv::new().await;
    let body = vec![b' '; 256 * 1024 + 1];
    let sig = WebhookEnv::sign(&env.secret, now(&env), &body);
    env.refused(PATH, &[json(), sig], body, 413).await;
    let body = update("TRK-1", "delivered");
    let sig = WebhookEnv::sign(&env.secret, now(&env), &body);
    env.refused(
        PATH,
        &[("content-type", "text/plain".into()), sig],
        body,
        415,
    )
    .await;
}

#[tokio::test]
async fn unknown_tenant() {
    let env = WebhookEnv::new().await;
    let body = update("TRK-1", "delivered");
    let sig = WebhookEnv::sign(&env.secret, now(&env), &body);
    env.refused(
        "/webhooks/shipment-tracker/nobody",
        &[json(), sig],
        body,
        404,
    )
    .await;
}

/// Another tenant's (validly signed) update naming this tenant's tracking number finds nothing:
/// tracking numbers are looked up in the sender's own tenant only.
#[tokio::test]
async fn an_update_for_another_tenants_shipment() {
    let env = WebhookEnv::new().await;
    let (order, _) = env.dispatched("TRK-1").await;
    let body = update("TRK-1", "delivered");
    let sig = WebhookEnv::sign(&env.other_secret, now(&env), &body);
    let before = env.store.writes();
    let (status, _, text) = env
        .post("/webhooks/shipment-tracker/other", &[json(), sig], body)
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"ignored\":true"), "{text}");
    assert_eq!(env.store.writes(), before, "nothing written: {text}");
    assert_eq!(shipment_status(&env, &order).await.1, "IN_TRANSIT");
}

#[tokio::test]
async fn replay_and_stale_updates_change_nothing() {
    let env = WebhookEnv::new().await;
    let (order, _) = env.dispatched("TRK-1").await;
    let body = update("TRK-1", "delivered");
    let sig = WebhookEnv::sign(&env.secret, now(&env), &body);
    let headers = [json(), sig, ("x-oms-delivery", "evt-1".to_owned())];
    let (status, _, first) = env.post(PATH, &headers, body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        shipment_status(&env, &order).await,
        ("DELIVERED".into(), "DELIVERED".into())
    );
    let writes = env.store.writes();
    let (status, h, again) = env.post(PATH, &headers, body).await;
    assert_eq!((status, again.as_str()), (200, first.as_str()));
    assert_eq!(
        h.get("x-oms-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    // A late in_transit (another event): acknowledged as ignored, nothing written.
    let late = update("TRK-1", "in_transit");
    let sig = WebhookEnv::sign(&env.secret, now(&env), &late);
    let (status, _, text) = env.post(PATH, &[json(), sig], late).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"ignored\":true"), "{text}");
    assert_eq!(env.store.writes(), writes);
    assert_eq!(shipment_status(&env, &order).await.1, "DELIVERED");
}

/// An EasyPost-shaped tracker event, signed as EasyPost signs: the shipment moves to
/// OUT_FOR_DELIVERY, then DELIVERED, and the order rolls up to DELIVERED.
#[tokio::test]
async fn easypost_updates_move_the_shipment_and_roll_the_order_up() {
    let env = WebhookEnv::new().await;
    let secret = secrecy::SecretString::from("s\u{e9}cret-easypost-hook".to_owned());
    env.set_hook(
        WebhookHook::ShipmentTracker,
        WebhookProvider::Easypost,
        &secret,
    )
    .await;
    let (order, _) = env.dispatched("9400111899560000000000").await;
    let event = |id: &str, status: &str| {
        serde_json::json!({
            "id": id, "object": "Event", "description": "tracker.updated",
            "result": {"object": "Tracker", "tracking_code": "9400111899560000000000",
                       "carrier": "FedEx", "status": status}
        })
        .to_string()
        .into_bytes()
    };
    for (id, status, want) in [
        ("evt_1", "out_for_delivery", "OUT_FOR_DELIVERY"),
        ("evt_2", "delivered", "DELIVERED"),
    ] {
        let body = event(id, status);
        let sig = (
            "x-hmac-signature",
            auth::webhook::easypost_signature(&secret, &body),
        );
        let (code, _, text) = env.post(PATH, &[json(), sig], body).await;
        assert_eq!(code, 200, "{text}");
        assert_eq!(shipment_status(&env, &order).await.1, want, "{text}");
    }
    assert_eq!(shipment_status(&env, &order).await.0, "DELIVERED");
    // The carrier's own status is kept beside ours.
    let raw = env
        .graphql(&format!(
            r#"{{ order(id: "{order}") {{ shipments {{ carrierStatus }} }} }}"#
        ))
        .await;
    assert_eq!(
        raw["data"]["order"]["shipments"][0]["carrierStatus"], "delivered",
        "{raw}"
    );
    // The same event again changes nothing.
    let writes = env.store.writes();
    let body = event("evt_2", "delivered");
    let sig = (
        "x-hmac-signature",
        auth::webhook::easypost_signature(&secret, &body),
    );
    let (code, _, _) = env.post(PATH, &[json(), sig], body).await;
    assert_eq!(code, 200);
    assert_eq!(env.store.writes(), writes);
}
