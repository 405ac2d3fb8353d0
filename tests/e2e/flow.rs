//! The walking skeleton's main acceptance: a real Nessus report through every
//! service to lab agents in four rings, the compliance table and an audit
//! trail from separate processes, every event valid against its schema, and
//! the report projection rebuilt from the streams.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{Payload, Priority, Severity};
use tests::{Lab, count, settled};

use crate::common::{FLOW_TIMEOUT, V_UNKNOWN_HOSTS, health_endpoint, v_unknown, write_lab};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_scan_flows_through_every_service_to_the_compliance_report() {
    let Some(report) = v_unknown() else { return };
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    write_lab(&lab, V_UNKNOWN_HOSTS, &health_endpoint().await);
    let mut up = lab.spawn("up", &["up"]);

    let (status, stdout, stderr) = lab.run(&[
        "scan",
        "submit",
        "--wait",
        report.to_str().expect("utf-8 path"),
    ]);
    assert!(status.success(), "{stdout}{stderr}\n{}", up.log_text());
    assert!(
        stdout.contains("completed: 7 hosts, 30 findings, 266 informational items"),
        "{stdout}"
    );
    let events = lab
        .log
        .wait_for("every bundle to finish", FLOW_TIMEOUT, |e| {
            settled(e) && count(e, "patch.finding.prioritized.v1") >= 30
        })
        .await;

    // Ingest: 7 hosts, 30 findings (7 low, 23 medium), 266 info facts.
    let completed: Vec<_> = lab.log.payloads(|p| match p {
        Payload::ScanCompleted(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].hosts.len(), 7);
    assert_eq!((completed[0].findings, completed[0].info_facts), (30, 266));
    let observed: Vec<_> = lab.log.payloads(|p| match p {
        Payload::FindingObserved(f) => Some(f.clone()),
        _ => None,
    });
    assert_eq!(observed.len(), 30);
    let low = observed
        .iter()
        .filter(|f| f.severity == Severity::Low)
        .count();
    let medium = observed
        .iter()
        .filter(|f| f.severity == Severity::Medium)
        .count();
    assert_eq!((low, medium), (7, 23));
    let facts: usize = lab
        .log
        .payloads(|p| match p {
            Payload::AssetUpserted(a) => Some(a.facts.len()),
            _ => None,
        })
        .iter()
        .sum();
    assert_eq!(facts, 266);

    // Prioritize: every finding has a priority and a due_at after its first observation.
    let prioritized: Vec<_> = lab.log.payloads(|p| match p {
        Payload::FindingPrioritized(f) => Some(f.clone()),
        _ => None,
    });
    assert_eq!(prioritized.len(), 30);
    let ids: BTreeSet<_> = prioritized.iter().map(|p| p.finding_id).collect();
    assert_eq!(ids, observed.iter().map(|f| f.finding_id).collect());
    for p in &prioritized {
        assert!(p.due_at > p.first_observed_at, "{p:?}");
        assert!(!p.reasons.is_empty(), "{p:?}");
    }

    // Schedule and deploy: bundles released ring by ring, in order.
    let ring_order = ["dev", "test", "staging", "prod"];
    let planned: Vec<_> = lab.log.payloads(|p| match p {
        Payload::BundlePlanned(b) => Some(b.clone()),
        _ => None,
    });
    assert!(!planned.is_empty());
    for bundle in &planned {
        let scheduled: Vec<String> = lab.log.payloads(|p| match p {
            Payload::BundleScheduled(s) if s.bundle_id == bundle.bundle_id => Some(s.ring.clone()),
            _ => None,
        });
        let expected: Vec<String> = ring_order
            .iter()
            .filter(|r| bundle.targets.iter().any(|t| t.ring == **r))
            .map(|r| (*r).to_owned())
            .collect();
        assert_eq!(scheduled, expected, "bundle {} rings", bundle.bundle_id);
        assert_eq!(
            count_for(&events, bundle.bundle_id, "patch.bundle.completed.v1"),
            1
        );
    }
    let passed = count(&events, "patch.validation.passed.v1");
    assert!(passed >= planned.len() * 4, "{passed} verdicts");

    // The lab agents' state files changed: every host applied its remediations.
    for (host, _, _) in V_UNKNOWN_HOSTS {
        let state = agent::LabState::load(&lab.path(&format!("agents/{host}.json"))).unwrap();
        let wanted: BTreeSet<String> = observed
            .iter()
            .filter(|f| f.asset.asset_id == *host)
            .map(|f| f.remediation.key())
            .collect();
        let applied: BTreeSet<String> = state.applied.iter().map(|a| a.key.clone()).collect();
        assert!(!wanted.is_empty());
        assert_eq!(applied, wanted, "{host}");
    }

    // Report, as a separate process: rows match the findings at an instant.
    let as_of: DateTime<Utc> = "2013-08-15T00:00:00Z".parse().unwrap();
    let (status, json, stderr) = lab.run(&[
        "report",
        "compliance",
        "--json",
        "--as-of",
        "2013-08-15T00:00:00Z",
    ]);
    assert!(status.success(), "{stderr}");
    let table: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = table["hosts"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    for row in rows {
        let host = row["asset_id"].as_str().unwrap();
        let mine: Vec<_> = prioritized
            .iter()
            .filter(|p| p.asset.asset_id == host)
            .collect();
        let overdue = mine.iter().filter(|p| p.due_at < as_of).count();
        assert_eq!(row["open"], mine.len(), "{host}");
        assert_eq!(row["overdue"], overdue, "{host}");
        let status = if overdue > 0 {
            "NON_COMPLIANT"
        } else {
            "COMPLIANT"
        };
        assert_eq!(row["status"], status, "{host}");
    }
    // The findings listing agrees: the overdue ones are exactly the findings
    // whose latest decision is due before the instant, and a host's table
    // has a row per open finding of that host.
    let (status, json, stderr) = lab.run(&[
        "report",
        "findings",
        "--overdue",
        "--json",
        "--as-of",
        "2013-08-15T00:00:00Z",
    ]);
    assert!(status.success(), "{stderr}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let got: BTreeSet<String> = listed
        .iter()
        .map(|r| r["finding_id"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = prioritized
        .iter()
        .filter(|p| p.due_at < as_of)
        .map(|p| p.finding_id.to_string())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert!(listed.iter().all(|r| r["state"] == "overdue"), "{json}");
    let host = rows[0]["asset_id"].as_str().unwrap();
    let (status, text, stderr) = lab.run(&[
        "report",
        "findings",
        "--host",
        host,
        "--as-of",
        "2013-08-15T00:00:00Z",
    ]);
    assert!(status.success(), "{stderr}");
    let mine = prioritized
        .iter()
        .filter(|p| p.asset.asset_id == host)
        .count();
    assert_eq!(text.lines().count(), mine + 2, "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with(&format!("{mine} open finding")),
        "{text}"
    );
    // Medium (30 d) findings first seen 2013-07-01 are overdue by mid August;
    // low (90 d) ones are not.
    assert!(
        prioritized
            .iter()
            .any(|p| p.priority == Priority::Medium && p.due_at < as_of)
    );

    // One bundle's audit trail, as a separate process, in order.
    let bundle = &planned[0];
    let (status, json, stderr) =
        lab.run(&["report", "audit", &bundle.bundle_id.to_string(), "--json"]);
    assert!(status.success(), "{stderr}");
    let trail: serde_json::Value = serde_json::from_str(&json).unwrap();
    let trail = trail.as_array().unwrap();
    let types: Vec<&str> = trail
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"patch.bundle.planned.v1"));
    assert_eq!(types.last(), Some(&"patch.bundle.completed.v1"));
    let bundle_events = events
        .iter()
        .filter(|e| e.data.bundle_id() == Some(bundle.bundle_id))
        .count();
    assert_eq!(trail.len(), bundle_events);
    let times: Vec<&str> = trail.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let rings: Vec<&str> = trail
        .iter()
        .filter(|e| e["event_type"] == "patch.bundle.scheduled.v1")
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    for (i, ring) in ring_order.iter().enumerate() {
        assert!(rings[i].contains(&format!("ring {ring} ")), "{rings:?}");
    }

    // Every event validates against its schema in schemas/.
    crate::schemas::assert_valid(&lab.log.all());

    // SIGTERM drains and exits 0.
    up.signal("TERM");
    assert!(
        up.wait(Duration::from_secs(30)).success(),
        "{}",
        up.log_text()
    );

    // Rebuild: delete the projection, restart report, same table.
    let table_before = compliance_text(&lab, &["--no-sync"]);
    let db = lab.path("data/report.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut report = lab.spawn("report", &["serve", "report"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if db.exists() && compliance_text(&lab, &["--no-sync"]) == table_before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rebuilt projection differs:\n{}\nvs\n{}\n{}",
            compliance_text(&lab, &["--no-sync"]),
            table_before,
            report.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    report.signal("TERM");
    assert!(report.wait(Duration::from_secs(30)).success());
}

fn count_for(events: &[events::Event], bundle: uuid::Uuid, event_type: &str) -> usize {
    events
        .iter()
        .filter(|e| e.event_type() == event_type && e.data.bundle_id() == Some(bundle))
        .count()
}

fn compliance_text(lab: &Lab, extra: &[&str]) -> String {
    let mut args = vec!["report", "compliance", "--as-of", "2013-08-15"];
    args.extend_from_slice(extra);
    let (status, out, err) = lab.run(&args);
    assert!(
        status.success() || err.contains("no report projection"),
        "{err}"
    );
    out
}
