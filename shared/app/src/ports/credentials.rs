//! Carrier credentials: each (tenant, gateway, account) is a chain of immutable versions with
//! non-overlapping windows, changed only by a transaction conditioned on the chain's revision as
//! read; and the platform's gateway catalogue. The chain's rules are here, once: the store checks
//! them again inside the transaction it conditions on what was read.

use async_trait::async_trait;
use domain::Timestamp;
use domain::audit::AuditRecord;
use domain::gateway::{
    CredentialVersion, GatewayConfig, check_no_overlap, check_window, open_version,
};
use domain::ids::{AccountId, CarrierCode, CredentialId, TenantId};
use domain::scope::TenantScope;

use super::error::{RepoError, RepoResult};

/// One account's versions, oldest first, and the revision they were read at (0: no chain yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub versions: Vec<CredentialVersion>,
    pub rev: i64,
}

/// Why a chain change was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The chain changed since it was read (another change won): read it again.
    #[error("the credentials changed meanwhile")]
    Changed,
    /// The version to close is already closed.
    #[error("the version's window is already closed")]
    AlreadyClosed,
    /// The change breaks a window rule (overlap, a window that ends before it starts).
    #[error(transparent)]
    Invalid(#[from] domain::DomainError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Whose credentials: a tenant's (proven by its verified scope), or the platform's own — the
/// SaaS provider's carrier accounts, used on behalf of the tenants whose plan they are offered
/// to. The platform's versions carry the reserved owner id `platform`, and its changes go to the
/// SaaS audit.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    Tenant(&'a TenantScope),
    Platform,
}

impl Owner<'_> {
    /// The tenant id its versions carry.
    pub fn id(&self) -> TenantId {
        match self {
            Owner::Tenant(scope) => scope.tenant().clone(),
            Owner::Platform => domain::gateway::platform_owner(),
        }
    }
}

fn check_tenant(owner: Owner<'_>, v: &CredentialVersion) -> RepoResult<()> {
    if v.tenant != owner.id() {
        return Err(RepoError::WrongTenant);
    }
    Ok(())
}

impl Chain {
    pub fn find(&self, id: CredentialId) -> Option<&CredentialVersion> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// Why adding `version` (now or scheduled) would be refused on this chain, if it would:
    /// its window may meet no other.
    pub fn check_add(
        &self,
        owner: Owner<'_>,
        version: &CredentialVersion,
    ) -> Result<(), ChainError> {
        check_tenant(owner, version)?;
        check_no_overlap(&self.versions, version.from, version.thru)?;
        Ok(())
    }

    /// Why rotating `previous` (the open version) to `next` would be refused, if it would.
    pub fn check_rotate(
        &self,
        owner: Owner<'_>,
        previous: &CredentialVersion,
        next: &CredentialVersion,
    ) -> Result<(), ChainError> {
        check_tenant(owner, next)?;
        if open_version(&self.versions).map(|v| v.id) != Some(previous.id) {
            return Err(ChainError::Changed);
        }
        self.closed(owner, previous, next.from)?;
        // The previous version closes at T, so the new one may meet no other from T on.
        let others: Vec<CredentialVersion> = self
            .versions
            .iter()
            .filter(|v| v.id != previous.id)
            .cloned()
            .collect();
        check_no_overlap(&others, next.from, next.thru)?;
        Ok(())
    }

    /// `version` as stored, closed at `at`: the only change a version ever gets, and once.
    pub fn closed(
        &self,
        owner: Owner<'_>,
        version: &CredentialVersion,
        at: Timestamp,
    ) -> Result<CredentialVersion, ChainError> {
        check_tenant(owner, version)?;
        let stored = self.find(version.id).ok_or(ChainError::Changed)?.clone();
        if stored.thru.is_some() {
            return Err(ChainError::AlreadyClosed);
        }
        check_window(stored.from, Some(at))?;
        let mut closed = stored;
        closed.thru = Some(at);
        Ok(closed)
    }
}

/// Where carrier credentials are kept, tenants' and the platform's. A change is written with its
/// audit record (the tenant's audit, or the SaaS audit for the platform's), conditioned on the
/// chain as read ([`ChainError::Changed`] when it moved).
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The chain of one account, with its revision.
    async fn chain(
        &self,
        owner: Owner<'_>,
        gateway: &CarrierCode,
        account: &AccountId,
    ) -> RepoResult<Chain>;

    /// The owner's (gateway, account) pairs that have credentials.
    async fn accounts(&self, owner: Owner<'_>) -> RepoResult<Vec<(CarrierCode, AccountId)>>;

    /// Adds `version` to the chain read as `chain`.
    async fn add(
        &self,
        owner: Owner<'_>,
        chain: &Chain,
        version: &CredentialVersion,
        audit: &AuditRecord,
    ) -> Result<(), ChainError>;

    /// Writes `next` (from T) and closes `previous` (the open version) at T.
    async fn rotate(
        &self,
        owner: Owner<'_>,
        chain: &Chain,
        previous: &CredentialVersion,
        next: &CredentialVersion,
        audit: &AuditRecord,
    ) -> Result<(), ChainError>;

    /// Closes `version` at `at`.
    async fn expire(
        &self,
        owner: Owner<'_>,
        chain: &Chain,
        version: &CredentialVersion,
        at: Timestamp,
        audit: &AuditRecord,
    ) -> Result<(), ChainError>;
}

/// The platform's gateway catalogue: which carrier gateways tenants may hold credentials for.
#[async_trait]
pub trait GatewayCatalogue: Send + Sync {
    /// Creates or replaces a gateway of the catalogue, with the SaaS audit record.
    async fn put_gateway(&self, gateway: &GatewayConfig, audit: &AuditRecord) -> RepoResult<()>;

    async fn gateway(&self, id: &CarrierCode) -> RepoResult<Option<GatewayConfig>>;

    async fn gateways(&self) -> RepoResult<Vec<GatewayConfig>>;
}
