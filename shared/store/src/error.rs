//! The storage layer's one error enum.

/// Why one action of a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelReason {
    /// Its condition did not hold (item present / absent / other version).
    ConditionFailed,
    /// Another transaction was writing the same item (DynamoDB `TransactionConflict`).
    Conflict,
    /// Any other reason DynamoDB gives.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The transaction was cancelled, nothing written. `index` is the first failing action.
    #[error("transaction cancelled: action {index} {reason:?}")]
    Cancelled { index: usize, reason: CancelReason },

    #[error("item of {size} bytes exceeds DynamoDB's 400 KB limit (action {index:?})")]
    ItemTooLarge { index: Option<usize>, size: usize },

    #[error("transaction of {count} actions exceeds DynamoDB's limit of 100")]
    TooManyActions { count: usize },

    #[error("transaction of {size} bytes exceeds DynamoDB's 4 MB limit")]
    TransactionTooLarge { size: usize },

    #[error("actions {first} and {second} of one transaction touch the same item")]
    DuplicateItem { first: usize, second: usize },

    #[error("invalid request: {0}")]
    Invalid(String),

    /// Another process holds the embedded store file (a running `oms serve`).
    #[error("the store is open in another process")]
    InUse,

    #[error("the backend is throttling requests; retry later")]
    Throttled,

    #[error("a stored item cannot be read: {0}")]
    Corrupt(String),

    #[error("storage backend error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
