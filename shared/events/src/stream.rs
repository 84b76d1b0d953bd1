//! The `outbox-relay` function's edge: DynamoDB stream records in, `batchItemFailures` out. New
//! outbox items (INSERT records with a `NewImage`) are read with the store's own item model and
//! handed to [`crate::relay::StreamRelay`]; every other record is passed over. A record that
//! cannot be read is dead-lettered whole (not retried for a day while the shard waits), and
//! [`redrive`] (`oms outbox redrive`) reads the dead letters again with the current code.

use crate::relay::{StreamRelay, StreamedOutbox, reasons};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::events::DomainEvent;
use domain::ports::{DeadLetter, EventPublisher};
use store::dynamo::item_from_stream_image;
use store::repo::OutboxRepository;

/// What the relay reads of a record: `None` for a record that is not a new outbox item (a
/// change of another item, a TTL removal), else its events or why they cannot be read.
pub type Read = Option<Result<Vec<DomainEvent>, String>>;

/// The outbox events a stream record carries (the reader of the deployed function).
pub fn outbox_events(record: &EventRecord) -> Read {
    if record.event_name != "INSERT" {
        return None;
    }
    let item = match item_from_stream_image(record.change.new_image.clone()) {
        Ok(item) => item,
        Err(e) => return Some(Err(e.to_string())),
    };
    OutboxRepository::streamed_events(&item)
        .map_err(|e| e.to_string())
        .transpose()
}

/// Relays one invocation's payload with the deployed reader.
pub async fn relay_batch(
    relay: &StreamRelay,
    payload: serde_json::Value,
) -> Result<DynamoDbEventResponse, String> {
    relay_batch_with(relay, payload, outbox_events).await
}

/// Relays one invocation's payload, each record read by `read` (a test injects faults here).
/// A payload that is not a stream batch is dead-lettered as it came and the invocation
/// succeeds; the answer names the first record that did not go out (the stream retries from
/// it), or none. `Err` only when not even the dead letter could be written.
pub async fn relay_batch_with(
    relay: &StreamRelay,
    payload: serde_json::Value,
    read: impl Fn(&EventRecord) -> Read,
) -> Result<DynamoDbEventResponse, String> {
    let event: Event = match serde_json::from_value(payload.clone()) {
        Ok(event) => event,
        Err(e) => {
            let letter = DeadLetter {
                reason: reasons::MALFORMED_PAYLOAD.to_owned(),
                detail: format!("not a DynamoDB stream batch: {e}"),
                event_id: None,
                body: payload.to_string(),
            };
            tracing::error!(detail = %letter.detail, "an invocation that is not a stream batch was dead-lettered");
            relay.park(&letter).await.map_err(|e| e.to_string())?;
            return Ok(DynamoDbEventResponse::default());
        }
    };
    let records = event
        .records
        .iter()
        .filter_map(|r| {
            read(r).map(|events| StreamedOutbox {
                position: r.change.sequence_number.clone().unwrap_or_default(),
                events,
                record: serde_json::to_string(r).unwrap_or_default(),
            })
        })
        .collect();
    let mut response = DynamoDbEventResponse::default();
    if let Some(position) = relay.relay(records).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(position);
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

/// What a redrive did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RedriveReport {
    /// Dead letters whose events are now published (and which left the queue).
    pub published: usize,
    /// Dead letters that stay in the queue, with why.
    pub left: Vec<LeftBehind>,
}

/// A dead letter a redrive could not publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftBehind {
    pub message_id: String,
    /// Why it was dead-lettered in the first place.
    pub reason: String,
    /// Why it stays.
    pub why: String,
}

/// How long a redrive keeps a message it read out of sight, so that one pass reads each
/// message once; the ones it leaves are made visible again at the end.
const REDRIVE_VISIBILITY_SECS: i32 = 300;

/// Reads the relay's dead letters again with the current code: a record that can now be read
/// and published is published and deleted; every other one stays, made visible again, and is
/// reported.
pub async fn redrive(
    queue: &crate::SqsQueue,
    publisher: &dyn EventPublisher,
) -> Result<RedriveReport, String> {
    let mut report = RedriveReport::default();
    let mut keep = Vec::new();
    loop {
        let batch = queue
            .receive(10, REDRIVE_VISIBILITY_SECS)
            .await
            .map_err(|e| e.to_string())?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            match redrive_one(&message.body, publisher).await {
                Ok(()) => {
                    queue
                        .delete(&message.receipt)
                        .await
                        .map_err(|e| e.to_string())?;
                    report.published += 1;
                }
                Err(why) => {
                    report.left.push(LeftBehind {
                        message_id: message.id.clone(),
                        reason: message.reason.clone(),
                        why,
                    });
                    keep.push(message.receipt);
                }
            }
        }
    }
    for receipt in keep {
        queue.release(&receipt).await.map_err(|e| e.to_string())?;
    }
    Ok(report)
}

async fn redrive_one(body: &str, publisher: &dyn EventPublisher) -> Result<(), String> {
    let record: EventRecord = serde_json::from_str(body)
        .map_err(|e| format!("not a stream record (no image to read again): {e}"))?;
    let events = match outbox_events(&record) {
        None => return Err("not a new outbox item".into()),
        Some(Err(why)) => return Err(format!("still unreadable: {why}")),
        Some(Ok(events)) => events,
    };
    if events.is_empty() {
        return Ok(());
    }
    let published = publisher
        .publish(&events)
        .await
        .map_err(|e| e.to_string())?;
    if !published.rejected.is_empty() {
        let reasons: Vec<String> = published
            .rejected
            .iter()
            .map(|r| format!("event {}: {}", events[r.index].event_id, r.reason))
            .collect();
        return Err(format!("refused by the bus: {}", reasons.join("; ")));
    }
    if !published.failed.is_empty() {
        return Err("the bus did not take every event: try again later".into());
    }
    Ok(())
}
