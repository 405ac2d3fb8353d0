//! Local wall-clock times to UTC instants in an IANA time zone, with the
//! daylight-saving rules of RFC 5545, section 3.3.5:
//!
//! - a local time that does not exist (the spring-forward gap) "is
//!   interpreted using the UTC offset before the gap": 02:30 in
//!   Europe/Berlin on 2024-03-31 is 03:30 CEST = 01:30Z, and a time at the
//!   very start of the gap (02:00) is the first instant after it (03:00 CEST);
//! - a local time that occurs twice (the autumn repeated hour) "refers to the
//!   first occurrence": 01:30 in America/New_York on 2024-11-03 is 01:30 EDT
//!   = 05:30Z.
//!
//! The end of a range (a freeze's end) takes the *last* occurrence of a
//! repeated time instead, so a range is never shorter than written.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset as _, TimeZone, Utc};
use chrono_tz::Tz;

use events::WindowError;

/// Parses an IANA time zone name.
///
/// # Errors
/// [`WindowError::UnknownTimeZone`] when chrono-tz does not know it.
pub fn zone(name: &str) -> Result<Tz, WindowError> {
    name.parse::<Tz>()
        .map_err(|_| WindowError::UnknownTimeZone(name.to_owned()))
}

/// The instant a local start time stands for (RFC 5545 §3.3.5): the
/// instant itself, the first of a repeated time, or, in a gap, the wall
/// clock read with the offset in force before the gap.
pub fn start_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => in_gap(tz, local),
    }
}

/// The instant a local end time stands for: as [`start_instant`], except
/// that a repeated time takes its last occurrence.
pub fn end_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(_, last) => last.with_timezone(&Utc),
        LocalResult::None => in_gap(tz, local),
    }
}

/// A local time inside a gap, read with the offset in force before the gap:
/// the nearest earlier hour that exists locally gives that offset (gaps are
/// at most a day long; Pacific/Apia skipped 2011-12-30 whole).
fn in_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let offset_seconds = (1..=48)
        .find_map(
            |h| match tz.from_local_datetime(&(local - Duration::hours(h))) {
                LocalResult::Single(t) => Some(t.offset().fix().local_minus_utc()),
                LocalResult::Ambiguous(_, later) => Some(later.offset().fix().local_minus_utc()),
                LocalResult::None => None,
            },
        )
        .unwrap_or(0);
    (local - Duration::seconds(i64::from(offset_seconds))).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        match NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
            Ok(t) => t,
            Err(e) => panic!("bad local time {s:?}: {e}"),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        match s.parse() {
            Ok(t) => t,
            Err(e) => panic!("bad instant {s:?}: {e}"),
        }
    }

    #[test]
    fn rfc5545_section_3_3_5_examples_and_their_mirrors() {
        let ny = chrono_tz::America::New_York;
        let berlin = chrono_tz::Europe::Berlin;
        let london = chrono_tz::Europe::London;
        // (zone, local, start instant, end instant)
        let table = [
            // RFC 5545's own examples: 2007-11-04 01:30 is 01:30 EDT; 2007-03-11
            // 02:30 is 03:30 EDT.
            (
                ny,
                "2007-11-04T01:30",
                "2007-11-04T05:30:00Z",
                "2007-11-04T06:30:00Z",
            ),
            (
                ny,
                "2007-03-11T02:30",
                "2007-03-11T07:30:00Z",
                "2007-03-11T07:30:00Z",
            ),
            (
                berlin,
                "2024-03-31T02:30",
                "2024-03-31T01:30:00Z",
                "2024-03-31T01:30:00Z",
            ),
            (
                berlin,
                "2024-03-31T02:00",
                "2024-03-31T01:00:00Z",
                "2024-03-31T01:00:00Z",
            ),
            (
                berlin,
                "2024-10-27T02:30",
                "2024-10-27T00:30:00Z",
                "2024-10-27T01:30:00Z",
            ),
            (
                london,
                "2024-03-31T01:00",
                "2024-03-31T01:00:00Z",
                "2024-03-31T01:00:00Z",
            ),
            (
                london,
                "2024-10-27T01:00",
                "2024-10-27T00:00:00Z",
                "2024-10-27T01:00:00Z",
            ),
            (
                london,
                "2024-07-01T12:00",
                "2024-07-01T11:00:00Z",
                "2024-07-01T11:00:00Z",
            ),
        ];
        for (tz, l, start, end) in table {
            assert_eq!(start_instant(tz, local(l)), utc(start), "{tz} {l} start");
            assert_eq!(end_instant(tz, local(l)), utc(end), "{tz} {l} end");
        }
    }

    #[test]
    fn a_day_long_gap_uses_the_offset_before_it() {
        // Samoa moved across the date line: 2011-12-30 does not exist in Apia
        // (UTC-10 until 2011-12-29T23:59:59, then UTC+14).
        let apia = chrono_tz::Pacific::Apia;
        assert_eq!(
            start_instant(apia, local("2011-12-30T12:00")),
            utc("2011-12-30T22:00:00Z")
        );
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert_eq!(
            zone("Mars/Olympus"),
            Err(WindowError::UnknownTimeZone("Mars/Olympus".into()))
        );
        assert_eq!(zone("Europe/Berlin"), Ok(chrono_tz::Europe::Berlin));
    }
}
