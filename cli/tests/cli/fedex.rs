//! FedEx end to end over `oms serve` (logging at TRACE) and the fake FedEx: the gateway from its
//! kind's defaults, credentials with an account number over GraphQL, rates → label → tracking →
//! void through GraphQL; fifty concurrent quotes on a cold token cache fetch one token; a token
//! expired mid-use is refreshed once; a second refusal is CARRIER_AUTH_FAILED and a token
//! endpoint down CARRIER_UNAVAILABLE, both with nothing bought; a 5xx after FedEx made the label
//! is found by its reference and recorded, one live label; and no token or client secret in any
//! answer or log line.

use std::sync::Arc;

use carriers::fake_fedex::{FakeFedex, Fault, TokenFault};
use serde_json::{Value, json};

use crate::gateway::{confirmed, mutate, ok, set_gateway, shipment};
use crate::server::{Server, oms, oms_with_input};
use crate::tracking::status_of;

const CLIENT: &str = "l7e2e-fedex-client-0001";
const SECRET: &str = "fedex-e2e-client-secret-never-shown";
const ACCOUNT: &str = "740561073";
const TRACK_CLIENT: &str = "l7e2e-fedex-track-0002";
const TRACK_SECRET: &str = "fedex-e2e-track-secret-never-shown";

/// A data dir with tenant `demo` and the gateway `fedex` of kind fedex at `fake` (its auth type
/// from the kind's default).
fn setup(fake: &FakeFedex) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(oms(dir.path(), &["init"]));
    let out = set_gateway(dir.path(), "fedex", "FedEx (fake)", &fake.base_url());
    assert!(out.contains("fedex"), "{out}");
    let listed = ok(oms(dir.path(), &["gateway", "list"]));
    assert!(listed.contains("oauth2-client-credentials"), "{listed}");
    // The CLI takes FedEx's fields: an account number and a tracking key pair.
    ok(oms_with_input(
        dir.path(),
        &[
            "carrier",
            "credentials",
            "add",
            "--tenant",
            "demo",
            "--gateway",
            "fedex",
            "--account",
            "ops",
            "--client-id",
            CLIENT,
            "--account-number",
            ACCOUNT,
            "--track-client-id",
            TRACK_CLIENT,
        ],
        &format!(r#"{{"clientSecret": "{SECRET}", "trackClientSecret": "{TRACK_SECRET}"}}"#),
    ));
    let versions = ok(oms(
        dir.path(),
        &["carrier", "credentials", "list", "--tenant", "demo"],
    ));
    assert!(
        versions.contains(&format!("carrier-account={ACCOUNT}"))
            && versions.contains(&format!("track-client={TRACK_CLIENT}")),
        "{versions}"
    );
    assert!(!versions.contains(SECRET) && !versions.contains(TRACK_SECRET));
    dir
}

fn rates_query(order: &str, shipment: &str) -> String {
    format!(
        r#"{{ shippingRates(orderId: "{order}", shipmentId: "{shipment}", gateway: "fedex", account: "main") {{ rates {{ id carrier service amount {{ amount currency }} }} errors {{ carrier message }} }} }}"#
    )
}

async fn ground_rate(s: &Server, staff: &str, order: &str, sid: &str) -> String {
    let r = s.gql(staff, &rates_query(order, sid), json!({})).await;
    let rates = r.data()["shippingRates"]["rates"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .clone();
    let g = rates
        .iter()
        .find(|r| r["service"] == "FedEx Ground")
        .unwrap_or_else(|| panic!("{}", r.raw));
    assert_eq!(g["amount"], json!({"amount": "12.34", "currency": "USD"}));
    assert_eq!(g["carrier"], "FedEx");
    g["id"].as_str().unwrap().to_owned()
}

fn buy_query(order: &str, sid: &str, rate: &str) -> String {
    format!(
        r#"mutation {{ buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}") {{ order {{ shipments {{ id status trackingNumber carrier label {{ url format }} }} }} userErrors {{ code message }} }} }}"#
    )
}

/// The code of a failed purchase, whether it came as a user error or a GraphQL error.
fn failure_code(r: &Value) -> String {
    r["data"]["buyShippingLabel"]["userErrors"][0]["code"]
        .as_str()
        .or_else(|| r["errors"][0]["extensions"]["code"].as_str())
        .unwrap_or_else(|| panic!("no failure: {r}"))
        .to_owned()
}

/// A purchase that fails with `code`, leaving the shipment CONFIRMED; the answer.
async fn failed_buy(
    s: &Server,
    staff: &str,
    key: &str,
    shipment: &(String, String),
    rate: &str,
    code: &str,
) -> String {
    let (order, sid) = shipment;
    let r = s
        .gql_keyed(staff, key, &buy_query(order, sid, rate), json!({}))
        .await;
    assert_eq!(failure_code(&r.body), code, "{}", r.raw);
    assert_eq!(status_of(s, staff, shipment).await, "CONFIRMED");
    r.raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fedex_over_graphql_with_its_token_handled() {
    let fake = FakeFedex::start(CLIENT, SECRET, ACCOUNT).await;
    let s = Arc::new(Server::start_traced(setup(&fake)));
    let staff = s.token("demo", "staff", None);
    let admin = s.token("demo", "tenant-admin", None);
    let mut answers = Vec::new();

    // Credentials over GraphQL: a FedEx version needs its account number.
    let missing = s
        .gql(
            &admin,
            &format!(
                r#"mutation {{ addCarrierCredentials(input: {{gateway: "fedex", account: "main", clientId: "{CLIENT}", clientSecret: "{SECRET}"}}) {{ credential {{ id }} userErrors {{ field message }} }} }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        missing.data()["addCarrierCredentials"]["userErrors"][0]["field"][0],
        "accountNumber",
        "{}",
        missing.raw
    );
    answers.push(missing.raw);
    let added = mutate(
        &s,
        &admin,
        &format!(
            r#"addCarrierCredentials(input: {{gateway: "fedex", account: "main", clientId: "{CLIENT}", clientSecret: "{SECRET}", accountNumber: "{ACCOUNT}"}})"#
        ),
        "credential { authType accountNumber clientId fingerprint effective }",
        None,
    )
    .await;
    assert_eq!(
        added["credential"]["authType"], "oauth2-client-credentials",
        "{added}"
    );
    assert_eq!(added["credential"]["accountNumber"], ACCOUNT);
    assert_eq!(added["credential"]["effective"], true);
    answers.push(added.to_string());

    // Fifty concurrent quotes on a cold token cache: one token request.
    let (order, sid) = confirmed(&s, &staff).await;
    let quotes: Vec<_> = (0..50)
        .map(|_| {
            let (s, staff, q) = (s.clone(), staff.clone(), rates_query(&order, &sid));
            tokio::spawn(async move { s.gql(&staff, &q, json!({})).await })
        })
        .collect();
    for q in quotes {
        let r = q.await.unwrap();
        assert_eq!(
            r.data()["shippingRates"]["rates"].as_array().map(Vec::len),
            Some(2),
            "{}",
            r.raw
        );
        answers.push(r.raw);
    }
    assert_eq!(
        fake.token_requests(),
        1,
        "one token for fifty waiting calls"
    );

    // A token expired mid-use: refreshed once, the purchase goes through.
    let rate = ground_rate(&s, &staff, &order, &sid).await;
    fake.expire_tokens();
    let bought = s
        .gql_keyed(
            &staff,
            "fedex-buy-1",
            &buy_query(&order, &sid, &rate),
            json!({}),
        )
        .await;
    let sh = shipment(&bought.data()["buyShippingLabel"]["order"], &sid).clone();
    assert_eq!(sh["status"], "LABEL_PURCHASED", "{}", bought.raw);
    assert_eq!(sh["carrier"], "fedex");
    assert_eq!(sh["label"]["format"], "PDF");
    assert_eq!(fake.token_requests(), 2, "one refresh");
    answers.push(bought.raw);
    let number = sh["trackingNumber"].as_str().unwrap().to_owned();
    assert_eq!(fake.live_labels().len(), 1);
    assert_eq!(fake.live_labels()[0].tracking_number, number);

    // Tracking through the Track API.
    fake.set_tracking(&number, "OD");
    let tracked = crate::gateway::track(&s, &staff, &order, &sid).await;
    let t = shipment(&tracked["order"], &sid);
    assert_eq!(
        (t["status"].as_str(), t["carrierStatus"].as_str()),
        (Some("OUT_FOR_DELIVERY"), Some("OD")),
        "{tracked}"
    );
    answers.push(tracked.to_string());

    // The account added by the CLI tracks with its tracking key pair.
    fake.accept_client(TRACK_CLIENT, TRACK_SECRET);
    let ops = s
        .gql(
            &staff,
            &rates_query(&order, &sid).replace(r#"account: "main""#, r#"account: "ops""#),
            json!({}),
        )
        .await;
    assert_eq!(
        ops.data()["shippingRates"]["rates"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{}",
        ops.raw
    );
    answers.push(ops.raw);

    // A second shipment: a second refusal is CARRIER_AUTH_FAILED, nothing bought, the
    // purchase closed (the next one goes through).
    let (order2, sid2) = confirmed(&s, &staff).await;
    let rate2 = ground_rate(&s, &staff, &order2, &sid2).await;
    fake.fail_next(Fault::Unauthorized);
    fake.fail_next(Fault::Unauthorized);
    let second = (order2.clone(), sid2.clone());
    let refused = failed_buy(
        &s,
        &staff,
        "fedex-buy-2",
        &second,
        &rate2,
        "CARRIER_AUTH_FAILED",
    )
    .await;
    assert_eq!(fake.live_labels().len(), 1, "nothing bought");
    answers.push(refused);

    // The token endpoint down: CARRIER_UNAVAILABLE, nothing bought, nothing left open.
    fake.expire_tokens();
    fake.fail_next_token(TokenFault::Down);
    let down = failed_buy(
        &s,
        &staff,
        "fedex-buy-3",
        &second,
        &rate2,
        "CARRIER_UNAVAILABLE",
    )
    .await;
    assert_eq!(fake.live_labels().len(), 1, "nothing bought");
    answers.push(down);

    // A 5xx after FedEx made the label: found by its reference, recorded; one live label.
    fake.fail_next(Fault::DoThenServerError);
    let found = s
        .gql_keyed(
            &staff,
            "fedex-buy-4",
            &buy_query(&order2, &sid2, &rate2),
            json!({}),
        )
        .await;
    let sh2 = shipment(&found.data()["buyShippingLabel"]["order"], &sid2).clone();
    assert_eq!(sh2["status"], "LABEL_PURCHASED", "{}", found.raw);
    let live = fake.live_labels();
    assert_eq!(live.len(), 2, "one live label for each shipment");
    assert_eq!(
        live[1].tracking_number,
        sh2["trackingNumber"].as_str().unwrap()
    );
    let references: Vec<_> = fake.labels().iter().map(|l| l.reference.clone()).collect();
    assert!(
        references
            .iter()
            .all(|r| r.as_ref().is_some_and(|r| r.len() <= 30)),
        "{references:?}"
    );
    answers.push(found.raw);

    // Void the label found again (the first is out for delivery): cancelled at FedEx, the
    // shipment cancelled.
    let voided = mutate(
        &s,
        &staff,
        &format!(r#"voidShippingLabel(orderId: "{order2}", shipmentId: "{sid2}")"#),
        "order { shipments { id status } }",
        Some("fedex-void-1"),
    )
    .await;
    assert_eq!(shipment(&voided["order"], &sid2)["status"], "CANCELLED");
    let live = fake.live_labels();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].tracking_number, number);
    answers.push(voided.to_string());

    // No token or client secret in any answer or log line.
    let log = s.log();
    assert!(log.contains("TRACE"), "not traced: {log:.300}");
    let tokens = fake.issued_tokens();
    assert!(tokens.len() >= 3, "{tokens:?}");
    for text in answers.iter().chain(std::iter::once(&log)) {
        assert!(
            !text.contains(SECRET) && !text.contains(TRACK_SECRET),
            "a client secret leaked"
        );
        for t in &tokens {
            assert!(!text.contains(t.as_str()), "a token leaked");
        }
    }
    let secrets = std::fs::read(s.dir.path().join("secrets.json")).unwrap();
    assert!(!String::from_utf8_lossy(&secrets).contains(SECRET));
}

/// The packages of a shipment as read: (trackingNumber, status) each.
async fn packages_of(s: &Server, staff: &str, order: &str, sid: &str) -> Vec<(String, String)> {
    let read = s
        .gql(
            staff,
            &format!(
                r#"{{ order(id: "{order}") {{ shipments {{ id status packages {{ trackingNumber status reference label {{ url }} }} }} }} }}"#
            ),
            json!({}),
        )
        .await;
    shipment(&read.data()["order"], sid)["packages"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", read.raw))
        .iter()
        .map(|p| {
            (
                p["trackingNumber"].as_str().unwrap_or_default().to_owned(),
                p["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A shipment of three packages through FedEx: one multi-piece purchase, three labels and
/// tracking numbers (the fake's three live pieces); polling moves each package by its own
/// number; the shipment is DELIVERED only after the third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_packages_three_labels_each_tracked_on_its_own() {
    let fake = FakeFedex::start(CLIENT, SECRET, ACCOUNT).await;
    fake.accept_client(TRACK_CLIENT, TRACK_SECRET);
    let s = Server::start_serving(setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);
    let (order, sid) = crate::gateway::confirmed_packages(&s, &staff, 3).await;
    let r = s
        .gql(
            &staff,
            &format!(
                r#"{{ shippingRates(orderId: "{order}", shipmentId: "{sid}", gateway: "fedex", account: "ops") {{ rates {{ id service }} }} }}"#
            ),
            json!({}),
        )
        .await;
    let rate = r.data()["shippingRates"]["rates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned();
    let bought = s
        .gql_keyed(
            &staff,
            "three-pieces",
            &buy_query(&order, &sid, &rate),
            json!({}),
        )
        .await;
    assert_eq!(
        bought.data()["buyShippingLabel"]["userErrors"],
        json!([]),
        "{}",
        bought.raw
    );
    let packages = packages_of(&s, &staff, &order, &sid).await;
    let numbers: Vec<String> = packages.iter().map(|p| p.0.clone()).collect();
    let live: Vec<String> = fake
        .live_labels()
        .into_iter()
        .map(|l| l.tracking_number)
        .collect();
    assert_eq!(numbers, live, "three labels, the fake's three pieces");
    assert!(packages.iter().all(|p| p.1 == "LABEL_PURCHASED"));

    // Package 2 moves; the others do not.
    fake.set_tracking(&numbers[1], "IT");
    let tracked = crate::gateway::track(&s, &staff, &order, &sid).await;
    assert_eq!(shipment(&tracked["order"], &sid)["status"], "IN_TRANSIT");
    let statuses: Vec<String> = packages_of(&s, &staff, &order, &sid)
        .await
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert_eq!(
        statuses,
        ["LABEL_PURCHASED", "IN_TRANSIT", "LABEL_PURCHASED"]
    );

    // Two delivered: still on its way; the third: delivered.
    for n in &numbers[..2] {
        fake.set_tracking(n, "DL");
    }
    crate::gateway::track(&s, &staff, &order, &sid).await;
    assert_eq!(
        status_of(&s, &staff, &(order.clone(), sid.clone())).await,
        "IN_TRANSIT"
    );
    fake.set_tracking(&numbers[2], "DL");
    crate::gateway::track(&s, &staff, &order, &sid).await;
    assert_eq!(
        status_of(&s, &staff, &(order.clone(), sid.clone())).await,
        "DELIVERED"
    );
    assert!(
        packages_of(&s, &staff, &order, &sid)
            .await
            .iter()
            .all(|p| p.1 == "DELIVERED")
    );
}
