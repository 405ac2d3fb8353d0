//! Bundles: one set of remediations for a set of hosts, planned once and
//! rolled out ring by ring (dev → test → staging → prod).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::finding::{Priority, Remediation};
use crate::window::{WindowInstance, WindowSet};

/// One host of a bundle and what it gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleTarget {
    /// Asset id (the agent subject key).
    pub asset_id: String,
    /// The ring the host is rolled out in.
    pub ring: String,
    /// Keys ([`Remediation::key`]) of the bundle's remediations this host needs.
    pub remediations: Vec<String>,
    /// Findings this host's part of the bundle fixes.
    pub findings: Vec<Uuid>,
}

/// The projected rollout of one ring at planning time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RingSchedule {
    /// Ring name.
    pub ring: String,
    /// Hosts of the bundle in this ring, in rollout order.
    pub hosts: Vec<String>,
    /// The window the ring is projected to start in (UTC), if it has hosts.
    pub window: Option<WindowInstance>,
    /// Soak time after the ring validated, before the next ring, in hours.
    pub soak_hours: u32,
}

/// `patch.bundle.planned`: a bundle and its projected rollout.
///
/// `bundle_id` is a UUIDv5 of `digest`, the SHA-256 of the bundle's canonical
/// content (remediations and targets), so the same content always has the
/// same id and promotion moves this very bundle, never a recomputed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BundlePlanned {
    /// Content-derived id.
    pub bundle_id: Uuid,
    /// Lower-case hex SHA-256 of the canonical content.
    pub digest: String,
    /// The scan whose findings it answers.
    pub scan_id: Uuid,
    /// The priority class of the findings it fixes.
    pub priority: Priority,
    /// The earliest `due_at` of its findings (UTC).
    pub deadline: DateTime<Utc>,
    /// The remediations, sorted by key.
    pub remediations: Vec<Remediation>,
    /// Hosts and what each gets, sorted by ring order then asset id.
    pub targets: Vec<BundleTarget>,
    /// Rings in rollout order, with their projected windows.
    pub rings: Vec<RingSchedule>,
    /// True when `deadline` falls before the projected opening of the window
    /// that reaches its last ring.
    pub sla_at_risk: bool,
    /// Findings no agent can fix (no package with a target version, no
    /// advisory or KB id): planned as manual tasks, reported, never dropped.
    /// Not sent to any host; part of the bundle's content (its digest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual_tasks: Vec<ManualTask>,
    /// The change approval the bundle needs before some of its rings, when
    /// the policy does not make it a standard change; `None` = none needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRequirement>,
}

/// A remediation no agent can apply (a scanner's solution text), for the
/// hosts that need it: someone has to do it by hand.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct ManualTask {
    /// What to do (the scanner's solution, [`Remediation::Solution`]).
    pub remediation: Remediation,
    /// Hosts that need it, sorted.
    pub hosts: Vec<String>,
    /// Findings it fixes, sorted.
    pub findings: Vec<Uuid>,
}

/// Why and where a bundle needs a change approval
/// (`patch.bundle.approved`) before it is released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalRequirement {
    /// The bundle's rings that are held until it is approved (rollout order).
    pub rings: Vec<String>,
    /// Why it is not a standard change, one line each
    /// (`priority high is not a standard change`).
    pub reasons: Vec<String>,
}

/// How deploy rolls out one ring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolloutPolicy {
    /// Hosts in the canary wave (at least 1 when the ring has hosts).
    pub canary_hosts: u32,
    /// Batch size after the canary, as a percentage of the ring's hosts
    /// (rounded up, at least one host).
    pub batch_percent: u32,
    /// Halt when more than this percentage of the ring's attempted hosts have
    /// failed so far (cumulative over the ring).
    pub max_failed_percent: f64,
    /// Halt when every host of one batch failed, whatever the percentage.
    pub halt_on_full_batch_failure: bool,
    /// How long to wait for a host's result before counting it failed, in seconds.
    pub result_timeout_secs: u64,
}

impl Default for RolloutPolicy {
    /// DESIGN.md defaults: canary of 1, batches of 25 %, halt above 10 %
    /// failed, halt on a wholly failed batch, 30 minute result timeout.
    fn default() -> Self {
        RolloutPolicy {
            canary_hosts: 1,
            batch_percent: 25,
            max_failed_percent: 10.0,
            halt_on_full_batch_failure: true,
            result_timeout_secs: 1800,
        }
    }
}

/// One host's job content in a ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostJobSpec {
    /// Asset id.
    pub asset_id: String,
    /// What the host must apply.
    pub remediations: Vec<Remediation>,
}

/// `patch.bundle.scheduled`: a ring of a bundle is released for rollout now,
/// inside `window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BundleScheduled {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring released.
    pub ring: String,
    /// Its position in the rollout order (0 = first).
    pub ring_index: u32,
    /// Whether it is the bundle's last ring.
    pub last_ring: bool,
    /// The window the rollout runs in (UTC).
    pub window: WindowInstance,
    /// The ring's window specification, so a rollout that outlives `window`
    /// waits for the next opening.
    pub windows: WindowSet,
    /// Hosts in rollout order and their jobs.
    pub hosts: Vec<HostJobSpec>,
    /// Waves and failure budget.
    pub rollout: RolloutPolicy,
    /// Set when the release may cross change freezes: the operator's
    /// emergency approval that allowed it. `windows` then holds no freezes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_override: Option<EmergencyOverride>,
}

/// An emergency approval that lets a release cross change freezes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EmergencyOverride {
    /// Who approved it.
    pub approved_by: String,
    /// The change ticket.
    pub ticket: String,
    /// The `patch.bundle.approved` event that carried it.
    pub approval_event_id: Uuid,
    /// The freezes of the ring it lifts, by name.
    pub freezes: Vec<String>,
}

/// `patch.bundle.approved`: an operator approved the bundle as a change
/// (`patchflow bundle approve ID --by NAME --ticket REF`), so its rings that
/// need an approval may be released. With `emergency_override` the
/// release may also cross change freezes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleApproved {
    /// The bundle.
    pub bundle_id: Uuid,
    /// Who approved it.
    pub approved_by: String,
    /// The change ticket (`CHG-1234`).
    pub ticket: String,
    /// An emergency change: the release may cross change freezes.
    #[serde(default)]
    pub emergency_override: bool,
}

/// `patch.bundle.rejected`: an operator rejected the bundle as a change
/// (`patchflow bundle reject ID --by NAME --reason R`); schedule halts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleRejected {
    /// The bundle.
    pub bundle_id: Uuid,
    /// Who rejected it.
    pub rejected_by: String,
    /// Why.
    pub reason: String,
}

/// `patch.bundle.completed`: every ring validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BundleCompleted {
    /// The bundle.
    pub bundle_id: Uuid,
    /// Rings rolled out, in order.
    pub rings: Vec<String>,
}

/// `patch.bundle.halted`: the rollout stopped; no further ring is released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BundleHalted {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring it stopped in.
    pub ring: String,
    /// Why (the failed gate or the budget rule).
    pub reason: String,
}
