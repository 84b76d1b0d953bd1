//! The admin CLI's side of the platform use cases (`app::platform`): opening them over the
//! configured store, and dev tokens.

use std::path::Path;
use std::sync::Arc;

use app::platform::{DevSetup, Platform};

use crate::error::CliError;
use auth::dev::DevIdp;
use boot::{BootError, StoreConfig};
use domain::access::Role;
use domain::ids::{PlanName, Subject, TenantId, VendorId};
use domain::tenant::{IdpRegistration, TenantStatus};
use domain::{Clock, SystemClock};
use serde_json::json;

use crate::remote::{Remote, TENANT_FIELDS, TenantLine};

/// The platform admin's use cases over the configured store, acting as `cli:$USER`. In dev mode
/// new tenants get the dev IdP whose key lives in `data_dir`.
pub async fn open_platform(
    config: &StoreConfig,
    dev_mode: bool,
    data_dir: &Path,
) -> Result<Platform, CliError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = boot::open_store(config, clock.clone()).await?;
    platform_over(store, clock, dev_mode, data_dir)
}

/// The platform use cases over an already open store (`oms serve` holds the embedded file).
pub fn platform_over(
    store: Arc<dyn store::ItemStore>,
    clock: Arc<dyn Clock>,
    dev_mode: bool,
    data_dir: &Path,
) -> Result<Platform, CliError> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let actor = Subject::parse(&format!("cli:{user}"))?;
    let dev = dev_mode.then(|| DevSetup {
        data_dir: data_dir.to_path_buf(),
    });
    Ok(Platform::new(
        store::repo::platform_repositories(store),
        clock,
        actor,
        dev,
    ))
}

/// The secret store that goes with the configured store: the local encrypted file beside the
/// embedded store, Secrets Manager beside a DynamoDB table (under the stage's prefix;
/// `OMS_SECRETS_ENDPOINT` for an emulator).
pub async fn open_secrets(
    config: &StoreConfig,
    data_dir: &Path,
) -> Result<Arc<dyn domain::ports::SecretStore>, CliError> {
    match config {
        StoreConfig::Embedded { .. } => Ok(boot::open_local_secrets(data_dir)?),
        StoreConfig::Dynamo { secrets_prefix, .. } => {
            let config = boot::lambda::SecretsManagerConfig {
                prefix: secrets_prefix.clone(),
                endpoint: std::env::var(boot::lambda::env::SECRETS_ENDPOINT).ok(),
            };
            Ok(boot::lambda::open_secrets_manager(&config, Arc::new(SystemClock)).await)
        }
    }
}

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

/// The platform use cases as the admin commands reach them: over the store, or — while a
/// running `oms serve` holds the embedded store — through that server's platform API.
pub enum Admin {
    Local(Platform),
    Remote(Remote),
}

/// Opens the store for the platform use cases, or reaches the server that holds it.
pub async fn admin(
    config: &StoreConfig,
    dev_mode: bool,
    data_dir: &Path,
) -> Result<Admin, CliError> {
    match open_platform(config, dev_mode, data_dir).await {
        Ok(p) => Ok(Admin::Local(p)),
        Err(CliError::Boot(BootError::StoreInUse { .. })) => {
            Ok(Admin::Remote(Remote::connect(data_dir, dev_mode)?))
        }
        Err(e) => Err(e),
    }
}

const TENANT_PAYLOAD: &str = "userErrors { code message }";

impl Admin {
    async fn tenant_call(
        remote: &Remote,
        mutation: &str,
        args: &str,
        variables: serde_json::Value,
    ) -> Result<TenantLine, CliError> {
        let query = format!(
            "mutation{args} {{ {mutation} {{ tenant {{ {TENANT_FIELDS} }} {TENANT_PAYLOAD} }} }}"
        );
        let field = mutation.split('(').next().unwrap_or(mutation);
        let data = remote.call(&query, variables, field).await?;
        Ok(TenantLine::of_json(&data["tenant"]))
    }

    pub async fn create_tenant(
        &self,
        id: &TenantId,
        name: &str,
        plan: &PlanName,
        shards: u32,
    ) -> Result<TenantLine, CliError> {
        match self {
            Admin::Local(p) => Ok(TenantLine::of_profile(
                &p.create_tenant(id, name, plan, shards).await?,
            )),
            Admin::Remote(r) => {
                Self::tenant_call(
                    r,
                    "createTenant(input: $input)",
                    "($input: CreateTenantInput!)",
                    json!({ "input": { "id": id.as_str(), "name": name, "plan": plan.as_str(), "shards": shards } }),
                )
                .await
            }
        }
    }

    pub async fn set_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<TenantLine, CliError> {
        match self {
            Admin::Local(p) => Ok(TenantLine::of_profile(&p.set_status(id, status).await?)),
            Admin::Remote(r) => {
                let mutation = match status {
                    TenantStatus::Suspended => "suspendTenant(id: $id)",
                    TenantStatus::Active => "activateTenant(id: $id)",
                };
                Self::tenant_call(r, mutation, "($id: ID!)", json!({ "id": id.as_str() })).await
            }
        }
    }

    /// Every tenant, in id order.
    pub async fn tenants(&self) -> Result<Vec<TenantLine>, CliError> {
        match self {
            Admin::Local(p) => Ok(p.list().await?.iter().map(TenantLine::of_profile).collect()),
            Admin::Remote(r) => {
                let query = format!(
                    "query($after: String) {{ tenants(first: 250, after: $after) {{ nodes {{ {TENANT_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
                );
                let mut out = Vec::new();
                let mut after = serde_json::Value::Null;
                loop {
                    let data = r.call(&query, json!({ "after": after }), "tenants").await?;
                    if let Some(nodes) = data["nodes"].as_array() {
                        out.extend(nodes.iter().map(TenantLine::of_json));
                    }
                    if data["pageInfo"]["hasNextPage"] != json!(true) {
                        return Ok(out);
                    }
                    after = data["pageInfo"]["endCursor"].clone();
                }
            }
        }
    }

    /// One tenant as pretty JSON: the whole profile from the store, the API's view through
    /// the server.
    pub async fn show(&self, id: &TenantId) -> Result<String, CliError> {
        match self {
            Admin::Local(p) => pretty(&p.show(id).await?),
            Admin::Remote(r) => {
                let query = format!("query($id: ID!) {{ tenant(id: $id) {{ {TENANT_FIELDS} }} }}");
                let data = r
                    .call(&query, json!({ "id": id.as_str() }), "tenant")
                    .await?;
                if data.is_null() {
                    return Err(CliError::Usage(format!("no tenant {id}")));
                }
                pretty(&data)
            }
        }
    }

    /// Creates or replaces a plan; returns its name and how many operations it permits.
    pub async fn set_plan(
        &self,
        name: &str,
        all: bool,
        operations: &[String],
    ) -> Result<(String, usize), CliError> {
        match self {
            Admin::Local(p) => {
                let ops = domain::access::Plan::requested_operations(all, operations)?;
                let plan = p.set_plan(&PlanName::parse(name)?, ops).await?;
                Ok((plan.name.to_string(), plan.operations.len()))
            }
            Admin::Remote(r) => {
                let data = r
                    .call(
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
        }
    }

    /// Registers one of a tenant's IdPs from the JSON of `file`.
    pub async fn set_idp(
        &self,
        id: &TenantId,
        registration: serde_json::Value,
        file: &Path,
    ) -> Result<TenantLine, CliError> {
        match self {
            Admin::Local(p) => {
                let registration: IdpRegistration =
                    serde_json::from_value(registration).map_err(|e| {
                        CliError::Usage(format!("{}: not an IdP registration: {e}", file.display()))
                    })?;
                Ok(TenantLine::of_profile(&p.set_idp(id, registration).await?))
            }
            Admin::Remote(r) => {
                Self::tenant_call(
                    r,
                    "setTenantIdp(id: $id, registration: $registration)",
                    "($id: ID!, $registration: JSON!)",
                    json!({ "id": id.as_str(), "registration": registration }),
                )
                .await
            }
        }
    }
}

fn pretty(v: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(v).map_err(|e| CliError::Usage(e.to_string()))
}
