//! The SaaS provider's use cases: plans, tenants, IdP registrations. Every change goes to the SaaS
//! audit with the platform admin as actor. The admin CLI (and `oms serve`'s first start) call
//! these; they never touch tenant data.

use std::path::PathBuf;
use std::sync::Arc;

use auth::dev::{DevIdp, DevIdpError};
use auth::webhook::WebhookVerifier;
use domain::access::{Operation, Plan};
use domain::audit::{AuditRecord, AuditTarget};
use domain::gateway::GatewayConfig;
use domain::ids::{AuditId, PlanName, Subject, TenantId};
use domain::ports::SecretStore;
use domain::tenant::{EventSource, IdpRegistration, TenantProfile, TenantStatus};
use domain::webhook::{DEFAULT_MAX_AGE_SECONDS, WebhookHook, WebhookProvider, WebhookSetting};
use domain::{Clock, DomainError};
use secrecy::SecretString;
use store::ItemStore;
use store::repo::{CredentialRepository, RegistryRepository, RepoError, StoredProfile};

/// The plan dev mode creates on first use: every tenant operation.
pub const DEMO_PLAN: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The request cannot be carried out as asked; the message says what to do instead.
    #[error("{0}")]
    Refused(String),
    #[error("invalid input: {0}")]
    Invalid(#[from] DomainError),
    #[error("{0}")]
    Dev(#[from] DevIdpError),
    #[error("store: {0}")]
    Store(RepoError),
    #[error("secret store: {0}")]
    Secrets(#[from] domain::ports::SecretError),
}

impl From<RepoError> for PlatformError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::IssuerTaken(issuer) => PlatformError::Refused(format!(
                "issuer {issuer} is already registered to another tenant (a dedicated issuer \
                 serves one tenant; register it as shared, with a tenant claim, to serve several)"
            )),
            RepoError::EventSourceTaken(source) => PlatformError::Refused(format!(
                "event source {source} is already registered to another tenant"
            )),
            other => PlatformError::Store(other),
        }
    }
}

pub type PlatformResult<T> = Result<T, PlatformError>;

/// Dev mode: the demo plan is created on demand and the dev IdP (its key in `data_dir`) is
/// registered for every new tenant.
#[derive(Debug, Clone)]
pub struct DevSetup {
    pub data_dir: PathBuf,
}

/// The platform admin's use cases, acting as `actor`.
pub struct Platform {
    registry: RegistryRepository,
    gateways: CredentialRepository,
    clock: Arc<dyn Clock>,
    actor: Subject,
    dev: Option<DevSetup>,
    secrets: Option<Arc<dyn SecretStore>>,
}

/// A hook's new settings.
pub struct WebhookRequest {
    pub hook: WebhookHook,
    pub provider: WebhookProvider,
    pub secret: SecretString,
    pub max_age_seconds: Option<i64>,
    /// JMESPath to the tracking number (shipment-tracker).
    pub tracking_reference: Option<String>,
}

impl Platform {
    pub fn new(
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        actor: Subject,
        dev: Option<DevSetup>,
    ) -> Self {
        Self {
            gateways: CredentialRepository::new(store.clone()),
            registry: RegistryRepository::new(store),
            clock,
            actor,
            dev,
            secrets: None,
        }
    }

    /// Where webhook secrets go (`set_webhook`, `webhook_secret`).
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretStore>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    fn secrets(&self) -> PlatformResult<&Arc<dyn SecretStore>> {
        self.secrets
            .as_ref()
            .ok_or_else(|| PlatformError::Refused("no secret store is configured".into()))
    }

    /// Configures a tenant's hook: the secret goes to the secret store (the profile keeps its
    /// reference); the secret it replaces stays valid beside it until the next rotation.
    pub async fn set_webhook(
        &self,
        id: &TenantId,
        req: WebhookRequest,
    ) -> PlatformResult<TenantProfile> {
        if let Some(expr) = &req.tracking_reference {
            auth::mapping::Expr::compile("trackingReference", expr)
                .map_err(PlatformError::Refused)?;
        }
        let stored = self.profile(id).await?;
        let purpose = WebhookVerifier::purpose(req.hook);
        let reference = self.secrets()?.put(id, &purpose, &req.secret).await?;
        let mut p = stored.profile.clone();
        let setting = WebhookSetting::rotated(
            req.provider,
            reference,
            p.webhooks.get(&req.hook),
            req.max_age_seconds.unwrap_or(DEFAULT_MAX_AGE_SECONDS),
            req.tracking_reference,
        )?;
        p.webhooks.insert(req.hook, setting);
        p.updated_at = self.clock.now();
        let audit = self.audit(Operation::SetWebhook, "tenant", id.as_str(), Some(id));
        self.registry.update(&stored, &p, &audit).await?;
        Ok(p)
    }

    /// Configures the SaaS provider's own hook (SaaS-level carrier webhooks): the secret goes
    /// to the secret store under the reserved platform tenant.
    pub async fn set_saas_webhook(&self, req: WebhookRequest) -> PlatformResult<WebhookSetting> {
        let owner = WebhookVerifier::platform_tenant()
            .map_err(|e| PlatformError::Refused(e.to_string()))?;
        let purpose = WebhookVerifier::saas_purpose(req.hook);
        let reference = self.secrets()?.put(&owner, &purpose, &req.secret).await?;
        let previous = self.registry.saas_webhook(req.hook).await?;
        let setting = WebhookSetting::rotated(
            req.provider,
            reference,
            previous.as_ref(),
            req.max_age_seconds.unwrap_or(DEFAULT_MAX_AGE_SECONDS),
            req.tracking_reference,
        )?;
        let audit = self.audit(
            Operation::SetWebhook,
            "saasWebhook",
            req.hook.as_str(),
            None,
        );
        self.registry
            .put_saas_webhook(req.hook, &setting, &audit)
            .await?;
        Ok(setting)
    }

    /// Registers an event source for a tenant: events from this account and source are applied
    /// to this tenant only. A source belongs to one tenant.
    pub async fn set_event_source(
        &self,
        id: &TenantId,
        source: EventSource,
    ) -> PlatformResult<TenantProfile> {
        let stored = self.profile(id).await?;
        let mut p = stored.profile.clone();
        if !p.event_sources.contains(&source) {
            p.event_sources.push(source.clone());
            p.event_sources.sort();
        }
        p.updated_at = self.clock.now();
        let audit = self.audit(
            Operation::SetEventSource,
            "eventSource",
            &source.to_string(),
            Some(id),
        );
        self.registry
            .add_event_source(&stored, &p, &source, &audit)
            .await?;
        Ok(p)
    }

    /// Adds or replaces a gateway of the catalogue (the carriers tenants may use).
    pub async fn set_gateway(&self, gateway: GatewayConfig) -> PlatformResult<GatewayConfig> {
        gateway.validate()?;
        let audit = self.audit(Operation::SetGateway, "gateway", gateway.id.as_str(), None);
        self.gateways.put_gateway(&gateway, &audit).await?;
        Ok(gateway)
    }

    /// The gateway catalogue.
    pub async fn gateways(&self) -> PlatformResult<Vec<GatewayConfig>> {
        Ok(self.gateways.gateways().await?)
    }

    /// A hook's provider and current secret (`oms webhook sign`).
    pub async fn webhook_secret(
        &self,
        id: &TenantId,
        hook: WebhookHook,
    ) -> PlatformResult<(WebhookProvider, SecretString)> {
        let profile = self.profile(id).await?.profile;
        let setting = profile.webhooks.get(&hook).ok_or_else(|| {
            PlatformError::Refused(format!(
                "tenant {id} has no {} hook; set it with `oms webhook set`",
                hook.as_str()
            ))
        })?;
        let current = setting
            .secrets
            .first()
            .ok_or_else(|| PlatformError::Refused("the hook has no secret".into()))?;
        let secret = self
            .secrets()?
            .get(id, &WebhookVerifier::purpose(hook), current)
            .await?;
        Ok((setting.provider, secret))
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
            self.clock.now(),
            format!("cli-{}", ulid::Ulid::new()),
        )
    }

    async fn profile(&self, tenant: &TenantId) -> PlatformResult<StoredProfile> {
        self.registry.get(tenant).await?.ok_or_else(|| {
            PlatformError::Refused(format!("no tenant {tenant}; see `oms tenant list`"))
        })
    }

    pub async fn set_plan(
        &self,
        name: &PlanName,
        operations: Vec<Operation>,
    ) -> PlatformResult<Plan> {
        let plan = Plan::new(name.clone(), operations)?;
        let audit = self.audit(Operation::SetPlan, "plan", name.as_str(), None);
        self.registry.put_plan(&plan, &audit).await?;
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
    ) -> PlatformResult<TenantProfile> {
        if self.registry.plan(plan).await?.is_none() {
            if self.dev.is_some() && plan.as_str() == DEMO_PLAN {
                let audit = self.audit(Operation::SetPlan, "plan", DEMO_PLAN, None);
                self.registry
                    .put_plan(&Plan::everything(plan.clone()), &audit)
                    .await?;
            } else {
                return Err(PlatformError::Refused(format!(
                    "no plan {plan}; create it first with `oms plan set {plan} --all`"
                )));
            }
        }
        if self.registry.get(id).await?.is_some() {
            return Err(PlatformError::Refused(format!(
                "tenant {id} already exists"
            )));
        }
        let at = self.clock.now();
        let mut profile = TenantProfile::new(id.clone(), name, plan.clone(), at)?;
        if shards > 1 {
            profile.grow_shards(shards, at)?;
        }
        if let Some(dev) = &self.dev {
            let registration = DevIdp::load_or_generate(&dev.data_dir)?.registration()?;
            profile.set_idp(registration, at)?;
        }
        let audit = self.audit(Operation::CreateTenant, "tenant", id.as_str(), Some(id));
        self.registry.create(&profile, &audit).await?;
        Ok(profile)
    }

    /// Suspends or re-activates a tenant (its users are refused within the directory's TTL).
    pub async fn set_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> PlatformResult<TenantProfile> {
        let stored = self.profile(id).await?;
        let mut p = stored.profile.clone();
        p.status = status;
        p.updated_at = self.clock.now();
        let audit = self.audit(Operation::SuspendTenant, "tenant", id.as_str(), Some(id));
        self.registry.update(&stored, &p, &audit).await?;
        Ok(p)
    }

    /// Registers (or replaces) one of the tenant's identity providers.
    pub async fn set_idp(
        &self,
        id: &TenantId,
        registration: IdpRegistration,
    ) -> PlatformResult<TenantProfile> {
        auth::check_registration(&registration).map_err(PlatformError::Refused)?;
        if self.dev.is_none() && registration.issuer.as_str().starts_with(auth::DEV_ISSUER) {
            return Err(PlatformError::Refused(
                "the dev issuer cannot be registered outside dev mode".into(),
            ));
        }
        let stored = self.profile(id).await?;
        let mut p = stored.profile.clone();
        p.set_idp(registration, self.clock.now())?;
        let audit = self.audit(Operation::SetIdp, "tenant", id.as_str(), Some(id));
        self.registry.update(&stored, &p, &audit).await?;
        Ok(p)
    }

    pub async fn show(&self, id: &TenantId) -> PlatformResult<TenantProfile> {
        Ok(self.profile(id).await?.profile)
    }

    pub async fn list(&self) -> PlatformResult<Vec<TenantProfile>> {
        let mut out = Vec::new();
        for id in self.registry.list().await? {
            out.push(self.profile(&id).await?.profile);
        }
        Ok(out)
    }

    /// Whether a tenant exists (`oms serve` creates the demo tenant on first start).
    pub async fn exists(&self, id: &TenantId) -> PlatformResult<bool> {
        Ok(self.registry.get(id).await?.is_some())
    }
}
