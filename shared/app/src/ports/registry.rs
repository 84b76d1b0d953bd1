//! The SaaS provider's records: tenant profiles, plans, the platform's webhooks and event
//! sources, and the SaaS audit. Platform-level data: no tenant scope.

use async_trait::async_trait;
use domain::Timestamp;
use domain::access::Plan;
use domain::audit::AuditRecord;
use domain::ids::{PlanName, TenantId};
use domain::tenant::{EventSource, TenantProfile};
use domain::webhook::{WebhookHook, WebhookSetting};

use super::error::RepoResult;

/// A tenant profile as stored, with its optimistic-lock version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProfile {
    pub profile: TenantProfile,
    pub version: i64,
}

/// Where the platform's records are kept. Every change is written with its SaaS audit record.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Registers a new tenant (its issuers claimed in the same transaction).
    async fn create(
        &self,
        profile: &TenantProfile,
        audit: &AuditRecord,
    ) -> RepoResult<StoredProfile>;

    /// Changes a profile if nobody else changed it since `before` was read.
    async fn update(
        &self,
        before: &StoredProfile,
        after: &TenantProfile,
        audit: &AuditRecord,
    ) -> RepoResult<StoredProfile>;

    async fn get(&self, tenant: &TenantId) -> RepoResult<Option<StoredProfile>>;

    /// Every tenant, in id order.
    async fn list(&self) -> RepoResult<Vec<TenantId>>;

    async fn put_plan(&self, plan: &Plan, audit: &AuditRecord) -> RepoResult<()>;

    async fn plan(&self, name: &PlanName) -> RepoResult<Option<Plan>>;

    async fn put_saas_webhook(
        &self,
        hook: WebhookHook,
        setting: &WebhookSetting,
        audit: &AuditRecord,
    ) -> RepoResult<()>;

    /// Registers `source` to the tenant of `before` (claimed for it alone).
    async fn add_event_source(
        &self,
        before: &StoredProfile,
        after: &TenantProfile,
        source: &EventSource,
        audit: &AuditRecord,
    ) -> RepoResult<StoredProfile>;

    async fn saas_webhook(&self, hook: WebhookHook) -> RepoResult<Option<WebhookSetting>>;

    /// One day's SaaS audit records.
    async fn saas_audit(&self, day: Timestamp) -> RepoResult<Vec<AuditRecord>>;
}
