//! OC-14 (ansible/ansible#32255, #82267): the failure budget's boundary, its
//! denominator and the whole-batch rule, driven through whole ring runs.
//!
//! The scenarios are written out here and, when the shared cases folder is
//! present, also read from `cases/OC-14/*.toml` so the two cannot drift.

mod common;

use std::path::Path;

use common::*;
use deploy::{RingOutcome, RingRun, RunStatus};
use events::{JobAction, JobStatus, Payload, RolloutPolicy, WindowSet};

/// One OC-14 scenario: hosts in wave order, the policy, the hosts that fail.
struct Scenario {
    name: &'static str,
    hosts: Vec<String>,
    rollout: RolloutPolicy,
    fail: Vec<String>,
}

/// How the ring ended.
#[derive(Debug, PartialEq)]
struct Ending {
    outcome: RingOutcome,
    /// `(ring_attempted, ring_failed)` after each finished wave.
    after_each_wave: Vec<(u32, u32)>,
    never_started: usize,
}

/// Runs the ring to its end: every host answers, the failing ones last in
/// their wave (OC-14 A: host-08's failed result is the last of batch 2), and
/// the gate passes every completed wave.
fn drive(s: &Scenario) -> Ending {
    let t = utc("2026-11-30T01:00:00Z");
    let (mut sim, _) = Sim::start(
        &scheduled(
            &s.hosts,
            s.rollout.clone(),
            wide_window(),
            WindowSet::always(),
        ),
        t,
    );
    let mut after_each_wave = Vec::new();
    while let RunStatus::Running { wave, .. } = sim.run.status {
        let mut wave_hosts: Vec<String> = sim.run.jobs.iter().map(|j| j.host.clone()).collect();
        wave_hosts.sort_by_key(|h| s.fail.contains(h));
        for h in &wave_hosts {
            let status = if s.fail.contains(h) {
                JobStatus::Failed
            } else {
                JobStatus::Succeeded
            };
            for o in sim.apply(h, status, t).outputs() {
                match &o.payload {
                    Payload::WaveCompleted(c) => {
                        after_each_wave.push((c.ring_attempted, c.ring_failed))
                    }
                    Payload::WaveHalted(c) => {
                        after_each_wave.push((c.ring_attempted, c.ring_failed))
                    }
                    _ => {}
                }
            }
        }
        if sim.run.status == (RunStatus::AwaitingValidation { wave }) {
            sim.passed(wave, t);
        }
    }
    Ending {
        outcome: sim.run.outcome(),
        after_each_wave,
        never_started: sim.run.never_started().len(),
    }
}

fn check(s: &Scenario, want: &Ending) {
    assert_eq!(&drive(s), want, "scenario {}", s.name);
}

fn named(prefix: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("{prefix}-{i:02}.example"))
        .collect()
}

fn budget(canary: u32, batch_percent: u32, max: f64, whole: bool) -> RolloutPolicy {
    RolloutPolicy {
        canary_hosts: canary,
        batch_percent,
        max_failed_percent: max,
        halt_on_full_batch_failure: whole,
        ..RolloutPolicy::default()
    }
}

const B2_REASON: &str = "failed 3 of 6 attempted hosts (50.0%) > 10%; batch 2 failed entirely";

fn expected(name: &str) -> Ending {
    match name {
        // 1/10 after batch 2 is exactly 10 %, not more: no halt.
        "A" => Ending {
            outcome: RingOutcome::CompletedWithFailures { failed: 1 },
            after_each_wave: vec![(5, 0), (10, 1), (15, 1), (20, 1)],
            never_started: 0,
        },
        // Whole batch 2 failed, rule off, 100 % allowed: batches 3 and 4 run.
        "B" => Ending {
            outcome: RingOutcome::CompletedWithFailures { failed: 3 },
            after_each_wave: vec![(3, 0), (6, 3), (9, 3), (12, 3)],
            never_started: 0,
        },
        // Default budget: halted after batch 2, both rules named.
        "B2" => Ending {
            outcome: RingOutcome::Halted {
                reason: B2_REASON.into(),
            },
            after_each_wave: vec![(3, 0), (6, 3)],
            never_started: 6,
        },
        other => panic!("no expectation for {other}"),
    }
}

#[test]
fn oc14_scenarios() {
    let hosts20 = named("host", 20);
    let hosts12 = named("host", 12);
    let b_fail: Vec<String> = hosts12[3..6].to_vec();
    let scenarios = [
        Scenario {
            name: "A",
            hosts: hosts20.clone(),
            rollout: budget(0, 25, 10.0, true),
            fail: vec![hosts20[7].clone()],
        },
        Scenario {
            name: "B",
            hosts: hosts12.clone(),
            rollout: budget(0, 25, 100.0, false),
            fail: b_fail.clone(),
        },
        Scenario {
            name: "B2",
            hosts: hosts12,
            rollout: budget(0, 25, 10.0, true),
            fail: b_fail,
        },
    ];
    for s in &scenarios {
        check(s, &expected(s.name));
    }
    assert_eq!(scenarios[0].fail, vec!["host-08.example"]);
}

#[test]
fn oc14_b2_halts_with_the_rule_and_rolls_back_the_failed_batch() {
    let hosts12 = named("host", 12);
    let t = utc("2026-11-30T01:00:00Z");
    let (mut sim, _) = Sim::start(
        &scheduled(
            &hosts12,
            budget(0, 25, 10.0, true),
            wide_window(),
            WindowSet::always(),
        ),
        t,
    );
    for h in &hosts12[..3] {
        sim.apply(h, JobStatus::Succeeded, t);
    }
    sim.passed(0, t);
    sim.apply(&hosts12[3], JobStatus::Failed, t);
    sim.apply(&hosts12[4], JobStatus::Failed, t);
    let d = sim.apply(&hosts12[5], JobStatus::Failed, t);
    let outputs: Vec<_> = d.outputs().iter().filter(|o| !is_step(o)).collect();
    let Payload::WaveHalted(h) = &outputs[0].payload else {
        panic!("not halted: {d:?}")
    };
    assert_eq!((h.wave, h.ring_attempted, h.ring_failed), (1, 6, 3));
    assert_eq!(h.never_started, hosts12[6..].to_vec());
    assert_eq!(h.reason, B2_REASON);
    let Payload::RollbackRequested(r) = &outputs[1].payload else {
        panic!("no rollback request: {d:?}")
    };
    assert_eq!(r.hosts, hosts12[3..6].to_vec());
    assert_eq!(r.wave, 1);
    let sent_to = |h: &String| {
        sim.log.iter().any(
            |o| matches!(&o.payload, Payload::AgentJob(j) if &j.host == h && j.action == JobAction::Apply),
        )
    };
    assert!(hosts12[..6].iter().all(sent_to));
    assert!(
        !hosts12[6..].iter().any(sent_to),
        "a never-started host got a job"
    );
}

/// Reads `cases/OC-14/<file>` into a scenario (the case's key names mapped
/// onto [`RolloutPolicy`]).
fn from_case(dir: &Path, file: &str, name: &'static str) -> Scenario {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let t: toml::Table = toml::from_str(&text).unwrap();
    let strings = |v: &toml::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let int = |section: &str, key: &str| t[section][key].as_integer().unwrap();
    Scenario {
        name,
        hosts: strings(&t["hosts"]),
        rollout: budget(
            u32::try_from(int("waves", "canary")).unwrap(),
            u32::try_from(int("waves", "batch_percent")).unwrap(),
            t["budget"]["max_failed_percent"]
                .as_float()
                .or_else(|| {
                    t["budget"]["max_failed_percent"]
                        .as_integer()
                        .map(|i| i as f64)
                })
                .unwrap(),
            t["budget"]["halt_on_full_batch_failure"].as_bool().unwrap(),
        ),
        fail: strings(&t["inject"]["fail"]),
    }
}

#[test]
fn oc14_case_files() {
    let Some(cases) = testkit::cases() else {
        return;
    };
    let dir = cases.join("OC-14");
    let a = from_case(&dir, "scenario-a-boundary.toml", "A");
    assert_eq!(a.hosts.len(), 20);
    assert_eq!(a.rollout.canary_hosts, 0);
    check(&a, &expected("A"));

    let b = from_case(&dir, "scenario-b-full-batch.toml", "B");
    assert!(!b.rollout.halt_on_full_batch_failure);
    check(&b, &expected("B"));

    // B2: the same fleet and failures with the default budget.
    let defaults = RolloutPolicy::default();
    let b2 = Scenario {
        name: "B2",
        rollout: RolloutPolicy {
            max_failed_percent: defaults.max_failed_percent,
            halt_on_full_batch_failure: defaults.halt_on_full_batch_failure,
            ..b.rollout.clone()
        },
        ..b
    };
    check(&b2, &expected("B2"));

    // The stored state after B2 says the same, and survives a KV round trip.
    let t = utc("2026-11-30T01:00:00Z");
    let (run, _) = RingRun::start(
        &scheduled(
            &b2.hosts,
            b2.rollout.clone(),
            wide_window(),
            WindowSet::always(),
        ),
        t,
    )
    .unwrap();
    assert_eq!(RingRun::decode(&run.encode()).unwrap(), run);
}
