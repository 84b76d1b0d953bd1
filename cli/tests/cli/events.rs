//! Events end to end against `oms serve`: an order's life cycle through GraphQL produces one
//! event per change, in aggregate-version order — on the in-process bus (seen from outside as
//! the signed notifications a local receiver gets) and on Redis Streams (read back with
//! XRANGE) — and tenant events put on Redis are applied once, poison ones dead-lettered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use serde_json::{Value, json};

use crate::server::{Server, create_order_mutation, oms, oms_with_input, order_input};

const SECRET: &str = "notify-demo-0123456789";

fn redis_url() -> String {
    crate::server::service_endpoint("OMS_REDIS_URL")
}

/// Runs a mutation and returns its payload, failing on errors.
async fn mutate(s: &Server, token: &str, call: &str, selection: &str) -> Value {
    let r = s
        .gql(
            token,
            &format!("mutation {{ {call} {{ {selection} userErrors {{ code message }} }} }}"),
            json!({}),
        )
        .await;
    let field = call.split('(').next().unwrap();
    let payload = r.data()[field].clone();
    assert_eq!(payload["userErrors"], json!([]), "{call}: {}", r.raw);
    payload
}

/// Create, approve, pay, ship, deliver, complete: returns the order id and its final version.
async fn life_cycle(s: &Server) -> (String, u64) {
    let staff = s.token("demo", "staff", None);
    let r = s
        .gql(
            &staff,
            &create_order_mutation(),
            order_input(Some("EV-1"), &[("A", "v1", 2, "10.00")]),
        )
        .await;
    let id = r.data()["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    mutate(
        s,
        &staff,
        &format!("approveOrder(orderId: \"{id}\")"),
        "order { id }",
    )
    .await;
    mutate(
        s,
        &staff,
        &format!("markOrderPaid(orderId: \"{id}\", paymentReference: \"pi_1\")"),
        "order { id }",
    )
    .await;
    let sh = mutate(
        s,
        &staff,
        &format!(
            "createShipment(orderId: \"{id}\", input: {{lines: [{{sku: \"A\", quantity: 2}}]}})"
        ),
        "shipment { id }",
    )
    .await;
    let sid = sh["shipment"]["id"].as_str().unwrap().to_owned();
    mutate(
        s,
        &staff,
        &format!("confirmShipment(orderId: \"{id}\", shipmentId: \"{sid}\")"),
        "order { id }",
    )
    .await;
    mutate(s, &staff, &format!("dispatchShipment(orderId: \"{id}\", shipmentId: \"{sid}\", carrier: \"ups\", trackingNumber: \"1Z9\")"), "order { id }").await;
    mutate(
        s,
        &staff,
        &format!("markShipmentDelivered(orderId: \"{id}\", shipmentId: \"{sid}\")"),
        "order { id }",
    )
    .await;
    let done = mutate(
        s,
        &staff,
        &format!("completeOrder(orderId: \"{id}\")"),
        "order { status version }",
    )
    .await;
    assert_eq!(done["order"]["status"], "COMPLETED");
    (id, done["order"]["version"].as_u64().unwrap())
}

/// Every change of the order appears, in aggregate-version order, each event once.
fn assert_in_version_order(events: &[Value], order: &str, last: u64) {
    let mine: Vec<&Value> = events.iter().filter(|e| e["orderId"] == order).collect();
    let versions: Vec<u64> = mine
        .iter()
        .map(|e| e["aggregateVersion"].as_u64().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] <= w[1]),
        "out of order: {versions:?}"
    );
    let mut distinct = versions.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        (1..=last).collect::<Vec<_>>(),
        "one change per version: {versions:?}"
    );
    let mut ids: Vec<&str> = mine
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), mine.len(), "each event once");
    assert_eq!(mine[0]["eventType"], "OrderCreated");
    for e in &mine {
        for field in [
            "eventId",
            "eventType",
            "schemaVersion",
            "tenant",
            "orderId",
            "aggregateVersion",
            "occurredAt",
        ] {
            assert!(!e[field].is_null(), "{field} missing: {e}");
        }
    }
}

/// Every notification a receiver got: its signature header and body.
type Got = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A receiver on a loopback port that keeps every notification's signature header and body.
async fn receiver() -> (String, Got) {
    let got: Got = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/oms",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let sig = headers["x-oms-signature"].to_str().unwrap().to_owned();
                    seen.lock().unwrap().push((sig, body.to_vec()));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/oms"), got)
}

/// A data dir with the demo tenant and its notification secret.
fn demo_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // A fresh data directory: `oms init` makes the demo tenant (no `oms serve` first).
    let out = oms(dir.path(), &["init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = oms_with_input(
        dir.path(),
        &[
            "webhook",
            "set",
            "--tenant",
            "demo",
            "--hook",
            "notifications",
            "--provider",
            "oms",
        ],
        SECRET,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_bus_every_change_is_notified_in_version_order_and_signed() {
    let (url, got) = receiver().await;
    let s = Server::start_serving(demo_dir(), &[]);
    let admin = s.token("demo", "tenant-admin", None);
    mutate(
        &s,
        &admin,
        &format!("updateTenantConfig(input: {{restockingFeeBps: 0, notificationUrl: \"{url}\"}})"),
        "tenantConfig { version }",
    )
    .await;
    let (id, last) = life_cycle(&s).await;
    let mut events: Vec<Value> = Vec::new();
    for _ in 0..100 {
        events = got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect();
        if events
            .iter()
            .any(|e| e["orderId"] == id.as_str() && e["aggregateVersion"] == last)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_in_version_order(&events, &id, last);
    // Each notification verifies with the tenant's secret (as the sender's own CLI signs).
    let secret = secrecy::SecretString::from(SECRET.to_owned());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (sig, body) in got.lock().unwrap().iter() {
        let t: i64 = sig
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert!((i64::try_from(now).unwrap() - t).abs() < 300);
        assert_eq!(
            sig,
            &oms_sign(&secret, t, body),
            "signature of {}",
            String::from_utf8_lossy(body)
        );
    }
}

/// Our scheme, computed independently here: `t=<t>,v1=hex(HMAC-SHA256(secret, "<t>.<body>"))`.
fn oms_sign(secret: &secrecy::SecretString, t: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    use secrecy::ExposeSecret;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bus_publishes_every_change_in_order_and_applies_tenant_events_once() {
    let prefix = format!("e2e-{}", std::process::id());
    let dir = demo_dir();
    let out = oms(
        dir.path(),
        &[
            "events",
            "source",
            "set",
            "--tenant",
            "demo",
            "--account",
            "123456789012",
            "--source",
            "com.acme.orders",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = redis_url();
    let s = Server::start_serving(dir, &["--bus", &url, "--redis-prefix", &prefix]);
    let (id, last) = life_cycle(&s).await;

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let events_stream = format!("{prefix}:events");
    let mut events: Vec<Value> = Vec::new();
    for _ in 0..100 {
        let range: StreamRangeReply = conn.xrange_all(&events_stream).await.unwrap();
        events = range
            .ids
            .iter()
            .map(|e| serde_json::from_str(&e.get::<String>("event").unwrap()).unwrap())
            .collect();
        if events
            .iter()
            .any(|e| e["orderId"] == id.as_str() && e["aggregateVersion"] == last)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_in_version_order(&events, &id, last);

    // Tenant events in: the same OrderSubmitted twice, then a malformed one.
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/event-consumer/order-submitted.json"
    ))
    .unwrap();
    let intake = format!("{prefix}:tenant-events");
    for _ in 0..2 {
        let _: String = conn
            .xadd(&intake, "*", &[("event", sample.as_str())])
            .await
            .unwrap();
    }
    let _: String = conn
        .xadd(&intake, "*", &[("event", "{\"id\":\"x\"}")])
        .await
        .unwrap();
    let staff = s.token("demo", "staff", None);
    let mut found = Value::Null;
    for _ in 0..100 {
        let r = s
            .gql(
                &staff,
                "{ orders(first: 50) { edges { node { externalRef } } } }",
                json!({}),
            )
            .await;
        found = r.data()["orders"]["edges"].clone();
        let dead: StreamRangeReply = conn.xrange_all(format!("{intake}:dead")).await.unwrap();
        let applied = found
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["externalRef"] == "EVT-200001")
            .count();
        if applied >= 1 && !dead.ids.is_empty() {
            let pending: redis::streams::StreamPendingReply =
                conn.xpending(&intake, "oms-consumer").await.unwrap();
            if pending.count() == 0 {
                assert_eq!(applied, 1, "applied once: {found}");
                assert_eq!(dead.ids.len(), 1, "the malformed event, dead-lettered once");
                assert_eq!(dead.ids[0].get::<String>("reason").unwrap(), "malformed");
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tenant events not consumed: {found}");
}
