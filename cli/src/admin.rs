//! Platform-admin tasks against the configured store: tenants, plans, IdPs, dev tokens. Every
//! change goes to the SaaS audit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth::dev::DevIdp;
use domain::Timestamp;
use domain::access::{Operation, Plan, Role};
use domain::audit::{AuditRecord, AuditTarget};
use domain::ids::{AuditId, PlanName, Subject, TenantId, VendorId};
use domain::tenant::{IdpRegistration, TenantProfile, TenantStatus};
use store::repo::{RegistryRepository, StoredProfile};
use store::{ItemStore, SystemClock};

/// The plan dev mode creates on first use: every tenant operation.
pub const DEMO_PLAN: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(
        "cannot open the store at {path}: {reason} (is `oms serve` running on this data directory?)"
    )]
    OpenStore { path: String, reason: String },
    #[error("store: {0}")]
    Store(#[from] store::repo::RepoError),
    #[error("{0}")]
    Dev(#[from] auth::dev::DevIdpError),
    #[error("invalid input: {0}")]
    Invalid(#[from] domain::DomainError),
}

/// Where the store is.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    Embedded {
        data_dir: PathBuf,
    },
    Dynamo {
        table: String,
        endpoint: Option<String>,
    },
}

pub struct Admin {
    pub registry: RegistryRepository,
    pub dev_mode: bool,
    pub data_dir: PathBuf,
    actor: Subject,
}

/// The current time (the CLI is an edge: it may read the clock).
pub fn now() -> Timestamp {
    Timestamp::from_datetime(time::OffsetDateTime::now_utc())
}

impl Admin {
    pub async fn open(config: &StoreConfig, dev_mode: bool) -> Result<Self, CliError> {
        let (store, data_dir): (Arc<dyn ItemStore>, PathBuf) = match config {
            StoreConfig::Embedded { data_dir } => {
                std::fs::create_dir_all(data_dir).map_err(|e| CliError::OpenStore {
                    path: data_dir.display().to_string(),
                    reason: e.to_string(),
                })?;
                let path = data_dir.join("store.redb");
                let store = store::embedded::EmbeddedStore::open(&path, Arc::new(SystemClock))
                    .map_err(|e| CliError::OpenStore {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                (Arc::new(store), data_dir.clone())
            }
            StoreConfig::Dynamo { table, endpoint } => {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(e) = endpoint {
                    loader = loader.endpoint_url(e);
                }
                let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
                (
                    Arc::new(store::dynamo::DynamoStore::new(
                        client,
                        table,
                        Arc::new(SystemClock),
                    )),
                    PathBuf::from("."),
                )
            }
        };
        Self::with_registry(RegistryRepository::new(store), dev_mode, data_dir)
    }

    /// Over an already open store (`oms serve` holds the embedded file).
    pub fn with_registry(
        registry: RegistryRepository,
        dev_mode: bool,
        data_dir: PathBuf,
    ) -> Result<Self, CliError> {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let actor = Subject::parse(&format!("cli:{user}")).map_err(CliError::Invalid)?;
        Ok(Self {
            registry,
            dev_mode,
            data_dir,
            actor,
        })
    }

    fn audit(
        &self,
        action: Operation,
        kind: &str,
        id: &str,
        tenant: Option<&TenantId>,
    ) -> AuditRecord {
        AuditRecord::platform_action(
            AuditId::from_ulid(ulid::Ulid::new()),
            self.actor.clone(),
            action.as_str(),
            AuditTarget {
                kind: kind.to_owned(),
                id: id.to_owned(),
            },
            tenant.cloned(),
            now(),
            format!("cli-{}", ulid::Ulid::new()),
        )
    }

    async fn profile(&self, tenant: &TenantId) -> Result<StoredProfile, CliError> {
        self.registry
            .get(tenant)
            .await?
            .ok_or_else(|| CliError::Usage(format!("no tenant {tenant}; see `oms tenant list`")))
    }

    pub async fn set_plan(
        &self,
        name: &PlanName,
        operations: Vec<Operation>,
    ) -> Result<Plan, CliError> {
        let plan = Plan::new(name.clone(), operations)?;
        self.registry
            .put_plan(
                &plan,
                &self.audit(Operation::SetPlan, "plan", name.as_str(), None),
            )
            .await?;
        Ok(plan)
    }

    /// Onboards a tenant. In dev mode the demo plan is created if missing and the dev IdP is
    /// registered for the tenant.
    pub async fn create_tenant(
        &self,
        id: &TenantId,
        name: &str,
        plan: &PlanName,
        shards: u32,
    ) -> Result<TenantProfile, CliError> {
        if self.registry.plan(plan).await?.is_none() {
            if self.dev_mode && plan.as_str() == DEMO_PLAN {
                self.registry
                    .put_plan(
                        &Plan::everything(plan.clone()),
                        &self.audit(Operation::SetPlan, "plan", DEMO_PLAN, None),
                    )
                    .await?;
            } else {
                return Err(CliError::Usage(format!(
                    "no plan {plan}; create it first with `oms plan set {plan} --all`"
                )));
            }
        }
        if self.registry.get(id).await?.is_some() {
            return Err(CliError::Usage(format!("tenant {id} already exists")));
        }
        let at = now();
        let mut profile = TenantProfile::new(id.clone(), name, plan.clone(), at)?;
        if shards > 1 {
            profile.grow_shards(shards, at)?;
        }
        if self.dev_mode {
            profile.set_idp(
                DevIdp::load_or_generate(&self.data_dir)?.registration()?,
                at,
            )?;
        }
        self.registry
            .create(
                &profile,
                &self.audit(Operation::CreateTenant, "tenant", id.as_str(), Some(id)),
            )
            .await?;
        Ok(profile)
    }

    pub async fn set_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<TenantProfile, CliError> {
        let stored = self.profile(id).await?;
        let mut p = stored.profile.clone();
        p.status = status;
        p.updated_at = now();
        self.registry
            .update(
                &stored,
                &p,
                &self.audit(Operation::SuspendTenant, "tenant", id.as_str(), Some(id)),
            )
            .await?;
        Ok(p)
    }

    pub async fn set_idp(
        &self,
        id: &TenantId,
        registration: IdpRegistration,
    ) -> Result<TenantProfile, CliError> {
        auth::check_registration(&registration).map_err(CliError::Usage)?;
        if !self.dev_mode && registration.issuer.as_str().starts_with(auth::DEV_ISSUER) {
            return Err(CliError::Usage(
                "the dev issuer cannot be registered outside dev mode".into(),
            ));
        }
        let stored = self.profile(id).await?;
        let mut p = stored.profile.clone();
        p.set_idp(registration, now())?;
        self.registry
            .update(
                &stored,
                &p,
                &self.audit(Operation::SetIdp, "tenant", id.as_str(), Some(id)),
            )
            .await?;
        Ok(p)
    }

    pub async fn show(&self, id: &TenantId) -> Result<TenantProfile, CliError> {
        Ok(self.profile(id).await?.profile)
    }

    pub async fn list(&self) -> Result<Vec<TenantProfile>, CliError> {
        let mut out = Vec::new();
        for id in self.registry.list().await? {
            out.push(self.profile(&id).await?.profile);
        }
        Ok(out)
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
    let secs = now().unix_seconds();
    if role == Role::PlatformAdmin {
        return Ok(idp.mint_platform(
            subject.map_or("dev-platform-admin", |s| s.as_str()),
            secs,
            ttl,
        )?);
    }
    Ok(idp.mint(tenant, role, vendor, subject, secs, ttl)?)
}
