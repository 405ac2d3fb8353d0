//! Restart: a `patchflow serve prioritize` process SIGKILLed after k of N
//! outputs and started again leaves exactly N prioritized events, with the N
//! expected (derived) ids: nothing lost, nothing doubled.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use events::{
    Asset, Check, CvssVector, CvssVersion, Event, FindingObserved, Payload, Remediation, Service,
    Severity, derive_id,
};
use tests::Lab;
use uuid::Uuid;

const N: usize = 1500;

fn observed(i: usize, scan: Uuid) -> Event {
    let host = format!("host{:02}", i % 40);
    let fingerprint = format!("nessus:v1:{host}:{}:443/tcp", 100_000 + i);
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
                asset_id: host,
                ..Asset::default()
            },
            check: Check {
                scanner: "nessus".into(),
                id: (100_000 + i).to_string(),
                name: "synthetic check".into(),
                family: None,
            },
            port: 443,
            protocol: "tcp".into(),
            service: Some("www".into()),
            severity: Severity::High,
            cves: vec![format!("CVE-2000-{:05}", 90_000 + i)],
            cwes: vec![],
            cvss: vec![CvssVector {
                version: CvssVersion::V3_1,
                vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N".into(),
                reported_score: Some(9.1),
                source: "nessus".into(),
            }],
            remediation: Remediation::Solution {
                scanner: "nessus".into(),
                check_id: (100_000 + i).to_string(),
                text: "Upgrade.".into(),
            },
            observed_at: now,
            first_observed_at: now,
            package: None,
            fix_state: None,
            reopened: false,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_prioritize_loses_and_doubles_nothing() {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let scan = Uuid::now_v7();
    let inputs: Vec<Event> = (0..N).map(|i| observed(i, scan)).collect();
    lab.bus.publish_all(&inputs).await.unwrap();
    let expected: BTreeSet<Uuid> = inputs
        .iter()
        .map(|e| derive_id(e.id, "prioritize", "prioritized"))
        .collect();
    let prioritized = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e.data, Payload::FindingPrioritized(_)))
            .count()
    };

    let mut first = lab.spawn("prioritize-1", &["serve", "prioritize"]);
    lab.log
        .wait_for("some outputs", Duration::from_secs(60), |e| {
            prioritized(e) >= 50
        })
        .await;
    first.signal("KILL");
    first.wait(Duration::from_secs(10));
    // Let the log catch up with what the killed process had published.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let k = prioritized(&lab.log.events());
    assert!(
        k > 0 && k < N,
        "killed after {k} of {N} outputs: the test needs 0 < k < N"
    );

    let _second = lab.spawn("prioritize-2", &["serve", "prioritize"]);
    lab.log
        .wait_for("all N outputs", Duration::from_secs(120), |e| {
            prioritized(e) >= N
        })
        .await;
    // Anything redelivered after the restart must have been dropped as a duplicate.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ids: Vec<Uuid> = lab
        .log
        .events()
        .iter()
        .filter(|e| matches!(e.data, Payload::FindingPrioritized(_)))
        .map(|e| e.id)
        .collect();
    assert_eq!(
        ids.len(),
        N,
        "the prioritized stream holds {} events",
        ids.len()
    );
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), expected);
}
