//! The tenant audit: configuration changes, credential changes and denials of authenticated
//! callers — everything that is not an order's own audit. Partitioned by day and write shard.

use std::sync::Arc;

use app::ports::{Page, PageRequest, RepoError, RepoResult, ShardCounts, TenantAuditLog};
use async_trait::async_trait;

use domain::Timestamp;
use domain::audit::AuditRecord;

use crate::TenantScope;
use crate::cursor::Cursors;
use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, SkRange, WriteAction};

use super::listing::{Listing, read_page};
use super::{from_json, to_json};

#[derive(Clone)]
pub struct TenantAuditRepository {
    store: Arc<dyn ItemStore>,
    shards: Arc<dyn ShardCounts>,
    cursors: Cursors,
}

impl TenantAuditRepository {
    pub fn new(store: Arc<dyn ItemStore>, shards: Arc<dyn ShardCounts>, cursors: Cursors) -> Self {
        Self {
            store,
            shards,
            cursors,
        }
    }

    /// The put of one record, for a caller's own transaction.
    pub async fn put_action(
        &self,
        scope: &TenantScope,
        record: &AuditRecord,
    ) -> RepoResult<WriteAction> {
        if record.tenant.as_ref() != Some(scope.tenant()) {
            return Err(RepoError::WrongTenant);
        }
        let shards = self.shards.shard_count(scope.tenant()).await?;
        let shard =
            u32::try_from(record.id.ulid().random() % u128::from(shards.max(1))).unwrap_or(0);
        let mut item = Item::with_key(&keys::tenant_audit(
            scope.tenant(),
            record.at,
            shard,
            record.id,
        ));
        item.set("data", to_json(record)?);
        Ok(WriteAction::put_if(item, Condition::Absent))
    }
}

#[async_trait]
impl TenantAuditLog for TenantAuditRepository {
    async fn append(&self, scope: &TenantScope, record: &AuditRecord) -> RepoResult<()> {
        let action = self.put_action(scope, record).await?;
        self.store
            .transact_write(vec![action])
            .await
            .map_err(RepoError::from)
    }

    /// One day's records, newest first, over every shard.
    async fn list_day(
        &self,
        scope: &TenantScope,
        day: Timestamp,
        page: &PageRequest,
    ) -> RepoResult<Page<AuditRecord>> {
        let shards = self.shards.shard_count(scope.tenant()).await?;
        let listing = Listing {
            index: None,
            partitions: (0..shards)
                .map(|s| keys::tenant_audit_partition(scope.tenant(), day, s))
                .collect(),
            range: SkRange::All,
            forward: false,
            id: format!("tenant-audit:{}", day.day()),
            tenant: scope.tenant().as_str(),
        };
        read_page(self.store.as_ref(), &self.cursors, &listing, page)
            .await?
            .try_map(|i| from_json(i.require_s("data")?))
    }
}
