//! What a command's commit writes besides the order: claims on tracking numbers (the tenant's
//! index and, for labels bought through the gateway, the SaaS-wide one) and the open-intent
//! index items `oms labels reconcile` reads.

use domain::ids::ShipmentId;
use domain::order::{Order, Shipment};

use crate::ports::{TrackingClaim, TrackingIndex};

/// The claims on tracking numbers a command's shipments make in one index: the shipment's own
/// number and each package's (the first package's is the shipment's), under its carrier.
fn claims_of<'a>(
    index: TrackingIndex,
    after: &'a Order,
    shipments: impl Iterator<Item = &'a Shipment>,
) -> Vec<TrackingClaim> {
    let mut claims = Vec::new();
    for s in shipments {
        let Some(carrier) = s.carrier.clone() else {
            continue;
        };
        let numbers = s
            .tracking_number
            .iter()
            .chain(s.packages.iter().filter_map(|p| p.tracking_number.as_ref()));
        for number in numbers {
            if claims
                .iter()
                .any(|c: &TrackingClaim| c.shipment == s.id && &c.number == number)
            {
                continue;
            }
            claims.push(TrackingClaim {
                index,
                carrier: carrier.clone(),
                number: number.clone(),
                order: after.id(),
                shipment: s.id,
            });
        }
    }
    claims
}

/// The open-intent index items of shipments whose carrier intent opened or closed in this
/// command (the index `oms labels reconcile` reads).
pub(crate) fn intent_items(before: &Order, after: &Order) -> Vec<(ShipmentId, bool)> {
    after
        .shipments()
        .iter()
        .filter_map(|s| {
            let was = before.shipment(s.id).is_some_and(|b| b.intent.is_some());
            let is = s.intent.is_some();
            (was != is).then_some((s.id, is))
        })
        .collect()
}

/// Whether a shipment's carrier or tracking numbers (its own, its packages') differ from what
/// they were before.
fn tracking_changed(before: &Order, s: &Shipment) -> bool {
    let numbers = |s: &Shipment| -> Vec<_> {
        s.packages
            .iter()
            .map(|p| p.tracking_number.clone())
            .collect()
    };
    !before.shipment(s.id).is_some_and(|o| {
        o.carrier == s.carrier && o.tracking_number == s.tracking_number && numbers(o) == numbers(s)
    })
}

/// Tenant tracking-index claims for shipments whose carrier and tracking number changed.
pub(crate) fn tracking_items(before: &Order, after: &Order) -> Vec<TrackingClaim> {
    let changed = after
        .shipments()
        .iter()
        .filter(|s| tracking_changed(before, s));
    claims_of(TrackingIndex::Tenant, after, changed)
}

/// SaaS-wide tracking-index claims of labels bought through the gateway whose carrier or
/// number is new in this command: the purchase, or a label recorded under the aggregator's name
/// whose carrier was looked up since.
pub(crate) fn global_tracking_items(before: &Order, after: &Order) -> Vec<TrackingClaim> {
    let labels = after
        .shipments()
        .iter()
        .filter(|s| s.carrier_reference.is_some() && tracking_changed(before, s));
    claims_of(TrackingIndex::Global, after, labels)
}
