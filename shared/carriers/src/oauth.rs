//! OAuth2 client credentials for the carriers that use them (FedEx; UPS and DHL work the same):
//! one token per credential version and key pair, fetched with its client id and secret, cached
//! until shortly before it expires, fetched once however many calls wait for it, and fetched
//! again once after the carrier refused it. A token or a secret is never logged and never in an
//! error's text (`Debug` shows neither).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::ports::carrier::CarrierError;
use domain::Clock;
use domain::outbound::OutboundPolicy;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A token is used until this many seconds before it expires (a call in flight must not
/// outlive it).
pub const EXPIRY_MARGIN_SECS: i64 = 60;

/// The longest a token endpoint may take.
const TOKEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A bearer token. Debug never shows it.
#[derive(Clone)]
pub struct AccessToken(SecretString);

impl AccessToken {
    /// The token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    fn same_as(&self, other: &AccessToken) -> bool {
        self.expose() == other.expose()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(…)")
    }
}

/// Where a token comes from: the endpoint and the client credentials.
#[derive(Clone)]
pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// The token of one credential version and key pair.
pub struct TokenSource {
    credentials: ClientCredentials,
    client: reqwest::Client,
    policy: OutboundPolicy,
    clock: Arc<dyn Clock>,
    /// The token and when it stops being used (unix seconds). Held across a fetch: the calls
    /// that wait for a token wait for the one fetch under way.
    cached: tokio::sync::Mutex<Option<(AccessToken, i64)>>,
}

impl TokenSource {
    pub fn new(
        credentials: ClientCredentials,
        client: reqwest::Client,
        policy: OutboundPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            credentials,
            client,
            policy,
            clock,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A token good for a call now: the cached one, or one fetched (once for every caller
    /// waiting).
    pub async fn token(&self) -> Result<AccessToken, CarrierError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && self.clock.now_secs() < *until
        {
            return Ok(token.clone());
        }
        let fresh = self.fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh.0)
    }

    /// A token after the carrier refused `stale`: a new one is fetched once, unless another
    /// caller already replaced `stale`.
    pub async fn refresh(&self, stale: &AccessToken) -> Result<AccessToken, CarrierError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && !token.same_as(stale)
            && self.clock.now_secs() < *until
        {
            return Ok(token.clone());
        }
        *cached = None;
        let fresh = self.fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh.0)
    }

    async fn fetch(&self) -> Result<(AccessToken, i64), CarrierError> {
        let url = reqwest::Url::parse(&self.credentials.token_url)
            .map_err(|_| CarrierError::Rejected("the token URL does not parse".into()))?;
        self.policy.permits(&url).map_err(|why| {
            CarrierError::Rejected(format!("the token URL is not allowed: it {why}"))
        })?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.credentials.client_id)
            .append_pair(
                "client_secret",
                self.credentials.client_secret.expose_secret(),
            )
            .finish();
        let sent = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .timeout(TOKEN_TIMEOUT)
            .body(form)
            .send()
            .await;
        // The transport's error names the URL at most; never the form.
        let resp = sent.map_err(|e| {
            CarrierError::Unavailable(format!(
                "the token endpoint cannot be reached ({})",
                if e.is_timeout() {
                    "timed out"
                } else {
                    "no connection"
                }
            ))
        })?;
        let status = resp.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(CarrierError::Unavailable(format!(
                "the token endpoint answered {}",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(CarrierError::AuthFailed(format!(
                "the token endpoint refused the client credentials ({})",
                status.as_u16()
            )));
        }
        let body = resp.bytes().await.map_err(|_| {
            CarrierError::Unavailable("the token endpoint's answer was cut off".into())
        })?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            CarrierError::Malformed("the token endpoint's answer is not a token".into())
        })?;
        if answer.access_token.is_empty() {
            return Err(CarrierError::Malformed(
                "the token endpoint answered an empty token".into(),
            ));
        }
        let lifetime = answer.expires_in.unwrap_or(3_600).max(0);
        let until = self.clock.now_secs() + (lifetime - EXPIRY_MARGIN_SECS).max(0);
        Ok((AccessToken(SecretString::from(answer.access_token)), until))
    }
}

/// The token sources of a process, one per credential version and key pair: a rotated
/// credential version (a new id) never uses the old version's token.
#[derive(Default)]
pub struct TokenSources(Mutex<HashMap<(String, String), Arc<TokenSource>>>);

impl TokenSources {
    /// The source of `version`'s tokens with `credentials`, made on first use.
    pub fn source(
        &self,
        version: &str,
        credentials: &ClientCredentials,
        make: impl FnOnce() -> TokenSource,
    ) -> Arc<TokenSource> {
        let key = (version.to_owned(), credentials.client_id.clone());
        let Ok(mut map) = self.0.lock() else {
            return Arc::new(make());
        };
        map.entry(key).or_insert_with(|| Arc::new(make())).clone()
    }
}
