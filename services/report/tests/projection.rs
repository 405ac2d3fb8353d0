//! The report projection end to end, without NATS: events are applied as the
//! adapter would apply them (stream, stream sequence, event) and every query
//! is checked by value.

mod support;

use std::str::FromStr;

use uuid::Uuid;

use events::spec;
use events::*;
use report::{
    Applied, AuditEntry, BundleStatus, ComplianceStatus, Projection, RingState, SkipReason,
    WaveState, render_audit, render_compliance,
};
use support::*;

fn open(dir: &tempfile::TempDir) -> Projection {
    Projection::open(dir.path().join("report.sqlite")).expect("open projection")
}

// ---------------------------------------------------------------------------
// OC-17: overdue findings stay in the open counts.

/// `host-a.example` → asset id `host-a` (lower-case short name).
fn short_name(host: &str) -> String {
    host.split('.').next().unwrap_or(host).to_ascii_lowercase()
}

/// Builds the OC-17 events from `findings.json`: an observation at
/// `first_seen`, a default-policy decision from the vector's CVSS v3.1 base
/// score (computed by the `cvss` crate), and a resolution when resolved.
/// Returns `as_of` and the finding ids by case id.
fn oc17_feed(
    feed: &mut Feed,
    findings_json: &str,
) -> (chrono::DateTime<chrono::Utc>, Vec<(String, Uuid)>) {
    let doc: serde_json::Value = serde_json::from_str(findings_json).expect("findings.json");
    let as_of = t(doc["as_of"].as_str().expect("as_of"));
    let mut ids = Vec::new();
    for f in doc["findings"].as_array().expect("findings") {
        let s = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("field {k}"));
        let host = s("host");
        let (scanner, check_id) = s("check").split_once(':').expect("scanner:id");
        assert_eq!(scanner, "nessus");
        let port: u16 = s("port")
            .split_once('/')
            .and_then(|(p, _)| p.parse().ok())
            .expect("port/proto");
        let mut a = asset(&short_name(host));
        a.fqdn = Some(host.to_owned());
        a.ip = Some(s("ip").to_owned());
        let first_seen = s("first_seen");
        let o = observed(a, check_id, port, s("cve"), first_seen, first_seen);
        let vector = s("cvss");
        let score = cvss::v3::Vector::from_str(vector)
            .expect("cvss vector")
            .base_score()
            .value();
        ids.push((s("id").to_owned(), o.finding_id));
        let p = prioritized(&o, vector, score);
        feed.push(Service::Ingest, first_seen, o.clone());
        let decided = (t(first_seen) + chrono::Duration::minutes(1)).to_rfc3339();
        feed.push(Service::Prioritize, &decided, p);
        if s("status") == "resolved" {
            let at = s("resolved_at");
            feed.push(Service::Ingest, at, resolved(&o, at));
        }
    }
    (as_of, ids)
}

#[test]
fn oc17_overdue_findings_stay_open() {
    let Some(cases) = testkit::cases() else {
        return;
    };
    let json = std::fs::read_to_string(cases.join("OC-17/findings.json")).expect("read case");
    let mut feed = Feed::default();
    let (as_of, ids) = oc17_feed(&mut feed, &json);
    let id = |case: &str| {
        ids.iter()
            .find(|(c, _)| c == case)
            .map(|(_, id)| *id)
            .unwrap_or_else(|| panic!("case finding {case}"))
    };
    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    feed.apply_in_order(&mut p);

    let report = p.compliance(as_of).unwrap();
    assert_eq!(as_of, t("2025-01-20T00:00:00Z"));
    let hosts: Vec<&str> = report.hosts.iter().map(|h| h.asset_id.as_str()).collect();
    assert_eq!(hosts, ["host-a", "host-b"]);

    let a = &report.hosts[0];
    assert_eq!((a.open, a.overdue), (2, 1));
    assert_eq!(a.status, ComplianceStatus::NonCompliant);
    assert_eq!(a.ip.as_deref(), Some("192.0.2.171"));
    let got: Vec<(Uuid, Option<Priority>, String, bool)> = a
        .findings
        .iter()
        .map(|f| {
            (
                f.finding_id,
                f.priority,
                f.due_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
                f.overdue,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                id("F1"),
                Some(Priority::High),
                "2025-01-09T00:00:00+00:00".to_owned(),
                true
            ),
            (
                id("F2"),
                Some(Priority::Medium),
                "2025-02-09T00:00:00+00:00".to_owned(),
                false
            ),
        ]
    );
    // (7.5 + 5.3) / 2
    assert_eq!(a.avg_cvss, Some(6.4));

    let b = &report.hosts[1];
    assert_eq!((b.open, b.overdue), (1, 0));
    assert_eq!(b.status, ComplianceStatus::Compliant);
    assert_eq!(b.findings.len(), 1);
    assert_eq!(b.findings[0].finding_id, id("F3"));
    assert_eq!(b.findings[0].priority, Some(Priority::Low));
    assert_eq!(b.findings[0].due_at, Some(t("2025-04-15T00:00:00Z")));
    assert_eq!(b.avg_cvss, Some(3.1));
    // F4 was resolved inside its SLA: in neither count.
    assert!(
        report
            .hosts
            .iter()
            .flat_map(|h| &h.findings)
            .all(|f| f.finding_id != id("F4"))
    );

    let fleet = &report.fleet;
    assert_eq!(
        (fleet.hosts, fleet.compliant, fleet.non_compliant),
        (2, 1, 1)
    );
    assert_eq!((fleet.open, fleet.overdue), (3, 1));
    assert_eq!(
        (
            fleet.open_by_priority.critical,
            fleet.open_by_priority.high,
            fleet.open_by_priority.medium,
            fleet.open_by_priority.low,
            fleet.open_by_priority.unprioritized
        ),
        (0, 1, 1, 1, 0)
    );
    // Every observation says severity high (support::observed).
    assert_eq!(fleet.open_by_severity.high, 3);

    let text = render_compliance(&report);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "HOST    RING  OPEN  OVERDUE  AVG CVSS  LAST PATCHED  STATUS",
            "host-a  -        2        1       6.4  -             NON_COMPLIANT",
            "host-b  -        1        0       3.1  -             COMPLIANT",
            "fleet as of 2025-01-20T00:00:00Z: 2 hosts, 1 compliant, 1 non-compliant; \
             3 open (critical 0, high 1, medium 1, low 1, unprioritized 0), 1 overdue",
        ]
    );
    let json: serde_json::Value =
        serde_json::from_str(&report::compliance_json(&report).unwrap()).unwrap();
    assert_eq!(json["hosts"][0]["status"], "NON_COMPLIANT");
    assert_eq!(json["fleet"]["open"], 3);
}

// ---------------------------------------------------------------------------
// Open at an instant: first observation, resolution, reappearance.

#[test]
fn a_finding_is_open_from_first_observation_until_resolved_and_again_when_it_returns() {
    let mut feed = Feed::default();
    let o = observed(
        asset("db-1"),
        "1001",
        5432,
        "CVE-2000-1",
        "2025-03-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    );
    // CVSS 7.5 → high, due 2025-03-08.
    let decision = prioritized(&o, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5);
    feed.push(Service::Ingest, "2025-03-01T00:00:00Z", o.clone());
    feed.push(Service::Prioritize, "2025-03-01T00:01:00Z", decision);
    feed.push(
        Service::Ingest,
        "2025-03-05T00:00:00Z",
        resolved(&o, "2025-03-05T00:00:00Z"),
    );
    // An old report re-imported after the resolution reopens nothing.
    let mut stale = o.clone();
    stale.observed_at = t("2025-03-03T00:00:00Z");
    feed.push(Service::Ingest, "2025-03-06T00:00:00Z", stale);
    // Seen again on 2025-03-10: open again.
    let mut back = o.clone();
    back.observed_at = t("2025-03-10T00:00:00Z");
    feed.push(Service::Ingest, "2025-03-10T00:00:00Z", back);
    // A second finding without a decision: open, never overdue.
    let undecided = observed(
        asset("db-1"),
        "1002",
        22,
        "CVE-2000-2",
        "2025-03-02T00:00:00Z",
        "2025-03-02T00:00:00Z",
    );
    feed.push(Service::Ingest, "2025-03-02T00:00:00Z", undecided.clone());

    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    feed.apply_in_order(&mut p);

    // (as_of, open ids, overdue)
    let check = |as_of: &str, open: &[Uuid], overdue: u64| {
        let r = p.compliance(t(as_of)).unwrap();
        assert_eq!(r.hosts.len(), 1, "{as_of}");
        let h = &r.hosts[0];
        let mut ids: Vec<Uuid> = h.findings.iter().map(|f| f.finding_id).collect();
        ids.sort();
        let mut want = open.to_vec();
        want.sort();
        assert_eq!(ids, want, "open at {as_of}");
        assert_eq!(h.open, open.len() as u64, "{as_of}");
        assert_eq!(h.overdue, overdue, "overdue at {as_of}");
        let status = if overdue > 0 {
            ComplianceStatus::NonCompliant
        } else {
            ComplianceStatus::Compliant
        };
        assert_eq!(h.status, status, "{as_of}");
    };
    let f = o.finding_id;
    let u = undecided.finding_id;
    check("2025-02-28T23:59:59Z", &[], 0);
    check("2025-03-01T00:00:00Z", &[f], 0);
    check("2025-03-04T23:59:59Z", &[f, u], 0);
    check("2025-03-05T00:00:00Z", &[u], 0);
    check("2025-03-09T00:00:00Z", &[u], 0);
    check("2025-03-10T00:00:00Z", &[f, u], 1);
    check("2026-01-01T00:00:00Z", &[f, u], 1);

    let r = p.compliance(t("2025-03-10T00:00:00Z")).unwrap();
    assert_eq!(r.fleet.open_by_priority.unprioritized, 1);
    assert_eq!(r.fleet.open_by_priority.high, 1);
    let reopened = r.hosts[0]
        .findings
        .iter()
        .find(|x| x.finding_id == f)
        .unwrap();
    assert_eq!(reopened.opened_at, t("2025-03-10T00:00:00Z"));
    assert!(reopened.overdue);
}

// ---------------------------------------------------------------------------
// Idempotency.

/// Check 2001 on web-1 port 443 (CVE-2000-3), first seen 2025-03-01.
fn web1_observed() -> events::FindingObserved {
    observed(
        asset("web-1"),
        "2001",
        443,
        "CVE-2000-3",
        "2025-03-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    )
}

#[test]
fn applying_an_event_twice_or_a_lower_sequence_changes_nothing() {
    let mut feed = Feed::default();
    let o = web1_observed();
    let first = feed.push(Service::Ingest, "2025-03-01T00:00:00Z", o.clone());
    let mut later = o.clone();
    later.observed_at = t("2025-03-02T00:00:00Z");
    let second = feed.push(Service::Ingest, "2025-03-02T00:00:00Z", later);
    let findings = stream_name(&spec::FINDINGS);

    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    assert_eq!(p.position(&findings).unwrap(), 0);
    assert_eq!(
        p.apply(&findings, 1, &first).unwrap(),
        Applied::Stored { position: 1 }
    );
    let before = p.compliance(t("2025-03-05T00:00:00Z")).unwrap();
    let counts = p.counts_by_type().unwrap();

    // Redelivery of the same sequence.
    assert_eq!(
        p.apply(&findings, 1, &first).unwrap(),
        Applied::Skipped(SkipReason::Sequence)
    );
    // The same event id republished at a later sequence.
    assert_eq!(
        p.apply(&findings, 2, &first).unwrap(),
        Applied::Skipped(SkipReason::DuplicateId)
    );
    assert_eq!(p.position(&findings).unwrap(), 2);
    // A new event at a sequence already passed.
    assert_eq!(
        p.apply(&findings, 2, &second).unwrap(),
        Applied::Skipped(SkipReason::Sequence)
    );
    assert_eq!(
        p.apply_batch([
            (findings.as_str(), 1, &second),
            (findings.as_str(), 2, &first)
        ])
        .unwrap(),
        [
            Applied::Skipped(SkipReason::Sequence),
            Applied::Skipped(SkipReason::Sequence)
        ]
    );

    assert_eq!(p.compliance(t("2025-03-05T00:00:00Z")).unwrap(), before);
    assert_eq!(p.counts_by_type().unwrap(), counts);
    assert_eq!(counts.get("patch.finding.observed.v1"), Some(&1));
    assert_eq!(p.position(&findings).unwrap(), 2);
    let chain = p.verify_chain().unwrap();
    assert!(chain.is_intact(), "{chain:?}");
    assert_eq!(chain.rows, 1);

    // The next sequence applies.
    assert_eq!(
        p.apply(&findings, 3, &second).unwrap(),
        Applied::Stored { position: 2 }
    );
    assert_eq!(p.position(&findings).unwrap(), 3);
    let positions = p.positions().unwrap();
    assert_eq!(positions.get(&findings), Some(&3));
}

// ---------------------------------------------------------------------------
// A bundle's life, and its audit trail.

/// A bundle rolled out to dev (validated), then halted in prod after a
/// failed batch and a rollback. Returns its id.
fn bundle_scenario(feed: &mut Feed) -> Uuid {
    let bundle_id = Uuid::from_u128(0xB0);
    let window = |opens: &str, closes: &str| WindowInstance {
        opens_at: t(opens),
        closes_at: t(closes),
    };
    let host_spec = |h: &str| HostJobSpec {
        asset_id: h.to_owned(),
        remediations: vec![openssl()],
    };
    let target = |h: &str, ring: &str| BundleTarget {
        asset_id: h.to_owned(),
        ring: ring.to_owned(),
        remediations: vec![openssl().key()],
        findings: Vec::new(),
    };
    let job = |host: &str, ring: &str, wave: u32, at: &str| AgentJob {
        job_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, host.as_bytes()),
        bundle_id,
        ring: ring.to_owned(),
        wave,
        host: host.to_owned(),
        action: JobAction::Apply,
        remediations: vec![openssl()],
        issued_at: t(at),
        expires_at: t(at) + chrono::Duration::hours(1),
        signature: None,
        key_id: None,
    };
    let result = |host: &str, ring: &str, wave: u32, status: JobStatus, at: &str| AgentResult {
        job_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, host.as_bytes()),
        bundle_id,
        ring: ring.to_owned(),
        wave,
        host: host.to_owned(),
        action: JobAction::Apply,
        status,
        reason: (status != JobStatus::Succeeded)
            .then(|| "dpkg: error processing openssl".to_owned()),
        steps: Vec::new(),
        rebooted: host == "web-1",
        reboot_required: false,
        inventory: HostInventory::default(),
        finished_at: t(at),
        rollback_method: None,
    };

    feed.push(
        Service::Schedule,
        "2025-03-03T10:00:00Z",
        BundlePlanned {
            bundle_id,
            digest: "ab".repeat(32),
            scan_id: Uuid::from_u128(9_000),
            priority: Priority::High,
            deadline: t("2025-03-08T00:00:00Z"),
            remediations: vec![openssl()],
            targets: vec![
                target("web-1", "dev"),
                target("web-3", "prod"),
                target("web-4", "prod"),
            ],
            rings: vec![
                RingSchedule {
                    ring: "dev".to_owned(),
                    hosts: vec!["web-1".to_owned()],
                    window: None,
                    soak_hours: 0,
                },
                RingSchedule {
                    ring: "prod".to_owned(),
                    hosts: vec!["web-3".to_owned(), "web-4".to_owned()],
                    window: None,
                    soak_hours: 0,
                },
            ],
            sla_at_risk: false,
            manual_tasks: vec![],
            approval: None,
        },
    );
    let scheduled =
        |ring: &str, index: u32, last: bool, hosts: &[&str], w: WindowInstance| BundleScheduled {
            bundle_id,
            ring: ring.to_owned(),
            ring_index: index,
            last_ring: last,
            window: w,
            windows: WindowSet::always(),
            hosts: hosts.iter().map(|h| host_spec(h)).collect(),
            rollout: RolloutPolicy::default(),
            emergency_override: None,
        };
    feed.push(
        Service::Schedule,
        "2025-03-03T10:05:00Z",
        scheduled(
            "dev",
            0,
            false,
            &["web-1"],
            window("2025-03-03T10:00:00Z", "2025-03-03T14:00:00Z"),
        ),
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T10:06:00Z",
        WaveStarted {
            bundle_id,
            ring: "dev".to_owned(),
            wave: 0,
            kind: WaveKind::Canary,
            hosts: vec!["web-1".to_owned()],
            results_due_at: t("2025-03-03T10:36:00Z"),
        },
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T10:07:00Z",
        job("web-1", "dev", 0, "2025-03-03T10:07:00Z"),
    );
    feed.push(
        Service::Agent,
        "2025-03-03T10:20:00Z",
        result(
            "web-1",
            "dev",
            0,
            JobStatus::Succeeded,
            "2025-03-03T10:19:00Z",
        ),
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T10:21:00Z",
        WaveCompleted {
            bundle_id,
            ring: "dev".to_owned(),
            wave: 0,
            kind: WaveKind::Canary,
            last_wave_in_ring: true,
            hosts: vec![outcome("web-1", HostStatus::Succeeded, None)],
            ring_attempted: 1,
            ring_failed: 0,
        },
    );
    feed.push(
        Service::Validate,
        "2025-03-03T10:30:00Z",
        ValidationPassed {
            bundle_id,
            ring: "dev".to_owned(),
            wave: 0,
            last_wave_in_ring: true,
            checks: vec![CheckResult {
                name: "web".to_owned(),
                kind: "http".to_owned(),
                target: "http://web-1/health".to_owned(),
                ok: true,
                detail: "200".to_owned(),
                duration_ms: 12,
            }],
            readback: vec![HostReadback {
                host: "web-1".to_owned(),
                ok: true,
                missing: Vec::new(),
                result_event_id: None,
            }],
        },
    );
    feed.push(
        Service::Schedule,
        "2025-03-03T11:00:00Z",
        scheduled(
            "prod",
            1,
            true,
            &["web-3", "web-4"],
            window("2025-03-03T11:00:00Z", "2025-03-03T15:00:00Z"),
        ),
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T11:01:00Z",
        WaveStarted {
            bundle_id,
            ring: "prod".to_owned(),
            wave: 1,
            kind: WaveKind::Batch,
            hosts: vec!["web-3".to_owned(), "web-4".to_owned()],
            results_due_at: t("2025-03-03T11:31:00Z"),
        },
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T11:02:00Z",
        job("web-3", "prod", 1, "2025-03-03T11:02:00Z"),
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T11:02:30Z",
        job("web-4", "prod", 1, "2025-03-03T11:02:30Z"),
    );
    feed.push(
        Service::Agent,
        "2025-03-03T11:15:00Z",
        result(
            "web-3",
            "prod",
            1,
            JobStatus::Failed,
            "2025-03-03T11:14:00Z",
        ),
    );
    feed.push(
        Service::Agent,
        "2025-03-03T11:16:00Z",
        result(
            "web-4",
            "prod",
            1,
            JobStatus::Succeeded,
            "2025-03-03T11:15:00Z",
        ),
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T11:17:00Z",
        WaveHalted {
            bundle_id,
            ring: "prod".to_owned(),
            wave: 1,
            kind: WaveKind::Batch,
            hosts: vec![
                outcome(
                    "web-3",
                    HostStatus::Failed,
                    Some("dpkg: error processing openssl"),
                ),
                outcome("web-4", HostStatus::Succeeded, None),
            ],
            ring_attempted: 2,
            ring_failed: 1,
            never_started: Vec::new(),
            reason: "failed 1 of 2 attempted hosts (50.0%) > 10%".to_owned(),
        },
    );
    feed.push(
        Service::Validate,
        "2025-03-03T11:18:00Z",
        RollbackRequested {
            bundle_id,
            ring: "prod".to_owned(),
            wave: 1,
            hosts: vec!["web-3".to_owned()],
            reason: "wave 1 halted".to_owned(),
        },
    );
    feed.push(
        Service::Deploy,
        "2025-03-03T11:30:00Z",
        RollbackCompleted {
            bundle_id,
            ring: "prod".to_owned(),
            hosts: vec![outcome("web-3", HostStatus::Succeeded, None)],
        },
    );
    feed.push(
        Service::Schedule,
        "2025-03-03T11:31:00Z",
        BundleHalted {
            bundle_id,
            ring: "prod".to_owned(),
            reason: "wave 1 halted: failed 1 of 2 attempted hosts".to_owned(),
        },
    );
    bundle_id
}

const TRAIL: [(&str, &str, &str); 17] = [
    (
        "2025-03-03T10:00:00Z",
        "patch.bundle.planned.v1",
        "bundle planned: 1 remediation for 3 hosts in rings dev, prod; priority high, deadline 2025-03-08T00:00:00Z",
    ),
    (
        "2025-03-03T10:05:00Z",
        "patch.bundle.scheduled.v1",
        "ring dev scheduled (ring index 0): 1 host, window 2025-03-03T10:00:00Z to 2025-03-03T14:00:00Z",
    ),
    (
        "2025-03-03T10:06:00Z",
        "patch.deployment.wave.started.v1",
        "wave 0 (canary) started in dev: 1 host, results due 2025-03-03T10:36:00Z",
    ),
    (
        "2025-03-03T10:07:00Z",
        "patch.agent.job.v1",
        "apply job sent to web-1 (dev wave 0): 1 remediation",
    ),
    (
        "2025-03-03T10:20:00Z",
        "patch.agent.result.v1",
        "apply succeeded on web-1 (dev wave 0), rebooted",
    ),
    (
        "2025-03-03T10:21:00Z",
        "patch.deployment.wave.completed.v1",
        "wave 0 (canary) completed in dev: 1 of 1 hosts succeeded, last wave of the ring",
    ),
    (
        "2025-03-03T10:30:00Z",
        "patch.validation.passed.v1",
        "validation passed for dev wave 0: 1 check, 1 host read back",
    ),
    (
        "2025-03-03T11:00:00Z",
        "patch.bundle.scheduled.v1",
        "ring prod scheduled (ring index 1, last ring): 2 hosts, window 2025-03-03T11:00:00Z to 2025-03-03T15:00:00Z",
    ),
    (
        "2025-03-03T11:01:00Z",
        "patch.deployment.wave.started.v1",
        "wave 1 (batch) started in prod: 2 hosts, results due 2025-03-03T11:31:00Z",
    ),
    (
        "2025-03-03T11:02:00Z",
        "patch.agent.job.v1",
        "apply job sent to web-3 (prod wave 1): 1 remediation",
    ),
    (
        "2025-03-03T11:02:30Z",
        "patch.agent.job.v1",
        "apply job sent to web-4 (prod wave 1): 1 remediation",
    ),
    (
        "2025-03-03T11:15:00Z",
        "patch.agent.result.v1",
        "apply failed on web-3 (prod wave 1): dpkg: error processing openssl",
    ),
    (
        "2025-03-03T11:16:00Z",
        "patch.agent.result.v1",
        "apply succeeded on web-4 (prod wave 1)",
    ),
    (
        "2025-03-03T11:17:00Z",
        "patch.deployment.wave.halted.v1",
        "wave 1 (batch) halted in prod: failed 1 of 2 attempted hosts (50.0%) > 10%",
    ),
    (
        "2025-03-03T11:18:00Z",
        "patch.rollback.requested.v1",
        "rollback requested for web-3 (prod wave 1): wave 1 halted",
    ),
    (
        "2025-03-03T11:30:00Z",
        "patch.rollback.completed.v1",
        "rollback completed in prod: 1 of 1 hosts rolled back",
    ),
    (
        "2025-03-03T11:31:00Z",
        "patch.bundle.halted.v1",
        "bundle halted in prod: wave 1 halted: failed 1 of 2 attempted hosts",
    ),
];

fn trail_shape(trail: &[AuditEntry]) -> Vec<(String, String, String)> {
    trail
        .iter()
        .map(|e| {
            (
                e.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                e.event_type.clone(),
                e.summary.clone(),
            )
        })
        .collect()
}

#[test]
fn audit_trail_is_in_event_time_order_with_one_line_summaries() {
    let mut feed = Feed::default();
    let bundle_id = bundle_scenario(&mut feed);
    // Noise that belongs to no bundle.
    feed.push(
        Service::Ingest,
        "2025-03-03T10:10:00Z",
        observed(
            asset("web-1"),
            "3001",
            443,
            "CVE-2000-4",
            "2025-03-03T09:00:00Z",
            "2025-03-03T09:00:00Z",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    // Stream by stream: application order differs from event time order.
    feed.replay_by_stream(&mut p);

    let trail = p.audit_trail(bundle_id).unwrap();
    let want: Vec<(String, String, String)> = TRAIL
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(trail_shape(&trail), want);
    assert_eq!(trail[0].source, "patchflow/schedule");
    assert_eq!(trail[0].stream, stream_name(&spec::BUNDLES));
    assert_eq!(trail[0].stream_seq, 1);
    assert!(p.audit_trail(Uuid::from_u128(1)).unwrap().is_empty());

    let text = render_audit(&trail);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 18);
    assert_eq!(
        lines[0],
        "TIME                  TYPE                                SUMMARY"
    );
    assert_eq!(
        lines[14],
        "2025-03-03T11:17:00Z  patch.deployment.wave.halted.v1     \
         wave 1 (batch) halted in prod: failed 1 of 2 attempted hosts (50.0%) > 10%"
    );
    let json: serde_json::Value =
        serde_json::from_str(&report::audit_json(&trail).unwrap()).unwrap();
    assert_eq!(json[15]["summary"], TRAIL[15].2);

    // Bundle progress.
    let bundles = p.bundles().unwrap();
    assert_eq!(bundles.len(), 1);
    let b = &bundles[0];
    assert_eq!(b.bundle_id, bundle_id);
    assert_eq!(b.status, BundleStatus::Halted);
    assert_eq!(b.status_at, t("2025-03-03T11:31:00Z"));
    assert_eq!(b.halted_ring.as_deref(), Some("prod"));
    assert_eq!((b.hosts, b.remediations, b.jobs, b.results), (3, 1, 3, 3));
    assert_eq!(b.priority, Some(Priority::High));
    let rings: Vec<_> = b
        .rings
        .iter()
        .map(|r| {
            (
                r.ring.as_str(),
                r.hosts,
                r.state,
                r.waves_completed,
                r.waves_halted,
                r.validations_passed,
            )
        })
        .collect();
    assert_eq!(
        rings,
        [
            ("dev", 1, RingState::Validated, 1, 0, 1),
            ("prod", 2, RingState::Halted, 0, 1, 0),
        ]
    );
    let waves: Vec<_> = b
        .waves
        .iter()
        .map(|w| (w.ring.as_str(), w.wave, w.state, w.succeeded, w.failed))
        .collect();
    assert_eq!(
        waves,
        [
            ("dev", 0, WaveState::Completed, Some(1), Some(0)),
            ("prod", 1, WaveState::Halted, Some(1), Some(1)),
        ]
    );
    assert_eq!(b.waves[1].started_at, Some(t("2025-03-03T11:01:00Z")));
    assert_eq!(b.validations.len(), 1);
    assert!(b.validations[0].passed);
    assert_eq!(b.rollbacks.len(), 1);
    let rb = &b.rollbacks[0];
    assert_eq!(rb.hosts, ["web-3"]);
    assert_eq!(rb.wave, Some(1));
    assert_eq!(rb.requested_at, Some(t("2025-03-03T11:18:00Z")));
    assert_eq!(rb.completed_at, Some(t("2025-03-03T11:30:00Z")));
    assert_eq!((rb.succeeded, rb.failed), (Some(1), Some(0)));

    // Host patch history: succeeded applies only.
    let r = p.compliance(t("2025-03-04T00:00:00Z")).unwrap();
    let patched: Vec<(&str, Option<String>)> = r
        .hosts
        .iter()
        .map(|h| {
            (
                h.asset_id.as_str(),
                h.last_patched_at.map(|d| d.to_rfc3339()),
            )
        })
        .collect();
    assert_eq!(
        patched,
        [
            ("web-1", Some("2025-03-03T10:19:00+00:00".to_owned())),
            ("web-3", None),
            ("web-4", Some("2025-03-03T11:15:00+00:00".to_owned())),
        ]
    );
    // Not yet patched as of before the job finished.
    let early = p.compliance(t("2025-03-03T10:18:59Z")).unwrap();
    assert!(early.hosts.iter().all(|h| h.last_patched_at.is_none()));
}

// ---------------------------------------------------------------------------
// Rebuild by replay.

/// Findings, assets from two streams, a bundle, a scan and a dead letter.
fn rich_feed() -> (Feed, Uuid) {
    let mut feed = Feed::default();
    // Inventory says prod / ops at 09:00; an older scan snapshot says dev; a
    // newer snapshot knows no ring. Whatever the interleaving: prod.
    let mut snap_old = asset("web-3");
    snap_old.ring = Some("dev".to_owned());
    let o = observed(
        snap_old,
        "4001",
        443,
        "CVE-2000-5",
        "2025-03-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    );
    feed.push(Service::Ingest, "2025-03-01T00:00:00Z", o.clone());
    feed.push(
        Service::Prioritize,
        "2025-03-01T00:01:00Z",
        prioritized(&o, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    );
    let mut inv = asset("web-3");
    inv.ring = Some("prod".to_owned());
    inv.owner = Some("ops".to_owned());
    inv.tier = Some(1);
    feed.push(
        Service::Ingest,
        "2025-03-02T09:00:00Z",
        AssetUpserted {
            asset: inv,
            source: AssetSource::Inventory,
            scan_id: None,
            facts: Vec::new(),
        },
    );
    let mut again = o.clone();
    again.asset.ring = None;
    again.observed_at = t("2025-03-02T10:00:00Z");
    feed.push(Service::Ingest, "2025-03-02T10:00:00Z", again);
    feed.push(
        Service::Ingest,
        "2025-03-02T10:00:01Z",
        ScanCompleted {
            scan_id: Uuid::from_u128(9_002),
            object: "scan-9002".to_owned(),
            format: "nessus".to_owned(),
            scope: ScanScope::Full,
            hosts: vec!["web-3".to_owned(), "quiet-1".to_owned()],
            findings: 1,
            info_facts: 0,
            started_at: None,
            finished_at: None,
            resolved: 0,
        },
    );
    feed.push(
        Service::Prioritize,
        "2025-03-02T12:00:00Z",
        DeadLettered {
            service: Service::Prioritize,
            reason: "undecodable envelope: expected value at line 1 column 1".to_owned(),
            subject: "patch.finding.observed".to_owned(),
            stream: stream_name(&spec::FINDINGS),
            stream_sequence: 7,
            delivered: 1,
            payload_text: Some("garbage".to_owned()),
            payload_base64: None,
        },
    );
    let bundle = bundle_scenario(&mut feed);
    (feed, bundle)
}

#[test]
fn deleting_the_file_and_replaying_gives_the_same_answers() {
    let (feed, bundle_id) = rich_feed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.sqlite");
    let instants = [
        "2025-03-01T12:00:00Z",
        "2025-03-04T00:00:00Z",
        "2025-03-05T00:00:00Z",
    ];
    let answers = |p: &Projection| {
        (
            instants
                .iter()
                .map(|i| p.compliance(t(i)).unwrap())
                .collect::<Vec<_>>(),
            p.audit_trail(bundle_id).unwrap(),
            p.bundles().unwrap(),
            p.dead_letters().unwrap(),
            p.counts_by_type().unwrap(),
            p.positions().unwrap(),
        )
    };

    let before = {
        let mut p = Projection::open(&path).unwrap();
        feed.apply_in_order(&mut p);
        answers(&p)
    };
    // Values worth pinning, so the comparison is not between two wrong answers.
    let (compliance, trail, _, dead, counts, _) = &before;
    let web3 = compliance[1]
        .hosts
        .iter()
        .find(|h| h.asset_id == "web-3")
        .unwrap();
    assert_eq!(web3.ring.as_deref(), Some("prod"));
    assert_eq!(web3.owner.as_deref(), Some("ops"));
    assert_eq!(web3.tier, Some(1));
    // Critical, due 2025-03-04T00:00:00Z: not overdue at that instant, overdue after.
    assert_eq!(
        (web3.open, web3.overdue, web3.status),
        (1, 0, ComplianceStatus::Compliant)
    );
    let web3_later = compliance[2]
        .hosts
        .iter()
        .find(|h| h.asset_id == "web-3")
        .unwrap();
    assert_eq!(
        (web3_later.overdue, web3_later.status),
        (1, ComplianceStatus::NonCompliant)
    );
    let quiet = compliance[1]
        .hosts
        .iter()
        .find(|h| h.asset_id == "quiet-1")
        .unwrap();
    assert_eq!(
        (quiet.open, quiet.status, quiet.avg_cvss),
        (0, ComplianceStatus::Compliant, None)
    );
    assert_eq!(trail.len(), TRAIL.len());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].letter.service, Service::Prioritize);
    assert_eq!(dead[0].letter.stream_sequence, 7);
    assert_eq!(dead[0].letter.payload_text.as_deref(), Some("garbage"));
    assert_eq!(counts.values().sum::<u64>(), feed.items.len() as u64);

    for suffix in ["", "-wal", "-shm"] {
        let f = dir.path().join(format!("report.sqlite{suffix}"));
        if f.exists() {
            std::fs::remove_file(&f).unwrap();
        }
    }
    let mut p = Projection::open(&path).unwrap();
    assert!(p.positions().unwrap().is_empty());
    feed.replay_by_stream(&mut p);
    assert_eq!(answers(&p), before);
    assert!(p.verify_chain().unwrap().is_intact());
}

// ---------------------------------------------------------------------------
// The hash chain.

#[test]
fn the_hash_chain_verifies_and_names_the_first_edited_or_removed_row() {
    let (feed, _) = rich_feed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.sqlite");
    let mut p = Projection::open(&path).unwrap();
    feed.apply_in_order(&mut p);
    let n = feed.items.len() as u64;
    let ok = p.verify_chain().unwrap();
    assert!(ok.is_intact(), "{ok:?}");
    assert_eq!(ok.rows, n);
    let head = ok.head.clone().unwrap();
    assert_eq!(head.len(), 64);

    let sql = rusqlite::Connection::open(&path).unwrap();
    let event_at = |pos: i64| -> String {
        sql.query_row(
            "SELECT event_id FROM events WHERE position = ?1",
            [pos],
            |r| r.get(0),
        )
        .unwrap()
    };

    // Edit one event's JSON in place.
    let edited = sql
        .execute(
            "UPDATE events SET json = replace(json, 'CVE-2000-5', 'CVE-2000-6') WHERE position = 2",
            [],
        )
        .unwrap();
    assert_eq!(edited, 1);
    let r = p.verify_chain().unwrap();
    let broken = r.broken.expect("edit detected");
    assert_eq!(broken.position, 2);
    assert_eq!(broken.event_id, Some(event_at(2)));
    assert!(
        broken.problem.contains("hash mismatch"),
        "{}",
        broken.problem
    );
    assert_eq!(r.rows, 1);

    // Recomputing that row's hash by hand moves the break to the next row.
    let prev: String = sql
        .query_row("SELECT hash FROM events WHERE position = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let json: String = sql
        .query_row("SELECT json FROM events WHERE position = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(hex::decode(prev).unwrap());
    h.update(json.as_bytes());
    sql.execute(
        "UPDATE events SET hash = ?1 WHERE position = 2",
        [hex::encode(h.finalize())],
    )
    .unwrap();
    let broken = p.verify_chain().unwrap().broken.expect("still detected");
    assert_eq!(broken.position, 3);

    // A removed row in the middle.
    let dir2 = tempfile::tempdir().unwrap();
    let path2 = dir2.path().join("report.sqlite");
    let mut p2 = Projection::open(&path2).unwrap();
    feed.apply_in_order(&mut p2);
    let sql2 = rusqlite::Connection::open(&path2).unwrap();
    sql2.execute("DELETE FROM events WHERE position = 4", [])
        .unwrap();
    let broken = p2.verify_chain().unwrap().broken.expect("removal detected");
    assert_eq!(broken.position, 5);
    assert!(broken.problem.contains("position 4"), "{}", broken.problem);

    // A removed tail.
    let last = i64::try_from(n).unwrap();
    let dir3 = tempfile::tempdir().unwrap();
    let path3 = dir3.path().join("report.sqlite");
    let mut p3 = Projection::open(&path3).unwrap();
    feed.apply_in_order(&mut p3);
    let sql3 = rusqlite::Connection::open(&path3).unwrap();
    sql3.execute("DELETE FROM events WHERE position = ?1", [last])
        .unwrap();
    let r = p3.verify_chain().unwrap();
    let broken = r.broken.expect("tail removal detected");
    assert_eq!(broken.position, n);
    assert_eq!(broken.event_id, None);
    assert_eq!(r.rows, n - 1);
}

#[test]
fn reopening_keeps_positions_and_refuses_another_schema_version() {
    let (feed, _) = rich_feed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.sqlite");
    let positions = {
        let mut p = Projection::open(&path).unwrap();
        feed.apply_in_order(&mut p);
        p.positions().unwrap()
    };
    let p = Projection::open(&path).unwrap();
    assert_eq!(p.positions().unwrap(), positions);
    assert_eq!(
        p.position(&stream_name(&spec::BUNDLES)).unwrap(),
        feed.items
            .iter()
            .filter(|(s, ..)| *s == stream_name(&spec::BUNDLES))
            .count() as u64
    );
    drop(p);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    match Projection::open(&path) {
        Err(report::ReportError::SchemaVersion {
            found, expected, ..
        }) => {
            assert_eq!((found, expected), (99, report::SCHEMA_VERSION));
        }
        other => panic!("expected a schema version error, got {other:?}"),
    }
    // For a replay, the old file is set aside whole and a fresh one opened.
    let (fresh, aside) = Projection::open_for_replay(&path).unwrap();
    let aside = aside.expect("the old file is set aside");
    assert_eq!(
        aside.file_name().and_then(|n| n.to_str()),
        path.file_name()
            .and_then(|n| n.to_str())
            .map(|n| format!("{n}.schema99"))
            .as_deref()
    );
    assert!(fresh.positions().unwrap().is_empty(), "a fresh projection");
    let kept: i64 = rusqlite::Connection::open(&aside)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 99, "the set-aside file is the old one, unchanged");
    drop(fresh);
    // A file of this version is opened as it is.
    let (_, aside) = Projection::open_for_replay(&path).unwrap();
    assert_eq!(aside, None);
}

// ---------------------------------------------------------------------------
// Exceptions: no non-compliance while a risk acceptance is active.

#[test]
fn an_active_exception_keeps_an_overdue_finding_out_of_non_compliance() {
    let mut feed = Feed::default();
    // CVSS 7.5 → high, due 2025-03-08; another on the same host, CVSS 9.8 →
    // critical, due 2025-03-04.
    let web = observed(
        asset("web-1"),
        "2001",
        443,
        "CVE-2025-0001",
        "2025-03-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    );
    let ssh = observed(
        asset("web-1"),
        "2002",
        22,
        "CVE-2025-0002",
        "2025-03-01T00:00:00Z",
        "2025-03-01T00:00:00Z",
    );
    feed.push(Service::Ingest, "2025-03-01T00:00:00Z", web.clone());
    feed.push(Service::Ingest, "2025-03-01T00:00:00Z", ssh.clone());
    feed.push(
        Service::Prioritize,
        "2025-03-01T00:01:00Z",
        prioritized(&web, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
    );
    feed.push(
        Service::Prioritize,
        "2025-03-01T00:01:00Z",
        prioritized(&ssh, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    );
    let by_finding = Uuid::from_u128(0xe1);
    let by_cve = Uuid::from_u128(0xe2);
    let grant = |id, target, granted: &str, expires: &str| ExceptionGranted {
        exception_id: id,
        target,
        owner: "web team".to_owned(),
        reason: "WAF rule in place".to_owned(),
        granted_by: "alice".to_owned(),
        granted_at: t(granted),
        expires_at: t(expires),
    };
    // The web finding, 2025-03-05 until 2025-03-20; the CVE of the SSH
    // finding (lower case), 2025-03-02 until 2025-04-01, revoked 2025-03-10.
    feed.push(
        Service::Cli,
        "2025-03-05T00:00:00Z",
        grant(
            by_finding,
            ExceptionTarget::Finding {
                finding_id: web.finding_id,
            },
            "2025-03-05T00:00:00Z",
            "2025-03-20T00:00:00Z",
        ),
    );
    feed.push(
        Service::Cli,
        "2025-03-02T00:00:00Z",
        grant(
            by_cve,
            ExceptionTarget::Cve {
                cve: "cve-2025-0002".to_owned(),
            },
            "2025-03-02T00:00:00Z",
            "2025-04-01T00:00:00Z",
        ),
    );
    feed.push(
        Service::Cli,
        "2025-03-10T00:00:00Z",
        ExceptionRevoked {
            exception_id: by_cve,
            target: ExceptionTarget::Cve {
                cve: "cve-2025-0002".to_owned(),
            },
            revoked_by: "bob".to_owned(),
            revoked_at: t("2025-03-10T00:00:00Z"),
            reason: "WAF removed".to_owned(),
        },
    );
    feed.push(
        Service::Prioritize,
        "2025-03-20T00:00:00Z",
        ExceptionExpired {
            exception_id: by_finding,
            target: ExceptionTarget::Finding {
                finding_id: web.finding_id,
            },
            expired_at: t("2025-03-20T00:00:00Z"),
        },
    );

    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    feed.apply_in_order(&mut p);

    // (as_of, overdue findings, (finding, exception) pairs, status)
    let check = |as_of: &str, overdue: &[Uuid], excepted: &[(Uuid, Uuid)]| {
        let r = p.compliance(t(as_of)).unwrap();
        let h = &r.hosts[0];
        assert_eq!(h.open, 2, "{as_of}");
        let mut got: Vec<Uuid> = h
            .findings
            .iter()
            .filter(|f| f.overdue)
            .map(|f| f.finding_id)
            .collect();
        got.sort();
        let mut want = overdue.to_vec();
        want.sort();
        assert_eq!(got, want, "overdue at {as_of}");
        let mut got: Vec<(Uuid, Uuid)> = h
            .findings
            .iter()
            .filter_map(|f| f.exception_id.map(|e| (f.finding_id, e)))
            .collect();
        got.sort();
        let mut want = excepted.to_vec();
        want.sort();
        assert_eq!(got, want, "excepted at {as_of}");
        assert_eq!(h.overdue, overdue.len() as u64, "{as_of}");
        let status = if overdue.is_empty() {
            ComplianceStatus::Compliant
        } else {
            ComplianceStatus::NonCompliant
        };
        assert_eq!(h.status, status, "{as_of}");
    };
    let (w, s) = (web.finding_id, ssh.finding_id);
    check("2025-03-01T12:00:00Z", &[], &[]);
    check("2025-03-03T00:00:00Z", &[], &[(s, by_cve)]);
    check("2025-03-04T12:00:00Z", &[], &[(s, by_cve)]);
    check("2025-03-09T00:00:00Z", &[], &[(w, by_finding), (s, by_cve)]);
    // Revoked: the SSH finding is overdue again.
    check("2025-03-10T00:00:00Z", &[s], &[(w, by_finding)]);
    // Expired: both are overdue, on their original clocks.
    check("2025-03-20T00:00:00Z", &[w, s], &[]);
    // Before the first grant, an overdue finding counts as it always did.
    check("2025-03-04T12:00:00Z", &[], &[(s, by_cve)]);
}

/// A bundle holding manual tasks is not `completed` when its rollout ends:
/// people still have work to do (here: a bundle with nothing for agents at
/// all, and one with both), and `report bundles` says so.
#[test]
fn a_bundle_with_manual_tasks_awaits_manual_work_after_its_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    let mut feed = Feed::default();
    let manual = ManualTask {
        remediation: Remediation::Solution {
            scanner: "nessus".into(),
            check_id: "12345".into(),
            text: "Upgrade the vendor appliance firmware.".into(),
        },
        hosts: vec!["appliance-1".into()],
        findings: vec![Uuid::from_u128(0xF1)],
    };
    let plan = |id: u128, manual_tasks: Vec<ManualTask>| BundlePlanned {
        bundle_id: Uuid::from_u128(id),
        digest: "cd".repeat(32),
        scan_id: Uuid::from_u128(9_001),
        priority: Priority::Medium,
        deadline: t("2025-04-01T00:00:00Z"),
        remediations: vec![],
        targets: vec![],
        rings: vec![],
        sla_at_risk: false,
        manual_tasks,
        approval: None,
    };
    feed.push(
        Service::Schedule,
        "2025-03-03T10:00:00Z",
        plan(0xC1, vec![manual]),
    );
    feed.push(
        Service::Schedule,
        "2025-03-03T10:00:01Z",
        plan(0xC2, vec![]),
    );
    for id in [0xC1, 0xC2] {
        feed.push(
            Service::Schedule,
            "2025-03-03T10:00:02Z",
            BundleCompleted {
                bundle_id: Uuid::from_u128(id),
                rings: vec![],
            },
        );
    }
    feed.apply_in_order(&mut p);
    let bundles = p.bundles().unwrap();
    let got: Vec<(Uuid, BundleStatus, u64)> = bundles
        .iter()
        .map(|b| (b.bundle_id, b.status, b.manual_tasks))
        .collect();
    assert_eq!(
        got,
        [
            (Uuid::from_u128(0xC1), BundleStatus::AwaitingManual, 1),
            (Uuid::from_u128(0xC2), BundleStatus::Completed, 0),
        ]
    );
    assert_eq!(BundleStatus::AwaitingManual.as_str(), "awaiting_manual");
    assert!(BundleStatus::AwaitingManual.is_final());
    assert_eq!(
        serde_json::to_value(BundleStatus::AwaitingManual).unwrap(),
        "awaiting_manual"
    );
}

/// `exception add` names findings by id, fingerprint or CVE: the
/// projection finds them (open or resolved), and nothing for a name it does
/// not know.
#[test]
fn findings_are_found_by_id_fingerprint_or_cve() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    let mut feed = Feed::default();
    let a = observed(
        asset("web-1"),
        "100",
        443,
        "CVE-2024-0001",
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00Z",
    );
    let b = observed(
        asset("web-2"),
        "100",
        443,
        "CVE-2024-0001",
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00Z",
    );
    let c = observed(
        asset("web-2"),
        "200",
        22,
        "CVE-2024-00011",
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00Z",
    );
    for o in [&a, &b, &c] {
        feed.push(Service::Ingest, "2025-01-01T00:00:00Z", o.clone());
    }
    feed.push(
        Service::Ingest,
        "2025-01-02T00:00:00Z",
        resolved(&b, "2025-01-02T00:00:00Z"),
    );
    feed.apply_in_order(&mut p);
    let names = |key: &str| -> Vec<(String, bool)> {
        p.findings_named(key)
            .unwrap()
            .into_iter()
            .map(|f| (f.fingerprint, f.open))
            .collect()
    };
    // By CVE, any case, and not the CVE that merely starts the same.
    assert_eq!(
        names("cve-2024-0001"),
        [
            (a.fingerprint.clone(), true),
            (b.fingerprint.clone(), false)
        ]
    );
    assert_eq!(names(&c.fingerprint), [(c.fingerprint.clone(), true)]);
    assert_eq!(
        names(&a.finding_id.to_string()),
        [(a.fingerprint.clone(), true)]
    );
    assert!(names("CVE-1999-0000").is_empty());
    assert!(names("nessus:v1:web-9:1:1/tcp").is_empty());
}

/// A bundle bound for an approval ring shows `awaiting_approval` once the
/// rings before it validated, until it is approved.
#[test]
fn a_bundle_held_for_approval_says_so_until_approved() {
    let mut feed = Feed::default();
    let bundle_id = Uuid::from_u128(0xA9);
    let ring = |name: &str, host: &str| RingSchedule {
        ring: name.to_owned(),
        hosts: vec![host.to_owned()],
        window: None,
        soak_hours: 0,
    };
    feed.push(
        Service::Schedule,
        "2025-03-03T10:00:00Z",
        BundlePlanned {
            bundle_id,
            digest: "ef".repeat(32),
            scan_id: Uuid::from_u128(9_002),
            priority: Priority::High,
            deadline: t("2025-03-10T00:00:00Z"),
            remediations: vec![openssl()],
            targets: vec![],
            rings: vec![ring("dev", "web-1"), ring("prod", "web-2")],
            sla_at_risk: false,
            manual_tasks: vec![],
            approval: Some(ApprovalRequirement {
                rings: vec!["prod".into()],
                reasons: vec!["priority high is not a standard change".into()],
            }),
        },
    );
    let status = |feed: &Feed| {
        let dir = tempfile::tempdir().unwrap();
        let mut p = open(&dir);
        feed.apply_in_order(&mut p);
        let b = p.bundles().unwrap().remove(0);
        (b.status, b.approved_by)
    };
    // Planned, dev not yet validated: not waiting for the approval yet.
    assert_eq!(status(&feed), (BundleStatus::Planned, None));
    feed.push(
        Service::Schedule,
        "2025-03-03T10:05:00Z",
        BundleScheduled {
            bundle_id,
            ring: "dev".into(),
            ring_index: 0,
            last_ring: false,
            window: WindowInstance {
                opens_at: t("2025-03-03T10:00:00Z"),
                closes_at: t("2025-03-03T14:00:00Z"),
            },
            windows: WindowSet::always(),
            hosts: vec![HostJobSpec {
                asset_id: "web-1".into(),
                remediations: vec![openssl()],
            }],
            rollout: RolloutPolicy::default(),
            emergency_override: None,
        },
    );
    assert_eq!(status(&feed).0, BundleStatus::Scheduled);
    feed.push(
        Service::Validate,
        "2025-03-03T10:30:00Z",
        ValidationPassed {
            bundle_id,
            ring: "dev".into(),
            wave: 0,
            last_wave_in_ring: true,
            checks: vec![],
            readback: vec![],
        },
    );
    assert_eq!(status(&feed), (BundleStatus::AwaitingApproval, None));
    feed.push(
        Service::Cli,
        "2025-03-03T11:00:00Z",
        BundleApproved {
            bundle_id,
            approved_by: "alice".into(),
            ticket: "CHG-1".into(),
            emergency_override: false,
        },
    );
    assert_eq!(
        status(&feed),
        (BundleStatus::Scheduled, Some("alice".to_owned()))
    );
    assert_eq!(BundleStatus::AwaitingApproval.as_str(), "awaiting_approval");
}

#[test]
fn a_second_writer_waits_for_the_first_instead_of_failing() {
    // The report service and a CLI command catching up the same file write
    // at once; the one that comes second waits for the lock.
    let mut feed = Feed::default();
    let first = feed.push(Service::Ingest, "2025-03-01T00:00:00Z", web1_observed());
    let findings = stream_name(&spec::FINDINGS);
    let dir = tempfile::tempdir().unwrap();
    let mut p = open(&dir);
    // Start a read snapshot in this connection's view before the other
    // writer commits, as a catch-up reading positions does.
    assert_eq!(p.position(&findings).unwrap(), 0);
    let path = dir.path().join("report.sqlite");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || {
        let mut conn = rusqlite::Connection::open(path).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        tx.execute(
            "INSERT INTO stream_positions (stream, position) VALUES ('OTHER', 7)",
            [],
        )
        .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(400));
        tx.commit().unwrap();
    });
    locked_rx.recv().unwrap();
    assert_eq!(
        p.apply(&findings, 1, &first).unwrap(),
        Applied::Stored { position: 1 }
    );
    other.join().unwrap();
    assert_eq!(p.position("OTHER").unwrap(), 7);
}
