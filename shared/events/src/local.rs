//! The event plumbing of `oms serve`, on the in-process bus (the default) or on Redis Streams
//! (`--bus redis://…`):
//!
//! - the outbox relay publishes every committed event on the bus, resuming after a restart;
//! - notifications: every event on the bus goes to the notification dispatcher (per-tenant
//!   queues) — from a broadcast subscription, or from the `oms-notifier` consumer group;
//! - Redis only: tenant events come in on `<prefix>:tenant-events` (consumer group
//!   `oms-consumer`), are applied by the same consumer as the Lambda function, and poison
//!   entries go to `<prefix>:tenant-events:dead`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::notify::NotificationDispatcher;
use crate::redis::{
    ConsumerConfig, EntryHandler, RedisDeadLetters, RedisPublisher, StreamConsumer,
    dead_letter_stream,
};
use crate::relay::OutboxRelay;
use crate::tenant::TenantEventConsumer;
use domain::events::DomainEvent;
use domain::ports::EventPublisher;
use store::ItemStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which bus `oms serve` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalBus {
    InProcess,
    Redis { url: String, prefix: String },
}

impl LocalBus {
    /// `in-process`, or a `redis://` / `rediss://` URL (streams named `<prefix>:…`).
    pub fn parse(bus: &str, prefix: &str) -> Result<Self, String> {
        if bus == "in-process" {
            return Ok(Self::InProcess);
        }
        if bus.starts_with("redis://") || bus.starts_with("rediss://") {
            if prefix.is_empty() || prefix.contains(char::is_whitespace) {
                return Err("--redis-prefix must be a non-empty word".into());
            }
            return Ok(Self::Redis {
                url: bus.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        Err(format!(
            "--bus {bus:?}: use `in-process` or a redis:// URL (e.g. redis://127.0.0.1:6379)"
        ))
    }

    pub fn events_stream(prefix: &str) -> String {
        format!("{prefix}:events")
    }

    pub fn tenant_events_stream(prefix: &str) -> String {
        format!("{prefix}:tenant-events")
    }
}

/// The background tasks of the local bus; [`Running::stop`] ends them after a last pass.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            if t.await.is_err() {
                tracing::error!("a local bus task stopped abnormally");
            }
        }
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // A dropped sender stops the task too.
    let _ = rx.wait_for(|s| *s).await;
}

/// Hands each event on the bus to the notification dispatcher.
struct Notify(Arc<NotificationDispatcher>);

impl EntryHandler for Notify {
    fn handle<'a>(
        &'a self,
        event: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            match serde_json::from_str::<DomainEvent>(event) {
                Ok(e) => self.0.dispatch(e),
                // Not ours to retry: a foreign entry on the events stream.
                Err(e) => {
                    tracing::warn!(error = %e, "an entry of the events stream is not a domain event")
                }
            }
            Ok(())
        })
    }
}

/// Applies tenant events; a failure of the system leaves the entry pending.
struct ApplyTenantEvents(Arc<TenantEventConsumer>);

impl EntryHandler for ApplyTenantEvents {
    fn handle<'a>(
        &'a self,
        event: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .consume(event)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Starts the relay, the notifications and (on Redis) the tenant-event consumer.
pub async fn start(
    bus: &LocalBus,
    store: Arc<dyn ItemStore>,
    services: &app::Services,
    notifications: Arc<NotificationDispatcher>,
) -> Result<Running, String> {
    let (stop, stop_rx) = watch::channel(false);
    let idle = Duration::from_millis(200);
    let mut tasks = Vec::new();
    let publisher: Arc<dyn EventPublisher> = match bus {
        LocalBus::InProcess => {
            let bus = Arc::new(crate::InProcessBus::broadcast_only());
            let mut events = bus.subscribe();
            let stop = stopped(stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                tokio::pin!(stop);
                loop {
                    tokio::select! {
                        () = &mut stop => break,
                        got = events.recv() => match got {
                            Ok(e) => notifications.dispatch(e),
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                                tracing::warn!(missed = n, "notifications fell behind the in-process bus");
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        },
                    }
                }
            }));
            bus
        }
        LocalBus::Redis { url, prefix } => {
            let conn = crate::redis::connect(url)
                .await
                .map_err(|e| format!("--bus {url}: {e}"))?;
            let member = format!("oms-{}", std::process::id());
            let events = LocalBus::events_stream(prefix);
            let notifier = StreamConsumer::join(
                conn.clone(),
                ConsumerConfig::new(&events, "oms-notifier", &member),
            )
            .await
            .map_err(|e| e.to_string())?;
            let handler = Notify(notifications);
            let stop = stopped(stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                notifier.run(&handler, idle, stop).await;
            }));

            let intake = LocalBus::tenant_events_stream(prefix);
            let dead = Arc::new(RedisDeadLetters::new(
                conn.clone(),
                dead_letter_stream(&intake),
            ));
            let consumer = Arc::new(TenantEventConsumer::new(
                services.app.clone(),
                services.event_sources.clone(),
                dead,
            ));
            let group = StreamConsumer::join(
                conn.clone(),
                ConsumerConfig::new(&intake, "oms-consumer", &member),
            )
            .await
            .map_err(|e| e.to_string())?;
            let handler = ApplyTenantEvents(consumer);
            let stop = stopped(stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                group.run(&handler, idle, stop).await;
            }));
            Arc::new(RedisPublisher::new(conn, events))
        }
    };
    // The outbox relay: every committed event goes out on the bus, resuming after a restart
    // from what was not yet published.
    let relay = OutboxRelay::new(store, publisher);
    let stop_relay = stopped(stop_rx);
    tasks.push(tokio::spawn(async move {
        relay.run(idle, stop_relay).await;
    }));
    Ok(Running { stop, tasks })
}
