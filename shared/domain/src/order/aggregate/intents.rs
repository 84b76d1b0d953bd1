//! Carrier intents: a label purchase or void is recorded on what it is for — a shipment, or a
//! return's own label — before the carrier is called, and its outcome is committed against that
//! intent. While an intent is open nothing else moves its shipment or return, so a second
//! purchase, a cancellation or a dispatch cannot race the call, and a crash between the call and
//! the commit leaves a record of what to look up.

use super::*;
use crate::order::model::CarrierIntent;
use crate::status::{CarrierAction, IntentOutcome, IntentState, PackageStatus};

/// What a carrier call is for: a shipment's labels, or a return's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CarrierTarget {
    Shipment(ShipmentId),
    Return(ReturnId),
}

impl From<ShipmentId> for CarrierTarget {
    fn from(id: ShipmentId) -> Self {
        CarrierTarget::Shipment(id)
    }
}

impl From<ReturnId> for CarrierTarget {
    fn from(id: ReturnId) -> Self {
        CarrierTarget::Return(id)
    }
}

impl CarrierTarget {
    /// What it is, in an error or audit record: `shipment` or `return`.
    pub fn kind(self) -> &'static str {
        match self {
            CarrierTarget::Shipment(_) => "shipment",
            CarrierTarget::Return(_) => "return",
        }
    }
}

impl std::fmt::Display for CarrierTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CarrierTarget::Shipment(id) => write!(f, "{id}"),
            CarrierTarget::Return(id) => write!(f, "{id}"),
        }
    }
}

/// The shipment status an action starts from.
fn starts_from(action: CarrierAction) -> ShipmentStatus {
    match action {
        CarrierAction::Purchase => ShipmentStatus::Confirmed,
        CarrierAction::Void => ShipmentStatus::LabelPurchased,
    }
}

/// The command an intent of `action` on `target` runs as.
fn command_of(target: CarrierTarget, action: CarrierAction) -> Command {
    match (target, action) {
        (CarrierTarget::Shipment(_), CarrierAction::Purchase) => Command::PurchaseLabel,
        (CarrierTarget::Shipment(_), CarrierAction::Void) => Command::VoidLabel,
        (CarrierTarget::Return(_), CarrierAction::Purchase) => Command::BuyReturnLabel,
        (CarrierTarget::Return(_), CarrierAction::Void) => Command::VoidReturnLabel,
    }
}

/// The event of an intent's outcome on `target`.
pub(super) fn outcome_event(
    target: CarrierTarget,
    intent: &str,
    action: CarrierAction,
    outcome: IntentOutcome,
) -> EventPayload {
    let intent_id = intent.to_owned();
    match target {
        CarrierTarget::Shipment(shipment_id) => EventPayload::CarrierCallOutcome {
            shipment_id,
            intent_id,
            action,
            outcome,
        },
        CarrierTarget::Return(return_id) => EventPayload::ReturnCarrierCallOutcome {
            return_id,
            intent_id,
            action,
            outcome,
        },
    }
}

impl Order {
    /// The open carrier intent of a shipment or return, if any (`None` also when it is not
    /// there).
    pub fn intent_of(&self, target: CarrierTarget) -> Option<&CarrierIntent> {
        match target {
            CarrierTarget::Shipment(id) => self.shipment(id).and_then(|s| s.intent.as_ref()),
            CarrierTarget::Return(id) => self.return_(id).and_then(|r| r.intent.as_ref()),
        }
    }

    /// Records that a carrier call is about to be made for a shipment or a return: a shipment's
    /// purchase needs it CONFIRMED, its void LABEL_PURCHASED; a return's purchase needs it
    /// APPROVED without a label, its void APPROVED with one; neither may start while another
    /// intent is open there. `reference` is what identifies the call at the carrier; the new
    /// intent's id is returned.
    pub fn open_carrier_intent(
        &mut self,
        ctx: &mut Ctx<'_>,
        target: impl Into<CarrierTarget>,
        action: CarrierAction,
        reference: &str,
        key: Option<&str>,
    ) -> DomainResult<(String, Vec<DomainEvent>)> {
        let target = target.into();
        let reference = required_text("reference", reference)?;
        let intent_id = ctx.ids.next_ulid().to_string();
        let command = command_of(target, action);
        let events = self.run(ctx, command, |o, ctx, out| {
            let (slot, updated_at) = match target {
                CarrierTarget::Shipment(id) => {
                    let idx = o.shipment_index(id)?;
                    let s = &mut o.shipments[idx];
                    in_progress(&s.intent)?;
                    if s.status != starts_from(action) {
                        return Err(DomainError::InvalidTransition {
                            entity: Entity::Shipment,
                            from: s.status.as_str(),
                            to: command.as_str(),
                        });
                    }
                    out.push(EventPayload::CarrierCallStarted {
                        shipment_id: id,
                        intent_id: intent_id.clone(),
                        action,
                    });
                    (&mut s.intent, &mut s.updated_at)
                }
                CarrierTarget::Return(id) => {
                    let idx = o.return_index(id)?;
                    let r = &mut o.returns[idx];
                    in_progress(&r.intent)?;
                    let ready = r.status == ReturnStatus::Approved
                        && match action {
                            CarrierAction::Purchase => r.label.is_none(),
                            CarrierAction::Void => r.label.is_some(),
                        };
                    if !ready {
                        return Err(DomainError::InvalidTransition {
                            entity: Entity::Return,
                            from: r.status.as_str(),
                            to: command.as_str(),
                        });
                    }
                    out.push(EventPayload::ReturnCarrierCallStarted {
                        return_id: id,
                        intent_id: intent_id.clone(),
                        action,
                    });
                    (&mut r.intent, &mut r.updated_at)
                }
            };
            *slot = Some(new_intent(
                intent_id.clone(),
                action,
                reference,
                key,
                ctx.now,
            ));
            *updated_at = ctx.now;
            Ok(())
        })?;
        Ok((intent_id, events))
    }

    /// The open intent `intent` of `action` on a shipment or return, with its `updated_at`
    /// (else `IntentClosed`: it was closed meanwhile).
    fn intent_slot(
        &mut self,
        target: CarrierTarget,
        intent: &str,
        action: CarrierAction,
    ) -> DomainResult<(&mut Option<CarrierIntent>, &mut Timestamp)> {
        let (slot, updated_at) = match target {
            CarrierTarget::Shipment(id) => {
                let idx = self.shipment_index(id)?;
                let s = &mut self.shipments[idx];
                (&mut s.intent, &mut s.updated_at)
            }
            CarrierTarget::Return(id) => {
                let idx = self.return_index(id)?;
                let r = &mut self.returns[idx];
                (&mut r.intent, &mut r.updated_at)
            }
        };
        holds_intent(slot, intent, action)?;
        Ok((slot, updated_at))
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
        target: impl Into<CarrierTarget>,
        intent: &str,
        action: CarrierAction,
        outcome: IntentOutcome,
    ) -> DomainResult<Vec<DomainEvent>> {
        let target = target.into();
        closable(outcome)?;
        self.run(ctx, command_of(target, action), |o, ctx, out| {
            let (slot, updated_at) = o.intent_slot(target, intent, action)?;
            *slot = None;
            *updated_at = ctx.now;
            out.push(outcome_event(target, intent, action, outcome));
            Ok(())
        })
    }

    /// The carrier cannot tell what became of the call: the intent stays, `UNKNOWN`, so nothing
    /// buys or voids again and a person reconciles it.
    pub fn mark_intent_unknown(
        &mut self,
        ctx: &mut Ctx<'_>,
        target: impl Into<CarrierTarget>,
        intent: &str,
        action: CarrierAction,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.leave_intent_open(
            ctx,
            target.into(),
            intent,
            action,
            IntentState::Unknown,
            None,
        )
    }

    /// The carrier took the call and is still working on it under its own id `carrier_ref`:
    /// the intent stays, `QUEUED`, and is looked up by that id (by anyone: no call of ours is in
    /// flight any more) until the carrier finishes. Nothing buys or voids again meanwhile.
    pub fn mark_intent_queued(
        &mut self,
        ctx: &mut Ctx<'_>,
        target: impl Into<CarrierTarget>,
        intent: &str,
        action: CarrierAction,
        carrier_ref: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        let carrier_ref = required_text("carrierRef", carrier_ref)?;
        self.leave_intent_open(
            ctx,
            target.into(),
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
        target: CarrierTarget,
        intent: &str,
        action: CarrierAction,
        state: IntentState,
        carrier_ref: Option<String>,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, command_of(target, action), |o, ctx, out| {
            let (slot, updated_at) = o.intent_slot(target, intent, action)?;
            let Some(i) = slot.as_mut() else {
                return Ok(());
            };
            if i.state == state || i.state == IntentState::Unknown {
                return Ok(());
            }
            i.state = state;
            if carrier_ref.is_some() {
                i.carrier_ref = carrier_ref;
            }
            *updated_at = ctx.now;
            let outcome = match state {
                IntentState::Queued => IntentOutcome::Queued,
                _ => IntentOutcome::Unknown,
            };
            out.push(outcome_event(target, intent, action, outcome));
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
        let bought = Bought {
            carrier,
            labels,
            carrier_reference,
            customs_form_url: None,
            insurance_charge: None,
        };
        self.record_purchase(ctx, id, intent, bought)
    }

    /// `record_label` with what else the carrier answered: the customs form's URL and the
    /// insurance charge, kept on the shipment.
    pub fn record_purchase(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ShipmentId,
        intent: &str,
        bought: Bought<'_>,
    ) -> DomainResult<Vec<DomainEvent>> {
        let Bought {
            carrier,
            labels,
            carrier_reference,
            customs_form_url,
            insurance_charge,
        } = bought;
        let carrier_reference = required_text("carrierReference", carrier_reference)?;
        let customs_form_url = optional_text("customsFormUrl", customs_form_url.as_deref())?;
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
            s.customs_form_url = customs_form_url;
            s.insurance_charge = insurance_charge;
            for (package, bought) in s.packages.iter_mut().zip(&labels) {
                package.tracking_number = Some(bought.tracking_number.clone());
                package.label = Some(bought.label.clone());
                package.status = Some(PackageStatus::LabelPurchased);
            }
            o.record_tracking_details(idx, Some(carrier), Some(first.tracking_number.clone()), out);
            out.push(outcome_event(
                id.into(),
                intent,
                CarrierAction::Purchase,
                IntentOutcome::Completed,
            ));
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
            out.push(outcome_event(
                id.into(),
                intent,
                CarrierAction::Void,
                IntentOutcome::Completed,
            ));
            Ok(())
        })
    }
}

/// A purchase as the carrier answered it: the carrier, a label per package, what voids it, and
/// the customs form and insurance charge where there are any.
#[derive(Debug, Clone)]
pub struct Bought<'a> {
    pub carrier: CarrierCode,
    pub labels: Vec<PackageLabel>,
    pub carrier_reference: &'a str,
    pub customs_form_url: Option<String>,
    pub insurance_charge: Option<crate::money::Money>,
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

/// Refused while another intent is open.
fn in_progress(slot: &Option<CarrierIntent>) -> DomainResult<()> {
    match slot {
        Some(open) => Err(DomainError::CarrierCallInProgress {
            action: open.action,
        }),
        None => Ok(()),
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
