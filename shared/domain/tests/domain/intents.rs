//! Carrier intents: a purchase or void is recorded before the carrier is called, blocks every
//! other move of its shipment while open, and is closed only against its own id.

use domain::DomainError;
use domain::ids::{CarrierCode, ShipmentId, TrackingNumber};
use domain::order::{
    CarrierAction, IntentOutcome, IntentState, Label, Order, OrderStatus, ShipmentStatus,
    TrackingOutcome, TrackingStatus,
};

use crate::support::*;

fn confirmed(w: &mut World) -> (Order, ShipmentId) {
    let mut o = order_in(w, OrderStatus::Confirmed);
    let (id, _) = o
        .create_shipment(&mut w.ctx(), new_shipment(vec![lq("A", 1)]))
        .unwrap();
    o.confirm_shipment(&mut w.ctx(), id).unwrap();
    (o, id)
}

fn label() -> Label {
    Label {
        url: "https://l.example/1.pdf".into(),
        format: "PDF".into(),
    }
}

fn record(w: &mut World, o: &mut Order, id: ShipmentId, intent: &str) -> Result<(), DomainError> {
    o.record_label(
        &mut w.ctx(),
        id,
        intent,
        CarrierCode::parse("usps").unwrap(),
        vec![domain::order::PackageLabel {
            tracking_number: TrackingNumber::parse("9400100000000000000001").unwrap(),
            label: label(),
        }],
        "shp_1",
    )
    .map(drop)
}

fn in_progress(r: Result<impl std::fmt::Debug, DomainError>, action: CarrierAction) {
    match r {
        Err(DomainError::CarrierCallInProgress { action: a }) => assert_eq!(a, action),
        other => panic!("expected {action} in progress, got {other:?}"),
    }
}

#[test]
fn an_open_purchase_blocks_every_other_move_of_its_shipment() {
    let mut w = World::new();
    let (mut o, id) = confirmed(&mut w);
    let (intent, events) = o
        .open_carrier_intent(
            &mut w.ctx(),
            id,
            CarrierAction::Purchase,
            "rate-1",
            Some("k1"),
        )
        .unwrap();
    assert_eq!(events.len(), 1);
    let s = o.shipment(id).unwrap();
    assert_eq!(s.status, ShipmentStatus::Confirmed);
    let open = s.intent.clone().unwrap();
    assert_eq!(
        (
            open.id.as_str(),
            open.action,
            open.state,
            open.key.as_deref()
        ),
        (
            intent.as_str(),
            CarrierAction::Purchase,
            IntentState::Open,
            Some("k1")
        )
    );
    let before = o.clone();
    in_progress(
        o.open_carrier_intent(
            &mut w.ctx(),
            id,
            CarrierAction::Purchase,
            "rate-2",
            Some("k2"),
        ),
        CarrierAction::Purchase,
    );
    in_progress(o.cancel_shipment(&mut w.ctx(), id), CarrierAction::Purchase);
    in_progress(
        o.dispatch_shipment(&mut w.ctx(), id, None, None),
        CarrierAction::Purchase,
    );
    in_progress(
        o.mark_shipment_delivered(&mut w.ctx(), id),
        CarrierAction::Purchase,
    );
    in_progress(o.cancel(&mut w.ctx(), None), CarrierAction::Purchase);
    // A carrier's tracking update cannot move it either: ignored, nothing changes.
    assert!(matches!(
        o.update_tracking(&mut w.ctx(), id, tracking(TrackingStatus::InTransit))
            .unwrap(),
        TrackingOutcome::Ignored { .. }
    ));
    assert_eq!(o, before, "refused commands changed nothing");
    // Only its own id completes it.
    assert!(matches!(
        record(&mut w, &mut o, id, "01ANOTHERINTENT"),
        Err(DomainError::IntentClosed { .. })
    ));
    record(&mut w, &mut o, id, &intent).unwrap();
    let s = o.shipment(id).unwrap();
    assert_eq!(s.status, ShipmentStatus::LabelPurchased);
    assert!(s.intent.is_none());
    assert_eq!(s.carrier_reference.as_deref(), Some("shp_1"));
    // Completed once: the same outcome again finds no intent.
    assert!(matches!(
        record(&mut w, &mut o, id, &intent),
        Err(DomainError::IntentClosed { .. })
    ));
}

#[test]
fn a_refused_purchase_closes_its_intent_and_a_later_one_may_start() {
    let mut w = World::new();
    let (mut o, id) = confirmed(&mut w);
    let (first, _) = o
        .open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate-1", None)
        .unwrap();
    // Completed and unknown are not ways to close.
    for outcome in [IntentOutcome::Completed, IntentOutcome::Unknown] {
        assert!(
            o.close_carrier_intent(&mut w.ctx(), id, &first, CarrierAction::Purchase, outcome)
                .is_err()
        );
    }
    o.close_carrier_intent(
        &mut w.ctx(),
        id,
        &first,
        CarrierAction::Purchase,
        IntentOutcome::Refused,
    )
    .unwrap();
    assert!(o.shipment(id).unwrap().intent.is_none());
    let (second, _) = o
        .open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate-2", None)
        .unwrap();
    assert_ne!(first, second);
    assert!(matches!(
        record(&mut w, &mut o, id, &first),
        Err(DomainError::IntentClosed { .. })
    ));
    record(&mut w, &mut o, id, &second).unwrap();
}

#[test]
fn an_unknown_intent_stays_and_still_blocks() {
    let mut w = World::new();
    let (mut o, id) = confirmed(&mut w);
    let (intent, _) = o
        .open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate-1", None)
        .unwrap();
    assert_eq!(
        o.mark_intent_unknown(&mut w.ctx(), id, &intent, CarrierAction::Purchase)
            .unwrap()
            .len(),
        1
    );
    // Marking it again changes nothing.
    assert!(
        o.mark_intent_unknown(&mut w.ctx(), id, &intent, CarrierAction::Purchase)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        o.shipment(id).unwrap().intent.as_ref().unwrap().state,
        IntentState::Unknown
    );
    in_progress(
        o.open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate-2", None),
        CarrierAction::Purchase,
    );
}

/// A purchase the carrier queued stays open under the carrier's id of it, blocks like any open
/// intent, is never closed as "queued", and completes against its own id.
#[test]
fn a_queued_purchase_keeps_the_carriers_id_and_completes_later() {
    let mut w = World::new();
    let (mut o, id) = confirmed(&mut w);
    let (intent, _) = o
        .open_carrier_intent(
            &mut w.ctx(),
            id,
            CarrierAction::Purchase,
            "rate-1",
            Some("k1"),
        )
        .unwrap();
    assert!(matches!(
        o.mark_intent_queued(&mut w.ctx(), id, &intent, CarrierAction::Purchase, " "),
        Err(DomainError::Invalid { .. })
    ));
    let events = o
        .mark_intent_queued(&mut w.ctx(), id, &intent, CarrierAction::Purchase, "tx_1")
        .unwrap();
    assert!(
        matches!(
            events.as_slice(),
            [e] if matches!(e.payload, domain::events::EventPayload::CarrierCallOutcome {
                outcome: IntentOutcome::Queued, ..
            })
        ),
        "{events:?}"
    );
    let open = o.shipment(id).unwrap().intent.clone().unwrap();
    assert_eq!(
        (open.state, open.carrier_ref.as_deref()),
        (IntentState::Queued, Some("tx_1"))
    );
    // Again: nothing changes.
    assert!(
        o.mark_intent_queued(&mut w.ctx(), id, &intent, CarrierAction::Purchase, "tx_1")
            .unwrap()
            .is_empty()
    );
    in_progress(
        o.open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate-2", None),
        CarrierAction::Purchase,
    );
    assert!(matches!(
        o.close_carrier_intent(
            &mut w.ctx(),
            id,
            &intent,
            CarrierAction::Purchase,
            IntentOutcome::Queued
        ),
        Err(DomainError::Invalid { .. })
    ));
    record(&mut w, &mut o, id, &intent).unwrap();
    let s = o.shipment(id).unwrap();
    assert_eq!(s.status, ShipmentStatus::LabelPurchased);
    assert!(s.intent.is_none());
    assert_eq!(s.label_key.as_deref(), Some("k1"));
}

#[test]
fn a_void_needs_a_bought_label_and_cancels_the_shipment_against_its_intent() {
    let mut w = World::new();
    let (mut o, id) = confirmed(&mut w);
    // No label yet: nothing to void.
    assert!(matches!(
        o.open_carrier_intent(&mut w.ctx(), id, CarrierAction::Void, "label", None),
        Err(DomainError::InvalidTransition { .. })
    ));
    buy_label(&mut w, &mut o, id);
    let (intent, _) = o
        .open_carrier_intent(&mut w.ctx(), id, CarrierAction::Void, "label", Some("v1"))
        .unwrap();
    in_progress(
        o.dispatch_shipment(&mut w.ctx(), id, None, None),
        CarrierAction::Void,
    );
    in_progress(
        o.open_carrier_intent(&mut w.ctx(), id, CarrierAction::Void, "label", Some("v2")),
        CarrierAction::Void,
    );
    assert!(matches!(
        o.record_void(&mut w.ctx(), id, "01OTHER"),
        Err(DomainError::IntentClosed { .. })
    ));
    o.record_void(&mut w.ctx(), id, &intent).unwrap();
    let s = o.shipment(id).unwrap();
    assert_eq!(s.status, ShipmentStatus::Cancelled);
    assert!(s.intent.is_none());
}

#[test]
fn the_purchase_command_is_named_as_the_api_names_it_and_old_events_still_read() {
    use domain::order::Command;
    assert_eq!(Command::PurchaseLabel.as_str(), "buyShippingLabel");
    assert_eq!(Command::VoidLabel.as_str(), "voidShippingLabel");
    let old: Command = serde_json::from_str("\"purchaseLabel\"").unwrap();
    assert_eq!(old, Command::PurchaseLabel);
    assert_eq!(
        Command::parse("purchaseLabel"),
        Some(Command::PurchaseLabel)
    );
    assert_eq!(
        serde_json::to_string(&Command::PurchaseLabel).unwrap(),
        "\"buyShippingLabel\""
    );
}
