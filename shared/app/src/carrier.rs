//! What the use cases keep beside the carrier port (`ports::carrier`): how a version's secrets
//! are sealed into one secret-store entry, and the outcomes of carrier calls this process
//! received and has not committed yet ([`CarrierOutcomes`]). Below the engine and the shipping
//! use cases, which both use it.

use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::ports::carrier::{CredentialSecrets, PurchasedLabel};

/// How the secret fields are kept in the secret store (one secret per version).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shared_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    track_client_secret: Option<String>,
}

impl CredentialSecrets {
    /// The secret a fingerprint is made of: the API key, else the client secret, else the
    /// password.
    pub(crate) fn primary(&self) -> Option<&SecretString> {
        self.api_key
            .as_ref()
            .or(self.client_secret.as_ref())
            .or(self.password.as_ref())
    }

    /// The names of the secret fields given (as the API spells them).
    pub(crate) fn given(&self) -> Vec<&'static str> {
        [
            ("apiKey", &self.api_key),
            ("password", &self.password),
            ("sharedSecret", &self.shared_secret),
            ("clientSecret", &self.client_secret),
            ("trackClientSecret", &self.track_client_secret),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(name, _)| name)
        .collect()
    }

    pub(crate) fn seal(&self) -> AppResult<SecretString> {
        let show = |s: &Option<SecretString>| s.as_ref().map(|s| s.expose_secret().to_owned());
        let fields = SecretFields {
            api_key: show(&self.api_key),
            password: show(&self.password),
            shared_secret: show(&self.shared_secret),
            client_secret: show(&self.client_secret),
            track_client_secret: show(&self.track_client_secret),
        };
        serde_json::to_string(&fields)
            .map(SecretString::from)
            .map_err(|_| AppError::internal("cannot encode credential secrets"))
    }

    pub(crate) fn open(secret: &SecretString) -> AppResult<Self> {
        let fields: SecretFields = serde_json::from_str(secret.expose_secret())
            .map_err(|_| AppError::internal("stored credential secrets do not parse"))?;
        Ok(Self {
            api_key: fields.api_key.map(SecretString::from),
            password: fields.password.map(SecretString::from),
            shared_secret: fields.shared_secret.map(SecretString::from),
            client_secret: fields.client_secret.map(SecretString::from),
            track_client_secret: fields.track_client_secret.map(SecretString::from),
        })
    }
}

/// A carrier outcome this process received, by intent id.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Bought(PurchasedLabel),
    Voided,
}

/// The carrier outcomes this process received, kept until they are committed (bounded, least
/// recently used out first): a commit that fails is completed from here on the request's retry,
/// without asking the carrier. Another process looks the call up instead.
pub(crate) struct CarrierOutcomes(Mutex<lru::LruCache<String, Outcome>>);

impl CarrierOutcomes {
    const CAPACITY: usize = 1_000;

    pub(crate) fn new() -> Self {
        let cap =
            std::num::NonZeroUsize::new(Self::CAPACITY).unwrap_or(std::num::NonZeroUsize::MIN);
        Self(Mutex::new(lru::LruCache::new(cap)))
    }

    pub(crate) fn get(&self, intent: &str) -> Option<Outcome> {
        self.0.lock().ok()?.get(intent).cloned()
    }

    pub(crate) fn put(&self, intent: &str, outcome: Outcome) {
        if let Ok(mut c) = self.0.lock() {
            c.put(intent.to_owned(), outcome);
        }
    }
}
