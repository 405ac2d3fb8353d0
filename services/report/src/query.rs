//! Queries over the projection: compliance of every host as of an instant,
//! the audit trail of a bundle, bundle progress, dead letters and event counts.
//!
//! # Compliance (DESIGN.md, "The risk policy")
//!
//! At an instant `as_of` (UTC):
//! - a finding is **open** when it was first observed at or before `as_of`
//!   and not resolved at or before `as_of` (a finding that was resolved and
//!   later observed again is open again from that observation);
//! - an open finding is **overdue** when its `due_at` (from its latest
//!   `finding.prioritized`) is before `as_of`. An overdue finding stays open:
//!   it counts in the open totals, by priority and by severity, until it is
//!   resolved (case OC-17);
//! - a finding without a priority decision yet counts as open, never as
//!   overdue, and under `unprioritized`;
//! - an open finding under an **active exception** at `as_of` (granted at or
//!   before `as_of`, `as_of` before its `expires_at` and before its
//!   revocation; for the finding's id or one of its CVEs) is never overdue:
//!   it counts as open and names the exception (`exception_id`);
//! - a host is `NON_COMPLIANT` when it has at least one overdue finding, else
//!   `COMPLIANT`.
//! - open **exposures** count a host's open findings once per exposure:
//!   findings of one host that share a CVE (two scanners, two checks) are
//!   one exposure ([`events::exposure`]); each keeps its own row.
//!
//! Priority, `due_at` and CVSS are those of the latest decision the
//! projection holds, whatever `as_of` is: the report answers "what was open
//! and overdue then", judged with what is known now.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use events::{Event, ExceptionTarget, Priority, Severity, WaveKind};

use crate::codec::{
    parse_priority, parse_severity, parse_ts, parse_ts_opt, parse_uuid, to_u64, ts,
};
use crate::error::{ReportError, SqlContext};
use crate::projection::{PlannedRing, Projection};
use crate::summary::{TrailContext, summarize};

/// A host's compliance state at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceStatus {
    /// No open finding is past its `due_at`.
    Compliant,
    /// At least one open finding is past its `due_at`.
    NonCompliant,
}

impl ComplianceStatus {
    /// `COMPLIANT` or `NON_COMPLIANT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceStatus::Compliant => "COMPLIANT",
            ComplianceStatus::NonCompliant => "NON_COMPLIANT",
        }
    }
}

/// Open findings by priority class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PriorityCounts {
    /// Priority `critical`.
    pub critical: u64,
    /// Priority `high`.
    pub high: u64,
    /// Priority `medium`.
    pub medium: u64,
    /// Priority `low`.
    pub low: u64,
    /// No `finding.prioritized` yet.
    pub unprioritized: u64,
}

impl PriorityCounts {
    fn add(&mut self, p: Option<Priority>) {
        match p {
            Some(Priority::Critical) => self.critical += 1,
            Some(Priority::High) => self.high += 1,
            Some(Priority::Medium) => self.medium += 1,
            Some(Priority::Low) => self.low += 1,
            None => self.unprioritized += 1,
        }
    }

    fn merge(&mut self, o: &PriorityCounts) {
        self.critical += o.critical;
        self.high += o.high;
        self.medium += o.medium;
        self.low += o.low;
        self.unprioritized += o.unprioritized;
    }
}

/// Open findings by the scanner's normalized severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeverityCounts {
    /// Severity `critical`.
    pub critical: u64,
    /// Severity `high`.
    pub high: u64,
    /// Severity `medium`.
    pub medium: u64,
    /// Severity `low`.
    pub low: u64,
    /// Severity `info`.
    pub info: u64,
    /// Known only from a priority decision without a scanner severity.
    pub unknown: u64,
}

impl SeverityCounts {
    fn add(&mut self, s: Option<Severity>) {
        match s {
            Some(Severity::Critical) => self.critical += 1,
            Some(Severity::High) => self.high += 1,
            Some(Severity::Medium) => self.medium += 1,
            Some(Severity::Low) => self.low += 1,
            Some(Severity::Info) => self.info += 1,
            None => self.unknown += 1,
        }
    }
}

/// One finding open at the report's instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenFinding {
    /// The finding id.
    pub finding_id: Uuid,
    /// Scanner family (`nessus`).
    pub scanner: String,
    /// The scanner's check id.
    pub check_id: String,
    /// The check's title.
    pub check_name: String,
    /// CVE ids.
    pub cves: Vec<String>,
    /// The scanner's severity, when observed.
    pub severity: Option<Severity>,
    /// Start of the open interval containing the instant (UTC): the first
    /// observation, or the observation that reopened it.
    pub opened_at: DateTime<Utc>,
    /// Latest priority class, `None` before the first decision.
    pub priority: Option<Priority>,
    /// SLA deadline of the latest decision (UTC).
    pub due_at: Option<DateTime<Utc>>,
    /// CVSS base score the decision used (0.0–10.0).
    pub cvss_base_score: Option<f64>,
    /// Version of the policy that decided.
    pub policy_version: Option<String>,
    /// `due_at` is before the instant and no exception is active then.
    pub overdue: bool,
    /// The exception active at the instant, if any (the earliest granted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<Uuid>,
}

impl OpenFinding {
    /// The order of urgency: overdue first, then by `due_at` (earliest
    /// first; not yet prioritized last). `Less` is more urgent. Ties are
    /// for the caller to break.
    pub fn urgency(&self, other: &OpenFinding) -> std::cmp::Ordering {
        use std::cmp::Ordering::{Greater, Less};
        other
            .overdue
            .cmp(&self.overdue)
            .then_with(|| match (self.due_at, other.due_at) {
                (Some(a), Some(b)) => a.cmp(&b),
                (Some(_), None) => Less,
                (None, Some(_)) => Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    }
}

/// One host's compliance at the report's instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostCompliance {
    /// Asset id.
    pub asset_id: String,
    /// Short host name, when known.
    pub hostname: Option<String>,
    /// IP address, when known.
    pub ip: Option<String>,
    /// Rollout ring, when known.
    pub ring: Option<String>,
    /// Criticality tier (1 = most critical … 4 = least), when known.
    pub tier: Option<u8>,
    /// Owning team or person, when known.
    pub owner: Option<String>,
    /// Open findings.
    pub open: u64,
    /// Open findings past their `due_at`.
    pub overdue: u64,
    /// Open exposures: the open findings counted once per exposure, findings
    /// of this host that share a CVE being one ([`events::exposure`]; a
    /// Nessus and a Qualys finding of one CVE count once).
    #[serde(default)]
    pub open_exposures: u64,
    /// Open findings by priority.
    pub open_by_priority: PriorityCounts,
    /// Mean CVSS base score of the open findings that have one, rounded to
    /// two decimals; `None` when none has a score.
    pub avg_cvss: Option<f64>,
    /// Finish time (UTC) of the host's last succeeded `apply` job at or
    /// before the instant.
    pub last_patched_at: Option<DateTime<Utc>>,
    /// `NON_COMPLIANT` iff `overdue > 0`.
    pub status: ComplianceStatus,
    /// The open findings, overdue first, then by `due_at` (undecided last).
    pub findings: Vec<OpenFinding>,
}

/// Fleet totals of a [`ComplianceReport`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetSummary {
    /// Known hosts.
    pub hosts: u64,
    /// Hosts `COMPLIANT`.
    pub compliant: u64,
    /// Hosts `NON_COMPLIANT`.
    pub non_compliant: u64,
    /// Open findings, overdue ones included.
    pub open: u64,
    /// Open findings past their `due_at`.
    pub overdue: u64,
    /// Open exposures, summed over hosts (see
    /// [`HostCompliance::open_exposures`]).
    #[serde(default)]
    pub open_exposures: u64,
    /// Open findings by priority.
    pub open_by_priority: PriorityCounts,
    /// Open findings by scanner severity.
    pub open_by_severity: SeverityCounts,
}

/// Compliance of every known host at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceReport {
    /// The instant answered for (UTC).
    pub as_of: DateTime<Utc>,
    /// Every known asset, by asset id.
    pub hosts: Vec<HostCompliance>,
    /// Totals.
    pub fleet: FleetSummary,
}

/// One event of a bundle's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Event id.
    pub event_id: Uuid,
    /// Event time (UTC, the producer's clock).
    pub time: DateTime<Utc>,
    /// CloudEvents type (`patch.deployment.wave.halted.v1`).
    pub event_type: String,
    /// Producer (`patchflow/deploy`).
    pub source: String,
    /// The stream it was read from.
    pub stream: String,
    /// Its sequence in that stream.
    pub stream_seq: u64,
    /// One line describing it ([`crate::summary::summarize`]).
    pub summary: String,
}

/// A bundle's lifecycle state: its last `bundle.*` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundleStatus {
    /// Planned, no ring released yet.
    Planned,
    /// A ring was released.
    Scheduled,
    /// The rings before its first approval ring validated (or it has
    /// none); that ring waits for `patchflow bundle approve`
    /// ([`BundleSummary::approval_rings`]).
    AwaitingApproval,
    /// Every ring validated and the bundle has no manual task.
    Completed,
    /// Every ring validated (or the bundle had no host to roll out to), but
    /// it holds manual tasks ([`BundleSummary::manual_tasks`]): findings no
    /// agent can fix (a scanner's solution text), which stay open until
    /// people do the work and a rescan resolves them.
    AwaitingManual,
    /// Rollout stopped.
    Halted,
}

impl BundleStatus {
    /// The snake_case name (`awaiting_manual`, …), as in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleStatus::Planned => "planned",
            BundleStatus::Scheduled => "scheduled",
            BundleStatus::AwaitingApproval => "awaiting_approval",
            BundleStatus::Completed => "completed",
            BundleStatus::AwaitingManual => "awaiting_manual",
            BundleStatus::Halted => "halted",
        }
    }

    /// Whether the rollout is over (completed, awaiting manual work, or halted):
    /// nothing is left for approvals or the rollout to decide.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            BundleStatus::Completed | BundleStatus::AwaitingManual | BundleStatus::Halted
        )
    }
}

/// Where a ring of a bundle stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RingState {
    /// Not released yet.
    Pending,
    /// Released, not yet validated.
    InProgress,
    /// Its last wave passed validation.
    Validated,
    /// A wave halted, a validation failed, or the bundle halted in it.
    Halted,
}

/// Progress of one ring of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingProgress {
    /// Ring name.
    pub ring: String,
    /// Hosts of the bundle in the ring (as scheduled, else as planned).
    pub hosts: u64,
    /// When the ring was released (UTC).
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Waves started.
    pub waves_started: u64,
    /// Waves completed.
    pub waves_completed: u64,
    /// Waves halted.
    pub waves_halted: u64,
    /// Validation verdicts that passed.
    pub validations_passed: u64,
    /// Validation verdicts that failed.
    pub validations_failed: u64,
    /// Summary state.
    pub state: RingState,
}

/// State of a wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaveState {
    /// Jobs sent, results pending.
    Started,
    /// Every host answered or timed out within the budget.
    Completed,
    /// The failure budget was exceeded.
    Halted,
}

/// One wave of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaveSummary {
    /// Ring.
    pub ring: String,
    /// Wave number in the ring.
    pub wave: u32,
    /// Canary or batch.
    pub kind: WaveKind,
    /// State.
    pub state: WaveState,
    /// Hosts in the wave.
    pub hosts: u64,
    /// When jobs were sent (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// When results were due (UTC).
    pub results_due_at: Option<DateTime<Utc>>,
    /// When it completed or halted (UTC).
    pub ended_at: Option<DateTime<Utc>>,
    /// Hosts succeeded, once ended.
    pub succeeded: Option<u64>,
    /// Hosts failed or timed out, once ended.
    pub failed: Option<u64>,
    /// Hosts attempted in the ring so far, once ended.
    pub ring_attempted: Option<u64>,
    /// Hosts failed in the ring so far, once ended.
    pub ring_failed: Option<u64>,
    /// The halting rule, when halted.
    pub reason: Option<String>,
}

/// One validation verdict of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationSummary {
    /// Ring.
    pub ring: String,
    /// Wave.
    pub wave: u32,
    /// Passed or failed.
    pub passed: bool,
    /// Verdict time (UTC).
    pub at: DateTime<Utc>,
    /// Health checks run.
    pub checks: u64,
    /// Health checks failed.
    pub checks_failed: u64,
    /// Hosts read back.
    pub readback: u64,
    /// Hosts whose read-back misses a remediation.
    pub readback_missing: u64,
    /// Failure reasons.
    pub reasons: Vec<String>,
}

/// One rollback of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackSummary {
    /// Ring.
    pub ring: String,
    /// The wave that failed, when the request was seen.
    pub wave: Option<u32>,
    /// Hosts rolled back.
    pub hosts: Vec<String>,
    /// Why, when the request was seen.
    pub reason: Option<String>,
    /// When requested (UTC).
    pub requested_at: Option<DateTime<Utc>>,
    /// When completed (UTC).
    pub completed_at: Option<DateTime<Utc>>,
    /// Hosts rolled back successfully, once completed.
    pub succeeded: Option<u64>,
    /// Hosts whose rollback failed or timed out, once completed.
    pub failed: Option<u64>,
}

/// A bundle's state and progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleSummary {
    /// The bundle.
    pub bundle_id: Uuid,
    /// Priority class of its findings (from `bundle.planned`).
    pub priority: Option<Priority>,
    /// Earliest `due_at` of its findings (UTC).
    pub deadline: Option<DateTime<Utc>>,
    /// The deadline falls before the window reaching its last ring.
    pub sla_at_risk: Option<bool>,
    /// When planned (UTC).
    pub planned_at: Option<DateTime<Utc>>,
    /// Lifecycle state.
    pub status: BundleStatus,
    /// Time of the event that set `status` (UTC).
    pub status_at: DateTime<Utc>,
    /// The ring it halted in.
    pub halted_ring: Option<String>,
    /// Why it halted.
    pub halt_reason: Option<String>,
    /// Distinct target hosts.
    pub hosts: u64,
    /// Remediations.
    pub remediations: u64,
    /// Manual tasks: remediations planned for people, not agents.
    pub manual_tasks: u64,
    /// Rings held until the bundle is approved as a change (empty: a
    /// standard change, or planned before approvals existed).
    pub approval_rings: Vec<String>,
    /// Who approved it, when approved.
    pub approved_by: Option<String>,
    /// Rings in rollout order.
    pub rings: Vec<RingProgress>,
    /// Waves, by ring order then wave number.
    pub waves: Vec<WaveSummary>,
    /// Validation verdicts, by time.
    pub validations: Vec<ValidationSummary>,
    /// Rollbacks, in request order.
    pub rollbacks: Vec<RollbackSummary>,
    /// Agent jobs sent.
    pub jobs: u64,
    /// Agent results received.
    pub results: u64,
}

impl BundleSummary {
    /// Whether the bundle waits for a change approval now: not approved,
    /// not finished, its first approval ring (with hosts) not released, and
    /// every ring before it validated.
    fn awaits_approval(&self) -> bool {
        if self.approved_by.is_some()
            || !matches!(self.status, BundleStatus::Planned | BundleStatus::Scheduled)
        {
            return false;
        }
        let Some(gate) = self
            .rings
            .iter()
            .position(|r| r.hosts > 0 && self.approval_rings.contains(&r.ring))
        else {
            return false;
        };
        self.rings
            .get(gate)
            .is_some_and(|r| r.state == RingState::Pending)
            && self
                .rings
                .iter()
                .take(gate)
                .filter(|r| r.hosts > 0)
                .all(|r| r.state == RingState::Validated)
    }
}

/// A message a service gave up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The `patch.deadletter` event id.
    pub event_id: Uuid,
    /// When it was dead-lettered (UTC).
    pub at: DateTime<Utc>,
    /// The dead letter as published.
    #[serde(flatten)]
    pub letter: events::DeadLettered,
}

#[derive(Default)]
struct AssetRow {
    hostname: Option<String>,
    ip: Option<String>,
    ring: Option<String>,
    tier: Option<u8>,
    owner: Option<String>,
}

fn count(what: &str, v: i64) -> Result<u64, ReportError> {
    to_u64(what, v)
}

fn opt_count(what: &str, v: Option<i64>) -> Result<Option<u64>, ReportError> {
    v.map(|v| to_u64(what, v)).transpose()
}

fn wave_number(v: i64) -> Result<u32, ReportError> {
    u32::try_from(v).map_err(|_| ReportError::Corrupt(format!("stored wave number {v}")))
}

fn parse_wave_kind(s: &str) -> Result<WaveKind, ReportError> {
    match s {
        "canary" => Ok(WaveKind::Canary),
        "batch" => Ok(WaveKind::Batch),
        other => Err(ReportError::Corrupt(format!("stored wave kind {other:?}"))),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, ReportError> {
    serde_json::from_str(s).map_err(|e| ReportError::Corrupt(format!("stored {what}: {e}")))
}

/// Exceptions active at `at` (RFC 3339 UTC as stored): granted at or
/// before it, expiring after it, not ended at or before it; earliest
/// granted first.
fn active_exceptions(
    conn: &rusqlite::Connection,
    at: &str,
) -> Result<Vec<(Uuid, ExceptionTarget)>, ReportError> {
    let mut stmt = conn
        .prepare(
            "SELECT exception_id, finding_id, cve FROM exceptions
             WHERE granted_at <= ?1 AND expires_at > ?1 AND (ended_at IS NULL OR ended_at > ?1)
             ORDER BY granted_at, exception_id",
        )
        .ctx("query exceptions")?;
    let mut rows = stmt.query([at]).ctx("query exceptions")?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().ctx("query exceptions")? {
        let id: String = r.get(0).ctx("read exception")?;
        let finding: Option<String> = r.get(1).ctx("read exception")?;
        let cve: Option<String> = r.get(2).ctx("read exception")?;
        let target = match (finding, cve) {
            (Some(f), _) => ExceptionTarget::Finding {
                finding_id: parse_uuid(&f)?,
            },
            (None, Some(cve)) => ExceptionTarget::Cve { cve },
            (None, None) => {
                return Err(ReportError::Corrupt(format!(
                    "exception {id} has neither a finding nor a CVE"
                )));
            }
        };
        out.push((parse_uuid(&id)?, target));
    }
    Ok(out)
}

/// A finding an operator named, as the projection knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRef {
    /// The finding id.
    pub finding_id: Uuid,
    /// Its versioned fingerprint (`nessus:v1:<asset>:<plugin>:<port>/<proto>`).
    pub fingerprint: String,
    /// The asset it is on.
    pub asset_id: String,
    /// Whether it is open now (not resolved).
    pub open: bool,
}

impl Projection {
    /// The findings `key` names: the finding whose id or fingerprint it is,
    /// or, for a CVE id (any case), every finding listing that CVE; sorted by
    /// asset and fingerprint. Empty when the projection knows none.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::Corrupt`] when
    /// a stored value is not what this crate wrote.
    pub fn findings_named(&self, key: &str) -> Result<Vec<FindingRef>, ReportError> {
        let cve = key.to_ascii_uppercase();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT finding_id, fingerprint, asset_id, status, cves FROM findings
                 WHERE finding_id = ?1 OR fingerprint = ?1 OR cves LIKE ?2
                 ORDER BY asset_id, fingerprint",
            )
            .ctx("query findings by name")?;
        let mut rows = stmt
            .query(rusqlite::params![key, format!("%\"{cve}\"%")])
            .ctx("query findings by name")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("query findings by name")? {
            let id: String = r.get(0).ctx("read finding")?;
            let cves: String = r.get(4).ctx("read finding")?;
            let fingerprint: String = r.get(1).ctx("read finding")?;
            let cves: Vec<String> = parse_json("finding cves", &cves)?;
            let named =
                id == key || fingerprint == key || cves.iter().any(|c| c.eq_ignore_ascii_case(key));
            if !named {
                continue;
            }
            let status: String = r.get(3).ctx("read finding")?;
            out.push(FindingRef {
                finding_id: parse_uuid(&id)?,
                fingerprint,
                asset_id: r.get(2).ctx("read finding")?,
                open: status == "open",
            });
        }
        Ok(out)
    }

    /// The ids of the findings whose id starts with `prefix` (lower-case
    /// hex digits and dashes; anything else matches nothing).
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::Corrupt`] when
    /// a stored id is not a UUID.
    pub fn finding_ids_with_prefix(&self, prefix: &str) -> Result<Vec<Uuid>, ReportError> {
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT finding_id FROM findings WHERE finding_id LIKE ?1 ORDER BY finding_id")
            .ctx("query finding ids")?;
        let mut rows = stmt
            .query([format!("{}%", prefix.to_ascii_lowercase())])
            .ctx("query finding ids")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("query finding ids")? {
            let id: String = r.get(0).ctx("read finding id")?;
            out.push(parse_uuid(&id)?);
        }
        Ok(out)
    }

    /// Compliance of every known asset at `as_of` (UTC), with fleet totals;
    /// see the module docs for the rules.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::Corrupt`] when
    /// a stored value is not what this crate wrote.
    pub fn compliance(&self, as_of: DateTime<Utc>) -> Result<ComplianceReport, ReportError> {
        let at = ts(as_of);
        let mut assets: BTreeMap<String, AssetRow> = BTreeMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT asset_id FROM asset_ids")
                .ctx("query assets")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .ctx("query assets")?;
            for row in rows {
                assets.insert(row.ctx("query assets")?, AssetRow::default());
            }
            let mut stmt = self
                .conn
                .prepare("SELECT asset_id, name, value FROM asset_attributes")
                .ctx("query asset attributes")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .ctx("query asset attributes")?;
            for row in rows {
                let (id, name, value) = row.ctx("query asset attributes")?;
                let a = assets.entry(id).or_default();
                match name.as_str() {
                    "hostname" => a.hostname = Some(value),
                    "ip" => a.ip = Some(value),
                    "ring" => a.ring = Some(value),
                    "tier" => {
                        a.tier =
                            Some(value.parse().map_err(|_| {
                                ReportError::Corrupt(format!("stored tier {value:?}"))
                            })?);
                    }
                    "owner" => a.owner = Some(value),
                    _ => {}
                }
            }
        }

        let exceptions = active_exceptions(&self.conn, &at)?;
        let mut open: BTreeMap<String, BTreeMap<String, OpenFinding>> = BTreeMap::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT f.finding_id, f.asset_id, f.scanner, f.check_id, f.check_name, f.cves,
                            f.severity, f.priority, f.due_at, f.cvss_base_score,
                            f.policy_version, i.opened_at
                     FROM findings f JOIN finding_intervals i ON i.finding_id = f.finding_id
                     WHERE i.opened_at <= ?1 AND (i.resolved_at IS NULL OR i.resolved_at > ?1)
                     ORDER BY f.asset_id, f.finding_id, i.opened_at",
                )
                .ctx("query open findings")?;
            let mut rows = stmt.query([&at]).ctx("query open findings")?;
            while let Some(r) = rows.next().ctx("query open findings")? {
                let finding_id: String = r.get(0).ctx("read finding")?;
                let asset_id: String = r.get(1).ctx("read finding")?;
                let cves: String = r.get(5).ctx("read finding")?;
                let severity: Option<String> = r.get(6).ctx("read finding")?;
                let priority: Option<String> = r.get(7).ctx("read finding")?;
                let due_at = parse_ts_opt(r.get(8).ctx("read finding")?)?;
                let opened_at: String = r.get(11).ctx("read finding")?;
                let id = parse_uuid(&finding_id)?;
                let cves: Vec<String> = parse_json("finding cves", &cves)?;
                let exception_id = exceptions
                    .iter()
                    .find(|(_, target)| match target {
                        ExceptionTarget::Finding { finding_id } => *finding_id == id,
                        ExceptionTarget::Cve { cve } => {
                            cves.iter().any(|c| c.eq_ignore_ascii_case(cve))
                        }
                    })
                    .map(|(exception, _)| *exception);
                let overdue = exception_id.is_none() && due_at.is_some_and(|d| d < as_of);
                let f = OpenFinding {
                    finding_id: id,
                    scanner: r.get(2).ctx("read finding")?,
                    check_id: r.get(3).ctx("read finding")?,
                    check_name: r.get(4).ctx("read finding")?,
                    cves,
                    severity: severity.as_deref().map(parse_severity).transpose()?,
                    opened_at: parse_ts(&opened_at)?,
                    priority: priority.as_deref().map(parse_priority).transpose()?,
                    due_at,
                    cvss_base_score: r.get(9).ctx("read finding")?,
                    policy_version: r.get(10).ctx("read finding")?,
                    overdue,
                    exception_id,
                };
                open.entry(asset_id.clone())
                    .or_default()
                    .entry(finding_id)
                    .or_insert(f);
                assets.entry(asset_id).or_default();
            }
        }

        let mut patched: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT host, MAX(finished_at) FROM agent_results
                     WHERE action = 'apply' AND status = 'succeeded' AND finished_at <= ?1
                     GROUP BY host",
                )
                .ctx("query last patched")?;
            let rows = stmt
                .query_map([&at], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .ctx("query last patched")?;
            for row in rows {
                let (host, finished) = row.ctx("query last patched")?;
                patched.insert(host.clone(), parse_ts(&finished)?);
                assets.entry(host).or_default();
            }
        }

        let mut fleet = FleetSummary::default();
        let mut hosts = Vec::with_capacity(assets.len());
        for (asset_id, a) in assets {
            let mut findings: Vec<OpenFinding> = open
                .remove(&asset_id)
                .map(|m| m.into_values().collect())
                .unwrap_or_default();
            findings.sort_by(|x, y| x.urgency(y).then_with(|| x.finding_id.cmp(&y.finding_id)));
            let mut by_priority = PriorityCounts::default();
            for f in &findings {
                by_priority.add(f.priority);
                fleet.open_by_severity.add(f.severity);
            }
            let scores: Vec<f64> = findings.iter().filter_map(|f| f.cvss_base_score).collect();
            let avg_cvss = (!scores.is_empty()).then(|| {
                let mean = scores.iter().sum::<f64>() / scores.len() as f64;
                (mean * 100.0).round() / 100.0
            });
            let open_n = findings.len() as u64;
            let exposure_keys: Vec<(&str, &[String])> = findings
                .iter()
                .map(|f| (asset_id.as_str(), f.cves.as_slice()))
                .collect();
            let open_exposures = events::exposure::count(&exposure_keys) as u64;
            let overdue = findings.iter().filter(|f| f.overdue).count() as u64;
            let status = if overdue > 0 {
                ComplianceStatus::NonCompliant
            } else {
                ComplianceStatus::Compliant
            };
            fleet.hosts += 1;
            match status {
                ComplianceStatus::Compliant => fleet.compliant += 1,
                ComplianceStatus::NonCompliant => fleet.non_compliant += 1,
            }
            fleet.open += open_n;
            fleet.open_exposures += open_exposures;
            fleet.overdue += overdue;
            fleet.open_by_priority.merge(&by_priority);
            hosts.push(HostCompliance {
                last_patched_at: patched.get(&asset_id).copied(),
                asset_id,
                hostname: a.hostname,
                ip: a.ip,
                ring: a.ring,
                tier: a.tier,
                owner: a.owner,
                open: open_n,
                overdue,
                open_exposures,
                open_by_priority: by_priority,
                avg_cvss,
                status,
                findings,
            });
        }
        Ok(ComplianceReport {
            as_of,
            hosts,
            fleet,
        })
    }

    /// Every stored event of `bundle_id`, ordered by event time, then by
    /// application order, each with a one-line summary. Built from the
    /// hash-chained JSON, so it shows exactly what [`Projection::verify_chain`]
    /// vouches for.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::StoredEvent`]
    /// when a stored event no longer decodes.
    pub fn audit_trail(&self, bundle_id: Uuid) -> Result<Vec<AuditEntry>, ReportError> {
        // (Ordering: by event time; events of the same instant in the causal
        // order of a bundle's life, see `causal_rank`.)
        let mut stmt = self
            .conn
            .prepare(
                "SELECT position, stream, stream_seq, json FROM events
                 WHERE bundle_id = ?1 ORDER BY time, position",
            )
            .ctx("query audit trail")?;
        let rows = stmt
            .query_map([bundle_id.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .ctx("query audit trail")?;
        let mut decoded = Vec::new();
        for row in rows {
            let (position, stream, seq, json) = row.ctx("query audit trail")?;
            let position = to_u64("event position", position)?;
            let event = Event::from_json(json.as_bytes())
                .map_err(|source| ReportError::StoredEvent { position, source })?;
            decoded.push((stream, to_u64("stream sequence", seq)?, event));
        }
        // Outputs of one decision share an instant; for those, cause before
        // effect (the sort is stable, so application order breaks the rest).
        decoded.sort_by_key(|(_, _, e)| (e.time, causal_rank(&e.data)));
        let ctx = TrailContext::from_events(decoded.iter().map(|(_, _, e)| e));
        Ok(decoded
            .into_iter()
            .map(|(stream, stream_seq, e)| AuditEntry {
                event_id: e.id,
                time: e.time,
                event_type: e.event_type().to_owned(),
                source: e.source.clone(),
                stream,
                stream_seq,
                summary: summarize(&e.data, &ctx),
            })
            .collect())
    }

    /// Every bundle with its status and ring, wave, validation and rollback
    /// progress, by planning time then id.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::Corrupt`] when
    /// a stored value is not what this crate wrote.
    pub fn bundles(&self) -> Result<Vec<BundleSummary>, ReportError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT bundle_id, priority, deadline, sla_at_risk, planned_at, plan_rings, hosts,
                        remediations, status, status_at, halted_ring, halt_reason, manual_tasks,
                        approval_rings, approved_by
                 FROM bundles ORDER BY COALESCE(planned_at, status_at), bundle_id",
            )
            .ctx("query bundles")?;
        let mut rows = stmt.query([]).ctx("query bundles")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("query bundles")? {
            let id: String = r.get(0).ctx("read bundle")?;
            let priority: Option<String> = r.get(1).ctx("read bundle")?;
            let plan_rings: String = r.get(5).ctx("read bundle")?;
            let status: String = r.get(8).ctx("read bundle")?;
            let status_at: String = r.get(9).ctx("read bundle")?;
            let status = match status.as_str() {
                "planned" => BundleStatus::Planned,
                "scheduled" => BundleStatus::Scheduled,
                "completed" => BundleStatus::Completed,
                "awaiting_manual" => BundleStatus::AwaitingManual,
                "halted" => BundleStatus::Halted,
                other => {
                    return Err(ReportError::Corrupt(format!(
                        "stored bundle status {other:?}"
                    )));
                }
            };
            let mut summary = BundleSummary {
                bundle_id: parse_uuid(&id)?,
                priority: priority.as_deref().map(parse_priority).transpose()?,
                deadline: parse_ts_opt(r.get(2).ctx("read bundle")?)?,
                sla_at_risk: r.get(3).ctx("read bundle")?,
                planned_at: parse_ts_opt(r.get(4).ctx("read bundle")?)?,
                status,
                status_at: parse_ts(&status_at)?,
                halted_ring: r.get(10).ctx("read bundle")?,
                halt_reason: r.get(11).ctx("read bundle")?,
                hosts: count("bundle hosts", r.get(6).ctx("read bundle")?)?,
                remediations: count("bundle remediations", r.get(7).ctx("read bundle")?)?,
                manual_tasks: count("bundle manual tasks", r.get(12).ctx("read bundle")?)?,
                approval_rings: parse_json(
                    "bundle approval rings",
                    &r.get::<_, String>(13).ctx("read bundle")?,
                )?,
                approved_by: r.get(14).ctx("read bundle")?,
                rings: Vec::new(),
                waves: Vec::new(),
                validations: Vec::new(),
                rollbacks: Vec::new(),
                jobs: 0,
                results: 0,
            };
            let planned: Vec<PlannedRing> = parse_json("bundle rings", &plan_rings)?;
            self.fill_bundle(&id, planned, &mut summary)?;
            if summary.awaits_approval() {
                summary.status = BundleStatus::AwaitingApproval;
            }
            out.push(summary);
        }
        Ok(out)
    }

    fn fill_bundle(
        &self,
        id: &str,
        planned: Vec<PlannedRing>,
        b: &mut BundleSummary,
    ) -> Result<(), ReportError> {
        // Scheduled rings: (ring, index, scheduled_at, hosts).
        let mut scheduled: Vec<(String, i64, DateTime<Utc>, u64)> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT ring, ring_index, scheduled_at, hosts FROM bundle_rings
                     WHERE bundle_id = ?1 ORDER BY ring_index, ring",
                )
                .ctx("query bundle rings")?;
            let mut rows = stmt.query([id]).ctx("query bundle rings")?;
            while let Some(r) = rows.next().ctx("query bundle rings")? {
                let at: String = r.get(2).ctx("read bundle ring")?;
                scheduled.push((
                    r.get(0).ctx("read bundle ring")?,
                    r.get(1).ctx("read bundle ring")?,
                    parse_ts(&at)?,
                    count("ring hosts", r.get(3).ctx("read bundle ring")?)?,
                ));
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT ring, wave, kind, state, hosts, started_at, results_due_at, ended_at,
                            succeeded, failed, ring_attempted, ring_failed, reason
                     FROM waves WHERE bundle_id = ?1",
                )
                .ctx("query waves")?;
            let mut rows = stmt.query([id]).ctx("query waves")?;
            while let Some(r) = rows.next().ctx("query waves")? {
                let kind: String = r.get(2).ctx("read wave")?;
                let state: String = r.get(3).ctx("read wave")?;
                let state = match state.as_str() {
                    "started" => WaveState::Started,
                    "completed" => WaveState::Completed,
                    "halted" => WaveState::Halted,
                    other => {
                        return Err(ReportError::Corrupt(format!("stored wave state {other:?}")));
                    }
                };
                b.waves.push(WaveSummary {
                    ring: r.get(0).ctx("read wave")?,
                    wave: wave_number(r.get(1).ctx("read wave")?)?,
                    kind: parse_wave_kind(&kind)?,
                    state,
                    hosts: count("wave hosts", r.get(4).ctx("read wave")?)?,
                    started_at: parse_ts_opt(r.get(5).ctx("read wave")?)?,
                    results_due_at: parse_ts_opt(r.get(6).ctx("read wave")?)?,
                    ended_at: parse_ts_opt(r.get(7).ctx("read wave")?)?,
                    succeeded: opt_count("wave succeeded", r.get(8).ctx("read wave")?)?,
                    failed: opt_count("wave failed", r.get(9).ctx("read wave")?)?,
                    ring_attempted: opt_count("ring attempted", r.get(10).ctx("read wave")?)?,
                    ring_failed: opt_count("ring failed", r.get(11).ctx("read wave")?)?,
                    reason: r.get(12).ctx("read wave")?,
                });
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT ring, wave, verdict, at, checks, checks_failed, readback,
                            readback_missing, reasons, last_wave_in_ring
                     FROM validations WHERE bundle_id = ?1 ORDER BY at, event_id",
                )
                .ctx("query validations")?;
            let mut rows = stmt.query([id]).ctx("query validations")?;
            let mut last_wave_passed: BTreeSet<String> = BTreeSet::new();
            while let Some(r) = rows.next().ctx("query validations")? {
                let ring: String = r.get(0).ctx("read validation")?;
                let verdict: String = r.get(2).ctx("read validation")?;
                let at: String = r.get(3).ctx("read validation")?;
                let reasons: String = r.get(8).ctx("read validation")?;
                let last: Option<bool> = r.get(9).ctx("read validation")?;
                let passed = verdict == "passed";
                if passed && last == Some(true) {
                    last_wave_passed.insert(ring.clone());
                }
                b.validations.push(ValidationSummary {
                    ring,
                    wave: wave_number(r.get(1).ctx("read validation")?)?,
                    passed,
                    at: parse_ts(&at)?,
                    checks: count("checks", r.get(4).ctx("read validation")?)?,
                    checks_failed: count("checks failed", r.get(5).ctx("read validation")?)?,
                    readback: count("readback", r.get(6).ctx("read validation")?)?,
                    readback_missing: count("readback missing", r.get(7).ctx("read validation")?)?,
                    reasons: parse_json("validation reasons", &reasons)?,
                });
            }
            // Ring order: the plan's, then rings seen only at release or in
            // waves, by ring index and name.
            let mut order: Vec<String> = planned.iter().map(|p| p.ring.clone()).collect();
            for (ring, ..) in &scheduled {
                if !order.contains(ring) {
                    order.push(ring.clone());
                }
            }
            for w in &b.waves {
                if !order.contains(&w.ring) {
                    order.push(w.ring.clone());
                }
            }
            for v in &b.validations {
                if !order.contains(&v.ring) {
                    order.push(v.ring.clone());
                }
            }
            let rank = |ring: &str| order.iter().position(|r| r == ring).unwrap_or(order.len());
            b.waves.sort_by_key(|w| (rank(&w.ring), w.wave));
            for ring in &order {
                let sched = scheduled.iter().find(|s| &s.0 == ring);
                let waves = b.waves.iter().filter(|w| &w.ring == ring);
                let started = waves.clone().count() as u64;
                let completed = waves
                    .clone()
                    .filter(|w| w.state == WaveState::Completed)
                    .count() as u64;
                let halted = waves.filter(|w| w.state == WaveState::Halted).count() as u64;
                let passed = b
                    .validations
                    .iter()
                    .filter(|v| &v.ring == ring && v.passed)
                    .count() as u64;
                let failed = b
                    .validations
                    .iter()
                    .filter(|v| &v.ring == ring && !v.passed)
                    .count() as u64;
                let state = if halted > 0
                    || failed > 0
                    || (b.status == BundleStatus::Halted && b.halted_ring.as_ref() == Some(ring))
                {
                    RingState::Halted
                } else if last_wave_passed.contains(ring) {
                    RingState::Validated
                } else if sched.is_some() || started > 0 {
                    RingState::InProgress
                } else {
                    RingState::Pending
                };
                let hosts = match sched {
                    Some(s) => s.3,
                    None => planned
                        .iter()
                        .find(|p| &p.ring == ring)
                        .map_or(0, |p| p.hosts),
                };
                b.rings.push(RingProgress {
                    ring: ring.clone(),
                    hosts,
                    scheduled_at: sched.map(|s| s.2),
                    waves_started: started,
                    waves_completed: completed,
                    waves_halted: halted,
                    validations_passed: passed,
                    validations_failed: failed,
                    state,
                });
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT ring, wave, hosts, reason, requested_at, completed_at, succeeded, failed
                     FROM rollbacks WHERE bundle_id = ?1 ORDER BY id",
                )
                .ctx("query rollbacks")?;
            let mut rows = stmt.query([id]).ctx("query rollbacks")?;
            while let Some(r) = rows.next().ctx("query rollbacks")? {
                let wave: Option<i64> = r.get(1).ctx("read rollback")?;
                let hosts: String = r.get(2).ctx("read rollback")?;
                b.rollbacks.push(RollbackSummary {
                    ring: r.get(0).ctx("read rollback")?,
                    wave: wave.map(wave_number).transpose()?,
                    hosts: parse_json("rollback hosts", &hosts)?,
                    reason: r.get(3).ctx("read rollback")?,
                    requested_at: parse_ts_opt(r.get(4).ctx("read rollback")?)?,
                    completed_at: parse_ts_opt(r.get(5).ctx("read rollback")?)?,
                    succeeded: opt_count("rollback succeeded", r.get(6).ctx("read rollback")?)?,
                    failed: opt_count("rollback failed", r.get(7).ctx("read rollback")?)?,
                });
            }
        }
        let jobs: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM jobs WHERE bundle_id = ?1",
                [id],
                |r| r.get(0),
            )
            .ctx("count jobs")?;
        let results: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM agent_results WHERE bundle_id = ?1",
                [id],
                |r| r.get(0),
            )
            .ctx("count agent results")?;
        b.jobs = count("jobs", jobs)?;
        b.results = count("results", results)?;
        Ok(())
    }

    /// Every dead letter, oldest first.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure; [`ReportError::Corrupt`] when
    /// a stored value is not what this crate wrote.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, ReportError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT d.event_id, d.at, d.service, d.reason, d.subject, d.stream,
                        d.stream_sequence, d.delivered, d.payload_text, d.payload_base64
                 FROM dead_letters d JOIN events e ON e.event_id = d.event_id
                 ORDER BY d.at, e.position",
            )
            .ctx("query dead letters")?;
        let mut rows = stmt.query([]).ctx("query dead letters")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().ctx("query dead letters")? {
            let id: String = r.get(0).ctx("read dead letter")?;
            let at: String = r.get(1).ctx("read dead letter")?;
            let service: String = r.get(2).ctx("read dead letter")?;
            out.push(DeadLetter {
                event_id: parse_uuid(&id)?,
                at: parse_ts(&at)?,
                letter: events::DeadLettered {
                    service: service.parse().map_err(|e: String| {
                        ReportError::Corrupt(format!("stored service: {e}"))
                    })?,
                    reason: r.get(3).ctx("read dead letter")?,
                    subject: r.get(4).ctx("read dead letter")?,
                    stream: r.get(5).ctx("read dead letter")?,
                    stream_sequence: count("stream sequence", r.get(6).ctx("read dead letter")?)?,
                    delivered: count("delivered", r.get(7).ctx("read dead letter")?)?,
                    payload_text: r.get(8).ctx("read dead letter")?,
                    payload_base64: r.get(9).ctx("read dead letter")?,
                },
            });
        }
        Ok(out)
    }

    /// How many events of each CloudEvents type are stored.
    ///
    /// # Errors
    /// [`ReportError::Sql`] on a read failure.
    pub fn counts_by_type(&self) -> Result<BTreeMap<String, u64>, ReportError> {
        let mut stmt = self
            .conn
            .prepare("SELECT event_type, COUNT(*) FROM events GROUP BY event_type")
            .ctx("count events by type")?;
        let rows = stmt
            .query_map(params![], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .ctx("count events by type")?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (t, n) = row.ctx("count events by type")?;
            out.insert(t, count("event count", n)?);
        }
        Ok(out)
    }
}

/// Where an event stands in a bundle's life, to order events that share an
/// instant (one decision's outputs): planned, released, wave started, jobs,
/// results, wave outcome, verdicts, rollback request, bundle outcome,
/// rollback jobs and results, rollback outcome.
fn causal_rank(p: &events::Payload) -> u8 {
    use events::{JobAction, Payload as P};
    match p {
        P::BundlePlanned(_) => 0,
        P::BundleScheduled(_) => 1,
        P::WaveStarted(_) => 2,
        P::AgentJob(j) if j.action == JobAction::Apply => 3,
        P::AgentResult(r) if r.action == JobAction::Apply => 4,
        P::WaveCompleted(_) | P::WaveHalted(_) => 5,
        P::ValidationPassed(_) | P::ValidationFailed(_) => 6,
        P::RollbackRequested(_) => 7,
        P::BundleCompleted(_) | P::BundleHalted(_) => 8,
        P::AgentJob(_) => 9,
        P::AgentResult(_) => 10,
        P::RollbackCompleted(_) => 11,
        _ => 12,
    }
}

#[cfg(test)]
mod causal_tests {
    use super::causal_rank;
    use events::{JobAction, Payload};

    #[test]
    fn same_instant_events_order_cause_before_effect() {
        let id = uuid::Uuid::nil();
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let job = |action| {
            Payload::AgentJob(events::AgentJob {
                job_id: id,
                bundle_id: id,
                ring: "prod".into(),
                wave: 1,
                host: "h".into(),
                action,
                remediations: vec![],
                issued_at: t,
                expires_at: t,
                signature: None,
                key_id: None,
            })
        };
        let started = Payload::WaveStarted(events::WaveStarted {
            bundle_id: id,
            ring: "prod".into(),
            wave: 1,
            kind: events::WaveKind::Batch,
            hosts: vec![],
            results_due_at: t,
        });
        let rollback = Payload::RollbackRequested(events::RollbackRequested {
            bundle_id: id,
            ring: "prod".into(),
            wave: 1,
            hosts: vec![],
            reason: String::new(),
        });
        let ranks = [
            causal_rank(&started),
            causal_rank(&job(JobAction::Apply)),
            causal_rank(&rollback),
            causal_rank(&job(JobAction::Rollback)),
        ];
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    }
}
