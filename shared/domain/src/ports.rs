//! Ports the outer layers meet at, stated in domain terms. No I/O here: a port is a trait whose
//! futures are boxed by hand (the domain takes no async crate); storage implements it, the
//! verifier reads through it.

use std::future::Future;
use std::pin::Pin;

use crate::access::Plan;
use crate::ids::{Issuer, PlanName, TenantId};
use crate::tenant::{IssuerRow, TenantProfile};

/// A failure of a port's implementation, kept whole for the logs.
pub type PortError = Box<dyn std::error::Error + Send + Sync>;

/// The future a port method returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'a>>;

/// The SaaS directory the verifier reads: issuers, tenant profiles, plans (the registry).
pub trait DirectorySource: Send + Sync {
    /// The tenants an issuer serves (one row for a dedicated issuer, one per tenant if shared).
    fn issuer_rows<'a>(&'a self, issuer: &'a Issuer) -> PortFuture<'a, Vec<IssuerRow>>;
    fn profile<'a>(&'a self, tenant: &'a TenantId) -> PortFuture<'a, Option<TenantProfile>>;
    fn plan<'a>(&'a self, plan: &'a PlanName) -> PortFuture<'a, Option<Plan>>;
}
