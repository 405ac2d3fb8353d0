//! Host agent jobs and results.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::finding::Remediation;

/// What a job asks of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobAction {
    /// Apply the remediations.
    Apply,
    /// Undo what the bundle applied (restore recorded previous versions).
    Rollback,
}

/// `patch.agent.job.<host>`: one host's job.
///
/// A job carries package operations only, never a shell string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentJob {
    /// Job id (UUIDv5 of the wave event, host and action).
    pub job_id: Uuid,
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The wave.
    pub wave: u32,
    /// Target host (asset id). An agent refuses a job for another host.
    pub host: String,
    /// Apply or roll back.
    pub action: JobAction,
    /// What to apply (for a rollback: what to undo).
    pub remediations: Vec<Remediation>,
    /// When deploy issued it (UTC).
    pub issued_at: DateTime<Utc>,
    /// After this instant (UTC) the agent must not start it.
    pub expires_at: DateTime<Utc>,
}

/// Final status of a job on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Every step succeeded.
    Succeeded,
    /// A step failed; see `reason` and `steps`.
    Failed,
    /// The agent refused the job (wrong host, expired); nothing was changed.
    Refused,
}

/// One step of a job, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobStep {
    /// Step name (`install`, `reboot`, `rollback`, …).
    pub name: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What it did or why it failed.
    pub detail: String,
}

/// What the agent reports of its host after a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct HostInventory {
    /// Installed packages: name → version.
    pub packages: BTreeMap<String, String>,
    /// Keys of remediations applied and not rolled back.
    pub applied: Vec<String>,
    /// Boot id; changes on every reboot.
    pub boot_id: String,
}

/// `patch.agent.result.<host>`: a job's outcome and the host's state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentResult {
    /// The job answered.
    pub job_id: Uuid,
    /// Its bundle.
    pub bundle_id: Uuid,
    /// Its ring.
    pub ring: String,
    /// Its wave.
    pub wave: u32,
    /// The reporting host (asset id).
    pub host: String,
    /// Apply or roll back.
    pub action: JobAction,
    /// Outcome.
    pub status: JobStatus,
    /// Why, when not succeeded.
    pub reason: Option<String>,
    /// Steps in order.
    pub steps: Vec<JobStep>,
    /// Whether the host rebooted during the job.
    pub rebooted: bool,
    /// The host's state after the job.
    pub inventory: HostInventory,
    /// When the job finished on the host (UTC).
    pub finished_at: DateTime<Utc>,
}
