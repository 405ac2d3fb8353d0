//! The emergency lane: a zero-day (an exploited CVE that hits the inventory)
//! gets three durable timers — assess within 4 h, the test ring within 24 h,
//! production within 72 h of the declaration.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stage of the emergency lane.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyStage {
    /// Affected findings prioritized and a bundle planned (default 4 h).
    Assess,
    /// The fix validated in the test ring (default 24 h).
    TestRing,
    /// The fix completed in production (default 72 h).
    Production,
}

/// One durable timer of an emergency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EmergencyTimer {
    /// The stage.
    pub stage: EmergencyStage,
    /// When it must be met (UTC).
    pub due_at: DateTime<Utc>,
}

/// `patch.emergency.declared`: the zero-day lane is open for these CVEs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmergencyDeclared {
    /// Id (UUIDv5 of the triggering bulletin and the CVE).
    pub emergency_id: Uuid,
    /// The exploited CVEs.
    pub cves: Vec<String>,
    /// Why (`CISA KEV added 2025-02-18`, `advisory RHSA-… states exploitation`).
    pub reason: String,
    /// The bulletin event that triggered it.
    pub source_event: Uuid,
    /// When it was declared (UTC); the timers run from here.
    pub declared_at: DateTime<Utc>,
    /// Affected asset ids.
    pub assets: Vec<String>,
    /// Affected findings.
    pub findings: Vec<Uuid>,
    /// The three timers.
    pub timers: Vec<EmergencyTimer>,
}

/// `patch.emergency.progressed`: a stage was met before its timer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmergencyProgressed {
    /// The emergency.
    pub emergency_id: Uuid,
    /// The stage met.
    pub stage: EmergencyStage,
    /// When (UTC).
    pub met_at: DateTime<Utc>,
    /// The event that met it (a prioritized finding, a validation, a bundle completion).
    pub evidence_event: Uuid,
}

/// `patch.emergency.escalated`: a stage's timer passed without the stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmergencyEscalated {
    /// The emergency.
    pub emergency_id: Uuid,
    /// The stage that is late.
    pub stage: EmergencyStage,
    /// Its deadline (UTC).
    pub due_at: DateTime<Utc>,
    /// When the escalation was raised (UTC).
    pub escalated_at: DateTime<Utc>,
    /// What is missing, in one line.
    pub reason: String,
}
