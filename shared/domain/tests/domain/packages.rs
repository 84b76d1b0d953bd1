//! A shipment of several packages (issue 28, its domain rule): each package moves on its own
//! carrier's updates, never backwards; the shipment's status rolls up from its packages and is
//! DELIVERED only when all are. A property test over random update orders and repeats, from
//! every starting state of every package. Case counts: 1,000 by default, `PROPTEST_CASES`
//! overrides.

use domain::ids::{CarrierCode, ShipmentId, TrackingNumber};
use domain::order::{
    CarrierAction, Label, NewPackage, Order, OrderStatus, Package, PackageLabel, ShipmentMove,
    ShipmentStatus, TrackingOutcome, TrackingStatus, TrackingUpdate, shipment_transition,
};
use domain::status::{PackageStatus, package_transition, shipment_of_packages};
use proptest::prelude::*;

use crate::support::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000)
}

/// How far a package has come (terminal states last, all equal).
fn package_rank(p: PackageStatus) -> u8 {
    match p {
        PackageStatus::LabelPurchased => 0,
        PackageStatus::InTransit => 1,
        PackageStatus::OutForDelivery => 2,
        _ => 3,
    }
}

/// How far a shipment has come, the same way.
fn shipment_rank(s: ShipmentStatus) -> u8 {
    match s {
        ShipmentStatus::LabelPurchased => 0,
        ShipmentStatus::InTransit => 1,
        ShipmentStatus::OutForDelivery => 2,
        _ => 3,
    }
}

/// The move that takes a shipment to `s`.
fn move_to(s: ShipmentStatus) -> ShipmentMove {
    match s {
        ShipmentStatus::InTransit => ShipmentMove::InTransit,
        ShipmentStatus::OutForDelivery => ShipmentMove::OutForDelivery,
        ShipmentStatus::Delivered => ShipmentMove::Delivered,
        ShipmentStatus::Failed => ShipmentMove::Failure,
        ShipmentStatus::Returned => ShipmentMove::Returned,
        other => panic!("no roll-up moves a shipment to {other}"),
    }
}

fn package_status() -> impl Strategy<Value = PackageStatus> {
    proptest::sample::select(PackageStatus::ALL.to_vec())
}

fn tracking_status() -> impl Strategy<Value = TrackingStatus> {
    proptest::sample::select(TrackingStatus::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Random updates (repeats and stale ones included) to random packages, from any starting
    /// states: packages never go backwards, the shipment never goes backwards, every change of
    /// the shipment is a move its state machine allows, and it is DELIVERED exactly when every
    /// package is.
    #[test]
    fn packages_roll_up_forward_and_deliver_only_when_all_are(
        start in proptest::collection::vec(package_status(), 1..6),
        updates in proptest::collection::vec((0usize..6, tracking_status()), 0..40),
    ) {
        let mut packages = start;
        let mut shipment = shipment_of_packages(&packages).unwrap();
        for (which, status) in updates {
            let i = which % packages.len();
            let before = packages[i];
            if let Some(next) = package_transition(before, status) {
                prop_assert!(
                    package_rank(next) > package_rank(before) && package_rank(next) == package_rank_of(status),
                    "{before} -> {next} on {status}"
                );
                packages[i] = next;
            } else {
                prop_assert!(
                    before.is_terminal() || package_rank(before) >= package_rank_of(status),
                    "{before} refused {status}"
                );
            }
            let rolled = shipment_of_packages(&packages).unwrap();
            prop_assert!(shipment_rank(rolled) >= shipment_rank(shipment), "{shipment} -> {rolled} ({packages:?})");
            if rolled != shipment {
                prop_assert_eq!(
                    shipment_transition(shipment, move_to(rolled)),
                    Some(rolled),
                    "{} -> {} is no shipment move ({:?})", shipment, rolled, packages
                );
                prop_assert!(!shipment.is_terminal(), "a terminal shipment moved: {shipment} -> {rolled}");
            }
            shipment = rolled;
            prop_assert_eq!(
                shipment == ShipmentStatus::Delivered,
                packages.iter().all(|p| *p == PackageStatus::Delivered)
            );
        }
    }
}

/// A confirmed order whose one shipment of three packages has its three labels bought.
fn three_bought() -> (World, Order, ShipmentId) {
    let mut w = World::new();
    let mut o = order_in(&mut w, OrderStatus::Confirmed);
    let mut new = new_shipment(all_lines(&o));
    let size = Package::new(500, 200, 150, 100).unwrap();
    new.packages = vec![
        NewPackage {
            package: size,
            reference: None,
        };
        3
    ];
    let (id, _) = o.create_shipment(&mut w.ctx(), new).unwrap();
    o.confirm_shipment(&mut w.ctx(), id).unwrap();
    let (intent, _) = o
        .open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate", None)
        .unwrap();
    let labels = (1..=3)
        .map(|n| PackageLabel {
            tracking_number: number(n),
            label: Label {
                url: format!("https://l.example/{n}.pdf"),
                format: "PDF".into(),
            },
        })
        .collect();
    o.record_label(
        &mut w.ctx(),
        id,
        &intent,
        CarrierCode::parse("fedex").unwrap(),
        labels,
        "794900000001",
    )
    .unwrap();
    (w, o, id)
}

fn number(n: usize) -> TrackingNumber {
    TrackingNumber::parse(&format!("79490000000{n}")).unwrap()
}

fn statuses(o: &Order, id: ShipmentId) -> Vec<Option<PackageStatus>> {
    o.shipment(id)
        .unwrap()
        .packages
        .iter()
        .map(|p| p.status)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The same through the order: carrier updates for random packages' numbers (repeats and
    /// stale ones included) move only that package; the shipment never goes backwards and is
    /// DELIVERED only after all three are.
    #[test]
    fn an_orders_three_packages_move_one_by_one(
        updates in proptest::collection::vec((1usize..=3, tracking_status()), 0..30),
    ) {
        let (mut w, mut o, id) = three_bought();
        for (n, status) in updates {
            let before = statuses(&o, id);
            let shipment_before = o.shipment(id).unwrap().status;
            let update = TrackingUpdate {
                carrier: Some(CarrierCode::parse("fedex").unwrap()),
                tracking_number: Some(number(n)),
                status,
                carrier_status: None,
            };
            o.update_tracking(&mut w.ctx(), id, update).unwrap();
            let after = statuses(&o, id);
            for k in 0..3 {
                if k != n - 1 {
                    prop_assert_eq!(before[k], after[k], "package {} moved on package {}'s update", k + 1, n);
                }
            }
            let s = o.shipment(id).unwrap();
            prop_assert!(shipment_rank(s.status) >= shipment_rank(shipment_before));
            prop_assert_eq!(
                s.status == ShipmentStatus::Delivered,
                after.iter().all(|p| *p == Some(PackageStatus::Delivered))
            );
            prop_assert_eq!(Some(s.status), shipment_of_packages(&after.iter().flatten().copied().collect::<Vec<_>>()));
            prop_assert_eq!(s.tracking_number.clone(), Some(number(1)), "the shipment keeps the first package's number");
        }
    }
}

#[test]
fn an_update_for_package_two_moves_package_two_only() {
    let (mut w, mut o, id) = three_bought();
    let update = |n, status| TrackingUpdate {
        carrier: None,
        tracking_number: Some(number(n)),
        status,
        carrier_status: Some("scan".into()),
    };
    let TrackingOutcome::Applied(events) = o
        .update_tracking(&mut w.ctx(), id, update(2, TrackingStatus::InTransit))
        .unwrap()
    else {
        panic!("applied");
    };
    use PackageStatus as P;
    assert_eq!(
        statuses(&o, id),
        [
            Some(P::LabelPurchased),
            Some(P::InTransit),
            Some(P::LabelPurchased)
        ]
    );
    assert_eq!(o.shipment(id).unwrap().status, ShipmentStatus::InTransit);
    let types: Vec<&str> = events.iter().map(|e| e.payload.event_type()).collect();
    assert_eq!(
        types[..2],
        ["PackageStatusChanged", "ShipmentStatusChanged"],
        "then the order's roll-up: {types:?}"
    );
    // A repeat changes nothing.
    assert!(matches!(
        o.update_tracking(&mut w.ctx(), id, update(2, TrackingStatus::InTransit))
            .unwrap(),
        TrackingOutcome::Ignored { .. }
    ));
    for n in [1, 2] {
        o.update_tracking(&mut w.ctx(), id, update(n, TrackingStatus::Delivered))
            .unwrap();
    }
    assert_eq!(o.shipment(id).unwrap().status, ShipmentStatus::InTransit);
    o.update_tracking(&mut w.ctx(), id, update(3, TrackingStatus::Delivered))
        .unwrap();
    assert_eq!(o.shipment(id).unwrap().status, ShipmentStatus::Delivered);
}

#[test]
fn a_purchase_needs_a_label_per_package_and_a_manual_move_moves_them_all() {
    let (mut w, mut o, id) = three_bought();
    o.dispatch_shipment(&mut w.ctx(), id, None, None).unwrap();
    assert!(
        statuses(&o, id)
            .iter()
            .all(|p| *p == Some(PackageStatus::InTransit))
    );
    // Two labels for three packages are refused.
    let mut w2 = World::new();
    let mut o2 = order_in(&mut w2, OrderStatus::Confirmed);
    let mut new = new_shipment(all_lines(&o2));
    new.packages = vec![
        NewPackage {
            package: Package::new(500, 200, 150, 100).unwrap(),
            reference: Some("box A".into()),
        };
        3
    ];
    let (sid, _) = o2.create_shipment(&mut w2.ctx(), new).unwrap();
    o2.confirm_shipment(&mut w2.ctx(), sid).unwrap();
    let (intent, _) = o2
        .open_carrier_intent(&mut w2.ctx(), sid, CarrierAction::Purchase, "rate", None)
        .unwrap();
    let two = (1..=2)
        .map(|n| PackageLabel {
            tracking_number: number(n),
            label: Label {
                url: "u".into(),
                format: "PDF".into(),
            },
        })
        .collect();
    let refused = o2.record_label(
        &mut w2.ctx(),
        sid,
        &intent,
        CarrierCode::parse("fedex").unwrap(),
        two,
        "r",
    );
    assert!(
        matches!(refused, Err(domain::DomainError::Invalid { .. })),
        "{refused:?}"
    );
    assert_eq!(o2.shipment(sid).unwrap().status, ShipmentStatus::Confirmed);
}

/// The rank a tracking status would move a package to.
fn package_rank_of(status: TrackingStatus) -> u8 {
    match status {
        TrackingStatus::PreTransit => 0,
        TrackingStatus::InTransit => 1,
        TrackingStatus::OutForDelivery => 2,
        _ => 3,
    }
}

#[test]
fn three_packages_deliver_only_after_the_third() {
    use PackageStatus as P;
    let mut p = vec![P::LabelPurchased; 3];
    assert_eq!(
        shipment_of_packages(&p),
        Some(ShipmentStatus::LabelPurchased)
    );
    p[1] = package_transition(p[1], TrackingStatus::InTransit).unwrap();
    assert_eq!(
        p,
        [P::LabelPurchased, P::InTransit, P::LabelPurchased],
        "only package 2 moved"
    );
    assert_eq!(shipment_of_packages(&p), Some(ShipmentStatus::InTransit));
    p[0] = P::Delivered;
    p[1] = P::Delivered;
    assert_eq!(shipment_of_packages(&p), Some(ShipmentStatus::InTransit));
    p[2] = P::OutForDelivery;
    assert_eq!(
        shipment_of_packages(&p),
        Some(ShipmentStatus::OutForDelivery)
    );
    p[2] = P::Delivered;
    assert_eq!(shipment_of_packages(&p), Some(ShipmentStatus::Delivered));
}

#[test]
fn mixed_ends_are_failed_or_returned() {
    use PackageStatus as P;
    assert_eq!(
        shipment_of_packages(&[P::Delivered, P::Returned]),
        Some(ShipmentStatus::Returned)
    );
    assert_eq!(
        shipment_of_packages(&[P::Delivered, P::Returned, P::Failed]),
        Some(ShipmentStatus::Failed),
        "a lost package needs a person"
    );
    assert_eq!(
        shipment_of_packages(&[P::Returned, P::InTransit]),
        Some(ShipmentStatus::InTransit),
        "not at an end while one is on its way"
    );
    assert_eq!(shipment_of_packages(&[]), None);
}

/// A shipment stored before packages existed (one optional `package`, the label on the
/// shipment) reads as one package carrying the shipment's number, label and status.
#[test]
fn a_stored_single_package_shipment_reads_as_one_package() {
    let (_, o, id) = three_bought();
    let mut v = serde_json::to_value(o.shipment(id).unwrap()).unwrap();
    let obj = v.as_object_mut().unwrap();
    obj.remove("packages");
    obj.insert(
        "package".into(),
        serde_json::json!({"weightGrams": 500, "lengthMm": 200, "widthMm": 150, "heightMm": 100}),
    );
    let old: domain::order::Shipment = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(old.packages.len(), 1);
    let p = &old.packages[0];
    assert_eq!(p.package.weight_grams, 500);
    assert_eq!(p.tracking_number, Some(number(1)));
    assert_eq!(p.status, Some(PackageStatus::LabelPurchased));
    assert_eq!(p.label, old.label);
    // Not bought: a package without a number or status; no package at all: none.
    let obj = v.as_object_mut().unwrap();
    obj.insert("carrierReference".into(), serde_json::Value::Null);
    let unbought: domain::order::Shipment = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(unbought.packages[0].status, None);
    assert_eq!(unbought.packages[0].tracking_number, None);
    v.as_object_mut()
        .unwrap()
        .insert("package".into(), serde_json::Value::Null);
    let none: domain::order::Shipment = serde_json::from_value(v).unwrap();
    assert!(none.packages.is_empty());
    // Written again, it carries `packages` only.
    let written = serde_json::to_value(&old).unwrap();
    assert!(written.get("package").is_none() && written["packages"].is_array());
}
