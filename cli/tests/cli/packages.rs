//! A shipment of several packages through EasyPost, whose shipments hold one parcel each, over
//! `oms serve` and the fake EasyPost: each package is quoted on its own and a service offered
//! for all is priced as their sum; buying it buys a label per package, one by one, all or none.
//! The fake refusing the 2nd of 3 purchases: the 1st is voided, the shipment holds no label and
//! the fake no live label; another buy then succeeds with 3 labels, and a void voids all 3.

use carriers::fake::FakeCarrier;
use serde_json::{Value, json};

use crate::gateway::{KEY_1, confirmed_packages, gateway_setup, mutate, quoted, shipment};
use crate::server::Server;
use crate::tracking::status_of;

/// The USPS rate of the shipment (account `main`): its id and amount.
async fn usps_rate(s: &Server, staff: &str, order: &str, sid: &str) -> (String, String) {
    let usps = quoted(s, staff, (order, sid), ("easypost", Some("main")), "USPS").await;
    (
        usps["id"].as_str().unwrap().to_owned(),
        usps["amount"]["amount"].as_str().unwrap().to_owned(),
    )
}

async fn buy(s: &Server, staff: &str, order: &str, sid: &str, rate: &str, key: &str) -> Value {
    let r = s
        .gql_keyed(
            staff,
            key,
            &format!(
                r#"mutation {{ buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}") {{ order {{ shipments {{ id status packages {{ trackingNumber status }} }} }} userErrors {{ code message }} }} }}"#
            ),
            json!({}),
        )
        .await;
    r.data()["buyShippingLabel"].clone()
}

fn buys(fake: &FakeCarrier) -> usize {
    crate::gateway::buys(fake).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_easypost_packages_are_bought_one_by_one_all_or_none() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let s = Server::start_serving(gateway_setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);
    let (order, sid) = confirmed_packages(&s, &staff, 3).await;
    let shipment_ref = (order.clone(), sid.clone());

    // Each package quoted on its own: the USPS service for all three is their sum.
    let (rate, amount) = usps_rate(&s, &staff, &order, &sid).await;
    assert_eq!(amount, "22.74", "3 × 7.58");
    let created = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v2/shipments")
        .count();
    assert_eq!(created, 3, "one EasyPost shipment per package");

    // The 2nd purchase refused: the 1st is voided, nothing stays bought.
    fake.refuse_buy(2);
    let refused = buy(&s, &staff, &order, &sid, &rate, "pkgs-1").await;
    assert_eq!(
        refused["userErrors"][0]["code"], "CARRIER_REJECTED",
        "{refused}"
    );
    assert_eq!(buys(&fake), 2, "the 3rd was never tried");
    assert_eq!(fake.labels_sold(), 1);
    assert_eq!(fake.labels_refunded(), 1, "the 1st was voided");
    assert_eq!(fake.live_labels(), 0, "the fake holds no live label");
    assert_eq!(status_of(&s, &staff, &shipment_ref).await, "CONFIRMED");
    let read = s
        .gql(
            &staff,
            &format!(r#"{{ order(id: "{order}") {{ shipments {{ id trackingNumber packages {{ trackingNumber label {{ url }} }} }} }} }}"#),
            json!({}),
        )
        .await;
    let sh = shipment(&read.data()["order"], &sid);
    assert!(sh["trackingNumber"].is_null(), "{}", read.raw);
    assert!(
        sh["packages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["trackingNumber"].is_null() && p["label"].is_null()),
        "{}",
        read.raw
    );

    // Quoted again (the refused shipments' rates are spent), bought: three labels.
    let (rate, _) = usps_rate(&s, &staff, &order, &sid).await;
    let bought = buy(&s, &staff, &order, &sid, &rate, "pkgs-2").await;
    assert_eq!(bought["userErrors"], json!([]), "{bought}");
    let packages = shipment(&bought["order"], &sid)["packages"]
        .as_array()
        .unwrap()
        .clone();
    let numbers: Vec<&str> = packages
        .iter()
        .map(|p| p["trackingNumber"].as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3);
    assert_eq!(fake.live_labels(), 3);
    let mut live: Vec<String> = fake.sold_tracking_numbers();
    live.retain(|n| numbers.contains(&n.as_str()));
    assert_eq!(live.len(), 3, "the three live labels are the packages'");

    // A void voids every package's label.
    let voided = mutate(
        &s,
        &staff,
        &format!(r#"voidShippingLabel(orderId: "{order}", shipmentId: "{sid}")"#),
        "order { shipments { id status } }",
        Some("pkgs-void"),
    )
    .await;
    assert_eq!(shipment(&voided["order"], &sid)["status"], "CANCELLED");
    assert_eq!(fake.live_labels(), 0, "all three voided");
}
