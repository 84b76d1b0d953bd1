//! The SaaS provider's records: tenant profiles (with their IdP registrations), the tenant list,
//! issuer → tenant rows, plans and the SaaS audit. Platform-level data: no tenant scope.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use app::ports::{Registry, RepoError, RepoResult, StoredProfile};
use async_trait::async_trait;

use domain::Timestamp;
use domain::access::Plan;
use domain::apikey::ApiKey;
use domain::audit::AuditRecord;
use domain::ids::{ApiKeyId, Issuer, PlanName, TenantId};
use domain::ports::{DirectorySource, PortFuture};
use domain::tenant::{EventSource, IssuerRow, TenantProfile};
use domain::webhook::{WebhookHook, WebhookSetting};

use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, Query, WriteAction};
use crate::schema;

use super::{Role, from_json, map_cancel, to_json};

#[derive(Clone)]
pub struct RegistryRepository {
    store: Arc<dyn ItemStore>,
    /// Whether this process has seen the issuer index marked built (it never goes back).
    index_built: Arc<AtomicBool>,
}

/// Index entries a backfill writes per transaction.
const BACKFILL_CHUNK: usize = 25;

pub(crate) fn saas_audit_action(record: &AuditRecord) -> RepoResult<WriteAction> {
    let mut item = Item::with_key(&keys::saas_audit(record.at, record.id));
    item.set("data", to_json(record)?);
    Ok(WriteAction::put_if(item, Condition::Absent))
}

impl RegistryRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self {
            store,
            index_built: Arc::new(AtomicBool::new(false)),
        }
    }

    fn issuer_index_entries(p: &TenantProfile) -> Vec<Item> {
        p.idps
            .iter()
            .map(|idp| {
                let mut entry = Item::with_key(&keys::issuer_index_entry(&idp.issuer, &p.id));
                entry
                    .set("issuer", idp.issuer.as_str())
                    .set("tenant", p.id.as_str());
                entry
            })
            .collect()
    }

    /// Makes sure the issuer index holds every issuer: a table written before the index existed
    /// is backfilled from the tenant list once, then marked built. Every registry change also
    /// writes its own entries, so an issuer added during a backfill is never missed; an entry
    /// left by a concurrent removal only costs the directory one read of that issuer.
    pub async fn ensure_issuer_index(&self) -> RepoResult<()> {
        if self.index_built.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.store.get(&keys::issuer_index_built()).await?.is_none() {
            let mut entries = Vec::new();
            for tenant in self.list().await? {
                if let Some(stored) = self.get(&tenant).await? {
                    entries.extend(Self::issuer_index_entries(&stored.profile));
                }
            }
            let mut entries = entries.into_iter().peekable();
            while entries.peek().is_some() {
                let chunk: Vec<WriteAction> = entries
                    .by_ref()
                    .take(BACKFILL_CHUNK)
                    .map(WriteAction::put)
                    .collect();
                self.store.transact_write(chunk).await?;
            }
            let marker = Item::with_key(&keys::issuer_index_built());
            self.store
                .transact_write(vec![WriteAction::put(marker)])
                .await?;
            tracing::info!("issuer index built from the tenant list");
        }
        self.index_built.store(true, Ordering::Release);
        Ok(())
    }

    /// Every registered issuer, or `None` while the index is not built yet (a table from before
    /// the index that no registry change has touched since). One query per few thousand issuers.
    pub async fn known_issuers(&self) -> RepoResult<Option<BTreeSet<Issuer>>> {
        let mut q = Query::partition(keys::ISSUER_INDEX, 1_000);
        let mut out = BTreeSet::new();
        let mut built = false;
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                match item.s("issuer") {
                    Some(issuer) => {
                        out.insert(
                            Issuer::parse(issuer).map_err(|e| RepoError::Corrupt(e.to_string()))?,
                        );
                    }
                    None => built = true,
                }
            }
            match page.next {
                Some(n) => q.start = Some(n),
                None => return Ok(built.then_some(out)),
            }
        }
    }

    fn profile_item(p: &TenantProfile, version: i64) -> RepoResult<Item> {
        let mut item = Item::with_key(&keys::tenant_profile(&p.id));
        item.set("data", to_json(p)?)
            .set(schema::VERSION, version)
            .set("plan", p.plan.as_str());
        Ok(item)
    }

    fn issuer_rows(p: &TenantProfile) -> Vec<Item> {
        p.idps
            .iter()
            .map(|idp| {
                let mut row = Item::with_key(&keys::issuer_tenant(&idp.issuer, &p.id));
                row.set("tenant", p.id.as_str())
                    .set("claim_value", idp.claim_value_for(&p.id))
                    .set(
                        "tenant_claim",
                        idp.tenant_claim
                            .clone()
                            .map_or(crate::item::Value::Null, crate::item::Value::S),
                    )
                    .set("shared", crate::item::Value::Bool(idp.shared));
                row
            })
            .collect()
    }

    /// The claim each of the profile's issuers needs, checked against what is stored: a
    /// dedicated issuer is this tenant's alone, and an issuer is either dedicated or shared.
    /// The returned actions make the check hold at commit time (a concurrent claim cancels it).
    async fn issuer_claims(
        &self,
        profile: &TenantProfile,
    ) -> RepoResult<Vec<(WriteAction, String)>> {
        let mut out = Vec::new();
        for idp in &profile.idps {
            let key = keys::issuer_claim(&idp.issuer);
            let wanted = if idp.shared {
                "shared".to_owned()
            } else {
                format!("dedicated:{}", profile.id)
            };
            let current = self
                .store
                .get(&key)
                .await?
                .and_then(|i| i.s("mode").map(str::to_owned));
            let taken = || RepoError::IssuerTaken(idp.issuer.to_string());
            let action = match current {
                None => {
                    let mut item = Item::with_key(&key);
                    item.set("mode", wanted.as_str());
                    WriteAction::put_if(item, Condition::Absent)
                }
                Some(mode) if mode == wanted => WriteAction::Check {
                    key,
                    condition: Condition::AttributeEquals("mode".into(), wanted.as_str().into()),
                },
                Some(_) => return Err(taken()),
            };
            out.push((action, idp.issuer.to_string()));
        }
        Ok(out)
    }

    /// Writes `actions` with the profile's issuer claims and rows and the SaaS audit record, at
    /// once.
    async fn commit(
        &self,
        mut actions: Vec<WriteAction>,
        mut roles: Vec<Role>,
        profile: &TenantProfile,
        audit: &AuditRecord,
    ) -> RepoResult<()> {
        self.ensure_issuer_index().await?;
        let claims = self.issuer_claims(profile).await?;
        let claimed: Vec<String> = claims.iter().map(|(_, i)| i.clone()).collect();
        for (claim, _) in claims {
            actions.push(claim);
            roles.push(Role::IssuerClaim);
        }
        for row in Self::issuer_rows(profile)
            .into_iter()
            .chain(Self::issuer_index_entries(profile))
        {
            actions.push(WriteAction::put(row));
            roles.push(Role::Other);
        }
        actions.push(saas_audit_action(audit)?);
        roles.push(Role::Other);
        self.store.transact_write(actions).await.map_err(|e| {
            // Name the issuer whose claim failed.
            let failed = match &e {
                crate::error::StoreError::Cancelled { index, .. } => roles
                    .get(..*index)
                    .map(|r| r.iter().filter(|r| **r == Role::IssuerClaim).count())
                    .and_then(|n| claimed.get(n).cloned()),
                _ => None,
            };
            map_cancel(e, &roles, failed.as_deref())
        })
    }

    /// The tenants an issuer serves (one query).
    pub async fn issuer(&self, issuer: &Issuer) -> RepoResult<Vec<IssuerRow>> {
        let page = self
            .store
            .query(&Query::partition(keys::issuer_tenants(issuer), 1_000))
            .await?;
        page.items
            .iter()
            .map(|item| {
                Ok(IssuerRow {
                    tenant: TenantId::parse(item.require_s("tenant")?)
                        .map_err(|e| RepoError::Corrupt(e.to_string()))?,
                    claim_value: item.require_s("claim_value")?.to_owned(),
                    tenant_claim: item.s("tenant_claim").map(str::to_owned),
                    shared: matches!(item.get("shared"), Some(crate::item::Value::Bool(true))),
                })
            })
            .collect()
    }

    /// The tenant that registered `source`.
    pub async fn event_source_tenant(&self, source: &EventSource) -> RepoResult<Option<TenantId>> {
        match self.store.get(&keys::event_source(source)).await? {
            Some(item) => TenantId::parse(item.require_s("tenant")?)
                .map(Some)
                .map_err(|e| RepoError::Corrupt(e.to_string())),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl Registry for RegistryRepository {
    /// Onboards a tenant: profile, list entry, issuer rows and the SaaS audit record, at once.
    async fn create(
        &self,
        profile: &TenantProfile,
        audit: &AuditRecord,
    ) -> RepoResult<StoredProfile> {
        let mut list = Item::with_key(&keys::tenant_list_entry(&profile.id));
        list.set("tenant", profile.id.as_str())
            .set("name", profile.name.as_str());
        let actions = vec![
            WriteAction::put_if(Self::profile_item(profile, 1)?, Condition::Absent),
            WriteAction::put(list),
        ];
        let roles = vec![Role::Order { expected: None }, Role::Other];
        self.commit(actions, roles, profile, audit).await?;
        Ok(StoredProfile {
            profile: profile.clone(),
            version: 1,
        })
    }

    /// Saves a changed profile if nobody changed it meanwhile; issuer rows follow its IdPs.
    async fn update(
        &self,
        before: &StoredProfile,
        after: &TenantProfile,
        audit: &AuditRecord,
    ) -> RepoResult<StoredProfile> {
        if before.profile.id != after.id {
            return Err(RepoError::Corrupt("update of another tenant".into()));
        }
        let version = before.version + 1;
        let mut actions = vec![WriteAction::put_if(
            Self::profile_item(after, version)?,
            Condition::VersionEquals(before.version),
        )];
        let mut roles = vec![Role::Order {
            expected: u64::try_from(before.version).ok(),
        }];
        for idp in &before.profile.idps {
            if after.idp(&idp.issuer).is_none() {
                for key in [
                    keys::issuer_tenant(&idp.issuer, &after.id),
                    keys::issuer_index_entry(&idp.issuer, &after.id),
                ] {
                    actions.push(WriteAction::Delete {
                        key,
                        condition: None,
                    });
                    roles.push(Role::Other);
                }
                if !idp.shared {
                    // A dedicated issuer this tenant gives up is free for another.
                    let mine = format!("dedicated:{}", after.id);
                    actions.push(WriteAction::Delete {
                        key: keys::issuer_claim(&idp.issuer),
                        condition: Some(Condition::AttributeEquals("mode".into(), mine.into())),
                    });
                    roles.push(Role::Other);
                }
            }
        }
        self.commit(actions, roles, after, audit).await?;
        Ok(StoredProfile {
            profile: after.clone(),
            version,
        })
    }

    async fn get(&self, tenant: &TenantId) -> RepoResult<Option<StoredProfile>> {
        match self.store.get(&keys::tenant_profile(tenant)).await? {
            Some(item) => Ok(Some(StoredProfile {
                profile: from_json(item.require_s("data")?)?,
                version: item.require_n(schema::VERSION)?,
            })),
            None => Ok(None),
        }
    }

    /// Every tenant id, in order (one query per thousand tenants).
    async fn list(&self) -> RepoResult<Vec<TenantId>> {
        let mut q = Query::partition(keys::TENANT_LIST, 1_000);
        let mut out = Vec::new();
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                out.push(
                    TenantId::parse(item.require_s("tenant")?)
                        .map_err(|e| RepoError::Corrupt(e.to_string()))?,
                );
            }
            match page.next {
                Some(n) => q.start = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Creates or replaces a plan.
    async fn put_plan(&self, plan: &Plan, audit: &AuditRecord) -> RepoResult<()> {
        let mut item = Item::with_key(&keys::plan(&plan.name));
        item.set("data", to_json(plan)?);
        self.store
            .transact_write(vec![WriteAction::put(item), saas_audit_action(audit)?])
            .await
            .map_err(RepoError::from)
    }

    async fn plan(&self, name: &PlanName) -> RepoResult<Option<Plan>> {
        match self.store.get(&keys::plan(name)).await? {
            Some(item) => from_json(item.require_s("data")?).map(Some),
            None => Ok(None),
        }
    }

    /// The SaaS provider's own settings of a hook (SaaS-level webhooks), with the audit record.
    async fn put_saas_webhook(
        &self,
        hook: WebhookHook,
        setting: &WebhookSetting,
        audit: &AuditRecord,
    ) -> RepoResult<()> {
        let mut item = Item::with_key(&keys::saas_webhook(hook));
        item.set("data", to_json(setting)?);
        self.store
            .transact_write(vec![WriteAction::put(item), saas_audit_action(audit)?])
            .await
            .map_err(RepoError::from)
    }

    /// Registers `source` for the tenant of `before` (its profile becomes `after`, which lists
    /// it): the claim and the profile in one transaction, the claim only if no other tenant
    /// holds it. Registering a source the tenant already holds changes nothing else.
    async fn add_event_source(
        &self,
        before: &StoredProfile,
        after: &TenantProfile,
        source: &EventSource,
        audit: &AuditRecord,
    ) -> RepoResult<StoredProfile> {
        let version = before.version + 1;
        let key = keys::event_source(source);
        let claim = match self.event_source_tenant(source).await? {
            Some(t) if t == after.id => WriteAction::Check {
                key,
                condition: Condition::AttributeEquals("tenant".into(), after.id.as_str().into()),
            },
            Some(_) => return Err(RepoError::EventSourceTaken(source.to_string())),
            None => {
                let mut item = Item::with_key(&key);
                item.set("tenant", after.id.as_str());
                WriteAction::put_if(item, Condition::Absent)
            }
        };
        let actions = vec![
            WriteAction::put_if(
                Self::profile_item(after, version)?,
                Condition::VersionEquals(before.version),
            ),
            claim,
            saas_audit_action(audit)?,
        ];
        let roles = [
            Role::Order {
                expected: u64::try_from(before.version).ok(),
            },
            Role::SourceClaim,
            Role::Other,
        ];
        let named = source.to_string();
        self.store
            .transact_write(actions)
            .await
            .map_err(|e| map_cancel(e, &roles, Some(&named)))?;
        Ok(StoredProfile {
            profile: after.clone(),
            version,
        })
    }

    async fn saas_webhook(&self, hook: WebhookHook) -> RepoResult<Option<WebhookSetting>> {
        match self.store.get(&keys::saas_webhook(hook)).await? {
            Some(item) => from_json(item.require_s("data")?).map(Some),
            None => Ok(None),
        }
    }

    /// One day of the SaaS audit, oldest first (one query per thousand records).
    async fn saas_audit(&self, day: Timestamp) -> RepoResult<Vec<AuditRecord>> {
        let mut q = Query::partition(keys::saas_audit_day(day), 1_000);
        let mut out = Vec::new();
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                out.push(from_json(item.require_s("data")?)?);
            }
            match page.next {
                Some(n) => q.start = Some(n),
                None => return Ok(out),
            }
        }
    }
}

/// The registry is the verifier's directory source.
impl DirectorySource for RegistryRepository {
    fn issuer_rows<'a>(&'a self, issuer: &'a Issuer) -> PortFuture<'a, Vec<IssuerRow>> {
        Box::pin(async move { Ok(self.issuer(issuer).await?) })
    }

    fn known_issuers<'a>(&'a self) -> PortFuture<'a, Option<BTreeSet<Issuer>>> {
        Box::pin(async move { Ok(RegistryRepository::known_issuers(self).await?) })
    }

    fn profile<'a>(&'a self, tenant: &'a TenantId) -> PortFuture<'a, Option<TenantProfile>> {
        Box::pin(async move { Ok(self.get(tenant).await?.map(|s| s.profile)) })
    }

    fn saas_webhook<'a>(&'a self, hook: WebhookHook) -> PortFuture<'a, Option<WebhookSetting>> {
        Box::pin(async move { Ok(Registry::saas_webhook(self, hook).await?) })
    }

    fn plan<'a>(&'a self, plan: &'a PlanName) -> PortFuture<'a, Option<Plan>> {
        Box::pin(async move { Ok(Registry::plan(self, plan).await?) })
    }

    fn event_source_tenant<'a>(
        &'a self,
        source: &'a EventSource,
    ) -> PortFuture<'a, Option<TenantId>> {
        Box::pin(async move { Ok(RegistryRepository::event_source_tenant(self, source).await?) })
    }

    fn api_key<'a>(&'a self, id: ApiKeyId) -> PortFuture<'a, Option<ApiKey>> {
        Box::pin(async move {
            match self.store.get(&keys::api_key(id)).await? {
                Some(item) => Ok(Some(super::apikeys::decode(&item)?.key)),
                None => Ok(None),
            }
        })
    }

    fn api_key_used<'a>(&'a self, id: ApiKeyId, at: Timestamp) -> PortFuture<'a, ()> {
        Box::pin(async move {
            match self
                .store
                .transact_write(vec![super::apikeys::used_action(id, at)])
                .await
            {
                // The key is gone: nothing to record.
                Ok(()) | Err(crate::StoreError::Cancelled { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }
}
