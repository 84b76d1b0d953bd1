//! Shipments: create, confirm, dispatch, track, deliver, cancel. A vendor-confined caller acts on
//! shipments of its own lines only.

use domain::access::Operation;
use domain::ids::{CarrierCode, ShipmentId, TrackingNumber};
use domain::order::{NewShipment, Order, TrackingOutcome, TrackingUpdate};

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
}
