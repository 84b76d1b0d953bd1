//! Redis Streams, the local bus of `oms serve --bus redis://…`:
//!
//! - [`RedisPublisher`]: domain events out, one `XADD … MAXLEN ~ n` entry per event (fields
//!   `event` — the versioned JSON — and `type`, `tenant`, `order`, `version`, `id`), a batch in
//!   one `MULTI`, so a batch is added whole or not at all;
//! - [`StreamConsumer`]: a member of a consumer group. It reads new entries (`XREADGROUP`),
//!   acknowledges one (`XACK`) only after its handler committed, claims entries a dead consumer
//!   left pending (`XAUTOCLAIM` past an idle time), and moves an entry delivered too often to
//!   the dead-letter stream (`<stream>:dead`), so a poison entry never blocks the group;
//! - [`RedisDeadLetters`]: the dead-letter stream, for the event consumer's own dead letters.
//!
//! Commands are short (no `BLOCK`): a consumer polls, waiting `idle` when nothing came.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use domain::events::DomainEvent;
use domain::ports::{
    DeadLetter, DeadLetters, EventPublisher, PublishError, PublishFuture, Published,
};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamMaxlen, StreamPendingCountReply,
    StreamReadOptions, StreamReadReply,
};

/// Domain events out (`oms serve --bus redis://…`).
pub const EVENTS_STREAM: &str = "oms:events";
/// Tenant events in (the local twin of the EventBridge rule to the event-consumer function).
pub const TENANT_EVENTS_STREAM: &str = "oms:tenant-events";
/// About how many entries a stream keeps (`MAXLEN ~`).
pub const DEFAULT_MAXLEN: usize = 100_000;

/// The dead-letter stream of `stream`.
pub fn dead_letter_stream(stream: &str) -> String {
    format!("{stream}:dead")
}

fn bus_error(e: redis::RedisError) -> PublishError {
    PublishError::Bus(format!("redis: {e}"))
}

/// Connects to `url` (`redis://host:port[/db]`); the connection reconnects by itself.
pub async fn connect(url: &str) -> Result<ConnectionManager, PublishError> {
    let client = redis::Client::open(url).map_err(bus_error)?;
    ConnectionManager::new(client).await.map_err(bus_error)
}

pub struct RedisPublisher {
    conn: ConnectionManager,
    stream: String,
    maxlen: usize,
}

impl RedisPublisher {
    pub fn new(conn: ConnectionManager, stream: impl Into<String>) -> Self {
        Self {
            conn,
            stream: stream.into(),
            maxlen: DEFAULT_MAXLEN,
        }
    }
}

impl EventPublisher for RedisPublisher {
    fn publish<'a>(&'a self, events: &'a [DomainEvent]) -> PublishFuture<'a> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for e in events {
                let json =
                    serde_json::to_string(e).map_err(|e| PublishError::Bus(e.to_string()))?;
                let fields = [
                    ("event", json),
                    ("type", e.event_type().to_owned()),
                    ("tenant", e.tenant.to_string()),
                    ("order", e.order_id.to_string()),
                    ("version", e.aggregate_version.to_string()),
                    ("id", e.event_id.to_string()),
                ];
                pipe.xadd_maxlen(
                    &self.stream,
                    StreamMaxlen::Approx(self.maxlen),
                    "*",
                    &fields,
                )
                .ignore();
            }
            let mut conn = self.conn.clone();
            let () = pipe.query_async(&mut conn).await.map_err(bus_error)?;
            Ok(Published::default())
        })
    }
}

/// The dead-letter stream: one entry per dead letter (`reason`, `detail`, `eventId`, `body`).
pub struct RedisDeadLetters {
    conn: ConnectionManager,
    stream: String,
}

impl RedisDeadLetters {
    pub fn new(conn: ConnectionManager, stream: impl Into<String>) -> Self {
        Self {
            conn,
            stream: stream.into(),
        }
    }
}

impl DeadLetters for RedisDeadLetters {
    fn dead_letter<'a>(&'a self, letter: &'a DeadLetter) -> PublishFuture<'a, ()> {
        Box::pin(async move {
            let fields = [
                ("reason", letter.reason.as_str()),
                ("detail", letter.detail.as_str()),
                ("eventId", letter.event_id.as_deref().unwrap_or_default()),
                ("body", letter.body.as_str()),
            ];
            let mut conn = self.conn.clone();
            let _: Option<String> = conn
                .xadd_maxlen(
                    &self.stream,
                    StreamMaxlen::Approx(DEFAULT_MAXLEN),
                    "*",
                    &fields,
                )
                .await
                .map_err(bus_error)?;
            Ok(())
        })
    }
}

/// What a consumer does with one entry's `event` field: `Ok` once it is done with it for good
/// (applied, a duplicate, or dead-lettered by the handler itself) — the entry is acknowledged;
/// `Err` to have it delivered again later.
pub trait EntryHandler: Send + Sync {
    fn handle<'a>(
        &'a self,
        event: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// A consumer group member's settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub stream: String,
    pub group: String,
    /// This member's name (unique per process).
    pub consumer: String,
    /// How long an entry stays pending with a silent consumer before another claims it.
    pub claim_after: Duration,
    /// After this many deliveries an entry goes to the dead-letter stream.
    pub max_deliveries: usize,
    /// Entries read per step.
    pub batch: usize,
}

impl ConsumerConfig {
    pub fn new(stream: &str, group: &str, consumer: &str) -> Self {
        Self {
            stream: stream.to_owned(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            claim_after: Duration::from_secs(30),
            max_deliveries: 5,
            batch: 50,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// Entries handled and acknowledged.
    pub acked: usize,
    /// Entries left pending for a later delivery.
    pub retried: usize,
    /// Entries moved to the dead-letter stream.
    pub dead: usize,
    /// Of the entries seen, how many were claimed from another consumer.
    pub claimed: usize,
}

pub struct StreamConsumer {
    conn: ConnectionManager,
    config: ConsumerConfig,
}

impl StreamConsumer {
    /// Joins (creating if need be) the group; a new group reads the stream from its start.
    pub async fn join(
        conn: ConnectionManager,
        config: ConsumerConfig,
    ) -> Result<Self, PublishError> {
        let mut c = conn.clone();
        let created: redis::RedisResult<()> = c
            .xgroup_create_mkstream(&config.stream, &config.group, "0")
            .await;
        match created {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(bus_error(e)),
        }
        Ok(Self { conn, config })
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Claims entries idle past `claim_after`, reads new ones, and handles them all.
    pub async fn step(&self, handler: &dyn EntryHandler) -> Result<Step, PublishError> {
        let c = &self.config;
        let mut conn = self.conn.clone();
        let mut step = Step::default();
        let idle_ms = u64::try_from(c.claim_after.as_millis()).unwrap_or(u64::MAX);
        let claimed: StreamAutoClaimReply = conn
            .xautoclaim_options(
                &c.stream,
                &c.group,
                &c.consumer,
                idle_ms,
                "0-0",
                StreamAutoClaimOptions::default().count(c.batch),
            )
            .await
            .map_err(bus_error)?;
        step.claimed = claimed.claimed.len();
        for entry in &claimed.claimed {
            self.deliver(handler, entry, &mut step).await?;
        }
        let opts = StreamReadOptions::default()
            .group(&c.group, &c.consumer)
            .count(c.batch);
        let read: Option<StreamReadReply> = conn
            .xread_options(&[&c.stream], &[">"], &opts)
            .await
            .map_err(bus_error)?;
        for key in read.map(|r| r.keys).unwrap_or_default() {
            for entry in &key.ids {
                self.deliver(handler, entry, &mut step).await?;
            }
        }
        Ok(step)
    }

    /// Handles one entry: acknowledged when the handler is done with it, dead-lettered once it
    /// was delivered `max_deliveries` times, otherwise left pending.
    async fn deliver(
        &self,
        handler: &dyn EntryHandler,
        entry: &StreamId,
        step: &mut Step,
    ) -> Result<(), PublishError> {
        let c = &self.config;
        let mut conn = self.conn.clone();
        let event: Option<String> = entry.get("event");
        let outcome = match &event {
            Some(text) => handler.handle(text).await,
            None => Err("the entry has no `event` field".to_owned()),
        };
        match outcome {
            Ok(()) => {
                let _: usize = conn
                    .xack(&c.stream, &c.group, &[&entry.id])
                    .await
                    .map_err(bus_error)?;
                step.acked += 1;
            }
            Err(why) => {
                let pending: StreamPendingCountReply = conn
                    .xpending_count(&c.stream, &c.group, &entry.id, &entry.id, 1)
                    .await
                    .map_err(bus_error)?;
                let deliveries = pending.ids.first().map_or(0, |p| p.times_delivered);
                if deliveries >= c.max_deliveries || event.is_none() {
                    let fields = [
                        ("reason", "undeliverable"),
                        ("detail", why.as_str()),
                        ("entry", entry.id.as_str()),
                        ("body", event.as_deref().unwrap_or_default()),
                    ];
                    let mut pipe = redis::pipe();
                    pipe.atomic()
                        .xadd_maxlen(
                            dead_letter_stream(&c.stream),
                            StreamMaxlen::Approx(DEFAULT_MAXLEN),
                            "*",
                            &fields,
                        )
                        .ignore()
                        .xack(&c.stream, &c.group, &[&entry.id])
                        .ignore();
                    let () = pipe.query_async(&mut conn).await.map_err(bus_error)?;
                    tracing::error!(entry = %entry.id, deliveries, error = %why, "stream entry dead-lettered");
                    step.dead += 1;
                } else {
                    tracing::warn!(entry = %entry.id, deliveries, error = %why, "stream entry not handled; delivered again later");
                    step.retried += 1;
                }
            }
        }
        Ok(())
    }

    /// Steps until `stop` resolves, waiting `idle` after a step that found nothing (or failed).
    pub async fn run(
        &self,
        handler: &dyn EntryHandler,
        idle: Duration,
        stop: impl Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            let busy = match self.step(handler).await {
                Ok(s) => s.acked + s.dead + s.retried > 0 && s.retried == 0,
                Err(e) => {
                    tracing::error!(error = %e, stream = %self.config.stream, "stream consumer step failed");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(idle) => {}
                }
            }
        }
    }
}
