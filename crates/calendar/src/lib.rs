//! calendar: when maintenance windows open, in UTC.
//!
//! The data types live in `events` ([`events::WindowSet`] travels in
//! `patch.bundle.scheduled`); this crate is the arithmetic over them, used by
//! schedule (release a ring, project a rollout), deploy (pause and resume
//! waves) and `patchflow plan`. Call it through the [`Windows`] extension
//! trait:
//!
//! ```
//! use calendar::Windows as _;
//! use events::{RecurringWindow, WindowSet};
//!
//! // The Sunday after Patch Tuesday (second Tuesday + 5 days), 22:00 Berlin, 4 h.
//! let set = WindowSet {
//!     timezone: "Europe/Berlin".into(),
//!     recurring: vec![RecurringWindow {
//!         rrule: "FREQ=MONTHLY;BYDAY=2TU".into(),
//!         start: "22:00".into(),
//!         duration_minutes: 240,
//!         offset_days: 5,
//!         since: None,
//!     }],
//!     ..WindowSet::always()
//! };
//! let t = "2026-11-01T00:00:00Z".parse().unwrap();
//! let next = set.current_or_next(t).unwrap();
//! // 2026-11-10 is the second Tuesday; + 5 days = Sunday 15th, 22:00 CET = 21:00Z.
//! assert_eq!(next.opens_at.to_rfc3339(), "2026-11-15T21:00:00+00:00");
//! ```
//!
//! # Rules
//!
//! - **Openings** ([`Windows::openings`]): every window (weekly or RRULE) is
//!   expanded in floating local time and each occurrence resolved to UTC by
//!   RFC 5545 §3.3.5 ([`local`]): a non-existent local time (spring forward)
//!   opens after the gap, read with the offset before it; a repeated one
//!   (autumn) opens once, at its first occurrence. Openings are distinct:
//!   two occurrences that land on one instant (OC-12: 01:00 and 02:00 London
//!   on 2024-03-31 are both 01:00Z) open once, with the longer duration.
//!   A window's length is real time, so a window across a change keeps its
//!   minutes.
//! - **Start intervals** ([`Windows::start_intervals`],
//!   [`Windows::current_or_next`]): an opening minus the set's cutoff
//!   (no new host starts within `cutoff_minutes` of the window's end) and
//!   minus every freeze (no new host starts in `[starts_at, ends_at)`); a
//!   freeze in the middle splits an opening in two, one at its end opens the
//!   rest after it. An always-open set is one endless interval minus its
//!   freezes.
//! - **Freezes** come from configuration as absolute instants (RFC 3339 with
//!   `Z` or an offset) or local date-times in a zone ([`resolve_freeze`]); a
//!   local start resolves like a window start, a local end takes the later
//!   occurrence of a repeated time, so a freeze is never shorter than written.
//!
//! # Invariants
//!
//! - Pure: no I/O, no clock; the instants are passed in and returned in UTC.
//! - Every function returns a [`WindowError`] for a bad specification,
//!   never panics on input.

pub mod ics;
pub mod local;
pub mod rule;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use events::{Freeze, WindowError, WindowInstance, WindowSet};

pub use rule::weekly_rrule;

/// The longest cutoff, in minutes (a week).
pub const MAX_CUTOFF_MINUTES: u32 = 7 * 24 * 60;

/// How far [`Windows::current_or_next`] looks ahead before it gives up: five
/// years (a `FREQ=YEARLY;BYMONTHDAY=29;BYMONTH=2` window opens every four).
const HORIZON_DAYS: i64 = 5 * 366;

/// The end of an always-open set's interval: 100 years after its start.
const ALWAYS_DAYS: i64 = 36_500;

/// Window arithmetic on an [`events::WindowSet`].
pub trait Windows {
    /// Checks the time zone, every window (start `HH:MM`, 1–10080 minutes,
    /// days, RRULE, offset), the cutoff (0–10080, shorter than every window)
    /// and every freeze (ends after it starts).
    ///
    /// # Errors
    /// The first [`WindowError`] found.
    fn validate(&self) -> Result<(), WindowError>;

    /// Every window opening in `[from, to)`, sorted by `opens_at`, each
    /// instant once; `closes_at` is the window's own end (no cutoff, no
    /// freeze). An always-open set has none.
    ///
    /// # Errors
    /// As [`Windows::validate`].
    fn openings(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WindowInstance>, WindowError>;

    /// The intervals in which new hosts may start, of the openings in
    /// `[from, to)`: each cut by the cutoff and the freezes (see the crate
    /// rules), sorted by `opens_at`. An always-open set gives its one
    /// interval from `from` (minus freezes).
    ///
    /// # Errors
    /// As [`Windows::validate`].
    fn start_intervals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WindowInstance>, WindowError>;

    /// The start interval open at `t` (the one that closes last, when
    /// several are), or else the first one opening after `t`.
    ///
    /// An always-open set without freezes returns `[t, t + 100 years)`.
    ///
    /// # Errors
    /// As [`Windows::validate`]; [`WindowError::NeverOpens`] when no
    /// interval opens within five years after `t`.
    fn current_or_next(&self, t: DateTime<Utc>) -> Result<WindowInstance, WindowError>;

    /// The freeze in force at `t`, if any (the one that ends last).
    fn freeze_at(&self, t: DateTime<Utc>) -> Option<&Freeze>;

    /// The freezes that overlap `[from, to)`, in start order.
    fn freezes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&Freeze>;
}

impl Windows for WindowSet {
    fn validate(&self) -> Result<(), WindowError> {
        local::zone(&self.timezone)?;
        for w in &self.windows {
            rule::check_weekly(w)?;
        }
        for w in &self.recurring {
            rule::Rule::parse(w)?;
        }
        if self.cutoff_minutes > MAX_CUTOFF_MINUTES {
            return Err(WindowError::BadCutoff(self.cutoff_minutes));
        }
        let shortest = self
            .windows
            .iter()
            .map(|w| w.duration_minutes)
            .chain(self.recurring.iter().map(|w| w.duration_minutes))
            .min();
        if let Some(duration_minutes) = shortest.filter(|d| *d <= self.cutoff_minutes) {
            return Err(WindowError::CutoffTooLong {
                cutoff_minutes: self.cutoff_minutes,
                duration_minutes,
            });
        }
        for f in &self.freezes {
            if f.ends_at <= f.starts_at {
                return Err(WindowError::BadFreeze {
                    name: f.name.clone(),
                    reason: format!(
                        "ends at {} which is not after its start {}",
                        f.ends_at.to_rfc3339(),
                        f.starts_at.to_rfc3339()
                    ),
                });
            }
        }
        Ok(())
    }

    fn openings(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WindowInstance>, WindowError> {
        self.validate()?;
        let tz = local::zone(&self.timezone)?;
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        // Local dates around the range: offsets are within ±26 h.
        let (lo, hi) = local_range(tz, from, to);
        for w in &self.windows {
            for l in rule::weekly_occurrences(w, lo.date(), hi.date())? {
                push_opening(&mut out, tz, l, w.duration_minutes, from, to);
            }
        }
        for w in &self.recurring {
            let r = rule::Rule::parse(w)?;
            let offset = Duration::days(i64::from(r.offset_days));
            for l in r.occurrences(&w.rrule, lo - offset, hi - offset)? {
                let before_until = match r.until {
                    None => true,
                    Some(rule::Until::Local(u)) => l <= u,
                    Some(rule::Until::Instant(u)) => local::start_instant(tz, l) <= u,
                };
                if before_until {
                    push_opening(&mut out, tz, r.shifted(l), w.duration_minutes, from, to);
                }
            }
        }
        // Sorted by opening, the longest first among equal openings, which
        // `dedup_by_key` keeps.
        out.sort_by_key(|i| (i.opens_at, std::cmp::Reverse(i.closes_at)));
        out.dedup_by_key(|i| i.opens_at);
        Ok(out)
    }

    fn start_intervals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WindowInstance>, WindowError> {
        let raw = if self.is_always_open() {
            self.validate()?;
            vec![WindowInstance {
                opens_at: from,
                closes_at: add_days(from, ALWAYS_DAYS),
            }]
        } else {
            let cutoff = Duration::minutes(i64::from(self.cutoff_minutes));
            self.openings(from, to)?
                .into_iter()
                .map(|w| WindowInstance {
                    opens_at: w.opens_at,
                    closes_at: w.closes_at - cutoff,
                })
                .collect()
        };
        let mut out = Vec::new();
        for w in raw {
            out.extend(minus_freezes(w, &self.freezes));
        }
        out.sort_by_key(|i| (i.opens_at, i.closes_at));
        Ok(out)
    }

    fn current_or_next(&self, t: DateTime<Utc>) -> Result<WindowInstance, WindowError> {
        // Windows last at most a week, so one opening up to 8 days before
        // `t` can still be open; look ahead 9 days first (a weekly set always
        // opens in that span), then up to the horizon. An always-open set's
        // one interval starts at `t`.
        let from = if self.is_always_open() {
            t
        } else {
            add_days(t, -8)
        };
        for ahead in [9, 400, HORIZON_DAYS] {
            let intervals = self.start_intervals(from, add_days(t, ahead))?;
            let open = intervals
                .iter()
                .filter(|i| i.contains(t))
                .max_by_key(|i| i.closes_at);
            let next = intervals
                .iter()
                .filter(|i| i.opens_at > t)
                .min_by_key(|i| i.opens_at);
            if let Some(found) = open.or(next) {
                return Ok(*found);
            }
            if self.is_always_open() {
                break;
            }
        }
        Err(WindowError::NeverOpens(t))
    }

    fn freeze_at(&self, t: DateTime<Utc>) -> Option<&Freeze> {
        self.freezes
            .iter()
            .filter(|f| f.contains(t))
            .max_by_key(|f| f.ends_at)
    }

    fn freezes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<&Freeze> {
        let mut out: Vec<&Freeze> = self
            .freezes
            .iter()
            .filter(|f| f.starts_at < to && from < f.ends_at)
            .collect();
        out.sort_by_key(|f| (f.starts_at, f.ends_at));
        out
    }
}

/// `t + days`, saturating at the ends of time.
fn add_days(t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    t.checked_add_signed(Duration::days(days))
        .unwrap_or(if days < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// Local wall-clock bounds of `[from, to)` in `tz`, widened by two days each
/// way so every local time that can resolve inside is covered.
fn local_range(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> (NaiveDateTime, NaiveDateTime) {
    let lo = add_days(from, -2).with_timezone(&tz).naive_local();
    let hi = add_days(to, 2).with_timezone(&tz).naive_local();
    (lo, hi)
}

fn push_opening(
    out: &mut Vec<WindowInstance>,
    tz: Tz,
    local: NaiveDateTime,
    minutes: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    let opens_at = local::start_instant(tz, local);
    if opens_at >= from && opens_at < to {
        out.push(WindowInstance {
            opens_at,
            closes_at: opens_at + Duration::minutes(i64::from(minutes)),
        });
    }
}

/// `w` minus every freeze: zero, one or more pieces, none empty.
fn minus_freezes(w: WindowInstance, freezes: &[Freeze]) -> Vec<WindowInstance> {
    let mut pieces = vec![w];
    for f in freezes {
        let mut next = Vec::with_capacity(pieces.len() + 1);
        for p in pieces {
            if f.ends_at <= p.opens_at || p.closes_at <= f.starts_at {
                next.push(p);
                continue;
            }
            if p.opens_at < f.starts_at {
                next.push(WindowInstance {
                    opens_at: p.opens_at,
                    closes_at: f.starts_at,
                });
            }
            if f.ends_at < p.closes_at {
                next.push(WindowInstance {
                    opens_at: f.ends_at,
                    closes_at: p.closes_at,
                });
            }
        }
        pieces = next;
    }
    pieces.retain(|p| p.opens_at < p.closes_at);
    pieces
}

/// Resolves a configured freeze to UTC. `starts` and `ends` are each an
/// RFC 3339 instant with `Z` or an offset (`2026-12-20T00:00:00Z`), or a
/// local date-time (`2026-12-20T18:00`, seconds optional) or date
/// (`2026-12-20` = its 00:00) in `timezone` (an IANA name).
///
/// A local start resolves like a window start, a local end to the later of
/// a repeated time ([`local`]), so the freeze is never shorter than written.
///
/// # Errors
/// [`WindowError::BadFreeze`] naming the bound that does not parse or an
/// end not after the start; [`WindowError::UnknownTimeZone`].
pub fn resolve_freeze(
    name: &str,
    starts: &str,
    ends: &str,
    timezone: &str,
) -> Result<Freeze, WindowError> {
    let tz = local::zone(timezone)?;
    let bad = |reason: String| WindowError::BadFreeze {
        name: name.to_owned(),
        reason,
    };
    let bound = |field: &str, text: &str, end: bool| -> Result<DateTime<Utc>, WindowError> {
        let text = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        let local = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
            .ok_or_else(|| {
                bad(format!(
                    "{field} {text:?} is neither RFC 3339 (2026-12-20T00:00:00Z) nor a local date-time (2026-12-20T18:00) or date (2026-12-20)"
                ))
            })?;
        Ok(if end {
            local::end_instant(tz, local)
        } else {
            local::start_instant(tz, local)
        })
    };
    let starts_at = bound("starts", starts, false)?;
    let ends_at = bound("ends", ends, true)?;
    if ends_at <= starts_at {
        return Err(bad(format!(
            "ends at {} which is not after its start {}",
            ends_at.to_rfc3339(),
            starts_at.to_rfc3339()
        )));
    }
    Ok(Freeze {
        name: name.to_owned(),
        starts_at,
        ends_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        match s.parse() {
            Ok(t) => t,
            Err(e) => panic!("bad instant {s:?}: {e}"),
        }
    }

    fn piece(o: &str, c: &str) -> WindowInstance {
        WindowInstance {
            opens_at: utc(o),
            closes_at: utc(c),
        }
    }

    fn freeze(s: &str, e: &str) -> Freeze {
        Freeze {
            name: "f".into(),
            starts_at: utc(s),
            ends_at: utc(e),
        }
    }

    #[test]
    fn freezes_cut_split_and_swallow_intervals() {
        let w = piece("2026-01-01T02:00:00Z", "2026-01-01T06:00:00Z");
        let table: [(&str, Vec<Freeze>, Vec<WindowInstance>); 6] = [
            ("no freeze", vec![], vec![w]),
            (
                "before and after",
                vec![
                    freeze("2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z"),
                    freeze("2026-01-01T06:00:00Z", "2026-01-01T08:00:00Z"),
                ],
                vec![w],
            ),
            (
                "in the middle",
                vec![freeze("2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z")],
                vec![
                    piece("2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"),
                    piece("2026-01-01T04:00:00Z", "2026-01-01T06:00:00Z"),
                ],
            ),
            (
                "over the start",
                vec![freeze("2026-01-01T01:00:00Z", "2026-01-01T05:00:00Z")],
                vec![piece("2026-01-01T05:00:00Z", "2026-01-01T06:00:00Z")],
            ),
            (
                "over the end",
                vec![freeze("2026-01-01T05:59:00Z", "2026-01-02T00:00:00Z")],
                vec![piece("2026-01-01T02:00:00Z", "2026-01-01T05:59:00Z")],
            ),
            (
                "over all",
                vec![freeze("2026-01-01T02:00:00Z", "2026-01-01T06:00:00Z")],
                vec![],
            ),
        ];
        for (name, freezes, want) in table {
            assert_eq!(minus_freezes(w, &freezes), want, "{name}");
        }
    }

    #[test]
    fn freezes_resolve_from_instants_and_local_times() {
        let table = [
            // (starts, ends, zone, starts_at, ends_at)
            (
                "2026-12-20T00:00:00Z",
                "2027-01-04T00:00:00+01:00",
                "Europe/Berlin",
                "2026-12-20T00:00:00Z",
                "2027-01-03T23:00:00Z",
            ),
            (
                "2026-12-20",
                "2027-01-04T06:30",
                "Europe/Berlin",
                "2026-12-19T23:00:00Z",
                "2027-01-04T05:30:00Z",
            ),
            // A local end in the repeated hour takes its second occurrence
            // (the freeze is never shorter than written); a start in the gap
            // opens after it.
            (
                "2024-03-10T02:30",
                "2024-11-03 01:30",
                "America/New_York",
                "2024-03-10T07:30:00Z",
                "2024-11-03T06:30:00Z",
            ),
        ];
        for (s, e, tz, want_s, want_e) in table {
            assert_eq!(
                resolve_freeze("year-end", s, e, tz),
                Ok(Freeze {
                    name: "year-end".into(),
                    starts_at: utc(want_s),
                    ends_at: utc(want_e),
                }),
                "{s} .. {e} in {tz}"
            );
        }
        assert_eq!(
            resolve_freeze("x", "2026-12-20", "2026-12-20", "UTC"),
            Err(WindowError::BadFreeze {
                name: "x".into(),
                reason: "ends at 2026-12-20T00:00:00+00:00 which is not after its start 2026-12-20T00:00:00+00:00".into()
            })
        );
        assert_eq!(
            resolve_freeze("x", "christmas", "2026-12-27", "UTC"),
            Err(WindowError::BadFreeze {
                name: "x".into(),
                reason: "starts \"christmas\" is neither RFC 3339 (2026-12-20T00:00:00Z) nor a local date-time (2026-12-20T18:00) or date (2026-12-20)".into()
            })
        );
        assert_eq!(
            resolve_freeze("x", "2026-12-20", "2026-12-27", "Mars/Base"),
            Err(WindowError::UnknownTimeZone("Mars/Base".into()))
        );
    }
}
