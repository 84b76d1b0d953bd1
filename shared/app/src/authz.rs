//! Authorization: plan ∩ role decides; objects outside the caller's tenant or vendor are
//! NOT_FOUND (no existence leak); platform admins run platform operations only. Every use case
//! calls [`Authorizer::authorize`]; denials of authenticated callers go to the tenant audit.

use std::sync::Arc;

use crate::ports::TenantAuditLog;
use auth::{Caller, Identity};
use domain::access::{Operation, OperationKind, permitted};
use domain::audit::{Actor, AuditOutcome, AuditRecord, AuditTarget};
use domain::ids::{AuditId, TenantId, VendorId};
use domain::{IdSource, Timestamp};

/// What an operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The caller's own tenant as a whole (listings, settings, creating an order).
    Tenant,
    /// An existing order: its tenant and the vendors of its lines.
    Order {
        tenant: &'a TenantId,
        id: &'a str,
        vendors: &'a [VendorId],
    },
    /// Platform records (tenants, plans, IdPs).
    Platform,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzError {
    /// The plan or the caller's roles do not allow the operation.
    #[error("not allowed to {operation}")]
    Forbidden { operation: &'static str },
    /// Outside the caller's tenant or vendor scope (reported as if it did not exist).
    #[error("not found")]
    NotFound,
}

impl AuthzError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthzError::Forbidden { .. } => "FORBIDDEN",
            AuthzError::NotFound => "NOT_FOUND",
        }
    }
}

/// The decision alone, pure: plan ∩ role, then the target's scope.
pub fn authorize(caller: &Caller, op: Operation, target: Target<'_>) -> Result<(), AuthzError> {
    let forbidden = Err(AuthzError::Forbidden {
        operation: op.as_str(),
    });
    match caller {
        Caller::Platform(_) => {
            if op.kind() == OperationKind::Platform && target == Target::Platform {
                Ok(())
            } else {
                forbidden
            }
        }
        Caller::Tenant(identity) => {
            if op.kind() == OperationKind::Platform
                || !permitted(identity.plan(), identity.roles(), op)
            {
                return forbidden;
            }
            in_scope(identity, op, target)
        }
    }
}

/// Whether `target` is within a tenant caller's scope for `op` (its tenant; its vendor's orders
/// when `op` confines it), plan ∩ role already decided: outside is NOT_FOUND.
pub fn in_scope(identity: &Identity, op: Operation, target: Target<'_>) -> Result<(), AuthzError> {
    match target {
        Target::Platform => Err(AuthzError::Forbidden {
            operation: op.as_str(),
        }),
        Target::Tenant => Ok(()),
        Target::Order {
            tenant, vendors, ..
        } => {
            if tenant != identity.tenant() {
                return Err(AuthzError::NotFound);
            }
            if identity.confined_for(op) && !identity.vendor().is_some_and(|v| vendors.contains(v))
            {
                return Err(AuthzError::NotFound);
            }
            Ok(())
        }
    }
}

/// What an audit record of a user's operation says.
pub struct Audited {
    pub op: Operation,
    pub target: AuditTarget,
    pub outcome: AuditOutcome,
    /// The target's version after the change.
    pub version: Option<u64>,
}

/// The audit record of a verified tenant user's operation (success or denial).
pub fn user_audit(
    id: AuditId,
    identity: &Identity,
    what: Audited,
    at: Timestamp,
    request_id: &str,
) -> AuditRecord {
    AuditRecord {
        id,
        tenant: Some(identity.tenant().clone()),
        actor: Actor {
            kind: identity.actor_kind(),
            subject: identity.subject().clone(),
        },
        action: what.op.as_str().to_owned(),
        target: what.target,
        at,
        request_id: request_id.to_owned(),
        outcome: what.outcome,
        version: what.version,
    }
}

/// Authorizes and records denials of authenticated tenant callers in the tenant audit.
pub struct Authorizer {
    audit: Arc<dyn TenantAuditLog>,
    ids: Arc<std::sync::Mutex<dyn IdSource + Send>>,
}

impl Authorizer {
    pub fn new(
        audit: Arc<dyn TenantAuditLog>,
        ids: Arc<std::sync::Mutex<dyn IdSource + Send>>,
    ) -> Self {
        Self { audit, ids }
    }

    pub async fn authorize(
        &self,
        caller: &Caller,
        op: Operation,
        target: Target<'_>,
        request_id: &str,
        now: Timestamp,
    ) -> Result<(), AuthzError> {
        let decision = authorize(caller, op, target);
        if let (Err(e), Caller::Tenant(identity)) = (&decision, caller) {
            self.record_denial(identity, op, target, e, request_id, now)
                .await;
        }
        decision
    }

    /// As [`Authorizer::authorize`] for a tenant caller whose plan and roles were already
    /// found to allow `op` in this request: the target's scope alone, a denial audited.
    pub async fn authorize_scope(
        &self,
        identity: &Identity,
        op: Operation,
        target: Target<'_>,
        request_id: &str,
        now: Timestamp,
    ) -> Result<(), AuthzError> {
        let decision = in_scope(identity, op, target);
        if let Err(e) = &decision {
            self.record_denial(identity, op, target, e, request_id, now)
                .await;
        }
        decision
    }

    async fn record_denial(
        &self,
        identity: &Identity,
        op: Operation,
        target: Target<'_>,
        e: &AuthzError,
        request_id: &str,
        now: Timestamp,
    ) {
        let id = match self.ids.lock() {
            Ok(mut ids) => AuditId::from_ulid(ids.next_ulid()),
            Err(_) => return,
        };
        let (kind, target_id) = match target {
            Target::Order { id, .. } => ("order", id.to_owned()),
            Target::Tenant => ("tenant", identity.tenant().to_string()),
            Target::Platform => ("platform", String::new()),
        };
        let what = Audited {
            op,
            target: AuditTarget {
                kind: kind.to_owned(),
                id: target_id,
            },
            outcome: AuditOutcome::Denied {
                reason: e.code().to_owned(),
            },
            version: None,
        };
        let record = user_audit(id, identity, what, now, request_id);
        // The denial stands whether or not it could be recorded; a failure to record is logged.
        if let Err(err) = self.audit.append(identity.scope(), &record).await {
            tracing::error!(error = %err, operation = op.as_str(), "could not record a denial in the tenant audit");
        }
    }
}
