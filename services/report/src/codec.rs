//! How values are written into and read back from the SQLite file.
//!
//! Instants are stored as fixed-width RFC 3339 UTC text with nanoseconds
//! (`2025-01-20T00:00:00.000000000Z`), so SQL compares them correctly as
//! strings and they read back exactly. That spelling is fixed-width only for
//! years 0000–9999; an instant outside that range is clamped to its edge
//! (`0000-01-01T00:00:00.000000000Z` or `9999-12-31T23:59:59.999999999Z`),
//! which keeps every comparison with a realistic `as_of` unchanged.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use uuid::Uuid;

use events::{Priority, Severity};

use crate::error::ReportError;

const MIN_INSTANT: &str = "0000-01-01T00:00:00.000000000Z";
const MAX_INSTANT: &str = "9999-12-31T23:59:59.999999999Z";

/// The stored, sortable spelling of an instant (see the module docs).
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    match at.year() {
        y if y < 0 => MIN_INSTANT.to_owned(),
        y if y > 9999 => MAX_INSTANT.to_owned(),
        _ => at.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

/// Reads an instant written by [`ts`].
///
/// # Errors
/// [`ReportError::Corrupt`] when `s` is not RFC 3339.
pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>, ReportError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ReportError::Corrupt(format!("stored instant {s:?}: {e}")))
}

/// Reads an optional instant written by [`ts`].
pub(crate) fn parse_ts_opt(s: Option<String>) -> Result<Option<DateTime<Utc>>, ReportError> {
    s.as_deref().map(parse_ts).transpose()
}

/// Reads a UUID stored as its hyphenated text.
///
/// # Errors
/// [`ReportError::Corrupt`] when `s` is not a UUID.
pub(crate) fn parse_uuid(s: &str) -> Result<Uuid, ReportError> {
    Uuid::parse_str(s).map_err(|e| ReportError::Corrupt(format!("stored id {s:?}: {e}")))
}

/// An unsigned number as a SQLite integer.
///
/// # Errors
/// [`ReportError::OutOfRange`] above `i64::MAX`.
pub(crate) fn to_i64(what: &'static str, value: u64) -> Result<i64, ReportError> {
    i64::try_from(value).map_err(|_| ReportError::OutOfRange { what, value })
}

/// A count or sequence read back from SQLite (never negative when this crate
/// wrote it).
///
/// # Errors
/// [`ReportError::Corrupt`] when negative.
pub(crate) fn to_u64(what: &str, value: i64) -> Result<u64, ReportError> {
    u64::try_from(value).map_err(|_| ReportError::Corrupt(format!("{what} is negative: {value}")))
}

/// Reads a priority stored by its lower-case name.
pub(crate) fn parse_priority(s: &str) -> Result<Priority, ReportError> {
    s.parse()
        .map_err(|e: String| ReportError::Corrupt(format!("stored priority: {e}")))
}

/// Reads a severity stored by its lower-case name ([`Severity::as_str`]).
pub(crate) fn parse_severity(s: &str) -> Result<Severity, ReportError> {
    [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
    .ok_or_else(|| ReportError::Corrupt(format!("stored severity {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_sort_as_text_and_read_back_exactly() {
        let a: DateTime<Utc> = "2025-01-09T00:00:00Z".parse().unwrap();
        let b: DateTime<Utc> = "2025-01-09T00:00:00.000000001Z".parse().unwrap();
        let c: DateTime<Utc> = "2025-01-10T00:00:00Z".parse().unwrap();
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        assert_eq!(ts(a), "2025-01-09T00:00:00.000000000Z");
        for t in [a, b, c] {
            assert_eq!(parse_ts(&ts(t)).unwrap(), t);
        }
    }

    #[test]
    fn instants_beyond_four_digit_years_clamp_to_the_edges() {
        let far = DateTime::<Utc>::MAX_UTC;
        let early = DateTime::<Utc>::MIN_UTC;
        assert_eq!(ts(far), MAX_INSTANT);
        assert_eq!(ts(early), MIN_INSTANT);
        assert!(parse_ts(&ts(far)).is_ok());
    }

    #[test]
    fn corrupt_values_are_errors() {
        assert!(matches!(
            parse_ts("yesterday"),
            Err(ReportError::Corrupt(_))
        ));
        assert!(matches!(parse_uuid("x"), Err(ReportError::Corrupt(_))));
        assert!(matches!(
            parse_severity("urgent"),
            Err(ReportError::Corrupt(_))
        ));
        assert!(matches!(to_u64("count", -1), Err(ReportError::Corrupt(_))));
        assert!(matches!(
            to_i64("stream sequence", u64::MAX),
            Err(ReportError::OutOfRange { .. })
        ));
        assert_eq!(parse_priority("high").unwrap(), Priority::High);
    }
}
