//! Who is calling: built only by the verifiers of this crate.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::access::{Operation, Plan, Role, confined_to_vendor, role_permits};
use domain::audit::ActorKind;
use domain::ids::{Issuer, Sku, Subject, TenantId, VendorId};
use domain::order::{Order, OrderLine};
use domain::scope::{TenantScope, VerifiedBy};

#[derive(Debug, PartialEq, Eq)]
struct Inner {
    scope: TenantScope,
    subject: Subject,
    roles: BTreeSet<Role>,
    vendor: Option<VendorId>,
    email: Option<String>,
    plan: Arc<Plan>,
    /// The IdP that signed the user's token; none for a signed webhook's service identity.
    issuer: Option<Issuer>,
}

/// A verified user of a tenant. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(Arc<Inner>);

impl Identity {
    pub(crate) fn new(
        scope: TenantScope,
        subject: Subject,
        roles: BTreeSet<Role>,
        vendor: Option<VendorId>,
        email: Option<String>,
        plan: Arc<Plan>,
        issuer: Option<Issuer>,
    ) -> Self {
        Identity(Arc::new(Inner {
            scope,
            subject,
            roles,
            vendor,
            email,
            plan,
            issuer,
        }))
    }

    /// For tests of other crates (feature `test-support`).
    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(
        tenant: &str,
        subject: &str,
        roles: &[Role],
        vendor: Option<&str>,
        plan: Plan,
    ) -> Self {
        let parse = |s: &str| Subject::parse(s).unwrap_or_else(|e| panic!("{e}"));
        Identity::new(
            TenantScope::for_tests(tenant),
            parse(subject),
            roles.iter().copied().collect(),
            vendor.map(|v| VendorId::parse(v).unwrap_or_else(|e| panic!("{e}"))),
            None,
            Arc::new(plan),
            Some(Issuer::parse("https://test.example").unwrap_or_else(|e| panic!("{e}"))),
        )
    }

    /// The scope every repository of tenant data requires.
    pub fn scope(&self) -> &TenantScope {
        &self.0.scope
    }

    pub fn tenant(&self) -> &TenantId {
        self.0.scope.tenant()
    }

    pub fn subject(&self) -> &Subject {
        &self.0.subject
    }

    pub fn roles(&self) -> &BTreeSet<Role> {
        &self.0.roles
    }

    pub fn vendor(&self) -> Option<&VendorId> {
        self.0.vendor.as_ref()
    }

    pub fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    pub fn plan(&self) -> &Plan {
        &self.0.plan
    }

    pub fn issuer(&self) -> Option<&Issuer> {
        self.0.issuer.as_ref()
    }

    /// What kind of actor the audit records name: follows from the verifier that vouched for the
    /// scope (a JWT user, a signed webhook or event source, the admin CLI).
    pub fn actor_kind(&self) -> ActorKind {
        match self.0.scope.verified_by() {
            VerifiedBy::Jwt => ActorKind::User,
            VerifiedBy::WebhookSignature | VerifiedBy::EventSource | VerifiedBy::ApiKey => {
                ActorKind::Integration
            }
            VerifiedBy::AdminCli => ActorKind::PlatformAdmin,
            VerifiedBy::OwnOutbox => ActorKind::Service,
        }
    }

    /// Whether this caller runs `op` confined to its vendor's lines (see
    /// [`confined_to_vendor`]: the roles that grant `op` decide, not the broadest role held).
    pub fn confined_for(&self, op: Operation) -> bool {
        confined_to_vendor(&self.0.roles, op)
    }

    /// Whether this caller may see (`ReadOrder`) or act on (`op`) `line`: any line, unless
    /// confined for `op`; then only the vendor's own. The one statement of the vendor-line rule
    /// (views, commands, listings).
    pub fn owns_line(&self, op: Operation, line: &OrderLine) -> bool {
        !self.confined_for(op) || Some(&line.vendor) == self.vendor()
    }

    /// Whether every one of `skus` names a line of `order` this caller owns for `op`.
    pub fn owns_skus<'a>(
        &self,
        op: Operation,
        order: &Order,
        skus: impl IntoIterator<Item = &'a Sku>,
    ) -> bool {
        skus.into_iter()
            .all(|sku| order.line(sku).is_some_and(|l| self.owns_line(op, l)))
    }

    /// A vendor confined in everything its roles let it do (no broader role grants any of it).
    pub fn vendor_confined(&self) -> bool {
        self.0.roles.contains(&Role::Vendor)
            && Operation::ALL
                .iter()
                .filter(|op| role_permits(Role::Vendor, **op))
                .all(|op| self.confined_for(*op))
    }
}

/// The SaaS provider's platform admin (its own issuer): tenants, plans, IdPs; never tenant data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformAdmin {
    subject: Subject,
}

impl PlatformAdmin {
    pub(crate) fn new(subject: Subject) -> Self {
        Self { subject }
    }

    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(subject: &str) -> Self {
        Self::new(Subject::parse(subject).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn subject(&self) -> &Subject {
        &self.subject
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Tenant(Identity),
    Platform(PlatformAdmin),
}
