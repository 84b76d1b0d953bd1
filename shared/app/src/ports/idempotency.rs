//! Idempotency records: scoped by tenant, subject and operation; the request's hash and the
//! stored response; written inside the command's own transaction; gone after their time.

use async_trait::async_trait;
use domain::Timestamp;
use domain::ids::{IdempotencyKey, OperationName, Subject};
use domain::scope::TenantScope;

use super::error::RepoResult;

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// How long a webhook delivery is remembered (senders retry for up to three days).
pub const DELIVERY_TTL_SECS: i64 = 72 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub subject: Subject,
    pub operation: OperationName,
    pub key: IdempotencyKey,
    /// Hash of the operation and its variables; the same key with another request is a conflict.
    pub request_hash: String,
    /// The response's `data`, replayed byte for byte.
    pub response: String,
    pub created_at: Timestamp,
    /// How long after `created_at` the record lasts.
    pub ttl_secs: i64,
}

/// Where keyed responses are kept.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The live record for this key, if any (an expired one counts as absent).
    async fn get(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        operation: &OperationName,
        key: &IdempotencyKey,
    ) -> RepoResult<Option<IdempotencyRecord>>;

    /// Stores a record on its own (commands that write no order); a record already there is
    /// [`RepoError::IdempotencyKeyUsed`](super::RepoError).
    async fn put(&self, scope: &TenantScope, record: &IdempotencyRecord) -> RepoResult<()>;
}
