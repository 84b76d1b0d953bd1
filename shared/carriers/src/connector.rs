//! The connector over HTTP: which adapter serves a tenant's credentials in force.

use app::ports::carrier::{Carrier, CarrierConnector, CarrierError, EffectiveCredentials};
use domain::gateway::{CarrierKind, GatewayAuthType};
use secrecy::ExposeSecret;

use crate::wire::Credentials;

/// The connector over HTTP: EasyPost or Shippo by the gateway's kind, every call through the
/// guarded outbound client and every request's URL checked against its policy first.
pub struct HttpConnector {
    client: reqwest::Client,
    policy: domain::outbound::OutboundPolicy,
    /// The time one carrier request may take (the adapters' default, 10 s, when unset).
    timeout: Option<std::time::Duration>,
}

impl HttpConnector {
    /// `client` must be the outbound client built for `policy` (`outbound_http::client`).
    pub fn new(client: reqwest::Client, policy: domain::outbound::OutboundPolicy) -> Self {
        Self {
            client,
            policy,
            timeout: None,
        }
    }

    /// One carrier request's time limit (tests shorten it).
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl CarrierConnector for HttpConnector {
    fn connect(&self, c: &EffectiveCredentials) -> Result<Box<dyn Carrier>, CarrierError> {
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
        })
    }
}
