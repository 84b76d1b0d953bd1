//! Audit logs kept in day partitions (a tenant's, the SaaS provider's): the range one read may
//! span and the `{day}.{position in that day}` cursor both use.

use domain::Timestamp;

/// The most days one read of an audit log spans.
pub(crate) const MAX_DAYS: i64 = 31;

/// Whether `from`..=`to` is a range an audit read may span.
pub(crate) fn range_ok(from: Timestamp, to: Timestamp) -> bool {
    from <= to && to.unix_seconds() - from.unix_seconds() <= MAX_DAYS * 86_400
}

/// What the range refusal says.
pub(crate) fn range_message() -> String {
    format!("from must be before to, at most {MAX_DAYS} days apart")
}

/// The day (at noon) and the position within it of a `{yyyy-mm-dd}.{position}` cursor, when
/// the day lies within `from`..=`to`.
pub(crate) fn split_cursor(
    cursor: &str,
    from: Timestamp,
    to: Timestamp,
) -> Option<(Timestamp, &str)> {
    let (d, rest) = cursor.split_once('.')?;
    let day = Timestamp::parse_rfc3339(&format!("{d}T12:00:00Z")).ok()?;
    (day.day() >= from.day() && day.day() <= to.day()).then_some((day, rest))
}
