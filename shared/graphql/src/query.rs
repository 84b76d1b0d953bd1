//! The query root: reads over the use cases, rendered as views.

use app::listing::{OrderListing, PageRequest};
use app::{AppError, Listed};
use async_graphql::{Context, ID, Object};
use domain::Timestamp;
use domain::access::{Operation, permitted};
use domain::ids::{ExternalRef, VendorId};

use crate::connection::{AuditConnection, OrderConnection};
use crate::errors::{app_error, coded};
use crate::state::{Req, order_id, order_id as order_id_of};
use crate::views::{
    AuditRecordV, MoneyV, OrderStatus, OrderSummary, OrderV, TenantConfigV, Viewer,
};

fn time(field: &str, s: &Option<String>) -> Result<Option<Timestamp>, AppError> {
    time_arg(field, s.as_deref())
}

/// An RFC 3339 argument, refused as `field` when it does not parse.
fn time_arg(field: &str, s: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    s.map(|t| {
        Timestamp::parse_rfc3339(t).map_err(|e| AppError::Invalid {
            field: field.into(),
            message: e.to_string(),
        })
    })
    .transpose()
}

/// An audit log's range: `to` defaults to `now`, `from` to 7 days before `to`.
pub(crate) fn audit_range(
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), AppError> {
    let to = time_arg("to", to)?.unwrap_or(now);
    let from = time_arg("from", from)?.unwrap_or_else(|| to.plus_seconds(-7 * 86_400));
    Ok((from, to))
}

#[derive(Default)]
pub struct QueryRoot;

/// The tenants' reads: merged with the platform admin's into the root `Query`.
#[Object(name = "TenantQuery")]
impl QueryRoot {
    /// Who is calling: tenant, subject, roles and what the plan and roles permit.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let Req { rc, .. } = Req::of(ctx).await?;
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
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let order = app
            .order(&rc, order_id(&id).map_err(app_error)?)
            .await
            .map_err(app_error)?;
        Ok(OrderV::new(&order, rc.tenant_identity()))
    }

    async fn order_by_external_ref(
        &self,
        ctx: &Context<'_>,
        external_ref: String,
    ) -> async_graphql::Result<OrderV> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let r = ExternalRef::parse(&external_ref)
            .map_err(|_| app_error(AppError::NotFound { what: "order" }))?;
        let order = app
            .order_by_external_ref(&rc, &r)
            .await
            .map_err(app_error)?;
        Ok(OrderV::new(&order, rc.tenant_identity()))
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
        let Req { app, rc, .. } = Req::of(ctx).await?;
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
        let after = page.after.as_deref();
        Ok(
            match app
                .orders(&rc, listing, vendor, &page)
                .await
                .map_err(app_error)?
            {
                Listed::Tenant(p) => OrderConnection::of(p, after, |o| OrderSummary {
                    id: o.id.to_string().into(),
                    status: o.status.into(),
                    created_at: o.created_at.to_rfc3339(),
                    updated_at: o.updated_at.map(|t| t.to_rfc3339()),
                    total: Some(MoneyV::from(o.total)),
                    customer_name: Some(o.customer_name.clone()),
                    external_ref: o.external_ref.as_ref().map(ToString::to_string),
                    version: None,
                }),
                // A vendor's rows carry neither totals nor customers: they are the vendor's
                // lines of orders that may hold other vendors' lines too.
                Listed::Vendor(p) => OrderConnection::of(p, after, |o| OrderSummary {
                    id: o.id.to_string().into(),
                    status: o.status.into(),
                    created_at: o.created_at.to_rfc3339(),
                    updated_at: None,
                    total: None,
                    customer_name: None,
                    external_ref: None,
                    version: None,
                }),
            },
        )
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
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let id = order_id_of(&order_id).map_err(app_error)?;
        let page = PageRequest { first, after };
        let records = app
            .order_audit_log(&rc, id, &page)
            .await
            .map_err(app_error)?;
        Ok(AuditConnection::of(records, page.after.as_deref(), |r| {
            AuditRecordV::from(r)
        }))
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
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let (from, to) =
            audit_range(from.as_deref(), to.as_deref(), app.now()).map_err(app_error)?;
        let page = PageRequest { first, after };
        let mut records = app
            .tenant_audit_log(&rc, from, to, &page)
            .await
            .map_err(app_error)?;
        records.retain(|r| actor.as_ref().is_none_or(|a| r.actor.subject.as_str() == a));
        Ok(AuditConnection::of(records, page.after.as_deref(), |r| {
            AuditRecordV::from(r)
        }))
    }

    /// The tenant's business rules: the current version, or an earlier one.
    async fn tenant_config(
        &self,
        ctx: &Context<'_>,
        version: Option<u32>,
    ) -> async_graphql::Result<TenantConfigV> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        Ok((&app.tenant_config(&rc, version).await.map_err(app_error)?).into())
    }

    /// The tenant's carrier usage of platform-held accounts between `from` and `to` (RFC 3339;
    /// default the last 7 days, at most 31): every label bought through one and every void of
    /// one (its reversal), oldest first, with the range's totals per currency.
    async fn carrier_usage(
        &self,
        ctx: &Context<'_>,
        from: Option<String>,
        to: Option<String>,
        #[graphql(default = 50)] first: u32,
        after: Option<String>,
    ) -> async_graphql::Result<crate::usage::CarrierUsageConnection> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let (from, to) =
            audit_range(from.as_deref(), to.as_deref(), app.now()).map_err(app_error)?;
        let rows = app.carrier_usage(&rc, from, to).await.map_err(app_error)?;
        crate::usage::connection(&rows, first, after.as_deref()).map_err(app_error)
    }

    /// The tenant's API keys (prefix, name, role, window, last use; never a key's text).
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::api_keys::ApiKeyV>> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let keys = app.api_keys(&rc).await.map_err(app_error)?;
        let now = app.now();
        Ok(keys
            .iter()
            .map(|k| crate::api_keys::ApiKeyV::new(k, now))
            .collect())
    }

    /// The tenant's carrier credentials: every version with its window and fingerprint (never a
    /// secret), of one gateway if given.
    async fn carrier_credentials(
        &self,
        ctx: &Context<'_>,
        gateway: Option<String>,
    ) -> async_graphql::Result<Vec<crate::credentials::CarrierCredentialV>> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let gateway = gateway
            .as_deref()
            .map(domain::ids::CarrierCode::parse)
            .transpose()
            .map_err(|e| app_error(app::AppError::from(e)))?;
        let versions = app
            .carrier_credentials(&rc, gateway.as_ref())
            .await
            .map_err(app_error)?;
        let now = app.now();
        Ok(versions
            .iter()
            .map(|v| crate::credentials::CarrierCredentialV::new(v, now))
            .collect())
    }

    /// Rates for a shipment from a gateway account, with the credentials in force now; carriers
    /// that could not rate it are listed in `errors`. `account` names one of the tenant's own,
    /// or `platform:<account>` one the platform offers to the tenant's plan; left out, the
    /// tenant's own account of the gateway is used, else the platform's offered one.
    async fn shipping_rates(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        shipment_id: ID,
        gateway: String,
        account: Option<String>,
    ) -> async_graphql::Result<crate::credentials::ShippingRatesV> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let parsed = (|| -> app::AppResult<_> {
            Ok((
                crate::state::order_id(&order_id)?,
                domain::ids::ShipmentId::parse(shipment_id.as_str())
                    .map_err(|_| app::AppError::NotFound { what: "shipment" })?,
                domain::ids::CarrierCode::parse(&gateway)?,
                account
                    .as_deref()
                    .map(domain::gateway::AccountRef::parse)
                    .transpose()?,
            ))
        })();
        let (o, s, g, a) = app
            .admit(&rc, domain::access::Operation::GetRates, parsed)
            .await
            .map_err(app_error)?;
        let quote = app
            .shipping_rates(&rc, o, s, &g, a.as_ref())
            .await
            .map_err(app_error)?;
        Ok((&quote).into())
    }

    /// Checks an address with a gateway account's carrier (the account named, else the tenant's
    /// own, else the platform's offered to its plan): deliverable or not, as corrected,
    /// residential or not, and the carrier's remarks.
    async fn validate_address(
        &self,
        ctx: &Context<'_>,
        address: crate::inputs::AddressInput,
        gateway: String,
        account: Option<String>,
    ) -> async_graphql::Result<crate::views::AddressValidationV> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let parsed = (|| -> app::AppResult<_> {
            Ok((
                app::intake::AddressIntake::from(&address).parse()?,
                domain::ids::CarrierCode::parse(&gateway)?,
                account
                    .as_deref()
                    .map(domain::gateway::AccountRef::parse)
                    .transpose()?,
            ))
        })();
        let (a, g, acc) = app
            .admit(&rc, domain::access::Operation::ValidateAddress, parsed)
            .await
            .map_err(app_error)?;
        let check = app
            .validate_address(&rc, &a, &g, acc.as_ref())
            .await
            .map_err(app_error)?;
        Ok((&check).into())
    }

    /// Rates for an APPROVED return's label: from where the customer received the items back to
    /// the tenant config's `returnAddress` (else the shipment's pickup address), with the
    /// carrier's return flag; for `package` (else the shipment's first package). Each rate's
    /// `id` is what `buyReturnLabel` takes.
    async fn return_shipping_rates(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        return_id: ID,
        gateway: String,
        account: Option<String>,
        package: Option<crate::inputs::PackageInput>,
    ) -> async_graphql::Result<crate::credentials::ShippingRatesV> {
        let Req { app, rc, .. } = Req::of(ctx).await?;
        let parsed = (|| -> app::AppResult<_> {
            Ok((
                crate::state::order_id(&order_id)?,
                domain::ids::ReturnId::parse(return_id.as_str())
                    .map_err(|_| app::AppError::NotFound { what: "return" })?,
                domain::ids::CarrierCode::parse(&gateway)?,
                account
                    .as_deref()
                    .map(domain::gateway::AccountRef::parse)
                    .transpose()?,
                package
                    .as_ref()
                    .map(|p| app::intake::PackageIntake::from(p).package())
                    .transpose()?,
            ))
        })();
        let (o, id, g, a, p) = app
            .admit(&rc, domain::access::Operation::ReturnShippingRates, parsed)
            .await
            .map_err(app_error)?;
        let quote = app
            .return_shipping_rates(&rc, o, id, p, &g, a.as_ref())
            .await
            .map_err(app_error)?;
        Ok((&quote).into())
    }
}
