//! Walks every (state, command) pair of each table in DESIGN.md §4 through the real aggregate.
//! The expected tables below are transcribed from the design independently of the code's tables.

use domain::config::TenantConfig;
use domain::order::{
    Command, Order, OrderStatus, PaymentStatus, ReturnStatus, ShipmentStatus, TrackingOutcome,
    TrackingStatus,
};
use domain::{DomainError, Entity};

use crate::support::*;

// ---------- command × order status ----------

/// DESIGN.md §4 "Which command is allowed in which order status", as a literal matrix.
fn expected_allowed(c: Command, s: OrderStatus) -> bool {
    use Command as C;
    use OrderStatus::*;
    let shipment_statuses = [
        Confirmed,
        PartiallyShipped,
        Shipped,
        PartiallyDelivered,
        Delivered,
    ];
    let allowed: &[OrderStatus] = match c {
        C::CreateOrder => &[],
        C::AssignOrderReviewer | C::ApproveOrder | C::RejectOrder => &[Pending],
        C::CancelOrder => &[Pending, Confirmed],
        C::CancelOrderLines => &[Pending, Confirmed, PartiallyShipped, PartiallyDelivered],
        C::MarkOrderPaid => &[
            Pending,
            Confirmed,
            PartiallyShipped,
            Shipped,
            PartiallyDelivered,
            Delivered,
        ],
        C::CreateShipment
        | C::ConfirmShipment
        | C::PurchaseLabel
        | C::VoidLabel
        | C::DispatchShipment
        | C::UpdateShipmentTracking
        | C::CancelShipment
        | C::MarkShipmentDelivered => &shipment_statuses,
        C::RequestReturn
        | C::ApproveReturn
        | C::RejectReturn
        | C::ReceiveReturn
        | C::RefundReturn
        | C::BuyReturnLabel
        | C::VoidReturnLabel
        | C::UpdateReturnTracking => &[PartiallyDelivered, Delivered],
        C::RefundOrder => &[
            Pending,
            Confirmed,
            PartiallyShipped,
            Shipped,
            PartiallyDelivered,
            Delivered,
            Completed,
            Cancelled,
        ],
        C::CompleteOrder => &[Delivered],
    };
    allowed.contains(&s)
}

/// Runs `c` on `o` with plausible arguments; returns the error, if any.
fn run(w: &mut World, o: &mut Order, c: Command) -> Result<(), DomainError> {
    use Command as C;
    let cfg = TenantConfig::default();
    // Where the order has no shipment or return, an id it does not know: the status table must
    // refuse the command before the lookup would.
    let unknown = ulid::Ulid::from_parts(1, 1);
    let any_shipment = o
        .shipments()
        .first()
        .map_or(domain::ids::ShipmentId::from_ulid(unknown), |s| s.id);
    let any_return = o
        .returns()
        .first()
        .map_or(domain::ids::ReturnId::from_ulid(unknown), |r| r.id);
    let sid = || Ok::<_, DomainError>(any_shipment);
    let rid = || Ok::<_, DomainError>(any_return);
    match c {
        C::CreateOrder => Ok(()),
        C::AssignOrderReviewer => o
            .assign_reviewer(&mut w.ctx(), &staff(), subject("rev"), None)
            .map(drop),
        C::ApproveOrder => o.approve(&mut w.ctx(), &staff(), None).map(drop),
        C::RejectOrder => o.reject(&mut w.ctx(), &staff(), "no").map(drop),
        C::CancelOrder => o.cancel(&mut w.ctx(), None).map(drop),
        C::CancelOrderLines => o.cancel_lines(&mut w.ctx(), &[lq("B", 1)], None).map(drop),
        C::MarkOrderPaid => o.mark_paid(&mut w.ctx(), "pi").map(drop),
        C::CreateShipment => o
            .create_shipment(&mut w.ctx(), new_shipment(vec![lq("B", 1)]))
            .map(drop),
        C::ConfirmShipment => o.confirm_shipment(&mut w.ctx(), sid()?).map(drop),
        C::PurchaseLabel => o
            .open_carrier_intent(
                &mut w.ctx(),
                sid()?,
                domain::order::CarrierAction::Purchase,
                "rate",
                None,
            )
            .map(drop),
        C::VoidLabel => o
            .open_carrier_intent(
                &mut w.ctx(),
                sid()?,
                domain::order::CarrierAction::Void,
                "label",
                None,
            )
            .map(drop),
        C::DispatchShipment => o
            .dispatch_shipment(&mut w.ctx(), sid()?, None, None)
            .map(drop),
        C::UpdateShipmentTracking => o
            .update_tracking(&mut w.ctx(), sid()?, tracking(TrackingStatus::InTransit))
            .map(drop),
        C::CancelShipment => o.cancel_shipment(&mut w.ctx(), sid()?).map(drop),
        C::MarkShipmentDelivered => o.mark_shipment_delivered(&mut w.ctx(), sid()?).map(drop),
        C::RequestReturn => o.request_return(&mut w.ctx(), &[lq("A", 1)], "r").map(drop),
        C::ApproveReturn => o.approve_return(&mut w.ctx(), rid()?).map(drop),
        C::RejectReturn => o.reject_return(&mut w.ctx(), rid()?).map(drop),
        C::ReceiveReturn => o.receive_return(&mut w.ctx(), rid()?).map(drop),
        C::RefundReturn => o.refund_return(&mut w.ctx(), rid()?, &cfg).map(drop),
        C::BuyReturnLabel => o
            .open_carrier_intent(
                &mut w.ctx(),
                rid()?,
                domain::order::CarrierAction::Purchase,
                "rate",
                None,
            )
            .map(drop),
        C::VoidReturnLabel => o
            .open_carrier_intent(
                &mut w.ctx(),
                rid()?,
                domain::order::CarrierAction::Void,
                "label",
                None,
            )
            .map(drop),
        C::UpdateReturnTracking => o
            .update_return_tracking(&mut w.ctx(), rid()?, &tracking(TrackingStatus::Delivered))
            .map(drop),
        C::RefundOrder => o
            .refund(&mut w.ctx(), money("1.00", "USD"), "goodwill", &cfg)
            .map(drop),
        C::CompleteOrder => o.complete(&mut w.ctx()).map(drop),
    }
}

#[test]
fn command_by_order_status_table() {
    let mut checked = 0;
    for &status in OrderStatus::ALL {
        for &command in Command::ALL {
            if command == Command::CreateOrder {
                continue;
            }
            let mut w = World::new();
            let mut o = order_in(&mut w, status);
            let before = o.clone();
            let result = run(&mut w, &mut o, command);
            let refused_by_table = matches!(
                result,
                Err(DomainError::NotAllowedInStatus { command: c, status: s }) if c == command && s == status
            );
            if expected_allowed(command, status) {
                assert!(
                    !refused_by_table,
                    "{command} should be allowed in {status}: {result:?}"
                );
            } else {
                assert!(
                    refused_by_table,
                    "{command} should be refused in {status}, got {result:?}"
                );
                assert_eq!(o, before, "a refused command changed the order");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, OrderStatus::ALL.len() * (Command::ALL.len() - 1));
}

// ---------- order status ----------

#[test]
fn order_status_table() {
    use OrderStatus::*;
    // (command, from, expected to) for the explicit moves of DESIGN.md §4; all others refused.
    let rows: &[(Command, &[OrderStatus], OrderStatus)] = &[
        (Command::ApproveOrder, &[Pending], Confirmed),
        (Command::RejectOrder, &[Pending], Rejected),
        (Command::CancelOrder, &[Pending, Confirmed], Cancelled),
        (Command::CompleteOrder, &[Delivered], Completed),
    ];
    for &(command, froms, to) in rows {
        for &from in OrderStatus::ALL {
            let mut w = World::new();
            let mut o = order_in(&mut w, from);
            if command == Command::CompleteOrder && from == Delivered {
                o.mark_paid(&mut w.ctx(), "pi").unwrap();
            }
            let before = o.clone();
            let result = run(&mut w, &mut o, command);
            if froms.contains(&from) {
                assert_eq!(result, Ok(()), "{command} from {from}");
                assert_eq!(o.status(), to, "{command} from {from}");
            } else {
                let err = result.expect_err("refused");
                assert!(
                    matches!(
                        err,
                        DomainError::NotAllowedInStatus { .. }
                            | DomainError::InvalidTransition {
                                entity: Entity::Order,
                                ..
                            }
                    ),
                    "{command} from {from}: {err:?}"
                );
                assert_eq!(o, before);
            }
        }
    }
}

#[test]
fn cancel_order_cancels_undispatched_shipments() {
    let mut w = World::new();
    let mut o = order_in(&mut w, OrderStatus::Confirmed);
    let (s1, _) = o
        .create_shipment(&mut w.ctx(), new_shipment(vec![lq("A", 1)]))
        .unwrap();
    let (s2, _) = o
        .create_shipment(&mut w.ctx(), new_shipment(vec![lq("A", 1)]))
        .unwrap();
    o.confirm_shipment(&mut w.ctx(), s2).unwrap();
    let events = o
        .cancel(&mut w.ctx(), Some("customer changed mind"))
        .unwrap();
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert_eq!(o.shipment(s1).unwrap().status, ShipmentStatus::Cancelled);
    assert_eq!(o.shipment(s2).unwrap().status, ShipmentStatus::Cancelled);
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        [
            "OrderCancelled",
            "ShipmentStatusChanged",
            "ShipmentStatusChanged",
            "OrderStatusChanged"
        ]
    );
}

#[test]
fn completion_needs_settled_payment_and_no_open_return() {
    let mut w = World::new();
    let mut o = order_in(&mut w, OrderStatus::Delivered);
    assert!(matches!(
        o.complete(&mut w.ctx()),
        Err(DomainError::PaymentNotSettled { .. })
    ));
    o.mark_paid(&mut w.ctx(), "pi").unwrap();
    o.request_return(&mut w.ctx(), &[lq("A", 1)], "broken")
        .unwrap();
    assert_eq!(o.complete(&mut w.ctx()), Err(DomainError::OpenReturn));
}

// ---------- payment ----------

#[test]
fn payment_table() {
    use PaymentStatus::*;
    // How to bring the payment of a CONFIRMED order into each status (total 86.00).
    let reach = |w: &mut World, s: PaymentStatus| {
        let mut o = order_in(w, OrderStatus::Confirmed);
        let cfg = TenantConfig::default();
        match s {
            Unpaid => {}
            Paid => {
                o.mark_paid(&mut w.ctx(), "pi").unwrap();
            }
            PartiallyRefunded => {
                o.mark_paid(&mut w.ctx(), "pi").unwrap();
                o.refund(&mut w.ctx(), money("6.00", "USD"), "r", &cfg)
                    .unwrap();
            }
            Refunded => {
                o.mark_paid(&mut w.ctx(), "pi").unwrap();
                o.refund(&mut w.ctx(), money("86.00", "USD"), "r", &cfg)
                    .unwrap();
            }
        }
        assert_eq!(o.payment().status, s);
        o
    };
    // (move, from, to): markOrderPaid; a partial refund (1.00); a refund of the whole rest.
    #[derive(Clone, Copy, Debug)]
    enum Mv {
        MarkPaid,
        RefundPart,
        RefundRest,
    }
    let expected = |mv: Mv, from: PaymentStatus| match (mv, from) {
        (Mv::MarkPaid, Unpaid) => Some(Paid),
        (Mv::RefundPart, Paid | PartiallyRefunded) => Some(PartiallyRefunded),
        (Mv::RefundRest, Paid | PartiallyRefunded) => Some(Refunded),
        _ => None,
    };
    for &from in PaymentStatus::ALL {
        for mv in [Mv::MarkPaid, Mv::RefundPart, Mv::RefundRest] {
            let mut w = World::new();
            let mut o = reach(&mut w, from);
            let before = o.clone();
            let cfg = TenantConfig::default();
            let result = match mv {
                Mv::MarkPaid => o.mark_paid(&mut w.ctx(), "pi2").map(drop),
                Mv::RefundPart => o
                    .refund(&mut w.ctx(), money("1.00", "USD"), "r", &cfg)
                    .map(drop),
                Mv::RefundRest => {
                    let rest = o.refundable();
                    let amount = if rest.is_zero() {
                        money("1.00", "USD")
                    } else {
                        rest
                    };
                    o.refund(&mut w.ctx(), amount, "r", &cfg).map(drop)
                }
            };
            match expected(mv, from) {
                Some(to) => {
                    assert_eq!(result, Ok(()), "{mv:?} from {from}");
                    assert_eq!(o.payment().status, to, "{mv:?} from {from}");
                }
                None => {
                    let err = result.expect_err("refused");
                    assert!(
                        matches!(
                            err,
                            DomainError::InvalidTransition {
                                entity: Entity::Payment,
                                ..
                            }
                        ),
                        "{mv:?} from {from}: {err:?}"
                    );
                    assert_eq!(o, before);
                }
            }
        }
    }
}

// ---------- shipment ----------

#[derive(Clone, Copy, Debug, PartialEq)]
enum ShipMv {
    Confirm,
    PurchaseLabel,
    Dispatch,
    MarkDelivered,
    Cancel,
    Track(TrackingStatus),
}

/// DESIGN.md §4's shipment table, transcribed.
fn expected_shipment(from: ShipmentStatus, mv: ShipMv) -> Option<ShipmentStatus> {
    use ShipmentStatus::*;
    use TrackingStatus as T;
    match (mv, from) {
        (ShipMv::Confirm, Pending) => Some(Confirmed),
        (ShipMv::PurchaseLabel, Confirmed) => Some(LabelPurchased),
        (ShipMv::Dispatch | ShipMv::Track(T::InTransit), Confirmed | LabelPurchased) => {
            Some(InTransit)
        }
        (ShipMv::Track(T::OutForDelivery), Confirmed | LabelPurchased | InTransit) => {
            Some(OutForDelivery)
        }
        (
            ShipMv::MarkDelivered | ShipMv::Track(T::Delivered),
            Confirmed | LabelPurchased | InTransit | OutForDelivery,
        ) => Some(Delivered),
        (ShipMv::Track(T::Failure), LabelPurchased | InTransit | OutForDelivery) => Some(Failed),
        (ShipMv::Track(T::Returned), LabelPurchased | InTransit | OutForDelivery) => Some(Returned),
        (ShipMv::Cancel, Pending | Confirmed | LabelPurchased) => Some(Cancelled),
        _ => None,
    }
}

/// A CONFIRMED standard order with one shipment of A×1 brought into `status`.

#[test]
fn shipment_table_with_tracking() {
    let mut moves = vec![
        ShipMv::Confirm,
        ShipMv::PurchaseLabel,
        ShipMv::Dispatch,
        ShipMv::MarkDelivered,
        ShipMv::Cancel,
    ];
    moves.extend(TrackingStatus::ALL.iter().map(|&t| ShipMv::Track(t)));
    for &from in ShipmentStatus::ALL {
        for &mv in &moves {
            let mut w = World::new();
            let (mut o, id) = shipment_in(&mut w, from);
            let before = o.clone();
            let result: Result<bool, DomainError> = match mv {
                ShipMv::Confirm => o.confirm_shipment(&mut w.ctx(), id).map(|_| true),
                ShipMv::PurchaseLabel => purchase_label(&mut w, &mut o, id, "1Z999").map(|_| true),
                ShipMv::Dispatch => o
                    .dispatch_shipment(&mut w.ctx(), id, None, None)
                    .map(|_| true),
                ShipMv::MarkDelivered => o.mark_shipment_delivered(&mut w.ctx(), id).map(|_| true),
                ShipMv::Cancel => o.cancel_shipment(&mut w.ctx(), id).map(|_| true),
                ShipMv::Track(t) => o
                    .update_tracking(&mut w.ctx(), id, tracking(t))
                    .map(|out| matches!(out, TrackingOutcome::Applied(_))),
            };
            match (expected_shipment(from, mv), mv) {
                (Some(to), _) => {
                    assert_eq!(result, Ok(true), "{mv:?} from {from}");
                    assert_eq!(o.shipment(id).unwrap().status, to, "{mv:?} from {from}");
                    // A purchase is two commands: the intent, then the label against it.
                    let commands = if mv == ShipMv::PurchaseLabel { 2 } else { 1 };
                    assert_eq!(o.version(), before.version() + commands);
                }
                (None, ShipMv::Track(_)) => {
                    // Backwards, out of a terminal state, or pre_transit: ignored, nothing changes.
                    assert_eq!(result, Ok(false), "{mv:?} from {from}");
                    assert_eq!(o, before, "{mv:?} from {from}");
                }
                (None, _) => {
                    let err = result.expect_err("refused");
                    assert!(
                        matches!(
                            err,
                            DomainError::InvalidTransition {
                                entity: Entity::Shipment,
                                ..
                            }
                        ),
                        "{mv:?} from {from}: {err:?}"
                    );
                    assert_eq!(o, before);
                }
            }
        }
    }
}

// ---------- return ----------

#[test]
fn return_table() {
    use ReturnStatus::*;
    #[derive(Clone, Copy, Debug)]
    enum Mv {
        Approve,
        Reject,
        Receive,
        Refund,
    }
    let expected = |mv: Mv, from: ReturnStatus| match (mv, from) {
        (Mv::Approve, Requested) => Some(Approved),
        (Mv::Reject, Requested) => Some(Rejected),
        (Mv::Receive, Approved) => Some(Received),
        (Mv::Refund, Received) => Some(Refunded),
        _ => None,
    };
    for &from in ReturnStatus::ALL {
        for mv in [Mv::Approve, Mv::Reject, Mv::Receive, Mv::Refund] {
            let mut w = World::new();
            let (mut o, id) = return_in(&mut w, from);
            let before = o.clone();
            let cfg = TenantConfig::default();
            let result = match mv {
                Mv::Approve => o.approve_return(&mut w.ctx(), id).map(drop),
                Mv::Reject => o.reject_return(&mut w.ctx(), id).map(drop),
                Mv::Receive => o.receive_return(&mut w.ctx(), id).map(drop),
                Mv::Refund => o.refund_return(&mut w.ctx(), id, &cfg).map(drop),
            };
            match expected(mv, from) {
                Some(to) => {
                    assert_eq!(result, Ok(()), "{mv:?} from {from}");
                    assert_eq!(o.return_(id).unwrap().status, to);
                }
                None => {
                    let err = result.expect_err("refused");
                    assert!(
                        matches!(
                            err,
                            DomainError::InvalidTransition {
                                entity: Entity::Return,
                                ..
                            }
                        ),
                        "{mv:?} from {from}: {err:?}"
                    );
                    assert_eq!(o, before);
                }
            }
        }
    }
}
