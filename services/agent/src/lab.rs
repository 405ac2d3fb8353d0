//! The lab backend: one simulated host whose state lives in a JSON file.
//!
//! A lab host has packages (name → version), the remediations applied to it
//! (with the package versions they replaced, so a rollback can restore
//! them), a boot id that changes on every reboot, and a fail mode an operator
//! or a test sets in the same file to make installs fail. Applying a job
//! really changes that state; [`handle_job`] computes the change purely and
//! the caller saves it with [`LabState::save`].
//!
//! A state file, as an operator writes it (every field but `host` may be
//! left out):
//!
//! ```json
//! {
//!   "host": "web-01",
//!   "packages": { "openssl": "3.0.2", "nginx": "1.24.0" },
//!   "boot_id": "boot-0",
//!   "reboot_required": true,
//!   "fail": "none"
//! }
//! ```
//!
//! `fail` is `"none"` (the default), `"all"` (every install fails) or
//! `{"remediations": ["pkg:openssl@3.0.13", "advisory:RHSA-2024:4420"]}`
//! (installs of those remediation keys fail).
//!
//! A lab host reboots like a real one, as its own job: an apply that changed
//! a host with `reboot_required` answers `reboot_required: true` (and does
//! not reboot); deploy's host saga then sends a [`JobAction::Reboot`] job.
//! [`handle_job`] answers it at once and records a `pending_reboot` in the
//! state file; the adapter waits the agent's `reboot_secs`, then
//! [`complete_reboot`] gives the host a new boot id and the
//! `patch.agent.online.<host>` announcement naming the job. An agent killed
//! during that wait finds `pending_reboot` at its next start and completes
//! the reboot then. (A rollback still reboots inside its job when the host
//! has `reboot_required`.)

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use events::{
    AgentJob, AgentOnline, AgentResult, Event, HostInventory, JobAction, JobStatus, JobStep,
    RebootRef, Remediation, Service, derive_id,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::verify::{JobVerifier, SIGNATURE_STEP};

/// The boot id of a lab host that never rebooted.
pub const INITIAL_BOOT_ID: &str = "boot-0";

fn initial_boot_id() -> String {
    INITIAL_BOOT_ID.to_owned()
}

/// One remediation a bundle applied on this host.
///
/// Rolling the bundle back restores `previous_versions`. When two bundles
/// changed the same package, rolling back the older one restores the version
/// from before the older one (the lab keeps no per-package history beyond
/// that), as a package manager's downgrade would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedRemediation {
    /// The remediation key ([`Remediation::key`]): `pkg:<name>@<version>`,
    /// `advisory:<id>` or `<scanner>:<check_id>`.
    pub key: String,
    /// The bundle that applied it.
    pub bundle_id: Uuid,
    /// When it was applied (UTC, the `now` of the job).
    pub applied_at: DateTime<Utc>,
    /// Package name → version before the install; `None` when the package
    /// was not installed. Empty for advisories and scanner solutions.
    #[serde(default)]
    pub previous_versions: BTreeMap<String, Option<String>>,
}

/// How a lab host's installs fail, set by hand in the state file.
///
/// Only installs fail: rollbacks always succeed, so a failing host's rollback
/// path can be exercised too.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Nothing fails (`"none"`).
    #[default]
    None,
    /// Every install fails (`"all"`).
    All,
    /// Installs of these remediation keys fail
    /// (`{"remediations": ["pkg:openssl@3.0.13"]}`).
    Remediations(Vec<String>),
}

impl FailMode {
    /// Why the install of `key` fails under this mode, or `None` when it
    /// succeeds.
    pub fn install_failure(&self, key: &str) -> Option<String> {
        match self {
            FailMode::None => None,
            FailMode::All => Some("lab fail mode \"all\": every install fails".to_owned()),
            FailMode::Remediations(keys) if keys.iter().any(|k| k == key) => Some(format!(
                "lab fail mode lists remediation {key}: its install fails"
            )),
            FailMode::Remediations(_) => None,
        }
    }
}

/// One lab host's whole state, as stored in its JSON state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabState {
    /// The host's asset id; jobs for any other host are refused.
    pub host: String,
    /// Installed packages: name → version.
    #[serde(default)]
    pub packages: BTreeMap<String, String>,
    /// Remediations applied and not rolled back, in the order applied.
    #[serde(default)]
    pub applied: Vec<AppliedRemediation>,
    /// The current boot id; a reboot replaces it (default `boot-0`).
    #[serde(default = "initial_boot_id")]
    pub boot_id: String,
    /// Reboots so far.
    #[serde(default)]
    pub reboots: u32,
    /// How installs fail (default: they do not).
    #[serde(default)]
    pub fail: FailMode,
    /// Whether the host needs a reboot after a job changed it: an apply
    /// then answers `reboot_required: true`, a rollback reboots in its job.
    #[serde(default)]
    pub reboot_required: bool,
    /// The reboot job accepted and not yet completed (the simulated reboot
    /// is under way, or the agent stopped during it): the next
    /// [`complete_reboot`] finishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reboot: Option<RebootRef>,
    /// Every job handled (applied, failed or rolled back), by job id, with
    /// the result reported: a redelivered job gets this result again and is
    /// not applied twice. Refused jobs are not recorded (they changed
    /// nothing, and refusing again gives the same answer).
    #[serde(default)]
    pub history: BTreeMap<Uuid, AgentResult>,
}

/// Why a lab state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The state file does not exist.
    #[error(
        "lab state file {} does not exist (create it with at least {{\"host\": \"<asset id>\"}})",
        .path.display()
    )]
    NotFound {
        /// The path tried.
        path: PathBuf,
    },
    /// The state file exists but could not be read.
    #[error("read lab state file {}: {source}", .path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not valid JSON or does not fit [`LabState`].
    #[error("lab state file {} is not a valid lab state: {source}", .path.display())]
    Parse {
        /// The state file.
        path: PathBuf,
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The state parsed but breaks a rule (empty host or boot id).
    #[error("lab state file {} is not a valid lab state: {reason}", .path.display())]
    Invalid {
        /// The state file.
        path: PathBuf,
        /// The rule broken.
        reason: String,
    },
    /// The state could not be written (temporary file, sync or rename).
    #[error("write lab state file {}: {source}", .path.display())]
    Write {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl LabState {
    /// A fresh host: no packages, nothing applied, boot id `boot-0`, no
    /// reboots, nothing failing, no reboot needed.
    pub fn new(host: impl Into<String>) -> LabState {
        LabState {
            host: host.into(),
            packages: BTreeMap::new(),
            applied: Vec::new(),
            boot_id: initial_boot_id(),
            reboots: 0,
            fail: FailMode::None,
            reboot_required: false,
            pending_reboot: None,
            history: BTreeMap::new(),
        }
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

    /// What the agent reports of this host: packages, applied keys (sorted)
    /// and boot id.
    pub fn inventory(&self) -> HostInventory {
        HostInventory {
            packages: self.packages.clone(),
            applied: self.applied_keys(),
            boot_id: self.boot_id.clone(),
        }
    }

    /// Reads a state file.
    ///
    /// # Errors
    /// [`LabError::NotFound`] when `path` does not exist, [`LabError::Read`]
    /// when it cannot be read, [`LabError::Parse`] when it is not JSON of
    /// this shape (unknown fields included, so a misspelt `fail` is not
    /// silently ignored), [`LabError::Invalid`] when `host` or `boot_id` is
    /// empty. Each names the path.
    pub fn load(path: &Path) -> Result<LabState, LabError> {
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                LabError::NotFound {
                    path: path.to_owned(),
                }
            } else {
                LabError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let state: LabState = serde_json::from_slice(&bytes).map_err(|source| LabError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |reason: &str| LabError::Invalid {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if state.host.trim().is_empty() {
            return Err(invalid("\"host\" is empty"));
        }
        if state.boot_id.is_empty() {
            return Err(invalid("\"boot_id\" is empty"));
        }
        Ok(state)
    }

    /// Writes the state file atomically: pretty JSON into a temporary file
    /// in the same directory, flushed to disk, then renamed over `path`. A
    /// crash leaves either the old or the new file; the temporary file is
    /// removed on every error.
    ///
    /// # Errors
    /// [`LabError::Write`] naming `path` when the temporary file cannot be
    /// created, written or synced, or the rename fails.
    pub fn save(&self, path: &Path) -> Result<(), LabError> {
        write_json_atomic(path, self, ".lab-state-", false).map_err(|source| LabError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// Whether the host holds `r`: its key is recorded as applied and, for a
    /// package, the package is at exactly the fixed version.
    fn holds(&self, r: &Remediation) -> bool {
        let key = r.key();
        let recorded = self.applied.iter().any(|a| a.key == key);
        match r {
            Remediation::Package {
                name,
                fixed_version,
            } => recorded && self.packages.get(name) == Some(fixed_version),
            Remediation::Advisory { .. } | Remediation::Solution { .. } => recorded,
        }
    }

    /// Installs one remediation for `bundle_id`; returns the step detail.
    /// A key this bundle already applied keeps its first record, so a
    /// rollback restores the versions from before the bundle.
    fn install(
        &mut self,
        r: &Remediation,
        key: &str,
        bundle_id: Uuid,
        now: DateTime<Utc>,
    ) -> String {
        let already = self
            .applied
            .iter()
            .any(|a| a.key == key && a.bundle_id == bundle_id);
        let mut previous_versions = BTreeMap::new();
        let detail = match r {
            Remediation::Package {
                name,
                fixed_version,
            } => {
                let previous = self.packages.insert(name.clone(), fixed_version.clone());
                let detail = match &previous {
                    Some(v) if v == fixed_version => format!("{name} already at {v}"),
                    Some(v) => format!("{name} {v} -> {fixed_version}"),
                    None => format!("{name} (not installed) -> {fixed_version}"),
                };
                previous_versions.insert(name.clone(), previous);
                detail
            }
            Remediation::Advisory { .. } | Remediation::Solution { .. } => {
                format!("recorded {key} as applied")
            }
        };
        if already {
            return format!("{detail}; already applied by bundle {bundle_id}");
        }
        self.applied.push(AppliedRemediation {
            key: key.to_owned(),
            bundle_id,
            applied_at: now,
            previous_versions,
        });
        detail
    }

    /// Replaces the boot id and counts the reboot; returns the step.
    fn reboot(&mut self, new_boot_id: &str) -> JobStep {
        let old = std::mem::replace(&mut self.boot_id, new_boot_id.to_owned());
        self.reboots = self.reboots.saturating_add(1);
        JobStep {
            name: "reboot".into(),
            ok: true,
            detail: format!("boot id {old} -> {new_boot_id}"),
        }
    }
}

/// Writes `value` as pretty JSON (with a final newline) to `path`
/// atomically: into a temporary file named `<prefix>…tmp` in the same
/// directory, synced to disk, then renamed over `path`. A crash leaves the
/// old or the new file; the temporary file is removed on every error.
/// `create_dir` creates the directory first when it is missing.
///
/// # Errors
/// The [`std::io::Error`] of the step that failed (a serialization error is
/// converted into one).
pub(crate) fn write_json_atomic(
    path: &Path,
    value: &impl Serialize,
    prefix: &str,
    create_dir: bool,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if create_dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut json = serde_json::to_vec_pretty(value)?;
    json.push(b'\n');
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(&json)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Handles one job on a lab host: returns the host's next state and the
/// result to report. Pure: `now` (UTC) is the job's finish time and
/// `new_boot_id` the boot id a reboot during a rollback job gets (it must
/// differ from the current one).
///
/// In order:
/// 1. A job addressed to another host is refused.
/// 2. A job id already in `history` returns the recorded result; nothing is
///    applied again.
/// 3. A job received after `expires_at` (strictly later) is refused.
/// 4. `apply`: each remediation in order is a step `install <key>`: a package
///    is set to exactly its fixed version (the version it replaced is
///    recorded), an advisory or scanner solution is recorded as applied.
///    Then a step `post-check` that every remediation is present. The job
///    does not reboot: when the host has `reboot_required` and the job
///    changed its packages or applied remediations, the result says
///    `reboot_required: true` (`rebooted: false`, boot id unchanged) and
///    deploy sends a reboot job. An install that the [`FailMode`]
///    fails makes the job `Failed` with that step and reason, and the job is
///    atomic: the host's packages, applied remediations and boot id stay as
///    they were before the job (a `revert` step says so when earlier installs
///    of the job were undone).
/// 5. `rollback`: undoes everything the job's bundle applied on this host
///    (the job's remediation list is informational: the host's own record
///    decides), newest first, a step `rollback <key>` each: previous package
///    versions are restored, a package the bundle installed fresh is
///    removed, the bundle's applied keys are dropped. Then `reboot` when
///    required, then `post-check`. A bundle that applied nothing here gives
///    `Succeeded` with one `rollback` step saying there is nothing to undo.
/// 6. `reboot`: the host records a `pending_reboot` ([`RebootRef`] with the
///    job's ids and the current boot id) and the job succeeds at once with
///    one step `reboot`; the inventory holds the boot id from before. The
///    reboot itself happens after the result is published:
///    [`complete_reboot`]. A reboot job while another one is pending is
///    refused.
///
/// Refused jobs return the state unchanged (history included); every other
/// job's result is recorded in the returned state's `history`. The result's
/// ids are copied from the job; its `inventory` is the host after the job.
pub fn handle_job(
    state: &LabState,
    job: &AgentJob,
    now: DateTime<Utc>,
    new_boot_id: &str,
) -> (LabState, AgentResult) {
    if job.host != state.host {
        let reason = format!(
            "job {} is addressed to host {:?}, this agent is host {:?}",
            job.job_id, job.host, state.host
        );
        return (state.clone(), refused(state, job, now, "accept", reason));
    }
    if let Some(recorded) = state.history.get(&job.job_id) {
        return (state.clone(), recorded.clone());
    }
    if now > job.expires_at {
        let reason = format!(
            "job {} expired at {}, received at {}",
            job.job_id,
            job.expires_at.to_rfc3339(),
            now.to_rfc3339()
        );
        return (state.clone(), refused(state, job, now, "accept", reason));
    }
    let (mut next, result) = match job.action {
        JobAction::Apply => apply(state, job, now),
        JobAction::Rollback => rollback(state, job, now, new_boot_id),
        JobAction::Reboot => {
            if let Some(p) = &state.pending_reboot {
                let reason = format!(
                    "job {} refused: the reboot of job {} is still under way",
                    job.job_id, p.job_id
                );
                return (state.clone(), refused(state, job, now, "accept", reason));
            }
            accept_reboot(state, job, now)
        }
    };
    next.history.insert(job.job_id, result.clone());
    (next, result)
}

/// A reboot job: the pending reboot recorded, the result `Succeeded` with
/// the boot id from before.
fn accept_reboot(state: &LabState, job: &AgentJob, now: DateTime<Utc>) -> (LabState, AgentResult) {
    let mut next = state.clone();
    next.pending_reboot = Some(RebootRef {
        job_id: job.job_id,
        bundle_id: job.bundle_id,
        ring: job.ring.clone(),
        wave: job.wave,
        boot_id_before: state.boot_id.clone(),
    });
    let step = JobStep {
        name: "reboot".into(),
        ok: true,
        detail: format!("rebooting the lab host (boot id {})", state.boot_id),
    };
    let r = result(
        &next,
        job,
        JobStatus::Succeeded,
        None,
        vec![step],
        false,
        now,
    );
    (next, r)
}

/// Completes the pending reboot of `state`, if any: the host gets
/// `new_boot_id` (it must differ from the current one), one more reboot is
/// counted, `pending_reboot` is cleared, and the returned announcement,
/// started at `now` (UTC), names the reboot job. `None` when no reboot is
/// pending. Pure; the caller publishes the announcement, then saves the
/// state.
pub fn complete_reboot(
    state: &LabState,
    new_boot_id: &str,
    now: DateTime<Utc>,
) -> Option<(LabState, AgentOnline)> {
    let pending = state.pending_reboot.clone()?;
    let mut next = state.clone();
    next.reboot(new_boot_id);
    next.pending_reboot = None;
    let online = AgentOnline {
        host: next.host.clone(),
        boot_id: next.boot_id.clone(),
        started_at: now,
        reboot: Some(pending),
        detail: None,
    };
    Some((next, online))
}

/// The announcement of an agent starting at `now` (UTC) on a lab host
/// with no pending reboot: its current boot id, no reboot job.
pub fn online(state: &LabState, now: DateTime<Utc>) -> AgentOnline {
    AgentOnline {
        host: state.host.clone(),
        boot_id: state.boot_id.clone(),
        started_at: now,
        reboot: None,
        detail: None,
    }
}

/// [`handle_job`] for a job whose signature `verifier` checks first: a job
/// with a missing, malformed or foreign signature is refused (one step
/// [`crate::verify::SIGNATURE_STEP`] with the reason), changes nothing and
/// is not recorded; a verified job goes on to [`handle_job`] (which refuses
/// a job addressed to another host).
pub fn handle_verified_job(
    state: &LabState,
    job: &AgentJob,
    verifier: &JobVerifier,
    now: DateTime<Utc>,
    new_boot_id: &str,
) -> (LabState, AgentResult) {
    if let Err(e) = verifier.verify(job) {
        let reason = JobVerifier::refusal_reason(job, &e);
        return (
            state.clone(),
            refused(state, job, now, SIGNATURE_STEP, reason),
        );
    }
    handle_job(state, job, now, new_boot_id)
}

/// The `patch.agent.result.<host>` event for `result`.
///
/// Its id is derived from the job id (`derive_id(job_id, "agent",
/// "result")`) and its time is `finished_at`, so a redelivered job, answered
/// from `history`, republishes the very same event and the duplicate window
/// drops it. A refusal for a bad signature (first step
/// [`crate::verify::SIGNATURE_STEP`]) gets `derive_id(job_id, "agent",
/// "result/unverified")` instead, so a forged job reusing a real job's id
/// cannot take the real result's id in the duplicate window.
/// `traceparent` is the job event's, to link the trace.
pub fn result_event(result: AgentResult, traceparent: Option<String>) -> Event {
    let unverified = result.status == JobStatus::Refused
        && result
            .steps
            .first()
            .is_some_and(|s| s.name == SIGNATURE_STEP);
    let key = if unverified {
        "result/unverified"
    } else {
        "result"
    };
    let id = derive_id(result.job_id, Service::Agent.as_str(), key);
    let time = result.finished_at;
    let mut event = Event::new(id, Service::Agent, time, result);
    event.traceparent = traceparent;
    event
}

/// A result for `job` on the host `after` the job.
fn result(
    after: &LabState,
    job: &AgentJob,
    status: JobStatus,
    reason: Option<String>,
    steps: Vec<JobStep>,
    rebooted: bool,
    now: DateTime<Utc>,
) -> AgentResult {
    AgentResult {
        job_id: job.job_id,
        bundle_id: job.bundle_id,
        ring: job.ring.clone(),
        wave: job.wave,
        host: after.host.clone(),
        action: job.action,
        status,
        reason,
        steps,
        rebooted,
        reboot_required: false,
        inventory: after.inventory(),
        finished_at: now,
        rollback_method: None,
    }
}

/// A refusal: nothing ran; one failed step `step_name` says why.
fn refused(
    state: &LabState,
    job: &AgentJob,
    now: DateTime<Utc>,
    step_name: &str,
    reason: String,
) -> AgentResult {
    let step = JobStep {
        name: step_name.into(),
        ok: false,
        detail: reason.clone(),
    };
    result(
        state,
        job,
        JobStatus::Refused,
        Some(reason),
        vec![step],
        false,
        now,
    )
}

/// A failed job: the state before it, with the steps so far.
fn failed(
    before: &LabState,
    job: &AgentJob,
    now: DateTime<Utc>,
    mut steps: Vec<JobStep>,
    reason: String,
) -> (LabState, AgentResult) {
    let undone = steps.iter().filter(|s| s.ok).count();
    if undone > 0 {
        steps.push(JobStep {
            name: "revert".into(),
            ok: true,
            detail: format!(
                "job is atomic: undid {undone} earlier step(s); packages, applied remediations and boot id unchanged"
            ),
        });
    }
    let r = result(
        before,
        job,
        JobStatus::Failed,
        Some(reason),
        steps,
        false,
        now,
    );
    (before.clone(), r)
}

fn apply(state: &LabState, job: &AgentJob, now: DateTime<Utc>) -> (LabState, AgentResult) {
    let mut next = state.clone();
    let mut steps = Vec::with_capacity(job.remediations.len() + 2);
    for r in &job.remediations {
        let key = r.key();
        let name = format!("install {key}");
        if let Some(why) = state.fail.install_failure(&key) {
            let reason = format!("{name} failed: {why}");
            steps.push(JobStep {
                name,
                ok: false,
                detail: why,
            });
            return failed(state, job, now, steps, reason);
        }
        let detail = next.install(r, &key, job.bundle_id, now);
        steps.push(JobStep {
            name,
            ok: true,
            detail,
        });
    }
    let changed = next.packages != state.packages || next.applied != state.applied;
    let reboot_required = state.reboot_required && changed;
    let missing: Vec<String> = job
        .remediations
        .iter()
        .filter(|r| !next.holds(r))
        .map(Remediation::key)
        .collect();
    if !missing.is_empty() {
        let detail = format!("not present after install: {}", missing.join(", "));
        let reason = format!("post-check failed: {detail}");
        steps.push(JobStep {
            name: "post-check".into(),
            ok: false,
            detail,
        });
        return failed(state, job, now, steps, reason);
    }
    steps.push(JobStep {
        name: "post-check".into(),
        ok: true,
        detail: format!("{} remediation(s) present", job.remediations.len()),
    });
    let mut r = result(&next, job, JobStatus::Succeeded, None, steps, false, now);
    r.reboot_required = reboot_required;
    (next, r)
}

fn rollback(
    state: &LabState,
    job: &AgentJob,
    now: DateTime<Utc>,
    new_boot_id: &str,
) -> (LabState, AgentResult) {
    let mine: Vec<&AppliedRemediation> = state
        .applied
        .iter()
        .filter(|a| a.bundle_id == job.bundle_id)
        .collect();
    if mine.is_empty() {
        let step = JobStep {
            name: "rollback".into(),
            ok: true,
            detail: format!(
                "nothing to undo: bundle {} applied nothing on this host",
                job.bundle_id
            ),
        };
        let r = result(
            state,
            job,
            JobStatus::Succeeded,
            None,
            vec![step],
            false,
            now,
        );
        return (state.clone(), r);
    }
    let mut next = state.clone();
    let mut steps = Vec::with_capacity(mine.len() + 2);
    for a in mine.iter().rev() {
        let mut done = Vec::new();
        for (pkg, previous) in &a.previous_versions {
            let current = next.packages.get(pkg).cloned();
            let shown = current.as_deref().unwrap_or("(not installed)");
            match previous {
                Some(v) => {
                    next.packages.insert(pkg.clone(), v.clone());
                    done.push(format!("{pkg} {shown} -> {v}"));
                }
                None => {
                    next.packages.remove(pkg);
                    done.push(format!("removed {pkg} {shown} (not installed before)"));
                }
            }
        }
        if done.is_empty() {
            done.push(format!("dropped {} from applied", a.key));
        }
        steps.push(JobStep {
            name: format!("rollback {}", a.key),
            ok: true,
            detail: done.join("; "),
        });
    }
    next.applied.retain(|a| a.bundle_id != job.bundle_id);
    let rebooted = state.reboot_required;
    if rebooted {
        steps.push(next.reboot(new_boot_id));
    }
    steps.push(JobStep {
        name: "post-check".into(),
        ok: true,
        detail: format!(
            "bundle {} has nothing left applied; {} remediation(s) undone",
            job.bundle_id,
            mine.len()
        ),
    });
    let mut r = result(&next, job, JobStatus::Succeeded, None, steps, rebooted, now);
    // The lab takes no snapshots: it puts the previous versions back.
    r.rollback_method = Some(events::RollbackMethod::PackageDowngrade);
    (next, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "web-01";
    const BUNDLE: Uuid = Uuid::from_u128(0xb0);

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        at("2026-12-01T02:10:00Z")
    }

    fn openssl() -> Remediation {
        Remediation::Package {
            name: "openssl".into(),
            fixed_version: "3.0.13".into(),
        }
    }

    fn curl() -> Remediation {
        Remediation::Package {
            name: "curl".into(),
            fixed_version: "8.5.0".into(),
        }
    }

    fn rhsa() -> Remediation {
        Remediation::Advisory {
            id: "RHSA-2024:4420".into(),
        }
    }

    fn host() -> LabState {
        let mut s = LabState::new(HOST);
        s.packages.insert("openssl".into(), "3.0.2".into());
        s.packages.insert("nginx".into(), "1.24.0".into());
        s
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

    fn apply_all() -> AgentJob {
        job(1, JobAction::Apply, vec![openssl(), curl(), rhsa()])
    }

    fn step_names(r: &AgentResult) -> Vec<&str> {
        r.steps.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn apply_sets_versions_records_keys_and_reports_inventory() {
        let (next, r) = handle_job(&host(), &apply_all(), now(), "boot-1");
        assert_eq!(r.status, JobStatus::Succeeded);
        assert_eq!(r.reason, None);
        assert_eq!(
            step_names(&r),
            [
                "install pkg:openssl@3.0.13",
                "install pkg:curl@8.5.0",
                "install advisory:RHSA-2024:4420",
                "post-check"
            ]
        );
        assert_eq!(r.steps[0].detail, "openssl 3.0.2 -> 3.0.13");
        assert_eq!(r.steps[1].detail, "curl (not installed) -> 8.5.0");
        assert!(r.steps.iter().all(|s| s.ok));
        assert!(!r.rebooted);
        assert_eq!(next.packages["openssl"], "3.0.13");
        assert_eq!(next.packages["curl"], "8.5.0");
        assert_eq!(next.packages["nginx"], "1.24.0");
        assert_eq!(
            next.applied_keys(),
            [
                "advisory:RHSA-2024:4420",
                "pkg:curl@8.5.0",
                "pkg:openssl@3.0.13"
            ]
        );
        let openssl_rec = next.applied.first().unwrap();
        assert_eq!(openssl_rec.bundle_id, BUNDLE);
        assert_eq!(openssl_rec.applied_at, now());
        assert_eq!(
            openssl_rec.previous_versions,
            BTreeMap::from([("openssl".to_string(), Some("3.0.2".to_string()))])
        );
        assert_eq!(r.inventory, next.inventory());
        assert_eq!(r.inventory.boot_id, INITIAL_BOOT_ID);
        assert_eq!(
            (
                r.job_id,
                r.bundle_id,
                r.ring.as_str(),
                r.wave,
                r.host.as_str()
            ),
            (Uuid::from_u128(1), BUNDLE, "dev", 0, HOST)
        );
        assert_eq!(r.action, JobAction::Apply);
        assert_eq!(r.finished_at, now());
        assert_eq!(next.history.get(&Uuid::from_u128(1)), Some(&r));
    }

    /// Runs `apply_all` on a host with `fail` and checks it failed at `step`
    /// with `reason`, leaving packages, applied keys and boot id unchanged.
    fn check_fails(fail: FailMode, failing_step: &str, reason: &str, names: &[&str]) {
        let mut before = host();
        before.fail = fail;
        before.reboot_required = true;
        let (next, r) = handle_job(&before, &apply_all(), now(), "boot-1");
        assert_eq!(r.status, JobStatus::Failed, "{failing_step}");
        assert_eq!(r.reason.as_deref(), Some(reason));
        assert_eq!(step_names(&r), names);
        let bad: Vec<&str> = r
            .steps
            .iter()
            .filter(|s| !s.ok)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(bad, [failing_step]);
        assert!(!r.rebooted);
        assert_eq!(next.packages, before.packages);
        assert_eq!(next.applied, before.applied);
        assert_eq!((next.boot_id.as_str(), next.reboots), (INITIAL_BOOT_ID, 0));
        assert_eq!(r.inventory, before.inventory());
        // Only the result was recorded.
        let mut expected = before.clone();
        expected.history.insert(r.job_id, r.clone());
        assert_eq!(next, expected);
    }

    #[test]
    fn fail_mode_all_fails_the_first_install_and_changes_nothing() {
        check_fails(
            FailMode::All,
            "install pkg:openssl@3.0.13",
            "install pkg:openssl@3.0.13 failed: lab fail mode \"all\": every install fails",
            &["install pkg:openssl@3.0.13"],
        );
    }

    #[test]
    fn fail_mode_for_one_remediation_undoes_the_earlier_installs() {
        check_fails(
            FailMode::Remediations(vec!["advisory:RHSA-2024:4420".into()]),
            "install advisory:RHSA-2024:4420",
            "install advisory:RHSA-2024:4420 failed: lab fail mode lists remediation \
             advisory:RHSA-2024:4420: its install fails",
            &[
                "install pkg:openssl@3.0.13",
                "install pkg:curl@8.5.0",
                "install advisory:RHSA-2024:4420",
                "revert",
            ],
        );
    }

    #[test]
    fn fail_mode_for_another_key_lets_the_job_succeed() {
        let mut before = host();
        before.fail = FailMode::Remediations(vec!["pkg:zlib@1.3".into()]);
        let (next, r) = handle_job(&before, &apply_all(), now(), "boot-1");
        assert_eq!(r.status, JobStatus::Succeeded);
        assert_eq!(next.packages["openssl"], "3.0.13");
    }

    #[test]
    fn an_apply_on_a_host_that_needs_a_reboot_says_so_and_does_not_reboot() {
        let mut before = host();
        before.reboot_required = true;
        let (next, r) = handle_job(&before, &apply_all(), now(), "boot-1");
        assert_eq!(r.status, JobStatus::Succeeded);
        assert!(r.reboot_required);
        assert!(!r.rebooted);
        assert_eq!(step_names(&r)[3..], ["post-check"], "{:?}", step_names(&r));
        assert_eq!((next.boot_id.as_str(), next.reboots), ("boot-0", 0));
        assert_eq!(r.inventory.boot_id, "boot-0");
        assert_eq!(next.pending_reboot, None);
        // A job that changed nothing needs no reboot, nor does a host
        // without the flag.
        let again = job(5, JobAction::Apply, vec![openssl()]);
        let (_, r) = handle_job(&next, &again, now(), "boot-2");
        assert_eq!(
            r.steps[0].detail,
            format!("openssl already at 3.0.13; already applied by bundle {BUNDLE}")
        );
        assert!(!r.reboot_required);
        let (_, r) = handle_job(&host(), &apply_all(), now(), "boot-1");
        assert!(!r.reboot_required);
    }

    fn reboot_job(id: u128) -> AgentJob {
        job(id, JobAction::Reboot, vec![])
    }

    #[test]
    fn a_reboot_job_records_the_pending_reboot_and_answers_with_the_old_boot_id() {
        let (applied, _) = handle_job(&host(), &apply_all(), now(), "unused");
        let j = reboot_job(7);
        let (next, r) = handle_job(&applied, &j, now(), "unused");
        assert_eq!(r.status, JobStatus::Succeeded, "{r:?}");
        assert_eq!(r.action, JobAction::Reboot);
        assert_eq!(step_names(&r), ["reboot"]);
        assert_eq!(r.steps[0].detail, "rebooting the lab host (boot id boot-0)");
        assert!(!r.rebooted);
        assert!(!r.reboot_required);
        assert_eq!(r.inventory.boot_id, "boot-0");
        let pending = RebootRef {
            job_id: j.job_id,
            bundle_id: BUNDLE,
            ring: "dev".into(),
            wave: 0,
            boot_id_before: "boot-0".into(),
        };
        assert_eq!(next.pending_reboot.as_ref(), Some(&pending));
        assert_eq!((next.boot_id.as_str(), next.reboots), ("boot-0", 0));
        assert_eq!(next.history.get(&j.job_id), Some(&r));
        // Redelivered: the recorded answer, nothing more.
        let (twice, again) = handle_job(&next, &j, now(), "unused");
        assert_eq!((twice, again), (next.clone(), r));
        // Another reboot job while this one is under way is refused.
        let other = reboot_job(8);
        let (same, r) = handle_job(&next, &other, now(), "unused");
        assert_eq!(r.status, JobStatus::Refused);
        assert_eq!(
            r.reason.as_deref(),
            Some(
                format!(
                    "job {} refused: the reboot of job {} is still under way",
                    other.job_id, j.job_id
                )
                .as_str()
            )
        );
        assert_eq!(same, next);
    }

    #[test]
    fn completing_the_pending_reboot_changes_the_boot_id_and_names_the_job() {
        assert_eq!(complete_reboot(&host(), "boot-1", now()), None);
        let j = reboot_job(7);
        let (pending, _) = handle_job(&host(), &j, now(), "unused");
        let later = at("2026-12-01T02:11:00Z");
        let (next, announced) = complete_reboot(&pending, "boot-1", later).unwrap();
        assert_eq!((next.boot_id.as_str(), next.reboots), ("boot-1", 1));
        assert_eq!(next.pending_reboot, None);
        assert_eq!(next.history, pending.history);
        assert_eq!(
            announced,
            AgentOnline {
                host: HOST.into(),
                boot_id: "boot-1".into(),
                started_at: later,
                reboot: pending.pending_reboot.clone(),
                detail: None,
            }
        );
        assert_eq!(
            announced.reboot.as_ref().map(|r| r.boot_id_before.as_str()),
            Some("boot-0")
        );
        assert_eq!(
            online(&next, later),
            AgentOnline {
                host: HOST.into(),
                boot_id: "boot-1".into(),
                started_at: later,
                reboot: None,
                detail: None,
            }
        );
    }

    #[test]
    fn a_redelivered_job_returns_the_recorded_result_without_reapplying() {
        let mut before = host();
        before.reboot_required = true;
        let (once, first) = handle_job(&before, &apply_all(), now(), "boot-1");
        let later = at("2026-12-01T02:20:00Z");
        let (twice, second) = handle_job(&once, &apply_all(), later, "boot-2");
        assert_eq!(second, first);
        assert_eq!(twice, once);
        assert_eq!((twice.boot_id.as_str(), twice.reboots), ("boot-0", 0));
        assert_eq!(twice.applied.len(), 3);
        // Even after expiry, the recorded answer wins over a refusal.
        let (_, third) = handle_job(&once, &apply_all(), at("2026-12-02T00:00:00Z"), "b");
        assert_eq!(third, first);
        // A failed job is answered from history too.
        let mut failing = host();
        failing.fail = FailMode::All;
        let (f1, failed_first) = handle_job(&failing, &apply_all(), now(), "b");
        let mut healed = f1.clone();
        healed.fail = FailMode::None;
        let (f2, failed_again) = handle_job(&healed, &apply_all(), later, "b");
        assert_eq!(failed_again, failed_first);
        assert_eq!(f2.packages, failing.packages);
    }

    /// Runs `job` on `host()` at `when` and checks it was refused with
    /// `reason` and nothing changed, history included.
    fn check_refused(job: &AgentJob, when: DateTime<Utc>, reason: &str) {
        let before = host();
        let (next, r) = handle_job(&before, job, when, "boot-1");
        assert_eq!(r.status, JobStatus::Refused);
        assert_eq!(r.reason.as_deref(), Some(reason));
        assert_eq!(step_names(&r), ["accept"]);
        assert_eq!(next, before);
        assert_eq!(r.inventory, before.inventory());
        assert_eq!(r.job_id, job.job_id);
    }

    #[test]
    fn jobs_for_another_host_or_after_expiry_are_refused() {
        let mut other = apply_all();
        other.host = "db-01".into();
        check_refused(
            &other,
            now(),
            &format!(
                "job {} is addressed to host \"db-01\", this agent is host \"web-01\"",
                other.job_id
            ),
        );
        let job = apply_all();
        check_refused(
            &job,
            at("2026-12-01T03:00:01Z"),
            &format!(
                "job {} expired at 2026-12-01T03:00:00+00:00, received at 2026-12-01T03:00:01+00:00",
                job.job_id
            ),
        );
        // At the expiry instant it still runs.
        let (_, r) = handle_job(&host(), &job, job.expires_at, "boot-1");
        assert_eq!(r.status, JobStatus::Succeeded);
    }

    /// A job refused for its signature or its host: nothing changes,
    /// nothing is recorded, and the result says why.
    fn check_signed_refusal(job: &AgentJob, step: &str, reason: &str) {
        let before = host();
        let verifier = crate::verify::tests::verifier([1; 32]);
        let (next, r) = handle_verified_job(&before, job, &verifier, now(), "boot-1");
        assert_eq!(r.status, JobStatus::Refused);
        let got = r.reason.clone().unwrap_or_default();
        assert!(got.contains(reason), "{got:?} lacks {reason:?}");
        assert_eq!(step_names(&r), [step]);
        assert_eq!(next, before);
        assert_eq!(r.host, HOST);
        assert_eq!(r.job_id, job.job_id);
    }

    #[test]
    fn only_jobs_signed_with_deploys_key_and_addressed_here_are_taken() {
        use crate::verify::tests::{sign, verifier};
        let mut good = apply_all();
        sign(&mut good, [1; 32]);
        let (next, r) = handle_verified_job(&host(), &good, &verifier([1; 32]), now(), "boot-1");
        assert_eq!(r.status, JobStatus::Succeeded);
        assert_eq!(
            next.packages.get("openssl").map(String::as_str),
            Some("3.0.13")
        );
        assert_eq!(
            result_event(r, None).id,
            derive_id(good.job_id, "agent", "result")
        );

        check_signed_refusal(&apply_all(), SIGNATURE_STEP, "job has no signature");
        let mut other_key = apply_all();
        sign(&mut other_key, [2; 32]);
        check_signed_refusal(
            &other_key,
            SIGNATURE_STEP,
            &format!(
                "job {} refused: job signature does not verify with this agent's key",
                other_key.job_id
            ),
        );
        // Re-addressing a signed job breaks its signature ...
        let mut moved = good.clone();
        moved.host = "db-01".into();
        check_signed_refusal(&moved, SIGNATURE_STEP, "does not verify");
        // ... and a job deploy signed for another host is refused as such.
        let mut elsewhere = apply_all();
        elsewhere.host = "db-01".into();
        sign(&mut elsewhere, [1; 32]);
        check_signed_refusal(
            &elsewhere,
            "accept",
            "is addressed to host \"db-01\", this agent is host \"web-01\"",
        );

        // A signature refusal's event id is not the real result's id.
        let (_, refusal) =
            handle_verified_job(&host(), &other_key, &verifier([1; 32]), now(), "boot-1");
        let event = result_event(refusal, None);
        assert_eq!(
            event.id,
            derive_id(other_key.job_id, "agent", "result/unverified")
        );
        assert_ne!(event.id, derive_id(other_key.job_id, "agent", "result"));
    }

    #[test]
    fn rollback_restores_previous_versions_and_drops_the_bundles_keys() {
        let mut before = host();
        // Another bundle's record stays untouched.
        before.applied.push(AppliedRemediation {
            key: "advisory:KB1".into(),
            bundle_id: Uuid::from_u128(0xb1),
            applied_at: at("2026-11-01T00:00:00Z"),
            previous_versions: BTreeMap::new(),
        });
        let (applied, _) = handle_job(&before, &apply_all(), now(), "boot-1");
        let back = job(2, JobAction::Rollback, vec![openssl(), curl(), rhsa()]);
        let later = at("2026-12-01T02:30:00Z");
        let (next, r) = handle_job(&applied, &back, later, "boot-2");
        assert_eq!(r.status, JobStatus::Succeeded);
        assert_eq!(r.action, JobAction::Rollback);
        assert_eq!(
            r.rollback_method,
            Some(events::RollbackMethod::PackageDowngrade)
        );
        assert_eq!(
            step_names(&r),
            [
                "rollback advisory:RHSA-2024:4420",
                "rollback pkg:curl@8.5.0",
                "rollback pkg:openssl@3.0.13",
                "post-check"
            ]
        );
        assert_eq!(
            r.steps[0].detail,
            "dropped advisory:RHSA-2024:4420 from applied"
        );
        assert_eq!(
            r.steps[1].detail,
            "removed curl 8.5.0 (not installed before)"
        );
        assert_eq!(r.steps[2].detail, "openssl 3.0.13 -> 3.0.2");
        assert_eq!(next.packages, before.packages);
        assert_eq!(next.applied, before.applied);
        assert_eq!(r.inventory.applied, ["advisory:KB1"]);
        assert_eq!(next.history.len(), 2);
    }

    #[test]
    fn rollback_of_a_bundle_that_applied_twice_restores_the_first_versions() {
        let (once, _) = handle_job(&host(), &apply_all(), now(), "b1");
        let again = job(3, JobAction::Apply, vec![openssl()]);
        let (twice, r) = handle_job(&once, &again, now(), "b2");
        assert_eq!(
            r.steps[0].detail,
            format!("openssl already at 3.0.13; already applied by bundle {BUNDLE}")
        );
        assert_eq!(twice.applied.len(), 3);
        let (back, _) = handle_job(&twice, &job(4, JobAction::Rollback, vec![]), now(), "b3");
        assert_eq!(back.packages["openssl"], "3.0.2");
    }

    #[test]
    fn rollback_with_nothing_applied_succeeds_and_says_so() {
        let before = host();
        let (next, r) = handle_job(
            &before,
            &job(2, JobAction::Rollback, vec![openssl()]),
            now(),
            "b",
        );
        assert_eq!(r.status, JobStatus::Succeeded);
        assert_eq!(step_names(&r), ["rollback"]);
        assert_eq!(
            r.steps[0].detail,
            format!("nothing to undo: bundle {BUNDLE} applied nothing on this host")
        );
        assert!(!r.rebooted);
        assert_eq!(next.packages, before.packages);
        assert_eq!(next.boot_id, before.boot_id);
    }

    #[test]
    fn rollback_reboots_when_the_host_requires_it() {
        let mut before = host();
        before.reboot_required = true;
        let (applied, _) = handle_job(&before, &apply_all(), now(), "boot-1");
        let (next, r) = handle_job(
            &applied,
            &job(2, JobAction::Rollback, vec![]),
            now(),
            "boot-2",
        );
        assert!(r.rebooted);
        assert_eq!((next.boot_id.as_str(), next.reboots), ("boot-2", 1));
    }

    #[test]
    fn result_event_id_depends_on_the_job_only() {
        let (_, r) = handle_job(&host(), &apply_all(), now(), "boot-1");
        let e = result_event(r.clone(), Some("00-abc-def-01".into()));
        assert_eq!(e.id, derive_id(r.job_id, "agent", "result"));
        assert_eq!(e.time, now());
        assert_eq!(e.source, "patchflow/agent");
        assert_eq!(e.event_type(), "patch.agent.result.v1");
        assert_eq!(e.traceparent.as_deref(), Some("00-abc-def-01"));
        assert_eq!(result_event(r, None).id, e.id);
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web-01.json");
        let (state, _) = handle_job(&host(), &apply_all(), now(), "boot-1");
        state.save(&path).unwrap();
        assert_eq!(LabState::load(&path).unwrap(), state);
        // Overwrite in place: still one file, the new content.
        let (state2, _) = handle_job(&state, &job(2, JobAction::Rollback, vec![]), now(), "b");
        state2.save(&path).unwrap();
        assert_eq!(LabState::load(&path).unwrap(), state2);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["web-01.json"]);
    }

    #[test]
    fn save_into_a_missing_directory_names_the_path_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("web-01.json");
        let err = host().save(&path).unwrap_err();
        assert!(matches!(err, LabError::Write { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_hand_written_minimal_file_loads_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.json");
        std::fs::write(
            &path,
            r#"{"host":"web-01","packages":{"openssl":"3.0.2"},"fail":{"remediations":["pkg:openssl@3.0.13"]}}"#,
        )
        .unwrap();
        let s = LabState::load(&path).unwrap();
        assert_eq!(s.host, "web-01");
        assert_eq!(s.boot_id, INITIAL_BOOT_ID);
        assert_eq!(s.reboots, 0);
        assert!(!s.reboot_required);
        assert_eq!(
            s.fail,
            FailMode::Remediations(vec!["pkg:openssl@3.0.13".into()])
        );
        for (json, mode) in [(r#""all""#, FailMode::All), (r#""none""#, FailMode::None)] {
            std::fs::write(&path, format!(r#"{{"host":"h","fail":{json}}}"#)).unwrap();
            assert_eq!(LabState::load(&path).unwrap().fail, mode);
        }
    }

    #[test]
    fn bad_files_give_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.json");
        let shown = path.display().to_string();

        let err = LabState::load(&path).unwrap_err();
        assert!(matches!(err, LabError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains(&shown), "{err}");

        let cases = [
            ("{", "EOF while parsing"),
            (r#"{"packages":{}}"#, "missing field `host`"),
            (
                r#"{"host":"h","fail_mode":"all"}"#,
                "unknown field `fail_mode`",
            ),
            (
                r#"{"host":"h","fail":"sometimes"}"#,
                "unknown variant `sometimes`",
            ),
            (r#"{"host":" "}"#, "\"host\" is empty"),
            (r#"{"host":"h","boot_id":""}"#, "\"boot_id\" is empty"),
        ];
        for (json, want) in cases {
            std::fs::write(&path, json).unwrap();
            let err = LabState::load(&path).unwrap_err().to_string();
            assert!(err.contains(&shown), "{json}: {err}");
            assert!(err.contains(want), "{json}: {err}");
        }
    }
}
