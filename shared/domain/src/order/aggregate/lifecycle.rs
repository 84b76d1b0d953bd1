//! Order commands: review, approval, rejection, cancellation, payment, refunds, completion.

use super::*;

impl Order {
    pub fn assign_reviewer(
        &mut self,
        ctx: &mut Ctx<'_>,
        by: &Subject,
        reviewer: Subject,
        comments: Option<&str>,
    ) -> DomainResult<Vec<DomainEvent>> {
        let comments = optional_text("comments", comments)?;
        // Review is a second pair of eyes: whoever assigns it cannot be the one who passes it.
        if &reviewer == by {
            return Err(DomainError::invalid(
                "reviewer",
                "the assigner cannot be the reviewer",
            ));
        }
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

    pub(super) fn check_reviewer(&self, by: &Subject) -> DomainResult<()> {
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
                return Err(o.currency.mismatch(amount.currency()));
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
                    requested: amount.to_string(),
                    available: available.to_string(),
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
}
