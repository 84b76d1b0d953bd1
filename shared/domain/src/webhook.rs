//! A tenant's webhook settings (the SaaS config of the first seed): which scheme signs each
//! hook, where its secrets are, how old a signature may be, and where a carrier's payload keeps
//! the tracking reference.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};

/// The hooks a tenant can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookHook {
    /// Order intake from the tenant's own systems.
    AddOrder,
    /// Tracking updates from carriers.
    ShipmentTracker,
}

impl WebhookHook {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookHook::AddOrder => "add-order",
            WebhookHook::ShipmentTracker => "shipment-tracker",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "add-order" => Ok(WebhookHook::AddOrder),
            "shipment-tracker" => Ok(WebhookHook::ShipmentTracker),
            other => Err(DomainError::invalid(
                "hook",
                format!("unknown hook {other:?} (add-order or shipment-tracker)"),
            )),
        }
    }
}

/// Who signs deliveries, and so how they are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookProvider {
    /// Ours: `X-OMS-Signature: t=…,v1=…` over the timestamp and the body.
    Oms,
    /// EasyPost's `X-Hmac-Signature` over the body.
    Easypost,
    /// Shippo: a per-tenant token in the URL or a header.
    Shippo,
}

impl WebhookProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookProvider::Oms => "oms",
            WebhookProvider::Easypost => "easypost",
            WebhookProvider::Shippo => "shippo",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "oms" => Ok(WebhookProvider::Oms),
            "easypost" => Ok(WebhookProvider::Easypost),
            "shippo" => Ok(WebhookProvider::Shippo),
            other => Err(DomainError::invalid(
                "provider",
                format!("unknown provider {other:?} (oms, easypost or shippo)"),
            )),
        }
    }
}

/// Where a secret is kept: the secret store's id and version. The secret itself is never in a
/// profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// How old (or how far in the future) a signed timestamp may be, by default.
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 300;

/// How many secrets verify at once (the current one and the one it replaced, during rotation).
pub const ACTIVE_SECRETS: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSetting {
    pub provider: WebhookProvider,
    /// Newest first; at most [`ACTIVE_SECRETS`].
    pub secrets: Vec<SecretRef>,
    pub max_age_seconds: i64,
    /// JMESPath to the tracking number in a carrier's payload (seed example:
    /// `result.tracking_code || data.tracking_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_reference: Option<String>,
}

impl WebhookSetting {
    /// A new setting, keeping the secret it replaces as the second active one.
    pub fn rotated(
        provider: WebhookProvider,
        secret: SecretRef,
        previous: Option<&WebhookSetting>,
        max_age_seconds: i64,
        tracking_reference: Option<String>,
    ) -> DomainResult<Self> {
        if !(1..=86_400).contains(&max_age_seconds) {
            return Err(DomainError::invalid(
                "maxAgeSeconds",
                "between 1 and 86400 seconds",
            ));
        }
        let mut secrets = vec![secret];
        if let Some(p) = previous {
            secrets.extend(p.secrets.iter().take(ACTIVE_SECRETS - 1).cloned());
        }
        Ok(Self {
            provider,
            secrets,
            max_age_seconds,
            tracking_reference,
        })
    }
}
