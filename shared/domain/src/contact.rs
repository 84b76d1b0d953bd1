//! Customers, e-mail addresses and postal addresses.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{DomainError, DomainResult};

/// Checks a free-text field: trimmed, no control characters except new lines where allowed,
/// bounded length. Returns the text unchanged when it is valid.
pub fn check_text(field: &'static str, s: &str, max: usize, required: bool) -> DomainResult<()> {
    if required && s.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} bytes"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// An e-mail address: one `@`, a non-empty local part, a dotted domain, ≤ 254 bytes, no spaces.
/// Stored as given, compared case-insensitively in the domain part only by callers that care.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> DomainResult<Self> {
        let bad = |reason: &str| DomainError::invalid("email", reason.to_owned());
        if s.len() > 254 {
            return Err(bad("must be at most 254 bytes"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("must not contain white space"));
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| bad("must contain '@'"))?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err(bad("must be local@domain"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(bad("domain must be a dotted host name"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A postal address. Country is an ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Address {
    /// Validates every field; the only way the application builds an `Address` from input.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        line1: &str,
        line2: Option<&str>,
        city: &str,
        region: Option<&str>,
        postal_code: &str,
        country: &str,
        phone: Option<&str>,
    ) -> DomainResult<Self> {
        let address = Self {
            name: name.trim().to_owned(),
            line1: line1.trim().to_owned(),
            line2: line2.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
            city: city.trim().to_owned(),
            region: region
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            postal_code: postal_code.trim().to_owned(),
            country: country.trim().to_ascii_uppercase(),
            phone: phone.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        };
        address.validate()?;
        Ok(address)
    }

    pub fn validate(&self) -> DomainResult<()> {
        check_text("address.name", &self.name, 200, true)?;
        check_text("address.line1", &self.line1, 200, true)?;
        check_text(
            "address.line2",
            self.line2.as_deref().unwrap_or(""),
            200,
            false,
        )?;
        check_text("address.city", &self.city, 100, true)?;
        check_text(
            "address.region",
            self.region.as_deref().unwrap_or(""),
            100,
            false,
        )?;
        check_text("address.postalCode", &self.postal_code, 20, false)?;
        check_text(
            "address.phone",
            self.phone.as_deref().unwrap_or(""),
            40,
            false,
        )?;
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(DomainError::invalid(
                "address.country",
                "must be an ISO 3166-1 alpha-2 code such as US",
            ));
        }
        Ok(())
    }
}

/// The person the order is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub name: String,
    pub email: Email,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Customer {
    pub fn new(name: &str, email: Email, phone: Option<&str>) -> DomainResult<Self> {
        let customer = Self {
            name: name.trim().to_owned(),
            email,
            phone: phone.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        };
        customer.validate()?;
        Ok(customer)
    }

    pub fn validate(&self) -> DomainResult<()> {
        check_text("customer.name", &self.name, 200, true)?;
        check_text(
            "customer.phone",
            self.phone.as_deref().unwrap_or(""),
            40,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(Email::parse("ana@example.com").is_ok());
        assert!(Email::parse("a.b+tag@sub.example.co.uk").is_ok());
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@localhost",
            "a b@x.com",
            "a@b@c.com",
            "a@-x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn addresses() {
        let a = Address::new(
            "Ana",
            "1 Main St",
            None,
            "Springfield",
            Some("IL"),
            "62701",
            "us",
            None,
        )
        .unwrap();
        assert_eq!(a.country, "US");
        assert!(Address::new("", "1 Main St", None, "X", None, "1", "US", None).is_err());
        assert!(Address::new("Ana", "1 Main St", None, "X", None, "1", "USA", None).is_err());
        assert!(Address::new("Ana", "1\u{0}", None, "X", None, "1", "US", None).is_err());
    }
}
