//! The in-process bus: every published event is kept (in order) and broadcast to subscribers.

use std::sync::Mutex;

use domain::events::DomainEvent;
use domain::ports::{EventPublisher, PublishError, PublishFuture, Published};
use tokio::sync::broadcast;

pub struct InProcessBus {
    log: Mutex<Vec<DomainEvent>>,
    tx: broadcast::Sender<DomainEvent>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1_024);
        Self {
            log: Mutex::default(),
            tx,
        }
    }
}

impl InProcessBus {
    /// Every event published so far, in publishing order.
    pub fn published(&self) -> Vec<DomainEvent> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.tx.subscribe()
    }
}

impl EventPublisher for InProcessBus {
    fn publish<'a>(&'a self, events: &'a [DomainEvent]) -> PublishFuture<'a> {
        Box::pin(async move {
            let mut log = self
                .log
                .lock()
                .map_err(|_| PublishError::Bus("in-process bus poisoned".into()))?;
            for e in events {
                log.push(e.clone());
                // No subscriber is not an error: the log keeps the event.
                let _ = self.tx.send(e.clone());
            }
            Ok(Published::default())
        })
    }
}
