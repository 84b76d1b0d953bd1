//! Money: integer minor units and an ISO-4217 currency. Parsed from and printed as decimal strings,
//! exponent-aware (JPY 0, USD 2, BHD 3), checked arithmetic only. No floating point.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{DomainError, DomainResult};

/// An ISO-4217 currency that has a minor-unit exponent (funds and metals such as XAU have none
/// and are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(code: &str) -> DomainResult<Self> {
        let c = iso_currency::Currency::from_code(code).ok_or_else(|| {
            DomainError::invalid("currency", format!("{code:?} is not an ISO-4217 code"))
        })?;
        if c.exponent().is_none() {
            return Err(DomainError::invalid(
                "currency",
                format!("{code} has no minor unit"),
            ));
        }
        Ok(Self(c))
    }

    /// The refusal of an amount in `found` where this currency was expected.
    pub fn mismatch(self, found: Currency) -> DomainError {
        DomainError::CurrencyMismatch {
            expected: self.code(),
            found: found.code(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point (JPY 0, USD 2, BHD 3).
    pub fn exponent(&self) -> u32 {
        // `parse` refuses currencies without an exponent.
        u32::from(self.0.exponent().unwrap_or(0))
    }

    /// Every currency `parse` accepts.
    pub fn all() -> impl Iterator<Item = Currency> {
        <iso_currency::Currency as iso_currency::IntoEnumIterator>::iter()
            .filter(|c| c.exponent().is_some())
            .map(Currency)
    }

    fn scale(&self) -> i64 {
        10_i64.pow(self.exponent())
    }
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Currency {
    fn cmp(&self, other: &Self) -> Ordering {
        self.code().cmp(other.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = DomainError;
    fn from_str(s: &str) -> DomainResult<Self> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of one currency, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::from_minor(0, currency)
    }

    /// Parses a decimal string in `currency`: `-?digits(.digits)?` with at most the currency's
    /// exponent of fraction digits. More precision than the currency has is refused, never rounded.
    pub fn parse(amount: &str, currency: Currency) -> DomainResult<Self> {
        let bad = |reason: &str| DomainError::invalid("amount", format!("{amount:?}: {reason}"));
        let (negative, unsigned) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (unsigned, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("expected a decimal number such as 12.34"));
        }
        let exp = currency.exponent() as usize;
        let fraction = fraction.unwrap_or("");
        if unsigned.contains('.') && fraction.is_empty() {
            return Err(bad("expected digits after the decimal point"));
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("expected a decimal number such as 12.34"));
        }
        if fraction.len() > exp {
            return Err(bad(&format!(
                "{} allows at most {exp} decimal places",
                currency.code()
            )));
        }
        let whole: i128 = whole.parse().map_err(|_| DomainError::AmountOutOfRange)?;
        let frac_minor: i128 = if fraction.is_empty() {
            0
        } else {
            fraction
                .parse()
                .map_err(|_| DomainError::AmountOutOfRange)?
        };
        let frac_scale = 10_i128.pow((exp - fraction.len()) as u32);
        let magnitude = whole
            .checked_mul(i128::from(currency.scale()))
            .and_then(|w| w.checked_add(frac_minor * frac_scale))
            .ok_or(DomainError::AmountOutOfRange)?;
        let signed = if negative { -magnitude } else { magnitude };
        let minor = i64::try_from(signed).map_err(|_| DomainError::AmountOutOfRange)?;
        Ok(Self { minor, currency })
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// The canonical decimal string: exactly the currency's exponent of fraction digits.
    pub fn to_decimal_string(&self) -> String {
        let exp = self.currency.exponent() as usize;
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = 10_u64.pow(exp as u32);
        format!(
            "{sign}{}.{:0width$}",
            magnitude / scale,
            magnitude % scale,
            width = exp
        )
    }

    fn same_currency(&self, other: &Money) -> DomainResult<()> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(self.currency.mismatch(other.currency))
        }
    }

    pub fn checked_add(&self, other: &Money) -> DomainResult<Money> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(DomainError::AmountOutOfRange)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    pub fn checked_sub(&self, other: &Money) -> DomainResult<Money> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(DomainError::AmountOutOfRange)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    pub fn checked_mul(&self, factor: u32) -> DomainResult<Money> {
        let minor = self
            .minor
            .checked_mul(i64::from(factor))
            .ok_or(DomainError::AmountOutOfRange)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// `self × bps / 10,000`, rounded half-even to the currency's minor unit.
    pub fn basis_points_half_even(&self, bps: u32) -> Money {
        let product = i128::from(self.minor.unsigned_abs()) * i128::from(bps);
        let (q, r) = (product / 10_000, product % 10_000);
        let rounded = match (r * 2).cmp(&10_000) {
            Ordering::Greater => q + 1,
            Ordering::Equal if q % 2 == 1 => q + 1,
            _ => q,
        };
        // bps ≤ 10,000 in every caller, so |result| ≤ |self| fits; saturate for others.
        let magnitude = i64::try_from(rounded).unwrap_or(i64::MAX);
        let minor = if self.minor < 0 {
            -magnitude
        } else {
            magnitude
        };
        Money::from_minor(minor, self.currency)
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Money) -> DomainResult<Money> {
        self.same_currency(&other)?;
        Ok(if other.minor < self.minor {
            other
        } else {
            self
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    amount: String,
    currency: Currency,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyRepr {
            amount: self.to_decimal_string(),
            currency: self.currency,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr = MoneyRepr::deserialize(d)?;
        Money::parse(&repr.amount, repr.currency).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn exponents() {
        assert_eq!(cur("JPY").exponent(), 0);
        assert_eq!(cur("USD").exponent(), 2);
        assert_eq!(cur("BHD").exponent(), 3);
        assert!(Currency::parse("XAU").is_err());
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("ZZZ").is_err());
    }

    #[test]
    fn parse_and_print() {
        let usd = cur("USD");
        assert_eq!(Money::parse("12.34", usd).unwrap().minor(), 1234);
        assert_eq!(Money::parse("12.3", usd).unwrap().minor(), 1230);
        assert_eq!(Money::parse("12", usd).unwrap().minor(), 1200);
        assert_eq!(
            Money::parse("-0.05", usd).unwrap().to_decimal_string(),
            "-0.05"
        );
        assert_eq!(
            Money::parse("7", cur("JPY")).unwrap().to_decimal_string(),
            "7"
        );
        assert_eq!(
            Money::parse("1.5", cur("BHD")).unwrap().to_decimal_string(),
            "1.500"
        );
        for bad in [
            "", "1.", ".5", "1.234", "+1", "1e3", " 1", "1,00", "--1", "1.-2",
        ] {
            assert!(Money::parse(bad, usd).is_err(), "{bad:?} accepted");
        }
        assert!(Money::parse("1.0", cur("JPY")).is_err());
        assert_eq!(
            Money::parse("99999999999999999999", usd),
            Err(DomainError::AmountOutOfRange)
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let usd = cur("USD");
        let a = Money::from_minor(i64::MAX, usd);
        assert_eq!(
            a.checked_add(&Money::from_minor(1, usd)),
            Err(DomainError::AmountOutOfRange)
        );
        assert!(matches!(
            a.checked_add(&Money::from_minor(1, cur("EUR"))),
            Err(DomainError::CurrencyMismatch { .. })
        ));
        assert_eq!(
            Money::from_minor(i64::MAX / 2 + 1, usd).checked_mul(2),
            Err(DomainError::AmountOutOfRange)
        );
    }

    #[test]
    fn half_even_rounding() {
        let usd = cur("USD");
        // 10% of 0.25 = 0.025 → 0.02 (tie to even); of 0.35 = 0.035 → 0.04.
        assert_eq!(
            Money::from_minor(25, usd)
                .basis_points_half_even(1000)
                .minor(),
            2
        );
        assert_eq!(
            Money::from_minor(35, usd)
                .basis_points_half_even(1000)
                .minor(),
            4
        );
        // 0.026 → 0.03, 0.024 → 0.02
        assert_eq!(
            Money::from_minor(26, usd)
                .basis_points_half_even(1000)
                .minor(),
            3
        );
        assert_eq!(
            Money::from_minor(24, usd)
                .basis_points_half_even(1000)
                .minor(),
            2
        );
        assert_eq!(
            Money::from_minor(-25, usd)
                .basis_points_half_even(1000)
                .minor(),
            -2
        );
        assert_eq!(
            Money::from_minor(i64::MAX, usd)
                .basis_points_half_even(10_000)
                .minor(),
            i64::MAX
        );
    }

    #[test]
    fn serde_shape() {
        let m = Money::parse("10.50", cur("USD")).unwrap();
        let json = serde_json::to_value(m).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"amount": "10.50", "currency": "USD"})
        );
        assert_eq!(serde_json::from_value::<Money>(json).unwrap(), m);
        assert!(
            serde_json::from_value::<Money>(
                serde_json::json!({"amount": "1.001", "currency": "USD"})
            )
            .is_err()
        );
    }
}
