//! The shipping gateway (the UniShip seed): the carriers the SaaS provider offers (the gateway
//! catalogue) and each tenant's carrier credentials as immutable, time-windowed versions.
//!
//! A credential version is never changed except to close its window once (`thru`); a change of
//! credentials is a new version. The versions of one (tenant, gateway, account) never overlap,
//! so at any instant at most one is effective: the one with `from ≤ t < thru`. The repository
//! enforces these rules in its transactions; the checks here say what they are.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::ids::{AccountId, CarrierCode, CredentialId, PlanName, Subject, TenantId};
use crate::outbound::OutboundPolicy;
use crate::webhook::SecretRef;

/// The tenant id the platform's own credential versions carry (the SaaS provider's carrier
/// accounts): reserved, no tenant is ever created with it.
pub const PLATFORM_OWNER: &str = "platform";

/// The prefix by which a tenant names a platform account (`platform:<account>`).
pub const PLATFORM_ACCOUNT_PREFIX: &str = "platform:";

/// The owner id of the platform's credential versions.
pub fn platform_owner() -> TenantId {
    TenantId::reserved(PLATFORM_OWNER)
}

/// An account as a tenant names it: one of its own, or the platform's (`platform:<account>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRef {
    Own(AccountId),
    Platform(AccountId),
}

impl AccountRef {
    pub fn parse(s: &str) -> DomainResult<Self> {
        match s.strip_prefix(PLATFORM_ACCOUNT_PREFIX) {
            Some(account) => Ok(Self::Platform(AccountId::parse(account)?)),
            None => Ok(Self::Own(AccountId::parse(s)?)),
        }
    }

    pub fn account(&self) -> &AccountId {
        match self {
            AccountRef::Own(a) | AccountRef::Platform(a) => a,
        }
    }
}

impl std::fmt::Display for AccountRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountRef::Own(a) => write!(f, "{a}"),
            AccountRef::Platform(a) => write!(f, "{PLATFORM_ACCOUNT_PREFIX}{a}"),
        }
    }
}

/// A platform account of a gateway, offered to the tenants of the named plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformOffer {
    pub account: AccountId,
    pub plans: Vec<PlanName>,
}

/// Which API a gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierKind {
    Easypost,
    Shippo,
    Fedex,
}

impl CarrierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierKind::Easypost => "easypost",
            CarrierKind::Shippo => "shippo",
            CarrierKind::Fedex => "fedex",
        }
    }

    /// The carrier's documented API hosts: (sandbox, production).
    pub fn default_urls(self) -> (&'static str, &'static str) {
        match self {
            CarrierKind::Easypost => ("https://api.easypost.com", "https://api.easypost.com"),
            CarrierKind::Shippo => ("https://api.goshippo.com", "https://api.goshippo.com"),
            CarrierKind::Fedex => ("https://apis-sandbox.fedex.com", "https://apis.fedex.com"),
        }
    }

    /// How the carrier's API authenticates.
    pub fn default_auth(self) -> GatewayAuthType {
        match self {
            CarrierKind::Easypost | CarrierKind::Shippo => GatewayAuthType::ApiKey,
            CarrierKind::Fedex => GatewayAuthType::Oauth2ClientCredentials,
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "easypost" => Ok(Self::Easypost),
            "shippo" => Ok(Self::Shippo),
            "fedex" => Ok(Self::Fedex),
            other => Err(DomainError::invalid(
                "kind",
                format!("unknown carrier kind {other:?} (easypost, shippo or fedex)"),
            )),
        }
    }
}

/// How a gateway authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayAuthType {
    ApiKey,
    Basic,
    Oauth2ClientCredentials,
}

impl GatewayAuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayAuthType::ApiKey => "api-key",
            GatewayAuthType::Basic => "basic",
            GatewayAuthType::Oauth2ClientCredentials => "oauth2-client-credentials",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "api-key" => Ok(Self::ApiKey),
            "basic" => Ok(Self::Basic),
            "oauth2-client-credentials" => Ok(Self::Oauth2ClientCredentials),
            other => Err(DomainError::invalid(
                "authType",
                format!("unknown auth type {other:?} (api-key, basic, oauth2-client-credentials)"),
            )),
        }
    }
}

/// Sandbox or production endpoints and accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayMode {
    Sandbox,
    Production,
}

impl GatewayMode {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayMode::Sandbox => "sandbox",
            GatewayMode::Production => "production",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "sandbox" => Ok(Self::Sandbox),
            "production" => Ok(Self::Production),
            other => Err(DomainError::invalid(
                "mode",
                format!("unknown mode {other:?} (sandbox or production)"),
            )),
        }
    }
}

/// A gateway the SaaS provider offers (`ShippingGatewayConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConfig {
    pub id: CarrierCode,
    pub name: String,
    pub kind: CarrierKind,
    pub sandbox_url: String,
    pub production_url: String,
    pub auth_type: GatewayAuthType,
    /// The platform's accounts of this gateway and the plans whose tenants may use them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<PlatformOffer>,
}

impl GatewayConfig {
    /// Whether the platform account `account` is offered to tenants on `plan`.
    pub fn offered(&self, account: &AccountId, plan: &PlanName) -> bool {
        self.offers
            .iter()
            .any(|o| &o.account == account && o.plans.contains(plan))
    }

    /// The platform accounts offered to tenants on `plan`.
    pub fn offers_to<'a>(&'a self, plan: &'a PlanName) -> impl Iterator<Item = &'a AccountId> {
        self.offers
            .iter()
            .filter(move |o| o.plans.contains(plan))
            .map(|o| &o.account)
    }

    /// Offers `account` to exactly `plans` (none: withdraws it).
    pub fn set_offer(&mut self, account: AccountId, plans: Vec<PlanName>) {
        self.offers.retain(|o| o.account != account);
        if !plans.is_empty() {
            self.offers.push(PlatformOffer { account, plans });
        }
    }

    /// Its URLs are ones `outbound` lets calls go to; its name is short.
    pub fn validate(&self, outbound: &OutboundPolicy) -> DomainResult<()> {
        outbound.check("sandboxUrl", &self.sandbox_url)?;
        outbound.check("productionUrl", &self.production_url)?;
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(DomainError::invalid("name", "1 to 200 characters"));
        }
        Ok(())
    }

    pub fn base_url(&self, mode: GatewayMode) -> &str {
        match mode {
            GatewayMode::Sandbox => &self.sandbox_url,
            GatewayMode::Production => &self.production_url,
        }
    }
}

/// One immutable version of a tenant's credentials for a gateway account
/// (`ShippingGatewayAuthConfig`). Its secrets are in the secret store; it keeps their
/// reference and a fingerprint, never the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialVersion {
    pub id: CredentialId,
    pub tenant: TenantId,
    pub gateway: CarrierCode,
    pub account: AccountId,
    pub mode: GatewayMode,
    pub auth_type: GatewayAuthType,
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The tenant's account number at the carrier (FedEx ships and bills through it); not a
    /// secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    /// The client id of a second key pair for the carrier's tracking API (FedEx issues
    /// separate Track API keys); its secret is `trackClientSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_client_id: Option<String>,
    /// Where the secret fields are (exact secret version).
    pub secret: SecretRef,
    /// Enough to recognise the secret, never enough to use it.
    pub fingerprint: String,
    pub from: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thru: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_by: Subject,
    pub created_at: Timestamp,
}

impl CredentialVersion {
    /// Whether this version is the one in force at `t`: `from ≤ t < thru`.
    pub fn effective_at(&self, t: Timestamp) -> bool {
        self.from <= t && self.thru.is_none_or(|thru| t < thru)
    }

    /// Whether its window meets `[from, thru)` (an open end is +∞).
    pub fn overlaps(&self, from: Timestamp, thru: Option<Timestamp>) -> bool {
        let starts_before_other_ends = thru.is_none_or(|end| self.from < end);
        let other_starts_before_this_ends = self.thru.is_none_or(|end| from < end);
        starts_before_other_ends && other_starts_before_this_ends
    }

    /// The same version apart from `thru`: what may differ between two readings of it.
    pub fn same_but_thru(&self, other: &CredentialVersion) -> bool {
        let mut a = self.clone();
        a.thru = other.thru;
        a == *other
    }
}

/// A version's own fields: base and token URLs that `outbound` lets calls go to, short texts.
pub fn check_version(v: &CredentialVersion, outbound: &OutboundPolicy) -> DomainResult<()> {
    outbound.check("baseUrl", &v.base_url)?;
    if let Some(t) = &v.token_url {
        outbound.check("tokenUrl", t)?;
    }
    for (field, value) in [
        ("username", &v.username),
        ("clientId", &v.client_id),
        ("trackClientId", &v.track_client_id),
        ("description", &v.description),
    ] {
        if value.as_ref().is_some_and(|s| s.len() > 500) {
            return Err(DomainError::invalid(field, "at most 500 characters"));
        }
    }
    if let Some(n) = &v.account_number
        && (n.is_empty() || n.len() > 32 || !n.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(DomainError::invalid(
            "accountNumber",
            "1 to 32 letters and digits",
        ));
    }
    check_window(v.from, v.thru)
}

/// What a version of a `kind` gateway authenticating by `auth` must carry, told by the fields
/// set (the secrets are checked by name only: `secrets` lists the secret fields given).
pub fn check_fields(
    kind: CarrierKind,
    auth: GatewayAuthType,
    v: &CredentialVersion,
    secrets: &[&str],
) -> DomainResult<()> {
    let has = |name: &str| secrets.contains(&name);
    if auth == GatewayAuthType::Oauth2ClientCredentials {
        if v.client_id.as_deref().is_none_or(str::is_empty) {
            return Err(DomainError::invalid(
                "clientId",
                "OAuth2 client credentials need a client id",
            ));
        }
        if !has("clientSecret") {
            return Err(DomainError::invalid(
                "clientSecret",
                "OAuth2 client credentials need a client secret",
            ));
        }
    }
    if v.track_client_id.is_some() != has("trackClientSecret") {
        return Err(DomainError::invalid(
            "trackClientId",
            "a tracking key pair needs both its client id and its client secret",
        ));
    }
    if kind == CarrierKind::Fedex && v.account_number.is_none() {
        return Err(DomainError::invalid(
            "accountNumber",
            "FedEx ships through the tenant's FedEx account number",
        ));
    }
    Ok(())
}

/// A window must end after it starts.
pub fn check_window(from: Timestamp, thru: Option<Timestamp>) -> DomainResult<()> {
    match thru {
        Some(t) if t <= from => Err(DomainError::invalid("thru", "must be after from")),
        _ => Ok(()),
    }
}

/// Why a new window cannot be added to a chain, if it cannot: it meets an existing one.
pub fn check_no_overlap(
    chain: &[CredentialVersion],
    from: Timestamp,
    thru: Option<Timestamp>,
) -> DomainResult<()> {
    check_window(from, thru)?;
    match chain.iter().find(|v| v.overlaps(from, thru)) {
        Some(v) => Err(DomainError::invalid(
            "from",
            format!(
                "the window overlaps version {} ({} to {}); rotate or expire it first",
                v.id,
                v.from,
                v.thru.map_or("open".to_owned(), |t| t.to_string())
            ),
        )),
        None => Ok(()),
    }
}

/// The version in force at `t`, if any.
pub fn effective_at(chain: &[CredentialVersion], t: Timestamp) -> Option<&CredentialVersion> {
    chain.iter().find(|v| v.effective_at(t))
}

/// The version whose window is still open (at most one, the last).
pub fn open_version(chain: &[CredentialVersion]) -> Option<&CredentialVersion> {
    chain.iter().find(|v| v.thru.is_none())
}

/// A secret's fingerprint: its last 4 characters when it is long enough that they give nothing
/// useful away (at least 16), otherwise nothing of it.
pub fn fingerprint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 16 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("…{tail}")
    } else {
        "…(short)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_millis(s * 1000).unwrap()
    }

    fn version(from: i64, thru: Option<i64>) -> CredentialVersion {
        CredentialVersion {
            id: CredentialId::from_ulid(ulid::Ulid::from_parts(1, from as u128)),
            tenant: TenantId::parse("acme").unwrap(),
            gateway: CarrierCode::parse("easypost").unwrap(),
            account: AccountId::parse("main").unwrap(),
            mode: GatewayMode::Sandbox,
            auth_type: GatewayAuthType::ApiKey,
            base_url: "https://api.easypost.com".into(),
            username: None,
            client_id: None,
            token_url: None,
            account_number: None,
            track_client_id: None,
            secret: SecretRef {
                id: "s".into(),
                version: None,
            },
            fingerprint: "…abcd".into(),
            from: at(from),
            thru: thru.map(at),
            description: None,
            created_by: Subject::parse("u").unwrap(),
            created_at: at(0),
        }
    }

    #[test]
    fn windows_are_half_open() {
        let v = version(10, Some(20));
        assert!(!v.effective_at(at(9)));
        assert!(v.effective_at(at(10)));
        assert!(v.effective_at(at(19)));
        assert!(!v.effective_at(at(20)));
        assert!(!v.overlaps(at(20), None), "touching is not overlapping");
        assert!(v.overlaps(at(19), Some(at(30))));
        assert!(v.overlaps(at(0), None));
        assert!(!v.overlaps(at(0), Some(at(10))));
        let open = version(10, None);
        assert!(open.overlaps(at(1_000), Some(at(2_000))));
        let chain = [version(10, Some(20)), version(30, None)];
        assert!(check_no_overlap(&chain, at(20), Some(at(30))).is_ok());
        assert!(check_no_overlap(&chain, at(25), None).is_err());
        assert!(check_no_overlap(&chain, at(5), Some(at(5))).is_err());
        assert_eq!(effective_at(&chain, at(25)), None);
        assert_eq!(effective_at(&chain, at(35)).map(|v| v.from), Some(at(30)));
    }

    #[test]
    fn accounts_are_named_own_or_platform() {
        let own = AccountRef::parse("main").unwrap();
        assert_eq!(own, AccountRef::Own(AccountId::parse("main").unwrap()));
        let platform = AccountRef::parse("platform:main").unwrap();
        assert_eq!(
            platform,
            AccountRef::Platform(AccountId::parse("main").unwrap())
        );
        assert_eq!(platform.to_string(), "platform:main");
        assert!(AccountRef::parse("platform:").is_err());
        assert_eq!(platform_owner(), TenantId::parse(PLATFORM_OWNER).unwrap());
    }

    #[test]
    fn offers_name_plans() {
        let mut g = GatewayConfig {
            id: CarrierCode::parse("easypost").unwrap(),
            name: "EasyPost".into(),
            kind: CarrierKind::Easypost,
            sandbox_url: "https://api.easypost.com".into(),
            production_url: "https://api.easypost.com".into(),
            auth_type: GatewayAuthType::ApiKey,
            offers: Vec::new(),
        };
        let (main, pro, free) = (
            AccountId::parse("main").unwrap(),
            PlanName::parse("pro").unwrap(),
            PlanName::parse("free").unwrap(),
        );
        g.set_offer(main.clone(), vec![pro.clone()]);
        assert!(g.offered(&main, &pro));
        assert!(!g.offered(&main, &free));
        assert_eq!(g.offers_to(&pro).collect::<Vec<_>>(), vec![&main]);
        g.set_offer(main.clone(), Vec::new());
        assert!(!g.offered(&main, &pro));
    }

    #[test]
    fn fingerprints_never_give_a_short_secret_away() {
        assert_eq!(fingerprint("EZTK0123456789abcdef"), "…cdef");
        assert_eq!(fingerprint("short-secret"), "…(short)");
    }
}
