//! The tenant API keys of the GraphQL API: the input of a new key, the view of a key (its
//! prefix and id, never its text), and the create answer that carries the text this once.

use app::AppResult;
use app::api_keys::NewApiKey;
use app::ports::StoredApiKey;
use async_graphql::{Enum, ID, InputObject, SimpleObject};
use domain::Timestamp;
use domain::access::Role;
use domain::ids::VendorId;

use crate::views::UserError;

/// The role a key acts with (each tenant operation its plan allows that role).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ApiKeyRole {
    TenantAdmin,
    Staff,
    Vendor,
    ReadOnly,
}

impl From<ApiKeyRole> for Role {
    fn from(r: ApiKeyRole) -> Self {
        match r {
            ApiKeyRole::TenantAdmin => Role::TenantAdmin,
            ApiKeyRole::Staff => Role::Staff,
            ApiKeyRole::Vendor => Role::Vendor,
            ApiKeyRole::ReadOnly => Role::ReadOnly,
        }
    }
}

fn role_of(r: Role) -> ApiKeyRole {
    match r {
        Role::TenantAdmin => ApiKeyRole::TenantAdmin,
        Role::Staff => ApiKeyRole::Staff,
        Role::Vendor => ApiKeyRole::Vendor,
        // A key never holds the platform role (`ApiKey::check`); shown as the least.
        Role::ReadOnly | Role::PlatformAdmin => ApiKeyRole::ReadOnly,
    }
}

/// A new key.
#[derive(InputObject, Clone)]
pub struct ApiKeyInput {
    /// What the key is for (`ERP`, `storefront`), 1 to 100 characters.
    pub name: String,
    pub role: ApiKeyRole,
    /// The vendor of a VENDOR key (required then, refused otherwise).
    pub vendor: Option<String>,
    /// RFC 3339; now by default. A later time schedules the key.
    pub from: Option<String>,
    /// RFC 3339; never by default.
    pub thru: Option<String>,
}

fn time(s: &Option<String>) -> AppResult<Option<Timestamp>> {
    Ok(s.as_deref().map(Timestamp::parse_rfc3339).transpose()?)
}

impl ApiKeyInput {
    pub fn parse(&self) -> AppResult<NewApiKey> {
        Ok(NewApiKey {
            name: self.name.clone(),
            role: self.role.into(),
            vendor: self.vendor.as_deref().map(VendorId::parse).transpose()?,
            from: time(&self.from)?,
            thru: time(&self.thru)?,
        })
    }
}

/// A tenant's API key, as lists show it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "ApiKey")]
pub struct ApiKeyV {
    pub id: ID,
    /// The start of the key's text (`oms_live_{id}`): enough to recognise it, never the secret.
    pub prefix: String,
    pub name: String,
    pub role: ApiKeyRole,
    pub vendor: Option<String>,
    pub from: String,
    pub thru: Option<String>,
    /// In force now.
    pub effective: bool,
    pub created_by: String,
    pub created_at: String,
    /// When it was last used (recorded at most once a minute).
    pub last_used_at: Option<String>,
}

impl ApiKeyV {
    pub fn new(s: &StoredApiKey, now: Timestamp) -> Self {
        let k = &s.key;
        Self {
            id: k.id.to_string().into(),
            prefix: k.shown_prefix(),
            name: k.name.clone(),
            role: role_of(k.role),
            vendor: k.vendor.as_ref().map(ToString::to_string),
            from: k.from.to_rfc3339(),
            thru: k.thru.map(|t| t.to_rfc3339()),
            effective: k.in_force_at(now),
            created_by: k.created_by.to_string(),
            created_at: k.created_at.to_rfc3339(),
            last_used_at: s.last_used_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A created key: `secret` is the key's text, shown here and never again.
#[derive(SimpleObject, Default)]
pub struct CreateApiKeyPayload {
    pub api_key: Option<ApiKeyV>,
    pub secret: Option<String>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct ApiKeyPayload {
    pub api_key: Option<ApiKeyV>,
    pub user_errors: Vec<UserError>,
}
