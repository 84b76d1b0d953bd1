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
use domain::audit::{Actor, ActorKind, AuditOutcome, AuditRecord, AuditTarget};
use domain::events::DomainEvent;
use domain::ids::{AuditId, Subject, TenantId};
use domain::ports::{NotificationSender, OutboundPost, SecretStore, SendError};
use domain::webhook::WebhookHook;
use secrecy::SecretString;
use tokio::sync::mpsc;

use crate::context::RequestCtx;
use crate::engine::App;
use crate::error::{AppError, AppResult};

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

pub struct Notifier {
    app: Arc<App>,
    directory: Arc<dyn Directory>,
    secrets: Arc<dyn SecretStore>,
    sender: Arc<dyn NotificationSender>,
    policy: RetryPolicy,
}

impl Notifier {
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
        }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sends `event` to its tenant if the tenant subscribes to it.
    pub async fn notify(&self, event: &DomainEvent) -> AppResult<Notified> {
        let identity = match service_identity(
            self.directory.as_ref(),
            &event.tenant,
            NOTIFIER,
            Channel::OwnOutbox,
        )
        .await
        {
            Ok(i) => i,
            Err(ServiceRefusal::UnknownTenant) => return Ok(Notified::Skipped("unknown tenant")),
            Err(ServiceRefusal::Suspended) => return Ok(Notified::Skipped("tenant suspended")),
            Err(ServiceRefusal::Unavailable(e)) => return Err(AppError::internal(&e)),
        };
        let rc = RequestCtx {
            caller: Caller::Tenant(identity),
            request_id: event.event_id.to_string(),
        };
        let config = match self.app.tenant_config(&rc, None).await {
            Ok(c) => c,
            Err(AppError::Forbidden { .. }) => return Ok(Notified::Skipped("plan")),
            Err(e) => return Err(e),
        };
        let Some(url) = config
            .notification_url()
            .filter(|_| config.notifies(event.event_type()))
        else {
            return Ok(Notified::Skipped("not subscribed"));
        };
        let secret = match self.secret(&event.tenant).await {
            Ok(s) => s,
            Err(reason) => return self.give_up(&rc, event, 0, reason).await,
        };
        let body = serde_json::to_vec(event).map_err(|e| AppError::internal(&e.to_string()))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let t = self.app.now().unix_seconds();
            let post = OutboundPost {
                url: url.as_str(),
                headers: vec![
                    (OMS_SIGNATURE_HEADER, oms_signature(&secret, t, &body)),
                    (EVENT_ID_HEADER, event.event_id.to_string()),
                    (EVENT_TYPE_HEADER, event.event_type().to_owned()),
                ],
                body: &body,
            };
            let why = match self.sender.post(post).await {
                Ok(_) => return Ok(Notified::Delivered { attempts: attempt }),
                Err(SendError::Refused(why)) => {
                    return self.give_up(&rc, event, attempt, why).await;
                }
                Err(SendError::Failed(why)) => why,
            };
            if attempt >= self.policy.attempts {
                return self.give_up(&rc, event, attempt, why).await;
            }
            tracing::info!(tenant = %event.tenant, event = %event.event_id, attempt, error = %why, "notification failed; retrying");
            tokio::time::sleep(self.policy.delay(attempt)).await;
        }
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
        let identity = rc.identity(domain::access::Operation::ReadTenantConfig)?;
        let record = AuditRecord {
            id: AuditId::from_ulid(self.app.next_id()?),
            tenant: Some(event.tenant.clone()),
            actor: Actor {
                kind: ActorKind::Service,
                subject: Subject::parse(NOTIFIER).map_err(AppError::from)?,
            },
            action: "notify".into(),
            target: AuditTarget {
                kind: "event".into(),
                id: event.event_id.to_string(),
            },
            at: self.app.now(),
            request_id: rc.request_id.clone(),
            outcome: AuditOutcome::Failed {
                reason: format!(
                    "{} of order {} not delivered after {attempts} attempt(s): {reason}",
                    event.event_type(),
                    event.order_id
                ),
            },
            version: Some(event.aggregate_version),
        };
        self.app
            .tenant_audit
            .append(identity.scope(), &record)
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
