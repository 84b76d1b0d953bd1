//! A return's own label, end to end over `oms serve` and the fake EasyPost: quoted from the
//! customer's address back to the shipment's pickup address with EasyPost's return flag (the
//! fake sees the outbound addresses and `is_return`), bought exactly once under a key, voided
//! and bought again; the carrier's updates for its number on the SaaS-level route move the
//! return (DELIVERED → RECEIVED), never the forward shipment.

use carriers::fake::FakeCarrier;
use serde_json::{Value, json};

use crate::gateway::{
    KEY_1, SAAS_SECRET, confirmed, easypost_signature, first_rate, gateway_setup, mutate, shipment,
};
use crate::server::Server;

/// The order's return `id`.
fn return_of<'a>(order: &'a Value, id: &str) -> &'a Value {
    order["returns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

/// An EasyPost tracker event for `number` on the SaaS-level route: the answer's JSON.
async fn saas_update(s: &Server, number: &str, status: &str) -> Value {
    let event = json!({"object": "Event", "description": "tracker.updated", "result": {"object": "Tracker", "tracking_code": number, "carrier": "USPS", "status": status}});
    let body = serde_json::to_vec(&event).unwrap();
    let (code, answer) = s
        .post_raw(
            "/webhooks/shipment-tracker",
            &[
                ("content-type", "application/json".into()),
                ("x-hmac-signature", easypost_signature(SAAS_SECRET, &body)),
            ],
            body,
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    serde_json::from_str(&answer).unwrap()
}

/// The cheapest EasyPost rate of the return's label: its id.
async fn return_rate(s: &Server, staff: &str, order: &str, ret: &str) -> String {
    let r = s
        .gql(
            staff,
            &format!(
                r#"{{ returnShippingRates(orderId: "{order}", returnId: "{ret}", gateway: "easypost", account: "main") {{ rates {{ id carrier service amount {{ amount }} }} }} }}"#
            ),
            json!({}),
        )
        .await;
    r.data()["returnShippingRates"]["rates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned()
}

const RETURN_SELECTION: &str = "order { version shipments { id status } returns { id status label { carrier trackingNumber label { url } package { weightGrams } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_label_ships_back_with_the_flag_and_its_delivery_receives_the_return() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let s = Server::start_serving(gateway_setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);

    // The forward shipment: bought, and delivered by the carrier's update.
    let (order, sid) = confirmed(&s, &staff).await;
    let rate = first_rate(&s, &staff, &order, &sid).await;
    let bought = mutate(
        &s,
        &staff,
        &format!(r#"buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}")"#),
        "order { shipments { id trackingNumber } }",
        Some("forward-buy"),
    )
    .await;
    let forward = shipment(&bought["order"], &sid)["trackingNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    saas_update(&s, &forward, "delivered").await;
    let requested = mutate(
        &s,
        &staff,
        &format!(
            r#"requestReturn(orderId: "{order}", lines: [{{sku: "A", quantity: 1}}], reason: "too small")"#
        ),
        "return { id }",
        None,
    )
    .await;
    let ret = requested["return"]["id"].as_str().unwrap().to_owned();

    // Not approved yet: no quote, nothing sent to the carrier.
    let before = fake.requests().len();
    let early = s
        .gql(
            &staff,
            &format!(
                r#"{{ returnShippingRates(orderId: "{order}", returnId: "{ret}", gateway: "easypost") {{ rates {{ id }} }} }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        early.body["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{}",
        early.raw
    );
    assert_eq!(fake.requests().len(), before);
    mutate(
        &s,
        &staff,
        &format!(r#"approveReturn(orderId: "{order}", returnId: "{ret}")"#),
        "order { id }",
        None,
    )
    .await;

    // Quoted with the outbound addresses and the return flag: EasyPost swaps them itself.
    let rate = return_rate(&s, &staff, &order, &ret).await;
    let created = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST" && r.path == "/v2/shipments")
        .unwrap();
    let quoted = &created.body["shipment"];
    assert_eq!(quoted["is_return"], true, "{quoted}");
    assert_eq!(quoted["to_address"]["zip"], "62701", "to: the customer");
    assert_eq!(
        quoted["from_address"]["zip"], "94104",
        "from: the warehouse"
    );

    // Bought under a key; the replay answers the same without a second purchase.
    let buy = format!(r#"buyReturnLabel(orderId: "{order}", returnId: "{ret}", rateId: "{rate}")"#);
    let first = mutate(&s, &staff, &buy, RETURN_SELECTION, Some("ret-buy-1")).await;
    let again = mutate(&s, &staff, &buy, RETURN_SELECTION, Some("ret-buy-1")).await;
    assert_eq!(first, again, "the replay is the first answer");
    assert_eq!(
        fake.labels_sold(),
        2,
        "the forward label and one return label"
    );
    let label = &return_of(&first["order"], &ret)["label"];
    assert_eq!(
        label["package"]["weightGrams"], 500,
        "the shipment's package"
    );
    assert!(label["label"]["url"].is_string(), "{label}");
    // Another key: the return has its label.
    let other = s
        .gql_keyed(
            &staff,
            "ret-buy-2",
            &format!("mutation {{ {buy} {{ userErrors {{ code message }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        other.data()["buyReturnLabel"]["userErrors"][0]["code"],
        "INVALID_INPUT",
        "{}",
        other.raw
    );
    assert_eq!(fake.labels_sold(), 2);

    // Voided: the return keeps its status without a label; bought again.
    let voided = mutate(
        &s,
        &staff,
        &format!(r#"voidReturnLabel(orderId: "{order}", returnId: "{ret}")"#),
        RETURN_SELECTION,
        Some("ret-void-1"),
    )
    .await;
    let after_void = return_of(&voided["order"], &ret);
    assert_eq!(after_void["status"], "APPROVED");
    assert!(after_void["label"].is_null(), "{after_void}");
    assert_eq!(fake.labels_refunded(), 1);
    let rate = return_rate(&s, &staff, &order, &ret).await;
    let rebought = mutate(
        &s,
        &staff,
        &format!(r#"buyReturnLabel(orderId: "{order}", returnId: "{ret}", rateId: "{rate}")"#),
        RETURN_SELECTION,
        Some("ret-buy-3"),
    )
    .await;
    let number = return_of(&rebought["order"], &ret)["label"]["trackingNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(number, forward);
    assert_eq!(
        fake.live_labels(),
        2,
        "the forward label and the new return label"
    );

    // The carrier's updates for the return's number move the return only.
    let moving = saas_update(&s, &number, "in_transit").await;
    assert_eq!(moving["return"]["status"], "APPROVED", "{moving}");
    assert!(moving.get("shipment").is_none(), "{moving}");
    let back = saas_update(&s, &number, "delivered").await;
    assert_eq!(back["return"]["id"], ret.as_str(), "{back}");
    assert_eq!(back["return"]["status"], "RECEIVED", "{back}");
    let read = s
        .gql(
            &staff,
            &format!(
                r#"{{ order(id: "{order}") {{ shipments {{ id status trackingNumber }} returns {{ id status }} }} }}"#
            ),
            json!({}),
        )
        .await;
    let o = &read.data()["order"];
    assert_eq!(return_of(o, &ret)["status"], "RECEIVED", "{}", read.raw);
    let sh = shipment(o, &sid);
    assert_eq!(
        (sh["status"].as_str(), sh["trackingNumber"].as_str()),
        (Some("DELIVERED"), Some(forward.as_str())),
        "the forward shipment is untouched"
    );
    // The same delivery again is its first answer, and changes nothing.
    let repeat = saas_update(&s, &number, "delivered").await;
    assert_eq!(repeat, back, "a replay of the first delivery");
    // A later update of the returned parcel changes nothing either.
    let late = saas_update(&s, &number, "out_for_delivery").await;
    assert_eq!(late["ignored"], true, "{late}");
    assert_eq!(late["order"]["version"], back["order"]["version"], "{late}");
}
