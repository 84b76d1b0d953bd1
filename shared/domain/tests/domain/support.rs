//! Builders for tests: a deterministic world (clock + ids), a standard order, and ways to bring an
//! order (or one of its shipments or returns) into any state through real commands.

use domain::clock::{Ctx, SeqIds};
use domain::config::TenantConfig;
use domain::contact::{Address, Customer, Email};
use domain::ids::{
    CarrierCode, OrderId, Quantity, ReturnId, ShipmentId, Sku, Subject, TenantId, TrackingNumber,
    VendorId,
};
use domain::order::{
    CarrierAction, Label, LineQuantity, NewLine, NewOrder, NewShipment, Order, OrderStatus,
    ShipmentStatus, ShippingMode, TrackingOutcome, TrackingStatus, TrackingUpdate,
};
use domain::{Currency, Money, Timestamp};

pub struct World {
    pub ids: SeqIds,
    pub now: Timestamp,
}

impl World {
    pub fn new() -> Self {
        Self {
            ids: SeqIds::default(),
            now: Timestamp::parse_rfc3339("2026-11-24T10:00:00Z").unwrap(),
        }
    }

    pub fn ctx(&mut self) -> Ctx<'_> {
        self.now = self.now.plus_seconds(1);
        Ctx::new(self.now, &mut self.ids)
    }
}

pub fn cur(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

pub fn money(amount: &str, currency: &str) -> Money {
    Money::parse(amount, cur(currency)).unwrap()
}

pub fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

pub fn subject(s: &str) -> Subject {
    Subject::parse(s).unwrap()
}

pub fn lq(s: &str, q: u32) -> LineQuantity {
    LineQuantity::new(sku(s), Quantity::new(q).unwrap())
}

pub fn staff() -> Subject {
    subject("staff-1")
}

pub fn address() -> Address {
    Address::new(
        "Ana Díaz",
        "1 Main St",
        None,
        "Springfield",
        Some("IL"),
        "62701",
        "US",
        None,
    )
    .unwrap()
}

/// An order in `currency` with the given lines `(sku, vendor, quantity, unit price)`.
pub fn order_with_events(
    w: &mut World,
    currency: &str,
    lines: &[(&str, &str, u32, &str)],
    shipping: &str,
    tax: &str,
    discount: &str,
) -> (Order, Vec<domain::events::DomainEvent>) {
    let new = NewOrder {
        external_ref: None,
        customer: Customer::new("Ana Díaz", Email::parse("ana@example.com").unwrap(), None)
            .unwrap(),
        destination: address(),
        currency: cur(currency),
        lines: lines
            .iter()
            .map(|(s, v, q, p)| NewLine {
                sku: sku(s),
                vendor: VendorId::parse(v).unwrap(),
                title: None,
                quantity: Quantity::new(*q).unwrap(),
                unit_price: money(p, currency),
            })
            .collect(),
        shipping: money(shipping, currency),
        tax: money(tax, currency),
        discount: money(discount, currency),
    };
    let id = OrderId::from_ulid(w.ids_next());
    let (order, events) = Order::create(
        &mut w.ctx(),
        id,
        TenantId::parse("acme").unwrap(),
        staff(),
        new,
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    (order, events)
}

pub fn order_with(
    w: &mut World,
    currency: &str,
    lines: &[(&str, &str, u32, &str)],
    shipping: &str,
    tax: &str,
    discount: &str,
) -> Order {
    order_with_events(w, currency, lines, shipping, tax, discount).0
}

impl World {
    pub fn ids_next(&mut self) -> ulid::Ulid {
        use domain::IdSource;
        self.ids.next_ulid()
    }
}

/// The standard order: A (vendor v1) 3 × 10.00, B (vendor v2) 2 × 25.00, shipping 5.00, tax 2.00,
/// discount 1.00; total 86.00 USD.
pub fn standard(w: &mut World) -> Order {
    order_with(
        w,
        "USD",
        &[("A", "v1", 3, "10.00"), ("B", "v2", 2, "25.00")],
        "5.00",
        "2.00",
        "1.00",
    )
}

pub fn new_shipment(lines: Vec<LineQuantity>) -> NewShipment {
    NewShipment {
        lines,
        destination: None,
        packages: Vec::new(),
        mode: ShippingMode::Ground,
        carrier: None,
        pickup: None,
        instructions: None,
        customs: None,
        label_options: Default::default(),
        address_messages: Vec::new(),
    }
}

pub fn all_lines(o: &Order) -> Vec<LineQuantity> {
    o.lines()
        .iter()
        .map(|l| LineQuantity::new(l.sku.clone(), Quantity::new(l.due()).unwrap()))
        .collect()
}

pub fn ship(w: &mut World, o: &mut Order, lines: Vec<LineQuantity>) -> ShipmentId {
    let (id, _) = o
        .create_shipment(&mut w.ctx(), new_shipment(lines))
        .unwrap();
    o.confirm_shipment(&mut w.ctx(), id).unwrap();
    o.dispatch_shipment(&mut w.ctx(), id, None, None).unwrap();
    id
}

pub fn tracking(status: TrackingStatus) -> TrackingUpdate {
    TrackingUpdate {
        carrier: None,
        tracking_number: None,
        status,
        carrier_status: None,
    }
}

/// A label bought through a purchase intent, as the gateway buys one.
pub fn buy_label(w: &mut World, o: &mut Order, id: ShipmentId) {
    let (intent, _) = o
        .open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate", None)
        .unwrap();
    o.record_label(
        &mut w.ctx(),
        id,
        &intent,
        CarrierCode::parse("usps").unwrap(),
        vec![domain::order::PackageLabel {
            tracking_number: TrackingNumber::parse("9400100000000000000000").unwrap(),
            label: Label {
                url: "https://labels.example/1.pdf".into(),
                format: "PDF".into(),
            },
        }],
        "shp_123",
    )
    .unwrap();
}

/// A purchase intent opened and its label recorded: the events of both commands.
pub fn purchase_label(
    w: &mut World,
    o: &mut Order,
    id: ShipmentId,
    number: &str,
) -> Result<Vec<domain::events::DomainEvent>, domain::DomainError> {
    let (intent, mut events) =
        o.open_carrier_intent(&mut w.ctx(), id, CarrierAction::Purchase, "rate", None)?;
    events.extend(o.record_label(
        &mut w.ctx(),
        id,
        &intent,
        CarrierCode::parse("ups").unwrap(),
        vec![domain::order::PackageLabel {
            tracking_number: TrackingNumber::parse(number).unwrap(),
            label: Label {
                url: "https://l.example/1.pdf".into(),
                format: "PDF".into(),
            },
        }],
        "ref",
    )?);
    Ok(events)
}

/// The standard order brought into `status` through real commands.
pub fn order_in(w: &mut World, status: OrderStatus) -> Order {
    let mut o = standard(w);
    match status {
        OrderStatus::Pending => {}
        OrderStatus::Rejected => {
            o.reject(&mut w.ctx(), &staff(), "fraud").unwrap();
        }
        OrderStatus::Cancelled => {
            o.cancel(&mut w.ctx(), None).unwrap();
        }
        _ => {
            o.approve(&mut w.ctx(), &staff(), None).unwrap();
            match status {
                OrderStatus::Confirmed => {}
                OrderStatus::PartiallyShipped => {
                    ship(w, &mut o, vec![lq("A", 3)]);
                }
                OrderStatus::Shipped => {
                    let lines = all_lines(&o);
                    ship(w, &mut o, lines);
                }
                OrderStatus::PartiallyDelivered => {
                    let id = ship(w, &mut o, vec![lq("A", 3)]);
                    o.mark_shipment_delivered(&mut w.ctx(), id).unwrap();
                }
                OrderStatus::Delivered | OrderStatus::Completed => {
                    let lines = all_lines(&o);
                    let id = ship(w, &mut o, lines);
                    o.mark_shipment_delivered(&mut w.ctx(), id).unwrap();
                    if status == OrderStatus::Completed {
                        o.mark_paid(&mut w.ctx(), "pi_1").unwrap();
                        o.complete(&mut w.ctx()).unwrap();
                    }
                }
                _ => unreachable!(),
            }
        }
    }
    assert_eq!(o.status(), status);
    o
}

/// A delivered standard order with one return in `status`.
pub fn return_in(w: &mut World, status: domain::order::ReturnStatus) -> (Order, ReturnId) {
    use domain::order::ReturnStatus as R;
    let mut o = order_in(w, OrderStatus::Delivered);
    let (id, _) = o
        .request_return(&mut w.ctx(), &[lq("A", 1)], "too small")
        .unwrap();
    match status {
        R::Requested => {}
        R::Rejected => {
            o.reject_return(&mut w.ctx(), id).unwrap();
        }
        R::Approved | R::Received | R::Refunded => {
            o.approve_return(&mut w.ctx(), id).unwrap();
            if status != R::Approved {
                o.receive_return(&mut w.ctx(), id).unwrap();
            }
            if status == R::Refunded {
                o.refund_return(&mut w.ctx(), id, &TenantConfig::default())
                    .unwrap();
            }
        }
    }
    assert_eq!(o.return_(id).unwrap().status, status);
    (o, id)
}

/// A fresh order's one shipment, brought into `status` through real commands.
pub fn shipment_in(w: &mut World, status: ShipmentStatus) -> (Order, ShipmentId) {
    use ShipmentStatus::*;
    let mut o = order_in(w, OrderStatus::Confirmed);
    let (id, _) = o
        .create_shipment(&mut w.ctx(), new_shipment(vec![lq("A", 1)]))
        .unwrap();
    let track = |w: &mut World, o: &mut Order, t| {
        assert!(matches!(
            o.update_tracking(&mut w.ctx(), id, tracking(t)).unwrap(),
            TrackingOutcome::Applied(_)
        ));
    };
    if status != Pending && status != Cancelled {
        o.confirm_shipment(&mut w.ctx(), id).unwrap();
    }
    match status {
        Pending | Confirmed => {}
        Cancelled => {
            o.cancel_shipment(&mut w.ctx(), id).unwrap();
        }
        LabelPurchased | Failed | Returned => {
            buy_label(w, &mut o, id);
            if status == Failed {
                track(w, &mut o, TrackingStatus::Failure);
            } else if status == Returned {
                track(w, &mut o, TrackingStatus::Returned);
            }
        }
        InTransit => {
            o.dispatch_shipment(&mut w.ctx(), id, None, None).unwrap();
        }
        OutForDelivery => track(w, &mut o, TrackingStatus::OutForDelivery),
        Delivered => {
            o.mark_shipment_delivered(&mut w.ctx(), id).unwrap();
        }
    }
    assert_eq!(o.shipment(id).unwrap().status, status);
    (o, id)
}
