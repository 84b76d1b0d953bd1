//! The local relay's side of the outbox: the pending pointers the embedded store keeps, in
//! commit order, and the events of the outbox items they point to. (On AWS the table's stream
//! feeds the relay; there are no pointers.)

use std::sync::Arc;

use domain::events::DomainEvent;

use crate::item::{Item, Key};
use crate::keys;
use crate::port::{ItemStore, MAX_TRANSACTION_ACTIONS, Query, WriteAction};

use super::{RepoResult, from_json};

/// One outbox item not yet published: its pointer and its events.
#[derive(Debug, Clone)]
pub struct PendingEvents {
    pub pointer: Key,
    pub events: Vec<DomainEvent>,
}

#[derive(Clone)]
pub struct OutboxRepository {
    store: Arc<dyn ItemStore>,
}

impl OutboxRepository {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store }
    }

    /// Up to `limit` outbox items not yet published, oldest first. A pointer whose outbox item
    /// is gone (expired) comes back with no events, to be dropped.
    pub async fn pending(&self, limit: u32) -> RepoResult<Vec<PendingEvents>> {
        let page = self
            .store
            .query(&Query::partition(keys::OUTBOX_PENDING, limit))
            .await?;
        let targets: Vec<Key> = page
            .items
            .iter()
            .map(|p| {
                Ok(Key {
                    pk: p.require_s("outbox_pk")?.to_owned(),
                    sk: p.require_s("outbox_sk")?.to_owned(),
                })
            })
            .collect::<RepoResult<_>>()?;
        let items = self.store.batch_get(&targets).await?;
        page.items
            .iter()
            .zip(items)
            .map(|(pointer, item)| {
                let events = match item {
                    Some(i) => from_json(i.require_s("events")?)?,
                    None => Vec::new(),
                };
                Ok(PendingEvents {
                    pointer: pointer.key()?,
                    events,
                })
            })
            .collect()
    }

    /// The events of an item as the table's stream shows it, if it is an outbox item.
    pub fn streamed_events(item: &Item) -> RepoResult<Option<Vec<DomainEvent>>> {
        if !keys::is_outbox(&item.key()?) {
            return Ok(None);
        }
        Ok(Some(from_json(item.require_s("events")?)?))
    }

    /// These pointers' events are published: they go, in as few transactions as the
    /// transaction size allows.
    pub async fn published(&self, pointers: &[Key]) -> RepoResult<()> {
        for chunk in pointers.chunks(MAX_TRANSACTION_ACTIONS) {
            self.store
                .transact_write(
                    chunk
                        .iter()
                        .map(|key| WriteAction::Delete {
                            key: key.clone(),
                            condition: None,
                        })
                        .collect(),
                )
                .await?;
        }
        Ok(())
    }
}
