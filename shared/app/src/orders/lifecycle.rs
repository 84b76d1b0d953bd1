//! Creating an order and moving it through review, payment, cancellation and completion.

use domain::access::Operation;
use domain::ids::{OrderId, Subject};
use domain::order::{LineQuantity, NewOrder, Order};

use crate::authz::Target;
use crate::context::{Pending, RequestCtx, UnitOfWork};
use crate::engine::{App, CommandSpec, OrderRef};
use crate::error::{AppError, AppResult};

/// An order taken in by a webhook, and whether this delivery created it.
#[derive(Debug, Clone)]
pub struct AddedOrder {
    pub order: Order,
    pub created: bool,
}

impl App {
    pub async fn create_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        new: NewOrder,
    ) -> AppResult<Order> {
        let op = Operation::CreateOrder;
        self.check(rc, op, Target::Tenant).await?;
        self.create_order_as(rc, uow, op, new).await
    }

    /// Order intake from a tenant's signed webhook: idempotent by the tenant's external
    /// reference (required here) — a repeat answers with the existing order, never a second.
    pub async fn webhook_add_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        new: NewOrder,
    ) -> AppResult<AddedOrder> {
        self.intake_order(rc, uow, Operation::WebhookAddOrder, new)
            .await
    }

    /// Order intake from a tenant's automation (`op`: a signed webhook, or an `OrderSubmitted`
    /// event): idempotent by the external reference, which is required.
    pub async fn intake_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        op: Operation,
        new: NewOrder,
    ) -> AppResult<AddedOrder> {
        if !matches!(
            op,
            Operation::WebhookAddOrder | Operation::ConsumeTenantEvents
        ) {
            return Err(AppError::internal(
                "intake_order under a non-intake operation",
            ));
        }
        let identity = self.enter(rc, op).await?.clone();
        let external_ref = new.external_ref.clone().ok_or_else(|| AppError::Invalid {
            field: "externalRef".into(),
            message: "required: intake is idempotent by it".into(),
        })?;
        if let Some(id) = self
            .orders
            .id_by_external_ref(identity.scope(), &external_ref)
            .await?
        {
            let stored = self
                .orders
                .load(identity.scope(), id)
                .await?
                .ok_or(AppError::NotFound { what: "order" })?;
            return Ok(AddedOrder {
                order: stored.order,
                created: false,
            });
        }
        let order = self.create_order_as(rc, uow, op, new).await?;
        Ok(AddedOrder {
            order,
            created: true,
        })
    }

    /// Creates an order as `op` (already authorized), audited under that operation.
    async fn create_order_as(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        op: Operation,
        new: NewOrder,
    ) -> AppResult<Order> {
        let identity = rc.identity(op)?.clone();
        let now = self.now();
        let id = OrderId::from_ulid(self.next_id()?);
        let (order, events) = self.with_ctx(now, |ctx| {
            let (tenant, by) = (identity.tenant().clone(), identity.subject().clone());
            Ok(Order::create(ctx, id, tenant, by, new)?)
        })?;
        let audit = self.audit(rc, &identity, op, ("order", id.to_string()), Some(1), now)?;
        let command = audit.id.to_string();
        let pending = Pending::Create {
            identity: identity.clone(),
            order: Box::new(order.clone()),
            events,
            audit,
        };
        match self.submit(uow, pending).await {
            // The order id is new: "already exists" means a lost response whose retry found this
            // very write, unless the reload says otherwise.
            Err(AppError::Conflict(why)) if !uow.is_deferred() => {
                match self.landed(&identity, id, &command).await? {
                    Some(landed) => Ok(landed),
                    None => Err(AppError::Conflict(why)),
                }
            }
            other => other.map(|()| order),
        }
    }

    /// Names the reviewer; while one is assigned, only they may approve or reject.
    pub async fn assign_order_reviewer(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        reviewer: Subject,
        comments: Option<&str>,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::AssignOrderReviewer, order);
        self.command(rc, uow, spec, |o, env| {
            let by = env.identity.subject();
            o.assign_reviewer(env.ctx, by, reviewer.clone(), comments)
        })
        .await
    }

    pub async fn approve_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        comments: Option<&str>,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::ApproveOrder, order);
        self.command(rc, uow, spec, |o, env| {
            o.approve(env.ctx, env.identity.subject(), comments)
        })
        .await
    }

    pub async fn reject_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        reason: &str,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::RejectOrder, order);
        self.command(rc, uow, spec, |o, env| {
            o.reject(env.ctx, env.identity.subject(), reason)
        })
        .await
    }

    /// Cancels the order and its undispatched shipments.
    pub async fn cancel_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        reason: Option<&str>,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::CancelOrder, order);
        self.command(rc, uow, spec, |o, env| o.cancel(env.ctx, reason))
            .await
    }

    /// Cancels unallocated quantities of some lines.
    pub async fn cancel_order_lines(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        lines: &[LineQuantity],
        reason: Option<&str>,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::CancelOrderLines, order);
        self.command(rc, uow, spec, |o, env| {
            o.cancel_lines(env.ctx, lines, reason)
        })
        .await
    }

    pub async fn mark_order_paid(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        payment_reference: &str,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::MarkOrderPaid, order);
        self.command(rc, uow, spec, |o, env| {
            o.mark_paid(env.ctx, payment_reference)
        })
        .await
    }

    pub async fn complete_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::CompleteOrder, order);
        self.command(rc, uow, spec, |o, env| o.complete(env.ctx))
            .await
    }
}
