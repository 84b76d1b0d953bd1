//! Idempotency records: scoped by tenant, subject and operation; the request's hash and the stored
//! response; written inside the command's own transaction; gone after 24 hours.

use std::sync::Arc;

use domain::Timestamp;
use domain::ids::{IdempotencyKey, OperationName, Subject, TenantId};

use crate::TenantScope;
use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, WriteAction};
use crate::schema;

use super::{RepoError, RepoResult};

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

impl IdempotencyRecord {
    /// The put-if-absent that goes into the command's transaction.
    pub fn put_action(&self, tenant: &TenantId) -> WriteAction {
        let mut item = Item::with_key(&keys::idempotency(
            tenant,
            &self.subject,
            &self.operation,
            &self.key,
        ));
        item.set("request_hash", self.request_hash.as_str())
            .set("response", self.response.as_str())
            .set("created_at", self.created_at.fixed_width())
            .set(schema::TTL, self.created_at.unix_seconds() + self.ttl_secs);
        WriteAction::put_if(item, Condition::Absent)
    }
}

#[derive(Clone)]
pub struct IdempotencyRepository {
    store: Arc<dyn ItemStore>,
}

impl IdempotencyRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// The live record for this key, if any (an expired one counts as absent).
    pub async fn get(
        &self,
        scope: &TenantScope,
        subject: &Subject,
        operation: &OperationName,
        key: &IdempotencyKey,
    ) -> RepoResult<Option<IdempotencyRecord>> {
        let Some(item) = self
            .store
            .get(&keys::idempotency(scope.tenant(), subject, operation, key))
            .await?
        else {
            return Ok(None);
        };
        let created = Timestamp::parse_rfc3339(item.require_s("created_at")?)
            .map_err(|e| RepoError::Corrupt(e.to_string()))?;
        Ok(Some(IdempotencyRecord {
            subject: subject.clone(),
            operation: operation.clone(),
            key: key.clone(),
            request_hash: item.require_s("request_hash")?.to_owned(),
            response: item.require_s("response")?.to_owned(),
            ttl_secs: item
                .n(schema::TTL)
                .map_or(IDEMPOTENCY_TTL_SECS, |ttl| ttl - created.unix_seconds()),
            created_at: created,
        }))
    }

    /// Stores a record on its own (commands that write no order put it in their transaction).
    pub async fn put(&self, scope: &TenantScope, record: &IdempotencyRecord) -> RepoResult<()> {
        let action = record.put_action(scope.tenant());
        self.store
            .transact_write(vec![action])
            .await
            .map_err(|e| super::map_cancel(e, &[super::Role::Idempotency], None))
    }
}
