//! Return commands: request, approve, reject, receive, refund.

use super::*;

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
}
