//! OC-12: rrule 0.14.0 returns 2024-03-31T01:00Z twice for nightly 01:00
//! and 02:00 windows in Europe/London; patchflow's windows open once each.
//!
//! The case's own `windows.ics` (from the shared cases folder) is read with
//! [`calendar::ics::parse`] and checked exactly as its `expect.txt` states;
//! the same set is also written out here, so the rule is tested even where
//! the cases folder is absent.

use calendar::Windows as _;
use chrono::{DateTime, Utc};
use events::{RecurringWindow, WindowSet};

fn utc(s: &str) -> DateTime<Utc> {
    match s.parse() {
        Ok(t) => t,
        Err(e) => panic!("bad instant {s:?}: {e}"),
    }
}

/// expect.txt, line by line: (range start, range end, every window start).
const EXPECT: [(&str, &str, &[&str]); 2] = [
    (
        "2024-03-30T00:00:00Z",
        "2024-04-01T00:00:00Z",
        &[
            "2024-03-30T01:00:00Z",
            "2024-03-30T02:00:00Z",
            // 01:00 local does not exist on 31 March; 02:00 BST is the same instant.
            "2024-03-31T01:00:00Z",
        ],
    ),
    (
        "2024-10-26T00:00:00Z",
        "2024-10-28T00:00:00Z",
        &[
            "2024-10-26T00:00:00Z",
            "2024-10-26T01:00:00Z",
            // 01:00 BST, the first of the repeated hour, once.
            "2024-10-27T00:00:00Z",
            "2024-10-27T02:00:00Z",
        ],
    ),
];

fn check(name: &str, set: &WindowSet) {
    for (from, to, want) in EXPECT {
        let got = match set.openings(utc(from), utc(to)) {
            Ok(o) => o,
            Err(e) => panic!("{name}: {e}"),
        };
        let starts: Vec<DateTime<Utc>> = got.iter().map(|w| w.opens_at).collect();
        let want: Vec<DateTime<Utc>> = want.iter().map(|s| utc(s)).collect();
        assert_eq!(starts, want, "{name}: window starts in [{from}, {to})");
        let mut distinct = starts.clone();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            starts.len(),
            "{name}: no window opens twice"
        );
        for w in &got {
            assert_eq!(
                (w.closes_at - w.opens_at).num_minutes(),
                30,
                "{name}: 30 minutes each"
            );
        }
    }
}

#[test]
fn oc12_case_file_opens_every_window_once() {
    let Some(cases) = testkit::cases() else {
        return;
    };
    let ics = match std::fs::read_to_string(cases.join("OC-12/windows.ics")) {
        Ok(t) => t,
        Err(e) => panic!("read OC-12/windows.ics: {e}"),
    };
    let set = match calendar::ics::parse(&ics) {
        Ok(s) => s,
        Err(e) => panic!("OC-12/windows.ics: {e}"),
    };
    assert_eq!(set.timezone, "Europe/London");
    check("OC-12/windows.ics", &set);
}

#[test]
fn oc12_written_out_opens_every_window_once() {
    let set = WindowSet {
        timezone: "Europe/London".into(),
        recurring: vec![RecurringWindow {
            rrule: "RRULE:FREQ=DAILY;BYHOUR=1,2;BYMINUTE=0;BYSECOND=0".into(),
            start: "01:00".into(),
            duration_minutes: 30,
            offset_days: 0,
            since: chrono::NaiveDate::from_ymd_opt(2024, 1, 1),
        }],
        ..WindowSet::always()
    };
    check("written out", &set);
}

/// The upstream behaviour the wrapper exists for: expanded in the zone
/// itself, rrule 0.14.0 yields the spring-forward instant twice. When an
/// upgrade fixes it, this test says so (the wrapper stays correct either way).
#[test]
fn rrule_0_14_alone_returns_the_spring_instant_twice() {
    use chrono::TimeZone as _;
    let london = rrule::Tz::Europe__London;
    let start = match london.with_ymd_and_hms(2024, 1, 1, 1, 0, 0).single() {
        Some(t) => t,
        None => panic!("2024-01-01 01:00 exists in London"),
    };
    let rule: rrule::RRule<rrule::Unvalidated> =
        match "FREQ=DAILY;BYHOUR=1,2;BYMINUTE=0;BYSECOND=0".parse() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
    let set = match rule.build(start) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let after = london.from_utc_datetime(&utc("2024-03-30T00:00:00Z").naive_utc());
    let before = london.from_utc_datetime(&utc("2024-03-31T23:59:59Z").naive_utc());
    let got: Vec<DateTime<Utc>> = set
        .after(after)
        .before(before)
        .all(100)
        .dates
        .iter()
        .map(|d| d.with_timezone(&Utc))
        .collect();
    let twice = got
        .iter()
        .filter(|t| **t == utc("2024-03-31T01:00:00Z"))
        .count();
    assert_eq!(twice, 2, "rrule 0.14.0 output: {got:?}");
}
