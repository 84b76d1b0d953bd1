//! What a command's commit writes besides the order: claims on tracking numbers (the tenant's
//! index and, for labels bought through the gateway, the SaaS-wide one) and the open-intent
//! index items `oms labels reconcile` reads.

use domain::order::{CarrierTarget, Order, Shipment};

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
                .any(|c: &TrackingClaim| c.target == s.id.into() && &c.number == number)
            {
                continue;
            }
            claims.push(TrackingClaim {
                index,
                carrier: carrier.clone(),
                number: number.clone(),
                order: after.id(),
                target: s.id.into(),
            });
        }
    }
    claims
}

/// The open-intent index items of shipments and returns whose carrier intent opened or closed
/// in this command (the index `oms labels reconcile` reads).
pub(crate) fn intent_items(before: &Order, after: &Order) -> Vec<(CarrierTarget, bool)> {
    let shipments = after.shipments().iter().map(|s| CarrierTarget::from(s.id));
    let returns = after.returns().iter().map(|r| CarrierTarget::from(r.id));
    shipments
        .chain(returns)
        .filter_map(|t| {
            let was = before.intent_of(t).is_some();
            let is = after.intent_of(t).is_some();
            (was != is).then_some((t, is))
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

/// The claims of return labels bought in this command (always bought through the gateway: in
/// both indexes), naming the return.
fn return_claims(index: TrackingIndex, before: &Order, after: &Order) -> Vec<TrackingClaim> {
    after
        .returns()
        .iter()
        .filter_map(|r| {
            let label = r.label.as_ref()?;
            let was = before.return_(r.id).and_then(|b| b.label.as_ref());
            let new = was.is_none_or(|w| {
                w.carrier != label.carrier || w.tracking_number != label.tracking_number
            });
            new.then(|| TrackingClaim {
                index,
                carrier: label.carrier.clone(),
                number: label.tracking_number.clone(),
                order: after.id(),
                target: r.id.into(),
            })
        })
        .collect()
}

/// Tenant tracking-index claims for shipments whose carrier and tracking number changed, and
/// for return labels bought.
pub(crate) fn tracking_items(before: &Order, after: &Order) -> Vec<TrackingClaim> {
    let changed = after
        .shipments()
        .iter()
        .filter(|s| tracking_changed(before, s));
    let mut claims = claims_of(TrackingIndex::Tenant, after, changed);
    claims.extend(return_claims(TrackingIndex::Tenant, before, after));
    claims
}

/// SaaS-wide tracking-index claims of labels bought through the gateway whose carrier or
/// number is new in this command: the purchase, or a label recorded under the aggregator's name
/// whose carrier was looked up since.
pub(crate) fn global_tracking_items(before: &Order, after: &Order) -> Vec<TrackingClaim> {
    let labels = after
        .shipments()
        .iter()
        .filter(|s| s.carrier_reference.is_some() && tracking_changed(before, s));
    let mut claims = claims_of(TrackingIndex::Global, after, labels);
    claims.extend(return_claims(TrackingIndex::Global, before, after));
    claims
}
