//! A return's own label (issue 28): bought and voided through an intent on the return (the
//! rules of a shipment's), blocking the return's other moves while open; the carrier's DELIVERED
//! for its number receives the return, every other status changes nothing; never a shipment.

use domain::DomainError;
use domain::ids::{CarrierCode, ReturnId, TrackingNumber};
use domain::order::{
    CarrierAction, IntentOutcome, Label, Order, OrderStatus, Package, ReturnLabel, ReturnStatus,
    TrackingOutcome, TrackingStatus, TrackingUpdate,
};

use crate::support::*;

/// A delivered order with one APPROVED return.
fn approved_return() -> (World, Order, ReturnId) {
    let mut w = World::new();
    let mut o = order_in(&mut w, OrderStatus::Delivered);
    let (rid, _) = o
        .request_return(&mut w.ctx(), &[lq("A", 1)], "too small")
        .unwrap();
    o.approve_return(&mut w.ctx(), rid).unwrap();
    (w, o, rid)
}

fn return_label(number: &str) -> ReturnLabel {
    ReturnLabel {
        package: Package::new(500, 200, 150, 100).unwrap(),
        carrier: CarrierCode::parse("usps").unwrap(),
        tracking_number: TrackingNumber::parse(number).unwrap(),
        label: Label {
            url: "https://l.example/r.pdf".into(),
            format: "PDF".into(),
        },
        carrier_reference: "shp_r1".into(),
    }
}

fn update(number: &str, status: TrackingStatus) -> TrackingUpdate {
    TrackingUpdate {
        carrier: Some(CarrierCode::parse("usps").unwrap()),
        tracking_number: Some(TrackingNumber::parse(number).unwrap()),
        status,
        carrier_status: None,
    }
}

fn bought(w: &mut World, o: &mut Order, rid: ReturnId, number: &str) {
    let (intent, _) = o
        .open_carrier_intent(
            &mut w.ctx(),
            rid,
            CarrierAction::Purchase,
            "rate",
            Some("k1"),
        )
        .unwrap();
    o.record_return_label(&mut w.ctx(), rid, &intent, return_label(number))
        .unwrap();
}

#[test]
fn a_return_label_is_bought_under_an_intent_that_blocks_the_return() {
    let (mut w, mut o, rid) = approved_return();
    let shipments_before = o.shipments().to_vec();
    let (intent, events) = o
        .open_carrier_intent(
            &mut w.ctx(),
            rid,
            CarrierAction::Purchase,
            "rate",
            Some("k1"),
        )
        .unwrap();
    assert_eq!(events[0].payload.event_type(), "ReturnCarrierCallStarted");
    // While open: no second purchase, no receive, no reject.
    assert!(matches!(
        o.open_carrier_intent(&mut w.ctx(), rid, CarrierAction::Purchase, "rate-2", None),
        Err(DomainError::CarrierCallInProgress { .. })
    ));
    assert!(matches!(
        o.receive_return(&mut w.ctx(), rid),
        Err(DomainError::CarrierCallInProgress { .. })
    ));
    let events = o
        .record_return_label(
            &mut w.ctx(),
            rid,
            &intent,
            return_label("9400100000000000000777"),
        )
        .unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.payload.event_type()).collect();
    assert_eq!(types, ["ReturnLabelPurchased", "ReturnCarrierCallOutcome"]);
    let r = o.returns().iter().find(|r| r.id == rid).unwrap();
    assert!(r.intent.is_none());
    assert_eq!(r.label_key.as_deref(), Some("k1"));
    assert_eq!(r.status, ReturnStatus::Approved);
    assert_eq!(
        o.shipments(),
        shipments_before.as_slice(),
        "no shipment moved"
    );
    // One label per return: a second purchase is refused.
    assert!(matches!(
        o.open_carrier_intent(&mut w.ctx(), rid, CarrierAction::Purchase, "rate-3", None),
        Err(DomainError::InvalidTransition { .. })
    ));
}

#[test]
fn a_requested_return_gets_no_label_and_a_refused_purchase_closes() {
    let mut w = World::new();
    let mut o = order_in(&mut w, OrderStatus::Delivered);
    let (rid, _) = o.request_return(&mut w.ctx(), &[lq("A", 1)], "r").unwrap();
    assert!(matches!(
        o.open_carrier_intent(&mut w.ctx(), rid, CarrierAction::Purchase, "rate", None),
        Err(DomainError::InvalidTransition { .. })
    ));
    o.approve_return(&mut w.ctx(), rid).unwrap();
    let (intent, _) = o
        .open_carrier_intent(&mut w.ctx(), rid, CarrierAction::Purchase, "rate", None)
        .unwrap();
    o.close_carrier_intent(
        &mut w.ctx(),
        rid,
        &intent,
        CarrierAction::Purchase,
        IntentOutcome::Refused,
    )
    .unwrap();
    assert!(matches!(
        o.record_return_label(
            &mut w.ctx(),
            rid,
            &intent,
            return_label("9400100000000000000778")
        ),
        Err(DomainError::IntentClosed { .. })
    ));
    // Closed: another purchase may start.
    bought(&mut w, &mut o, rid, "9400100000000000000779");
}

#[test]
fn the_carriers_delivered_receives_the_return_and_nothing_else_moves_it() {
    let (mut w, mut o, rid) = approved_return();
    let number = "9400100000000000000780";
    bought(&mut w, &mut o, rid, number);
    let shipments_before = o.shipments().to_vec();
    for status in [
        TrackingStatus::PreTransit,
        TrackingStatus::InTransit,
        TrackingStatus::OutForDelivery,
        TrackingStatus::Failure,
        TrackingStatus::Returned,
    ] {
        assert!(matches!(
            o.update_return_tracking(&mut w.ctx(), rid, &update(number, status))
                .unwrap(),
            TrackingOutcome::Ignored { .. }
        ));
    }
    // Another number is not this return's.
    assert!(matches!(
        o.update_return_tracking(
            &mut w.ctx(),
            rid,
            &update("9400100000000000000999", TrackingStatus::Delivered)
        )
        .unwrap(),
        TrackingOutcome::Ignored { .. }
    ));
    let TrackingOutcome::Applied(events) = o
        .update_return_tracking(
            &mut w.ctx(),
            rid,
            &update(number, TrackingStatus::Delivered),
        )
        .unwrap()
    else {
        panic!("delivered receives the return");
    };
    assert_eq!(events[0].payload.event_type(), "ReturnStatusChanged");
    let r = o.returns().iter().find(|r| r.id == rid).unwrap();
    assert_eq!(r.status, ReturnStatus::Received);
    assert_eq!(
        o.shipments(),
        shipments_before.as_slice(),
        "no shipment moved"
    );
    // A repeat changes nothing.
    assert!(matches!(
        o.update_return_tracking(
            &mut w.ctx(),
            rid,
            &update(number, TrackingStatus::Delivered)
        )
        .unwrap(),
        TrackingOutcome::Ignored { .. }
    ));
}

#[test]
fn a_void_takes_the_label_off_and_another_may_be_bought() {
    let (mut w, mut o, rid) = approved_return();
    assert!(matches!(
        o.open_carrier_intent(&mut w.ctx(), rid, CarrierAction::Void, "label", None),
        Err(DomainError::InvalidTransition { .. }),
    ));
    bought(&mut w, &mut o, rid, "9400100000000000000781");
    let (intent, _) = o
        .open_carrier_intent(&mut w.ctx(), rid, CarrierAction::Void, "label", Some("v1"))
        .unwrap();
    let events = o.record_return_void(&mut w.ctx(), rid, &intent).unwrap();
    assert_eq!(events[0].payload.event_type(), "ReturnLabelVoided");
    let r = o.returns().iter().find(|r| r.id == rid).unwrap();
    assert!(r.label.is_none() && r.intent.is_none());
    assert_eq!(r.void_key.as_deref(), Some("v1"));
    bought(&mut w, &mut o, rid, "9400100000000000000782");
}
