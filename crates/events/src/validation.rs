//! The validation gate's verdicts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One health check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    /// Check name from the configuration.
    pub name: String,
    /// `http` or `tcp`.
    pub kind: String,
    /// URL or `host:port` probed.
    pub target: String,
    /// Whether it passed.
    pub ok: bool,
    /// Status code, error or latency.
    pub detail: String,
    /// How long the probe took, in milliseconds.
    pub duration_ms: u64,
}

/// One host's read-back: does the state its agent reports hold every
/// remediation the bundle gave it?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostReadback {
    /// Asset id.
    pub host: String,
    /// Whether every remediation is present.
    pub ok: bool,
    /// Remediation keys missing from the reported state.
    pub missing: Vec<String>,
    /// The `patch.agent.result` event the state was read from.
    pub result_event_id: Option<Uuid>,
}

/// `patch.validation.passed`: a wave passed its gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationPassed {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The wave.
    pub wave: u32,
    /// Whether this wave was the ring's last: passing it promotes the bundle.
    pub last_wave_in_ring: bool,
    /// Health checks run.
    pub checks: Vec<CheckResult>,
    /// Read-back of the wave's succeeded hosts.
    pub readback: Vec<HostReadback>,
}

/// `patch.validation.failed`: a wave failed its gate; the bundle halts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationFailed {
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The wave.
    pub wave: u32,
    /// Health checks run.
    pub checks: Vec<CheckResult>,
    /// Read-back of the wave's hosts.
    pub readback: Vec<HostReadback>,
    /// Why, one line per failed check or host.
    pub reasons: Vec<String>,
}
