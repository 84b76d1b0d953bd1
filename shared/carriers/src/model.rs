//! The carrier-neutral shapes the [`crate::Carrier`] trait speaks: metric parcels in, exact
//! money and normalised tracking statuses out.

use std::fmt;

use domain::money::{Currency, Money};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::CarrierError;

/// EasyPost's production API (the adapter appends `/v2/...`).
pub const EASYPOST_BASE_URL: &str = "https://api.easypost.com";
/// Shippo's production API.
pub const SHIPPO_BASE_URL: &str = "https://api.goshippo.com";

/// A postal address as both carriers take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub company: Option<String>,
    pub street1: String,
    pub street2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub zip: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// One parcel in metric units; each adapter converts to what its carrier takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    pub weight_grams: u32,
    pub length_mm: u32,
    pub width_mm: u32,
    pub height_mm: u32,
}

/// What to quote: one parcel from one address to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequest {
    pub from: Address,
    pub to: Address,
    pub parcel: Parcel,
    /// Our reference (e.g. the order id), passed on where the carrier keeps one.
    pub reference: Option<String>,
}

/// What a purchase needs to name a quoted rate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateRef {
    pub rate_id: String,
    /// The carrier's shipment the rate belongs to: EasyPost buys through its `shp_…` id;
    /// Shippo needs only the rate id.
    pub carrier_shipment: Option<String>,
}

/// One quoted service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub rate: RateRef,
    /// The carrier that would carry the parcel (e.g. "USPS"), not the aggregator.
    pub carrier: String,
    pub service: String,
    pub amount: Money,
    pub delivery_days: Option<u32>,
}

/// A carrier that could not rate the parcel; the others' rates still stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateError {
    pub carrier: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rates {
    pub rates: Vec<Rate>,
    pub errors: Vec<RateError>,
}

/// A bought label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchasedLabel {
    pub tracking_number: String,
    pub carrier: String,
    pub label_url: String,
    /// "PDF", "PNG", "ZPL", …
    pub label_format: String,
    /// What `void_label` takes: the EasyPost shipment id or the Shippo transaction id.
    pub carrier_reference: String,
}

/// How a void (refund) request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidOutcome {
    /// Accepted; the carrier refunds later (EasyPost can take up to 30 days).
    Submitted,
    Refunded,
    /// Refused, with the carrier's reason.
    Rejected(String),
}

/// What a purchase lookup found at the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseLookup {
    /// The label was bought: here it is.
    Bought(PurchasedLabel),
    /// The carrier has no purchase of this rate.
    NotBought,
    /// The carrier is still creating the label (Shippo's queued transactions).
    Pending,
}

/// What a void lookup found at the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidLookup {
    /// The void was accepted (`Submitted`) or done (`Refunded`).
    Voided(VoidOutcome),
    /// No void of this label is known (or it was rejected).
    NotVoided,
}

/// A tracking status normalised across carriers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackStatus {
    PreTransit,
    InTransit,
    OutForDelivery,
    Delivered,
    Failure,
    Returned,
    Unknown,
}

impl TrackStatus {
    /// EasyPost's `status` (unknown values are `Unknown`, never an error).
    pub fn from_easypost(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pre_transit" => TrackStatus::PreTransit,
            "in_transit" => TrackStatus::InTransit,
            "out_for_delivery" | "available_for_pickup" => TrackStatus::OutForDelivery,
            "delivered" => TrackStatus::Delivered,
            "return_to_sender" => TrackStatus::Returned,
            "failure" | "error" | "cancelled" => TrackStatus::Failure,
            _ => TrackStatus::Unknown,
        }
    }

    /// Shippo's `tracking_status.status` (unknown values are `Unknown`).
    pub fn from_shippo(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "PRE_TRANSIT" => TrackStatus::PreTransit,
            "TRANSIT" => TrackStatus::InTransit,
            "DELIVERED" => TrackStatus::Delivered,
            "RETURNED" => TrackStatus::Returned,
            "FAILURE" => TrackStatus::Failure,
            _ => TrackStatus::Unknown,
        }
    }
}

/// One scan, as the carrier reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackEvent {
    /// The carrier's raw status of this event.
    pub status: String,
    pub message: String,
    /// The carrier's timestamp, as sent (RFC 3339 from both carriers).
    pub at: Option<String>,
}

/// Where a parcel is, with its history in the carrier's order (oldest first for both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    pub status: TrackStatus,
    pub raw_status: String,
    pub events: Vec<TrackEvent>,
}

/// Where a carrier account lives and its API key. Debug never shows the key.
#[derive(Clone)]
pub struct Credentials {
    pub base_url: String,
    pub api_key: SecretString,
}

impl Credentials {
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: SecretString::from(api_key.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .finish()
    }
}

/// An address as both carriers take it (they share the field names); absent fields are left
/// out rather than sent as `null`.
pub(crate) fn address_json(a: &Address) -> serde_json::Value {
    let fields = [
        ("name", Some(&a.name)),
        ("company", a.company.as_ref()),
        ("street1", Some(&a.street1)),
        ("street2", a.street2.as_ref()),
        ("city", Some(&a.city)),
        ("state", a.state.as_ref()),
        ("zip", Some(&a.zip)),
        ("country", Some(&a.country)),
        ("phone", a.phone.as_ref()),
        ("email", a.email.as_ref()),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), serde_json::Value::String(v.clone()))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Parses a carrier's decimal amount exactly. Carriers may pad with zeros past the currency's
/// exponent (EasyPost "10.07000"); those are dropped, but a non-zero digit past it means the
/// carrier priced something we cannot charge exactly, so it is refused rather than rounded.
pub(crate) fn parse_amount(amount: &str, currency: &str) -> Result<Money, CarrierError> {
    let currency = Currency::parse(currency.trim())
        .map_err(|e| CarrierError::Rejected(format!("malformed rate currency: {e}")))?;
    let amount = amount.trim();
    let exponent = currency.exponent() as usize;
    let trimmed = match amount.split_once('.') {
        Some((whole, fraction)) if fraction.is_ascii() && fraction.len() > exponent => {
            let kept = fraction[..exponent].to_owned() + fraction[exponent..].trim_end_matches('0');
            if kept.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{kept}")
            }
        }
        _ => amount.to_owned(),
    };
    Money::parse(&trimmed, currency)
        .map_err(|e| CarrierError::Rejected(format!("malformed rate amount: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn minor(amount: &str, currency: &str) -> i64 {
        parse_amount(amount, currency).unwrap().minor()
    }

    #[test]
    fn amounts_are_exact() {
        assert_eq!(minor("10.07000", "USD"), 1007);
        assert_eq!(minor("10.07", "USD"), 1007);
        assert_eq!(minor("5.5", "USD"), 550);
        assert_eq!(minor("7", "USD"), 700);
        assert_eq!(minor("100.000", "JPY"), 100);
        assert_eq!(minor("1.2500", "BHD"), 1250);
        assert_eq!(minor("0.000", "EUR"), 0);
    }

    #[test]
    fn extra_precision_is_refused_not_rounded() {
        for (amount, currency) in [
            ("10.075", "USD"),
            ("10.07001", "USD"),
            ("100.5", "JPY"),
            ("abc", "USD"),
            ("1.0€", "USD"),
            ("1.", "USD"),
            ("", "USD"),
            ("1.00", "XYZ"),
            ("1.00", "usd"),
        ] {
            let err = parse_amount(amount, currency).unwrap_err();
            assert_eq!(err.code(), "carrier_rejected", "{amount} {currency}");
        }
    }

    #[test]
    fn statuses_normalise() {
        use TrackStatus::*;
        for (raw, want) in [
            ("pre_transit", PreTransit),
            ("in_transit", InTransit),
            ("out_for_delivery", OutForDelivery),
            ("available_for_pickup", OutForDelivery),
            ("delivered", Delivered),
            ("return_to_sender", Returned),
            ("failure", Failure),
            ("error", Failure),
            ("cancelled", Failure),
            ("unknown", Unknown),
            ("something_new", Unknown),
        ] {
            assert_eq!(TrackStatus::from_easypost(raw), want, "{raw}");
        }
        for (raw, want) in [
            ("PRE_TRANSIT", PreTransit),
            ("TRANSIT", InTransit),
            ("DELIVERED", Delivered),
            ("RETURNED", Returned),
            ("FAILURE", Failure),
            ("UNKNOWN", Unknown),
            ("NEW_THING", Unknown),
        ] {
            assert_eq!(TrackStatus::from_shippo(raw), want, "{raw}");
        }
    }

    #[test]
    fn credentials_debug_hides_the_key() {
        let c = Credentials::new("https://api.easypost.com", "EZTK-super-secret");
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("EZTK-super-secret"), "{shown}");
        assert!(shown.contains("api.easypost.com"));
    }
}
