//! Time and id sources. The domain never reads the clock or a random generator itself: callers
//! pass a `Timestamp` and an `IdSource` in, so every command is deterministic under test.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use ulid::Ulid;

use crate::error::{DomainError, DomainResult};

/// A UTC instant with millisecond precision, printed as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn from_unix_millis(ms: i64) -> DomainResult<Self> {
        let nanos = i128::from(ms) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map(Self)
            .map_err(|_| DomainError::invalid("timestamp", "out of range"))
    }

    /// Truncates to milliseconds and converts to UTC.
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        let utc = dt.to_offset(UtcOffset::UTC);
        let ms = utc.millisecond();
        Self(utc.replace_millisecond(ms).unwrap_or(utc))
    }

    pub fn parse_rfc3339(s: &str) -> DomainResult<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|e| DomainError::invalid("timestamp", format!("not RFC 3339: {e}")))
    }

    pub fn unix_millis(&self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    pub fn datetime(&self) -> OffsetDateTime {
        self.0
    }

    pub fn to_rfc3339(&self) -> String {
        // Formatting a UTC datetime within the supported range does not fail.
        self.0
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.0.unix_timestamp().to_string())
    }

    /// Fixed-width UTC text (`2026-11-24T10:30:00.123Z`, always 24 bytes) that sorts like time:
    /// the form sort keys use.
    pub fn fixed_width(&self) -> String {
        let d = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.millisecond()
        )
    }

    /// The UTC calendar day (`2026-11-24`).
    pub fn day(&self) -> String {
        let d = self.0;
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn plus_seconds(&self, secs: i64) -> Self {
        Self(self.0.saturating_add(time::Duration::seconds(secs)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// The one clock of the system: TTLs, token expiry, cool-downs and command times all read it.
/// Injected everywhere, so one test clock drives the store, the verifier and the use cases.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1_000)
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.now_millis())
            .unwrap_or_else(|_| Timestamp::from_datetime(OffsetDateTime::UNIX_EPOCH))
    }
}

/// The system clock (edges only: the domain itself never reads it).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock tests move by hand (seconds, or milliseconds where it matters).
#[derive(Debug, Default, Clone)]
pub struct ManualClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl ManualClock {
    /// A clock at `secs` seconds after the epoch.
    pub fn at(secs: i64) -> Self {
        Self(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
            secs.saturating_mul(1_000),
        )))
    }

    pub fn set(&self, secs: i64) {
        self.set_millis(secs.saturating_mul(1_000));
    }

    pub fn set_millis(&self, ms: i64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(
            secs.saturating_mul(1_000),
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Where ids come from. Production uses time + a CSPRNG; tests use a counter.
pub trait IdSource {
    fn next_ulid(&mut self) -> Ulid;
}

/// What a command needs from the outside world: the time it happens at and fresh ids.
pub struct Ctx<'a> {
    pub now: Timestamp,
    pub ids: &'a mut dyn IdSource,
}

impl<'a> Ctx<'a> {
    pub fn new(now: Timestamp, ids: &'a mut dyn IdSource) -> Self {
        Self { now, ids }
    }
}

/// Deterministic ids for tests: ULIDs with a fixed time part and a counting random part.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Default, Clone)]
pub struct SeqIds {
    next: u128,
}

#[cfg(any(test, feature = "test-support"))]
impl IdSource for SeqIds {
    fn next_ulid(&mut self) -> Ulid {
        self.next += 1;
        Ulid::from_parts(1_700_000_000_000, self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_in_utc_millis() {
        let t = Timestamp::parse_rfc3339("2026-11-24T12:30:00.123456+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T10:30:00.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert_eq!(t.fixed_width(), "2026-11-24T10:30:00.123Z");
        let whole = Timestamp::parse_rfc3339("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(whole.fixed_width(), "2026-01-02T03:04:05.000Z");
        assert_eq!(whole.day(), "2026-01-02");
    }
}
