//! The `Order` aggregate and its commands.
//!
//! Every command runs on a copy of the order and replaces the original only when it succeeds, so a
//! refused command leaves the order exactly as it was. A successful command raises `version` by
//! one and stamps that version on every event it emits.

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
    Label, LineQuantity, MAX_LINES, MAX_REFUNDS, MAX_RETURNS, MAX_SHIPMENTS, MAX_VENDORS, NewLine,
    NewShipment, OrderLine, Payment, Refund, Return, Review, Shipment, optional_text,
    required_text,
};
use super::status::{
    Command, OrderMove, OrderStatus, PaymentMove, PaymentStatus, ReturnMove, ReturnStatus,
    ShipmentMove, ShipmentStatus, TrackingStatus, command_allowed, order_transition,
    payment_transition, return_transition, shipment_transition,
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

/// A carrier's (or a user's) tracking report for one shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingUpdate {
    pub carrier: Option<CarrierCode>,
    pub tracking_number: Option<TrackingNumber>,
    pub status: TrackingStatus,
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
                return Err(DomainError::CurrencyMismatch {
                    expected: currency,
                    found: l.unit_price.currency(),
                });
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
                return Err(DomainError::CurrencyMismatch {
                    expected: currency,
                    found: m.currency(),
                });
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

    // ----- the command runner -----

    fn event(&self, ctx: &mut Ctx<'_>, payload: EventPayload) -> DomainEvent {
        DomainEvent {
            event_id: EventId::from_ulid(ctx.ids.next_ulid()),
            schema_version: EVENT_SCHEMA_VERSION,
            tenant: self.tenant.clone(),
            order_id: self.id,
            aggregate_version: self.version,
            occurred_at: ctx.now,
            payload,
        }
    }

    /// Checks the command × order-status table, runs `f` on a draft and commits the draft only
    /// when `f` succeeds and changed something (emitted at least one event).
    fn run<F>(
        &mut self,
        ctx: &mut Ctx<'_>,
        command: Command,
        f: F,
    ) -> DomainResult<Vec<DomainEvent>>
    where
        F: FnOnce(&mut Order, &mut Ctx<'_>, &mut Vec<EventPayload>) -> DomainResult<()>,
    {
        if !command_allowed(command, self.status) {
            return Err(DomainError::NotAllowedInStatus {
                command,
                status: self.status,
            });
        }
        let mut draft = self.clone();
        let mut payloads = Vec::new();
        f(&mut draft, ctx, &mut payloads)?;
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        draft.version += 1;
        draft.updated_at = ctx.now;
        let events = payloads.into_iter().map(|p| draft.event(ctx, p)).collect();
        *self = draft;
        Ok(events)
    }

    fn set_status(&mut self, to: OrderStatus, cause: Command, out: &mut Vec<EventPayload>) {
        if self.status != to {
            out.push(EventPayload::OrderStatusChanged {
                from: self.status,
                to,
                cause,
            });
            self.status = to;
        }
    }

    fn move_order(
        &mut self,
        mv: OrderMove,
        cause: Command,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let to = order_transition(self.status, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Order,
            from: self.status.as_str(),
            to: cause.as_str(),
        })?;
        self.set_status(to, cause, out);
        Ok(())
    }

    /// Re-derives the status from the shipments while the roll-up governs it.
    fn apply_roll_up(&mut self, cause: Command, out: &mut Vec<EventPayload>) {
        if self.status.is_rolled_up() {
            let to = roll_up(&self.lines, &self.shipments);
            self.set_status(to, cause, out);
        }
    }

    fn shipment_index(&self, id: ShipmentId) -> DomainResult<usize> {
        self.shipments
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| DomainError::NotFound {
                what: "shipment",
                id: id.to_string(),
            })
    }

    fn return_index(&self, id: ReturnId) -> DomainResult<usize> {
        self.returns
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| DomainError::NotFound {
                what: "return",
                id: id.to_string(),
            })
    }

    /// Moves one shipment through its table, then rolls the order status up.
    fn move_shipment(
        &mut self,
        now: Timestamp,
        idx: usize,
        mv: ShipmentMove,
        cause: Command,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let shipment = &mut self.shipments[idx];
        let from = shipment.status;
        let to = shipment_transition(from, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Shipment,
            from: from.as_str(),
            to: mv.as_str(),
        })?;
        shipment.status = to;
        shipment.updated_at = now;
        out.push(EventPayload::ShipmentStatusChanged {
            shipment_id: shipment.id,
            from,
            to,
            cause,
        });
        self.apply_roll_up(cause, out);
        Ok(())
    }

    fn move_payment(&mut self, mv: PaymentMove, out: &mut Vec<EventPayload>) -> DomainResult<()> {
        let from = self.payment.status;
        let to = payment_transition(from, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Payment,
            from: from.as_str(),
            to: match mv {
                PaymentMove::MarkPaid => "PAID",
                PaymentMove::RefundPart => "PARTIALLY_REFUNDED",
                PaymentMove::RefundRest => "REFUNDED",
            },
        })?;
        if from != to {
            out.push(EventPayload::PaymentStatusChanged { from, to });
            self.payment.status = to;
        }
        Ok(())
    }

    fn move_return(
        &mut self,
        now: Timestamp,
        idx: usize,
        mv: ReturnMove,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let ret = &mut self.returns[idx];
        let from = ret.status;
        let to = return_transition(from, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Return,
            from: from.as_str(),
            to: mv.as_str(),
        })?;
        ret.status = to;
        ret.updated_at = now;
        out.push(EventPayload::ReturnStatusChanged {
            return_id: ret.id,
            from,
            to,
        });
        Ok(())
    }

    /// Records a refund of `amount` (already bounded) and moves the payment status.
    #[allow(clippy::too_many_arguments)]
    fn record_refund(
        &mut self,
        ctx: &mut Ctx<'_>,
        amount: Money,
        reason: String,
        return_id: Option<ReturnId>,
        gross: Option<Money>,
        fee: Option<Money>,
        config: &TenantConfig,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<RefundId> {
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(DomainError::LimitExceeded {
                what: "refunds per order",
                max: MAX_REFUNDS,
            });
        }
        let id = RefundId::from_ulid(ctx.ids.next_ulid());
        if !amount.is_zero() {
            self.payment.refunded = self.payment.refunded.checked_add(&amount)?;
            let mv = if self.payment.refunded == self.payment.paid {
                PaymentMove::RefundRest
            } else {
                PaymentMove::RefundPart
            };
            self.move_payment(mv, out)?;
        }
        self.refunds.push(Refund {
            id,
            amount,
            reason,
            return_id,
            gross,
            fee,
            config_version: config.version(),
            at: ctx.now,
        });
        out.push(EventPayload::RefundIssued {
            refund_id: id,
            amount,
            return_id,
            config_version: config.version(),
        });
        Ok(id)
    }

    // ----- order commands -----

    pub fn assign_reviewer(
        &mut self,
        ctx: &mut Ctx<'_>,
        by: &Subject,
        reviewer: Subject,
        comments: Option<&str>,
    ) -> DomainResult<Vec<DomainEvent>> {
        let comments = optional_text("comments", comments)?;
        self.run(ctx, Command::AssignOrderReviewer, |o, ctx, out| {
            o.review = Some(Review {
                reviewer: reviewer.clone(),
                comments: comments.clone(),
                assigned_by: by.clone(),
                assigned_at: ctx.now,
            });
            out.push(EventPayload::OrderReviewerAssigned {
                reviewer,
                comments,
                assigned_by: by.clone(),
            });
            Ok(())
        })
    }

    fn check_reviewer(&self, by: &Subject) -> DomainResult<()> {
        match &self.review {
            Some(r) if &r.reviewer != by => Err(DomainError::NotAssignedReviewer {
                reviewer: r.reviewer.to_string(),
            }),
            _ => Ok(()),
        }
    }

    pub fn approve(
        &mut self,
        ctx: &mut Ctx<'_>,
        by: &Subject,
        comments: Option<&str>,
    ) -> DomainResult<Vec<DomainEvent>> {
        let comments = optional_text("comments", comments)?;
        self.run(ctx, Command::ApproveOrder, |o, _, out| {
            o.check_reviewer(by)?;
            out.push(EventPayload::OrderApproved {
                by: by.clone(),
                comments,
            });
            o.move_order(OrderMove::Approve, Command::ApproveOrder, out)
        })
    }

    pub fn reject(
        &mut self,
        ctx: &mut Ctx<'_>,
        by: &Subject,
        reason: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        let reason = required_text("reason", reason)?;
        self.run(ctx, Command::RejectOrder, |o, _, out| {
            o.check_reviewer(by)?;
            out.push(EventPayload::OrderRejected {
                by: by.clone(),
                reason,
            });
            o.move_order(OrderMove::Reject, Command::RejectOrder, out)
        })
    }

    /// `cancelOrder`: refused once a shipment is on its way; cancels undispatched shipments too.
    pub fn cancel(
        &mut self,
        ctx: &mut Ctx<'_>,
        reason: Option<&str>,
    ) -> DomainResult<Vec<DomainEvent>> {
        let reason = optional_text("reason", reason)?;
        self.run(ctx, Command::CancelOrder, |o, ctx, out| {
            if o.shipments.iter().any(|s| s.status.is_dispatched()) {
                return Err(DomainError::ShipmentDispatched);
            }
            out.push(EventPayload::OrderCancelled { reason });
            for idx in 0..o.shipments.len() {
                let from = o.shipments[idx].status;
                if shipment_transition(from, ShipmentMove::Cancel).is_some() {
                    o.move_shipment(
                        ctx.now,
                        idx,
                        ShipmentMove::Cancel,
                        Command::CancelOrder,
                        out,
                    )?;
                }
            }
            o.move_order(OrderMove::Cancel, Command::CancelOrder, out)
        })
    }

    /// `cancelOrderLines`: cancels unallocated quantity only, never the whole order.
    pub fn cancel_lines(
        &mut self,
        ctx: &mut Ctx<'_>,
        lines: &[LineQuantity],
        reason: Option<&str>,
    ) -> DomainResult<Vec<DomainEvent>> {
        let reason = optional_text("reason", reason)?;
        self.run(ctx, Command::CancelOrderLines, |o, _, out| {
            let wanted = quantities_by_sku(&o.lines, lines)?;
            for (sku, qty) in &wanted {
                let allocated = o.allocated(sku);
                let line = o.lines.iter_mut().find(|l| &l.sku == sku).ok_or_else(|| {
                    DomainError::NotFound {
                        what: "line",
                        id: sku.to_string(),
                    }
                })?;
                let available = line.due().saturating_sub(allocated);
                if *qty > available {
                    return Err(DomainError::QuantityExceeded {
                        sku: sku.to_string(),
                        requested: *qty,
                        available,
                    });
                }
                line.cancelled += qty;
            }
            if o.lines.iter().all(|l| l.due() == 0) {
                return Err(DomainError::NothingLeftDue);
            }
            out.push(EventPayload::OrderLinesCancelled {
                lines: lines.to_vec(),
                reason,
            });
            o.apply_roll_up(Command::CancelOrderLines, out);
            Ok(())
        })
    }

    /// `markOrderPaid`: the full total, with the payment provider's reference.
    pub fn mark_paid(
        &mut self,
        ctx: &mut Ctx<'_>,
        reference: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        let reference = required_text("reference", reference)?;
        self.run(ctx, Command::MarkOrderPaid, |o, ctx, out| {
            o.move_payment(PaymentMove::MarkPaid, out)?;
            o.payment.paid = o.total;
            o.payment.reference = Some(reference.clone());
            o.payment.paid_at = Some(ctx.now);
            out.push(EventPayload::OrderPaid {
                amount: o.total,
                reference,
            });
            Ok(())
        })
    }

    /// `refundOrder`: refunds `amount` without a return; refused above paid − refunded or the cap.
    pub fn refund(
        &mut self,
        ctx: &mut Ctx<'_>,
        amount: Money,
        reason: &str,
        config: &TenantConfig,
    ) -> DomainResult<Vec<DomainEvent>> {
        let reason = required_text("reason", reason)?;
        self.run(ctx, Command::RefundOrder, |o, ctx, out| {
            if !matches!(
                o.payment.status,
                PaymentStatus::Paid | PaymentStatus::PartiallyRefunded
            ) {
                return Err(DomainError::InvalidTransition {
                    entity: Entity::Payment,
                    from: o.payment.status.as_str(),
                    to: "REFUNDED",
                });
            }
            if amount.currency() != o.currency {
                return Err(DomainError::CurrencyMismatch {
                    expected: o.currency,
                    found: amount.currency(),
                });
            }
            if amount.minor() <= 0 {
                return Err(DomainError::invalid("amount", "must be greater than zero"));
            }
            let mut available = o.refundable();
            if let Some(cap) = config.max_refund(o.currency) {
                available = available.min(cap)?;
            }
            if amount.minor() > available.minor() {
                return Err(DomainError::RefundExceedsPaid {
                    requested: amount,
                    available,
                });
            }
            o.record_refund(ctx, amount, reason, None, None, None, config, out)?;
            Ok(())
        })
    }

    /// `completeOrder`: DELIVERED, payment settled, no return open.
    pub fn complete(&mut self, ctx: &mut Ctx<'_>) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, Command::CompleteOrder, |o, _, out| {
            if !matches!(
                o.payment.status,
                PaymentStatus::Paid | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded
            ) {
                return Err(DomainError::PaymentNotSettled {
                    status: o.payment.status.as_str(),
                });
            }
            if o.has_open_return() {
                return Err(DomainError::OpenReturn);
            }
            out.push(EventPayload::OrderCompleted {});
            o.move_order(OrderMove::Complete, Command::CompleteOrder, out)
        })
    }

    // ----- shipment commands -----

    /// `createShipment`: per-line quantities within what is due and not yet allocated.
    pub fn create_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        new: NewShipment,
    ) -> DomainResult<(ShipmentId, Vec<DomainEvent>)> {
        let instructions = optional_text("instructions", new.instructions.as_deref())?;
        if let Some(d) = &new.destination {
            d.validate()?;
        }
        let mut created = None;
        let events = self.run(ctx, Command::CreateShipment, |o, ctx, out| {
            if o.shipments.len() >= MAX_SHIPMENTS {
                return Err(DomainError::LimitExceeded {
                    what: "shipments per order",
                    max: MAX_SHIPMENTS,
                });
            }
            let wanted = quantities_by_sku(&o.lines, &new.lines)?;
            for (sku, qty) in &wanted {
                let due = o.line(sku).map_or(0, OrderLine::due);
                let available = due.saturating_sub(o.allocated(sku));
                if *qty > available {
                    return Err(DomainError::QuantityExceeded {
                        sku: sku.to_string(),
                        requested: *qty,
                        available,
                    });
                }
            }
            let id = ShipmentId::from_ulid(ctx.ids.next_ulid());
            o.shipments.push(Shipment {
                id,
                status: ShipmentStatus::Pending,
                lines: new.lines.clone(),
                destination: new
                    .destination
                    .clone()
                    .unwrap_or_else(|| o.destination.clone()),
                package: new.package,
                mode: new.mode,
                carrier: new.carrier.clone(),
                pickup: new.pickup.clone(),
                instructions,
                tracking_number: None,
                label: None,
                carrier_reference: None,
                created_at: ctx.now,
                updated_at: ctx.now,
            });
            out.push(EventPayload::ShipmentCreated {
                shipment_id: id,
                lines: new.lines.clone(),
            });
            created = Some(id);
            Ok(())
        })?;
        let id = created.ok_or(DomainError::NotFound {
            what: "shipment",
            id: String::new(),
        })?;
        Ok((id, events))
    }

    fn shipment_command(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        command: Command,
        mv: ShipmentMove,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, command, |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            o.move_shipment(ctx.now, idx, mv, command, out)
        })
    }

    pub fn confirm_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.shipment_command(ctx, id, Command::ConfirmShipment, ShipmentMove::Confirm)
    }

    pub fn cancel_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.shipment_command(ctx, id, Command::CancelShipment, ShipmentMove::Cancel)
    }

    pub fn mark_shipment_delivered(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.shipment_command(
            ctx,
            id,
            Command::MarkShipmentDelivered,
            ShipmentMove::Delivered,
        )
    }

    /// `dispatchShipment`: on its way, optionally with the carrier's tracking number.
    pub fn dispatch_shipment(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        carrier: Option<CarrierCode>,
        tracking_number: Option<TrackingNumber>,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, Command::DispatchShipment, |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            o.move_shipment(
                ctx.now,
                idx,
                ShipmentMove::InTransit,
                Command::DispatchShipment,
                out,
            )?;
            o.record_tracking_details(idx, carrier, tracking_number, out);
            Ok(())
        })
    }

    /// A label was bought from the carrier: CONFIRMED → LABEL_PURCHASED, with its details.
    pub fn record_label(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        carrier: CarrierCode,
        tracking_number: TrackingNumber,
        label: Label,
        carrier_reference: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        let carrier_reference = required_text("carrierReference", carrier_reference)?;
        self.run(ctx, Command::PurchaseLabel, |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            o.move_shipment(
                ctx.now,
                idx,
                ShipmentMove::PurchaseLabel,
                Command::PurchaseLabel,
                out,
            )?;
            let s = &mut o.shipments[idx];
            s.label = Some(label);
            s.carrier_reference = Some(carrier_reference);
            o.record_tracking_details(idx, Some(carrier), Some(tracking_number), out);
            Ok(())
        })
    }

    /// Sets carrier and tracking number where they are new; emits an event only on a change.
    fn record_tracking_details(
        &mut self,
        idx: usize,
        carrier: Option<CarrierCode>,
        tracking_number: Option<TrackingNumber>,
        out: &mut Vec<EventPayload>,
    ) -> bool {
        let s = &mut self.shipments[idx];
        let new_carrier = carrier.filter(|c| s.carrier.as_ref() != Some(c));
        let new_number = tracking_number.filter(|n| s.tracking_number.as_ref() != Some(n));
        if new_carrier.is_none() && new_number.is_none() {
            return false;
        }
        if let Some(c) = &new_carrier {
            s.carrier = Some(c.clone());
        }
        if let Some(n) = &new_number {
            s.tracking_number = Some(n.clone());
        }
        out.push(EventPayload::ShipmentTrackingUpdated {
            shipment_id: s.id,
            carrier: s.carrier.clone(),
            tracking_number: s.tracking_number.clone(),
        });
        true
    }

    /// `updateShipmentTracking` and carrier webhooks. Tracking may skip forward but never moves
    /// backwards or out of a terminal state: such an update is `Ignored` and changes nothing.
    pub fn update_tracking(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        update: TrackingUpdate,
    ) -> DomainResult<TrackingOutcome> {
        let events = self.run(ctx, Command::UpdateShipmentTracking, |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            if o.shipments[idx].status.is_terminal() {
                return Ok(());
            }
            let applicable = ShipmentMove::from_tracking(update.status)
                .filter(|mv| shipment_transition(o.shipments[idx].status, *mv).is_some());
            if let Some(mv) = applicable {
                o.move_shipment(ctx.now, idx, mv, Command::UpdateShipmentTracking, out)?;
            }
            o.record_tracking_details(idx, update.carrier, update.tracking_number, out);
            Ok(())
        })?;
        if events.is_empty() {
            let status = self
                .shipment(id)
                .map_or(ShipmentStatus::Pending, |s| s.status);
            Ok(TrackingOutcome::Ignored { status })
        } else {
            Ok(TrackingOutcome::Applied(events))
        }
    }

    // ----- return commands -----

    /// `requestReturn`: per line, returned (not rejected) ≤ delivered.
    pub fn request_return(
        &mut self,
        ctx: &mut Ctx<'_>,
        lines: &[LineQuantity],
        reason: &str,
    ) -> DomainResult<(ReturnId, Vec<DomainEvent>)> {
        let reason = required_text("reason", reason)?;
        let mut created = None;
        let events = self.run(ctx, Command::RequestReturn, |o, ctx, out| {
            if o.returns.len() >= MAX_RETURNS {
                return Err(DomainError::LimitExceeded {
                    what: "returns per order",
                    max: MAX_RETURNS,
                });
            }
            let wanted = quantities_by_sku(&o.lines, lines)?;
            for (sku, qty) in &wanted {
                let available = o.delivered(sku).saturating_sub(o.returned(sku));
                if *qty > available {
                    return Err(DomainError::QuantityExceeded {
                        sku: sku.to_string(),
                        requested: *qty,
                        available,
                    });
                }
            }
            let id = ReturnId::from_ulid(ctx.ids.next_ulid());
            o.returns.push(Return {
                id,
                status: ReturnStatus::Requested,
                lines: lines.to_vec(),
                reason: reason.clone(),
                refund_id: None,
                requested_at: ctx.now,
                updated_at: ctx.now,
            });
            out.push(EventPayload::ReturnRequested {
                return_id: id,
                lines: lines.to_vec(),
                reason,
            });
            created = Some(id);
            Ok(())
        })?;
        let id = created.ok_or(DomainError::NotFound {
            what: "return",
            id: String::new(),
        })?;
        Ok((id, events))
    }

    fn return_command(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
        command: Command,
        mv: ReturnMove,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, command, |o, ctx, out| {
            let idx = o.return_index(id)?;
            o.move_return(ctx.now, idx, mv, out)
        })
    }

    pub fn approve_return(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.return_command(ctx, id, Command::ApproveReturn, ReturnMove::Approve)
    }

    pub fn reject_return(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.return_command(ctx, id, Command::RejectReturn, ReturnMove::Reject)
    }

    pub fn receive_return(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.return_command(ctx, id, Command::ReceiveReturn, ReturnMove::Receive)
    }

    /// `refundReturn`: gross − restocking fee (half-even), capped by the tenant's max refund and by
    /// paid − refunded. A zero amount still closes the return.
    pub fn refund_return(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
        config: &TenantConfig,
    ) -> DomainResult<(RefundId, Vec<DomainEvent>)> {
        let mut refund_id = None;
        let events = self.run(ctx, Command::RefundReturn, |o, ctx, out| {
            let idx = o.return_index(id)?;
            o.move_return(ctx.now, idx, ReturnMove::Refund, out)?;
            let mut gross = Money::zero(o.currency);
            for l in &o.returns[idx].lines {
                let price = o
                    .line(&l.sku)
                    .map_or(Money::zero(o.currency), |ol| ol.unit_price);
                gross = gross.checked_add(&price.checked_mul(l.quantity.get())?)?;
            }
            let fee = gross.basis_points_half_even(config.restocking_fee_bps());
            let mut amount = gross.checked_sub(&fee)?;
            if let Some(cap) = config.max_refund(o.currency) {
                amount = amount.min(cap)?;
            }
            amount = amount.min(o.refundable())?;
            let rid = o.record_refund(
                ctx,
                amount,
                "return".to_owned(),
                Some(id),
                Some(gross),
                Some(fee),
                config,
                out,
            )?;
            o.returns[idx].refund_id = Some(rid);
            refund_id = Some(rid);
            Ok(())
        })?;
        let rid = refund_id.ok_or(DomainError::NotFound {
            what: "refund",
            id: String::new(),
        })?;
        Ok((rid, events))
    }
}
