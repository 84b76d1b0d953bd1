//! The repositories' one error, whatever stores them.

use super::orders::TrackingClaim;

/// Why a repository refused or failed.
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
    /// The store refused for now (throttling, another transaction on the same item): nothing
    /// was written, and the same call may succeed later.
    #[error("the store is busy: {0}")]
    Busy(String),
    /// Any other failure of the store.
    #[error("storage: {0}")]
    Store(String),
}

pub type RepoResult<T> = Result<T, RepoError>;
