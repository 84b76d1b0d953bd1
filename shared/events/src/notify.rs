//! Signed notifications to the tenant: each domain event the tenant subscribes to (its config's
//! `notificationUrl` and `notificationEvents`) is POSTed with our `X-OMS-Signature: t=…,v1=…`
//! over the exact body, signed with the tenant's `notifications` secret — the same code that
//! verifies our scheme on incoming webhooks. A failed delivery is retried with exponential
//! backoff and jitter, up to a bound; then it is given up and recorded in the tenant audit
//! (outcome FAILED). Receivers dedupe by `X-OMS-Event-Id`.
//!
//! [`NotificationDispatcher`] gives every tenant its own queue and worker, so one tenant's dead
//! endpoint never delays another tenant's notifications (and each tenant's arrive in order).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::Caller;
use auth::directory::Directory;
use auth::service::{Channel, ServiceRefusal, service_identity};
use auth::webhook::{OMS_SIGNATURE_HEADER, WebhookVerifier, oms_signature};
use domain::events::DomainEvent;
use domain::ids::{Subject, TenantId};
use domain::ports::{NotificationSender, OutboundPost, SecretStore, SendError};
use domain::webhook::WebhookHook;
use secrecy::SecretString;
use tokio::sync::mpsc;

use app::{App, AppError, AppResult, RequestCtx};

/// The subject notifications are sent and audited as.
pub const NOTIFIER: &str = "system:notifier";
/// The event id, for receivers to dedupe.
pub const EVENT_ID_HEADER: &str = "x-oms-event-id";
pub const EVENT_TYPE_HEADER: &str = "x-oms-event-type";

/// How often and how patiently a delivery is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first included).
    pub attempts: u32,
    /// The wait after the first failed attempt; it doubles after each.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts over about 2 minutes (waits of about 1, 2, 4, 8, 16, 30, 30 s).
    fn default() -> Self {
        Self {
            attempts: 8,
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `n` (1-based): half the exponential step fixed, half
    /// random, so receivers coming back up are not hit by every sender at once.
    pub fn delay(&self, n: u32) -> Duration {
        let step = self
            .base
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)))
            .min(self.max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// How one notification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notified {
    Delivered {
        attempts: u32,
    },
    /// Nothing to send: the tenant does not subscribe to it, or is gone or suspended.
    Skipped(&'static str),
    /// Given up (and recorded in the tenant audit).
    GaveUp {
        attempts: u32,
        reason: String,
    },
}

/// A notification ready to send.
pub struct Ready {
    rc: RequestCtx,
    /// The tenant's notification URL (the circuit breaker's key).
    pub url: String,
    secret: SecretString,
    body: Vec<u8>,
}

/// What [`Notifier::prepare`] found.
pub enum Prepare {
    Ready(Ready),
    /// Nothing to send: skipped, or given up before a call (and audited).
    Done(Notified),
}

pub struct Notifier {
    app: Arc<App>,
    directory: Arc<dyn Directory>,
    secrets: Arc<dyn SecretStore>,
    sender: Arc<dyn NotificationSender>,
    policy: RetryPolicy,
    /// Each tenant's config and secret, read at most once per [`TARGET_TTL`]: a burst of one
    /// tenant's events costs one config read and one secret read, not one per event.
    targets: Mutex<HashMap<TenantId, (std::time::Instant, Target)>>,
}

/// How long a tenant's notification config and secret are reused (as long as the directory's
/// own cache): a changed URL or a rotated secret applies within it (the previous secret stays
/// valid beside the new one until the next rotation).
pub const TARGET_TTL: Duration = Duration::from_secs(30);

/// Tenants' targets remembered at most; past it, the cache starts over.
const TARGET_ENTRIES: usize = 10_000;

/// Where and how a tenant is notified, as last read.
#[derive(Clone)]
struct Target {
    config: domain::config::TenantConfig,
    /// The tenant's secret, or why there is none.
    secret: Result<SecretString, String>,
}

impl Notifier {
    /// The notifier of these services: tenants' secrets from `secrets`, sent with `sender`.
    pub fn of(
        services: &app::Services,
        secrets: Arc<dyn SecretStore>,
        sender: Arc<dyn NotificationSender>,
    ) -> Self {
        Self::new(
            services.app.clone(),
            services.directory.clone(),
            secrets,
            sender,
        )
    }

    pub fn new(
        app: Arc<App>,
        directory: Arc<dyn Directory>,
        secrets: Arc<dyn SecretStore>,
        sender: Arc<dyn NotificationSender>,
    ) -> Self {
        Self {
            app,
            directory,
            secrets,
            sender,
            policy: RetryPolicy::default(),
            targets: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sends `event` to its tenant if the tenant subscribes to it, retrying in process with
    /// the policy's backoff (`oms serve`; on AWS the queue retries: [`QueuedNotifier`]).
    pub async fn notify(&self, event: &DomainEvent) -> AppResult<Notified> {
        let ready = match self.prepare(event).await? {
            Prepare::Ready(p) => p,
            Prepare::Done(n) => return Ok(n),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let why = match self.send_once(&ready, event).await {
                Ok(()) => return Ok(Notified::Delivered { attempts: attempt }),
                Err(SendError::Refused(why)) => {
                    return self.give_up(&ready.rc, event, attempt, why).await;
                }
                Err(SendError::Failed(why)) => why,
            };
            if attempt >= self.policy.attempts {
                return self.give_up(&ready.rc, event, attempt, why).await;
            }
            tracing::info!(tenant = %event.tenant, event = %event.event_id, attempt, error = %why, "notification failed; retrying");
            tokio::time::sleep(self.policy.delay(attempt)).await;
        }
    }

    /// What sending `event` takes (the tenant's identity, URL, secret, the body), or how it
    /// ended without a call: skipped, or given up (no secret) and audited.
    pub async fn prepare(&self, event: &DomainEvent) -> AppResult<Prepare> {
        let identity = match service_identity(
            self.directory.as_ref(),
            &event.tenant,
            NOTIFIER,
            Channel::OwnOutbox,
        )
        .await
        {
            Ok(i) => i,
            Err(ServiceRefusal::UnknownTenant) => {
                return Ok(Prepare::Done(Notified::Skipped("unknown tenant")));
            }
            Err(ServiceRefusal::Suspended) => {
                return Ok(Prepare::Done(Notified::Skipped("tenant suspended")));
            }
            Err(ServiceRefusal::Unavailable(e)) => return Err(AppError::internal(&e)),
        };
        let rc = RequestCtx {
            caller: Caller::Tenant(identity),
            request_id: event.event_id.to_string(),
        };
        let target = match self.target(&rc, &event.tenant).await {
            Ok(t) => t,
            Err(AppError::Forbidden { .. }) => return Ok(Prepare::Done(Notified::Skipped("plan"))),
            Err(e) => return Err(e),
        };
        let config = &target.config;
        let Some(url) = config
            .notification_url()
            .filter(|_| config.notifies(event.event_type()))
        else {
            return Ok(Prepare::Done(Notified::Skipped("not subscribed")));
        };
        let secret = match target.secret.clone() {
            Ok(s) => s,
            Err(reason) => return Ok(Prepare::Done(self.give_up(&rc, event, 0, reason).await?)),
        };
        let body = serde_json::to_vec(event).map_err(|e| AppError::internal(&e.to_string()))?;
        Ok(Prepare::Ready(Ready {
            rc,
            url: url.as_str().to_owned(),
            secret,
            body,
        }))
    }

    /// One signed POST of a prepared notification.
    pub async fn send_once(&self, ready: &Ready, event: &DomainEvent) -> Result<(), SendError> {
        let t = self.app.now().unix_seconds();
        let post = OutboundPost {
            url: ready.url.as_str(),
            headers: vec![
                (
                    OMS_SIGNATURE_HEADER,
                    oms_signature(&ready.secret, t, &ready.body),
                ),
                (EVENT_ID_HEADER, event.event_id.to_string()),
                (EVENT_TYPE_HEADER, event.event_type().to_owned()),
            ],
            body: &ready.body,
        };
        let sent = self.sender.post(post).await.map(|_| ());
        telemetry::notification(match &sent {
            Ok(()) => "delivered",
            Err(SendError::Refused(_)) => "refused",
            Err(SendError::Failed(_)) => "failed",
        });
        sent
    }

    /// The tenant's config and secret, from the cache while fresh.
    async fn target(&self, rc: &RequestCtx, tenant: &TenantId) -> AppResult<Target> {
        let now = std::time::Instant::now();
        if let Some(t) = self.targets.lock().ok().and_then(|t| {
            t.get(tenant)
                .filter(|(at, _)| now.duration_since(*at) < TARGET_TTL)
                .map(|(_, t)| t.clone())
        }) {
            return Ok(t);
        }
        let config = self.app.tenant_config(rc, None).await?;
        let secret = match config.notification_url() {
            Some(_) => self.secret(tenant).await,
            None => Err("no notification URL".to_owned()),
        };
        // A secret that could not be read is read again next time (it may be a passing fault).
        let keep = secret.is_ok() || config.notification_url().is_none();
        let target = Target { config, secret };
        if keep && let Ok(mut t) = self.targets.lock() {
            if t.len() >= TARGET_ENTRIES {
                t.clear();
            }
            t.insert(tenant.clone(), (now, target.clone()));
        }
        Ok(target)
    }

    /// The tenant's current notification secret.
    async fn secret(&self, tenant: &TenantId) -> Result<SecretString, String> {
        let missing = || {
            "no notification secret: set one with `oms webhook set --hook notifications`".to_owned()
        };
        let profile = self
            .directory
            .tenant(tenant)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(missing)?;
        let hook = WebhookHook::Notifications;
        let reference = profile
            .webhooks
            .get(&hook)
            .and_then(|s| s.secrets.first())
            .ok_or_else(missing)?;
        self.secrets
            .get(tenant, &WebhookVerifier::purpose(hook), reference)
            .await
            .map_err(|e| e.to_string())
    }

    /// Records a notification given up in the tenant audit.
    async fn give_up(
        &self,
        rc: &RequestCtx,
        event: &DomainEvent,
        attempts: u32,
        reason: String,
    ) -> AppResult<Notified> {
        tracing::warn!(tenant = %event.tenant, event = %event.event_id, attempts, error = %reason, "notification given up");
        let actor = Subject::parse(NOTIFIER).map_err(AppError::from)?;
        self.app
            .audit_notification_given_up(rc, actor, event, attempts, &reason)
            .await?;
        Ok(Notified::GaveUp { attempts, reason })
    }
}

/// One queue and one worker per tenant: a tenant's notifications go out in order, and a slow
/// or dead endpoint holds up only its own tenant's.
pub struct NotificationDispatcher {
    notifier: Arc<Notifier>,
    queues: Mutex<HashMap<TenantId, mpsc::UnboundedSender<DomainEvent>>>,
}

impl NotificationDispatcher {
    pub fn new(notifier: Arc<Notifier>) -> Self {
        Self {
            notifier,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Queues `event` on its tenant's worker (started on first use).
    pub fn dispatch(&self, event: DomainEvent) {
        let Ok(mut queues) = self.queues.lock() else {
            tracing::error!("notification queues poisoned; event not notified");
            return;
        };
        let tenant = event.tenant.clone();
        let queue = queues.entry(tenant.clone()).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<DomainEvent>();
            let notifier = self.notifier.clone();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    if let Err(e) = notifier.notify(&event).await {
                        tracing::error!(tenant = %event.tenant, event = %event.event_id, error = %e, "notification failed");
                    }
                }
            });
            tx
        });
        if queue.send(event).is_err() {
            tracing::error!(%tenant, "a tenant's notification worker stopped");
            queues.remove(&tenant);
        }
    }
}

/// A circuit breaker per notification URL: after `threshold` failures in a row an endpoint is
/// not called for `open_for`; then one call is let through, and a success closes it. One
/// tenant's dead endpoint then costs the notifier almost nothing, so it cannot use up the
/// concurrency every other tenant's notifications share.
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    endpoints: Mutex<HashMap<String, Circuit>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Circuit {
    failures: u32,
    open_until: Option<std::time::Instant>,
}

/// Endpoints remembered at most; past it, closed circuits are forgotten first.
const BREAKER_ENDPOINTS: usize = 10_000;

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            endpoints: Mutex::new(HashMap::new()),
        }
    }

    /// How long `url` stays closed to calls, if it is open now.
    pub fn open(&self, url: &str) -> Option<Duration> {
        let now = std::time::Instant::now();
        let endpoints = self.endpoints.lock().ok()?;
        let until = endpoints.get(url)?.open_until?;
        (until > now).then(|| until - now)
    }

    pub fn succeeded(&self, url: &str) {
        if let Ok(mut e) = self.endpoints.lock() {
            e.remove(url);
        }
    }

    /// Counts a failure; the circuit opens (again) at the threshold.
    pub fn failed(&self, url: &str) {
        let Ok(mut endpoints) = self.endpoints.lock() else {
            return;
        };
        if endpoints.len() >= BREAKER_ENDPOINTS && !endpoints.contains_key(url) {
            let now = std::time::Instant::now();
            endpoints.retain(|_, c| c.open_until.is_some_and(|u| u > now));
        }
        let circuit = endpoints.entry(url.to_owned()).or_default();
        circuit.failures = circuit.failures.saturating_add(1);
        if circuit.failures >= self.threshold {
            circuit.open_until = Some(std::time::Instant::now() + self.open_for);
        }
    }
}

impl Default for Breaker {
    /// Open after 5 failures in a row, for 60 s.
    fn default() -> Self {
        Self::new(5, Duration::from_secs(60))
    }
}

/// What to do with a queued notification after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Delivered, skipped, or refused for good (and audited): the message is done.
    Done(Notified),
    /// Not delivered: the message comes back after `after` (its backoff). On the last attempt
    /// the reason is already in the tenant audit and `after` is zero, so that the queue's
    /// redrive policy moves it to the dead-letter queue at once.
    Retry {
        after: Duration,
        reason: String,
        last: bool,
    },
}

/// The notifier on AWS: one attempt per queued message (the queue holds the retries, so no
/// invocation waits on a receiver), a short timeout in the sender, the backoff as the message's
/// visibility, and a circuit breaker per endpoint.
pub struct QueuedNotifier {
    notifier: Arc<Notifier>,
    breaker: Breaker,
    /// `attempts` is the queue's `maxReceiveCount`; `base` and `max` the backoff.
    policy: RetryPolicy,
}

/// SQS keeps a message out of sight for 12 hours at most.
pub const MAX_BACKOFF: Duration = Duration::from_secs(12 * 3600);

impl QueuedNotifier {
    pub fn new(notifier: Arc<Notifier>, breaker: Breaker, policy: RetryPolicy) -> Self {
        Self {
            notifier,
            breaker,
            policy: RetryPolicy {
                max: policy.max.min(MAX_BACKOFF),
                ..policy
            },
        }
    }

    /// One attempt at `event`, its `receive` (1-based: SQS's `ApproximateReceiveCount`).
    pub async fn attempt(&self, event: &DomainEvent, receive: u32) -> AppResult<Settled> {
        let ready = match self.notifier.prepare(event).await? {
            Prepare::Ready(r) => r,
            Prepare::Done(n) => return Ok(Settled::Done(n)),
        };
        // While an endpoint's circuit is open its messages still come back at their own
        // backoff (and end in the dead-letter queue after the last): they cost no call.
        let reason = match self.breaker.open(&ready.url) {
            Some(open) => format!(
                "the endpoint failed too often in a row: not called while its circuit is open \
                 (another {} s)",
                open.as_secs()
            ),
            None => match self.notifier.send_once(&ready, event).await {
                Ok(()) => {
                    self.breaker.succeeded(&ready.url);
                    return Ok(Settled::Done(Notified::Delivered { attempts: receive }));
                }
                Err(SendError::Refused(why)) => {
                    let n = self
                        .notifier
                        .give_up(&ready.rc, event, receive, why)
                        .await?;
                    return Ok(Settled::Done(n));
                }
                Err(SendError::Failed(why)) => {
                    self.breaker.failed(&ready.url);
                    why
                }
            },
        };
        if receive >= self.policy.attempts {
            self.notifier
                .give_up(&ready.rc, event, receive, reason.clone())
                .await?;
            return Ok(Settled::Retry {
                after: Duration::ZERO,
                reason,
                last: true,
            });
        }
        let after = self.policy.delay(receive).min(MAX_BACKOFF);
        tracing::info!(tenant = %event.tenant, event = %event.event_id, receive, error = %reason, after_secs = after.as_secs(), "notification failed; the queue tries again");
        Ok(Settled::Retry {
            after,
            reason,
            last: false,
        })
    }
}
