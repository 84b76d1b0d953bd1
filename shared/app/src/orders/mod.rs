//! The order use cases, by what they work on. Each takes parsed inputs and a caller and returns
//! typed results; every edge (GraphQL, webhooks, the event consumer, carrier calls) runs these.

mod lifecycle;
mod queries;
mod refunds;
mod returns;
mod shipments;

use auth::Identity;
use domain::access::Operation;
use domain::ids::{ShipmentId, Sku};
use domain::order::Order;

use crate::error::{AppError, AppResult};

pub use lifecycle::AddedOrder;
pub use queries::Listed;
pub use returns::ReturnStep;
pub use shipments::{ShipmentStep, Tracked, TrackingApplied, TrackingChange, TrackingReport};

/// A vendor-confined caller acts on its own lines only; other lines are NOT_FOUND.
pub(crate) fn own_lines<'a>(
    identity: &Identity,
    op: Operation,
    order: &Order,
    skus: impl IntoIterator<Item = &'a Sku>,
) -> AppResult<()> {
    if identity.owns_skus(op, order, skus) {
        Ok(())
    } else {
        Err(AppError::NotFound { what: "line" })
    }
}

/// A shipment whose lines are all the caller's own (NOT_FOUND otherwise).
pub(crate) fn own_shipment(
    identity: &Identity,
    op: Operation,
    order: &Order,
    id: ShipmentId,
) -> AppResult<()> {
    let shipment = order
        .shipment(id)
        .ok_or(AppError::NotFound { what: "shipment" })?;
    own_lines(identity, op, order, shipment.lines.iter().map(|l| &l.sku))
        .map_err(|_| AppError::NotFound { what: "shipment" })
}
