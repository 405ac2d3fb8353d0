//! Shared test support: a ring scenario builder, agent answers, and the
//! `check` helper that compares a decision's outputs with one-line summaries.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bus::{Bus, BusConfig, BusError, Clock};
use chrono::{DateTime, Utc};
use deploy::{Decision, DeployConfig, DeployService, JobSigner, Output, RingRun};
use events::deployment::HostStatus;
use events::spec::StreamSpec;
use events::window::{Day, WeeklyWindow};
use events::{
    AgentJob, AgentResult, BundleScheduled, Event, HostInventory, HostJobSpec, JobAction,
    JobStatus, Payload, Remediation, RollbackRequested, RolloutPolicy, Service, ValidationPassed,
    WindowInstance, WindowSet, derive_id,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A bus on the shared test nats-server, in a fresh namespace, with its
/// streams ensured; `name` is the connection's name.
pub async fn test_bus(name: &str) -> Bus {
    let server = testkit::NatsServer::shared();
    let cfg = BusConfig::new(server.url(), testkit::unique_namespace(), name);
    let bus = Bus::connect(&cfg).await.expect("connect");
    bus.ensure().await.expect("ensure");
    bus
}

/// A deploy service running on a bus (100 ms ticks, jobs signed by the
/// signer it was started with) until [`RunningDeploy::stop`].
pub struct RunningDeploy {
    token: CancellationToken,
    task: JoinHandle<Result<(), BusError>>,
}

impl RunningDeploy {
    /// Builds deploy on `bus` with `signer` and runs it in a task.
    pub async fn start(bus: &Bus, signer: JobSigner) -> RunningDeploy {
        RunningDeploy::start_with(bus, signer, deploy::config::SagaConfig::default()).await
    }

    /// [`RunningDeploy::start`] with the host saga `saga`.
    pub async fn start_with(
        bus: &Bus,
        signer: JobSigner,
        saga: deploy::config::SagaConfig,
    ) -> RunningDeploy {
        let cfg = DeployConfig {
            saga,
            ..DeployConfig::default()
        };
        RunningDeploy::start_on(bus, signer, cfg, Clock::system()).await
    }

    /// [`RunningDeploy::start`] with `cfg` (its tick interval set to
    /// 100 ms) and `clock`.
    pub async fn start_on(
        bus: &Bus,
        signer: JobSigner,
        cfg: DeployConfig,
        clock: Clock,
    ) -> RunningDeploy {
        let service = DeployService::build(
            DeployConfig {
                tick_interval_ms: 100,
                ..cfg
            },
            signer,
            bus.clone(),
            clock,
        )
        .await
        .expect("build deploy");
        let token = CancellationToken::new();
        let task = tokio::spawn(service.run(token.clone()));
        RunningDeploy { token, task }
    }

    /// Stops the service and asserts that it ended without an error.
    pub async fn stop(self) {
        self.token.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// Publishes `bundle.scheduled` for [`hosts`]`(4)` with one canary, in a
/// window open from an hour before `now` to four hours after it.
pub async fn publish_canary_bundle(bus: &Bus, now: DateTime<Utc>) {
    let scheduled = scheduled(
        &hosts(4),
        RolloutPolicy {
            canary_hosts: 1,
            ..RolloutPolicy::default()
        },
        WindowInstance {
            opens_at: now - chrono::Duration::hours(1),
            closes_at: now + chrono::Duration::hours(4),
        },
        WindowSet::always(),
    );
    bus.publish(&Event::new(
        Uuid::new_v4(),
        Service::Schedule,
        now,
        scheduled,
    ))
    .await
    .expect("publish bundle.scheduled");
}

/// The last event on `tail` of `stream`, waiting up to 30 s for one.
pub async fn wait_for(bus: &Bus, stream: &StreamSpec, tail: &str) -> Event {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((_, event)) = bus.last_event(stream, tail).await.expect("read") {
            return event;
        }
        assert!(Instant::now() < deadline, "nothing on {tail} within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Parses an RFC 3339 instant.
pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The bundle every scenario rolls out.
pub const BUNDLE: Uuid = Uuid::from_u128(0x0b0d_1e00_0000_0000_0000_0000_0000_0001);

/// The remediations host `host` gets: its own package, so jobs can be told apart.
pub fn remediations(host: &str) -> Vec<Remediation> {
    vec![
        Remediation::Package {
            name: "openssl".into(),
            fixed_version: "3.0.13-1".into(),
        },
        Remediation::Advisory {
            id: format!("DSA-{host}"),
        },
    ]
}

/// Hosts `h01` … `h<n>`.
pub fn hosts(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("h{i:02}")).collect()
}

/// A window instance that is open through all of 2026-2027.
pub fn wide_window() -> WindowInstance {
    WindowInstance {
        opens_at: utc("2026-01-01T00:00:00Z"),
        closes_at: utc("2028-01-01T00:00:00Z"),
    }
}

/// Mondays 02:00 Europe/Berlin for 120 minutes.
pub fn berlin_mondays() -> WindowSet {
    WindowSet {
        timezone: "Europe/Berlin".into(),
        windows: vec![WeeklyWindow {
            days: vec![Day::Mon],
            start: "02:00".into(),
            duration_minutes: 120,
        }],
        ..WindowSet::always()
    }
}

/// `bundle.scheduled` for ring `prod` with `hosts` (in order).
pub fn scheduled(
    hosts: &[String],
    rollout: RolloutPolicy,
    window: WindowInstance,
    windows: WindowSet,
) -> BundleScheduled {
    BundleScheduled {
        bundle_id: BUNDLE,
        ring: "prod".into(),
        ring_index: 3,
        last_ring: true,
        window,
        windows,
        hosts: hosts
            .iter()
            .map(|h| HostJobSpec {
                asset_id: h.clone(),
                remediations: remediations(h),
            })
            .collect(),
        rollout,
        emergency_override: None,
    }
}

/// The agent's answer to `job`.
pub fn answer(job: &AgentJob, status: JobStatus, reason: Option<&str>) -> AgentResult {
    AgentResult {
        job_id: job.job_id,
        bundle_id: job.bundle_id,
        ring: job.ring.clone(),
        wave: job.wave,
        host: job.host.clone(),
        action: job.action,
        status,
        reason: reason.map(str::to_owned),
        steps: Vec::new(),
        rebooted: false,
        reboot_required: false,
        inventory: HostInventory::default(),
        finished_at: job.issued_at,
        rollback_method: None,
    }
}

/// The result event id of `host`'s answer to its `action` job.
pub fn result_id(host: &str, action: JobAction) -> Uuid {
    Uuid::new_v5(&BUNDLE, format!("result/{host}/{action:?}").as_bytes())
}

/// `validation.passed` for wave `wave` of ring `prod`.
pub fn passed(wave: u32) -> ValidationPassed {
    ValidationPassed {
        bundle_id: BUNDLE,
        ring: "prod".into(),
        wave,
        last_wave_in_ring: false,
        checks: Vec::new(),
        readback: Vec::new(),
    }
}

/// `rollback.requested` for `hosts` of wave `wave` of ring `prod`.
pub fn rollback(wave: u32, hosts: &[&str], reason: &str) -> RollbackRequested {
    RollbackRequested {
        bundle_id: BUNDLE,
        ring: "prod".into(),
        wave,
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        reason: reason.into(),
    }
}

/// A ring run plus every job it sent, so tests can answer by host.
pub struct Sim {
    /// The run under test.
    pub run: RingRun,
    /// Every output so far, in order.
    pub log: Vec<Output>,
}

impl Sim {
    /// Starts the run; returns it with the start decision's outputs.
    pub fn start(s: &BundleScheduled, now: DateTime<Utc>) -> (Sim, Vec<Output>) {
        let (run, outputs) = RingRun::start(s, now).unwrap();
        ids_follow_keys(&outputs);
        let sim = Sim {
            run,
            log: outputs.clone(),
        };
        (sim, outputs.into_iter().filter(|o| !is_step(o)).collect())
    }

    /// The last job of `action` sent to `host`.
    pub fn job(&self, host: &str, action: JobAction) -> AgentJob {
        self.log
            .iter()
            .rev()
            .find_map(|o| match &o.payload {
                Payload::AgentJob(j) if j.host == host && j.action == action => Some(j.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {action:?} job was sent to {host}"))
    }

    /// Logs every output; returns the decision without the saga's step
    /// events (the tests of the ring's waves look past them; the saga's own
    /// tests read [`Sim::log`] or call the run directly).
    fn keep(&mut self, d: Decision) -> Decision {
        ids_follow_keys(d.outputs());
        self.log.extend(d.outputs().iter().cloned());
        without_steps(d)
    }

    /// `host` answers its last `action` job with `status`.
    pub fn answer(
        &mut self,
        host: &str,
        action: JobAction,
        status: JobStatus,
        now: DateTime<Utc>,
    ) -> Decision {
        let job = self.job(host, action);
        let reason = (status != JobStatus::Succeeded).then_some("dpkg: error processing openssl");
        let r = answer(&job, status, reason);
        let d = self.run.on_result(&r, result_id(host, action), now);
        self.keep(d)
    }

    /// `host` answers its apply job.
    pub fn apply(&mut self, host: &str, status: JobStatus, now: DateTime<Utc>) -> Decision {
        self.answer(host, JobAction::Apply, status, now)
    }

    /// A raw result.
    pub fn result(&mut self, r: &AgentResult, id: Uuid, now: DateTime<Utc>) -> Decision {
        let d = self.run.on_result(r, id, now);
        self.keep(d)
    }

    /// A clock tick.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Decision {
        let d = self.run.on_tick(now).unwrap();
        self.keep(d)
    }

    /// Validation passed for `wave`.
    pub fn passed(&mut self, wave: u32, now: DateTime<Utc>) -> Decision {
        let d = self.run.on_validation_passed(&passed(wave), now).unwrap();
        self.keep(d)
    }

    /// A rollback request.
    pub fn rollback(&mut self, req: &RollbackRequested, now: DateTime<Utc>) -> Decision {
        let d = self.run.on_rollback_requested(req, now);
        self.keep(d)
    }

    /// The payloads of the last decision's kind found in the log, by key.
    pub fn output(&self, key: &str) -> Output {
        self.log
            .iter()
            .find(|o| o.key == key)
            .cloned()
            .unwrap_or_else(|| panic!("no output with key {key}"))
    }
}

/// Every output's id is `derive_id(bundle, "deploy", key)`; a job's id is its event id.
pub fn ids_follow_keys(outputs: &[Output]) {
    for o in outputs {
        assert_eq!(o.id, derive_id(BUNDLE, "deploy", &o.key), "{}", o.key);
        if let Payload::AgentJob(j) = &o.payload {
            assert_eq!(j.job_id, o.id, "{}", o.key);
        }
    }
}

fn status(s: HostStatus) -> &'static str {
    match s {
        HostStatus::Succeeded => "ok",
        HostStatus::Failed => "failed",
        HostStatus::TimedOut => "timed_out",
    }
}

/// One line per output: what it is and the values that matter.
pub fn summary(o: &Output) -> String {
    let line = match &o.payload {
        Payload::AgentJob(j) => format!(
            "job {} w{} {} [{}] expires {}",
            match j.action {
                JobAction::Apply => "apply",
                JobAction::Rollback => "rollback",
                JobAction::Reboot => "reboot",
            },
            j.wave,
            j.host,
            j.remediations
                .iter()
                .map(Remediation::key)
                .collect::<Vec<_>>()
                .join(","),
            j.expires_at.format("%d %H:%M"),
        ),
        Payload::WaveStarted(w) => format!(
            "started w{} {:?} [{}] due {}",
            w.wave,
            w.kind,
            w.hosts.join(","),
            w.results_due_at.format("%d %H:%M")
        ),
        Payload::WaveCompleted(w) => format!(
            "completed w{} {:?} ring {}/{} last={} [{}]",
            w.wave,
            w.kind,
            w.ring_failed,
            w.ring_attempted,
            w.last_wave_in_ring,
            w.hosts
                .iter()
                .map(|h| format!("{}:{}", h.host, status(h.status)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Payload::WaveHalted(w) => format!(
            "halted w{} {:?} ring {}/{} [{}] never_started={} reason={}",
            w.wave,
            w.kind,
            w.ring_failed,
            w.ring_attempted,
            w.hosts
                .iter()
                .map(|h| format!("{}:{}", h.host, status(h.status)))
                .collect::<Vec<_>>()
                .join(","),
            w.never_started.len(),
            w.reason
        ),
        Payload::RollbackRequested(r) => format!(
            "rollback-requested w{} [{}] reason={}",
            r.wave,
            r.hosts.join(","),
            r.reason
        ),
        Payload::RollbackCompleted(r) => format!(
            "rollback-completed [{}]",
            r.hosts
                .iter()
                .map(|h| format!("{}:{}", h.host, status(h.status)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Payload::HostStepStarted(s) => format!(
            "step {} started w{} {} due {}",
            s.step,
            s.wave,
            s.host,
            s.due_at.format("%d %H:%M")
        ),
        Payload::HostStepFinished(s) => format!(
            "step {} {:?} w{} {} ({})",
            s.step, s.outcome, s.wave, s.host, s.detail
        ),
        other => format!("unexpected {}", other.event_type()),
    };
    format!("{} | {line}", o.key)
}

/// Whether `o` is one of the host saga's step events.
pub fn is_step(o: &Output) -> bool {
    matches!(
        o.payload,
        Payload::HostStepStarted(_) | Payload::HostStepFinished(_)
    )
}

/// `d` without the host saga's step events.
pub fn without_steps(d: Decision) -> Decision {
    match d {
        Decision::Advance(outputs) => {
            Decision::Advance(outputs.into_iter().filter(|o| !is_step(o)).collect())
        }
        skip => skip,
    }
}

/// Asserts that `d` advanced the run with exactly these outputs (by
/// summary), leaving out the host saga's step events (see [`check_all`]).
pub fn check(d: &Decision, want: &[&str]) {
    assert!(d.changed(), "expected an advance, got {d:?}");
    let got: Vec<String> = d
        .outputs()
        .iter()
        .filter(|o| !is_step(o))
        .map(summary)
        .collect();
    assert_eq!(got, want, "outputs differ");
}

/// Asserts that `d` advanced the run with exactly these outputs, step
/// events included.
pub fn check_all(d: &Decision, want: &[&str]) {
    assert!(d.changed(), "expected an advance, got {d:?}");
    let got: Vec<String> = d.outputs().iter().map(summary).collect();
    assert_eq!(got, want, "outputs differ");
}

/// Asserts that `d` is a skip whose reason contains `why`.
pub fn check_skip(d: &Decision, why: &str) {
    match d {
        Decision::Skip { reason } => assert!(reason.contains(why), "skip reason {reason:?}"),
        other => panic!("expected a skip ({why}), got {other:?}"),
    }
}
