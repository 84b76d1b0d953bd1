//! Customs declarations and label options (issue 29): what a shipment may carry, checked when
//! it is created; a bad one is refused naming its field, and the order is as it was.

use domain::order::{
    ContentsType, Customs, CustomsItem, LabelFormat, LabelOptions, NonDelivery, Signature,
};
use proptest::prelude::*;

use crate::support::*;

fn item(hs: Option<&str>, value: &str) -> CustomsItem {
    CustomsItem {
        sku: sku("A"),
        description: "Cotton T-shirt".into(),
        hs_tariff_number: hs.map(str::to_owned),
        origin_country: "us".into(),
        quantity: 1,
        value: money(value, "USD"),
        weight_grams: 400,
    }
}

fn declare(items: Vec<CustomsItem>) -> Result<Customs, domain::DomainError> {
    Customs::new(
        ContentsType::Merchandise,
        None,
        NonDelivery::Return,
        Some("NOEEI 30.37(a)"),
        "Ana",
        items,
    )
}

fn field_of(r: Result<Customs, domain::DomainError>) -> &'static str {
    match r {
        Err(domain::DomainError::Invalid { field, .. }) => field,
        other => panic!("expected INVALID_INPUT, got {other:?}"),
    }
}

#[test]
fn a_declaration_is_checked_field_by_field() {
    let ok = declare(vec![item(Some("6109.10.0012"), "10.00")]).unwrap();
    assert_eq!(ok.items[0].hs_tariff_number.as_deref(), Some("6109100012"));
    assert_eq!(ok.items[0].origin_country, "US");
    assert_eq!(field_of(declare(vec![])), "customs.items");
    assert_eq!(
        field_of(declare(vec![item(Some("61091"), "10.00")])),
        "customs.items.hsTariffNumber"
    );
    assert_eq!(
        field_of(declare(vec![item(Some("6109AB"), "10.00")])),
        "customs.items.hsTariffNumber"
    );
    assert_eq!(field_of(declare(vec![item(None, "0.00")])), "customs.items");
    let mut eur = item(None, "5.00");
    eur.value = money("5.00", "EUR");
    assert_eq!(
        field_of(declare(vec![item(None, "1.00"), eur])),
        "customs.items.value"
    );
    let other = Customs::new(
        ContentsType::Other,
        None,
        NonDelivery::Abandon,
        None,
        "Ana",
        vec![item(None, "1.00")],
    );
    assert_eq!(field_of(other), "customs.contentsExplanation");
    assert_eq!(
        ok.total_value().unwrap(),
        Some(money("10.00", "USD")),
        "the declared total"
    );
}

#[test]
fn label_options_are_checked() {
    let ok = LabelOptions::new(
        Some(LabelFormat::Zpl),
        Some(" 4x6 "),
        Some(money("200.00", "USD")),
        Some(Signature::Adult),
    )
    .unwrap();
    assert_eq!(ok.size.as_deref(), Some("4x6"));
    for bad in ["4", "4x", "x6", "0x6", "4x60", "ax6"] {
        assert!(
            LabelOptions::new(None, Some(bad), None, None).is_err(),
            "{bad:?}"
        );
    }
    assert!(LabelOptions::new(None, None, Some(money("0.00", "USD")), None).is_err());
    assert!(LabelOptions::default().is_empty());
}

#[test]
fn a_shipment_carries_its_customs_and_options_or_is_refused_unchanged() {
    let mut w = World::new();
    let mut o = order_in(&mut w, domain::order::OrderStatus::Confirmed);
    let before = o.clone();
    // Customs naming a SKU the shipment does not carry.
    let mut new = new_shipment(vec![lq("A", 1)]);
    let mut b = item(None, "10.00");
    b.sku = sku("B");
    new.customs = Some(declare(vec![b]).unwrap());
    let err = o.create_shipment(&mut w.ctx(), new).unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT");
    assert_eq!(o, before);
    // Insurance in another currency than the order's.
    let mut new = new_shipment(vec![lq("A", 1)]);
    new.label_options = LabelOptions::new(None, None, Some(money("200.00", "EUR")), None).unwrap();
    let err = o.create_shipment(&mut w.ctx(), new).unwrap_err();
    assert_eq!(err.code(), "CURRENCY_MISMATCH");
    assert_eq!(o, before);
    // Both right: kept on the shipment.
    let mut new = new_shipment(vec![lq("A", 1)]);
    new.customs = Some(declare(vec![item(Some("610910"), "10.00")]).unwrap());
    new.label_options = LabelOptions::new(
        Some(LabelFormat::Pdf),
        None,
        Some(money("50.00", "USD")),
        None,
    )
    .unwrap();
    new.address_messages = vec!["CORRECTED: 1 MAIN ST".into()];
    let (id, _) = o.create_shipment(&mut w.ctx(), new).unwrap();
    let s = o.shipment(id).unwrap();
    assert_eq!(s.customs.as_ref().unwrap().items.len(), 1);
    assert_eq!(s.label_options.format, Some(LabelFormat::Pdf));
    assert_eq!(s.address_messages, ["CORRECTED: 1 MAIN ST"]);
    // Stored and read back whole.
    let json = serde_json::to_string(&o).unwrap();
    let back: domain::order::Order = serde_json::from_str(&json).unwrap();
    assert_eq!(back.shipment(id), o.shipment(id));
}

proptest! {
    /// Any HS code of 6 to 10 digits, with dots anywhere between them, is kept as its digits;
    /// any other length is refused.
    #[test]
    fn hs_codes_are_their_digits(digits in "[0-9]{1,12}", dots in prop::collection::vec(any::<bool>(), 12)) {
        let mut dotted = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && dots[i] {
                dotted.push('.');
            }
            dotted.push(c);
        }
        let r = declare(vec![item(Some(&dotted), "1.00")]);
        if (6..=10).contains(&digits.len()) {
            let kept = r.unwrap().items[0].hs_tariff_number.clone();
            prop_assert_eq!(kept.as_deref(), Some(digits.as_str()));
        } else {
            prop_assert!(r.is_err());
        }
    }
}
