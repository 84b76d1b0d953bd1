//! Tenant configuration: every version kept (`V#…`), the current one also in `CURRENT` so a command
//! reads it in the same batch as the order.

use std::sync::Arc;

use app::ports::{IdempotencyRecord, RepoResult, TenantConfigStore};
use async_trait::async_trait;
use domain::audit::AuditRecord;
use domain::config::TenantConfig;

use crate::TenantScope;
use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, WriteAction};
use crate::schema;

use super::audit::TenantAuditRepository;
use super::{Role, from_json, map_cancel, to_json};

pub(crate) fn decode(item: &Item) -> RepoResult<TenantConfig> {
    from_json(item.require_s("data")?)
}

#[derive(Clone)]
pub struct TenantConfigRepository {
    store: Arc<dyn ItemStore>,
    /// Where each save's tenant audit record goes, in the save's transaction.
    audit: TenantAuditRepository,
}

impl TenantConfigRepository {
    pub fn new(store: Arc<dyn ItemStore>, audit: TenantAuditRepository) -> Self {
        Self { store, audit }
    }
}

#[async_trait]
impl TenantConfigStore for TenantConfigRepository {
    /// The current config (version 0, the defaults, when the tenant never set one).
    async fn current(&self, scope: &TenantScope) -> RepoResult<TenantConfig> {
        match self
            .store
            .get(&keys::tenant_config_current(scope.tenant()))
            .await?
        {
            Some(item) => decode(&item),
            None => Ok(TenantConfig::default()),
        }
    }

    /// One past version.
    async fn version(&self, scope: &TenantScope, version: u32) -> RepoResult<Option<TenantConfig>> {
        match self
            .store
            .get(&keys::tenant_config_version(scope.tenant(), version))
            .await?
        {
            Some(item) => decode(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn save(
        &self,
        scope: &TenantScope,
        current: &TenantConfig,
        config: TenantConfig,
        audit: &AuditRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> RepoResult<TenantConfig> {
        let version = current.version() + 1;
        let config = config.with_version(version);
        let data = to_json(&config)?;
        let mut versioned = Item::with_key(&keys::tenant_config_version(scope.tenant(), version));
        versioned.set("data", data.as_str());
        let mut cur = Item::with_key(&keys::tenant_config_current(scope.tenant()));
        cur.set("data", data.as_str())
            .set(schema::VERSION, i64::from(version));
        let guard = if current.version() == 0 {
            Condition::Absent
        } else {
            Condition::VersionEquals(i64::from(current.version()))
        };
        let mut actions = vec![
            WriteAction::put_if(cur, guard),
            WriteAction::put_if(versioned, Condition::Absent),
        ];
        let mut roles = vec![
            Role::Order {
                expected: Some(u64::from(current.version())),
            },
            Role::Other,
        ];
        actions.push(self.audit.put_action(scope, audit).await?);
        roles.push(Role::Other);
        if let Some(rec) = idempotency {
            actions.push(super::idempotency::put_action(rec, scope.tenant()));
            roles.push(Role::Idempotency);
        }
        // A failed condition on CURRENT means another save came first: a version conflict.
        self.store
            .transact_write(actions)
            .await
            .map_err(|e| map_cancel(e, &roles, None))?;
        Ok(config)
    }
}
