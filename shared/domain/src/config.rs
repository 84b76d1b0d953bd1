//! The tenant's own business rules, versioned: every change is a new version, and a refund records
//! the version it was computed with.

use serde::{Deserialize, Serialize};

use crate::contact::Address;
use crate::error::{DomainError, DomainResult};
use crate::money::{Currency, Money};

/// An outbound notification URL (http or https; the outbound policy — `crate::outbound` —
/// is applied when a tenant sets it and again on every send).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NotificationUrl(String);

impl NotificationUrl {
    pub fn parse(s: &str) -> DomainResult<Self> {
        let bad = |reason: &str| DomainError::invalid("notificationUrl", reason.to_owned());
        if s.len() > 2048 {
            return Err(bad("must be at most 2048 bytes"));
        }
        let url = url::Url::parse(s).map_err(|e| bad(&format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(bad("must be an http or https URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry credentials"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("must have a host"));
        }
        Ok(Self(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NotificationUrl {
    type Error = DomainError;
    fn try_from(s: String) -> DomainResult<Self> {
        Self::parse(&s)
    }
}

impl From<NotificationUrl> for String {
    fn from(u: NotificationUrl) -> String {
        u.0
    }
}

/// A validated tenant configuration at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TenantConfigRepr", into = "TenantConfigRepr")]
pub struct TenantConfig {
    version: u32,
    restocking_fee_bps: u32,
    /// At most one cap per currency, sorted by currency; a currency without a cap is uncapped.
    max_refund: Vec<Money>,
    notification_url: Option<NotificationUrl>,
    /// The event types notified; empty: all of them.
    notification_events: Vec<String>,
    /// Where customers' returns ship to (a return label's destination); none: the pickup
    /// address of the shipment that delivered the items.
    return_address: Option<Address>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TenantConfigRepr {
    version: u32,
    restocking_fee_bps: u32,
    #[serde(default)]
    max_refund: Vec<Money>,
    #[serde(default)]
    notification_url: Option<NotificationUrl>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notification_events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_address: Option<Address>,
}

impl TryFrom<TenantConfigRepr> for TenantConfig {
    type Error = DomainError;
    fn try_from(r: TenantConfigRepr) -> DomainResult<Self> {
        TenantConfig::new(r.restocking_fee_bps, r.max_refund, r.notification_url)?
            .with_notification_events(r.notification_events)
            .map(|c| {
                c.with_return_address(r.return_address)
                    .with_version(r.version)
            })
    }
}

impl From<TenantConfig> for TenantConfigRepr {
    fn from(c: TenantConfig) -> Self {
        TenantConfigRepr {
            version: c.version,
            restocking_fee_bps: c.restocking_fee_bps,
            max_refund: c.max_refund,
            notification_url: c.notification_url,
            notification_events: c.notification_events,
            return_address: c.return_address,
        }
    }
}

impl Default for TenantConfig {
    /// Version 0: what a tenant that never configured anything gets: no fee, no caps.
    fn default() -> Self {
        Self {
            version: 0,
            restocking_fee_bps: 0,
            max_refund: Vec::new(),
            notification_url: None,
            notification_events: Vec::new(),
            return_address: None,
        }
    }
}

impl TenantConfig {
    /// Builds a configuration at version 0; the repository assigns the real version on save.
    pub fn new(
        restocking_fee_bps: u32,
        max_refund: Vec<Money>,
        notification_url: Option<NotificationUrl>,
    ) -> DomainResult<Self> {
        if restocking_fee_bps > 10_000 {
            return Err(DomainError::invalid(
                "restockingFeeBps",
                "must be between 0 and 10000 (100%)",
            ));
        }
        let mut caps = max_refund;
        caps.sort_by_key(|m| m.currency());
        if caps.windows(2).any(|w| w[0].currency() == w[1].currency()) {
            return Err(DomainError::invalid(
                "maxRefund",
                "at most one cap per currency",
            ));
        }
        if caps.iter().any(Money::is_negative) {
            return Err(DomainError::invalid("maxRefund", "must not be negative"));
        }
        Ok(Self {
            version: 0,
            restocking_fee_bps,
            max_refund: caps,
            notification_url,
            notification_events: Vec::new(),
            return_address: None,
        })
    }

    /// Returns ship to this address (none: each shipment's pickup address).
    pub fn with_return_address(mut self, address: Option<Address>) -> Self {
        self.return_address = address;
        self
    }

    /// Where returns ship to, if the tenant set it.
    pub fn return_address(&self) -> Option<&Address> {
        self.return_address.as_ref()
    }

    /// Notifies only these event types (empty: all). Each must be a domain event type.
    pub fn with_notification_events(mut self, events: Vec<String>) -> DomainResult<Self> {
        let mut events = events;
        events.sort();
        events.dedup();
        if let Some(bad) = events
            .iter()
            .find(|e| !crate::events::EventPayload::TYPES.contains(&e.as_str()))
        {
            return Err(DomainError::invalid(
                "notificationEvents",
                format!("unknown event type {bad:?} (see docs/events.md)"),
            ));
        }
        self.notification_events = events;
        Ok(self)
    }

    /// The event types notified; empty: all of them.
    pub fn notification_events(&self) -> &[String] {
        &self.notification_events
    }

    /// Whether an event of `event_type` goes to the tenant's notification URL.
    pub fn notifies(&self, event_type: &str) -> bool {
        self.notification_url.is_some()
            && (self.notification_events.is_empty()
                || self.notification_events.iter().any(|e| e == event_type))
    }

    pub fn with_version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn restocking_fee_bps(&self) -> u32 {
        self.restocking_fee_bps
    }

    pub fn max_refunds(&self) -> &[Money] {
        &self.max_refund
    }

    /// The cap for one currency, if the tenant set one.
    pub fn max_refund(&self, currency: Currency) -> Option<Money> {
        self.max_refund
            .iter()
            .find(|m| m.currency() == currency)
            .copied()
    }

    pub fn notification_url(&self) -> Option<&NotificationUrl> {
        self.notification_url.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_fee_caps_and_url() {
        let usd = Currency::parse("USD").unwrap();
        assert!(TenantConfig::new(10_001, vec![], None).is_err());
        assert!(
            TenantConfig::new(0, vec![Money::zero(usd), Money::from_minor(5, usd)], None).is_err()
        );
        assert!(TenantConfig::new(0, vec![Money::from_minor(-1, usd)], None).is_err());
        assert!(NotificationUrl::parse("ftp://x.example").is_err());
        assert!(NotificationUrl::parse("https://user:pw@x.example").is_err());
        let cfg = TenantConfig::new(
            1_000,
            vec![Money::from_minor(50_000, usd)],
            Some(NotificationUrl::parse("https://hooks.example.com/oms").unwrap()),
        )
        .unwrap()
        .with_version(3);
        assert_eq!(cfg.max_refund(usd), Some(Money::from_minor(50_000, usd)));
        assert_eq!(cfg.max_refund(Currency::parse("EUR").unwrap()), None);
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<TenantConfig>(&json).unwrap(), cfg);
    }
}
