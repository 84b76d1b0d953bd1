//! Tenant API keys: one item per key under the key's id (what the verifier reads, one `GetItem`),
//! and one entry per key in the tenant's list partition.

use std::sync::Arc;

use app::ports::{ApiKeyStore, RepoError, RepoResult, StoredApiKey};
use async_trait::async_trait;
use domain::Timestamp;
use domain::apikey::ApiKey;
use domain::audit::AuditRecord;
use domain::ids::ApiKeyId;

use crate::TenantScope;
use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, Query, WriteAction};
use crate::schema;

use super::audit::TenantAuditRepository;
use super::{from_json, to_json};

/// The attribute holding when a key was last used (outside its record: a use never races a
/// revocation's condition).
const LAST_USED: &str = "last_used";

#[derive(Clone)]
pub struct ApiKeyRepository {
    store: Arc<dyn ItemStore>,
    /// Where each change's tenant audit record goes, in the change's transaction.
    audit: TenantAuditRepository,
}

fn key_item(key: &ApiKey, version: i64, last_used: Option<Timestamp>) -> RepoResult<Item> {
    let mut item = Item::with_key(&keys::api_key(key.id));
    item.set("data", to_json(key)?)
        .set("tenant", key.tenant.as_str())
        .set(schema::VERSION, version);
    if let Some(t) = last_used {
        item.set(LAST_USED, t.fixed_width());
    }
    Ok(item)
}

/// A key's item, read back.
pub(crate) fn decode(item: &Item) -> RepoResult<StoredApiKey> {
    Ok(StoredApiKey {
        key: from_json(item.require_s("data")?)?,
        version: item.require_n(schema::VERSION)?,
        last_used_at: item
            .s(LAST_USED)
            .map(Timestamp::parse_rfc3339)
            .transpose()
            .map_err(|e| RepoError::Corrupt(e.to_string()))?,
    })
}

/// The write recording a key's use at `at` (only if the key still exists).
pub(crate) fn used_action(id: ApiKeyId, at: Timestamp) -> WriteAction {
    WriteAction::Update {
        key: keys::api_key(id),
        set: vec![(LAST_USED.into(), at.fixed_width().into())],
        remove: Vec::new(),
        condition: Some(Condition::Exists),
    }
}

impl ApiKeyRepository {
    pub fn new(store: Arc<dyn ItemStore>, audit: TenantAuditRepository) -> Self {
        Self { store, audit }
    }
}

#[async_trait]
impl ApiKeyStore for ApiKeyRepository {
    async fn create(
        &self,
        scope: &TenantScope,
        key: &ApiKey,
        audit: &AuditRecord,
    ) -> RepoResult<()> {
        if &key.tenant != scope.tenant() {
            return Err(RepoError::WrongTenant);
        }
        let mut entry = Item::with_key(&keys::tenant_api_key(scope.tenant(), key.id));
        entry.set("id", key.id.to_string());
        let actions = vec![
            WriteAction::put_if(key_item(key, 1, None)?, Condition::Absent),
            WriteAction::put_if(entry, Condition::Absent),
            self.audit.put_action(scope, audit).await?,
        ];
        self.store
            .transact_write(actions)
            .await
            .map_err(RepoError::from)
    }

    async fn list(&self, scope: &TenantScope) -> RepoResult<Vec<StoredApiKey>> {
        let mut q = Query::partition(keys::tenant_api_keys(scope.tenant()), 1_000);
        let mut ids = Vec::new();
        loop {
            let page = self.store.query(&q).await?;
            for item in &page.items {
                let id = ApiKeyId::parse(item.require_s("id")?)
                    .map_err(|e| RepoError::Corrupt(e.to_string()))?;
                ids.push(keys::api_key(id));
            }
            match page.next {
                Some(n) => q.start = Some(n),
                None => break,
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            for item in self.store.batch_get(chunk).await?.into_iter().flatten() {
                let stored = decode(&item)?;
                if &stored.key.tenant == scope.tenant() {
                    out.push(stored);
                }
            }
        }
        out.sort_by_key(|s| s.key.id);
        Ok(out)
    }

    async fn get(&self, scope: &TenantScope, id: ApiKeyId) -> RepoResult<Option<StoredApiKey>> {
        let Some(item) = self.store.get(&keys::api_key(id)).await? else {
            return Ok(None);
        };
        let stored = decode(&item)?;
        Ok((&stored.key.tenant == scope.tenant()).then_some(stored))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        before: &StoredApiKey,
        after: &ApiKey,
        audit: &AuditRecord,
    ) -> RepoResult<()> {
        if &after.tenant != scope.tenant() || after.id != before.key.id {
            return Err(RepoError::WrongTenant);
        }
        let item = key_item(after, before.version + 1, before.last_used_at)?;
        let actions = vec![
            WriteAction::put_if(item, Condition::VersionEquals(before.version)),
            self.audit.put_action(scope, audit).await?,
        ];
        match self.store.transact_write(actions).await {
            Ok(()) => Ok(()),
            Err(crate::StoreError::Cancelled { index: 0, .. }) => Err(RepoError::VersionConflict {
                expected: u64::try_from(before.version).unwrap_or_default(),
            }),
            Err(e) => Err(e.into()),
        }
    }
}
