//! An agent killed during its reboot step (issue 5, acceptance): two lab
//! hosts that need a reboot after their install roll out in one wave; each
//! `patchflow agent` is killed (SIGKILL) during its simulated reboot, after
//! the reboot job's result is in. The saga waits for the host to come back:
//!
//! - `dev-01`'s agent is restarted before the reboot timeout: it completes
//!   the pending reboot, announces the new boot id naming the reboot job,
//!   and the saga resumes: `await_agent` succeeds, the host succeeds, its
//!   install ran once.
//! - `dev-02`'s agent stays down past `[deploy.saga] reboot_timeout_secs`:
//!   `await_agent` times out, the host is `timed_out`, the wave halts on the
//!   failure budget and `dev-02` (changed by its install) is rolled back.
//!   Restarted after the timeout, its late announcement changes nothing (no
//!   second step end, no second wave outcome); it then takes its rollback.
//!
//! Every service runs in one `patchflow up`; each agent is its own process
//! with a simulated reboot (`--reboot-secs`) far longer than the test, so
//! only a restart brings a host back.

use std::time::{Duration, Instant};

use events::deployment::HostStatus;
use events::{
    AgentOnline, Event, HostStepFinished, JobAction, JobStatus, Payload, SagaStep, StepOutcome,
};
use tests::{Lab, Proc, bundle_events, count, payloads, settled};

use crate::common::{
    FLOW_TIMEOUT, HEARTBLEED_REMEDIATION, LAB_ROLLOUT, agent_state_path, assert_in_order,
    health_endpoint, host_trail, load_agent_state, rollout_policy, spawn_lab_agent,
    submit_heartbleed_scan, wait_for_audit_trail, wait_for_signing_key,
    write_config_for_agent_processes, write_lab,
};

/// The host whose agent comes back before the reboot timeout.
const BACK: &str = "dev-01";
/// The host whose agent comes back only after the reboot timeout.
const LATE: &str = "dev-02";

/// How long deploy waits for a host to come back after its reboot job.
const REBOOT_TIMEOUT_SECS: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_in_its_reboot_resumes_the_saga_when_back_and_times_out_when_not() {
    let t0 = Instant::now();
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    let hosts = [(BACK, "10.0.0.1", "dev"), (LATE, "10.0.0.2", "dev")];
    write_lab(&lab, &hosts, &health_endpoint().await);
    for (host, _, _) in &hosts {
        std::fs::write(
            agent_state_path(&lab, host),
            format!(
                "{{\"host\": \"{host}\", \"packages\": {{\"openssl\": \"1.0.1e\"}}, \"reboot_required\": true}}\n"
            ),
        )
        .unwrap();
    }
    // The agents run as their own processes, not inside `up`.
    let saga = format!(
        "[deploy]\ntick_interval_ms = 100\n[deploy.saga]\nreboot_timeout_secs = {REBOOT_TIMEOUT_SECS}\n"
    );
    write_config_for_agent_processes(
        &lab,
        &[
            // One wave of both hosts (no canary, one batch of 100 %); the wave halts
            // when more than 10 % of it failed, so one failed host halts it and is
            // rolled back.
            (LAB_ROLLOUT, &rollout_policy(0, 100, 10.0)),
            ("[deploy]\ntick_interval_ms = 100\n", &saga),
        ],
    );

    // Deploy at debug: it logs each event it skips, and why.
    let up = lab.spawn("up", &["up", "--log", "info,deploy=debug"]);
    let key = wait_for_signing_key(&lab, &up, Duration::from_secs(60)).await;
    let start_agent = |host: &str, run: u32| -> Proc {
        // A reboot that outlasts the test: only a restart ends it.
        let reboot = ["--reboot-secs", "3600"];
        spawn_lab_agent(&lab, &format!("agent-{host}-{run}"), host, &key, &reboot)
    };
    let mut back = start_agent(BACK, 1);
    let mut late = start_agent(LATE, 1);

    // Ingest completes it: 2 hosts, 2 findings.
    submit_heartbleed_scan(&lab, &hosts, &up);

    // Both hosts install, ask for a reboot, and accept their reboot jobs;
    // then both agents die during the simulated reboot.
    let events = lab
        .log
        .wait_for("both hosts to be in await_agent", FLOW_TIMEOUT, |e| {
            count(e, "patch.bundle.planned.v1") > 0
                && [BACK, LATE]
                    .iter()
                    .all(|h| started_step(e, h, SagaStep::AwaitAgent))
        })
        .await;
    back.signal("KILL");
    late.signal("KILL");
    back.wait(Duration::from_secs(10));
    late.wait(Duration::from_secs(10));
    let killed_at = Instant::now();
    let bundle = payloads(&events, |p| match p {
        Payload::BundlePlanned(b) => Some(b.clone()),
        _ => None,
    })
    .into_iter()
    .next()
    .expect("a planned bundle");
    let id = bundle.bundle_id;
    // await_agent begins as reboot ends, due the reboot timeout later.
    for host in [BACK, LATE] {
        let reboot_end = events.iter().find_map(|e| match &e.data {
            Payload::HostStepFinished(f) if f.host == host && f.step == SagaStep::Reboot => {
                Some(f.finished_at)
            }
            _ => None,
        });
        let due = events.iter().find_map(|e| match &e.data {
            Payload::HostStepStarted(s) if s.host == host && s.step == SagaStep::AwaitAgent => {
                Some(s.due_at)
            }
            _ => None,
        });
        let timeout = chrono::TimeDelta::seconds(REBOOT_TIMEOUT_SECS as i64);
        assert_eq!(due, reboot_end.map(|t| t + timeout), "{host}");
    }
    for (host, _, _) in &hosts {
        let state = load_agent_state(&lab, host);
        let pending = state.pending_reboot.as_ref().expect("a pending reboot");
        assert_eq!(pending.boot_id_before, "boot-0", "{host}");
        assert_eq!(pending.bundle_id, id, "{host}");
        assert_eq!((state.boot_id.as_str(), state.reboots), ("boot-0", 0));
    }

    // The saga waits: nothing ends either host's await_agent while both
    // agents are down (well inside the reboot timeout).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = lab.log.events();
    for host in [BACK, LATE] {
        assert_eq!(finished(&waiting, host, SagaStep::AwaitAgent), [], "{host}");
    }
    assert_eq!(count(&waiting, "patch.deployment.wave.completed.v1"), 0);
    assert_eq!(count(&waiting, "patch.deployment.wave.halted.v1"), 0);

    // dev-01 comes back before the timeout: the restarted agent completes
    // the reboot and the saga resumes.
    let _back = start_agent(BACK, 2);
    let events = lab
        .log
        .wait_for(
            "dev-01's announcement and await_agent end",
            FLOW_TIMEOUT,
            |e| {
                // Each stream is followed on its own: wait for both.
                !finished(e, BACK, SagaStep::AwaitAgent).is_empty()
                    && !online_after_reboot(e, BACK).is_empty()
            },
        )
        .await;
    assert!(
        killed_at.elapsed() < Duration::from_secs(REBOOT_TIMEOUT_SECS),
        "dev-01 came back only after {:?}, past the reboot timeout",
        killed_at.elapsed()
    );
    let back_online = online_after_reboot(&events, BACK);
    assert_eq!(back_online.len(), 1, "{back_online:?}");
    let back_boot = back_online[0].boot_id.clone();
    assert_ne!(back_boot, "boot-0");
    assert!(back_boot.starts_with("boot-"), "{back_boot}");
    assert_eq!(
        finished(&events, BACK, SagaStep::AwaitAgent),
        [(
            StepOutcome::Succeeded,
            format!("agent back with boot id {back_boot} (was boot-0)")
        )]
    );
    // dev-02 is still awaited: its wave has no outcome yet.
    assert_eq!(finished(&events, LATE, SagaStep::AwaitAgent), []);
    assert_eq!(count(&events, "patch.deployment.wave.halted.v1"), 0);

    // dev-02 does not come back: its await_agent times out, the wave halts
    // and dev-02 is to be rolled back.
    let events = lab
        .log
        .wait_for("the wave to halt", FLOW_TIMEOUT, |e| {
            count(e, "patch.rollback.requested.v1") > 0
                && count(e, "patch.deployment.wave.halted.v1") > 0
                && !finished(e, LATE, SagaStep::AwaitAgent).is_empty()
        })
        .await;
    assert_eq!(online_after_reboot(&events, LATE), []);
    let timeout_detail =
        format!("the agent did not come back within {REBOOT_TIMEOUT_SECS} s of its reboot");
    assert_eq!(
        finished(&events, LATE, SagaStep::AwaitAgent),
        [(StepOutcome::TimedOut, timeout_detail.clone())]
    );
    let halts = payloads(&events, |p| match p {
        Payload::WaveHalted(h) => Some(h.clone()),
        _ => None,
    });
    assert_eq!(halts.len(), 1, "{halts:?}");
    let halt = &halts[0];
    assert_eq!((halt.ring.as_str(), halt.wave), ("dev", 0));
    assert_eq!((halt.ring_attempted, halt.ring_failed), (2, 1));
    assert!(halt.never_started.is_empty(), "{halt:?}");
    let outcomes: Vec<(&str, HostStatus, Option<&str>)> = halt
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.status, h.reason.as_deref()))
        .collect();
    let late_reason = format!("await_agent: {timeout_detail}");
    assert_eq!(
        outcomes,
        [
            (BACK, HostStatus::Succeeded, None),
            (LATE, HostStatus::TimedOut, Some(late_reason.as_str())),
        ]
    );
    let requested = payloads(&events, |p| match p {
        Payload::RollbackRequested(r) => Some((r.ring.clone(), r.wave, r.hosts.clone())),
        _ => None,
    });
    assert_eq!(requested, [("dev".to_owned(), 0, vec![LATE.to_owned()])]);

    // dev-02's agent comes back after the timeout: the reboot completes, its
    // late announcement is skipped, and the agent takes its rollback job.
    let _late = start_agent(LATE, 2);
    lab.log
        .wait_for("dev-02's rollback", FLOW_TIMEOUT, |e| {
            settled(e)
                && !online_after_reboot(e, LATE).is_empty()
                && count(e, "patch.agent.job.v1") >= 5
                && count(e, "patch.agent.result.v1") >= 5
        })
        .await;
    let events: Vec<Event> = bundle_events(&lab.log.events(), id);
    let late_online = online_after_reboot(&events, LATE);
    assert_eq!(late_online.len(), 1, "{late_online:?}");
    let late_boot = late_online[0].boot_id.clone();
    let late_job = late_online[0].reboot.as_ref().map(|r| r.job_id).unwrap();
    // Deploy took the late announcement and skipped it: the ring run no
    // longer awaits anything of wave 0.
    let skipped = format!(
        "reason=no wave of ring dev awaits results (halted); agent online after reboot job {late_job} is stale"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !up.log_text().contains(&skipped) {
        assert!(
            Instant::now() < deadline,
            "deploy never skipped dev-02's late announcement ({skipped:?}); log:\n{}",
            up.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        late_boot != "boot-0" && late_boot != back_boot,
        "{late_boot}"
    );
    let events: Vec<Event> = bundle_events(&lab.log.events(), id);

    // Each host's saga, step by step, in deploy's publishing order.
    let reboot_accepted = "reboot accepted by the agent (boot id boot-0)";
    let installed = "installed 1 remediation(s); reboot required";
    let back_steps = [
        ("started", SagaStep::Install, None),
        ("finished", SagaStep::Install, Some(ok(installed))),
        ("started", SagaStep::Reboot, None),
        ("finished", SagaStep::Reboot, Some(ok(reboot_accepted))),
        ("started", SagaStep::AwaitAgent, None),
        (
            "finished",
            SagaStep::AwaitAgent,
            Some(ok(&format!(
                "agent back with boot id {back_boot} (was boot-0)"
            ))),
        ),
    ];
    assert_eq!(saga_of(&events, BACK), back_steps);
    let mut late_steps = back_steps[..5].to_vec();
    late_steps.push((
        "finished",
        SagaStep::AwaitAgent,
        Some((StepOutcome::TimedOut, timeout_detail.clone())),
    ));
    assert_eq!(saga_of(&events, LATE), late_steps);
    // One wave outcome: the halt; the bundle halted in dev.
    assert_eq!(count(&events, "patch.deployment.wave.halted.v1"), 1);
    assert_eq!(count(&events, "patch.deployment.wave.completed.v1"), 0);
    assert_eq!(count(&events, "patch.bundle.halted.v1"), 1);
    assert_eq!(count(&events, "patch.bundle.completed.v1"), 0);
    let rolled_back = payloads(&events, |p| match p {
        Payload::RollbackCompleted(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(rolled_back.len(), 1, "{rolled_back:?}");
    let rolled: Vec<(&str, HostStatus)> = rolled_back[0]
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.status))
        .collect();
    assert_eq!(rolled, [(LATE, HostStatus::Succeeded)]);

    // Jobs: an apply and a reboot job per host, a rollback job for dev-02;
    // every one answered once, successfully.
    let mut jobs: Vec<(String, JobAction)> = payloads(&events, |p| match p {
        Payload::AgentJob(j) => {
            assert!(j.signature.is_some(), "unsigned job {j:?}");
            Some((j.host.clone(), j.action))
        }
        _ => None,
    });
    jobs.sort_by_key(|(h, a)| (h.clone(), action_rank(*a)));
    let want_jobs = [
        (BACK.to_owned(), JobAction::Apply),
        (BACK.to_owned(), JobAction::Reboot),
        (LATE.to_owned(), JobAction::Apply),
        (LATE.to_owned(), JobAction::Reboot),
        (LATE.to_owned(), JobAction::Rollback),
    ];
    assert_eq!(jobs, want_jobs);
    let mut results: Vec<(String, JobAction, JobStatus, bool)> = payloads(&events, |p| match p {
        Payload::AgentResult(r) => Some((r.host.clone(), r.action, r.status, r.reboot_required)),
        _ => None,
    });
    results.sort_by_key(|(h, a, _, _)| (h.clone(), action_rank(*a)));
    let ok_result = |host: &str, action, reboot_required| {
        (
            host.to_owned(),
            action,
            JobStatus::Succeeded,
            reboot_required,
        )
    };
    assert_eq!(
        results,
        [
            ok_result(BACK, JobAction::Apply, true),
            ok_result(BACK, JobAction::Reboot, false),
            ok_result(LATE, JobAction::Apply, true),
            ok_result(LATE, JobAction::Reboot, false),
            ok_result(LATE, JobAction::Rollback, false),
        ]
    );

    // On the hosts: dev-01 rebooted once into the boot id it announced, with
    // the fix in and one apply in its history; dev-02 completed the killed
    // reboot, then rebooted again in its rollback, back at 1.0.1e.
    let state = load_agent_state(&lab, BACK);
    assert_eq!(state.pending_reboot, None);
    assert_eq!(
        (state.boot_id.as_str(), state.reboots),
        (back_boot.as_str(), 1)
    );
    let applied: Vec<&str> = state.applied.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(applied, [HEARTBLEED_REMEDIATION]);
    assert_eq!(
        state.packages.get("openssl").map(String::as_str),
        Some("1.0.1g")
    );
    assert_eq!(
        history_actions(&state),
        [JobAction::Apply, JobAction::Reboot]
    );
    let state = load_agent_state(&lab, LATE);
    assert_eq!(state.pending_reboot, None);
    assert_eq!(state.reboots, 2, "the killed reboot, then the rollback's");
    assert_ne!(state.boot_id, late_boot, "the rollback rebooted");
    assert!(state.applied.is_empty(), "{:?}", state.applied);
    assert_eq!(
        state.packages.get("openssl").map(String::as_str),
        Some("1.0.1e")
    );
    assert_eq!(
        history_actions(&state),
        [JobAction::Apply, JobAction::Reboot, JobAction::Rollback]
    );

    // The audit trail, from a separate process, tells the same story.
    let trail = wait_for_audit_trail(&lab, id).await;
    assert_eq!(trail.len(), events.len(), "{trail:#?}");
    assert_in_order(
        &host_trail(&trail, BACK),
        &[
            "step install started on dev-01 (dev wave 0), due ".to_owned(),
            format!("step install succeeded on dev-01 (dev wave 0): {installed}"),
            "step reboot started on dev-01 (dev wave 0), due ".to_owned(),
            format!("step reboot succeeded on dev-01 (dev wave 0): {reboot_accepted}"),
            "step await_agent started on dev-01 (dev wave 0), due ".to_owned(),
            format!(
                "agent on dev-01 online, boot id {back_boot}, rebooted for dev wave 0 (was boot-0)"
            ),
            format!(
                "step await_agent succeeded on dev-01 (dev wave 0): agent back with boot id {back_boot} (was boot-0)"
            ),
        ],
    );
    assert_in_order(
        &host_trail(&trail, LATE),
        &[
            "step await_agent started on dev-02 (dev wave 0), due ".to_owned(),
            format!("step await_agent timed out on dev-02 (dev wave 0): {timeout_detail}"),
            "rollback job sent to dev-02 (dev wave 0)".to_owned(),
            "rollback succeeded on dev-02 (dev wave 0) by package downgrade".to_owned(),
        ],
    );
    assert_in_order(
        &trail,
        &[
            "wave 0 (batch) halted in dev: failed 1 of 2 attempted hosts (50.0%) > 10%".to_owned(),
            "rollback requested for dev-02 (dev wave 0): ".to_owned(),
            "rollback completed in dev: 1 of 1 hosts rolled back (1 by package downgrade)"
                .to_owned(),
        ],
    );
    // dev-02's late announcement is in the trail, after its timeout.
    assert_in_order(
        &host_trail(&trail, LATE),
        &[
            format!("step await_agent timed out on dev-02 (dev wave 0): {timeout_detail}"),
            format!(
                "agent on dev-02 online, boot id {late_boot}, rebooted for dev wave 0 (was boot-0)"
            ),
        ],
    );

    eprintln!("reboot_saga took {:?}", t0.elapsed());
}

/// A succeeded step end with `detail`.
fn ok(detail: &str) -> (StepOutcome, String) {
    (StepOutcome::Succeeded, detail.to_owned())
}

/// Whether `step` of `host`'s saga has started.
fn started_step(events: &[Event], host: &str, step: SagaStep) -> bool {
    events.iter().any(|e| match &e.data {
        Payload::HostStepStarted(s) => s.host == host && s.step == step,
        _ => false,
    })
}

/// Every end of `step` of `host`'s saga, as (outcome, detail).
fn finished(events: &[Event], host: &str, step: SagaStep) -> Vec<(StepOutcome, String)> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::HostStepFinished(HostStepFinished {
                host: h,
                step: s,
                outcome,
                detail,
                ..
            }) if h == host && *s == step => Some((*outcome, detail.clone())),
            _ => None,
        })
        .collect()
}

/// `host`'s announcements that complete a reboot job.
fn online_after_reboot(events: &[Event], host: &str) -> Vec<AgentOnline> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::AgentOnline(o) if o.host == host && o.reboot.is_some() => Some(o.clone()),
            _ => None,
        })
        .collect()
}

/// A saga step event: `started` or `finished`, the step, and for an end
/// its (outcome, detail).
type SagaEvent = (&'static str, SagaStep, Option<(StepOutcome, String)>);

/// `host`'s saga step events, in log order (deploy publishes them on one
/// stream, so this is the order they were published in).
fn saga_of(events: &[Event], host: &str) -> Vec<SagaEvent> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            Payload::HostStepStarted(s) if s.host == host => Some(("started", s.step, None)),
            Payload::HostStepFinished(f) if f.host == host => {
                Some(("finished", f.step, Some((f.outcome, f.detail.clone()))))
            }
            _ => None,
        })
        .collect()
}

/// The order jobs of one host are sent in.
fn action_rank(action: JobAction) -> u8 {
    match action {
        JobAction::Apply => 0,
        JobAction::Reboot => 1,
        JobAction::Rollback => 2,
    }
}

/// The actions of a lab host's job history, in the order they were sent.
fn history_actions(state: &agent::LabState) -> Vec<JobAction> {
    let mut actions: Vec<JobAction> = state.history.values().map(|r| r.action).collect();
    actions.sort_by_key(|a| action_rank(*a));
    actions
}
