//! AWS Secrets Manager as the secret store: one secret per stored value, named
//! `{prefix}/{tenant}/{purpose}/{ulid}` (the name is the reference's id, the version id its
//! version), read through a short cache. A reference whose name is not under the asking
//! tenant's and purpose's path is refused without a read, so a moved reference fails.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use domain::Clock;
use domain::ids::TenantId;
use domain::ports::{SecretError, SecretFuture, SecretStore};
use domain::webhook::SecretRef;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

/// How long a read secret is served from memory.
pub const CACHE_TTL_SECS: i64 = 300;

/// A secret's name and version, and when it was read with what it holds.
type Cache = HashMap<(String, Option<String>), (i64, SecretString)>;

pub struct SecretsManagerStore {
    client: Client,
    prefix: String,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
}

fn backend<E: std::error::Error>(e: E) -> SecretError {
    // The SDK's Display is terse; its source chain says what happened.
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(": ");
        text.push_str(&s.to_string());
        next = s.source();
    }
    SecretError::Backend(text)
}

impl SecretsManagerStore {
    /// Secrets under `prefix` (e.g. `tenantoms/prod`).
    pub fn new(client: Client, prefix: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
            clock,
            cache: Mutex::default(),
        }
    }

    /// Where a tenant's secrets for a purpose live (Secrets Manager names allow no `:`).
    fn path(&self, tenant: &TenantId, purpose: &str) -> String {
        format!("{}/{tenant}/{}/", self.prefix, purpose.replace(':', "-"))
    }

    async fn put_secret(
        &self,
        tenant: &TenantId,
        purpose: &str,
        secret: &SecretString,
    ) -> Result<SecretRef, SecretError> {
        let name = format!("{}{}", self.path(tenant, purpose), ulid::Ulid::new());
        let out = self
            .client
            .create_secret()
            .name(&name)
            .secret_string(secret.expose_secret())
            .send()
            .await
            .map_err(backend)?;
        Ok(SecretRef {
            id: name,
            version: out.version_id().map(str::to_owned),
        })
    }

    async fn get_secret(
        &self,
        tenant: &TenantId,
        purpose: &str,
        reference: &SecretRef,
    ) -> Result<SecretString, SecretError> {
        if !reference.id.starts_with(&self.path(tenant, purpose)) {
            return Err(SecretError::Sealed);
        }
        let key = (reference.id.clone(), reference.version.clone());
        let now = self.clock.now_secs();
        if let Some((at, s)) = self.cache.lock().await.get(&key)
            && now - at < CACHE_TTL_SECS
        {
            return Ok(s.clone());
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(&reference.id)
            .set_version_id(reference.version.clone())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                {
                    SecretError::NotFound
                } else {
                    backend(e)
                }
            })?;
        let secret = SecretString::from(
            out.secret_string()
                .ok_or_else(|| SecretError::Backend("the secret has no string value".into()))?
                .to_owned(),
        );
        self.cache.lock().await.insert(key, (now, secret.clone()));
        Ok(secret)
    }

    /// `DeleteSecret` without a recovery window: the secret is gone at once (its name could
    /// not be reused during a window, and nothing should read it again anyway).
    async fn delete_secret(
        &self,
        tenant: &TenantId,
        purpose: &str,
        reference: &SecretRef,
    ) -> Result<(), SecretError> {
        if !reference.id.starts_with(&self.path(tenant, purpose)) {
            return Err(SecretError::Sealed);
        }
        self.cache
            .lock()
            .await
            .retain(|(name, _), _| name != &reference.id);
        match self
            .client
            .delete_secret()
            .secret_id(&reference.id)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }
}

impl SecretStore for SecretsManagerStore {
    fn put<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        secret: &'a SecretString,
    ) -> SecretFuture<'a, SecretRef> {
        Box::pin(self.put_secret(tenant, purpose, secret))
    }

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, SecretString> {
        Box::pin(self.get_secret(tenant, purpose, reference))
    }

    fn delete<'a>(
        &'a self,
        tenant: &'a TenantId,
        purpose: &'a str,
        reference: &'a SecretRef,
    ) -> SecretFuture<'a, ()> {
        Box::pin(self.delete_secret(tenant, purpose, reference))
    }
}
