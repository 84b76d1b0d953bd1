//! What both adapters share on the wire: where an account lives and its key ([`Credentials`]),
//! addresses as both carriers take them, exact amounts, and each carrier's tracking statuses
//! mapped onto the port's.

use std::fmt;

use app::ports::carrier::{Address, AddressCheck, AddressMessage, CarrierError, TrackStatus};
use domain::money::{Currency, Money};
use secrecy::SecretString;

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

/// The address fields a carrier's check answered (any may be missing or empty).
#[derive(Debug, Default)]
pub(crate) struct Answered {
    pub street1: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
}

/// What a carrier's address check came to: the address as it corrected it — each field it
/// answered, the given one's otherwise; the street lines together (a carrier that folds a unit
/// into the first line clears the second) — or the given address whole when it cannot be
/// delivered to.
pub(crate) fn checked(
    given: &Address,
    deliverable: bool,
    answered: Answered,
    residential: Option<bool>,
    messages: Vec<AddressMessage>,
) -> AddressCheck {
    let some = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let pick = |v: Option<String>, g: &String| some(v).unwrap_or_else(|| g.clone());
    let address = if deliverable {
        let street2 = match &answered.street1 {
            Some(s) if !s.trim().is_empty() => some(answered.street2),
            _ => given.street2.clone(),
        };
        Address {
            street1: pick(answered.street1, &given.street1),
            street2,
            city: pick(answered.city, &given.city),
            state: some(answered.state).or_else(|| given.state.clone()),
            zip: pick(answered.zip, &given.zip),
            country: pick(answered.country, &given.country),
            ..given.clone()
        }
    } else {
        given.clone()
    };
    AddressCheck {
        deliverable,
        address,
        residential,
        messages,
    }
}

/// A fee a carrier states past the currency's precision (EasyPost's insurance premium
/// "1.24995"), rounded half up to it: what is billed, for display beside the label.
pub(crate) fn parse_fee(amount: &str, currency: &str) -> Result<Money, CarrierError> {
    let c = Currency::parse(currency.trim())
        .map_err(|e| CarrierError::Rejected(format!("malformed fee currency: {e}")))?;
    let exponent = c.exponent() as usize;
    let amount = amount.trim();
    let Some((whole, fraction)) = amount.split_once('.') else {
        return parse_amount(amount, currency);
    };
    if fraction.len() <= exponent || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return parse_amount(amount, currency);
    }
    let kept = parse_amount(&format!("{whole}.{}", &fraction[..exponent]), currency)?;
    let round_up = fraction.as_bytes()[exponent] >= b'5';
    if !round_up {
        return Ok(kept);
    }
    let step = Money::from_minor(if kept.is_negative() { -1 } else { 1 }, c);
    kept.checked_add(&step)
        .map_err(|e| CarrierError::Rejected(format!("malformed fee amount: {e}")))
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

/// EasyPost's `status` (unknown values are `Unknown`, never an error).
pub(crate) fn easypost_status(raw: &str) -> TrackStatus {
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
pub(crate) fn shippo_status(raw: &str) -> TrackStatus {
    match raw.trim().to_ascii_uppercase().as_str() {
        "PRE_TRANSIT" => TrackStatus::PreTransit,
        "TRANSIT" => TrackStatus::InTransit,
        "DELIVERED" => TrackStatus::Delivered,
        "RETURNED" => TrackStatus::Returned,
        "FAILURE" => TrackStatus::Failure,
        _ => TrackStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn fees_round_half_up_to_the_currency() {
        let fee = |a: &str| parse_fee(a, "USD").unwrap().to_decimal_string();
        assert_eq!(fee("1.24995"), "1.25");
        assert_eq!(fee("2.00000"), "2.00");
        assert_eq!(fee("0.50"), "0.50");
        assert_eq!(fee("0.004"), "0.00");
        assert_eq!(fee("3"), "3.00");
        assert!(parse_fee("1.2x", "USD").is_err());
    }
    use app::ports::carrier::TrackStatus;

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
            assert_eq!(easypost_status(raw), want, "{raw}");
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
            assert_eq!(shippo_status(raw), want, "{raw}");
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
