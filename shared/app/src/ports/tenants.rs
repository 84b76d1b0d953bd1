//! A tenant's own records: its versioned config and its audit log (configuration and credential
//! changes, denials of its callers, carrier outcomes the orders' own logs cannot hold).

use async_trait::async_trait;
use domain::Timestamp;
use domain::audit::AuditRecord;
use domain::config::TenantConfig;
use domain::scope::TenantScope;

use super::error::RepoResult;
use super::idempotency::IdempotencyRecord;
use super::listing::{Page, PageRequest};

/// Where tenant configs are kept, every version.
#[async_trait]
pub trait TenantConfigStore: Send + Sync {
    /// The current config (version 0, the defaults, when the tenant never set one).
    async fn current(&self, scope: &TenantScope) -> RepoResult<TenantConfig>;

    /// One past version.
    async fn version(&self, scope: &TenantScope, version: u32) -> RepoResult<Option<TenantConfig>>;

    /// Saves `config` as the version after `current` (refused if another save came first), with
    /// its tenant audit record and the request's keyed response in the same transaction.
    async fn save(
        &self,
        scope: &TenantScope,
        current: &TenantConfig,
        config: TenantConfig,
        audit: &AuditRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> RepoResult<TenantConfig>;
}

/// Where the tenant audit log is kept.
#[async_trait]
pub trait TenantAuditLog: Send + Sync {
    async fn append(&self, scope: &TenantScope, record: &AuditRecord) -> RepoResult<()>;

    /// One day's records, newest first.
    async fn list_day(
        &self,
        scope: &TenantScope,
        day: Timestamp,
        page: &PageRequest,
    ) -> RepoResult<Page<AuditRecord>>;
}
