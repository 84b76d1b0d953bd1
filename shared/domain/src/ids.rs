//! Identifiers and other values that become part of storage keys.
//!
//! Every type here can only be built by parsing, and parsing enforces DESIGN.md §3's key hygiene:
//! not empty, bounded length, no `#` (the key separator), no control characters, no surrounding
//! white space. Ids the system mints are ULIDs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

use crate::error::{DomainError, DomainResult};

/// Longest id (tenant, ULID-based ids, idempotency keys), in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest external reference, SKU, vendor id or subject, in bytes.
pub const MAX_REF_LEN: usize = 128;

/// The key-hygiene check shared by every key-bound text value.
pub fn check_key_text(field: &'static str, s: &str, max: usize) -> DomainResult<()> {
    if s.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    if s.contains('#') {
        return Err(DomainError::invalid(field, "must not contain '#'"));
    }
    if s.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    if s.trim() != s {
        return Err(DomainError::invalid(
            field,
            "must not start or end with white space",
        ));
    }
    Ok(())
}

/// Defines a key-bound text newtype: `$name::parse(&str)`, `as_str`, `Display`, `FromStr`, serde
/// as a plain string that is validated on the way in.
/// With `normalize`, input is first brought to its one stored form (`parse` then checks that).
macro_rules! key_text {
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:expr, $extra:expr) => {
        key_text!($(#[$meta])* $name, $field, $max, $extra, normalize = str::to_owned);
    };
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:expr, $extra:expr, normalize = $norm:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> DomainResult<Self> {
                let normalize: fn(&str) -> String = $norm;
                let s = normalize(s);
                check_key_text($field, &s, $max)?;
                let extra: fn(&str) -> Result<(), &'static str> = $extra;
                extra(&s).map_err(|reason| DomainError::invalid($field, reason))?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> DomainResult<Self> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn any_text(_: &str) -> Result<(), &'static str> {
    Ok(())
}

fn slug(s: &str) -> Result<(), &'static str> {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if first_ok
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err("must be lower-case ASCII letters, digits, '-' or '_', starting with a letter or digit")
    }
}

fn printable_ascii(s: &str) -> Result<(), &'static str> {
    if s.chars().all(|c| c.is_ascii_graphic()) {
        Ok(())
    } else {
        Err("must be printable ASCII without spaces")
    }
}

key_text!(
    /// A tenant (retailer). Lower-case slug, ≤ 64 bytes: it appears in URLs and every key.
    TenantId, "tenant", MAX_ID_LEN, slug
);
impl TenantId {
    /// A reserved id the code names as a constant (`gateway::PLATFORM_OWNER`), never a request's
    /// input; a test checks each one parses.
    pub(crate) fn reserved(id: &'static str) -> Self {
        TenantId(id.to_owned())
    }
}

key_text!(
    /// A vendor of the tenant, as the tenant's IdP names it.
    VendorId, "vendor", MAX_REF_LEN, any_text
);
key_text!(
    /// A stock-keeping unit; unique among the lines of one order.
    Sku, "sku", MAX_REF_LEN, any_text
);
key_text!(
    /// The tenant's own reference for an order (idempotent intake, `orderByExternalRef`).
    ExternalRef, "externalRef", MAX_REF_LEN, any_text
);
key_text!(
    /// A client-chosen idempotency key (`Idempotency-Key` header).
    IdempotencyKey, "idempotencyKey", MAX_ID_LEN, printable_ascii
);
key_text!(
    /// The verified subject of a caller (JWT `sub`).
    Subject, "subject", MAX_REF_LEN, any_text
);
key_text!(
    /// A carrier's tracking number.
    TrackingNumber, "trackingNumber", MAX_ID_LEN, printable_ascii
);
key_text!(
    /// A carrier code (`usps`, `ups`, `dhl_express`, …). Carriers write their names in any case
    /// ("FedEx", "USPS"): any case is accepted and stored lower-case, so one carrier is one code.
    CarrierCode, "carrier", MAX_ID_LEN, slug, normalize = str::to_ascii_lowercase
);

key_text!(
    /// A plan of the SaaS provider (`standard`, `custom`, …).
    PlanName, "plan", MAX_ID_LEN, slug
);
key_text!(
    /// An OIDC issuer (`iss`), as registered: an http(s) URL without fragment.
    Issuer, "issuer", MAX_ISSUER_LEN, issuer_url
);
key_text!(
    /// An account at a shipping gateway (the tenant's own name for its credential set).
    AccountId, "account", MAX_ID_LEN, printable_ascii
);
key_text!(
    /// The name of an API operation (`createOrder`), as idempotency records scope it.
    OperationName, "operation", MAX_ID_LEN, printable_ascii
);

/// Longest issuer URL, in bytes.
pub const MAX_ISSUER_LEN: usize = 256;

fn issuer_url(s: &str) -> Result<(), &'static str> {
    if (s.starts_with("https://") || s.starts_with("http://")) && !s.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err("must be an http(s) URL without spaces")
    }
}

/// Defines a ULID-backed id newtype.
macro_rules! ulid_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Ulid);

        impl $name {
            pub fn parse(s: &str) -> DomainResult<Self> {
                Ulid::from_string(s)
                    .map(Self)
                    .map_err(|_| DomainError::invalid($field, "must be a ULID (26 Crockford base32 characters)"))
            }

            pub fn from_ulid(u: Ulid) -> Self {
                Self(u)
            }

            pub fn ulid(&self) -> Ulid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> DomainResult<Self> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

ulid_id!(
    /// An order.
    OrderId, "orderId"
);
ulid_id!(
    /// A shipment within an order.
    ShipmentId, "shipmentId"
);
ulid_id!(
    /// A return within an order.
    ReturnId, "returnId"
);
ulid_id!(
    /// A refund within an order.
    RefundId, "refundId"
);
ulid_id!(
    /// A domain event.
    EventId, "eventId"
);
ulid_id!(
    /// An audit record.
    AuditId, "auditId"
);
ulid_id!(
    /// One immutable version of a tenant's carrier credentials.
    CredentialId, "credentialId"
);
ulid_id!(
    /// A tenant's API key (its id is part of the key's text, so a key finds its record).
    ApiKeyId, "apiKeyId"
);

/// A positive item count, at most one million per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 1_000_000;

    pub fn new(n: u32) -> DomainResult<Self> {
        if n == 0 || n > Self::MAX {
            return Err(DomainError::invalid(
                "quantity",
                format!("must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A quantity of one SKU (in a shipment, a return, a cancellation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineQuantity {
    pub sku: Sku,
    pub quantity: Quantity,
}

impl LineQuantity {
    pub fn new(sku: Sku, quantity: Quantity) -> Self {
        Self { sku, quantity }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_lower_case_slugs() {
        assert!(TenantId::parse("acme-01").is_ok());
        assert!(TenantId::parse("Acme").is_err());
        assert!(TenantId::parse("-acme").is_err());
        assert!(TenantId::parse("a#b").is_err());
        assert!(TenantId::parse(&"a".repeat(65)).is_err());
        assert!(TenantId::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn key_text_refuses_separators_controls_and_padding() {
        assert!(Sku::parse("SKU-1 blue").is_ok());
        for bad in ["", "a#b", "a\nb", " a", "a ", "\u{7f}"] {
            assert!(Sku::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ExternalRef::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn ulid_ids_round_trip_and_refuse_garbage() {
        let id = OrderId::from_ulid(Ulid::from_parts(1_700_000_000_000, 42));
        assert_eq!(OrderId::parse(&id.to_string()).unwrap(), id);
        assert!(OrderId::parse("not-a-ulid").is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<OrderId>(&json).unwrap(), id);
    }

    #[test]
    fn carrier_codes_take_any_case_and_are_stored_lower_case() {
        assert_eq!(CarrierCode::parse("FedEx").unwrap().as_str(), "fedex");
        assert_eq!(CarrierCode::parse("USPS").unwrap().as_str(), "usps");
        assert_eq!(
            CarrierCode::parse("DHL_Express").unwrap(),
            CarrierCode::parse("dhl_express").unwrap()
        );
        let json: CarrierCode = serde_json::from_str("\"UPS\"").unwrap();
        assert_eq!(json.as_str(), "ups");
        for bad in ["", "Fed Ex", "fed#ex", "-fedex", " usps"] {
            assert!(CarrierCode::parse(bad).is_err(), "{bad:?} accepted");
        }
        // Other slugs keep refusing upper case.
        assert!(TenantId::parse("Acme").is_err());
    }

    proptest::proptest! {
        /// Any casing of a carrier code parses to the same, lower-case code.
        #[test]
        fn any_casing_of_a_carrier_code_is_the_same_code(
            code in "[a-z0-9][a-z0-9_-]{0,30}",
            upper in proptest::collection::vec(proptest::bool::ANY, 31),
        ) {
            let cased: String = code
                .chars()
                .zip(upper.iter().chain(std::iter::repeat(&false)))
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
                .collect();
            let parsed = CarrierCode::parse(&cased).unwrap();
            proptest::prop_assert_eq!(parsed.as_str(), code.as_str());
            proptest::prop_assert_eq!(parsed, CarrierCode::parse(&code).unwrap());
        }
    }

    #[test]
    fn quantity_bounds() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(1).is_ok());
        assert!(Quantity::new(Quantity::MAX + 1).is_err());
        assert!(serde_json::from_str::<Quantity>("0").is_err());
    }
}
