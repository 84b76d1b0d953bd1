//! The mutation root. Every resolver parses its arguments, runs one use case and renders the
//! result; business-rule refusals become the payload's `userErrors`.

use std::future::Future;

use app::{AppError, AppResult, OrderRef, ReturnStep, ShipmentStep, Tracked, TrackingChange};
use async_graphql::{Context, ID, Object, SimpleObject};
use domain::access::Operation;
use domain::ids::{CarrierCode, ReturnId, ShipmentId, Subject, TrackingNumber};
use domain::order::{Order, TrackingUpdate};

use crate::api_keys::{ApiKeyInput, ApiKeyPayload, ApiKeyV, CreateApiKeyPayload};
use crate::credentials::{CarrierCredentialPayload, CarrierCredentialV, CarrierCredentialsInput};
use crate::errors::split;
use crate::inputs::{
    CreateOrderInput, CreateShipmentInput, LineQuantityInput, TenantConfigInput, line_quantities,
};
use crate::state::{Req, order_id};
use crate::views::{OrderV, ReturnV, ShipmentV, TenantConfigV, TrackingStatus, UserError};

#[derive(SimpleObject, Default)]
pub struct OrderPayload {
    pub order: Option<OrderV>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct ShipmentPayload {
    pub order: Option<OrderV>,
    pub shipment: Option<ShipmentV>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct ReturnPayload {
    pub order: Option<OrderV>,
    #[graphql(name = "return")]
    pub return_: Option<ReturnV>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct TrackingPayload {
    pub order: Option<OrderV>,
    /// True when the update changed nothing (backwards, terminal, or nothing new).
    pub ignored: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct TenantConfigPayload {
    pub tenant_config: Option<TenantConfigV>,
    pub user_errors: Vec<UserError>,
}

/// A payload that can carry user errors instead of its result.
pub(crate) trait WithUserErrors: Default {
    fn user_errors(user_errors: Vec<UserError>) -> Self;
}

/// Implements [`WithUserErrors`] for payloads whose other fields default.
macro_rules! with_user_errors {
    ($($t:ty),+) => {$(
        impl $crate::mutation::WithUserErrors for $t {
            fn user_errors(user_errors: Vec<$crate::views::UserError>) -> Self {
                Self { user_errors, ..Self::default() }
            }
        }
    )+};
}

pub(crate) use with_user_errors;

with_user_errors!(
    ApiKeyPayload,
    CreateApiKeyPayload,
    CarrierCredentialPayload,
    OrderPayload,
    ShipmentPayload,
    ReturnPayload,
    TrackingPayload,
    TenantConfigPayload
);

/// The payload of a use case's result: its view, or its user errors.
pub(crate) fn payload<T, P: WithUserErrors>(
    result: AppResult<T>,
    view: impl FnOnce(T) -> P,
) -> async_graphql::Result<P> {
    Ok(match split(result)? {
        Ok(v) => view(v),
        Err(user_errors) => P::user_errors(user_errors),
    })
}

impl Req {
    fn order_view(&self, o: &Order) -> OrderV {
        OrderV::new(o, self.rc.tenant_identity())
    }

    /// Every mutation's shape: the parsed input admitted (FORBIDDEN comes before any input
    /// error), the use case run, its result rendered by `view` or its refusals as user errors.
    pub(crate) async fn mutate<I, T, P, Fut>(
        &self,
        op: Operation,
        input: AppResult<I>,
        use_case: impl FnOnce(I) -> Fut,
        view: impl FnOnce(T) -> P,
    ) -> async_graphql::Result<P>
    where
        Fut: Future<Output = AppResult<T>>,
        P: WithUserErrors,
    {
        payload(self.run(op, input, use_case).await, view)
    }

    /// [`Req::mutate`] for the commands whose result is the order.
    async fn mutate_order<I, Fut>(
        &self,
        op: Operation,
        input: AppResult<I>,
        use_case: impl FnOnce(I) -> Fut,
    ) -> async_graphql::Result<OrderPayload>
    where
        Fut: Future<Output = AppResult<Order>>,
    {
        self.mutate(op, input, use_case, |o| OrderPayload {
            order: Some(self.order_view(&o)),
            user_errors: Vec::new(),
        })
        .await
    }
}

/// The order a command names, at the version the caller expects.
fn order_ref(id: &ID, expected_version: Option<u64>) -> AppResult<OrderRef> {
    Ok(OrderRef::new(order_id(id)?, expected_version))
}

/// The order a command names and one more parsed argument.
fn order_and<T>(
    id: &ID,
    expected_version: Option<u64>,
    other: AppResult<T>,
) -> AppResult<(OrderRef, T)> {
    Ok((order_ref(id, expected_version)?, other?))
}

fn shipment_id(id: &ID) -> AppResult<ShipmentId> {
    ShipmentId::parse(id.as_str()).map_err(|_| AppError::NotFound { what: "shipment" })
}

fn return_id(id: &ID) -> AppResult<ReturnId> {
    ReturnId::parse(id.as_str()).map_err(|_| AppError::NotFound { what: "return" })
}

/// An optional carrier and tracking number, parsed.
fn carrier_and_number(
    carrier: Option<&str>,
    number: Option<&str>,
) -> AppResult<(Option<CarrierCode>, Option<TrackingNumber>)> {
    Ok((
        carrier.map(CarrierCode::parse).transpose()?,
        number.map(TrackingNumber::parse).transpose()?,
    ))
}

/// A shipment step (confirm, cancel, mark delivered) on a shipment of an order.
async fn shipment_step(
    ctx: &Context<'_>,
    order_id: &ID,
    shipment_id: &ID,
    expected_version: Option<u64>,
    step: ShipmentStep,
) -> async_graphql::Result<OrderPayload> {
    let r = Req::of(ctx).await?;
    let input = order_and(order_id, expected_version, self::shipment_id(shipment_id));
    r.mutate_order(step.operation(), input, |(o, s)| {
        r.app.move_shipment(&r.rc, &r.uow, o, s, step)
    })
    .await
}

/// A return step (approve, reject, receive) on a return of an order.
async fn return_step(
    ctx: &Context<'_>,
    order_id: &ID,
    return_id: &ID,
    expected_version: Option<u64>,
    step: ReturnStep,
) -> async_graphql::Result<OrderPayload> {
    let r = Req::of(ctx).await?;
    let input = order_and(order_id, expected_version, self::return_id(return_id));
    r.mutate_order(step.operation(), input, |(o, id)| {
        r.app.move_return(&r.rc, &r.uow, o, id, step)
    })
    .await
}

#[derive(Default)]
pub struct MutationRoot;

/// The tenants' changes: merged with the platform admin's into the root `Mutation`.
#[Object(name = "TenantMutation")]
impl MutationRoot {
    async fn create_order(
        &self,
        ctx: &Context<'_>,
        input: CreateOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let new = input.parse().map_err(AppError::from);
        r.mutate_order(Operation::CreateOrder, new, |new| {
            r.app.create_order(&r.rc, &r.uow, new)
        })
        .await
    }

    async fn assign_order_reviewer(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reviewer: String,
        comments: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let op = Operation::AssignOrderReviewer;
        let reviewer = Subject::parse(&reviewer).map_err(AppError::from);
        let input = order_and(&order_id, expected_version, reviewer);
        r.mutate_order(op, input, |(o, reviewer)| {
            let comments = comments.as_deref();
            r.app
                .assign_order_reviewer(&r.rc, &r.uow, o, reviewer, comments)
        })
        .await
    }

    async fn approve_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        comments: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = order_ref(&order_id, expected_version);
        r.mutate_order(Operation::ApproveOrder, input, |o| {
            r.app.approve_order(&r.rc, &r.uow, o, comments.as_deref())
        })
        .await
    }

    async fn reject_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: String,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = order_ref(&order_id, expected_version);
        r.mutate_order(Operation::RejectOrder, input, |o| {
            r.app.reject_order(&r.rc, &r.uow, o, &reason)
        })
        .await
    }

    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = order_ref(&order_id, expected_version);
        r.mutate_order(Operation::CancelOrder, input, |o| {
            r.app.cancel_order(&r.rc, &r.uow, o, reason.as_deref())
        })
        .await
    }

    async fn cancel_order_lines(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        lines: Vec<LineQuantityInput>,
        reason: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let lines = line_quantities(&lines).map_err(AppError::from);
        let input = order_and(&order_id, expected_version, lines);
        r.mutate_order(Operation::CancelOrderLines, input, |(o, lines)| {
            let r = &r;
            async move {
                let reason = reason.as_deref();
                r.app
                    .cancel_order_lines(&r.rc, &r.uow, o, &lines, reason)
                    .await
            }
        })
        .await
    }

    async fn mark_order_paid(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        payment_reference: String,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = order_ref(&order_id, expected_version);
        r.mutate_order(Operation::MarkOrderPaid, input, |o| {
            r.app.mark_order_paid(&r.rc, &r.uow, o, &payment_reference)
        })
        .await
    }

    async fn create_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        input: CreateShipmentInput,
        expected_version: Option<u64>,
        #[graphql(
            desc = "Check the destination with a carrier first: STRICT refuses an undeliverable one (ADDRESS_INVALID, nothing written), WARN keeps the carrier's remarks on the shipment."
        )]
        verify: Option<crate::inputs::VerifyInput>,
    ) -> async_graphql::Result<ShipmentPayload> {
        let r = Req::of(ctx).await?;
        let new = input.parse().and_then(|new| {
            let verify = verify.as_ref().map(|v| v.parse()).transpose()?;
            Ok((new, verify))
        });
        let input = order_and(&order_id, expected_version, new.map_err(AppError::from));
        r.mutate(
            Operation::CreateShipment,
            input,
            |(o, (new, verify))| {
                r.app
                    .create_shipment_verified(&r.rc, &r.uow, o, new, verify)
            },
            |(o, id)| ShipmentPayload {
                shipment: o.shipment(id).map(ShipmentV::from),
                order: Some(r.order_view(&o)),
                user_errors: Vec::new(),
            },
        )
        .await
    }

    async fn confirm_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let step = ShipmentStep::Confirm;
        shipment_step(ctx, &order_id, &shipment_id, expected_version, step).await
    }

    /// On its way, optionally with its carrier (any case; stored lower-case) and tracking number.
    /// A number another shipment of the tenant holds is refused: `TRACKING_NUMBER_TAKEN`.
    async fn dispatch_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        carrier: Option<String>,
        tracking_number: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let parsed = self::shipment_id(&shipment_id).and_then(|s| {
            let (c, n) = carrier_and_number(carrier.as_deref(), tracking_number.as_deref())?;
            Ok((s, c, n))
        });
        let input = order_and(&order_id, expected_version, parsed);
        r.mutate_order(Operation::DispatchShipment, input, |(o, (s, c, n))| {
            r.app.dispatch_shipment(&r.rc, &r.uow, o, s, c, n)
        })
        .await
    }

    /// A tracking status, optionally with a new carrier (any case; stored lower-case) and tracking
    /// number. A number another shipment of the tenant holds is refused: `TRACKING_NUMBER_TAKEN`.
    #[allow(clippy::too_many_arguments)]
    async fn update_shipment_tracking(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        status: TrackingStatus,
        carrier: Option<String>,
        tracking_number: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<TrackingPayload> {
        let r = Req::of(ctx).await?;
        let change = self::shipment_id(&shipment_id).and_then(|shipment| {
            let (carrier, tracking_number) =
                carrier_and_number(carrier.as_deref(), tracking_number.as_deref())?;
            let update = TrackingUpdate {
                carrier,
                tracking_number,
                status: status.into(),
                carrier_status: None,
            };
            Ok(TrackingChange { shipment, update })
        });
        let input = order_and(&order_id, expected_version, change);
        r.mutate(
            Operation::UpdateShipmentTracking,
            input,
            |(o, change)| r.app.update_shipment_tracking(&r.rc, &r.uow, o, change),
            |Tracked { order, ignored }| TrackingPayload {
                order: Some(r.order_view(&order)),
                ignored,
                user_errors: Vec::new(),
            },
        )
        .await
    }

    async fn cancel_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let step = ShipmentStep::Cancel;
        shipment_step(ctx, &order_id, &shipment_id, expected_version, step).await
    }

    async fn mark_shipment_delivered(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let step = ShipmentStep::MarkDelivered;
        shipment_step(ctx, &order_id, &shipment_id, expected_version, step).await
    }

    async fn request_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        lines: Vec<LineQuantityInput>,
        reason: String,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReturnPayload> {
        let r = Req::of(ctx).await?;
        let lines = line_quantities(&lines).map_err(AppError::from);
        let input = order_and(&order_id, expected_version, lines);
        r.mutate(
            Operation::RequestReturn,
            input,
            |(o, lines)| {
                let r = &r;
                async move {
                    r.app
                        .request_return(&r.rc, &r.uow, o, &lines, &reason)
                        .await
                }
            },
            |(o, id)| ReturnPayload {
                return_: o.return_(id).map(ReturnV::from),
                order: Some(r.order_view(&o)),
                user_errors: Vec::new(),
            },
        )
        .await
    }

    async fn approve_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let step = ReturnStep::Approve;
        return_step(ctx, &order_id, &return_id, expected_version, step).await
    }

    async fn reject_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let step = ReturnStep::Reject;
        return_step(ctx, &order_id, &return_id, expected_version, step).await
    }

    async fn receive_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let step = ReturnStep::Receive;
        return_step(ctx, &order_id, &return_id, expected_version, step).await
    }

    /// Refunds a received return: gross − restocking fee, capped, never above what remains paid.
    async fn refund_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = order_and(&order_id, expected_version, self::return_id(&return_id));
        r.mutate_order(Operation::RefundReturn, input, |(o, id)| {
            r.app.refund_return(&r.rc, &r.uow, o, id)
        })
        .await
    }

    /// Refunds an amount without a return; refused (never cut) above paid − refunded or the cap.
    async fn refund_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        amount: String,
        reason: String,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = order_ref(&order_id, expected_version);
        r.mutate_order(Operation::RefundOrder, input, |o| {
            r.app.refund_order(&r.rc, &r.uow, o, &amount, &reason)
        })
        .await
    }

    async fn complete_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = order_ref(&order_id, expected_version);
        r.mutate_order(Operation::CompleteOrder, input, |o| {
            r.app.complete_order(&r.rc, &r.uow, o)
        })
        .await
    }

    /// A new version of the tenant's business rules (every version is kept).
    async fn update_tenant_config(
        &self,
        ctx: &Context<'_>,
        input: TenantConfigInput,
    ) -> async_graphql::Result<TenantConfigPayload> {
        let r = Req::of(ctx).await?;
        let config = input.parse().map_err(AppError::from);
        r.mutate(
            Operation::UpdateTenantConfig,
            config,
            |config| r.app.update_tenant_config(&r.rc, &r.uow, config),
            |c| TenantConfigPayload {
                tenant_config: Some((&c).into()),
                user_errors: Vec::new(),
            },
        )
        .await
    }

    /// A new version of a gateway account's credentials, effective now or scheduled; its window
    /// may meet no other version's (rotate or expire first).
    async fn add_carrier_credentials(
        &self,
        ctx: &Context<'_>,
        input: CarrierCredentialsInput,
    ) -> async_graphql::Result<CarrierCredentialPayload> {
        let r = Req::of(ctx).await?;
        let new = input.parse();
        let out = r.run(Operation::RegisterCarrierCredential, new, |new| {
            r.app.add_carrier_credentials(&r.rc, new)
        });
        let out = out.await;
        let now = r.app.now();
        payload(out, |v| CarrierCredentialPayload {
            credential: Some(CarrierCredentialV::new(&v, now)),
            user_errors: Vec::new(),
        })
    }

    /// Rotation: the new version starts at `from` (default now) and the open one ends there,
    /// at once.
    async fn rotate_carrier_credentials(
        &self,
        ctx: &Context<'_>,
        input: CarrierCredentialsInput,
    ) -> async_graphql::Result<CarrierCredentialPayload> {
        let r = Req::of(ctx).await?;
        let new = input.parse();
        let out = r.run(Operation::RotateCarrierCredential, new, |new| {
            r.app.rotate_carrier_credentials(&r.rc, new)
        });
        let out = out.await;
        let now = r.app.now();
        payload(out, |v| CarrierCredentialPayload {
            credential: Some(CarrierCredentialV::new(&v, now)),
            user_errors: Vec::new(),
        })
    }

    /// Ends a version's window at `at` (default now); a version is expired at most once.
    /// Creates an API key for the tenant's own systems. `secret` is the key's text, shown in
    /// this answer only: store it now. Refused with an `Idempotency-Key` (a stored answer
    /// would keep the key).
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: ApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let r = Req::of(ctx).await?;
        let now = r.app.now();
        r.mutate(
            Operation::CreateApiKey,
            input.parse(),
            |new| r.app.create_api_key(&r.rc, &r.uow, new),
            |created| CreateApiKeyPayload {
                api_key: Some(ApiKeyV::new(&created.key, now)),
                secret: Some(secrecy::ExposeSecret::expose_secret(&created.text).to_owned()),
                user_errors: Vec::new(),
            },
        )
        .await
    }

    /// Closes an API key's window at `at` (RFC 3339, not in the past; now by default): refused
    /// from then on, at once here and within a minute everywhere. Rotation: create a new key,
    /// then revoke the old one at the time the new one will be in use.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        at: Option<String>,
    ) -> async_graphql::Result<ApiKeyPayload> {
        let r = Req::of(ctx).await?;
        let input = (|| -> AppResult<_> {
            let id = domain::ids::ApiKeyId::parse(id.as_str())
                .map_err(|_| AppError::NotFound { what: "apiKey" })?;
            let at = at
                .as_deref()
                .map(domain::Timestamp::parse_rfc3339)
                .transpose()?;
            Ok((id, at))
        })();
        r.mutate(
            Operation::RevokeApiKey,
            input,
            |(id, at)| r.app.revoke_api_key(&r.rc, id, at),
            |k| ApiKeyPayload {
                api_key: Some(ApiKeyV::new(&k, r.app.now())),
                user_errors: Vec::new(),
            },
        )
        .await
    }

    async fn expire_carrier_credentials(
        &self,
        ctx: &Context<'_>,
        gateway: String,
        account: String,
        id: ID,
        at: Option<String>,
    ) -> async_graphql::Result<CarrierCredentialPayload> {
        let r = Req::of(ctx).await?;
        let parsed = (|| -> AppResult<_> {
            Ok((
                CarrierCode::parse(&gateway)?,
                domain::ids::AccountId::parse(&account)?,
                domain::ids::CredentialId::parse(id.as_str())?,
                at.as_deref()
                    .map(domain::Timestamp::parse_rfc3339)
                    .transpose()?,
            ))
        })();
        let (app, rc) = (&r.app, &r.rc);
        let out = r.run(
            Operation::ExpireCarrierCredential,
            parsed,
            |(gateway, account, id, at)| async move {
                app.expire_carrier_credentials(rc, &gateway, &account, id, at)
                    .await
            },
        );
        let out = out.await;
        let now = r.app.now();
        payload(out, |v| CarrierCredentialPayload {
            credential: Some(CarrierCredentialV::new(&v, now)),
            user_errors: Vec::new(),
        })
    }

    /// Buys the label of a rate from `shippingRates`: the shipment moves to LABEL_PURCHASED with
    /// the carrier's tracking number. Requires an `Idempotency-Key` (a replay never buys twice).
    /// A number another shipment already holds in a tracking index is recorded on the label but
    /// not in that index; the tenant audit says so (`TRACKING_NUMBER_TAKEN`).
    async fn buy_shipping_label(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        rate_id: String,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = r
            .keyed("buyShippingLabel")
            .and_then(|()| order_and(&order_id, None, self::shipment_id(&shipment_id)));
        r.mutate_order(Operation::BuyLabel, input, |(o, s)| {
            r.app.buy_shipping_label(&r.rc, &r.uow, o, s, &rate_id)
        })
        .await
    }

    /// Voids a label bought here (at the carrier first) and cancels its shipment. Requires an
    /// `Idempotency-Key`.
    async fn void_shipping_label(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = r
            .keyed("voidShippingLabel")
            .and_then(|()| order_and(&order_id, None, self::shipment_id(&shipment_id)));
        r.mutate_order(Operation::VoidLabel, input, |(o, s)| {
            r.app.void_shipping_label(&r.rc, &r.uow, o, s)
        })
        .await
    }

    /// Buys a return's label of a rate `returnShippingRates` quoted, exactly once: the return
    /// keeps it, and the carrier's delivery update for its number receives the return. Requires
    /// an `Idempotency-Key`.
    async fn buy_return_label(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        rate_id: String,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = r
            .keyed("buyReturnLabel")
            .and_then(|()| order_and(&order_id, None, self::return_id(&return_id)));
        r.mutate_order(Operation::BuyReturnLabel, input, |(o, id)| {
            r.app.buy_return_label(&r.rc, &r.uow, o, id, &rate_id)
        })
        .await
    }

    /// Voids a return's label at the carrier: the return keeps its status, without a label
    /// (another may be bought). Requires an `Idempotency-Key`.
    async fn void_return_label(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
    ) -> async_graphql::Result<OrderPayload> {
        let r = Req::of(ctx).await?;
        let input = r
            .keyed("voidReturnLabel")
            .and_then(|()| order_and(&order_id, None, self::return_id(&return_id)));
        r.mutate_order(Operation::VoidReturnLabel, input, |(o, id)| {
            r.app.void_return_label(&r.rc, &r.uow, o, id)
        })
        .await
    }

    /// Asks the carrier where a label's parcel is, and applies it as a tracking update would
    /// (never backwards).
    async fn track_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
    ) -> async_graphql::Result<TrackingPayload> {
        let r = Req::of(ctx).await?;
        let input = order_and(&order_id, None, self::shipment_id(&shipment_id));
        r.mutate(
            Operation::TrackShipment,
            input,
            |(o, s)| r.app.track_shipment(&r.rc, &r.uow, o, s),
            |Tracked { order, ignored }| TrackingPayload {
                order: Some(r.order_view(&order)),
                ignored,
                user_errors: Vec::new(),
            },
        )
        .await
    }
}
