//! Tenant API keys as kept: the record (never the key's text), its version, when it was last
//! used.

use async_trait::async_trait;
use domain::Timestamp;
use domain::apikey::ApiKey;
use domain::audit::AuditRecord;
use domain::ids::ApiKeyId;
use domain::scope::TenantScope;

use super::error::RepoResult;

/// A key's record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    pub key: ApiKey,
    /// The optimistic-lock version (a revocation is conditioned on it).
    pub version: i64,
    /// When the key was last used (written at most once a minute per key).
    pub last_used_at: Option<Timestamp>,
}

/// Where a tenant's API keys are kept. Each change is written with its tenant audit record.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Saves a new key (its id must be new).
    async fn create(
        &self,
        scope: &TenantScope,
        key: &ApiKey,
        audit: &AuditRecord,
    ) -> RepoResult<()>;

    /// The tenant's keys, oldest first.
    async fn list(&self, scope: &TenantScope) -> RepoResult<Vec<StoredApiKey>>;

    /// One of the tenant's keys (another tenant's key is `None`).
    async fn get(&self, scope: &TenantScope, id: ApiKeyId) -> RepoResult<Option<StoredApiKey>>;

    /// Replaces `before` with `after` (its window changed) if nobody changed it meanwhile.
    async fn update(
        &self,
        scope: &TenantScope,
        before: &StoredApiKey,
        after: &ApiKey,
        audit: &AuditRecord,
    ) -> RepoResult<()>;
}
