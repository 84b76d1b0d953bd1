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
    /// Our notifications to the tenant: the secret that signs them (the tenant verifies).
    Notifications,
}

impl WebhookHook {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookHook::AddOrder => "add-order",
            WebhookHook::ShipmentTracker => "shipment-tracker",
            WebhookHook::Notifications => "notifications",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        match s {
            "add-order" => Ok(WebhookHook::AddOrder),
            "shipment-tracker" => Ok(WebhookHook::ShipmentTracker),
            "notifications" => Ok(WebhookHook::Notifications),
            other => Err(DomainError::invalid(
                "hook",
                format!("unknown hook {other:?} (add-order, shipment-tracker or notifications)"),
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

/// A carrier's tracking status in our terms: the table every carrier webhook goes through.
/// `None` means the status says nothing we track (pre-transit details, unknown, cancelled
/// trackers): the delivery is acknowledged and changes nothing.
pub fn normalize_tracking_status(
    provider: WebhookProvider,
    raw: &str,
) -> Option<crate::status::TrackingStatus> {
    use crate::status::TrackingStatus as T;
    let raw = raw.trim().to_ascii_lowercase();
    match (provider, raw.as_str()) {
        (_, "pre_transit") => Some(T::PreTransit),
        (_, "in_transit") | (WebhookProvider::Shippo, "transit") => Some(T::InTransit),
        // A parcel waiting at a pickup point is as far as out for delivery.
        (_, "out_for_delivery") | (WebhookProvider::Easypost, "available_for_pickup") => {
            Some(T::OutForDelivery)
        }
        (_, "delivered") => Some(T::Delivered),
        (_, "failure") | (WebhookProvider::Easypost, "error") => Some(T::Failure),
        (_, "returned") | (WebhookProvider::Easypost, "return_to_sender") => Some(T::Returned),
        _ => None,
    }
}

/// A carrier's name as our carrier code (`FedEx` → `fedex`, `DHL Express` → `dhl_express`).
pub fn carrier_code_of(name: &str) -> DomainResult<crate::ids::CarrierCode> {
    let slug: String = name
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '.' => '_',
            c => c.to_ascii_lowercase(),
        })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    crate::ids::CarrierCode::parse(&slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::TrackingStatus as T;

    #[test]
    fn carrier_statuses_normalize() {
        let ep = WebhookProvider::Easypost;
        assert_eq!(
            normalize_tracking_status(ep, "in_transit"),
            Some(T::InTransit)
        );
        assert_eq!(
            normalize_tracking_status(ep, "return_to_sender"),
            Some(T::Returned)
        );
        assert_eq!(
            normalize_tracking_status(ep, "available_for_pickup"),
            Some(T::OutForDelivery)
        );
        assert_eq!(normalize_tracking_status(ep, "unknown"), None);
        let sh = WebhookProvider::Shippo;
        assert_eq!(normalize_tracking_status(sh, "TRANSIT"), Some(T::InTransit));
        assert_eq!(
            normalize_tracking_status(sh, "DELIVERED"),
            Some(T::Delivered)
        );
        assert_eq!(normalize_tracking_status(sh, "UNKNOWN"), None);
        assert_eq!(carrier_code_of("FedEx").unwrap().as_str(), "fedex");
        assert_eq!(
            carrier_code_of("DHL Express").unwrap().as_str(),
            "dhl_express"
        );
        assert!(carrier_code_of("  ").is_err());
    }
}
