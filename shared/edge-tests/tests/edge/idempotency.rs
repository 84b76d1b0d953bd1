//! Concurrent duplicates of one keyed request: one commits, every other replays its stored
//! response — byte for byte in `data`, even for commands that cannot run twice.

use std::sync::Arc;

use auth::dev::DevIdp;
use domain::access::Role;
use domain::{Clock, SystemClock};
use store::ItemStore;
use store::embedded::EmbeddedStore;

const CREATE: &str = r#"mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 4, unitPrice: "10.00"}]}) { order { id } userErrors { code } } }"#;

/// The `data` member of a response body, as the bytes the server sent.
pub(crate) fn data_bytes(text: &str) -> &str {
    let rest = text
        .strip_prefix("{\"data\":")
        .unwrap_or_else(|| panic!("{text}"));
    let end = rest
        .find(",\"extensions\":")
        .or_else(|| rest.find(",\"errors\":"))
        .unwrap_or_else(|| panic!("{text}"));
    &rest[..end]
}

async fn race(router: &axum::Router, token: &str, key: &str, query: String) -> Vec<String> {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (router, token, key, query) = (
            router.clone(),
            token.to_owned(),
            key.to_owned(),
            query.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (status, _, text) = testkit::post_graphql(
                &router,
                &token,
                &[("idempotency-key", key.as_str())],
                serde_json::json!({ "query": query }),
            )
            .await;
            assert_eq!(status, 200, "{text}");
            data_bytes(&text).to_owned()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn all_identical(responses: &[String], what: &str) {
    assert_eq!(responses.len(), 20);
    for r in responses {
        assert_eq!(r, &responses[0], "{what}: responses differ");
    }
    assert!(
        !responses[0].contains("\"code\""),
        "{what} failed: {}",
        responses[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_duplicates_all_get_the_one_stored_response() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn ItemStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).unwrap());
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let router = testkit::demo_router(store, clock.clone(), &idp, testkit::production_http()).await;
    let token = testkit::demo_token(&idp, clock.as_ref(), Role::Staff);
    let post = |q: String| {
        let (router, token) = (router.clone(), token.clone());
        async move {
            testkit::post_graphql(&router, &token, &[], serde_json::json!({ "query": q }))
                .await
                .1
        }
    };
    let created = post(CREATE.to_owned()).await;
    let id = created["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let approve = format!(
        r#"mutation {{ approveOrder(orderId: "{id}") {{ order {{ status version }} userErrors {{ code }} }} }}"#
    );
    all_identical(
        &race(&router, &token, "approve-1", approve).await,
        "approveOrder",
    );

    let paid = post(format!(r#"mutation {{ markOrderPaid(orderId: "{id}", paymentReference: "p-1") {{ order {{ version }} }} }}"#)).await;
    assert!(
        paid["data"]["markOrderPaid"]["order"]["version"].is_u64(),
        "{paid}"
    );
    let refund = format!(
        r#"mutation {{ refundOrder(orderId: "{id}", amount: "1.00", reason: "goodwill") {{ order {{ version payment {{ status refunded {{ amount }} }} }} userErrors {{ code }} }} }}"#
    );
    all_identical(
        &race(&router, &token, "refund-1", refund).await,
        "refundOrder",
    );

    let ship = format!(
        r#"mutation {{ createShipment(orderId: "{id}", input: {{lines: [{{sku: "A", quantity: 1}}]}}) {{ shipment {{ id }} order {{ version }} userErrors {{ code }} }} }}"#
    );
    all_identical(
        &race(&router, &token, "ship-1", ship).await,
        "createShipment",
    );

    // Each command applied once.
    let order = post(format!(
        r#"{{ order(id: "{id}") {{ status refunds {{ id }} shipments {{ id }} }} }}"#
    ))
    .await;
    assert_eq!(order["data"]["order"]["status"], "CONFIRMED", "{order}");
    assert_eq!(
        order["data"]["order"]["refunds"].as_array().unwrap().len(),
        1,
        "{order}"
    );
    assert_eq!(
        order["data"]["order"]["shipments"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{order}"
    );
}

/// The operation log says how each request ended: a refused command by its user error's code
/// (not `ok`), and a replay as a replay.
#[tokio::test]
async fn the_operation_log_names_user_errors_and_replays() {
    crate::logs::capture();
    let env = testkit::DemoEnv::new().await;
    let token = env.token(Role::Staff);
    let key = format!("log-{}", ulid::Ulid::new());
    for _ in 0..2 {
        let (status, _, text) = testkit::post_graphql(
            &env.router,
            &token,
            &[("idempotency-key", key.as_str())],
            serde_json::json!({ "query": CREATE }),
        )
        .await;
        assert_eq!(status, 200, "{text}");
    }
    // A command the order's status refuses: a user error, logged as its code.
    let (_, created, _) = testkit::post_graphql(
        &env.router,
        &token,
        &[],
        serde_json::json!({ "query": CREATE }),
    )
    .await;
    let id = created["data"]["createOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let complete = format!(
        r#"mutation {{ completeOrder(orderId: "{id}") {{ order {{ id }} userErrors {{ code }} }} }}"#
    );
    let (_, refused, _) = testkit::post_graphql(
        &env.router,
        &token,
        &[],
        serde_json::json!({ "query": complete }),
    )
    .await;
    let code = refused["data"]["completeOrder"]["userErrors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{refused}"))
        .to_owned();
    let logs = crate::logs::captured();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("graphql operation"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("operation=\"createOrder\"") && l.contains("replayed=true")),
        "the replay is logged as one: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("operation=completeOrder")
                || l.contains("operation=\"completeOrder\""))
            && lines.iter().any(|l| l.contains(&format!("outcome={code}"))),
        "the refusal is logged with its code {code}: {lines:#?}"
    );
}
