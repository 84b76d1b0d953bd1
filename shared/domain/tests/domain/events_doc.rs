//! `docs/events.md` documents every domain event type with a real example (produced here by
//! running the commands that emit it), and every event carries its envelope. The file is
//! checked against what the domain emits; `OMS_UPDATE_DOCS=1` rewrites it.

use std::collections::BTreeMap;

use domain::config::TenantConfig;
use domain::events::{DomainEvent, EventPayload};
use domain::ids::{CarrierCode, TrackingNumber};
use domain::order::{OrderStatus, TrackingStatus, TrackingUpdate};

use crate::support::*;

/// Every event type, by an exhaustive match: a new variant does not compile until it is here.
fn type_of(p: &EventPayload) -> &'static str {
    match p {
        EventPayload::OrderCreated { .. } => "OrderCreated",
        EventPayload::OrderReviewerAssigned { .. } => "OrderReviewerAssigned",
        EventPayload::OrderApproved { .. } => "OrderApproved",
        EventPayload::OrderRejected { .. } => "OrderRejected",
        EventPayload::OrderCancelled { .. } => "OrderCancelled",
        EventPayload::OrderLinesCancelled { .. } => "OrderLinesCancelled",
        EventPayload::OrderPaid { .. } => "OrderPaid",
        EventPayload::OrderStatusChanged { .. } => "OrderStatusChanged",
        EventPayload::OrderCompleted {} => "OrderCompleted",
        EventPayload::PaymentStatusChanged { .. } => "PaymentStatusChanged",
        EventPayload::ShipmentCreated { .. } => "ShipmentCreated",
        EventPayload::ShipmentStatusChanged { .. } => "ShipmentStatusChanged",
        EventPayload::ShipmentTrackingUpdated { .. } => "ShipmentTrackingUpdated",
        EventPayload::PackageStatusChanged { .. } => "PackageStatusChanged",
        EventPayload::CarrierCallStarted { .. } => "CarrierCallStarted",
        EventPayload::CarrierCallOutcome { .. } => "CarrierCallOutcome",
        EventPayload::ReturnRequested { .. } => "ReturnRequested",
        EventPayload::ReturnStatusChanged { .. } => "ReturnStatusChanged",
        EventPayload::ReturnCarrierCallStarted { .. } => "ReturnCarrierCallStarted",
        EventPayload::ReturnCarrierCallOutcome { .. } => "ReturnCarrierCallOutcome",
        EventPayload::ReturnLabelPurchased { .. } => "ReturnLabelPurchased",
        EventPayload::ReturnLabelVoided { .. } => "ReturnLabelVoided",
        EventPayload::RefundIssued { .. } => "RefundIssued",
    }
}

const ALL_TYPES: usize = 23;

/// The first event of each type that a full life cycle (and a rejected and a cancelled order)
/// emits, deterministic (fixed ids and clock).
fn examples() -> BTreeMap<&'static str, DomainEvent> {
    let mut w = World::new();
    let mut all: Vec<DomainEvent> = Vec::new();
    let (mut o, created) = order_with_events(
        &mut w,
        "USD",
        &[("A", "v1", 3, "10.00"), ("B", "v2", 2, "25.00")],
        "5.00",
        "2.00",
        "1.00",
    );
    all.extend(created);
    all.extend(
        o.assign_reviewer(
            &mut w.ctx(),
            &staff(),
            subject("rev-1"),
            Some("check the address"),
        )
        .unwrap(),
    );
    all.extend(o.approve(&mut w.ctx(), &subject("rev-1"), None).unwrap());
    all.extend(
        o.cancel_lines(&mut w.ctx(), &[lq("B", 1)], Some("out of stock"))
            .unwrap(),
    );
    all.extend(o.mark_paid(&mut w.ctx(), "pi_123").unwrap());
    let (sid, ev) = o
        .create_shipment(&mut w.ctx(), new_shipment(all_lines(&o)))
        .unwrap();
    all.extend(ev);
    all.extend(o.confirm_shipment(&mut w.ctx(), sid).unwrap());
    all.extend(purchase_label(&mut w, &mut o, sid, "1Z999AA10123456784").unwrap());
    all.extend(
        o.dispatch_shipment(
            &mut w.ctx(),
            sid,
            Some(CarrierCode::parse("usps").unwrap()),
            Some(TrackingNumber::parse("9400111899560000000000").unwrap()),
        )
        .unwrap(),
    );
    let update = TrackingUpdate {
        carrier: Some(CarrierCode::parse("usps").unwrap()),
        tracking_number: Some(TrackingNumber::parse("9400111899560000000001").unwrap()),
        status: TrackingStatus::OutForDelivery,
        carrier_status: Some("out_for_delivery".into()),
    };
    if let domain::order::TrackingOutcome::Applied(ev) =
        o.update_tracking(&mut w.ctx(), sid, update).unwrap()
    {
        all.extend(ev);
    }
    all.extend(o.mark_shipment_delivered(&mut w.ctx(), sid).unwrap());
    let (rid, ev) = o
        .request_return(&mut w.ctx(), &[lq("A", 1)], "too small")
        .unwrap();
    all.extend(ev);
    all.extend(o.approve_return(&mut w.ctx(), rid).unwrap());
    all.extend(o.receive_return(&mut w.ctx(), rid).unwrap());
    all.extend(
        o.refund_return(&mut w.ctx(), rid, &TenantConfig::default())
            .unwrap()
            .1,
    );
    all.extend(o.complete(&mut w.ctx()).unwrap());
    let mut rejected = standard(&mut w);
    all.extend(
        rejected
            .reject(&mut w.ctx(), &staff(), "fraud suspected")
            .unwrap(),
    );
    let mut cancelled = standard(&mut w);
    all.extend(
        cancelled
            .cancel(&mut w.ctx(), Some("customer asked"))
            .unwrap(),
    );
    // A shipment of two packages: an update for the second moves that package.
    let mut multi = order_in(&mut w, OrderStatus::Confirmed);
    let mut two = new_shipment(all_lines(&multi));
    let size = domain::order::Package::new(500, 200, 150, 100).unwrap();
    two.packages = vec![
        domain::order::NewPackage {
            package: size,
            reference: None,
        };
        2
    ];
    let (sid2, _) = multi.create_shipment(&mut w.ctx(), two).unwrap();
    multi.confirm_shipment(&mut w.ctx(), sid2).unwrap();
    let (intent, _) = multi
        .open_carrier_intent(
            &mut w.ctx(),
            sid2,
            domain::order::CarrierAction::Purchase,
            "rate",
            None,
        )
        .unwrap();
    let labels = ["794900000001", "794900000002"]
        .map(|n| domain::order::PackageLabel {
            tracking_number: TrackingNumber::parse(n).unwrap(),
            label: domain::order::Label {
                url: format!("https://l.example/{n}.pdf"),
                format: "PDF".into(),
            },
        })
        .to_vec();
    multi
        .record_label(
            &mut w.ctx(),
            sid2,
            &intent,
            CarrierCode::parse("fedex").unwrap(),
            labels,
            "794900000001",
        )
        .unwrap();
    let second = TrackingUpdate {
        carrier: Some(CarrierCode::parse("fedex").unwrap()),
        tracking_number: Some(TrackingNumber::parse("794900000002").unwrap()),
        status: TrackingStatus::InTransit,
        carrier_status: Some("IT".into()),
    };
    if let domain::order::TrackingOutcome::Applied(ev) =
        multi.update_tracking(&mut w.ctx(), sid2, second).unwrap()
    {
        all.extend(ev);
    }
    // A return's own label: bought, voided, bought again, delivered back.
    let mut back = order_in(&mut w, OrderStatus::Delivered);
    let (rid, _) = back
        .request_return(&mut w.ctx(), &[lq("A", 1)], "wrong colour")
        .unwrap();
    back.approve_return(&mut w.ctx(), rid).unwrap();
    let return_label = |n: &str| domain::order::ReturnLabel {
        package: domain::order::Package::new(500, 200, 150, 100).unwrap(),
        carrier: CarrierCode::parse("usps").unwrap(),
        tracking_number: TrackingNumber::parse(n).unwrap(),
        label: domain::order::Label {
            url: format!("https://l.example/{n}.pdf"),
            format: "PDF".into(),
        },
        carrier_reference: format!("shp_{n}"),
    };
    for (n, void) in [
        ("9400100000000000000501", true),
        ("9400100000000000000502", false),
    ] {
        let (intent, ev) = back
            .open_carrier_intent(
                &mut w.ctx(),
                rid,
                domain::order::CarrierAction::Purchase,
                "rate",
                None,
            )
            .unwrap();
        all.extend(ev);
        all.extend(
            back.record_return_label(&mut w.ctx(), rid, &intent, return_label(n))
                .unwrap(),
        );
        if void {
            let (intent, ev) = back
                .open_carrier_intent(
                    &mut w.ctx(),
                    rid,
                    domain::order::CarrierAction::Void,
                    "label",
                    None,
                )
                .unwrap();
            all.extend(ev);
            all.extend(back.record_return_void(&mut w.ctx(), rid, &intent).unwrap());
        }
    }
    assert_eq!(o.status(), OrderStatus::Completed);
    let mut first = BTreeMap::new();
    for e in all {
        first.entry(type_of(&e.payload)).or_insert(e);
    }
    first
}

/// The document, as the domain's events make it.
fn render(examples: &BTreeMap<&'static str, DomainEvent>) -> String {
    let mut out = String::from(
        "# Domain events\n\n\
         Every command emits versioned events: the outbox carries them in the command's own \
         transaction and the relay publishes them (EventBridge: `source` `tenantoms`, \
         `detail-type` the event type, `detail` the event below). Every event carries `eventId` \
         (consumers dedupe by it), `schemaVersion`, `tenant`, `orderId`, `aggregateVersion` (the \
         order's version after the command: the bus does not keep order, this does), \
         `occurredAt`, `eventType` and `payload`.\n\n\
         Generated from real events by `shared/domain/tests/domain/events_doc.rs` \
         (`OMS_UPDATE_DOCS=1 cargo test -p domain events_doc` rewrites it); a test fails when \
         it drifts.\n",
    );
    for (ty, e) in examples {
        let json = serde_json::to_string_pretty(e).unwrap_or_default();
        out.push_str(&format!("\n## {ty}\n\n```json\n{json}\n```\n"));
    }
    out
}

fn doc_path() -> String {
    format!("{}/../../docs/events.md", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_event_type_is_documented_with_a_real_example() {
    let examples = examples();
    assert_eq!(
        examples.len(),
        ALL_TYPES,
        "a life cycle emits every type: {:?}",
        examples.keys()
    );
    for (ty, e) in &examples {
        let v = serde_json::to_value(e).unwrap();
        for field in [
            "eventId",
            "eventType",
            "schemaVersion",
            "tenant",
            "orderId",
            "aggregateVersion",
            "occurredAt",
        ] {
            assert!(!v[field].is_null(), "{ty} lacks {field}");
        }
        assert_eq!(v["eventType"], *ty);
    }
    // The list tenants pick notification types from is exactly the documented one.
    let mut listed: Vec<&str> = EventPayload::TYPES.to_vec();
    listed.sort_unstable();
    assert_eq!(listed, examples.keys().copied().collect::<Vec<_>>());
    let expected = render(&examples);
    if std::env::var("OMS_UPDATE_DOCS").is_ok() {
        std::fs::write(doc_path(), &expected).unwrap();
    }
    let committed = std::fs::read_to_string(doc_path()).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/events.md differs from the events the domain emits; run \
         `OMS_UPDATE_DOCS=1 cargo test -p domain events_doc` and commit it"
    );
    // And every documented example parses back as an event.
    for block in committed.split("```json\n").skip(1) {
        let json = block.split("\n```").next().unwrap();
        let e: DomainEvent = serde_json::from_str(json).unwrap();
        assert!(examples.contains_key(type_of(&e.payload)));
    }
}
