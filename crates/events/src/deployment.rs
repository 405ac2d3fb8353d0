//! Deployment progress: waves (a canary, then batches) inside a ring, and
//! rollbacks.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kind of a wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaveKind {
    /// The first, small wave of a ring.
    Canary,
    /// A batch after the canary.
    Batch,
}

/// `patch.deployment.wave.started`: jobs were sent to the wave's hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaveStarted {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// Wave number in the ring (0 = canary when there is one).
    pub wave: u32,
    /// Canary or batch.
    pub kind: WaveKind,
    /// Hosts of the wave.
    pub hosts: Vec<String>,
    /// When results are due (UTC); a host silent by then counts as failed.
    pub results_due_at: DateTime<Utc>,
}

/// What happened on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// The agent reported success.
    Succeeded,
    /// The agent reported failure or refused the job.
    Failed,
    /// No result before the timeout (counts as failed).
    TimedOut,
}

impl HostStatus {
    /// `Failed` and `TimedOut` count against the failure budget.
    pub fn is_failure(self) -> bool {
        !matches!(self, HostStatus::Succeeded)
    }
}

/// One host's outcome in a wave or a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostOutcome {
    /// Asset id.
    pub host: String,
    /// What happened.
    pub status: HostStatus,
    /// Why, when not succeeded.
    pub reason: Option<String>,
    /// The job sent.
    pub job_id: Uuid,
    /// The `patch.agent.result` event id, when one arrived.
    pub result_event_id: Option<Uuid>,
    /// Keys of the remediations the job carried (what read-back must find).
    pub remediations: Vec<String>,
}

/// `patch.deployment.wave.completed`: every host of the wave answered or timed
/// out, and the failure budget holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaveCompleted {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// Wave number.
    pub wave: u32,
    /// Canary or batch.
    pub kind: WaveKind,
    /// Whether no wave follows in this ring.
    pub last_wave_in_ring: bool,
    /// Per-host outcomes.
    pub hosts: Vec<HostOutcome>,
    /// Hosts attempted in the ring so far (this wave included).
    pub ring_attempted: u32,
    /// Hosts failed in the ring so far (this wave included).
    pub ring_failed: u32,
}

/// `patch.deployment.wave.halted`: the failure budget was exceeded; no further
/// wave of this ring starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaveHalted {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// Wave number.
    pub wave: u32,
    /// Canary or batch.
    pub kind: WaveKind,
    /// Per-host outcomes of the halted wave.
    pub hosts: Vec<HostOutcome>,
    /// Hosts attempted in the ring so far.
    pub ring_attempted: u32,
    /// Hosts failed in the ring so far.
    pub ring_failed: u32,
    /// Hosts of the ring never started.
    pub never_started: Vec<String>,
    /// The rule that halted it, with the numbers.
    pub reason: String,
}

/// `patch.rollback.requested`: roll these hosts back to their state before
/// the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RollbackRequested {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The wave that failed.
    pub wave: u32,
    /// Hosts to roll back.
    pub hosts: Vec<String>,
    /// Why.
    pub reason: String,
}

/// `patch.rollback.completed`: every host of a rollback answered or timed out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RollbackCompleted {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// Per-host outcomes of the rollback jobs.
    pub hosts: Vec<HostOutcome>,
}
