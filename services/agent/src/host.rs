//! Jobs on a real host: a job's remediations applied (or rolled back) with a
//! [`PackageBackend`], and the small local state that makes this safe.
//!
//! The state file (default `/var/lib/patchflow/agent-<host>.json`, see
//! [`default_state_path`]) holds, per applied remediation, the package
//! versions it replaced (a rollback downgrades to them), every job's result
//! (a redelivered job gets it again and is never applied twice), and, while
//! a job is changing packages, a journal of the versions from before it (so a
//! crash in the middle still rolls back to the true previous versions).
//!
//! A job goes:
//! 0. ([`Host::handle_verified_job`]) refused when deploy's signature does
//!    not verify (nothing runs; see [`crate::verify`]);
//! 1. refused when addressed to another host or received after `expires_at`
//!    (nothing runs); a job id in the history returns the recorded result;
//! 2. **plan**: each remediation becomes one [`crate::backend::Operation`];
//!    any remediation the backend cannot apply (a scanner's solution text, an
//!    advisory on `apt`, a name or version with forbidden characters) fails
//!    the job before anything runs;
//! 3. packages already at (or newer than) their fixed version need nothing;
//! 4. **simulate** with the manager's own simulation; a dry run stops here
//!    and reports the plan, changing nothing (not even the state file);
//! 5. the configured **snapshot** hook runs ([`Hooks`]; its failure fails
//!    the job, nothing changed); the versions before are journaled, then
//!    **apply**; on failure the packages that changed are restored to their
//!    previous versions;
//! 6. **verify**: versions read back, each package at its target;
//! 7. **reboot-check**: whether the host needs a reboot; the result's
//!    `reboot_required` says so. The agent never reboots inside an apply or
//!    rollback job: the deploy saga sends a reboot job as its own step.
//!
//! A **reboot** job ([`JobAction::Reboot`]) is verified and refused like any
//! other (signature, host, expiry; a job id in the history returns the
//! recorded result and reboots nothing), and refused when the agent has no
//! reboot command configured ([`crate::Config::reboot`] empty) or another
//! reboot is still pending. A dry run answers with a `plan reboot` step
//! naming the command and changes nothing. Otherwise the state records a
//! pending reboot ([`HostState::pending_reboot`]: the job's ids and the boot
//! id from before) and the job succeeds with one step `reboot`
//! (`rebooting: running <argv>`) and the boot id from before in its
//! inventory. The adapter saves that state, publishes the result, acks the
//! job, and only then runs the command ([`Host::run_reboot`]). When the
//! command fails, [`Host::reboot_failed`] gives the
//! `patch.agent.online.<host>` announcement with the unchanged boot id and
//! why, and clears the pending reboot; at every agent start [`Host::online`]
//! gives the announcement naming the pending reboot, if any, and clears it.
//!
//! A rollback job runs the configured **restore** hook first, then
//! downgrades (or removes) every package the bundle changed that is not back
//! at its recorded previous version: after a restore that worked, nothing;
//! after one that failed, everything.
//!
//! Step names in results: `simulate`, `snapshot`, `apply` (the manager's last
//! lines), `install <key>` (`plan <key>` in a dry run), `restore-snapshot`,
//! `rollback <key>`, `revert`, `verify`, `reboot-check`, `reboot` (`plan
//! reboot` in a dry run), `inventory`, `accept`, `verify-signature`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::{
    AgentJob, AgentOnline, AgentResult, HostInventory, JobAction, JobStatus, JobStep, RebootRef,
    Remediation, RollbackMethod,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::backend::{
    BackendError, ChangeKind, Command, InvalidInput, Manager, Operation, PackageBackend,
    PackageFormat, PackageName, PackageVersion, Runner, Transaction,
};
use crate::config::Hooks;
use crate::lab::AppliedRemediation;
use crate::verify::{JobVerifier, SIGNATURE_STEP};

/// Where the kernel publishes the id of the current boot (Linux).
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

/// The directory of the default state files.
pub const STATE_DIR: &str = "/var/lib/patchflow";

/// The default state file of a real-backend agent for `host`:
/// `/var/lib/patchflow/agent-<host>.json`, a `/` in the host id written as
/// `_` so the file stays in that directory.
pub fn default_state_path(host: &str) -> PathBuf {
    let file: String = host
        .chars()
        .map(|c| if matches!(c, '/' | '\0') { '_' } else { c })
        .collect();
    Path::new(STATE_DIR).join(format!("agent-{file}.json"))
}

/// A job changing packages right now: the versions from before it, written
/// before the package manager runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingJob {
    /// The job.
    pub job_id: Uuid,
    /// Its bundle.
    pub bundle_id: Uuid,
    /// When it started changing packages (UTC).
    pub started_at: DateTime<Utc>,
    /// Package name → version before the job; `None` when not installed.
    pub previous_versions: BTreeMap<String, Option<String>>,
}

/// A real host's agent state, as stored in its JSON state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostState {
    /// The host's asset id; a file for another host is refused.
    pub host: String,
    /// Remediations applied and not rolled back, in the order applied, with
    /// the versions they replaced.
    #[serde(default)]
    pub applied: Vec<AppliedRemediation>,
    /// Every job handled (not refused), by id, with the result reported.
    #[serde(default)]
    pub history: BTreeMap<Uuid, AgentResult>,
    /// The job whose package changes were started and not finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingJob>,
    /// The reboot job accepted whose reboot has not been announced yet: the
    /// next agent start announces it (`patch.agent.online.<host>` naming the
    /// job) and clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reboot: Option<RebootRef>,
}

/// Why a host state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but could not be read.
    #[error("read agent state file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON of [`HostState`]'s shape.
    #[error("agent state file {} is not a valid agent state: {source}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The file belongs to another host.
    #[error("agent state file {} is for host {found:?}, not {expected:?}", .path.display())]
    OtherHost {
        /// The file.
        path: PathBuf,
        /// The host in the file.
        found: String,
        /// This agent's host.
        expected: String,
    },
    /// The file could not be written (directory, temporary file, sync,
    /// rename).
    #[error("write agent state file {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl HostState {
    /// A fresh state: nothing applied, no history.
    pub fn new(host: impl Into<String>) -> HostState {
        HostState {
            host: host.into(),
            applied: Vec::new(),
            history: BTreeMap::new(),
            pending: None,
            pending_reboot: None,
        }
    }

    /// Reads the state file at `path`, or a fresh state for `host` when the
    /// file does not exist yet.
    ///
    /// # Errors
    /// [`StateError::Read`], [`StateError::Parse`] (unknown fields
    /// included), [`StateError::OtherHost`] when the file names another
    /// host.
    pub fn load_or_new(path: &Path, host: &str) -> Result<HostState, StateError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HostState::new(host)),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let state: HostState =
            serde_json::from_slice(&bytes).map_err(|source| StateError::Parse {
                path: path.to_owned(),
                source,
            })?;
        if state.host != host {
            return Err(StateError::OtherHost {
                path: path.to_owned(),
                found: state.host,
                expected: host.to_owned(),
            });
        }
        Ok(state)
    }

    /// Writes the state atomically: the directory is created when missing,
    /// pretty JSON goes into a temporary file next to `path`, is synced, then
    /// renamed over it. A crash leaves the old or the new file.
    ///
    /// # Errors
    /// [`StateError::Write`] naming `path`.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let write_err = |source: std::io::Error| StateError::Write {
            path: path.to_owned(),
            source,
        };
        crate::lab::write_json_atomic(path, self, ".agent-state-", true).map_err(write_err)
    }

    /// Keys of the remediations applied and not rolled back, sorted and
    /// de-duplicated.
    pub fn applied_keys(&self) -> Vec<String> {
        self.applied
            .iter()
            .map(|a| a.key.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// A real host: its asset id, its package backend, whether it only
/// simulates, and where it reads its boot id.
#[derive(Debug, Clone)]
pub struct Host {
    host: String,
    backend: Arc<dyn PackageBackend>,
    dry_run: bool,
    boot_id_path: PathBuf,
    hooks: Hooks,
    hook_runner: Option<Arc<dyn Runner>>,
    reboot: Vec<String>,
    reboot_runner: Option<Arc<dyn Runner>>,
}

fn step(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> JobStep {
    JobStep {
        name: name.into(),
        ok,
        detail: detail.into(),
    }
}

/// The operation that brings `name` from its `current` version back to its
/// `target` one: none when they are equal, a removal when it was not
/// installed, else a downgrade.
///
/// # Errors
/// [`InvalidInput`] when the target version is not a valid `format`
/// version.
fn undo_op(
    format: PackageFormat,
    name: &PackageName,
    target: &BTreeMap<String, Option<String>>,
    current: &BTreeMap<String, Option<String>>,
) -> Result<Option<Operation>, InvalidInput> {
    let want = target.get(name.as_str()).cloned().flatten();
    if want == current.get(name.as_str()).cloned().flatten() {
        return Ok(None);
    }
    Ok(Some(match want {
        Some(v) => Operation::Downgrade {
            name: name.clone(),
            version: PackageVersion::parse(format, &v)?,
        },
        None => Operation::Remove { name: name.clone() },
    }))
}

/// `job`, started at `now` (UTC), pending with the package versions from
/// before it.
fn pending(
    job: &AgentJob,
    now: DateTime<Utc>,
    previous_versions: BTreeMap<String, Option<String>>,
) -> PendingJob {
    PendingJob {
        job_id: job.job_id,
        bundle_id: job.bundle_id,
        started_at: now,
        previous_versions,
    }
}

/// A job's outcome before the inventory is read.
struct Outcome {
    status: JobStatus,
    reason: Option<String>,
    steps: Vec<JobStep>,
    /// Package names the inventory reports besides the state's.
    names: BTreeSet<String>,
    /// The reboot check (or the package manager) says the host needs a
    /// reboot.
    reboot_required: bool,
    /// How a rollback brought the host back (succeeded rollbacks only).
    rollback_method: Option<RollbackMethod>,
}

impl Outcome {
    fn succeeded(steps: Vec<JobStep>, names: BTreeSet<String>) -> Outcome {
        Outcome {
            status: JobStatus::Succeeded,
            reason: None,
            steps,
            names,
            reboot_required: false,
            rollback_method: None,
        }
    }

    /// A refusal: nothing ran; one failed step `step_name` says why.
    fn refused(step_name: &str, reason: String) -> Outcome {
        Outcome {
            status: JobStatus::Refused,
            reason: Some(reason.clone()),
            steps: vec![step(step_name, false, reason)],
            names: BTreeSet::new(),
            reboot_required: false,
            rollback_method: None,
        }
    }

    /// A failure to read the installed versions before anything changed:
    /// a failed `inventory` step with `e`.
    fn inventory_failed(
        mut steps: Vec<JobStep>,
        e: &dyn std::fmt::Display,
        names: BTreeSet<String>,
    ) -> Outcome {
        steps.push(step("inventory", false, e.to_string()));
        Outcome::failed(
            steps,
            format!("could not read installed versions: {e}; nothing was changed"),
            names,
        )
    }

    fn failed(steps: Vec<JobStep>, reason: String, names: BTreeSet<String>) -> Outcome {
        Outcome {
            status: JobStatus::Failed,
            reason: Some(reason),
            steps,
            names,
            reboot_required: false,
            rollback_method: None,
        }
    }
}

impl Host {
    /// A host `host` applying jobs with `backend`; `dry_run` simulates only.
    pub fn new(host: impl Into<String>, backend: Arc<dyn PackageBackend>, dry_run: bool) -> Host {
        Host {
            host: host.into(),
            backend,
            dry_run,
            boot_id_path: PathBuf::from(BOOT_ID_PATH),
            hooks: Hooks::default(),
            hook_runner: None,
            reboot: Vec::new(),
            reboot_runner: None,
        }
    }

    /// The same host rebooting for a reboot job with the argv `reboot`
    /// (program, then arguments; no shell; from the agent's configuration
    /// only, see [`crate::Config::reboot`]) run by `runner`. An empty argv
    /// (the default of [`Host::new`]) makes the host refuse reboot jobs.
    pub fn with_reboot(mut self, reboot: Vec<String>, runner: Arc<dyn Runner>) -> Host {
        self.reboot = reboot;
        self.reboot_runner = Some(runner);
        self
    }

    /// The reboot command as shown in steps and logs: its argv joined by
    /// spaces.
    fn reboot_shown(&self) -> String {
        self.reboot.join(" ")
    }

    /// Runs the configured reboot command (after the reboot job's result
    /// was published and the job acked): `Ok(detail)` when it exited with
    /// status 0 (the host is going down), else `Err(reason)` (exit status
    /// and last line of its stderr, or why it could not start).
    ///
    /// # Errors
    /// The reason, as above; also when no command or runner is configured.
    pub fn run_reboot(&self) -> Result<String, String> {
        let (Some(program), Some(runner)) = (self.reboot.first(), self.reboot_runner.as_ref())
        else {
            return Err("no reboot command configured".to_owned());
        };
        let command = Command::new(program).args(self.reboot.iter().skip(1).cloned());
        match runner.run(&command) {
            Ok(out) if out.code == Some(0) => {
                Ok(format!("{} exited with status 0", self.reboot_shown()))
            }
            Ok(out) => Err(format!(
                "{} exited with {}: {}",
                self.reboot_shown(),
                out.code
                    .map_or_else(|| "a signal".to_owned(), |c| format!("status {c}")),
                out.stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The announcement of an agent starting at `now` (UTC) on this host,
    /// and the state to save after publishing it: the current boot id and
    /// the pending reboot of `state` as `reboot` (cleared in the returned
    /// state), or `None` at a plain start.
    pub fn online(&self, state: &HostState, now: DateTime<Utc>) -> (HostState, AgentOnline) {
        let mut next = state.clone();
        let online = AgentOnline {
            host: self.host.clone(),
            boot_id: self.boot_id(),
            started_at: now,
            reboot: next.pending_reboot.take(),
            detail: None,
        };
        (next, online)
    }

    /// After the reboot command failed with `reason`: the announcement (at
    /// `now`, UTC) that the host is still up with its unchanged boot id,
    /// naming the pending reboot of `state`, with `detail` `reboot command
    /// failed: <reason>`, and the state without the pending reboot. `None`
    /// when no reboot is pending.
    pub fn reboot_failed(
        &self,
        state: &HostState,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Option<(HostState, AgentOnline)> {
        let mut next = state.clone();
        let pending = next.pending_reboot.take()?;
        let online = AgentOnline {
            host: self.host.clone(),
            boot_id: self.boot_id(),
            started_at: now,
            reboot: Some(pending),
            detail: Some(format!("reboot command failed: {reason}")),
        };
        Some((next, online))
    }

    /// A reboot job: in a dry run, a `plan reboot` step; else the pending
    /// reboot recorded in `next` with the boot id from before, and a
    /// `reboot` step naming the command the adapter runs after the result.
    fn reboot_job(&self, next: &mut HostState, job: &AgentJob) -> Outcome {
        if self.dry_run {
            let detail = format!(
                "dry run, nothing was changed: would run {}",
                self.reboot_shown()
            );
            return Outcome::succeeded(vec![step("plan reboot", true, detail)], BTreeSet::new());
        }
        next.pending_reboot = Some(RebootRef {
            job_id: job.job_id,
            bundle_id: job.bundle_id,
            ring: job.ring.clone(),
            wave: job.wave,
            boot_id_before: self.boot_id(),
        });
        let detail = format!("rebooting: running {}", self.reboot_shown());
        Outcome::succeeded(vec![step("reboot", true, detail)], BTreeSet::new())
    }

    /// The same host running `hooks` (snapshot before an apply, restore for
    /// a rollback; see [`Hooks`]) with `runner`.
    pub fn with_hooks(mut self, hooks: Hooks, runner: Arc<dyn Runner>) -> Host {
        self.hooks = hooks;
        self.hook_runner = Some(runner);
        self
    }

    /// Runs the hook `argv` for `job`: `Ok(detail)` on exit status 0, else
    /// `Err(reason)`. The argv comes from the agent's configuration only.
    fn run_hook(&self, name: &str, argv: &[String], job: &AgentJob) -> Result<String, String> {
        let (Some(program), Some(runner)) = (argv.first(), self.hook_runner.as_ref()) else {
            return Err(format!("the {name} hook has no program or runner"));
        };
        let action = match job.action {
            JobAction::Apply => "apply",
            JobAction::Rollback => "rollback",
            JobAction::Reboot => "reboot",
        };
        let mut command = Command::new(program).args(argv.iter().skip(1).cloned());
        command.env.extend([
            ("PATCHFLOW_HOST".to_owned(), self.host.clone()),
            ("PATCHFLOW_BUNDLE_ID".to_owned(), job.bundle_id.to_string()),
            ("PATCHFLOW_JOB_ID".to_owned(), job.job_id.to_string()),
            ("PATCHFLOW_RING".to_owned(), job.ring.clone()),
            ("PATCHFLOW_ACTION".to_owned(), action.to_owned()),
        ]);
        let last_line = |text: &str| {
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        match runner.run(&command) {
            Ok(out) if out.code == Some(0) => {
                Ok(format!("{program}: ok {}", last_line(&out.stdout))
                    .trim_end()
                    .to_owned())
            }
            Ok(out) => Err(format!(
                "{program} exited with {}: {}",
                out.code
                    .map_or_else(|| "a signal".to_owned(), |c| format!("status {c}")),
                last_line(&out.stderr)
            )),
            Err(e) => Err(format!("{program}: {e}")),
        }
    }

    /// The same host reading its boot id from `path` (tests).
    pub fn with_boot_id_path(mut self, path: PathBuf) -> Host {
        self.boot_id_path = path;
        self
    }

    /// The host's asset id.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether jobs are only simulated.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The current boot id (the trimmed content of the boot-id file), or
    /// `unknown` when it cannot be read.
    pub fn boot_id(&self) -> String {
        std::fs::read_to_string(&self.boot_id_path)
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    }

    fn manager(&self) -> Manager {
        self.backend.manager()
    }

    /// Handles one job; returns the next state and the result to report.
    ///
    /// `clock` gives the current time (UTC): read once at the start (expiry,
    /// `applied_at`) and once at the end (`finished_at`). `journal` is called
    /// with the state that records a [`PendingJob`] right before the package
    /// manager changes anything; it must persist it (the adapter saves the
    /// state file). Refused jobs and dry runs leave the state unchanged;
    /// every other job's result is recorded in the returned state's history.
    ///
    /// A failing package manager is a `Failed` result, not an error.
    ///
    /// # Errors
    /// Only what `journal` returns: then nothing was changed on the host.
    pub fn handle_job(
        &self,
        state: &HostState,
        job: &AgentJob,
        clock: &dyn Fn() -> DateTime<Utc>,
        journal: &mut dyn FnMut(&HostState) -> Result<(), StateError>,
    ) -> Result<(HostState, AgentResult), StateError> {
        let now = clock();
        if job.host != self.host {
            let reason = format!(
                "job {} is addressed to host {:?}, this agent is host {:?}",
                job.job_id, job.host, self.host
            );
            return Ok((state.clone(), self.refused(state, job, reason, clock)));
        }
        if let Some(recorded) = state.history.get(&job.job_id) {
            return Ok((state.clone(), recorded.clone()));
        }
        if now > job.expires_at {
            let reason = format!(
                "job {} expired at {}, received at {}",
                job.job_id,
                job.expires_at.to_rfc3339(),
                now.to_rfc3339()
            );
            return Ok((state.clone(), self.refused(state, job, reason, clock)));
        }
        if job.action == JobAction::Reboot {
            let busy = state.pending_reboot.as_ref().map(|p| p.job_id);
            let reason = if self.reboot.is_empty() {
                Some(format!(
                    "job {} refused: no reboot command configured (the agent's `reboot` setting is empty)",
                    job.job_id
                ))
            } else {
                busy.map(|other| {
                    format!(
                        "job {} refused: the reboot of job {other} is still under way",
                        job.job_id
                    )
                })
            };
            if let Some(reason) = reason {
                return Ok((state.clone(), self.refused(state, job, reason, clock)));
            }
        }
        let mut next = state.clone();
        let outcome = match job.action {
            JobAction::Apply => self.apply(&mut next, job, now, journal)?,
            JobAction::Rollback => self.rollback(&mut next, job, now, journal)?,
            JobAction::Reboot => self.reboot_job(&mut next, job),
        };
        if self.dry_run {
            let result = self.result(state, job, outcome, clock);
            return Ok((state.clone(), result));
        }
        next.pending = None;
        let result = self.result(&next, job, outcome, clock);
        next.history.insert(job.job_id, result.clone());
        Ok((next, result))
    }

    /// [`Host::handle_job`] for a job whose signature `verifier` checks
    /// first: a job with a missing, malformed or foreign signature is
    /// refused (one step [`SIGNATURE_STEP`] with the reason) before any
    /// package manager runs; it changes nothing and is not recorded.
    ///
    /// # Errors
    /// As [`Host::handle_job`].
    pub fn handle_verified_job(
        &self,
        state: &HostState,
        job: &AgentJob,
        verifier: &JobVerifier,
        clock: &dyn Fn() -> DateTime<Utc>,
        journal: &mut dyn FnMut(&HostState) -> Result<(), StateError>,
    ) -> Result<(HostState, AgentResult), StateError> {
        if let Err(e) = verifier.verify(job) {
            let reason = JobVerifier::refusal_reason(job, &e);
            let outcome = Outcome::refused(SIGNATURE_STEP, reason);
            return Ok((state.clone(), self.result(state, job, outcome, clock)));
        }
        self.handle_job(state, job, clock, journal)
    }

    fn refused(
        &self,
        state: &HostState,
        job: &AgentJob,
        reason: String,
        clock: &dyn Fn() -> DateTime<Utc>,
    ) -> AgentResult {
        let outcome = Outcome::refused("accept", reason);
        self.result(state, job, outcome, clock)
    }

    /// The result of `job` on the host after it: the inventory reads back
    /// the versions of the job's packages and of every package the state
    /// records.
    fn result(
        &self,
        after: &HostState,
        job: &AgentJob,
        outcome: Outcome,
        clock: &dyn Fn() -> DateTime<Utc>,
    ) -> AgentResult {
        let mut names = outcome.names;
        for r in &job.remediations {
            if let Remediation::Package { name, .. } = r {
                names.insert(name.clone());
            }
        }
        for a in &after.applied {
            names.extend(a.previous_versions.keys().cloned());
        }
        let format = self.manager().format();
        let valid: Vec<PackageName> = names
            .iter()
            .filter_map(|n| PackageName::parse(format, n).ok())
            .collect();
        let packages = self
            .backend
            .installed(&valid)
            .map(|m| {
                m.into_iter()
                    .filter_map(|(n, v)| v.map(|v| (n, v)))
                    .collect()
            })
            .unwrap_or_default();
        AgentResult {
            job_id: job.job_id,
            bundle_id: job.bundle_id,
            ring: job.ring.clone(),
            wave: job.wave,
            host: self.host.clone(),
            action: job.action,
            status: outcome.status,
            reason: outcome.reason,
            steps: outcome.steps,
            rebooted: false,
            reboot_required: outcome.reboot_required,
            inventory: HostInventory {
                packages,
                applied: after.applied_keys(),
                boot_id: self.boot_id(),
            },
            finished_at: clock(),
            rollback_method: outcome.rollback_method,
        }
    }

    /// Restores `previous` versions of the packages whose version differs
    /// now; one `revert` step.
    fn restore(&self, previous: &BTreeMap<String, Option<String>>) -> JobStep {
        let format = self.manager().format();
        let names: Vec<PackageName> = previous
            .keys()
            .filter_map(|n| PackageName::parse(format, n).ok())
            .collect();
        let current = match self.backend.installed(&names) {
            Ok(c) => c,
            Err(e) => {
                return step(
                    "revert",
                    false,
                    format!("could not read versions to restore: {e}"),
                );
            }
        };
        let mut ops = Vec::new();
        for name in &names {
            match undo_op(format, name, previous, &current) {
                Ok(op) => ops.extend(op),
                Err(e) => return step("revert", false, format!("cannot restore {name}: {e}")),
            }
        }
        if ops.is_empty() {
            return step("revert", true, "no package had changed");
        }
        let what = ops
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        match self.backend.apply(&ops) {
            Ok(_) => step(
                "revert",
                true,
                format!("restored the previous versions: {what}"),
            ),
            Err(e) => step("revert", false, format!("could not restore ({what}): {e}")),
        }
    }

    /// The versions of `names` before the job: the journal's when a crashed
    /// attempt of this job left one, else read now.
    fn previous_versions(
        &self,
        state: &HostState,
        job: &AgentJob,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Option<String>>, String> {
        let format = self.manager().format();
        let valid: Vec<PackageName> = names
            .iter()
            .filter_map(|n| PackageName::parse(format, n).ok())
            .collect();
        let mut previous = self.backend.installed(&valid).map_err(|e| e.to_string())?;
        if let Some(p) = state.pending.as_ref().filter(|p| p.job_id == job.job_id) {
            for (n, v) in &p.previous_versions {
                previous.insert(n.clone(), v.clone());
            }
        }
        Ok(previous)
    }

    /// The `reboot-check` step and whether a reboot is required (the
    /// backend's check, or the package manager's `hint`).
    ///
    /// # Errors
    /// The check's error when it failed without a hint.
    fn reboot_check(&self, hint: bool) -> Result<(JobStep, bool), String> {
        match self.backend.reboot_required() {
            Ok(rc) if rc.required || hint => Ok((
                step(
                    "reboot-check",
                    true,
                    format!("reboot required: {}", rc.detail),
                ),
                true,
            )),
            Ok(rc) => Ok((
                step(
                    "reboot-check",
                    true,
                    format!("no reboot required: {}", rc.detail),
                ),
                false,
            )),
            Err(e) if hint => Ok((
                step(
                    "reboot-check",
                    true,
                    format!("reboot required (the package manager said so; the check failed: {e})"),
                ),
                true,
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Ends a job whose changes are in place: the reboot check's step is
    /// added and the job succeeds, or fails saying what was `done` when
    /// whether a reboot is required is unknown.
    fn finish(
        &self,
        mut steps: Vec<JobStep>,
        names: BTreeSet<String>,
        hint: bool,
        done: &str,
    ) -> Outcome {
        match self.reboot_check(hint) {
            Ok((s, required)) => {
                steps.push(s);
                let mut outcome = Outcome::succeeded(steps, names);
                outcome.reboot_required = required;
                outcome
            }
            Err(e) => {
                steps.push(step("reboot-check", false, e.clone()));
                Outcome::failed(
                    steps,
                    format!("{done}, but whether a reboot is required is unknown: {e}"),
                    names,
                )
            }
        }
    }

    /// Records `pending` in `next` and saves that with `journal` before the
    /// package manager runs, then applies `ops`; the `apply` step says how it
    /// went. Returns the package manager's reboot hint.
    ///
    /// # Errors
    /// Outer: the [`StateError`] of `journal` (nothing was applied). Inner:
    /// the backend's error when the apply failed.
    fn journal_and_apply(
        &self,
        next: &mut HostState,
        pending: PendingJob,
        ops: &[Operation],
        journal: &mut dyn FnMut(&HostState) -> Result<(), StateError>,
        steps: &mut Vec<JobStep>,
    ) -> Result<Result<bool, BackendError>, StateError> {
        next.pending = Some(pending);
        journal(next)?;
        Ok(match self.backend.apply(ops) {
            Ok(a) => {
                steps.push(step("apply", true, a.detail));
                Ok(a.reboot_hint)
            }
            Err(e) => {
                steps.push(step("apply", false, e.to_string()));
                Err(e)
            }
        })
    }

    /// Simulates `ops` (an empty transaction when there are none); when the
    /// simulation fails, the failed `simulate` step is added and the reason
    /// the job fails is returned.
    fn simulate(&self, ops: &[Operation], steps: &mut Vec<JobStep>) -> Result<Transaction, String> {
        if ops.is_empty() {
            return Ok(Transaction::default());
        }
        self.backend.simulate(ops).map_err(|e| {
            steps.push(step("simulate", false, e.to_string()));
            format!(
                "the {} simulation failed: {e}; nothing was changed",
                self.manager()
            )
        })
    }

    fn apply(
        &self,
        next: &mut HostState,
        job: &AgentJob,
        now: DateTime<Utc>,
        journal: &mut dyn FnMut(&HostState) -> Result<(), StateError>,
    ) -> Result<Outcome, StateError> {
        let manager = self.manager();
        let scheme = manager.scheme();
        let mut steps = Vec::new();
        let mut names: BTreeSet<String> = BTreeSet::new();

        // 2. plan
        let mut planned: Vec<(String, Operation)> = Vec::new();
        let mut refused = Vec::new();
        for r in &job.remediations {
            let key = r.key();
            match self.backend.plan(r) {
                Ok(op) => {
                    if let Some(n) = op.package() {
                        names.insert(n.to_string());
                    }
                    planned.push((key, op));
                }
                Err(e) => {
                    steps.push(step(format!("install {key}"), false, e.to_string()));
                    refused.push(key);
                }
            }
        }
        if !refused.is_empty() {
            let reason = format!(
                "{} of {} remediation(s) cannot be applied by the {manager} backend ({}); nothing was changed",
                refused.len(),
                job.remediations.len(),
                refused.join(", ")
            );
            return Ok(Outcome::failed(steps, reason, names));
        }

        // 3. what is already there
        let pkg_names: Vec<PackageName> = planned
            .iter()
            .filter_map(|(_, op)| op.package().cloned())
            .collect();
        let before = match self.backend.installed(&pkg_names) {
            Ok(b) => b,
            Err(e) => return Ok(Outcome::inventory_failed(steps, &e, names)),
        };
        let mut to_run = Vec::new();
        let mut details: BTreeMap<String, String> = BTreeMap::new();
        for (key, op) in &planned {
            match op {
                Operation::Install { name, version } => {
                    let current = before.get(name.as_str()).cloned().flatten();
                    let held = current
                        .as_deref()
                        .and_then(|c| scheme.compare(c, version.as_str()).ok());
                    let detail = match (current.as_deref(), held) {
                        (Some(c), Some(std::cmp::Ordering::Equal)) => {
                            format!("{name} already at {c}")
                        }
                        (Some(c), Some(std::cmp::Ordering::Greater)) => format!(
                            "{name} {c} is newer than the fixed version {version}: nothing to install"
                        ),
                        (c, _) => {
                            to_run.push(op.clone());
                            format!("{name} {} -> {version}", c.unwrap_or("(not installed)"))
                        }
                    };
                    details.insert(key.clone(), detail);
                }
                Operation::Advisory { .. } => to_run.push(op.clone()),
                Operation::Downgrade { .. } | Operation::Remove { .. } => {
                    to_run.push(op.clone());
                }
            }
        }

        // 4. simulate
        let transaction = match self.simulate(&to_run, &mut steps) {
            Ok(t) => t,
            Err(reason) => return Ok(Outcome::failed(steps, reason, names)),
        };
        names.extend(transaction.changes.iter().map(|c| c.name.clone()));
        let advisory_detail = |id: &str| {
            if transaction.changes.is_empty() {
                format!("advisory {id}: nothing to update")
            } else {
                format!("advisory {id}: {}", transaction.summary())
            }
        };
        if self.dry_run {
            steps.push(step(
                "simulate",
                true,
                format!("dry run, nothing was changed: {}", transaction.summary()),
            ));
            if let Some(program) = self.hooks.snapshot.first().filter(|_| !to_run.is_empty()) {
                steps.push(step(
                    "plan snapshot",
                    true,
                    format!("would run {program} before applying"),
                ));
            }
            for (key, op) in &planned {
                let detail = match op {
                    Operation::Advisory { id } => advisory_detail(id.as_str()),
                    _ => details.get(key).cloned().unwrap_or_default(),
                };
                steps.push(step(format!("plan {key}"), true, detail));
            }
            return Ok(Outcome::succeeded(steps, names));
        }
        if !to_run.is_empty() {
            steps.push(step("simulate", true, transaction.summary()));
            if !self.hooks.snapshot.is_empty() {
                match self.run_hook("snapshot", &self.hooks.snapshot, job) {
                    Ok(detail) => steps.push(step("snapshot", true, detail)),
                    Err(e) => {
                        steps.push(step("snapshot", false, e.clone()));
                        return Ok(Outcome::failed(
                            steps,
                            format!("the snapshot hook failed: {e}; nothing was changed"),
                            names,
                        ));
                    }
                }
            }
        }

        // 5. journal, then apply
        let previous = match self.previous_versions(next, job, &names) {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::inventory_failed(steps, &e, names)),
        };
        let mut hint = false;
        if !to_run.is_empty() {
            let pending = pending(job, now, previous.clone());
            match self.journal_and_apply(next, pending, &to_run, journal, &mut steps)? {
                Ok(h) => hint = h,
                Err(e) => {
                    steps.push(self.restore(&previous));
                    return Ok(Outcome::failed(steps, format!("apply failed: {e}"), names));
                }
            }
        }

        // 6. verify
        let all: Vec<PackageName> = names
            .iter()
            .filter_map(|n| PackageName::parse(manager.format(), n).ok())
            .collect();
        let after = match self.backend.installed(&all) {
            Ok(a) => a,
            Err(e) => {
                steps.push(step(
                    "verify",
                    false,
                    format!("could not read versions back: {e}"),
                ));
                steps.push(self.restore(&previous));
                return Ok(Outcome::failed(
                    steps,
                    format!("verify failed: could not read versions back: {e}"),
                    names,
                ));
            }
        };
        let at_least = |got: Option<&str>, want: &str| {
            got.and_then(|g| scheme.compare(g, want).ok())
                .is_some_and(|o| o.is_ge())
        };
        let mut missing = Vec::new();
        for (key, op) in &planned {
            if let Operation::Install { name, version } = op {
                let got = after.get(name.as_str()).cloned().flatten();
                if !at_least(got.as_deref(), version.as_str()) {
                    missing.push(format!(
                        "{key} ({name} is {})",
                        got.as_deref().unwrap_or("not installed")
                    ));
                }
            }
        }
        // Every version the simulation announced (dependencies, an
        // advisory's packages) is there too; names the query cannot ask
        // about (apt's `name:arch`) are left to the manager.
        for c in &transaction.changes {
            let pinned = planned.iter().any(
                |(_, op)| matches!(op, Operation::Install { name, .. } if name.as_str() == c.name),
            );
            let (Some(want), Some(got), false) = (c.version.as_deref(), after.get(&c.name), pinned)
            else {
                continue;
            };
            if c.kind != ChangeKind::Remove && !at_least(got.as_deref(), want) {
                missing.push(format!(
                    "{} {want} announced ({} is {})",
                    c.name,
                    c.name,
                    got.as_deref().unwrap_or("not installed")
                ));
            }
        }
        if !missing.is_empty() {
            let detail = format!(
                "not at the target version after install: {}",
                missing.join(", ")
            );
            steps.push(step("verify", false, detail.clone()));
            steps.push(self.restore(&previous));
            return Ok(Outcome::failed(
                steps,
                format!("verify failed: {detail}"),
                names,
            ));
        }

        // record what each remediation replaced
        let changed: BTreeMap<String, Option<String>> = previous
            .iter()
            .filter(|(n, v)| after.get(n.as_str()) != Some(*v))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        // Packages the transaction changed besides the ones the job names
        // (dependencies) are restored with the job's first remediation.
        let named: BTreeSet<String> = planned
            .iter()
            .filter_map(|(_, op)| op.package().map(ToString::to_string))
            .collect();
        let mut dependencies: BTreeMap<String, Option<String>> = changed
            .iter()
            .filter(|(n, _)| !named.contains(*n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        for (key, op) in &planned {
            let mut previous_versions: BTreeMap<String, Option<String>> = match op {
                Operation::Install { name, .. } => BTreeMap::from([(
                    name.to_string(),
                    previous.get(name.as_str()).cloned().flatten(),
                )]),
                _ => transaction
                    .changes
                    .iter()
                    .filter_map(|c| changed.get(&c.name).map(|v| (c.name.clone(), v.clone())))
                    .collect(),
            };
            previous_versions.append(&mut dependencies);
            let detail = match op {
                Operation::Advisory { id } => advisory_detail(id.as_str()),
                _ => details.get(key).cloned().unwrap_or_default(),
            };
            let already = next
                .applied
                .iter()
                .any(|a| a.key == *key && a.bundle_id == job.bundle_id);
            let detail = if already {
                format!("{detail}; already applied by bundle {}", job.bundle_id)
            } else {
                next.applied.push(AppliedRemediation {
                    key: key.clone(),
                    bundle_id: job.bundle_id,
                    applied_at: now,
                    previous_versions,
                });
                detail
            };
            steps.push(step(format!("install {key}"), true, detail));
        }
        steps.push(step(
            "verify",
            true,
            format!("{} remediation(s) present", planned.len()),
        ));

        // 7. reboot check
        Ok(self.finish(steps, names, hint, "installed"))
    }

    fn rollback(
        &self,
        next: &mut HostState,
        job: &AgentJob,
        now: DateTime<Utc>,
        journal: &mut dyn FnMut(&HostState) -> Result<(), StateError>,
    ) -> Result<Outcome, StateError> {
        let manager = self.manager();
        let format = manager.format();
        let mine: Vec<AppliedRemediation> = next
            .applied
            .iter()
            .filter(|a| a.bundle_id == job.bundle_id)
            .cloned()
            .collect();
        if mine.is_empty() {
            let nothing = step(
                "rollback",
                true,
                format!(
                    "nothing to undo: bundle {} applied nothing on this host",
                    job.bundle_id
                ),
            );
            return Ok(Outcome::succeeded(vec![nothing], BTreeSet::new()));
        }
        // A configured restore hook runs first; the downgrade below then
        // changes only what it did not bring back (all of it if it failed).
        let restore = match self.hooks.restore.first() {
            None => None,
            Some(program) if self.dry_run => Some(step(
                "plan restore-snapshot",
                true,
                format!("would run {program}, then downgrade what it does not restore"),
            )),
            Some(_) => Some(match self.run_hook("restore", &self.hooks.restore, job) {
                Ok(detail) => step("restore-snapshot", true, detail),
                Err(e) => step(
                    "restore-snapshot",
                    false,
                    format!("{e}; falling back to the package downgrade"),
                ),
            }),
        };
        // The oldest record of a package holds its version from before the
        // bundle.
        let mut targets: BTreeMap<String, Option<String>> = BTreeMap::new();
        for a in &mine {
            for (n, v) in &a.previous_versions {
                targets.entry(n.clone()).or_insert_with(|| v.clone());
            }
        }
        let names: BTreeSet<String> = targets.keys().cloned().collect();
        // The snapshot was really restored (not planned, not failed).
        let restored = restore
            .as_ref()
            .is_some_and(|s| s.ok && s.name == "restore-snapshot");
        let mut steps: Vec<JobStep> = restore.into_iter().collect();
        let mut pkg_names = Vec::new();
        for n in targets.keys() {
            match PackageName::parse(format, n) {
                Ok(p) => pkg_names.push(p),
                Err(e) => {
                    steps.push(step("rollback", false, format!("the state file holds {e}")));
                    return Ok(Outcome::failed(
                        steps,
                        format!("cannot roll back: the state file holds {e}"),
                        names,
                    ));
                }
            }
        }
        let current = match self.backend.installed(&pkg_names) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::inventory_failed(steps, &e, names)),
        };
        let mut ops = Vec::new();
        for name in &pkg_names {
            match undo_op(format, name, &targets, &current) {
                Ok(op) => ops.extend(op),
                Err(e) => {
                    steps.push(step("rollback", false, format!("the state file holds {e}")));
                    return Ok(Outcome::failed(
                        steps,
                        format!("cannot roll back: the state file holds {e}"),
                        names,
                    ));
                }
            }
        }
        let transaction = match self.simulate(&ops, &mut steps) {
            Ok(t) => t,
            Err(reason) => return Ok(Outcome::failed(steps, reason, names)),
        };
        let mut names = names;
        names.extend(transaction.changes.iter().map(|c| c.name.clone()));
        let undo_detail = |a: &AppliedRemediation| -> String {
            let parts: Vec<String> = a
                .previous_versions
                .iter()
                .map(|(n, v)| {
                    let shown = current.get(n).cloned().flatten();
                    let shown = shown.as_deref().unwrap_or("(not installed)");
                    match v {
                        Some(v) => format!("{n} {shown} -> {v}"),
                        None => format!("removed {n} {shown} (not installed before)"),
                    }
                })
                .collect();
            if parts.is_empty() {
                format!("dropped {} from applied", a.key)
            } else {
                parts.join("; ")
            }
        };
        if self.dry_run {
            steps.push(step(
                "simulate",
                true,
                format!("dry run, nothing was changed: {}", transaction.summary()),
            ));
            for a in mine.iter().rev() {
                steps.push(step(
                    format!("plan rollback {}", a.key),
                    true,
                    undo_detail(a),
                ));
            }
            return Ok(Outcome::succeeded(steps, names));
        }
        let mut hint = false;
        if !ops.is_empty() {
            steps.push(step("simulate", true, transaction.summary()));
            let pending = pending(job, now, current.clone());
            match self.journal_and_apply(next, pending, &ops, journal, &mut steps)? {
                Ok(h) => hint = h,
                Err(e) => {
                    return Ok(Outcome::failed(
                        steps,
                        format!("rollback failed: {e}; the bundle stays recorded as applied"),
                        names,
                    ));
                }
            }
        }
        let after = self.backend.installed(&pkg_names);
        let wrong: Vec<String> = match &after {
            Ok(after) => pkg_names
                .iter()
                .filter(|n| after.get(n.as_str()) != targets.get(n.as_str()))
                .map(|n| {
                    let got = after.get(n.as_str()).cloned().flatten();
                    format!("{n} is {}", got.as_deref().unwrap_or("not installed"))
                })
                .collect(),
            Err(e) => vec![format!("could not read versions back: {e}")],
        };
        if !wrong.is_empty() {
            let detail = format!(
                "not at the previous version after rollback: {}",
                wrong.join(", ")
            );
            steps.push(step("verify", false, detail.clone()));
            return Ok(Outcome::failed(
                steps,
                format!("verify failed: {detail}"),
                names,
            ));
        }
        for a in mine.iter().rev() {
            steps.push(step(format!("rollback {}", a.key), true, undo_detail(a)));
        }
        next.applied.retain(|a| a.bundle_id != job.bundle_id);
        steps.push(step(
            "verify",
            true,
            format!(
                "bundle {} has nothing left applied; {} remediation(s) undone",
                job.bundle_id,
                mine.len()
            ),
        ));
        let mut outcome = self.finish(steps, names, hint, "rolled back");
        if outcome.status == JobStatus::Succeeded {
            outcome.rollback_method = match (restored, !ops.is_empty()) {
                (true, false) => Some(RollbackMethod::SnapshotRestore),
                (true, true) => Some(RollbackMethod::SnapshotRestoreAndDowngrade),
                (false, true) => Some(RollbackMethod::PackageDowngrade),
                (false, false) => None,
            };
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::backend::{Applied, Change, ChangeKind, RebootCheck};

    const HOST: &str = "web-01";
    const BUNDLE: Uuid = Uuid::from_u128(0xb0);

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        at("2026-12-01T02:10:00Z")
    }

    /// A fake package manager: a map of installed versions that `apply`
    /// really changes, scripted failures, and a log of every call.
    #[derive(Debug)]
    struct Fake {
        manager: Manager,
        installed: Mutex<BTreeMap<String, String>>,
        /// name → version an advisory installs.
        advisory: BTreeMap<String, String>,
        fail_simulate: Option<String>,
        fail_apply: Option<String>,
        /// `apply` installs this version instead of the asked one.
        wrong_version: Option<String>,
        /// Dependencies an install upgrades too: name → version.
        deps: BTreeMap<String, String>,
        reboot: Mutex<Result<bool, String>>,
        reboot_hint: bool,
        calls: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(manager: Manager, installed: &[(&str, &str)]) -> Fake {
            Fake {
                manager,
                installed: Mutex::new(
                    installed
                        .iter()
                        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                advisory: BTreeMap::new(),
                fail_simulate: None,
                fail_apply: None,
                wrong_version: None,
                deps: BTreeMap::new(),
                reboot: Mutex::new(Ok(false)),
                reboot_hint: false,
                calls: Mutex::new(Vec::new()),
            }
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }

        fn version(&self, n: &str) -> Option<String> {
            self.installed.lock().unwrap().get(n).cloned()
        }

        fn changes(&self, ops: &[Operation]) -> Vec<Change> {
            let installed = self.installed.lock().unwrap();
            let mut out = Vec::new();
            for op in ops {
                if matches!(op, Operation::Install { .. }) {
                    for (n, v) in &self.deps {
                        out.push(Change {
                            name: n.clone(),
                            kind: ChangeKind::Upgrade,
                            version: Some(v.clone()),
                            from: installed.get(n).cloned(),
                        });
                    }
                }
                match op {
                    Operation::Install { name, version }
                    | Operation::Downgrade { name, version } => {
                        out.push(Change {
                            name: name.to_string(),
                            kind: ChangeKind::Upgrade,
                            version: Some(version.to_string()),
                            from: installed.get(name.as_str()).cloned(),
                        });
                    }
                    Operation::Remove { name } => out.push(Change {
                        name: name.to_string(),
                        kind: ChangeKind::Remove,
                        version: None,
                        from: installed.get(name.as_str()).cloned(),
                    }),
                    Operation::Advisory { .. } => {
                        for (n, v) in &self.advisory {
                            out.push(Change {
                                name: n.clone(),
                                kind: ChangeKind::Upgrade,
                                version: Some(v.clone()),
                                from: installed.get(n).cloned(),
                            });
                        }
                    }
                }
            }
            out
        }
    }

    fn failed(what: &str, detail: &str) -> BackendError {
        BackendError::Failed {
            command: what.to_owned(),
            code: Some(100),
            detail: detail.to_owned(),
        }
    }

    impl PackageBackend for Fake {
        fn manager(&self) -> Manager {
            self.manager
        }

        fn simulate(&self, ops: &[Operation]) -> Result<Transaction, BackendError> {
            let shown: Vec<String> = ops.iter().map(ToString::to_string).collect();
            self.calls
                .lock()
                .unwrap()
                .push(format!("simulate {}", shown.join(", ")));
            if let Some(why) = &self.fail_simulate {
                return Err(failed("simulate", why));
            }
            Ok(Transaction {
                changes: self.changes(ops),
            })
        }

        fn apply(&self, ops: &[Operation]) -> Result<Applied, BackendError> {
            let shown: Vec<String> = ops.iter().map(ToString::to_string).collect();
            self.calls
                .lock()
                .unwrap()
                .push(format!("apply {}", shown.join(", ")));
            let is_rollback = ops
                .iter()
                .all(|o| matches!(o, Operation::Downgrade { .. } | Operation::Remove { .. }));
            let changes = self.changes(ops);
            let mut installed = self.installed.lock().unwrap();
            for (i, c) in changes.iter().enumerate() {
                match &c.version {
                    Some(v) => {
                        let v = match (&self.wrong_version, is_rollback) {
                            (Some(w), false) => w.clone(),
                            _ => v.clone(),
                        };
                        installed.insert(c.name.clone(), v);
                    }
                    None => {
                        installed.remove(&c.name);
                    }
                }
                // A failure after the first change: a half-applied job.
                if i == 0
                    && !is_rollback
                    && let Some(why) = &self.fail_apply
                {
                    return Err(failed("apply", why));
                }
            }
            Ok(Applied {
                reboot_hint: self.reboot_hint,
                detail: "done".into(),
            })
        }

        fn installed(
            &self,
            names: &[PackageName],
        ) -> Result<BTreeMap<String, Option<String>>, BackendError> {
            let installed = self.installed.lock().unwrap();
            Ok(names
                .iter()
                .map(|n| (n.to_string(), installed.get(n.as_str()).cloned()))
                .collect())
        }

        fn reboot_required(&self) -> Result<RebootCheck, BackendError> {
            self.calls.lock().unwrap().push("reboot-check".into());
            match &*self.reboot.lock().unwrap() {
                Ok(required) => Ok(RebootCheck {
                    required: *required,
                    detail: if *required { "flag set" } else { "flag absent" }.into(),
                }),
                Err(why) => Err(failed("reboot-check", why)),
            }
        }
    }

    fn pkg(n: &str, v: &str) -> Remediation {
        Remediation::Package {
            name: n.into(),
            fixed_version: v.into(),
        }
    }

    fn job(id: u128, action: JobAction, remediations: Vec<Remediation>) -> AgentJob {
        AgentJob {
            job_id: Uuid::from_u128(id),
            bundle_id: BUNDLE,
            ring: "dev".into(),
            wave: 0,
            host: HOST.into(),
            action,
            remediations,
            issued_at: at("2026-12-01T02:00:00Z"),
            expires_at: at("2026-12-01T03:00:00Z"),
            signature: None,
            key_id: None,
        }
    }

    struct Run {
        next: HostState,
        result: AgentResult,
        journaled: Vec<HostState>,
    }

    fn run(fake: &Arc<Fake>, dry_run: bool, state: &HostState, job: &AgentJob) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot_id");
        std::fs::write(&boot, "8d0f1c5e-0000-4000-8000-00000000a001\n").unwrap();
        let host = Host::new(HOST, fake.clone(), dry_run).with_boot_id_path(boot);
        let mut journaled = Vec::new();
        let (next, result) = host
            .handle_job(state, job, &now, &mut |s| {
                journaled.push(s.clone());
                Ok(())
            })
            .unwrap();
        Run {
            next,
            result,
            journaled,
        }
    }

    fn names(r: &AgentResult) -> Vec<&str> {
        r.steps.iter().map(|s| s.name.as_str()).collect()
    }

    fn apt(installed: &[(&str, &str)]) -> Arc<Fake> {
        Arc::new(Fake::new(Manager::Apt, installed))
    }

    #[test]
    fn apply_installs_records_previous_versions_and_reports_read_back_versions() {
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2"), ("nginx", "1.22.1-9")]);
        let j = job(
            1,
            JobAction::Apply,
            vec![
                pkg("openssl", "3.0.13-1~deb12u1"),
                pkg("curl", "7.88.1-10+deb12u5"),
            ],
        );
        let r = run(&fake, false, &HostState::new(HOST), &j);
        assert_eq!(r.result.status, JobStatus::Succeeded, "{:?}", r.result);
        assert_eq!(
            names(&r.result),
            [
                "simulate",
                "apply",
                "install pkg:openssl@3.0.13-1~deb12u1",
                "install pkg:curl@7.88.1-10+deb12u5",
                "verify",
                "reboot-check"
            ]
        );
        assert_eq!(r.result.steps[1].detail, "done");
        assert_eq!(
            r.result.steps[2].detail,
            "openssl 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1"
        );
        assert_eq!(
            r.result.steps[3].detail,
            "curl (not installed) -> 7.88.1-10+deb12u5"
        );
        assert_eq!(r.result.steps[5].detail, "no reboot required: flag absent");
        assert!(!r.result.reboot_required);
        assert_eq!(
            fake.calls(),
            [
                "simulate install openssl 3.0.13-1~deb12u1, install curl 7.88.1-10+deb12u5",
                "apply install openssl 3.0.13-1~deb12u1, install curl 7.88.1-10+deb12u5",
                "reboot-check"
            ]
        );
        // The inventory reads back the job's packages (nginx is not one).
        assert_eq!(
            r.result.inventory.packages,
            BTreeMap::from([
                ("curl".to_owned(), "7.88.1-10+deb12u5".to_owned()),
                ("openssl".to_owned(), "3.0.13-1~deb12u1".to_owned()),
            ])
        );
        assert_eq!(
            r.result.inventory.applied,
            ["pkg:curl@7.88.1-10+deb12u5", "pkg:openssl@3.0.13-1~deb12u1"]
        );
        assert_eq!(
            r.result.inventory.boot_id,
            "8d0f1c5e-0000-4000-8000-00000000a001"
        );
        assert!(!r.result.rebooted);
        assert_eq!(
            r.next.applied[0].previous_versions,
            BTreeMap::from([("openssl".to_owned(), Some("3.0.11-1~deb12u2".to_owned()))])
        );
        assert_eq!(
            r.next.applied[1].previous_versions,
            BTreeMap::from([("curl".to_owned(), None)])
        );
        assert_eq!(r.next.applied[0].applied_at, now());
        // The journal held the versions from before, before apply ran.
        assert_eq!(r.journaled.len(), 1);
        let pending = r.journaled[0].pending.clone().unwrap();
        assert_eq!(pending.job_id, j.job_id);
        assert_eq!(
            pending.previous_versions,
            BTreeMap::from([
                ("curl".to_owned(), None),
                ("openssl".to_owned(), Some("3.0.11-1~deb12u2".to_owned()))
            ])
        );
        assert_eq!(r.next.pending, None);
        assert_eq!(r.next.history.get(&j.job_id), Some(&r.result));
    }

    #[test]
    fn a_redelivered_job_is_answered_from_history_and_runs_nothing() {
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let j = job(
            1,
            JobAction::Apply,
            vec![pkg("openssl", "3.0.13-1~deb12u1")],
        );
        let first = run(&fake, false, &HostState::new(HOST), &j);
        let calls = fake.calls().len();
        let again = run(&fake, false, &first.next, &j);
        assert_eq!(again.result, first.result);
        assert_eq!(again.next, first.next);
        assert_eq!(fake.calls().len(), calls, "nothing ran the second time");
    }

    #[test]
    fn a_crash_after_apply_keeps_the_journaled_previous_versions() {
        // The first attempt journaled and installed, then the agent died
        // before saving: the state holds the journal, the host the new
        // version. The redelivered job finds the package already at target
        // and still records the version from before the first attempt.
        let fake = apt(&[("openssl", "3.0.13-1~deb12u1")]);
        let j = job(
            1,
            JobAction::Apply,
            vec![pkg("openssl", "3.0.13-1~deb12u1")],
        );
        let mut crashed = HostState::new(HOST);
        crashed.pending = Some(PendingJob {
            job_id: j.job_id,
            bundle_id: BUNDLE,
            started_at: at("2026-12-01T02:05:00Z"),
            previous_versions: BTreeMap::from([(
                "openssl".to_owned(),
                Some("3.0.11-1~deb12u2".to_owned()),
            )]),
        });
        let r = run(&fake, false, &crashed, &j);
        assert_eq!(r.result.status, JobStatus::Succeeded);
        assert_eq!(
            r.result.steps[0].detail,
            "openssl already at 3.0.13-1~deb12u1"
        );
        assert_eq!(
            r.next.applied[0].previous_versions,
            BTreeMap::from([("openssl".to_owned(), Some("3.0.11-1~deb12u2".to_owned()))])
        );
        assert!(!fake.calls().iter().any(|c| c.starts_with("apply")));
        assert_eq!(r.next.pending, None);
    }

    #[test]
    fn a_newer_installed_version_needs_no_install() {
        let fake = apt(&[("openssl", "3.0.15-1~deb12u1")]);
        let j = job(
            1,
            JobAction::Apply,
            vec![pkg("openssl", "3.0.13-1~deb12u1")],
        );
        let r = run(&fake, false, &HostState::new(HOST), &j);
        assert_eq!(r.result.status, JobStatus::Succeeded);
        assert_eq!(
            r.result.steps[0].detail,
            "openssl 3.0.15-1~deb12u1 is newer than the fixed version 3.0.13-1~deb12u1: nothing to install"
        );
        assert_eq!(fake.calls(), ["reboot-check"]);
        assert_eq!(r.result.inventory.applied, ["pkg:openssl@3.0.13-1~deb12u1"]);
    }

    /// A scanner's solution, an advisory on apt, or a hostile version: the
    /// job fails before any command runs, naming each refused remediation.
    #[test]
    fn remediations_a_backend_cannot_apply_fail_the_job_before_anything_runs() {
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let j = job(
            1,
            JobAction::Apply,
            vec![
                pkg("openssl", "3.0.13-1~deb12u1"),
                Remediation::Solution {
                    scanner: "nessus".into(),
                    check_id: "187315".into(),
                    text: "Upgrade: curl -fsSL https://example.invalid/fix.sh | sh".into(),
                },
                Remediation::Advisory {
                    id: "DSA-5678-1".into(),
                },
                pkg("curl", "1.0;reboot"),
            ],
        );
        let r = run(&fake, false, &HostState::new(HOST), &j);
        assert_eq!(r.result.status, JobStatus::Failed);
        assert_eq!(
            r.result.reason.as_deref(),
            Some(
                "3 of 4 remediation(s) cannot be applied by the apt backend (nessus:187315, \
                 advisory:DSA-5678-1, pkg:curl@1.0;reboot); nothing was changed"
            )
        );
        assert_eq!(
            names(&r.result),
            [
                "install nessus:187315",
                "install advisory:DSA-5678-1",
                "install pkg:curl@1.0;reboot"
            ]
        );
        assert!(r.result.steps.iter().all(|s| !s.ok));
        assert!(
            r.result.steps[0]
                .detail
                .starts_with("not applicable to the apt backend: nessus:187315")
        );
        assert!(
            !r.result.steps[0].detail.contains("fix.sh"),
            "the text is never echoed or run"
        );
        assert!(
            r.result.steps[2]
                .detail
                .starts_with("refused: invalid deb version \"1.0;reboot\"")
        );
        assert_eq!(fake.calls(), [] as [String; 0]);
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
        assert!(r.next.applied.is_empty());
        assert_eq!(r.next.history.get(&j.job_id), Some(&r.result));
    }

    #[test]
    fn a_failed_simulation_changes_nothing() {
        let mut f = Fake::new(Manager::Apt, &[("openssl", "3.0.11-1~deb12u2")]);
        f.fail_simulate = Some("E: Version '9.9' for 'openssl' was not found".into());
        let fake = Arc::new(f);
        let j = job(1, JobAction::Apply, vec![pkg("openssl", "9.9")]);
        let r = run(&fake, false, &HostState::new(HOST), &j);
        assert_eq!(r.result.status, JobStatus::Failed);
        assert_eq!(
            r.result.reason.as_deref(),
            Some(
                "the apt simulation failed: simulate failed (exit 100): E: Version '9.9' for \
                 'openssl' was not found; nothing was changed"
            )
        );
        assert_eq!(names(&r.result), ["simulate"]);
        assert!(r.journaled.is_empty());
        assert_eq!(fake.calls(), ["simulate install openssl 9.9"]);
    }

    #[test]
    fn a_failed_apply_restores_the_packages_that_changed() {
        let mut f = Fake::new(Manager::Apt, &[("openssl", "3.0.11-1~deb12u2")]);
        f.fail_apply = Some("dpkg: error processing package curl (--configure)".into());
        let fake = Arc::new(f);
        let j = job(
            1,
            JobAction::Apply,
            vec![
                pkg("openssl", "3.0.13-1~deb12u1"),
                pkg("curl", "7.88.1-10+deb12u5"),
            ],
        );
        let r = run(&fake, false, &HostState::new(HOST), &j);
        assert_eq!(r.result.status, JobStatus::Failed);
        assert_eq!(names(&r.result), ["simulate", "apply", "revert"]);
        assert_eq!(
            r.result.steps[2].detail,
            "restored the previous versions: downgrade openssl to 3.0.11-1~deb12u2"
        );
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
        assert!(r.next.applied.is_empty());
        assert_eq!(r.next.pending, None);
        assert_eq!(r.result.inventory.packages["openssl"], "3.0.11-1~deb12u2");
    }

    #[test]
    fn a_wrong_version_after_install_fails_verify_and_is_reverted() {
        let mut f = Fake::new(Manager::Apt, &[("openssl", "3.0.11-1~deb12u2")]);
        f.wrong_version = Some("3.0.12-1~deb12u1".into());
        let fake = Arc::new(f);
        let j = job(
            1,
            JobAction::Apply,
            vec![pkg("openssl", "3.0.13-1~deb12u1")],
        );
        let r = run(&fake, false, &HostState::new(HOST), &j);
        assert_eq!(r.result.status, JobStatus::Failed);
        assert_eq!(
            r.result.reason.as_deref(),
            Some(
                "verify failed: not at the target version after install: \
                 pkg:openssl@3.0.13-1~deb12u1 (openssl is 3.0.12-1~deb12u1)"
            )
        );
        assert_eq!(names(&r.result), ["simulate", "apply", "verify", "revert"]);
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
    }

    /// OC-16: a reboot the package manager or its check asks for is a
    /// successful install with a `reboot required` step, not a failure.
    #[test]
    fn reboot_required_is_reported_as_success() {
        let oc16 = |manager, hint: bool, check: Result<bool, String>| {
            let mut f = Fake::new(manager, &[("kernel", "5.14.0-503.38.1.el9_5")]);
            f.reboot_hint = hint;
            f.reboot = Mutex::new(check);
            let fake = Arc::new(f);
            let j = job(
                1,
                JobAction::Apply,
                vec![pkg("kernel", "5.14.0-503.40.1.el9_5")],
            );
            run(&fake, false, &HostState::new(HOST), &j).result
        };
        // dnf: needs-restarting -r exit 1 → the check says required.
        let r = oc16(Manager::Dnf, false, Ok(true));
        assert_eq!(r.status, JobStatus::Succeeded);
        assert_eq!(r.steps.last().unwrap().detail, "reboot required: flag set");
        assert!(r.reboot_required);
        assert!(!r.rebooted);
        let r = oc16(Manager::Dnf, false, Ok(false));
        assert!(!r.reboot_required);
        // zypper: exit 102 hints a reboot even when the check says no.
        let r = oc16(Manager::Zypper, true, Ok(false));
        assert_eq!(r.status, JobStatus::Succeeded);
        assert_eq!(
            r.steps.last().unwrap().detail,
            "reboot required: flag absent"
        );
        assert!(r.reboot_required);
        // A failing check with the hint still succeeds; without it the job
        // fails, its packages installed and recorded.
        let r = oc16(Manager::Zypper, true, Err("zypper: unknown command".into()));
        assert_eq!(r.status, JobStatus::Succeeded);
        let r = oc16(
            Manager::Dnf,
            false,
            Err("No such command: needs-restarting".into()),
        );
        assert_eq!(r.status, JobStatus::Failed);
        assert!(!r.reboot_required);
        assert_eq!(
            r.reason.as_deref(),
            Some(
                "installed, but whether a reboot is required is unknown: reboot-check failed \
                 (exit 100): No such command: needs-restarting"
            )
        );
        assert_eq!(r.inventory.applied, ["pkg:kernel@5.14.0-503.40.1.el9_5"]);
    }

    #[test]
    fn a_dry_run_simulates_only_and_changes_no_state() {
        let mut f = Fake::new(Manager::Dnf, &[("openssl-libs", "1:3.0.7-25.el9")]);
        f.advisory = BTreeMap::from([("openssl-libs".to_owned(), "1:3.0.7-27.el9".to_owned())]);
        let fake = Arc::new(f);
        let j = job(
            1,
            JobAction::Apply,
            vec![Remediation::Advisory {
                id: "RHSA-2024:4420".into(),
            }],
        );
        let state = HostState::new(HOST);
        let r = run(&fake, true, &state, &j);
        assert_eq!(r.result.status, JobStatus::Succeeded);
        assert_eq!(
            names(&r.result),
            ["simulate", "plan advisory:RHSA-2024:4420"]
        );
        assert_eq!(
            r.result.steps[0].detail,
            "dry run, nothing was changed: upgrade openssl-libs 1:3.0.7-25.el9 -> 1:3.0.7-27.el9"
        );
        assert_eq!(
            r.result.steps[1].detail,
            "advisory RHSA-2024:4420: upgrade openssl-libs 1:3.0.7-25.el9 -> 1:3.0.7-27.el9"
        );
        assert_eq!(fake.calls(), ["simulate apply advisory RHSA-2024:4420"]);
        assert_eq!(r.next, state, "no history, no journal, nothing recorded");
        assert!(r.journaled.is_empty());
        assert_eq!(
            r.result.inventory.packages["openssl-libs"],
            "1:3.0.7-25.el9"
        );
    }

    #[test]
    fn an_advisory_records_the_versions_it_replaced_and_rolls_back_by_downgrade() {
        let mut f = Fake::new(Manager::Dnf, &[("openssl-libs", "1:3.0.7-25.el9")]);
        f.advisory = BTreeMap::from([
            ("openssl-libs".to_owned(), "1:3.0.7-27.el9".to_owned()),
            ("openssl-fips-provider".to_owned(), "3.0.7-2.el9".to_owned()),
        ]);
        let fake = Arc::new(f);
        let adv = Remediation::Advisory {
            id: "RHSA-2024:4420".into(),
        };
        let applied = run(
            &fake,
            false,
            &HostState::new(HOST),
            &job(1, JobAction::Apply, vec![adv.clone()]),
        );
        assert_eq!(applied.result.status, JobStatus::Succeeded);
        assert_eq!(
            applied.next.applied[0].previous_versions,
            BTreeMap::from([
                ("openssl-fips-provider".to_owned(), None),
                ("openssl-libs".to_owned(), Some("1:3.0.7-25.el9".to_owned())),
            ])
        );
        assert_eq!(applied.result.inventory.packages.len(), 2);

        let back = run(
            &fake,
            false,
            &applied.next,
            &job(2, JobAction::Rollback, vec![adv]),
        );
        assert_eq!(
            back.result.status,
            JobStatus::Succeeded,
            "{:?}",
            back.result
        );
        assert_eq!(
            back.result.rollback_method,
            Some(RollbackMethod::PackageDowngrade)
        );
        assert_eq!(
            names(&back.result),
            [
                "simulate",
                "apply",
                "rollback advisory:RHSA-2024:4420",
                "verify",
                "reboot-check"
            ]
        );
        assert_eq!(
            back.result.steps[2].detail,
            "removed openssl-fips-provider 3.0.7-2.el9 (not installed before); \
             openssl-libs 1:3.0.7-27.el9 -> 1:3.0.7-25.el9"
        );
        assert!(
            fake.calls().contains(
                &"apply remove openssl-fips-provider, downgrade openssl-libs to 1:3.0.7-25.el9"
                    .to_owned()
            )
        );
        assert_eq!(
            fake.version("openssl-libs").as_deref(),
            Some("1:3.0.7-25.el9")
        );
        assert_eq!(fake.version("openssl-fips-provider"), None);
        assert!(back.next.applied.is_empty());
        assert_eq!(back.next.history.len(), 2);
        assert_eq!(
            back.result.inventory.packages["openssl-libs"],
            "1:3.0.7-25.el9"
        );
    }

    #[test]
    fn dependencies_an_install_upgraded_are_recorded_and_rolled_back_with_it() {
        let mut f = Fake::new(
            Manager::Apt,
            &[
                ("openssl", "3.0.11-1~deb12u2"),
                ("libssl3", "3.0.11-1~deb12u2"),
            ],
        );
        f.deps = BTreeMap::from([("libssl3".to_owned(), "3.0.13-1~deb12u1".to_owned())]);
        let fake = Arc::new(f);
        let fix = pkg("openssl", "3.0.13-1~deb12u1");
        let applied = run(
            &fake,
            false,
            &HostState::new(HOST),
            &job(1, JobAction::Apply, vec![fix.clone()]),
        );
        assert_eq!(
            applied.result.status,
            JobStatus::Succeeded,
            "{:?}",
            applied.result
        );
        assert_eq!(
            applied.next.applied[0].previous_versions,
            BTreeMap::from([
                ("libssl3".to_owned(), Some("3.0.11-1~deb12u2".to_owned())),
                ("openssl".to_owned(), Some("3.0.11-1~deb12u2".to_owned())),
            ])
        );
        assert_eq!(
            applied.result.inventory.packages["libssl3"],
            "3.0.13-1~deb12u1"
        );
        let back = run(
            &fake,
            false,
            &applied.next,
            &job(2, JobAction::Rollback, vec![fix]),
        );
        assert_eq!(
            back.result.status,
            JobStatus::Succeeded,
            "{:?}",
            back.result
        );
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(fake.version("libssl3").as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(
            back.result.steps[2].detail,
            "libssl3 3.0.13-1~deb12u1 -> 3.0.11-1~deb12u2; openssl 3.0.13-1~deb12u1 -> 3.0.11-1~deb12u2"
        );
    }

    /// A hook runner: records each command with its `PATCHFLOW_ACTION`,
    /// answers with `code`, and (a snapshot restore) sets the fake's
    /// packages back to `restores` when it succeeds.
    #[derive(Debug)]
    struct HookRunner {
        fake: Arc<Fake>,
        code: i32,
        restores: Vec<(String, String)>,
        ran: Mutex<Vec<String>>,
    }

    impl Runner for HookRunner {
        fn run(&self, command: &Command) -> Result<crate::backend::Output, BackendError> {
            let env = |k: &str| {
                command
                    .env
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            assert_eq!(env("PATCHFLOW_HOST"), HOST);
            assert_eq!(env("PATCHFLOW_BUNDLE_ID"), BUNDLE.to_string());
            self.ran.lock().unwrap().push(format!(
                "{} {} ({})",
                command.program,
                command.args.join(" "),
                env("PATCHFLOW_ACTION")
            ));
            if self.code == 0 {
                let mut installed = self.fake.installed.lock().unwrap();
                for (n, v) in &self.restores {
                    installed.insert(n.clone(), v.clone());
                }
                Ok(crate::backend::Output::new(
                    0,
                    "snapshot root-20261201\n",
                    "",
                ))
            } else {
                Ok(crate::backend::Output::new(
                    self.code,
                    "",
                    "lvcreate: volume group full\n",
                ))
            }
        }
    }

    fn hooked(fake: &Arc<Fake>, code: i32, restores: &[(&str, &str)]) -> (Host, Arc<HookRunner>) {
        let runner = Arc::new(HookRunner {
            fake: fake.clone(),
            code,
            restores: restores
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            ran: Mutex::new(Vec::new()),
        });
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot_id");
        std::fs::write(&boot, "8d0f1c5e-0000-4000-8000-00000000a001\n").unwrap();
        let host = Host::new(HOST, fake.clone(), false)
            .with_boot_id_path(boot)
            .with_hooks(
                Hooks {
                    snapshot: vec!["/usr/local/sbin/snap".into(), "create".into()],
                    restore: vec!["/usr/local/sbin/snap".into(), "restore".into()],
                },
                runner.clone(),
            );
        (host, runner)
    }

    fn handle(host: &Host, state: &HostState, job: &AgentJob) -> (HostState, AgentResult) {
        host.handle_job(state, job, &now, &mut |_| Ok(())).unwrap()
    }

    #[test]
    fn a_snapshot_is_taken_before_apply_and_restored_on_rollback() {
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let (host, runner) = hooked(&fake, 0, &[("openssl", "3.0.11-1~deb12u2")]);
        let fix = pkg("openssl", "3.0.13-1~deb12u1");
        let (applied, r) = handle(
            &host,
            &HostState::new(HOST),
            &job(1, JobAction::Apply, vec![fix.clone()]),
        );
        assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
        assert_eq!(names(&r)[..2], ["simulate", "snapshot"]);
        assert_eq!(
            r.steps[1].detail,
            "/usr/local/sbin/snap: ok snapshot root-20261201"
        );
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.13-1~deb12u1"));

        // The restore brings openssl back: no package operation is needed.
        let calls = fake.calls().len();
        let (back, r) = handle(&host, &applied, &job(2, JobAction::Rollback, vec![fix]));
        assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
        assert_eq!(names(&r)[0], "restore-snapshot");
        assert!(r.steps[0].ok);
        assert_eq!(r.rollback_method, Some(RollbackMethod::SnapshotRestore));
        assert!(
            !fake.calls()[calls..].iter().any(|c| c.starts_with("apply")),
            "{:?}",
            fake.calls()
        );
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
        assert!(back.applied.is_empty());
        assert_eq!(
            *runner.ran.lock().unwrap(),
            [
                "/usr/local/sbin/snap create (apply)",
                "/usr/local/sbin/snap restore (rollback)"
            ]
        );
    }

    #[test]
    fn a_failed_restore_falls_back_to_the_downgrade_and_a_failed_snapshot_changes_nothing() {
        // Apply without hooks, then roll back with a failing restore hook.
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let fix = pkg("openssl", "3.0.13-1~deb12u1");
        let applied = run(
            &fake,
            false,
            &HostState::new(HOST),
            &job(1, JobAction::Apply, vec![fix.clone()]),
        );
        let (host, _) = hooked(&fake, 1, &[]);
        let (back, r) = handle(
            &host,
            &applied.next,
            &job(2, JobAction::Rollback, vec![fix.clone()]),
        );
        assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
        assert!(!r.steps[0].ok);
        assert_eq!(
            r.steps[0].detail,
            "/usr/local/sbin/snap exited with status 1: lvcreate: volume group full; falling back to the package downgrade"
        );
        assert!(fake.calls().iter().any(|c| c.starts_with("apply")));
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
        assert!(back.applied.is_empty());
        assert_eq!(r.rollback_method, Some(RollbackMethod::PackageDowngrade));

        // A failing snapshot fails the apply before any package changes.
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let (host, _) = hooked(&fake, 2, &[]);
        let state = HostState::new(HOST);
        let (next, r) = handle(&host, &state, &job(3, JobAction::Apply, vec![fix]));
        assert_eq!(r.status, JobStatus::Failed);
        assert_eq!(
            r.reason.as_deref(),
            Some(
                "the snapshot hook failed: /usr/local/sbin/snap exited with status 2: lvcreate: volume group full; nothing was changed"
            )
        );
        assert!(!fake.calls().iter().any(|c| c.starts_with("apply")));
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
        assert!(next.applied.is_empty());
    }

    #[test]
    fn rollback_with_nothing_applied_succeeds_and_says_so() {
        let fake = apt(&[]);
        let r = run(
            &fake,
            false,
            &HostState::new(HOST),
            &job(2, JobAction::Rollback, vec![]),
        );
        assert_eq!(r.result.status, JobStatus::Succeeded);
        assert_eq!(
            r.result.steps[0].detail,
            format!("nothing to undo: bundle {BUNDLE} applied nothing on this host")
        );
        assert_eq!(fake.calls(), [] as [String; 0]);
    }

    #[test]
    fn refusals_change_nothing_and_are_not_recorded() {
        let fake = apt(&[]);
        let mut other = job(
            1,
            JobAction::Apply,
            vec![pkg("openssl", "3.0.13-1~deb12u1")],
        );
        other.host = "db-01".into();
        let r = run(&fake, false, &HostState::new(HOST), &other);
        assert_eq!(r.result.status, JobStatus::Refused);
        assert_eq!(names(&r.result), ["accept"]);
        assert_eq!(r.next, HostState::new(HOST));
        let mut late = job(1, JobAction::Apply, vec![]);
        late.expires_at = at("2026-12-01T02:00:00Z");
        let r = run(&fake, false, &HostState::new(HOST), &late);
        assert_eq!(r.result.status, JobStatus::Refused);
        assert!(
            r.result
                .reason
                .unwrap()
                .contains("expired at 2026-12-01T02:00:00+00:00")
        );
        assert_eq!(fake.calls(), [] as [String; 0]);
    }

    #[test]
    fn unsigned_or_foreign_signed_jobs_run_no_package_manager() {
        use crate::verify::tests::{sign, verifier};
        let fake = apt(&[]);
        let host = Host::new(HOST, fake.clone(), false);
        let state = HostState::new(HOST);
        let mut other_key = job(
            1,
            JobAction::Apply,
            vec![pkg("openssl", "3.0.13-1~deb12u1")],
        );
        sign(&mut other_key, [2; 32]);
        let mut unsigned = other_key.clone();
        unsigned.signature = None;
        for (j, why) in [
            (&other_key, "does not verify with this agent's key"),
            (&unsigned, "job has no signature"),
        ] {
            let (next, r) = host
                .handle_verified_job(&state, j, &verifier([1; 32]), &now, &mut |_| {
                    panic!("a refused job journals nothing")
                })
                .unwrap();
            assert_eq!(r.status, JobStatus::Refused);
            assert_eq!(names(&r), [SIGNATURE_STEP]);
            assert!(
                r.reason.as_deref().unwrap_or_default().contains(why),
                "{r:?}"
            );
            assert_eq!(next, state);
        }
        // No simulation, install or reboot check ran (only the inventory read).
        assert_eq!(fake.calls(), [] as [String; 0]);
    }

    #[test]
    fn the_state_file_round_trips_and_refuses_another_hosts_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib").join("agent-web-01.json");
        assert_eq!(
            HostState::load_or_new(&path, HOST).unwrap(),
            HostState::new(HOST)
        );
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let r = run(
            &fake,
            false,
            &HostState::new(HOST),
            &job(
                1,
                JobAction::Apply,
                vec![pkg("openssl", "3.0.13-1~deb12u1")],
            ),
        );
        r.next.save(&path).unwrap();
        assert_eq!(HostState::load_or_new(&path, HOST).unwrap(), r.next);
        let err = HostState::load_or_new(&path, "db-01").unwrap_err();
        assert!(matches!(err, StateError::OtherHost { .. }), "{err}");
        std::fs::write(&path, r#"{"host":"web-01","extra":1}"#).unwrap();
        let err = HostState::load_or_new(&path, HOST).unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
        assert_eq!(
            default_state_path("web-01"),
            PathBuf::from("/var/lib/patchflow/agent-web-01.json")
        );
        assert_eq!(
            default_state_path("dc1/web-01"),
            PathBuf::from("/var/lib/patchflow/agent-dc1_web-01.json")
        );
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["agent-web-01.json"]);
    }

    #[test]
    fn a_journal_that_cannot_be_saved_stops_the_job_before_apply() {
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let host = Host::new(HOST, fake.clone(), false);
        let j = job(
            1,
            JobAction::Apply,
            vec![pkg("openssl", "3.0.13-1~deb12u1")],
        );
        let err = host
            .handle_job(&HostState::new(HOST), &j, &now, &mut |_| {
                Err(StateError::Write {
                    path: PathBuf::from("/var/lib/patchflow/agent-web-01.json"),
                    source: std::io::Error::other("disk full"),
                })
            })
            .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(!fake.calls().iter().any(|c| c.starts_with("apply")));
        assert_eq!(fake.version("openssl").as_deref(), Some("3.0.11-1~deb12u2"));
    }

    /// A reboot command runner: records each command line and answers with
    /// `code` (`None`: the program cannot start).
    #[derive(Debug)]
    struct RebootRunner {
        code: Option<i32>,
        ran: Mutex<Vec<String>>,
    }

    impl Runner for RebootRunner {
        fn run(&self, command: &Command) -> Result<crate::backend::Output, BackendError> {
            let line = format!("{} {}", command.program, command.args.join(" "));
            self.ran.lock().unwrap().push(line.clone());
            match self.code {
                Some(0) => Ok(crate::backend::Output::new(0, "", "")),
                Some(c) => Ok(crate::backend::Output::new(
                    c,
                    "",
                    "Failed to reboot system via logind: Access denied\n",
                )),
                None => Err(BackendError::Spawn {
                    command: line,
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                }),
            }
        }
    }

    const BOOT: &str = "8d0f1c5e-0000-4000-8000-00000000a001";

    /// A host on `fake` whose boot id file says [`BOOT`], rebooting with
    /// `argv` (none when `None`) through a runner answering `code`.
    fn rebooting(
        fake: &Arc<Fake>,
        dry_run: bool,
        argv: Option<&[&str]>,
        code: Option<i32>,
    ) -> (Host, Arc<RebootRunner>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot_id");
        std::fs::write(&boot, format!("{BOOT}\n")).unwrap();
        let runner = Arc::new(RebootRunner {
            code,
            ran: Mutex::new(Vec::new()),
        });
        let mut host = Host::new(HOST, fake.clone(), dry_run).with_boot_id_path(boot);
        if let Some(argv) = argv {
            let argv = argv.iter().map(|a| (*a).to_owned()).collect();
            host = host.with_reboot(argv, runner.clone());
        }
        (host, runner, dir)
    }

    const SYSTEMCTL: &[&str] = &["systemctl", "reboot"];

    fn reboot_ref(job_id: u128) -> RebootRef {
        RebootRef {
            job_id: Uuid::from_u128(job_id),
            bundle_id: BUNDLE,
            ring: "dev".into(),
            wave: 0,
            boot_id_before: BOOT.into(),
        }
    }

    #[test]
    fn a_reboot_job_records_the_pending_reboot_and_answers_from_history_when_redelivered() {
        let fake = apt(&[("openssl", "3.0.11-1~deb12u2")]);
        let (host, runner, _dir) = rebooting(&fake, false, Some(SYSTEMCTL), Some(0));
        let j = job(9, JobAction::Reboot, vec![]);
        let (next, r) = handle(&host, &HostState::new(HOST), &j);
        assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
        assert_eq!(r.action, JobAction::Reboot);
        assert_eq!(names(&r), ["reboot"]);
        assert_eq!(r.steps[0].detail, "rebooting: running systemctl reboot");
        assert_eq!(r.inventory.boot_id, BOOT);
        assert!(!r.rebooted);
        assert!(!r.reboot_required);
        assert_eq!(next.pending_reboot, Some(reboot_ref(9)));
        assert_eq!(next.history.get(&j.job_id), Some(&r));
        // Handling the job runs no command: the adapter runs it after the
        // result is published and the job acked.
        assert_eq!(*runner.ran.lock().unwrap(), [] as [String; 0]);
        assert_eq!(
            host.run_reboot(),
            Ok("systemctl reboot exited with status 0".into())
        );
        assert_eq!(*runner.ran.lock().unwrap(), ["systemctl reboot"]);

        // Redelivered: the recorded result, the same state, nothing run.
        let (again, r2) = handle(&host, &next, &j);
        assert_eq!((&again, &r2), (&next, &r));
        assert_eq!(runner.ran.lock().unwrap().len(), 1);
        assert!(!fake.calls().iter().any(|c| c.starts_with("apply")));

        // Another reboot job while this one is pending is refused.
        let other = job(10, JobAction::Reboot, vec![]);
        let (same, r3) = handle(&host, &next, &other);
        assert_eq!(r3.status, JobStatus::Refused);
        assert_eq!(
            r3.reason,
            Some(format!(
                "job {} refused: the reboot of job {} is still under way",
                other.job_id, j.job_id
            ))
        );
        assert_eq!(same, next);
    }

    #[test]
    fn a_dry_run_reboot_job_says_what_would_run_and_changes_nothing() {
        let fake = apt(&[]);
        let (host, runner, _dir) = rebooting(&fake, true, Some(SYSTEMCTL), Some(0));
        let state = HostState::new(HOST);
        let (next, r) = handle(&host, &state, &job(9, JobAction::Reboot, vec![]));
        assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
        assert_eq!(names(&r), ["plan reboot"]);
        assert_eq!(
            r.steps[0].detail,
            "dry run, nothing was changed: would run systemctl reboot"
        );
        assert_eq!(next, state);
        assert_eq!(next.pending_reboot, None);
        assert_eq!(*runner.ran.lock().unwrap(), [] as [String; 0]);
    }

    #[test]
    fn without_a_reboot_command_reboot_jobs_are_refused() {
        let fake = apt(&[]);
        let state = HostState::new(HOST);
        for argv in [None, Some(&[][..])] {
            for dry_run in [false, true] {
                let (host, runner, _dir) = rebooting(&fake, dry_run, argv, Some(0));
                let j = job(9, JobAction::Reboot, vec![]);
                let (next, r) = handle(&host, &state, &j);
                assert_eq!(r.status, JobStatus::Refused, "{argv:?} {dry_run}");
                assert_eq!(names(&r), ["accept"]);
                assert_eq!(
                    r.reason,
                    Some(format!(
                        "job {} refused: no reboot command configured (the agent's `reboot` setting is empty)",
                        j.job_id
                    ))
                );
                assert_eq!(next, state);
                assert_eq!(
                    host.run_reboot(),
                    Err("no reboot command configured".into())
                );
                assert_eq!(*runner.ran.lock().unwrap(), [] as [String; 0]);
            }
        }
    }

    #[test]
    fn a_failing_reboot_command_is_announced_with_the_unchanged_boot_id() {
        let fake = apt(&[]);
        for (code, why) in [
            (
                Some(1),
                "systemctl reboot exited with status 1: Failed to reboot system via logind: Access denied",
            ),
            (None, "start systemctl reboot: entity not found"),
        ] {
            let (host, runner, _dir) = rebooting(&fake, false, Some(SYSTEMCTL), code);
            let (pending, _) = handle(
                &host,
                &HostState::new(HOST),
                &job(9, JobAction::Reboot, vec![]),
            );
            let reason = host.run_reboot().unwrap_err();
            assert_eq!(reason, why);
            assert_eq!(runner.ran.lock().unwrap().len(), 1);
            let (next, online) = host.reboot_failed(&pending, &reason, now()).unwrap();
            assert_eq!(
                online,
                AgentOnline {
                    host: HOST.into(),
                    boot_id: BOOT.into(),
                    started_at: now(),
                    reboot: Some(reboot_ref(9)),
                    detail: Some(format!("reboot command failed: {why}")),
                }
            );
            assert_eq!(next.pending_reboot, None);
            assert_eq!(next.history, pending.history);
            assert_eq!(host.reboot_failed(&next, &reason, now()), None);
        }
    }

    #[test]
    fn the_start_announcement_names_the_pending_reboot_once() {
        let fake = apt(&[]);
        let (host, _runner, dir) = rebooting(&fake, false, Some(SYSTEMCTL), Some(0));
        let (pending, _) = handle(
            &host,
            &HostState::new(HOST),
            &job(9, JobAction::Reboot, vec![]),
        );
        // The host came back with a new boot id.
        std::fs::write(
            dir.path().join("boot_id"),
            "8d0f1c5e-0000-4000-8000-00000000b002\n",
        )
        .unwrap();
        let (next, online) = host.online(&pending, now());
        assert_eq!(online.boot_id, "8d0f1c5e-0000-4000-8000-00000000b002");
        assert_eq!(online.reboot, Some(reboot_ref(9)));
        assert_eq!(online.detail, None);
        assert_eq!(online.started_at, now());
        assert_eq!(next.pending_reboot, None);
        let (same, plain) = host.online(&next, now());
        assert_eq!(same, next);
        assert_eq!(plain.reboot, None);
        assert_eq!(plain.host, HOST);
        // The state file keeps the pending reboot across a restart.
        let path = dir.path().join("agent-web-01.json");
        pending.save(&path).unwrap();
        assert_eq!(
            HostState::load_or_new(&path, HOST).unwrap().pending_reboot,
            Some(reboot_ref(9))
        );
    }
}
