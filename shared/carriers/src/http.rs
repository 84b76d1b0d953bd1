//! The one request helper both adapters use: a client with a timeout and no redirects (a
//! redirect would carry the key to wherever it points), every request's URL checked against
//! the outbound policy before anything is sent, bounded retries with exponential backoff,
//! status-first error mapping, and the API key kept out of every message.
//!
//! Error text comes only from the carrier's parsed error fields; a body that is not one of its
//! error shapes (an HTML page of some proxy or internal host) is never quoted.
//!
//! Retries: idempotent calls are retried on 429, 408, 5xx, timeouts and connection errors.
//! Purchases and voids are retried only when the carrier cannot have acted: on 429 and when
//! the connection was never made. A 5xx or a timeout may come after the carrier bought the
//! label, and buying it again would charge twice.

use std::fmt;
use std::time::Duration;

use domain::outbound::{NO_PUBLIC_ADDRESS, OutboundPolicy};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use app::ports::carrier::CarrierError;

use crate::oauth::AccessToken;
use crate::wire::Credentials;

/// How long one attempt may take, connect to last byte, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` waited out in-line; a longer one is returned to the caller as
/// `RateLimited` instead of holding the request open.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Carrier responses are a few KB; anything far larger is not one of them.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The most of a carrier's own error text a message carries.
const MAX_ERROR_CHARS: usize = 500;
/// Keys shorter than this are not scrubbed from messages (it would mangle ordinary text); real
/// keys are far longer.
const MIN_REDACTED_KEY: usize = 6;

/// How often, and how patiently, a failed call is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait; each further wait doubles it.
    pub base: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            base: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): base, 2×base, 4×base, …
    fn backoff(&self, retry: u32) -> Duration {
        self.base.saturating_mul(2u32.saturating_pow(retry))
    }
}

/// Whether the carrier may have acted on a request that failed without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// Quotes, tracking, reads: repeating is harmless.
    Idempotent,
    /// Purchases and voids: repeat only what the carrier cannot have seen.
    NonIdempotent,
}

/// The options every adapter over [`Http`] (in its `http` field) offers its builder.
macro_rules! http_options {
    ($adapter:ty) => {
        impl $adapter {
            /// Retries and backoff (tests make them fast).
            pub fn with_retry(mut self, retry: $crate::RetryPolicy) -> Self {
                self.http.set_retry(retry);
                self
            }

            /// The time one attempt may take (default 10 s).
            pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.http.set_timeout(timeout);
                self
            }

            /// Calls go through `client` — the caller's guarded outbound client (no redirects;
            /// outside dev mode, public addresses only).
            pub fn with_client(mut self, client: reqwest::Client) -> Self {
                self.http.set_client(client);
                self
            }

            /// Where calls may go: every request's URL is checked against `policy` before
            /// anything is sent (default: public https only). Give the policy the client was
            /// built with.
            pub fn with_policy(mut self, policy: domain::outbound::OutboundPolicy) -> Self {
                self.http.set_policy(policy);
                self
            }
        }
    };
}
pub(crate) use http_options;

/// How the key goes on the wire.
pub(crate) enum Auth {
    /// HTTP Basic with the key as the user name and an empty password (EasyPost).
    Basic(SecretString),
    /// `Authorization: <scheme> <key>` (Shippo: `ShippoToken`).
    Token(&'static str, SecretString),
    /// `Authorization: Bearer <token>`, the OAuth2 token given with each call (FedEx).
    Bearer,
}

impl Auth {
    /// The long-lived key, if the calls carry one.
    fn key(&self) -> Option<&str> {
        match self {
            Auth::Basic(key) | Auth::Token(_, key) => Some(key.expose_secret()),
            Auth::Bearer => None,
        }
    }
}

/// What makes one carrier's HTTP different from another's.
pub(crate) struct Flavour {
    /// Its name in messages ("EasyPost").
    pub name: &'static str,
    /// The carrier's own text out of an error body, from its parsed error fields only; `None`
    /// when the body is not one of the carrier's error shapes.
    pub error_text: fn(&[u8]) -> Option<String>,
    /// Headers sent on every call (e.g. a pinned API version).
    pub headers: &'static [(&'static str, &'static str)],
}

/// Why one attempt failed, which decides whether it is tried again.
enum Kind {
    /// Retrying cannot help (4xx, unreadable config).
    Final,
    /// The connection was never made, so the carrier saw nothing.
    NotSent,
    /// A 5xx, 408, timeout or broken connection: the carrier may have acted.
    Transient,
    /// 429, with the carrier's `Retry-After` if it sent one.
    Throttled(Option<Duration>),
}

struct Failure {
    error: CarrierError,
    kind: Kind,
}

impl Failure {
    fn final_(error: CarrierError) -> Self {
        Self {
            error,
            kind: Kind::Final,
        }
    }
}

/// The client of adapters not given one: built once per process (building one loads the
/// system's root certificates), no redirects.
fn default_client() -> Result<Client, String> {
    static CLIENT: std::sync::OnceLock<Result<Client, String>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| error_chain(&e.without_url()))
        })
        .clone()
}

pub(crate) struct Http {
    /// Building a client only fails when the TLS backend cannot start; that is reported on
    /// each call rather than panicking in a constructor.
    client: Result<Client, String>,
    /// Where requests may go; checked on every request's URL before it is sent.
    policy: OutboundPolicy,
    base_url: String,
    auth: Auth,
    flavour: Flavour,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("carrier", &self.flavour.name)
            .field("base_url", &self.base_url)
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Http {
    /// Under the production policy (public https only) until given another.
    pub(crate) fn new(flavour: Flavour, credentials: &Credentials, auth: Auth) -> Self {
        Self::at(flavour, credentials.base_url.clone(), auth)
    }

    /// Calls to `base_url`, authenticated by `auth`.
    pub(crate) fn at(flavour: Flavour, base_url: String, auth: Auth) -> Self {
        Self {
            client: default_client(),
            policy: OutboundPolicy::production(),
            base_url,
            auth,
            flavour,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    pub(crate) fn set_retry(&mut self, retry: RetryPolicy) {
        self.retry = retry;
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Calls go through `client` (e.g. one that refuses private addresses; it must not follow
    /// redirects).
    pub(crate) fn set_client(&mut self, client: Client) {
        self.client = Ok(client);
    }

    pub(crate) fn set_policy(&mut self, policy: OutboundPolicy) {
        self.policy = policy;
    }

    /// A GET, retried freely, its body parsed as `T`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: Option<&str>,
    ) -> Result<T, CarrierError> {
        let url = self.url(path, query)?;
        let body = self
            .send(Method::GET, url, None, Call::Idempotent, None)
            .await?;
        self.parse(&body)
    }

    /// A POST of `body` (none if `None`), its answer parsed as `T`.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: Option<&Value>,
        call: Call,
    ) -> Result<T, CarrierError> {
        self.call(Method::POST, path, body, call, None).await
    }

    /// Any method with `body`, carrying `bearer` when the calls authenticate by token; its
    /// answer parsed as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        body: Option<&Value>,
        call: Call,
        bearer: Option<&AccessToken>,
    ) -> Result<T, CarrierError> {
        let url = self.url(path, None)?;
        let body = self.send(method, url, body, call, bearer).await?;
        self.parse(&body)
    }

    /// `base_url` + the path segments, each percent-encoded (ids cannot add segments or `..`).
    fn url(&self, path: &[&str], query: Option<&str>) -> Result<Url, CarrierError> {
        let bad =
            |why: &str| CarrierError::Rejected(format!("the {} base URL {why}", self.flavour.name));
        let mut url = Url::parse(&self.base_url).map_err(|_| bad("is not a URL"))?;
        url.path_segments_mut()
            .map_err(|_| bad("cannot take a path"))?
            .pop_if_empty()
            .extend(path);
        url.set_query(query);
        Ok(url)
    }

    /// Sends with retries; the body of the first 2xx answer, or the last failure.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        call: Call,
        bearer: Option<&AccessToken>,
    ) -> Result<Vec<u8>, CarrierError> {
        // Refused before any connection: the URL may have been written into the store without
        // the checks of the use case that sets it, and an IP-literal host never reaches the
        // client's resolver, where names are checked.
        self.policy.permits(&url).map_err(|why| {
            CarrierError::Rejected(format!(
                "the {} base URL is not allowed: it {why}",
                self.flavour.name
            ))
        })?;
        let mut retry = 0;
        loop {
            let failure = match self
                .attempt(method.clone(), url.clone(), body, bearer)
                .await
            {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let wait = if retry < self.retry.retries {
                self.wait_before_retry(&failure.kind, call, retry)
            } else {
                None
            };
            let Some(wait) = wait else {
                return Err(failure.error);
            };
            retry += 1;
            tracing::warn!(
                carrier = self.flavour.name,
                %method,
                path = url.path(),
                retry,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %failure.error,
                "carrier call failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// `None` when the failure must not be retried.
    fn wait_before_retry(&self, kind: &Kind, call: Call, retry: u32) -> Option<Duration> {
        let backoff = self.retry.backoff(retry);
        match kind {
            Kind::Final => None,
            Kind::NotSent => Some(backoff),
            Kind::Transient => (call == Call::Idempotent).then_some(backoff),
            Kind::Throttled(Some(after)) if *after > MAX_RETRY_AFTER => None,
            Kind::Throttled(Some(after)) if !after.is_zero() => Some(*after),
            Kind::Throttled(_) => Some(backoff),
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<Vec<u8>, Failure> {
        let request = self.request(method, url, body, bearer)?;
        let mut response = request
            .send()
            .await
            .map_err(|e| self.transport(e, bearer))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = read_body(&mut response).await.map_err(|e| match e {
            BodyError::Transport(e) => self.transport(e, bearer),
            BodyError::TooLarge => Failure::final_(CarrierError::Rejected(format!(
                "the {} response is larger than {MAX_BODY_BYTES} bytes",
                self.flavour.name
            ))),
        })?;
        if status.is_success() {
            return Ok(body);
        }
        Err(self.status_failure(status, retry_after, &body, bearer))
    }

    fn request(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        bearer: Option<&AccessToken>,
    ) -> Result<RequestBuilder, Failure> {
        let client = self.client.as_ref().map_err(|e| {
            Failure::final_(CarrierError::Unavailable(format!(
                "the HTTP client could not be built: {e}"
            )))
        })?;
        let mut request = client
            .request(method, url)
            .timeout(self.timeout)
            .header(
                USER_AGENT,
                concat!("tenantoms-carriers/", env!("CARGO_PKG_VERSION")),
            )
            .header(ACCEPT, "application/json");
        for (name, value) in self.flavour.headers {
            request = request.header(*name, *value);
        }
        request = match &self.auth {
            Auth::Basic(key) => request.basic_auth(key.expose_secret(), Some("")),
            Auth::Token(scheme, key) => {
                let mut value = HeaderValue::from_str(&format!("{scheme} {}", key.expose_secret()))
                    .map_err(|_| {
                        Failure::final_(CarrierError::AuthFailed(format!(
                            "the {} API key has characters an HTTP header cannot carry",
                            self.flavour.name
                        )))
                    })?;
                value.set_sensitive(true);
                request.header(AUTHORIZATION, value)
            }
            Auth::Bearer => {
                let token = bearer.ok_or_else(|| {
                    Failure::final_(CarrierError::AuthFailed(format!(
                        "no {} access token for the call",
                        self.flavour.name
                    )))
                })?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        Failure::final_(CarrierError::AuthFailed(format!(
                            "the {} access token has characters an HTTP header cannot carry",
                            self.flavour.name
                        )))
                    })?;
                value.set_sensitive(true);
                request.header(AUTHORIZATION, value)
            }
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        Ok(request)
    }

    /// A request that got no (complete) answer.
    fn transport(&self, e: reqwest::Error, bearer: Option<&AccessToken>) -> Failure {
        let (connect, timeout) = (e.is_connect(), e.is_timeout());
        let detail = self.redact(error_chain(&e.without_url()), bearer);
        // The outbound client's connect-time check refused every address the host resolves
        // to: final, like a URL refused before sending.
        if detail.contains(NO_PUBLIC_ADDRESS) {
            return Failure::final_(CarrierError::Rejected(format!(
                "the {} base URL is not allowed: its host {NO_PUBLIC_ADDRESS}",
                self.flavour.name
            )));
        }
        let (kind, what) = if connect {
            (Kind::NotSent, "could not connect")
        } else if timeout {
            (Kind::Transient, "timed out")
        } else {
            (Kind::Transient, "failed")
        };
        Failure {
            error: CarrierError::Unavailable(format!(
                "{} request {what}: {detail}",
                self.flavour.name
            )),
            kind,
        }
    }

    /// A non-2xx answer, classified by status; the carrier's parsed error text is the detail,
    /// and a body that is not one of its error shapes is never quoted.
    fn status_failure(
        &self,
        status: StatusCode,
        retry_after: Option<Duration>,
        body: &[u8],
        bearer: Option<&AccessToken>,
    ) -> Failure {
        let message = match (self.flavour.error_text)(body) {
            Some(detail) => format!(
                "{} answered {}: {}",
                self.flavour.name,
                status.as_u16(),
                self.redact(bounded(&detail), bearer)
            ),
            None => format!(
                "{}: unreadable answer (HTTP {})",
                self.flavour.name,
                status.as_u16()
            ),
        };
        match status.as_u16() {
            401 | 403 => Failure::final_(CarrierError::AuthFailed(message)),
            429 => Failure {
                error: CarrierError::RateLimited {
                    retry_after_secs: retry_after.map(|d| d.as_secs()),
                },
                kind: Kind::Throttled(retry_after),
            },
            408 | 500..=599 => Failure {
                error: CarrierError::Unavailable(message),
                kind: Kind::Transient,
            },
            _ => Failure::final_(CarrierError::Rejected(message)),
        }
    }

    /// A 2xx body as `T`; one that does not parse is a malformed answer (`Malformed`), told by
    /// where it stops parsing — never by quoting it (the parser's own message can quote it).
    pub(crate) fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, CarrierError> {
        serde_json::from_slice(body).map_err(|e| {
            CarrierError::Malformed(format!(
                "malformed {} response (unreadable at line {}, column {})",
                self.flavour.name,
                e.line(),
                e.column()
            ))
        })
    }

    /// Scrubs the key and the call's token from text that came from outside (a carrier could
    /// echo either back).
    fn redact(&self, text: String, bearer: Option<&AccessToken>) -> String {
        [self.auth.key(), bearer.map(AccessToken::expose)]
            .into_iter()
            .flatten()
            .filter(|secret| secret.len() >= MIN_REDACTED_KEY)
            .fold(text, |text, secret| {
                if text.contains(secret) {
                    text.replace(secret, "[redacted]")
                } else {
                    text
                }
            })
    }
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

async fn read_body(response: &mut Response) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: backoff applies instead).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// An error and its causes, one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// At most [`MAX_ERROR_CHARS`] characters of a carrier's error text.
fn bounded(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The carrier's error text: the body, when it is JSON with a `message`.
    fn error_text(body: &[u8]) -> Option<String> {
        let v: Value = serde_json::from_slice(body).ok()?;
        v.get("message")?.as_str().map(str::to_owned)
    }

    fn http(base: &str, key: &str) -> Http {
        Http::new(
            Flavour {
                name: "Test",
                error_text,
                headers: &[],
            },
            &Credentials::new(base, key),
            Auth::Basic(SecretString::from(key)),
        )
    }

    #[test]
    fn backoff_doubles() {
        let p = RetryPolicy {
            retries: 3,
            base: Duration::from_millis(10),
        };
        let waits: Vec<_> = (0..4).map(|r| p.backoff(r).as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 80]);
        assert_eq!(
            RetryPolicy {
                retries: 1,
                base: Duration::MAX
            }
            .backoff(40),
            Duration::MAX
        );
    }

    #[test]
    fn only_safe_failures_of_purchases_are_retried() {
        let h = http("http://127.0.0.1:1", "secret-key");
        let wait = |kind: Kind, call| h.wait_before_retry(&kind, call, 0);
        let base = Some(Duration::from_millis(200));
        assert_eq!(wait(Kind::Transient, Call::Idempotent), base);
        assert_eq!(wait(Kind::Transient, Call::NonIdempotent), None);
        assert_eq!(wait(Kind::NotSent, Call::NonIdempotent), base);
        assert_eq!(wait(Kind::Final, Call::Idempotent), None);
        assert_eq!(wait(Kind::Throttled(None), Call::NonIdempotent), base);
        assert_eq!(
            wait(
                Kind::Throttled(Some(Duration::from_secs(2))),
                Call::NonIdempotent
            ),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            wait(
                Kind::Throttled(Some(MAX_RETRY_AFTER + Duration::from_secs(1))),
                Call::Idempotent
            ),
            None
        );
    }

    #[test]
    fn urls_keep_ids_in_one_segment() {
        let h = http("https://api.example.com/", "secret-key");
        let url = h
            .url(&["v2", "shipments", "../users", "buy"], None)
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v2/shipments/..%2Fusers/buy"
        );
        let url = h.url(&["v2", "addresses"], Some("page_size=1")).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v2/addresses?page_size=1"
        );
        assert!(http("not a url", "secret-key").url(&["x"], None).is_err());
    }

    #[test]
    fn messages_never_carry_the_key() {
        let h = http("http://127.0.0.1:1", "secret-key");
        let f = h.status_failure(
            StatusCode::UNAUTHORIZED,
            None,
            br#"{"message": "key secret-key is not valid"}"#,
            None,
        );
        assert_eq!(f.error.code(), "carrier_auth_failed");
        assert!(!f.error.to_string().contains("secret-key"), "{}", f.error);
        let e = h.parse::<Value>(b"<html>secret-key</html>").unwrap_err();
        assert!(!e.to_string().contains("secret-key"), "{e}");
        assert_eq!(e.code(), "carrier_rejected");
    }

    #[test]
    fn statuses_map() {
        let h = http("http://127.0.0.1:1", "secret-key");
        let code = |s: u16| {
            h.status_failure(StatusCode::from_u16(s).unwrap(), None, b"", None)
                .error
                .code()
        };
        assert_eq!(code(400), "carrier_rejected");
        assert_eq!(code(402), "carrier_rejected");
        assert_eq!(code(403), "carrier_auth_failed");
        assert_eq!(code(404), "carrier_rejected");
        assert_eq!(code(422), "carrier_rejected");
        assert_eq!(code(429), "rate_limited");
        assert_eq!(code(502), "carrier_unavailable");
    }

    #[test]
    fn error_texts_are_bounded() {
        let long = "é".repeat(MAX_ERROR_CHARS + 10);
        assert_eq!(bounded(&long).chars().count(), MAX_ERROR_CHARS + 1);
        assert_eq!(bounded("  short "), "short");
    }

    /// An answer that is not the carrier's error shape — an internal host's HTML page, a
    /// proxy's text — is never quoted, whatever its status; a 2xx body that does not parse
    /// neither.
    #[test]
    fn unparsed_bodies_are_never_quoted() {
        let h = http("https://api.example.com", "secret-key");
        let page = b"<html><title>Jenkins</title>internal-build-token=abc123</html>";
        for status in [400, 401, 404, 429, 500, 502] {
            let f = h.status_failure(StatusCode::from_u16(status).unwrap(), None, page, None);
            let text = f.error.to_string();
            assert!(
                !text.contains("Jenkins") && !text.contains("abc123"),
                "{text}"
            );
            if status != 429 {
                assert!(
                    text.ends_with(&format!("Test: unreadable answer (HTTP {status})")),
                    "{text}"
                );
            }
        }
        let f = h.status_failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            br#"{"message": "zip is invalid"}"#,
            None,
        );
        assert_eq!(
            f.error.to_string(),
            "carrier rejected the request: Test answered 422: zip is invalid"
        );
        let e = h
            .parse::<Vec<u32>>(br#"["internal-build-token=abc123"]"#)
            .unwrap_err();
        assert!(!e.to_string().contains("abc123"), "{e}");
        assert_eq!(
            e.to_string(),
            "malformed carrier response: malformed Test response (unreadable at line 1, column 30)"
        );
    }

    /// A URL the policy refuses is refused before the client is used at all.
    #[tokio::test]
    async fn refused_urls_are_never_requested() {
        for base in [
            "http://api.example.com",
            "https://127.0.0.1:9001",
            "https://10.0.0.1",
            "https://169.254.169.254",
            "https://[::1]:8443",
            "https://localhost",
        ] {
            let mut h = http(base, "secret-key");
            h.client = Err("no client: nothing may be sent".into());
            let e = h
                .get::<Value>(&["v2", "addresses"], None)
                .await
                .unwrap_err();
            assert_eq!(e.code(), "carrier_rejected", "{base}: {e}");
            assert!(e.to_string().contains("not allowed"), "{base}: {e}");
        }
        let mut h = http("http://127.0.0.1:9001", "secret-key");
        h.set_policy(OutboundPolicy::dev());
        h.client = Err("no client".into());
        let e = h.get::<Value>(&["x"], None).await.unwrap_err();
        assert!(
            e.to_string().contains("no client"),
            "dev mode lets it through: {e}"
        );
    }
}
