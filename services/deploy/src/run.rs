//! The ring run: the state machine that rolls one ring of one bundle out,
//! wave by wave.
//!
//! One [`RingRun`] exists per (bundle, ring), stored by the adapter in the
//! deploy KV bucket under [`state_key`] (`run.<bundle_id>.<ring>`) and updated
//! with compare-and-set on the revision. Every transition is pure: it takes
//! the input and `now` (UTC, from the adapter's clock), changes the run in
//! place and returns a [`Decision`]. The adapter runs them on a clone of the
//! stored run, publishes [`Decision::Advance`]'s outputs, then writes the run
//! back; on a CAS conflict it reloads and decides again, and the same logical
//! outputs come out under the same ids ([`crate::output`]).
//!
//! | from | input | to |
//! |---|---|---|
//! | (none) | `start`, a window open | Running (wave 0) |
//! | (none) | `start`, no window open | PausedForWindow (wave 0) |
//! | (none) | `start`, no hosts | Done |
//! | Running | the last result, or a tick at `results_due_at`; budget holds | AwaitingValidation |
//! | Running | the same; budget exceeded | Halted (+ rollback requested) |
//! | AwaitingValidation | validation passed, last wave | Done |
//! | AwaitingValidation | validation passed, a window open | Running (next wave) |
//! | AwaitingValidation | validation passed, no window open | PausedForWindow (next wave) |
//! | PausedForWindow | a tick inside a window | Running (that wave) |
//! | Running, AwaitingValidation, PausedForWindow | rollback requested | Halted |
//!
//! A rollback runs beside the status: [`RingRun::on_rollback_requested`]
//! sends rollback jobs, results and ticks complete it.

use calendar::Windows as _;
use chrono::{DateTime, TimeDelta, Utc};
use events::deployment::{HostOutcome, HostStatus, WaveKind};
use events::{
    AgentJob, AgentResult, BundleScheduled, Event, HostJobSpec, JobAction, JobStatus, Payload,
    RollbackCompleted, RollbackMethod, RollbackRequested, RolloutPolicy, ValidationPassed,
    WaveCompleted, WaveHalted, WaveStarted, WindowError, WindowInstance, WindowSet,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::budget::{self, Tally, Verdict};
use crate::output::{Output, key, output_id};
use crate::saga::{ActiveStep, SagaPlan};
use crate::waves::{plan_waves, wave_kind, wave_label};

/// Input that cannot start or continue a ring run: a poison message (or a
/// stored state that no longer decodes).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A ring lists the same host twice (its jobs and results could not be told apart).
    #[error("ring {ring:?} lists host {host:?} twice")]
    DuplicateHost {
        /// The ring.
        ring: String,
        /// The repeated asset id.
        host: String,
    },
    /// A host with an empty asset id (it has no agent subject).
    #[error("ring {ring:?} lists a host with an empty asset id")]
    EmptyHost {
        /// The ring.
        ring: String,
    },
    /// The ring's window set cannot be resolved.
    #[error("window set of ring {ring:?}: {source}")]
    Windows {
        /// The ring.
        ring: String,
        /// Why.
        #[source]
        source: WindowError,
    },
    /// The rollout policy holds a value deploy cannot run with.
    #[error("rollout policy of ring {ring:?}: {reason}")]
    Policy {
        /// The ring.
        ring: String,
        /// Which field and why.
        reason: String,
    },
    /// Stored ring run bytes are not a [`RingRun`].
    #[error("undecodable ring run state: {0}")]
    State(#[source] serde_json::Error),
}

/// What an input did to a ring run.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The run changed: publish these outputs (possibly none), in order, then
    /// store the run.
    Advance(Vec<Output>),
    /// The input changed nothing (a duplicate, stale or foreign input, a
    /// tick with nothing due): ack it, store nothing.
    Skip {
        /// Why, for the log and the skipped-count metric.
        reason: String,
    },
}

impl Decision {
    /// The outputs to publish; empty for [`Decision::Skip`].
    pub fn outputs(&self) -> &[Output] {
        match self {
            Decision::Advance(o) => o,
            Decision::Skip { .. } => &[],
        }
    }

    /// Whether the run changed and must be stored.
    pub fn changed(&self) -> bool {
        matches!(self, Decision::Advance(_))
    }

    pub(crate) fn skip(reason: impl Into<String>) -> Decision {
        Decision::Skip {
            reason: reason.into(),
        }
    }
}

/// Where a ring run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunStatus {
    /// Wave `wave`'s jobs are out; results are awaited until `results_due_at`
    /// (UTC), after which silent hosts count as timed out.
    Running {
        /// 0-based wave number.
        wave: u32,
        /// When results are due (UTC).
        results_due_at: DateTime<Utc>,
    },
    /// Wave `wave` completed within budget; `patch.validation.passed` for it
    /// is awaited.
    AwaitingValidation {
        /// 0-based wave number.
        wave: u32,
    },
    /// Wave `next_wave` may start but no window is open; it starts on the
    /// first tick inside a window, expected at `resume_at` (UTC).
    PausedForWindow {
        /// The wave to start.
        next_wave: u32,
        /// The next window opening (UTC).
        resume_at: DateTime<Utc>,
    },
    /// No further wave of this ring starts.
    Halted {
        /// The wave it stopped at.
        wave: u32,
        /// The budget rule that fired, or the rollback request that stopped it.
        reason: String,
    },
    /// Every wave completed and validated (or the ring had no hosts).
    Done,
}

/// One host's job in the current wave or in a rollback, and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostJob {
    /// Asset id.
    pub host: String,
    /// The wave whose apply job reached the host (for a rollback job too).
    pub wave: u32,
    /// The job id (= the job event's id).
    pub job_id: Uuid,
    /// `None` while no result arrived and the job has not timed out.
    pub status: Option<HostStatus>,
    /// Why, when not succeeded: the agent's reason or the timeout.
    pub reason: Option<String>,
    /// The `patch.agent.result` event id, when one arrived.
    pub result_event_id: Option<Uuid>,
    /// The agent refused the job: nothing was changed on the host, so a halt
    /// does not ask to roll it back.
    pub refused: bool,
    /// The saga step in progress ([`crate::saga`]); `None` before the first
    /// step, after the last, and for rollback jobs.
    #[serde(default)]
    pub step: Option<ActiveStep>,
    /// Whether the install job went out (the host may have changed): a
    /// failed host is rolled back only then, unless the agent refused it.
    /// Runs stored before the saga sent every job at once: `true`.
    #[serde(default = "sent_before_the_saga")]
    pub install_sent: bool,
    /// The install result asked for a reboot.
    #[serde(default)]
    pub reboot_required: bool,
    /// The reboot job's id, once sent.
    #[serde(default)]
    pub reboot_job_id: Option<Uuid>,
    /// The host's boot id when its reboot job was accepted.
    #[serde(default)]
    pub boot_id_before: Option<String>,
    /// It failed after its install succeeded (reboot, the wait for its
    /// agent, post-check): it is rolled back even when the wave's budget
    /// holds.
    #[serde(default)]
    pub roll_back: bool,
    /// How the agent's rollback brought the host back, from its result.
    #[serde(default)]
    pub rollback_method: Option<RollbackMethod>,
}

fn sent_before_the_saga() -> bool {
    true
}

impl HostJob {
    fn new(host: String, wave: u32, job_id: Uuid) -> HostJob {
        HostJob {
            host,
            wave,
            job_id,
            status: None,
            reason: None,
            result_event_id: None,
            refused: false,
            step: None,
            install_sent: false,
            reboot_required: false,
            reboot_job_id: None,
            boot_id_before: None,
            roll_back: false,
            rollback_method: None,
        }
    }

    fn record(&mut self, result: &AgentResult, result_event_id: Uuid) {
        let (status, default_reason) = match result.status {
            JobStatus::Succeeded => (HostStatus::Succeeded, None),
            JobStatus::Failed => (HostStatus::Failed, Some("the agent reported a failure")),
            JobStatus::Refused => (HostStatus::Failed, Some("the agent refused the job")),
        };
        self.status = Some(status);
        self.reason = match status {
            HostStatus::Succeeded => None,
            _ => result
                .reason
                .clone()
                .or_else(|| default_reason.map(str::to_owned)),
        };
        self.result_event_id = Some(result_event_id);
        self.refused = result.status == JobStatus::Refused;
        self.rollback_method = result.rollback_method;
    }

    fn time_out(&mut self, reason: &str) -> bool {
        if self.status.is_some() {
            return false;
        }
        self.status = Some(HostStatus::TimedOut);
        self.reason = Some(reason.to_owned());
        true
    }

    fn failed(&self) -> bool {
        self.status.is_some_and(HostStatus::is_failure)
    }
}

/// A rollback of some of the ring's hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRun {
    /// 0 for the ring's first rollback; +1 for each request that names new
    /// hosts after the previous rollback completed.
    pub round: u32,
    /// This round's rollback jobs.
    pub hosts: Vec<HostJob>,
    /// When rollback results are due (UTC); silent hosts then time out.
    pub due_at: DateTime<Utc>,
    /// Whether `patch.rollback.completed` was emitted for this round.
    pub completed: bool,
    /// The jobs of earlier, completed rounds (a host is rolled back at most
    /// once per ring).
    pub earlier: Vec<HostJob>,
}

impl RollbackRun {
    fn covers(&self, host: &str) -> bool {
        self.hosts
            .iter()
            .chain(&self.earlier)
            .any(|j| j.host == host)
    }
}

/// How a ring's rollout ended, or that it has not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingOutcome {
    /// Waves are still running, awaiting validation or waiting for a window.
    InProgress,
    /// Every wave validated and no host failed.
    Completed,
    /// Every wave validated, with `failed` hosts failed or timed out within
    /// the budget (OC-14 B: "completed with failures").
    CompletedWithFailures {
        /// Hosts failed or timed out in the ring.
        failed: u32,
    },
    /// Halted; no further wave starts.
    Halted {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for RingOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RingOutcome::InProgress => f.write_str("in progress"),
            RingOutcome::Completed => f.write_str("completed"),
            RingOutcome::CompletedWithFailures { .. } => f.write_str("completed with failures"),
            RingOutcome::Halted { reason } => write!(f, "halted: {reason}"),
        }
    }
}

/// The rollout of one ring of one bundle.
///
/// Invariants: `waves` cut `hosts` in order, each host once; the jobs of
/// waves `0..started_waves` have been sent; `jobs` are those of wave
/// `started_waves - 1` (the current wave); `ring_attempted` / `ring_failed`
/// count the completed waves only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingRun {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The ring's hosts in rollout order, with what each gets.
    pub hosts: Vec<HostJobSpec>,
    /// Asset ids per wave, in order ([`crate::waves::plan_waves`]).
    pub waves: Vec<Vec<String>>,
    /// How many waves have had their jobs sent.
    pub started_waves: u32,
    /// The current wave's jobs and results.
    pub jobs: Vec<HostJob>,
    /// Hosts attempted in the completed waves of the ring.
    pub ring_attempted: u32,
    /// Hosts failed or timed out in the completed waves of the ring.
    pub ring_failed: u32,
    /// Where the run stands.
    pub status: RunStatus,
    /// The window instance the ring was released in (UTC); a wave may start
    /// while it is open even outside `windows` (the emergency lane).
    pub window: WindowInstance,
    /// The ring's weekly windows: no new wave starts outside them (or `window`).
    pub windows: WindowSet,
    /// Waves, failure budget and result timeout.
    pub rollout: RolloutPolicy,
    /// The ring's rollback, once one was requested.
    pub rollback: Option<RollbackRun>,
    /// The host saga's steps and timeouts, fixed at the start. Runs stored
    /// before the saga: install only.
    #[serde(default)]
    pub saga: SagaPlan,
}

/// The KV key of a ring run: `run.<bundle_id>.<ring>`, the ring escaped so the
/// key holds only `[A-Za-z0-9_-]` and `=` (every other byte becomes `=XX`,
/// `=` itself included), which JetStream KV accepts and never confuses for a
/// token separator.
pub fn state_key(bundle_id: Uuid, ring: &str) -> String {
    let mut escaped = String::with_capacity(ring.len());
    for b in ring.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            escaped.push(char::from(b));
        } else {
            escaped.push_str(&format!("={b:02X}"));
        }
    }
    if escaped.is_empty() {
        escaped.push('=');
    }
    format!("run.{bundle_id}.{escaped}")
}

/// The KV key of the ring run an input belongs to: `bundle.scheduled`,
/// `agent.result`, `validation.passed`, `rollback.requested` and
/// `deployment.step.finished` carry their bundle and ring, `agent.online`
/// those of the reboot job it answers; `None` for any other payload (and an
/// `agent.online` naming no reboot).
pub fn input_key(payload: &Payload) -> Option<String> {
    let (bundle_id, ring) = match payload {
        Payload::BundleScheduled(p) => (p.bundle_id, &p.ring),
        Payload::AgentResult(p) => (p.bundle_id, &p.ring),
        Payload::ValidationPassed(p) => (p.bundle_id, &p.ring),
        Payload::RollbackRequested(p) => (p.bundle_id, &p.ring),
        Payload::HostStepFinished(p) => (p.bundle_id, &p.ring),
        Payload::AgentOnline(p) => {
            let r = p.reboot.as_ref()?;
            (r.bundle_id, &r.ring)
        }
        _ => return None,
    };
    Some(state_key(bundle_id, ring))
}

impl RingRun {
    /// Starts the rollout of the ring `scheduled` releases, at `now` (UTC).
    ///
    /// Cuts the hosts into waves and, when a window is open at `now`
    /// (`scheduled.window` or one of `scheduled.windows`), starts wave 0: one
    /// `AgentJob` (apply) per host, issued at `now` and expiring when results
    /// are due (`now + result_timeout_secs`), then `WaveStarted`. With no
    /// window open the run waits in [`RunStatus::PausedForWindow`] and emits
    /// nothing. A ring with no hosts is [`RunStatus::Done`] at once.
    ///
    /// Call it only when no run is stored under [`state_key`]; a redelivered
    /// `bundle.scheduled` for an existing run is skipped by
    /// [`RingRun::on_event`].
    ///
    /// # Errors
    /// [`DeployError`] when a host is listed twice or has an empty id, the
    /// window set does not resolve, or the policy's `max_failed_percent` is not
    /// a finite number ≥ 0 or its `result_timeout_secs` is 0 or beyond 100 years.
    pub fn start(
        scheduled: &BundleScheduled,
        now: DateTime<Utc>,
    ) -> Result<(RingRun, Vec<Output>), DeployError> {
        RingRun::start_with_saga(scheduled, SagaPlan::default(), now)
    }

    /// [`RingRun::start`] with the host saga `saga` (which webhook steps run,
    /// and their timeouts; see [`crate::saga`]).
    ///
    /// # Errors
    /// As [`RingRun::start`].
    pub fn start_with_saga(
        scheduled: &BundleScheduled,
        saga: SagaPlan,
        now: DateTime<Utc>,
    ) -> Result<(RingRun, Vec<Output>), DeployError> {
        validate(scheduled)?;
        let ids: Vec<String> = scheduled.hosts.iter().map(|h| h.asset_id.clone()).collect();
        let mut run = RingRun {
            bundle_id: scheduled.bundle_id,
            ring: scheduled.ring.clone(),
            hosts: scheduled.hosts.clone(),
            waves: plan_waves(&ids, &scheduled.rollout),
            started_waves: 0,
            jobs: Vec::new(),
            ring_attempted: 0,
            ring_failed: 0,
            status: RunStatus::Done,
            window: scheduled.window,
            windows: scheduled.windows.clone(),
            rollout: scheduled.rollout.clone(),
            rollback: None,
            saga,
        };
        if run.waves.is_empty() {
            return Ok((run, Vec::new()));
        }
        let outputs = run.start_or_pause(0, now)?;
        Ok((run, outputs))
    }

    /// Routes an input event to its transition: `agent.result` to
    /// [`RingRun::on_result`] (with the event's id as the result event id),
    /// `validation.passed` to [`RingRun::on_validation_passed`],
    /// `rollback.requested` to [`RingRun::on_rollback_requested`]. A
    /// `bundle.scheduled` for an existing run, and any other payload, is skipped.
    ///
    /// # Errors
    /// As [`RingRun::on_validation_passed`].
    pub fn on_event(&mut self, event: &Event, now: DateTime<Utc>) -> Result<Decision, DeployError> {
        match &event.data {
            Payload::AgentResult(r) => Ok(self.on_result(r, event.id, now)),
            Payload::ValidationPassed(v) => self.on_validation_passed(v, now),
            Payload::RollbackRequested(r) => Ok(self.on_rollback_requested(r, now)),
            Payload::AgentOnline(o) => Ok(self.on_agent_online(o, now)),
            Payload::HostStepFinished(f) => Ok(self.on_step_finished(f, now)),
            Payload::BundleScheduled(_) => Ok(Decision::skip(format!(
                "ring {} of bundle {} is already running",
                self.ring, self.bundle_id
            ))),
            other => Ok(Decision::skip(format!(
                "deploy does not handle {}",
                other.event_type()
            ))),
        }
    }

    /// Records an agent's result (`result_event_id`: the id of its
    /// `patch.agent.result` event).
    ///
    /// An apply result counts only for a job of the current, running wave
    /// that has no status yet; a rollback result only for a pending job of the
    /// current rollback. Anything else (another run, an earlier wave, a
    /// duplicate, a result after the host timed out, a host that is not the
    /// job's) is skipped and changes nothing. `Succeeded` → succeeded;
    /// `Failed` and `Refused` → failed with the agent's reason.
    ///
    /// When the wave's last host is in, the wave finishes: `WaveCompleted`
    /// and [`RunStatus::AwaitingValidation`] when the budget holds, else
    /// `WaveHalted`, `RollbackRequested` for the wave's failed and timed-out
    /// hosts (not the refused ones, which changed nothing) and
    /// [`RunStatus::Halted`]. When a rollback's last host is in,
    /// `RollbackCompleted`.
    pub fn on_result(
        &mut self,
        result: &AgentResult,
        result_event_id: Uuid,
        now: DateTime<Utc>,
    ) -> Decision {
        if let Some(skip) = self.foreign(result.bundle_id, &result.ring) {
            return skip;
        }
        match result.action {
            JobAction::Apply => {
                let without_step = self
                    .jobs
                    .iter()
                    .any(|j| j.job_id == result.job_id && j.step.is_none() && j.status.is_none());
                if without_step {
                    self.on_apply_result(result, result_event_id, now)
                } else {
                    self.on_install_result(result, result_event_id, now)
                }
            }
            JobAction::Rollback => self.on_rollback_result(result, result_event_id),
            JobAction::Reboot => self.on_reboot_result(result, now),
        }
    }

    /// An apply result for a job of a run stored before the saga (sent
    /// without a step): the result is the host's outcome.
    fn on_apply_result(
        &mut self,
        result: &AgentResult,
        result_event_id: Uuid,
        now: DateTime<Utc>,
    ) -> Decision {
        let RunStatus::Running { wave, .. } = self.status else {
            return Decision::skip(format!(
                "no wave of ring {} awaits results ({}); job {} is stale",
                self.ring,
                self.status_name(),
                result.job_id
            ));
        };
        let Some(job) = self.jobs.iter_mut().find(|j| j.job_id == result.job_id) else {
            return Decision::skip(format!(
                "job {} is not a job of wave {wave} of ring {}",
                result.job_id, self.ring
            ));
        };
        if job.host != result.host {
            return Decision::skip(format!(
                "job {} was sent to {:?}, not to the reporting host {:?}",
                result.job_id, job.host, result.host
            ));
        }
        if job.status.is_some() {
            return Decision::skip(format!(
                "job {} of {:?} already has a result",
                result.job_id, job.host
            ));
        }
        job.record(result, result_event_id);
        if self.jobs.iter().all(|j| j.status.is_some()) {
            Decision::Advance(self.finish_wave(wave, now))
        } else {
            Decision::Advance(Vec::new())
        }
    }

    fn on_rollback_result(&mut self, result: &AgentResult, result_event_id: Uuid) -> Decision {
        let Some(rollback) = self.rollback.as_mut().filter(|r| !r.completed) else {
            return Decision::skip(format!(
                "no rollback of ring {} is in progress; job {} is stale",
                self.ring, result.job_id
            ));
        };
        let Some(job) = rollback
            .hosts
            .iter_mut()
            .find(|j| j.job_id == result.job_id)
        else {
            return Decision::skip(format!(
                "job {} is not a rollback job of ring {}",
                result.job_id, self.ring
            ));
        };
        if job.host != result.host {
            return Decision::skip(format!(
                "rollback job {} was sent to {:?}, not to the reporting host {:?}",
                result.job_id, job.host, result.host
            ));
        }
        if job.status.is_some() {
            return Decision::skip(format!(
                "rollback job {} of {:?} already has a result",
                result.job_id, job.host
            ));
        }
        job.record(result, result_event_id);
        if rollback.hosts.iter().all(|j| j.status.is_some()) {
            Decision::Advance(vec![self.complete_rollback()])
        } else {
            Decision::Advance(Vec::new())
        }
    }

    /// Advances the run by the clock, at `now` (UTC).
    ///
    /// - Running and `now ≥ results_due_at`: every silent host becomes
    ///   `TimedOut` ("no result within N s") and the wave finishes as in
    ///   [`RingRun::on_result`].
    /// - Paused for a window and a window is open at `now`: the next wave
    ///   starts; still closed: `resume_at` is moved to the next opening if it
    ///   changed (a window missed while the service was down).
    /// - A rollback in progress and `now ≥ due_at`: its silent hosts become
    ///   `TimedOut` and `RollbackCompleted` is emitted.
    ///
    /// Returns [`Decision::Skip`] when nothing is due.
    ///
    /// # Errors
    /// [`DeployError::Windows`] when the stored window set no longer resolves.
    pub fn on_tick(&mut self, now: DateTime<Utc>) -> Result<Decision, DeployError> {
        let mut outputs = Vec::new();
        let mut changed = false;
        let mut waiting = Vec::new();
        match self.status {
            RunStatus::Running {
                wave,
                results_due_at,
            } => {
                let legacy_due = self.has_jobs_without_step() && now >= results_due_at;
                let step_due = self.next_step_due().is_some_and(|due| now >= due);
                if legacy_due {
                    // Jobs of a run stored before the saga.
                    let reason = format!("no result within {} s", self.rollout.result_timeout_secs);
                    for job in self.jobs.iter_mut().filter(|j| j.step.is_none()) {
                        job.time_out(&reason);
                    }
                }
                if step_due {
                    outputs.extend(self.time_out_steps(now));
                }
                if legacy_due || step_due {
                    outputs.extend(self.finish_wave_if_done(now));
                    changed = true;
                } else {
                    let due = self.next_step_due().unwrap_or(results_due_at);
                    waiting.push(format!("wave {wave} results are due at {due}"));
                }
            }
            RunStatus::PausedForWindow {
                next_wave,
                resume_at,
            } => {
                if self.is_open(now)? {
                    outputs.extend(self.start_wave(next_wave, now));
                    changed = true;
                } else {
                    let next = self.next_opening(now)?;
                    if next != resume_at {
                        self.status = RunStatus::PausedForWindow {
                            next_wave,
                            resume_at: next,
                        };
                        changed = true;
                    }
                    waiting.push(format!("wave {next_wave} waits for the window at {next}"));
                }
            }
            RunStatus::AwaitingValidation { .. } | RunStatus::Halted { .. } | RunStatus::Done => {}
        }
        if let Some(rollback) = self.rollback.as_mut().filter(|r| !r.completed) {
            if now >= rollback.due_at {
                let reason = format!(
                    "no rollback result within {} s",
                    self.rollout.result_timeout_secs
                );
                for job in &mut rollback.hosts {
                    job.time_out(&reason);
                }
                outputs.push(self.complete_rollback());
                changed = true;
            } else {
                waiting.push(format!("rollback results are due at {}", rollback.due_at));
            }
        }
        if changed {
            return Ok(Decision::Advance(outputs));
        }
        if waiting.is_empty() {
            waiting.push(format!("nothing is due ({})", self.status_name()));
        }
        Ok(Decision::skip(waiting.join("; ")))
    }

    /// Takes the validation gate's pass for the wave awaiting it, at `now` (UTC).
    ///
    /// When more waves follow, the next one starts if a window is open at
    /// `now` (`window`, or `windows.current_or_next(now).contains(now)`), else
    /// the run pauses until the next opening: no new host starts outside a
    /// window. After the last wave the run is [`RunStatus::Done`]. A pass for
    /// another run or another wave, or one not awaited, is skipped.
    ///
    /// # Errors
    /// [`DeployError::Windows`] when the stored window set no longer resolves.
    pub fn on_validation_passed(
        &mut self,
        passed: &ValidationPassed,
        now: DateTime<Utc>,
    ) -> Result<Decision, DeployError> {
        if let Some(skip) = self.foreign(passed.bundle_id, &passed.ring) {
            return Ok(skip);
        }
        let RunStatus::AwaitingValidation { wave } = self.status else {
            return Ok(Decision::skip(format!(
                "ring {} awaits no validation ({}); pass for wave {} is stale",
                self.ring,
                self.status_name(),
                passed.wave
            )));
        };
        if passed.wave != wave {
            return Ok(Decision::skip(format!(
                "ring {} awaits the validation of wave {wave}, not of wave {}",
                self.ring, passed.wave
            )));
        }
        if self.started_waves as usize >= self.waves.len() {
            self.status = RunStatus::Done;
            return Ok(Decision::Advance(Vec::new()));
        }
        Ok(Decision::Advance(
            self.start_or_pause(self.started_waves, now)?,
        ))
    }

    /// Rolls the listed hosts back, at `now` (UTC).
    ///
    /// Each listed host of this ring whose apply job was sent and that is not
    /// yet part of a rollback gets an `AgentJob` (action rollback) carrying
    /// the remediations its apply job carried, due after `result_timeout_secs`.
    /// Hosts joining a rollback still in progress join it (its due time moves
    /// to the later one); hosts named after it completed start a new round
    /// with its own `RollbackCompleted`. A ring still rolling out stops:
    /// [`RunStatus::Halted`] ("rollback requested: …"), no further wave starts.
    ///
    /// Idempotent: a request naming no new host (a redelivery, a second
    /// identical request) is skipped, as are hosts of other rings or never started.
    pub fn on_rollback_requested(
        &mut self,
        request: &RollbackRequested,
        now: DateTime<Utc>,
    ) -> Decision {
        if let Some(skip) = self.foreign(request.bundle_id, &request.ring) {
            return skip;
        }
        let outputs = self.add_rollback(&request.hosts, now);
        if outputs.is_empty() {
            return Decision::skip(format!(
                "rollback of {:?} in ring {}: every host is already rolled back, unknown or never started",
                request.hosts, self.ring
            ));
        }
        if matches!(
            self.status,
            RunStatus::Running { .. }
                | RunStatus::AwaitingValidation { .. }
                | RunStatus::PausedForWindow { .. }
        ) {
            self.status = RunStatus::Halted {
                wave: self.started_waves.saturating_sub(1),
                reason: format!("rollback requested: {}", request.reason),
            };
        }
        Decision::Advance(outputs)
    }

    /// Sends rollback jobs to those of `hosts` that were started and are not
    /// yet part of a rollback (see [`RingRun::on_rollback_requested`]);
    /// returns the jobs, none when no host is new.
    fn add_rollback(&mut self, hosts: &[String], now: DateTime<Utc>) -> Vec<Output> {
        let due = self.due(now);
        let mut new_jobs: Vec<HostJob> = Vec::new();
        let mut outputs = Vec::new();
        for host in hosts {
            let taken = self.rollback.as_ref().is_some_and(|r| r.covers(host))
                || new_jobs.iter().any(|j| &j.host == host);
            let Some(wave) = self.started_wave_of(host).filter(|_| !taken) else {
                continue;
            };
            let id = output_id(self.bundle_id, &key::rollback_job(&self.ring, host));
            outputs.push(Output::new(
                self.bundle_id,
                key::rollback_job(&self.ring, host),
                AgentJob {
                    job_id: id,
                    bundle_id: self.bundle_id,
                    ring: self.ring.clone(),
                    wave,
                    host: host.clone(),
                    action: JobAction::Rollback,
                    remediations: self
                        .spec(host)
                        .map(|s| s.remediations.clone())
                        .unwrap_or_default(),
                    issued_at: now,
                    expires_at: due,
                    signature: None,
                    key_id: None,
                },
            ));
            new_jobs.push(HostJob::new(host.clone(), wave, id));
        }
        if new_jobs.is_empty() {
            return outputs;
        }
        match self.rollback.as_mut() {
            None => {
                self.rollback = Some(RollbackRun {
                    round: 0,
                    hosts: new_jobs,
                    due_at: due,
                    completed: false,
                    earlier: Vec::new(),
                });
            }
            Some(r) if !r.completed => {
                r.hosts.extend(new_jobs);
                r.due_at = r.due_at.max(due);
            }
            Some(r) => {
                let done = std::mem::replace(&mut r.hosts, new_jobs);
                r.earlier.extend(done);
                r.round += 1;
                r.due_at = due;
                r.completed = false;
            }
        }
        outputs
    }

    /// The next instant (UTC) at which [`RingRun::on_tick`] can change the
    /// run: results due, a window expected to open, rollback results due.
    /// `None` when only an event can move it (awaiting validation, halted or
    /// done with no rollback pending): the adapter need not tick it.
    pub fn wakes_at(&self) -> Option<DateTime<Utc>> {
        let status = match self.status {
            RunStatus::Running { results_due_at, .. } => {
                match (self.next_step_due(), self.has_jobs_without_step()) {
                    (Some(due), false) => Some(due),
                    (Some(due), true) => Some(due.min(results_due_at)),
                    (None, _) => Some(results_due_at),
                }
            }
            RunStatus::PausedForWindow { resume_at, .. } => Some(resume_at),
            _ => None,
        };
        let rollback = self
            .rollback
            .as_ref()
            .filter(|r| !r.completed)
            .map(|r| r.due_at);
        match (status, rollback) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The current wave (the last one whose jobs were sent), if any.
    pub fn current_wave(&self) -> Option<u32> {
        self.started_waves.checked_sub(1)
    }

    /// How the ring's rollout ended, or [`RingOutcome::InProgress`].
    pub fn outcome(&self) -> RingOutcome {
        match &self.status {
            RunStatus::Done if self.ring_failed == 0 => RingOutcome::Completed,
            RunStatus::Done => RingOutcome::CompletedWithFailures {
                failed: self.ring_failed,
            },
            RunStatus::Halted { reason, .. } => RingOutcome::Halted {
                reason: reason.clone(),
            },
            _ => RingOutcome::InProgress,
        }
    }

    /// Hosts of waves never started.
    pub fn never_started(&self) -> Vec<String> {
        self.waves
            .iter()
            .skip(self.started_waves as usize)
            .flatten()
            .cloned()
            .collect()
    }

    /// The run as stored in KV (JSON).
    pub fn encode(&self) -> Vec<u8> {
        // Plain data with string keys only: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A run read back from KV.
    ///
    /// # Errors
    /// [`DeployError::State`] when the bytes are not a stored [`RingRun`].
    pub fn decode(bytes: &[u8]) -> Result<RingRun, DeployError> {
        serde_json::from_slice(bytes).map_err(DeployError::State)
    }

    fn foreign(&self, bundle_id: Uuid, ring: &str) -> Option<Decision> {
        (bundle_id != self.bundle_id || ring != self.ring).then(|| {
            Decision::skip(format!(
                "input for ring {ring} of bundle {bundle_id} reached the run of ring {} of bundle {}",
                self.ring, self.bundle_id
            ))
        })
    }

    /// Whether a current-wave job awaits its result without a saga step: a
    /// run stored before the saga sent its jobs at once.
    fn has_jobs_without_step(&self) -> bool {
        self.jobs
            .iter()
            .any(|j| j.step.is_none() && j.status.is_none())
    }

    pub(crate) fn status_name(&self) -> &'static str {
        match self.status {
            RunStatus::Running { .. } => "running",
            RunStatus::AwaitingValidation { .. } => "awaiting validation",
            RunStatus::PausedForWindow { .. } => "paused for its window",
            RunStatus::Halted { .. } => "halted",
            RunStatus::Done => "done",
        }
    }

    pub(crate) fn spec(&self, host: &str) -> Option<&HostJobSpec> {
        self.hosts.iter().find(|h| h.asset_id == host)
    }

    fn remediation_keys(&self, host: &str) -> Vec<String> {
        self.spec(host)
            .map(|s| s.remediations.iter().map(|r| r.key()).collect())
            .unwrap_or_default()
    }

    /// The wave whose apply job reached `host`, if its wave has started.
    fn started_wave_of(&self, host: &str) -> Option<u32> {
        self.waves
            .iter()
            .take(self.started_waves as usize)
            .position(|w| w.iter().any(|h| h == host))
            .and_then(|i| u32::try_from(i).ok())
    }

    fn kind(&self, wave: u32) -> WaveKind {
        wave_kind(wave, self.rollout.canary_hosts)
    }

    /// `now + result_timeout_secs`, saturating at the end of time (the
    /// timeout was bounded by [`validate`]).
    fn due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        i64::try_from(self.rollout.result_timeout_secs)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn is_open(&self, now: DateTime<Utc>) -> Result<bool, DeployError> {
        Ok(self.window.contains(now) || self.current_or_next(now)?.contains(now))
    }

    fn next_opening(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, DeployError> {
        Ok(self.current_or_next(now)?.opens_at)
    }

    fn current_or_next(&self, now: DateTime<Utc>) -> Result<WindowInstance, DeployError> {
        self.windows
            .current_or_next(now)
            .map_err(|source| DeployError::Windows {
                ring: self.ring.clone(),
                source,
            })
    }

    fn start_or_pause(
        &mut self,
        wave: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<Output>, DeployError> {
        if self.is_open(now)? {
            Ok(self.start_wave(wave, now))
        } else {
            self.status = RunStatus::PausedForWindow {
                next_wave: wave,
                resume_at: self.next_opening(now)?,
            };
            Ok(Vec::new())
        }
    }

    /// Sends wave `wave`'s apply jobs, then `WaveStarted` (the event says the
    /// jobs were sent).
    fn start_wave(&mut self, wave: u32, now: DateTime<Utc>) -> Vec<Output> {
        let hosts = self.waves.get(wave as usize).cloned().unwrap_or_default();
        let due = self.due(now);
        let mut outputs = Vec::with_capacity(2 * hosts.len() + 1);
        self.jobs = hosts
            .iter()
            .map(|host| {
                let job_id = output_id(self.bundle_id, &key::apply_job(&self.ring, wave, host));
                HostJob::new(host.clone(), wave, job_id)
            })
            .collect();
        self.started_waves = wave.saturating_add(1);
        self.status = RunStatus::Running {
            wave,
            results_due_at: due,
        };
        for i in 0..self.jobs.len() {
            outputs.extend(self.begin_saga(i, now));
        }
        outputs.push(Output::new(
            self.bundle_id,
            key::wave_started(&self.ring, wave),
            WaveStarted {
                bundle_id: self.bundle_id,
                ring: self.ring.clone(),
                wave,
                kind: self.kind(wave),
                hosts,
                results_due_at: due,
            },
        ));
        outputs
    }

    fn outcome_of(&self, job: &HostJob) -> HostOutcome {
        HostOutcome {
            host: job.host.clone(),
            // Only called once every job has a status.
            status: job.status.unwrap_or(HostStatus::TimedOut),
            reason: job.reason.clone(),
            job_id: job.job_id,
            result_event_id: job.result_event_id,
            remediations: self.remediation_keys(&job.host),
            rollback_method: job.rollback_method,
        }
    }

    /// Every job of wave `wave` has a status: counts it, checks the budget and
    /// emits `WaveCompleted`, or `WaveHalted` (+ `RollbackRequested`).
    pub(crate) fn finish_wave(&mut self, wave: u32, now: DateTime<Utc>) -> Vec<Output> {
        let wave_attempted = u32::try_from(self.jobs.len()).unwrap_or(u32::MAX);
        let wave_failed =
            u32::try_from(self.jobs.iter().filter(|j| j.failed()).count()).unwrap_or(u32::MAX);
        self.ring_attempted = self.ring_attempted.saturating_add(wave_attempted);
        self.ring_failed = self.ring_failed.saturating_add(wave_failed);
        let outcomes: Vec<HostOutcome> = self.jobs.iter().map(|j| self.outcome_of(j)).collect();
        let label = wave_label(wave, self.rollout.canary_hosts);
        let tally = Tally {
            ring_attempted: self.ring_attempted,
            ring_failed: self.ring_failed,
            wave_attempted,
            wave_failed,
        };
        match budget::check(&self.rollout, &label, tally) {
            Verdict::Holds => {
                self.status = RunStatus::AwaitingValidation { wave };
                let mut outputs = vec![Output::new(
                    self.bundle_id,
                    key::wave_completed(&self.ring, wave),
                    WaveCompleted {
                        bundle_id: self.bundle_id,
                        ring: self.ring.clone(),
                        wave,
                        kind: self.kind(wave),
                        last_wave_in_ring: self.started_waves as usize >= self.waves.len(),
                        hosts: outcomes,
                        ring_attempted: self.ring_attempted,
                        ring_failed: self.ring_failed,
                    },
                )];
                // Hosts that broke after their install (a failed reboot or
                // post-check) are rolled back even though the ring goes on.
                let (broken, why): (Vec<String>, Vec<String>) = self
                    .jobs
                    .iter()
                    .filter(|j| j.failed() && j.roll_back)
                    .map(|j| {
                        let why = j.reason.as_deref().unwrap_or("failed");
                        (j.host.clone(), format!("{}: {why}", j.host))
                    })
                    .unzip();
                if !broken.is_empty() {
                    let reason = why.join("; ");
                    outputs.push(self.rollback_request(
                        wave,
                        broken.clone(),
                        format!("failed after the install, within the budget: {reason}"),
                    ));
                    outputs.extend(self.add_rollback(&broken, now));
                }
                outputs
            }
            Verdict::Halt { reason } => {
                let mut outputs = vec![Output::new(
                    self.bundle_id,
                    key::wave_halted(&self.ring, wave),
                    WaveHalted {
                        bundle_id: self.bundle_id,
                        ring: self.ring.clone(),
                        wave,
                        kind: self.kind(wave),
                        hosts: outcomes,
                        ring_attempted: self.ring_attempted,
                        ring_failed: self.ring_failed,
                        never_started: self.never_started(),
                        reason: reason.clone(),
                    },
                )];
                let to_roll_back: Vec<String> = self
                    .jobs
                    .iter()
                    .filter(|j| j.failed() && j.install_sent && !j.refused)
                    .map(|j| j.host.clone())
                    .collect();
                if !to_roll_back.is_empty() {
                    outputs.push(self.rollback_request(
                        wave,
                        to_roll_back,
                        format!("{label} of ring {} halted: {reason}", self.ring),
                    ));
                }
                self.status = RunStatus::Halted { wave, reason };
                outputs
            }
        }
    }

    /// Every job of the current rollback round has a status: emits
    /// `RollbackCompleted` and marks the round completed.
    /// `patch.rollback.requested` for `hosts` of `wave` (at most one per
    /// wave: its id comes from the wave).
    fn rollback_request(&self, wave: u32, hosts: Vec<String>, reason: String) -> Output {
        Output::new(
            self.bundle_id,
            key::rollback_requested(&self.ring, wave),
            RollbackRequested {
                bundle_id: self.bundle_id,
                ring: self.ring.clone(),
                wave,
                hosts,
                reason,
            },
        )
    }

    fn complete_rollback(&mut self) -> Output {
        let (round, hosts) = match &self.rollback {
            Some(r) => (
                r.round,
                r.hosts.iter().map(|j| self.outcome_of(j)).collect(),
            ),
            None => (0, Vec::new()),
        };
        if let Some(r) = self.rollback.as_mut() {
            r.completed = true;
        }
        Output::new(
            self.bundle_id,
            key::rollback_completed(&self.ring, round),
            RollbackCompleted {
                bundle_id: self.bundle_id,
                ring: self.ring.clone(),
                hosts,
            },
        )
    }
}

/// The longest result timeout accepted: 100 years, in seconds.
const MAX_RESULT_TIMEOUT_SECS: u64 = 100 * 366 * 24 * 3600;

fn validate(s: &BundleScheduled) -> Result<(), DeployError> {
    let ring = || s.ring.clone();
    let policy = |reason: String| DeployError::Policy {
        ring: ring(),
        reason,
    };
    let max = s.rollout.max_failed_percent;
    if !max.is_finite() || max < 0.0 {
        return Err(policy(format!(
            "max_failed_percent {max} is not a number >= 0"
        )));
    }
    let timeout = s.rollout.result_timeout_secs;
    if timeout == 0 || timeout > MAX_RESULT_TIMEOUT_SECS {
        return Err(policy(format!(
            "result_timeout_secs {timeout} is outside 1..={MAX_RESULT_TIMEOUT_SECS}"
        )));
    }
    s.windows
        .validate()
        .map_err(|source| DeployError::Windows {
            ring: ring(),
            source,
        })?;
    let mut seen = std::collections::BTreeSet::new();
    for h in &s.hosts {
        if h.asset_id.is_empty() {
            return Err(DeployError::EmptyHost { ring: ring() });
        }
        if !seen.insert(h.asset_id.as_str()) {
            return Err(DeployError::DuplicateHost {
                ring: ring(),
                host: h.asset_id.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keys_are_kv_safe_and_distinct() {
        let b = Uuid::from_u128(1);
        assert_eq!(
            state_key(b, "prod"),
            "run.00000000-0000-0000-0000-000000000001.prod"
        );
        assert_eq!(
            state_key(b, "eu.prod 1"),
            "run.00000000-0000-0000-0000-000000000001.eu=2Eprod=201"
        );
        assert_ne!(state_key(b, "a=2E"), state_key(b, "a."));
        assert!(state_key(b, "").ends_with(".="));
    }
}
