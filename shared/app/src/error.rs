//! The application layer's one error enum, mapped to GraphQL errors or `userErrors` at the edge.

use domain::DomainError;
use store::repo::RepoError;

use crate::authz::AuthzError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The plan or role does not allow the operation.
    #[error("not allowed to {operation}")]
    Forbidden { operation: &'static str },
    /// Missing, or outside the caller's tenant or vendor scope.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A business rule refused the command (reported in `userErrors`).
    #[error(transparent)]
    Rule(DomainError),
    /// Input that does not parse (reported in `userErrors` with its field).
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// The order changed meanwhile (`expectedVersion`, or retries exhausted).
    #[error("the order changed meanwhile: {0}")]
    Conflict(String),
    /// The same idempotency key with a different request.
    #[error("the idempotency key was used for a different request")]
    IdempotencyMismatch,
    /// Another request with the same idempotency key committed first.
    #[error("a request with the same idempotency key committed first")]
    IdempotencyRace,
    #[error("the external reference {0} already names another order")]
    ExternalRefTaken(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The stable code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Forbidden { .. } => "FORBIDDEN",
            AppError::NotFound { .. } => "NOT_FOUND",
            AppError::Rule(e) => e.code(),
            AppError::Invalid { .. } => "INVALID_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::IdempotencyMismatch => "IDEMPOTENCY_KEY_REUSED",
            AppError::IdempotencyRace => "CONFLICT",
            AppError::ExternalRefTaken(_) => "EXTERNAL_REF_TAKEN",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// Business-rule failures go to the payload's `userErrors`; the rest are GraphQL errors.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            AppError::Rule(_) | AppError::Invalid { .. } | AppError::ExternalRefTaken(_)
        )
    }

    pub fn field(&self) -> Option<String> {
        match self {
            AppError::Rule(e) => e.field().map(str::to_owned),
            AppError::Invalid { field, .. } => Some(field.clone()),
            AppError::ExternalRefTaken(_) => Some("externalRef".into()),
            _ => None,
        }
    }
}

impl From<AuthzError> for AppError {
    fn from(e: AuthzError) -> Self {
        match e {
            AuthzError::Forbidden { operation } => AppError::Forbidden { operation },
            AuthzError::NotFound => AppError::NotFound { what: "order" },
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, reason } => AppError::Invalid {
                field: field.to_owned(),
                message: reason,
            },
            other => AppError::Rule(other),
        }
    }
}

impl From<RepoError> for AppError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::VersionConflict { expected } => {
                AppError::Conflict(format!("expected version {expected}"))
            }
            RepoError::ExternalRefTaken(r) => AppError::ExternalRefTaken(r),
            RepoError::InvalidCursor => AppError::Invalid {
                field: "after".into(),
                message: "invalid cursor".into(),
            },
            RepoError::InvalidPage(m) => AppError::Invalid {
                field: "first".into(),
                message: m,
            },
            RepoError::WrongTenant => AppError::NotFound { what: "order" },
            RepoError::IdempotencyKeyUsed => AppError::IdempotencyRace,
            other => AppError::Internal(other.to_string()),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
