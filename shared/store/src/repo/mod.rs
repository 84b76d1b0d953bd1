//! Repositories: app's repository ports (`app::ports`) implemented over the item-store port,
//! the product's records mapped onto items once so both backends share every line of them.
//!
//! Every repository of tenant data takes a [`TenantScope`](crate::TenantScope); keys come only
//! from [`crate::keys`].

mod apikeys;
mod audit;
mod catalogue;
mod config;
mod credentials;
mod idempotency;
mod listing;
mod orders;
mod outbox;
mod registry;
mod usage;

pub use apikeys::ApiKeyRepository;
pub use audit::TenantAuditRepository;
pub use catalogue::GatewayCatalogRepository;
pub use config::TenantConfigRepository;
pub use credentials::CredentialRepository;
pub use idempotency::IdempotencyRepository;
pub use orders::{OrderRepository, shard_of};
pub use outbox::{OutboxRepository, PendingEvents};
pub use registry::RegistryRepository;
pub use usage::UsageRepository;

use std::sync::Arc;

use app::ports::{
    PlatformRepositories, RepoError, RepoResult, Repositories, ShardCounts, TrackingClaim,
};

use crate::cursor::Cursors;
use crate::error::{CancelReason, StoreError};
use crate::port::ItemStore;

/// Every repository the use cases run over, on `store`: tenant listings and the tenant audit
/// spread over `shards`' write shards, cursors and rate ids signed by `cursors`.
pub fn repositories(
    store: Arc<dyn ItemStore>,
    shards: Arc<dyn ShardCounts>,
    cursors: Cursors,
) -> Repositories {
    let audit = TenantAuditRepository::new(store.clone(), shards.clone(), cursors.clone());
    Repositories {
        orders: Arc::new(OrderRepository::new(store.clone(), shards, cursors.clone())),
        configs: Arc::new(TenantConfigRepository::new(store.clone(), audit.clone())),
        credentials: Arc::new(CredentialRepository::new(store.clone(), audit.clone())),
        tenant_audit: Arc::new(audit.clone()),
        idempotency: Arc::new(IdempotencyRepository::new(store.clone())),
        api_keys: Arc::new(ApiKeyRepository::new(store.clone(), audit.clone())),
        tokens: Arc::new(cursors),
        platform: platform_repositories(store),
    }
}

/// The platform's records on `store`.
pub fn platform_repositories(store: Arc<dyn ItemStore>) -> PlatformRepositories {
    PlatformRepositories {
        registry: Arc::new(RegistryRepository::new(store.clone())),
        catalogue: Arc::new(GatewayCatalogRepository::new(store.clone())),
        credentials: Arc::new(CredentialRepository::platform(store.clone())),
        usage: Arc::new(UsageRepository::new(store)),
    }
}

/// A store failure as the repositories report it: a refusal for now (throttling, a transaction
/// on the same item) is one the caller may retry.
impl From<StoreError> for RepoError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(m) => RepoError::Corrupt(m),
            StoreError::Throttled
            | StoreError::Cancelled {
                reason: CancelReason::Conflict,
                ..
            } => RepoError::Busy(e.to_string()),
            other => RepoError::Store(other.to_string()),
        }
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> RepoResult<String> {
    serde_json::to_string(value).map_err(|e| RepoError::Corrupt(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> RepoResult<T> {
    serde_json::from_str(text).map_err(|e| RepoError::Corrupt(e.to_string()))
}

/// What a failed transaction's action means, by the role the repository gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Order {
        expected: Option<u64>,
    },
    ExternalRef,
    Idempotency,
    IssuerClaim,
    SourceClaim,
    /// A shipment's claim on a tracking number (new, or already its own).
    Tracking(Box<TrackingClaim>),
    Other,
}

/// Maps a transaction's failure to the repository error of the action that failed.
pub(crate) fn map_cancel(e: StoreError, roles: &[Role], external_ref: Option<&str>) -> RepoError {
    if let StoreError::Cancelled { index, reason } = &e {
        let role = roles.get(*index).cloned().unwrap_or(Role::Other);
        match (role, reason) {
            (
                Role::Order { expected: Some(v) },
                CancelReason::ConditionFailed | CancelReason::Conflict,
            ) => {
                return RepoError::VersionConflict { expected: v };
            }
            (Role::Order { expected: None }, CancelReason::ConditionFailed) => {
                return RepoError::AlreadyExists;
            }
            (Role::ExternalRef, CancelReason::ConditionFailed) => {
                return RepoError::ExternalRefTaken(external_ref.unwrap_or_default().to_owned());
            }
            (Role::Idempotency, CancelReason::ConditionFailed) => {
                return RepoError::IdempotencyKeyUsed;
            }
            (Role::IssuerClaim, CancelReason::ConditionFailed) => {
                return RepoError::IssuerTaken(external_ref.unwrap_or_default().to_owned());
            }
            (Role::SourceClaim, CancelReason::ConditionFailed) => {
                return RepoError::EventSourceTaken(external_ref.unwrap_or_default().to_owned());
            }
            (Role::Tracking(claim), CancelReason::ConditionFailed) => {
                return RepoError::TrackingNumberTaken(claim);
            }
            _ => {}
        }
    }
    RepoError::from(e)
}
