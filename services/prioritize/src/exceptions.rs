//! Exceptions (risk acceptance), pure: which active exception covers a
//! finding, which exceptions are due to expire, and what a grant, a
//! revocation or an expiry does to the stored record.
//!
//! An exception covers one finding (`finding` target) or every finding with
//! a CVE (`cve` target, compared case-insensitively). It applies from the
//! moment prioritize reads the grant until `expires_at` (exclusive, UTC) or
//! its revocation. While it applies, decisions about the findings it covers
//! carry its `exception_id`, so schedule leaves them out of bundles and
//! report out of non-compliance; the SLA clock keeps running, so at expiry
//! the finding comes back with its original `first_observed_at` and
//! `due_at` (possibly already past).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use events::{ExceptionGranted, ExceptionTarget};

/// One active exception (the value of the `index.exceptions` map, keyed by
/// exception id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveException {
    /// What it covers.
    pub target: ExceptionTarget,
    /// When it was granted (UTC).
    pub granted_at: DateTime<Utc>,
    /// When it stops applying (UTC, exclusive).
    pub expires_at: DateTime<Utc>,
}

impl ActiveException {
    /// Whether it covers a finding with id `finding_id` and CVEs `cves` at
    /// `now` (before `expires_at`).
    pub fn covers(&self, finding_id: Uuid, cves: &[String], now: DateTime<Utc>) -> bool {
        now < self.expires_at && targets(&self.target, finding_id, cves)
    }
}

/// Whether `target` names the finding (by id, or by one of its CVEs,
/// case-insensitively).
pub fn targets(target: &ExceptionTarget, finding_id: Uuid, cves: &[String]) -> bool {
    match target {
        ExceptionTarget::Finding { finding_id: f } => *f == finding_id,
        ExceptionTarget::Cve { cve } => cves.iter().any(|c| c.eq_ignore_ascii_case(cve)),
    }
}

/// Active exceptions by id.
pub type ExceptionIndex = BTreeMap<Uuid, ActiveException>;

/// The exception that covers the finding at `now`, if any: the earliest
/// granted (then the smallest id), so the choice is stable.
pub fn covering(
    index: &ExceptionIndex,
    finding_id: Uuid,
    cves: &[String],
    now: DateTime<Utc>,
) -> Option<Uuid> {
    index
        .iter()
        .filter(|(_, e)| e.covers(finding_id, cves, now))
        .min_by_key(|(id, e)| (e.granted_at, **id))
        .map(|(id, _)| *id)
}

/// Exceptions whose `expires_at` is at or before `now`, earliest first.
pub fn due_to_expire(index: &ExceptionIndex, now: DateTime<Utc>) -> Vec<Uuid> {
    let mut due: Vec<(DateTime<Utc>, Uuid)> = index
        .iter()
        .filter(|(_, e)| e.expires_at <= now)
        .map(|(id, e)| (e.expires_at, *id))
        .collect();
    due.sort();
    due.into_iter().map(|(_, id)| id).collect()
}

/// How an exception ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    /// It reached `expires_at`.
    Expired,
    /// An operator revoked it.
    Revoked,
}

/// The end of an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// Expired or revoked.
    pub kind: EndKind,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// What prioritize stores per exception (KV `exception.<id>`), so a
/// redelivered grant never revives an ended exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRecord {
    /// The exception as granted.
    pub active: ActiveException,
    /// Its end, once ended.
    #[serde(default)]
    pub ended: Option<Ended>,
}

/// What to do with a `patch.exception.granted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Store this record and make the exception active.
    Activate(ExceptionRecord),
    /// Already known and active (a redelivery): re-apply it.
    Active(ActiveException),
    /// Already ended: nothing to do.
    Ended,
}

/// Decides a grant against the stored record, if any.
pub fn grant(stored: Option<&ExceptionRecord>, g: &ExceptionGranted) -> Grant {
    match stored {
        Some(r) if r.ended.is_some() => Grant::Ended,
        Some(r) => Grant::Active(r.active.clone()),
        None => Grant::Activate(ExceptionRecord {
            active: ActiveException {
                target: g.target.clone(),
                granted_at: g.granted_at,
                expires_at: g.expires_at,
            },
            ended: None,
        }),
    }
}

/// Ends a stored exception (`None` when it had already ended: keep the
/// first end).
pub fn end(stored: &ExceptionRecord, kind: EndKind, at: DateTime<Utc>) -> Option<ExceptionRecord> {
    if stored.ended.is_some() {
        return None;
    }
    Some(ExceptionRecord {
        active: stored.active.clone(),
        ended: Some(Ended { kind, at }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn active(target: ExceptionTarget, granted: &str, expires: &str) -> ActiveException {
        ActiveException {
            target,
            granted_at: utc(granted),
            expires_at: utc(expires),
        }
    }

    fn cve(c: &str) -> ExceptionTarget {
        ExceptionTarget::Cve { cve: c.to_owned() }
    }

    fn finding(n: u128) -> ExceptionTarget {
        ExceptionTarget::Finding { finding_id: id(n) }
    }

    struct Case {
        name: &'static str,
        index: Vec<(u128, ActiveException)>,
        finding: u128,
        cves: &'static [&'static str],
        now: &'static str,
        covering: Option<u128>,
        expiring: &'static [u128],
    }

    fn check(c: Case) {
        let index: ExceptionIndex = c.index.into_iter().map(|(n, e)| (id(n), e)).collect();
        let cves: Vec<String> = c.cves.iter().map(|s| (*s).to_owned()).collect();
        let now = utc(c.now);
        assert_eq!(
            covering(&index, id(c.finding), &cves, now),
            c.covering.map(id),
            "{}: covering",
            c.name
        );
        assert_eq!(
            due_to_expire(&index, now),
            c.expiring.iter().map(|n| id(*n)).collect::<Vec<_>>(),
            "{}: expiring",
            c.name
        );
    }

    #[test]
    fn coverage_and_expiry() {
        let t0 = "2026-03-01T00:00:00Z";
        check(Case {
            name: "a finding exception covers its finding only",
            index: vec![(1, active(finding(7), t0, "2026-04-01T00:00:00Z"))],
            finding: 7,
            cves: &[],
            now: "2026-03-15T00:00:00Z",
            covering: Some(1),
            expiring: &[],
        });
        check(Case {
            name: "another finding is not covered",
            index: vec![(1, active(finding(7), t0, "2026-04-01T00:00:00Z"))],
            finding: 8,
            cves: &["CVE-2026-0001"],
            now: "2026-03-15T00:00:00Z",
            covering: None,
            expiring: &[],
        });
        check(Case {
            name: "a CVE exception covers any finding with the CVE, any case",
            index: vec![(2, active(cve("cve-2026-0001"), t0, "2026-04-01T00:00:00Z"))],
            finding: 8,
            cves: &["CVE-2025-9999", "CVE-2026-0001"],
            now: "2026-03-15T00:00:00Z",
            covering: Some(2),
            expiring: &[],
        });
        check(Case {
            name: "expires_at is exclusive and due for expiry",
            index: vec![(1, active(finding(7), t0, "2026-04-01T00:00:00Z"))],
            finding: 7,
            cves: &[],
            now: "2026-04-01T00:00:00Z",
            covering: None,
            expiring: &[1],
        });
        check(Case {
            name: "the earliest granted of two wins; both expire in order",
            index: vec![
                (
                    9,
                    active(
                        cve("CVE-2026-0001"),
                        "2026-02-01T00:00:00Z",
                        "2026-03-20T00:00:00Z",
                    ),
                ),
                (3, active(finding(7), t0, "2026-03-10T00:00:00Z")),
            ],
            finding: 7,
            cves: &["CVE-2026-0001"],
            now: "2026-03-05T00:00:00Z",
            covering: Some(9),
            expiring: &[],
        });
        check(Case {
            name: "after one expired the other still covers",
            index: vec![
                (9, active(cve("CVE-2026-0001"), t0, "2026-03-20T00:00:00Z")),
                (3, active(finding(7), t0, "2026-03-10T00:00:00Z")),
            ],
            finding: 7,
            cves: &["CVE-2026-0001"],
            now: "2026-03-15T00:00:00Z",
            covering: Some(9),
            expiring: &[3],
        });
    }

    #[test]
    fn grants_and_ends() {
        let g = ExceptionGranted {
            exception_id: id(1),
            target: finding(7),
            owner: "ops".to_owned(),
            reason: "compensating control".to_owned(),
            granted_by: "alice".to_owned(),
            granted_at: utc("2026-03-01T00:00:00Z"),
            expires_at: utc("2026-04-01T00:00:00Z"),
        };
        let Grant::Activate(record) = grant(None, &g) else {
            panic!("a new grant activates");
        };
        assert_eq!(record.active.expires_at, g.expires_at);
        assert_eq!(
            grant(Some(&record), &g),
            Grant::Active(record.active.clone())
        );
        let at = utc("2026-03-10T00:00:00Z");
        let ended = end(&record, EndKind::Revoked, at).unwrap();
        assert_eq!(
            ended.ended,
            Some(Ended {
                kind: EndKind::Revoked,
                at
            })
        );
        assert_eq!(grant(Some(&ended), &g), Grant::Ended);
        assert_eq!(end(&ended, EndKind::Expired, g.expires_at), None);
    }
}
