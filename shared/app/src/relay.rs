//! The outbox relay: every committed event goes out at least once, in commit order (so an
//! order's events in aggregate-version order). Consumers dedupe by event id.
//!
//! Locally the embedded store keeps a pending pointer per outbox item, in the command's own
//! transaction; the relay publishes them oldest first and drops a pointer only after its events
//! are published. A process killed between commit and publish leaves its pointers: the next
//! run publishes them. On AWS the table's stream feeds the same publishing step.

use std::sync::Arc;

use domain::events::DomainEvent;
use domain::ports::EventPublisher;
use store::ItemStore;
use store::repo::OutboxRepository;

use crate::error::AppResult;

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
        for item in self.outbox.pending(limit).await? {
            if !publish_all(self.publisher.as_ref(), &item.events).await {
                pass.blocked = true;
                break;
            }
            done.push(item.pointer);
        }
        self.outbox.published(&done).await?;
        pass.published = done.len();
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

/// Whether the bus took every one of `events` (after the adapter's own retries).
async fn publish_all(publisher: &dyn EventPublisher, events: &[DomainEvent]) -> bool {
    if events.is_empty() {
        return true;
    }
    match publisher.publish(events).await {
        Ok(p) => p.failed.is_empty(),
        Err(e) => {
            tracing::warn!(error = %e, "the bus refused a publish; retrying later");
            false
        }
    }
}

/// One record of the table's stream, as the relay sees it: its position in the stream and the
/// events of the outbox item it carries (`Err` when the record cannot be read).
pub struct StreamedOutbox<P> {
    pub position: P,
    pub events: Result<Vec<DomainEvent>, String>,
}

/// The relay on AWS: the table's stream (new outbox items, in commit order per order) in, the
/// bus out. The stream retries a batch from the position it is given back, so the relay stops
/// at the first record it cannot publish and nothing overtakes it.
pub struct StreamRelay {
    publisher: Arc<dyn EventPublisher>,
}

impl StreamRelay {
    pub fn new(publisher: Arc<dyn EventPublisher>) -> Self {
        Self { publisher }
    }

    /// Publishes the records in order; the position of the first that did not go out (it and
    /// every later record are retried), or `None` when all did.
    pub async fn relay<P>(&self, records: Vec<StreamedOutbox<P>>) -> Option<P> {
        for record in records {
            let taken = match &record.events {
                Ok(events) => publish_all(self.publisher.as_ref(), events).await,
                Err(why) => {
                    tracing::error!(error = %why, "an outbox record cannot be read; retried, then dead-lettered");
                    false
                }
            };
            if !taken {
                return Some(record.position);
            }
        }
        None
    }
}
