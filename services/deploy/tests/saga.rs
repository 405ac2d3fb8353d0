//! The host saga, step by step (issue 5 item 5): each step is an event; the
//! webhook steps, the reboot and the wait for the agent; what a failed or
//! timed-out step does to the host and to the rollback; and a run stored in
//! the middle of a saga resumes where it was.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use deploy::saga::SagaPlan;
use deploy::{Decision, RingRun};
use events::{
    AgentJob, AgentOnline, Event, HostStepFinished, JobAction, JobStatus, Payload, RebootRef,
    RolloutPolicy, SagaStep, Service, StepOutcome, WindowSet,
};
use uuid::Uuid;

fn plan(webhooks: &[SagaStep]) -> SagaPlan {
    SagaPlan {
        webhooks: webhooks.iter().copied().collect(),
        webhook_timeout_secs: 60,
        reboot_timeout_secs: 600,
    }
}

/// One canary host, then batches of 50 %; halt on any failure.
fn strict() -> RolloutPolicy {
    RolloutPolicy {
        canary_hosts: 1,
        batch_percent: 50,
        max_failed_percent: 0.0,
        halt_on_full_batch_failure: true,
        result_timeout_secs: 1800,
    }
}

const T0: &str = "2026-11-30T01:00:00Z";

fn start(n: usize, saga: SagaPlan) -> (RingRun, Vec<String>) {
    let s = scheduled(&hosts(n), strict(), wide_window(), WindowSet::always());
    let (run, outputs) = RingRun::start_with_saga(&s, saga, utc(T0)).unwrap();
    (run, outputs.iter().map(summary).collect())
}

fn lines(d: &Decision) -> Vec<String> {
    d.outputs().iter().map(summary).collect()
}

/// The job of `action` the run sent to `host` in `d`.
fn job_in(d: &[deploy::Output], host: &str, action: JobAction) -> AgentJob {
    d.iter()
        .find_map(|o| match &o.payload {
            Payload::AgentJob(j) if j.host == host && j.action == action => Some(j.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {action:?} job for {host}"))
}

/// The step runner's end of `host`'s active webhook step.
fn webhook_done(
    run: &RingRun,
    host: &str,
    outcome: StepOutcome,
    detail: &str,
    at: DateTime<Utc>,
) -> HostStepFinished {
    let job = run.jobs.iter().find(|j| j.host == host).unwrap();
    let active = job.step.as_ref().expect("a step in progress");
    HostStepFinished {
        bundle_id: BUNDLE,
        ring: "prod".into(),
        wave: job.wave,
        host: host.into(),
        step: active.step,
        outcome,
        detail: detail.into(),
        started_event_id: active.started_event_id,
        finished_at: at,
    }
}

/// The step runner ends `host`'s active webhook step with `outcome` (event
/// `id`), and the run takes it.
fn hook(
    run: &mut RingRun,
    id: u128,
    host: &str,
    outcome: StepOutcome,
    detail: &str,
    at: DateTime<Utc>,
) -> Decision {
    let done = webhook_done(run, host, outcome, detail, at);
    run.on_event(&ev(id, done), at).unwrap()
}

fn ev(id: u128, data: impl Into<Payload>) -> Event {
    Event::new(Uuid::from_u128(id), Service::Agent, utc(T0), data)
}

fn online(job: &AgentJob, before: &str, now: &str) -> AgentOnline {
    AgentOnline {
        host: job.host.clone(),
        boot_id: now.into(),
        started_at: utc(T0),
        reboot: Some(RebootRef {
            job_id: job.job_id,
            bundle_id: job.bundle_id,
            ring: job.ring.clone(),
            wave: job.wave,
            boot_id_before: before.into(),
        }),
        detail: None,
    }
}

#[test]
fn every_step_runs_in_order_and_each_is_an_event() {
    let all = plan(&[
        SagaStep::PreCheck,
        SagaStep::Snapshot,
        SagaStep::MaintenanceOn,
        SagaStep::PostCheck,
        SagaStep::MaintenanceOff,
        SagaStep::Cmdb,
    ]);
    let (mut run, out) = start(2, all);
    // The canary's saga begins with its pre-check; no job goes out yet.
    assert_eq!(
        out,
        [
            "prod/0/step/h01/pre_check/started | step pre_check started w0 h01 due 30 01:01",
            "prod/0/started | started w0 Canary [h01] due 30 01:30",
        ]
    );
    let t = utc("2026-11-30T01:00:10Z");
    let mut d = hook(&mut run, 1, "h01", StepOutcome::Succeeded, "GET: 200 OK", t);
    assert_eq!(
        lines(&d),
        ["prod/0/step/h01/snapshot/started | step snapshot started w0 h01 due 30 01:01"]
    );
    d = hook(&mut run, 2, "h01", StepOutcome::Succeeded, "201", t);
    assert_eq!(
        lines(&d),
        [
            "prod/0/step/h01/maintenance_on/started | step maintenance_on started w0 h01 due 30 01:01"
        ]
    );
    d = hook(&mut run, 3, "h01", StepOutcome::Succeeded, "204", t);
    assert_eq!(
        lines(&d),
        [
            "prod/0/step/h01/install/started | step install started w0 h01 due 30 01:30",
            "prod/0/job/h01 | job apply w0 h01 [pkg:openssl@3.0.13-1,advisory:DSA-h01] expires 30 01:30",
        ]
    );
    // The install asks for a reboot: the reboot job goes out.
    let install = job_in(d.outputs(), "h01", JobAction::Apply);
    let mut done = answer(&install, JobStatus::Succeeded, None);
    done.reboot_required = true;
    done.inventory.applied = vec!["pkg:openssl@3.0.13-1".into(), "advisory:DSA-h01".into()];
    done.inventory.boot_id = "boot-a".into();
    d = run.on_event(&ev(4, done), t).unwrap();
    assert_eq!(
        lines(&d),
        [
            "prod/0/step/h01/install/finished | step install Succeeded w0 h01 (installed 2 remediation(s); reboot required)",
            "prod/0/step/h01/reboot/started | step reboot started w0 h01 due 30 01:30",
            "prod/0/reboot/h01 | job reboot w0 h01 [] expires 30 01:30",
        ]
    );
    let reboot = job_in(d.outputs(), "h01", JobAction::Reboot);
    let mut accepted = answer(&reboot, JobStatus::Succeeded, None);
    accepted.inventory.boot_id = "boot-a".into();
    d = run.on_event(&ev(5, accepted), t).unwrap();
    assert_eq!(
        lines(&d),
        [
            "prod/0/step/h01/reboot/finished | step reboot Succeeded w0 h01 (reboot accepted by the agent (boot id boot-a))",
            "prod/0/step/h01/await_agent/started | step await_agent started w0 h01 due 30 01:10",
        ]
    );
    d = run
        .on_event(&ev(6, online(&reboot, "boot-a", "boot-b")), t)
        .unwrap();
    assert_eq!(
        lines(&d),
        [
            "prod/0/step/h01/await_agent/finished | step await_agent Succeeded w0 h01 (agent back with boot id boot-b (was boot-a))",
            "prod/0/step/h01/post_check/started | step post_check started w0 h01 due 30 01:01",
        ]
    );
    d = hook(&mut run, 7, "h01", StepOutcome::Succeeded, "200", t);
    assert_eq!(
        lines(&d),
        [
            "prod/0/step/h01/maintenance_off/started | step maintenance_off started w0 h01 due 30 01:01"
        ]
    );
    // Bookkeeping that fails is reported, not a host failure.
    d = hook(&mut run, 8, "h01", StepOutcome::Failed, "503", t);
    assert_eq!(
        lines(&d),
        ["prod/0/step/h01/cmdb/started | step cmdb started w0 h01 due 30 01:01"]
    );
    d = hook(&mut run, 9, "h01", StepOutcome::Succeeded, "200", t);
    assert_eq!(
        lines(&d),
        ["prod/0/completed | completed w0 Canary ring 0/1 last=false [h01:ok]"]
    );
    let Payload::WaveCompleted(c) = &d.outputs()[0].payload else {
        panic!("not a completion")
    };
    // Read-back uses the install's result.
    assert_eq!(c.hosts[0].result_event_id, Some(Uuid::from_u128(4)));
}

#[test]
fn a_failed_pre_check_fails_the_host_and_nothing_is_rolled_back() {
    let (mut run, _) = start(3, plan(&[SagaStep::PreCheck, SagaStep::PostCheck]));
    let t = utc("2026-11-30T01:00:05Z");
    let d = run
        .on_event(
            &ev(
                1,
                webhook_done(
                    &run,
                    "h01",
                    StepOutcome::Failed,
                    "GET http://h01/healthz: 503",
                    t,
                ),
            ),
            t,
        )
        .unwrap();
    assert_eq!(
        lines(&d),
        [
            "prod/0/halted | halted w0 Canary ring 1/1 [h01:failed] never_started=2 reason=failed 1 of 1 attempted hosts (100.0%) > 0%; canary failed entirely"
        ]
    );
    let Payload::WaveHalted(h) = &d.outputs()[0].payload else {
        panic!("not a halt")
    };
    assert_eq!(
        h.hosts[0].reason.as_deref(),
        Some("pre_check: GET http://h01/healthz: 503")
    );
}

#[test]
fn a_failed_post_check_fails_the_host_and_rolls_it_back() {
    let (mut run, out) = start(3, plan(&[SagaStep::PostCheck]));
    assert_eq!(out.len(), 3, "{out:?}");
    let t = utc("2026-11-30T01:00:05Z");
    let s = scheduled(&hosts(3), strict(), wide_window(), WindowSet::always());
    let install = {
        let (_, o) = RingRun::start_with_saga(&s, plan(&[SagaStep::PostCheck]), utc(T0)).unwrap();
        job_in(&o, "h01", JobAction::Apply)
    };
    let d = run
        .on_event(&ev(1, answer(&install, JobStatus::Succeeded, None)), t)
        .unwrap();
    assert_eq!(
        lines(&d),
        [
            "prod/0/step/h01/install/finished | step install Succeeded w0 h01 (installed 0 remediation(s))",
            "prod/0/step/h01/post_check/started | step post_check started w0 h01 due 30 01:01",
        ]
    );
    let d = hook(&mut run, 2, "h01", StepOutcome::Failed, "GET: 500", t);
    let got = lines(&d);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("prod/0/halted | halted w0 Canary ring 1/1 [h01:failed]"));
    assert_eq!(
        got[1],
        "prod/0/rollback-requested | rollback-requested w0 [h01] reason=canary of ring prod halted: failed 1 of 1 attempted hosts (100.0%) > 0%; canary failed entirely"
    );
}

#[test]
fn an_agent_that_does_not_come_back_times_out_and_a_late_one_changes_nothing() {
    let (mut run, out) = start(3, plan(&[]));
    assert_eq!(out.len(), 3);
    let t = utc("2026-11-30T01:00:05Z");
    let s = scheduled(&hosts(3), strict(), wide_window(), WindowSet::always());
    let (_, o) = RingRun::start_with_saga(&s, plan(&[]), utc(T0)).unwrap();
    let install = job_in(&o, "h01", JobAction::Apply);
    let mut done = answer(&install, JobStatus::Succeeded, None);
    done.reboot_required = true;
    let d = run.on_event(&ev(1, done), t).unwrap();
    let reboot = job_in(d.outputs(), "h01", JobAction::Reboot);
    let mut accepted = answer(&reboot, JobStatus::Succeeded, None);
    accepted.inventory.boot_id = "boot-a".into();
    run.on_event(&ev(2, accepted), t).unwrap();
    // Due 600 s after the reboot was accepted.
    assert_eq!(run.wakes_at(), Some(utc("2026-11-30T01:10:05Z")));
    match run.on_tick(utc("2026-11-30T01:10:04Z")).unwrap() {
        Decision::Skip { reason } => {
            assert_eq!(reason, "wave 0 results are due at 2026-11-30 01:10:05 UTC")
        }
        other => panic!("{other:?}"),
    }
    let d = run.on_tick(utc("2026-11-30T01:10:05Z")).unwrap();
    let got = lines(&d);
    assert_eq!(
        got[0],
        "prod/0/step/h01/await_agent/finished | step await_agent TimedOut w0 h01 (the agent did not come back within 600 s of its reboot)"
    );
    assert!(
        got[1].starts_with("prod/0/halted | halted w0 Canary ring 1/1 [h01:timed_out]"),
        "{got:?}"
    );
    assert!(
        got[2].starts_with("prod/0/rollback-requested | rollback-requested w0 [h01]"),
        "{got:?}"
    );
    // The agent returns after the timeout: the host stays failed.
    let late = run
        .on_event(
            &ev(3, online(&reboot, "boot-a", "boot-b")),
            utc("2026-11-30T01:11:00Z"),
        )
        .unwrap();
    assert!(!late.changed(), "{late:?}");
}

#[test]
fn the_same_boot_id_means_the_host_did_not_reboot() {
    let (mut run, _) = start(1, plan(&[]));
    let t = utc("2026-11-30T01:00:05Z");
    let s = scheduled(&hosts(1), strict(), wide_window(), WindowSet::always());
    let (_, o) = RingRun::start_with_saga(&s, plan(&[]), utc(T0)).unwrap();
    let mut done = answer(
        &job_in(&o, "h01", JobAction::Apply),
        JobStatus::Succeeded,
        None,
    );
    done.reboot_required = true;
    let d = run.on_event(&ev(1, done), t).unwrap();
    let reboot = job_in(d.outputs(), "h01", JobAction::Reboot);
    // The announcement overtakes the reboot job's result.
    let mut back = online(&reboot, "boot-a", "boot-a");
    back.detail = Some("reboot command failed: exit status 1".into());
    let d = run.on_event(&ev(2, back), t).unwrap();
    assert_eq!(
        lines(&d)[..3],
        [
            "prod/0/step/h01/reboot/finished | step reboot Succeeded w0 h01 (reboot accepted by the agent (boot id boot-a; its result is still on the way))",
            "prod/0/step/h01/await_agent/started | step await_agent started w0 h01 due 30 01:10",
            "prod/0/step/h01/await_agent/finished | step await_agent Failed w0 h01 (the host did not reboot: boot id still boot-a (reboot command failed: exit status 1))",
        ]
    );
    // The reboot result arriving after it is stale.
    let mut accepted = answer(&reboot, JobStatus::Succeeded, None);
    accepted.inventory.boot_id = "boot-a".into();
    assert!(!run.on_event(&ev(3, accepted), t).unwrap().changed());
}

#[test]
fn a_webhook_end_for_another_start_and_deploys_own_records_are_skipped() {
    let (mut run, _) = start(2, plan(&[SagaStep::PreCheck]));
    let t = utc("2026-11-30T01:00:05Z");
    let mut other = webhook_done(&run, "h01", StepOutcome::Succeeded, "200", t);
    other.started_event_id = Uuid::from_u128(77);
    assert!(!run.on_event(&ev(1, other), t).unwrap().changed());
    let mut own = webhook_done(&run, "h01", StepOutcome::Succeeded, "x", t);
    own.step = SagaStep::Install;
    assert!(!run.on_event(&ev(2, own), t).unwrap().changed());
    // A webhook step nobody answers times out at its due time (60 s).
    let d = run.on_tick(utc("2026-11-30T01:01:00Z")).unwrap();
    assert_eq!(
        lines(&d)[0],
        "prod/0/step/h01/pre_check/finished | step pre_check TimedOut w0 h01 (the step runner reported no end within 60 s)"
    );
}

#[test]
fn a_run_stored_mid_saga_resumes_at_its_step_with_the_same_ids() {
    let (mut run, _) = start(2, plan(&[SagaStep::PreCheck]));
    let t = utc("2026-11-30T01:00:05Z");
    let pre = webhook_done(&run, "h01", StepOutcome::Succeeded, "200", t);
    // Deploy stores the run, crashes, and a new process decodes it.
    let mut restored = RingRun::decode(&run.encode()).unwrap();
    assert_eq!(restored, run);
    let a = run.on_event(&ev(1, pre.clone()), t).unwrap();
    let b = restored.on_event(&ev(1, pre.clone()), t).unwrap();
    assert_eq!(a, b);
    // The install went out once; the redelivered pre-check end starts nothing.
    assert!(lines(&a).iter().any(|l| l.starts_with("prod/0/job/h01 ")));
    assert!(!restored.on_event(&ev(1, pre), t).unwrap().changed());
}

#[test]
fn a_failed_post_check_within_the_budget_rolls_the_host_back_and_the_ring_goes_on() {
    // Canary of 1, then one batch of both others; up to half may fail.
    let policy = RolloutPolicy {
        canary_hosts: 1,
        batch_percent: 100,
        max_failed_percent: 50.0,
        halt_on_full_batch_failure: false,
        result_timeout_secs: 1800,
    };
    let s = scheduled(&hosts(3), policy, wide_window(), WindowSet::always());
    let saga = plan(&[SagaStep::PostCheck]);
    let (mut run, start_out) = RingRun::start_with_saga(&s, saga, utc(T0)).unwrap();
    let t = utc("2026-11-30T01:00:05Z");
    let install = job_in(&start_out, "h01", JobAction::Apply);
    run.on_event(&ev(1, answer(&install, JobStatus::Succeeded, None)), t)
        .unwrap();
    let d = hook(&mut run, 2, "h01", StepOutcome::Succeeded, "200", t);
    assert_eq!(
        lines(&d),
        ["prod/0/completed | completed w0 Canary ring 0/1 last=false [h01:ok]"]
    );
    let d = run.on_validation_passed(&passed(0), t).unwrap();
    let h02 = job_in(d.outputs(), "h02", JobAction::Apply);
    let h03 = job_in(d.outputs(), "h03", JobAction::Apply);
    run.on_event(&ev(3, answer(&h02, JobStatus::Succeeded, None)), t)
        .unwrap();
    run.on_event(&ev(4, answer(&h03, JobStatus::Succeeded, None)), t)
        .unwrap();
    hook(&mut run, 5, "h02", StepOutcome::Succeeded, "200", t);
    // h03 is unhealthy after its install: 1 of 3 failed, within 50 %.
    let d = hook(&mut run, 6, "h03", StepOutcome::Failed, "GET: 500", t);
    assert_eq!(
        lines(&d),
        [
            "prod/1/completed | completed w1 Batch ring 1/3 last=true [h02:ok,h03:failed]",
            "prod/1/rollback-requested | rollback-requested w1 [h03] reason=failed after the install, within the budget: h03: post_check: GET: 500",
            "prod/rollback/job/h03 | job rollback w1 h03 [pkg:openssl@3.0.13-1,advisory:DSA-h03] expires 30 01:30",
        ]
    );
    // The request comes back to deploy: nothing new, and the ring is not halted.
    let Payload::RollbackRequested(req) = &d.outputs()[1].payload else {
        panic!("not a rollback request")
    };
    assert!(!run.on_rollback_requested(req, t).changed());
    assert_eq!(
        run.status,
        deploy::RunStatus::AwaitingValidation { wave: 1 }
    );
}

#[test]
fn a_run_stored_before_the_saga_still_takes_its_results() {
    // Wave 0 of a run written by a deploy without the saga: jobs sent at
    // once, no steps, no saga plan.
    let (run, out) = start(2, plan(&[]));
    let mut json: serde_json::Value = serde_json::from_slice(&run.encode()).unwrap();
    json.as_object_mut().unwrap().remove("saga");
    for job in json["jobs"].as_array_mut().unwrap() {
        let job = job.as_object_mut().unwrap();
        for new in [
            "step",
            "install_sent",
            "reboot_required",
            "reboot_job_id",
            "boot_id_before",
            "roll_back",
        ] {
            job.remove(new);
        }
    }
    let mut old = RingRun::decode(&serde_json::to_vec(&json).unwrap()).unwrap();
    assert!(old.jobs.iter().all(|j| j.step.is_none() && j.install_sent));
    assert_eq!(old.saga, SagaPlan::default());
    let install = {
        let s = scheduled(&hosts(2), strict(), wide_window(), WindowSet::always());
        let (_, o) = RingRun::start_with_saga(&s, plan(&[]), utc(T0)).unwrap();
        job_in(&o, "h01", JobAction::Apply)
    };
    assert_eq!(out.len(), 3);
    let t = utc("2026-11-30T01:00:05Z");
    let d = old
        .on_event(&ev(1, answer(&install, JobStatus::Failed, Some("dpkg"))), t)
        .unwrap();
    // The result is the host's outcome, as before; the halt rolls it back.
    let got = lines(&d);
    assert!(
        got[0].starts_with("prod/0/halted | halted w0 Canary ring 1/1 [h01:failed]"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("prod/0/rollback-requested | rollback-requested w0 [h01]"),
        "{got:?}"
    );
}
