//! `cargo bench -p prioritize --bench decide`: decisions per second of the
//! pure [`prioritize::decide`] on one core, for 1,000,000 findings (target
//! ≥ 1,000,000/s), in the rules mode and in the SSVC mode.
//!
//! The findings cycle through a pool of 4,096 distinct ones (CVSS v3.1
//! base vectors drawn from all 2,592, some v4.0 and v2, 5,000 CVEs, tiers,
//! exposure); half of them carry a previous decision (the SLA memory). The
//! pool fits in the CPU caches, as a finding the adapter has just decoded
//! does. Set `PATCHFLOW_BENCH_DECISIONS` to change the count.

mod common;

use std::hint::black_box;
use std::time::Instant;

use prioritize::policy::{Policy, PolicyMode};
use prioritize::{PreviousDecision, decide};

/// Distinct findings the decisions cycle through.
const POOL: usize = 4096;

fn run(label: &str, policy: &Policy, n: usize) {
    let mut rng = common::Rng::new(7);
    let pool = common::findings(POOL, &mut rng);
    let intel = common::intel(&mut rng);
    let previous: Vec<Option<PreviousDecision>> = pool
        .iter()
        .enumerate()
        .map(|(i, f)| (i % 2 == 0).then(|| decide(policy, &intel, f, None).state))
        .collect();
    // Warm-up: caches, allocator, branch predictors.
    for (f, p) in pool.iter().zip(&previous).take(POOL) {
        black_box(decide(policy, &intel, f, p.as_ref()));
    }
    let mut classes = [0usize; 4];
    let started = Instant::now();
    for i in 0..n {
        let k = i % pool.len();
        let d = decide(policy, &intel, &pool[k], previous[k].as_ref());
        classes[d.state.priority as usize] += 1;
        black_box(d);
    }
    let elapsed = started.elapsed();
    let rate = n as f64 / elapsed.as_secs_f64();
    println!(
        "decide ({label}): {n} decisions in {:.3} s = {:.0} decisions/s on one core \
         ({:.0} ns each; critical {}, high {}, medium {}, low {}) target >= 1000000/s: {}",
        elapsed.as_secs_f64(),
        rate,
        elapsed.as_nanos() as f64 / n as f64,
        classes[0],
        classes[1],
        classes[2],
        classes[3],
        if rate >= 1_000_000.0 { "met" } else { "MISSED" }
    );
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
