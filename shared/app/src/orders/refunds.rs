//! Refunds without a return.

use domain::Money;
use domain::access::Operation;
use domain::order::Order;

use crate::context::{RequestCtx, UnitOfWork};
use crate::engine::{App, CommandSpec, OrderRef};
use crate::error::AppResult;

impl App {
    /// Refunds `amount` (a decimal string in the order's currency); refused, never cut, above
    /// paid − refunded or the tenant's cap.
    pub async fn refund_order(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        order: OrderRef,
        amount: &str,
        reason: &str,
    ) -> AppResult<Order> {
        let spec = CommandSpec::new(Operation::RefundOrder, order).with_config();
        self.command(rc, uow, spec, |o, env| {
            let amount = Money::parse(amount, o.currency())?;
            o.refund(env.ctx, amount, reason, env.config)
        })
        .await
    }
}
