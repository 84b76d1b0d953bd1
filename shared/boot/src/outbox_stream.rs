//! The `outbox-relay` function's edge: DynamoDB stream records in, `batchItemFailures` out. New
//! outbox items (INSERT records with a `NewImage`) are read with the store's own item model and
//! handed to [`app::relay::StreamRelay`]; every other record is passed over.

use app::relay::{StreamRelay, StreamedOutbox};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::events::DomainEvent;
use store::dynamo::item_from_stream_image;
use store::repo::OutboxRepository;

/// The outbox events a stream record carries: `None` for a record that is not a new outbox
/// item (a change of another item, a TTL removal).
fn outbox_events(record: &EventRecord) -> Option<Result<Vec<DomainEvent>, String>> {
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

/// Relays a batch of stream records; the answer names the first record that did not go out
/// (the stream retries from it), or none.
pub async fn relay_batch(relay: &StreamRelay, event: Event) -> DynamoDbEventResponse {
    let records = event
        .records
        .iter()
        .filter_map(|r| {
            outbox_events(r).map(|events| StreamedOutbox {
                position: r.change.sequence_number.clone(),
                events,
            })
        })
        .collect();
    let mut response = DynamoDbEventResponse::default();
    if let Some(position) = relay.relay(records).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = position;
        response.batch_item_failures.push(failure);
    }
    response
}
