//! Exceptions (risk acceptance): a finding or a CVE suppressed from scheduling
//! and from non-compliance until the exception expires; it then comes back
//! with its original SLA clock.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an exception covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExceptionTarget {
    /// One finding.
    Finding {
        /// The finding.
        finding_id: Uuid,
    },
    /// Every finding with this CVE.
    Cve {
        /// The CVE id.
        cve: String,
    },
}

/// `patch.exception.granted`: a risk acceptance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExceptionGranted {
    /// Id of the exception.
    pub exception_id: Uuid,
    /// What it covers.
    pub target: ExceptionTarget,
    /// Who owns the accepted risk.
    pub owner: String,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who granted it.
    pub granted_by: String,
    /// When (UTC).
    pub granted_at: DateTime<Utc>,
    /// When it stops applying (UTC).
    pub expires_at: DateTime<Utc>,
}

/// `patch.exception.expired`: an exception reached `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExceptionExpired {
    /// The exception.
    pub exception_id: Uuid,
    /// What it covered.
    pub target: ExceptionTarget,
    /// When it expired (UTC).
    pub expired_at: DateTime<Utc>,
}

/// `patch.exception.revoked`: an exception was withdrawn early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExceptionRevoked {
    /// The exception.
    pub exception_id: Uuid,
    /// What it covered.
    pub target: ExceptionTarget,
    /// Who revoked it.
    pub revoked_by: String,
    /// When (UTC).
    pub revoked_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
}
