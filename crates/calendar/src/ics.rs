//! Maintenance windows from an iCalendar file (RFC 5545): each `VEVENT`
//! with a `DTSTART`, a `DURATION` or `DTEND`, and an optional `RRULE`
//! becomes one [`RecurringWindow`] of a [`WindowSet`] in the events' zone.
//!
//! Only what a window needs is read: content lines are unfolded (§3.1),
//! `DTSTART;TZID=<zone>:YYYYMMDDTHHMMSS` (or `…Z` for UTC), `DURATION`
//! (§3.3.6: `PT30M`, `PT2H`, `P1D`, `P1W`), `DTEND` in the start's zone, and
//! `RRULE`. Every other property is ignored. An event without `RRULE` opens
//! once (`FREQ=DAILY;COUNT=1`).

use chrono::{NaiveDateTime, Timelike as _};
use events::{RecurringWindow, WindowError, WindowSet};

use crate::local;

/// Reads the windows of every `VEVENT` in `text`.
///
/// # Errors
/// [`WindowError::BadRule`] (with `rule` = the offending line) when a
/// `VEVENT` lacks `DTSTART` or a length, a value does not parse, the
/// events name different zones, a start has seconds, or there is no
/// `VEVENT`; [`WindowError::UnknownTimeZone`] for an unknown `TZID`.
pub fn parse(text: &str) -> Result<WindowSet, WindowError> {
    let mut zone: Option<String> = None;
    let mut windows = Vec::new();
    let mut event: Option<Event> = None;
    for line in unfold(text) {
        let (name_params, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
        let mut parts = name_params.split(';');
        let name = parts.next().unwrap_or_default().to_ascii_uppercase();
        let params: Vec<&str> = parts.collect();
        match (name.as_str(), value) {
            ("BEGIN", v) if v.eq_ignore_ascii_case("VEVENT") => event = Some(Event::default()),
            ("END", v) if v.eq_ignore_ascii_case("VEVENT") => {
                if let Some(e) = event.take() {
                    let (tz, window) = e.window()?;
                    match &zone {
                        Some(z) if *z != tz => {
                            return Err(bad(&line, format!("events name zones {z} and {tz}")));
                        }
                        _ => zone = Some(tz),
                    }
                    windows.push(window);
                }
            }
            _ => {
                if let Some(e) = event.as_mut() {
                    e.property(&name, &params, value, &line)?;
                }
            }
        }
    }
    let Some(timezone) = zone else {
        return Err(bad("", "no VEVENT with a DTSTART".to_owned()));
    };
    local::zone(&timezone)?;
    Ok(WindowSet {
        timezone,
        recurring: windows,
        ..WindowSet::always()
    })
}

fn bad(line: &str, reason: String) -> WindowError {
    WindowError::BadRule {
        rule: line.to_owned(),
        reason,
    }
}

/// Content lines with folding undone (a line starting with a space or tab
/// continues the previous one).
fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), out.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ if raw.trim().is_empty() => {}
            _ => out.push(raw.to_owned()),
        }
    }
    out
}

#[derive(Debug, Default)]
struct Event {
    start: Option<(String, NaiveDateTime, String)>,
    end: Option<(NaiveDateTime, String)>,
    minutes: Option<i64>,
    rrule: Option<String>,
}

impl Event {
    fn property(
        &mut self,
        name: &str,
        params: &[&str],
        value: &str,
        line: &str,
    ) -> Result<(), WindowError> {
        let tzid = params.iter().find_map(|p| {
            p.split_once('=')
                .filter(|(k, _)| k.eq_ignore_ascii_case("TZID"))
                .map(|(_, v)| v.trim_matches('"').to_owned())
        });
        match name {
            "DTSTART" => {
                let (zone, at) = date_time(tzid, value)
                    .ok_or_else(|| bad(line, "DTSTART is not YYYYMMDDTHHMMSS[Z]".to_owned()))?;
                self.start = Some((zone, at, line.to_owned()));
            }
            "DTEND" => {
                let (_, at) = date_time(tzid, value)
                    .ok_or_else(|| bad(line, "DTEND is not YYYYMMDDTHHMMSS[Z]".to_owned()))?;
                self.end = Some((at, line.to_owned()));
            }
            "DURATION" => {
                self.minutes = Some(duration_minutes(value).ok_or_else(|| {
                    bad(
                        line,
                        "DURATION is not a whole number of minutes (PT30M, PT2H, P1D)".to_owned(),
                    )
                })?);
            }
            "RRULE" => self.rrule = Some(value.to_owned()),
            _ => {}
        }
        Ok(())
    }

    fn window(self) -> Result<(String, RecurringWindow), WindowError> {
        let Some((zone, start, line)) = self.start else {
            return Err(bad("END:VEVENT", "VEVENT has no DTSTART".to_owned()));
        };
        if start.second() != 0 {
            return Err(bad(
                &line,
                "DTSTART has seconds; windows start on a minute".to_owned(),
            ));
        }
        let minutes = match (self.minutes, self.end) {
            (Some(m), _) => m,
            (None, Some((end, end_line))) => {
                let tz = local::zone(&zone)?;
                let d = local::end_instant(tz, end) - local::start_instant(tz, start);
                if d.num_seconds() % 60 != 0 {
                    return Err(bad(
                        &end_line,
                        "DTEND is not a whole minute after DTSTART".to_owned(),
                    ));
                }
                d.num_minutes()
            }
            (None, None) => {
                return Err(bad(
                    &line,
                    "VEVENT has neither DURATION nor DTEND".to_owned(),
                ));
            }
        };
        let duration_minutes = u32::try_from(minutes)
            .map_err(|_| bad(&line, format!("the event lasts {minutes} minutes")))?;
        Ok((
            zone,
            RecurringWindow {
                rrule: self
                    .rrule
                    .unwrap_or_else(|| "FREQ=DAILY;COUNT=1".to_owned()),
                start: start.format("%H:%M").to_string(),
                duration_minutes,
                offset_days: 0,
                since: Some(start.date()),
            },
        ))
    }
}

/// `YYYYMMDDTHHMMSS` with a TZID, or `…Z` (UTC).
fn date_time(tzid: Option<String>, value: &str) -> Option<(String, NaiveDateTime)> {
    let value = value.trim();
    match value.strip_suffix('Z') {
        Some(utc) => Some((
            "UTC".to_owned(),
            NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").ok()?,
        )),
        None => Some((
            tzid.unwrap_or_else(|| "UTC".to_owned()),
            NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").ok()?,
        )),
    }
}

/// An RFC 5545 §3.3.6 duration in whole minutes: `[+]P[nW][nD][T[nH][nM][nS]]`.
fn duration_minutes(value: &str) -> Option<i64> {
    let v = value.trim().strip_prefix('+').unwrap_or(value.trim());
    let rest = v.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut seconds: i64 = 0;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 604_800), ('D', 86_400)][..]),
        (time, &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
            } else {
                let (_, factor) = units.iter().find(|(u, _)| *u == c)?;
                let n: i64 = number.parse().ok()?;
                seconds = seconds.checked_add(n.checked_mul(*factor)?)?;
                number.clear();
                any = true;
            }
        }
        if !number.is_empty() {
            return None;
        }
    }
    (any && seconds % 60 == 0).then_some(seconds / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_minutes() {
        let table = [
            ("PT30M", Some(30)),
            ("PT2H", Some(120)),
            ("PT1H30M", Some(90)),
            ("P1D", Some(1440)),
            ("P1W", Some(10080)),
            ("+P1DT2H", Some(1560)),
            ("PT90S", None),
            ("PT", None),
            ("30M", None),
            ("PT5X", None),
        ];
        for (text, want) in table {
            assert_eq!(duration_minutes(text), want, "{text}");
        }
    }

    #[test]
    fn a_folded_vevent_with_dtend_reads_as_one_window() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;TZID=America/New_Yo\r\n rk:20240105T220000\r\nDTEND;TZID=America/New_York:20240106T020000\r\nRRULE:FREQ=WEEKLY;BYDAY=FR\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let set = parse(ics);
        assert_eq!(
            set,
            Ok(WindowSet {
                timezone: "America/New_York".into(),
                recurring: vec![RecurringWindow {
                    rrule: "FREQ=WEEKLY;BYDAY=FR".into(),
                    start: "22:00".into(),
                    duration_minutes: 240,
                    offset_days: 0,
                    since: chrono::NaiveDate::from_ymd_opt(2024, 1, 5),
                }],
                ..WindowSet::always()
            })
        );
    }

    #[test]
    fn incomplete_events_are_refused() {
        let no_length = "BEGIN:VEVENT\nDTSTART:20240101T010000Z\nEND:VEVENT\n";
        assert!(
            matches!(parse(no_length), Err(WindowError::BadRule { reason, .. }) if reason == "VEVENT has neither DURATION nor DTEND")
        );
        assert!(
            matches!(parse("BEGIN:VCALENDAR\nEND:VCALENDAR\n"), Err(WindowError::BadRule { reason, .. }) if reason == "no VEVENT with a DTSTART")
        );
        let two_zones = "BEGIN:VEVENT\nDTSTART:20240101T010000Z\nDURATION:PT1H\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART;TZID=Europe/Berlin:20240101T010000\nDURATION:PT1H\nEND:VEVENT\n";
        assert!(
            matches!(parse(two_zones), Err(WindowError::BadRule { reason, .. }) if reason == "events name zones UTC and Europe/Berlin")
        );
        let unknown =
            "BEGIN:VEVENT\nDTSTART;TZID=Mars/Base:20240101T010000\nDURATION:PT1H\nEND:VEVENT\n";
        assert_eq!(
            parse(unknown),
            Err(WindowError::UnknownTimeZone("Mars/Base".into()))
        );
    }
}
