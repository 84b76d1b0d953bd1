//! Property tests: random command sequences keep every invariant of DESIGN.md §4; money and keys
//! round-trip and stay clean. Case counts: 1,000 by default, `PROPTEST_CASES` overrides.

use domain::config::TenantConfig;
use domain::events::DomainEvent;
use domain::ids::{
    CarrierCode, ExternalRef, IdempotencyKey, Quantity, Sku, Subject, TenantId, TrackingNumber,
    VendorId,
};
use domain::order::{
    CarrierAction, LineQuantity, Order, OrderStatus, ReturnStatus, TrackingStatus, roll_up,
};
use domain::{Currency, DomainError, Money};
use proptest::prelude::*;

use crate::support::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    ProptestConfig {
        cases,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Assign,
    Approve {
        as_reviewer: bool,
    },
    Reject,
    Cancel,
    CancelLines(Vec<(usize, u32)>),
    MarkPaid,
    CreateShipment(Vec<(usize, u32)>),
    Shipment {
        idx: usize,
        kind: u8,
    },
    Track {
        idx: usize,
        status: TrackingStatus,
    },
    RequestReturn(Vec<(usize, u32)>),
    Return {
        idx: usize,
        kind: u8,
    },
    RefundReturn {
        idx: usize,
        bps: u32,
        cap: Option<i64>,
    },
    RefundOrder {
        amount: i64,
        cap: Option<i64>,
    },
    Complete,
}

fn line_qtys() -> impl Strategy<Value = Vec<(usize, u32)>> {
    prop::collection::vec((0usize..4, 1u32..4), 1..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Assign),
        3 => any::<bool>().prop_map(|as_reviewer| Op::Approve { as_reviewer }),
        1 => Just(Op::Reject),
        1 => Just(Op::Cancel),
        2 => line_qtys().prop_map(Op::CancelLines),
        3 => Just(Op::MarkPaid),
        6 => line_qtys().prop_map(Op::CreateShipment),
        8 => (0usize..6, 0u8..7).prop_map(|(idx, kind)| Op::Shipment { idx, kind }),
        8 => (0usize..6, prop::sample::select(TrackingStatus::ALL.to_vec())).prop_map(|(idx, status)| Op::Track { idx, status }),
        4 => line_qtys().prop_map(Op::RequestReturn),
        4 => (0usize..4, 0u8..3).prop_map(|(idx, kind)| Op::Return { idx, kind }),
        3 => (0usize..4, 0u32..=10_000, prop::option::of(0i64..20_000)).prop_map(|(idx, bps, cap)| Op::RefundReturn { idx, bps, cap }),
        2 => (-5i64..20_000, prop::option::of(0i64..20_000)).prop_map(|(amount, cap)| Op::RefundOrder { amount, cap }),
        2 => Just(Op::Complete),
    ]
}

fn order_strategy() -> impl Strategy<Value = (String, Vec<(u32, i64)>, [i64; 3])> {
    (
        prop::sample::select(vec!["USD", "JPY", "BHD", "EUR"]),
        prop::collection::vec((1u32..6, 0i64..10_000), 1..5),
        [0i64..1_000, 0i64..1_000, 0i64..100],
    )
        .prop_map(|(c, lines, extra)| (c.to_string(), lines, extra))
}

fn lines_of(o: &Order, picks: &[(usize, u32)]) -> Vec<LineQuantity> {
    let mut seen = std::collections::BTreeSet::new();
    picks
        .iter()
        .filter_map(|&(i, q)| {
            let l = o.lines().get(i % o.lines().len())?;
            seen.insert(l.sku.clone())
                .then(|| LineQuantity::new(l.sku.clone(), Quantity::new(q).unwrap()))
        })
        .collect()
}

fn cfg(currency: Currency, bps: u32, cap: Option<i64>) -> TenantConfig {
    TenantConfig::new(
        bps,
        cap.map(|c| Money::from_minor(c, currency))
            .into_iter()
            .collect(),
        None,
    )
    .unwrap()
    .with_version(1)
}

/// The id of the shipment's open intent ("none" when it has none: the command is then refused).
fn intent_of(o: &Order, id: domain::ids::ShipmentId) -> String {
    o.shipment(id)
        .and_then(|s| s.intent.as_ref())
        .map_or_else(|| "none".to_owned(), |i| i.id.clone())
}

/// Applies one op: the events it emitted, or the domain's refusal.
fn apply(w: &mut World, o: &mut Order, op: &Op) -> Result<Vec<DomainEvent>, DomainError> {
    let cur = o.currency();
    let reviewer = subject("rev");
    let ship_id = |o: &Order, idx: usize| {
        o.shipments()
            .get(idx % o.shipments().len().max(1))
            .map(|s| s.id)
    };
    let ret_id = |o: &Order, idx: usize| {
        o.returns()
            .get(idx % o.returns().len().max(1))
            .map(|r| r.id)
    };
    let events = match op {
        Op::Assign => o.assign_reviewer(&mut w.ctx(), &staff(), reviewer, None)?,
        Op::Approve { as_reviewer } => {
            let by = if *as_reviewer { reviewer } else { staff() };
            o.approve(&mut w.ctx(), &by, None)?
        }
        Op::Reject => o.reject(&mut w.ctx(), &staff(), "no")?,
        Op::Cancel => o.cancel(&mut w.ctx(), None)?,
        Op::CancelLines(p) => o.cancel_lines(&mut w.ctx(), &lines_of(o, p), None)?,
        Op::MarkPaid => o.mark_paid(&mut w.ctx(), "pi")?,
        Op::CreateShipment(p) => {
            o.create_shipment(&mut w.ctx(), new_shipment(lines_of(o, p)))?
                .1
        }
        Op::Shipment { idx, kind } => {
            let Some(id) = ship_id(o, *idx) else {
                return Ok(Vec::new());
            };
            match kind {
                0 => o.confirm_shipment(&mut w.ctx(), id)?,
                1 => {
                    o.open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate", None)?
                        .1
                }
                5 => {
                    o.open_carrier_intent(&mut w.ctx(), id, CarrierAction::Void, "label", None)?
                        .1
                }
                4 => o.record_label(
                    &mut w.ctx(),
                    id,
                    &intent_of(o, id),
                    CarrierCode::parse("ups").unwrap(),
                    vec![domain::order::PackageLabel {
                        tracking_number: TrackingNumber::parse("1Z1").unwrap(),
                        label: domain::order::Label {
                            url: "https://l.example/1".into(),
                            format: "PDF".into(),
                        },
                    }],
                    "r",
                )?,
                2 => o.dispatch_shipment(&mut w.ctx(), id, None, None)?,
                3 => o.mark_shipment_delivered(&mut w.ctx(), id)?,
                6 => o.record_void(&mut w.ctx(), id, &intent_of(o, id))?,
                _ => o.cancel_shipment(&mut w.ctx(), id)?,
            }
        }
        Op::Track { idx, status } => {
            let Some(id) = ship_id(o, *idx) else {
                return Ok(Vec::new());
            };
            match o.update_tracking(&mut w.ctx(), id, tracking(*status))? {
                domain::order::TrackingOutcome::Applied(e) => e,
                domain::order::TrackingOutcome::Ignored { .. } => Vec::new(),
            }
        }
        Op::RequestReturn(p) => o.request_return(&mut w.ctx(), &lines_of(o, p), "r")?.1,
        Op::Return { idx, kind } => {
            let Some(id) = ret_id(o, *idx) else {
                return Ok(Vec::new());
            };
            match kind {
                0 => o.approve_return(&mut w.ctx(), id)?,
                1 => o.reject_return(&mut w.ctx(), id)?,
                _ => o.receive_return(&mut w.ctx(), id)?,
            }
        }
        Op::RefundReturn { idx, bps, cap } => {
            let Some(id) = ret_id(o, *idx) else {
                return Ok(Vec::new());
            };
            o.refund_return(&mut w.ctx(), id, &cfg(cur, *bps, *cap))?.1
        }
        Op::RefundOrder { amount, cap } => o.refund(
            &mut w.ctx(),
            Money::from_minor(*amount, cur),
            "r",
            &cfg(cur, 0, *cap),
        )?,
        Op::Complete => o.complete(&mut w.ctx())?,
    };
    Ok(events)
}

fn check_invariants(before: &Order, after: &Order) -> Result<(), TestCaseError> {
    for l in after.lines() {
        prop_assert!(
            after.allocated(&l.sku) <= l.due(),
            "allocated > due for {}",
            l.sku
        );
        prop_assert!(
            after.returned(&l.sku) <= after.delivered(&l.sku),
            "returned > delivered for {}",
            l.sku
        );
        prop_assert!(
            l.due() >= 1 || after.lines().iter().any(|x| x.due() > 0),
            "nothing due"
        );
    }
    let p = after.payment();
    prop_assert!(
        p.refunded.minor() >= 0 && p.refunded.minor() <= p.paid.minor(),
        "refunded {} > paid {}",
        p.refunded,
        p.paid
    );
    let refunds: i64 = after.refunds().iter().map(|r| r.amount.minor()).sum();
    prop_assert_eq!(refunds, p.refunded.minor());
    if before.status().is_terminal() {
        prop_assert_eq!(
            after.status(),
            before.status(),
            "left a terminal order status"
        );
    }
    for s in before.shipments() {
        if s.status.is_terminal() {
            prop_assert_eq!(
                after.shipment(s.id).map(|x| x.status),
                Some(s.status),
                "shipment left a terminal state"
            );
        }
    }
    for r in before.returns() {
        if !r.status.is_open() {
            prop_assert_eq!(
                after.return_(r.id).map(|x| x.status),
                Some(r.status),
                "return left a terminal state"
            );
        }
    }
    if after.status().is_rolled_up() {
        prop_assert_eq!(after.status(), roll_up(after.lines(), after.shipments()));
    }
    if after.status() == OrderStatus::Completed {
        prop_assert!(!after.has_open_return());
        prop_assert!(
            after
                .returns()
                .iter()
                .all(|r| matches!(r.status, ReturnStatus::Refunded | ReturnStatus::Rejected))
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_command_sequences_keep_every_invariant(
        (currency, lines, extra) in order_strategy(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut w = World::new();
        let c = currency.as_str();
        let price = |m: i64| Money::from_minor(m, cur(c)).to_decimal_string();
        let names: Vec<(String, String, u32, String)> = lines
            .iter()
            .enumerate()
            .map(|(i, (q, p))| (format!("SKU-{i}"), format!("v{}", i % 2), *q, price(*p)))
            .collect();
        let spec: Vec<(&str, &str, u32, &str)> = names.iter().map(|(s, v, q, p)| (s.as_str(), v.as_str(), *q, p.as_str())).collect();
        let sub: i64 = lines.iter().map(|(q, p)| i64::from(*q) * p).sum();
        let discount = extra[2].min(sub);
        let mut o = order_with(&mut w, c, &spec, &price(extra[0]), &price(extra[1]), &price(discount));
        for op in &ops {
            let before = o.clone();
            match apply(&mut w, &mut o, op) {
                Ok(events) if events.is_empty() => {
                    prop_assert_eq!(&o, &before, "{:?} emitted nothing but changed the order", op)
                }
                Ok(events) => {
                    prop_assert_eq!(o.version(), before.version() + 1, "{:?}", op);
                    prop_assert!(events.iter().all(|e| e.aggregate_version == o.version() && e.order_id == o.id()));
                    let ids: std::collections::BTreeSet<_> = events.iter().map(|e| e.event_id).collect();
                    prop_assert_eq!(ids.len(), events.len(), "event ids repeat");
                }
                Err(_) => prop_assert_eq!(&o, &before, "refused {:?} changed the order", op),
            }
            check_invariants(&before, &o)?;
        }
    }

    #[test]
    fn money_round_trips_through_its_decimal_string(
        currency in prop::sample::select(Currency::all().collect::<Vec<_>>()),
        minor in any::<i64>(),
    ) {
        let m = Money::from_minor(minor, currency);
        let s = m.to_decimal_string();
        prop_assert_eq!(Money::parse(&s, currency), Ok(m));
        let exp = currency.exponent() as usize;
        if exp > 0 {
            prop_assert_eq!(s.split_once('.').map(|(_, f)| f.len()), Some(exp));
        } else {
            prop_assert!(!s.contains('.'));
        }
    }

    #[test]
    fn money_parse_never_panics(s in ".{0,40}") {
        let _ = Money::parse(&s, Currency::parse("BHD").unwrap());
    }

    #[test]
    fn no_key_bound_value_accepts_a_hash(prefix in "[a-z0-9]{0,20}", suffix in "[a-z0-9]{0,20}") {
        let s = format!("{prefix}#{suffix}");
        prop_assert!(TenantId::parse(&s).is_err());
        prop_assert!(VendorId::parse(&s).is_err());
        prop_assert!(Sku::parse(&s).is_err());
        prop_assert!(ExternalRef::parse(&s).is_err());
        prop_assert!(IdempotencyKey::parse(&s).is_err());
        prop_assert!(Subject::parse(&s).is_err());
        prop_assert!(TrackingNumber::parse(&s).is_err());
        prop_assert!(CarrierCode::parse(&s).is_err());
    }

    #[test]
    fn key_bound_values_are_accepted_exactly_when_clean(s in "(?s)[a-z# \t\n\x00-\x1f\x7fé.-]{0,140}") {
        let clean = !s.is_empty()
            && s.len() <= 128
            && !s.contains('#')
            && !s.chars().any(char::is_control)
            && s.trim() == s;
        for accepted in [
            VendorId::parse(&s).is_ok(),
            Sku::parse(&s).is_ok(),
            ExternalRef::parse(&s).is_ok(),
            Subject::parse(&s).is_ok(),
        ] {
            prop_assert_eq!(accepted, clean, "{:?}", s);
        }
    }
}

/// How far a shipment status is along its way (terminal ones are the end).
fn progress(s: domain::order::ShipmentStatus) -> u8 {
    use domain::order::ShipmentStatus as S;
    match s {
        S::Pending | S::Confirmed | S::LabelPurchased => 0,
        S::InTransit => 1,
        S::OutForDelivery => 2,
        S::Delivered | S::Failed | S::Returned | S::Cancelled => 3,
    }
}

/// DESIGN.md §4's shipment table, for carrier updates: where `was` goes on `u`.
fn tracked(was: domain::order::ShipmentStatus, u: TrackingStatus) -> domain::order::ShipmentStatus {
    use domain::order::ShipmentStatus as S;
    let (from, to): (&[S], S) = match u {
        TrackingStatus::PreTransit => (&[], was),
        TrackingStatus::InTransit => (&[S::Confirmed, S::LabelPurchased], S::InTransit),
        TrackingStatus::OutForDelivery => (
            &[S::Confirmed, S::LabelPurchased, S::InTransit],
            S::OutForDelivery,
        ),
        TrackingStatus::Delivered => (
            &[
                S::Confirmed,
                S::LabelPurchased,
                S::InTransit,
                S::OutForDelivery,
            ],
            S::Delivered,
        ),
        TrackingStatus::Failure => (
            &[S::LabelPurchased, S::InTransit, S::OutForDelivery],
            S::Failed,
        ),
        TrackingStatus::Returned => (
            &[S::LabelPurchased, S::InTransit, S::OutForDelivery],
            S::Returned,
        ),
    };
    if from.contains(&was) { to } else { was }
}

fn carrier_status() -> impl Strategy<Value = TrackingStatus> {
    prop_oneof![
        Just(TrackingStatus::PreTransit),
        Just(TrackingStatus::InTransit),
        Just(TrackingStatus::OutForDelivery),
        Just(TrackingStatus::Delivered),
        Just(TrackingStatus::Failure),
        Just(TrackingStatus::Returned),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Carrier updates arrive shuffled and duplicated (webhooks are retried and reordered),
    /// from whatever state the shipment is in: each update does what the design's table says
    /// (written out again here, independently of the domain's), the shipment never moves
    /// backwards or out of a terminal state, and an update that changes nothing emits nothing.
    #[test]
    fn carrier_updates_in_any_order_never_regress(
        start in prop::sample::select(domain::order::ShipmentStatus::ALL.to_vec()),
        updates in prop::collection::vec(carrier_status(), 1..40),
    ) {
        let mut w = World::new();
        let (mut o, id) = shipment_in(&mut w, start);
        prop_assert_eq!(o.shipment(id).map(|s| s.status), Some(start));
        for u in &updates {
            let before = o.clone();
            let was = before.shipment(id).map(|s| s.status).unwrap();
            let outcome = o.update_tracking(&mut w.ctx(), id, tracking(*u));
            let now = o.shipment(id).map(|s| s.status).unwrap();
            prop_assert!(progress(now) >= progress(was), "{was:?} went back to {now:?} on {u:?}");
            prop_assert_eq!(now, tracked(was, *u), "{:?} on {:?}", was, u);
            match outcome {
                Ok(domain::order::TrackingOutcome::Ignored { .. }) | Err(_) => {
                    prop_assert_eq!(&o, &before, "an ignored update changed the order");
                }
                Ok(domain::order::TrackingOutcome::Applied(events)) => {
                    prop_assert!(!events.is_empty());
                    prop_assert_eq!(o.version(), before.version() + 1);
                }
            }
        }
    }
}
