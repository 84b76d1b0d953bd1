//! `oms tenant|plan|idp`: the platform admin's use cases through the API (`api::Api`), and
//! what the admin commands share: the secret store beside the configured store, dev tokens.

use std::path::Path;

use crate::api::{Api, As};
use crate::error::CliError;
use auth::dev::DevIdp;
use domain::access::Role;
use domain::ids::{PlanName, Subject, TenantId, VendorId};
use domain::tenant::TenantStatus;
use domain::{Clock, SystemClock};
use serde_json::{Value, json};

/// Mints a dev token (dev mode only; needs no store, so it works while `oms serve` runs).
pub fn mint_token(
    data_dir: &Path,
    tenant: &TenantId,
    role: Role,
    vendor: Option<&VendorId>,
    subject: Option<&Subject>,
    ttl: i64,
) -> Result<String, CliError> {
    let idp = DevIdp::load_or_generate(data_dir)?;
    let secs = SystemClock.now_secs();
    if role == Role::PlatformAdmin {
        return Ok(idp.mint_platform(
            subject.map_or("dev-platform-admin", |s| s.as_str()),
            secs,
            ttl,
        )?);
    }
    Ok(idp.mint(tenant, role, vendor, subject, secs, ttl)?)
}

/// The fields of `Tenant` the CLI reads.
pub const TENANT_FIELDS: &str = "id name status plan shards idps { issuer shared audiences } \
     eventSources { account source } createdAt updatedAt";

/// What the tenant commands print of a tenant.
pub struct TenantLine {
    pub id: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    pub shards: u64,
    pub idps: usize,
    pub event_sources: usize,
}

impl TenantLine {
    /// From the API's `Tenant` (selected with [`TENANT_FIELDS`]).
    pub fn of_json(t: &Value) -> Self {
        let s = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
        let status = match t["status"].as_str() {
            Some("SUSPENDED") => "Suspended",
            _ => "Active",
        };
        Self {
            id: s("id"),
            name: s("name"),
            status: status.to_owned(),
            plan: s("plan"),
            shards: t["shards"].as_u64().unwrap_or_default(),
            idps: t["idps"].as_array().map_or(0, Vec::len),
            event_sources: t["eventSources"].as_array().map_or(0, Vec::len),
        }
    }
}

/// A platform mutation whose payload carries a `tenant`.
pub async fn tenant_call(
    api: &Api,
    mutation: &str,
    args: &str,
    variables: Value,
) -> Result<TenantLine, CliError> {
    let query = format!(
        "mutation{args} {{ {mutation} {{ tenant {{ {TENANT_FIELDS} }} userErrors {{ code message }} }} }}"
    );
    let field = mutation.split('(').next().unwrap_or(mutation);
    let data = api.call(As::Platform, &query, variables, field).await?;
    Ok(TenantLine::of_json(&data["tenant"]))
}

pub async fn create_tenant(
    api: &Api,
    id: &TenantId,
    name: &str,
    plan: &PlanName,
    shards: u32,
) -> Result<TenantLine, CliError> {
    tenant_call(
        api,
        "createTenant(input: $input)",
        "($input: CreateTenantInput!)",
        json!({ "input": { "id": id.as_str(), "name": name, "plan": plan.as_str(), "shards": shards } }),
    )
    .await
}

pub async fn set_status(
    api: &Api,
    id: &TenantId,
    status: TenantStatus,
) -> Result<TenantLine, CliError> {
    let mutation = match status {
        TenantStatus::Suspended => "suspendTenant(id: $id)",
        TenantStatus::Active => "activateTenant(id: $id)",
    };
    tenant_call(api, mutation, "($id: ID!)", json!({ "id": id.as_str() })).await
}

/// Every tenant, in id order.
pub async fn tenants(api: &Api) -> Result<Vec<TenantLine>, CliError> {
    Ok(tenant_nodes(api)
        .await?
        .iter()
        .map(TenantLine::of_json)
        .collect())
}

/// Every tenant as the API shows it, in id order.
pub async fn tenant_nodes(api: &Api) -> Result<Vec<Value>, CliError> {
    let query = format!(
        "query($after: String) {{ tenants(first: 250, after: $after) {{ nodes {{ {TENANT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = api
            .call(As::Platform, &query, json!({ "after": after }), "tenants")
            .await?;
        if let Some(nodes) = data["nodes"].as_array() {
            out.extend(nodes.iter().cloned());
        }
        if data["pageInfo"]["hasNextPage"] != json!(true) {
            return Ok(out);
        }
        after = data["pageInfo"]["endCursor"].clone();
    }
}

/// One tenant as the API shows it, as pretty JSON.
pub async fn show(api: &Api, id: &TenantId) -> Result<String, CliError> {
    let query = format!("query($id: ID!) {{ tenant(id: $id) {{ {TENANT_FIELDS} }} }}");
    let data = api
        .call(As::Platform, &query, json!({ "id": id.as_str() }), "tenant")
        .await?;
    if data.is_null() {
        return Err(CliError::Usage(format!("no tenant {id}")));
    }
    serde_json::to_string_pretty(&data).map_err(|e| CliError::Usage(e.to_string()))
}

/// Creates or replaces a plan; returns its name and how many operations it permits.
pub async fn set_plan(
    api: &Api,
    name: &str,
    all: bool,
    operations: &[String],
) -> Result<(String, usize), CliError> {
    let data = api
        .call(
            As::Platform,
            "mutation($name: String!, $all: Boolean!, $ops: [String!]!) { setPlan(name: $name, all: $all, operations: $ops) { plan { name operations } userErrors { code message } } }",
            json!({ "name": name, "all": all, "ops": operations }),
            "setPlan",
        )
        .await?;
    Ok((
        data["plan"]["name"].as_str().unwrap_or(name).to_owned(),
        data["plan"]["operations"].as_array().map_or(0, Vec::len),
    ))
}

/// Registers one of a tenant's IdPs from a registration's JSON.
pub async fn set_idp(
    api: &Api,
    id: &TenantId,
    registration: Value,
) -> Result<TenantLine, CliError> {
    tenant_call(
        api,
        "setTenantIdp(id: $id, registration: $registration)",
        "($id: ID!, $registration: JSON!)",
        json!({ "id": id.as_str(), "registration": registration }),
    )
    .await
}
