//! Idempotency records: scoped by tenant, subject and operation; the request's hash and the stored
//! response; written inside the command's own transaction; gone after 24 hours.

use std::sync::Arc;

use app::ports::{
    IDEMPOTENCY_TTL_SECS, IdempotencyRecord, IdempotencyStore, RepoError, RepoResult,
};
use async_trait::async_trait;
use domain::Timestamp;
use domain::ids::{IdempotencyKey, OperationName, Subject, TenantId};

use crate::TenantScope;
use crate::item::Item;
use crate::keys;
use crate::port::{Condition, ItemStore, WriteAction};
use crate::schema;

/// The put-if-absent of `record` that goes into the command's transaction.
pub(crate) fn put_action(record: &IdempotencyRecord, tenant: &TenantId) -> WriteAction {
    let mut item = Item::with_key(&keys::idempotency(
        tenant,
        &record.subject,
        &record.operation,
        &record.key,
    ));
    item.set("request_hash", record.request_hash.as_str())
        .set("response", record.response.as_str())
        .set("created_at", record.created_at.fixed_width())
        .set(
            schema::TTL,
            record.created_at.unix_seconds() + record.ttl_secs,
        );
    WriteAction::put_if(item, Condition::Absent)
}

#[derive(Clone)]
pub struct IdempotencyRepository {
    store: Arc<dyn ItemStore>,
}

impl IdempotencyRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl IdempotencyStore for IdempotencyRepository {
    /// The live record for this key, if any (an expired one counts as absent).
    async fn get(
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
    async fn put(&self, scope: &TenantScope, record: &IdempotencyRecord) -> RepoResult<()> {
        let action = put_action(record, scope.tenant());
        self.store
            .transact_write(vec![action])
            .await
            .map_err(|e| super::map_cancel(e, &[super::Role::Idempotency], None))
    }
}
