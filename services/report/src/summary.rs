//! One-line, human-readable summaries of event payloads, for the audit trail.
//!
//! Summaries are built from the typed payload only (plus, for a halted wave,
//! the ring's failure budget from the bundle's `bundle.scheduled` event), are
//! lower case where they are prose, end without a period, and never contain a
//! line break (data strings are folded onto one line).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};

use events::{
    AssetSource, Event, HostOutcome, JobStatus, Payload, ScanScope, WaveKind, deployment,
};

use crate::projection::{action_str, job_status_str, wave_kind_str};

/// What a summary needs beyond its own payload: the failure budget
/// (`RolloutPolicy::max_failed_percent`, percent of attempted hosts) of each
/// ring, from the bundle's `bundle.scheduled` events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrailContext {
    max_failed_percent: BTreeMap<String, f64>,
}

impl TrailContext {
    /// Collects the ring budgets of `events` (the last `bundle.scheduled` of a
    /// ring wins).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> TrailContext {
        let mut ctx = TrailContext::default();
        for e in events {
            if let Payload::BundleScheduled(s) = &e.data {
                ctx.max_failed_percent
                    .insert(s.ring.clone(), s.rollout.max_failed_percent);
            }
        }
        ctx
    }

    /// The failure budget of `ring` in percent, when known.
    pub fn max_failed_percent(&self, ring: &str) -> Option<f64> {
        self.max_failed_percent.get(ring).copied()
    }
}

/// An instant as RFC 3339 UTC, fractional seconds only when present
/// (`2025-01-20T00:00:00Z`).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Folds line breaks and tabs of a data string into spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn kind(k: WaveKind) -> &'static str {
    wave_kind_str(k)
}

/// `n` of `total` as a percentage with one decimal (`0.0` when `total` is 0).
fn percent(n: u32, total: u32) -> f64 {
    if total == 0 {
        0.0
    } else {
        f64::from(n) * 100.0 / f64::from(total)
    }
}

fn failed_hosts(outcomes: &[HostOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| o.status.is_failure())
        .map(|o| {
            let status = match o.status {
                deployment::HostStatus::TimedOut => "timed out",
                _ => "failed",
            };
            match &o.reason {
                Some(r) => format!("{} {status} ({})", o.host, one_line(r)),
                None => format!("{} {status}", o.host),
            }
        })
        .collect()
}

/// `n` and `noun`, plural unless `n` is 1 (`1 host`, `3 hosts`): how the
/// trail and the CLI count things. Regular plurals only (`-s`).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The one-line summary of `payload`.
pub fn summarize(payload: &Payload, ctx: &TrailContext) -> String {
    match payload {
        Payload::ScanSubmitted(p) => format!(
            "scan {} submitted by {} ({}, {} bytes)",
            one_line(&p.file_name),
            one_line(&p.submitted_by),
            scope(p.scope),
            p.size_bytes
        ),
        Payload::ScanRejected(p) => format!(
            "scan {} rejected: {}",
            one_line(&p.file_name),
            one_line(&p.reason)
        ),
        Payload::ScanCompleted(p) => format!(
            "scan completed ({}, {}): {} on {}",
            one_line(&p.format),
            scope(p.scope),
            count(p.findings as usize, "finding"),
            count(p.hosts.len(), "host")
        ),
        Payload::AssetUpserted(p) => {
            let source = match p.source {
                AssetSource::Inventory => "inventory",
                AssetSource::Scan => "scan",
                AssetSource::Cmdb => "cmdb",
            };
            let mut s = format!(
                "asset {} upserted from {source}",
                one_line(&p.asset.asset_id)
            );
            if let Some(ring) = &p.asset.ring {
                s.push_str(&format!(", ring {}", one_line(ring)));
            }
            if let Some(tier) = p.asset.tier {
                s.push_str(&format!(", tier {tier}"));
            }
            s
        }
        Payload::FindingObserved(p) => format!(
            "{} ({}:{}) observed on {} at {}, severity {}",
            one_line(&p.check.name),
            one_line(&p.check.scanner),
            one_line(&p.check.id),
            one_line(&p.asset.asset_id),
            rfc3339(p.observed_at),
            p.severity.as_str()
        ),
        Payload::FindingResolved(p) => format!(
            "finding {} resolved on {} at {}",
            one_line(&p.fingerprint),
            one_line(&p.asset_id),
            rfc3339(p.resolved_at)
        ),
        Payload::FindingPrioritized(p) => format!(
            "{} priority for {} on {}: due {} ({} h SLA, policy {})",
            p.priority.as_str(),
            one_line(&p.check.name),
            one_line(&p.asset.asset_id),
            rfc3339(p.due_at),
            p.sla_hours,
            one_line(&p.policy_version)
        ),
        Payload::BundlePlanned(p) => {
            let hosts: std::collections::BTreeSet<&str> =
                p.targets.iter().map(|t| t.asset_id.as_str()).collect();
            let rings: Vec<String> = p
                .rings
                .iter()
                .filter(|r| !r.hosts.is_empty())
                .map(|r| one_line(&r.ring))
                .collect();
            let mut s = format!(
                "bundle planned: {} for {} in {}; priority {}, deadline {}",
                count(p.remediations.len(), "remediation"),
                count(hosts.len(), "host"),
                if rings.is_empty() {
                    "no ring".to_owned()
                } else {
                    format!("rings {}", rings.join(", "))
                },
                p.priority.as_str(),
                rfc3339(p.deadline)
            );
            if p.sla_at_risk {
                // A deadline that passes before the first ring can start
                // is already breached (a KEV due date older than the
                // finding), not merely at risk.
                let first_start = p
                    .rings
                    .iter()
                    .filter_map(|r| r.window.as_ref())
                    .map(|w| w.opens_at)
                    .min();
                if first_start.is_some_and(|start| p.deadline < start) {
                    s.push_str("; SLA breached: the deadline passes before the first ring starts");
                } else {
                    s.push_str("; SLA at risk");
                }
            }
            if !p.manual_tasks.is_empty() {
                s.push_str(&format!("; {}", count(p.manual_tasks.len(), "manual task")));
            }
            if let Some(a) = &p.approval {
                let rings: Vec<String> = a.rings.iter().map(|r| one_line(r)).collect();
                s.push_str(&format!("; approval needed before {}", rings.join(", ")));
            }
            s
        }
        Payload::BundleScheduled(p) => {
            let mut s = format!(
                "ring {} scheduled (ring index {}{}): {}, window {} to {}",
                one_line(&p.ring),
                p.ring_index,
                if p.last_ring { ", last ring" } else { "" },
                count(p.hosts.len(), "host"),
                rfc3339(p.window.opens_at),
                rfc3339(p.window.closes_at)
            );
            if let Some(o) = &p.emergency_override {
                s.push_str(&format!(
                    "; emergency override by {} ({})",
                    one_line(&o.approved_by),
                    one_line(&o.ticket)
                ));
                if !o.freezes.is_empty() {
                    let names: Vec<String> = o.freezes.iter().map(|f| one_line(f)).collect();
                    s.push_str(&format!(" lifts freezes {}", names.join(", ")));
                }
            }
            s
        }
        Payload::BundleApproved(p) => {
            let mut s = format!(
                "bundle approved by {} (ticket {})",
                one_line(&p.approved_by),
                one_line(&p.ticket)
            );
            if p.emergency_override {
                s.push_str(", emergency override: may cross change freezes");
            }
            s
        }
        Payload::BundleRejected(p) => format!(
            "bundle rejected by {}: {}",
            one_line(&p.rejected_by),
            one_line(&p.reason)
        ),
        Payload::BundleCompleted(p) if p.rings.is_empty() => {
            "bundle rollout done: no ring had a host to roll out to (what is left is manual \
             tasks)"
                .to_owned()
        }
        Payload::BundleCompleted(p) => {
            let rings: Vec<String> = p.rings.iter().map(|r| one_line(r)).collect();
            format!("bundle completed: rings {}", rings.join(", "))
        }
        Payload::BundleHalted(p) => format!(
            "bundle halted in {}: {}",
            one_line(&p.ring),
            one_line(&p.reason)
        ),
        Payload::WaveStarted(p) => format!(
            "wave {} ({}) started in {}: {}, results due {}",
            p.wave,
            kind(p.kind),
            one_line(&p.ring),
            count(p.hosts.len(), "host"),
            rfc3339(p.results_due_at)
        ),
        Payload::WaveCompleted(p) => {
            let failed = p.hosts.iter().filter(|h| h.status.is_failure()).count();
            let mut s = format!(
                "wave {} ({}) completed in {}: {} of {} hosts succeeded",
                p.wave,
                kind(p.kind),
                one_line(&p.ring),
                p.hosts.len() - failed,
                p.hosts.len()
            );
            if p.last_wave_in_ring {
                s.push_str(", last wave of the ring");
            }
            s
        }
        Payload::WaveHalted(p) => {
            let pct = percent(p.ring_failed, p.ring_attempted);
            let mut s = format!(
                "wave {} ({}) halted in {}: failed {} of {} attempted hosts ({pct:.1}%)",
                p.wave,
                kind(p.kind),
                one_line(&p.ring),
                p.ring_failed,
                p.ring_attempted
            );
            let all_failed = !p.hosts.is_empty() && p.hosts.iter().all(|h| h.status.is_failure());
            match ctx.max_failed_percent(&p.ring) {
                Some(budget) if pct > budget => {
                    s.push_str(&format!(" > {budget}%"));
                    if all_failed {
                        // Both rules fired: name both.
                        s.push_str(", and every host of the wave failed");
                    }
                }
                _ if all_failed => s.push_str(", every host of the wave failed"),
                _ if !p.reason.is_empty() => {
                    s.push_str("; ");
                    s.push_str(&one_line(&p.reason));
                }
                _ => {}
            }
            s
        }
        Payload::AgentJob(p) => format!(
            "{} job sent to {} ({} wave {}): {}",
            action_str(p.action),
            one_line(&p.host),
            one_line(&p.ring),
            p.wave,
            count(p.remediations.len(), "remediation")
        ),
        Payload::AgentOnline(p) => {
            let mut s = format!(
                "agent on {} online, boot id {}",
                one_line(&p.host),
                one_line(&p.boot_id)
            );
            if let Some(r) = &p.reboot {
                if r.boot_id_before == p.boot_id {
                    s.push_str(&format!(
                        ", NOT rebooted for {} wave {}",
                        one_line(&r.ring),
                        r.wave
                    ));
                } else {
                    s.push_str(&format!(
                        ", rebooted for {} wave {} (was {})",
                        one_line(&r.ring),
                        r.wave,
                        one_line(&r.boot_id_before)
                    ));
                }
            }
            if let Some(d) = &p.detail {
                s.push_str(": ");
                s.push_str(&one_line(d));
            }
            s
        }
        Payload::HostStepStarted(p) => format!(
            "step {} started on {} ({} wave {}), due {}",
            p.step,
            one_line(&p.host),
            one_line(&p.ring),
            p.wave,
            rfc3339(p.due_at)
        ),
        Payload::HostStepFinished(p) => format!(
            "step {} {} on {} ({} wave {}): {}",
            p.step,
            match p.outcome {
                events::StepOutcome::Succeeded => "succeeded",
                events::StepOutcome::Failed => "failed",
                events::StepOutcome::TimedOut => "timed out",
            },
            one_line(&p.host),
            one_line(&p.ring),
            p.wave,
            one_line(&p.detail)
        ),
        Payload::AgentResult(p) => {
            let mut s = format!(
                "{} {} on {} ({} wave {})",
                action_str(p.action),
                job_status_str(p.status),
                one_line(&p.host),
                one_line(&p.ring),
                p.wave
            );
            if let Some(method) = p.rollback_method {
                s.push_str(" by ");
                s.push_str(method.as_str());
            }
            if p.rebooted {
                s.push_str(", rebooted");
            }
            if p.status != JobStatus::Succeeded
                && let Some(reason) = &p.reason
            {
                s.push_str(": ");
                s.push_str(&one_line(reason));
            }
            s
        }
        Payload::ValidationPassed(p) => format!(
            "validation passed for {} wave {}: {}, {} read back",
            one_line(&p.ring),
            p.wave,
            count(p.checks.len(), "check"),
            count(p.readback.len(), "host")
        ),
        Payload::ValidationFailed(p) => {
            let failed_checks = p.checks.iter().filter(|c| !c.ok).count();
            let missing = p.readback.iter().filter(|r| !r.ok).count();
            let mut s = format!(
                "validation failed for {} wave {}: {} of {} checks failed, {} of {} hosts missing remediations",
                one_line(&p.ring),
                p.wave,
                failed_checks,
                p.checks.len(),
                missing,
                p.readback.len()
            );
            if !p.reasons.is_empty() {
                let reasons: Vec<String> = p.reasons.iter().map(|r| one_line(r)).collect();
                s.push_str(": ");
                s.push_str(&reasons.join("; "));
            }
            s
        }
        Payload::RollbackRequested(p) => {
            let hosts: Vec<String> = p.hosts.iter().map(|h| one_line(h)).collect();
            let mut s = format!(
                "rollback requested for {} ({} wave {})",
                hosts.join(", "),
                one_line(&p.ring),
                p.wave
            );
            if !p.reason.is_empty() {
                s.push_str(": ");
                s.push_str(&one_line(&p.reason));
            }
            s
        }
        Payload::RollbackCompleted(p) => {
            let failed = failed_hosts(&p.hosts);
            let mut s = format!(
                "rollback completed in {}: {} of {} hosts rolled back",
                one_line(&p.ring),
                p.hosts.len() - failed.len(),
                p.hosts.len()
            );
            let methods: Vec<String> = [
                events::RollbackMethod::SnapshotRestore,
                events::RollbackMethod::SnapshotRestoreAndDowngrade,
                events::RollbackMethod::PackageDowngrade,
            ]
            .into_iter()
            .filter_map(|m| {
                let n = p
                    .hosts
                    .iter()
                    .filter(|h| h.rollback_method == Some(m))
                    .count();
                (n > 0).then(|| format!("{n} by {}", m.as_str()))
            })
            .collect();
            if !methods.is_empty() {
                s.push_str(&format!(" ({})", methods.join(", ")));
            }
            if !failed.is_empty() {
                s.push_str(": ");
                s.push_str(&failed.join(", "));
            }
            s
        }
        Payload::DeadLettered(p) => format!(
            "{} dead-lettered {} (stream {} sequence {}, {} deliveries): {}",
            p.service,
            one_line(&p.subject),
            one_line(&p.stream),
            p.stream_sequence,
            p.delivered,
            one_line(&p.reason)
        ),
        Payload::CatalogLoaded(p) => format!(
            "{:?} catalog {} loaded from {}: {} entries",
            p.kind,
            one_line(&p.version),
            one_line(&p.source),
            p.entries
        ),
        Payload::KevAdded(p) => format!(
            "{} added to CISA KEV on {} (due {}): {}",
            p.entry.cve,
            p.entry.date_added,
            p.entry.due_date,
            one_line(&p.vulnerability_name)
        ),
        Payload::AdvisoryPublished(p) => format!(
            "advisory {} ({:?}){}: {} packages",
            one_line(&p.id),
            p.format,
            if p.withdrawn { ", withdrawn" } else { "" },
            p.affected.len()
        ),
        Payload::EmergencyDeclared(p) => format!(
            "emergency declared for {} on {} assets: {}",
            p.cves.join(", "),
            p.assets.len(),
            one_line(&p.reason)
        ),
        Payload::EmergencyProgressed(p) => format!("emergency stage {:?} met", p.stage),
        Payload::EmergencyEscalated(p) => format!(
            "emergency stage {:?} escalated: due {}, {}",
            p.stage,
            rfc3339(p.due_at),
            one_line(&p.reason)
        ),
        Payload::ExceptionGranted(p) => format!(
            "exception granted to {} until {}: {}",
            one_line(&p.owner),
            rfc3339(p.expires_at),
            one_line(&p.reason)
        ),
        Payload::ExceptionExpired(p) => format!("exception expired at {}", rfc3339(p.expired_at)),
        Payload::ExceptionRevoked(p) => format!(
            "exception revoked by {}: {}",
            one_line(&p.revoked_by),
            one_line(&p.reason)
        ),
    }
}

fn scope(s: ScanScope) -> &'static str {
    match s {
        ScanScope::Full => "full",
        ScanScope::Partial => "partial",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::{HostStatus, RolloutPolicy, WaveHalted};
    use uuid::Uuid;

    fn outcome(host: &str, status: HostStatus) -> HostOutcome {
        HostOutcome {
            host: host.to_owned(),
            status,
            reason: None,
            job_id: Uuid::nil(),
            result_event_id: None,
            remediations: Vec::new(),
            rollback_method: None,
        }
    }

    fn halted(failed: u32, attempted: u32, hosts: Vec<HostOutcome>, reason: &str) -> Payload {
        Payload::WaveHalted(WaveHalted {
            bundle_id: Uuid::nil(),
            ring: "prod".to_owned(),
            wave: 2,
            kind: WaveKind::Batch,
            hosts,
            ring_attempted: attempted,
            ring_failed: failed,
            never_started: Vec::new(),
            reason: reason.to_owned(),
        })
    }

    fn check(payload: Payload, budget: Option<f64>, want: &str) {
        let mut ctx = TrailContext::default();
        if let Some(b) = budget {
            ctx.max_failed_percent.insert("prod".to_owned(), b);
        }
        assert_eq!(summarize(&payload, &ctx), want);
    }

    #[test]
    fn halted_wave_summaries_name_the_rule_that_fired() {
        let ok = || outcome("a", HostStatus::Succeeded);
        let bad = || outcome("b", HostStatus::Failed);
        check(
            halted(1, 8, vec![ok(), bad()], "r"),
            Some(10.0),
            "wave 2 (batch) halted in prod: failed 1 of 8 attempted hosts (12.5%) > 10%",
        );
        check(
            halted(2, 8, vec![bad(), bad()], "r"),
            Some(10.0),
            "wave 2 (batch) halted in prod: failed 2 of 8 attempted hosts (25.0%) > 10%, and \
             every host of the wave failed",
        );
        check(
            halted(3, 8, vec![ok(), bad()], "r"),
            Some(RolloutPolicy::default().max_failed_percent + 2.5),
            "wave 2 (batch) halted in prod: failed 3 of 8 attempted hosts (37.5%) > 12.5%",
        );
        // Within the percentage budget: the whole-batch rule halted it.
        check(
            halted(1, 20, vec![bad()], "r"),
            Some(10.0),
            "wave 2 (batch) halted in prod: failed 1 of 20 attempted hosts (5.0%), every host of the wave failed",
        );
        // Budget unknown: the producer's reason, folded onto one line.
        check(
            halted(1, 2, vec![ok(), bad()], "budget\nexceeded"),
            None,
            "wave 2 (batch) halted in prod: failed 1 of 2 attempted hosts (50.0%); budget exceeded",
        );
        check(
            halted(0, 0, Vec::new(), ""),
            None,
            "wave 2 (batch) halted in prod: failed 0 of 0 attempted hosts (0.0%)",
        );
    }

    #[test]
    fn rollback_completion_lists_the_hosts_that_did_not_roll_back() {
        let mut failed = outcome("web-4", HostStatus::TimedOut);
        failed.reason = Some("no result in 1800 s".to_owned());
        check(
            Payload::RollbackCompleted(events::RollbackCompleted {
                bundle_id: Uuid::nil(),
                ring: "prod".to_owned(),
                hosts: vec![outcome("web-3", HostStatus::Succeeded), failed.clone()],
            }),
            None,
            "rollback completed in prod: 1 of 2 hosts rolled back: web-4 timed out (no result in 1800 s)",
        );
        // With the agents' methods: counted per method.
        let by = |host: &str, m| {
            let mut o = outcome(host, HostStatus::Succeeded);
            o.rollback_method = Some(m);
            o
        };
        use events::RollbackMethod as M;
        check(
            Payload::RollbackCompleted(events::RollbackCompleted {
                bundle_id: Uuid::nil(),
                ring: "prod".to_owned(),
                hosts: vec![
                    by("web-1", M::PackageDowngrade),
                    by("web-2", M::SnapshotRestore),
                    by("web-3", M::PackageDowngrade),
                    failed,
                ],
            }),
            None,
            "rollback completed in prod: 3 of 4 hosts rolled back (1 by snapshot restore, 2 by \
             package downgrade): web-4 timed out (no result in 1800 s)",
        );
    }

    #[test]
    fn a_rollback_result_says_how_the_host_was_brought_back() {
        let result = |status, method, reason: Option<&str>| {
            Payload::AgentResult(events::AgentResult {
                job_id: Uuid::nil(),
                bundle_id: Uuid::nil(),
                ring: "prod".to_owned(),
                wave: 1,
                host: "web-2".to_owned(),
                action: events::JobAction::Rollback,
                status,
                reason: reason.map(str::to_owned),
                steps: Vec::new(),
                rebooted: false,
                reboot_required: false,
                inventory: events::HostInventory::default(),
                finished_at: chrono::DateTime::UNIX_EPOCH,
                rollback_method: method,
            })
        };
        use events::RollbackMethod as M;
        check(
            result(JobStatus::Succeeded, Some(M::SnapshotRestore), None),
            None,
            "rollback succeeded on web-2 (prod wave 1) by snapshot restore",
        );
        check(
            result(
                JobStatus::Succeeded,
                Some(M::SnapshotRestoreAndDowngrade),
                None,
            ),
            None,
            "rollback succeeded on web-2 (prod wave 1) by snapshot restore and package downgrade",
        );
        check(
            result(JobStatus::Succeeded, Some(M::PackageDowngrade), None),
            None,
            "rollback succeeded on web-2 (prod wave 1) by package downgrade",
        );
        check(
            result(JobStatus::Failed, None, Some("verify failed")),
            None,
            "rollback failed on web-2 (prod wave 1): verify failed",
        );
    }

    #[test]
    fn approvals_rejections_and_overrides_read_in_one_line() {
        check(
            Payload::BundleApproved(events::BundleApproved {
                bundle_id: Uuid::nil(),
                approved_by: "alice".to_owned(),
                ticket: "CHG-1234".to_owned(),
                emergency_override: false,
            }),
            None,
            "bundle approved by alice (ticket CHG-1234)",
        );
        check(
            Payload::BundleApproved(events::BundleApproved {
                bundle_id: Uuid::nil(),
                approved_by: "bob".to_owned(),
                ticket: "ECAB-7".to_owned(),
                emergency_override: true,
            }),
            None,
            "bundle approved by bob (ticket ECAB-7), emergency override: may cross change freezes",
        );
        check(
            Payload::BundleRejected(events::BundleRejected {
                bundle_id: Uuid::nil(),
                rejected_by: "carol".to_owned(),
                reason: "not during\nquarter close".to_owned(),
            }),
            None,
            "bundle rejected by carol: not during quarter close",
        );
    }
}
