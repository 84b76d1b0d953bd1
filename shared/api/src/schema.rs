//! The GraphQL schema: queries and mutations over the use cases. Built once, served by the
//! graphql Lambda and by `oms serve` alike.

use std::sync::Arc;

use app::{App, AppError, CommandSpec, Listed, RequestCtx, UnitOfWork};
use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, ID, Object, Schema, SimpleObject,
};
use auth::{AuthError, Caller, Identity, Verifier};
use domain::Timestamp;
use domain::access::{Operation, permitted};
use domain::ids::{
    CarrierCode, ExternalRef, OrderId, ReturnId, ShipmentId, TrackingNumber, VendorId,
};
use domain::order::{Order, TrackingUpdate};
use store::repo::{OrderListing, PageRequest};

use crate::inputs::{
    CreateOrderInput, CreateShipmentInput, LineQuantityInput, TenantConfigInput, line_quantities,
};
use crate::views::{
    AuditConnection, AuditRecordV, MoneyV, OrderConnection, OrderEdge, OrderStatus, OrderSummary,
    OrderV, PageInfo, ReturnV, ShipmentV, TenantConfigV, TrackingStatus, UserError, Viewer,
};

pub type OmsSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// What every request shares: the use cases and the verifier.
pub struct ApiState {
    pub app: Arc<App>,
    pub verifier: Arc<Verifier>,
}

/// One request: its id, its bearer token, the lazily verified caller and its unit of work.
pub struct RequestState {
    pub request_id: String,
    pub authorization: Option<String>,
    pub caller: tokio::sync::OnceCell<Result<Caller, AuthError>>,
    pub uow: UnitOfWork,
}

/// A GraphQL error with a stable `extensions.code`.
pub fn coded(code: &str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, e| e.set("code", code))
}

fn app_error(e: AppError) -> async_graphql::Error {
    match &e {
        AppError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            coded("INTERNAL", "internal error")
        }
        _ => coded(e.code(), e.to_string()),
    }
}

/// Business-rule failures become the payload's `userErrors`; anything else a coded GraphQL error.
fn split<T>(r: Result<T, AppError>) -> async_graphql::Result<Result<T, Vec<UserError>>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_user_error() => Ok(Err(user_errors(&e))),
        Err(e) => Err(app_error(e)),
    }
}

fn user_errors(e: &AppError) -> Vec<UserError> {
    vec![UserError {
        code: e.code().to_owned(),
        field: e.field().map(|f| vec![f]),
        message: e.to_string(),
    }]
}

/// The verified caller, verified once per request (and only when a resolver needs it, so
/// limits refuse a request before any authentication or store access).
async fn request(
    ctx: &Context<'_>,
) -> async_graphql::Result<(Arc<App>, RequestCtx, Arc<RequestState>)> {
    let api = ctx.data::<Arc<ApiState>>()?;
    let state = ctx.data::<Arc<RequestState>>()?;
    let verified = state
        .caller
        .get_or_init(|| async { api.verifier.verify(state.authorization.as_deref()).await })
        .await;
    match verified {
        Ok(caller) => Ok((
            api.app.clone(),
            RequestCtx {
                caller: caller.clone(),
                request_id: state.request_id.clone(),
            },
            state.clone(),
        )),
        Err(e) => {
            tracing::info!(reason = %e, "authentication refused");
            Err(coded(e.code(), e.public_message()))
        }
    }
}

fn identity(rc: &RequestCtx) -> Option<&Identity> {
    match &rc.caller {
        Caller::Tenant(id) => Some(id),
        Caller::Platform(_) => None,
    }
}

fn order_id(id: &ID) -> Result<OrderId, AppError> {
    OrderId::parse(id.as_str()).map_err(|_| AppError::NotFound { what: "order" })
}

fn time(field: &str, s: &Option<String>) -> Result<Option<Timestamp>, AppError> {
    s.as_deref()
        .map(|t| {
            Timestamp::parse_rfc3339(t).map_err(|e| AppError::Invalid {
                field: field.into(),
                message: e.to_string(),
            })
        })
        .transpose()
}

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Who is calling: tenant, subject, roles and what the plan and roles permit.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let (_, rc, _) = request(ctx).await?;
        let id = rc.identity(Operation::Viewer).map_err(app_error)?;
        Ok(Viewer {
            tenant: id.tenant().to_string(),
            subject: id.subject().to_string(),
            roles: id.roles().iter().map(|r| r.as_str().to_owned()).collect(),
            vendor: id.vendor().map(ToString::to_string),
            permissions: Operation::ALL
                .iter()
                .filter(|o| permitted(id.plan(), id.roles(), **o))
                .map(|o| o.as_str().to_owned())
                .collect(),
        })
    }

    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<OrderV> {
        let (app, rc, _) = request(ctx).await?;
        let order = app
            .order(&rc, order_id(&id).map_err(app_error)?)
            .await
            .map_err(app_error)?;
        Ok(OrderV::new(&order, identity(&rc)))
    }

    async fn order_by_external_ref(
        &self,
        ctx: &Context<'_>,
        external_ref: String,
    ) -> async_graphql::Result<OrderV> {
        let (app, rc, _) = request(ctx).await?;
        let r = ExternalRef::parse(&external_ref)
            .map_err(|_| app_error(AppError::NotFound { what: "order" }))?;
        let order = app
            .order_by_external_ref(&rc, &r)
            .await
            .map_err(app_error)?;
        Ok(OrderV::new(&order, identity(&rc)))
    }

    /// Orders, newest first (oldest change first with `updatedAfter`). At most 250 a page.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "(first as usize).max(1) * child_complexity")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: u32,
        after: Option<String>,
        status: Option<OrderStatus>,
        vendor: Option<String>,
        created_from: Option<String>,
        created_to: Option<String>,
        updated_after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let (app, rc, _) = request(ctx).await?;
        let (from, to) = (
            time("createdFrom", &created_from).map_err(app_error)?,
            time("createdTo", &created_to).map_err(app_error)?,
        );
        let listing = match (
            status,
            time("updatedAfter", &updated_after).map_err(app_error)?,
        ) {
            (Some(_), Some(_)) => {
                return Err(coded(
                    "INVALID_INPUT",
                    "status and updatedAfter cannot be combined",
                ));
            }
            (Some(s), None) => OrderListing::ByStatus {
                status: s.into(),
                from,
                to,
            },
            (None, Some(after)) => OrderListing::ChangedSince { after },
            (None, None) => OrderListing::ByCreated { from, to },
        };
        let vendor = vendor
            .as_deref()
            .map(VendorId::parse)
            .transpose()
            .map_err(|e| coded("INVALID_INPUT", e.to_string()))?;
        let page = PageRequest { first, after };
        let (nodes, end_cursor) = match app
            .orders(&rc, listing, vendor, &page)
            .await
            .map_err(app_error)?
        {
            Listed::Tenant(p) => (
                p.orders
                    .iter()
                    .map(|o| OrderSummary {
                        id: o.id.to_string(),
                        status: o.status.into(),
                        created_at: o.created_at.to_rfc3339(),
                        updated_at: Some(o.updated_at.to_rfc3339()),
                        total: Some(MoneyV::from(o.total)),
                        customer_name: Some(o.customer_name.clone()),
                        external_ref: o.external_ref.as_ref().map(ToString::to_string),
                        version: Some(o.version),
                    })
                    .collect::<Vec<_>>(),
                p.end_cursor,
            ),
            Listed::Vendor(p) => (
                p.orders
                    .iter()
                    .map(|o| OrderSummary {
                        id: o.id.to_string(),
                        status: o.status.into(),
                        created_at: o.created_at.to_rfc3339(),
                        updated_at: None,
                        total: None,
                        customer_name: None,
                        external_ref: None,
                        version: None,
                    })
                    .collect(),
                p.end_cursor,
            ),
        };
        Ok(OrderConnection {
            edges: nodes
                .iter()
                .map(|n| OrderEdge {
                    cursor: None,
                    node: n.clone(),
                })
                .collect(),
            nodes,
            page_info: PageInfo {
                has_next_page: end_cursor.is_some(),
                end_cursor,
            },
        })
    }

    /// An order's audit records, oldest first.
    #[graphql(complexity = "(first as usize).max(1) * child_complexity")]
    async fn order_audit_log(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        #[graphql(default = 50)] first: u32,
        after: Option<String>,
    ) -> async_graphql::Result<AuditConnection> {
        let (app, rc, _) = request(ctx).await?;
        let id = self::order_id(&order_id).map_err(app_error)?;
        let (records, end_cursor) = app
            .order_audit_log(&rc, id, &PageRequest { first, after })
            .await
            .map_err(app_error)?;
        Ok(AuditConnection {
            nodes: records.iter().map(AuditRecordV::from).collect(),
            page_info: PageInfo {
                has_next_page: end_cursor.is_some(),
                end_cursor,
            },
        })
    }

    /// Tenant-level actions and denials (configuration, credentials, refused requests) between
    /// `from` and `to` (RFC 3339; default the last 7 days, at most 31), newest first.
    #[graphql(complexity = "(first as usize).max(1) * child_complexity")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        actor: Option<String>,
        from: Option<String>,
        to: Option<String>,
        #[graphql(default = 50)] first: u32,
        after: Option<String>,
    ) -> async_graphql::Result<AuditConnection> {
        let (app, rc, _) = request(ctx).await?;
        let to = time("to", &to)
            .map_err(app_error)?
            .unwrap_or_else(|| app.now());
        let from = time("from", &from)
            .map_err(app_error)?
            .unwrap_or_else(|| to.plus_seconds(-7 * 86_400));
        let (records, end_cursor) = app
            .tenant_audit_log(&rc, from, to, &PageRequest { first, after })
            .await
            .map_err(app_error)?;
        let nodes = records
            .iter()
            .filter(|r| actor.as_ref().is_none_or(|a| r.actor.subject.as_str() == a))
            .map(AuditRecordV::from)
            .collect();
        Ok(AuditConnection {
            nodes,
            page_info: PageInfo {
                has_next_page: end_cursor.is_some(),
                end_cursor,
            },
        })
    }

    /// The tenant's business rules: the current version, or an earlier one.
    async fn tenant_config(
        &self,
        ctx: &Context<'_>,
        version: Option<u32>,
    ) -> async_graphql::Result<TenantConfigV> {
        let (app, rc, _) = request(ctx).await?;
        Ok((&app.tenant_config(&rc, version).await.map_err(app_error)?).into())
    }
}

#[derive(SimpleObject)]
pub struct OrderPayload {
    pub order: Option<OrderV>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ShipmentPayload {
    pub order: Option<OrderV>,
    pub shipment: Option<ShipmentV>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ReturnPayload {
    pub order: Option<OrderV>,
    #[graphql(name = "return")]
    pub return_: Option<ReturnV>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct TrackingPayload {
    pub order: Option<OrderV>,
    /// True when the update changed nothing (backwards, terminal, or nothing new).
    pub ignored: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct TenantConfigPayload {
    pub tenant_config: Option<TenantConfigV>,
    pub user_errors: Vec<UserError>,
}

/// Runs a command on an order; business-rule failures become `userErrors`.
async fn run(
    ctx: &Context<'_>,
    op: Operation,
    order: &ID,
    expected_version: Option<u64>,
    needs_config: bool,
    command: &app::services::OrderFn<'_>,
) -> async_graphql::Result<(Result<Order, Vec<UserError>>, RequestCtx)> {
    let (app, rc, state) = request(ctx).await?;
    let id = order_id(order).map_err(app_error)?;
    let spec = CommandSpec {
        op,
        id,
        expected_version,
        needs_config,
    };
    Ok((
        split(app.order_command(&rc, &state.uow, spec, command).await)?,
        rc,
    ))
}

fn order_payload(r: (Result<Order, Vec<UserError>>, RequestCtx)) -> OrderPayload {
    match r.0 {
        Ok(o) => OrderPayload {
            order: Some(OrderV::new(&o, identity(&r.1))),
            user_errors: Vec::new(),
        },
        Err(user_errors) => OrderPayload {
            order: None,
            user_errors,
        },
    }
}

fn shipment_id(id: &ID) -> Result<ShipmentId, AppError> {
    ShipmentId::parse(id.as_str()).map_err(|_| AppError::NotFound { what: "shipment" })
}

fn return_id(id: &ID) -> Result<ReturnId, AppError> {
    ReturnId::parse(id.as_str()).map_err(|_| AppError::NotFound { what: "return" })
}

/// The shipment's lines must all be the vendor's own (for vendor-confined callers).
fn own_shipment(identity: &Identity, order: &Order, id: ShipmentId) -> Result<(), AppError> {
    let shipment = order
        .shipment(id)
        .ok_or(AppError::NotFound { what: "shipment" })?;
    App::vendor_skus(identity, order, shipment.lines.iter().map(|l| &l.sku))
        .map_err(|_| AppError::NotFound { what: "shipment" })
}

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    async fn create_order(
        &self,
        ctx: &Context<'_>,
        input: CreateOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let (app, rc, state) = request(ctx).await?;
        let result = match input.parse() {
            Ok(new) => split(app.create_order(&rc, &state.uow, new).await)?,
            Err(e) => Err(user_errors(&e.into())),
        };
        Ok(match result {
            Ok(o) => OrderPayload {
                order: Some(OrderV::new(&o, identity(&rc))),
                user_errors: Vec::new(),
            },
            Err(user_errors) => OrderPayload {
                order: None,
                user_errors,
            },
        })
    }

    async fn assign_order_reviewer(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reviewer: String,
        comments: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let reviewer = domain::ids::Subject::parse(&reviewer);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   who: &Identity| {
            let reviewer = reviewer.clone()?;
            Ok(o.assign_reviewer(c, who.subject(), reviewer, comments.as_deref())?)
        };
        Ok(order_payload(
            run(
                ctx,
                Operation::AssignOrderReviewer,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn approve_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        comments: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let cmd =
            |o: &mut Order,
             c: &mut domain::Ctx<'_>,
             _: &domain::config::TenantConfig,
             who: &Identity| Ok(o.approve(c, who.subject(), comments.as_deref())?);
        Ok(order_payload(
            run(
                ctx,
                Operation::ApproveOrder,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn reject_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: String,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   who: &Identity| Ok(o.reject(c, who.subject(), &reason)?);
        Ok(order_payload(
            run(
                ctx,
                Operation::RejectOrder,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.cancel(c, reason.as_deref())?);
        Ok(order_payload(
            run(
                ctx,
                Operation::CancelOrder,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn cancel_order_lines(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        lines: Vec<LineQuantityInput>,
        reason: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let lines = line_quantities(&lines);
        let cmd =
            |o: &mut Order,
             c: &mut domain::Ctx<'_>,
             _: &domain::config::TenantConfig,
             _: &Identity| Ok(o.cancel_lines(c, &lines.clone()?, reason.as_deref())?);
        Ok(order_payload(
            run(
                ctx,
                Operation::CancelOrderLines,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn mark_order_paid(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        payment_reference: String,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.mark_paid(c, &payment_reference)?);
        Ok(order_payload(
            run(
                ctx,
                Operation::MarkOrderPaid,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn create_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        input: CreateShipmentInput,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ShipmentPayload> {
        let new = input.parse();
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   who: &Identity| {
            let new = new.clone()?;
            App::vendor_skus(who, o, new.lines.iter().map(|l| &l.sku))?;
            Ok(o.create_shipment(c, new)?.1)
        };
        let (result, rc) = run(
            ctx,
            Operation::CreateShipment,
            &order_id,
            expected_version,
            false,
            &cmd,
        )
        .await?;
        Ok(match result {
            Ok(o) => ShipmentPayload {
                shipment: o.shipments().last().map(ShipmentV::from),
                order: Some(OrderV::new(&o, identity(&rc))),
                user_errors: Vec::new(),
            },
            Err(user_errors) => ShipmentPayload {
                order: None,
                shipment: None,
                user_errors,
            },
        })
    }

    async fn confirm_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let sid = self::shipment_id(&shipment_id);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   who: &Identity| {
            let sid = sid.clone()?;
            own_shipment(who, o, sid)?;
            Ok(o.confirm_shipment(c, sid)?)
        };
        Ok(order_payload(
            run(
                ctx,
                Operation::ConfirmShipment,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn dispatch_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        carrier: Option<String>,
        tracking_number: Option<String>,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let sid = self::shipment_id(&shipment_id);
        let carrier = carrier.as_deref().map(CarrierCode::parse).transpose();
        let number = tracking_number
            .as_deref()
            .map(TrackingNumber::parse)
            .transpose();
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   who: &Identity| {
            let sid = sid.clone()?;
            own_shipment(who, o, sid)?;
            Ok(o.dispatch_shipment(c, sid, carrier.clone()?, number.clone()?)?)
        };
        Ok(order_payload(
            run(
                ctx,
                Operation::DispatchShipment,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

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
        let sid = self::shipment_id(&shipment_id);
        let carrier = carrier.as_deref().map(CarrierCode::parse).transpose();
        let number = tracking_number
            .as_deref()
            .map(TrackingNumber::parse)
            .transpose();
        let ignored = std::sync::atomic::AtomicBool::new(false);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   who: &Identity| {
            let sid = sid.clone()?;
            own_shipment(who, o, sid)?;
            let update = TrackingUpdate {
                carrier: carrier.clone()?,
                tracking_number: number.clone()?,
                status: status.into(),
            };
            let outcome = o.update_tracking(c, sid, update)?;
            ignored.store(
                matches!(outcome, domain::order::TrackingOutcome::Ignored { .. }),
                std::sync::atomic::Ordering::SeqCst,
            );
            Ok(match outcome {
                domain::order::TrackingOutcome::Applied(events) => events,
                domain::order::TrackingOutcome::Ignored { .. } => Vec::new(),
            })
        };
        let (result, rc) = run(
            ctx,
            Operation::UpdateShipmentTracking,
            &order_id,
            expected_version,
            false,
            &cmd,
        )
        .await?;
        Ok(match result {
            Ok(o) => TrackingPayload {
                ignored: ignored.load(std::sync::atomic::Ordering::SeqCst),
                order: Some(OrderV::new(&o, identity(&rc))),
                user_errors: Vec::new(),
            },
            Err(user_errors) => TrackingPayload {
                order: None,
                ignored: false,
                user_errors,
            },
        })
    }

    async fn cancel_shipment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let sid = self::shipment_id(&shipment_id);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   who: &Identity| {
            let sid = sid.clone()?;
            own_shipment(who, o, sid)?;
            Ok(o.cancel_shipment(c, sid)?)
        };
        Ok(order_payload(
            run(
                ctx,
                Operation::CancelShipment,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn mark_shipment_delivered(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let sid = self::shipment_id(&shipment_id);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.mark_shipment_delivered(c, sid.clone()?)?);
        Ok(order_payload(
            run(
                ctx,
                Operation::MarkShipmentDelivered,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn request_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        lines: Vec<LineQuantityInput>,
        reason: String,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<ReturnPayload> {
        let lines = line_quantities(&lines);
        let cmd =
            |o: &mut Order,
             c: &mut domain::Ctx<'_>,
             _: &domain::config::TenantConfig,
             _: &Identity| Ok(o.request_return(c, &lines.clone()?, &reason)?.1);
        let (result, rc) = run(
            ctx,
            Operation::RequestReturn,
            &order_id,
            expected_version,
            false,
            &cmd,
        )
        .await?;
        Ok(match result {
            Ok(o) => ReturnPayload {
                return_: o.returns().last().map(ReturnV::from),
                order: Some(OrderV::new(&o, identity(&rc))),
                user_errors: Vec::new(),
            },
            Err(user_errors) => ReturnPayload {
                order: None,
                return_: None,
                user_errors,
            },
        })
    }

    async fn approve_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let rid = self::return_id(&return_id);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.approve_return(c, rid.clone()?)?);
        Ok(order_payload(
            run(
                ctx,
                Operation::ApproveReturn,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn reject_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let rid = self::return_id(&return_id);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.reject_return(c, rid.clone()?)?);
        Ok(order_payload(
            run(
                ctx,
                Operation::RejectReturn,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    async fn receive_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let rid = self::return_id(&return_id);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.receive_return(c, rid.clone()?)?);
        Ok(order_payload(
            run(
                ctx,
                Operation::ReceiveReturn,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    /// Refunds a received return: gross − restocking fee, capped, never above what remains paid.
    async fn refund_return(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let rid = self::return_id(&return_id);
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   cfg: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.refund_return(c, rid.clone()?, cfg)?.1);
        Ok(order_payload(
            run(
                ctx,
                Operation::RefundReturn,
                &order_id,
                expected_version,
                true,
                &cmd,
            )
            .await?,
        ))
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
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   cfg: &domain::config::TenantConfig,
                   _: &Identity| {
            let amount = domain::Money::parse(&amount, o.currency())?;
            Ok(o.refund(c, amount, &reason, cfg)?)
        };
        Ok(order_payload(
            run(
                ctx,
                Operation::RefundOrder,
                &order_id,
                expected_version,
                true,
                &cmd,
            )
            .await?,
        ))
    }

    async fn complete_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        expected_version: Option<u64>,
    ) -> async_graphql::Result<OrderPayload> {
        let cmd = |o: &mut Order,
                   c: &mut domain::Ctx<'_>,
                   _: &domain::config::TenantConfig,
                   _: &Identity| Ok(o.complete(c)?);
        Ok(order_payload(
            run(
                ctx,
                Operation::CompleteOrder,
                &order_id,
                expected_version,
                false,
                &cmd,
            )
            .await?,
        ))
    }

    /// A new version of the tenant's business rules (every version is kept).
    async fn update_tenant_config(
        &self,
        ctx: &Context<'_>,
        input: TenantConfigInput,
    ) -> async_graphql::Result<TenantConfigPayload> {
        let (app, rc, state) = request(ctx).await?;
        let result = match input.parse() {
            Ok(config) => split(app.update_tenant_config(&rc, &state.uow, config).await)?,
            Err(e) => Err(user_errors(&e.into())),
        };
        Ok(match result {
            Ok(c) => TenantConfigPayload {
                tenant_config: Some((&c).into()),
                user_errors: Vec::new(),
            },
            Err(user_errors) => TenantConfigPayload {
                tenant_config: None,
                user_errors,
            },
        })
    }
}

/// Limits of DESIGN.md §5.
#[derive(Debug, Clone)]
pub struct Limits {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub batch: usize,
    pub body_bytes: usize,
    pub timeout: std::time::Duration,
    pub introspection: bool,
}

impl Limits {
    pub fn production() -> Self {
        Self {
            depth: 12,
            complexity: 1_000,
            aliases: 30,
            batch: 10,
            body_bytes: 64 * 1024,
            timeout: std::time::Duration::from_secs(10),
            introspection: false,
        }
    }

    pub fn dev() -> Self {
        Self {
            introspection: true,
            ..Self::production()
        }
    }
}

/// Builds the schema once.
pub fn build_schema(state: Arc<ApiState>, limits: &Limits) -> OmsSchema {
    let mut b = Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(state)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .limit_recursive_depth(32);
    if !limits.introspection {
        b = b.disable_introspection().disable_suggestions();
    }
    b.finish()
}

/// The SDL (`oms schema`, `schema.graphql`).
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .finish()
        .sdl()
}
