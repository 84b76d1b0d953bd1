//! Keyed operations: a request that carries a key (an `Idempotency-Key` header, a webhook
//! delivery id or a tenant event id) runs at most once. The service owns the record, the replay and
//! the retries; an edge only says how to run the request and what its response is.
//!
//! The run is deferred: the use case's writes wait in the unit of work until the response is
//! known, then commit in one transaction with the record (put-if-absent). A concurrent duplicate
//! loses on that condition and replays the winner's stored response.

use std::future::Future;
use std::sync::Arc;

use crate::ports::{DELIVERY_TTL_SECS, IDEMPOTENCY_TTL_SECS, IdempotencyRecord};
use domain::access::Operation;
use domain::ids::{IdempotencyKey, OperationName};

use crate::authz::{Target, authorize};
use crate::context::{RequestCtx, UnitOfWork};
use crate::engine::App;
use crate::error::{AppError, AppResult};

/// What identifies a keyed request: its key, the operation, and a hash of the whole request
/// (the same key with another request is refused).
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key: IdempotencyKey,
    pub operation: Operation,
    pub request_hash: String,
}

/// A response that can be stored and replayed: the edge's own type, with the text to keep.
pub trait StoredResponse {
    /// The part of the response a replay returns byte for byte (GraphQL: `data`).
    fn stored(&self) -> &str;
}

/// How a keyed request ended.
#[derive(Debug)]
pub enum KeyedOutcome<R> {
    /// It ran now (and, if it changed anything, its response is stored with the change).
    Ran(R),
    /// It had run before: the stored response.
    Replayed(String),
}

/// How long a key is remembered: a webhook delivery or a tenant event at least 72 hours
/// (senders and buses retry for days), an `Idempotency-Key` a day.
fn retention(op: Operation) -> i64 {
    match op {
        Operation::WebhookAddOrder
        | Operation::WebhookShipmentTracker
        | Operation::ConsumeTenantEvents => DELIVERY_TTL_SECS,
        _ => IDEMPOTENCY_TTL_SECS,
    }
}

/// How many times a keyed request runs again after losing an optimistic-lock race.
const KEYED_RETRIES: usize = 3;

impl App {
    /// Runs `run` at most once per key: replays a stored response (after checking the caller
    /// may still run the operation), or runs it with a deferred unit of work and commits its
    /// writes together with the response.
    pub async fn keyed<R, F, Fut>(
        &self,
        rc: &RequestCtx,
        keyed: &Keyed,
        run: F,
    ) -> AppResult<KeyedOutcome<R>>
    where
        R: StoredResponse,
        F: Fn(Arc<UnitOfWork>) -> Fut,
        Fut: Future<Output = R>,
    {
        let op = keyed.operation;
        let identity = rc.identity(op)?;
        let operation =
            OperationName::parse(op.as_str()).map_err(|_| AppError::internal("operation name"))?;
        let stored = || async {
            self.idempotency
                .get(identity.scope(), identity.subject(), &operation, &keyed.key)
                .await
                .map_err(AppError::from)
        };
        if let Some(rec) = stored().await? {
            return self.replay(rc, keyed, rec);
        }
        for _ in 0..KEYED_RETRIES {
            let uow = Arc::new(UnitOfWork::keyed(keyed.key.as_str()));
            let response = run(uow.clone()).await;
            let Some(pending) = uow.take_pending() else {
                // Nothing to write (a refusal or a user error). If a concurrent duplicate of this
                // request committed meanwhile, its state is why this run was refused: its stored
                // response is the answer. Otherwise answered as is, and not remembered.
                if let Some(rec) = stored().await? {
                    return self.replay(rc, keyed, rec);
                }
                return Ok(KeyedOutcome::Ran(response));
            };
            let record = IdempotencyRecord {
                subject: identity.subject().clone(),
                operation: operation.clone(),
                key: keyed.key.clone(),
                request_hash: keyed.request_hash.clone(),
                response: response.stored().to_owned(),
                created_at: self.now(),
                ttl_secs: retention(op),
            };
            match self.commit(&pending, Some(&record)).await {
                Ok(()) => return Ok(KeyedOutcome::Ran(response)),
                // Another request changed the order, or committed this very key: if it was a
                // duplicate of this one, its response stands; otherwise run again on the new state.
                Err(AppError::Conflict(_) | AppError::IdempotencyRace) => {
                    if let Some(rec) = stored().await? {
                        return self.replay(rc, keyed, rec);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(AppError::Conflict("the order kept changing; retry".into()))
    }

    /// A stored response, if it answers this very request and the caller may still run it.
    fn replay<R>(
        &self,
        rc: &RequestCtx,
        keyed: &Keyed,
        rec: IdempotencyRecord,
    ) -> AppResult<KeyedOutcome<R>> {
        if rec.request_hash != keyed.request_hash {
            return Err(AppError::IdempotencyMismatch);
        }
        // The plan or the roles may have changed since: permission is checked again.
        authorize(&rc.caller, keyed.operation, Target::Tenant)?;
        Ok(KeyedOutcome::Replayed(rec.response))
    }
}
