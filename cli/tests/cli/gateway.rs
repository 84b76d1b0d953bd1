//! The shipping gateway end to end against `oms serve` and a fake EasyPost: credentials, rates,
//! an idempotent purchase, the SaaS-level tracking webhook for its number, a void, a rotation
//! the carrier sees, polling tracking, and a call before any window is in force.

use carriers::fake::FakeCarrier;
use serde_json::{Value, json};

use crate::server::{Server, create_order_mutation, oms, oms_with_input, order_input};

pub(crate) const KEY_1: &str = "EZTK-e2e-first-key-000000001111";
const KEY_2: &str = "EZTK-e2e-second-key-00000002222";
pub(crate) const SAAS_SECRET: &str = "saas-easypost-webhook-secret-01";

pub(crate) fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A staff mutation's payload, failing on errors.
pub(crate) async fn mutate(
    s: &Server,
    token: &str,
    call: &str,
    selection: &str,
    key: Option<&str>,
) -> Value {
    let query =
        format!("mutation {{ {call} {{ {selection} userErrors {{ code field message }} }} }}");
    let r = match key {
        Some(k) => s.gql_keyed(token, k, &query, json!({})).await,
        None => s.gql(token, &query, json!({})).await,
    };
    let field = call.split('(').next().unwrap();
    let payload = r.data()[field].clone();
    assert_eq!(payload["userErrors"], json!([]), "{call}: {}", r.raw);
    payload
}

/// One package's input (500 g and more, by `n`).
fn package_input(n: u32) -> String {
    format!(
        r#"{{weightGrams: {}, lengthMm: 200, widthMm: 150, heightMm: 100, reference: "box {n}"}}"#,
        500 * n
    )
}

/// A confirmed shipment with a package and a pickup address; its id.
pub(crate) async fn confirmed_shipment(s: &Server, staff: &str, order: &str) -> String {
    confirmed_shipment_of(
        s,
        staff,
        order,
        "package: {weightGrams: 500, lengthMm: 200, widthMm: 150, heightMm: 100}",
    )
    .await
}

/// A confirmed order with one shipment of `n` packages (`packages: [...]`).
pub(crate) async fn confirmed_packages(s: &Server, staff: &str, n: u32) -> (String, String) {
    let packages: Vec<String> = (1..=n).map(package_input).collect();
    let order = approved_order(s, staff).await;
    let id = confirmed_shipment_of(
        s,
        staff,
        &order,
        &format!("packages: [{}]", packages.join(", ")),
    )
    .await;
    (order, id)
}

/// A confirmed shipment with these packages (GraphQL input text) and a pickup address.
async fn confirmed_shipment_of(s: &Server, staff: &str, order: &str, packages: &str) -> String {
    let sh = mutate(
        s,
        staff,
        &format!(
            r#"createShipment(orderId: "{order}", input: {{lines: [{{sku: "A", quantity: 1}}], {packages}, pickup: {{address: {{name: "Warehouse", line1: "417 Montgomery St", city: "San Francisco", region: "CA", postalCode: "94104", country: "US"}}, windowStart: "2030-01-01T09:00:00Z", windowEnd: "2030-01-01T17:00:00Z"}}}})"#
        ),
        "shipment { id }",
        None,
    )
    .await;
    let id = sh["shipment"]["id"].as_str().unwrap().to_owned();
    mutate(
        s,
        staff,
        &format!(r#"confirmShipment(orderId: "{order}", shipmentId: "{id}")"#),
        "order { id }",
        None,
    )
    .await;
    id
}

/// `trackShipment`'s payload (`order { shipments { id status carrierStatus } } ignored`).
pub(crate) async fn track(s: &Server, staff: &str, order: &str, sid: &str) -> Value {
    mutate(
        s,
        staff,
        &format!(r#"trackShipment(orderId: "{order}", shipmentId: "{sid}")"#),
        "order { shipments { id status carrierStatus } } ignored",
        None,
    )
    .await
}

pub(crate) fn shipment<'a>(order: &'a Value, id: &str) -> &'a Value {
    order["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

pub(crate) fn easypost_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!(
        "hmac-sha256-hex={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

pub(crate) fn buys(fake: &FakeCarrier) -> Vec<carriers::fake::Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/buy"))
        .collect()
}

/// `oms gateway set` of the gateway `kind` (its id too) named `name` at `base` (sandbox and
/// production alike).
pub(crate) fn set_gateway(dir: &std::path::Path, kind: &str, name: &str, base: &str) -> String {
    ok(oms(
        dir,
        &[
            "gateway",
            "set",
            "--id",
            kind,
            "--kind",
            kind,
            "--name",
            name,
            "--sandbox-url",
            base,
            "--production-url",
            base,
        ],
    ))
}

/// A data dir with tenant `demo`, the gateway `easypost` at `fake`, the account `main` (in force
/// now, `KEY_1`) and `later` (from tomorrow), and the SaaS-level EasyPost tracking hook.
pub(crate) fn gateway_setup(fake: &FakeCarrier) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(oms(dir.path(), &["init"]));
    set_gateway(dir.path(), "easypost", "EasyPost (fake)", &fake.base_url());
    ok(oms_with_input(
        dir.path(),
        &[
            "carrier",
            "credentials",
            "add",
            "--tenant",
            "demo",
            "--gateway",
            "easypost",
            "--account",
            "main",
        ],
        KEY_1,
    ));
    // Another account whose only version starts tomorrow.
    let tomorrow = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let tomorrow = tomorrow
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    ok(oms_with_input(
        dir.path(),
        &[
            "carrier",
            "credentials",
            "add",
            "--tenant",
            "demo",
            "--gateway",
            "easypost",
            "--account",
            "later",
            "--from",
            &tomorrow,
        ],
        KEY_1,
    ));
    ok(oms_with_input(
        dir.path(),
        &[
            "webhook",
            "set",
            "--saas",
            "--hook",
            "shipment-tracker",
            "--provider",
            "easypost",
        ],
        SAAS_SECRET,
    ));
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_rates_an_idempotent_label_tracking_void_and_rotation() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let dir = gateway_setup(&fake);
    let s = Server::start_serving(dir, &[]);
    let staff = s.token("demo", "staff", None);
    let admin = s.token("demo", "tenant-admin", None);

    let r = s
        .gql(
            &staff,
            &create_order_mutation(),
            order_input(Some("GW-1"), &[("A", "v1", 3, "10.00")]),
        )
        .await;
    let order = r.data()["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    mutate(
        &s,
        &staff,
        &format!(r#"approveOrder(orderId: "{order}")"#),
        "order { id }",
        None,
    )
    .await;
    let first = confirmed_shipment(&s, &staff, &order).await;

    // Rates, with the carrier that could not rate listed.
    let rates_q = |shipment: &str, account: &str| {
        format!(
            r#"{{ shippingRates(orderId: "{order}", shipmentId: "{shipment}", gateway: "easypost", account: "{account}") {{ rates {{ id carrier service amount {{ amount currency }} }} errors {{ carrier message }} }} }}"#
        )
    };
    let rates = s.gql(&staff, &rates_q(&first, "main"), json!({})).await;
    let quoted = rates.data()["shippingRates"]["rates"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", rates.raw))
        .clone();
    assert!(quoted.len() >= 2, "{}", rates.raw);
    assert_eq!(
        rates.data()["shippingRates"]["errors"][0]["carrier"],
        "FedEx"
    );
    let rate = quoted[0]["id"].as_str().unwrap().to_owned();

    // A purchase needs a key; with one it buys once, and a replay answers the same.
    let buy =
        format!(r#"buyShippingLabel(orderId: "{order}", shipmentId: "{first}", rateId: "{rate}")"#);
    let unkeyed = s
        .gql(
            &staff,
            &format!("mutation {{ {buy} {{ userErrors {{ field }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        unkeyed.data()["buyShippingLabel"]["userErrors"][0]["field"][0],
        "Idempotency-Key",
        "{}",
        unkeyed.raw
    );
    let selection = "order { shipments { id status trackingNumber carrier label { url format } } }";
    let bought = mutate(&s, &staff, &buy, selection, Some("buy-1")).await;
    let replay = mutate(&s, &staff, &buy, selection, Some("buy-1")).await;
    assert_eq!(bought, replay, "the replay answers the first purchase");
    assert_eq!(buys(&fake).len(), 1, "bought once");
    let sh = shipment(&bought["order"], &first).clone();
    assert_eq!(sh["status"], "LABEL_PURCHASED");
    assert_eq!(sh["carrier"], "usps");
    let number = sh["trackingNumber"].as_str().unwrap().to_owned();
    assert!(sh["label"]["url"].is_string());

    // Void: at the carrier, then the shipment is cancelled.
    let voided = mutate(
        &s,
        &staff,
        &format!(r#"voidShippingLabel(orderId: "{order}", shipmentId: "{first}")"#),
        "order { shipments { id status } }",
        Some("void-1"),
    )
    .await;
    assert_eq!(shipment(&voided["order"], &first)["status"], "CANCELLED");
    assert!(fake.requests().iter().any(|r| r.path.ends_with("/refund")));

    // Rotate over GraphQL; the next purchase goes out with the new key.
    fake.accept_key(KEY_2);
    let rotated = mutate(&s, &admin, &format!(r#"rotateCarrierCredentials(input: {{gateway: "easypost", account: "main", apiKey: "{KEY_2}"}})"#), "credential { fingerprint effective }", None).await;
    assert_eq!(rotated["credential"]["fingerprint"], "…2222");
    let second = confirmed_shipment(&s, &staff, &order).await;
    let rates = s.gql(&staff, &rates_q(&second, "main"), json!({})).await;
    let rate = rates.data()["shippingRates"]["rates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", rates.raw))
        .to_owned();
    let bought = mutate(
        &s,
        &staff,
        &format!(
            r#"buyShippingLabel(orderId: "{order}", shipmentId: "{second}", rateId: "{rate}")"#
        ),
        selection,
        Some("buy-2"),
    )
    .await;
    let last = buys(&fake).pop().unwrap();
    let expected = format!("Basic {}", base64_of(&format!("{KEY_2}:")));
    assert_eq!(
        last.authorization.as_deref(),
        Some(expected.as_str()),
        "the carrier sees the new key"
    );
    let number2 = shipment(&bought["order"], &second)["trackingNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(number, number2);

    // The carrier's webhook on the SaaS-level route finds the tenant by the label's number.
    let event = json!({"object": "Event", "description": "tracker.updated", "result": {"object": "Tracker", "tracking_code": number2, "carrier": "USPS", "status": "in_transit"}});
    let body = serde_json::to_vec(&event).unwrap();
    let (status, answer) = s
        .post_raw(
            "/webhooks/shipment-tracker",
            &[
                ("content-type", "application/json".into()),
                ("x-hmac-signature", easypost_signature(SAAS_SECRET, &body)),
            ],
            body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let read = s
        .gql(
            &staff,
            &format!(r#"{{ order(id: "{order}") {{ shipments {{ id status }} }} }}"#),
            json!({}),
        )
        .await;
    assert_eq!(
        shipment(&read.data()["order"], &second)["status"],
        "IN_TRANSIT",
        "{}",
        read.raw
    );

    // Polling: the carrier says delivered; applied as a tracking update.
    fake.set_tracking(&number2, "delivered");
    let tracked = track(&s, &staff, &order, &second).await;
    assert_eq!(tracked["ignored"], false);
    let sh = shipment(&tracked["order"], &second);
    assert_eq!(
        (sh["status"].as_str(), sh["carrierStatus"].as_str()),
        (Some("DELIVERED"), Some("delivered"))
    );

    // Before any window of an account is in force: refused, nothing sent.
    let before = fake.requests().len();
    let early = s.gql(&staff, &rates_q(&second, "later"), json!({})).await;
    assert_eq!(
        early.body["errors"][0]["extensions"]["code"], "CONNECTION_NOT_EFFECTIVE",
        "{}",
        early.raw
    );
    assert_eq!(fake.requests().len(), before);
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// An approved order of the tenant's staff with a confirmed shipment: (order, shipment).
pub(crate) async fn confirmed(s: &Server, staff: &str) -> (String, String) {
    let order = approved_order(s, staff).await;
    let id = confirmed_shipment(s, staff, &order).await;
    (order, id)
}

/// An approved order of one line; its id.
pub(crate) async fn approved_order(s: &Server, staff: &str) -> String {
    let r = s
        .gql(
            staff,
            &create_order_mutation(),
            order_input(None, &[("A", "v1", 1, "10.00")]),
        )
        .await;
    let order = r.data()["createOrder"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    mutate(
        s,
        staff,
        &format!(r#"approveOrder(orderId: "{order}")"#),
        "order { id }",
        None,
    )
    .await;
    order
}

/// The rate `shippingRates` quotes for the shipment through `gateway` (and `account`, when
/// named) whose carrier is `carrier`: `{id carrier amount {amount}}`.
pub(crate) async fn quoted(
    s: &Server,
    staff: &str,
    (order, sid): (&str, &str),
    (gateway, account): (&str, Option<&str>),
    carrier: &str,
) -> Value {
    let account = account
        .map(|a| format!(r#", account: "{a}""#))
        .unwrap_or_default();
    let r = s
        .gql(
            staff,
            &format!(
                r#"{{ shippingRates(orderId: "{order}", shipmentId: "{sid}", gateway: "{gateway}"{account}) {{ rates {{ id carrier amount {{ amount }} }} }} }}"#
            ),
            json!({}),
        )
        .await;
    r.data()["shippingRates"]["rates"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .iter()
        .find(|rate| rate["carrier"] == carrier)
        .unwrap_or_else(|| panic!("a {carrier} rate: {}", r.raw))
        .clone()
}

/// The id of the first rate `shippingRates` quotes for the shipment (account `main`).
pub(crate) async fn first_rate(s: &Server, staff: &str, order: &str, shipment: &str) -> String {
    let rates = s
        .gql(
            staff,
            &format!(
                r#"{{ shippingRates(orderId: "{order}", shipmentId: "{shipment}", gateway: "easypost", account: "main") {{ rates {{ id }} }} }}"#
            ),
            json!({}),
        )
        .await;
    rates.data()["shippingRates"]["rates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", rates.raw))
        .to_owned()
}

/// The process dies between the carrier's sale and the commit (SIGKILL of `oms serve`, embedded
/// store): the purchase intent is on disk, the same key retried on the restarted server looks
/// the purchase up at the carrier and completes it. One label sold, the shipment holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_the_sale_and_the_commit_buys_once() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let s = Server::start_serving(gateway_setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);
    let (order, sid) = confirmed(&s, &staff).await;
    let rate = first_rate(&s, &staff, &order, &sid).await;
    let buy =
        format!(r#"buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}")"#);
    let query = format!(
        "mutation {{ {buy} {{ order {{ shipments {{ id status trackingNumber }} }} userErrors {{ code message }} }} }}"
    );
    // The carrier sells, then holds its answer; the server is killed meanwhile.
    fake.fail_next(carriers::fake::Fault::DoThenStall);
    let s = std::sync::Arc::new(s);
    let pending = {
        let (s, staff, query) = (s.clone(), staff.clone(), query.clone());
        let body = json!({"query": query, "variables": {}}).to_string();
        tokio::spawn(async move { s.try_post(Some(&staff), Some("buy-kill-1"), body).await })
    };
    let started = std::time::Instant::now();
    while fake.labels_sold() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the carrier never sold"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-KILL", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        pending.await.unwrap().is_err(),
        "the killed server answered nothing"
    );
    let mut s = std::sync::Arc::into_inner(s).expect("the request has finished");
    s.wait();
    // The purchase is on disk as an open intent, for a person or the next request.
    let listed = ok(oms(s.dir.path(), &["labels", "reconcile"]));
    assert!(
        listed.contains(&format!(
            "demo\torder={order}\tshipment={sid}\tPURCHASE\tOPEN"
        )) && listed.contains("key=buy-kill-1")
            && listed.contains("1 open"),
        "{listed}"
    );
    let again = Server::restart(s);
    let staff = again.token("demo", "staff", None);
    let r = again
        .gql_keyed(&staff, "buy-kill-1", &query, json!({}))
        .await;
    let payload = &r.data()["buyShippingLabel"];
    assert_eq!(payload["userErrors"], json!([]), "{}", r.raw);
    let held = shipment(&payload["order"], &sid)["trackingNumber"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    assert_eq!(
        shipment(&payload["order"], &sid)["status"],
        "LABEL_PURCHASED"
    );
    assert_eq!(fake.labels_sold(), 1, "one label sold");
    assert_eq!(
        fake.sold_tracking_numbers(),
        vec![held],
        "the shipment holds it"
    );
    assert_eq!(
        buys(&fake).len(),
        1,
        "the carrier's buy endpoint was called once"
    );
    // The same key again: the stored answer.
    let replay = again
        .gql_keyed(&staff, "buy-kill-1", &query, json!({}))
        .await;
    assert_eq!(replay.data(), r.data(), "{}", replay.raw);
}
