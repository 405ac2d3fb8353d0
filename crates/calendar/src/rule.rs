//! Window rules as local wall-clock occurrences.
//!
//! Every window, weekly or RRULE, is expanded in *floating* local time
//! (date and time on the wall clock, no zone): the RRULE is handed to the
//! `rrule` crate anchored in UTC, where no daylight-saving change exists, so
//! its recurrence arithmetic is plain calendar arithmetic, exactly as RFC
//! 5545 defines recurrences on local time. Only then is each occurrence
//! resolved to an instant by [`crate::local::start_instant`] (RFC 5545
//! §3.3.5), and the caller drops repeated instants.
//!
//! This is the fix for OC-12: expanded in `Europe/London` directly, rrule
//! 0.14.0 turns the non-existent 01:00 of 2024-03-31 into 00:00 + 1 h =
//! 01:00Z, the very instant 02:00 BST also is, and returns it twice.

use chrono::{
    DateTime, Datelike as _, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _,
};
use events::{Day, RecurringWindow, WeeklyWindow, WindowError};
use rrule::{RRule, Tz as RTz, Unvalidated};

/// The longest window, in minutes (a week).
pub const MAX_DURATION_MINUTES: u32 = 7 * 24 * 60;
/// The largest day offset of a recurring window, either way.
pub const MAX_OFFSET_DAYS: i32 = 28;
/// DTSTART's local date when a recurring window gives no `since`.
pub const DEFAULT_SINCE: (i32, u32, u32) = (2020, 1, 1);

/// Parses a local `HH:MM` (24 h).
///
/// # Errors
/// [`WindowError::BadStart`] for anything else.
pub fn parse_start(s: &str) -> Result<NaiveTime, WindowError> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| WindowError::BadStart(s.to_owned()))
}

fn check_duration(minutes: u32) -> Result<(), WindowError> {
    if minutes == 0 || minutes > MAX_DURATION_MINUTES {
        return Err(WindowError::BadDuration(minutes));
    }
    Ok(())
}

/// Checks a weekly window: `HH:MM` start, 1–10080 minutes, at least one day.
///
/// # Errors
/// The [`WindowError`] naming the fault.
pub fn check_weekly(w: &WeeklyWindow) -> Result<(), WindowError> {
    parse_start(&w.start)?;
    check_duration(w.duration_minutes)?;
    if w.days.is_empty() {
        return Err(WindowError::NoDays(w.start.clone()));
    }
    Ok(())
}

/// The RRULE a weekly window is sugar for:
/// `FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=2;BYMINUTE=0;BYSECOND=0`.
///
/// # Errors
/// As [`check_weekly`].
pub fn weekly_rrule(w: &WeeklyWindow) -> Result<String, WindowError> {
    check_weekly(w)?;
    let start = parse_start(&w.start)?;
    let days: Vec<&str> = w.days.iter().map(|d| d.rfc5545()).collect();
    Ok(format!(
        "FREQ=WEEKLY;BYDAY={};BYHOUR={};BYMINUTE={};BYSECOND=0",
        days.join(","),
        chrono::Timelike::hour(&start),
        chrono::Timelike::minute(&start)
    ))
}

/// Local opening times of a weekly window whose date lies in
/// `[from, to]` (local dates).
pub fn weekly_occurrences(
    w: &WeeklyWindow,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDateTime>, WindowError> {
    let start = parse_start(&w.start)?;
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        if w.days.contains(&Day::of(date.weekday())) {
            out.push(date.and_time(start));
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    Ok(out)
}

/// The bound an RRULE's `UNTIL` puts on its occurrences (before
/// `offset_days` moves them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `UNTIL=…Z`: occurrences up to this instant (compared after DST
    /// resolution).
    Instant(DateTime<chrono::Utc>),
    /// `UNTIL=YYYYMMDDTHHMMSS` (floating) or a date (its end): occurrences
    /// up to this local wall-clock time.
    Local(NaiveDateTime),
}

/// A recurring window's rule, parsed and checked.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The RRULE without `RRULE:` and `UNTIL`, as handed to the `rrule` crate.
    body: String,
    /// DTSTART, floating local.
    dtstart: NaiveDateTime,
    /// The `UNTIL` bound, if any.
    pub until: Option<Until>,
    /// Calendar days added to each occurrence's date.
    pub offset_days: i32,
}

impl Rule {
    /// Parses and checks `w` (start, duration, offset, the RRULE itself with
    /// its DTSTART).
    ///
    /// # Errors
    /// [`WindowError::BadStart`], [`WindowError::BadDuration`],
    /// [`WindowError::BadOffset`] or [`WindowError::BadRule`] with the
    /// `rrule` crate's reason.
    pub fn parse(w: &RecurringWindow) -> Result<Rule, WindowError> {
        let start = parse_start(&w.start)?;
        check_duration(w.duration_minutes)?;
        if w.offset_days.abs() > MAX_OFFSET_DAYS {
            return Err(WindowError::BadOffset(w.offset_days));
        }
        let bad = |reason: String| WindowError::BadRule {
            rule: w.rrule.clone(),
            reason,
        };
        let text = w.rrule.trim();
        let text = text
            .strip_prefix("RRULE:")
            .or_else(|| text.strip_prefix("rrule:"))
            .unwrap_or(text);
        if text.is_empty() {
            return Err(bad(
                "is empty (expected e.g. FREQ=MONTHLY;BYDAY=2TU)".to_owned()
            ));
        }
        if text.contains(['\n', '\r', ':']) {
            return Err(bad(
                "holds more than one RRULE value (give DTSTART as `since` and `start`)".to_owned(),
            ));
        }
        let mut until = None;
        let mut parts = Vec::new();
        for part in text.split(';').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((k, v)) if k.eq_ignore_ascii_case("UNTIL") => {
                    until = Some(parse_until(v).ok_or_else(|| {
                        bad(format!(
                            "UNTIL {v:?} is neither YYYYMMDD, YYYYMMDDTHHMMSS nor YYYYMMDDTHHMMSSZ"
                        ))
                    })?);
                }
                _ => parts.push(part),
            }
        }
        let (y, m, d) = DEFAULT_SINCE;
        let since = w
            .since
            .or_else(|| NaiveDate::from_ymd_opt(y, m, d))
            .ok_or_else(|| bad("no DTSTART date".to_owned()))?;
        let rule = Rule {
            body: parts.join(";"),
            dtstart: since.and_time(start),
            until,
            offset_days: w.offset_days,
        };
        rule.build().map_err(bad)?;
        Ok(rule)
    }

    fn build(&self) -> Result<rrule::RRuleSet, String> {
        let parsed: RRule<Unvalidated> = self.body.parse().map_err(|e| format!("{e}"))?;
        let dtstart = RTz::UTC.from_utc_datetime(&self.dtstart);
        parsed.build(dtstart).map_err(|e| format!("{e}"))
    }

    /// The rule's occurrences whose local date-time lies in `[from, to]`
    /// (floating local; `offset_days` not applied, `UNTIL` not applied).
    ///
    /// # Errors
    /// [`WindowError::BadRule`] when the rule no longer builds (it was
    /// checked by [`Rule::parse`], so it does not).
    pub fn occurrences(
        &self,
        rule_text: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<NaiveDateTime>, WindowError> {
        let set = self.build().map_err(|reason| WindowError::BadRule {
            rule: rule_text.to_owned(),
            reason,
        })?;
        let after = RTz::UTC.from_utc_datetime(&from);
        let before = RTz::UTC.from_utc_datetime(&to);
        let found = set.after(after).before(before).all(u16::MAX);
        Ok(found.dates.iter().map(|d| d.naive_utc()).collect())
    }

    /// `local` moved by the rule's `offset_days`.
    pub fn shifted(&self, local: NaiveDateTime) -> NaiveDateTime {
        local + Duration::days(i64::from(self.offset_days))
    }
}

/// Parses an RRULE `UNTIL` value.
fn parse_until(v: &str) -> Option<Until> {
    let v = v.trim();
    if let Some(utc) = v.strip_suffix('Z').or_else(|| v.strip_suffix('z')) {
        let t = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").ok()?;
        return Some(Until::Instant(t.and_utc()));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S") {
        return Some(Until::Local(t));
    }
    let d = NaiveDate::parse_from_str(v, "%Y%m%d").ok()?;
    // A date UNTIL includes that whole day.
    d.and_hms_opt(23, 59, 59).map(Until::Local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recurring(rrule: &str, start: &str) -> RecurringWindow {
        RecurringWindow {
            rrule: rrule.into(),
            start: start.into(),
            duration_minutes: 60,
            offset_days: 0,
            since: None,
        }
    }

    #[test]
    fn weekly_windows_are_sugar_for_an_rrule() {
        let w = WeeklyWindow {
            days: vec![Day::Mon, Day::Thu],
            start: "02:05".into(),
            duration_minutes: 120,
        };
        assert_eq!(
            weekly_rrule(&w),
            Ok("FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=2;BYMINUTE=5;BYSECOND=0".to_owned())
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let table = [
            ("", "is empty (expected e.g. FREQ=MONTHLY;BYDAY=2TU)"),
            (
                "DTSTART:20240101T000000Z\nRRULE:FREQ=DAILY",
                "holds more than one RRULE value (give DTSTART as `since` and `start`)",
            ),
            (
                "FREQ=DAILY;UNTIL=tomorrow",
                "UNTIL \"tomorrow\" is neither YYYYMMDD, YYYYMMDDTHHMMSS nor YYYYMMDDTHHMMSSZ",
            ),
        ];
        for (rule, reason) in table {
            assert_eq!(
                Rule::parse(&recurring(rule, "02:00")).map(|_| ()),
                Err(WindowError::BadRule {
                    rule: rule.into(),
                    reason: reason.into()
                }),
                "{rule:?}"
            );
        }
        // The rrule crate's own checks come through as the reason.
        for rule in ["FREQ=SOMETIMES", "FREQ=MONTHLY;BYDAY=9TU", "BYDAY=MO"] {
            assert!(
                matches!(
                    Rule::parse(&recurring(rule, "02:00")),
                    Err(WindowError::BadRule { .. })
                ),
                "{rule:?} accepted"
            );
        }
        let mut w = recurring("FREQ=DAILY", "02:00");
        w.offset_days = 29;
        assert_eq!(Rule::parse(&w).map(|_| ()), Err(WindowError::BadOffset(29)));
        w.offset_days = 0;
        w.duration_minutes = 0;
        assert_eq!(
            Rule::parse(&w).map(|_| ()),
            Err(WindowError::BadDuration(0))
        );
        assert_eq!(
            Rule::parse(&recurring("FREQ=DAILY", "2am")).map(|_| ()),
            Err(WindowError::BadStart("2am".into()))
        );
    }

    #[test]
    fn until_values_parse_in_their_three_forms() {
        assert_eq!(
            parse_until("20241231T120000Z"),
            "2024-12-31T12:00:00Z".parse().ok().map(Until::Instant)
        );
        assert_eq!(
            parse_until("20241231T120000"),
            NaiveDateTime::parse_from_str("2024-12-31 12:00:00", "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(Until::Local)
        );
        assert_eq!(
            parse_until("20241231"),
            NaiveDateTime::parse_from_str("2024-12-31 23:59:59", "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(Until::Local)
        );
    }
}
