//! The in-process bus: every published event is kept (in order) and broadcast to subscribers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use domain::events::DomainEvent;
use domain::ports::{
    DeadLetter, DeadLetters, EventPublisher, PublishError, PublishFuture, Published,
};
use tokio::sync::broadcast;

pub struct InProcessBus {
    /// Every event, kept for tests; `None` in a long-running process.
    log: Option<Mutex<Vec<DomainEvent>>>,
    tx: broadcast::Sender<DomainEvent>,
}

impl Default for InProcessBus {
    /// A bus that also keeps every event it carried (tests).
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1_024);
        Self {
            log: Some(Mutex::default()),
            tx,
        }
    }
}

impl InProcessBus {
    /// A bus that only broadcasts (`oms serve`): nothing accumulates in memory.
    pub fn broadcast_only() -> Self {
        let (tx, _) = broadcast::channel(4_096);
        Self { log: None, tx }
    }

    /// Every event published so far, in publishing order.
    pub fn published(&self) -> Vec<DomainEvent> {
        self.log
            .as_ref()
            .and_then(|l| l.lock().ok().map(|l| l.clone()))
            .unwrap_or_default()
    }

    /// Events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.tx.subscribe()
    }
}

impl EventPublisher for InProcessBus {
    fn publish<'a>(&'a self, events: &'a [DomainEvent]) -> PublishFuture<'a> {
        Box::pin(async move {
            if let Some(log) = &self.log {
                log.lock()
                    .map_err(|_| PublishError::Bus("in-process bus poisoned".into()))?
                    .extend(events.iter().cloned());
            }
            for e in events {
                // No subscriber is not an error.
                let _ = self.tx.send(e.clone());
            }
            Ok(Published::default())
        })
    }
}

/// Fault injection for tests: an in-process bus that refuses the publish calls `fails` picks
/// (by their 0-based number).
pub struct FlakyBus {
    pub inner: InProcessBus,
    calls: AtomicUsize,
    fails: Box<dyn Fn(usize) -> bool + Send + Sync>,
}

impl FlakyBus {
    pub fn new(fails: impl Fn(usize) -> bool + Send + Sync + 'static) -> Self {
        Self {
            inner: InProcessBus::default(),
            calls: AtomicUsize::new(0),
            fails: Box::new(fails),
        }
    }

    /// Publish calls so far, refused ones included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl EventPublisher for FlakyBus {
    fn publish<'a>(&'a self, events: &'a [DomainEvent]) -> PublishFuture<'a> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if (self.fails)(n) {
            return Box::pin(async { Err(PublishError::Bus("injected failure".into())) });
        }
        self.inner.publish(events)
    }
}

/// Dead letters kept in memory (tests).
#[derive(Default)]
pub struct DeadLetterLog {
    letters: Mutex<Vec<DeadLetter>>,
}

impl DeadLetterLog {
    pub fn letters(&self) -> Vec<DeadLetter> {
        self.letters.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl DeadLetters for DeadLetterLog {
    fn dead_letter<'a>(&'a self, letter: &'a DeadLetter) -> PublishFuture<'a, ()> {
        Box::pin(async move {
            self.letters
                .lock()
                .map_err(|_| PublishError::Bus("dead-letter log poisoned".into()))?
                .push(letter.clone());
            Ok(())
        })
    }
}
