//! How many write shards a tenant's listings and audit log are spread over.

use async_trait::async_trait;
use domain::ids::TenantId;

use super::error::RepoResult;

/// A tenant's write-shard count (it only grows).
#[async_trait]
pub trait ShardCounts: Send + Sync {
    async fn shard_count(&self, tenant: &TenantId) -> RepoResult<u32>;
}
