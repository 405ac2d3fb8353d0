//! Maintenance windows and change freezes, as they travel in events
//! (`patch.bundle.scheduled` carries the ring's [`WindowSet`]).
//!
//! This module holds the data only. Resolving a set to concrete UTC
//! instants (expanding RFC 5545 RRULEs in an IANA time zone, daylight-saving
//! rules, cutoffs, freezes) is the `calendar` crate's job:
//! `calendar::Windows::{validate, current_or_next, openings}` on a
//! [`WindowSet`].
//!
//! A set is a time zone plus windows, in two spellings that can be mixed:
//!
//! - [`WeeklyWindow`]: "Mon and Thu at 02:00 for 120 minutes", sugar for the
//!   RRULE `FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=2;BYMINUTE=0;BYSECOND=0`;
//! - [`RecurringWindow`]: any RFC 5545 RRULE (`FREQ=MONTHLY;BYDAY=2TU`), with
//!   a day offset ("Patch Tuesday + 5 days").
//!
//! plus a start cutoff (no new host starts within `cutoff_minutes` of a
//! window's end) and resolved change [`Freeze`]s (no new host starts inside
//! one). A set with no window at all is always open (freezes still apply).

use chrono::{DateTime, NaiveDate, Utc};
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
    /// The day of a chrono weekday.
    pub fn of(weekday: chrono::Weekday) -> Day {
        match weekday {
            chrono::Weekday::Mon => Day::Mon,
            chrono::Weekday::Tue => Day::Tue,
            chrono::Weekday::Wed => Day::Wed,
            chrono::Weekday::Thu => Day::Thu,
            chrono::Weekday::Fri => Day::Fri,
            chrono::Weekday::Sat => Day::Sat,
            chrono::Weekday::Sun => Day::Sun,
        }
    }

    /// The RFC 5545 two-letter weekday (`MO` … `SU`), as RRULE `BYDAY` spells it.
    pub fn rfc5545(self) -> &'static str {
        match self {
            Day::Mon => "MO",
            Day::Tue => "TU",
            Day::Wed => "WE",
            Day::Thu => "TH",
            Day::Fri => "FR",
            Day::Sat => "SA",
            Day::Sun => "SU",
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
    /// Length in minutes of real time (1–10080).
    pub duration_minutes: u32,
}

/// A window that recurs by an RFC 5545 recurrence rule (section 3.3.10),
/// expanded in the set's time zone.
///
/// The rule's DTSTART is `since` at local `start`; the rule decides the
/// days (and, with `BYHOUR`/`BYMINUTE`, the times) of the openings. Each
/// occurrence's local date is then moved by `offset_days`, so "the Sunday
/// after Patch Tuesday" is `FREQ=MONTHLY;BYDAY=2TU` with `offset_days = 5`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecurringWindow {
    /// The RRULE value, with or without its `RRULE:` prefix
    /// (`FREQ=MONTHLY;BYDAY=2TU`). `UNTIL` is an instant (`…Z`) or a local
    /// date(-time); `COUNT` counts occurrences from `since`.
    pub rrule: String,
    /// Local time of DTSTART, `HH:MM` (24 h): the opening time unless the
    /// rule sets `BYHOUR`/`BYMINUTE`.
    pub start: String,
    /// Length in minutes of real time (1–10080).
    pub duration_minutes: u32,
    /// Calendar days added to each occurrence's local date (−28…28).
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub offset_days: i32,
    /// Local date of DTSTART (default 2020-01-01). It matters for
    /// `INTERVAL` > 1, `COUNT`, and what the rule leaves to DTSTART (the
    /// weekday of a `WEEKLY` rule without `BYDAY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// A change freeze (blackout), resolved to UTC: no new host starts in
/// `[starts_at, ends_at)`, whatever the windows say, unless the release
/// carries an emergency override.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Freeze {
    /// The freeze's name, as configured (`year-end`).
    pub name: String,
    /// First frozen instant (UTC, inclusive).
    pub starts_at: DateTime<Utc>,
    /// First instant after the freeze (UTC, exclusive).
    pub ends_at: DateTime<Utc>,
}

impl Freeze {
    /// Whether `t` falls inside `[starts_at, ends_at)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.starts_at <= t && t < self.ends_at
    }
}

/// A time zone, the windows of one ring, its start cutoff and the freezes
/// that apply to it. No window (weekly or recurring) means always open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WindowSet {
    /// IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub timezone: String,
    /// Weekly windows.
    pub windows: Vec<WeeklyWindow>,
    /// RRULE windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurring: Vec<RecurringWindow>,
    /// No new host starts within this many minutes of a window's end
    /// (0–10080; 0 = up to the end). A window not longer than its cutoff
    /// starts nothing. Always-open sets have no end to cut.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub cutoff_minutes: u32,
    /// Freezes in force for this ring, sorted by start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freezes: Vec<Freeze>,
}

impl Default for WindowSet {
    /// [`WindowSet::always`].
    fn default() -> Self {
        WindowSet::always()
    }
}

impl WindowSet {
    /// A set that is always open, in UTC, with no cutoff and no freeze.
    pub fn always() -> WindowSet {
        WindowSet {
            timezone: "UTC".to_owned(),
            windows: Vec::new(),
            recurring: Vec::new(),
            cutoff_minutes: 0,
            freezes: Vec::new(),
        }
    }

    /// Whether the set has no window at all (so it is open except in its
    /// freezes).
    pub fn is_always_open(&self) -> bool {
        self.windows.is_empty() && self.recurring.is_empty()
    }
}

/// An interval in which new hosts may start, in UTC: one opening of a
/// window, ended early by the set's cutoff or by a freeze, or started late
/// by the end of a freeze.
///
/// Deploy starts a wave only while `contains(now)`; hosts already started
/// run to the end of their work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct WindowInstance {
    /// When starts may begin (UTC, inclusive).
    pub opens_at: DateTime<Utc>,
    /// When starts must stop (UTC, exclusive): the window's end minus the
    /// cutoff, or the start of a freeze.
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
    /// An RRULE that does not parse or validate (RFC 5545 section 3.3.10).
    #[error("window rule {rule:?}: {reason}")]
    BadRule {
        /// The rule as configured.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `offset_days` outside −28…28.
    #[error("window offset_days {0} is outside -28..=28")]
    BadOffset(i32),
    /// `cutoff_minutes` longer than a week.
    #[error("cutoff_minutes {0} is outside 0..=10080")]
    BadCutoff(u32),
    /// A cutoff that leaves a window no time to start anything.
    #[error(
        "cutoff_minutes {cutoff_minutes} leaves no start time in a window of {duration_minutes} minutes"
    )]
    CutoffTooLong {
        /// The set's cutoff.
        cutoff_minutes: u32,
        /// The shortest window's length.
        duration_minutes: u32,
    },
    /// A freeze that does not end after it starts, or whose bounds do not parse.
    #[error("freeze {name:?}: {reason}")]
    BadFreeze {
        /// The freeze.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The set's windows end (an RRULE with `COUNT` or `UNTIL`), or its
    /// freezes cover every opening, for the next five years.
    #[error("no window opens for new starts within five years after {0}")]
    NeverOpens(DateTime<Utc>),
}
