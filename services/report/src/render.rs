//! Terminal and JSON forms of the reports (`patchflow report … [--json]`).
//!
//! Tables are plain text: a header row, columns separated by two spaces,
//! numbers right-aligned, instants as RFC 3339 UTC, `-` for a missing value,
//! no trailing spaces. Control characters from event data are escaped
//! (`\u{1b}`), so a hostile host name cannot drive the terminal.

use crate::error::ReportError;
use crate::query::{AuditEntry, ComplianceReport, PriorityCounts};
use crate::summary::rfc3339;

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// Escapes control characters (as Rust's `escape_default` does: `\n`,
/// `\u{1b}`) so a table cell or an event field prints as one inert line and
/// a crafted hostname cannot move the cursor or forge a row.
pub(crate) fn cell(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub(crate) fn table(header: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|(h, _)| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let head: Vec<String> = header.iter().map(|(h, _)| (*h).to_owned()).collect();
    for row in std::iter::once(&head).chain(rows) {
        let mut line = String::new();
        for (i, ((c, w), (_, align))) in row.iter().zip(&widths).zip(header).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w.saturating_sub(c.chars().count());
            if *align == Align::Right {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn or_dash(s: Option<String>) -> String {
    s.unwrap_or_else(|| "-".to_owned())
}

/// An instant in a table or a report line, RFC 3339 UTC in whole seconds
/// (`--as-of` defaults to now, whose nanoseconds say nothing to a reader).
pub(crate) fn whole_seconds(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn priorities(p: &PriorityCounts) -> String {
    format!(
        "critical {}, high {}, medium {}, low {}, unprioritized {}",
        p.critical, p.high, p.medium, p.low, p.unprioritized
    )
}

/// The compliance table: `HOST  RING  OPEN  OVERDUE  AVG CVSS  LAST PATCHED
/// STATUS`, one row per host, then one fleet line:
/// `fleet as of <as_of>: <n> hosts, <c> compliant, <n> non-compliant; <o> open
/// (critical …, high …, medium …, low …, unprioritized …), <d> overdue`.
pub fn render_compliance(report: &ComplianceReport) -> String {
    let rows: Vec<Vec<String>> = report
        .hosts
        .iter()
        .map(|h| {
            vec![
                cell(&h.asset_id),
                cell(&or_dash(h.ring.clone())),
                h.open.to_string(),
                h.overdue.to_string(),
                or_dash(h.avg_cvss.map(|s| format!("{s:.1}"))),
                // Whole seconds: a table column, not an event time.
                or_dash(h.last_patched_at.map(whole_seconds)),
                h.status.as_str().to_owned(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            ("HOST", Align::Left),
            ("RING", Align::Left),
            ("OPEN", Align::Right),
            ("OVERDUE", Align::Right),
            ("AVG CVSS", Align::Right),
            ("LAST PATCHED", Align::Left),
            ("STATUS", Align::Left),
        ],
        &rows,
    );
    let f = &report.fleet;
    out.push_str(&format!(
        "fleet as of {}: {}, {} compliant, {} non-compliant; {} open ({}), {} overdue\n",
        whole_seconds(report.as_of),
        crate::summary::count(usize::try_from(f.hosts).unwrap_or(usize::MAX), "host"),
        f.compliant,
        f.non_compliant,
        f.open,
        priorities(&f.open_by_priority),
        f.overdue
    ));
    out
}

/// The audit table: `TIME  TYPE  SUMMARY`, one row per event, in the trail's
/// order.
pub fn render_audit(entries: &[AuditEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| vec![rfc3339(e.time), cell(&e.event_type), cell(&e.summary)])
        .collect();
    table(
        &[
            ("TIME", Align::Left),
            ("TYPE", Align::Left),
            ("SUMMARY", Align::Left),
        ],
        &rows,
    )
}

/// The compliance report as pretty-printed JSON (the serde form of
/// [`ComplianceReport`]: instants RFC 3339 UTC, statuses `COMPLIANT` /
/// `NON_COMPLIANT`).
///
/// # Errors
/// [`ReportError::Json`] if serialisation fails (it does not for these types).
pub fn compliance_json(report: &ComplianceReport) -> Result<String, ReportError> {
    Ok(serde_json::to_string_pretty(report)?)
}

/// The audit trail as a pretty-printed JSON array of [`AuditEntry`].
///
/// # Errors
/// [`ReportError::Json`] if serialisation fails (it does not for these types).
pub fn audit_json(entries: &[AuditEntry]) -> Result<String, ReportError> {
    Ok(serde_json::to_string_pretty(entries)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{ComplianceStatus, FleetSummary, HostCompliance};

    fn host(id: &str, open: u64, overdue: u64, avg: Option<f64>) -> HostCompliance {
        HostCompliance {
            asset_id: id.to_owned(),
            hostname: None,
            ip: None,
            ring: Some("prod".to_owned()),
            tier: None,
            owner: None,
            open,
            overdue,
            open_exposures: open,
            open_by_priority: PriorityCounts::default(),
            avg_cvss: avg,
            last_patched_at: None,
            status: if overdue > 0 {
                ComplianceStatus::NonCompliant
            } else {
                ComplianceStatus::Compliant
            },
            findings: Vec::new(),
        }
    }

    #[test]
    fn compliance_table_aligns_columns_and_marks_missing_values() {
        let mut b = host("host-b", 1, 0, None);
        // Sub-second precision is cut to whole seconds in the table.
        b.last_patched_at = Some("2025-01-18T06:30:00.432088400Z".parse().unwrap());
        b.ring = None;
        let report = ComplianceReport {
            as_of: "2025-01-20T00:00:00Z".parse().unwrap(),
            hosts: vec![host("host-a", 12, 1, Some(6.4)), b],
            fleet: FleetSummary {
                hosts: 2,
                compliant: 1,
                non_compliant: 1,
                open: 13,
                overdue: 1,
                ..FleetSummary::default()
            },
        };
        let text = render_compliance(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "HOST    RING  OPEN  OVERDUE  AVG CVSS  LAST PATCHED          STATUS",
                "host-a  prod    12        1       6.4  -                     NON_COMPLIANT",
                "host-b  -        1        0         -  2025-01-18T06:30:00Z  COMPLIANT",
                "fleet as of 2025-01-20T00:00:00Z: 2 hosts, 1 compliant, 1 non-compliant; \
                 13 open (critical 0, high 0, medium 0, low 0, unprioritized 0), 1 overdue",
            ]
        );
    }

    #[test]
    fn one_host_is_singular_and_the_instant_is_in_whole_seconds() {
        let report = ComplianceReport {
            as_of: "2025-01-20T00:00:00.123456789Z".parse().unwrap(),
            hosts: vec![host("host-a", 0, 0, None)],
            fleet: FleetSummary {
                hosts: 1,
                compliant: 1,
                ..FleetSummary::default()
            },
        };
        let text = render_compliance(&report);
        assert!(
            text.ends_with(
                "fleet as of 2025-01-20T00:00:00Z: 1 host, 1 compliant, 0 non-compliant; \
                 0 open (critical 0, high 0, medium 0, low 0, unprioritized 0), 0 overdue\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn control_characters_in_data_are_escaped() {
        let report = ComplianceReport {
            as_of: "2025-01-20T00:00:00Z".parse().unwrap(),
            hosts: vec![host("evil\u{1b}[2Jhost\nx", 0, 0, None)],
            fleet: FleetSummary::default(),
        };
        let text = render_compliance(&report);
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("evil\\u{1b}[2Jhost\\nx"));
        assert_eq!(text.lines().count(), 3);
    }
}
