//! Bad input: a broken report is rejected with a reason and publishes no
//! finding while the next good one flows; messages that can never succeed
//! reach `patch.deadletter.<service>` with their reason.

use std::time::Duration;

use chrono::Utc;
use events::{Event, Payload, Service, subject::tail};
use tests::Lab;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_report_is_rejected_and_the_next_good_one_flows() {
    let Some(corpus) = testkit::corpus() else {
        return;
    };
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let _ingest = lab.spawn("ingest", &["serve", "ingest"]);

    let whole = std::fs::read(corpus.join("nessus/defectdojo__nessus_v_unknown.xml")).unwrap();
    let truncated = lab.path("truncated.nessus");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let (status, out, err) = lab.run(&["scan", "submit", "--wait", truncated.to_str().unwrap()]);
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert!(
        out.contains("rejected: truncated report: input ended at byte"),
        "{out}"
    );

    let good = corpus.join("nessus/libnessus__nessus_report_local_3.nessus");
    let (status, out, err) = lab.run(&["scan", "submit", "--wait", good.to_str().unwrap()]);
    assert!(status.success(), "{out}{err}");
    assert!(out.contains("completed: 3 hosts"), "{out}");

    let events = lab
        .log
        .wait_for("the good report's findings", WAIT, |e| {
            e.iter()
                .any(|e| matches!(e.data, Payload::ScanCompleted(_)))
        })
        .await;
    let rejected: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::ScanRejected(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].file_name, "truncated.nessus");
    // Later, without --wait: `scan status` tells what became of each scan.
    let id = rejected[0].scan_id.to_string();
    let (status, out, err) = lab.run(&["scan", "status", &id]);
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert!(
        out.starts_with("rejected: truncated report: input ended at byte"),
        "{out}"
    );
    let unknown = uuid::Uuid::from_u128(42).to_string();
    let (status, out, err) = lab.run(&["scan", "status", &unknown]);
    assert_eq!(status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains(&format!("no scan {unknown} was submitted")),
        "{err}"
    );
    let from_rejected = events.iter().filter(|e| match &e.data {
        Payload::FindingObserved(f) => f.scan_id == rejected[0].scan_id,
        Payload::AssetUpserted(a) => a.scan_id == Some(rejected[0].scan_id),
        _ => false,
    });
    assert_eq!(
        from_rejected.count(),
        0,
        "a rejected report published something"
    );
    let completed = events
        .iter()
        .find_map(|e| match &e.data {
            Payload::ScanCompleted(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    let observed = events
        .iter()
        .filter(
            |e| matches!(&e.data, Payload::FindingObserved(f) if f.scan_id == completed.scan_id),
        )
        .count() as u64;
    assert!(observed > 0);
    assert_eq!(observed, completed.findings);
    // .100 reports the netbios name MIKE-MACBOOK, which wins over its address.
    assert_eq!(
        completed.hosts,
        ["192.168.2.104", "192.168.2.101", "mike-macbook"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_can_never_succeed_are_dead_lettered_with_the_reason() {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let _prioritize = lab.spawn("prioritize", &["serve", "prioritize"]);

    async_nats_publish(&lab, b"\x00\xffnot an event".to_vec()).await;
    // A valid envelope whose data does not fit the declared type.
    let mut wrong = serde_json::to_value(Event::new(
        uuid::Uuid::now_v7(),
        Service::Ingest,
        Utc::now(),
        events::ScanRejected {
            scan_id: uuid::Uuid::nil(),
            object: "o".into(),
            file_name: "f".into(),
            format: None,
            reason: "r".into(),
        },
    ))
    .unwrap();
    wrong["type"] = "patch.finding.observed.v1".into();
    async_nats_publish(&lab, serde_json::to_vec(&wrong).unwrap()).await;

    let events = lab
        .log
        .wait_for("two dead letters", WAIT, |e| {
            e.iter()
                .filter(|e| matches!(e.data, Payload::DeadLettered(_)))
                .count()
                >= 2
        })
        .await;
    let letters: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::DeadLettered(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert!(letters.iter().all(|d| d.service == Service::Prioritize));
    assert!(
        letters
            .iter()
            .all(|d| d.subject == lab.ns.subject(tail::FINDING_OBSERVED))
    );
    let binary = letters
        .iter()
        .find(|d| d.payload_base64.is_some())
        .expect("the binary message kept as base64");
    assert!(
        binary.reason.starts_with("undecodable envelope"),
        "{}",
        binary.reason
    );
    let mismatched = letters
        .iter()
        .find(|d| d.payload_text.is_some())
        .expect("the mismatched message kept as text");
    assert!(
        mismatched
            .reason
            .starts_with("data does not match patch.finding.observed.v1"),
        "{}",
        mismatched.reason
    );
    // The dead-letter stream keeps them; report shows them.
    let (status, out, err) = lab.run(&["report", "dead-letters"]);
    assert!(status.success(), "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

/// Publishes raw bytes on the namespace's `finding.observed` subject.
async fn async_nats_publish(lab: &Lab, payload: Vec<u8>) {
    let subject = lab.ns.subject(tail::FINDING_OBSERVED);
    lab.bus.publish_raw(&subject, payload).await.unwrap();
}
