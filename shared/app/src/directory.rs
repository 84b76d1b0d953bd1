//! The cached tenant directory as the listings' shard counts.

use std::sync::Arc;

use crate::ports::{RepoError, RepoResult, ShardCounts};
use async_trait::async_trait;
use auth::directory::{CachedDirectory, Directory};
use domain::ids::TenantId;

/// The tenant profile (through the directory's cache) backs the listing shard count.
pub struct DirectoryShards(pub Arc<CachedDirectory>);

#[async_trait]
impl ShardCounts for DirectoryShards {
    async fn shard_count(&self, tenant: &TenantId) -> RepoResult<u32> {
        match self.0.tenant(tenant).await {
            Ok(Some(p)) => Ok(p.shards.max(1)),
            Ok(None) => Ok(1),
            Err(e) => Err(RepoError::Store(e.to_string())),
        }
    }
}
