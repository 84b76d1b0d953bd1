//! Tenant configuration: every version kept (`V#…`), the current one also in `CURRENT` so a command
//! reads it in the same batch as the order.

use std::sync::Arc;

use domain::config::TenantConfig;

use crate::TenantScope;
use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, WriteAction};
use crate::schema;

use super::{RepoResult, Role, from_json, map_cancel, to_json};

pub(crate) fn decode(item: &Item) -> RepoResult<TenantConfig> {
    from_json(item.require_s("data")?)
}

#[derive(Clone)]
pub struct TenantConfigRepository {
    store: Arc<dyn ItemStore>,
}

impl TenantConfigRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// The current config (version 0, the defaults, when the tenant never set one).
    pub async fn current(&self, scope: &TenantScope) -> RepoResult<TenantConfig> {
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
    pub async fn version(
        &self,
        scope: &TenantScope,
        version: u32,
    ) -> RepoResult<Option<TenantConfig>> {
        match self
            .store
            .get(&keys::tenant_config_version(scope.tenant(), version))
            .await?
        {
            Some(item) => decode(&item).map(Some),
            None => Ok(None),
        }
    }

    /// Saves `config` as the version after `current` (refused if another save came first), with
    /// `extra` actions (the audit record) in the same transaction.
    pub async fn save(
        &self,
        scope: &TenantScope,
        current: &TenantConfig,
        config: TenantConfig,
        extra: Vec<WriteAction>,
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
        for a in extra {
            actions.push(a);
            roles.push(Role::Other);
        }
        // A failed condition on CURRENT means another save came first: a version conflict.
        self.store
            .transact_write(actions)
            .await
            .map_err(|e| map_cancel(e, &roles, None))?;
        Ok(config)
    }
}
