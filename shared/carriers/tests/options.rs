//! Address checks, customs and label options through the carrier port, against the stateful
//! fakes: what each adapter sends (the carriers' documented fields, docs/carriers/
//! address-customs-options.md) and what it makes of the answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::ports::carrier::{
    Address, Carrier, LabelFormat, LabelOptions, Parcel, Purchase, ShipmentRequest, Signature,
};
use carriers::Credentials;
use carriers::easypost::EasyPost;
use carriers::fake::FakeCarrier;
use carriers::shippo::Shippo;
use domain::ids::Sku;
use domain::money::{Currency, Money};
use domain::order::{ContentsType, Customs, CustomsItem, NonDelivery};
use domain::outbound::OutboundPolicy;

const KEY: &str = "test_key_options_0001";

fn easypost(fake: &FakeCarrier) -> EasyPost {
    let base = fake.base_url();
    let target = base.trim_start_matches("http://").to_owned();
    EasyPost::new(Credentials::new(&base, KEY)).with_policy(
        OutboundPolicy::production().allowing(OutboundPolicy::parse_allow_list(&target).unwrap()),
    )
}

fn shippo(fake: &FakeCarrier) -> Shippo {
    let base = fake.base_url();
    let target = base.trim_start_matches("http://").to_owned();
    Shippo::new(Credentials::new(&base, KEY))
        .with_policy(
            OutboundPolicy::production()
                .allowing(OutboundPolicy::parse_allow_list(&target).unwrap()),
        )
        .with_label_poll(5, std::time::Duration::from_millis(5))
}

fn address(street: &str, city: &str, zip: &str, country: &str) -> Address {
    Address {
        name: "Ana Díaz".into(),
        company: None,
        street1: street.into(),
        street2: None,
        city: city.into(),
        state: None,
        zip: zip.into(),
        country: country.into(),
        phone: Some("4155550100".into()),
        email: None,
    }
}

fn usd(amount: &str) -> Money {
    Money::parse(amount, Currency::parse("USD").unwrap()).unwrap()
}

/// US → CA, one parcel of 1 kg.
fn to_canada(customs: Option<Customs>, options: LabelOptions) -> ShipmentRequest {
    ShipmentRequest {
        from: address("417 Montgomery St", "San Francisco", "94104", "US"),
        to: address("290 Bremner Blvd", "Toronto", "M5V 3L9", "CA"),
        parcels: vec![Parcel {
            weight_grams: 1000,
            length_mm: 300,
            width_mm: 200,
            height_mm: 100,
        }],
        reference: Some("order-7".into()),
        is_return: false,
        customs,
        options,
    }
}

fn customs() -> Customs {
    Customs::new(
        ContentsType::Merchandise,
        None,
        NonDelivery::Return,
        Some("NOEEI 30.37(a)"),
        "Ana Díaz",
        vec![CustomsItem {
            sku: Sku::parse("TEE-1").unwrap(),
            description: "Cotton T-shirt".into(),
            hs_tariff_number: Some("6109.10.0012".into()),
            origin_country: "us".into(),
            quantity: 2,
            value: usd("23.50"),
            weight_grams: 400,
        }],
    )
    .unwrap()
}

#[tokio::test]
async fn easypost_checks_an_address_corrected_or_undeliverable() {
    let fake = FakeCarrier::easypost(KEY).await;
    let c = easypost(&fake);
    let good = c
        .verify_address(&address(
            "417 Montgomery St",
            "San Francisco",
            "94104",
            "US",
        ))
        .await
        .unwrap();
    assert!(good.deliverable, "{good:?}");
    assert_eq!(good.address.street1, "417 MONTGOMERY ST");
    assert_eq!(good.address.zip, "94104-1234", "ZIP+4 added");
    assert_eq!(good.residential, Some(true));
    assert!(good.messages.is_empty());
    let sent = fake.requests().pop().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v2/addresses")
    );
    assert_eq!(sent.body["verify"], true);
    assert_eq!(sent.body["address"]["street1"], "417 Montgomery St");

    let bad = c
        .verify_address(&address("1 Nowhere Rd", "Springfield", "62701", "US"))
        .await
        .unwrap();
    assert!(!bad.deliverable);
    assert_eq!(bad.address.street1, "1 Nowhere Rd", "kept as given");
    assert_eq!(bad.residential, None);
    assert_eq!(bad.messages[0].code, "E.HOUSE_NUMBER.INVALID");
    assert_eq!(bad.messages[0].field.as_deref(), Some("street1"));
}

#[tokio::test]
async fn easypost_sends_customs_and_returns_the_commercial_invoice() {
    let fake = FakeCarrier::easypost(KEY).await;
    let c = easypost(&fake);
    let req = to_canada(Some(customs()), LabelOptions::default());
    let rates = c.rates(&req).await.unwrap();
    let created = fake.requests().pop().unwrap();
    let info = &created.body["shipment"]["customs_info"];
    assert_eq!(info["contents_type"], "merchandise");
    assert_eq!(info["non_delivery_option"], "return");
    assert_eq!(info["eel_pfc"], "NOEEI 30.37(a)");
    assert_eq!(info["customs_certify"], true);
    assert_eq!(info["customs_signer"], "Ana Díaz");
    let item = &info["customs_items"][0];
    assert_eq!(item["hs_tariff_number"], "6109100012", "dots dropped");
    assert_eq!(item["value"], "23.50", "the line's total value");
    assert_eq!(item["currency"], "USD");
    assert_eq!(item["origin_country"], "US");
    assert_eq!(item["weight"], 14.2, "400 g in ounces, rounded up");
    assert_eq!(item["quantity"], 2);
    let label = c
        .buy_label(&Purchase {
            rate: rates.rates[0].rate.clone(),
            shipment: req,
            reference: "01JCUSTOMS000000000000000A".into(),
        })
        .await
        .unwrap();
    let form = label.customs_form_url.expect("a commercial invoice");
    let bytes = reqwest::get(&form).await.unwrap().bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "the invoice is a PDF");
}

#[tokio::test]
async fn easypost_prints_zpl_insures_and_asks_for_a_signature() {
    let fake = FakeCarrier::easypost(KEY).await;
    let c = easypost(&fake);
    let options = LabelOptions::new(
        Some(LabelFormat::Zpl),
        Some("4x6"),
        Some(usd("200.00")),
        Some(Signature::Adult),
    )
    .unwrap();
    let req = ShipmentRequest {
        to: address("179 N Harbor Dr", "Redondo Beach", "90277", "US"),
        ..to_canada(None, options)
    };
    let rates = c.rates(&req).await.unwrap();
    let created = fake.requests().pop().unwrap();
    let sent = &created.body["shipment"]["options"];
    assert_eq!(sent["label_format"], "ZPL");
    assert_eq!(sent["label_size"], "4x6");
    assert_eq!(sent["delivery_confirmation"], "ADULT_SIGNATURE");
    let label = c
        .buy_label(&Purchase {
            rate: rates.rates[0].rate.clone(),
            shipment: req,
            reference: "01JZPL0000000000000000000A".into(),
        })
        .await
        .unwrap();
    let buy = fake.requests().pop().unwrap();
    assert_eq!(buy.body["insurance"], "200.00", "insured with the purchase");
    assert_eq!(label.label_format, "ZPL");
    assert_eq!(
        label.insurance_fee,
        Some(usd("2.00")),
        "the premium, itemised"
    );
    let bytes = reqwest::get(&label.label_url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(bytes.starts_with(b"^XA") && bytes.ends_with(b"^XZ"), "ZPL");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&label.tracking_number), "{text}");
}

#[tokio::test]
async fn easypost_refuses_a_size_it_does_not_print_without_a_call() {
    let fake = FakeCarrier::easypost(KEY).await;
    let c = easypost(&fake);
    let options = LabelOptions::new(None, Some("3x5"), None, None).unwrap();
    let err = c.rates(&to_canada(None, options)).await.unwrap_err();
    assert_eq!(err.code(), "not_supported", "{err}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn shippo_validates_an_address_and_says_so() {
    let fake = FakeCarrier::shippo(KEY).await;
    let c = shippo(&fake);
    let good = c
        .verify_address(&address(
            "417 Montgomery St",
            "San Francisco",
            "94104",
            "US",
        ))
        .await
        .unwrap();
    assert!(good.deliverable);
    assert_eq!(good.address.zip, "94104-1234");
    assert_eq!(good.residential, Some(true));
    assert_eq!(good.messages[0].code, "postal_code_change");
    let sent = fake.requests().pop().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/addresses")
    );
    assert_eq!(sent.body["validate"], true);
    let bad = c
        .verify_address(&address("1 Nowhere Rd", "Springfield", "62701", "US"))
        .await
        .unwrap();
    assert!(!bad.deliverable);
    assert_eq!(bad.messages[0].code, "Address Not Found");
    assert_eq!(bad.messages[0].field, None, "Shippo names no field");
}

#[tokio::test]
async fn shippo_declares_customs_inline_and_returns_the_invoice() {
    let fake = FakeCarrier::shippo(KEY).await;
    let c = shippo(&fake);
    let req = to_canada(Some(customs()), LabelOptions::default());
    let rates = c.rates(&req).await.unwrap();
    let created = fake.requests().pop().unwrap();
    let d = &created.body["customs_declaration"];
    assert_eq!(d["contents_type"], "MERCHANDISE");
    assert_eq!(d["non_delivery_option"], "RETURN");
    assert_eq!(d["eel_pfc"], "NOEEI_30_37_a");
    assert_eq!(d["certify"], true);
    let item = &d["items"][0];
    assert_eq!(item["tariff_number"], "6109100012");
    assert_eq!(
        (
            item["value_amount"].as_str(),
            item["value_currency"].as_str()
        ),
        (Some("23.50"), Some("USD"))
    );
    assert_eq!(
        (item["net_weight"].as_str(), item["mass_unit"].as_str()),
        (Some("400"), Some("g"))
    );
    let label = c
        .buy_label(&Purchase {
            rate: rates.rates[0].rate.clone(),
            shipment: req,
            reference: "01JSHIPPOCUSTOMS0000000000".into(),
        })
        .await
        .unwrap();
    let form = label.customs_form_url.expect("a commercial invoice");
    let bytes = reqwest::get(&form).await.unwrap().bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
}

#[tokio::test]
async fn shippo_prints_zplii_insures_inside_the_rate_and_refuses_epl2() {
    let fake = FakeCarrier::shippo(KEY).await;
    let c = shippo(&fake);
    let options = LabelOptions::new(
        Some(LabelFormat::Zpl),
        None,
        Some(usd("200.00")),
        Some(Signature::Standard),
    )
    .unwrap();
    let req = ShipmentRequest {
        to: address("179 N Harbor Dr", "Redondo Beach", "90277", "US"),
        ..to_canada(None, options)
    };
    let rates = c.rates(&req).await.unwrap();
    let created = fake.requests().pop().unwrap();
    assert_eq!(created.body["extra"]["insurance"]["amount"], "200.00");
    assert_eq!(created.body["extra"]["signature_confirmation"], "STANDARD");
    let label = c
        .buy_label(&Purchase {
            rate: rates.rates[0].rate.clone(),
            shipment: req.clone(),
            reference: "01JSHIPPOZPL00000000000000".into(),
        })
        .await
        .unwrap();
    let buy = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/transactions" && r.method == "POST")
        .unwrap();
    assert_eq!(buy.body["label_file_type"], "ZPLII");
    assert_eq!(label.label_format, "ZPL");
    assert_eq!(
        label.insurance_fee, None,
        "inside the rate's amount, not itemised"
    );
    let bytes = reqwest::get(&label.label_url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(bytes.starts_with(b"^XA") && bytes.ends_with(b"^XZ"));

    let before = fake.requests().len();
    let epl2 = LabelOptions::new(Some(LabelFormat::Epl2), None, None, None).unwrap();
    let err = c.rates(&to_canada(None, epl2)).await.unwrap_err();
    assert_eq!(err.code(), "not_supported", "{err}");
    assert_eq!(fake.requests().len(), before, "no call");
}
