//! The command runner: every command runs on a copy through `run`, which checks the command
//! against the order status, raises the version and wraps the payloads as events; and the moves
//! of the state machines it uses.

use super::*;

impl Order {
    pub(super) fn event(&self, ctx: &mut Ctx<'_>, payload: EventPayload) -> DomainEvent {
        DomainEvent {
            event_id: EventId::from_ulid(ctx.ids.next_ulid()),
            schema_version: EVENT_SCHEMA_VERSION,
            tenant: self.tenant.clone(),
            order_id: self.id,
            aggregate_version: self.version,
            occurred_at: ctx.now,
            payload,
        }
    }

    /// Checks the command × order-status table, runs `f` on a draft and commits the draft only
    /// when `f` succeeds and changed something (emitted at least one event).
    pub(super) fn run<F>(
        &mut self,
        ctx: &mut Ctx<'_>,
        command: Command,
        f: F,
    ) -> DomainResult<Vec<DomainEvent>>
    where
        F: FnOnce(&mut Order, &mut Ctx<'_>, &mut Vec<EventPayload>) -> DomainResult<()>,
    {
        if !command_allowed(command, self.status) {
            return Err(DomainError::NotAllowedInStatus {
                command,
                status: self.status,
            });
        }
        let mut draft = self.clone();
        let mut payloads = Vec::new();
        f(&mut draft, ctx, &mut payloads)?;
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        draft.version += 1;
        draft.updated_at = ctx.now;
        let events = payloads.into_iter().map(|p| draft.event(ctx, p)).collect();
        *self = draft;
        Ok(events)
    }

    pub(super) fn set_status(
        &mut self,
        to: OrderStatus,
        cause: Command,
        out: &mut Vec<EventPayload>,
    ) {
        if self.status != to {
            out.push(EventPayload::OrderStatusChanged {
                from: self.status,
                to,
                cause,
            });
            self.status = to;
        }
    }

    pub(super) fn move_order(
        &mut self,
        mv: OrderMove,
        cause: Command,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let to = order_transition(self.status, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Order,
            from: self.status.as_str(),
            to: cause.as_str(),
        })?;
        self.set_status(to, cause, out);
        Ok(())
    }

    /// Re-derives the status from the shipments while the roll-up governs it.
    pub(super) fn apply_roll_up(&mut self, cause: Command, out: &mut Vec<EventPayload>) {
        if self.status.is_rolled_up() {
            let to = roll_up(&self.lines, &self.shipments);
            self.set_status(to, cause, out);
        }
    }

    pub(super) fn shipment_index(&self, id: ShipmentId) -> DomainResult<usize> {
        self.shipments
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| DomainError::NotFound {
                what: "shipment",
                id: id.to_string(),
            })
    }

    pub(super) fn return_index(&self, id: ReturnId) -> DomainResult<usize> {
        self.returns
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| DomainError::NotFound {
                what: "return",
                id: id.to_string(),
            })
    }

    /// Moves one shipment through its table, then rolls the order status up.
    /// Moves a shipment as a whole (a command, or an update naming no package): its bought
    /// packages that can follow move with it.
    pub(super) fn move_shipment(
        &mut self,
        now: Timestamp,
        idx: usize,
        mv: ShipmentMove,
        cause: Command,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        self.shift_shipment(now, idx, mv, cause, out)?;
        let shipment = &mut self.shipments[idx];
        let follow = PackageStatus::of_shipment(shipment.status).map(PackageStatus::tracking);
        for package in &mut shipment.packages {
            if let (Some(from), Some(status)) = (package.status, follow)
                && let Some(to) = package_transition(from, status)
            {
                package.status = Some(to);
            }
        }
        Ok(())
    }

    /// Moves a shipment's own status (the packages stay where they are: a roll-up of theirs).
    pub(super) fn shift_shipment(
        &mut self,
        now: Timestamp,
        idx: usize,
        mv: ShipmentMove,
        cause: Command,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let shipment = &mut self.shipments[idx];
        if let Some(intent) = &shipment.intent
            && !matches!(cause, Command::PurchaseLabel | Command::VoidLabel)
        {
            return Err(DomainError::CarrierCallInProgress {
                action: intent.action,
            });
        }
        let from = shipment.status;
        let to = shipment_transition(from, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Shipment,
            from: from.as_str(),
            to: mv.as_str(),
        })?;
        shipment.status = to;
        shipment.updated_at = now;
        out.push(EventPayload::ShipmentStatusChanged {
            shipment_id: shipment.id,
            from,
            to,
            cause,
        });
        self.apply_roll_up(cause, out);
        Ok(())
    }

    pub(super) fn move_payment(
        &mut self,
        mv: PaymentMove,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let from = self.payment.status;
        let to = payment_transition(from, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Payment,
            from: from.as_str(),
            to: match mv {
                PaymentMove::MarkPaid => "PAID",
                PaymentMove::RefundPart => "PARTIALLY_REFUNDED",
                PaymentMove::RefundRest => "REFUNDED",
            },
        })?;
        if from != to {
            out.push(EventPayload::PaymentStatusChanged { from, to });
            self.payment.status = to;
        }
        Ok(())
    }

    pub(super) fn move_return(
        &mut self,
        now: Timestamp,
        idx: usize,
        mv: ReturnMove,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<()> {
        let ret = &mut self.returns[idx];
        // A return-label purchase or void in flight owns the return until its outcome is in.
        if let Some(intent) = &ret.intent {
            return Err(DomainError::CarrierCallInProgress {
                action: intent.action,
            });
        }
        let from = ret.status;
        let to = return_transition(from, mv).ok_or(DomainError::InvalidTransition {
            entity: Entity::Return,
            from: from.as_str(),
            to: mv.as_str(),
        })?;
        ret.status = to;
        ret.updated_at = now;
        out.push(EventPayload::ReturnStatusChanged {
            return_id: ret.id,
            from,
            to,
        });
        Ok(())
    }

    /// Records a refund of `amount` (already bounded) and moves the payment status.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_refund(
        &mut self,
        ctx: &mut Ctx<'_>,
        amount: Money,
        reason: String,
        return_id: Option<ReturnId>,
        gross: Option<Money>,
        fee: Option<Money>,
        config: &TenantConfig,
        out: &mut Vec<EventPayload>,
    ) -> DomainResult<RefundId> {
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(DomainError::LimitExceeded {
                what: "refunds per order",
                max: MAX_REFUNDS,
            });
        }
        let id = RefundId::from_ulid(ctx.ids.next_ulid());
        if !amount.is_zero() {
            self.payment.refunded = self.payment.refunded.checked_add(&amount)?;
            let mv = if self.payment.refunded == self.payment.paid {
                PaymentMove::RefundRest
            } else {
                PaymentMove::RefundPart
            };
            self.move_payment(mv, out)?;
        }
        self.refunds.push(Refund {
            id,
            amount,
            reason,
            return_id,
            gross,
            fee,
            config_version: config.version(),
            at: ctx.now,
        });
        out.push(EventPayload::RefundIssued {
            refund_id: id,
            amount,
            return_id,
            config_version: config.version(),
        });
        Ok(id)
    }
}
