//! Returns: request, approve or reject, receive, refund.

use domain::access::Operation;
use domain::ids::ReturnId;
use domain::order::{LineQuantity, Order};

use crate::context::{RequestCtx, UnitOfWork};
use crate::engine::{App, Change, CommandSpec, OrderRef};
use crate::error::AppResult;

/// A step of a return that needs nothing but the return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnStep {
    Approve,
    Reject,
    Receive,
}

impl ReturnStep {
    pub fn operation(self) -> Operation {
        match self {
            ReturnStep::Approve => Operation::ApproveReturn,
            ReturnStep::Reject => Operation::RejectReturn,
            ReturnStep::Receive => Operation::ReceiveReturn,
        }
    }
}

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

    /// Approves, rejects or receives a return.
    pub async fn move_return(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        id: ReturnId,
        step: ReturnStep,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(step.operation(), order);
        self.command(rc, uow, spec, |o, env| match step {
            ReturnStep::Approve => o.approve_return(env.ctx, id),
            ReturnStep::Reject => o.reject_return(env.ctx, id),
            ReturnStep::Receive => o.receive_return(env.ctx, id),
        })
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
