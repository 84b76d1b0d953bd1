//! The tenant scope every repository of tenant data requires, and the port that tells how many
//! write shards a tenant's listings span.

use async_trait::async_trait;
use domain::ids::TenantId;

use crate::error::StoreResult;

/// Who vouched for the tenant of a scope. Every production source is a verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifiedBy {
    /// A JWT verified against the tenant's registered identity provider.
    Jwt,
    /// A webhook whose signature was verified with the tenant's secret.
    WebhookSignature,
    /// An event from a registered event source.
    EventSource,
    /// The platform admin CLI, acting on an explicitly named tenant.
    AdminCli,
}

/// Proof that a request acts for `tenant`. Built only by verifiers (`from_verified`, whose callers
/// an architecture test lists) and by tests; never from a request argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant: TenantId,
    verified_by: VerifiedBy,
}

impl TenantScope {
    /// For verifiers only. Every caller is listed in `tests/store/architecture.rs`; adding one
    /// means adding it there, in review.
    pub fn from_verified(tenant: TenantId, verified_by: VerifiedBy) -> Self {
        Self {
            tenant,
            verified_by,
        }
    }

    /// For tests of this and other crates (feature `test-support`).
    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(tenant: &str) -> Self {
        match TenantId::parse(tenant) {
            Ok(tenant) => Self {
                tenant,
                verified_by: VerifiedBy::AdminCli,
            },
            Err(e) => panic!("test tenant {tenant:?}: {e}"),
        }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn verified_by(&self) -> VerifiedBy {
        self.verified_by
    }
}

/// How many write shards a tenant's listings span (from the tenant profile; only ever grows).
#[async_trait]
pub trait ShardCounts: Send + Sync {
    async fn shard_count(&self, tenant: &TenantId) -> StoreResult<u32>;
}

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
    async fn shard_count(&self, _tenant: &TenantId) -> StoreResult<u32> {
        Ok(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}
