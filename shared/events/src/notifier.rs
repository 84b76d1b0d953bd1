//! The `notifier` function's edge: a batch of SQS messages in (each an EventBridge event the
//! notifications rule queued), one delivery attempt per message, all of the batch at once,
//! `batchItemFailures` out.
//!
//! A failed delivery's message is put out of sight for its backoff (`ChangeMessageVisibility`)
//! and reported failed, so the queue brings it back then; after the queue's `maxReceiveCount`
//! its redrive policy moves it to the dead-letter queue, and the last attempt has written why
//! in the tenant audit. A message that is not one of our events (not JSON, not `tenantoms`, not
//! from this account) is dead-lettered and done.

use std::time::Duration;

use crate::notify::{QueuedNotifier, Settled};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use domain::events::DomainEvent;
use domain::ports::{DeadLetter, DeadLetters};
use serde_json::{Value, json};

/// One delivery attempt waits this long for the receiver at most.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct NotifierFunction {
    pub queued: QueuedNotifier,
    /// The notifications queue (each failed message's backoff is set there).
    pub queue: crate::SqsQueue,
    /// Where what is not one of our events goes.
    pub dead_letters: std::sync::Arc<dyn DeadLetters>,
}

/// One invocation: the messages to retry, as `batchItemFailures`. `Err` only when a payload
/// that is not an SQS batch could not even be dead-lettered.
pub async fn handle_batch(
    function: &NotifierFunction,
    payload: Value,
    function_arn: &str,
) -> Result<Value, String> {
    let batch: SqsEvent = match serde_json::from_value(payload.clone()) {
        Ok(b) => b,
        Err(e) => {
            let letter = DeadLetter {
                reason: crate::relay::reasons::MALFORMED_PAYLOAD.to_owned(),
                detail: format!("not an SQS batch: {e}"),
                event_id: None,
                body: payload.to_string(),
            };
            function
                .dead_letters
                .dead_letter(&letter)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(json!({ "batchItemFailures": [] }));
        }
    };
    let attempts = batch.records.iter().map(|m| one(function, m, function_arn));
    let outcomes = futures::future::join_all(attempts).await;
    // Every backoff of the batch in one call (ten at most).
    let hide: Vec<(String, i32)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Retry {
                receipt: Some(r),
                after,
                ..
            } => Some((
                r.clone(),
                i32::try_from(after.as_secs()).unwrap_or(i32::MAX),
            )),
            _ => None,
        })
        .collect();
    if !hide.is_empty() {
        match function.queue.hide_all(&hide).await {
            Ok(refused) if refused.is_empty() => {}
            // The queue's own visibility timeout then brings them back sooner: nothing is lost.
            Ok(refused) => {
                tracing::warn!(
                    count = refused.len(),
                    "some notifications' backoff was not set"
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot set the notifications' backoff"),
        }
    }
    let failures: Vec<Value> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Done => None,
            Outcome::Retry { id, .. } => Some(json!({ "itemIdentifier": id })),
        })
        .collect();
    Ok(json!({ "batchItemFailures": failures }))
}

/// What became of one message.
enum Outcome {
    /// Delivered, skipped, given up for good, or dead-lettered: delete it.
    Done,
    /// Bring it back after `after`.
    Retry {
        id: String,
        receipt: Option<String>,
        after: Duration,
    },
}

/// One message.
async fn one(function: &NotifierFunction, message: &SqsMessage, function_arn: &str) -> Outcome {
    let id = message.message_id.clone().unwrap_or_default();
    let retry = |after: Duration| Outcome::Retry {
        id: id.clone(),
        receipt: message.receipt_handle.clone(),
        after,
    };
    let body = message.body.as_deref().unwrap_or_default();
    let event = match ours(body, function_arn) {
        Ok(event) => event,
        Err((reason, detail)) => {
            tracing::warn!(reason, %detail, "a queued notification that is not ours was dead-lettered");
            let letter = DeadLetter {
                reason: reason.to_owned(),
                detail,
                event_id: None,
                body: body.to_owned(),
            };
            return match function.dead_letters.dead_letter(&letter).await {
                Ok(()) => Outcome::Done,
                Err(e) => {
                    tracing::error!(error = %e, "cannot dead-letter; the queue tries again");
                    retry(Duration::ZERO)
                }
            };
        }
    };
    let receive = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(1);
    match function.queued.attempt(&event, receive).await {
        Ok(Settled::Done(_)) => Outcome::Done,
        Ok(Settled::Retry { after, .. }) => retry(after),
        Err(e) => {
            // A failure of ours (the store, the directory): the queue's own visibility timeout
            // brings it back.
            tracing::error!(tenant = %event.tenant, event = %event.event_id, error = %e, "notification failed; the queue tries again");
            Outcome::Retry {
                id,
                receipt: None,
                after: Duration::ZERO,
            }
        }
    }
}

/// The domain event a message carries, if it is one of ours; else the dead-letter reason and
/// why.
fn ours(body: &str, function_arn: &str) -> Result<DomainEvent, (&'static str, String)> {
    let envelope: Value = serde_json::from_str(body)
        .map_err(|e| ("malformed", format!("not an EventBridge event: {e}")))?;
    if let Some(why) = crate::dispatch::not_ours(&envelope, function_arn) {
        return Err((crate::dispatch::FORGED_SOURCE, why));
    }
    serde_json::from_value(envelope["detail"].clone())
        .map_err(|e| ("malformed", format!("not one of our domain events: {e}")))
}
