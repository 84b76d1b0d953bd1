//! EventBridge: `PutEvents` with `source` `tenantoms`, `detail-type` the event's type, `detail` the
//! versioned event JSON (with its id, tenant, order id and aggregate version).

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use domain::events::DomainEvent;
use domain::ports::{EventPublisher, PublishError, PublishFuture, Published, Rejected};

/// The `source` of every event we publish.
pub const SOURCE: &str = "tenantoms";
/// PutEvents takes at most 10 entries a call.
pub const MAX_ENTRIES: usize = 10;
/// … and at most 256 KB a call (as EventBridge counts an entry's size).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// How many times entries that failed are sent again before they are reported back.
pub const RETRIES: u32 = 3;
/// The entry error codes worth sending again (EventBridge's own: the bus was busy or failed);
/// any other code refuses the entry for good.
pub const RETRYABLE: &[&str] = &["InternalFailure", "ThrottlingException"];

pub struct EventBridgePublisher {
    client: Client,
    bus: String,
    backoff: Duration,
}

/// An entry ready to send, with the index of its event and its size as EventBridge counts it.
struct Entry {
    index: usize,
    entry: PutEventsRequestEntry,
    size: usize,
}

/// Batches of at most [`MAX_ENTRIES`] entries and [`MAX_BATCH_BYTES`].
fn batches(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut out: Vec<Vec<Entry>> = Vec::new();
    let mut bytes = 0;
    for e in entries {
        let fits = out
            .last()
            .is_some_and(|b| b.len() < MAX_ENTRIES && bytes + e.size <= MAX_BATCH_BYTES);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += e.size;
        if let Some(b) = out.last_mut() {
            b.push(e);
        }
    }
    out
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
            backoff: Duration::from_millis(100),
        }
    }

    /// A shorter wait between retries (tests).
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    fn entry(&self, index: usize, e: &DomainEvent) -> Result<Entry, PublishError> {
        let detail = serde_json::to_string(e).map_err(|e| PublishError::Bus(e.to_string()))?;
        let detail_type = e.event_type();
        let size = detail.len() + detail_type.len() + SOURCE.len() + self.bus.len();
        let entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .event_bus_name(&self.bus)
            .build();
        Ok(Entry { index, entry, size })
    }

    /// Sends one batch; returns the entries that failed and may be sent again, and those the
    /// bus refused for good.
    async fn send(&self, batch: Vec<Entry>) -> Result<(Vec<Entry>, Vec<Rejected>), PublishError> {
        let out = self
            .client
            .put_events()
            .set_entries(Some(batch.iter().map(|e| e.entry.clone()).collect()))
            .send()
            .await
            .map_err(|e| PublishError::Bus(format!("{e:?}")))?;
        if out.failed_entry_count() == 0 {
            return Ok((Vec::new(), Vec::new()));
        }
        // Results come in the order of the entries sent; a failed one carries an error code.
        let results = out.entries();
        let mut again = Vec::new();
        let mut refused = Vec::new();
        for (i, e) in batch.into_iter().enumerate() {
            match results.get(i).map(|r| (r.error_code(), r.error_message())) {
                Some((None, _)) => {}
                Some((Some(code), message)) if !RETRYABLE.contains(&code) => {
                    refused.push(Rejected {
                        index: e.index,
                        reason: format!("{code}: {}", message.unwrap_or("refused by the bus")),
                    });
                }
                _ => again.push(e),
            }
        }
        Ok((again, refused))
    }

    async fn publish_all(&self, events: &[DomainEvent]) -> Result<Published, PublishError> {
        let mut rejected = Vec::new();
        let mut pending = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let entry = self.entry(i, e)?;
            // EventBridge refuses an entry over 256 KB whatever the batch: never send it.
            if entry.size > MAX_BATCH_BYTES {
                rejected.push(Rejected {
                    index: i,
                    reason: format!(
                        "entry_too_large: {} bytes, EventBridge takes {MAX_BATCH_BYTES} at most",
                        entry.size
                    ),
                });
            } else {
                pending.push(entry);
            }
        }
        let mut attempt = 0;
        while !pending.is_empty() {
            let mut failed = Vec::new();
            for batch in batches(pending) {
                let (again, refused) = self.send(batch).await?;
                failed.extend(again);
                rejected.extend(refused);
            }
            pending = failed;
            if pending.is_empty() || attempt == RETRIES {
                break;
            }
            attempt += 1;
            tracing::warn!(
                failed = pending.len(),
                attempt,
                "PutEvents entries failed; retrying them"
            );
            tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
        }
        rejected.sort_by_key(|r| r.index);
        Ok(Published {
            failed: pending.iter().map(|e| e.index).collect(),
            rejected,
        })
    }
}

impl EventPublisher for EventBridgePublisher {
    fn publish<'a>(&'a self, events: &'a [DomainEvent]) -> PublishFuture<'a> {
        Box::pin(self.publish_all(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: usize, size: usize) -> Entry {
        Entry {
            index,
            entry: PutEventsRequestEntry::builder().build(),
            size,
        }
    }

    #[test]
    fn batches_hold_ten_entries_and_256_kb_at_most() {
        let sizes = |b: &Vec<Vec<Entry>>| b.iter().map(Vec::len).collect::<Vec<_>>();
        let b = batches((0..23).map(|i| entry(i, 100)).collect());
        assert_eq!(sizes(&b), [10, 10, 3]);
        let b = batches((0..5).map(|i| entry(i, 100 * 1024)).collect());
        assert_eq!(sizes(&b), [2, 2, 1]);
        let order: Vec<usize> = b.iter().flatten().map(|e| e.index).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }
}
