//! The `Order` aggregate and its commands.
//!
//! Every command runs on a copy of the order and replaces the original only when it succeeds, so a
//! refused command leaves the order exactly as it was. A successful command raises `version` by
//! one and stamps that version on every event it emits.

mod intents;
pub use intents::{Bought, CarrierTarget};
mod lifecycle;
mod returns;
mod runner;
mod shipments;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::clock::{Ctx, Timestamp};
use crate::config::TenantConfig;
use crate::contact::{Address, Customer};
use crate::error::{DomainError, DomainResult, Entity};
use crate::events::{DomainEvent, EVENT_SCHEMA_VERSION, EventPayload};
use crate::ids::{
    CarrierCode, EventId, ExternalRef, OrderId, RefundId, ReturnId, ShipmentId, Sku, Subject,
    TenantId, TrackingNumber, VendorId,
};
use crate::money::{Currency, Money};

use super::model::{
    Label, MAX_LINES, MAX_ORDER_PACKAGES, MAX_PACKAGES, MAX_REFUNDS, MAX_RETURNS, MAX_SHIPMENTS,
    MAX_VENDORS, NewLine, NewShipment, OrderLine, Payment, Refund, Return, Review, Shipment,
    ShipmentPackage, optional_text, required_text,
};
use crate::ids::LineQuantity;
use crate::status::{
    Command, OrderMove, OrderStatus, PackageStatus, PaymentMove, PaymentStatus, ReturnMove,
    ReturnStatus, ShipmentMove, ShipmentStatus, TrackingStatus, command_allowed, order_transition,
    package_transition, payment_transition, return_transition, shipment_of_packages,
    shipment_transition,
};

/// Everything `createOrder` needs, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub external_ref: Option<ExternalRef>,
    pub customer: Customer,
    pub destination: Address,
    pub currency: Currency,
    pub lines: Vec<NewLine>,
    pub shipping: Money,
    pub tax: Money,
    pub discount: Money,
}

/// One package's bought label: its tracking number and label document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageLabel {
    pub tracking_number: TrackingNumber,
    pub label: Label,
}

/// A carrier's (or a user's) tracking report for one shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingUpdate {
    pub carrier: Option<CarrierCode>,
    pub tracking_number: Option<TrackingNumber>,
    pub status: TrackingStatus,
    /// The carrier's own status text, as it sent it (kept on the shipment when it moves it).
    pub carrier_status: Option<String>,
}

/// What a tracking update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingOutcome {
    Applied(Vec<DomainEvent>),
    /// Backwards, out of a terminal state, or nothing new: nothing changed, no version, no event.
    Ignored {
        status: ShipmentStatus,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    id: OrderId,
    tenant: TenantId,
    external_ref: Option<ExternalRef>,
    customer: Customer,
    destination: Address,
    currency: Currency,
    lines: Vec<OrderLine>,
    shipping: Money,
    tax: Money,
    discount: Money,
    total: Money,
    status: OrderStatus,
    payment: Payment,
    review: Option<Review>,
    shipments: Vec<Shipment>,
    returns: Vec<Return>,
    refunds: Vec<Refund>,
    created_by: Subject,
    created_at: Timestamp,
    updated_at: Timestamp,
    version: u64,
}

/// The roll-up of DESIGN.md §4: the order status its lines and shipments imply.
pub fn roll_up(lines: &[OrderLine], shipments: &[Shipment]) -> OrderStatus {
    let sum = |sku: &Sku, pred: fn(ShipmentStatus) -> bool| -> u32 {
        shipments
            .iter()
            .filter(|s| pred(s.status))
            .map(|s| s.quantity_of(sku))
            .sum()
    };
    let per_line: Vec<(u32, u32, u32)> = lines
        .iter()
        .map(|l| {
            (
                l.due(),
                sum(&l.sku, ShipmentStatus::is_dispatched),
                sum(&l.sku, |s| s == ShipmentStatus::Delivered),
            )
        })
        .collect();
    if per_line.iter().all(|&(due, _, delivered)| delivered == due) {
        OrderStatus::Delivered
    } else if per_line.iter().any(|&(_, _, delivered)| delivered > 0) {
        OrderStatus::PartiallyDelivered
    } else if per_line
        .iter()
        .all(|&(due, dispatched, _)| dispatched == due)
    {
        OrderStatus::Shipped
    } else if per_line.iter().any(|&(_, dispatched, _)| dispatched > 0) {
        OrderStatus::PartiallyShipped
    } else {
        OrderStatus::Confirmed
    }
}

/// Collects per-SKU quantities, refusing repeated SKUs and SKUs the order does not have.
fn quantities_by_sku(
    order_lines: &[OrderLine],
    requested: &[LineQuantity],
) -> DomainResult<BTreeMap<Sku, u32>> {
    if requested.is_empty() {
        return Err(DomainError::invalid(
            "lines",
            "at least one line is required",
        ));
    }
    let mut out = BTreeMap::new();
    for l in requested {
        if !order_lines.iter().any(|ol| ol.sku == l.sku) {
            return Err(DomainError::NotFound {
                what: "line",
                id: l.sku.to_string(),
            });
        }
        if out.insert(l.sku.clone(), l.quantity.get()).is_some() {
            return Err(DomainError::invalid(
                "lines",
                format!("sku {} appears more than once", l.sku),
            ));
        }
    }
    Ok(out)
}

impl Order {
    // ----- reading -----

    pub fn id(&self) -> OrderId {
        self.id
    }
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
    pub fn external_ref(&self) -> Option<&ExternalRef> {
        self.external_ref.as_ref()
    }
    pub fn customer(&self) -> &Customer {
        &self.customer
    }
    pub fn destination(&self) -> &Address {
        &self.destination
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }
    pub fn shipping(&self) -> Money {
        self.shipping
    }
    pub fn tax(&self) -> Money {
        self.tax
    }
    pub fn discount(&self) -> Money {
        self.discount
    }
    pub fn total(&self) -> Money {
        self.total
    }
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    pub fn payment(&self) -> &Payment {
        &self.payment
    }
    pub fn review(&self) -> Option<&Review> {
        self.review.as_ref()
    }
    pub fn shipments(&self) -> &[Shipment] {
        &self.shipments
    }
    pub fn returns(&self) -> &[Return] {
        &self.returns
    }
    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }
    pub fn created_by(&self) -> &Subject {
        &self.created_by
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn shipment(&self, id: ShipmentId) -> Option<&Shipment> {
        self.shipments.iter().find(|s| s.id == id)
    }

    pub fn return_(&self, id: ReturnId) -> Option<&Return> {
        self.returns.iter().find(|r| r.id == id)
    }

    /// The distinct vendors of the order's lines, sorted.
    pub fn vendors(&self) -> Vec<VendorId> {
        self.lines
            .iter()
            .map(|l| l.vendor.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    pub fn line(&self, sku: &Sku) -> Option<&OrderLine> {
        self.lines.iter().find(|l| &l.sku == sku)
    }

    /// Quantity of `sku` in shipments that hold their allocation.
    pub fn allocated(&self, sku: &Sku) -> u32 {
        self.shipment_sum(sku, ShipmentStatus::holds_allocation)
    }

    /// Quantity of `sku` in dispatched shipments (IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED).
    pub fn dispatched(&self, sku: &Sku) -> u32 {
        self.shipment_sum(sku, ShipmentStatus::is_dispatched)
    }

    /// Quantity of `sku` in DELIVERED shipments.
    /// The shipment a return's items came in: the first DELIVERED shipment carrying any of its
    /// SKUs (its destination is where the customer ships the return from).
    pub fn shipment_of_return(&self, id: ReturnId) -> Option<&Shipment> {
        let r = self.return_(id)?;
        self.shipments.iter().find(|s| {
            s.status == ShipmentStatus::Delivered
                && r.lines.iter().any(|l| s.quantity_of(&l.sku) > 0)
        })
    }

    pub fn delivered(&self, sku: &Sku) -> u32 {
        self.shipment_sum(sku, |s| s == ShipmentStatus::Delivered)
    }

    /// Quantity of `sku` in returns that are not rejected.
    pub fn returned(&self, sku: &Sku) -> u32 {
        self.returns
            .iter()
            .filter(|r| r.status.holds_quantity())
            .map(|r| r.quantity_of(sku))
            .sum()
    }

    fn shipment_sum(&self, sku: &Sku, pred: fn(ShipmentStatus) -> bool) -> u32 {
        self.shipments
            .iter()
            .filter(|s| pred(s.status))
            .map(|s| s.quantity_of(sku))
            .sum()
    }

    pub fn has_open_return(&self) -> bool {
        self.returns.iter().any(|r| r.status.is_open())
    }

    /// Paid minus refunded: the most any further refund may be.
    pub fn refundable(&self) -> Money {
        Money::from_minor(
            self.payment.paid.minor() - self.payment.refunded.minor(),
            self.currency,
        )
    }

    // ----- creation -----

    /// `createOrder`: a new PENDING order at version 1, and its `OrderCreated` event.
    pub fn create(
        ctx: &mut Ctx<'_>,
        id: OrderId,
        tenant: TenantId,
        created_by: Subject,
        new: NewOrder,
    ) -> DomainResult<(Order, Vec<DomainEvent>)> {
        if new.lines.is_empty() {
            return Err(DomainError::invalid(
                "lines",
                "at least one line is required",
            ));
        }
        if new.lines.len() > MAX_LINES {
            return Err(DomainError::LimitExceeded {
                what: "lines per order",
                max: MAX_LINES,
            });
        }
        let currency = new.currency;
        let mut skus = BTreeSet::new();
        let mut vendors = BTreeSet::new();
        let mut subtotal = Money::zero(currency);
        let mut lines = Vec::with_capacity(new.lines.len());
        for l in new.lines {
            if !skus.insert(l.sku.clone()) {
                return Err(DomainError::invalid(
                    "lines",
                    format!("sku {} appears more than once", l.sku),
                ));
            }
            vendors.insert(l.vendor.clone());
            if l.unit_price.currency() != currency {
                return Err(currency.mismatch(l.unit_price.currency()));
            }
            if l.unit_price.is_negative() {
                return Err(DomainError::invalid(
                    "lines.unitPrice",
                    "must not be negative",
                ));
            }
            subtotal = subtotal.checked_add(&l.unit_price.checked_mul(l.quantity.get())?)?;
            lines.push(OrderLine {
                sku: l.sku,
                vendor: l.vendor,
                title: optional_text("lines.title", l.title.as_deref())?,
                quantity: l.quantity,
                unit_price: l.unit_price,
                cancelled: 0,
            });
        }
        if vendors.len() > MAX_VENDORS {
            return Err(DomainError::LimitExceeded {
                what: "vendors per order",
                max: MAX_VENDORS,
            });
        }
        for (field, m) in [
            ("shipping", new.shipping),
            ("tax", new.tax),
            ("discount", new.discount),
        ] {
            if m.currency() != currency {
                return Err(currency.mismatch(m.currency()));
            }
            if m.is_negative() {
                return Err(DomainError::invalid(field, "must not be negative"));
            }
        }
        let total = subtotal
            .checked_add(&new.shipping)?
            .checked_add(&new.tax)?
            .checked_sub(&new.discount)?;
        if total.is_negative() {
            return Err(DomainError::invalid(
                "discount",
                "must not exceed lines + shipping + tax",
            ));
        }
        new.customer.validate()?;
        new.destination.validate()?;
        let order = Order {
            id,
            tenant,
            external_ref: new.external_ref,
            customer: new.customer,
            destination: new.destination,
            currency,
            lines,
            shipping: new.shipping,
            tax: new.tax,
            discount: new.discount,
            total,
            status: OrderStatus::Pending,
            payment: Payment {
                status: PaymentStatus::Unpaid,
                paid: Money::zero(currency),
                refunded: Money::zero(currency),
                reference: None,
                paid_at: None,
            },
            review: None,
            shipments: Vec::new(),
            returns: Vec::new(),
            refunds: Vec::new(),
            created_by: created_by.clone(),
            created_at: ctx.now,
            updated_at: ctx.now,
            version: 1,
        };
        let payload = EventPayload::OrderCreated {
            external_ref: order.external_ref.clone(),
            created_by,
            total,
            lines: order
                .lines
                .iter()
                .map(|l| LineQuantity::new(l.sku.clone(), l.quantity))
                .collect(),
            vendors: order.vendors(),
        };
        let event = order.event(ctx, payload);
        Ok((order, vec![event]))
    }
}
