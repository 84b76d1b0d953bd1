//! Carrier intents: a label purchase or void is recorded on its shipment before the carrier is
//! called, and its outcome is committed against that intent. While an intent is open nothing
//! else moves the shipment, so a second purchase, a cancellation or a dispatch cannot race the
//! call, and a crash between the call and the commit leaves a record of what to look up.

use super::*;
use crate::order::model::CarrierIntent;
use crate::status::{CarrierAction, IntentOutcome, IntentState, PackageStatus};

/// The shipment status an action starts from.
fn starts_from(action: CarrierAction) -> ShipmentStatus {
    match action {
        CarrierAction::Purchase => ShipmentStatus::Confirmed,
        CarrierAction::Void => ShipmentStatus::LabelPurchased,
    }
}

fn command_of(action: CarrierAction) -> Command {
    match action {
        CarrierAction::Purchase => Command::PurchaseLabel,
        CarrierAction::Void => Command::VoidLabel,
    }
}

impl Order {
    /// Records that a carrier call is about to be made: a purchase needs a CONFIRMED shipment, a
    /// void a LABEL_PURCHASED one, and neither may start while another intent is open.
    /// `reference` is what identifies the call at the carrier; the new intent's id is returned.
    pub fn open_carrier_intent(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        action: CarrierAction,
        reference: &str,
        key: Option<&str>,
    ) -> DomainResult<(String, Vec<DomainEvent>)> {
        let reference = required_text("reference", reference)?;
        let intent_id = ctx.ids.next_ulid().to_string();
        let events = self.run(ctx, command_of(action), |o, ctx, out| {
            let idx = o.shipment_index(id)?;
            let s = &mut o.shipments[idx];
            if let Some(open) = &s.intent {
                return Err(DomainError::CarrierCallInProgress {
                    action: open.action,
                });
            }
            let from = starts_from(action);
            if s.status != from {
                return Err(DomainError::InvalidTransition {
                    entity: Entity::Shipment,
                    from: s.status.as_str(),
                    to: command_of(action).as_str(),
                });
            }
            s.intent = Some(new_intent(
                intent_id.clone(),
                action,
                reference,
                key,
                ctx.now,
            ));
            s.updated_at = ctx.now;
            out.push(EventPayload::CarrierCallStarted {
                shipment_id: id,
                intent_id: intent_id.clone(),
                action,
            });
            Ok(())
        })?;
        Ok((intent_id, events))
    }

    /// The index of the shipment whose open intent is `intent`, of `action`.
    fn intent_index(
        &self,
        id: ShipmentId,
        intent: &str,
        action: CarrierAction,
    ) -> DomainResult<usize> {
        let idx = self.shipment_index(id)?;
        holds_intent(&self.shipments[idx].intent, intent, action)?;
        Ok(idx)
    }

    /// Closes an intent whose call did not happen: the carrier refused it, or it never happened
    /// and cannot still happen. A later purchase or void may start.
    pub fn close_carrier_intent(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        intent: &str,
        action: CarrierAction,
        outcome: IntentOutcome,
    ) -> DomainResult<Vec<DomainEvent>> {
        closable(outcome)?;
        self.run(ctx, command_of(action), |o, ctx, out| {
            let idx = o.intent_index(id, intent, action)?;
            o.shipments[idx].intent = None;
            o.shipments[idx].updated_at = ctx.now;
            out.push(EventPayload::CarrierCallOutcome {
                shipment_id: id,
                intent_id: intent.to_owned(),
                action,
                outcome,
            });
            Ok(())
        })
    }

    /// The carrier cannot tell what became of the call: the intent stays, `UNKNOWN`, so nothing
    /// buys or voids again and a person reconciles it.
    pub fn mark_intent_unknown(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        intent: &str,
        action: CarrierAction,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.leave_intent_open(ctx, id, intent, action, IntentState::Unknown, None)
    }

    /// The carrier took the call and is still working on it under its own id `carrier_ref`:
    /// the intent stays, `QUEUED`, and is looked up by that id (by anyone: no call of ours is in
    /// flight any more) until the carrier finishes. Nothing buys or voids again meanwhile.
    pub fn mark_intent_queued(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        intent: &str,
        action: CarrierAction,
        carrier_ref: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        let carrier_ref = required_text("carrierRef", carrier_ref)?;
        self.leave_intent_open(
            ctx,
            id,
            intent,
            action,
            IntentState::Queued,
            Some(carrier_ref),
        )
    }

    /// An open intent left open in `state` (an event only on a change): `UNKNOWN` is final
    /// until a person settles it; `QUEUED` never goes back to `OPEN`.
    fn leave_intent_open(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        intent: &str,
        action: CarrierAction,
        state: IntentState,
        carrier_ref: Option<String>,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, command_of(action), |o, ctx, out| {
            let idx = o.intent_index(id, intent, action)?;
            let s = &mut o.shipments[idx];
            let Some(i) = s.intent.as_mut() else {
                return Ok(());
            };
            if i.state == state || i.state == IntentState::Unknown {
                return Ok(());
            }
            i.state = state;
            if carrier_ref.is_some() {
                i.carrier_ref = carrier_ref;
            }
            s.updated_at = ctx.now;
            out.push(EventPayload::CarrierCallOutcome {
                shipment_id: id,
                intent_id: intent.to_owned(),
                action,
                outcome: match state {
                    IntentState::Queued => IntentOutcome::Queued,
                    _ => IntentOutcome::Unknown,
                },
            });
            Ok(())
        })
    }

    /// The labels were bought under the purchase intent `intent`, one per package in package
    /// order (one for a shipment without packages): CONFIRMED → LABEL_PURCHASED, each package
    /// with its number, label and status LABEL_PURCHASED, the shipment with the first's, and the
    /// intent closed.
    pub fn record_label(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        intent: &str,
        carrier: CarrierCode,
        labels: Vec<PackageLabel>,
        carrier_reference: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        let carrier_reference = required_text("carrierReference", carrier_reference)?;
        let first = labels
            .first()
            .cloned()
            .ok_or_else(|| DomainError::invalid("labels", "a purchase has at least one label"))?;
        self.run(ctx, Command::PurchaseLabel, |o, ctx, out| {
            let idx = o.intent_index(id, intent, CarrierAction::Purchase)?;
            let expected = o.shipments[idx].packages.len().max(1);
            if labels.len() != expected {
                return Err(DomainError::invalid(
                    "labels",
                    format!(
                        "one label per package: {expected} expected, {} bought",
                        labels.len()
                    ),
                ));
            }
            o.move_shipment(
                ctx.now,
                idx,
                ShipmentMove::PurchaseLabel,
                Command::PurchaseLabel,
                out,
            )?;
            let s = &mut o.shipments[idx];
            s.label_key = s.intent.take().and_then(|i| i.key);
            s.label = Some(first.label.clone());
            s.carrier_reference = Some(carrier_reference);
            for (package, bought) in s.packages.iter_mut().zip(&labels) {
                package.tracking_number = Some(bought.tracking_number.clone());
                package.label = Some(bought.label.clone());
                package.status = Some(PackageStatus::LabelPurchased);
            }
            o.record_tracking_details(idx, Some(carrier), Some(first.tracking_number.clone()), out);
            out.push(EventPayload::CarrierCallOutcome {
                shipment_id: id,
                intent_id: intent.to_owned(),
                action: CarrierAction::Purchase,
                outcome: IntentOutcome::Completed,
            });
            Ok(())
        })
    }

    /// The label was voided at the carrier under the void intent `intent`: the shipment is
    /// cancelled (its quantities are free again) and the intent closed.
    pub fn record_void(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        intent: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, Command::VoidLabel, |o, ctx, out| {
            let idx = o.intent_index(id, intent, CarrierAction::Void)?;
            o.move_shipment(ctx.now, idx, ShipmentMove::Cancel, Command::VoidLabel, out)?;
            let s = &mut o.shipments[idx];
            s.void_key = s.intent.take().and_then(|i| i.key);
            out.push(EventPayload::CarrierCallOutcome {
                shipment_id: id,
                intent_id: intent.to_owned(),
                action: CarrierAction::Void,
                outcome: IntentOutcome::Completed,
            });
            Ok(())
        })
    }
}

/// A new open intent of `action`, made now.
pub(super) fn new_intent(
    id: String,
    action: CarrierAction,
    reference: String,
    key: Option<&str>,
    now: Timestamp,
) -> CarrierIntent {
    CarrierIntent {
        id,
        action,
        reference,
        key: key.map(str::to_owned),
        state: IntentState::Open,
        opened_at: now,
        carrier_ref: None,
    }
}

/// Whether `slot` holds the open intent `intent` of `action` (else it was closed meanwhile).
pub(super) fn holds_intent(
    slot: &Option<CarrierIntent>,
    intent: &str,
    action: CarrierAction,
) -> DomainResult<()> {
    match slot {
        Some(i) if i.id == intent && i.action == action => Ok(()),
        _ => Err(DomainError::IntentClosed {
            intent: intent.to_owned(),
        }),
    }
}

/// An intent is closed by hand only as refused or abandoned; a completed one by its outcome.
pub(super) fn closable(outcome: IntentOutcome) -> DomainResult<()> {
    if matches!(outcome, IntentOutcome::Refused | IntentOutcome::Abandoned) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "outcome",
            "an intent is closed as refused or abandoned; a completed one by its outcome",
        ))
    }
}
