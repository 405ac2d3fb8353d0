//! Weekly maintenance windows in an IANA time zone.
//!
//! A [`WindowSet`] is a time zone plus weekly [`WeeklyWindow`]s ("Mon and Thu
//! at 02:00 for 120 minutes"). Instants in and out are UTC; local times are
//! resolved with `chrono-tz`, correct across daylight-saving changes:
//!
//! - a start time that does not exist locally (the spring-forward gap) opens
//!   at the same wall-clock distance after the gap, using the offset in force
//!   before it (RFC 5545, section 3.3.5: "interpreted using the UTC offset
//!   before the gap"), e.g. 02:30 Europe/Berlin on 2024-03-31 opens at 01:30Z;
//! - a start time that occurs twice (the autumn repeated hour) opens once, at
//!   its first occurrence.
//!
//! A window's length is absolute (`duration_minutes` of real time).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, Offset as _, TimeZone, Utc,
};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Day of the week, lower-case three-letter names (`mon` … `sun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(date: NaiveDate) -> Day {
        match date.weekday() {
            chrono::Weekday::Mon => Day::Mon,
            chrono::Weekday::Tue => Day::Tue,
            chrono::Weekday::Wed => Day::Wed,
            chrono::Weekday::Thu => Day::Thu,
            chrono::Weekday::Fri => Day::Fri,
            chrono::Weekday::Sat => Day::Sat,
            chrono::Weekday::Sun => Day::Sun,
        }
    }
}

/// One weekly recurring window: on each of `days`, at local `start`, for
/// `duration_minutes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WeeklyWindow {
    /// Days of the week the window opens on.
    pub days: Vec<Day>,
    /// Local opening time, `HH:MM` (24 h).
    pub start: String,
    /// Length in minutes (1–10080).
    pub duration_minutes: u32,
}

/// A time zone and the weekly windows of one ring. No windows means the ring
/// is always open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WindowSet {
    /// IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub timezone: String,
    /// The windows; empty = always open.
    pub windows: Vec<WeeklyWindow>,
}

/// One concrete opening of a window, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct WindowInstance {
    /// When it opens (UTC, inclusive).
    pub opens_at: DateTime<Utc>,
    /// When it closes (UTC, exclusive).
    pub closes_at: DateTime<Utc>,
}

impl WindowInstance {
    /// Whether `t` falls inside `[opens_at, closes_at)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.opens_at <= t && t < self.closes_at
    }
}

/// A window specification that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The time zone is not an IANA name chrono-tz knows.
    #[error("unknown time zone {0:?} (expected an IANA name such as Europe/Berlin)")]
    UnknownTimeZone(String),
    /// `start` is not `HH:MM`.
    #[error("window start {0:?} is not HH:MM")]
    BadStart(String),
    /// Duration 0 or longer than a week.
    #[error("window duration {0} minutes is outside 1..=10080")]
    BadDuration(u32),
    /// A window with no days never opens.
    #[error("window at {0} lists no days")]
    NoDays(String),
}

impl WindowSet {
    /// A set that is always open, in UTC.
    pub fn always() -> WindowSet {
        WindowSet {
            timezone: "UTC".to_owned(),
            windows: Vec::new(),
        }
    }

    /// Checks the time zone and every window.
    ///
    /// # Errors
    /// The first [`WindowError`] found.
    pub fn validate(&self) -> Result<(), WindowError> {
        self.tz()?;
        for w in &self.windows {
            parse_start(&w.start)?;
            if w.duration_minutes == 0 || w.duration_minutes > 7 * 24 * 60 {
                return Err(WindowError::BadDuration(w.duration_minutes));
            }
            if w.days.is_empty() {
                return Err(WindowError::NoDays(w.start.clone()));
            }
        }
        Ok(())
    }

    fn tz(&self) -> Result<Tz, WindowError> {
        self.timezone
            .parse::<Tz>()
            .map_err(|_| WindowError::UnknownTimeZone(self.timezone.clone()))
    }

    /// The window open at `t`, or else the first one opening after `t`.
    ///
    /// An always-open set returns an instance from `t` to `t + 100 years`.
    /// Among overlapping windows the one that closes last is returned.
    ///
    /// # Errors
    /// As [`WindowSet::validate`].
    pub fn current_or_next(&self, t: DateTime<Utc>) -> Result<WindowInstance, WindowError> {
        self.validate()?;
        if self.windows.is_empty() {
            return Ok(WindowInstance {
                opens_at: t,
                closes_at: t + Duration::days(36_500),
            });
        }
        let mut open_now: Option<WindowInstance> = None;
        let mut next: Option<WindowInstance> = None;
        for inst in self.instances_around(t)? {
            if inst.contains(t) {
                if open_now.is_none_or(|o| inst.closes_at > o.closes_at) {
                    open_now = Some(inst);
                }
            } else if inst.opens_at > t && next.is_none_or(|n| inst.opens_at < n.opens_at) {
                next = Some(inst);
            }
        }
        // A validated, non-empty set opens at least once a week, and the scan
        // below covers more than a week after `t`.
        Ok(open_now.or(next).unwrap_or(WindowInstance {
            opens_at: t,
            closes_at: t,
        }))
    }

    /// Every window opening in `[from, to)`, sorted, each once.
    ///
    /// # Errors
    /// As [`WindowSet::validate`].
    pub fn openings(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WindowInstance>, WindowError> {
        self.validate()?;
        let tz = self.tz()?;
        let first = from.with_timezone(&tz).date_naive() - Duration::days(1);
        let last = to.with_timezone(&tz).date_naive() + Duration::days(1);
        let mut out = Vec::new();
        let mut date = first;
        while date <= last {
            for w in &self.windows {
                if w.days.contains(&Day::of(date)) {
                    let inst = instance(tz, date, w)?;
                    if inst.opens_at >= from && inst.opens_at < to {
                        out.push(inst);
                    }
                }
            }
            date += Duration::days(1);
        }
        out.sort_by_key(|i| (i.opens_at, i.closes_at));
        out.dedup_by_key(|i| i.opens_at);
        Ok(out)
    }

    fn instances_around(&self, t: DateTime<Utc>) -> Result<Vec<WindowInstance>, WindowError> {
        // Windows last at most a week, so one opening up to 8 days before `t`
        // can still be open; 9 days after `t` always reaches the next opening.
        self.openings(t - Duration::days(8), t + Duration::days(9))
    }
}

fn parse_start(s: &str) -> Result<NaiveTime, WindowError> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| WindowError::BadStart(s.to_owned()))
}

fn instance(tz: Tz, date: NaiveDate, w: &WeeklyWindow) -> Result<WindowInstance, WindowError> {
    let local = date.and_time(parse_start(&w.start)?);
    let opens_at = match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // In the gap: use the offset in force just before it.
            let before = local - Duration::hours(3);
            let offset = match tz.from_local_datetime(&before) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    t.offset().fix().local_minus_utc()
                }
                LocalResult::None => 0,
            };
            (local - Duration::seconds(i64::from(offset))).and_utc()
        }
    };
    Ok(WindowInstance {
        opens_at,
        closes_at: opens_at + Duration::minutes(i64::from(w.duration_minutes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn set(tz: &str, days: &[Day], start: &str, minutes: u32) -> WindowSet {
        WindowSet {
            timezone: tz.to_owned(),
            windows: vec![WeeklyWindow {
                days: days.to_vec(),
                start: start.to_owned(),
                duration_minutes: minutes,
            }],
        }
    }

    #[test]
    fn current_or_next_finds_the_open_window_or_the_next_one() {
        let s = set("Europe/Berlin", &[Day::Mon], "02:00", 120);
        // 2026-11-30 is a Monday; Berlin is UTC+1 in winter.
        let before = s.current_or_next(utc("2026-11-30T00:30:00Z")).unwrap();
        assert_eq!(before.opens_at, utc("2026-11-30T01:00:00Z"));
        assert_eq!(before.closes_at, utc("2026-11-30T03:00:00Z"));
        let inside = s.current_or_next(utc("2026-11-30T02:59:00Z")).unwrap();
        assert_eq!(inside.opens_at, utc("2026-11-30T01:00:00Z"));
        let after = s.current_or_next(utc("2026-11-30T03:00:00Z")).unwrap();
        assert_eq!(after.opens_at, utc("2026-12-07T01:00:00Z"));
    }

    #[test]
    fn spring_forward_gap_opens_after_the_gap_once() {
        // 2024-03-31 02:30 does not exist in Berlin (02:00 -> 03:00).
        let s = set("Europe/Berlin", &[Day::Sun], "02:30", 60);
        let w = s.current_or_next(utc("2024-03-30T12:00:00Z")).unwrap();
        assert_eq!(w.opens_at, utc("2024-03-31T01:30:00Z"));
    }

    #[test]
    fn autumn_repeated_hour_opens_at_its_first_occurrence_once() {
        // 2024-11-03 01:30 happens twice in New York (EDT then EST).
        let s = set("America/New_York", &[Day::Sun], "01:30", 30);
        let all = s
            .openings(utc("2024-11-02T00:00:00Z"), utc("2024-11-05T00:00:00Z"))
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].opens_at, utc("2024-11-03T05:30:00Z"));
    }

    #[test]
    fn always_open_set_contains_every_instant() {
        let t = utc("2026-01-01T00:00:00Z");
        assert!(WindowSet::always().current_or_next(t).unwrap().contains(t));
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        assert!(matches!(
            set("Mars/Olympus", &[Day::Mon], "02:00", 10).validate(),
            Err(WindowError::UnknownTimeZone(_))
        ));
        assert!(matches!(
            set("UTC", &[Day::Mon], "25:00", 10).validate(),
            Err(WindowError::BadStart(_))
        ));
        assert!(matches!(
            set("UTC", &[Day::Mon], "02:00", 0).validate(),
            Err(WindowError::BadDuration(0))
        ));
        assert!(matches!(
            set("UTC", &[], "02:00", 10).validate(),
            Err(WindowError::NoDays(_))
        ));
    }
}
