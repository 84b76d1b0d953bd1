//! The connector over HTTP: which adapter serves a tenant's credentials in force.

use std::sync::Arc;

use app::ports::carrier::{Carrier, CarrierConnector, CarrierError, EffectiveCredentials};
use domain::gateway::{CarrierKind, GatewayAuthType};
use domain::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};

use crate::oauth::{ClientCredentials, TokenSource, TokenSources};
use crate::wire::Credentials;

/// The connector over HTTP: EasyPost, Shippo or FedEx by the gateway's kind, every call through
/// the guarded outbound client and every request's URL checked against its policy first.
/// OAuth2 tokens live here, one per credential version and key pair, for the process's life.
pub struct HttpConnector {
    client: reqwest::Client,
    policy: domain::outbound::OutboundPolicy,
    /// The time one carrier request may take (the adapters' default, 10 s, when unset).
    timeout: Option<std::time::Duration>,
    tokens: Arc<TokenSources>,
    clock: Arc<dyn Clock>,
}

impl HttpConnector {
    /// `client` must be the outbound client built for `policy` (`outbound_http::client`).
    pub fn new(client: reqwest::Client, policy: domain::outbound::OutboundPolicy) -> Self {
        Self {
            client,
            policy,
            timeout: None,
            tokens: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// One carrier request's time limit (tests shorten it).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The clock token lifetimes are counted by.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The token source of `version` for one key pair.
    fn token_source(&self, version: &str, credentials: ClientCredentials) -> Arc<TokenSource> {
        self.tokens.source(version, &credentials, || {
            TokenSource::new(
                credentials.clone(),
                self.client.clone(),
                self.policy.clone(),
                self.clock.clone(),
            )
        })
    }

    /// FedEx over OAuth2: the version's key pair (and tracking pair), its token URL (the
    /// base URL's `/oauth/token` unless the version names one), its account number.
    fn fedex(&self, c: &EffectiveCredentials) -> Result<Box<dyn Carrier>, CarrierError> {
        let v = &c.version;
        let missing =
            |what: &str| CarrierError::AuthFailed(format!("the FedEx credentials have no {what}"));
        let account = v
            .account_number
            .clone()
            .ok_or_else(|| missing("account number"))?;
        let token_url = v
            .token_url
            .clone()
            .unwrap_or_else(|| format!("{}/oauth/token", v.base_url.trim_end_matches('/')));
        let pair = |id: Option<&String>, secret: Option<&SecretString>, what: &str| {
            Ok::<_, CarrierError>(ClientCredentials {
                token_url: token_url.clone(),
                client_id: id
                    .cloned()
                    .ok_or_else(|| missing(&format!("{what}client id")))?,
                client_secret: secret
                    .cloned()
                    .ok_or_else(|| missing(&format!("{what}client secret")))?,
            })
        };
        let id = v.id.to_string();
        let main = pair(v.client_id.as_ref(), c.secrets.client_secret.as_ref(), "")?;
        let tokens = self.token_source(&id, main);
        let track = match &v.track_client_id {
            Some(track_id) => Some(self.token_source(
                &id,
                pair(
                    Some(track_id),
                    c.secrets.track_client_secret.as_ref(),
                    "tracking ",
                )?,
            )),
            None => None,
        };
        let mut a = crate::fedex::Fedex::new(v.base_url.clone(), account, tokens, track)
            .with_client(self.client.clone())
            .with_policy(self.policy.clone());
        if let Some(t) = self.timeout {
            a = a.with_timeout(t);
        }
        Ok(Box::new(a))
    }
}

impl CarrierConnector for HttpConnector {
    fn connect(&self, c: &EffectiveCredentials) -> Result<Box<dyn Carrier>, CarrierError> {
        if c.gateway.kind == CarrierKind::Fedex {
            if c.version.auth_type != GatewayAuthType::Oauth2ClientCredentials {
                return Err(CarrierError::NotSupported(format!(
                    "FedEx takes OAuth2 client credentials, not {}",
                    c.version.auth_type.as_str()
                )));
            }
            return self.fedex(c);
        }
        if c.version.auth_type != GatewayAuthType::ApiKey {
            return Err(CarrierError::NotSupported(format!(
                "{} credentials are not supported by the {} adapter",
                c.version.auth_type.as_str(),
                c.gateway.kind.as_str()
            )));
        }
        let key =
            c.secrets.api_key.as_ref().ok_or_else(|| {
                CarrierError::AuthFailed("the credentials have no API key".into())
            })?;
        let credentials = Credentials::new(c.version.base_url.clone(), key.expose_secret());
        Ok(match c.gateway.kind {
            CarrierKind::Easypost => {
                let mut a = crate::easypost::EasyPost::new(credentials)
                    .with_client(self.client.clone())
                    .with_policy(self.policy.clone());
                if let Some(t) = self.timeout {
                    a = a.with_timeout(t);
                }
                Box::new(a)
            }
            CarrierKind::Shippo => {
                let mut a = crate::shippo::Shippo::new(credentials)
                    .with_client(self.client.clone())
                    .with_policy(self.policy.clone());
                if let Some(t) = self.timeout {
                    a = a.with_timeout(t);
                }
                Box::new(a)
            }
            CarrierKind::Fedex => return self.fedex(c),
        })
    }
}
