//! Shippo end to end against `oms serve` and a fake Shippo that answers as Shippo does (a
//! transaction names its rate by id only): the label is recorded under the carrier the quote
//! named (`usps`), `trackShipment` asks `/tracks/usps/{number}`, and Shippo's `track_updated`
//! for that number moves the shipment on the tenant route and on the SaaS route. A purchase left
//! QUEUED past the adapter's polls stays open under its transaction id: a buy with another key
//! is `PURCHASE_IN_PROGRESS` and never POSTs again, and once Shippo made the label the next
//! operation completes it onto the shipment; the fake holds one label.

use carriers::fake::FakeCarrier;
use serde_json::{Value, json};

use crate::gateway::{confirmed, ok, quoted, set_gateway, shipment, track};
use crate::server::{Server, oms, oms_with_input};
use crate::tracking::status_of;

const KEY: &str = "shippo_test_e2e_key_000000000004444";
const TENANT_TOKEN: &str = "demo-shippo-tracker-token-0001";
const SAAS_TOKEN: &str = "saas-shippo-tracker-token-00002";

/// Tenant `demo` with its Shippo account `main`, its Shippo tracking hook, and the SaaS one.
fn setup(fake: &FakeCarrier) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(oms(d, &["init"]));
    set_gateway(d, "shippo", "Shippo (fake)", &fake.base_url());
    let credentials = [
        "carrier",
        "credentials",
        "add",
        "--tenant",
        "demo",
        "--gateway",
        "shippo",
        "--account",
        "main",
    ];
    ok(oms_with_input(d, &credentials, KEY));
    let hook = |scope: &[&str], token: &str| {
        let mut args = vec!["webhook", "set"];
        args.extend_from_slice(scope);
        args.extend(["--hook", "shipment-tracker", "--provider", "shippo"]);
        ok(oms_with_input(d, &args, token));
    };
    hook(&["--tenant", "demo"], TENANT_TOKEN);
    hook(&["--saas"], SAAS_TOKEN);
    dir
}

/// The USPS rate Shippo quotes for the shipment: its id.
async fn usps_rate(s: &Server, staff: &str, order: &str, sid: &str) -> String {
    let usps = quoted(s, staff, (order, sid), ("shippo", None), "USPS").await;
    usps["id"].as_str().unwrap().to_owned()
}

fn buy_call(order: &str, sid: &str, rate: &str) -> String {
    format!(
        r#"mutation {{ buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}") {{ order {{ shipments {{ id status carrier trackingNumber }} }} userErrors {{ code message }} }} }}"#
    )
}

/// A keyed buy's payload (errors included).
async fn buy(s: &Server, staff: &str, (order, sid): (&str, &str), rate: &str, key: &str) -> Value {
    let r = s
        .gql_keyed(staff, key, &buy_call(order, sid, rate), json!({}))
        .await;
    r.data()["buyShippingLabel"].clone()
}

fn posts(fake: &FakeCarrier) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/transactions")
        .count()
}

/// Shippo's `track_updated` event (its documented shape) for `number`, to `path` with `token`.
async fn track_updated(s: &Server, path: &str, token: &str, number: &str, status: &str) -> Value {
    let event = json!({
        "event": "track_updated",
        "test": true,
        "data": {
            "carrier": "usps",
            "tracking_number": number,
            "address_from": {"city": "San Francisco", "state": "CA", "zip": "94104", "country": "US"},
            "address_to": {"city": "Redondo Beach", "state": "CA", "zip": "90277", "country": "US"},
            "eta": null,
            "servicelevel": {"token": "usps_priority", "name": "Priority Mail"},
            "metadata": null,
            "tracking_status": {"status": status, "status_details": format!("Now {status}."),
                "status_date": "2026-12-04T10:00:00Z", "location": null},
            "tracking_history": [],
        }
    });
    let (code, answer) = s
        .post_raw(
            &format!("{path}?token={token}"),
            &[("content-type", "application/json".into())],
            serde_json::to_vec(&event).unwrap(),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    serde_json::from_str(&answer).unwrap_or_else(|_| panic!("{answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shippo_label_carries_the_quotes_carrier_and_its_updates_find_it() {
    let fake = FakeCarrier::shippo(KEY).await;
    let s = Server::start_serving(setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);

    let mut numbers = Vec::new();
    let mut shipments = Vec::new();
    for n in 1..=2 {
        let (order, sid) = confirmed(&s, &staff).await;
        let rate = usps_rate(&s, &staff, &order, &sid).await;
        let bought = buy(
            &s,
            &staff,
            (&order, &sid),
            &rate,
            &format!("shippo-buy-{n}"),
        )
        .await;
        assert_eq!(bought["userErrors"], json!([]), "{bought}");
        let sh = shipment(&bought["order"], &sid);
        assert_eq!(sh["status"], "LABEL_PURCHASED");
        assert_eq!(
            sh["carrier"], "usps",
            "the quote's carrier, not the aggregator"
        );
        numbers.push(sh["trackingNumber"].as_str().unwrap().to_owned());
        shipments.push((order, sid));
    }

    // Polling asks Shippo under the carrier's token.
    fake.set_tracking(&numbers[0], "TRANSIT");
    let (order, sid) = &shipments[0];
    let tracked = track(&s, &staff, order, sid).await;
    assert_eq!(shipment(&tracked["order"], sid)["status"], "IN_TRANSIT");
    let track = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path.starts_with("/tracks/"))
        .unwrap();
    assert_eq!(track.path, format!("/tracks/usps/{}", numbers[0]));

    // The tenant's route: Shippo's update for the first label delivers it.
    let answer = track_updated(
        &s,
        "/webhooks/shipment-tracker/demo",
        TENANT_TOKEN,
        &numbers[0],
        "DELIVERED",
    )
    .await;
    assert_eq!(answer["ignored"], false, "{answer}");
    assert_eq!(answer["shipment"]["status"], "DELIVERED", "{answer}");
    assert_eq!(status_of(&s, &staff, &shipments[0]).await, "DELIVERED");

    // The SaaS route: the global index names the second label's tenant and shipment.
    let sid2 = &shipments[1].1;
    let answer = track_updated(
        &s,
        "/webhooks/shipment-tracker",
        SAAS_TOKEN,
        &numbers[1],
        "TRANSIT",
    )
    .await;
    assert_eq!(answer["ignored"], false, "{answer}");
    assert_eq!(answer["shipment"]["id"], sid2.as_str(), "{answer}");
    assert_eq!(status_of(&s, &staff, &shipments[1]).await, "IN_TRANSIT");
    assert_eq!(
        status_of(&s, &staff, &shipments[0]).await,
        "DELIVERED",
        "the other shipment is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_queued_past_the_polls_is_never_bought_again() {
    let fake = FakeCarrier::shippo(KEY).await;
    let s = Server::start_serving(setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);
    let (order, sid) = confirmed(&s, &staff).await;
    let rate = usps_rate(&s, &staff, &order, &sid).await;
    // Queued far longer than the adapter polls (10 lookups).
    fake.queue_labels(Some(1000));

    let first = buy(&s, &staff, (&order, &sid), &rate, "queued-buy-a").await;
    assert_eq!(
        first["userErrors"][0]["code"], "PURCHASE_IN_PROGRESS",
        "{first}"
    );
    assert_eq!(posts(&fake), 1);

    // Another key: looked up by the transaction's id (no call of ours is in flight), still
    // queued, so still in progress; and no second POST.
    let lookups_before = lookups(&fake);
    let second = buy(&s, &staff, (&order, &sid), &rate, "queued-buy-b").await;
    assert_eq!(
        second["userErrors"][0]["code"], "PURCHASE_IN_PROGRESS",
        "{second}"
    );
    assert_eq!(posts(&fake), 1, "never a second POST while one is open");
    assert!(
        lookups(&fake) > lookups_before,
        "the queued transaction was looked up"
    );
    assert_eq!(
        status_of(&s, &staff, &(order.clone(), sid.clone())).await,
        "CONFIRMED"
    );

    // Shippo made it: the next operation (the first buy retried) completes it.
    fake.finish_queued();
    let done = buy(&s, &staff, (&order, &sid), &rate, "queued-buy-a").await;
    assert_eq!(done["userErrors"], json!([]), "{done}");
    let sh = shipment(&done["order"], &sid);
    assert_eq!(sh["status"], "LABEL_PURCHASED");
    assert_eq!(sh["carrier"], "usps");
    assert_eq!(
        sh["trackingNumber"].as_str(),
        fake.sold_tracking_numbers().first().map(String::as_str)
    );
    // The other key now finds the label bought, and buys nothing.
    let again = buy(&s, &staff, (&order, &sid), &rate, "queued-buy-b").await;
    assert_eq!(again["userErrors"][0]["code"], "INVALID_INPUT", "{again}");
    assert!(
        again["userErrors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("it already has its label")),
        "{again}"
    );
    assert_eq!(posts(&fake), 1);
    assert_eq!(fake.labels_sold(), 1, "the fake holds one label");
}

fn lookups(fake: &FakeCarrier) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/transactions/"))
        .count()
}

/// A shipment of three packages through Shippo: one purchase, three transactions (labels and
/// numbers); Shippo's `track_updated` for package 2's number moves package 2 only; the
/// shipment is DELIVERED only after all three are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_packages_each_moved_by_its_own_updates() {
    let fake = FakeCarrier::shippo(KEY).await;
    let s = Server::start_serving(setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);
    let (order, sid) = crate::gateway::confirmed_packages(&s, &staff, 3).await;
    let rate = usps_rate(&s, &staff, &order, &sid).await;
    let bought = buy(&s, &staff, (&order, &sid), &rate, "three-parcels").await;
    assert_eq!(bought["userErrors"], json!([]), "{bought}");
    assert_eq!(posts(&fake), 1, "one purchase");
    assert_eq!(fake.labels_sold(), 3, "a label per package");
    let sh = read_packages(&s, &staff, &order, &sid).await;
    let numbers: Vec<String> = sh["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["trackingNumber"].as_str().unwrap().to_owned())
        .collect();
    let mut sold = fake.sold_tracking_numbers();
    sold.sort();
    let mut ours = numbers.clone();
    ours.sort();
    assert_eq!(ours, sold, "three labels, three numbers, the fake's");
    assert_eq!(sh["packages"][1]["reference"], "box 2");

    let path = "/webhooks/shipment-tracker/demo";
    let answer = track_updated(&s, path, TENANT_TOKEN, &numbers[1], "TRANSIT").await;
    assert_eq!(answer["ignored"], false, "{answer}");
    let sh = read_packages(&s, &staff, &order, &sid).await;
    let statuses: Vec<&str> = sh["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["LABEL_PURCHASED", "IN_TRANSIT", "LABEL_PURCHASED"]
    );
    assert_eq!(sh["status"], "IN_TRANSIT");

    for (i, n) in numbers.iter().enumerate() {
        track_updated(&s, path, TENANT_TOKEN, n, "DELIVERED").await;
        let expected = if i < 2 { "IN_TRANSIT" } else { "DELIVERED" };
        assert_eq!(
            read_packages(&s, &staff, &order, &sid).await["status"],
            expected,
            "after package {}",
            i + 1
        );
    }
}

/// A shipment with its packages, as read.
async fn read_packages(s: &Server, staff: &str, order: &str, sid: &str) -> Value {
    let r = s
        .gql(
            staff,
            &format!(
                r#"{{ order(id: "{order}") {{ shipments {{ id status packages {{ trackingNumber status reference }} }} }} }}"#
            ),
            json!({}),
        )
        .await;
    shipment(&r.data()["order"], sid).clone()
}
