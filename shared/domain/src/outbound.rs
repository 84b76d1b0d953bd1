//! The outbound policy: which URLs the service may call when a tenant or the SaaS provider sets
//! them (carrier base and token URLs, the gateway catalogue's URLs, notification URLs).
//!
//! Outside dev mode only `https` URLs whose host is a public name or a public address; in dev
//! mode any `http(s)` URL. An explicit allow-list of `host:port` targets (the deployment's
//! configuration) is the one exception: exactly those targets, over http or https.
//!
//! This is the syntactic half, pure: the scheme, the host and the classification of addresses.
//! The same rules are applied when a URL is set (a refusal names the field) and again before
//! every request (the outbound client refuses an IP-literal host here, and checks every address
//! a name resolves to with [`non_public`] at connect time), so a URL written straight into the
//! store is refused as well.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::{DomainError, DomainResult};

/// The longest URL accepted.
pub const MAX_URL_BYTES: usize = 2048;

/// What the outbound client's connect-time check fails a name with when it resolves to no
/// public address (callers recognise that refusal, final, by it).
pub const NO_PUBLIC_ADDRESS: &str = "resolves to no public address";

/// Why an address is not a public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPublic {
    /// `0.0.0.0/8`, `::` (on Linux, connecting to 0.0.0.0 reaches the host itself).
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918, local-use NAT64 (`64:ff9b:1::/48`), deprecated site-local (`fec0::/10`).
    Private,
    /// `100.64.0.0/10` (carrier-grade NAT).
    Shared,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Instance and task metadata endpoints (`169.254.169.254`, `169.254.170.2`,
    /// `169.254.170.23`, `fd00:ec2::254`, `fd00:ec2::23`).
    Metadata,
    /// `fc00::/7`.
    UniqueLocal,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`.
    Benchmarking,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `240.0.0.0/4` and `255.255.255.255`.
    Reserved,
    /// Special-purpose blocks that are no destination: `192.0.0.0/24`, `2001::/23` (Teredo,
    /// ORCHID, benchmarking…), `100::/64` (discard), IPv4-compatible `::a.b.c.d`.
    SpecialPurpose,
}

impl NonPublic {
    pub fn as_str(self) -> &'static str {
        match self {
            NonPublic::Unspecified => "unspecified",
            NonPublic::Loopback => "loopback",
            NonPublic::Private => "private",
            NonPublic::Shared => "shared (carrier-grade NAT)",
            NonPublic::LinkLocal => "link-local",
            NonPublic::Metadata => "a cloud metadata endpoint",
            NonPublic::UniqueLocal => "unique-local",
            NonPublic::Documentation => "documentation-only",
            NonPublic::Benchmarking => "benchmarking-only",
            NonPublic::Multicast => "multicast",
            NonPublic::Reserved => "reserved",
            NonPublic::SpecialPurpose => "special-purpose",
        }
    }
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
];

const METADATA_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
];

/// Why `ip` is not public, or `None` when it is. Addresses that embed an IPv4 address
/// (IPv4-mapped, NAT64, 6to4) are judged by the address they embed.
pub fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    if METADATA_V4.contains(&ip) {
        return Some(NonPublic::Metadata);
    }
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => Some(NonPublic::Unspecified),
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => Some(NonPublic::Private),
        (100, 64..=127, _) => Some(NonPublic::Shared),
        (127, _, _) => Some(NonPublic::Loopback),
        (169, 254, _) => Some(NonPublic::LinkLocal),
        (192, 0, 0) => Some(NonPublic::SpecialPurpose),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Some(NonPublic::Documentation),
        (198, 18..=19, _) => Some(NonPublic::Benchmarking),
        (224..=239, _, _) => Some(NonPublic::Multicast),
        (240..=255, _, _) => Some(NonPublic::Reserved),
        _ => None,
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    if METADATA_V6.contains(&ip) {
        return Some(NonPublic::Metadata);
    }
    if ip.is_unspecified() {
        return Some(NonPublic::Unspecified);
    }
    if ip.is_loopback() {
        return Some(NonPublic::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        // IPv4-compatible (deprecated): ::a.b.c.d.
        [0, 0, 0, 0, 0, 0, _, _] => Some(NonPublic::SpecialPurpose),
        // NAT64 well-known prefix: the IPv4 address it reaches decides.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => non_public_v4(embedded_v4(hi, lo)),
        [0x64, 0xff9b, 1, ..] => Some(NonPublic::Private),
        [0x100, 0, 0, 0, ..] => Some(NonPublic::SpecialPurpose),
        [0x2001, 0xdb8, ..] => Some(NonPublic::Documentation),
        [0x2001, second, ..] if second < 0x200 => Some(NonPublic::SpecialPurpose),
        // 6to4: the IPv4 address of the relay it names decides.
        [0x2002, hi, lo, ..] => non_public_v4(embedded_v4(hi, lo)),
        [0x3fff, second, ..] if second < 0x1000 => Some(NonPublic::Documentation),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some(NonPublic::UniqueLocal),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some(NonPublic::LinkLocal),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some(NonPublic::Private),
        [first, ..] if first & 0xff00 == 0xff00 => Some(NonPublic::Multicast),
        _ => None,
    }
}

/// Host names that never name a public service.
fn local_name(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
}

/// One `host:port` the allow-list opens, whatever its address (e.g. `127.0.0.1:9001`,
/// `[::1]:8443`, `carrier-proxy.corp.example:443`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedTarget {
    host: Host<String>,
    port: u16,
}

impl AllowedTarget {
    pub fn parse(s: &str) -> DomainResult<Self> {
        let bad = |why: &str| DomainError::invalid("allow", format!("{s:?}: {why}"));
        let (host, port) = s
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:port"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port must be 1 to 65535"))?;
        if host.is_empty() {
            return Err(bad("expected host:port"));
        }
        let host = Host::parse(host).map_err(|e| bad(&format!("not a host ({e})")))?;
        Ok(Self { host, port })
    }

    /// The host, when it is a name (the resolver lets its addresses through).
    pub fn domain(&self) -> Option<&str> {
        match &self.host {
            Host::Domain(d) => Some(d),
            Host::Ipv4(_) | Host::Ipv6(_) => None,
        }
    }

    fn matches(&self, url: &Url) -> bool {
        url.host().is_some_and(|h| h.to_owned() == self.host)
            && url.port_or_known_default() == Some(self.port)
    }
}

impl fmt::Display for AllowedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Which URLs outbound calls may go to (see the module documentation). The default is the
/// production policy with nothing allowed beyond public https.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OutboundPolicy {
    dev_mode: bool,
    allow: Vec<AllowedTarget>,
}

impl OutboundPolicy {
    /// Public https only.
    pub fn production() -> Self {
        Self::default()
    }

    /// Any http(s) URL (local development).
    pub fn dev() -> Self {
        Self {
            dev_mode: true,
            allow: Vec::new(),
        }
    }

    pub fn for_mode(dev_mode: bool) -> Self {
        if dev_mode {
            Self::dev()
        } else {
            Self::production()
        }
    }

    /// The same policy, also opening `targets`.
    pub fn allowing(mut self, targets: impl IntoIterator<Item = AllowedTarget>) -> Self {
        for t in targets {
            if !self.allow.contains(&t) {
                self.allow.push(t);
            }
        }
        self
    }

    /// An allow-list as configured: `host:port` entries separated by commas or whitespace.
    pub fn parse_allow_list(text: &str) -> DomainResult<Vec<AllowedTarget>> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(AllowedTarget::parse)
            .collect()
    }

    pub fn dev_mode(&self) -> bool {
        self.dev_mode
    }

    pub fn allowed(&self) -> &[AllowedTarget] {
        &self.allow
    }

    /// Whether `host` is a name the allow-list opens (on some port: the URL check holds the
    /// port to its entry).
    pub fn allows_name(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.allow
            .iter()
            .any(|t| t.domain().is_some_and(|d| d.eq_ignore_ascii_case(host)))
    }

    /// Checks a URL as it is set: the parsed URL, or `INVALID_INPUT` naming `field`.
    pub fn check(&self, field: &'static str, url: &str) -> DomainResult<Url> {
        let bad = |why: String| DomainError::invalid(field, why);
        if url.len() > MAX_URL_BYTES {
            return Err(bad(format!("must be at most {MAX_URL_BYTES} bytes")));
        }
        // The URL parser drops whitespace and control characters silently; refuse them
        // instead, so the URL stored is the URL checked.
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("must not contain whitespace".into()));
        }
        let parsed = Url::parse(url).map_err(|e| bad(format!("not a URL ({e})")))?;
        self.permits(&parsed).map_err(bad)?;
        Ok(parsed)
    }

    /// Whether a request may go to `url`; why not, otherwise. Called on every request, so a
    /// URL that never passed [`OutboundPolicy::check`] is refused before any connection.
    pub fn permits(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(if self.dev_mode {
                "must be an http or https URL".into()
            } else {
                "must be an https URL".into()
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        let Some(host) = url.host() else {
            return Err("must have a host".into());
        };
        if self.dev_mode || self.allow.iter().any(|t| t.matches(url)) {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err("must be an https URL".into());
        }
        let refused = |ip: IpAddr| {
            non_public(ip)
                .map(|why| format!("must name a public host: {ip} is a {why} address"))
                .map_or(Ok(()), Err)
        };
        match host {
            Host::Domain(d) if local_name(d) => {
                Err(format!("must name a public host: {d} is a local name"))
            }
            Host::Domain(_) => Ok(()),
            Host::Ipv4(ip) => refused(IpAddr::V4(ip)),
            Host::Ipv6(ip) => refused(IpAddr::V6(ip)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified() {
        use NonPublic::*;
        let table: &[(&str, Option<NonPublic>)] = &[
            // IPv4
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Private)),
            ("100.64.0.1", Some(Shared)),
            ("100.127.255.255", Some(Shared)),
            ("100.128.0.1", None),
            ("169.254.169.254", Some(Metadata)),
            ("169.254.170.2", Some(Metadata)),
            ("169.254.170.23", Some(Metadata)),
            ("169.254.1.1", Some(LinkLocal)),
            ("192.0.0.8", Some(SpecialPurpose)),
            ("192.0.2.1", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.9", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.255", Some(Reserved)),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("52.94.236.248", None),
            // IPv6
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(SpecialPurpose)),
            ("::8.8.8.8", Some(SpecialPurpose)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(Metadata)),
            ("64:ff9b::808:808", None),
            ("64:ff9b:1::1", Some(Private)),
            ("100::1", Some(SpecialPurpose)),
            ("2001::1", Some(SpecialPurpose)),
            ("2001:db8::1", Some(Documentation)),
            ("3fff::1", Some(Documentation)),
            ("3fff:1000::1", None),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:a00:1::1", Some(Private)),
            ("2002:808:808::1", None),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("fd00:ec2::254", Some(Metadata)),
            ("fd00:ec2::23", Some(Metadata)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(Private)),
            ("ff02::1", Some(Multicast)),
            ("2600:1f18::1", None),
            ("2a00:1450:4001::200e", None),
        ];
        for (addr, want) in table {
            assert_eq!(non_public(ip(addr)), *want, "{addr}");
        }
    }

    #[test]
    fn production_allows_only_public_https() {
        let p = OutboundPolicy::production();
        assert!(p.check("baseUrl", "https://api.easypost.com/v2").is_ok());
        assert!(p.check("baseUrl", "https://8.8.8.8").is_ok());
        assert!(p.check("baseUrl", "https://[2600:1f18::1]:8443/x").is_ok());
        for bad in [
            "http://api.easypost.com",
            "ftp://api.easypost.com",
            "file:///etc/passwd",
            "https://user:pw@api.easypost.com",
            "https://localhost:8443",
            "https://LOCALHOST./x",
            "https://svc.localhost",
            "https://metadata.google.internal/computeMetadata/v1/",
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "https://127.0.0.1:9001",
            "https://127.1",
            "https://2130706433",
            "https://0x7f000001",
            "https://0.0.0.0",
            "https://10.0.0.1",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]:8443",
            "https://[::ffff:127.0.0.1]",
            "https://[::ffff:7f00:1]",
            "https://[fd00:ec2::254]",
            "https://[fe80::1]",
            "https://api.easypost.com\n.evil",
            " https://api.easypost.com",
            "not a url",
        ] {
            let e = p.check("baseUrl", bad).unwrap_err();
            assert!(
                matches!(
                    e,
                    DomainError::Invalid {
                        field: "baseUrl",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
        let e = p.check("baseUrl", "https://10.0.0.1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid baseUrl: must name a public host: 10.0.0.1 is a private address"
        );
    }

    #[test]
    fn dev_mode_allows_any_http_url_and_nothing_else() {
        let p = OutboundPolicy::dev();
        assert!(p.check("baseUrl", "http://127.0.0.1:9001").is_ok());
        assert!(p.check("baseUrl", "https://[::1]:8443").is_ok());
        assert!(p.check("baseUrl", "file:///etc/passwd").is_err());
        assert!(p.check("baseUrl", "https://u:p@localhost").is_err());
    }

    #[test]
    fn the_allow_list_opens_exactly_its_targets() {
        let allow =
            OutboundPolicy::parse_allow_list("127.0.0.1:9001, [::1]:9002 Proxy.Corp.example:443")
                .unwrap();
        assert_eq!(allow.len(), 3);
        assert_eq!(allow[2].to_string(), "proxy.corp.example:443");
        let p = OutboundPolicy::production().allowing(allow);
        assert!(p.check("baseUrl", "http://127.0.0.1:9001/v2").is_ok());
        assert!(p.check("baseUrl", "https://[::1]:9002").is_ok());
        assert!(p.check("baseUrl", "https://proxy.corp.example").is_ok());
        // Another port of an allowed host, or another loopback address: refused.
        assert!(p.check("baseUrl", "http://127.0.0.1:9002").is_err());
        assert!(p.check("baseUrl", "http://127.0.0.2:9001").is_err());
        assert!(
            p.check("baseUrl", "http://proxy.corp.example:8080")
                .is_err()
        );
        assert!(p.allows_name("proxy.corp.example."));
        assert!(!p.allows_name("127.0.0.1"));
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            ":443",
            "[::1",
            "a/b:80",
            "host:http",
        ] {
            assert!(
                OutboundPolicy::parse_allow_list(bad).is_err(),
                "{bad} accepted"
            );
        }
        assert_eq!(OutboundPolicy::parse_allow_list(" , ").unwrap(), vec![]);
    }
}
