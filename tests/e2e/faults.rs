//! Faults: a nats-server restart in the middle of a flow loses nothing, and
//! SIGTERM to `patchflow up` drains, exits 0 and loses no acknowledged work.

use std::collections::BTreeSet;
use std::time::Duration;

use events::{Event, Payload};
use tests::{Lab, count, settled};

use crate::common::{FLOW_TIMEOUT, V_UNKNOWN_HOSTS, health_endpoint, v_unknown, write_lab};

/// The flow is over: every bundle settled, and the scan's and findings'
/// events (on other streams) have all arrived in the log.
fn complete(events: &[Event]) -> bool {
    settled(events)
        && count(events, "patch.scan.completed.v1") >= 1
        && count(events, "patch.finding.observed.v1") >= 30
        && count(events, "patch.finding.prioritized.v1") >= 30
}

/// The flow's exact totals: 30 distinct findings observed and prioritized
/// once each, every bundle completed.
fn assert_exact(events: &[Event]) {
    let observed: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::FindingObserved(f) => Some(f.finding_id),
            _ => None,
        })
        .collect();
    assert_eq!(observed.len(), 30, "observed events");
    assert_eq!(observed.iter().collect::<BTreeSet<_>>().len(), 30);
    assert_eq!(count(events, "patch.finding.prioritized.v1"), 30);
    assert_eq!(count(events, "patch.scan.completed.v1"), 1);
    let planned = count(events, "patch.bundle.planned.v1");
    assert!(planned > 0);
    assert_eq!(count(events, "patch.bundle.completed.v1"), planned);
    let ids: BTreeSet<_> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), events.len(), "an event id was stored twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_survives_a_nats_server_restart() {
    let Some(report) = v_unknown() else { return };
    let mut server = testkit::NatsServer::start();
    let lab = Lab::on(&server.url()).await;
    write_lab(&lab, V_UNKNOWN_HOSTS, &health_endpoint().await);
    let up = lab.spawn("up", &["up"]);
    let (status, out, err) = lab.run(&["scan", "submit", report.to_str().unwrap()]);
    assert!(status.success(), "{out}{err}");
    lab.log
        .wait_for("the flow to be under way", FLOW_TIMEOUT, |e| {
            count(e, "patch.finding.prioritized.v1") > 0
        })
        .await;
    server.restart();
    let events = lab
        .log
        .wait_for("the whole flow", FLOW_TIMEOUT, complete)
        .await;
    assert_exact(&events);
    drop(up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_a_restart_finishes_the_flow() {
    let Some(report) = v_unknown() else { return };
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    write_lab(&lab, V_UNKNOWN_HOSTS, &health_endpoint().await);
    let mut first = lab.spawn("up-1", &["up"]);
    let (status, out, err) = lab.run(&["scan", "submit", report.to_str().unwrap()]);
    assert!(status.success(), "{out}{err}");
    lab.log
        .wait_for("the flow to be under way", FLOW_TIMEOUT, |e| {
            count(e, "patch.finding.prioritized.v1") > 0
        })
        .await;
    first.signal("TERM");
    let status = first.wait(Duration::from_secs(60));
    assert!(
        status.success(),
        "SIGTERM exit: {status}\n{}",
        first.log_text()
    );
    assert!(
        !settled(&lab.log.events()),
        "the flow finished before SIGTERM: nothing was tested"
    );

    let _second = lab.spawn("up-2", &["up"]);
    let events = lab
        .log
        .wait_for("the whole flow", FLOW_TIMEOUT, complete)
        .await;
    assert_exact(&events);
}
