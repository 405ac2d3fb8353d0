//! Table tests of window arithmetic (issue 5's acceptance): weekly windows,
//! the monthly "second Tuesday + 5 days", daylight-saving spring and autumn
//! in Europe/Berlin and America/New_York, cutoffs and freezes.
//!
//! Every row goes through one of two helpers: [`check_openings`] (every
//! window start in a range, UTC) and [`check_next`] (the start interval open
//! at an instant, or the next one).

use calendar::Windows as _;
use chrono::{DateTime, NaiveDate, Utc};
use events::{Day, Freeze, RecurringWindow, WeeklyWindow, WindowError, WindowInstance, WindowSet};

fn utc(s: &str) -> DateTime<Utc> {
    match s.parse() {
        Ok(t) => t,
        Err(e) => panic!("bad instant {s:?}: {e}"),
    }
}

fn weekly(tz: &str, days: &[Day], start: &str, minutes: u32) -> WindowSet {
    WindowSet {
        timezone: tz.into(),
        windows: vec![WeeklyWindow {
            days: days.to_vec(),
            start: start.into(),
            duration_minutes: minutes,
        }],
        ..WindowSet::always()
    }
}

fn rrule(tz: &str, rule: &str, start: &str, minutes: u32, offset_days: i32) -> WindowSet {
    WindowSet {
        timezone: tz.into(),
        recurring: vec![RecurringWindow {
            rrule: rule.into(),
            start: start.into(),
            duration_minutes: minutes,
            offset_days,
            since: None,
        }],
        ..WindowSet::always()
    }
}

fn freeze(name: &str, from: &str, to: &str) -> Freeze {
    Freeze {
        name: name.into(),
        starts_at: utc(from),
        ends_at: utc(to),
    }
}

/// Every window start (and end) in `[from, to)`.
fn check_openings(name: &str, set: &WindowSet, from: &str, to: &str, want: &[(&str, &str)]) {
    let got = match set.openings(utc(from), utc(to)) {
        Ok(o) => o,
        Err(e) => panic!("{name}: {e}"),
    };
    let want: Vec<WindowInstance> = want
        .iter()
        .map(|(o, c)| WindowInstance {
            opens_at: utc(o),
            closes_at: utc(c),
        })
        .collect();
    assert_eq!(got, want, "{name}");
}

/// The start interval open at `at`, or the next one.
fn check_next(name: &str, set: &WindowSet, at: &str, want: (&str, &str)) {
    let got = set.current_or_next(utc(at));
    let want = WindowInstance {
        opens_at: utc(want.0),
        closes_at: utc(want.1),
    };
    assert_eq!(got, Ok(want), "{name} at {at}");
}

#[test]
fn weekly_windows() {
    // 2026-11-30 is a Monday; Berlin is UTC+1 in winter.
    let mon = weekly("Europe/Berlin", &[Day::Mon], "02:00", 120);
    let window = ("2026-11-30T01:00:00Z", "2026-11-30T03:00:00Z");
    check_next("before", &mon, "2026-11-30T00:30:00Z", window);
    check_next("at the opening", &mon, "2026-11-30T01:00:00Z", window);
    check_next("inside", &mon, "2026-11-30T02:59:59Z", window);
    check_next(
        "at the close: a week later",
        &mon,
        "2026-11-30T03:00:00Z",
        ("2026-12-07T01:00:00Z", "2026-12-07T03:00:00Z"),
    );
    let two_days = weekly("UTC", &[Day::Mon, Day::Thu], "22:00", 240);
    check_openings(
        "Mon and Thu, across midnight",
        &two_days,
        "2026-11-30T00:00:00Z",
        "2026-12-08T00:00:00Z",
        &[
            ("2026-11-30T22:00:00Z", "2026-12-01T02:00:00Z"),
            ("2026-12-03T22:00:00Z", "2026-12-04T02:00:00Z"),
            ("2026-12-07T22:00:00Z", "2026-12-08T02:00:00Z"),
        ],
    );
    check_next(
        "still open after midnight",
        &two_days,
        "2026-12-04T01:00:00Z",
        ("2026-12-03T22:00:00Z", "2026-12-04T02:00:00Z"),
    );
}

#[test]
fn weekly_windows_equal_their_rrule_in_both_zones_all_year() {
    for tz in ["Europe/Berlin", "America/New_York"] {
        for (days, start) in [
            (vec![Day::Sun], "02:30"),
            (vec![Day::Sun, Day::Wed], "01:30"),
        ] {
            let w = weekly(tz, &days, start, 90);
            let text = match calendar::weekly_rrule(&w.windows[0]) {
                Ok(t) => t,
                Err(e) => panic!("{e}"),
            };
            let r = rrule(tz, &text, "00:00", 90, 0);
            let (from, to) = (utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
            let a = w.openings(from, to);
            assert_eq!(a, r.openings(from, to), "{tz} {text}");
            let n = a.map(|o| o.len()).unwrap_or(0);
            assert!(n >= 52, "{tz} {text}: {n} openings");
        }
    }
}

#[test]
fn monthly_second_tuesday_plus_five_days() {
    // Patch Tuesday is the second Tuesday; + 5 days is the Sunday after it.
    // 22:00 Berlin: 21:00Z in winter (CET), 20:00Z in summer (CEST, from
    // 2026-03-29 to 2026-10-25).
    let want: &[(&str, &str)] = &[
        ("2026-01-18T21:00:00Z", "2026-01-19T01:00:00Z"),
        ("2026-02-15T21:00:00Z", "2026-02-16T01:00:00Z"),
        ("2026-03-15T21:00:00Z", "2026-03-16T01:00:00Z"),
        ("2026-04-19T20:00:00Z", "2026-04-20T00:00:00Z"),
        ("2026-05-17T20:00:00Z", "2026-05-18T00:00:00Z"),
        ("2026-06-14T20:00:00Z", "2026-06-15T00:00:00Z"),
        ("2026-07-19T20:00:00Z", "2026-07-20T00:00:00Z"),
        ("2026-08-16T20:00:00Z", "2026-08-17T00:00:00Z"),
        ("2026-09-13T20:00:00Z", "2026-09-14T00:00:00Z"),
        ("2026-10-18T20:00:00Z", "2026-10-19T00:00:00Z"),
        ("2026-11-15T21:00:00Z", "2026-11-16T01:00:00Z"),
        ("2026-12-13T21:00:00Z", "2026-12-14T01:00:00Z"),
    ];
    let (from, to) = ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    check_openings(
        "BYDAY=2TU with offset_days 5",
        &rrule("Europe/Berlin", "FREQ=MONTHLY;BYDAY=2TU", "22:00", 240, 5),
        from,
        to,
        want,
    );
    // The same days in pure RRULE: the Sunday that falls on the 13th-19th.
    check_openings(
        "BYDAY=SU;BYMONTHDAY=13..19",
        &rrule(
            "Europe/Berlin",
            "FREQ=MONTHLY;BYDAY=SU;BYMONTHDAY=13,14,15,16,17,18,19",
            "22:00",
            240,
            0,
        ),
        from,
        to,
        want,
    );
    check_next(
        "the next one after Patch Tuesday",
        &rrule("Europe/Berlin", "FREQ=MONTHLY;BYDAY=2TU", "22:00", 240, 5),
        "2026-11-10T12:00:00Z",
        ("2026-11-15T21:00:00Z", "2026-11-16T01:00:00Z"),
    );
    // An offset can cross into the next month: the last Friday + 3 days.
    check_openings(
        "BYDAY=-1FR with offset_days 3",
        &rrule("UTC", "FREQ=MONTHLY;BYDAY=-1FR", "06:00", 60, 3),
        "2026-07-01T00:00:00Z",
        "2026-09-01T00:00:00Z",
        &[
            // 2026-06-26 + 3 = 06-29 is before the range.
            ("2026-08-03T06:00:00Z", "2026-08-03T07:00:00Z"),
            ("2026-08-31T06:00:00Z", "2026-08-31T07:00:00Z"),
        ],
    );
}

#[test]
fn daylight_saving_spring_forward() {
    // Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST. 02:30 does not exist and
    // opens as 03:30 CEST (RFC 5545 §3.3.5); 02:00 opens right after the gap.
    check_openings(
        "Berlin daily 02:30",
        &rrule("Europe/Berlin", "FREQ=DAILY", "02:30", 60, 0),
        "2026-03-28T00:00:00Z",
        "2026-03-31T00:00:00Z",
        &[
            ("2026-03-28T01:30:00Z", "2026-03-28T02:30:00Z"),
            ("2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"),
            ("2026-03-30T00:30:00Z", "2026-03-30T01:30:00Z"),
        ],
    );
    check_openings(
        "Berlin weekly Sunday 02:00 (the gap's start)",
        &weekly("Europe/Berlin", &[Day::Sun], "02:00", 60),
        "2026-03-22T00:00:00Z",
        "2026-04-06T00:00:00Z",
        &[
            ("2026-03-22T01:00:00Z", "2026-03-22T02:00:00Z"),
            ("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"),
            ("2026-04-05T00:00:00Z", "2026-04-05T01:00:00Z"),
        ],
    );
    // 02:00 (in the gap) and 03:00 CEST are one instant: one opening, the
    // longer window kept.
    let two = WindowSet {
        timezone: "Europe/Berlin".into(),
        windows: vec![
            WeeklyWindow {
                days: vec![Day::Sun],
                start: "02:00".into(),
                duration_minutes: 30,
            },
            WeeklyWindow {
                days: vec![Day::Sun],
                start: "03:00".into(),
                duration_minutes: 45,
            },
        ],
        ..WindowSet::always()
    };
    check_openings(
        "Berlin 02:00 and 03:00 on the change",
        &two,
        "2026-03-29T00:00:00Z",
        "2026-03-30T00:00:00Z",
        &[("2026-03-29T01:00:00Z", "2026-03-29T01:45:00Z")],
    );
    // New York, 2026-03-08: 02:00 EST -> 03:00 EDT.
    check_openings(
        "New York daily 02:30",
        &weekly(
            "America/New_York",
            &[Day::Sat, Day::Sun, Day::Mon],
            "02:30",
            30,
        ),
        "2026-03-07T00:00:00Z",
        "2026-03-10T00:00:00Z",
        &[
            ("2026-03-07T07:30:00Z", "2026-03-07T08:00:00Z"),
            ("2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z"),
            ("2026-03-09T06:30:00Z", "2026-03-09T07:00:00Z"),
        ],
    );
    // A window's length is real time: 01:30 CET for 120 minutes across the
    // change ends at 04:30 CEST.
    check_next(
        "Berlin 01:30 for 2 h across the change",
        &weekly("Europe/Berlin", &[Day::Sun], "01:30", 120),
        "2026-03-29T00:00:00Z",
        ("2026-03-29T00:30:00Z", "2026-03-29T02:30:00Z"),
    );
}

#[test]
fn daylight_saving_autumn_repeated_hour() {
    // Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice and
    // opens once, at its first occurrence (00:30Z).
    check_openings(
        "Berlin daily 02:30",
        &rrule("Europe/Berlin", "FREQ=DAILY", "02:30", 60, 0),
        "2026-10-24T00:00:00Z",
        "2026-10-27T00:00:00Z",
        &[
            ("2026-10-24T00:30:00Z", "2026-10-24T01:30:00Z"),
            ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
            ("2026-10-26T01:30:00Z", "2026-10-26T02:30:00Z"),
        ],
    );
    // New York, 2026-11-01: 02:00 EDT -> 01:00 EST; 01:30 opens at 01:30 EDT.
    check_openings(
        "New York Sunday 01:30",
        &weekly("America/New_York", &[Day::Sun], "01:30", 30),
        "2026-10-31T00:00:00Z",
        "2026-11-09T00:00:00Z",
        &[
            ("2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z"),
            ("2026-11-08T06:30:00Z", "2026-11-08T07:00:00Z"),
        ],
    );
    // Hourly BYHOUR=1,2 in New York: 01:00 EDT, then 02:00 EST, never 01:00 EST.
    check_openings(
        "New York 01:00 and 02:00 on the change",
        &rrule(
            "America/New_York",
            "FREQ=DAILY;BYHOUR=1,2;BYMINUTE=0;BYSECOND=0",
            "01:00",
            30,
            0,
        ),
        "2026-11-01T00:00:00Z",
        "2026-11-02T00:00:00Z",
        &[
            ("2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z"),
            ("2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"),
        ],
    );
}

#[test]
fn cutoffs_stop_new_starts_before_the_end() {
    let mut set = weekly("Europe/Berlin", &[Day::Mon], "02:00", 120);
    set.cutoff_minutes = 30;
    let starts = ("2026-11-30T01:00:00Z", "2026-11-30T02:30:00Z");
    check_next("inside", &set, "2026-11-30T02:29:59Z", starts);
    check_next(
        "in the cutoff: next week",
        &set,
        "2026-11-30T02:30:00Z",
        ("2026-12-07T01:00:00Z", "2026-12-07T02:30:00Z"),
    );
    // Openings stay the windows themselves.
    check_openings(
        "openings ignore the cutoff",
        &set,
        "2026-11-30T00:00:00Z",
        "2026-12-01T00:00:00Z",
        &[("2026-11-30T01:00:00Z", "2026-11-30T03:00:00Z")],
    );
    set.cutoff_minutes = 120;
    assert_eq!(
        set.validate(),
        Err(WindowError::CutoffTooLong {
            cutoff_minutes: 120,
            duration_minutes: 120
        })
    );
    // An always-open set has no end to cut.
    let mut always = WindowSet::always();
    always.cutoff_minutes = 30;
    check_next(
        "always open",
        &always,
        "2026-11-30T02:00:00Z",
        ("2026-11-30T02:00:00Z", "2126-11-06T02:00:00Z"),
    );
}

#[test]
fn freezes_stop_new_starts_inside_them() {
    let mut set = weekly("Europe/Berlin", &[Day::Mon], "02:00", 120);
    set.freezes = vec![freeze(
        "db-migration",
        "2026-11-30T01:30:00Z",
        "2026-11-30T02:00:00Z",
    )];
    check_next(
        "before the freeze",
        &set,
        "2026-11-30T01:00:00Z",
        ("2026-11-30T01:00:00Z", "2026-11-30T01:30:00Z"),
    );
    check_next(
        "in the freeze: its end",
        &set,
        "2026-11-30T01:45:00Z",
        ("2026-11-30T02:00:00Z", "2026-11-30T03:00:00Z"),
    );
    assert_eq!(
        set.freeze_at(utc("2026-11-30T01:45:00Z"))
            .map(|f| f.name.as_str()),
        Some("db-migration")
    );
    assert_eq!(set.freeze_at(utc("2026-11-30T02:00:00Z")), None);

    // A year-end freeze over several windows: the first Monday after it.
    set.freezes = vec![freeze(
        "year-end",
        "2026-12-19T23:00:00Z",
        "2027-01-03T23:00:00Z",
    )];
    check_next(
        "year-end",
        &set,
        "2026-12-20T12:00:00Z",
        ("2027-01-04T01:00:00Z", "2027-01-04T03:00:00Z"),
    );
    assert_eq!(
        set.freezes_between(utc("2026-12-01T00:00:00Z"), utc("2026-12-21T00:00:00Z"))
            .len(),
        1
    );
    assert!(
        set.freezes_between(utc("2027-01-03T23:00:00Z"), utc("2027-01-10T00:00:00Z"))
            .is_empty()
    );

    // An always-open set is open around its freezes.
    let mut always = WindowSet::always();
    always.freezes = vec![freeze("f", "2026-12-24T00:00:00Z", "2026-12-27T00:00:00Z")];
    check_next(
        "always open, before",
        &always,
        "2026-12-23T12:00:00Z",
        ("2026-12-23T12:00:00Z", "2026-12-24T00:00:00Z"),
    );
    check_next(
        "always open, inside",
        &always,
        "2026-12-25T12:00:00Z",
        ("2026-12-27T00:00:00Z", "2126-12-01T12:00:00Z"),
    );

    // A freeze that ends before it starts is refused.
    set.freezes = vec![freeze(
        "bad",
        "2026-12-27T00:00:00Z",
        "2026-12-24T00:00:00Z",
    )];
    assert!(matches!(set.validate(), Err(WindowError::BadFreeze { name, .. }) if name == "bad"));
}

#[test]
fn windows_that_end_or_are_frozen_for_good_never_open() {
    let mut once = rrule("UTC", "FREQ=DAILY;COUNT=1", "02:00", 60, 0);
    if let Some(w) = once.recurring.first_mut() {
        w.since = NaiveDate::from_ymd_opt(2026, 1, 1);
    }
    check_next(
        "before its only opening",
        &once,
        "2025-12-31T00:00:00Z",
        ("2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"),
    );
    assert_eq!(
        once.current_or_next(utc("2026-01-02T00:00:00Z")),
        Err(WindowError::NeverOpens(utc("2026-01-02T00:00:00Z")))
    );
    // UNTIL as an instant bounds the resolved openings.
    check_openings(
        "UNTIL in UTC",
        &rrule(
            "Europe/Berlin",
            "FREQ=DAILY;UNTIL=20261202T010000Z",
            "02:00",
            60,
            0,
        ),
        "2026-11-30T00:00:00Z",
        "2026-12-10T00:00:00Z",
        &[
            ("2026-11-30T01:00:00Z", "2026-11-30T02:00:00Z"),
            ("2026-12-01T01:00:00Z", "2026-12-01T02:00:00Z"),
            ("2026-12-02T01:00:00Z", "2026-12-02T02:00:00Z"),
        ],
    );
}

#[test]
fn bad_sets_are_refused_with_the_reason() {
    let table: [(WindowSet, WindowError); 5] = [
        (
            weekly("Mars/Olympus", &[Day::Mon], "02:00", 10),
            WindowError::UnknownTimeZone("Mars/Olympus".into()),
        ),
        (
            weekly("UTC", &[Day::Mon], "25:00", 10),
            WindowError::BadStart("25:00".into()),
        ),
        (
            weekly("UTC", &[Day::Mon], "02:00", 0),
            WindowError::BadDuration(0),
        ),
        (
            weekly("UTC", &[], "02:00", 10),
            WindowError::NoDays("02:00".into()),
        ),
        (
            rrule("UTC", "FREQ=DAILY", "02:00", 10, -29),
            WindowError::BadOffset(-29),
        ),
    ];
    for (set, want) in table {
        assert_eq!(set.validate(), Err(want.clone()), "{want}");
        assert_eq!(set.current_or_next(utc("2026-01-01T00:00:00Z")), Err(want));
    }
    let mut long = WindowSet::always();
    long.cutoff_minutes = 10_081;
    assert_eq!(long.validate(), Err(WindowError::BadCutoff(10_081)));
}
