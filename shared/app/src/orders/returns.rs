//! Returns: request, approve or reject, receive, refund.

use domain::access::Operation;
use domain::ids::ReturnId;
use domain::order::{LineQuantity, Order};

use crate::context::{RequestCtx, UnitOfWork};
use crate::engine::{App, Change, CommandSpec, OrderRef};
use crate::error::AppResult;

impl App {
    /// Requests a return; returns the order and the new return's id.
    pub async fn request_return(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        lines: &[LineQuantity],
        reason: &str,
    ) -> AppResult<(Order, ReturnId)> {
        let spec = CommandSpec::new(Operation::RequestReturn, order);
        self.order_command(rc, uow, spec, |o, env| {
            let (id, events) = o.request_return(env.ctx, lines, reason)?;
            Ok(Change { events, value: id })
        })
        .await
    }

    pub async fn approve_return(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        id: ReturnId,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::ApproveReturn, order);
        self.command(rc, uow, spec, |o, env| o.approve_return(env.ctx, id))
            .await
    }

    pub async fn reject_return(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        id: ReturnId,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::RejectReturn, order);
        self.command(rc, uow, spec, |o, env| o.reject_return(env.ctx, id))
            .await
    }

    pub async fn receive_return(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        id: ReturnId,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::ReceiveReturn, order);
        self.command(rc, uow, spec, |o, env| o.receive_return(env.ctx, id))
            .await
    }

    /// Refunds a received return: gross − restocking fee, capped, never above what remains paid
    /// (the tenant config is read in the same batch as the order).
    pub async fn refund_return(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        id: ReturnId,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::RefundReturn, order).with_config();
        self.command(rc, uow, spec, |o, env| {
            Ok(o.refund_return(env.ctx, id, env.config)?.1)
        })
        .await
    }
}
