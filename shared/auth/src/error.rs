//! The authentication layer's one error enum. Every variant maps to 401 (or 403 for a suspended
//! tenant, 503 when keys cannot be fetched) with a stable code; the reason is logged for operators
//! but never sent to the caller, so a response does not help an attacker.

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
    #[error("signing keys cannot be fetched: {0}")]
    KeysUnavailable(String),
    #[error("tenant directory unavailable: {0}")]
    Directory(String),
}

impl AuthError {
    /// HTTP status for the edge.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::TenantSuspended => 403,
            AuthError::KeysUnavailable(_) | AuthError::Directory(_) => 503,
            _ => 401,
        }
    }

    /// The stable code sent to the caller (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::TenantSuspended => "TENANT_SUSPENDED",
            AuthError::KeysUnavailable(_) | AuthError::Directory(_) => "SERVICE_UNAVAILABLE",
            _ => "UNAUTHENTICATED",
        }
    }

    /// What the caller is told: nothing about why the token failed.
    pub fn public_message(&self) -> &'static str {
        match self {
            AuthError::TenantSuspended => "the tenant is suspended",
            AuthError::KeysUnavailable(_) | AuthError::Directory(_) => {
                "authentication is temporarily unavailable"
            }
            _ => "authentication required",
        }
    }
}

pub type AuthResult<T> = Result<T, AuthError>;
