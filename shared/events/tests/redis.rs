//! Redis Streams against a real `redis-server` (`make test` starts one): the publisher's
//! entries, a consumer group that acknowledges after handling, a consumer killed before `XACK`
//! whose entry another member claims, and a poison entry moved to the dead-letter stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::events::DomainEvent;
use domain::ports::EventPublisher;
use events::redis::{
    ConsumerConfig, EntryHandler, RedisPublisher, StreamConsumer, connect, dead_letter_stream,
};
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;

fn url() -> String {
    if let Ok(u) = std::env::var("OMS_REDIS_URL") {
        return u;
    }
    let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.services/env");
    std::fs::read_to_string(env_file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("OMS_REDIS_URL=").map(str::to_owned))
        })
        .expect(
            "redis-server is not running: run `make test`, or `scripts/services.sh start redis`",
        )
}

fn stream() -> String {
    format!("test:{}", ulid::Ulid::new())
}

/// `n` events of one order, versions 1..=n (from the event-consumer sample).
fn events(n: usize) -> Vec<DomainEvent> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/event-consumer/order-created.json"
    ))
    .unwrap();
    let sample: serde_json::Value = serde_json::from_str(&text).unwrap();
    (0..n)
        .map(|i| {
            let mut d = sample["detail"].clone();
            d["eventId"] = serde_json::Value::from(ulid::Ulid::new().to_string());
            d["aggregateVersion"] = serde_json::Value::from(i + 1);
            serde_json::from_value(d).unwrap()
        })
        .collect()
}

/// Applies each event id once (a consumer that dedupes by id), counting deliveries.
#[derive(Default)]
struct Dedupe {
    applied: Mutex<BTreeMap<String, u64>>,
    deliveries: Mutex<usize>,
}

impl EntryHandler for Dedupe {
    fn handle<'a>(
        &'a self,
        event: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            *self.deliveries.lock().unwrap() += 1;
            let e: DomainEvent = serde_json::from_str(event).map_err(|e| e.to_string())?;
            self.applied
                .lock()
                .unwrap()
                .entry(e.event_id.to_string())
                .or_insert(e.aggregate_version);
            Ok(())
        })
    }
}

/// Applies, then hangs before returning: a process killed between commit and `XACK`.
struct DiesBeforeAck(Arc<Dedupe>);

impl EntryHandler for DiesBeforeAck {
    fn handle<'a>(
        &'a self,
        event: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0.handle(event).await?;
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

/// Never manages an entry.
struct AlwaysFails;

impl EntryHandler for AlwaysFails {
    fn handle<'a>(
        &'a self,
        _event: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Err("the store is down".to_owned()) })
    }
}

#[tokio::test]
async fn published_events_are_entries_in_order_with_their_fields() {
    let conn = connect(&url()).await.unwrap();
    let s = stream();
    let sent = events(5);
    let publisher = RedisPublisher::new(conn.clone(), &s);
    publisher.publish(&sent[..2]).await.unwrap();
    publisher.publish(&sent[2..]).await.unwrap();
    let mut c = conn.clone();
    let range: StreamRangeReply = c.xrange_all(&s).await.unwrap();
    assert_eq!(range.ids.len(), 5);
    for (entry, e) in range.ids.iter().zip(&sent) {
        let json: String = entry.get("event").unwrap();
        let back: DomainEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, e);
        assert_eq!(entry.get::<String>("type").unwrap(), "OrderCreated");
        assert_eq!(entry.get::<String>("tenant").unwrap(), "demo");
        assert_eq!(
            entry.get::<String>("version").unwrap(),
            e.aggregate_version.to_string()
        );
    }
}

#[tokio::test]
async fn a_consumer_killed_before_xack_leaves_its_entry_to_another_member() {
    let conn = connect(&url()).await.unwrap();
    let s = stream();
    let sent = events(3);
    RedisPublisher::new(conn.clone(), &s)
        .publish(&sent)
        .await
        .unwrap();

    let applied = Arc::new(Dedupe::default());
    let mut a_config = ConsumerConfig::new(&s, "g", "a");
    a_config.batch = 1;
    let a = StreamConsumer::join(conn.clone(), a_config).await.unwrap();
    // a handles the first entry, commits, and is killed before XACK.
    let dying = DiesBeforeAck(applied.clone());
    let killed = tokio::time::timeout(Duration::from_millis(300), a.step(&dying)).await;
    assert!(killed.is_err(), "a never acknowledged");
    assert_eq!(applied.applied.lock().unwrap().len(), 1);

    let mut b_config = ConsumerConfig::new(&s, "g", "b");
    b_config.claim_after = Duration::from_millis(100);
    let b = StreamConsumer::join(conn.clone(), b_config).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let step = b.step(applied.as_ref()).await.unwrap();
    assert_eq!(step.claimed, 1, "b claimed a's entry");
    assert_eq!(step.acked, 3, "the claimed entry and the two new ones");
    // Delivered 4 times in all (one twice), applied once each, in version order.
    assert_eq!(*applied.deliveries.lock().unwrap(), 4);
    let versions: Vec<u64> = {
        let map = applied.applied.lock().unwrap();
        let mut v: Vec<u64> = map.values().copied().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(versions, [1, 2, 3]);
    let mut c = conn.clone();
    let pending: redis::streams::StreamPendingReply = c.xpending(&s, "g").await.unwrap();
    assert_eq!(pending.count(), 0, "nothing left pending");
}

#[tokio::test]
async fn an_entry_that_never_succeeds_goes_to_the_dead_letter_stream() {
    let conn = connect(&url()).await.unwrap();
    let s = stream();
    RedisPublisher::new(conn.clone(), &s)
        .publish(&events(1))
        .await
        .unwrap();
    let mut config = ConsumerConfig::new(&s, "g", "a");
    config.claim_after = Duration::ZERO;
    config.max_deliveries = 3;
    let a = StreamConsumer::join(conn.clone(), config).await.unwrap();
    let mut steps = Vec::new();
    for _ in 0..3 {
        steps.push(a.step(&AlwaysFails).await.unwrap());
    }
    assert_eq!(steps[0].retried, 1);
    assert_eq!(steps[1].retried, 1);
    assert_eq!(steps[2].dead, 1, "{steps:?}");
    let mut c = conn.clone();
    let dead: StreamRangeReply = c.xrange_all(dead_letter_stream(&s)).await.unwrap();
    assert_eq!(dead.ids.len(), 1);
    assert_eq!(
        dead.ids[0].get::<String>("detail").unwrap(),
        "the store is down"
    );
    let pending: redis::streams::StreamPendingReply = c.xpending(&s, "g").await.unwrap();
    assert_eq!(pending.count(), 0);
    // Nothing more to do.
    assert_eq!(a.step(&AlwaysFails).await.unwrap(), Default::default());
}
