//! Finding life across scans: first observation, re-observation, resolution
//! by a full rescan that covered it, and reopening — decided host by host,
//! purely, from ingest's state (loaded and stored by the adapter).
//!
//! # State (KV bucket `<ns>_ingest`)
//!
//! - `finding.<finding id>` → [`FingerprintRecord`]: the current (or last)
//!   open period — its SLA clock start and latest observation — its status,
//!   and the closed periods before it ([`FingerprintRecord::history`]).
//! - `open.<asset id>` → [`OpenIndex`]: the asset's open findings with what
//!   resolution needs of them ([`OpenEntry`]).
//!
//! # Rules, for a host of scan `S` observed at `t` (UTC, the host's scan time)
//!
//! - **Observed, new**: published with `first_observed_at = t`.
//! - **Observed, open**: published with `first_observed_at` = the earliest
//!   observation of the open period (a re-import of the same report
//!   publishes the same finding ids with the same `first_observed_at`).
//! - **Observed, resolved at `r`**:
//!   - `t > r`: **reopened**. The closed period goes to the history, a new
//!     period starts at `t` (a new SLA clock), published with
//!     `reopened: true`;
//!   - `t ≤ r`: a stale sighting (an older report imported after the one that
//!     resolved it): nothing is published or changed.
//! - **Observed, reopened since a resolution at `r`, `t ≤ r`**: stale too (it
//!   belongs to a closed period; it must not move the current SLA clock
//!   back).
//! - **Resolved**: an open finding of the host's asset that `S` does not
//!   show is resolved — `patch.finding.resolved` with `scan_id = S` and
//!   `resolved_at = t` — only when all hold:
//!   - `S` has scope `full`;
//!   - its last observation is before `t` (strictly: a host listed twice in
//!     one report never resolves what the other listing showed);
//!   - the host's coverage covers it ([`HostCoverage::covers`]: scanner,
//!     port, and for Nessus evidence that the plugin ran).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use events::{FindingResolved, ScanScope};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::coverage::{CheckSite, HostCoverage};
use crate::normalize::Observation;

/// The most closed periods a [`FingerprintRecord`] keeps (the oldest are
/// dropped first); the report's projection keeps every period.
pub const MAX_HISTORY: usize = 64;

/// Whether a finding is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// Seen and not resolved since.
    #[default]
    Open,
    /// A full rescan that covered it no longer showed it.
    Resolved,
}

/// A closed open period of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Its SLA clock start (UTC).
    pub opened_at: DateTime<Utc>,
    /// Its latest observation (UTC).
    pub last_observed_at: DateTime<Utc>,
    /// When the resolving scan observed the host (UTC).
    pub resolved_at: DateTime<Utc>,
    /// The resolving scan.
    pub resolved_by: Uuid,
}

/// What ingest remembers of a finding across scans (KV `finding.<id>`).
///
/// Records written before resolution existed decode with the defaults:
/// open, never reopened, no history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintRecord {
    /// Start of the current (or, when resolved, the last) open period (UTC):
    /// the SLA clock start.
    pub first_observed_at: DateTime<Utc>,
    /// Latest observation (UTC).
    pub last_observed_at: DateTime<Utc>,
    /// The scan of the latest processed observation.
    pub last_scan: Uuid,
    /// Open or resolved.
    #[serde(default)]
    pub status: FindingStatus,
    /// When resolved: the resolving scan's observation of the host (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// When resolved: the resolving scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<Uuid>,
    /// The current period began with a reopening.
    #[serde(default)]
    pub reopened: bool,
    /// Earlier, closed periods, oldest first (at most [`MAX_HISTORY`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Period>,
}

impl FingerprintRecord {
    /// A record of a first observation at `t` in `scan`.
    pub fn new(scan: Uuid, t: DateTime<Utc>) -> FingerprintRecord {
        FingerprintRecord {
            first_observed_at: t,
            last_observed_at: t,
            last_scan: scan,
            status: FindingStatus::Open,
            resolved_at: None,
            resolved_by: None,
            reopened: false,
            history: Vec::new(),
        }
    }

    /// This record resolved by `scan` whose host was observed at `t`.
    pub fn resolved(&self, scan: Uuid, t: DateTime<Utc>) -> FingerprintRecord {
        FingerprintRecord {
            status: FindingStatus::Resolved,
            resolved_at: Some(t),
            resolved_by: Some(scan),
            ..self.clone()
        }
    }
}

/// How an observation is handled ([`observe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sighting {
    /// Publish it with this SLA clock start; `reopened` when the period
    /// began with a reopening.
    Publish {
        /// `first_observed_at` of the event (UTC).
        first_observed_at: DateTime<Utc>,
        /// `reopened` of the event.
        reopened: bool,
    },
    /// Older than the resolution it would contradict: not published.
    Stale {
        /// When the finding was resolved (UTC).
        resolved_at: DateTime<Utc>,
    },
}

/// Applies an observation at `t` in `scan` to a finding's record (`None`:
/// never seen). Returns how to publish it and the new record (`None` when
/// unchanged).
pub fn observe(
    record: Option<&FingerprintRecord>,
    scan: Uuid,
    t: DateTime<Utc>,
) -> (Sighting, Option<FingerprintRecord>) {
    let Some(r) = record else {
        let new = FingerprintRecord::new(scan, t);
        return (
            Sighting::Publish {
                first_observed_at: t,
                reopened: false,
            },
            Some(new),
        );
    };
    // The latest resolution, whether the finding is resolved now or was
    // reopened since: a sighting at or before it is history, not news.
    let last_resolution = match r.status {
        FindingStatus::Resolved => r.resolved_at,
        FindingStatus::Open => r.history.last().map(|p| p.resolved_at),
    };
    if let Some(resolved_at) = last_resolution.filter(|at| t <= *at) {
        return (Sighting::Stale { resolved_at }, None);
    }
    let next = match (r.status, r.resolved_at) {
        (FindingStatus::Resolved, resolved_at) => {
            let mut history = r.history.clone();
            history.push(Period {
                opened_at: r.first_observed_at,
                last_observed_at: r.last_observed_at,
                resolved_at: resolved_at.unwrap_or(r.last_observed_at),
                resolved_by: r.resolved_by.unwrap_or(r.last_scan),
            });
            let excess = history.len().saturating_sub(MAX_HISTORY);
            history.drain(..excess);
            FingerprintRecord {
                history,
                reopened: true,
                ..FingerprintRecord::new(scan, t)
            }
        }
        (FindingStatus::Open, _) => FingerprintRecord {
            first_observed_at: r.first_observed_at.min(t),
            last_observed_at: r.last_observed_at.max(t),
            last_scan: if t >= r.last_observed_at {
                scan
            } else {
                r.last_scan
            },
            ..r.clone()
        },
    };
    let sighting = Sighting::Publish {
        first_observed_at: next.first_observed_at,
        reopened: next.reopened,
    };
    let changed = (next != *r).then_some(next);
    (sighting, changed)
}

/// One open finding of an asset, as resolution needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenEntry {
    /// Its fingerprint.
    pub fingerprint: String,
    /// Where its check reported it.
    pub site: CheckSite,
    /// Latest observation (UTC).
    pub last_observed_at: DateTime<Utc>,
}

/// The open findings of one asset (KV `open.<asset id>`), by finding id.
///
/// One KV value: at about 200 bytes an entry, an asset can hold some
/// thousands of open findings within NATS's 1 MiB value limit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OpenIndex {
    /// Finding id → entry.
    pub findings: BTreeMap<Uuid, OpenEntry>,
}

/// The findings of `index` that a host of scan (`scope`, observed at `t`,
/// with `coverage`) resolves when it does not show them: not in `seen`,
/// last observed before `t`, covered. Empty for a `partial` scan.
pub fn resolvable<'a>(
    index: &'a OpenIndex,
    seen: &BTreeSet<Uuid>,
    scope: ScanScope,
    t: DateTime<Utc>,
    coverage: &HostCoverage,
) -> Vec<(Uuid, &'a OpenEntry)> {
    if scope != ScanScope::Full {
        return Vec::new();
    }
    index
        .findings
        .iter()
        .filter(|(id, e)| {
            !seen.contains(id) && e.last_observed_at < t && coverage.covers(&e.site).is_ok()
        })
        .map(|(id, e)| (*id, e))
        .collect()
}

/// One host of one scan, as [`decide_host`] reads it.
#[derive(Debug)]
pub struct HostScan<'a> {
    /// The reconciled asset id (findings already rebound to it).
    pub asset_id: &'a str,
    /// The scan (the `scan.submitted` event id).
    pub scan_id: Uuid,
    /// The scan's scope.
    pub scope: ScanScope,
    /// The host's scan time (UTC).
    pub observed_at: DateTime<Utc>,
    /// The host's findings, one per fingerprint.
    pub findings: &'a [Observation],
    /// What the host's scan covered.
    pub coverage: &'a HostCoverage,
}

/// What to publish and store for one host.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostDecision {
    /// Observations to publish: index into [`HostScan::findings`], SLA clock
    /// start, reopened.
    pub observed: Vec<(usize, DateTime<Utc>, bool)>,
    /// Observations not published (stale): index, and the resolution they
    /// predate.
    pub stale: Vec<(usize, DateTime<Utc>)>,
    /// `patch.finding.resolved` payloads, by finding id order.
    pub resolved: Vec<FindingResolved>,
    /// Records to store (changed ones only).
    pub records: Vec<(Uuid, FingerprintRecord)>,
    /// The asset's new open index, when it changed.
    pub index: Option<OpenIndex>,
}

/// Decides one host (see the module rules). `records` holds the stored
/// record of every finding of `scan.findings` and of every finding
/// [`resolvable`] names (absent = never stored).
pub fn decide_host(
    scan: &HostScan<'_>,
    index: &OpenIndex,
    records: &BTreeMap<Uuid, FingerprintRecord>,
) -> HostDecision {
    let mut out = HostDecision::default();
    let mut next = index.clone();
    let t = scan.observed_at;
    for (i, obs) in scan.findings.iter().enumerate() {
        let (sighting, record) = observe(records.get(&obs.finding_id), scan.scan_id, t);
        match sighting {
            Sighting::Stale { resolved_at } => out.stale.push((i, resolved_at)),
            Sighting::Publish {
                first_observed_at,
                reopened,
            } => {
                out.observed.push((i, first_observed_at, reopened));
                let last = record
                    .as_ref()
                    .or(records.get(&obs.finding_id))
                    .map_or(t, |r| r.last_observed_at);
                next.findings.insert(
                    obs.finding_id,
                    OpenEntry {
                        fingerprint: obs.fingerprint.clone(),
                        site: CheckSite {
                            scanner: obs.check.scanner.clone(),
                            check_id: obs.check.id.clone(),
                            family: obs.check.family.clone(),
                            port: obs.port,
                            protocol: obs.protocol.to_lowercase(),
                        },
                        last_observed_at: last,
                    },
                );
            }
        }
        if let Some(r) = record {
            out.records.push((obs.finding_id, r));
        }
    }
    let seen: BTreeSet<Uuid> = scan.findings.iter().map(|o| o.finding_id).collect();
    for (id, entry) in resolvable(index, &seen, scan.scope, t, scan.coverage) {
        let record = records
            .get(&id)
            .cloned()
            .unwrap_or_else(|| FingerprintRecord::new(scan.scan_id, entry.last_observed_at));
        out.records.push((id, record.resolved(scan.scan_id, t)));
        out.resolved.push(FindingResolved {
            finding_id: id,
            fingerprint: entry.fingerprint.clone(),
            asset_id: scan.asset_id.to_owned(),
            scan_id: scan.scan_id,
            resolved_at: t,
        });
        next.findings.remove(&id);
    }
    if next != *index {
        out.index = Some(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;
    use events::{Check, Remediation, Severity};

    fn at(s: &str) -> DateTime<Utc> {
        match s.parse() {
            Ok(t) => t,
            Err(e) => panic!("bad instant {s:?}: {e}"),
        }
    }

    fn obs(plugin: u32, port: u16) -> Observation {
        let fingerprint = normalize::fingerprint("h", plugin, port, "tcp");
        Observation {
            finding_id: normalize::finding_id(&fingerprint),
            fingerprint,
            check: Check {
                scanner: "nessus".into(),
                id: plugin.to_string(),
                name: format!("plugin {plugin}"),
                family: Some("Web Servers".into()),
            },
            port,
            protocol: "tcp".into(),
            severity: Severity::High,
            service: None,
            cves: vec![],
            cwes: vec![],
            cvss: vec![],
            remediation: Remediation::Advisory { id: "x".into() },
            observed_at: at("2026-01-01T00:00:00Z"),
            package: None,
            fix_state: None,
        }
    }

    fn coverage(ports: &[u16]) -> HostCoverage {
        HostCoverage {
            scanners: ["nessus".to_owned()].into(),
            ports: ports.iter().map(|p| (*p, "tcp".to_owned())).collect(),
            families: ["Web Servers".to_owned()].into(),
            nessus: None,
        }
    }

    /// The state of one asset across scans, driven through [`decide_host`]
    /// the way the adapter does (load, decide, store).
    #[derive(Default)]
    struct Store {
        index: OpenIndex,
        records: BTreeMap<Uuid, FingerprintRecord>,
    }

    impl Store {
        fn scan(
            &mut self,
            scan: u128,
            scope: ScanScope,
            t: &str,
            findings: &[Observation],
            coverage: &HostCoverage,
        ) -> HostDecision {
            let host = HostScan {
                asset_id: "h",
                scan_id: Uuid::from_u128(scan),
                scope,
                observed_at: at(t),
                findings,
                coverage,
            };
            let d = decide_host(&host, &self.index, &self.records);
            for (id, r) in &d.records {
                self.records.insert(*id, r.clone());
            }
            if let Some(i) = &d.index {
                self.index = i.clone();
            }
            d
        }
    }

    fn resolved_ids(d: &HostDecision) -> Vec<Uuid> {
        d.resolved.iter().map(|r| r.finding_id).collect()
    }

    #[test]
    fn a_full_rescan_resolves_what_it_covered_and_no_longer_shows() {
        let (a, b) = (obs(1, 22), obs(2, 80));
        let mut s = Store::default();
        let full = ScanScope::Full;

        let d1 = s.scan(
            1,
            full,
            "2026-01-01T00:00:00Z",
            &[a.clone(), b.clone()],
            &coverage(&[22, 80]),
        );
        assert_eq!(d1.observed.len(), 2);
        assert!(d1.resolved.is_empty());
        assert_eq!(s.index.findings.len(), 2);

        // Re-import of the same report: same first observation, nothing new, nothing stored.
        let again = s.scan(
            9,
            full,
            "2026-01-01T00:00:00Z",
            &[a.clone(), b.clone()],
            &coverage(&[22, 80]),
        );
        assert_eq!(
            again.observed,
            vec![
                (0, at("2026-01-01T00:00:00Z"), false),
                (1, at("2026-01-01T00:00:00Z"), false)
            ]
        );
        assert!(again.resolved.is_empty() && again.index.is_none());

        // A partial scan without B resolves nothing.
        let p = s.scan(
            3,
            ScanScope::Partial,
            "2026-01-05T00:00:00Z",
            std::slice::from_ref(&a),
            &coverage(&[22, 80]),
        );
        assert!(p.resolved.is_empty());
        // A full scan that did not reach B's port resolves nothing either.
        let np = s.scan(
            4,
            full,
            "2026-01-06T00:00:00Z",
            std::slice::from_ref(&a),
            &coverage(&[22]),
        );
        assert!(np.resolved.is_empty());

        // Full scan 2 of the host, port 80 seen, only A: B resolved, naming scan 2.
        let d2 = s.scan(
            2,
            full,
            "2026-01-08T00:00:00Z",
            std::slice::from_ref(&a),
            &coverage(&[22, 80]),
        );
        assert_eq!(resolved_ids(&d2), vec![b.finding_id]);
        let r = &d2.resolved[0];
        assert_eq!(
            (r.scan_id, r.resolved_at),
            (Uuid::from_u128(2), at("2026-01-08T00:00:00Z"))
        );
        assert_eq!(
            (r.asset_id.as_str(), r.fingerprint.as_str()),
            ("h", b.fingerprint.as_str())
        );
        assert_eq!(s.records[&b.finding_id].status, FindingStatus::Resolved);
        assert!(!s.index.findings.contains_key(&b.finding_id));

        // The report that resolved it, imported again: nothing more.
        let d2b = s.scan(
            2,
            full,
            "2026-01-08T00:00:00Z",
            std::slice::from_ref(&a),
            &coverage(&[22, 80]),
        );
        assert!(d2b.resolved.is_empty());

        // The first report imported late: B's old sighting is stale.
        let late = s.scan(
            5,
            full,
            "2026-01-01T00:00:00Z",
            &[a.clone(), b.clone()],
            &coverage(&[22, 80]),
        );
        assert_eq!(late.stale, vec![(1, at("2026-01-08T00:00:00Z"))]);
        assert_eq!(late.observed.len(), 1);
        assert!(!s.index.findings.contains_key(&b.finding_id));

        // B seen again later: reopened, a new SLA clock, the old period kept.
        let d6 = s.scan(
            6,
            full,
            "2026-02-01T00:00:00Z",
            &[a.clone(), b.clone()],
            &coverage(&[22, 80]),
        );
        assert_eq!(d6.observed[1], (1, at("2026-02-01T00:00:00Z"), true));
        assert_eq!(d6.observed[0], (0, at("2026-01-01T00:00:00Z"), false));
        let rb = &s.records[&b.finding_id];
        assert_eq!(rb.status, FindingStatus::Open);
        assert_eq!(
            rb.history,
            vec![Period {
                opened_at: at("2026-01-01T00:00:00Z"),
                last_observed_at: at("2026-01-01T00:00:00Z"),
                resolved_at: at("2026-01-08T00:00:00Z"),
                resolved_by: Uuid::from_u128(2),
            }]
        );
        // Redelivery of that scan: the same answer (still reopened).
        let d6b = s.scan(
            6,
            full,
            "2026-02-01T00:00:00Z",
            &[a.clone(), b.clone()],
            &coverage(&[22, 80]),
        );
        assert_eq!(d6b.observed[1], (1, at("2026-02-01T00:00:00Z"), true));
        assert!(d6b.records.is_empty() && d6b.index.is_none());
        // The first report once more, while B is open again: B's sighting
        // belongs to the closed period and must not move its SLA clock back.
        let old = s.scan(
            7,
            full,
            "2026-01-01T00:00:00Z",
            &[a, b.clone()],
            &coverage(&[22, 80]),
        );
        assert_eq!(old.stale, vec![(1, at("2026-01-08T00:00:00Z"))]);
        assert_eq!(
            s.records[&b.finding_id].first_observed_at,
            at("2026-02-01T00:00:00Z")
        );
    }

    #[test]
    fn one_host_listed_twice_in_a_report_resolves_nothing_of_itself() {
        let (a, b) = (obs(1, 22), obs(2, 80));
        let mut s = Store::default();
        let t = "2026-01-01T00:00:00Z";
        s.scan(1, ScanScope::Full, t, &[a], &coverage(&[22, 80]));
        let second = s.scan(1, ScanScope::Full, t, &[b], &coverage(&[22, 80]));
        assert!(second.resolved.is_empty());
        assert_eq!(s.index.findings.len(), 2);
    }

    #[test]
    fn history_is_bounded() {
        let a = obs(1, 22);
        let mut s = Store::default();
        for day in 0..(MAX_HISTORY as i64 + 3) {
            let seen = at("2026-01-01T00:00:00Z") + chrono::Duration::days(day * 2);
            let gone = seen + chrono::Duration::days(1);
            s.scan(
                1,
                ScanScope::Full,
                &seen.to_rfc3339(),
                std::slice::from_ref(&a),
                &coverage(&[22]),
            );
            let d = s.scan(
                2,
                ScanScope::Full,
                &gone.to_rfc3339(),
                &[],
                &coverage(&[22]),
            );
            assert_eq!(d.resolved.len(), 1, "day {day}");
        }
        assert_eq!(s.records[&a.finding_id].history.len(), MAX_HISTORY);
    }

    #[test]
    fn records_written_before_resolution_existed_still_decode() {
        let old = r#"{"first_observed_at":"2026-01-01T00:00:00Z","last_observed_at":"2026-01-02T00:00:00Z","last_scan":"00000000-0000-0000-0000-000000000001"}"#;
        let r: FingerprintRecord = serde_json::from_str(old).unwrap();
        assert_eq!(r.status, FindingStatus::Open);
        assert!(!r.reopened && r.history.is_empty() && r.resolved_at.is_none());
    }
}
