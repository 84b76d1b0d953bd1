//! The outbox relay: every committed event goes out at least once, in commit order (so an
//! order's events in aggregate-version order). Consumers dedupe by event id.
//!
//! Locally the embedded store keeps a pending pointer per outbox item, in the command's own
//! transaction; the relay publishes them oldest first and drops a pointer only after its events
//! are published. A process killed between commit and publish leaves its pointers: the next
//! run publishes them. On AWS the table's stream feeds the same publishing step.

use std::sync::Arc;

use domain::events::DomainEvent;
use domain::ports::{DeadLetter, DeadLetters, EventPublisher};
use store::ItemStore;
use store::repo::OutboxRepository;

use app::AppResult;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Outbox items published (their pointers dropped).
    pub published: usize,
    /// Whether the pass stopped at an item the bus did not take (tried again next pass).
    pub blocked: bool,
}

pub struct OutboxRelay {
    outbox: OutboxRepository,
    publisher: Arc<dyn EventPublisher>,
}

impl OutboxRelay {
    pub fn new(store: Arc<dyn ItemStore>, publisher: Arc<dyn EventPublisher>) -> Self {
        Self {
            outbox: OutboxRepository::new(store),
            publisher,
        }
    }

    /// Publishes up to `limit` pending outbox items, oldest first, and stops at the first the
    /// bus does not take (so nothing overtakes it). The pointers of the items published go in
    /// one transaction at the end of the pass (one commit per pass, not per item: a crash in
    /// between publishes them again, which at-least-once delivery allows).
    pub async fn pass(&self, limit: u32) -> AppResult<RelayPass> {
        let mut pass = RelayPass::default();
        let mut done = Vec::new();
        let mut lags = Vec::new();
        let pending = self.outbox.pending(limit).await?;
        let seen = pending.len();
        let now = std::time::SystemTime::now();
        for item in pending {
            if !publish_all(self.publisher.as_ref(), &item.events).await {
                pass.blocked = true;
                break;
            }
            lags.extend(waited(&item.events, now));
            done.push(item.pointer);
        }
        self.outbox.published(&done).await?;
        pass.published = done.len();
        telemetry::relay_pass(seen - done.len(), lags);
        Ok(pass)
    }

    /// Runs passes until `stop` resolves, waiting `idle` when nothing was pending (or the bus
    /// refused); after `stop`, one last pass.
    pub async fn run(
        &self,
        idle: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            let pass = self.pass(100).await;
            let wait = match &pass {
                Ok(p) => p.published == 0 || p.blocked,
                Err(e) => {
                    tracing::error!(error = %e, "outbox relay pass failed");
                    true
                }
            };
            if wait {
                tokio::select! {
                    () = &mut stop => break,
                    () = tokio::time::sleep(idle) => {}
                }
            }
        }
        if let Err(e) = self.pass(1_000).await {
            tracing::error!(error = %e, "last outbox relay pass failed");
        }
    }
}

/// How long a record waited: from its first event to its publication at `now`.
fn waited(events: &[DomainEvent], now: std::time::SystemTime) -> Option<std::time::Duration> {
    let first = events.first()?;
    let at = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(first.occurred_at.unix_millis()).ok()?);
    Some(now.duration_since(at).unwrap_or_default())
}

/// Whether the bus took every one of `events` (after the adapter's own retries).
async fn publish_all(publisher: &dyn EventPublisher, events: &[DomainEvent]) -> bool {
    if events.is_empty() {
        return true;
    }
    use tracing::Instrument;
    let span = tracing::debug_span!("bus.publish", events = events.len());
    match publisher.publish(events).instrument(span).await {
        Ok(p) => p.all(),
        Err(e) => {
            tracing::warn!(error = %e, "the bus refused a publish; retrying later");
            false
        }
    }
}

/// One record of the table's stream, as the relay sees it: its position in the stream, the
/// events of the outbox item it carries (`Err` when the record cannot be read), and the record
/// as received (what a dead letter keeps, so that `oms outbox redrive` can read it again).
pub struct StreamedOutbox<P> {
    pub position: P,
    pub events: Result<Vec<DomainEvent>, String>,
    pub record: String,
}

/// The dead-letter reasons of the relay.
pub mod reasons {
    /// The record could not be read as an outbox item (its image is kept).
    pub const UNREADABLE_RECORD: &str = "unreadable_record";
    /// The bus refused one of the record's events for good (too large, malformed).
    pub const REJECTED_BY_BUS: &str = "rejected_by_bus";
    /// The invocation's payload was not a stream batch.
    pub const MALFORMED_PAYLOAD: &str = "malformed_payload";
}

/// The relay on AWS: the table's stream (new outbox items, in commit order per order) in, the
/// bus out. A record that cannot be read, or whose events the bus refuses for good, goes to the
/// dead-letter queue with the whole record and is passed: one bad record never holds back the
/// shard (nor the other tenants' events behind it). Only a failure that may pass (the bus or
/// the queue unreachable, entries the bus was too busy to take) stops the batch there: the
/// stream retries from that record, so nothing overtakes it.
pub struct StreamRelay {
    publisher: Arc<dyn EventPublisher>,
    dead_letters: Arc<dyn DeadLetters>,
}

impl StreamRelay {
    pub fn new(publisher: Arc<dyn EventPublisher>, dead_letters: Arc<dyn DeadLetters>) -> Self {
        Self {
            publisher,
            dead_letters,
        }
    }

    /// Keeps `letter` in the relay's dead-letter queue.
    pub async fn park(&self, letter: &DeadLetter) -> Result<(), domain::ports::PublishError> {
        self.dead_letters.dead_letter(letter).await
    }

    /// Publishes the records in order; the position of the first that did not go out (it and
    /// every later record are retried), or `None` when all went out or to the dead letters.
    pub async fn relay<P: std::fmt::Display>(&self, records: Vec<StreamedOutbox<P>>) -> Option<P> {
        let mut left = records.len();
        for record in records {
            left -= 1;
            let parked = match &record.events {
                Ok(events) if events.is_empty() => None,
                Ok(events) => match self.publisher.publish(events).await {
                    Ok(p) if p.failed.is_empty() && p.rejected.is_empty() => {
                        telemetry::relay_pass(left, waited(events, std::time::SystemTime::now()));
                        None
                    }
                    Ok(p) if p.failed.is_empty() => Some((
                        reasons::REJECTED_BY_BUS,
                        p.rejected
                            .iter()
                            .map(|r| format!("event {}: {}", events[r.index].event_id, r.reason))
                            .collect::<Vec<_>>()
                            .join("; "),
                    )),
                    Ok(p) => {
                        tracing::warn!(failed = p.failed.len(), position = %record.position, "the bus did not take every event; the stream retries from here");
                        return Some(record.position);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, position = %record.position, "the bus refused a publish; the stream retries from here");
                        return Some(record.position);
                    }
                },
                Err(why) => Some((reasons::UNREADABLE_RECORD, why.clone())),
            };
            if let Some((reason, why)) = parked {
                let letter = DeadLetter {
                    reason: reason.to_owned(),
                    detail: format!("stream record {}: {why}", record.position),
                    event_id: None,
                    body: record.record.clone(),
                };
                if let Err(e) = self.dead_letters.dead_letter(&letter).await {
                    tracing::error!(error = %e, position = %record.position, "a record could not be dead-lettered; the stream retries from here");
                    return Some(record.position);
                }
                tracing::error!(reason, detail = %letter.detail, "an outbox record was dead-lettered; `oms outbox redrive` publishes it once it can be");
            }
        }
        None
    }
}
