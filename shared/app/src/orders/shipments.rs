//! Shipments: create, confirm, dispatch, track, deliver, cancel. A vendor-confined caller acts on
//! shipments of its own lines only.

use domain::access::Operation;
use domain::ids::{CarrierCode, OrderId, ShipmentId, TrackingNumber};
use domain::order::{CarrierTarget, NewShipment, Order, TrackingOutcome, TrackingUpdate};

use crate::ports::GatewayLabel;

use super::{own_lines, own_shipment};
use crate::context::{RequestCtx, UnitOfWork};
use crate::engine::{App, Change, CommandSpec, OrderRef};
use crate::error::AppResult;

/// A step of a shipment that needs nothing but the shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentStep {
    Confirm,
    Cancel,
    MarkDelivered,
}

impl ShipmentStep {
    pub fn operation(self) -> Operation {
        match self {
            ShipmentStep::Confirm => Operation::ConfirmShipment,
            ShipmentStep::Cancel => Operation::CancelShipment,
            ShipmentStep::MarkDelivered => Operation::MarkShipmentDelivered,
        }
    }
}

/// A carrier's tracking report, parsed at the edge.
#[derive(Debug, Clone)]
pub struct TrackingReport {
    pub carrier: CarrierCode,
    pub number: TrackingNumber,
    /// Our status for the carrier's (none: nothing we track).
    pub status: Option<domain::order::TrackingStatus>,
    /// The carrier's status as it sent it.
    pub carrier_status: Option<String>,
}

/// What a carrier's report did.
#[derive(Debug, Clone)]
pub enum TrackingApplied {
    /// No shipment of the tenant has this tracking number.
    UnknownNumber,
    /// The carrier's status is nothing we track (pre-transit details, unknown).
    Unmapped,
    /// Applied, or ignored as stale (backwards, terminal, nothing new, or not a move the
    /// shipment can make) — to a shipment, or to a return whose label has the number.
    Tracked {
        order: Box<Order>,
        target: CarrierTarget,
        ignored: bool,
    },
}

/// A tracking update to apply to a shipment.
#[derive(Debug, Clone)]
pub struct TrackingChange {
    pub shipment: ShipmentId,
    pub update: TrackingUpdate,
}

/// The order after a tracking update, and whether the update was ignored (backwards, out of a
/// terminal state, or nothing new: no version, no event).
#[derive(Debug, Clone)]
pub struct Tracked {
    pub order: Order,
    pub ignored: bool,
}

impl App {
    /// Creates a shipment; returns the order and the new shipment's id.
    pub async fn create_shipment(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        new: NewShipment,
    ) -> AppResult<(Order, ShipmentId)> {
        let spec = CommandSpec::new(Operation::CreateShipment, order);
        self.order_command(rc, uow, spec, |o, env| {
            own_lines(env.identity, env.op, o, new.lines.iter().map(|l| &l.sku))?;
            let (id, events) = o.create_shipment(env.ctx, new.clone())?;
            Ok(Change { events, value: id })
        })
        .await
    }

    /// Confirms, cancels or marks delivered a shipment (a vendor-confined caller: its own).
    pub async fn move_shipment(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        shipment: ShipmentId,
        step: ShipmentStep,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(step.operation(), order);
        self.order_command(rc, uow, spec, |o, env| {
            own_shipment(env.identity, env.op, o, shipment)?;
            let events = match step {
                ShipmentStep::Confirm => o.confirm_shipment(env.ctx, shipment)?,
                ShipmentStep::Cancel => o.cancel_shipment(env.ctx, shipment)?,
                ShipmentStep::MarkDelivered => o.mark_shipment_delivered(env.ctx, shipment)?,
            };
            Ok(Change::events(events))
        })
        .await
        .map(|(o, ())| o)
    }

    pub async fn dispatch_shipment(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        shipment: ShipmentId,
        carrier: Option<CarrierCode>,
        tracking_number: Option<TrackingNumber>,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::DispatchShipment, order);
        self.order_command(rc, uow, spec, |o, env| {
            own_shipment(env.identity, env.op, o, shipment)?;
            let (carrier, number) = (carrier.clone(), tracking_number.clone());
            Ok(Change::events(
                o.dispatch_shipment(env.ctx, shipment, carrier, number)?,
            ))
        })
        .await
        .map(|(o, ())| o)
    }

    /// Applies a tracking status; a stale one is reported as ignored and writes nothing.
    pub async fn update_shipment_tracking(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        change: TrackingChange,
    ) -> AppResult<Tracked> {
        let spec = CommandSpec::new(Operation::UpdateShipmentTracking, order);
        let (order, ignored) = self
            .order_command(rc, uow, spec, |o, env| {
                own_shipment(env.identity, env.op, o, change.shipment)?;
                Ok(
                    match o.update_tracking(env.ctx, change.shipment, change.update.clone())? {
                        TrackingOutcome::Applied(events) => Change {
                            events,
                            value: false,
                        },
                        TrackingOutcome::Ignored { .. } => Change {
                            events: Vec::new(),
                            value: true,
                        },
                    },
                )
            })
            .await?;
        Ok(Tracked { order, ignored })
    }

    /// A carrier's tracking report from a signed webhook: finds the shipment by the tenant's
    /// tracking number and applies the status through the same command as
    /// `updateShipmentTracking` (never backwards, never out of a terminal state).
    pub async fn webhook_tracking(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        report: TrackingReport,
    ) -> AppResult<TrackingApplied> {
        let op = Operation::WebhookShipmentTracker;
        let identity = rc.identity(op)?.clone();
        self.check(rc, op, crate::authz::Target::Tenant).await?;
        let Some((order_id, target)) = self
            .orders
            .by_tracking_number(identity.scope(), &report.carrier, &report.number)
            .await?
        else {
            return Ok(TrackingApplied::UnknownNumber);
        };
        self.apply_report(rc, uow, report, order_id, target).await
    }

    /// A carrier's tracking report on the SaaS-level route, for the shipment the global index
    /// names (`gateway_label`): the tenant's own tracking items have no say here. A label of
    /// another tenant than the caller's is not this caller's to move: unknown.
    pub async fn gateway_tracking(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        report: TrackingReport,
        label: &GatewayLabel,
    ) -> AppResult<TrackingApplied> {
        let op = Operation::WebhookShipmentTracker;
        let identity = rc.identity(op)?.clone();
        self.check(rc, op, crate::authz::Target::Tenant).await?;
        if identity.tenant() != &label.tenant {
            return Ok(TrackingApplied::UnknownNumber);
        }
        self.apply_report(rc, uow, report, label.order, label.target)
            .await
    }

    /// Applies a carrier's report to the shipment, or the return, found by its tracking number:
    /// a return's label moves the return only (`Order::update_return_tracking`), never a
    /// shipment.
    async fn apply_report(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        report: TrackingReport,
        order_id: OrderId,
        target: CarrierTarget,
    ) -> AppResult<TrackingApplied> {
        let op = Operation::WebhookShipmentTracker;
        let Some(status) = report.status else {
            return Ok(TrackingApplied::Unmapped);
        };
        let spec = CommandSpec::new(op, OrderRef::new(order_id, None));
        let update = TrackingUpdate {
            carrier: Some(report.carrier),
            tracking_number: Some(report.number),
            status,
            carrier_status: report.carrier_status,
        };
        let (order, ignored) = self
            .order_command(rc, uow, spec, |o, env| {
                let applied = match target {
                    CarrierTarget::Shipment(id) => o.update_tracking(env.ctx, id, update.clone()),
                    CarrierTarget::Return(id) => o.update_return_tracking(env.ctx, id, &update),
                };
                Ok(match applied {
                    Ok(TrackingOutcome::Applied(events)) => Change {
                        events,
                        value: false,
                    },
                    // A carrier cannot be refused: a move the shipment cannot make is stale.
                    Ok(TrackingOutcome::Ignored { .. }) | Err(_) => Change {
                        events: Vec::new(),
                        value: true,
                    },
                })
            })
            .await?;
        Ok(TrackingApplied::Tracked {
            order: Box::new(order),
            target,
            ignored,
        })
    }

    /// The shipment whose gateway-bought label carries this tracking number (SaaS-level carrier
    /// webhooks find their tenant and shipment this way, from the SaaS-wide index alone; a
    /// number a user typed in is never in it).
    pub async fn gateway_label(
        &self,
        carrier: &CarrierCode,
        number: &TrackingNumber,
    ) -> AppResult<Option<GatewayLabel>> {
        Ok(self.orders.gateway_label(carrier, number).await?)
    }
}
