//! The guard on URLs the service fetches (JWKS now; notification and carrier URLs later): outside
//! dev mode only https, and never loopback, private, link-local or metadata addresses.

use std::net::IpAddr;

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

#[cfg(test)]
mod tests {
    use super::*;

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
