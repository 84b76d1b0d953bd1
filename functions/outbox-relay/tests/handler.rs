//! Handler tests: the stream batches of `events/outbox-relay/` through the relay, as the
//! function receives them, onto an in-process bus (that fails on demand).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use app::relay::StreamRelay;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use bus::FlakyBus;
use domain::events::DomainEvent;

fn batch(file: &str) -> Event {
    let path = format!(
        "{}/../../events/outbox-relay/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn failures(r: &DynamoDbEventResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect()
}

fn ids(events: &[DomainEvent]) -> Vec<(u64, &'static str)> {
    events
        .iter()
        .map(|e| (e.aggregate_version, e.event_type()))
        .collect()
}

const BATCH: [(u64, &str); 4] = [
    (1, "OrderCreated"),
    (2, "OrderReviewerAssigned"),
    (3, "OrderApproved"),
    (3, "OrderStatusChanged"),
];

#[test]
fn every_event_file_is_tested_here() {
    let dir = format!("{}/../../events/outbox-relay", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["stream-batch.json", "stream-unreadable.json"]);
}

#[tokio::test]
async fn new_outbox_items_go_out_in_order_and_nothing_else() {
    let bus = Arc::new(FlakyBus::new(|_| false));
    let relay = StreamRelay::new(bus.clone());
    let response = boot::outbox_stream::relay_batch(&relay, batch("stream-batch.json")).await;
    assert!(failures(&response).is_empty());
    // The order item and the TTL removal are passed over: 3 outbox items, 4 events.
    assert_eq!(bus.calls(), 3);
    assert_eq!(ids(&bus.inner.published()), BATCH);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"], serde_json::json!([]));
}

#[tokio::test]
async fn a_failed_publish_names_its_record_and_nothing_after_it_goes_out() {
    // The second outbox item's publish fails: the stream must retry from that record.
    let bus = Arc::new(FlakyBus::new(|n| n == 1));
    let relay = StreamRelay::new(bus.clone());
    let response = boot::outbox_stream::relay_batch(&relay, batch("stream-batch.json")).await;
    assert_eq!(failures(&response), ["1300"]);
    assert_eq!(ids(&bus.inner.published()), BATCH[..1]);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], "1300");

    // The stream delivers the batch again: everything goes out (v1 twice: at least once).
    let response = boot::outbox_stream::relay_batch(&relay, batch("stream-batch.json")).await;
    assert!(failures(&response).is_empty());
    let published = ids(&bus.inner.published());
    assert_eq!(published[..1], BATCH[..1]);
    assert_eq!(published[1..], BATCH);
}

#[tokio::test]
async fn an_unreadable_outbox_item_is_a_failure_not_a_skip() {
    let bus = Arc::new(FlakyBus::new(|_| false));
    let relay = StreamRelay::new(bus.clone());
    let response = boot::outbox_stream::relay_batch(&relay, batch("stream-unreadable.json")).await;
    assert_eq!(failures(&response), ["1600"]);
    assert!(bus.inner.published().is_empty(), "nothing overtakes it");
}
