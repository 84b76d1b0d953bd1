//! Return commands: request, approve, reject, receive, refund.

use super::intents::{holds_intent, outcome_event};
use super::*;
use crate::order::model::ReturnLabel;
use crate::status::{CarrierAction, IntentOutcome};

impl Order {
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
                label: None,
                intent: None,
                label_key: None,
                void_key: None,
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

    pub(super) fn return_command(
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

    /// The index of the return whose open intent is `intent`, of `action`.
    fn return_intent_index(
        &self,
        id: ReturnId,
        intent: &str,
        action: CarrierAction,
    ) -> DomainResult<usize> {
        let idx = self.return_index(id)?;
        holds_intent(&self.returns[idx].intent, intent, action)?;
        Ok(idx)
    }

    /// The return's label was bought under its purchase intent `intent`.
    pub fn record_return_label(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
        intent: &str,
        label: ReturnLabel,
    ) -> DomainResult<Vec<DomainEvent>> {
        required_text("carrierReference", &label.carrier_reference)?;
        self.run(ctx, Command::BuyReturnLabel, |o, ctx, out| {
            let idx = o.return_intent_index(id, intent, CarrierAction::Purchase)?;
            let r = &mut o.returns[idx];
            r.label_key = r.intent.take().and_then(|i| i.key);
            out.push(EventPayload::ReturnLabelPurchased {
                return_id: id,
                carrier: label.carrier.clone(),
                tracking_number: label.tracking_number.clone(),
            });
            r.label = Some(label.clone());
            r.updated_at = ctx.now;
            out.push(outcome_event(
                id.into(),
                intent,
                CarrierAction::Purchase,
                IntentOutcome::Completed,
            ));
            Ok(())
        })
    }

    /// The return's label was voided under its void intent `intent`: the return has no label
    /// (another may be bought).
    pub fn record_return_void(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
        intent: &str,
    ) -> DomainResult<Vec<DomainEvent>> {
        self.run(ctx, Command::VoidReturnLabel, |o, ctx, out| {
            let idx = o.return_intent_index(id, intent, CarrierAction::Void)?;
            let r = &mut o.returns[idx];
            r.void_key = r.intent.take().and_then(|i| i.key);
            let voided = r.label.take();
            r.updated_at = ctx.now;
            out.push(EventPayload::ReturnLabelVoided {
                return_id: id,
                tracking_number: voided.map(|l| l.tracking_number),
            });
            out.push(outcome_event(
                id.into(),
                intent,
                CarrierAction::Void,
                IntentOutcome::Completed,
            ));
            Ok(())
        })
    }

    /// A carrier's update for the return label's number: DELIVERED means the parcel is back,
    /// the same move `receiveReturn` makes (APPROVED → RECEIVED; the refund stays a person's).
    /// Every other status (in transit, a failure, a return to the customer) changes nothing:
    /// the return is APPROVED until the parcel arrives. Never a forward shipment.
    pub fn update_return_tracking(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: ReturnId,
        update: &TrackingUpdate,
    ) -> DomainResult<TrackingOutcome> {
        let events = self.run(ctx, Command::UpdateReturnTracking, |o, ctx, out| {
            let idx = o.return_index(id)?;
            let r = &o.returns[idx];
            let ours = r.label.as_ref().is_some_and(|l| {
                update
                    .tracking_number
                    .as_ref()
                    .is_none_or(|n| *n == l.tracking_number)
            });
            if !ours
                || r.intent.is_some()
                || update.status != TrackingStatus::Delivered
                || r.status != ReturnStatus::Approved
            {
                return Ok(());
            }
            o.move_return(ctx.now, idx, ReturnMove::Receive, out)
        })?;
        if events.is_empty() {
            Ok(TrackingOutcome::Ignored {
                status: ShipmentStatus::Pending,
            })
        } else {
            Ok(TrackingOutcome::Applied(events))
        }
    }
}
