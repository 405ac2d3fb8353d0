//! `cargo bench -p prioritize --bench decide`: decisions per second of the
//! pure decision on one core, for 1,000,000 findings (target ≥ 1,000,000/s),
//! in the rules mode and in the SSVC mode: [`prioritize::stage::assess`]
//! (class, `due_at`, the rules that fired with their values), then, for a
//! quarter as many, [`prioritize::decide`] (the same plus the rendered
//! `finding.prioritized` payload: reason texts and copied inputs). Each line
//! gives the wall-clock rate and the rate over the thread's CPU time (the
//! two differ when other processes share the core).
//!
//! The findings cycle through a pool of 4,096 distinct ones (CVSS v3.1
//! base vectors drawn from all 2,592, some v4.0 and v2, 5,000 CVEs, tiers,
//! exposure); half of them carry a previous decision (the SLA memory). The
//! pool is meant to sit in the CPU caches, as a finding the adapter has just
//! decoded does; 4,096 findings (~5 MB with their strings) outgrow a 1 MiB
//! L2, and `assess` is then bound by cache misses on the pool and on the
//! EPSS table (`PATCHFLOW_BENCH_POOL=512` shows the decision with hot
//! inputs). Set `PATCHFLOW_BENCH_DECISIONS` to change the count.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use events::Priority;
use prioritize::policy::{Policy, PolicyMode};
use prioritize::stage::assess;
use prioritize::{PreviousDecision, decide};

/// Distinct findings the decisions cycle through (`PATCHFLOW_BENCH_POOL`
/// changes it).
const POOL: usize = 4096;

fn pool_size() -> usize {
    std::env::var("PATCHFLOW_BENCH_POOL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(POOL)
        .max(1)
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux;
/// `None` elsewhere): on a shared machine the wall clock also counts the
/// time other processes held the core.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `n` decisions through `one` and prints wall and CPU rates.
fn measure(label: &str, n: usize, mut one: impl FnMut(usize) -> Priority) {
    let mut classes = [0usize; 4];
    let cpu0 = thread_cpu();
    let started = Instant::now();
    for i in 0..n {
        classes[one(i) as usize] += 1;
    }
    let elapsed = started.elapsed();
    let cpu = thread_cpu()
        .zip(cpu0)
        .map(|(b, a)| b.saturating_sub(a))
        .filter(|d| !d.is_zero());
    let rate = n as f64 / elapsed.as_secs_f64();
    let cpu_rate = cpu.map(|c| n as f64 / c.as_secs_f64());
    let best = cpu_rate.unwrap_or(rate).max(rate);
    println!(
        "{label}: {n} decisions in {:.3} s = {:.0} decisions/s on one core \
         ({:.0} ns each; {}; critical {}, high {}, medium {}, low {}) target >= 1000000/s: {}",
        elapsed.as_secs_f64(),
        rate,
        elapsed.as_nanos() as f64 / n as f64,
        match (cpu, cpu_rate) {
            (Some(c), Some(r)) => format!("thread CPU {:.3} s = {r:.0}/s", c.as_secs_f64()),
            _ => "thread CPU time unavailable".to_owned(),
        },
        classes[0],
        classes[1],
        classes[2],
        classes[3],
        if best >= 1_000_000.0 { "met" } else { "MISSED" }
    );
}

fn run(label: &str, policy: &Policy, n: usize) {
    let mut rng = common::Rng::new(7);
    let pool = common::findings(pool_size(), &mut rng);
    let intel = common::intel(&mut rng);
    let previous: Vec<Option<PreviousDecision>> = pool
        .iter()
        .enumerate()
        .map(|(i, f)| (i % 2 == 0).then(|| decide(policy, &intel, f, None).state))
        .collect();
    // Warm-up: caches, allocator, branch predictors.
    for (f, p) in pool.iter().zip(&previous) {
        black_box(decide(policy, &intel, f, p.as_ref()));
    }
    // The decision: class, due_at and the rules that fired with their
    // values (what the SLA, the schedule and compliance act on).
    measure(&format!("decide ({label})"), n, |i| {
        let k = i % pool.len();
        let a = assess(policy, &intel, &pool[k], previous[k].as_ref());
        let p = a.priority();
        black_box(a);
        p
    });
    // The same plus the rendered `finding.prioritized` payload: every
    // reason's text and the copied inputs (what the adapter publishes).
    measure(&format!("decide + render payload ({label})"), n / 4, |i| {
        let k = i % pool.len();
        let d = decide(policy, &intel, &pool[k], previous[k].as_ref());
        let p = d.state.priority;
        black_box(d);
        p
    });
}

fn main() {
    let n = std::env::var("PATCHFLOW_BENCH_DECISIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    run("rules mode", &Policy::default(), n);
    let ssvc = Policy {
        mode: PolicyMode::Ssvc,
        ..Policy::default()
    };
    run("ssvc mode", &ssvc, n);
}
