//! Audit records: who did what to which object, when, in which request, and how it ended.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{AuditId, Subject, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActorKind {
    /// A user signed in through the tenant's IdP.
    User,
    /// A machine client (client-credentials token).
    Service,
    /// A signed webhook or registered event source.
    Integration,
    /// The SaaS provider's platform admin.
    PlatformAdmin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub kind: ActorKind,
    pub subject: Subject,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditTarget {
    /// `order`, `tenantConfig`, `carrierCredential`, …
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditOutcome {
    Success,
    /// An authenticated caller was refused (tenant audit only).
    Denied {
        reason: String,
    },
    /// The system could not do it (a notification given up after its retries).
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: AuditId,
    pub tenant: Option<TenantId>,
    pub actor: Actor,
    /// The operation, as the API names it (`approveOrder`).
    pub action: String,
    pub target: AuditTarget,
    pub at: Timestamp,
    pub request_id: String,
    pub outcome: AuditOutcome,
    /// The target's version after the change, for order records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

impl AuditRecord {
    /// A successful action of the SaaS provider's platform admin (the SaaS audit).
    pub fn platform_action(
        id: AuditId,
        admin: Subject,
        action: &str,
        target: AuditTarget,
        tenant: Option<TenantId>,
        at: Timestamp,
        request_id: String,
    ) -> Self {
        AuditRecord {
            id,
            tenant,
            actor: Actor {
                kind: ActorKind::PlatformAdmin,
                subject: admin,
            },
            action: action.to_owned(),
            target,
            at,
            request_id,
            outcome: AuditOutcome::Success,
            version: None,
        }
    }
}
