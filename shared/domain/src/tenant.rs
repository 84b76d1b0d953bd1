//! The SaaS provider's side: tenant profiles and the identity providers registered for them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::clock::Timestamp;
use crate::contact::check_text;
use crate::error::{DomainError, DomainResult};
use crate::ids::{Issuer, PlanName, TenantId};
use crate::webhook::{WebhookHook, WebhookSetting};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TenantStatus {
    Active,
    /// Every request of the tenant's users is refused.
    Suspended,
}

/// Signature algorithms a user token may use. No `none`, no HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    RS256,
    ES256,
    EdDSA,
}

/// Which claim carries the audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceClaim {
    /// The standard `aud` (string or array).
    Aud,
    /// Cognito access tokens carry the app client in `client_id` and no `aud`.
    ClientId,
}

/// Where the IdP's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum IdpKeys {
    /// Keys given inline, PEM (SubjectPublicKeyInfo), each with its `kid` if the IdP sets one.
    Pem { keys: Vec<PemKey> },
    /// A JWKS document, fetched and cached.
    Jwks { url: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PemKey {
    pub kid: Option<String>,
    pub algorithm: TokenAlgorithm,
    pub pem: String,
}

/// JMESPath expressions that read our fields from the token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMapping {
    pub subject: String,
    /// A list of role names, or a space-separated string (OAuth `scope`).
    pub roles: String,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            roles: "roles".into(),
            vendor: None,
            email: Some("email".into()),
        }
    }
}

/// One identity provider registered for a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdpRegistration {
    pub issuer: Issuer,
    /// A shared issuer (Cognito pool, Auth0 organizations, the dev issuer) serves several tenants;
    /// the tenant claim picks one. A dedicated issuer serves this tenant only.
    pub shared: bool,
    /// JMESPath to the claim that names the tenant (required for a shared issuer; for a dedicated
    /// one, checked when present).
    pub tenant_claim: Option<String>,
    /// The value of that claim that means this tenant (defaults to the tenant id).
    pub tenant_claim_value: Option<String>,
    pub audience_claim: AudienceClaim,
    pub audiences: Vec<String>,
    pub algorithms: Vec<TokenAlgorithm>,
    pub keys: IdpKeys,
    pub claims: ClaimMapping,
    /// The tenant's IdP role (or scope) names → our roles; names not listed give no role.
    pub role_map: BTreeMap<String, Role>,
}

impl IdpRegistration {
    pub fn validate(&self) -> DomainResult<()> {
        let bad =
            |field: &'static str, reason: &str| Err(DomainError::invalid(field, reason.to_owned()));
        if self.shared && self.tenant_claim.is_none() {
            return bad("idp.tenantClaim", "a shared issuer needs a tenant claim");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.is_empty() || a.len() > 256)
        {
            return bad(
                "idp.audiences",
                "at least one audience, each 1 to 256 bytes",
            );
        }
        if self.algorithms.is_empty() {
            return bad("idp.algorithms", "at least one of RS256, ES256, EdDSA");
        }
        match &self.keys {
            IdpKeys::Pem { keys } if keys.is_empty() => return bad("idp.keys", "at least one key"),
            IdpKeys::Pem { keys } => {
                if keys.iter().any(|k| !self.algorithms.contains(&k.algorithm)) {
                    return bad(
                        "idp.keys",
                        "a key's algorithm is not among the allowed algorithms",
                    );
                }
            }
            IdpKeys::Jwks { url } => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return bad("idp.keys.url", "must be an http(s) URL");
                }
            }
        }
        if self.role_map.values().any(|r| *r == Role::PlatformAdmin) {
            return bad("idp.roleMap", "a tenant IdP cannot grant platform-admin");
        }
        check_text("idp.claims.subject", &self.claims.subject, 512, true)?;
        check_text("idp.claims.roles", &self.claims.roles, 512, true)
    }

    /// The tenant-claim value that selects `tenant` on this issuer.
    pub fn claim_value_for(&self, tenant: &TenantId) -> String {
        self.tenant_claim_value
            .clone()
            .unwrap_or_else(|| tenant.to_string())
    }
}

/// Where a tenant's own events come from on its event bus: the AWS account that puts them and
/// their `source`. Registered in the tenant profile; an event names its tenant only through it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    pub account: String,
    pub source: String,
}

impl EventSource {
    /// An account id is 12 digits; a source is 1 to 256 printable ASCII characters without `#`
    /// or spaces, and not `aws.…` or ours (`tenantoms`).
    pub fn parse(account: &str, source: &str) -> DomainResult<Self> {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::invalid(
                "account",
                "an AWS account id is 12 digits",
            ));
        }
        let printable = source.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
        if source.is_empty() || source.len() > 256 || !printable {
            return Err(DomainError::invalid(
                "source",
                "1 to 256 printable ASCII characters, no spaces or '#'",
            ));
        }
        if source.starts_with("aws.") || source == crate::events::EVENT_SOURCE {
            return Err(DomainError::invalid(
                "source",
                "aws.* and our own source are reserved",
            ));
        }
        Ok(Self {
            account: account.to_owned(),
            source: source.to_owned(),
        })
    }
}

impl std::fmt::Display for EventSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account, self.source)
    }
}

/// A tenant as the SaaS provider sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantProfile {
    pub id: TenantId,
    pub name: String,
    pub status: TenantStatus,
    pub plan: PlanName,
    /// Write shards of the tenant's listings; only ever grows.
    pub shards: u32,
    pub idps: Vec<IdpRegistration>,
    /// Signed webhooks, per hook.
    #[serde(default)]
    pub webhooks: BTreeMap<WebhookHook, WebhookSetting>,
    /// The sources of the tenant's own events (`oms events source set`).
    #[serde(default)]
    pub event_sources: Vec<EventSource>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Most write shards a tenant may have.
pub const MAX_SHARDS: u32 = 64;

impl TenantProfile {
    pub fn new(id: TenantId, name: &str, plan: PlanName, now: Timestamp) -> DomainResult<Self> {
        if id.as_str() == crate::gateway::PLATFORM_OWNER {
            return Err(DomainError::invalid(
                "tenant",
                "\"platform\" is reserved (it owns the platform's carrier accounts)",
            ));
        }
        let name = name.trim();
        check_text("tenant.name", name, 200, true)?;
        Ok(Self {
            id,
            name: name.to_owned(),
            status: TenantStatus::Active,
            plan,
            shards: 1,
            idps: Vec::new(),
            webhooks: BTreeMap::new(),
            event_sources: Vec::new(),
            created_at: now,
            updated_at: now,
        })
    }

    /// Adds or replaces the registration for its issuer.
    pub fn set_idp(&mut self, idp: IdpRegistration, now: Timestamp) -> DomainResult<()> {
        idp.validate()?;
        self.idps.retain(|i| i.issuer != idp.issuer);
        self.idps.push(idp);
        self.updated_at = now;
        Ok(())
    }

    /// Grows the shard count; shrinking is refused (orders keep the shard they were written to).
    pub fn grow_shards(&mut self, shards: u32, now: Timestamp) -> DomainResult<()> {
        if shards < self.shards || shards > MAX_SHARDS {
            return Err(DomainError::invalid(
                "tenant.shards",
                format!("may only grow, up to {MAX_SHARDS} (now {})", self.shards),
            ));
        }
        self.shards = shards;
        self.updated_at = now;
        Ok(())
    }

    pub fn idp(&self, issuer: &Issuer) -> Option<&IdpRegistration> {
        self.idps.iter().find(|i| &i.issuer == issuer)
    }
}

/// One tenant an issuer serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRow {
    pub tenant: TenantId,
    /// The tenant-claim value that selects this tenant on a shared issuer.
    pub claim_value: String,
    /// JMESPath to the tenant claim (as the tenant's registration of this issuer says).
    pub tenant_claim: Option<String>,
    pub shared: bool,
}
