//! Handler tests: every event in `events/webhook-add-order/` through the webhook router, parsed
//! by the functions' own edge (boot::http_edge) as the function receives it, on a clock at the events' time.
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
    ("add-order.json", 201),
    ("add-order-replay.json", 200),
    ("add-order-duplicate.json", 200),
    ("add-order-bad-signature.json", 401),
    ("add-order-unknown-tenant.json", 404),
];

#[tokio::test]
async fn every_event_file_gets_its_answer() {
    let files = testkit::event_files("webhook-add-order", EXPECT);
    let secret = secrecy::SecretString::from("demo-add-order-secret".to_owned());
    let hooks = [("demo", WebhookHook::AddOrder, WebhookProvider::Oms, &secret)];
    let env = WebhookEnv::build(Arc::new(ManualClock::at(AT)), &hooks).await;
    let mut order_id = None;
    for (file, text, want) in &files {
        let req = http_edge::lambda::request(serde_json::from_str(text).unwrap()).unwrap();
        let before = env.store.writes();
        let resp = env.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, *want, "{file}: {body}");
        if *want == 201 {
            order_id = body["order"]["id"].as_str().map(str::to_owned);
            assert_eq!(env.store.writes(), before + 1, "{file}");
        } else {
            assert_eq!(env.store.writes(), before, "{file} wrote something: {body}");
        }
        if *want == 200 {
            assert_eq!(body["order"]["id"].as_str(), order_id.as_deref(), "{file}");
        }
    }
    let order = env
        .graphql(r#"{ orderByExternalRef(externalRef: "WSS-100046") { status total { amount } } }"#)
        .await;
    // 2 × 19.99 + 12.50 + 5.00 + 4.20
    assert_eq!(
        order["data"]["orderByExternalRef"]["total"]["amount"], "61.68",
        "{order}"
    );
}
