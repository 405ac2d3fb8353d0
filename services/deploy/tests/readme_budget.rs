//! The worked examples of README.md ("Rollout: rings, waves and the failure
//! budget") are test cases: each row of that table is driven through a
//! whole ring run here, and a test fails when the README gains, loses or
//! rewords a row this file does not cover.

mod common;

use common::*;
use deploy::{RingOutcome, RunStatus};
use events::{JobAction, JobStatus, Payload, RolloutPolicy, WindowSet};

/// How a failing host fails.
#[derive(Clone, Copy)]
enum Fails {
    /// It reports a failed install.
    Reports,
    /// It never answers: counted failed after `result_timeout_secs`.
    Silent,
}

/// One README row: its text, the ring, and what must happen.
struct Row {
    /// The row exactly as README.md writes it.
    readme: &'static str,
    hosts: Vec<String>,
    rollout: RolloutPolicy,
    fail: Vec<String>,
    how: Fails,
    /// `(ring_attempted, ring_failed)` after each finished wave.
    after_each_wave: Vec<(u32, u32)>,
    outcome: RingOutcome,
    never_started: usize,
    /// Hosts a rollback is requested for.
    rolled_back: Vec<String>,
}

fn policy(canary: u32, max: f64, whole: bool) -> RolloutPolicy {
    RolloutPolicy {
        canary_hosts: canary,
        max_failed_percent: max,
        halt_on_full_batch_failure: whole,
        ..RolloutPolicy::default()
    }
}

fn named(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("host-{i:02}")).collect()
}

fn rows() -> Vec<Row> {
    let h20 = named(20);
    let h12 = named(12);
    let demo: Vec<String> = ["prod-db-01", "prod-db-02", "prod-web-01", "prod-web-02"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let h10 = named(10);
    vec![
        Row {
            readme: "| 20 hosts, no canary, batches of 5 | 10 %, whole-batch rule on | host 8 (batch 2) | after batch 2: 1 of 10 = 10 %, not more than 10 % → goes on; 20 attempted, 1 failed |",
            hosts: h20.clone(),
            rollout: policy(0, 10.0, true),
            fail: vec![h20[7].clone()],
            how: Fails::Reports,
            after_each_wave: vec![(5, 0), (10, 1), (15, 1), (20, 1)],
            outcome: RingOutcome::CompletedWithFailures { failed: 1 },
            never_started: 0,
            rolled_back: vec![],
        },
        Row {
            readme: "| 12 hosts, no canary, batches of 3 | 100 %, whole-batch rule off | all of batch 2 | batches 3 and 4 still run: completed with failures, 12 attempted, 3 failed |",
            hosts: h12.clone(),
            rollout: policy(0, 100.0, false),
            fail: h12[3..6].to_vec(),
            how: Fails::Reports,
            after_each_wave: vec![(3, 0), (6, 3), (9, 3), (12, 3)],
            outcome: RingOutcome::CompletedWithFailures { failed: 3 },
            never_started: 0,
            rolled_back: vec![],
        },
        Row {
            readme: "| same | defaults (10 %, rule on) | all of batch 2 | halted after batch 2: 3 of 6 = 50 % and the batch failed entirely; 6 never started |",
            hosts: h12.clone(),
            rollout: policy(0, 10.0, true),
            fail: h12[3..6].to_vec(),
            how: Fails::Reports,
            after_each_wave: vec![(3, 0), (6, 3)],
            outcome: RingOutcome::Halted {
                reason: "failed 3 of 6 attempted hosts (50.0%) > 10%; batch 2 failed entirely"
                    .into(),
            },
            never_started: 6,
            rolled_back: h12[3..6].to_vec(),
        },
        Row {
            readme: "| the demo's prod ring, 4 hosts | defaults | prod-web-02 (batch 3) | halted: 1 of 4 = 25 % > 10 %; prod-web-02 rolled back |",
            hosts: demo.clone(),
            rollout: RolloutPolicy::default(),
            fail: vec!["prod-web-02".into()],
            how: Fails::Reports,
            after_each_wave: vec![(1, 0), (2, 0), (3, 0), (4, 1)],
            outcome: RingOutcome::Halted {
                reason: "failed 1 of 4 attempted hosts (25.0%) > 10%; batch 3 failed entirely"
                    .into(),
            },
            never_started: 0,
            rolled_back: vec!["prod-web-02".into()],
        },
        Row {
            readme: "| 10 hosts, canary of 1, batches of 3 | defaults | the canary never answers | halted after the canary timed out: 1 of 1 = 100 % > 10 %; 9 never started |",
            hosts: h10.clone(),
            rollout: RolloutPolicy::default(),
            fail: vec![h10[0].clone()],
            how: Fails::Silent,
            after_each_wave: vec![(1, 1)],
            outcome: RingOutcome::Halted {
                reason: "failed 1 of 1 attempted hosts (100.0%) > 10%; canary failed entirely"
                    .into(),
            },
            never_started: 9,
            rolled_back: vec![h10[0].clone()],
        },
    ]
}

/// Drives `row`'s ring to its end: answering hosts answer (the failing
/// ones last in their wave), silent ones are timed out by a clock tick
/// past the result deadline, and the gate passes every completed wave.
fn drive(row: &Row) {
    let mut t = utc("2026-11-30T01:00:00Z");
    let (mut sim, _) = Sim::start(
        &scheduled(
            &row.hosts,
            row.rollout.clone(),
            wide_window(),
            WindowSet::always(),
        ),
        t,
    );
    let mut after_each_wave = Vec::new();
    let mut rolled_back = Vec::new();
    while let RunStatus::Running {
        wave,
        results_due_at,
    } = sim.run.status
    {
        let mut wave_hosts: Vec<String> = sim.run.jobs.iter().map(|j| j.host.clone()).collect();
        wave_hosts.sort_by_key(|h| row.fail.contains(h));
        let mut outputs = Vec::new();
        for h in &wave_hosts {
            let failing = row.fail.contains(h);
            match (failing, row.how) {
                (true, Fails::Silent) => {}
                (true, Fails::Reports) => {
                    outputs.extend(sim.apply(h, JobStatus::Failed, t).outputs().to_vec());
                }
                (false, _) => {
                    outputs.extend(sim.apply(h, JobStatus::Succeeded, t).outputs().to_vec());
                }
            }
        }
        if matches!(sim.run.status, RunStatus::Running { .. }) {
            t = results_due_at;
            outputs.extend(sim.tick(t).outputs().to_vec());
        }
        for o in &outputs {
            match &o.payload {
                Payload::WaveCompleted(c) => {
                    after_each_wave.push((c.ring_attempted, c.ring_failed))
                }
                Payload::WaveHalted(c) => after_each_wave.push((c.ring_attempted, c.ring_failed)),
                Payload::RollbackRequested(r) => rolled_back.extend(r.hosts.clone()),
                _ => {}
            }
        }
        if sim.run.status == (RunStatus::AwaitingValidation { wave }) {
            sim.passed(wave, t);
        }
    }
    let name = row.readme;
    assert_eq!(after_each_wave, row.after_each_wave, "{name}: tallies");
    assert_eq!(sim.run.outcome(), row.outcome, "{name}: outcome");
    assert_eq!(
        sim.run.never_started().len(),
        row.never_started,
        "{name}: never started"
    );
    assert_eq!(rolled_back, row.rolled_back, "{name}: rolled back");
    let never_sent = sim.run.never_started();
    assert!(
        !sim.log.iter().any(|o| matches!(
            &o.payload,
            Payload::AgentJob(j) if j.action == JobAction::Apply && never_sent.contains(&j.host)
        )),
        "{name}: a never-started host got a job"
    );
}

#[test]
fn every_readme_worked_example_holds() {
    for row in rows() {
        drive(&row);
    }
}

#[test]
fn the_readme_table_is_exactly_these_rows() {
    let readme = match std::fs::read_to_string(testkit::workspace_root().join("README.md")) {
        Ok(t) => t,
        Err(e) => panic!("read README.md: {e}"),
    };
    let section = readme
        .split("### Rollout: rings, waves and the failure budget")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_default();
    let table: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ring |"))
        .collect();
    let ours: Vec<&str> = rows().iter().map(|r| r.readme).collect();
    assert_eq!(
        table, ours,
        "README.md's worked examples and this test differ"
    );
}
