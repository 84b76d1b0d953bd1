//! The tenant scope every repository of tenant data requires: proof, from a verifier, that a
//! request acts for one tenant.

use crate::ids::TenantId;

/// Who vouched for the tenant of a scope. Every production source is a verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifiedBy {
    /// A JWT verified against the tenant's registered identity provider.
    Jwt,
    /// A webhook whose signature was verified with the tenant's secret.
    WebhookSignature,
    /// An event from a registered event source.
    EventSource,
    /// A tenant's API key, its hash matched.
    ApiKey,
    /// An event of our own outbox, recorded under a verified scope (notifications).
    OwnOutbox,
    /// The platform admin CLI, acting on an explicitly named tenant.
    AdminCli,
}

/// Proof that a request acts for `tenant`. Built only by verifiers (`from_verified`, whose callers
/// an architecture test lists) and by tests; never from a request argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    tenant: TenantId,
    verified_by: VerifiedBy,
}

impl TenantScope {
    /// For verifiers only. Every caller is listed in the architecture test (`shared/store/tests/store/architecture.rs`); adding one
    /// means adding it there, in review.
    pub fn from_verified(tenant: TenantId, verified_by: VerifiedBy) -> Self {
        Self {
            tenant,
            verified_by,
        }
    }

    /// For tests of this and other crates (feature `test-support`).
    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(tenant: &str) -> Self {
        match TenantId::parse(tenant) {
            Ok(tenant) => Self {
                tenant,
                verified_by: VerifiedBy::Jwt,
            },
            Err(e) => panic!("test tenant {tenant:?}: {e}"),
        }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn verified_by(&self) -> VerifiedBy {
        self.verified_by
    }
}
