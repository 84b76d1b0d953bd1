//! The authentication layer's one error enum. Every variant falls in one [`Refusal`] class with a
//! stable code (the edge maps the class to an HTTP status); the reason is logged for operators but
//! never sent to the caller, so a response does not help an attacker.

/// How a refusal is answered, whatever its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No valid credentials (HTTP 401).
    Unauthenticated,
    /// Valid credentials of a suspended tenant (HTTP 403).
    Suspended,
    /// Keys or the directory cannot be read now (HTTP 503).
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    MissingToken,
    #[error("token of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm not allowed for this issuer")]
    AlgorithmNotAllowed,
    #[error("unknown issuer")]
    UnknownIssuer,
    #[error("no key matches the token's kid")]
    UnknownKey,
    #[error("signature or claims invalid: {0}")]
    Invalid(String),
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("audience not accepted")]
    WrongAudience,
    #[error("required claim missing or invalid: {0}")]
    Claim(&'static str),
    #[error("tenant claim does not match the issuer's tenant")]
    TenantMismatch,
    #[error("no tenant of this issuer matches the token")]
    UnknownTenant,
    #[error("tenant is suspended")]
    TenantSuspended,
    /// An API key of a suspended tenant: its keys stop working as a revoked one does (a key's
    /// holder learns nothing of the tenant's state).
    #[error("API key of a suspended tenant")]
    KeyOfSuspendedTenant,
    #[error("signing keys cannot be fetched: {0}")]
    KeysUnavailable(String),
    #[error("tenant directory unavailable: {0}")]
    Directory(String),
}

impl AuthError {
    /// The class of the refusal (the edge picks the HTTP status from it).
    pub fn refusal(&self) -> Refusal {
        match self {
            AuthError::TenantSuspended => Refusal::Suspended,
            AuthError::KeysUnavailable(_) | AuthError::Directory(_) => Refusal::Unavailable,
            _ => Refusal::Unauthenticated,
        }
    }

    /// The stable code sent to the caller (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self.refusal() {
            Refusal::Suspended => "TENANT_SUSPENDED",
            Refusal::Unavailable => "SERVICE_UNAVAILABLE",
            Refusal::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// What the caller is told: nothing about why the token failed.
    pub fn public_message(&self) -> &'static str {
        match self.refusal() {
            Refusal::Suspended => "the tenant is suspended",
            Refusal::Unavailable => "authentication is temporarily unavailable",
            Refusal::Unauthenticated => "authentication required",
        }
    }
}

pub type AuthResult<T> = Result<T, AuthError>;
