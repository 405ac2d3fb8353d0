//! Re-prioritization, pure: what prioritize remembers per finding so it can
//! decide again without a new observation, which findings new intelligence
//! touches, and the delta decision itself.
//!
//! When a CVE enters the CISA KEV catalog (a `patch.bulletin.kev_added`, or a
//! reloaded catalog), leaves it or changes its due date, or its FIRST EPSS
//! probability crosses a policy threshold (a reloaded EPSS file), or a vendor
//! advisory states it is exploited in the wild ([`apply_advisory`]), every
//! **open** finding with that CVE is decided again with [`redecide`]: a
//! `patch.finding.prioritized` with `trigger: intel` and `previous` is
//! published only when the class or `due_at` changed. An exception granted,
//! revoked or expired re-publishes the decisions it covers with
//! `trigger: exception` (the `exception_id` changed). The SLA rules of
//! [`crate::stage::decide`] hold for every re-decision: same clock start,
//! a deadline never moves later.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use events::{
    AdvisoryPublished, DecisionTrigger, FindingObserved, FindingResolved, KevAdded, KevInput,
};

use crate::intel::{EpssTable, ExploitedAdvisory, Intel, KevCatalog};
use crate::policy::Policy;
use crate::stage::{Decision, PreviousDecision, decide};

/// What prioritize keeps per finding (KV `finding.<id>`): the last decision
/// (flattened, so records stored as a bare [`PreviousDecision`] still load),
/// the last observation (what [`decide`] needs to decide again), whether it
/// is resolved, the bundles that contain it and its exception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The last decision's SLA memory.
    #[serde(flatten)]
    pub decision: PreviousDecision,
    /// The last observation; `None` in records stored before it was kept
    /// (such a finding is re-decided at its next observation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<FindingObserved>,
    /// When a rescan proved it gone (UTC); `None` while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Bundles planned with it (`patch.bundle.planned` targets).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub bundles: BTreeSet<Uuid>,
    /// The exception its last decision carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<Uuid>,
}

impl FindingRecord {
    /// Open: not resolved (or observed again after its resolution).
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// Its CVEs (from the last observation; none without one).
    pub fn cves(&self) -> &[String] {
        self.observation.as_ref().map_or(&[], |o| o.cves.as_slice())
    }

    /// The asset it is on (empty without an observation).
    pub fn asset_id(&self) -> &str {
        self.observation
            .as_ref()
            .map_or("", |o| o.asset.asset_id.as_str())
    }
}

/// CVE index keys to write and delete (`cve.<CVE>.<finding id>`): a finding
/// is in the index of each of its CVEs while it is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexChange {
    /// CVEs to index the finding under.
    pub add: Vec<String>,
    /// CVEs to take it out of.
    pub remove: Vec<String>,
}

/// The record after an observation was decided (`decision` is what was
/// published), and the index change it needs:
///
/// - a first observation indexes every CVE;
/// - an observation after the recorded resolution (`observed_at >
///   resolved_at`) reopens the finding and indexes every CVE again;
/// - an observation at or before the resolution (an old report
///   re-imported) leaves the finding resolved and the index alone;
/// - an observation of an open finding indexes CVEs it gained and drops
///   those it lost.
pub fn observe(
    stored: Option<&FindingRecord>,
    finding: &FindingObserved,
    decision: &Decision,
) -> (FindingRecord, IndexChange) {
    let record = |resolved_at, bundles: BTreeSet<Uuid>| FindingRecord {
        decision: decision.state.clone(),
        observation: Some(finding.clone()),
        resolved_at,
        bundles,
        exception_id: decision.prioritized.exception_id,
    };
    let all = IndexChange {
        add: finding.cves.clone(),
        remove: Vec::new(),
    };
    match stored {
        None => (record(None, BTreeSet::new()), all),
        Some(s) => match s.resolved_at {
            Some(resolved) if finding.observed_at <= resolved => (
                record(Some(resolved), s.bundles.clone()),
                IndexChange::default(),
            ),
            Some(_) => (record(None, s.bundles.clone()), all),
            None => {
                let old: BTreeSet<&String> = s.cves().iter().collect();
                let new: BTreeSet<&String> = finding.cves.iter().collect();
                let change = if s.observation.is_none() {
                    all
                } else {
                    IndexChange {
                        add: new.difference(&old).map(|c| (*c).clone()).collect(),
                        remove: old.difference(&new).map(|c| (*c).clone()).collect(),
                    }
                };
                (record(None, s.bundles.clone()), change)
            }
        },
    }
}

/// The record after a `patch.finding.resolved`, and the CVEs to take it out
/// of the index; `None` when nothing changes: the finding is unknown,
/// already resolved, or was observed after the rescan that resolved it
/// (`observed_at > resolved_at`: the resolution is stale).
pub fn resolve(
    stored: Option<&FindingRecord>,
    resolved: &FindingResolved,
) -> Option<(FindingRecord, Vec<String>)> {
    let s = stored?;
    if !s.is_open() {
        return None;
    }
    if s.observation
        .as_ref()
        .is_some_and(|o| o.observed_at > resolved.resolved_at)
    {
        return None;
    }
    let mut next = s.clone();
    next.resolved_at = Some(resolved.resolved_at);
    Some((next, s.cves().to_vec()))
}

/// Decides an open finding again from its record (new intel, or an
/// exception change), with `trigger` and `exception_id` set on the output.
///
/// Returns `None` when there is nothing to publish: no observation kept,
/// or the class, `due_at` and exception are all unchanged. The SLA clock is
/// the record's (the same `first_observed_at`, a deadline never extended),
/// so an exception's expiry brings the finding back with its original
/// clock.
pub fn redecide(
    policy: &Policy,
    intel: &Intel,
    record: &FindingRecord,
    trigger: DecisionTrigger,
    exception_id: Option<Uuid>,
) -> Option<Decision> {
    let d = restate(policy, intel, record, trigger, exception_id)?;
    let changed = d.state.priority != record.decision.priority
        || d.state.due_at != record.decision.due_at
        || exception_id != record.exception_id;
    changed.then_some(d)
}

/// [`redecide`] that returns the decision even when nothing changed
/// against `record` (`None` only without an observation). The end of an
/// exception (revoked, expired) restates every decision it covered: the
/// last decision *published* for a finding may carry the exception while
/// its record does not (prioritize published, then stopped before saving
/// the record), and only a restatement makes the stream's last word right.
pub fn restate(
    policy: &Policy,
    intel: &Intel,
    record: &FindingRecord,
    trigger: DecisionTrigger,
    exception_id: Option<Uuid>,
) -> Option<Decision> {
    let observation = record.observation.as_ref()?;
    let mut d = decide(policy, intel, observation, Some(&record.decision));
    d.prioritized.trigger = trigger;
    d.prioritized.exception_id = exception_id;
    Some(d)
}

/// Adds one KEV entry (a `patch.bulletin.kev_added`) to the intel tables,
/// creating the KEV table when none was loaded (its version is the entry's
/// catalog version, `released` the bulletin's time). Returns `true` when the
/// table changed (a new CVE, or new dates for a listed one).
pub fn add_kev_entry(intel: &mut Intel, entry: &KevInput, released: DateTime<Utc>) -> bool {
    let catalog = intel.kev.get_or_insert_with(|| KevCatalog {
        catalog_version: entry.catalog_version.clone(),
        released,
        entries: Default::default(),
        warnings: Vec::new(),
    });
    let cve = entry.cve.to_ascii_uppercase();
    if catalog.entries.get(&cve) == Some(entry) {
        return false;
    }
    let mut entry = entry.clone();
    entry.cve.clone_from(&cve);
    catalog.entries.insert(cve, entry);
    true
}

/// One line for a `trigger: intel` of a KEV addition.
pub fn kev_added_detail(entry: &KevInput) -> String {
    format!(
        "{} added to the CISA KEV catalog {} (dateAdded {}, dueDate {})",
        entry.cve, entry.catalog_version, entry.date_added, entry.due_date
    )
}

/// The reason of an emergency opened by a KEV addition.
pub fn kev_emergency_reason(k: &KevAdded) -> String {
    let name = if k.vulnerability_name.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", k.vulnerability_name.trim())
    };
    format!(
        "CISA KEV added {} on {} (catalog {}){name}",
        k.entry.cve, k.entry.date_added, k.entry.catalog_version
    )
}

/// The CVE ids an advisory says are exploited in the wild (upper case,
/// sorted, de-duplicated); empty unless `exploited` and not `withdrawn`.
pub fn exploited_cves(a: &AdvisoryPublished) -> Vec<String> {
    if !a.exploited || a.withdrawn {
        return Vec::new();
    }
    alias_cves(a).into_iter().collect()
}

/// The CVE ids among an advisory's id and aliases, whatever it states
/// (upper case, sorted, de-duplicated).
fn alias_cves(a: &AdvisoryPublished) -> BTreeSet<String> {
    a.aliases
        .iter()
        .chain(std::iter::once(&a.id))
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| c.starts_with("CVE-"))
        .collect()
}

/// The reason of an emergency opened by an advisory.
pub fn advisory_emergency_reason(a: &AdvisoryPublished) -> String {
    format!(
        "advisory {}{} states exploitation in the wild",
        a.id,
        a.revision
            .as_deref()
            .map(|r| format!(" (revision {r})"))
            .unwrap_or_default()
    )
}

/// Applies an advisory to the CVEs stated exploited (KV `intel.exploited`,
/// [`Intel::exploited`]: CVE upper case → [`ExploitedAdvisory`]); `stated`
/// is [`ExploitedAdvisory::of`] the advisory.
///
/// - Exploited and not withdrawn: each of its CVEs ([`exploited_cves`])
///   not yet stated exploited is added; one already stated by another
///   advisory keeps the earlier-dated statement; a revision of the same
///   advisory keeps its first date.
/// - Withdrawn: every CVE whose statement came from this advisory id is
///   removed (the rule stops firing for it; a lowered class keeps its
///   deadline, see [`crate::stage::decide`]).
/// - Otherwise (not exploited): nothing changes.
///
/// Returns the CVEs whose entry changed, upper case and sorted.
pub fn apply_advisory(
    exploited: &mut BTreeMap<String, ExploitedAdvisory>,
    a: &AdvisoryPublished,
    stated: &ExploitedAdvisory,
) -> BTreeSet<String> {
    let mut changed = BTreeSet::new();
    if a.withdrawn {
        exploited.retain(|cve, e| {
            let keep = e.advisory_id != stated.advisory_id;
            if !keep {
                changed.insert(cve.clone());
            }
            keep
        });
        return changed;
    }
    for cve in exploited_cves(a) {
        let replace = match exploited.get(&cve) {
            None => true,
            Some(e) => e.advisory_id != stated.advisory_id && stated.date < e.date,
        };
        if replace {
            exploited.insert(cve.clone(), stated.clone());
            changed.insert(cve);
        }
    }
    changed
}

/// The CVEs an advisory's re-decision covers: those it states exploited,
/// or, when withdrawn, those whose statement came from it in `exploited`
/// and its own CVE aliases (so a redelivered withdrawal still re-decides
/// them); upper case, sorted.
pub fn advisory_cves(
    exploited: &BTreeMap<String, ExploitedAdvisory>,
    a: &AdvisoryPublished,
) -> BTreeSet<String> {
    if a.withdrawn {
        let id = a.id.trim();
        let mut cves = alias_cves(a);
        cves.extend(
            exploited
                .iter()
                .filter(|(_, e)| e.advisory_id == id)
                .map(|(cve, _)| cve.clone()),
        );
        cves
    } else {
        exploited_cves(a).into_iter().collect()
    }
}

/// One line for a `trigger: intel` (source `advisory`) of an advisory:
/// its id, revision and date, and what it states.
pub fn advisory_detail(a: &AdvisoryPublished, stated: &ExploitedAdvisory) -> String {
    let revision = a
        .revision
        .as_deref()
        .map(|r| format!(", revision {r}"))
        .unwrap_or_default();
    let date = stated
        .date
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if a.withdrawn {
        format!(
            "advisory {} ({date}{revision}) was withdrawn: it no longer states exploitation",
            stated.advisory_id
        )
    } else {
        format!(
            "advisory {} ({date}{revision}) states {} exploited in the wild",
            stated.advisory_id,
            exploited_cves(a).join(", ")
        )
    }
}

/// CVEs whose KEV standing differs between two catalogs, each with one
/// line saying how: added, removed, or a changed due date.
pub fn kev_changes(old: Option<&KevCatalog>, new: &KevCatalog) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (cve, e) in &new.entries {
        match old.and_then(|o| o.entries.get(cve)) {
            None => {
                out.insert(cve.clone(), kev_added_detail(e));
            }
            Some(before) if before.due_date != e.due_date => {
                out.insert(
                    cve.clone(),
                    format!(
                        "KEV dueDate of {cve} moved from {} to {} (catalog {})",
                        before.due_date, e.due_date, new.catalog_version
                    ),
                );
            }
            Some(_) => {}
        }
    }
    if let Some(o) = old {
        for cve in o.entries.keys() {
            if !new.entries.contains_key(cve) {
                out.insert(
                    cve.clone(),
                    format!(
                        "{cve} is no longer in the CISA KEV catalog {}",
                        new.catalog_version
                    ),
                );
            }
        }
    }
    out
}

/// One EPSS reading in a re-decision's text: the value, or `not scored`
/// for a CVE the file does not list (which the policy counts as 0.0).
fn reading(value: Option<f64>) -> String {
    value.map_or_else(|| "not scored".to_owned(), |v| v.to_string())
}

/// CVEs whose EPSS probability crossed one of `thresholds` (either way)
/// between two EPSS files (a CVE absent from a file counts as 0.0 and
/// reads `not scored`), each with one line giving both readings.
pub fn epss_crossings(
    old: Option<&EpssTable>,
    new: &EpssTable,
    thresholds: &[f64],
) -> BTreeMap<String, String> {
    let prob =
        |t: Option<&EpssTable>, cve: &str| t.and_then(|t| t.scores.get(cve)).map(|(p, _)| *p);
    let mut cves: BTreeSet<&String> = new.scores.keys().collect();
    if let Some(o) = old {
        cves.extend(o.scores.keys());
    }
    let mut out = BTreeMap::new();
    for cve in cves {
        let (was, is) = (prob(old, cve), prob(Some(new), cve));
        let (before, after) = (was.unwrap_or(0.0), is.unwrap_or(0.0));
        let crossed: Vec<f64> = thresholds
            .iter()
            .copied()
            .filter(|t| (before >= *t) != (after >= *t))
            .collect();
        if let Some(t) = crossed.first() {
            out.insert(
                cve.clone(),
                format!(
                    "EPSS probability of {cve} {} from {} to {}, crossing {t} (score_date {}, model {})",
                    if after > before { "rose" } else { "fell" },
                    reading(was),
                    reading(is),
                    new.score_date.format("%Y-%m-%d"),
                    new.model_version.as_deref().unwrap_or("unstated")
                ),
            );
        }
    }
    out
}

/// CVEs whose EPSS percentile crossed `threshold` (either way) between two
/// EPSS files (a CVE absent from a file, or without a percentile, counts
/// as 0.0 and reads `not scored`): the policy's optional `epss.percentile_threshold`. CVEs in
/// `skip` (already changed by their probability) are left out.
pub fn epss_percentile_crossings(
    old: Option<&EpssTable>,
    new: &EpssTable,
    threshold: f64,
    skip: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let pct =
        |t: Option<&EpssTable>, cve: &str| t.and_then(|t| t.scores.get(cve)).and_then(|(_, p)| *p);
    let mut cves: BTreeSet<&String> = new.scores.keys().collect();
    if let Some(o) = old {
        cves.extend(o.scores.keys());
    }
    let mut out = BTreeMap::new();
    for cve in cves {
        if skip.contains_key(cve) {
            continue;
        }
        let (was, is) = (pct(old, cve), pct(Some(new), cve));
        let (before, after) = (was.unwrap_or(0.0), is.unwrap_or(0.0));
        if (before >= threshold) != (after >= threshold) {
            out.insert(
                cve.clone(),
                format!(
                    "EPSS percentile of {cve} {} from {} to {}, crossing {threshold} (score_date {}, model {})",
                    if after > before { "rose" } else { "fell" },
                    reading(was),
                    reading(is),
                    new.score_date.format("%Y-%m-%d"),
                    new.model_version.as_deref().unwrap_or("unstated")
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use events::{Asset, Check, CvssVector, CvssVersion, Priority, Remediation, Severity};

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const T0: &str = "2026-03-01T10:00:00Z";
    const CVE: &str = "CVE-2026-0001";
    const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"; // 5.3

    fn observed(cves: &[&str], observed_at: &str) -> FindingObserved {
        FindingObserved {
            finding_id: Uuid::from_u128(1),
            fingerprint: "nessus:v1:web-1:10001:443/tcp".to_owned(),
            scan_id: Uuid::from_u128(2),
            asset: Asset {
                asset_id: "web-1".to_owned(),
                ring: Some("prod".to_owned()),
                ..Asset::default()
            },
            check: Check {
                scanner: "nessus".to_owned(),
                id: "10001".to_owned(),
                name: "Example".to_owned(),
                family: None,
            },
            port: 443,
            protocol: "tcp".to_owned(),
            service: None,
            severity: Severity::Medium,
            cves: cves.iter().map(|c| (*c).to_owned()).collect(),
            cwes: vec![],
            cvss: vec![CvssVector {
                version: CvssVersion::V3_1,
                vector: MEDIUM.to_owned(),
                reported_score: None,
                source: "nvd".to_owned(),
            }],
            remediation: Remediation::Advisory {
                id: "RHSA-2026:0001".to_owned(),
            },
            observed_at: utc(observed_at),
            first_observed_at: utc(T0),
            package: None,
            fix_state: None,
            reopened: false,
        }
    }

    fn kev(cve: &str, due: &str) -> KevInput {
        KevInput {
            cve: cve.to_owned(),
            date_added: "2026-03-02".parse::<NaiveDate>().unwrap(),
            due_date: due.parse::<NaiveDate>().unwrap(),
            known_ransomware: None,
            catalog_version: "2026.03.02".to_owned(),
        }
    }

    fn catalog(entries: &[KevInput]) -> KevCatalog {
        KevCatalog {
            catalog_version: "2026.03.02".to_owned(),
            released: utc("2026-03-02T00:00:00Z"),
            entries: entries.iter().map(|e| (e.cve.clone(), e.clone())).collect(),
            warnings: vec![],
        }
    }

    fn epss(rows: &[(&str, f64)]) -> EpssTable {
        EpssTable {
            model_version: Some("v2025.03.14".to_owned()),
            score_date: utc("2026-03-02T00:00:00Z"),
            scores: rows
                .iter()
                .map(|(c, p)| ((*c).to_owned(), (*p, None)))
                .collect(),
            warnings: vec![],
        }
    }

    /// One step of a finding's life.
    enum Step {
        /// Observed (CVEs, observed_at), decided with the intel so far.
        Observe(&'static [&'static str], &'static str),
        /// Resolved by a rescan at this instant.
        Resolve(&'static str),
        /// A KEV entry (due date) for [`CVE`] is added, then re-decided.
        KevAdded(&'static str),
        /// An exception starts (`Some`) or ends (`None`): re-decided.
        Exception(Option<u128>),
    }

    /// What a step must give.
    #[derive(Debug, PartialEq)]
    struct Expect {
        /// `Some((priority, due_at, previous priority))` when a decision is
        /// published.
        published: Option<(Priority, String, Option<Priority>)>,
        open: bool,
        index: IndexChange,
    }

    fn pubd(
        p: Priority,
        due: &str,
        prev: Option<Priority>,
    ) -> Option<(Priority, String, Option<Priority>)> {
        Some((p, due.to_owned(), prev))
    }

    fn idx(add: &[&str], remove: &[&str]) -> IndexChange {
        IndexChange {
            add: add.iter().map(|c| (*c).to_owned()).collect(),
            remove: remove.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn check(name: &str, steps: Vec<(Step, Expect)>) {
        let policy = Policy::default();
        let mut intel = Intel::default();
        let mut record: Option<FindingRecord> = None;
        for (i, (step, want)) in steps.into_iter().enumerate() {
            let (published, index) = match step {
                Step::Observe(cves, at) => {
                    let f = observed(cves, at);
                    let mut d = decide(&policy, &intel, &f, record.as_ref().map(|r| &r.decision));
                    // The adapter marks the decision with the exception in force.
                    d.prioritized.exception_id = record.as_ref().and_then(|r| r.exception_id);
                    let (next, index) = observe(record.as_ref(), &f, &d);
                    record = Some(next);
                    (Some(d.prioritized), index)
                }
                Step::Resolve(at) => {
                    let r = FindingResolved {
                        finding_id: Uuid::from_u128(1),
                        fingerprint: String::new(),
                        asset_id: "web-1".to_owned(),
                        scan_id: Uuid::from_u128(3),
                        resolved_at: utc(at),
                    };
                    match resolve(record.as_ref(), &r) {
                        Some((next, removed)) => {
                            record = Some(next);
                            (
                                None,
                                idx(&[], &removed.iter().map(String::as_str).collect::<Vec<_>>()),
                            )
                        }
                        None => (None, IndexChange::default()),
                    }
                }
                Step::KevAdded(due) => {
                    add_kev_entry(&mut intel, &kev(CVE, due), utc(T0));
                    let r = record.clone().unwrap();
                    let trigger = DecisionTrigger::Intel {
                        source: "kev".to_owned(),
                        detail: kev_added_detail(&kev(CVE, due)),
                    };
                    let out = redecide(&policy, &intel, &r, trigger.clone(), r.exception_id);
                    if let Some(d) = &out {
                        assert_eq!(d.prioritized.trigger, trigger, "{name} step {i}");
                        record = Some(FindingRecord {
                            decision: d.state.clone(),
                            ..r
                        });
                    }
                    (out.map(|d| d.prioritized), IndexChange::default())
                }
                Step::Exception(id) => {
                    let r = record.clone().unwrap();
                    let id = id.map(Uuid::from_u128);
                    let trigger = DecisionTrigger::Exception {
                        exception_id: id.unwrap_or_default(),
                    };
                    let out = redecide(&policy, &intel, &r, trigger, id);
                    if let Some(d) = &out {
                        assert_eq!(d.prioritized.exception_id, id, "{name} step {i}");
                        record = Some(FindingRecord {
                            decision: d.state.clone(),
                            exception_id: id,
                            ..r
                        });
                    }
                    (out.map(|d| d.prioritized), IndexChange::default())
                }
            };
            let got = Expect {
                published: published.as_ref().map(|p| {
                    (
                        p.priority,
                        p.due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        p.previous.as_ref().map(|x| x.priority),
                    )
                }),
                open: record.as_ref().is_some_and(FindingRecord::is_open),
                index,
            };
            assert_eq!(got, want, "{name} step {i}");
        }
    }

    #[test]
    fn a_finding_through_intel_and_exceptions() {
        check(
            "KEV raises an open medium finding to critical, once",
            vec![
                (
                    Step::Observe(&[CVE], T0),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: idx(&[CVE], &[]),
                    },
                ),
                (
                    Step::KevAdded("2026-03-23"),
                    Expect {
                        published: pubd(
                            Priority::Critical,
                            "2026-03-04T10:00:00Z",
                            Some(Priority::Medium),
                        ),
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
                (
                    Step::KevAdded("2026-03-23"),
                    Expect {
                        published: None,
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
            ],
        );
        check(
            "a KEV due date earlier than the SLA becomes the deadline",
            vec![
                (
                    Step::Observe(&[CVE], T0),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: idx(&[CVE], &[]),
                    },
                ),
                (
                    Step::KevAdded("2026-03-02"),
                    Expect {
                        published: pubd(
                            Priority::Critical,
                            "2026-03-02T23:59:59Z",
                            Some(Priority::Medium),
                        ),
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
            ],
        );
        check(
            "an exception is marked, and its end restores the original clock",
            vec![
                (
                    Step::Observe(&[CVE], T0),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: idx(&[CVE], &[]),
                    },
                ),
                (
                    Step::Exception(Some(9)),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
                (
                    Step::Observe(&[CVE], "2026-04-15T00:00:00Z"),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
                (
                    Step::Exception(None),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
                (
                    Step::Exception(None),
                    Expect {
                        published: None,
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
            ],
        );
        check(
            "resolved findings leave the index; an old report does not reopen; a new one does",
            vec![
                (
                    Step::Observe(&[CVE, "CVE-2026-0002"], T0),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: idx(&[CVE, "CVE-2026-0002"], &[]),
                    },
                ),
                (
                    Step::Observe(&[CVE, "CVE-2026-0003"], "2026-03-02T10:00:00Z"),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: idx(&["CVE-2026-0003"], &["CVE-2026-0002"]),
                    },
                ),
                (
                    Step::Resolve("2026-03-01T12:00:00Z"),
                    Expect {
                        published: None,
                        open: true,
                        index: IndexChange::default(),
                    },
                ),
                (
                    Step::Resolve("2026-03-05T00:00:00Z"),
                    Expect {
                        published: None,
                        open: false,
                        index: idx(&[], &[CVE, "CVE-2026-0003"]),
                    },
                ),
                (
                    Step::Resolve("2026-03-06T00:00:00Z"),
                    Expect {
                        published: None,
                        open: false,
                        index: IndexChange::default(),
                    },
                ),
                (
                    Step::Observe(&[CVE], "2026-03-04T00:00:00Z"),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: false,
                        index: IndexChange::default(),
                    },
                ),
                (
                    Step::Observe(&[CVE], "2026-03-07T00:00:00Z"),
                    Expect {
                        published: pubd(Priority::Medium, "2026-03-31T10:00:00Z", None),
                        open: true,
                        index: idx(&[CVE], &[]),
                    },
                ),
            ],
        );
    }

    #[test]
    fn records_stored_as_bare_decisions_still_load() {
        let r: FindingRecord = serde_json::from_str(
            r#"{"first_observed_at":"2026-03-01T10:00:00Z","due_at":"2026-03-04T10:00:00Z","priority":"critical"}"#,
        )
        .unwrap();
        assert!(r.is_open());
        assert_eq!(r.observation, None);
        assert_eq!(r.decision.priority, Priority::Critical);
        // Without an observation there is nothing to decide again.
        let trigger = DecisionTrigger::Exception {
            exception_id: Uuid::nil(),
        };
        assert!(
            redecide(
                &Policy::default(),
                &Intel::default(),
                &r,
                trigger,
                Some(Uuid::nil())
            )
            .is_none()
        );
    }

    #[test]
    fn kev_catalog_changes() {
        let old = catalog(&[
            kev("CVE-2026-0001", "2026-03-23"),
            kev("CVE-2026-0002", "2026-03-23"),
        ]);
        let new = catalog(&[
            kev("CVE-2026-0001", "2026-03-20"),
            kev("CVE-2026-0003", "2026-03-23"),
        ]);
        /// The old catalog → (CVE, what the detail says) of every change.
        type Row<'a> = (Option<&'a KevCatalog>, &'a [(&'a str, &'a str)]);
        let table: &[Row<'_>] = &[
            (
                Some(&old),
                &[
                    (
                        "CVE-2026-0001",
                        "KEV dueDate of CVE-2026-0001 moved from 2026-03-23 to 2026-03-20",
                    ),
                    (
                        "CVE-2026-0002",
                        "CVE-2026-0002 is no longer in the CISA KEV catalog",
                    ),
                    (
                        "CVE-2026-0003",
                        "CVE-2026-0003 added to the CISA KEV catalog 2026.03.02",
                    ),
                ],
            ),
            (
                None,
                &[
                    ("CVE-2026-0001", "added to the CISA KEV catalog"),
                    ("CVE-2026-0003", "added to the CISA KEV catalog"),
                ],
            ),
            (Some(&new), &[]),
        ];
        for (before, want) in table {
            let got = kev_changes(*before, &new);
            assert_eq!(
                got.keys().map(String::as_str).collect::<Vec<_>>(),
                want.iter().map(|(c, _)| *c).collect::<Vec<_>>()
            );
            for (cve, needle) in *want {
                assert!(got[*cve].contains(needle), "{}", got[*cve]);
            }
        }
    }

    #[test]
    fn epss_threshold_crossings() {
        let old = epss(&[
            ("CVE-1", 0.05),
            ("CVE-2", 0.2),
            ("CVE-3", 0.5),
            ("CVE-4", 0.09),
        ]);
        let new = epss(&[
            ("CVE-1", 0.1),
            ("CVE-2", 0.05),
            ("CVE-3", 0.45),
            ("CVE-5", 0.3),
        ]);
        /// Thresholds → (CVE, what the detail says) of every crossing.
        type Row<'a> = (&'a [f64], &'a [(&'a str, &'a str)]);
        let table: &[Row<'_>] = &[
            (
                &[0.10],
                &[
                    ("CVE-1", "rose from 0.05 to 0.1, crossing 0.1"),
                    ("CVE-2", "fell from 0.2 to 0.05"),
                    ("CVE-5", "rose from not scored to 0.3"),
                ],
            ),
            // A CVE the newer file leaves out (a partial file) counts as 0.0
            // and says so, rather than reading as a score of 0.
            (
                &[0.05],
                &[
                    ("CVE-4", "fell from 0.09 to not scored, crossing 0.05"),
                    ("CVE-5", "rose from not scored to 0.3, crossing 0.05"),
                ],
            ),
            (
                &[0.10, 0.4],
                &[("CVE-1", "rose"), ("CVE-2", "fell"), ("CVE-5", "rose")],
            ),
            (
                &[0.48],
                &[("CVE-3", "fell from 0.5 to 0.45, crossing 0.48")],
            ),
        ];
        for (thresholds, want) in table {
            let got = epss_crossings(Some(&old), &new, thresholds);
            assert_eq!(
                got.keys().map(String::as_str).collect::<Vec<_>>(),
                want.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
                "{thresholds:?}"
            );
            for (cve, needle) in *want {
                assert!(got[*cve].contains(needle), "{}", got[*cve]);
            }
        }
    }

    #[test]
    fn epss_percentile_crossings_for_the_optional_threshold() {
        let table = |rows: &[(&str, f64, Option<f64>)]| EpssTable {
            scores: rows
                .iter()
                .map(|(c, p, pct)| ((*c).to_owned(), (*p, *pct)))
                .collect(),
            ..epss(&[])
        };
        let old = table(&[
            ("CVE-1", 0.01, Some(0.90)),
            ("CVE-2", 0.02, Some(0.97)),
            ("CVE-3", 0.03, Some(0.80)),
            ("CVE-4", 0.2, Some(0.90)),
        ]);
        let new = table(&[
            ("CVE-1", 0.02, Some(0.96)),
            ("CVE-2", 0.02, Some(0.94)),
            ("CVE-3", 0.03, None),
            ("CVE-4", 0.3, Some(0.99)),
        ]);
        let by_probability: BTreeMap<String, String> =
            [("CVE-4".to_owned(), "probability".to_owned())].into();
        let got = epss_percentile_crossings(Some(&old), &new, 0.95, &by_probability);
        assert_eq!(
            got.keys().map(String::as_str).collect::<Vec<_>>(),
            ["CVE-1", "CVE-2"]
        );
        assert!(
            got["CVE-1"].contains("EPSS percentile of CVE-1 rose from 0.9 to 0.96, crossing 0.95"),
            "{}",
            got["CVE-1"]
        );
        assert!(
            got["CVE-2"].contains("fell from 0.97 to 0.94"),
            "{}",
            got["CVE-2"]
        );
    }

    fn advisory(id: &str, aliases: &[&str], exploited: bool, withdrawn: bool) -> AdvisoryPublished {
        AdvisoryPublished {
            format: events::AdvisoryFormat::Csaf,
            id: id.to_owned(),
            revision: Some("2".to_owned()),
            title: None,
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            published: Some(utc("2026-03-01T12:00:00Z")),
            modified: Some(utc("2026-03-02T06:00:00Z")),
            withdrawn,
            exploited,
            severity: None,
            cvss: vec![],
            affected: vec![],
        }
    }

    #[test]
    fn advisories_update_the_exploited_table() {
        let received = utc("2026-03-02T07:00:00Z");
        let first = advisory("RHSA-2026:0101", &[CVE, "CVE-2026-0002"], true, false);
        let later = AdvisoryPublished {
            modified: Some(utc("2026-03-05T00:00:00Z")),
            ..advisory("DSA-5555-1", &[CVE], true, false)
        };
        let quiet = advisory("DSA-5556-1", &["CVE-2026-0003"], false, false);
        // (advisory, CVEs changed, table after: CVE -> advisory id)
        type Row<'a> = (
            &'a AdvisoryPublished,
            &'a [&'a str],
            &'a [(&'a str, &'a str)],
        );
        let withdrawn = advisory("RHSA-2026:0101", &[CVE], true, true);
        let table: &[Row<'_>] = &[
            (
                &first,
                &[CVE, "CVE-2026-0002"],
                &[(CVE, "RHSA-2026:0101"), ("CVE-2026-0002", "RHSA-2026:0101")],
            ),
            // Redelivered: nothing changes.
            (
                &first,
                &[],
                &[(CVE, "RHSA-2026:0101"), ("CVE-2026-0002", "RHSA-2026:0101")],
            ),
            // A later-dated statement keeps the earlier one.
            (
                &later,
                &[],
                &[(CVE, "RHSA-2026:0101"), ("CVE-2026-0002", "RHSA-2026:0101")],
            ),
            // Not exploited: nothing.
            (
                &quiet,
                &[],
                &[(CVE, "RHSA-2026:0101"), ("CVE-2026-0002", "RHSA-2026:0101")],
            ),
            // Withdrawn: every CVE it stated goes, whatever its aliases now.
            (&withdrawn, &[CVE, "CVE-2026-0002"], &[]),
            // Then the later advisory is the first to state it.
            (&later, &[CVE], &[(CVE, "DSA-5555-1")]),
        ];
        let mut map = BTreeMap::new();
        for (i, (a, changed, after)) in table.iter().enumerate() {
            let stated = ExploitedAdvisory::of(a, received);
            let got = apply_advisory(&mut map, a, &stated);
            let want: BTreeSet<String> = changed.iter().map(|c| (*c).to_owned()).collect();
            assert_eq!(got, want, "row {i}");
            let ids: Vec<(&str, &str)> = map
                .iter()
                .map(|(c, e): (&String, &ExploitedAdvisory)| (c.as_str(), e.advisory_id.as_str()))
                .collect();
            assert_eq!(ids, *after, "row {i}");
        }
        // The date is the last modification, else publication, else receipt.
        let e = ExploitedAdvisory::of(&first, received);
        assert_eq!(e.date, utc("2026-03-02T06:00:00Z"));
        let undated = AdvisoryPublished {
            published: None,
            modified: None,
            ..first.clone()
        };
        assert_eq!(ExploitedAdvisory::of(&undated, received).date, received);
        assert_eq!(
            advisory_detail(&first, &e),
            "advisory RHSA-2026:0101 (2026-03-02T06:00:00Z, revision 2) states CVE-2026-0001, CVE-2026-0002 exploited in the wild"
        );
        // A withdrawal re-decides what it stated and its own CVEs.
        let mut stated = BTreeMap::new();
        apply_advisory(&mut stated, &first, &e);
        let w = advisory("RHSA-2026:0101", &["CVE-2026-0004"], true, true);
        assert_eq!(
            advisory_cves(&stated, &w).into_iter().collect::<Vec<_>>(),
            [CVE, "CVE-2026-0002", "CVE-2026-0004"]
        );
        assert!(advisory_cves(&stated, &quiet).is_empty());
    }

    #[test]
    fn an_exploited_advisory_raises_open_findings() {
        let policy = Policy::default();
        let mut intel = Intel::default();
        let f = observed(&[CVE], T0);
        let d = decide(&policy, &intel, &f, None);
        assert_eq!(d.prioritized.priority, Priority::Medium);
        let (mut record, _) = observe(None, &f, &d);
        let trigger = |a: &AdvisoryPublished, e: &ExploitedAdvisory| DecisionTrigger::Intel {
            source: "advisory".to_owned(),
            detail: advisory_detail(a, e),
        };
        // (advisory, published: (priority, due_at, previous priority))
        type Row = (
            AdvisoryPublished,
            Option<(Priority, &'static str, Priority)>,
        );
        let rows: Vec<Row> = vec![
            // Not exploited: nothing to publish.
            (advisory("DSA-5556-1", &[CVE], false, false), None),
            // Exploited: critical, 72 h from first observation.
            (
                advisory("RHSA-2026:0101", &[CVE], true, false),
                Some((Priority::Critical, "2026-03-04T10:00:00Z", Priority::Medium)),
            ),
            // Redelivered: nothing new.
            (advisory("RHSA-2026:0101", &[CVE], true, false), None),
            // Withdrawn: back to medium, the critical deadline kept.
            (
                advisory("RHSA-2026:0101", &[CVE], true, true),
                Some((Priority::Medium, "2026-03-04T10:00:00Z", Priority::Critical)),
            ),
        ];
        for (i, (a, want)) in rows.into_iter().enumerate() {
            let e = ExploitedAdvisory::of(&a, utc(T0));
            apply_advisory(&mut intel.exploited, &a, &e);
            let out = redecide(&policy, &intel, &record, trigger(&a, &e), None);
            let got = out.as_ref().map(|d| {
                (
                    d.prioritized.priority,
                    d.prioritized
                        .due_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    d.prioritized.previous.as_ref().map(|p| p.priority),
                )
            });
            assert_eq!(
                got,
                want.map(|(p, due, prev)| (p, due.to_owned(), Some(prev))),
                "row {i}"
            );
            if let Some(d) = out {
                assert_eq!(d.prioritized.trigger, trigger(&a, &e), "row {i}");
                record = FindingRecord {
                    decision: d.state,
                    ..record
                };
            }
        }
    }

    #[test]
    fn exploited_advisories() {
        let a = AdvisoryPublished {
            format: events::AdvisoryFormat::Csaf,
            id: "RHSA-2026:0001".to_owned(),
            revision: Some("3".to_owned()),
            title: None,
            aliases: vec![
                "cve-2026-0002".to_owned(),
                "GHSA-xxxx".to_owned(),
                "CVE-2026-0001".to_owned(),
            ],
            published: None,
            modified: None,
            withdrawn: false,
            exploited: true,
            severity: None,
            cvss: vec![],
            affected: vec![],
        };
        assert_eq!(exploited_cves(&a), ["CVE-2026-0001", "CVE-2026-0002"]);
        assert_eq!(
            advisory_emergency_reason(&a),
            "advisory RHSA-2026:0001 (revision 3) states exploitation in the wild"
        );
        let quiet = AdvisoryPublished {
            exploited: false,
            ..a.clone()
        };
        assert!(exploited_cves(&quiet).is_empty());
        let withdrawn = AdvisoryPublished {
            withdrawn: true,
            ..a
        };
        assert!(exploited_cves(&withdrawn).is_empty());
    }
}
