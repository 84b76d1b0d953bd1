//! Handler tests: the stream batches of `events/outbox-relay/` through the relay, as the
//! function receives them, onto an in-process bus (that fails on demand), dead letters kept in
//! memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use domain::events::DomainEvent;
use events::relay::StreamRelay;
use events::{DeadLetterLog, FlakyBus};

fn batch(file: &str) -> serde_json::Value {
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

fn relay(bus: &Arc<FlakyBus>) -> (StreamRelay, Arc<DeadLetterLog>) {
    let letters = Arc::new(DeadLetterLog::default());
    (StreamRelay::new(bus.clone(), letters.clone()), letters)
}

async fn relay_batch(relay: &StreamRelay, payload: serde_json::Value) -> DynamoDbEventResponse {
    events::stream::relay_batch(relay, payload).await.unwrap()
}

#[tokio::test]
async fn new_outbox_items_go_out_in_order_and_nothing_else() {
    let bus = Arc::new(FlakyBus::new(|_| false));
    let (relay, letters) = relay(&bus);
    let response = relay_batch(&relay, batch("stream-batch.json")).await;
    assert!(failures(&response).is_empty());
    // The order item and the TTL removal are passed over: 3 outbox items, 4 events.
    assert_eq!(bus.calls(), 3);
    assert_eq!(ids(&bus.inner.published()), BATCH);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"], serde_json::json!([]));
    assert!(letters.letters().is_empty());
}

#[tokio::test]
async fn a_failed_publish_names_its_record_and_nothing_after_it_goes_out() {
    // The second outbox item's publish fails: the stream must retry from that record.
    let bus = Arc::new(FlakyBus::new(|n| n == 1));
    let (relay, letters) = relay(&bus);
    let response = relay_batch(&relay, batch("stream-batch.json")).await;
    assert_eq!(failures(&response), ["1300"]);
    assert_eq!(ids(&bus.inner.published()), BATCH[..1]);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], "1300");

    assert!(
        letters.letters().is_empty(),
        "a bus outage is waited out, not dead-lettered"
    );

    // The stream delivers the batch again: everything goes out (v1 twice: at least once).
    let response = relay_batch(&relay, batch("stream-batch.json")).await;
    assert!(failures(&response).is_empty());
    let published = ids(&bus.inner.published());
    assert_eq!(published[..1], BATCH[..1]);
    assert_eq!(published[1..], BATCH);
}

#[tokio::test]
async fn an_unreadable_record_is_dead_lettered_whole_and_the_records_after_it_go_out() {
    let bus = Arc::new(FlakyBus::new(|_| false));
    let (relay, letters) = relay(&bus);
    let response = relay_batch(&relay, batch("stream-unreadable.json")).await;
    assert!(failures(&response).is_empty(), "the shard moves on");
    assert_eq!(
        ids(&bus.inner.published()),
        [(3, "OrderApproved"), (5, "OrderPaid")],
        "both readable records, around the bad one"
    );
    let letters = letters.letters();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].reason, "unreadable_record");
    assert!(
        letters[0].detail.starts_with("stream record 1600: "),
        "{letters:?}"
    );
    // The whole record, image included, to be read again by a redrive.
    let kept: serde_json::Value = serde_json::from_str(&letters[0].body).unwrap();
    assert_eq!(kept["dynamodb"]["SequenceNumber"], "1600");
    assert_eq!(
        kept["dynamodb"]["NewImage"]["events"]["S"],
        r#"[{"eventType":"NotAnEvent"}]"#
    );
}

#[tokio::test]
async fn a_payload_that_is_not_a_stream_batch_is_dead_lettered_and_the_invocation_succeeds() {
    let bus = Arc::new(FlakyBus::new(|_| false));
    let (relay, letters) = relay(&bus);
    for payload in [
        serde_json::json!({}),
        serde_json::json!([]),
        serde_json::Value::Null,
        serde_json::json!({"Records": "nope"}),
    ] {
        let response = relay_batch(&relay, payload.clone()).await;
        assert!(failures(&response).is_empty(), "{payload}");
    }
    let letters = letters.letters();
    assert_eq!(letters.len(), 4);
    assert!(letters.iter().all(|l| l.reason == "malformed_payload"));
    assert_eq!(letters[1].body, "[]");
    assert_eq!(bus.calls(), 0);
}
