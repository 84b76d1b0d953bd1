//! A shipment of several packages (issue 28, its domain rule): each package moves on its own
//! carrier's updates, never backwards; the shipment's status rolls up from its packages and is
//! DELIVERED only when all are. A property test over random update orders and repeats, from
//! every starting state of every package. Case counts: 1,000 by default, `PROPTEST_CASES`
//! overrides.

use domain::order::{ShipmentMove, ShipmentStatus, TrackingStatus, shipment_transition};
use domain::status::{PackageStatus, package_transition, shipment_of_packages};
use proptest::prelude::*;

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
