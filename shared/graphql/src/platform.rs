//! The platform admin's API: onboarding, suspending and re-planning tenants, plans, IdP
//! registrations and the SaaS audit, for the platform issuer's tokens only. Every resolver is
//! admitted first (a tenant's token is FORBIDDEN, audited in its tenant's log), then runs the
//! same use case `oms tenant …`, `oms plan …` and `oms idp …` run. Nothing here reads tenant
//! data, and platform tokens reach no tenant use case.

use app::AppError;
use app::platform::{Platform, PlatformPage};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::access::{Operation, Plan};
use domain::ids::{PlanName, TenantId};
use domain::tenant::{IdpRegistration, TenantProfile, TenantStatus};

use crate::connection::{AuditConnection, TenantConnection};
use crate::credentials::{CarrierCredentialPayload, CarrierCredentialV, CarrierCredentialsInput};
use crate::errors::app_error;
use crate::mutation::payload;
use crate::state::{ApiState, Req};
use crate::views::{AuditRecordV, TenantV, UserError};

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Plan")]
pub struct PlanV {
    pub name: String,
    /// The operations the plan permits (a user may run those its roles allow too).
    pub operations: Vec<String>,
}

impl From<&Plan> for PlanV {
    fn from(p: &Plan) -> Self {
        PlanV {
            name: p.name.to_string(),
            operations: p.operations.iter().map(|o| o.as_str().to_owned()).collect(),
        }
    }
}

#[derive(SimpleObject, Default)]
pub struct TenantPayload {
    pub tenant: Option<TenantV>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct PlanPayload {
    pub plan: Option<PlanV>,
    pub user_errors: Vec<UserError>,
}

crate::mutation::with_user_errors!(TenantPayload, PlanPayload);

#[derive(InputObject)]
pub struct CreateTenantInput {
    /// Lowercase letters, digits and dashes.
    pub id: ID,
    /// Defaults to the id.
    pub name: Option<String>,
    pub plan: String,
    /// Write shards of the tenant's listings (may only grow later).
    #[graphql(default = 1)]
    pub shards: u32,
}

/// The platform use cases for this request's platform admin, once `op` is allowed.
pub(crate) async fn admitted(
    ctx: &Context<'_>,
    op: Operation,
) -> async_graphql::Result<(Platform, Req)> {
    let r = Req::of(ctx).await?;
    let api = ctx.data::<std::sync::Arc<ApiState>>()?;
    let platform = api
        .platform
        .admit(&r.app, &r.rc, op)
        .await
        .map_err(app_error)?;
    Ok((platform, r))
}

fn tenant_id(id: &str) -> Result<TenantId, AppError> {
    TenantId::parse(id).map_err(AppError::from)
}

pub(crate) fn tenant_payload(
    result: Result<TenantProfile, AppError>,
) -> async_graphql::Result<TenantPayload> {
    payload(result, |p| TenantPayload {
        tenant: Some((&p).into()),
        user_errors: Vec::new(),
    })
}

/// The platform admin's reads.
#[derive(Default)]
pub struct PlatformQuery;

#[Object]
impl PlatformQuery {
    /// Every tenant, in id order (platform admins only).
    #[graphql(complexity = "(first as usize).max(1) * child_complexity")]
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: u32,
        after: Option<String>,
    ) -> async_graphql::Result<TenantConnection> {
        let (platform, _) = admitted(ctx, Operation::ListTenants).await?;
        let page = platform
            .tenants_page(first, after.as_deref())
            .await
            .map_err(|e| app_error(e.into()))?;
        Ok(made(
            page,
            after.as_deref(),
            |p| TenantV::from(p),
            TenantConnection::made,
        ))
    }

    /// One tenant's profile, or null if there is none (platform admins only).
    async fn tenant(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<TenantV>> {
        let (platform, _) = admitted(ctx, Operation::ShowTenant).await?;
        let id = tenant_id(&id).map_err(app_error)?;
        match platform.show(&id).await.map_err(AppError::from) {
            Ok(p) => Ok(Some((&p).into())),
            Err(AppError::NotFound { .. }) => Ok(None),
            Err(e) => Err(app_error(e)),
        }
    }

    /// A tenant's carrier usage of the platform's accounts between `from` and `to` (RFC 3339;
    /// default the last 7 days, at most 31), with its totals per currency: what to bill it
    /// (platform admins only).
    async fn platform_carrier_usage(
        &self,
        ctx: &Context<'_>,
        tenant: ID,
        from: Option<String>,
        to: Option<String>,
        #[graphql(default = 50)] first: u32,
        after: Option<String>,
    ) -> async_graphql::Result<crate::usage::CarrierUsageConnection> {
        let (platform, r) = admitted(ctx, Operation::ReadPlatformCarrierUsage).await?;
        let tenant = tenant_id(&tenant).map_err(app_error)?;
        let (from, to) = crate::query::audit_range(from.as_deref(), to.as_deref(), r.app.now())
            .map_err(app_error)?;
        let rows = platform
            .carrier_usage(&tenant, from, to)
            .await
            .map_err(|e| app_error(e.into()))?;
        crate::usage::connection(&rows, first, after.as_deref()).map_err(app_error)
    }

    /// The platform's own carrier credential versions (of one gateway, if given), with
    /// fingerprints only (platform admins only).
    async fn platform_carrier_credentials(
        &self,
        ctx: &Context<'_>,
        gateway: Option<String>,
    ) -> async_graphql::Result<Vec<CarrierCredentialV>> {
        let (platform, r) = admitted(ctx, Operation::ListPlatformCredentials).await?;
        let gateway = gateway
            .as_deref()
            .map(domain::ids::CarrierCode::parse)
            .transpose()
            .map_err(|e| app_error(e.into()))?;
        let now = r.app.now();
        let versions = platform
            .platform_credentials(gateway.as_ref())
            .await
            .map_err(|e| app_error(e.into()))?;
        Ok(versions
            .iter()
            .map(|v| CarrierCredentialV::new(v, now))
            .collect())
    }

    /// The platform admins' actions between `from` and `to` (RFC 3339; default the last 7
    /// days, at most 31), newest first (platform admins only).
    #[graphql(complexity = "(first as usize).max(1) * child_complexity")]
    async fn saas_audit(
        &self,
        ctx: &Context<'_>,
        from: Option<String>,
        to: Option<String>,
        #[graphql(default = 50)] first: u32,
        after: Option<String>,
    ) -> async_graphql::Result<AuditConnection> {
        let (platform, r) = admitted(ctx, Operation::ReadSaasAudit).await?;
        let (from, to) = crate::query::audit_range(from.as_deref(), to.as_deref(), r.app.now())
            .map_err(app_error)?;
        let page = platform
            .saas_audit_page(from, to, first, after.as_deref())
            .await
            .map_err(|e| app_error(e.into()))?;
        Ok(made(
            page,
            after.as_deref(),
            |r| AuditRecordV::from(r),
            AuditConnection::made,
        ))
    }
}

fn made<R, N, C>(
    page: PlatformPage<R>,
    after: Option<&str>,
    view: impl Fn(&R) -> N,
    connection: impl FnOnce(Vec<(N, String)>, Option<&str>, Option<String>) -> C,
) -> C {
    let edges = page
        .rows
        .iter()
        .map(|(row, cursor)| (view(row), cursor.clone()))
        .collect();
    connection(edges, after, page.next)
}

/// The platform admin's changes.
#[derive(Default)]
pub struct PlatformMutation;

#[Object]
impl PlatformMutation {
    /// Onboards a tenant on a plan (platform admins only). Its users sign in once an IdP is
    /// registered for it (`setTenantIdp`; in dev mode the dev IdP is registered already).
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> async_graphql::Result<TenantPayload> {
        let (platform, _) = admitted(ctx, Operation::CreateTenant).await?;
        let out = async {
            let id = tenant_id(&input.id)?;
            let plan = PlanName::parse(&input.plan)?;
            let name = input.name.clone().unwrap_or_else(|| id.to_string());
            Ok(platform
                .create_tenant(&id, &name, &plan, input.shards)
                .await?)
        };
        tenant_payload(out.await)
    }

    /// Refuses every request of the tenant's users (within the directory's minute).
    async fn suspend_tenant(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<TenantPayload> {
        self.set_status(ctx, id, TenantStatus::Suspended).await
    }

    /// Lifts a suspension.
    async fn activate_tenant(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<TenantPayload> {
        self.set_status(ctx, id, TenantStatus::Active).await
    }

    /// Moves a tenant to another plan.
    async fn set_tenant_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
        plan: String,
    ) -> async_graphql::Result<TenantPayload> {
        let (platform, _) = admitted(ctx, Operation::SetTenantPlan).await?;
        let out = async {
            let (id, plan) = (tenant_id(&id)?, PlanName::parse(&plan)?);
            Ok(platform.set_tenant_plan(&id, &plan).await?)
        };
        tenant_payload(out.await)
    }

    /// Creates or replaces a plan: `all` permits every tenant operation, or list them in
    /// `operations` (`createOrder`, `approveOrder`, …).
    async fn set_plan(
        &self,
        ctx: &Context<'_>,
        name: String,
        #[graphql(default)] all: bool,
        #[graphql(default)] operations: Vec<String>,
    ) -> async_graphql::Result<PlanPayload> {
        let (platform, _) = admitted(ctx, Operation::SetPlan).await?;
        let out = async {
            let name = PlanName::parse(&name)?;
            let ops = Plan::requested_operations(all, &operations)?;
            Ok(platform.set_plan(&name, ops).await?)
        };
        payload(out.await, |p: Plan| PlanPayload {
            plan: Some((&p).into()),
            user_errors: Vec::new(),
        })
    }

    /// Registers (or replaces, by issuer) one of a tenant's identity providers. `registration`
    /// is the JSON `oms idp set --file` reads (issuer, audiences, keys, claims, role map).
    async fn set_tenant_idp(
        &self,
        ctx: &Context<'_>,
        id: ID,
        registration: async_graphql::Json<serde_json::Value>,
    ) -> async_graphql::Result<TenantPayload> {
        let (platform, _) = admitted(ctx, Operation::SetIdp).await?;
        let out = async {
            let id = tenant_id(&id)?;
            let registration: IdpRegistration =
                serde_json::from_value(registration.0).map_err(|e| AppError::Invalid {
                    field: "registration".into(),
                    message: format!("not an IdP registration: {e}"),
                })?;
            Ok(platform.set_idp(&id, registration).await?)
        };
        tenant_payload(out.await)
    }

    /// Adds a version of one of the platform's own carrier accounts (the same rules as a
    /// tenant's: immutable, windows that never overlap, secrets write-only). Tenants use it as
    /// `platform:<account>` once `offerPlatformAccount` offers it to their plan.
    async fn add_platform_carrier_credentials(
        &self,
        ctx: &Context<'_>,
        input: CarrierCredentialsInput,
    ) -> async_graphql::Result<CarrierCredentialPayload> {
        self.credential(ctx, Operation::AddPlatformCredential, async |p| {
            Ok(p.add_platform_credentials(input.parse()?).await?)
        })
        .await
    }

    /// Rotates a platform account's credentials at `from` (default now).
    async fn rotate_platform_carrier_credentials(
        &self,
        ctx: &Context<'_>,
        input: CarrierCredentialsInput,
    ) -> async_graphql::Result<CarrierCredentialPayload> {
        self.credential(ctx, Operation::RotatePlatformCredential, async |p| {
            Ok(p.rotate_platform_credentials(input.parse()?).await?)
        })
        .await
    }

    /// Ends a platform version's window at `at` (RFC 3339, default now), once.
    async fn expire_platform_carrier_credentials(
        &self,
        ctx: &Context<'_>,
        gateway: String,
        account: String,
        id: ID,
        at: Option<String>,
    ) -> async_graphql::Result<CarrierCredentialPayload> {
        self.credential(ctx, Operation::ExpirePlatformCredential, async |p| {
            let gateway = domain::ids::CarrierCode::parse(&gateway)?;
            let account = domain::ids::AccountId::parse(&account)?;
            let id = domain::ids::CredentialId::parse(id.as_str())?;
            let at = at
                .as_deref()
                .map(domain::Timestamp::parse_rfc3339)
                .transpose()?;
            Ok(p.expire_platform_credentials(&gateway, &account, id, at)
                .await?)
        })
        .await
    }

    /// Offers a platform account of a gateway to the tenants of exactly `plans` (empty:
    /// withdraws it).
    async fn offer_platform_account(
        &self,
        ctx: &Context<'_>,
        gateway: String,
        account: String,
        plans: Vec<String>,
    ) -> async_graphql::Result<PlatformOfferPayload> {
        let (platform, _) = admitted(ctx, Operation::OfferPlatformAccount).await?;
        let out = async {
            let gateway = domain::ids::CarrierCode::parse(&gateway)?;
            let account = domain::ids::AccountId::parse(&account)?;
            let plans = plans
                .iter()
                .map(|p| PlanName::parse(p))
                .collect::<Result<Vec<_>, _>>()?;
            let g = platform
                .offer_platform_account(&gateway, account.clone(), plans)
                .await?;
            Ok::<_, AppError>((g, account))
        };
        payload(out.await, |(g, account)| PlatformOfferPayload {
            gateway: Some(g.id.to_string()),
            account: Some(format!("platform:{account}")),
            plans: g
                .offers
                .iter()
                .find(|o| o.account == account)
                .map(|o| o.plans.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            user_errors: Vec::new(),
        })
    }
}

/// A platform account's offer: the plans whose tenants may use it.
#[derive(SimpleObject, Default)]
pub struct PlatformOfferPayload {
    pub gateway: Option<String>,
    /// As tenants name it: `platform:<account>`.
    pub account: Option<String>,
    pub plans: Vec<String>,
    pub user_errors: Vec<UserError>,
}

crate::mutation::with_user_errors!(PlatformOfferPayload);

impl PlatformMutation {
    async fn credential(
        &self,
        ctx: &Context<'_>,
        op: Operation,
        change: impl AsyncFnOnce(Platform) -> Result<domain::gateway::CredentialVersion, AppError>,
    ) -> async_graphql::Result<CarrierCredentialPayload> {
        let (platform, r) = admitted(ctx, op).await?;
        let now = r.app.now();
        payload(change(platform).await, |v| CarrierCredentialPayload {
            credential: Some(CarrierCredentialV::new(&v, now)),
            user_errors: Vec::new(),
        })
    }

    async fn set_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: TenantStatus,
    ) -> async_graphql::Result<TenantPayload> {
        let op = match status {
            TenantStatus::Suspended => Operation::SuspendTenant,
            TenantStatus::Active => Operation::ActivateTenant,
        };
        let (platform, _) = admitted(ctx, op).await?;
        let out = async {
            let id = tenant_id(&id)?;
            Ok(platform.set_status(&id, status).await?)
        };
        tenant_payload(out.await)
    }
}
