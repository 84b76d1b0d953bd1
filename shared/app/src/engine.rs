//! The machinery every use case shares: authorize, read once, run the domain command, commit one
//! transaction (aggregate, audit, outbox, index and vendor items, and — for a keyed request — the
//! stored response). The use cases themselves live in `orders`, `tenants` and `platform`.

use std::sync::{Arc, Mutex};

use auth::Identity;
use domain::access::Operation;
use domain::audit::{AuditOutcome, AuditRecord, AuditTarget};
use domain::clock::Ctx;
use domain::config::TenantConfig;
use domain::events::DomainEvent;
use domain::ids::{AuditId, ExternalRef, OrderId, TenantId};
use domain::order::Order;
use domain::ports::SecretStore;
use domain::{Clock, DomainResult, IdSource, Timestamp};

use crate::authz::{Audited, Authorizer, Target, user_audit};
use crate::context::{NumberSource, Pending, RequestCtx, UnitOfWork};
use crate::error::{AppError, AppResult};
use crate::ports::{
    ApiKeyStore, CommandWrite, CredentialStore, GatewayCatalogue, IdempotencyRecord,
    IdempotencyStore, OrderStore, RepoError, Repositories, StoredOrder, TenantAuditLog,
    TenantConfigStore, TokenSealer, TrackingClaim, TrackingIndex,
};

/// ULIDs from the system clock and a CSPRNG.
pub struct SystemIds;

/// One monotonic generator per process: ids made within one millisecond still sort in the
/// order they were made (audit records and events list newest first by id).
static IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());

impl IdSource for SystemIds {
    fn next_ulid(&mut self) -> ulid::Ulid {
        // A poisoned lock or the random part overflowing within one millisecond (2^80 ids)
        // falls back to a fresh random id (not `Ulid::default()`, which is the nil id).
        #[allow(clippy::unwrap_or_default)]
        IDS.lock()
            .ok()
            .and_then(|mut g| g.generate().ok())
            .unwrap_or_else(ulid::Ulid::new)
    }
}

/// The use cases over one store. Built once per process; cheap to share.
pub struct App {
    pub(crate) orders: Arc<dyn OrderStore>,
    pub(crate) configs: Arc<dyn TenantConfigStore>,
    pub(crate) idempotency: Arc<dyn IdempotencyStore>,
    pub(crate) tenant_audit: Arc<dyn TenantAuditLog>,
    pub(crate) credentials: Arc<dyn CredentialStore>,
    pub(crate) api_keys: Arc<dyn ApiKeyStore>,
    /// The stage the keys this process creates are for (their prefix).
    pub(crate) key_stage: domain::apikey::KeyStage,
    /// The verifier of this process, told to forget what it cached when access changes here.
    pub(crate) verifier: Option<Arc<auth::Verifier>>,
    pub(crate) catalogue: Arc<dyn GatewayCatalogue>,
    /// Carrier usage of platform accounts (the tenant reads its own).
    pub(crate) usage: Arc<dyn crate::ports::UsageLog>,
    /// Where carrier credential secrets are (none: credentials cannot be managed or used).
    secrets: Option<Arc<dyn SecretStore>>,
    /// How carriers are reached (none: no carrier calls).
    pub(crate) connector: Option<Arc<dyn crate::ports::carrier::CarrierConnector>>,
    /// Which URLs tenants may set for outbound calls (carrier base and token URLs,
    /// notification URLs); production's by default.
    pub(crate) outbound: domain::outbound::OutboundPolicy,
    authorizer: Authorizer,
    ids: Arc<Mutex<dyn IdSource + Send>>,
    clock: Arc<dyn Clock>,
    /// Which order each recently looked-up external reference names.
    pub(crate) external_refs: ExternalRefs,
    /// Signs the opaque tokens the API hands out (rate ids).
    pub(crate) signer: Arc<dyn TokenSealer>,
    /// Carrier outcomes received but perhaps not yet committed.
    pub(crate) outcomes: crate::carrier::CarrierOutcomes,
}

/// Which order an external reference names, remembered per tenant (bounded, least recently
/// used out first). An order's reference never changes and a reference names one order, so a
/// remembered answer stays true; a repeated `orderByExternalRef` then costs the order's read
/// alone instead of the reference's and the order's. An entry whose order is gone (expired) or
/// names another reference is forgotten and looked up again.
pub(crate) struct ExternalRefs(Mutex<lru::LruCache<(TenantId, ExternalRef), OrderId>>);

impl ExternalRefs {
    const CAPACITY: usize = 10_000;

    fn new() -> Self {
        let cap =
            std::num::NonZeroUsize::new(Self::CAPACITY).unwrap_or(std::num::NonZeroUsize::MIN);
        Self(Mutex::new(lru::LruCache::new(cap)))
    }

    pub(crate) fn get(&self, tenant: &TenantId, r: &ExternalRef) -> Option<OrderId> {
        let key = (tenant.clone(), r.clone());
        self.0.lock().ok()?.get(&key).copied()
    }

    pub(crate) fn put(&self, tenant: &TenantId, r: &ExternalRef, id: OrderId) {
        if let Ok(mut c) = self.0.lock() {
            c.put((tenant.clone(), r.clone()), id);
        }
    }

    pub(crate) fn forget(&self, tenant: &TenantId, r: &ExternalRef) {
        if let Ok(mut c) = self.0.lock() {
            c.pop(&(tenant.clone(), r.clone()));
        }
    }
}

/// Which order a command runs on, and the version the caller expects it at (no retry then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRef {
    pub id: OrderId,
    pub expected_version: Option<u64>,
}

impl OrderRef {
    pub fn new(id: OrderId, expected_version: Option<u64>) -> Self {
        Self {
            id,
            expected_version,
        }
    }
}

/// How a command on an existing order is run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommandSpec {
    pub op: Operation,
    pub order: OrderRef,
    /// Read the tenant config in the same batch (refunds).
    pub needs_config: bool,
}

impl CommandSpec {
    pub(crate) fn new(op: Operation, order: OrderRef) -> Self {
        Self {
            op,
            order,
            needs_config: false,
        }
    }

    pub(crate) fn with_config(self) -> Self {
        Self {
            needs_config: true,
            ..self
        }
    }
}

/// What a command did: its events (none: nothing changed, nothing is written) and what the use
/// case hands back (the new shipment's id, whether a tracking update was ignored).
pub(crate) struct Change<R> {
    pub events: Vec<DomainEvent>,
    pub value: R,
}

impl Change<()> {
    pub(crate) fn events(events: Vec<DomainEvent>) -> Self {
        Self { events, value: () }
    }
}

/// What a command sees besides the order: its context, the tenant config and the caller.
pub(crate) struct Env<'c, 'i> {
    pub ctx: &'c mut Ctx<'i>,
    pub config: &'c TenantConfig,
    pub identity: &'c Identity,
    /// The operation being run (vendor confinement depends on it).
    pub op: Operation,
}

/// How many times a command is retried after losing an optimistic-lock race.
const RETRIES: usize = 3;

impl App {
    /// The use cases over `repos`, with ids from `ids` and time from `clock`.
    pub fn new(
        repos: Repositories,
        ids: Arc<Mutex<dyn IdSource + Send>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            signer: repos.tokens,
            outcomes: crate::carrier::CarrierOutcomes::new(),
            orders: repos.orders,
            configs: repos.configs,
            credentials: repos.credentials,
            api_keys: repos.api_keys,
            key_stage: domain::apikey::KeyStage::Live,
            verifier: None,
            catalogue: repos.platform.catalogue,
            usage: repos.platform.usage,
            secrets: None,
            connector: None,
            outbound: domain::outbound::OutboundPolicy::production(),
            idempotency: repos.idempotency,
            authorizer: Authorizer::new(repos.tenant_audit.clone(), ids.clone()),
            tenant_audit: repos.tenant_audit,
            ids,
            clock,
            external_refs: ExternalRefs::new(),
        }
    }

    /// Where carrier credential secrets are kept.
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretStore>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// How carriers are reached.
    pub fn with_connector(
        mut self,
        connector: Arc<dyn crate::ports::carrier::CarrierConnector>,
    ) -> Self {
        self.connector = Some(connector);
        self
    }

    /// The stage of the keys this process creates (`oms_test_` outside production).
    pub fn with_key_stage(mut self, stage: domain::apikey::KeyStage) -> Self {
        self.key_stage = stage;
        self
    }

    /// The verifier to tell when access changes here (a revoked key), so the change applies
    /// at once in this process.
    pub fn with_verifier(mut self, verifier: Arc<auth::Verifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Which URLs tenants may set for outbound calls.
    pub fn with_outbound(mut self, policy: domain::outbound::OutboundPolicy) -> Self {
        self.outbound = policy;
        self
    }

    pub(crate) fn secrets(&self) -> AppResult<&Arc<dyn SecretStore>> {
        self.secrets
            .as_ref()
            .ok_or_else(|| AppError::internal("no secret store is configured"))
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn next_id(&self) -> AppResult<ulid::Ulid> {
        self.ids
            .lock()
            .map(|mut i| i.next_ulid())
            .map_err(|_| AppError::internal("id source poisoned"))
    }

    /// Runs `f` with a command context at `now` (the id source locked for its duration).
    pub(crate) fn with_ctx<T>(
        &self,
        now: Timestamp,
        f: impl FnOnce(&mut Ctx<'_>) -> AppResult<T>,
    ) -> AppResult<T> {
        let mut ids = self
            .ids
            .lock()
            .map_err(|_| AppError::internal("id source poisoned"))?;
        f(&mut Ctx::new(now, &mut *ids))
    }

    /// The success record of `op` on `kind`/`id`, at `version`.
    pub(crate) fn audit(
        &self,
        rc: &RequestCtx,
        identity: &Identity,
        op: Operation,
        target: (&str, String),
        version: Option<u64>,
        at: Timestamp,
    ) -> AppResult<AuditRecord> {
        let what = Audited {
            op,
            target: AuditTarget {
                kind: target.0.to_owned(),
                id: target.1,
            },
            outcome: AuditOutcome::Success,
            version,
        };
        Ok(user_audit(
            AuditId::from_ulid(self.next_id()?),
            identity,
            what,
            at,
            &rc.request_id,
        ))
    }

    /// The tenant audit record of a carrier's tracking number left out of an index because
    /// another shipment holds it: the command's own record (actor, action, request), about the
    /// shipment. It never names the holder (in the SaaS-wide index, another tenant's).
    fn number_held(&self, command: &AuditRecord, claim: &TrackingClaim) -> AppResult<AuditRecord> {
        let (index, effect) = match claim.index {
            TrackingIndex::Global => (
                "the SaaS-wide tracking index",
                "carrier updates on the SaaS-level route will not find this shipment",
            ),
            TrackingIndex::Tenant => (
                "this tenant's tracking index",
                "carrier updates on the tenant's route find the other shipment",
            ),
        };
        Ok(AuditRecord {
            id: AuditId::from_ulid(self.next_id()?),
            target: AuditTarget {
                kind: claim.target.kind().into(),
                id: claim.target.to_string(),
            },
            outcome: AuditOutcome::Failed {
                reason: format!(
                    "TRACKING_NUMBER_TAKEN: {} tracking number {} is held by another shipment in {index}; order {} records it without that entry, so {effect}",
                    claim.carrier, claim.number, claim.order
                ),
            },
            version: None,
            ..command.clone()
        })
    }

    /// A tenant use case's entry: the caller's tenant identity, once plan and role allow `op`
    /// (no store access for a forbidden operation; a refusal audited).
    pub(crate) async fn enter<'r>(
        &self,
        rc: &'r RequestCtx,
        op: Operation,
    ) -> AppResult<&'r Identity> {
        let identity = rc.identity(op)?;
        self.check(rc, op, Target::Tenant).await?;
        Ok(identity)
    }

    /// Plan and role first (no store access for a forbidden operation), audited when refused.
    pub async fn check(&self, rc: &RequestCtx, op: Operation, target: Target<'_>) -> AppResult<()> {
        self.authorizer
            .authorize(&rc.caller, op, target, &rc.request_id, self.now())
            .await
            .map_err(AppError::from)
    }

    /// An input that did not parse: refused as input only once the caller may run `op` at all
    /// (so a caller without the permission gets FORBIDDEN, audited, and learns nothing of input
    /// rules). Edges pass their parse results through here before the use case runs.
    pub async fn admit<T>(
        &self,
        rc: &RequestCtx,
        op: Operation,
        input: AppResult<T>,
    ) -> AppResult<T> {
        match input {
            Ok(v) => Ok(v),
            Err(e) => {
                self.check(rc, op, Target::Tenant).await?;
                Err(e)
            }
        }
    }

    /// Commits a command's writes (with the keyed record, when the request had a key).
    pub(crate) async fn commit(
        &self,
        pending: &Pending,
        idempotency: Option<&IdempotencyRecord>,
    ) -> AppResult<()> {
        match pending {
            Pending::Create {
                identity,
                order,
                events,
                audit,
            } => {
                let write = CommandWrite {
                    events,
                    audit: Some(audit),
                    idempotency,
                    ..CommandWrite::default()
                };
                self.orders.create(identity.scope(), order, write).await?;
            }
            Pending::Update {
                identity,
                before,
                after,
                events,
                audit,
                tracking,
                numbers,
                intents,
                usage,
            } => {
                let mut tracking = tracking.clone();
                // Tenant audit records of claims left out, in the same transaction.
                let mut held = Vec::new();
                loop {
                    let write = CommandWrite {
                        events,
                        audit: Some(audit),
                        idempotency,
                        intents: intents.clone(),
                        tenant_audit: held.clone(),
                        tracking: tracking.clone(),
                        usage: usage.clone(),
                    };
                    match self
                        .orders
                        .update(identity.scope(), before, after, write)
                        .await
                    {
                        Ok(_) => break,
                        // What the carrier did is recorded all the same; only the index entry
                        // another shipment holds is left out. Each round drops one claim.
                        Err(RepoError::TrackingNumberTaken(claim))
                            if *numbers == NumberSource::Carrier =>
                        {
                            let Some(at) = tracking.iter().position(|c| *c == *claim) else {
                                return Err(AppError::from(RepoError::TrackingNumberTaken(claim)));
                            };
                            tracking.remove(at);
                            held.push(self.number_held(audit, &claim)?);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Pending::Config {
                identity,
                current,
                new,
                audit,
            } => {
                self.configs
                    .save(
                        identity.scope(),
                        current,
                        (**new).clone(),
                        audit,
                        idempotency,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Commits now, or leaves the writes for a keyed request to commit with its response.
    pub(crate) async fn submit(&self, uow: &UnitOfWork, pending: Pending) -> AppResult<()> {
        if uow.is_deferred() {
            return uow.hold(pending);
        }
        self.commit(&pending, None).await
    }

    /// Loads an order, authorizing against its tenant and vendors (NOT_FOUND outside them).
    pub(crate) async fn load_for(
        &self,
        rc: &RequestCtx,
        op: Operation,
        id: OrderId,
        with_config: bool,
    ) -> AppResult<(StoredOrder, TenantConfig)> {
        let identity = self.enter(rc, op).await?;
        let (stored, config) = if with_config {
            self.orders.load_with_config(identity.scope(), id).await?
        } else {
            (
                self.orders.load(identity.scope(), id).await?,
                TenantConfig::default(),
            )
        };
        let stored = stored.ok_or(AppError::NotFound { what: "order" })?;
        let vendors = stored.order.vendors();
        let sid = id.to_string();
        // Plan and role were decided above; the order's tenant and vendors remain.
        let target = Target::Order {
            tenant: stored.order.tenant(),
            id: &sid,
            vendors: &vendors,
        };
        self.authorizer
            .authorize_scope(identity, op, target, &rc.request_id, self.now())
            .await?;
        Ok((stored, config))
    }

    /// The order as `command` (an audit record id) left it, if that command's write is the one
    /// stored: how a use case learns the outcome of a commit whose answer was lost.
    pub(crate) async fn landed(
        &self,
        identity: &Identity,
        id: OrderId,
        command: &str,
    ) -> AppResult<Option<Order>> {
        let stored = self.orders.load(identity.scope(), id).await?;
        Ok(stored
            .filter(|s| s.command() == Some(command))
            .map(|s| s.order))
    }

    /// A command that only changes the order (most of them): its events, the order after.
    pub(crate) async fn command(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        spec: CommandSpec,
        command: impl Fn(&mut Order, Env<'_, '_>) -> DomainResult<Vec<DomainEvent>> + Send + Sync,
    ) -> AppResult<Order> {
        let run = |o: &mut Order, env: Env<'_, '_>| Ok(Change::events(command(o, env)?));
        Ok(self.order_command(rc, uow, spec, run).await?.0)
    }

    /// Runs a command on an existing order: authorize, one read, the domain command, one
    /// transaction; retried when another command won the race (unless the caller pinned a
    /// version, or the request is keyed: its own service retries). A command that emits no event
    /// changed nothing and writes nothing.
    ///
    /// A use case that needs an outside step between load and commit (a carrier call) runs
    /// `load_for`, its step, then its command and `submit` itself, the same way.
    pub(crate) async fn order_command<R>(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        spec: CommandSpec,
        command: impl Fn(&mut Order, Env<'_, '_>) -> AppResult<Change<R>> + Send + Sync,
    ) -> AppResult<(Order, R)> {
        let CommandSpec {
            op,
            order: OrderRef {
                id,
                expected_version,
            },
            needs_config,
        } = spec;
        let identity = rc.identity(op)?.clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (stored, config) = self.load_for(rc, op, id, needs_config).await?;
            if let Some(v) = expected_version
                && v != stored.order.version()
            {
                return Err(AppError::Conflict(format!(
                    "expected version {v}, the order is at {}",
                    stored.order.version()
                )));
            }
            let now = self.now();
            let mut after = stored.order.clone();
            let change = self.with_ctx(now, |ctx| {
                let env = Env {
                    ctx,
                    config: &config,
                    identity: &identity,
                    op,
                };
                command(&mut after, env)
            })?;
            if change.events.is_empty() {
                return Ok((after, change.value));
            }
            let audit = self.audit(
                rc,
                &identity,
                op,
                ("order", id.to_string()),
                Some(after.version()),
                now,
            )?;
            let mut tracking = crate::commit_items::tracking_items(&stored.order, &after);
            let intents = crate::commit_items::intent_items(&stored.order, &after);
            if matches!(op, Operation::BuyLabel | Operation::BuyReturnLabel) {
                tracking.extend(crate::commit_items::global_tracking_items(
                    &stored.order,
                    &after,
                ));
            }
            let usage = crate::carrier::usage_items(&stored.order, &after, identity.tenant(), now);
            let command = audit.id.to_string();
            let pending = Pending::Update {
                identity: identity.clone(),
                before: Box::new(stored),
                after: Box::new(after.clone()),
                events: change.events,
                audit,
                tracking,
                numbers: NumberSource::of(op),
                intents,
                usage,
            };
            match self.submit(uow, pending).await {
                Ok(()) => return Ok((after, change.value)),
                Err(AppError::Conflict(why)) if !uow.is_deferred() => {
                    // A lost race, or a commit whose response was lost and whose retry found its
                    // own write: only a reload tells. This command's write stands; it never runs
                    // twice.
                    if let Some(landed) = self.landed(&identity, id, &command).await? {
                        return Ok((landed, change.value));
                    }
                    if expected_version.is_none() && attempt < RETRIES {
                        continue;
                    }
                    return Err(AppError::Conflict(why));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
