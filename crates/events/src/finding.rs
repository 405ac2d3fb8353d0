//! Findings: what a scanner saw on an asset (`patch.finding.observed`) and the
//! priority and SLA deadline patchflow gave it (`patch.finding.prioritized`).

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::asset::Asset;

/// A scanner's severity label, normalized to the five usual levels.
///
/// `Info` items are inventory facts, never findings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational (Nessus severity 0).
    Info,
    /// Low (Nessus 1; CVSS 0.1–3.9).
    Low,
    /// Medium (Nessus 2; CVSS 4.0–6.9).
    Medium,
    /// High (Nessus 3; CVSS 7.0–8.9).
    High,
    /// Critical (Nessus 4; CVSS 9.0–10.0).
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The qualitative rating of a CVSS v3/v4 base score (FIRST CVSS v3.1
    /// specification, section 5): 0.0 none (reported as `Info`), 0.1–3.9 low,
    /// 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical.
    pub fn from_cvss(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Info
        }
    }
}

/// The priority class a policy gives a finding; each class has an SLA.
///
/// Ordered from most to least urgent (`Critical < High` in `Ord`), so sorting
/// puts the urgent work first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Default SLA 72 hours.
    Critical,
    /// Default SLA 7 days.
    High,
    /// Default SLA 30 days.
    Medium,
    /// Default SLA 90 days.
    Low,
}

impl Priority {
    /// All classes, most urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Critical,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ];

    /// Lower-case name, also the subject key of `finding.prioritized.<priority>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    /// One class more urgent (`Critical` stays `Critical`).
    pub fn raised(self) -> Priority {
        match self {
            Priority::Critical | Priority::High => Priority::Critical,
            Priority::Medium => Priority::High,
            Priority::Low => Priority::Medium,
        }
    }

    /// One class less urgent (`Low` stays `Low`).
    pub fn lowered(self) -> Priority {
        match self {
            Priority::Critical => Priority::High,
            Priority::High => Priority::Medium,
            Priority::Medium | Priority::Low => Priority::Low,
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Ok(Priority::Critical),
            "high" => Ok(Priority::High),
            "medium" => Ok(Priority::Medium),
            "low" => Ok(Priority::Low),
            other => Err(format!("unknown priority {other:?}")),
        }
    }
}

/// A CVSS specification version.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum CvssVersion {
    /// CVSS v2 (FIRST, 2007).
    #[serde(rename = "2.0")]
    V2,
    /// CVSS v3.0 (FIRST, 2015).
    #[serde(rename = "3.0")]
    V3_0,
    /// CVSS v3.1 (FIRST, 2019).
    #[serde(rename = "3.1")]
    V3_1,
    /// CVSS v4.0 (FIRST, 2023).
    #[serde(rename = "4.0")]
    V4_0,
}

impl CvssVersion {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            CvssVersion::V2 => "2.0",
            CvssVersion::V3_0 => "3.0",
            CvssVersion::V3_1 => "3.1",
            CvssVersion::V4_0 => "4.0",
        }
    }
}

/// A CVSS vector as a scanner reported it, with the score it printed beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CvssVector {
    /// Specification version the vector is written in.
    pub version: CvssVersion,
    /// The vector in its canonical spelling: v2 bare (`AV:N/AC:L/...`), v3 with
    /// its `CVSS:3.x/` prefix exactly once, v4 with `CVSS:4.0/`.
    pub vector: String,
    /// The base score the scanner printed, if any (0.0–10.0). Informational:
    /// the score computed from the vector wins.
    pub reported_score: Option<f64>,
    /// Who supplied the vector (`nessus`, `nvd`, …).
    pub source: String,
}

/// The scanner check that produced a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    /// Scanner family: `nessus`, `qualys`, `openvas`, `nexpose`, `trivy`, …
    pub scanner: String,
    /// The scanner's stable check id (Nessus plugin id, Qualys QID, NVT OID, …).
    pub id: String,
    /// The check's title (Nessus `pluginName`).
    pub name: String,
    /// The check family (Nessus `pluginFamily`), if reported.
    pub family: Option<String>,
}

/// What fixes a finding, as the scanner states it.
///
/// The [`Remediation::key`] is the unit a bundle deduplicates and an agent
/// records as applied.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Remediation {
    /// Upgrade a package to at least a fixed version.
    Package {
        /// Package name as the package manager knows it.
        name: String,
        /// The first fixed version.
        fixed_version: String,
    },
    /// Apply a vendor advisory or KB (`RHSA-2024:4420`, `KB5034441`).
    Advisory {
        /// The advisory id.
        id: String,
    },
    /// The scanner's own solution text for one of its checks (a Nessus
    /// plugin's `solution`), applied as one unit.
    Solution {
        /// Scanner family (`nessus`).
        scanner: String,
        /// The check id the solution belongs to.
        check_id: String,
        /// The solution text, as reported.
        text: String,
    },
}

impl Remediation {
    /// A stable identifier: `pkg:<name>@<fixed_version>`, `advisory:<id>` or
    /// `<scanner>:<check_id>`.
    pub fn key(&self) -> String {
        match self {
            Remediation::Package {
                name,
                fixed_version,
            } => format!("pkg:{name}@{fixed_version}"),
            Remediation::Advisory { id } => format!("advisory:{id}"),
            Remediation::Solution {
                scanner, check_id, ..
            } => format!("{scanner}:{check_id}"),
        }
    }
}

/// `patch.finding.observed`: a finding seen (again) on an asset.
///
/// Identity: `finding_id` is a UUIDv5 of the `fingerprint`, stable across
/// re-imports of the same report. For Nessus the fingerprint is
/// `nessus:v1:<asset_id>:<plugin id>:<port>/<protocol>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingObserved {
    /// Stable finding id (UUIDv5 of `fingerprint`).
    pub finding_id: Uuid,
    /// The versioned identity string the id is derived from.
    pub fingerprint: String,
    /// The report that contained this observation (the `scan.submitted` event id).
    pub scan_id: Uuid,
    /// The asset, enriched from inventory at observation time.
    pub asset: Asset,
    /// The scanner check.
    pub check: Check,
    /// Port number; `0` means host level.
    pub port: u16,
    /// Lower-case transport protocol (`tcp`, `udp`, `icmp`).
    pub protocol: String,
    /// Service name as the scanner reported it (`www`, `cifs`, `http?`).
    pub service: Option<String>,
    /// The scanner's severity, normalized.
    pub severity: Severity,
    /// CVE ids, upper case, de-duplicated, in report order.
    pub cves: Vec<String>,
    /// CWE numbers (`CWE-79` and `79` both become `79`), sorted, de-duplicated.
    pub cwes: Vec<u32>,
    /// Every CVSS vector the scanner gave, in its canonical spelling.
    pub cvss: Vec<CvssVector>,
    /// What fixes it.
    pub remediation: Remediation,
    /// When the scanner observed it (the host's scan time, UTC).
    pub observed_at: DateTime<Utc>,
    /// When patchflow first observed this finding on this asset (UTC); the SLA
    /// clock starts here.
    pub first_observed_at: DateTime<Utc>,
    /// The affected package, for software scanners (Trivy, Grype, OSV) and
    /// local checks that name one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// The scanner's fix status, when it reports one (Trivy `Status`, Grype
    /// `fix.state`). `not_affected` findings are never published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_state: Option<FixState>,
    /// True when the finding had been resolved and is seen again: its SLA
    /// clock restarted at `first_observed_at`.
    #[serde(default)]
    pub reopened: bool,
}

/// An affected software package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Package {
    /// Package name as its ecosystem spells it (`libssl1.1`, `org.apache.tomcat:tomcat-catalina`).
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Ecosystem or package type (`alpine`, `debian`, `npm`, `maven`, `pypi`, …).
    pub ecosystem: Option<String>,
    /// Package URL (`pkg:apk/alpine/libssl1.1@1.1.1c-r0?arch=x86_64`), when known.
    pub purl: Option<String>,
    /// Where it was found (file paths in the image or repository), sorted.
    pub locations: Vec<String>,
    /// The first fixed version(s) the scanner names, in its own spelling.
    pub fixed_versions: Vec<String>,
}

/// A scanner's statement about whether a fix exists (Trivy `Status`, Grype
/// `fix.state`, CSAF/VEX product status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FixState {
    /// A fixed version exists.
    Fixed,
    /// Affected, no fix yet.
    NotFixed,
    /// The vendor will not fix it (real exposure, no patch: plan a mitigation).
    WontFix,
    /// A fix is deferred.
    FixDeferred,
    /// The product is end of life.
    EndOfLife,
    /// Still being analysed.
    UnderInvestigation,
    /// Not known.
    Unknown,
}

/// What caused a priority decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionTrigger {
    /// A scanner observed the finding.
    Observation,
    /// New intelligence about one of its CVEs (a KEV entry, an EPSS update,
    /// an advisory saying "exploited").
    Intel {
        /// `kev`, `epss`, `advisory`.
        source: String,
        /// What changed, in one line.
        detail: String,
    },
    /// A risk acceptance was granted, expired or revoked.
    Exception {
        /// The exception.
        exception_id: Uuid,
    },
}

/// The decision a new one replaces, for delta events ("why did its deadline
/// change?").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PriorDecision {
    /// The earlier class.
    pub priority: Priority,
    /// The earlier deadline (UTC).
    pub due_at: DateTime<Utc>,
    /// The policy version of the earlier decision.
    pub policy_version: String,
}

/// `patch.finding.resolved`: a full rescan that covered the finding's host,
/// port and check no longer shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingResolved {
    /// The finding.
    pub finding_id: Uuid,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The asset it was on.
    pub asset_id: String,
    /// The scan that proved it gone.
    pub scan_id: Uuid,
    /// When that scan observed the host (UTC).
    pub resolved_at: DateTime<Utc>,
}

/// A CVSS vector scored by patchflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoredCvss {
    /// Specification version.
    pub version: CvssVersion,
    /// Canonical vector.
    pub vector: String,
    /// Base score computed from the vector (0.0–10.0).
    pub base_score: f64,
    /// Qualitative rating of `base_score`.
    pub severity: Severity,
    /// Who supplied the vector.
    pub source: String,
    /// The score the scanner reported, when it differs from `base_score` by
    /// more than 0.05 (the vector wins).
    pub reported_score_disagrees: Option<f64>,
}

/// An EPSS reading for one CVE (FIRST EPSS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EpssInput {
    /// The CVE the score is for.
    pub cve: String,
    /// Probability of exploitation activity in the next 30 days (0.0–1.0).
    pub probability: f64,
    /// Percentile of `probability` among all scored CVEs (0.0–1.0).
    pub percentile: Option<f64>,
    /// The `score_date` of the EPSS file (UTC).
    pub score_date: DateTime<Utc>,
    /// The EPSS `model_version` (`v2025.03.14`), if the file stated one.
    pub model_version: Option<String>,
}

/// A CISA KEV catalog entry for one CVE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KevInput {
    /// The CVE id.
    pub cve: String,
    /// `dateAdded` (calendar date, as CISA publishes it).
    pub date_added: NaiveDate,
    /// `dueDate` for US federal agencies (BOD 22-01).
    pub due_date: NaiveDate,
    /// `knownRansomwareCampaignUse == "Known"`, when the field is present.
    pub known_ransomware: Option<bool>,
    /// The `catalogVersion` the entry was read from.
    pub catalog_version: String,
}

/// A vendor advisory (`patch.bulletin.advisory` with `exploited: true`)
/// stating a CVE is exploited in the wild, as a decision used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExploitedAdvisoryInput {
    /// The CVE id (upper case).
    pub cve: String,
    /// The advisory id (`RHSA-2024:4546`, `GHSA-…`, `DSA-5555-1`).
    pub advisory_id: String,
    /// CSAF or OSV.
    pub source: crate::bulletin::AdvisoryFormat,
    /// When the advisory stated it (UTC): its last modification, else its
    /// first publication, else when the bulletin was received.
    pub date: DateTime<Utc>,
}

/// Everything a priority decision was computed from, with dates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DecisionInputs {
    /// The CVSS vector the decision used (v4 over v3 over v2), scored.
    pub cvss: Option<ScoredCvss>,
    /// The highest EPSS probability among the finding's CVEs.
    pub epss: Option<EpssInput>,
    /// The KEV entry of the finding's CVEs, if any (earliest due date).
    pub kev: Option<KevInput>,
    /// The vendor advisory stating one of the finding's CVEs is exploited
    /// in the wild, if any (earliest date). Absent in decisions made before
    /// the rule existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploited_advisory: Option<ExploitedAdvisoryInput>,
    /// The scanner's own severity.
    pub scanner_severity: Option<Severity>,
    /// Asset criticality tier (1 = most critical … 4 = least), if known.
    pub tier: Option<u8>,
    /// Whether the asset is reachable from the internet, if known.
    pub internet_facing: Option<bool>,
    /// The asset's ring, if known.
    pub ring: Option<String>,
}

/// One rule that fired in a decision, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    /// The rule's name in the policy (`cvss_class`, `kev`, `epss_raise`, …).
    pub rule: String,
    /// What it did: `priority=high`, `raise`, `due_at=kev_due_date`, …
    pub effect: String,
    /// Human-readable explanation with the values used.
    pub detail: String,
}

/// `patch.finding.prioritized.<priority>`: a priority class, an SLA deadline
/// and the reasons for both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FindingPrioritized {
    /// The finding (see [`FindingObserved::finding_id`]).
    pub finding_id: Uuid,
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// The scan whose observation this decision answers.
    pub scan_id: Uuid,
    /// The asset snapshot the decision used.
    pub asset: Asset,
    /// The scanner check.
    pub check: Check,
    /// CVE ids of the finding.
    pub cves: Vec<String>,
    /// What fixes it.
    pub remediation: Remediation,
    /// The decided class.
    pub priority: Priority,
    /// The inputs, with their dates.
    pub inputs: DecisionInputs,
    /// The rules that fired, in order.
    pub reasons: Vec<Reason>,
    /// The policy's version string.
    pub policy_version: String,
    /// Start of the SLA clock (first observation on this asset, UTC).
    pub first_observed_at: DateTime<Utc>,
    /// The SLA of `priority`, in hours.
    pub sla_hours: u32,
    /// Deadline (UTC): `first_observed_at + sla_hours`, or earlier (KEV due date).
    pub due_at: DateTime<Utc>,
    /// What caused this decision.
    #[serde(default = "observation_trigger")]
    pub trigger: DecisionTrigger,
    /// The decision this one replaces, when it changed priority or deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PriorDecision>,
    /// The active risk acceptance that keeps this finding out of scheduling
    /// and non-compliance, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<Uuid>,
}

fn observation_trigger() -> DecisionTrigger {
    DecisionTrigger::Observation
}
