//! Tenant events in: `OrderSubmitted`, `OrderCancelled` and `ShipmentRequested` from a tenant's
//! own systems, in EventBridge's envelope (`id`, `account`, `source`, `detail-type`, `detail`).
//! The Lambda function (EventBridge) and the local Redis Streams consumer both hand each event
//! to [`TenantEventConsumer::consume`].
//!
//! - The tenant is the one that registered the event's account and source, never a field of the
//!   body; the event runs as that tenant's service identity (`events:<source>`), whose plan must
//!   allow `tenantEvents` and each operation it leads to.
//! - Applied once per event id: the id is the key of a keyed run, so the dedupe record is
//!   written in the same transaction as the change (and kept 72 hours).
//! - An event that can never apply (malformed, unregistered source, refused by a rule) goes to
//!   the dead letters once and is acknowledged; a failure of the system is returned, so the
//!   delivery is retried.

use std::sync::Arc;

use app::intake::{OrderIntake, ShipmentIntake};
use app::{
    App, AppError, Keyed, KeyedOutcome, OrderRef, RequestCtx, StoredResponse, Target, UnitOfWork,
};
use auth::Caller;
use auth::service::{EventSourceVerifier, SourceRefusal};
use domain::access::Operation;
use domain::ids::{ExternalRef, IdempotencyKey, OrderId};
use domain::ports::{DeadLetter, DeadLetters};
use domain::tenant::EventSource;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The tenant event types, as `detail-type`.
pub const TENANT_EVENT_TYPES: [&str; 3] = ["OrderSubmitted", "OrderCancelled", "ShipmentRequested"];

/// EventBridge's envelope (the fields we read).
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    pub account: String,
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: serde_json::Value,
}

/// How an event ended, when it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// Applied now.
    Applied,
    /// Applied before (the same event id): nothing written.
    Duplicate,
    /// Never applicable: kept in the dead letters with this reason.
    DeadLettered(&'static str),
}

/// A failure of the system (store, directory, dead-letter queue): deliver the event again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event not consumed, retry: {0}")]
pub struct Retry(pub String);

/// Which order an event is about: our id or the tenant's external reference.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderTarget {
    order_id: Option<String>,
    external_ref: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrderCancelledDetail {
    #[serde(flatten)]
    target: OrderTarget,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ShipmentRequestedDetail {
    #[serde(flatten)]
    target: OrderTarget,
    shipment: ShipmentIntake,
}

/// What a run answers (stored with its change, so a duplicate gets the same).
struct Answer(Result<String, AppError>);

impl StoredResponse for Answer {
    fn stored(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

pub struct TenantEventConsumer {
    app: Arc<App>,
    sources: Arc<EventSourceVerifier>,
    dead_letters: Arc<dyn DeadLetters>,
}

fn parse_detail<T: serde::de::DeserializeOwned>(detail: &serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(detail).map_err(|e| {
        let path = e.path().to_string();
        AppError::Invalid {
            field: if path == "." {
                "detail".into()
            } else {
                format!("detail.{path}")
            },
            message: e.inner().to_string(),
        }
    })
}

impl TenantEventConsumer {
    pub fn new(
        app: Arc<App>,
        sources: Arc<EventSourceVerifier>,
        dead_letters: Arc<dyn DeadLetters>,
    ) -> Self {
        Self {
            app,
            sources,
            dead_letters,
        }
    }

    /// Consumes one event as received (the envelope's JSON text).
    pub async fn consume(&self, raw: &str) -> Result<Consumed, Retry> {
        let envelope: Envelope = match serde_json::from_str(raw) {
            Ok(e) => e,
            Err(e) => {
                return self
                    .dead(raw, None, "malformed", &format!("not an event: {e}"))
                    .await;
            }
        };
        let id = Some(envelope.id.as_str());
        let Ok(key) = IdempotencyKey::parse(&envelope.id) else {
            return self
                .dead(raw, id, "malformed", "the event id is not a usable key")
                .await;
        };
        let source = match EventSource::parse(&envelope.account, &envelope.source) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .dead(raw, id, "unregistered_source", &e.to_string())
                    .await;
            }
        };
        let identity = match self.sources.identity(&source).await {
            Ok(i) => i,
            Err(SourceRefusal::Unavailable(e)) => return Err(Retry(e)),
            Err(e @ SourceRefusal::Unregistered(_)) => {
                return self
                    .dead(raw, id, "unregistered_source", &e.to_string())
                    .await;
            }
            Err(e @ SourceRefusal::Suspended) => {
                return self.dead(raw, id, "tenant_suspended", &e.to_string()).await;
            }
        };
        if !TENANT_EVENT_TYPES.contains(&envelope.detail_type.as_str()) {
            let why = format!(
                "unknown detail-type {:?} (one of {})",
                envelope.detail_type,
                TENANT_EVENT_TYPES.join(", ")
            );
            return self.dead(raw, id, "unknown_type", &why).await;
        }
        let rc = RequestCtx {
            caller: Caller::Tenant(identity),
            request_id: envelope.id.clone(),
        };
        let op = Operation::ConsumeTenantEvents;
        if let Err(e) = self.app.check(&rc, op, Target::Tenant).await {
            return self.refused(raw, id, e).await;
        }
        let hash = Sha256::digest(format!("{}\n{}", envelope.detail_type, envelope.detail));
        let keyed = Keyed {
            key,
            operation: op,
            request_hash: hex::encode(hash),
        };
        let run = |uow: Arc<UnitOfWork>| {
            let (rc, envelope) = (&rc, &envelope);
            async move { Answer(self.apply(rc, &uow, envelope).await) }
        };
        match self.app.keyed(&rc, &keyed, run).await {
            Ok(KeyedOutcome::Ran(Answer(Ok(_)))) => Ok(Consumed::Applied),
            Ok(KeyedOutcome::Ran(Answer(Err(e)))) | Err(e) => self.refused(raw, id, e).await,
            Ok(KeyedOutcome::Replayed(_)) => Ok(Consumed::Duplicate),
        }
    }

    /// Runs the event's use case; the answer names what it did.
    async fn apply(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        envelope: &Envelope,
    ) -> Result<String, AppError> {
        let app = &self.app;
        let op = Operation::ConsumeTenantEvents;
        let order = match envelope.detail_type.as_str() {
            "OrderSubmitted" => {
                let input: OrderIntake = parse_detail(&envelope.detail)?;
                let new = input.parse().map_err(AppError::from)?;
                app.intake_order(rc, uow, op, new).await?.order
            }
            "OrderCancelled" => {
                let d: OrderCancelledDetail = parse_detail(&envelope.detail)?;
                let order = self.target(rc, &d.target).await?;
                app.cancel_order(rc, uow, order, d.reason.as_deref())
                    .await?
            }
            "ShipmentRequested" => {
                let d: ShipmentRequestedDetail = parse_detail(&envelope.detail)?;
                let order = self.target(rc, &d.target).await?;
                let new = d.shipment.parse().map_err(AppError::from)?;
                app.create_shipment(rc, uow, order, new).await?.0
            }
            other => return Err(AppError::internal(&format!("unrouted event type {other}"))),
        };
        Ok(serde_json::json!({
            "event": envelope.id,
            "type": envelope.detail_type,
            "orderId": order.id().to_string(),
            "version": order.version(),
        })
        .to_string())
    }

    /// The order an event names, by our id or the tenant's reference (exactly one).
    async fn target(&self, rc: &RequestCtx, t: &OrderTarget) -> Result<OrderRef, AppError> {
        let invalid = |message: &str| AppError::Invalid {
            field: "detail.orderId".into(),
            message: message.into(),
        };
        let id = match (&t.order_id, &t.external_ref) {
            (Some(id), None) => OrderId::parse(id).map_err(AppError::from)?,
            (None, Some(r)) => {
                let r = ExternalRef::parse(r).map_err(AppError::from)?;
                self.app.order_by_external_ref(rc, &r).await?.id()
            }
            _ => return Err(invalid("exactly one of orderId and externalRef")),
        };
        Ok(OrderRef::new(id, None))
    }

    /// A use case's refusal: a failure of the system is retried; anything else is final.
    async fn refused(&self, raw: &str, id: Option<&str>, e: AppError) -> Result<Consumed, Retry> {
        let reason = match &e {
            AppError::Internal(_) | AppError::Conflict(_) | AppError::IdempotencyRace => {
                tracing::warn!(error = %e, event = ?id, "tenant event not applied; retried");
                return Err(Retry(e.to_string()));
            }
            AppError::Invalid { .. } => "malformed",
            AppError::IdempotencyMismatch => "id_reused",
            _ => "refused",
        };
        self.dead(raw, id, reason, &format!("{}: {e}", e.code()))
            .await
    }

    async fn dead(
        &self,
        raw: &str,
        event_id: Option<&str>,
        reason: &'static str,
        detail: &str,
    ) -> Result<Consumed, Retry> {
        tracing::warn!(reason, detail, event = ?event_id, "tenant event dead-lettered");
        let letter = DeadLetter {
            reason: reason.to_owned(),
            detail: detail.to_owned(),
            event_id: event_id.map(str::to_owned),
            body: raw.to_owned(),
        };
        self.dead_letters
            .dead_letter(&letter)
            .await
            .map_err(|e| Retry(e.to_string()))?;
        Ok(Consumed::DeadLettered(reason))
    }
}
