//! A fixed shard count (app's `ShardCounts` port) for tests and tools.

use app::ports::{RepoResult, ShardCounts};
use async_trait::async_trait;
use domain::ids::TenantId;

/// The same shard count for every tenant (tests, and deployments that never shard).
#[derive(Debug, Clone)]
pub struct FixedShards(pub std::sync::Arc<std::sync::atomic::AtomicU32>);

impl FixedShards {
    pub fn new(n: u32) -> Self {
        Self(std::sync::Arc::new(std::sync::atomic::AtomicU32::new(
            n.max(1),
        )))
    }

    /// Grows the count (never shrinks: orders keep the shard they were written to).
    pub fn grow_to(&self, n: u32) {
        self.0.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl ShardCounts for FixedShards {
    async fn shard_count(&self, _tenant: &TenantId) -> RepoResult<u32> {
        Ok(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}
