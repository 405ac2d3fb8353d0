//! Twenty lab agents across four rings (issue 5, acceptance): one bundle goes
//! canary → batches through dev, test and staging, waits for its change
//! approval before prod (no prod job is sent until `patchflow bundle
//! approve`), then injected install failures on the three hosts of prod's
//! second batch halt the rollout by the failure budget and roll exactly those
//! hosts back; the hosts after them never start. The bundle's audit trail
//! (`patchflow report audit`) shows every step in order, per ring and per
//! host, and `patchflow audit verify` finds the hash chain intact.
//!
//! Every service runs in one `patchflow up`; every lab agent is its own
//! `patchflow agent` process verifying deploy's signature.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use events::deployment::HostStatus;
use events::{Event, JobAction, JobStatus, Payload, Service, WaveKind};
use tests::{Lab, bundle_events, count, payloads, settled};

use crate::common::{
    FLOW_TIMEOUT, HEARTBLEED_REMEDIATION, LAB_ROLLOUT, agent_state_path, assert_in_order,
    health_endpoint, host_trail, load_agent_state, rollout_policy, spawn_lab_agents,
    submit_heartbleed_scan, wait_for_audit_trail, wait_for_signing_key,
    write_config_for_agent_processes, write_lab,
};

/// The rings in rollout order with their host counts: 2 + 3 + 5 + 10 = 20.
const RINGS: [(&str, usize); 4] = [("dev", 2), ("test", 3), ("staging", 5), ("prod", 10)];

/// The approver and change ticket of the prod release.
const APPROVER: &str = "alice";
const TICKET: &str = "CHG-4711";

/// Change approval before prod for every bundle (no standard changes).
const APPROVAL: &str = "[schedule.approval]
rings = [\"prod\"]
standard_priorities = []
";

/// The waves deploy cuts each ring into (hosts sorted by asset id), as
/// (ring, wave number, kind, hosts).
fn expected_waves() -> Vec<(&'static str, u32, WaveKind, Vec<String>)> {
    let names = |ring: &str, range: std::ops::RangeInclusive<usize>| -> Vec<String> {
        range.map(|i| format!("{ring}-{i:02}")).collect()
    };
    let canary = WaveKind::Canary;
    let batch = WaveKind::Batch;
    vec![
        ("dev", 0, canary, names("dev", 1..=1)),
        ("dev", 1, batch, names("dev", 2..=2)),
        ("test", 0, canary, names("test", 1..=1)),
        ("test", 1, batch, names("test", 2..=2)),
        ("test", 2, batch, names("test", 3..=3)),
        ("staging", 0, canary, names("staging", 1..=1)),
        ("staging", 1, batch, names("staging", 2..=3)),
        ("staging", 2, batch, names("staging", 4..=5)),
        ("prod", 0, canary, names("prod", 1..=1)),
        ("prod", 1, batch, names("prod", 2..=4)),
        ("prod", 2, batch, names("prod", 5..=7)),
        ("prod", 3, batch, names("prod", 8..=10)),
    ]
}

/// The prod wave whose hosts fail (batch 2).
const FAILING_WAVE: u32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_agents_four_rings_approval_before_prod_and_a_failed_batch_rolls_back() {
    let t0 = Instant::now();
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;

    // 20 hosts over four rings, each with a lab state holding openssl 1.0.1e.
    let hosts: Vec<(String, String, &str)> = RINGS
        .iter()
        .enumerate()
        .flat_map(|(r, (ring, n))| {
            (1..=*n).map(move |i| (format!("{ring}-{i:02}"), format!("10.0.{r}.{i}"), *ring))
        })
        .collect();
    let host_refs: Vec<(&str, &str, &str)> = hosts
        .iter()
        .map(|(h, ip, ring)| (h.as_str(), ip.as_str(), *ring))
        .collect();
    write_lab(&lab, &host_refs, &health_endpoint().await);
    // The agents run as their own processes, not inside `up`.
    write_config_for_agent_processes(
        &lab,
        &[
            ("[schedule.approval]\nrings = []\n", APPROVAL),
            // The rollout policy of every ring: a canary of one, batches of 30 % of the
            // ring (prod: 1, 3, 3, 3), halt above 10 % failed or on a wholly failed batch.
            (LAB_ROLLOUT, &rollout_policy(1, 30, 10.0)),
        ],
    );

    // Every service; deploy creates its signing key on start.
    let up = lab.spawn("up", &["up"]);
    let key = wait_for_signing_key(&lab, &up, Duration::from_secs(60)).await;
    let _agents = spawn_lab_agents(&lab, &host_refs, &key);

    // Ingest completes it: 20 hosts, 20 findings.
    submit_heartbleed_scan(&lab, &host_refs, &up);

    // One bundle: every host, one remediation, approval needed before prod.
    let events = lab
        .log
        .wait_for("the bundle to be planned", FLOW_TIMEOUT, |e| {
            count(e, "patch.bundle.planned.v1") > 0
        })
        .await;
    let planned = payloads(&events, |p| match p {
        Payload::BundlePlanned(b) => Some(b.clone()),
        _ => None,
    });
    assert_eq!(planned.len(), 1, "{planned:?}");
    let bundle = &planned[0];
    let id = bundle.bundle_id;
    let id_text = id.to_string();
    assert_eq!(bundle.targets.len(), 20);
    let keys: Vec<String> = bundle.remediations.iter().map(|r| r.key()).collect();
    assert_eq!(keys, [HEARTBLEED_REMEDIATION]);
    assert!(
        bundle
            .targets
            .iter()
            .all(|t| t.remediations == [HEARTBLEED_REMEDIATION])
    );
    let approval = bundle.approval.as_ref().expect("an approval requirement");
    assert_eq!(approval.rings, ["prod"]);

    // dev, test and staging roll out and validate; then the bundle waits for
    // its approval: schedule holds prod, nothing is sent to a prod host.
    lab.log
        .wait_for("staging's last wave to validate", FLOW_TIMEOUT, |e| {
            e.iter().any(|e| match &e.data {
                Payload::ValidationPassed(v) => v.ring == "staging" && v.last_wave_in_ring,
                _ => false,
            })
        })
        .await;
    wait_for_awaiting_approval(&lab, id, 3).await;
    let before = lab.log.events();
    assert_eq!(
        scheduled_rings(&before, id),
        ["dev", "test", "staging"],
        "released before the approval"
    );
    assert!(
        !before.iter().any(|e| match &e.data {
            Payload::AgentJob(j) => j.ring == "prod",
            Payload::WaveStarted(w) => w.ring == "prod",
            _ => false,
        }),
        "a prod job or wave before the approval"
    );
    let summary = bundle_summary(&lab, id);
    // The report says what schedule's state says: held for the approval.
    assert_eq!(summary["status"], "awaiting_approval", "{summary:#}");
    assert_eq!(summary["approval_rings"], serde_json::json!(["prod"]));
    assert_eq!(summary["approved_by"], serde_json::Value::Null);
    let ring_states: Vec<(&str, &str)> = summary["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["ring"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ring_states,
        [
            ("dev", "validated"),
            ("test", "validated"),
            ("staging", "validated"),
            ("prod", "pending")
        ]
    );

    // The plan names prod's waves (as deploy will cut them) and the pending
    // approval; the failures go on the hosts of its second batch.
    let (status, plan, err) = lab.run(&["plan", &id_text]);
    assert!(status.success(), "{err}");
    assert!(
        plan.contains(&format!(
            "approval: needed before prod (priority {} is not a standard change); patchflow bundle approve {id} --by NAME --ticket REF",
            bundle.priority.as_str()
        )),
        "{plan}"
    );
    let prod_plan = plan_waves_of(&plan, "prod");
    let want_prod: Vec<Vec<String>> = expected_waves()
        .into_iter()
        .filter(|w| w.0 == "prod")
        .map(|w| w.3)
        .collect();
    assert_eq!(prod_plan, want_prod, "{plan}");
    let failing: Vec<String> = prod_plan[FAILING_WAVE as usize].clone();
    assert_eq!(failing, ["prod-05", "prod-06", "prod-07"]);
    for host in &failing {
        let path = agent_state_path(&lab, host);
        let mut state = agent::LabState::load(&path).unwrap();
        state.fail = agent::lab::FailMode::All;
        state.save(&path).unwrap();
    }

    let (status, out, err) = lab.run(&[
        "bundle", "approve", &id_text, "--by", APPROVER, "--ticket", TICKET,
    ]);
    assert!(status.success(), "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "bundle {id} approved by {APPROVER} (ticket {TICKET}) (event "
        )),
        "{out}"
    );
    // One change decision per bundle, and never on a prefix of two
    // characters (the approvals checked below stay one).
    let (status, out, err) = lab.run(&[
        "bundle", "approve", &id_text, "--by", "bob", "--ticket", "CHG-2",
    ]);
    assert_eq!(status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains(&format!(
            "bundle {id} is already approved by {APPROVER}: nothing left to approve"
        )),
        "{err}"
    );
    let (status, out, err) = lab.run(&[
        "bundle",
        "approve",
        &id_text[..2],
        "--by",
        "bob",
        "--ticket",
        "CHG-3",
    ]);
    assert_eq!(status.code(), Some(1), "{out}{err}");
    assert!(err.contains("is too short to name a bundle"), "{err}");

    let events = lab
        .log
        .wait_for(
            "the bundle to halt and its rollback to complete",
            FLOW_TIMEOUT,
            |e| {
                // Streams are followed independently: wait for the agents'
                // and validate's streams too (17 apply + 3 rollback jobs and
                // results, 10 validated waves), not only for the halt.
                // The halt and the rollback are on different streams too:
                // a halt seen before its rollback request is not settled.
                settled(e)
                    && count(e, "patch.rollback.requested.v1") >= 1
                    && count(e, "patch.rollback.completed.v1") >= 1
                    && count(e, "patch.agent.job.v1") >= 20
                    && count(e, "patch.agent.result.v1") >= 20
                    && count(e, "patch.validation.passed.v1") >= 10
            },
        )
        .await;
    let events: Vec<Event> = bundle_events(&events, id);

    // Released ring by ring, prod only after the approval.
    assert_eq!(
        scheduled_rings(&events, id),
        ["dev", "test", "staging", "prod"]
    );
    let approvals = payloads(&events, |p| match p {
        Payload::BundleApproved(a) => Some(a.clone()),
        _ => None,
    });
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        (
            approvals[0].approved_by.as_str(),
            approvals[0].ticket.as_str()
        ),
        (APPROVER, TICKET)
    );
    let approved_at = events
        .iter()
        .find(|e| matches!(e.data, Payload::BundleApproved(_)))
        .map(|e| e.time)
        .unwrap();
    let prod_jobs: Vec<_> = events
        .iter()
        .filter(|e| matches!(&e.data, Payload::AgentJob(j) if j.ring == "prod"))
        .map(|e| e.time)
        .collect();
    assert_eq!(prod_jobs.len(), 7 + 3, "7 apply jobs, 3 rollback jobs");
    assert!(
        prod_jobs.iter().all(|t| *t > approved_at),
        "a prod job before the approval at {approved_at}: {prod_jobs:?}"
    );

    // Waves: every ring's canary and batches in order; prod stops at batch 2.
    let mut started: Vec<(String, u32, WaveKind, Vec<String>)> = payloads(&events, |p| match p {
        Payload::WaveStarted(w) => Some((w.ring.clone(), w.wave, w.kind, w.hosts.clone())),
        _ => None,
    });
    let want_started: Vec<(String, u32, WaveKind, Vec<String>)> = expected_waves()
        .into_iter()
        .filter(|w| w.0 != "prod" || w.1 <= FAILING_WAVE)
        .map(|(r, w, k, h)| (r.to_owned(), w, k, h))
        .collect();
    started.sort_by_key(|w| (ring_rank(&w.0), w.1));
    assert_eq!(started, want_started);
    let mut completed: Vec<(String, u32, usize, usize)> = payloads(&events, |p| match p {
        Payload::WaveCompleted(w) => Some((
            w.ring.clone(),
            w.wave,
            w.hosts.len(),
            w.hosts
                .iter()
                .filter(|h| h.status == HostStatus::Succeeded)
                .count(),
        )),
        _ => None,
    });
    let want_completed: Vec<(String, u32, usize, usize)> = want_started
        .iter()
        .filter(|w| w.0 != "prod" || w.1 < FAILING_WAVE)
        .map(|(r, w, _, h)| (r.clone(), *w, h.len(), h.len()))
        .collect();
    completed.sort_by_key(|w| (ring_rank(&w.0), w.1));
    assert_eq!(completed, want_completed);
    let validated: BTreeSet<(String, u32)> = payloads(&events, |p| match p {
        Payload::ValidationPassed(v) => Some((v.ring.clone(), v.wave)),
        _ => None,
    })
    .into_iter()
    .collect();
    let want_validated: BTreeSet<(String, u32)> = want_started
        .iter()
        .filter(|w| w.0 != "prod" || w.1 < FAILING_WAVE)
        .map(|w| (w.0.clone(), w.1))
        .collect();
    assert_eq!(validated, want_validated);
    assert_eq!(count(&events, "patch.validation.failed.v1"), 0);

    // The halt: batch 2 of prod failed entirely, 3 of 7 attempted.
    let halts = payloads(&events, |p| match p {
        Payload::WaveHalted(h) => Some(h.clone()),
        _ => None,
    });
    assert_eq!(halts.len(), 1, "{halts:?}");
    let halt = &halts[0];
    let reason = "failed 3 of 7 attempted hosts (42.9%) > 10%; batch 2 failed entirely";
    assert_eq!(
        (halt.ring.as_str(), halt.wave, halt.kind),
        ("prod", FAILING_WAVE, WaveKind::Batch)
    );
    assert_eq!((halt.ring_attempted, halt.ring_failed), (7, 3));
    assert_eq!(halt.reason, reason);
    assert_eq!(halt.never_started, ["prod-08", "prod-09", "prod-10"]);
    let halted_hosts: Vec<(&str, HostStatus)> = halt
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.status))
        .collect();
    assert_eq!(
        halted_hosts,
        failing
            .iter()
            .map(|h| (h.as_str(), HostStatus::Failed))
            .collect::<Vec<_>>()
    );
    let bundle_halts = payloads(&events, |p| match p {
        Payload::BundleHalted(h) => Some((h.ring.clone(), h.reason.clone())),
        _ => None,
    });
    assert_eq!(bundle_halts.len(), 1, "{bundle_halts:?}");
    assert_eq!(bundle_halts[0].0, "prod");
    assert!(bundle_halts[0].1.contains(reason), "{bundle_halts:?}");
    assert_eq!(count(&events, "patch.bundle.completed.v1"), 0);

    // Rolled back: exactly the three failed hosts, each successfully.
    let requested = payloads(&events, |p| match p {
        Payload::RollbackRequested(r) => Some((r.ring.clone(), r.wave, r.hosts.clone())),
        _ => None,
    });
    assert_eq!(
        requested,
        [("prod".to_owned(), FAILING_WAVE, failing.clone())]
    );
    let rolled_back = payloads(&events, |p| match p {
        Payload::RollbackCompleted(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(rolled_back.len(), 1, "{rolled_back:?}");
    assert_eq!(rolled_back[0].ring, "prod");
    let outcomes: Vec<(&str, HostStatus)> = rolled_back[0]
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.status))
        .collect();
    assert_eq!(
        outcomes,
        failing
            .iter()
            .map(|h| (h.as_str(), HostStatus::Succeeded))
            .collect::<Vec<_>>()
    );

    // Jobs: one signed apply job per started host, one rollback job per
    // failed host, nothing for the hosts after the halt.
    let mut applies: Vec<String> = Vec::new();
    let mut rollbacks: Vec<String> = Vec::new();
    for e in &events {
        if let Payload::AgentJob(j) = &e.data {
            assert!(j.signature.is_some(), "unsigned job {j:?}");
            match j.action {
                JobAction::Apply => applies.push(j.host.clone()),
                JobAction::Rollback => rollbacks.push(j.host.clone()),
                JobAction::Reboot => panic!("a reboot job: {j:?}"),
            }
        }
    }
    applies.sort();
    let mut want_applies: Vec<String> = want_started.iter().flat_map(|w| w.3.clone()).collect();
    want_applies.sort();
    assert_eq!(applies, want_applies);
    assert_eq!(applies.len(), 17);
    rollbacks.sort();
    assert_eq!(rollbacks, failing);
    for e in &events {
        if let Payload::AgentResult(r) = &e.data {
            let want = if r.action == JobAction::Apply && failing.contains(&r.host) {
                JobStatus::Failed
            } else {
                JobStatus::Succeeded
            };
            assert_eq!(r.status, want, "{r:?}");
        }
    }

    // On the hosts: 14 carry the fix, the 3 failed are back at 1.0.1e with
    // nothing applied, the 3 never started were never touched.
    for (host, _, _) in &host_refs {
        let state = load_agent_state(&lab, host);
        let applied: Vec<&str> = state.applied.iter().map(|a| a.key.as_str()).collect();
        let openssl = state.packages.get("openssl").map(String::as_str);
        if failing.iter().any(|f| f == host) {
            assert!(applied.is_empty(), "{host}: {applied:?}");
            assert_eq!(openssl, Some("1.0.1e"), "{host}");
            assert_eq!(state.history.len(), 2, "{host}: apply and rollback");
        } else if halt.never_started.iter().any(|n| n == host) {
            assert!(applied.is_empty(), "{host}: {applied:?}");
            assert_eq!(openssl, Some("1.0.1e"), "{host}");
            assert!(state.history.is_empty(), "{host} got a job");
        } else {
            assert_eq!(applied, [HEARTBLEED_REMEDIATION], "{host}");
            assert_eq!(openssl, Some("1.0.1g"), "{host}");
        }
    }

    // The audit trail, from a separate process: every step, in order.
    // It holds every event of the bundle: the same count as the log (read
    // again until both have caught up with the streams).
    let trail = wait_for_audit_trail(&lab, id).await;
    assert_eq!(
        trail.first().map(|t| t.0.as_str()),
        Some("patch.bundle.planned.v1")
    );
    let mut milestones: Vec<String> = Vec::new();
    for (i, (ring, n)) in RINGS.iter().enumerate() {
        if *ring == "prod" {
            milestones.push(format!("bundle approved by {APPROVER} (ticket {TICKET})"));
        }
        milestones.push(format!(
            "ring {ring} scheduled (ring index {i}{}): {n} hosts",
            if *ring == "prod" { ", last ring" } else { "" }
        ));
        for (r, wave, kind, hosts) in &want_started {
            if r != ring {
                continue;
            }
            let kind = if *kind == WaveKind::Canary {
                "canary"
            } else {
                "batch"
            };
            // The trail counts in English: `1 host`, `3 hosts`.
            let started_hosts = match hosts.len() {
                1 => "1 host".to_owned(),
                n => format!("{n} hosts"),
            };
            milestones.push(format!(
                "wave {wave} ({kind}) started in {ring}: {started_hosts}, results due "
            ));
            if *ring == "prod" && *wave == FAILING_WAVE {
                milestones.push(format!(
                    "wave {wave} ({kind}) halted in prod: failed 3 of 7 attempted hosts (42.9%) > 10%, and every host of the wave failed"
                ));
                milestones.push(format!(
                    "rollback requested for prod-05, prod-06, prod-07 (prod wave {wave}): batch 2 of ring prod halted: {reason}"
                ));
                milestones.push("rollback completed in prod: 3 of 3 hosts rolled back".to_owned());
            } else {
                let last = if *wave as usize + 1 == wave_count(ring) {
                    ", last wave of the ring"
                } else {
                    ""
                };
                milestones.push(format!(
                    "wave {wave} ({kind}) completed in {ring}: {n} of {n} hosts succeeded{last}",
                    n = hosts.len()
                ));
                milestones.push(format!(
                    "validation passed for {ring} wave {wave}: 2 checks"
                ));
            }
        }
    }
    assert_in_order(&trail, &milestones);
    // The failed hosts' installs changed nothing (the lab's jobs are
    // atomic): their rollbacks had nothing to undo, so no method is named.
    assert!(
        trail
            .iter()
            .any(|(_, s)| s == "rollback completed in prod: 3 of 3 hosts rolled back"),
        "the rollback summary names a method"
    );
    // The bundle halts after its wave did.
    assert_in_order(
        &trail,
        &[
            "wave 2 (batch) halted in prod: ".to_owned(),
            "bundle halted in prod: ".to_owned(),
        ],
    );
    let halted_line = trail
        .iter()
        .find(|t| t.0 == "patch.bundle.halted.v1")
        .map(|t| t.1.clone())
        .unwrap_or_default();
    assert!(halted_line.contains(reason), "{halted_line}");

    // Per host: its apply job and result, its saga's install step (started,
    // then ended: the lab hosts need no reboot and no webhook is configured,
    // so install is the only step), and for the failed ones the rollback;
    // the hosts after the halt appear nowhere.
    for (r, wave, _, wave_hosts) in &want_started {
        for host in wave_hosts {
            let lines = host_trail(&trail, host);
            let mut want = vec![
                format!("apply job sent to {host} ({r} wave {wave}): 1 remediation"),
                if failing.contains(host) {
                    format!("apply failed on {host} ({r} wave {wave}): ")
                } else {
                    format!("apply succeeded on {host} ({r} wave {wave})")
                },
            ];
            if failing.contains(host) {
                want.push(format!("rollback job sent to {host} ({r} wave {wave})"));
                want.push(format!("rollback succeeded on {host} ({r} wave {wave})"));
            }
            assert_in_order(&lines, &want);
            let steps = [
                format!("step install started on {host} ({r} wave {wave}), due "),
                if failing.contains(host) {
                    format!("step install failed on {host} ({r} wave {wave}): ")
                } else {
                    format!(
                        "step install succeeded on {host} ({r} wave {wave}): installed 1 remediation(s)"
                    )
                },
            ];
            assert_in_order(&lines, &steps);
            let step_lines = lines
                .iter()
                .filter(|(t, _)| t.starts_with("patch.deployment.step."))
                .count();
            assert_eq!(step_lines, 2, "{host}: one step, started and ended");
            if failing.contains(host) {
                let failed = lines
                    .iter()
                    .find(|(_, l)| l.starts_with(&want[1]))
                    .map(|(_, l)| l.as_str())
                    .unwrap_or_default();
                assert!(
                    failed.ends_with("lab fail mode \"all\": every install fails"),
                    "{failed}"
                );
            }
        }
    }
    for host in &halt.never_started {
        assert!(host_trail(&trail, host).is_empty(), "{host}");
    }

    // The report's view of the bundle.
    let summary = bundle_summary(&lab, id);
    assert_eq!(summary["status"], "halted", "{summary:#}");
    assert_eq!(summary["approved_by"], "alice");
    assert_eq!(summary["halted_ring"], "prod");
    assert_eq!(summary["jobs"], 20, "17 apply jobs and 3 rollback jobs");
    assert_eq!(summary["results"], 20);
    let rollbacks = summary["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(rollbacks[0]["hosts"], serde_json::json!(failing));
    assert_eq!(rollbacks[0]["succeeded"], 3);
    assert_eq!(rollbacks[0]["failed"], 0);

    // The hash chain over every stored event is intact and matches the streams.
    let (status, out, err) = lab.run(&["audit", "verify"]);
    assert!(status.success(), "{out}{err}");
    assert!(out.starts_with("audit trail intact: "), "{out}");
    assert!(out.contains("events of the streams match"), "{out}");

    eprintln!("rollout_rings took {:?}", t0.elapsed());
}

/// How many waves a ring is cut into.
fn wave_count(ring: &str) -> usize {
    expected_waves().iter().filter(|w| w.0 == ring).count()
}

/// Position of `ring` in the rollout order (events of different streams
/// arrive in no fixed order, so waves are compared sorted by it).
fn ring_rank(ring: &str) -> Option<usize> {
    RINGS.iter().position(|(r, _)| *r == ring)
}

/// The rings released for `bundle`, in log order.
fn scheduled_rings(events: &[Event], bundle: uuid::Uuid) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::BundleScheduled(s) if s.bundle_id == bundle => Some(s.ring.clone()),
            _ => None,
        })
        .collect()
}

/// Waits until schedule's stored state of `bundle` is `awaiting_approval`
/// for ring `ring_index`, with a pending approval.
async fn wait_for_awaiting_approval(lab: &Lab, bundle: uuid::Uuid, ring_index: u64) {
    let store = lab.bus.state(Service::Schedule).await.unwrap();
    let key = format!("bundle.{bundle}");
    let deadline = Instant::now() + FLOW_TIMEOUT;
    loop {
        let state = store.load::<serde_json::Value>(&key).await.unwrap().value;
        if let Some(s) = &state
            && s["status"]["status"] == "awaiting_approval"
        {
            assert_eq!(s["status"]["ring_index"], ring_index, "{s:#}");
            assert_eq!(s["approval"]["approval"], "pending", "{s:#}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "schedule never held bundle {bundle} for approval: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The bundle's entry of `patchflow report bundles --json`.
fn bundle_summary(lab: &Lab, bundle: uuid::Uuid) -> serde_json::Value {
    let (status, out, err) = lab.run(&["report", "bundles", "--json"]);
    assert!(status.success(), "{err}");
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|b| b["bundle_id"] == bundle.to_string())
        .cloned()
        .unwrap_or_else(|| panic!("bundle {bundle} missing from {out}"))
}

/// The hosts of each wave of `ring` in `patchflow plan` output
/// (`  wave 2 batch 2: prod-05, prod-06, prod-07`), in order.
fn plan_waves_of(plan: &str, ring: &str) -> Vec<Vec<String>> {
    plan.lines()
        .skip_while(|l| !l.starts_with(&format!("ring {ring} (")))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().strip_prefix("wave "))
        .filter_map(|l| l.split_once(": "))
        .map(|(_, hosts)| hosts.split(", ").map(str::to_owned).collect())
        .collect()
}
