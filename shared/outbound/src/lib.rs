//! The guard on URLs the service fetches — JWKS, tenants' notification URLs, carriers' base
//! URLs — under one [`OutboundPolicy`] (`domain::outbound`): outside dev mode only https, and
//! never loopback, private, link-local, metadata or other non-public addresses, unless the
//! deployment's allow-list names the target. Checked on the URL before every request (an
//! IP-literal host never reaches a resolver, so this is where it is refused) and again on every
//! address a name resolves to, at connect time ([`GuardedResolver`]), so DNS rebinding between
//! check and connect cannot pass. No redirects are followed. Every client trusts the process's
//! one reading of the system's root certificates ([`roots`]).

pub mod roots;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use domain::outbound::NO_PUBLIC_ADDRESS;
use domain::outbound::{OutboundPolicy, non_public};
use domain::ports::{NotificationSender, OutboundPost, SendError, SendFuture};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The system's resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Resolves names through `inner` and keeps only public addresses (all of them for a name the
/// allow-list opens); a name that resolves to nothing public fails to connect.
pub struct GuardedResolver {
    inner: Arc<dyn Resolve>,
    policy: Arc<OutboundPolicy>,
}

impl GuardedResolver {
    pub fn new(inner: Arc<dyn Resolve>, policy: OutboundPolicy) -> Self {
        Self {
            inner,
            policy: Arc::new(policy),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.policy.allows_name(&host);
        let resolving = self.inner.resolve(name);
        Box::pin(async move {
            let all: Vec<SocketAddr> = resolving.await?.collect();
            let public: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| allowed || non_public(a.ip()).is_none())
                .collect();
            if public.is_empty() {
                return Err(format!("{host} {NO_PUBLIC_ADDRESS}").into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The outbound client's configuration under `policy`, names resolved by `resolver` (the
/// system's when `None`; tests inject one): the process's shared roots ([`crate::roots`]), no
/// redirects, and outside dev mode every resolved
/// address checked ([`GuardedResolver`]) and no proxy from the environment (a proxy would
/// resolve the target itself, past the check). Requests must still be checked with
/// [`OutboundPolicy::permits`] first: IP-literal hosts are never resolved.
pub fn builder(
    policy: &OutboundPolicy,
    resolver: Option<Arc<dyn Resolve>>,
) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let builder = match crate::roots::client_config() {
        Ok(tls) => builder.tls_backend_preconfigured(tls),
        Err(e) => {
            tracing::error!("the shared TLS configuration failed, reqwest loads its own: {e}");
            builder
        }
    };
    if policy.dev_mode() {
        return match resolver {
            Some(r) => builder.dns_resolver(r),
            None => builder,
        };
    }
    let inner = resolver.unwrap_or_else(|| Arc::new(SystemResolver));
    builder
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver::new(inner, policy.clone())))
}

/// The HTTP client for outbound calls under `policy` (see [`builder`]). One per process and
/// policy, shared by every caller (JWKS, carriers, notifications). Callers set their timeout on
/// each request.
pub fn client(policy: &OutboundPolicy) -> Result<reqwest::Client, String> {
    type Built = Vec<(OutboundPolicy, Result<reqwest::Client, String>)>;
    static CLIENTS: Mutex<Built> = Mutex::new(Vec::new());
    let mut clients = CLIENTS
        .lock()
        .map_err(|_| "the outbound client cache is poisoned".to_owned())?;
    if let Some((_, built)) = clients.iter().find(|(p, _)| p == policy) {
        return built.clone();
    }
    let built = builder(policy, None)
        .build()
        .map_err(|e| format!("cannot build the outbound HTTP client: {e}"));
    clients.push((policy.clone(), built.clone()));
    built
}

/// Checks a URL before it is fetched under `policy`.
pub fn check(policy: &OutboundPolicy, url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    policy.permits(&parsed)?;
    Ok(parsed)
}

/// Checks a URL before it is fetched, under the policy of the mode (no allow-list).
pub fn check_url(url: &str, dev_mode: bool) -> Result<reqwest::Url, String> {
    check(&OutboundPolicy::for_mode(dev_mode), url)
}

/// Posts notifications with the guarded client: the URL is checked first (outside dev mode
/// only public https), every resolved address at connect time, no redirects followed.
pub struct HttpSender {
    client: reqwest::Client,
    timeout: std::time::Duration,
    policy: OutboundPolicy,
}

impl HttpSender {
    /// Under the policy of the mode (no allow-list).
    pub fn new(timeout: std::time::Duration, dev_mode: bool) -> Result<Self, String> {
        Self::with_policy(timeout, OutboundPolicy::for_mode(dev_mode))
    }

    pub fn with_policy(
        timeout: std::time::Duration,
        policy: OutboundPolicy,
    ) -> Result<Self, String> {
        Ok(Self {
            client: client(&policy)?,
            timeout,
            policy,
        })
    }
}

impl NotificationSender for HttpSender {
    fn post<'a>(&'a self, request: OutboundPost<'a>) -> SendFuture<'a> {
        Box::pin(async move {
            let url = check(&self.policy, request.url).map_err(SendError::Refused)?;
            let mut req = self
                .client
                .post(url)
                .timeout(self.timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(request.body.to_vec());
            for (name, value) in &request.headers {
                req = req.header(*name, value);
            }
            let response = req.send().await.map_err(|e| {
                // The guarded resolver's refusal is final; anything else may pass later.
                let text = format!("{e:?}");
                if text.contains(NO_PUBLIC_ADDRESS) {
                    SendError::Refused("the host resolves to no public address".into())
                } else {
                    SendError::Failed(e.without_url().to_string())
                }
            })?;
            let status = response.status();
            if status.is_success() {
                Ok(status.as_u16())
            } else if status.is_server_error()
                || status == reqwest::StatusCode::REQUEST_TIMEOUT
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            {
                Err(SendError::Failed(format!("the receiver answered {status}")))
            } else {
                Err(SendError::Refused(format!(
                    "the receiver answered {status}"
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that passes the literal-host check but resolves to loopback (here the hosts
    /// file's `localhost` entry, as a rebinding record would) is refused at resolution.
    #[tokio::test]
    async fn resolved_private_addresses_are_refused() {
        let guarded = GuardedResolver::new(Arc::new(SystemResolver), OutboundPolicy::production());
        let name: Name = "localhost".parse().unwrap();
        let err = guarded.resolve(name).await.err().unwrap();
        assert!(err.to_string().contains(NO_PUBLIC_ADDRESS), "{err}");
        // Unless the allow-list names it.
        let allowed = OutboundPolicy::production()
            .allowing(OutboundPolicy::parse_allow_list("localhost:9001").unwrap());
        let guarded = GuardedResolver::new(Arc::new(SystemResolver), allowed);
        let name: Name = "localhost".parse().unwrap();
        assert!(guarded.resolve(name).await.is_ok());
    }

    #[test]
    fn production_allows_only_public_https() {
        assert!(check_url("https://idp.example.com/jwks", false).is_ok());
        for bad in [
            "http://idp.example.com/jwks",
            "https://localhost/jwks",
            "https://127.0.0.1/jwks",
            "https://10.0.0.8/jwks",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/jwks",
            "https://[::ffff:127.0.0.1]/jwks",
            "https://[fd00::1]/jwks",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad} allowed");
        }
        assert!(check_url("http://127.0.0.1:8080/jwks", true).is_ok());
        assert!(check_url("file:///etc/passwd", true).is_err());
    }
}
