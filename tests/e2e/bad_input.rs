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
    assert_eq!(status.code(), Some(4), "{out}{err}");
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
    assert_eq!(status.code(), Some(4), "{out}{err}");
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

/// A host name far longer than any real one (5,000 characters) once made
/// a subject and a KV key over the NATS protocol's 4,096-byte line limit,
/// which drops the whole connection: its report never finished and every
/// later scan waited behind it. Subject tokens and key parts are bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_with_a_huge_host_name_flows_and_so_does_the_next() {
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").unwrap();
    let _ingest = lab.spawn("ingest", &["serve", "ingest"]);

    let report = |name: &str| {
        format!(
            r#"<?xml version="1.0" ?>
<NessusClientData_v2><Report name="r"><ReportHost name="{name}"><HostProperties>
<tag name="HOST_END">Mon Nov 30 02:00:00 2026</tag></HostProperties>
<ReportItem port="22" svc_name="ssh" protocol="tcp" severity="2" pluginID="10881" pluginName="SSH weak" pluginFamily="General">
<cve>CVE-2024-6387</cve></ReportItem>
</ReportHost></Report></NessusClientData_v2>
"#
        )
    };
    // Submitted, then asked after with a deadline: a stuck scan fails the
    // test instead of hanging it.
    let ingested = |file: &std::path::Path| {
        let (status, out, err) = lab.run(&["scan", "submit", file.to_str().unwrap()]);
        assert!(status.success(), "{out}{err}");
        let id = out
            .split_whitespace()
            .nth(2)
            .expect("submitted scan <id> (file)")
            .to_owned();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let (status, out, err) = lab.run(&["scan", "status", &id]);
            if status.code() != Some(3) {
                assert!(status.success(), "{out}{err}");
                return out;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "scan {id} not ingested within {WAIT:?}: {out}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    let huge = lab.path("huge-host.nessus");
    std::fs::write(&huge, report(&"h".repeat(5000))).unwrap();
    let out = ingested(&huge);
    assert!(out.contains("completed: 1 host"), "{out}");

    let next = lab.path("next.nessus");
    std::fs::write(&next, report("web-01")).unwrap();
    let out = ingested(&next);
    assert!(out.contains("completed: 1 host"), "{out}");

    let events = lab
        .log
        .wait_for("both reports' findings", WAIT, |e| {
            e.iter()
                .filter(|e| matches!(e.data, Payload::FindingObserved(_)))
                .count()
                >= 2
        })
        .await;
    let huge_name = "h".repeat(5000);
    let full_name_kept = events.iter().any(|e| match &e.data {
        Payload::FindingObserved(f) => serde_json::to_string(&f.asset)
            .unwrap()
            .contains(&huge_name),
        _ => false,
    });
    assert!(full_name_kept, "the finding keeps the full host name");
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
