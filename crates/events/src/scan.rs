//! Scan reports: submitted by reference to the object store, then rejected or
//! completed by ingest.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a report claims to cover, which decides what its absence of a finding
/// proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanScope {
    /// Every check was run on every host in the report.
    #[default]
    Full,
    /// Only some checks or ports were run: absence proves nothing.
    Partial,
}

/// `patch.scan.submitted`: a report is in the object store.
///
/// Reports travel by reference: the file is in the reports object-store bucket
/// under `object`, and never inline (NATS messages are limited to 1 MiB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanSubmitted {
    /// The scan's id (equal to this event's id).
    pub scan_id: Uuid,
    /// Object name in the reports bucket.
    pub object: String,
    /// `SHA-256=<base64url>` digest of the object, as the object store records it.
    pub digest: Option<String>,
    /// Size of the report in bytes.
    pub size_bytes: u64,
    /// The file name the operator submitted.
    pub file_name: String,
    /// Format hint (`nessus`); ingest detects the format from the content.
    pub format_hint: Option<String>,
    /// What the scan covered.
    pub scope: ScanScope,
    /// Who submitted it.
    pub submitted_by: String,
}

/// `patch.scan.rejected`: a report could not be used. The original stays in
/// the object store for inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanRejected {
    /// The scan's id.
    pub scan_id: Uuid,
    /// Object name in the reports bucket (kept).
    pub object: String,
    /// File name as submitted.
    pub file_name: String,
    /// Detected format, if detection got that far.
    pub format: Option<String>,
    /// Why, in one line (`not well-formed XML at byte 4123: …`).
    pub reason: String,
}

/// `patch.scan.completed`: a report was fully ingested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanCompleted {
    /// The scan's id.
    pub scan_id: Uuid,
    /// Object name in the reports bucket.
    pub object: String,
    /// Detected format (`nessus`).
    pub format: String,
    /// What the scan covered.
    pub scope: ScanScope,
    /// Asset ids the report covered (its scope), in report order.
    pub hosts: Vec<String>,
    /// Number of `patch.finding.observed` events published for it.
    pub findings: u64,
    /// Number of informational items kept as asset facts.
    pub info_facts: u64,
    /// Earliest host scan start in the report (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// Latest host scan end in the report (UTC).
    pub finished_at: Option<DateTime<Utc>>,
    /// Number of `patch.finding.resolved` events published for it: open
    /// findings a full scan of their host no longer shows (0 for a partial
    /// scan, and in events from before this field).
    #[serde(default)]
    pub resolved: u64,
}
