//! Repositories: the product's records mapped onto items, written once over the item-store port
//! so both backends share every line of them.
//!
//! Every repository of tenant data takes a [`TenantScope`](crate::TenantScope); keys come only
//! from [`crate::keys`].

mod audit;
mod config;
mod credentials;
mod idempotency;
mod listing;
mod orders;
mod outbox;
mod registry;

pub use audit::TenantAuditRepository;
pub use config::TenantConfigRepository;
pub use credentials::{Chain, ChainError, CredentialRepository};
pub use domain::tenant::IssuerRow;
pub use idempotency::{
    DELIVERY_TTL_SECS, IDEMPOTENCY_TTL_SECS, IdempotencyRecord, IdempotencyRepository,
};
pub use listing::{MAX_PAGE_SIZE, Page, PageRequest};
pub use orders::{
    CommandWrite, GatewayLabel, OrderListing, OrderPage, OrderRepository, OrderSummary,
    StoredOrder, TrackingClaim, TrackingIndex, VendorLine, VendorOrderPage, VendorOrderSummary,
    shard_of,
};
pub use outbox::{OutboxRepository, PendingEvents};
pub use registry::{RegistryRepository, StoredProfile};

use crate::error::{CancelReason, StoreError};

/// The repositories' one error enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    #[error("the order changed meanwhile (expected version {expected})")]
    VersionConflict { expected: u64 },
    #[error("the order already exists")]
    AlreadyExists,
    #[error("external reference {0} already names another order")]
    ExternalRefTaken(String),
    /// Another shipment holds the claimed tracking number in its index: not a version conflict
    /// (running the command again cannot change it). Carries the claim that failed, never who
    /// holds the number.
    #[error("{} tracking number {} is held by another shipment", .0.carrier, .0.number)]
    TrackingNumberTaken(Box<TrackingClaim>),
    #[error("the idempotency key was used meanwhile")]
    IdempotencyKeyUsed,
    /// A dedicated issuer belongs to another tenant, or a shared one would become dedicated.
    #[error("issuer {0} is registered to another tenant")]
    IssuerTaken(String),
    /// An event source is registered to another tenant.
    #[error("event source {0} is registered to another tenant")]
    EventSourceTaken(String),
    #[error("the record belongs to another tenant")]
    WrongTenant,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("invalid page request: {0}")]
    InvalidPage(String),
    #[error("a stored record cannot be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RepoError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(m) => RepoError::Corrupt(m),
            other => RepoError::Store(other),
        }
    }
}

pub type RepoResult<T> = Result<T, RepoError>;

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
