//! Address checks, customs and label options over `oms serve` and the fake EasyPost: a STRICT
//! check of an undeliverable destination writes nothing, WARN keeps the carrier's remarks,
//! `validateAddress` answers the correction; a cross-border shipment without customs is refused
//! at rating and at purchase without a carrier call, and with customs the fake receives the HS
//! codes and values and the commercial invoice comes back; a ZPL label with insurance prints
//! ZPL at its URL and shows the premium as its own charge.

use carriers::fake::FakeCarrier;
use serde_json::{Value, json};

use crate::gateway::{KEY_1, approved_order, gateway_setup, mutate};
use crate::server::Server;

const PICKUP: &str = r#"pickup: {address: {name: "Warehouse", line1: "417 Montgomery St", city: "San Francisco", region: "CA", postalCode: "94104", country: "US"}, windowStart: "2030-01-01T09:00:00Z", windowEnd: "2030-01-01T17:00:00Z"}"#;
const PACKAGE: &str = "packages: [{weightGrams: 1000, lengthMm: 300, widthMm: 200, heightMm: 100}]";
const TORONTO: &str = r#"destination: {name: "Ana Díaz", line1: "290 Bremner Blvd", city: "Toronto", region: "ON", postalCode: "M5V 3L9", country: "CA"}"#;
const CUSTOMS: &str = r#"customs: {contentsType: MERCHANDISE, eelPfc: "NOEEI 30.37(a)", signer: "Ana Díaz", items: [{sku: "A", description: "Cotton T-shirt", hsTariffNumber: "6109.10", originCountry: "US", quantity: 1, value: {amount: "10.00", currency: "USD"}, weightGrams: 400}]}"#;

async fn version(s: &Server, staff: &str, order: &str) -> u64 {
    let r = s
        .gql(
            staff,
            &format!(r#"{{ order(id: "{order}") {{ version }} }}"#),
            json!({}),
        )
        .await;
    r.data()["order"]["version"].as_u64().unwrap()
}

/// `createShipment` with `input` fields and optional `verify`; the raw payload.
async fn create(s: &Server, staff: &str, order: &str, input: &str, verify: &str) -> Value {
    let r = s
        .gql(
            staff,
            &format!(
                r#"mutation {{ createShipment(orderId: "{order}", input: {{lines: [{{sku: "A", quantity: 1}}], {input}}}{verify}) {{ shipment {{ id addressMessages customs {{ items {{ hsTariffNumber }} }} labelOptions {{ format insurance {{ amount }} }} }} userErrors {{ code field message }} }} }}"#
            ),
            json!({}),
        )
        .await;
    r.data()["createShipment"].clone()
}

async fn confirm(s: &Server, staff: &str, order: &str, sid: &str) {
    mutate(
        s,
        staff,
        &format!(r#"confirmShipment(orderId: "{order}", shipmentId: "{sid}")"#),
        "order { id }",
        None,
    )
    .await;
}

async fn rates(s: &Server, staff: &str, order: &str, sid: &str) -> crate::server::Reply {
    s.gql(
        staff,
        &format!(
            r#"{{ shippingRates(orderId: "{order}", shipmentId: "{sid}", gateway: "easypost", account: "main") {{ rates {{ id carrier }} }} }}"#
        ),
        json!({}),
    )
    .await
}

fn error_code(r: &crate::server::Reply) -> String {
    r.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.raw))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_are_checked_strict_or_warn_and_validate_answers_the_correction() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let s = Server::start_serving(gateway_setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);
    let order = approved_order(&s, &staff).await;
    let verify =
        |mode: &str| format!(r#", verify: {{mode: {mode}, gateway: "easypost", account: "main"}}"#);
    let nowhere = r#"destination: {name: "Ana", line1: "1 Nowhere Rd", city: "Springfield", postalCode: "62701", country: "US"}"#;

    // STRICT, undeliverable: refused naming the field, nothing written.
    let before = version(&s, &staff, &order).await;
    let strict = create(
        &s,
        &staff,
        &order,
        &format!("{nowhere}, {PACKAGE}, {PICKUP}"),
        &verify("STRICT"),
    )
    .await;
    assert_eq!(
        strict["userErrors"][0]["code"], "ADDRESS_INVALID",
        "{strict}"
    );
    assert_eq!(
        strict["userErrors"][0]["field"],
        json!(["destination.line1"]),
        "{strict}"
    );
    assert!(strict["shipment"].is_null());
    assert_eq!(version(&s, &staff, &order).await, before, "0 store writes");
    let checked = fake.requests().pop().unwrap();
    assert_eq!(checked.path, "/v2/addresses");

    // WARN: created, the carrier's remarks kept.
    let warn = create(
        &s,
        &staff,
        &order,
        &format!("{nowhere}, {PACKAGE}, {PICKUP}"),
        &verify("WARN"),
    )
    .await;
    assert_eq!(warn["userErrors"], json!([]), "{warn}");
    let messages = warn["shipment"]["addressMessages"].as_array().unwrap();
    assert!(
        messages[0]
            .as_str()
            .unwrap()
            .starts_with("E.HOUSE_NUMBER.INVALID"),
        "{messages:?}"
    );
    assert_eq!(version(&s, &staff, &order).await, before + 1);

    // validateAddress: the fake's correction.
    let v = s
        .gql(
            &staff,
            r#"{ validateAddress(address: {name: "Ana", line1: "417 Montgomery St", city: "San Francisco", region: "CA", postalCode: "94104", country: "US"}, gateway: "easypost", account: "main") { deliverable residential address { line1 city postalCode } messages { code } } }"#,
            json!({}),
        )
        .await;
    let v = &v.data()["validateAddress"];
    assert_eq!(v["deliverable"], true, "{v}");
    assert_eq!(v["residential"], true);
    assert_eq!(v["address"]["line1"], "417 MONTGOMERY ST");
    assert_eq!(v["address"]["postalCode"], "94104-1234");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_border_needs_customs_and_a_zpl_label_is_insured() {
    let fake = FakeCarrier::easypost(KEY_1).await;
    let s = Server::start_serving(gateway_setup(&fake), &[]);
    let staff = s.token("demo", "staff", None);

    // US → CA without customs: refused at rating and at purchase, no carrier call.
    let order = approved_order(&s, &staff).await;
    let bare = create(
        &s,
        &staff,
        &order,
        &format!("{TORONTO}, {PACKAGE}, {PICKUP}"),
        "",
    )
    .await;
    let sid = bare["shipment"]["id"].as_str().unwrap().to_owned();
    confirm(&s, &staff, &order, &sid).await;
    let calls = fake.requests().len();
    let refused = rates(&s, &staff, &order, &sid).await;
    assert_eq!(error_code(&refused), "CUSTOMS_REQUIRED");
    let buy = s
        .gql_keyed(
            &staff,
            "customs-buy-1",
            &format!(
                r#"mutation {{ buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "any") {{ userErrors {{ code field }} }} }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        buy.data()["buyShippingLabel"]["userErrors"][0]["code"],
        "CUSTOMS_REQUIRED",
        "{}",
        buy.raw
    );
    assert_eq!(fake.requests().len(), calls, "0 carrier calls");

    // With customs: the fake gets the HS codes and values; the invoice comes back.
    let order = approved_order(&s, &staff).await;
    let declared = create(
        &s,
        &staff,
        &order,
        &format!("{TORONTO}, {PACKAGE}, {PICKUP}, {CUSTOMS}"),
        "",
    )
    .await;
    assert_eq!(
        declared["shipment"]["customs"]["items"][0]["hsTariffNumber"],
        "610910"
    );
    let sid = declared["shipment"]["id"].as_str().unwrap().to_owned();
    confirm(&s, &staff, &order, &sid).await;
    let quoted = rates(&s, &staff, &order, &sid).await;
    let rate = quoted.data()["shippingRates"]["rates"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", quoted.raw))
        .to_owned();
    let sent = fake.requests().pop().unwrap();
    let item = &sent.body["shipment"]["customs_info"]["customs_items"][0];
    assert_eq!(
        (item["hs_tariff_number"].as_str(), item["value"].as_str()),
        (Some("610910"), Some("10.00"))
    );
    let bought = mutate(
        &s,
        &staff,
        &format!(r#"buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}")"#),
        "order { shipments { id customsFormUrl } }",
        Some("customs-buy-2"),
    )
    .await;
    let form = bought["order"]["shipments"][0]["customsFormUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = reqwest::get(&form).await.unwrap().bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "the commercial invoice");

    // A ZPL label insured for 200.00, and a PDF one.
    for (format, head, tail) in [
        ("ZPL", &b"^XA"[..], &b"^XZ"[..]),
        ("PDF", b"%PDF-", b"%%EOF\n"),
    ] {
        let order = approved_order(&s, &staff).await;
        let options = format!(
            r#"labelOptions: {{format: {format}, size: "4x6", insurance: {{amount: "200.00", currency: "USD"}}, signature: STANDARD}}"#
        );
        let made = create(
            &s,
            &staff,
            &order,
            &format!("{PACKAGE}, {PICKUP}, {options}"),
            "",
        )
        .await;
        assert_eq!(made["shipment"]["labelOptions"]["format"], format, "{made}");
        let sid = made["shipment"]["id"].as_str().unwrap().to_owned();
        confirm(&s, &staff, &order, &sid).await;
        let quoted = rates(&s, &staff, &order, &sid).await;
        let rate = quoted.data()["shippingRates"]["rates"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let created = fake.requests().pop().unwrap();
        assert_eq!(created.body["shipment"]["options"]["label_format"], format);
        assert_eq!(
            created.body["shipment"]["options"]["delivery_confirmation"],
            "SIGNATURE"
        );
        let bought = mutate(
            &s,
            &staff,
            &format!(r#"buyShippingLabel(orderId: "{order}", shipmentId: "{sid}", rateId: "{rate}")"#),
            "order { shipments { id insuranceCharge { amount currency } packages { label { url format } } } }",
            Some(&format!("options-buy-{format}")),
        )
        .await;
        let sent = fake.requests().pop().unwrap();
        assert_eq!(
            sent.body["insurance"], "200.00",
            "insurance reached the carrier"
        );
        let sh = &bought["order"]["shipments"][0];
        assert_eq!(
            sh["insuranceCharge"],
            json!({"amount": "2.00", "currency": "USD"}),
            "{sh}"
        );
        let label = &sh["packages"][0]["label"];
        assert_eq!(label["format"], format, "{label}");
        let bytes = reqwest::get(label["url"].as_str().unwrap())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            bytes.starts_with(head) && bytes.ends_with(tail),
            "{format}: {bytes:?}"
        );
    }
}
