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
    /// How a rollback job that succeeded brought the host back (the
    /// agent's [`crate::AgentResult::rollback_method`]); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_method: Option<crate::RollbackMethod>,
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

/// One step of a host's saga inside a wave, in the order deploy runs them
/// (a step is left out when it is not configured, or, for `Reboot` and
/// `AwaitAgent`, when the install did not ask for a reboot).
///
/// The webhook steps (`PreCheck`, `Snapshot`, `MaintenanceOn`, `PostCheck`,
/// `MaintenanceOff`, `Cmdb`) are HTTP requests deploy makes from its own
/// configuration; `Install` and `Reboot` are signed agent jobs;
/// `AwaitAgent` waits for the host's `patch.agent.online` after the reboot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SagaStep {
    /// Health check before anything changes (webhook; a 2xx answer passes).
    PreCheck,
    /// Pre-patch snapshot (webhook; the agent's own snapshot command, when
    /// configured, runs inside `Install`).
    Snapshot,
    /// Maintenance mode on in monitoring/load balancer (webhook).
    MaintenanceOn,
    /// The signed apply job on the agent.
    Install,
    /// The signed reboot job on the agent.
    Reboot,
    /// Waiting for the agent to announce itself with a new boot id.
    AwaitAgent,
    /// Health check after the change (webhook).
    PostCheck,
    /// Maintenance mode off (webhook).
    MaintenanceOff,
    /// CMDB update with what was installed (webhook).
    Cmdb,
}

impl SagaStep {
    /// Every step, in saga order.
    pub const ALL: [SagaStep; 9] = [
        SagaStep::PreCheck,
        SagaStep::Snapshot,
        SagaStep::MaintenanceOn,
        SagaStep::Install,
        SagaStep::Reboot,
        SagaStep::AwaitAgent,
        SagaStep::PostCheck,
        SagaStep::MaintenanceOff,
        SagaStep::Cmdb,
    ];

    /// The snake_case name (`pre_check`, `maintenance_on`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStep::PreCheck => "pre_check",
            SagaStep::Snapshot => "snapshot",
            SagaStep::MaintenanceOn => "maintenance_on",
            SagaStep::Install => "install",
            SagaStep::Reboot => "reboot",
            SagaStep::AwaitAgent => "await_agent",
            SagaStep::PostCheck => "post_check",
            SagaStep::MaintenanceOff => "maintenance_off",
            SagaStep::Cmdb => "cmdb",
        }
    }

    /// Whether deploy runs the step as an HTTP request (not an agent job).
    pub fn is_webhook(self) -> bool {
        !matches!(
            self,
            SagaStep::Install | SagaStep::Reboot | SagaStep::AwaitAgent
        )
    }
}

impl std::fmt::Display for SagaStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a saga step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// It did what it should.
    Succeeded,
    /// It failed; `detail` says why.
    Failed,
    /// Nothing answered before the step's `due_at`.
    TimedOut,
}

/// `patch.deployment.step.started.<host>`: a host's saga began a step.
///
/// For a webhook step, deploy's step runner makes the request when it reads
/// this event (again after a restart, so webhooks must be idempotent; the
/// request carries the event id as `Idempotency-Key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostStepStarted {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The wave.
    pub wave: u32,
    /// The host (asset id).
    pub host: String,
    /// The step.
    pub step: SagaStep,
    /// When the step times out as failed if nothing answered (UTC).
    pub due_at: DateTime<Utc>,
}

/// `patch.deployment.step.finished.<host>`: a host's saga step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostStepFinished {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The wave.
    pub wave: u32,
    /// The host (asset id).
    pub host: String,
    /// The step.
    pub step: SagaStep,
    /// How it ended.
    pub outcome: StepOutcome,
    /// What it did or why it failed (HTTP status, agent reason, boot ids).
    pub detail: String,
    /// The `patch.deployment.step.started` event it answers.
    pub started_event_id: Uuid,
    /// When it ended (UTC).
    pub finished_at: DateTime<Utc>,
}
