//! `patchflow report findings`: the open findings at an instant, one row
//! each, most urgent first, selected by host, CVE, priority or overdue.
//!
//! The rows are the compliance report's own ([`crate::Projection::compliance`]),
//! so a finding counts as open, overdue or excepted here exactly when it
//! does there: open when an open interval contains the instant, overdue when
//! its `due_at` is before the instant and no exception is active then.

use serde::Serialize;

use crate::query::{ComplianceReport, OpenFinding};
use crate::render::{Align, cell, or_dash, table, whole_seconds};
use events::Priority;

/// Which open findings to list; every set field must match (all unset: every
/// open finding).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    /// The asset id or its host name, compared case-insensitively.
    pub host: Option<String>,
    /// A CVE id the finding lists, compared case-insensitively.
    pub cve: Option<String>,
    /// The finding's latest priority class.
    pub priority: Option<Priority>,
    /// Only findings past their due date without an active exception.
    pub overdue: bool,
}

/// Where a listed finding stands at the report's instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// Past `due_at`, no exception active: it makes its host non-compliant.
    Overdue,
    /// An exception (risk acceptance) is active: never overdue meanwhile.
    Excepted,
    /// Open, not yet due (or not yet prioritized).
    Open,
}

impl FindingState {
    /// `overdue`, `excepted` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingState::Overdue => "overdue",
            FindingState::Excepted => "excepted",
            FindingState::Open => "open",
        }
    }
}

/// One row of the listing: a finding with the host it is on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedFinding {
    /// The asset id.
    pub asset_id: String,
    /// The host name, when known.
    pub hostname: Option<String>,
    /// Overdue, excepted or open.
    pub state: FindingState,
    /// The finding as the compliance report holds it.
    #[serde(flatten)]
    pub finding: OpenFinding,
}

/// The open findings of `report` that `filter` selects, most urgent first:
/// overdue ones, then by `due_at` (earliest first; not yet prioritized
/// last), then by asset and finding id.
pub fn list_findings(report: &ComplianceReport, filter: &FindingFilter) -> Vec<ListedFinding> {
    let mut out: Vec<ListedFinding> = report
        .hosts
        .iter()
        .filter(|h| filter.host.as_deref().is_none_or(|want| names(h, want)))
        .flat_map(|h| {
            h.findings.iter().map(move |f| ListedFinding {
                asset_id: h.asset_id.clone(),
                hostname: h.hostname.clone(),
                state: if f.overdue {
                    FindingState::Overdue
                } else if f.exception_id.is_some() {
                    FindingState::Excepted
                } else {
                    FindingState::Open
                },
                finding: f.clone(),
            })
        })
        .filter(|l| {
            let f = &l.finding;
            filter
                .cve
                .as_deref()
                .is_none_or(|c| f.cves.iter().any(|x| x.eq_ignore_ascii_case(c)))
                && filter.priority.is_none_or(|p| f.priority == Some(p))
                && (!filter.overdue || f.overdue)
        })
        .collect();
    out.sort_by(|x, y| {
        x.finding
            .urgency(&y.finding)
            .then_with(|| x.asset_id.cmp(&y.asset_id))
            .then_with(|| x.finding.finding_id.cmp(&y.finding.finding_id))
    });
    out
}

/// Whether `host` (an asset id or host name, any case) names a host of
/// `report`: `false` tells an unknown host from one with nothing open.
pub fn knows_host(report: &ComplianceReport, host: &str) -> bool {
    report.hosts.iter().any(|h| names(h, host))
}

fn names(h: &crate::query::HostCompliance, want: &str) -> bool {
    h.asset_id.eq_ignore_ascii_case(want)
        || h.hostname
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(want))
}

/// The listing as a table: `DUE  PRIORITY  STATE  HOST  FINDING  CVES
/// CHECK`, instants RFC 3339 UTC in whole seconds, the full finding id (what
/// `patchflow explain` takes), CVEs comma-separated, the check as
/// `<scanner>:<check id> <title>`; then one line `<n> open finding(s) as of
/// <as_of>: <o> overdue, <e> excepted`.
pub fn render_findings(as_of: chrono::DateTime<chrono::Utc>, rows: &[ListedFinding]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|l| {
            let f = &l.finding;
            vec![
                or_dash(f.due_at.map(whole_seconds)),
                or_dash(f.priority.map(|p| p.as_str().to_owned())),
                l.state.as_str().to_owned(),
                cell(l.hostname.as_deref().unwrap_or(&l.asset_id)),
                f.finding_id.to_string(),
                if f.cves.is_empty() {
                    "-".to_owned()
                } else {
                    cell(&f.cves.join(","))
                },
                // One line, however the scanner spaced the title.
                cell(&format!(
                    "{}:{} {}",
                    f.scanner,
                    f.check_id,
                    f.check_name
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
            ]
        })
        .collect();
    let mut out = table(
        &[
            ("DUE", Align::Left),
            ("PRIORITY", Align::Left),
            ("STATE", Align::Left),
            ("HOST", Align::Left),
            ("FINDING", Align::Left),
            ("CVES", Align::Left),
            ("CHECK", Align::Left),
        ],
        &cells,
    );
    let count = |s: FindingState| rows.iter().filter(|l| l.state == s).count();
    out.push_str(&format!(
        "{} as of {}: {} overdue, {} excepted\n",
        crate::summary::count(rows.len(), "open finding"),
        crate::render::whole_seconds(as_of),
        count(FindingState::Overdue),
        count(FindingState::Excepted)
    ));
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::query::{ComplianceStatus, FleetSummary, HostCompliance, PriorityCounts};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn finding(n: u128, cve: &str, priority: Priority, due: &str, as_of: &str) -> OpenFinding {
        OpenFinding {
            finding_id: Uuid::from_u128(n),
            scanner: "nessus".to_owned(),
            check_id: format!("{}", 10_000 + n),
            check_name: format!("Check {n}"),
            cves: vec![cve.to_owned()],
            severity: None,
            opened_at: at("2025-01-01T00:00:00Z"),
            priority: Some(priority),
            due_at: Some(at(due)),
            cvss_base_score: Some(7.5),
            policy_version: Some("default-1".to_owned()),
            overdue: at(due) < at(as_of),
            exception_id: None,
        }
    }

    fn host(id: &str, hostname: Option<&str>, findings: Vec<OpenFinding>) -> HostCompliance {
        HostCompliance {
            asset_id: id.to_owned(),
            hostname: hostname.map(str::to_owned),
            ip: None,
            ring: None,
            tier: None,
            owner: None,
            open: findings.len() as u64,
            overdue: findings.iter().filter(|f| f.overdue).count() as u64,
            open_exposures: 0,
            open_by_priority: PriorityCounts::default(),
            avg_cvss: None,
            last_patched_at: None,
            status: ComplianceStatus::Compliant,
            findings,
        }
    }

    const AS_OF: &str = "2025-01-10T00:00:00Z";

    fn report() -> ComplianceReport {
        let mut excepted = finding(
            4,
            "CVE-2024-0004",
            Priority::Critical,
            "2025-01-03T00:00:00Z",
            AS_OF,
        );
        excepted.overdue = false;
        excepted.exception_id = Some(Uuid::from_u128(99));
        let mut unprioritized = finding(
            5,
            "CVE-2024-0005",
            Priority::Low,
            "2025-01-03T00:00:00Z",
            AS_OF,
        );
        unprioritized.priority = None;
        unprioritized.due_at = None;
        unprioritized.overdue = false;
        ComplianceReport {
            as_of: at(AS_OF),
            hosts: vec![
                host(
                    "asset-a",
                    Some("web-01"),
                    vec![
                        finding(
                            1,
                            "CVE-2024-0001",
                            Priority::High,
                            "2025-01-20T00:00:00Z",
                            AS_OF,
                        ),
                        finding(
                            2,
                            "CVE-2024-0002",
                            Priority::Critical,
                            "2025-01-05T00:00:00Z",
                            AS_OF,
                        ),
                        unprioritized,
                    ],
                ),
                host(
                    "asset-b",
                    None,
                    vec![
                        finding(
                            3,
                            "CVE-2024-0001",
                            Priority::Medium,
                            "2025-01-15T00:00:00Z",
                            AS_OF,
                        ),
                        excepted,
                    ],
                ),
            ],
            fleet: FleetSummary::default(),
        }
    }

    fn ids(rows: &[ListedFinding]) -> Vec<u128> {
        rows.iter()
            .map(|l| l.finding.finding_id.as_u128())
            .collect()
    }

    #[test]
    fn filters_select_and_the_most_urgent_come_first() {
        let r = report();
        let table: &[(FindingFilter, &[u128])] = &[
            // Overdue first, then by due date, unprioritized last.
            (FindingFilter::default(), &[2, 4, 3, 1, 5]),
            (
                FindingFilter {
                    host: Some("WEB-01".to_owned()),
                    ..FindingFilter::default()
                },
                &[2, 1, 5],
            ),
            (
                FindingFilter {
                    host: Some("asset-b".to_owned()),
                    ..FindingFilter::default()
                },
                &[4, 3],
            ),
            (
                FindingFilter {
                    cve: Some("cve-2024-0001".to_owned()),
                    ..FindingFilter::default()
                },
                &[3, 1],
            ),
            (
                FindingFilter {
                    priority: Some(Priority::Critical),
                    ..FindingFilter::default()
                },
                &[2, 4],
            ),
            // An excepted finding past its date is not overdue.
            (
                FindingFilter {
                    overdue: true,
                    ..FindingFilter::default()
                },
                &[2],
            ),
            (
                FindingFilter {
                    host: Some("web-01".to_owned()),
                    cve: Some("CVE-2024-0002".to_owned()),
                    priority: Some(Priority::High),
                    overdue: false,
                },
                &[],
            ),
            (
                FindingFilter {
                    host: Some("nowhere".to_owned()),
                    ..FindingFilter::default()
                },
                &[],
            ),
        ];
        for (filter, want) in table {
            assert_eq!(ids(&list_findings(&r, filter)), *want, "{filter:?}");
        }
        assert!(knows_host(&r, "Web-01") && knows_host(&r, "asset-b"));
        assert!(!knows_host(&r, "nowhere"));
    }

    #[test]
    fn the_table_names_state_host_and_the_full_finding_id() {
        let r = report();
        let rows = list_findings(&r, &FindingFilter::default());
        let text = render_findings(r.as_of, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "DUE                   PRIORITY  STATE     HOST     FINDING                               CVES           CHECK",
                "2025-01-05T00:00:00Z  critical  overdue   web-01   00000000-0000-0000-0000-000000000002  CVE-2024-0002  nessus:10002 Check 2",
                "2025-01-03T00:00:00Z  critical  excepted  asset-b  00000000-0000-0000-0000-000000000004  CVE-2024-0004  nessus:10004 Check 4",
                "2025-01-15T00:00:00Z  medium    open      asset-b  00000000-0000-0000-0000-000000000003  CVE-2024-0001  nessus:10003 Check 3",
                "2025-01-20T00:00:00Z  high      open      web-01   00000000-0000-0000-0000-000000000001  CVE-2024-0001  nessus:10001 Check 1",
                "-                     -         open      web-01   00000000-0000-0000-0000-000000000005  CVE-2024-0005  nessus:10005 Check 5",
                "5 open findings as of 2025-01-10T00:00:00Z: 1 overdue, 1 excepted",
            ]
        );
    }

    #[test]
    fn an_empty_selection_still_says_so() {
        let text = render_findings(at(AS_OF), &[]);
        assert_eq!(
            text,
            "DUE  PRIORITY  STATE  HOST  FINDING  CVES  CHECK\n\
             0 open findings as of 2025-01-10T00:00:00Z: 0 overdue, 0 excepted\n"
        );
    }

    #[test]
    fn json_rows_carry_state_and_the_finding_flat() {
        let r = report();
        let rows = list_findings(
            &r,
            &FindingFilter {
                overdue: true,
                ..FindingFilter::default()
            },
        );
        let v = serde_json::to_value(&rows).unwrap();
        assert_eq!(v[0]["state"], "overdue");
        assert_eq!(v[0]["hostname"], "web-01");
        assert_eq!(v[0]["finding_id"], "00000000-0000-0000-0000-000000000002");
        assert_eq!(v[0]["priority"], "critical");
    }
}
