//! The guard on URLs the service fetches (JWKS now; notification and carrier URLs later): outside
//! dev mode only https, and never loopback, private, link-local or metadata addresses — checked
//! on the URL's literal host before the request and again on every address a name resolves to,
//! at connect time (`GuardedResolver`), so DNS rebinding between check and connect cannot pass.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use domain::ports::{NotificationSender, OutboundPost, SendError, SendFuture};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves names for outbound clients and keeps only public addresses; a name that resolves to
/// nothing public fails to connect.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| check_ip(a.ip()).is_ok())
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client for outbound calls: no redirects and (outside dev mode) only public
/// addresses at connect time. One per process and mode, shared by every caller (JWKS, carriers,
/// notifications): building one loads the system's root certificates, which costs milliseconds
/// of a cold start each time. Callers set their timeout on each request.
pub fn client(dev_mode: bool) -> Result<reqwest::Client, String> {
    static GUARDED: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    static DEV: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    let cell = if dev_mode { &DEV } else { &GUARDED };
    cell.get_or_init(|| {
        let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        let builder = if dev_mode {
            builder
        } else {
            builder.dns_resolver(Arc::new(GuardedResolver))
        };
        builder
            .build()
            .map_err(|e| format!("cannot build the outbound HTTP client: {e}"))
    })
    .clone()
}

/// Checks a URL before it is fetched.
pub fn check_url(url: &str, dev_mode: bool) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if dev_mode {
        return match parsed.scheme() {
            "http" | "https" => Ok(parsed),
            other => Err(format!("scheme {other} is not allowed")),
        };
    }
    if parsed.scheme() != "https" {
        return Err("only https URLs are allowed".into());
    }
    match parsed.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal") {
                return Err(format!("host {d} is not allowed"));
            }
        }
        Some(url::Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip))?,
        Some(url::Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip))?,
        None => return Err("URL has no host".into()),
    }
    Ok(parsed)
}

fn check_ip(ip: IpAddr) -> Result<(), String> {
    let bad = match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xC0) == 64 // carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| check_ip(IpAddr::V4(v4)).is_err())
        }
    };
    if bad {
        Err(format!("address {ip} is not allowed"))
    } else {
        Ok(())
    }
}

/// Posts notifications with the guarded client: the URL is checked first (outside dev mode
/// only public https), every resolved address at connect time, no redirects followed.
pub struct HttpSender {
    client: reqwest::Client,
    timeout: std::time::Duration,
    dev_mode: bool,
}

impl HttpSender {
    pub fn new(timeout: std::time::Duration, dev_mode: bool) -> Result<Self, String> {
        Ok(Self {
            client: client(dev_mode)?,
            timeout,
            dev_mode,
        })
    }
}

impl NotificationSender for HttpSender {
    fn post<'a>(&'a self, request: OutboundPost<'a>) -> SendFuture<'a> {
        Box::pin(async move {
            let url = check_url(request.url, self.dev_mode).map_err(SendError::Refused)?;
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
                if text.contains("no public address") {
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
        let name: Name = "localhost".parse().unwrap();
        let err = GuardedResolver.resolve(name).await.err().unwrap();
        assert!(err.to_string().contains("no public address"), "{err}");
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
