//! The SaaS provider's use cases: plans, tenants, IdP registrations. Every change goes to the SaaS
//! audit with the platform admin as actor. The admin CLI (and `oms serve`'s first start) call
//! these; they never touch tenant data.

use std::path::PathBuf;
use std::sync::Arc;

use auth::dev::{DevIdp, DevIdpError};
use auth::webhook::WebhookVerifier;
use domain::access::{Operation, Plan};
use domain::audit::{AuditRecord, AuditTarget};
use domain::gateway::{CredentialVersion, GatewayConfig};
use domain::ids::{AccountId, AuditId, CarrierCode, CredentialId, PlanName, Subject, TenantId};
use domain::outbound::OutboundPolicy;
use domain::ports::SecretStore;
use domain::tenant::{EventSource, IdpRegistration, TenantProfile, TenantStatus};
use domain::webhook::{DEFAULT_MAX_AGE_SECONDS, WebhookHook, WebhookProvider, WebhookSetting};
use domain::{Clock, DomainError, Timestamp};
use secrecy::SecretString;

use crate::credentials::{Author, Book, NewCredentials};
use crate::ports::{
    CredentialStore, GatewayCatalogue, Owner, PlatformRepositories, Registry, RepoError,
    StoredProfile,
};

/// The plan dev mode creates on first use: every tenant operation.
pub const DEMO_PLAN: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The request cannot be carried out as asked; the message says what to do instead.
    #[error("{0}")]
    Refused(String),
    /// The tenant or plan named does not exist.
    #[error("{message}")]
    Missing { what: &'static str, message: String },
    /// It exists already.
    #[error("{0}")]
    Exists(String),
    #[error("invalid input: {0}")]
    Invalid(#[from] DomainError),
    #[error("{0}")]
    Dev(#[from] DevIdpError),
    #[error("store: {0}")]
    Store(RepoError),
    #[error("secret store: {0}")]
    Secrets(#[from] domain::ports::SecretError),
    /// A use case shared with tenants refused (the platform's carrier credentials).
    #[error(transparent)]
    App(#[from] crate::error::AppError),
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

fn missing_plan(plan: &PlanName) -> PlatformError {
    PlatformError::Missing {
        what: "plan",
        message: format!(
            "no plan {plan}; create it first (setPlan, or `oms plan set {plan} --all`)"
        ),
    }
}

/// Dev mode: the demo plan is created on demand and the dev IdP (its key in `data_dir`) is
/// registered for every new tenant.
#[derive(Debug, Clone)]
pub struct DevSetup {
    pub data_dir: PathBuf,
}

/// The platform admin's use cases, acting as `actor`.
pub struct Platform {
    registry: Arc<dyn Registry>,
    gateways: Arc<dyn GatewayCatalogue>,
    /// The platform's own carrier credentials.
    credentials: Arc<dyn CredentialStore>,
    /// Tenants' carrier usage of the platform's accounts.
    usage: Arc<dyn crate::ports::UsageLog>,
    clock: Arc<dyn Clock>,
    actor: Subject,
    dev: Option<DevSetup>,
    secrets: Option<Arc<dyn SecretStore>>,
    /// Which URLs the catalogue may set (production's by default).
    outbound: OutboundPolicy,
    /// The request the audit records name (the CLI's own run otherwise).
    request_id: Option<String>,
    /// Audit ids from the clock, increasing within a millisecond: a day of the SaaS audit
    /// lists in the order the actions happened.
    ids: std::sync::Mutex<ulid::Generator>,
    /// Told of every change: the caches of the process serving requests forget what they
    /// hold, so a suspension, a new tenant or plan applies at once there (other processes:
    /// within the directory's TTL).
    on_change: Option<Arc<auth::Verifier>>,
}

/// The largest page of tenants or SaaS audit records.
pub const MAX_PLATFORM_PAGE: u32 = 250;

/// A page of a platform listing; `next` is the `after` of the following page.
#[derive(Debug, Clone)]
pub struct PlatformPage<T> {
    /// Each row with the cursor that resumes after it.
    pub rows: Vec<(T, String)>,
    pub next: Option<String>,
}

fn check_first(first: u32) -> PlatformResult<usize> {
    if first == 0 || first > MAX_PLATFORM_PAGE {
        return Err(PlatformError::Refused(format!(
            "first must be between 1 and {MAX_PLATFORM_PAGE}"
        )));
    }
    Ok(first as usize)
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
        records: PlatformRepositories,
        clock: Arc<dyn Clock>,
        actor: Subject,
        dev: Option<DevSetup>,
    ) -> Self {
        Self {
            gateways: records.catalogue,
            registry: records.registry,
            credentials: records.credentials,
            usage: records.usage,
            clock,
            actor,
            dev,
            secrets: None,
            outbound: OutboundPolicy::production(),
            request_id: None,
            ids: std::sync::Mutex::new(ulid::Generator::new()),
            on_change: None,
        }
    }

    fn next_audit_id(&self) -> ulid::Ulid {
        let at = std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(
                u64::try_from(self.clock.now().unix_millis()).unwrap_or_default(),
            );
        self.ids
            .lock()
            .ok()
            .and_then(|mut g| g.generate_from_datetime(at).ok())
            .unwrap_or_else(|| ulid::Ulid::from_datetime(at))
    }

    /// Changes apply at once to `verifier` (and its directory), the one serving requests.
    pub fn with_verifier(mut self, verifier: Arc<auth::Verifier>) -> Self {
        self.on_change = Some(verifier);
        self
    }

    fn changed(&self) {
        if let Some(v) = &self.on_change {
            v.forget();
        }
    }

    /// Audit records name `request_id` (an API request) instead of a CLI run.
    pub fn with_request_id(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_owned());
        self
    }

    /// Which URLs the gateway catalogue may set.
    pub fn with_outbound(mut self, policy: OutboundPolicy) -> Self {
        self.outbound = policy;
        self
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
        self.changed();
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
    /// Its platform offers stay as they are (`offer_platform_account` changes them).
    pub async fn set_gateway(&self, mut gateway: GatewayConfig) -> PlatformResult<GatewayConfig> {
        gateway.validate(&self.outbound)?;
        gateway.offers = match self.gateways.gateway(&gateway.id).await? {
            Some(stored) => stored.offers,
            None => Vec::new(),
        };
        let audit = self.audit(Operation::SetGateway, "gateway", gateway.id.as_str(), None);
        self.gateways.put_gateway(&gateway, &audit).await?;
        Ok(gateway)
    }

    /// The gateway catalogue.
    pub async fn gateways(&self) -> PlatformResult<Vec<GatewayConfig>> {
        Ok(self.gateways.gateways().await?)
    }

    /// Offers the platform's `account` of `gateway` to the tenants of exactly `plans` (none:
    /// withdraws it). The account needs no credentials yet; until it has a version in force,
    /// its use answers `CONNECTION_NOT_EFFECTIVE`.
    pub async fn offer_platform_account(
        &self,
        gateway: &CarrierCode,
        account: AccountId,
        plans: Vec<PlanName>,
    ) -> PlatformResult<GatewayConfig> {
        let mut g =
            self.gateways
                .gateway(gateway)
                .await?
                .ok_or_else(|| PlatformError::Missing {
                    what: "gateway",
                    message: format!("no gateway {gateway} in the catalogue"),
                })?;
        for plan in &plans {
            self.registry
                .plan(plan)
                .await?
                .ok_or_else(|| PlatformError::Missing {
                    what: "plan",
                    message: format!("no plan {plan}"),
                })?;
        }
        let target = format!("{}/platform:{account}", g.id);
        g.set_offer(account, plans);
        let audit = self.audit(Operation::OfferPlatformAccount, "gateway", &target, None);
        self.gateways.put_gateway(&g, &audit).await?;
        Ok(g)
    }

    /// A tenant's carrier usage of the platform's accounts with `from ≤ at < to`, oldest first
    /// (what to bill it).
    pub async fn carrier_usage(
        &self,
        tenant: &TenantId,
        from: Timestamp,
        to: Timestamp,
    ) -> PlatformResult<Vec<domain::usage::CarrierUsage>> {
        self.profile(tenant).await?;
        Ok(self.usage.usage(tenant, from, to).await?)
    }

    /// Every version of the platform's carrier credentials (of one gateway, if given), oldest
    /// first per account, with fingerprints only.
    pub async fn platform_credentials(
        &self,
        gateway: Option<&CarrierCode>,
    ) -> PlatformResult<Vec<CredentialVersion>> {
        Ok(
            crate::credentials::versions(self.credentials.as_ref(), Owner::Platform, gateway)
                .await?,
        )
    }

    /// Adds a version of a platform account's credentials (the same rules as a tenant's).
    pub async fn add_platform_credentials(
        &self,
        new: NewCredentials,
    ) -> PlatformResult<CredentialVersion> {
        let audit = |op, v: &CredentialVersion| Ok(self.credential_audit(op, v));
        Ok(self.book()?.add(&self.author(&audit), new).await?)
    }

    /// Rotates a platform account's credentials at `from` (default now).
    pub async fn rotate_platform_credentials(
        &self,
        new: NewCredentials,
    ) -> PlatformResult<CredentialVersion> {
        let audit = |op, v: &CredentialVersion| Ok(self.credential_audit(op, v));
        Ok(self.book()?.rotate(&self.author(&audit), new).await?)
    }

    /// Ends a platform version's window at `at` (default now), once.
    pub async fn expire_platform_credentials(
        &self,
        gateway: &CarrierCode,
        account: &AccountId,
        id: CredentialId,
        at: Option<Timestamp>,
    ) -> PlatformResult<CredentialVersion> {
        let audit = |op, v: &CredentialVersion| Ok(self.credential_audit(op, v));
        Ok(self
            .book()?
            .expire(&self.author(&audit), gateway, account, id, at)
            .await?)
    }

    fn book(&self) -> PlatformResult<Book<'_>> {
        Ok(Book {
            credentials: self.credentials.as_ref(),
            catalogue: self.gateways.as_ref(),
            secrets: self.secrets()?.as_ref(),
            outbound: &self.outbound,
            now: self.clock.now(),
            id: CredentialId::from_ulid(ulid::Ulid::new()),
        })
    }

    fn author<'a>(&self, audit: &'a crate::credentials::AuditFn<'a>) -> Author<'a> {
        Author {
            owner: Owner::Platform,
            subject: self.actor.clone(),
            audit,
        }
    }

    fn credential_audit(&self, op: Operation, v: &CredentialVersion) -> AuditRecord {
        let op = match op {
            Operation::RotateCarrierCredential => Operation::RotatePlatformCredential,
            Operation::ExpireCarrierCredential => Operation::ExpirePlatformCredential,
            _ => Operation::AddPlatformCredential,
        };
        self.audit(
            op,
            "carrierCredential",
            &format!("platform/{}/{}/{}", v.gateway, v.account, v.id),
            None,
        )
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
            AuditId::from_ulid(self.next_audit_id()),
            self.actor.clone(),
            action.as_str(),
            AuditTarget {
                kind: kind.to_owned(),
                id: id.to_owned(),
            },
            tenant.cloned(),
            self.clock.now(),
            self.request_id
                .clone()
                .unwrap_or_else(|| format!("cli-{}", ulid::Ulid::new())),
        )
    }

    async fn profile(&self, tenant: &TenantId) -> PlatformResult<StoredProfile> {
        self.registry
            .get(tenant)
            .await?
            .ok_or_else(|| PlatformError::Missing {
                what: "tenant",
                message: format!("no tenant {tenant}"),
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
        self.changed();
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
                return Err(missing_plan(plan));
            }
        }
        if self.registry.get(id).await?.is_some() {
            return Err(PlatformError::Exists(format!("tenant {id} already exists")));
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
        self.changed();
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
        let op = match status {
            TenantStatus::Suspended => Operation::SuspendTenant,
            TenantStatus::Active => Operation::ActivateTenant,
        };
        let audit = self.audit(op, "tenant", id.as_str(), Some(id));
        self.registry.update(&stored, &p, &audit).await?;
        self.changed();
        Ok(p)
    }

    /// Moves a tenant to another plan (its users' permissions change within the directory's
    /// TTL).
    pub async fn set_tenant_plan(
        &self,
        id: &TenantId,
        plan: &PlanName,
    ) -> PlatformResult<TenantProfile> {
        if self.registry.plan(plan).await?.is_none() {
            return Err(missing_plan(plan));
        }
        let stored = self.profile(id).await?;
        let mut p = stored.profile.clone();
        p.plan = plan.clone();
        p.updated_at = self.clock.now();
        let audit = self.audit(Operation::SetTenantPlan, "tenant", id.as_str(), Some(id));
        self.registry.update(&stored, &p, &audit).await?;
        self.changed();
        Ok(p)
    }

    /// A plan as stored.
    pub async fn plan(&self, name: &PlanName) -> PlatformResult<Plan> {
        self.registry
            .plan(name)
            .await?
            .ok_or_else(|| missing_plan(name))
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
        self.changed();
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

    /// Tenants in id order, `first` after the tenant id `after` (the cursor is the id: the
    /// platform admin sees every tenant anyway).
    pub async fn tenants_page(
        &self,
        first: u32,
        after: Option<&str>,
    ) -> PlatformResult<PlatformPage<TenantProfile>> {
        let first = check_first(first)?;
        let after = after
            .map(|a| {
                TenantId::parse(a).map_err(|_| PlatformError::Refused("invalid cursor".into()))
            })
            .transpose()?;
        let ids = self.registry.list().await?;
        let mut rest = ids
            .into_iter()
            .filter(|id| after.as_ref().is_none_or(|a| id.as_str() > a.as_str()));
        let mut rows = Vec::new();
        for id in rest.by_ref().take(first) {
            let profile = self.profile(&id).await?.profile;
            rows.push((profile, id.to_string()));
        }
        let next = match rest.next() {
            Some(_) => rows.last().map(|(_, c)| c.clone()),
            None => None,
        };
        Ok(PlatformPage { rows, next })
    }

    /// The SaaS audit between `from` and `to` (inclusive, at most 31 days), newest first, a day
    /// partition at a time. The cursor is `{day}.{record id}` of the last row.
    pub async fn saas_audit_page(
        &self,
        from: Timestamp,
        to: Timestamp,
        first: u32,
        after: Option<&str>,
    ) -> PlatformResult<PlatformPage<AuditRecord>> {
        let first = check_first(first)?;
        if !crate::audit_days::range_ok(from, to) {
            return Err(PlatformError::Refused(crate::audit_days::range_message()));
        }
        let bad_cursor = || PlatformError::Refused("invalid cursor".into());
        let (mut day, mut after) = match after {
            None => (to, None),
            Some(c) => {
                let (day, id) =
                    crate::audit_days::split_cursor(c, from, to).ok_or_else(bad_cursor)?;
                (day, Some(AuditId::parse(id).map_err(|_| bad_cursor())?))
            }
        };
        let mut rows: Vec<(AuditRecord, String)> = Vec::new();
        loop {
            let mut records = self.registry.saas_audit(day).await?;
            // Stored oldest first (by id): newest first, after the cursor's record on its day.
            records.reverse();
            for r in records {
                let unseen = after.as_ref().is_none_or(|a| r.id.ulid() < a.ulid());
                if !(unseen && r.at >= from && r.at <= to) {
                    continue;
                }
                if rows.len() == first {
                    let next = rows.last().map(|(_, c)| c.clone());
                    return Ok(PlatformPage { rows, next });
                }
                let cursor = format!("{}.{}", day.day(), r.id);
                rows.push((r, cursor));
            }
            after = None;
            let previous = day.plus_seconds(-86_400);
            if previous.day() < from.day() {
                return Ok(PlatformPage { rows, next: None });
            }
            day = previous;
        }
    }

    /// Whether a tenant exists (`oms serve` creates the demo tenant on first start).
    pub async fn exists(&self, id: &TenantId) -> PlatformResult<bool> {
        Ok(self.registry.get(id).await?.is_some())
    }
}

/// Where API requests reach the platform use cases: the records they run over and, in dev mode,
/// the dev IdP that new tenants get (as with `oms tenant create`).
#[derive(Clone)]
pub struct PlatformHost {
    records: PlatformRepositories,
    clock: Arc<dyn Clock>,
    dev: Option<DevSetup>,
    verifier: Arc<auth::Verifier>,
    outbound: OutboundPolicy,
}

impl PlatformHost {
    /// The platform use cases over `records`; `verifier` (with its directory) forgets its
    /// cached tenants and tokens on every change.
    pub fn new(
        records: PlatformRepositories,
        clock: Arc<dyn Clock>,
        verifier: Arc<auth::Verifier>,
    ) -> Self {
        Self {
            records,
            clock,
            dev: None,
            verifier,
            outbound: OutboundPolicy::production(),
        }
    }

    /// Which URLs the gateway catalogue may set.
    pub fn with_outbound(mut self, policy: OutboundPolicy) -> Self {
        self.outbound = policy;
        self
    }

    /// Dev mode: the demo plan on demand and the dev IdP registered for new tenants.
    pub fn with_dev(mut self, dev: DevSetup) -> Self {
        self.dev = Some(dev);
        self
    }

    /// The use cases as the operator of this process (`oms serve` creating the demo tenant on
    /// its first start), named `actor` in the SaaS audit.
    pub fn local(&self, actor: Subject) -> Platform {
        Platform::new(
            self.records.clone(),
            self.clock.clone(),
            actor,
            self.dev.clone(),
        )
        .with_verifier(self.verifier.clone())
        .with_outbound(self.outbound.clone())
    }

    /// The use cases as `rc`'s platform admin, once `op` is allowed: a tenant's token is
    /// FORBIDDEN (the denial audited in its tenant's log), and platform tokens reach nothing
    /// else (every tenant use case refuses them).
    pub async fn admit(
        &self,
        app: &crate::App,
        rc: &crate::RequestCtx,
        op: Operation,
    ) -> crate::AppResult<Platform> {
        app.check(rc, op, crate::Target::Platform).await?;
        match &rc.caller {
            auth::Caller::Platform(admin) => {
                let platform = Platform::new(
                    self.records.clone(),
                    self.clock.clone(),
                    admin.subject().clone(),
                    self.dev.clone(),
                )
                .with_request_id(&rc.request_id)
                .with_verifier(self.verifier.clone())
                .with_outbound(self.outbound.clone());
                // The platform's carrier credentials keep their secrets where tenants' do.
                Ok(match app.secrets() {
                    Ok(secrets) => platform.with_secrets(secrets.clone()),
                    Err(_) => platform,
                })
            }
            auth::Caller::Tenant(_) => Err(crate::AppError::Forbidden {
                operation: op.as_str(),
            }),
        }
    }
}

impl From<PlatformError> for crate::AppError {
    fn from(e: PlatformError) -> Self {
        use crate::AppError;
        match e {
            PlatformError::Refused(message) => AppError::Invalid {
                field: "input".into(),
                message,
            },
            PlatformError::Invalid(e) => AppError::from(e),
            // A plan is named by the request's input; a tenant is the request's target.
            PlatformError::Missing {
                what: "plan",
                message,
            } => AppError::Invalid {
                field: "plan".into(),
                message,
            },
            PlatformError::Missing { what, .. } => AppError::NotFound { what },
            // What the request names is taken (a tenant id): its input's fault, not a race.
            PlatformError::Exists(message) => AppError::Invalid {
                field: "id".into(),
                message,
            },
            PlatformError::Store(e) => AppError::from(e),
            PlatformError::Dev(e) => AppError::internal(&e.to_string()),
            PlatformError::Secrets(e) => AppError::internal(&e.to_string()),
            PlatformError::App(e) => e,
        }
    }
}

/// The event bus's resource policy for the registered sources: each account may put events on
/// the bus only with the sources registered to it (EventBridge checks `events:source`), one
/// statement per account; no account may put ours (`tenantoms`) or any other. The SaaS
/// provider's own account is not named: its functions put events through their IAM roles.
/// Applied with `aws events put-permission --event-bus-name … --policy "$(oms events
/// bus-policy --bus-arn …)"` (README: Tenant events).
pub fn event_bus_policy(
    bus_arn: &str,
    sources: &[domain::tenant::EventSource],
) -> serde_json::Value {
    let mut by_account: std::collections::BTreeMap<&str, Vec<&str>> =
        std::collections::BTreeMap::new();
    for s in sources {
        by_account
            .entry(s.account.as_str())
            .or_default()
            .push(s.source.as_str());
    }
    let statements: Vec<serde_json::Value> = by_account
        .into_iter()
        .map(|(account, mut sources)| {
            sources.sort_unstable();
            sources.dedup();
            serde_json::json!({
                "Sid": format!("TenantAccount{account}"),
                "Effect": "Allow",
                "Principal": { "AWS": account },
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": { "StringEquals": { "events:source": sources } },
            })
        })
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}
