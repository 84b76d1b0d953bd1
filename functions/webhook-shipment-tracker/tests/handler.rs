//! Handler tests: every event in `events/webhook-shipment-tracker/` through the webhook router,
//! parsed by the functions' own edge (boot::http_edge) as the function receives it, on a clock at the events' time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use domain::ManualClock;
use domain::webhook::{WebhookHook, WebhookProvider};
use http_body_util::BodyExt;
use testkit::WebhookEnv;
use tower::ServiceExt;

/// The events' time (2026-11-24T12:00:00Z).
const AT: i64 = 1_795_521_600;

/// Every file of the folder, in the order it is sent, with the status it must get.
const EXPECT: &[(&str, u16)] = &[
    ("easypost-tracker-updated.json", 200),
    ("easypost-replay.json", 200),
    ("easypost-bad-signature.json", 401),
    ("easypost-unknown-tenant.json", 404),
    ("shippo-track-updated.json", 200),
];

#[tokio::test]
async fn every_event_file_gets_its_answer() {
    let files = testkit::event_files("webhook-shipment-tracker", EXPECT);
    let easypost = secrecy::SecretString::from("demo-easypost-webhook-secret".to_owned());
    let shippo = secrecy::SecretString::from("demo-shippo-webhook-token".to_owned());
    let hooks = [
        (
            "demo",
            WebhookHook::ShipmentTracker,
            WebhookProvider::Easypost,
            &easypost,
        ),
        (
            "shippo-demo",
            WebhookHook::ShipmentTracker,
            WebhookProvider::Shippo,
            &shippo,
        ),
    ];
    let env = WebhookEnv::build(Arc::new(ManualClock::at(AT)), &hooks).await;
    let (order, _) = env.dispatched_by("usps", "EZ3000000003").await;
    for (file, text, want) in &files {
        let req = http_edge::lambda::request(serde_json::from_str(text).unwrap()).unwrap();
        let resp = env.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let replayed = resp.headers().contains_key("x-oms-replayed");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, *want, "{file}: {body}");
        match file.as_str() {
            "easypost-tracker-updated.json" => {
                assert_eq!(body["shipment"]["status"], "OUT_FOR_DELIVERY", "{body}");
                assert_eq!(body["ignored"], false);
            }
            "easypost-replay.json" => assert!(replayed, "{body}"),
            // Signed with the tenant's token, for a number this tenant does not ship.
            "shippo-track-updated.json" => assert_eq!(body["ignored"], true, "{body}"),
            _ => {}
        }
    }
    let now = env
        .graphql(&format!(
            r#"{{ order(id: "{order}") {{ shipments {{ status }} }} }}"#
        ))
        .await;
    assert_eq!(
        now["data"]["order"]["shipments"][0]["status"], "OUT_FOR_DELIVERY",
        "{now}"
    );
}
