//! The ring run state machine, driven through whole scenarios: waves,
//! results, timeouts, halts, rollbacks, windows and id stability.

mod common;

use common::*;
use deploy::{
    Decision, DeployError, RingOutcome, RingRun, RunStatus, input_key, state_key, to_events,
};
use events::{
    Event, JobAction, JobStatus, Payload, RolloutPolicy, Service, WindowInstance, WindowSet,
    derive_id,
};
use uuid::Uuid;

/// The expected summary lines of a wave start: one apply job per host, then
/// `started`.
fn wave_start(wave: u32, kind: &str, hosts: &[&str], due: &str) -> Vec<String> {
    let mut lines: Vec<String> = hosts
        .iter()
        .map(|h| {
            format!(
                "prod/{wave}/job/{h} | job apply w{wave} {h} [pkg:openssl@3.0.13-1,advisory:DSA-{h}] expires {due}"
            )
        })
        .collect();
    lines.push(format!(
        "prod/{wave}/started | started w{wave} {kind} [{}] due {due}",
        hosts.join(",")
    ));
    lines
}

fn strs(lines: &[String]) -> Vec<&str> {
    lines.iter().map(String::as_str).collect()
}

fn ten_hosts_always_open() -> BundleScheduledFixture {
    scheduled(
        &hosts(10),
        RolloutPolicy::default(),
        wide_window(),
        WindowSet::always(),
    )
}

type BundleScheduledFixture = events::BundleScheduled;

#[test]
fn a_ring_runs_wave_by_wave_to_done() {
    let t0 = utc("2026-11-30T01:00:00Z");
    let (mut sim, out) = Sim::start(&ten_hosts_always_open(), t0);
    assert_eq!(sim.run.waves.len(), 4);
    check(
        &Decision::Advance(out),
        &strs(&wave_start(0, "Canary", &["h01"], "30 01:30")),
    );
    assert_eq!(
        sim.run.status,
        RunStatus::Running {
            wave: 0,
            results_due_at: utc("2026-11-30T01:30:00Z")
        }
    );

    let d = sim.apply("h01", JobStatus::Succeeded, utc("2026-11-30T01:05:00Z"));
    check(
        &d,
        &["prod/0/completed | completed w0 Canary ring 0/1 last=false [h01:ok]"],
    );
    let Payload::WaveCompleted(c) = &d.outputs()[0].payload else {
        panic!("not a completion")
    };
    assert_eq!(
        c.hosts[0].result_event_id,
        Some(result_id("h01", JobAction::Apply))
    );
    assert_eq!(
        c.hosts[0].remediations,
        vec!["pkg:openssl@3.0.13-1", "advisory:DSA-h01"]
    );
    assert_eq!(sim.run.status, RunStatus::AwaitingValidation { wave: 0 });

    let d = sim.passed(0, utc("2026-11-30T01:10:00Z"));
    check(
        &d,
        &strs(&wave_start(1, "Batch", &["h02", "h03", "h04"], "30 01:40")),
    );

    // Out of order, a duplicate, a stale job id, a host answering another's job.
    let t = utc("2026-11-30T01:12:00Z");
    check(&sim.apply("h04", JobStatus::Succeeded, t), &[]);
    check_skip(
        &sim.apply("h04", JobStatus::Succeeded, t),
        "already has a result",
    );
    let stale = answer(
        &sim.job("h01", JobAction::Apply),
        JobStatus::Succeeded,
        None,
    );
    check_skip(
        &sim.result(&stale, Uuid::from_u128(9), t),
        "is not a job of wave 1",
    );
    let mut wrong_host = answer(
        &sim.job("h02", JobAction::Apply),
        JobStatus::Succeeded,
        None,
    );
    wrong_host.host = "h03".into();
    check_skip(
        &sim.result(&wrong_host, Uuid::from_u128(10), t),
        "not to the reporting host",
    );
    let mut foreign = answer(
        &sim.job("h02", JobAction::Apply),
        JobStatus::Succeeded,
        None,
    );
    foreign.bundle_id = Uuid::from_u128(77);
    check_skip(
        &sim.result(&foreign, Uuid::from_u128(11), t),
        "reached the run",
    );
    check(&sim.apply("h03", JobStatus::Succeeded, t), &[]);
    check(
        &sim.apply("h02", JobStatus::Succeeded, t),
        &["prod/1/completed | completed w1 Batch ring 0/4 last=false [h02:ok,h03:ok,h04:ok]"],
    );

    // A pass for another wave, or a repeated one, moves nothing.
    check_skip(
        &sim.passed(0, utc("2026-11-30T01:20:00Z")),
        "awaits the validation of wave 1",
    );
    check(
        &sim.passed(1, utc("2026-11-30T01:20:00Z")),
        &strs(&wave_start(2, "Batch", &["h05", "h06", "h07"], "30 01:50")),
    );
    check_skip(
        &sim.passed(1, utc("2026-11-30T01:21:00Z")),
        "awaits no validation",
    );
    let t = utc("2026-11-30T01:25:00Z");
    for h in ["h05", "h07"] {
        check(&sim.apply(h, JobStatus::Succeeded, t), &[]);
    }
    check(
        &sim.apply("h06", JobStatus::Succeeded, t),
        &["prod/2/completed | completed w2 Batch ring 0/7 last=false [h05:ok,h06:ok,h07:ok]"],
    );
    check(
        &sim.passed(2, utc("2026-11-30T01:30:00Z")),
        &strs(&wave_start(3, "Batch", &["h08", "h09", "h10"], "30 02:00")),
    );
    let t = utc("2026-11-30T01:35:00Z");
    for h in ["h10", "h08"] {
        check(&sim.apply(h, JobStatus::Succeeded, t), &[]);
    }
    check(
        &sim.apply("h09", JobStatus::Succeeded, t),
        &["prod/3/completed | completed w3 Batch ring 0/10 last=true [h08:ok,h09:ok,h10:ok]"],
    );
    assert_eq!(sim.run.outcome(), RingOutcome::InProgress);
    check(&sim.passed(3, utc("2026-11-30T01:40:00Z")), &[]);
    assert_eq!(sim.run.status, RunStatus::Done);
    assert_eq!(sim.run.outcome(), RingOutcome::Completed);
    assert_eq!(sim.run.wakes_at(), None);
    check_skip(
        &sim.passed(3, utc("2026-11-30T01:41:00Z")),
        "awaits no validation",
    );
    check_skip(
        &sim.tick(utc("2026-12-01T00:00:00Z")),
        "nothing is due (done)",
    );
    // 4 started + 10 jobs + 4 completed, and each host's install step
    // started and finished.
    assert_eq!(sim.log.len(), 18 + 2 * 10);
    assert_eq!(sim.log.iter().filter(|o| is_step(o)).count(), 20);
}

#[test]
fn silent_hosts_time_out_on_the_tick_at_their_due_time() {
    // Canary h01, then one batch h02..h04; up to half may fail.
    let policy = RolloutPolicy {
        batch_percent: 75,
        max_failed_percent: 50.0,
        ..RolloutPolicy::default()
    };
    let t0 = utc("2026-11-30T01:00:00Z");
    let (mut sim, _) = Sim::start(
        &scheduled(&hosts(4), policy, wide_window(), WindowSet::always()),
        t0,
    );
    sim.apply("h01", JobStatus::Succeeded, utc("2026-11-30T01:01:00Z"));
    sim.passed(0, utc("2026-11-30T01:02:00Z"));
    // Wave 1 = h02..h04 due at 01:32; h03 stays silent.
    sim.apply("h02", JobStatus::Succeeded, utc("2026-11-30T01:03:00Z"));
    sim.apply("h04", JobStatus::Succeeded, utc("2026-11-30T01:04:00Z"));
    assert_eq!(sim.run.wakes_at(), Some(utc("2026-11-30T01:32:00Z")));
    check_skip(
        &sim.tick(utc("2026-11-30T01:31:59Z")),
        "wave 1 results are due at 2026-11-30 01:32:00 UTC",
    );
    let d = sim.tick(utc("2026-11-30T01:32:00Z"));
    check(
        &d,
        &["prod/1/completed | completed w1 Batch ring 1/4 last=true [h02:ok,h03:timed_out,h04:ok]"],
    );
    let Payload::WaveCompleted(c) = &d.outputs()[0].payload else {
        panic!("not a completion")
    };
    assert_eq!(
        c.hosts[1].reason.as_deref(),
        Some("install: no result within 1800 s")
    );
    assert_eq!(c.hosts[1].result_event_id, None);
    // Repeated ticks and a late result change nothing.
    check_skip(&sim.tick(utc("2026-11-30T01:33:00Z")), "nothing is due");
    check_skip(
        &sim.apply("h03", JobStatus::Succeeded, utc("2026-11-30T01:34:00Z")),
        "no wave of ring prod awaits results",
    );
    sim.passed(1, utc("2026-11-30T01:40:00Z"));
    assert_eq!(
        sim.run.outcome(),
        RingOutcome::CompletedWithFailures { failed: 1 }
    );
    assert_eq!(sim.run.outcome().to_string(), "completed with failures");
}

#[test]
fn a_failed_canary_halts_the_ring_and_asks_to_roll_it_back() {
    let t0 = utc("2026-11-30T01:00:00Z");
    let (mut sim, _) = Sim::start(&ten_hosts_always_open(), t0);
    let d = sim.apply("h01", JobStatus::Failed, utc("2026-11-30T01:05:00Z"));
    check(
        &d,
        &[
            "prod/0/halted | halted w0 Canary ring 1/1 [h01:failed] never_started=9 \
             reason=failed 1 of 1 attempted hosts (100.0%) > 10%; canary failed entirely",
            "prod/0/rollback-requested | rollback-requested w0 [h01] reason=canary of ring prod \
             halted: failed 1 of 1 attempted hosts (100.0%) > 10%; canary failed entirely",
        ],
    );
    let Payload::WaveHalted(h) = &d.outputs()[0].payload else {
        panic!("not a halt")
    };
    assert_eq!(h.never_started, hosts(10)[1..].to_vec());
    assert_eq!(
        h.hosts[0].reason.as_deref(),
        Some("install: dpkg: error processing openssl")
    );
    assert!(matches!(sim.run.status, RunStatus::Halted { wave: 0, .. }));
    assert!(matches!(sim.run.outcome(), RingOutcome::Halted { .. }));
    // Nothing moves a halted ring forward.
    check_skip(
        &sim.passed(0, utc("2026-11-30T01:06:00Z")),
        "awaits no validation",
    );
    check_skip(
        &sim.tick(utc("2026-11-30T03:00:00Z")),
        "nothing is due (halted)",
    );

    // deploy consumes its own request: one rollback job with the apply job's remediations.
    let Payload::RollbackRequested(req) = &d.outputs()[1].payload else {
        panic!("not a rollback request")
    };
    let t = utc("2026-11-30T01:06:00Z");
    check(
        &sim.rollback(req, t),
        &[
            "prod/rollback/job/h01 | job rollback w0 h01 [pkg:openssl@3.0.13-1,advisory:DSA-h01] expires 30 01:36",
        ],
    );
    check_skip(&sim.rollback(req, t), "already rolled back");
    check(
        &sim.answer("h01", JobAction::Rollback, JobStatus::Succeeded, t),
        &["prod/rollback/completed | rollback-completed [h01:ok]"],
    );
    check_skip(
        &sim.answer("h01", JobAction::Rollback, JobStatus::Succeeded, t),
        "no rollback of ring prod is in progress",
    );
    assert_eq!(sim.run.wakes_at(), None);
}

#[test]
fn a_halt_rolls_back_failed_and_timed_out_hosts_not_refused_ones() {
    // No canary, batches of 50 %: [h01,h02,h03] then [h04,h05,h06].
    let policy = RolloutPolicy {
        canary_hosts: 0,
        batch_percent: 50,
        ..RolloutPolicy::default()
    };
    let t0 = utc("2026-11-30T01:00:00Z");
    let (mut sim, _) = Sim::start(
        &scheduled(&hosts(6), policy, wide_window(), WindowSet::always()),
        t0,
    );
    sim.apply("h01", JobStatus::Failed, utc("2026-11-30T01:10:00Z"));
    sim.apply("h02", JobStatus::Refused, utc("2026-11-30T01:10:00Z"));
    let d = sim.tick(utc("2026-11-30T01:30:00Z"));
    check(
        &d,
        &[
            "prod/0/halted | halted w0 Batch ring 3/3 [h01:failed,h02:failed,h03:timed_out] \
             never_started=3 reason=failed 3 of 3 attempted hosts (100.0%) > 10%; batch 1 failed entirely",
            "prod/0/rollback-requested | rollback-requested w0 [h01,h03] reason=batch 1 of ring prod \
             halted: failed 3 of 3 attempted hosts (100.0%) > 10%; batch 1 failed entirely",
        ],
    );
    let Payload::RollbackRequested(req) = d.outputs()[1].payload.clone() else {
        panic!("not a rollback request")
    };

    let t1 = utc("2026-11-30T01:31:00Z");
    check(
        &sim.rollback(&req, t1),
        &[
            "prod/rollback/job/h01 | job rollback w0 h01 [pkg:openssl@3.0.13-1,advisory:DSA-h01] expires 30 02:01",
            "prod/rollback/job/h03 | job rollback w0 h03 [pkg:openssl@3.0.13-1,advisory:DSA-h03] expires 30 02:01",
        ],
    );
    assert_eq!(sim.run.wakes_at(), Some(utc("2026-11-30T02:01:00Z")));
    check(
        &sim.answer("h01", JobAction::Rollback, JobStatus::Succeeded, t1),
        &[],
    );
    check_skip(
        &sim.tick(utc("2026-11-30T02:00:59Z")),
        "rollback results are due at 2026-11-30 02:01:00 UTC",
    );
    let d = sim.tick(utc("2026-11-30T02:01:00Z"));
    check(
        &d,
        &["prod/rollback/completed | rollback-completed [h01:ok,h03:timed_out]"],
    );
    let Payload::RollbackCompleted(rc) = &d.outputs()[0].payload else {
        panic!("not a rollback completion")
    };
    assert_eq!(
        rc.hosts[1].reason.as_deref(),
        Some("no rollback result within 1800 s")
    );
    assert_eq!(
        rc.hosts[1].job_id,
        derive_id(BUNDLE, "deploy", "prod/rollback/job/h03")
    );
    assert_eq!(
        rc.hosts[0].result_event_id,
        Some(result_id("h01", JobAction::Rollback))
    );
    check_skip(&sim.tick(utc("2026-11-30T02:02:00Z")), "nothing is due");
    // The same request again, and hosts never started or unknown: nothing new.
    check_skip(&sim.rollback(&req, t1), "already rolled back");
    check_skip(
        &sim.rollback(&rollback(1, &["h05", "nope"], "operator"), t1),
        "never started",
    );
    // A host named after the first rollback completed starts round 1.
    check(
        &sim.rollback(&rollback(0, &["h02", "h01"], "operator"), t1),
        &[
            "prod/rollback/job/h02 | job rollback w0 h02 [pkg:openssl@3.0.13-1,advisory:DSA-h02] expires 30 02:01",
        ],
    );
    check(
        &sim.answer("h02", JobAction::Rollback, JobStatus::Failed, t1),
        &["prod/rollback/1/completed | rollback-completed [h02:failed]"],
    );
}

#[test]
fn a_validation_rollback_stops_the_ring() {
    let t0 = utc("2026-11-30T01:00:00Z");
    let (mut sim, _) = Sim::start(&ten_hosts_always_open(), t0);
    sim.apply("h01", JobStatus::Succeeded, utc("2026-11-30T01:01:00Z"));
    let t = utc("2026-11-30T01:05:00Z");
    check(
        &sim.rollback(&rollback(0, &["h01", "h01"], "health check web failed"), t),
        &[
            "prod/rollback/job/h01 | job rollback w0 h01 [pkg:openssl@3.0.13-1,advisory:DSA-h01] expires 30 01:35",
        ],
    );
    assert_eq!(
        sim.run.status,
        RunStatus::Halted {
            wave: 0,
            reason: "rollback requested: health check web failed".into()
        }
    );
    check_skip(&sim.passed(0, t), "awaits no validation");
}

#[test]
fn a_wave_waits_outside_the_window_and_starts_at_the_next_opening() {
    // Mondays 02:00-04:00 Europe/Berlin. 2027-03-22 is CET (01:00Z); DST
    // begins 2027-03-28, so 2027-03-29 opens at 00:00Z.
    let released = WindowInstance {
        opens_at: utc("2027-03-22T01:00:00Z"),
        closes_at: utc("2027-03-22T03:00:00Z"),
    };
    let (mut sim, out) = Sim::start(
        &scheduled(
            &hosts(4),
            RolloutPolicy::default(),
            released,
            berlin_mondays(),
        ),
        utc("2027-03-22T01:00:00Z"),
    );
    check(
        &Decision::Advance(out),
        &strs(&wave_start(0, "Canary", &["h01"], "22 01:30")),
    );
    sim.apply("h01", JobStatus::Succeeded, utc("2027-03-22T01:20:00Z"));
    // The gate passes inside the window: wave 1 starts.
    check(
        &sim.passed(0, utc("2027-03-22T02:30:00Z")),
        &strs(&wave_start(1, "Batch", &["h02"], "22 03:00")),
    );
    sim.apply("h02", JobStatus::Succeeded, utc("2027-03-22T02:40:00Z"));
    // The gate passes after the window closed: no host starts.
    check(&sim.passed(1, utc("2027-03-22T03:00:00Z")), &[]);
    assert_eq!(
        sim.run.status,
        RunStatus::PausedForWindow {
            next_wave: 2,
            resume_at: utc("2027-03-29T00:00:00Z")
        }
    );
    assert_eq!(sim.run.wakes_at(), Some(utc("2027-03-29T00:00:00Z")));
    check_skip(
        &sim.tick(utc("2027-03-28T23:59:59Z")),
        "wave 2 waits for the window at 2027-03-29 00:00:00 UTC",
    );
    check(
        &sim.tick(utc("2027-03-29T00:00:00Z")),
        &strs(&wave_start(2, "Batch", &["h03"], "29 00:30")),
    );
    check_skip(
        &sim.tick(utc("2027-03-29T00:00:01Z")),
        "wave 2 results are due",
    );
    sim.apply("h03", JobStatus::Succeeded, utc("2027-03-29T00:10:00Z"));
    check(
        &sim.passed(2, utc("2027-03-29T00:20:00Z")),
        &strs(&wave_start(3, "Batch", &["h04"], "29 00:50")),
    );
}

#[test]
fn a_missed_window_moves_the_resume_time_to_the_next_opening() {
    let released = WindowInstance {
        opens_at: utc("2026-11-30T01:00:00Z"),
        closes_at: utc("2026-11-30T03:00:00Z"),
    };
    // Released after its window closed (a late redelivery): nothing starts.
    let (mut sim, out) = Sim::start(
        &scheduled(
            &hosts(2),
            RolloutPolicy::default(),
            released,
            berlin_mondays(),
        ),
        utc("2026-11-30T05:00:00Z"),
    );
    assert!(out.is_empty());
    assert_eq!(
        sim.run.status,
        RunStatus::PausedForWindow {
            next_wave: 0,
            resume_at: utc("2026-12-07T01:00:00Z")
        }
    );
    assert_eq!(sim.run.current_wave(), None);
    // The service was down through the 12-07 window: resume moves on, silently.
    check(&sim.tick(utc("2026-12-07T03:30:00Z")), &[]);
    assert_eq!(
        sim.run.status,
        RunStatus::PausedForWindow {
            next_wave: 0,
            resume_at: utc("2026-12-14T01:00:00Z")
        }
    );
    check_skip(
        &sim.tick(utc("2026-12-07T03:31:00Z")),
        "waits for the window",
    );
    check(
        &sim.tick(utc("2026-12-14T01:00:05Z")),
        &strs(&wave_start(0, "Canary", &["h01"], "14 01:30")),
    );
}

#[test]
fn the_released_window_admits_waves_outside_the_weekly_windows() {
    // Emergency lane: released into an instance outside the Monday windows.
    let emergency = WindowInstance {
        opens_at: utc("2026-12-02T10:00:00Z"),
        closes_at: utc("2026-12-05T10:00:00Z"),
    };
    let (mut sim, out) = Sim::start(
        &scheduled(
            &hosts(2),
            RolloutPolicy::default(),
            emergency,
            berlin_mondays(),
        ),
        utc("2026-12-02T10:00:00Z"),
    );
    assert_eq!(out.len(), 2);
    sim.apply("h01", JobStatus::Succeeded, utc("2026-12-02T10:10:00Z"));
    check(
        &sim.passed(0, utc("2026-12-03T09:00:00Z")),
        &strs(&wave_start(1, "Batch", &["h02"], "03 09:30")),
    );
}

#[test]
fn output_ids_depend_on_the_output_not_on_the_trigger() {
    let window = WindowInstance {
        opens_at: utc("2026-11-30T01:00:00Z"),
        closes_at: utc("2026-11-30T03:00:00Z"),
    };
    let s = scheduled(
        &hosts(4),
        RolloutPolicy::default(),
        window,
        berlin_mondays(),
    );
    let t0 = utc("2026-11-30T01:00:00Z");
    let (mut a, _) = Sim::start(&s, t0);
    let (mut b, _) = Sim::start(&s, t0);
    // The same last result, at different instants: the same completion id.
    let da = a.apply("h01", JobStatus::Succeeded, utc("2026-11-30T01:01:00Z"));
    let db = b.apply("h01", JobStatus::Succeeded, utc("2026-11-30T01:29:00Z"));
    assert_eq!(da.outputs()[0].id, db.outputs()[0].id);
    assert_eq!(
        da.outputs()[0].id,
        derive_id(BUNDLE, "deploy", "prod/0/completed")
    );
    // Wave 1 started by the gate (a) or by a tick a week later (b): same ids.
    let da = a.passed(0, utc("2026-11-30T01:10:00Z"));
    check_skip(&b.passed(1, utc("2026-11-30T03:10:00Z")), "not of wave 1");
    check(&b.passed(0, utc("2026-11-30T03:10:00Z")), &[]);
    let db = b.tick(utc("2026-12-07T01:00:00Z"));
    let ids = |d: &Decision| d.outputs().iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(ids(&da), ids(&db));
    assert_ne!(da.outputs(), db.outputs(), "times differ, ids do not");
    // A wave finished by a tick (a) or by the last result (b): same id.
    let d_tick = a.tick(utc("2026-11-30T02:00:00Z"));
    let d_result = b.apply("h02", JobStatus::Succeeded, utc("2026-12-07T01:05:00Z"));
    assert_eq!(d_tick.outputs()[0].key, "prod/1/halted");
    assert_eq!(d_result.outputs()[0].key, "prod/1/completed");
    // Repeated ticks after the halt emit nothing; the events carry the ids.
    check_skip(&a.tick(utc("2026-11-30T02:00:01Z")), "nothing is due");
    let events = to_events(d_tick.outputs().to_vec(), utc("2026-11-30T02:00:00Z"));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].id, derive_id(BUNDLE, "deploy", "prod/1/halted"));
    assert_eq!(
        events[1].id,
        derive_id(BUNDLE, "deploy", "prod/1/rollback-requested")
    );
    assert_eq!(events[0].source, Service::Deploy.source());
    assert_eq!(events[0].time, utc("2026-11-30T02:00:00Z"));
    // Job ids are the job events' ids and stay put across a restart from KV.
    let restored = RingRun::decode(&b.run.encode()).unwrap();
    assert_eq!(restored, b.run);
    assert_eq!(
        restored.jobs[0].job_id,
        derive_id(BUNDLE, "deploy", "prod/1/job/h02")
    );
}

#[test]
fn on_event_routes_inputs_and_uses_the_result_event_id() {
    let t0 = utc("2026-11-30T01:00:00Z");
    let s = ten_hosts_always_open();
    let (mut run, out) = RingRun::start(&s, t0).unwrap();
    let Some(Payload::AgentJob(job)) = out
        .iter()
        .map(|o| &o.payload)
        .find(|p| matches!(p, Payload::AgentJob(_)))
    else {
        panic!("not a job")
    };
    let result = Event::new(
        Uuid::from_u128(500),
        Service::Agent,
        t0,
        answer(job, JobStatus::Succeeded, None),
    );
    assert_eq!(input_key(&result.data), Some(state_key(BUNDLE, "prod")));
    let d = without_steps(run.on_event(&result, t0).unwrap());
    let Payload::WaveCompleted(c) = &d.outputs()[0].payload else {
        panic!("not a completion")
    };
    assert_eq!(c.hosts[0].result_event_id, Some(Uuid::from_u128(500)));
    let again = Event::new(Uuid::from_u128(501), Service::Schedule, t0, s.clone());
    check_skip(&run.on_event(&again, t0).unwrap(), "already running");
    let passed = Event::new(Uuid::from_u128(502), Service::Validate, t0, passed(0));
    let next = without_steps(run.on_event(&passed, t0).unwrap());
    assert_eq!(next.outputs().len(), 4);
}

#[test]
fn bad_releases_are_refused_and_empty_rings_are_done() {
    let t0 = utc("2026-11-30T01:00:00Z");
    let ok = ten_hosts_always_open();
    let check_err = |s: &events::BundleScheduled, want: &str| match RingRun::start(s, t0) {
        Err(e) => assert!(e.to_string().contains(want), "{e}"),
        Ok(_) => panic!("accepted: {want}"),
    };
    let mut dup = ok.clone();
    dup.hosts[3].asset_id = "h01".into();
    check_err(&dup, "lists host \"h01\" twice");
    let mut empty = ok.clone();
    empty.hosts[0].asset_id = String::new();
    check_err(&empty, "empty asset id");
    let mut tz = ok.clone();
    tz.windows = WindowSet {
        timezone: "Mars/Olympus".into(),
        ..WindowSet::always()
    };
    check_err(&tz, "unknown time zone");
    let mut nan = ok.clone();
    nan.rollout.max_failed_percent = f64::NAN;
    check_err(&nan, "max_failed_percent NaN");
    let mut zero = ok.clone();
    zero.rollout.result_timeout_secs = 0;
    check_err(&zero, "result_timeout_secs 0");
    assert!(matches!(
        RingRun::start(&dup, t0),
        Err(DeployError::DuplicateHost { .. })
    ));

    let mut none = ok;
    none.hosts.clear();
    let (run, out) = RingRun::start(&none, t0).unwrap();
    assert!(out.is_empty());
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.outcome(), RingOutcome::Completed);
    assert!(matches!(
        RingRun::decode(b"{\"nope\":1}"),
        Err(DeployError::State(_))
    ));
}
