//! A tenant API key end to end: created with `oms api-key create` (its text printed once), then
//! `oms serve` takes it for an order, its read and a label bought from the fake EasyPost; the
//! key's text is nowhere else — no answer, no log line at TRACE, not in the store file or
//! `secrets.json`.

use carriers::fake::FakeCarrier;
use serde_json::json;

use crate::gateway::{KEY_1, buys, confirmed_shipment, gateway_setup, mutate, ok, shipment};
use crate::server::{Server, create_order_mutation, oms, order_input};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_the_cli_orders_reads_and_buys_a_label() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let dir = gateway_setup(&fake);
    let created = oms(
        dir.path(),
        &[
            "api-key", "create", "--tenant", "demo", "--name", "ERP", "--role", "staff",
        ],
    );
    let told = String::from_utf8_lossy(&created.stderr).into_owned();
    let key = ok(created).trim().to_owned();
    assert!(key.starts_with("oms_test_"), "{key}");
    assert!(told.contains("shown this once"), "{told}");
    assert!(!told.contains(&key), "the key on stderr: {told}");

    let s = Server::start_traced(dir);
    let mut answers = Vec::new();
    let r = s
        .gql(
            &key,
            &create_order_mutation(),
            order_input(Some("KEY-1"), &[("A", "v1", 2, "10.00")]),
        )
        .await;
    let order = r.data()["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    answers.push(r.raw);
    let read = s
        .gql(
            &key,
            &format!(r#"{{ order(id: "{order}") {{ id status }} }}"#),
            json!({}),
        )
        .await;
    assert_eq!(read.data()["order"]["id"], order.as_str(), "{}", read.raw);
    answers.push(read.raw);

    mutate(
        &s,
        &key,
        &format!(r#"approveOrder(orderId: "{order}")"#),
        "order { id }",
        None,
    )
    .await;
    let first = confirmed_shipment(&s, &key, &order).await;
    let rates = s
        .gql(
            &key,
            &format!(
                r#"{{ shippingRates(orderId: "{order}", shipmentId: "{first}", gateway: "easypost", account: "main") {{ rates {{ id }} }} }}"#
            ),
            json!({}),
        )
        .await;
    let rate = rates.data()["shippingRates"]["rates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", rates.raw))
        .to_owned();
    answers.push(rates.raw);
    let bought = mutate(
        &s,
        &key,
        &format!(
            r#"buyShippingLabel(orderId: "{order}", shipmentId: "{first}", rateId: "{rate}")"#
        ),
        "order { shipments { id status trackingNumber } }",
        Some("buy-key-1"),
    )
    .await;
    assert_eq!(
        shipment(&bought["order"], &first)["status"],
        "LABEL_PURCHASED"
    );
    assert_eq!(buys(&fake).len(), 1, "bought once");
    answers.push(bought.to_string());

    let admin = s.token("demo", "tenant-admin", None);
    let listed = s
        .gql(
            &admin,
            "{ apiKeys { id prefix name role lastUsedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.data()["apiKeys"][0]["name"], "ERP", "{}", listed.raw);
    answers.push(listed.raw);
    for a in &answers {
        assert!(!a.contains(&key), "the key's text in an answer: {a}");
    }
    let log = s.log();
    assert!(
        log.contains("TRACE") || log.contains("trace"),
        "not traced: {log:.300}"
    );
    assert!(!log.contains(&key), "the key's text in the log");
    let secret_part = &key["oms_test_".len() + 27..];
    assert!(!log.contains(secret_part), "the key's secret in the log");
    for file in ["store.redb", "secrets.json"] {
        let bytes = std::fs::read(s.dir.path().join(file)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(secret_part), "the key's secret in {file}");
    }
}
