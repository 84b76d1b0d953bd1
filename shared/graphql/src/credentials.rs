//! The carrier credentials of the GraphQL API: the input of a new version (its secrets
//! write-only) and the view of a version (fingerprint, never a secret).

use app::AppResult;
use app::credentials::{CredentialSecrets, NewCredentials};
use async_graphql::{Enum, ID, InputObject, SimpleObject};
use domain::Timestamp;
use domain::gateway::{CredentialVersion, GatewayMode};
use domain::ids::{AccountId, CarrierCode};
use secrecy::SecretString;

use crate::views::{MoneyV, UserError};

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Default)]
pub enum CarrierMode {
    #[default]
    Sandbox,
    Production,
}

impl From<CarrierMode> for GatewayMode {
    fn from(m: CarrierMode) -> Self {
        match m {
            CarrierMode::Sandbox => GatewayMode::Sandbox,
            CarrierMode::Production => GatewayMode::Production,
        }
    }
}

/// A new version of a gateway account's credentials. The secret fields are write-only: no
/// query returns them.
#[derive(InputObject, Clone)]
pub struct CarrierCredentialsInput {
    /// A gateway of the catalogue (`easypost`, `shippo`, …).
    pub gateway: String,
    /// Your label for the account (one chain of versions per gateway and account).
    pub account: String,
    #[graphql(default)]
    pub mode: CarrierMode,
    /// Defaults to the catalogue's URL for the mode.
    pub base_url: Option<String>,
    pub username: Option<String>,
    pub client_id: Option<String>,
    /// OAuth2 carriers: where tokens come from (FedEx: the base URL's `/oauth/token` when unset).
    pub token_url: Option<String>,
    /// Your account number at the carrier (required for FedEx); not a secret.
    pub account_number: Option<String>,
    /// The client id of a separate tracking key pair (FedEx issues Track API keys apart).
    pub track_client_id: Option<String>,
    pub description: Option<String>,
    /// RFC 3339; now by default. A later time schedules the version.
    pub from: Option<String>,
    /// RFC 3339; open by default.
    pub thru: Option<String>,
    pub api_key: Option<String>,
    pub password: Option<String>,
    pub shared_secret: Option<String>,
    pub client_secret: Option<String>,
    /// The client secret of the tracking key pair.
    pub track_client_secret: Option<String>,
}

fn time(s: &Option<String>) -> AppResult<Option<Timestamp>> {
    Ok(s.as_deref().map(Timestamp::parse_rfc3339).transpose()?)
}

impl CarrierCredentialsInput {
    pub fn parse(&self) -> AppResult<NewCredentials> {
        let secret =
            |s: &Option<String>| s.clone().filter(|v| !v.is_empty()).map(SecretString::from);
        Ok(NewCredentials {
            gateway: CarrierCode::parse(&self.gateway)?,
            account: AccountId::parse(&self.account)?,
            mode: self.mode.into(),
            base_url: self.base_url.clone(),
            username: self.username.clone(),
            client_id: self.client_id.clone(),
            token_url: self.token_url.clone(),
            account_number: self.account_number.clone(),
            track_client_id: self.track_client_id.clone(),
            description: self.description.clone(),
            from: time(&self.from)?,
            thru: time(&self.thru)?,
            secrets: CredentialSecrets {
                api_key: secret(&self.api_key),
                password: secret(&self.password),
                shared_secret: secret(&self.shared_secret),
                client_secret: secret(&self.client_secret),
                track_client_secret: secret(&self.track_client_secret),
            },
        })
    }
}

/// One version of a gateway account's credentials.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "CarrierCredential")]
pub struct CarrierCredentialV {
    pub id: ID,
    pub gateway: String,
    pub account: String,
    /// SANDBOX or PRODUCTION.
    pub mode: String,
    pub auth_type: String,
    pub base_url: String,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub token_url: Option<String>,
    pub account_number: Option<String>,
    pub track_client_id: Option<String>,
    /// The last characters of the secret (or of nothing, when it is short).
    pub fingerprint: String,
    pub from: String,
    pub thru: Option<String>,
    /// In force now.
    pub effective: bool,
    pub description: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

impl CarrierCredentialV {
    pub fn new(v: &CredentialVersion, now: Timestamp) -> Self {
        Self {
            id: v.id.to_string().into(),
            gateway: v.gateway.to_string(),
            account: v.account.to_string(),
            mode: v.mode.as_str().to_uppercase(),
            auth_type: v.auth_type.as_str().to_owned(),
            base_url: v.base_url.clone(),
            username: v.username.clone(),
            client_id: v.client_id.clone(),
            token_url: v.token_url.clone(),
            account_number: v.account_number.clone(),
            track_client_id: v.track_client_id.clone(),
            fingerprint: v.fingerprint.clone(),
            from: v.from.to_rfc3339(),
            thru: v.thru.map(|t| t.to_rfc3339()),
            effective: v.effective_at(now),
            description: v.description.clone(),
            created_by: v.created_by.to_string(),
            created_at: v.created_at.to_rfc3339(),
        }
    }
}

#[derive(SimpleObject, Default)]
pub struct CarrierCredentialPayload {
    pub credential: Option<CarrierCredentialV>,
    pub user_errors: Vec<UserError>,
}

/// A rate a label can be bought at (`buyShippingLabel(rateId: id)`).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "ShippingRate")]
pub struct ShippingRateV {
    pub id: ID,
    pub carrier: String,
    pub service: String,
    pub amount: MoneyV,
    pub delivery_days: Option<u32>,
}

/// A carrier that could not rate the shipment, in its own words.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "RateError")]
pub struct RateErrorV {
    pub carrier: String,
    pub message: String,
}

#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "ShippingRates")]
pub struct ShippingRatesV {
    pub rates: Vec<ShippingRateV>,
    pub errors: Vec<RateErrorV>,
}

impl From<&app::shipping::Quote> for ShippingRatesV {
    fn from(q: &app::shipping::Quote) -> Self {
        Self {
            rates: q
                .rates
                .iter()
                .map(|r| ShippingRateV {
                    id: r.id.clone().into(),
                    carrier: r.carrier.clone(),
                    service: r.service.clone(),
                    amount: r.amount.into(),
                    delivery_days: r.delivery_days,
                })
                .collect(),
            errors: q
                .errors
                .iter()
                .map(|(carrier, message)| RateErrorV {
                    carrier: carrier.clone(),
                    message: message.clone(),
                })
                .collect(),
        }
    }
}
