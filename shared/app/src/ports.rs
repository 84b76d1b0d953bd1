//! Ports the use cases need from the outside world, besides storage: adapters implement them
//! (`shared/secrets` for secrets).

use async_trait::async_trait;
use domain::ids::TenantId;
use domain::webhook::SecretRef;
use secrecy::SecretString;

/// Why a secret could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no such secret")]
    NotFound,
    /// The ciphertext does not open under this tenant, purpose and key: moved, altered, or a
    /// wrong master key.
    #[error("the secret cannot be opened (moved, altered, or a wrong key)")]
    Sealed,
    #[error("secret store: {0}")]
    Backend(String),
}

/// Secrets kept by reference: the table holds the reference, the store the secret. Each secret
/// is bound to its tenant and purpose (a reference presented for another fails).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores `secret` for `tenant`'s `purpose` (`webhook:add-order`, …) as a new secret.
    async fn put(
        &self,
        tenant: &TenantId,
        purpose: &str,
        secret: &SecretString,
    ) -> Result<SecretRef, SecretError>;

    async fn get(
        &self,
        tenant: &TenantId,
        purpose: &str,
        reference: &SecretRef,
    ) -> Result<SecretString, SecretError>;
}
