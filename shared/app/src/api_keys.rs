//! A tenant's API keys: created by a tenant admin (the key's text shown once, in the answer),
//! listed, revoked. Verifying a presented key is the verifier's (`auth::apikey`).

use auth::apikey::mint;
use domain::Timestamp;
use domain::access::{Operation, Role};
use domain::apikey::{ApiKey, MAX_KEYS};
use domain::ids::{ApiKeyId, VendorId};
use secrecy::SecretString;

use crate::context::{RequestCtx, UnitOfWork};
use crate::engine::App;
use crate::error::{AppError, AppResult};
use crate::ports::StoredApiKey;

/// What a tenant admin asks for.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
    /// The vendor of a vendor key.
    pub vendor: Option<VendorId>,
    /// When the key starts to work (now when absent).
    pub from: Option<Timestamp>,
    /// When it stops (never when absent).
    pub thru: Option<Timestamp>,
}

/// A created key: its record, and its text, which nothing shows again.
#[derive(Debug)]
pub struct CreatedApiKey {
    pub key: StoredApiKey,
    pub text: SecretString,
}

impl App {
    /// Creates a key. Refused in a keyed request: an idempotency record would keep the key's
    /// text to replay it.
    pub async fn create_api_key(
        &self,
        rc: &RequestCtx,
        uow: &UnitOfWork,
        new: NewApiKey,
    ) -> AppResult<CreatedApiKey> {
        let op = Operation::CreateApiKey;
        let identity = self.enter(rc, op).await?;
        if uow.key().is_some() {
            return Err(AppError::Invalid {
                field: "Idempotency-Key".into(),
                message: "createApiKey cannot be replayed (a stored answer would keep the key); send it without an Idempotency-Key".into(),
            });
        }
        let now = self.now();
        let held = self.api_keys.list(identity.scope()).await?;
        let live = held
            .iter()
            .filter(|k| k.key.thru.is_none_or(|t| t > now))
            .count();
        if live >= MAX_KEYS {
            return Err(AppError::from(domain::DomainError::LimitExceeded {
                what: "API keys in force or scheduled",
                max: MAX_KEYS,
            }));
        }
        let id = ApiKeyId::from_ulid(self.next_id()?);
        let minted = mint(self.key_stage, id).map_err(|e| AppError::internal(&e.to_string()))?;
        let key = ApiKey {
            id,
            tenant: identity.tenant().clone(),
            name: new.name.trim().to_owned(),
            stage: self.key_stage,
            role: new.role,
            vendor: new.vendor,
            from: new.from.unwrap_or(now),
            thru: new.thru,
            hash: minted.hash,
            created_by: identity.subject().clone(),
            created_at: now,
        };
        key.check()?;
        let audit = self.audit(rc, identity, op, ("apiKey", id.to_string()), None, now)?;
        self.api_keys.create(identity.scope(), &key, &audit).await?;
        Ok(CreatedApiKey {
            key: StoredApiKey {
                key,
                version: 1,
                last_used_at: None,
            },
            text: minted.text,
        })
    }

    /// The tenant's keys (never their text).
    pub async fn api_keys(&self, rc: &RequestCtx) -> AppResult<Vec<StoredApiKey>> {
        let identity = self.enter(rc, Operation::ListApiKeys).await?;
        Ok(self.api_keys.list(identity.scope()).await?)
    }

    /// Closes a key's window at `at` (now when absent; never in the past): at once in this
    /// process, within the directory's TTL in others. A later `at` is how a key is rotated: a
    /// new key beside it, this one working until then.
    pub async fn revoke_api_key(
        &self,
        rc: &RequestCtx,
        id: ApiKeyId,
        at: Option<Timestamp>,
    ) -> AppResult<StoredApiKey> {
        let op = Operation::RevokeApiKey;
        let identity = self.enter(rc, op).await?;
        let now = self.now();
        let at = at.unwrap_or(now);
        if at < now {
            return Err(AppError::Invalid {
                field: "at".into(),
                message: "must not be in the past".into(),
            });
        }
        let before = self
            .api_keys
            .get(identity.scope(), id)
            .await?
            .ok_or(AppError::NotFound { what: "apiKey" })?;
        let after = before.key.revoked_at(at);
        if after == before.key {
            return Ok(before);
        }
        let audit = self.audit(rc, identity, op, ("apiKey", id.to_string()), None, now)?;
        self.api_keys
            .update(identity.scope(), &before, &after, &audit)
            .await?;
        if let Some(v) = &self.verifier {
            v.forget();
        }
        Ok(StoredApiKey {
            key: after,
            version: before.version + 1,
            last_used_at: before.last_used_at,
        })
    }
}
