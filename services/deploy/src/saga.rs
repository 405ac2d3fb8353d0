//! The host saga: the steps one host of a wave goes through, each an event.
//!
//! ```text
//! pre_check → snapshot → maintenance_on → install → [reboot → await_agent]
//!           → post_check → maintenance_off → cmdb
//! ```
//!
//! - Webhook steps (`pre_check`, `snapshot`, `maintenance_on`, `post_check`,
//!   `maintenance_off`, `cmdb`) run only when deploy's configuration names a
//!   URL for them ([`crate::config::SagaConfig`]); the ring run fixes which
//!   ones at its start ([`SagaPlan`]), so a configuration change never
//!   reshapes a ring already rolling out.
//! - `install` always runs: the signed apply job.
//! - `reboot` runs when the install result says `reboot_required`: the signed
//!   reboot job; `await_agent` follows it and waits for the host's
//!   `patch.agent.online` naming that job, with a boot id different from the
//!   one before.
//!
//! Every step begins with `patch.deployment.step.started.<host>` (its
//! `due_at` is when it times out) and ends with
//! `patch.deployment.step.finished.<host>`. Deploy's step runner makes the
//! webhook requests when it reads the started event, so a crash of deploy
//! between the two re-runs the request (webhooks must be idempotent; the
//! request carries the started event's id as `Idempotency-Key`), while agent
//! steps are answered by the agent, which answers a redelivered job from its
//! history: a host never installs twice.
//!
//! How a step's end moves the host on:
//!
//! | step | succeeded | failed or timed out |
//! |---|---|---|
//! | `pre_check`, `snapshot`, `maintenance_on` | next step | host failed; nothing was installed, so it is not rolled back |
//! | `install` | next step | host failed (`timed_out` for a timeout); rolled back when the wave halts (a failed install is undone by the agent itself) |
//! | `reboot`, `await_agent`, `post_check` | next step | host failed; rolled back when its wave ends, even when the budget holds |
//! | `maintenance_off`, `cmdb` | next step | recorded, next step: the patch is in and checked, so bookkeeping that failed is reported, not rolled back |
//!
//! A host that failed after `maintenance_on` stays in maintenance mode: its
//! rollback, and then an operator, take it from there.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use events::{
    AgentJob, AgentOnline, AgentResult, HostStatus, HostStepFinished, HostStepStarted, JobAction,
    JobStatus, SagaStep, StepOutcome,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::output::{Output, key, output_id};
use crate::run::{Decision, HostJob, RingRun, RunStatus};

/// Which steps a ring's host sagas run, and how long each may take. Fixed
/// when the ring run starts; stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SagaPlan {
    /// The webhook steps configured (only [`SagaStep::is_webhook`] steps count).
    pub webhooks: BTreeSet<SagaStep>,
    /// Seconds a webhook step may take, retries included, before it times
    /// out. Default 120.
    pub webhook_timeout_secs: u64,
    /// Seconds a host may take to come back (its agent's
    /// `patch.agent.online` with a new boot id) after its reboot job was
    /// accepted. Default 900 (15 minutes).
    pub reboot_timeout_secs: u64,
}

impl Default for SagaPlan {
    fn default() -> Self {
        SagaPlan {
            webhooks: BTreeSet::new(),
            webhook_timeout_secs: 120,
            reboot_timeout_secs: 900,
        }
    }
}

impl SagaPlan {
    /// The step after `after` (`None`: the first step) for a host whose
    /// install did (`reboot_required`) or did not ask for a reboot; `None`
    /// when the saga is over.
    pub fn next(&self, after: Option<SagaStep>, reboot_required: bool) -> Option<SagaStep> {
        SagaStep::ALL
            .into_iter()
            .filter(|s| after.is_none_or(|a| *s > a))
            .find(|s| match s {
                SagaStep::Install => true,
                SagaStep::Reboot => reboot_required,
                SagaStep::AwaitAgent => after == Some(SagaStep::Reboot),
                webhook => self.webhooks.contains(webhook),
            })
    }

    /// The steps a host runs, in order, when its install asks (or not) for
    /// a reboot.
    pub fn steps(&self, reboot_required: bool) -> Vec<SagaStep> {
        let mut out = Vec::new();
        let mut at = None;
        while let Some(s) = self.next(at, reboot_required) {
            out.push(s);
            at = Some(s);
        }
        out
    }
}

/// The step a host is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveStep {
    /// The step.
    pub step: SagaStep,
    /// Its `patch.deployment.step.started` event.
    pub started_event_id: Uuid,
    /// When it times out (UTC).
    pub due_at: DateTime<Utc>,
}

/// Whether a step's failure fails the host (see the module table).
fn fatal(step: SagaStep) -> bool {
    !matches!(step, SagaStep::MaintenanceOff | SagaStep::Cmdb)
}

fn after(now: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl RingRun {
    /// How long `step` may take, in seconds.
    fn step_timeout_secs(&self, step: SagaStep) -> u64 {
        match step {
            SagaStep::Install | SagaStep::Reboot => self.rollout.result_timeout_secs,
            SagaStep::AwaitAgent => self.saga.reboot_timeout_secs,
            _ => self.saga.webhook_timeout_secs,
        }
    }

    /// Begins the first step of the saga of current-wave job `i`.
    pub(crate) fn begin_saga(&mut self, i: usize, now: DateTime<Utc>) -> Vec<Output> {
        match self.saga.next(None, false) {
            Some(step) => self.begin_step(i, step, now),
            None => Vec::new(),
        }
    }

    /// Begins `step` for current-wave job `i`: the started event, and the
    /// agent job for `install` and `reboot`.
    fn begin_step(&mut self, i: usize, step: SagaStep, now: DateTime<Utc>) -> Vec<Output> {
        let Some(job) = self.jobs.get(i) else {
            return Vec::new();
        };
        let (host, wave) = (job.host.clone(), job.wave);
        let due_at = after(now, self.step_timeout_secs(step));
        let started_key = key::step_started(&self.ring, wave, &host, step);
        let started_id = output_id(self.bundle_id, &started_key);
        let mut outputs = vec![Output::new(
            self.bundle_id,
            started_key,
            HostStepStarted {
                bundle_id: self.bundle_id,
                ring: self.ring.clone(),
                wave,
                host: host.clone(),
                step,
                due_at,
            },
        )];
        let agent_job = match step {
            SagaStep::Install => Some((
                key::apply_job(&self.ring, wave, &host),
                JobAction::Apply,
                self.spec(&host)
                    .map(|s| s.remediations.clone())
                    .unwrap_or_default(),
            )),
            SagaStep::Reboot => Some((
                key::reboot_job(&self.ring, wave, &host),
                JobAction::Reboot,
                Vec::new(),
            )),
            _ => None,
        };
        let mut sent = None;
        if let Some((job_key, action, remediations)) = agent_job {
            let job_id = output_id(self.bundle_id, &job_key);
            outputs.push(Output::new(
                self.bundle_id,
                job_key,
                AgentJob {
                    job_id,
                    bundle_id: self.bundle_id,
                    ring: self.ring.clone(),
                    wave,
                    host: host.clone(),
                    action,
                    remediations,
                    issued_at: now,
                    expires_at: due_at,
                    signature: None,
                    key_id: None,
                },
            ));
            sent = Some((action, job_id));
        }
        if let Some(job) = self.jobs.get_mut(i) {
            job.step = Some(ActiveStep {
                step,
                started_event_id: started_id,
                due_at,
            });
            match sent {
                Some((JobAction::Apply, _)) => job.install_sent = true,
                Some((JobAction::Reboot, id)) => job.reboot_job_id = Some(id),
                _ => {}
            }
        }
        outputs
    }

    /// Ends the active step of current-wave job `i` with `outcome`, at `now`
    /// (UTC): the finished event (unless the step runner already published
    /// it: `emit` false), then the next step, or the host's final status.
    /// Then, when every host of the wave has a status, the wave finishes.
    fn end_step(
        &mut self,
        i: usize,
        outcome: StepOutcome,
        detail: String,
        emit: bool,
        now: DateTime<Utc>,
    ) -> Vec<Output> {
        let Some(job) = self.jobs.get_mut(i) else {
            return Vec::new();
        };
        let Some(active) = job.step.take() else {
            return Vec::new();
        };
        let (host, wave, step) = (job.host.clone(), job.wave, active.step);
        let mut outputs = Vec::new();
        if emit {
            outputs.push(Output::new(
                self.bundle_id,
                key::step_finished(&self.ring, wave, &host, step),
                HostStepFinished {
                    bundle_id: self.bundle_id,
                    ring: self.ring.clone(),
                    wave,
                    host: host.clone(),
                    step,
                    outcome,
                    detail: detail.clone(),
                    started_event_id: active.started_event_id,
                    finished_at: now,
                },
            ));
        }
        if outcome == StepOutcome::Succeeded || !fatal(step) {
            match self.saga.next(Some(step), job.reboot_required) {
                Some(next) => outputs.extend(self.begin_step(i, next, now)),
                None => {
                    job.status = Some(HostStatus::Succeeded);
                    job.reason = None;
                }
            }
        } else {
            job.roll_back = matches!(
                step,
                SagaStep::Reboot | SagaStep::AwaitAgent | SagaStep::PostCheck
            );
            job.status = Some(match outcome {
                StepOutcome::TimedOut => HostStatus::TimedOut,
                _ => HostStatus::Failed,
            });
            job.reason = Some(format!("{step}: {detail}"));
        }
        outputs.extend(self.finish_wave_if_done(now));
        outputs
    }

    /// The current wave finishes once every host has a status.
    pub(crate) fn finish_wave_if_done(&mut self, now: DateTime<Utc>) -> Vec<Output> {
        match self.status {
            RunStatus::Running { wave, .. } if self.jobs.iter().all(|j| j.status.is_some()) => {
                self.finish_wave(wave, now)
            }
            _ => Vec::new(),
        }
    }

    /// The index of the current-wave job that `is_it` picks (by its job
    /// or step id), sent to `host`, whose active step is `step`; or why
    /// there is none.
    fn active(
        &self,
        step: SagaStep,
        what: &str,
        host: &str,
        is_it: impl Fn(&HostJob) -> bool,
    ) -> Result<usize, Decision> {
        let RunStatus::Running { wave, .. } = self.status else {
            return Err(Decision::skip(format!(
                "no wave of ring {} awaits results ({}); {what} is stale",
                self.ring,
                self.status_name()
            )));
        };
        let Some(i) = self.jobs.iter().position(is_it) else {
            return Err(Decision::skip(format!(
                "{what} is not a job of wave {wave} of ring {}",
                self.ring
            )));
        };
        let job = &self.jobs[i];
        if job.host != host {
            return Err(Decision::skip(format!(
                "{what} was sent to {:?}, not to the reporting host {host:?}",
                job.host
            )));
        }
        match &job.step {
            Some(a) if a.step == step => Ok(i),
            None if job.status.is_some() => Err(Decision::skip(format!(
                "{what}: host {:?} already has a result",
                job.host
            ))),
            other => Err(Decision::skip(format!(
                "{what}: host {:?} is not in step {step} (it is in {})",
                job.host,
                other
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |a| a.step.to_string())
            ))),
        }
    }

    /// An apply result for an install step (`result_event_id`: its event).
    pub(crate) fn on_install_result(
        &mut self,
        result: &AgentResult,
        result_event_id: Uuid,
        now: DateTime<Utc>,
    ) -> Decision {
        let what = format!("job {}", result.job_id);
        let i = match self.active(SagaStep::Install, &what, &result.host, |j| {
            j.job_id == result.job_id
        }) {
            Ok(i) => i,
            Err(skip) => return skip,
        };
        let Some(job) = self.jobs.get_mut(i) else {
            return Decision::skip(what);
        };
        job.result_event_id = Some(result_event_id);
        job.refused = result.status == JobStatus::Refused;
        job.reboot_required = result.status == JobStatus::Succeeded && result.reboot_required;
        let (outcome, detail) = match result.status {
            JobStatus::Succeeded => (
                StepOutcome::Succeeded,
                format!(
                    "installed {} remediation(s){}",
                    result.inventory.applied.len(),
                    if job.reboot_required {
                        "; reboot required"
                    } else {
                        ""
                    }
                ),
            ),
            JobStatus::Failed => (
                StepOutcome::Failed,
                result
                    .reason
                    .clone()
                    .unwrap_or_else(|| "the agent reported a failure".into()),
            ),
            JobStatus::Refused => (
                StepOutcome::Failed,
                result
                    .reason
                    .clone()
                    .unwrap_or_else(|| "the agent refused the job".into()),
            ),
        };
        Decision::Advance(self.end_step(i, outcome, detail, true, now))
    }

    /// A reboot job's result: accepted → `await_agent` begins (the boot id
    /// before is the result's); failed or refused → the host failed.
    pub(crate) fn on_reboot_result(
        &mut self,
        result: &AgentResult,
        now: DateTime<Utc>,
    ) -> Decision {
        let what = format!("reboot job {}", result.job_id);
        let i = match self.active(SagaStep::Reboot, &what, &result.host, |j| {
            j.reboot_job_id == Some(result.job_id)
        }) {
            Ok(i) => i,
            Err(skip) => return skip,
        };
        let (outcome, detail) = if result.status == JobStatus::Succeeded {
            let before = result.inventory.boot_id.clone();
            if let Some(job) = self.jobs.get_mut(i) {
                job.boot_id_before = Some(before.clone());
            }
            (
                StepOutcome::Succeeded,
                format!("reboot accepted by the agent (boot id {before})"),
            )
        } else {
            (
                StepOutcome::Failed,
                result
                    .reason
                    .clone()
                    .unwrap_or_else(|| "the agent did not accept the reboot".into()),
            )
        };
        Decision::Advance(self.end_step(i, outcome, detail, true, now))
    }

    /// An agent announcing itself after the reboot job it names: a new boot
    /// id ends `await_agent` as succeeded, the same boot id as failed (the
    /// host did not reboot). An announcement that overtakes the reboot job's
    /// result ends the `reboot` step first. Announcements naming no reboot
    /// job of this run are skipped.
    pub(crate) fn on_agent_online(&mut self, online: &AgentOnline, now: DateTime<Utc>) -> Decision {
        let Some(reboot) = &online.reboot else {
            return Decision::skip(format!(
                "agent {:?} started; no reboot awaited",
                online.host
            ));
        };
        let what = format!("agent online after reboot job {}", reboot.job_id);
        let is_it = |j: &HostJob| j.reboot_job_id == Some(reboot.job_id);
        let mut outputs = Vec::new();
        if let Ok(i) = self.active(SagaStep::Reboot, &what, &online.host, is_it) {
            if let Some(job) = self.jobs.get_mut(i) {
                job.boot_id_before = Some(reboot.boot_id_before.clone());
            }
            outputs.extend(self.end_step(
                i,
                StepOutcome::Succeeded,
                format!(
                    "reboot accepted by the agent (boot id {}; its result is still on the way)",
                    reboot.boot_id_before
                ),
                true,
                now,
            ));
        }
        let i = match self.active(SagaStep::AwaitAgent, &what, &online.host, is_it) {
            Ok(i) => i,
            Err(skip) if outputs.is_empty() => return skip,
            Err(_) => return Decision::Advance(outputs),
        };
        let before = self
            .jobs
            .get(i)
            .and_then(|j| j.boot_id_before.clone())
            .unwrap_or_else(|| reboot.boot_id_before.clone());
        let (outcome, mut detail) = if online.boot_id != before {
            (
                StepOutcome::Succeeded,
                format!("agent back with boot id {} (was {before})", online.boot_id),
            )
        } else {
            (
                StepOutcome::Failed,
                format!("the host did not reboot: boot id still {before}"),
            )
        };
        if let Some(d) = &online.detail {
            detail.push_str(&format!(" ({d})"));
        }
        outputs.extend(self.end_step(i, outcome, detail, true, now));
        Decision::Advance(outputs)
    }

    /// The step runner's end of a webhook step.
    pub(crate) fn on_step_finished(
        &mut self,
        finished: &HostStepFinished,
        now: DateTime<Utc>,
    ) -> Decision {
        if !finished.step.is_webhook() {
            return Decision::skip(format!(
                "step {} of {:?} ended (deploy's own record)",
                finished.step, finished.host
            ));
        }
        let what = format!("end of step {} of {:?}", finished.step, finished.host);
        let i = match self.active(finished.step, &what, &finished.host, |j| {
            j.host == finished.host
                && j.step
                    .as_ref()
                    .is_some_and(|a| a.started_event_id == finished.started_event_id)
        }) {
            Ok(i) => i,
            Err(skip) => return skip,
        };
        Decision::Advance(self.end_step(i, finished.outcome, finished.detail.clone(), false, now))
    }

    /// Times out every current-wave step due at or before `now` (UTC).
    pub(crate) fn time_out_steps(&mut self, now: DateTime<Utc>) -> Vec<Output> {
        let mut outputs = Vec::new();
        for i in 0..self.jobs.len() {
            // A step that times out may begin the next one; that one is not
            // due yet, so each host ends at most one step per tick.
            let Some(active) = self.jobs.get(i).and_then(|j| j.step.clone()) else {
                continue;
            };
            if now < active.due_at {
                continue;
            }
            let secs = self.step_timeout_secs(active.step);
            let detail = match active.step {
                SagaStep::Install | SagaStep::Reboot => format!("no result within {secs} s"),
                SagaStep::AwaitAgent => {
                    format!("the agent did not come back within {secs} s of its reboot")
                }
                _ => format!("the step runner reported no end within {secs} s"),
            };
            outputs.extend(self.end_step(i, StepOutcome::TimedOut, detail, true, now));
        }
        outputs
    }

    /// The earliest `due_at` of the current wave's active steps.
    pub(crate) fn next_step_due(&self) -> Option<DateTime<Utc>> {
        self.jobs
            .iter()
            .filter_map(|j| j.step.as_ref().map(|a| a.due_at))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_configuration_and_the_reboot() {
        use SagaStep::*;
        let none = SagaPlan::default();
        assert_eq!(none.steps(false), [Install]);
        assert_eq!(none.steps(true), [Install, Reboot, AwaitAgent]);
        let all = SagaPlan {
            webhooks: SagaStep::ALL.into_iter().collect(),
            ..SagaPlan::default()
        };
        assert_eq!(
            all.steps(false),
            [
                PreCheck,
                Snapshot,
                MaintenanceOn,
                Install,
                PostCheck,
                MaintenanceOff,
                Cmdb
            ]
        );
        assert_eq!(all.steps(true).len(), 9);
        let some = SagaPlan {
            webhooks: [PreCheck, Cmdb].into_iter().collect(),
            ..SagaPlan::default()
        };
        assert_eq!(
            some.steps(true),
            [PreCheck, Install, Reboot, AwaitAgent, Cmdb]
        );
        assert_eq!(some.next(Some(AwaitAgent), true), Some(Cmdb));
        assert_eq!(some.next(Some(Cmdb), true), None);
    }
}
