//! The application layer's one error enum, mapped to GraphQL errors or `userErrors` at the edge.

use crate::ports::RepoError;
use domain::DomainError;

use crate::authz::AuthzError;

/// The cause of an internal error, kept whole (typed, with its source chain) for the logs. Its
/// text never reaches a client: the edge answers `INTERNAL` and logs this.
#[derive(Debug, Clone)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(e))
    }

    /// A cause known only by a message (a poisoned lock).
    pub fn message(m: &str) -> Self {
        Self(std::sync::Arc::new(Message(m.to_owned())))
    }

    /// The cause and its sources, for an operator's log line.
    pub fn chain(&self) -> String {
        let mut out = self.0.to_string();
        let mut next = self.0.source();
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two causes are equal when they say the same (tests compare errors).
impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.chain() == other.chain()
    }
}

impl Eq for Cause {}

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
    /// A tracking number typed in that another shipment of the tenant already holds.
    #[error("{carrier} tracking number {number} is held by another shipment")]
    TrackingNumberTaken { carrier: String, number: String },
    /// A carrier call failed, or could not be made (`connection_not_effective`, …): a stable
    /// code and the carrier's own words (never a secret).
    #[error("{code}: {message}")]
    Carrier { code: &'static str, message: String },
    /// A failure of the system, not of the request: logged whole, answered as `INTERNAL`.
    #[error("internal error")]
    Internal(#[source] Cause),
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
            AppError::TrackingNumberTaken { .. } => "TRACKING_NUMBER_TAKEN",
            AppError::Carrier { code, .. } => match *code {
                "connection_not_effective" => "CONNECTION_NOT_EFFECTIVE",
                "carrier_auth_failed" => "CARRIER_AUTH_FAILED",
                "carrier_rejected" => "CARRIER_REJECTED",
                "rate_limited" => "RATE_LIMITED",
                "not_supported" => "NOT_SUPPORTED",
                _ => "CARRIER_UNAVAILABLE",
            },
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// Business-rule failures go to the payload's `userErrors`; the rest are GraphQL errors.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            AppError::Rule(_)
                | AppError::Invalid { .. }
                | AppError::ExternalRefTaken(_)
                | AppError::TrackingNumberTaken { .. }
                | AppError::Carrier { .. }
        )
    }

    pub fn field(&self) -> Option<String> {
        match self {
            AppError::Rule(e) => e.field().map(str::to_owned),
            AppError::Invalid { field, .. } => Some(field.clone()),
            AppError::ExternalRefTaken(_) => Some("externalRef".into()),
            AppError::TrackingNumberTaken { .. } => Some("trackingNumber".into()),
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
            RepoError::AlreadyExists => AppError::Conflict("the order already exists".into()),
            RepoError::ExternalRefTaken(r) => AppError::ExternalRefTaken(r),
            RepoError::TrackingNumberTaken(claim) => AppError::TrackingNumberTaken {
                carrier: claim.carrier.to_string(),
                number: claim.number.to_string(),
            },
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
            other => AppError::Internal(Cause::new(other)),
        }
    }
}

impl AppError {
    /// An internal error known only by a message.
    pub fn internal(m: &str) -> Self {
        AppError::Internal(Cause::message(m))
    }
}

pub type AppResult<T> = Result<T, AppError>;
