//! What each API operation costs on DynamoDB (`make bench`, against DynamoDB Local): the requests
//! it sends and the capacity units DynamoDB reports for them (`ReturnConsumedCapacity`), through
//! the real router, use cases and store, and the on-demand price per million operations.
//!
//! Prices used (us-east-1, on-demand, as published since November 2024): $0.625 per million
//! write request units, $0.125 per million read request units. A unit here is what DynamoDB
//! Local reports as consumed capacity for the request (a transactional write of up to 1 KB is 2).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use auth::dev::DevIdp;
use domain::access::Role;
use serde_json::{Value, json};
use store::dynamo::{DynamoStore, Usage, UsageMeter, local_config};
use store::{Clock, ItemStore, SystemClock};

const WRITE_PRICE: f64 = 0.625;
const READ_PRICE: f64 = 0.125;

struct Run {
    router: axum::Router,
    token: String,
    meter: UsageMeter,
    rows: Vec<(String, Usage)>,
}

impl Run {
    /// Runs `query` and records what it used under `name`; the response's data.
    async fn op(&mut self, name: &str, query: &str, variables: Value) -> Value {
        let before = self.meter.lock().unwrap().clone();
        let (status, body, text) = testkit::post_graphql(
            &self.router,
            &self.token,
            &[],
            json!({"query": query, "variables": variables}),
        )
        .await;
        assert_eq!(status, 200, "{name}: {text}");
        assert!(body["errors"].is_null(), "{name}: {text}");
        let used = self.meter.lock().unwrap().since(&before);
        self.rows.push((name.to_owned(), used));
        body["data"].clone()
    }
}

fn endpoint() -> String {
    std::env::var("OMS_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        eprintln!("OMS_DYNAMODB_ENDPOINT is not set: `make bench` starts DynamoDB Local");
        std::process::exit(2)
    })
}

const PAYLOAD: &str = "order { id version } userErrors { code message }";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let client = aws_sdk_dynamodb::Client::from_conf(local_config(&endpoint()).build());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let meter = UsageMeter::default();
    let table = format!("oms-cost-{}", std::process::id());
    let dynamo = DynamoStore::new(client, table, clock.clone()).with_usage_meter(meter.clone());
    dynamo.create_table().await.unwrap();
    let store: Arc<dyn ItemStore> = Arc::new(dynamo);
    let dir = tempfile::tempdir().unwrap();
    let idp = DevIdp::load_or_generate(dir.path()).unwrap();
    let router = testkit::demo_router(store, clock.clone(), &idp, testkit::production_http()).await;
    let token = testkit::demo_token(&idp, clock.as_ref(), Role::TenantAdmin);
    let mut run = Run {
        router,
        token,
        meter,
        rows: Vec::new(),
    };
    // Warm: the tenant's profile is read once and cached (60 s), as in a running process.
    run.op("(warm-up) viewer", "{ viewer { tenant } }", json!({}))
        .await;
    run.rows.clear();

    let create = r#"mutation($x: String) { createOrder(input: {externalRef: $x, currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 2, unitPrice: "19.99"}, {sku: "B", vendor: "v2", quantity: 1, unitPrice: "5.00"}]}) { order { id version } userErrors { code message } } }"#;
    let data = run.op("createOrder", create, json!({"x": "COST-1"})).await;
    let id = data["createOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let o = json!({"o": id});
    run.op(
        "order(id)",
        "query($o: ID!) { order(id: $o) { id status version lines { sku due } total { amount } } }",
        o.clone(),
    )
    .await;
    // The first lookup of a reference reads it and then the order; the process remembers
    // which order a reference names (it never changes), so later lookups read the order only.
    let by_ref = r#"{ orderByExternalRef(externalRef: "COST-1") { id status } }"#;
    run.op("orderByExternalRef (first lookup)", by_ref, json!({}))
        .await;
    run.op("orderByExternalRef (seen before)", by_ref, json!({}))
        .await;
    run.op(
        "orders(first: 50)",
        "{ orders(first: 50) { nodes { id status } pageInfo { hasNextPage } } }",
        json!({}),
    )
    .await;
    run.op(
        "orders(status: PENDING)",
        "{ orders(first: 50, status: PENDING) { nodes { id } } }",
        json!({}),
    )
    .await;
    run.op(
        "orderAuditLog",
        "query($o: ID!) { orderAuditLog(orderId: $o) { nodes { action } } }",
        o.clone(),
    )
    .await;
    run.op(
        "approveOrder",
        &format!("mutation($o: ID!) {{ approveOrder(orderId: $o) {{ {PAYLOAD} }} }}"),
        o.clone(),
    )
    .await;
    run.op("markOrderPaid", &format!("mutation($o: ID!) {{ markOrderPaid(orderId: $o, paymentReference: \"pay-1\") {{ {PAYLOAD} }} }}"), o.clone()).await;
    let data = run
        .op("createShipment", "mutation($o: ID!) { createShipment(orderId: $o, input: {lines: [{sku: \"A\", quantity: 2}, {sku: \"B\", quantity: 1}]}) { shipment { id } userErrors { code message } } }", o.clone())
        .await;
    let shipment = data["createShipment"]["shipment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let os = json!({"o": id, "s": shipment});
    run.op("confirmShipment", &format!("mutation($o: ID!, $s: ID!) {{ confirmShipment(orderId: $o, shipmentId: $s) {{ {PAYLOAD} }} }}"), os.clone()).await;
    run.op("dispatchShipment", &format!("mutation($o: ID!, $s: ID!) {{ dispatchShipment(orderId: $o, shipmentId: $s, carrier: \"ups\", trackingNumber: \"1Z999\") {{ {PAYLOAD} }} }}"), os.clone()).await;
    run.op("markShipmentDelivered", &format!("mutation($o: ID!, $s: ID!) {{ markShipmentDelivered(orderId: $o, shipmentId: $s) {{ {PAYLOAD} }} }}"), os.clone()).await;
    run.op(
        "completeOrder",
        &format!("mutation($o: ID!) {{ completeOrder(orderId: $o) {{ {PAYLOAD} }} }}"),
        o.clone(),
    )
    .await;
    let data = run
        .op("createOrder (2nd)", create, json!({"x": "COST-2"}))
        .await;
    let second = json!({"o": data["createOrder"]["order"]["id"]});
    run.op(
        "cancelOrder",
        &format!(
            "mutation($o: ID!) {{ cancelOrder(orderId: $o, reason: \"test\") {{ {PAYLOAD} }} }}"
        ),
        second,
    )
    .await;

    println!(
        "DynamoDB cost per operation (DynamoDB Local, ReturnConsumedCapacity; on-demand us-east-1: ${WRITE_PRICE}/M write units, ${READ_PRICE}/M read units):"
    );
    println!(
        "  {:<34} {:<46} {:>6} {:>6} {:>12}",
        "operation", "requests", "RU", "WU", "$ / 1M ops"
    );
    for (name, u) in &run.rows {
        let requests = u
            .requests
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(" + ");
        let price = u.read_units * READ_PRICE + u.write_units * WRITE_PRICE;
        println!(
            "  {name:<34} {requests:<46} {:>6.1} {:>6.1} {price:>12.2}",
            u.read_units, u.write_units
        );
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    let json: Vec<Value> = run
        .rows
        .iter()
        .map(|(name, u)| {
            json!({"operation": name, "requests": u.requests, "read_units": u.read_units,
                   "write_units": u.write_units,
                   "usd_per_million": u.read_units * READ_PRICE + u.write_units * WRITE_PRICE})
        })
        .collect();
    std::fs::write(
        out.join("cost.json"),
        serde_json::to_string_pretty(&json!({"prices": {"write_unit_per_million": WRITE_PRICE, "read_unit_per_million": READ_PRICE}, "operations": json})).unwrap(),
    )
    .unwrap();
    println!("written: target/bench/cost.json");
}
