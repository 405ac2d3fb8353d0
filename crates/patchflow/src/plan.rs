//! `patchflow plan`: what a bundle's rollout will look like, without
//! deploying anything. Pure: [`render`] turns a planned bundle, what has
//! happened to it so far, the schedule configuration and an instant into
//! text; [`run`] loads those from the report projection (a bundle by id)
//! or plans the open findings afresh (`--dry-run`).
//!
//! For each ring with hosts, in rollout order, it prints the waves (canary,
//! then batches by host, as deploy cuts them: `deploy::waves`), the window
//! the ring is projected to start in (local time in the ring's zone and
//! UTC, with the last instant a new host may start after the cutoff), and
//! the change freezes the ring waits out or that cut its window. Then the
//! change approval (needed or not, and why; given or rejected) and the
//! deadline check: `sla_at_risk` = the deadline falls before the projected
//! start of the last ring. Released rings show their release; the rings
//! after them are projected from the later of now and the last release
//! plus its soak, as schedule's projection does (every ring's rollout taken
//! as instant, approvals as given in time).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use calendar::Windows as _;
use chrono::{DateTime, SecondsFormat, Utc};
use events::{
    BundleApproved, BundlePlanned, BundleRejected, BundleScheduled, Event, Payload, Remediation,
    WindowInstance, WindowSet, derive_id,
};

use crate::commands::{open_projection, resolve_bundle};
use crate::config::Config;

/// What has happened to a bundle so far, from its events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Its `bundle.scheduled` events, in order.
    pub released: Vec<BundleScheduled>,
    /// Its latest `bundle.approved`, if any.
    pub approved: Option<BundleApproved>,
    /// Its `bundle.rejected`, if any.
    pub rejected: Option<BundleRejected>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `t` in `tz` as `Mon 2026-11-30 02:00 CET`.
fn local(t: DateTime<Utc>, tz: &str) -> String {
    match tz.parse::<chrono_tz::Tz>() {
        Ok(z) => t
            .with_timezone(&z)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => rfc3339(t),
    }
}

/// The window opening that `start` (a start interval's opening) lies in:
/// its `(opens_at, closes_at)`, or `None` for an always-open set.
fn window_of(set: &WindowSet, start: DateTime<Utc>) -> Option<WindowInstance> {
    let from = start - chrono::Duration::days(8);
    set.openings(from, start + chrono::Duration::seconds(1))
        .ok()?
        .into_iter()
        .filter(|w| w.opens_at <= start && start < w.closes_at)
        .max_by_key(|w| w.closes_at)
}

fn describe_remediation(r: &Remediation) -> String {
    match r {
        Remediation::Solution { text, .. } => {
            let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("{}: {one}", r.key())
        }
        other => other.key(),
    }
}

/// The plan of `planned` as text, at `now` (UTC), under the schedule
/// configuration `cfg`, given what `history` says already happened.
///
/// # Errors
/// When a ring's window set in `cfg` does not resolve (a configuration
/// that passed validation does).
pub fn render(
    planned: &BundlePlanned,
    history: &History,
    cfg: &schedule::Config,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut out = String::new();
    let hosts: std::collections::BTreeSet<&str> = planned
        .targets
        .iter()
        .map(|t| t.asset_id.as_str())
        .collect();
    writeln!(
        out,
        "bundle {} (priority {}): {} on {}, {}",
        planned.bundle_id,
        planned.priority.as_str(),
        report::summary::count(planned.remediations.len(), "remediation"),
        report::summary::count(hosts.len(), "host"),
        report::summary::count(planned.manual_tasks.len(), "manual task")
    )?;
    let mut earliest = now;
    let mut last_start = None;
    let mut first_start: Option<DateTime<Utc>> = None;
    let mut released_any = false;
    for ring in planned.rings.iter().filter(|r| !r.hosts.is_empty()) {
        let Some(rc) = cfg.ring(&ring.ring) else {
            writeln!(out, "ring {}: no longer configured", ring.ring)?;
            continue;
        };
        writeln!(
            out,
            "ring {} ({}, soak {} h)",
            ring.ring,
            report::summary::count(ring.hosts.len(), "host"),
            rc.soak_hours
        )?;
        let set = cfg
            .windows_of(rc)
            .with_context(|| format!("ring {}", ring.ring))?;
        let released = history.released.iter().find(|s| s.ring == ring.ring);
        let start = match released {
            Some(s) => {
                released_any = true;
                writeln!(
                    out,
                    "  released: starts {} .. {} (UTC){}",
                    rfc3339(s.window.opens_at),
                    rfc3339(s.window.closes_at),
                    s.emergency_override
                        .as_ref()
                        .map(|o| format!(", emergency override by {}", o.approved_by))
                        .unwrap_or_default()
                )?;
                s.window.opens_at
            }
            None => {
                let interval = set
                    .current_or_next(earliest)
                    .with_context(|| format!("ring {}", ring.ring))?;
                let start = earliest.max(interval.opens_at);
                match window_of(&set, interval.opens_at) {
                    Some(w) => writeln!(
                        out,
                        "  window: {} .. {} {} = {} .. {} UTC; new hosts start {} .. {} UTC",
                        local(w.opens_at, &set.timezone),
                        local(w.closes_at, &set.timezone),
                        set.timezone,
                        rfc3339(w.opens_at),
                        rfc3339(w.closes_at),
                        rfc3339(start),
                        rfc3339(interval.closes_at)
                    )?,
                    None => writeln!(
                        out,
                        "  window: always open; new hosts start from {} UTC{}",
                        rfc3339(start),
                        if interval.closes_at < start + chrono::Duration::days(36_000) {
                            format!(" until {} UTC", rfc3339(interval.closes_at))
                        } else {
                            String::new()
                        }
                    )?,
                }
                let crossed = set.freezes_between(earliest, interval.closes_at);
                if crossed.is_empty() {
                    writeln!(out, "  freezes crossed: none")?;
                }
                for f in crossed {
                    writeln!(
                        out,
                        "  freeze crossed: {} {} .. {} UTC (no new host starts inside)",
                        f.name,
                        rfc3339(f.starts_at),
                        rfc3339(f.ends_at)
                    )?;
                }
                start
            }
        };
        let host_ids: Vec<String> = ring.hosts.clone();
        let policy = released.map_or(&cfg.rollout, |s| &s.rollout);
        for (n, wave) in deploy::waves::plan_waves(&host_ids, policy)
            .iter()
            .enumerate()
        {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            writeln!(
                out,
                "  wave {n} {}: {}",
                deploy::waves::wave_label(n, policy.canary_hosts),
                wave.join(", ")
            )?;
        }
        last_start = Some(start);
        first_start.get_or_insert(start);
        earliest = rc.soak_end(start).max(now);
    }
    match (&planned.approval, &history.approved, &history.rejected) {
        (_, _, Some(r)) => writeln!(out, "approval: rejected by {}: {}", r.rejected_by, r.reason)?,
        (_, Some(a), None) => writeln!(
            out,
            "approval: approved by {} (ticket {}){}",
            a.approved_by,
            a.ticket,
            if a.emergency_override {
                ", emergency override: may cross change freezes"
            } else {
                ""
            }
        )?,
        (Some(need), None, None) => writeln!(
            out,
            "approval: needed before {} ({}); patchflow bundle approve {} --by NAME --ticket REF",
            need.rings.join(", "),
            need.reasons.join("; "),
            planned.bundle_id
        )?,
        (None, None, None) => writeln!(
            out,
            "approval: not needed (a standard change, or no ring with hosts in this bundle needs one)"
        )?,
    }
    let at_risk = last_start.is_some_and(|s| planned.deadline < s);
    // Passed before the first ring can start: breached, not at risk.
    let breached = first_start.is_some_and(|s| planned.deadline < s);
    match last_start {
        Some(s) => writeln!(
            out,
            "deadline {}: {} (last ring {} {})",
            rfc3339(planned.deadline),
            if breached {
                "SLA breached before the first ring"
            } else if at_risk {
                "SLA at risk"
            } else {
                "on time"
            },
            if released_any
                && history.released.len()
                    == planned.rings.iter().filter(|r| !r.hosts.is_empty()).count()
            {
                "released"
            } else {
                "projected to start"
            },
            rfc3339(s)
        )?,
        None => writeln!(
            out,
            "deadline {}: no ring to roll out",
            rfc3339(planned.deadline)
        )?,
    }
    if !planned.manual_tasks.is_empty() {
        writeln!(out, "manual tasks (not sent to any host):")?;
        for t in &planned.manual_tasks {
            writeln!(
                out,
                "  {} (on {})",
                describe_remediation(&t.remediation),
                t.hosts.join(", ")
            )?;
        }
    }
    Ok(out)
}

/// Runs `patchflow plan`: for `bundle` (an id or unique prefix) from the
/// report projection, or, with `dry_run`, for the bundles the open findings
/// (their latest decisions, from the projection) would make now. Prints
/// and publishes nothing else.
///
/// # Errors
/// No projection, an unknown bundle, an invalid schedule configuration.
pub async fn run(
    cfg: &Config,
    bundle: Option<String>,
    dry_run: bool,
    no_sync: bool,
) -> Result<ExitCode> {
    let now = cfg.clock.clock().now();
    let p = open_projection(cfg, no_sync).await?;
    let schedule = &cfg.schedule;
    schedule.validate().context("invalid [schedule]")?;
    let mut out = String::new();
    match (bundle, dry_run) {
        (Some(wanted), false) => {
            let id = resolve_bundle(&p, &wanted)?;
            let Some(event) = p.event(derive_id(id, "schedule", "planned"))? else {
                bail!("no patch.bundle.planned for bundle {id} in the projection");
            };
            let Payload::BundlePlanned(planned) = event.data else {
                bail!("event of bundle {id} is not a patch.bundle.planned");
            };
            let mut history = History::default();
            for entry in p.audit_trail(id)? {
                let Some(Event { data, .. }) = p.event(entry.event_id)? else {
                    continue;
                };
                match data {
                    Payload::BundleScheduled(s) => history.released.push(s),
                    Payload::BundleApproved(a) => history.approved = Some(a),
                    Payload::BundleRejected(r) => history.rejected = Some(r),
                    _ => {}
                }
            }
            out.push_str(&render(&planned, &history, schedule, now)?);
        }
        (None, true) => {
            let items: Vec<schedule::PendingItem> = p
                .open_finding_states()?
                .iter()
                .filter_map(|s| s.decision.as_ref())
                .map(|d| schedule::PendingItem::from(&d.decision))
                .collect();
            let plans = schedule::plan(uuid::Uuid::nil(), &items, schedule, now)?;
            if plans.is_empty() {
                out.push_str("dry run: no open findings to plan\n");
            } else {
                out.push_str(&format!(
                    "dry run over {}: {}\n",
                    report::summary::count(items.len(), "open finding"),
                    report::summary::count(plans.len(), "bundle")
                ));
            }
            for (i, b) in plans.into_iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&render(&b.planned, &History::default(), schedule, now)?);
                for note in &b.notes {
                    out.push_str(&format!("note: {note}\n"));
                }
            }
        }
        (Some(_), true) => bail!("give a bundle id or --dry-run, not both"),
        (None, false) => bail!("give a bundle id (see patchflow report bundles) or --dry-run"),
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::{Day, Priority, WeeklyWindow};
    use schedule::{FreezeConfig, PendingItem, RingConfig};
    use uuid::Uuid;

    fn utc(s: &str) -> DateTime<Utc> {
        match s.parse() {
            Ok(t) => t,
            Err(e) => panic!("bad instant {s:?}: {e}"),
        }
    }

    /// Berlin, Mondays: dev 02:00 (2 h, 1 h soak), prod 08:00 (3 h, 30 min
    /// cutoff); a freeze over the first prod window.
    fn cfg() -> schedule::Config {
        let ring = |name: &str, start: &str, minutes: u32, soak: u32, cutoff: u32| RingConfig {
            name: name.into(),
            soak_hours: soak,
            windows: vec![WeeklyWindow {
                days: vec![Day::Mon],
                start: start.into(),
                duration_minutes: minutes,
            }],
            recurring: vec![],
            cutoff_minutes: cutoff,
            timezone: None,
        };
        schedule::Config {
            timezone: "Europe/Berlin".into(),
            rings: vec![
                ring("dev", "02:00", 120, 1, 0),
                ring("prod", "08:00", 180, 0, 30),
            ],
            freezes: vec![FreezeConfig {
                name: "cab".into(),
                starts: "2026-11-30T08:00".into(),
                ends: "2026-11-30T09:00".into(),
                timezone: None,
                rings: vec!["prod".into()],
            }],
            ..schedule::Config::default()
        }
    }

    fn item(n: u128, host: &str, ring: &str, r: Remediation, due: &str) -> PendingItem {
        PendingItem {
            finding_id: Uuid::from_u128(n),
            asset_id: host.into(),
            ring: Some(ring.into()),
            remediation: r,
            priority: Priority::High,
            due_at: utc(due),
            exception_id: None,
            cves: vec![],
        }
    }

    fn pkg(name: &str, v: &str) -> Remediation {
        Remediation::Package {
            name: name.into(),
            fixed_version: v.into(),
        }
    }

    fn planned(due: &str) -> BundlePlanned {
        let mut items: Vec<PendingItem> =
            ["prod-db-01", "prod-db-02", "prod-web-01", "prod-web-02"]
                .iter()
                .enumerate()
                .map(|(i, h)| item(i as u128 + 1, h, "prod", pkg("nginx", "1.25.3"), due))
                .collect();
        items.push(item(9, "dev-web-01", "dev", pkg("nginx", "1.25.3"), due));
        items.push(item(
            10,
            "prod-web-01",
            "prod",
            Remediation::Solution {
                scanner: "nessus".into(),
                check_id: "187315".into(),
                text: "Disable the affected\nalgorithms.".into(),
            },
            due,
        ));
        match schedule::plan(Uuid::nil(), &items, &cfg(), utc("2026-11-29T12:00:00Z")) {
            Ok(mut p) if p.len() == 1 => p.remove(0).planned,
            other => panic!("expected one bundle, got {other:?}"),
        }
    }

    #[test]
    fn a_planned_bundle_prints_waves_windows_freezes_approval_and_deadline() {
        let b = planned("2026-12-10T00:00:00Z");
        let got = render(&b, &History::default(), &cfg(), utc("2026-11-29T12:00:00Z"));
        let want = format!(
            "bundle {id} (priority high): 1 remediation on 5 hosts, 1 manual task
ring dev (1 host, soak 1 h)
  window: Mon 2026-11-30 02:00 CET .. Mon 2026-11-30 04:00 CET Europe/Berlin = 2026-11-30T01:00:00Z .. 2026-11-30T03:00:00Z UTC; new hosts start 2026-11-30T01:00:00Z .. 2026-11-30T03:00:00Z UTC
  freezes crossed: none
  wave 0 canary: dev-web-01
ring prod (4 hosts, soak 0 h)
  window: Mon 2026-11-30 08:00 CET .. Mon 2026-11-30 11:00 CET Europe/Berlin = 2026-11-30T07:00:00Z .. 2026-11-30T10:00:00Z UTC; new hosts start 2026-11-30T08:00:00Z .. 2026-11-30T09:30:00Z UTC
  freeze crossed: cab 2026-11-30T07:00:00Z .. 2026-11-30T08:00:00Z UTC (no new host starts inside)
  wave 0 canary: prod-db-01
  wave 1 batch 1: prod-db-02
  wave 2 batch 2: prod-web-01
  wave 3 batch 3: prod-web-02
approval: needed before prod (priority high is not a standard change); patchflow bundle approve {id} --by NAME --ticket REF
deadline 2026-12-10T00:00:00Z: on time (last ring projected to start 2026-11-30T08:00:00Z)
manual tasks (not sent to any host):
  nessus:187315: Disable the affected algorithms. (on prod-web-01)
",
            id = b.bundle_id
        );
        assert_eq!(got.map_err(|e| e.to_string()), Ok(want));
    }

    /// The plan text of `b` with `history`, on 2026-11-29 at noon UTC.
    fn text(b: &BundlePlanned, history: &History) -> String {
        match render(b, history, &cfg(), utc("2026-11-29T12:00:00Z")) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn an_early_deadline_is_at_risk_and_history_is_shown() {
        let b = planned("2026-11-30T07:59:59Z");
        let got = text(&b, &History::default());
        assert!(
            got.contains(
                "deadline 2026-11-30T07:59:59Z: SLA at risk (last ring projected to start 2026-11-30T08:00:00Z)"
            ),
            "{got}"
        );
        assert!(b.sla_at_risk, "schedule agrees");
        // A deadline before the first ring can start (a KEV due date older
        // than the finding) is breached, not at risk.
        let past = planned("2023-10-31T23:59:59Z");
        let got = text(&past, &History::default());
        assert!(
            got.contains(
                "deadline 2023-10-31T23:59:59Z: SLA breached before the first ring (last ring projected to start 2026-11-30T08:00:00Z)"
            ),
            "{got}"
        );
        let line = report::summary::summarize(
            &events::Payload::BundlePlanned(past.clone()),
            &report::summary::TrailContext::default(),
        );
        assert!(
            line.contains("; SLA breached: the deadline passes before the first ring starts"),
            "{line}"
        );
        let line = report::summary::summarize(
            &events::Payload::BundlePlanned(b.clone()),
            &report::summary::TrailContext::default(),
        );
        assert!(line.contains("; SLA at risk"), "{line}");
        let history = History {
            released: vec![],
            approved: Some(BundleApproved {
                bundle_id: b.bundle_id,
                approved_by: "alice".into(),
                ticket: "CHG-7".into(),
                emergency_override: true,
            }),
            rejected: None,
        };
        let got = text(&b, &history);
        assert!(
            got.contains(
                "approval: approved by alice (ticket CHG-7), emergency override: may cross change freezes"
            ),
            "{got}"
        );
    }
}
