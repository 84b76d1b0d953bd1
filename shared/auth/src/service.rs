//! Service identities: what a verified non-human caller acts as in its tenant — a signed webhook
//! delivery, or an event from a registered event source. A subject naming the channel, the
//! staff role and the tenant's plan (which must allow each operation it runs). Besides the JWT
//! verifier, this is the only place that vouches for a tenant scope.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::access::Role;
use domain::ids::{Subject, TenantId};
use domain::scope::{TenantScope, VerifiedBy};
use domain::tenant::{EventSource, TenantStatus};

use crate::directory::Directory;
use crate::identity::Identity;

/// How a service caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A webhook whose signature verified with the tenant's secret.
    Webhook,
    /// An event whose account and source the tenant registered.
    EventSource,
    /// An event of our own outbox: its tenant is the one whose command recorded it.
    OwnOutbox,
    /// The SaaS provider's operator at the admin CLI, on a tenant it names (it holds the store
    /// itself): acts as the tenant's admin, within the tenant's plan.
    AdminCli,
}

impl Channel {
    fn role(self) -> Role {
        match self {
            Channel::AdminCli => Role::TenantAdmin,
            Channel::Webhook | Channel::EventSource | Channel::OwnOutbox => Role::Staff,
        }
    }
}

/// Why no service identity could be built.
#[derive(Debug, thiserror::Error)]
pub enum ServiceRefusal {
    #[error("no such tenant")]
    UnknownTenant,
    /// Named only to a caller that already proved itself.
    #[error("the tenant is suspended")]
    Suspended,
    #[error("the directory cannot answer now: {0}")]
    Unavailable(String),
}

/// The identity `subject` acts as in `tenant`, proved through `channel`.
pub async fn service_identity(
    directory: &dyn Directory,
    tenant: &TenantId,
    subject: &str,
    channel: Channel,
) -> Result<Identity, ServiceRefusal> {
    let unavailable = |e: &dyn std::fmt::Display| ServiceRefusal::Unavailable(e.to_string());
    let profile = directory
        .tenant(tenant)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or(ServiceRefusal::UnknownTenant)?;
    if profile.status == TenantStatus::Suspended {
        return Err(ServiceRefusal::Suspended);
    }
    let plan = directory
        .plan(&profile.plan)
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| ServiceRefusal::Unavailable("the tenant's plan is missing".into()))?;
    let subject = Subject::parse(subject).map_err(|e| unavailable(&e))?;
    let verified_by = match channel {
        Channel::Webhook => VerifiedBy::WebhookSignature,
        Channel::EventSource => VerifiedBy::EventSource,
        Channel::OwnOutbox => VerifiedBy::OwnOutbox,
        Channel::AdminCli => VerifiedBy::AdminCli,
    };
    Ok(Identity::new(
        TenantScope::from_verified(tenant.clone(), verified_by),
        subject,
        BTreeSet::from([channel.role()]),
        None,
        None,
        plan,
        None,
    ))
}

/// Why an event was refused before anything else happened.
#[derive(Debug, thiserror::Error)]
pub enum SourceRefusal {
    /// No tenant registered this account and source (or the registration was withdrawn).
    #[error("event source {0} is not registered")]
    Unregistered(String),
    #[error("the tenant is suspended")]
    Suspended,
    #[error("event source check unavailable: {0}")]
    Unavailable(String),
}

/// Names the tenant of an event by its registered source, never by its body, and builds the
/// service identity it is applied as (subject `events:<source>`).
pub struct EventSourceVerifier {
    directory: Arc<dyn Directory>,
}

impl EventSourceVerifier {
    pub fn new(directory: Arc<dyn Directory>) -> Self {
        Self { directory }
    }

    pub async fn identity(&self, source: &EventSource) -> Result<Identity, SourceRefusal> {
        let unregistered = || SourceRefusal::Unregistered(source.to_string());
        let tenant = self
            .directory
            .event_source_tenant(source)
            .await
            .map_err(|e| SourceRefusal::Unavailable(e.to_string()))?
            .ok_or_else(unregistered)?;
        let subject = format!("events:{}", source.source);
        match service_identity(
            self.directory.as_ref(),
            &tenant,
            &subject,
            Channel::EventSource,
        )
        .await
        {
            Ok(identity) => Ok(identity),
            Err(ServiceRefusal::UnknownTenant) => Err(unregistered()),
            Err(ServiceRefusal::Suspended) => Err(SourceRefusal::Suspended),
            Err(ServiceRefusal::Unavailable(e)) => Err(SourceRefusal::Unavailable(e)),
        }
    }
}
