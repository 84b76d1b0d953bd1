//! What the use cases keep beside the carrier port (`ports::carrier`): how a version's secrets
//! are sealed into one secret-store entry, the outcomes of carrier calls this process received
//! and has not committed yet ([`CarrierOutcomes`]), what a label's stored reference carries
//! ([`LabelRef`]), and the usage rows a platform account's labels make ([`usage_items`]).
//! Below the engine and the shipping use cases, which both use it.

use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use base64::Engine;
use domain::Money;
use domain::gateway::AccountRef;
use domain::ids::{AccountId, CarrierCode};
use domain::order::{Order, ShipmentStatus};
use domain::usage::{CarrierUsage, UsageKind};

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

/// The account a reference names.
pub(crate) fn account_ref(a: &AccountId, platform: bool) -> AccountRef {
    if platform {
        AccountRef::Platform(a.clone())
    } else {
        AccountRef::Own(a.clone())
    }
}

/// What a bought label's carrier reference carries: the account, and the carrier's reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LabelRef {
    pub(crate) g: CarrierCode,
    pub(crate) a: AccountId,
    /// The account is the platform's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) p: bool,
    pub(crate) r: String,
    /// The label's quoted amount (a void's usage reversal gives it back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) m: Option<Money>,
    /// The other packages' void references, when they differ from `r` (a label per package
    /// bought one by one; a Shippo parcel's transaction): a void voids each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) k: Vec<String>,
}

impl LabelRef {
    pub(crate) fn account(&self) -> AccountRef {
        account_ref(&self.a, self.p)
    }
}

pub(crate) fn encode<T: Serialize>(v: &T) -> AppResult<String> {
    let json =
        serde_json::to_vec(v).map_err(|_| AppError::internal("cannot encode a reference"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(field: &str, s: &str) -> AppResult<T> {
    let invalid = || AppError::Invalid {
        field: field.into(),
        message: "not one of our references".into(),
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

/// The usage rows a change makes: a label bought through a platform account (the shipment went
/// CONFIRMED → LABEL_PURCHASED with a label of such an account, or a return gained such a
/// label) is a purchase, a void of one (LABEL_PURCHASED → CANCELLED under a void intent; a
/// return's label gone under one) its reversal; each row's id is the intent's, so a row is
/// written once, in the commit that completes its call.
pub(crate) fn usage_items(
    before: &Order,
    after: &Order,
    tenant: &domain::ids::TenantId,
    now: domain::Timestamp,
) -> Vec<CarrierUsage> {
    let mut rows = Vec::new();
    let mut row = |intent: &str, kind, reference: Option<&str>, shipment, return_id| {
        let Some(label) = reference.and_then(|r| decode::<LabelRef>("label", r).ok()) else {
            return;
        };
        match (label.p, label.m) {
            (true, Some(amount)) => rows.push(CarrierUsage {
                id: intent.to_owned(),
                tenant: tenant.clone(),
                gateway: label.g,
                account: label.a,
                order: after.id(),
                shipment,
                return_id,
                kind,
                amount,
                at: now,
            }),
            (true, None) => {
                tracing::warn!(order = %after.id(), %shipment, "a platform label without its amount: no usage row")
            }
            (false, _) => {}
        }
    };
    for s in after.shipments() {
        let Some(was) = before.shipment(s.id) else {
            continue;
        };
        let Some(intent) = &was.intent else {
            continue;
        };
        let (kind, reference) = match (was.status, s.status) {
            (ShipmentStatus::Confirmed, ShipmentStatus::LabelPurchased) => {
                (UsageKind::Purchase, &s.carrier_reference)
            }
            (ShipmentStatus::LabelPurchased, ShipmentStatus::Cancelled) => {
                (UsageKind::Reversal, &was.carrier_reference)
            }
            _ => continue,
        };
        row(&intent.id, kind, reference.as_deref(), s.id, None);
    }
    for r in after.returns() {
        let Some(was) = before.return_(r.id) else {
            continue;
        };
        let (Some(intent), Some(shipment)) = (&was.intent, after.shipment_of_return(r.id)) else {
            continue;
        };
        let (kind, label) = match (&was.label, &r.label) {
            (None, Some(bought)) => (UsageKind::Purchase, bought),
            (Some(voided), None) => (UsageKind::Reversal, voided),
            _ => continue,
        };
        let reference = Some(label.carrier_reference.as_str());
        row(&intent.id, kind, reference, shipment.id, Some(r.id));
    }
    rows
}
