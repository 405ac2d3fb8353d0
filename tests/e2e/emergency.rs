//! The emergency lane end to end (issue 4's acceptance): findings for CVE X
//! are open and medium; KEV adds X; the findings become critical with a
//! delta naming KEV and an emergency is declared for the affected assets;
//! every service (all six `patchflow serve` processes) is killed (SIGKILL)
//! and started again with the injected clock (`[clock] offset_secs`) set to
//! reach the 4 h assess deadline a little after the restart; the assess
//! stage escalates exactly once, on time (not before the deadline on the
//! injected clock, within a few ticks after it), the later stages not yet.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use events::{
    AdvisoryFormat, AdvisoryPublished, Asset, Check, CvssVector, CvssVersion, DecisionTrigger,
    EmergencyDeclared, EmergencyEscalated, EmergencyStage, Event, FindingObserved,
    FindingPrioritized, KevAdded, KevInput, Payload, Priority, Remediation, Service, Severity,
};
use tests::{Lab, Proc};
use uuid::Uuid;

const CVE: &str = "CVE-2099-41000";
const OTHER_CVE: &str = "CVE-2099-41001";
/// CVSS 5.3: medium under the default policy.
const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N";
const SERVICES: [&str; 6] = [
    "ingest",
    "prioritize",
    "schedule",
    "deploy",
    "validate",
    "report",
];
/// After the restart, how long (real time) until the injected clock reaches
/// the assess deadline: past the killed leader's 15 s lease, so the new
/// leader is ticking (every second) before the deadline comes.
const LEAD_SECS: i64 = 30;
/// How late after its deadline (injected clock) the escalation may be
/// stamped: a few 1 s ticks on a loaded machine.
const ON_TIME_SECS: i64 = 10;

fn observed(host: &str, check: &str, cve: &str, scan: Uuid) -> Event {
    let fingerprint = format!("nessus:v1:{host}:{check}:443/tcp");
    let now = Utc::now();
    Event::new(
        Uuid::now_v7(),
        Service::Ingest,
        now,
        FindingObserved {
            finding_id: Uuid::new_v5(&Uuid::NAMESPACE_URL, fingerprint.as_bytes()),
            fingerprint,
            scan_id: scan,
            asset: Asset {
                asset_id: host.to_owned(),
                ..Asset::default()
            },
            check: Check {
                scanner: "nessus".into(),
                id: check.to_owned(),
                name: "synthetic check".into(),
                family: None,
            },
            port: 443,
            protocol: "tcp".into(),
            service: Some("www".into()),
            severity: Severity::Medium,
            cves: vec![cve.to_owned()],
            cwes: vec![],
            cvss: vec![CvssVector {
                version: CvssVersion::V3_1,
                vector: MEDIUM.into(),
                reported_score: Some(5.3),
                source: "nessus".into(),
            }],
            remediation: Remediation::Package {
                name: "openssl".into(),
                fixed_version: "3.0.99".into(),
            },
            observed_at: now,
            first_observed_at: now,
            package: None,
            fix_state: None,
            reopened: false,
        },
    )
}

fn start_all(lab: &Lab, round: u32) -> Vec<Proc> {
    SERVICES
        .iter()
        .map(|s| lab.spawn(&format!("{s}-{round}"), &["serve", s]))
        .collect()
}

fn prioritized(events: &[Event]) -> Vec<&FindingPrioritized> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::FindingPrioritized(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn deltas(events: &[Event]) -> Vec<&FindingPrioritized> {
    prioritized(events)
        .into_iter()
        .filter(|p| matches!(p.trigger, DecisionTrigger::Intel { .. }))
        .collect()
}

fn declared(events: &[Event]) -> Vec<&EmergencyDeclared> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::EmergencyDeclared(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn escalated(events: &[Event]) -> Vec<&EmergencyEscalated> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::EmergencyEscalated(x) => Some(x),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kev_addition_raises_declares_and_the_assess_timer_escalates_once_after_a_restart() {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let mut first = start_all(&lab, 1);

    // Two findings of CVE X (web-1, web-2) and one of another CVE (db-1),
    // as ingest publishes them.
    let scan = Uuid::now_v7();
    let inputs = vec![
        observed("web-1", "900001", CVE, scan),
        observed("web-2", "900001", CVE, scan),
        observed("db-1", "900002", OTHER_CVE, scan),
    ];
    lab.bus.publish_all(&inputs).await.unwrap();
    let affected: BTreeSet<Uuid> = inputs[..2]
        .iter()
        .filter_map(|e| match &e.data {
            Payload::FindingObserved(f) => Some(f.finding_id),
            _ => None,
        })
        .collect();
    let events = lab
        .log
        .wait_for("three medium decisions", Duration::from_secs(60), |e| {
            prioritized(e).len() >= 3
        })
        .await;
    assert!(
        prioritized(&events)
            .iter()
            .all(|p| p.priority == Priority::Medium && p.trigger == DecisionTrigger::Observation),
        "{:#?}",
        prioritized(&events)
    );

    // KEV adds X, as ingest publishes a new catalog entry.
    let today = Utc::now().date_naive();
    let kev = Event::new(
        Uuid::now_v7(),
        Service::Ingest,
        Utc::now(),
        KevAdded {
            entry: KevInput {
                cve: CVE.to_owned(),
                date_added: today,
                due_date: today + TimeDelta::days(21),
                known_ransomware: Some(true),
                catalog_version: "2099.01.01".to_owned(),
            },
            vendor_project: "Example".to_owned(),
            product: "Example TLS".to_owned(),
            vulnerability_name: "Example TLS remote code execution".to_owned(),
            required_action: "Apply updates per vendor instructions.".to_owned(),
        },
    );
    lab.bus.publish(&kev).await.unwrap();
    let events = lab
        .log
        .wait_for(
            "two critical deltas and the declaration",
            Duration::from_secs(60),
            |e| deltas(e).len() >= 2 && !declared(e).is_empty(),
        )
        .await;

    let d = deltas(&events);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert_eq!(
        d.iter().map(|p| p.finding_id).collect::<BTreeSet<_>>(),
        affected
    );
    for p in &d {
        assert_eq!(p.priority, Priority::Critical);
        let DecisionTrigger::Intel { source, detail } = &p.trigger else {
            unreachable!("filtered on intel triggers")
        };
        assert_eq!(source, "kev");
        assert!(detail.contains(CVE), "{detail}");
        let previous = p.previous.as_ref().expect("a delta names what it replaces");
        assert_eq!(previous.priority, Priority::Medium);
        assert_eq!(previous.policy_version, "default-1");
        // Critical: 72 h from the first observation (the KEV due date is later).
        assert_eq!(p.due_at, p.first_observed_at + TimeDelta::hours(72));
        assert_eq!(p.sla_hours, 72);
        assert!(p.reasons.iter().any(|r| r.rule == "kev"), "{:?}", p.reasons);
    }

    let dec = declared(&events);
    assert_eq!(dec.len(), 1, "{dec:#?}");
    let emergency = dec[0].clone();
    assert_eq!(emergency.cves, [CVE]);
    assert_eq!(emergency.assets, ["web-1", "web-2"]);
    assert_eq!(
        emergency.findings.iter().copied().collect::<BTreeSet<_>>(),
        affected
    );
    assert_eq!(emergency.source_event, kev.id);
    let timers: Vec<(EmergencyStage, TimeDelta)> = emergency
        .timers
        .iter()
        .map(|t| (t.stage, t.due_at - emergency.declared_at))
        .collect();
    assert_eq!(
        timers,
        [
            (EmergencyStage::Assess, TimeDelta::hours(4)),
            (EmergencyStage::TestRing, TimeDelta::hours(24)),
            (EmergencyStage::Production, TimeDelta::hours(72)),
        ]
    );
    assert!(escalated(&events).is_empty());

    // Kill every service (all six processes), set the injected clock to
    // reach the assess deadline LEAD_SECS after now, start them again.
    assert_eq!(first.len(), SERVICES.len());
    for p in &first {
        p.signal("KILL");
    }
    for p in &mut first {
        assert!(!p.wait(Duration::from_secs(10)).success());
    }
    let assess_due = emergency.declared_at + TimeDelta::hours(4);
    let offset_secs = (assess_due - Utc::now()).num_seconds() - LEAD_SECS;
    assert!(offset_secs > 3 * 3600, "the first round took too long");
    std::fs::write(
        lab.path("patchflow.toml"),
        format!("[clock]\noffset_secs = {offset_secs}\n"),
    )
    .unwrap();
    let injected_now = || Utc::now() + TimeDelta::seconds(offset_secs);
    assert!(injected_now() < assess_due);
    let second = start_all(&lab, 2);
    assert_eq!(second.len(), SERVICES.len());

    // The new prioritize ticks once the killed one's lease has lapsed (15 s).
    lab.log
        .wait_for(
            "the assess escalation",
            Duration::from_secs(LEAD_SECS as u64 + 90),
            |e| !escalated(e).is_empty(),
        )
        .await;
    // Not early: it arrived when the injected clock had reached the deadline.
    let arrived = injected_now();
    assert!(arrived >= assess_due, "arrived {arrived}, due {assess_due}");
    // A few more ticks: nothing escalates twice, the later stages not yet.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let events = lab.log.events();
    let x = escalated(&events);
    assert_eq!(x.len(), 1, "{x:#?}");
    let x = x[0];
    assert_eq!(x.emergency_id, emergency.emergency_id);
    assert_eq!(x.stage, EmergencyStage::Assess);
    assert_eq!(x.due_at, assess_due);
    // On time: stamped at the deadline or within a few ticks after it.
    assert!(x.escalated_at >= x.due_at, "{x:?}");
    assert!(
        x.escalated_at <= x.due_at + TimeDelta::seconds(ON_TIME_SECS),
        "{x:?}"
    );
    let event_time = events
        .iter()
        .find(|e| matches!(&e.data, Payload::EmergencyEscalated(_)))
        .map(|e| e.time);
    assert_eq!(event_time, Some(x.escalated_at));
    assert_eq!(
        x.reason,
        "assess: 2 of 2 affected findings are in no planned bundle and are not resolved"
    );
    assert_eq!(tests::count(&events, "patch.emergency.progressed.v1"), 0);
    // Still exactly one declaration and two deltas: the restart replayed nothing.
    assert_eq!(declared(&events).len(), 1);
    assert_eq!(deltas(&events).len(), 2);
    drop(second);
}

/// An advisory stating exploitation in the wild (no KEV entry) raises the
/// open findings of its CVE to critical with a delta naming the advisory
/// (`source: advisory`, rule `exploited_advisory`) and declares an
/// emergency; an advisory stating none changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exploited_advisory_raises_and_declares() {
    const ADVISORY_CVE: &str = "CVE-2099-42000";
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let _prioritize = lab.spawn("prioritize-1", &["serve", "prioritize"]);
    let scan = Uuid::now_v7();
    let inputs = vec![
        observed("web-1", "900003", ADVISORY_CVE, scan),
        observed("db-1", "900004", OTHER_CVE, scan),
    ];
    lab.bus.publish_all(&inputs).await.unwrap();
    let Payload::FindingObserved(hit) = &inputs[0].data else {
        unreachable!("built as an observation")
    };
    lab.log
        .wait_for("two medium decisions", Duration::from_secs(60), |e| {
            prioritized(e).len() >= 2
        })
        .await;
    let advisory = |id: &str, exploited: bool| {
        Event::new(
            Uuid::now_v7(),
            Service::Ingest,
            Utc::now(),
            AdvisoryPublished {
                format: AdvisoryFormat::Csaf,
                id: id.to_owned(),
                revision: Some("1".to_owned()),
                title: None,
                aliases: vec![ADVISORY_CVE.to_owned()],
                published: Some(Utc::now()),
                modified: None,
                withdrawn: false,
                exploited,
                severity: None,
                cvss: vec![],
                affected: vec![],
            },
        )
    };
    let quiet = advisory("RHSA-2099:0001", false);
    let loud = advisory("RHSA-2099:0002", true);
    lab.bus.publish_all(&[quiet, loud.clone()]).await.unwrap();
    let events = lab
        .log
        .wait_for(
            "a critical delta and the declaration",
            Duration::from_secs(60),
            |e| !deltas(e).is_empty() && !declared(e).is_empty(),
        )
        .await;
    let d = deltas(&events);
    assert_eq!(d.len(), 1, "{d:#?}");
    let p = d[0];
    assert_eq!(p.finding_id, hit.finding_id);
    assert_eq!(p.priority, Priority::Critical);
    assert_eq!(p.due_at, p.first_observed_at + TimeDelta::hours(72));
    let DecisionTrigger::Intel { source, detail } = &p.trigger else {
        unreachable!("filtered on intel triggers")
    };
    assert_eq!(source, "advisory");
    assert!(detail.contains("RHSA-2099:0002"), "{detail}");
    assert!(
        p.reasons
            .iter()
            .any(|r| r.rule == "exploited_advisory" && r.detail.contains("RHSA-2099:0002")),
        "{:?}",
        p.reasons
    );
    assert_eq!(
        p.inputs
            .exploited_advisory
            .as_ref()
            .map(|a| a.advisory_id.as_str()),
        Some("RHSA-2099:0002")
    );
    assert_eq!(
        p.previous.as_ref().map(|x| x.priority),
        Some(Priority::Medium)
    );
    let dec = declared(&events);
    assert_eq!(dec.len(), 1, "{dec:#?}");
    assert_eq!(dec[0].cves, [ADVISORY_CVE]);
    assert_eq!(dec[0].assets, ["web-1"]);
    assert_eq!(dec[0].source_event, loud.id);
}

fn decisions_of(events: &[Event], finding: Uuid) -> Vec<FindingPrioritized> {
    prioritized(events)
        .into_iter()
        .filter(|p| p.finding_id == finding)
        .cloned()
        .collect()
}

/// The exception id `patchflow exception add` printed.
fn granted_id(stdout: &str) -> Uuid {
    stdout
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exception id in {stdout:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_mark_decisions_and_their_end_restores_the_original_clock() {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let first = lab.spawn("prioritize-1", &["serve", "prioritize"]);
    let cve = "CVE-2099-42000";
    let input = observed("app-1", "900003", cve, Uuid::now_v7());
    let Payload::FindingObserved(f) = &input.data else {
        unreachable!("an observation")
    };
    let finding = f.finding_id;
    lab.bus.publish(&input).await.unwrap();
    let events = lab
        .log
        .wait_for("the first decision", Duration::from_secs(60), |e| {
            !decisions_of(e, finding).is_empty()
        })
        .await;
    let original = decisions_of(&events, finding)[0].clone();
    assert_eq!(original.exception_id, None);

    // A finding exception, then its revocation.
    let (status, out, err) = lab.run(&[
        "exception",
        "add",
        &finding.to_string(),
        "--owner",
        "app team",
        "--reason",
        "compensating control",
        "--expires",
        "+30d",
    ]);
    assert!(status.success(), "{out}{err}");
    let by_finding = granted_id(&out);
    let events = lab
        .log
        .wait_for("the excepted decision", Duration::from_secs(30), |e| {
            decisions_of(e, finding).len() >= 2
        })
        .await;
    let marked = decisions_of(&events, finding)[1].clone();
    assert_eq!(marked.exception_id, Some(by_finding));
    assert_eq!(
        marked.trigger,
        DecisionTrigger::Exception {
            exception_id: by_finding
        }
    );
    assert_eq!(
        (marked.priority, marked.due_at),
        (original.priority, original.due_at)
    );
    let (status, out, err) = lab.run(&[
        "exception",
        "revoke",
        &by_finding.to_string(),
        "--reason",
        "control removed",
    ]);
    assert!(status.success(), "{out}{err}");
    let events = lab
        .log
        .wait_for(
            "the decision without exception",
            Duration::from_secs(30),
            |e| decisions_of(e, finding).len() >= 3,
        )
        .await;
    let back = decisions_of(&events, finding)[2].clone();
    assert_eq!(back.exception_id, None);
    assert_eq!(back.due_at, original.due_at);
    // A second revocation is refused: it already ended.
    let (status, _, err) = lab.run(&[
        "exception",
        "revoke",
        &by_finding.to_string(),
        "--reason",
        "again",
    ]);
    assert!(!status.success());
    assert!(err.contains("already ended: revoked at"), "{err}");

    // A CVE exception for 2 hours; every service restarts 3 hours later.
    let (status, out, err) = lab.run(&[
        "exception",
        "add",
        &cve.to_ascii_lowercase(),
        "--owner",
        "app team",
        "--reason",
        "vendor fix pending",
        "--expires",
        "+2h",
    ]);
    assert!(status.success(), "{out}{err}");
    let by_cve = granted_id(&out);
    lab.log
        .wait_for("the CVE-excepted decision", Duration::from_secs(30), |e| {
            decisions_of(e, finding)
                .last()
                .is_some_and(|p| p.exception_id == Some(by_cve))
        })
        .await;
    first.signal("KILL");
    drop(first);
    // As if the kill had come between the excepted decision's publish and
    // its record's save: the stored record does not know the exception.
    // The expiry must still publish the decision without it (the stream's
    // last word), not compare with the record and find nothing to say.
    {
        let state = lab.bus.state(Service::Prioritize).await.unwrap();
        let key = format!("finding.{finding}");
        let stored = state.load::<serde_json::Value>(&key).await.unwrap();
        let mut record = stored.value.expect("the finding's record");
        // (The kill may itself have come before the save: then the record
        // is already in that state.)
        let removed = record
            .as_object_mut()
            .expect("a record object")
            .remove("exception_id");
        if let Some(id) = removed {
            assert_eq!(id, serde_json::json!(by_cve.to_string()));
            state.save(&key, &record, stored.revision).await.unwrap();
        }
    }
    std::fs::write(
        lab.path("patchflow.toml"),
        format!("[clock]\noffset_secs = {}\n", 3 * 3600),
    )
    .unwrap();
    let _second = lab.spawn("prioritize-2", &["serve", "prioritize"]);
    let events = lab
        .log
        .wait_for("the expiry", Duration::from_secs(90), |e| {
            tests::count(e, "patch.exception.expired.v1") >= 1
                && decisions_of(e, finding)
                    .last()
                    .is_some_and(|p| p.exception_id.is_none())
        })
        .await;
    let expired: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::ExceptionExpired(x) => Some(x.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].exception_id, by_cve);
    let last = decisions_of(&events, finding).last().cloned().unwrap();
    assert_eq!(
        last.trigger,
        DecisionTrigger::Exception {
            exception_id: by_cve
        }
    );
    // Back with its original clock.
    assert_eq!(last.first_observed_at, original.first_observed_at);
    assert_eq!(last.due_at, original.due_at);

    // Every exception's life is an event on the bus (what the report's
    // hash-chained audit trail records): two grants with owner and reason,
    // one revocation, one expiry, each once.
    let granted: Vec<(Uuid, String, String)> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::ExceptionGranted(g) => {
                Some((g.exception_id, g.owner.clone(), g.reason.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        granted,
        [
            (
                by_finding,
                "app team".to_owned(),
                "compensating control".to_owned()
            ),
            (
                by_cve,
                "app team".to_owned(),
                "vendor fix pending".to_owned()
            ),
        ]
    );
    let revoked: Vec<(Uuid, String)> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::ExceptionRevoked(r) => Some((r.exception_id, r.reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(revoked, [(by_finding, "control removed".to_owned())]);
}

/// Stores `body` in the reports bucket and publishes its
/// `patch.bulletin.catalog_loaded`, as ingest's feed loader does.
async fn load_catalog(lab: &Lab, kind: events::CatalogKind, name: &str, body: &str, version: &str) {
    let stored = lab
        .bus
        .reports()
        .await
        .unwrap()
        .put(name, &mut body.as_bytes())
        .await
        .unwrap();
    let event = Event::new(
        Uuid::now_v7(),
        Service::Ingest,
        Utc::now(),
        events::CatalogLoaded {
            kind,
            object: name.to_owned(),
            digest: stored.digest,
            version: version.to_owned(),
            entries: 1,
            source: format!("test/{name}"),
            warnings: vec![],
        },
    );
    lab.bus.publish(&event).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogs_from_the_bus_reprioritize_and_are_restored_after_a_restart() {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let first = lab.spawn("prioritize-1", &["serve", "prioritize"]);
    let (kev_cve, epss_cve) = ("CVE-2099-43000", "CVE-2099-43001");
    let scan = Uuid::now_v7();
    let inputs = [
        observed("app-1", "900004", kev_cve, scan),
        observed("app-1", "900005", epss_cve, scan),
    ];
    let ids: Vec<Uuid> = inputs
        .iter()
        .filter_map(|e| match &e.data {
            Payload::FindingObserved(f) => Some(f.finding_id),
            _ => None,
        })
        .collect();
    lab.bus.publish_all(&inputs).await.unwrap();
    lab.log
        .wait_for("two medium decisions", Duration::from_secs(60), |e| {
            prioritized(e).len() >= 2
        })
        .await;

    let kev = r#"{"catalogVersion":"2099.01.02","dateReleased":"2099-01-02T00:00:00.000Z","count":1,
      "vulnerabilities":[{"cveID":"CVE-2099-43000","vendorProject":"Example","product":"App",
      "vulnerabilityName":"Example App RCE","dateAdded":"2099-01-02","shortDescription":"",
      "requiredAction":"Patch.","dueDate":"2099-01-23","knownRansomwareCampaignUse":"Unknown",
      "notes":"","cwes":[]}]}"#;
    load_catalog(
        &lab,
        events::CatalogKind::Kev,
        "feed-kev-test",
        kev,
        "2099.01.02",
    )
    .await;
    let epss = "#model_version:v2025.03.14,score_date:2099-01-02T00:00:00+0000\n\
                cve,epss,percentile\nCVE-2099-43001,0.5,0.99\n";
    load_catalog(
        &lab,
        events::CatalogKind::Epss,
        "feed-epss-test",
        epss,
        "v2025.03.14@2099-01-02T00:00:00Z",
    )
    .await;
    let events = lab
        .log
        .wait_for("a KEV and an EPSS delta", Duration::from_secs(60), |e| {
            deltas(e).len() >= 2
        })
        .await;
    let by_finding = |id: Uuid| {
        deltas(&events)
            .into_iter()
            .find(|p| p.finding_id == id)
            .cloned()
            .unwrap_or_else(|| panic!("no delta for {id}"))
    };
    let k = by_finding(ids[0]);
    assert_eq!(k.priority, Priority::Critical);
    let DecisionTrigger::Intel { source, detail } = &k.trigger else {
        panic!("{:?}", k.trigger)
    };
    assert_eq!(source, "kev");
    assert!(
        detail.contains("CVE-2099-43000 added to the CISA KEV catalog 2099.01.02"),
        "{detail}"
    );
    let e = by_finding(ids[1]);
    assert_eq!(e.priority, Priority::High);
    let DecisionTrigger::Intel { source, detail } = &e.trigger else {
        panic!("{:?}", e.trigger)
    };
    assert_eq!(source, "epss");
    assert!(
        detail.contains("rose from not scored to 0.5, crossing 0.1"),
        "{detail}"
    );
    assert_eq!(
        e.previous.as_ref().map(|p| p.priority),
        Some(Priority::Medium)
    );
    // A loaded catalog is the baseline, not news: no emergency.
    assert!(declared(&events).is_empty());

    // Restart: the tables come back from the object store, so a new finding
    // of the KEV CVE is critical at once.
    first.signal("KILL");
    drop(first);
    let _second = lab.spawn("prioritize-2", &["serve", "prioritize"]);
    let later = observed("app-2", "900004", kev_cve, Uuid::now_v7());
    let Payload::FindingObserved(f) = &later.data else {
        unreachable!("an observation")
    };
    let later_id = f.finding_id;
    lab.bus.publish(&later).await.unwrap();
    let events = lab
        .log
        .wait_for("the new finding's decision", Duration::from_secs(60), |e| {
            prioritized(e).iter().any(|p| p.finding_id == later_id)
        })
        .await;
    let p = prioritized(&events)
        .into_iter()
        .find(|p| p.finding_id == later_id)
        .cloned()
        .unwrap();
    assert_eq!(p.priority, Priority::Critical);
    assert_eq!(
        p.inputs.kev.as_ref().map(|k| k.catalog_version.as_str()),
        Some("2099.01.02")
    );
}
