//! Streaming parser for the Greenbone (GVM) CSV results export: one row per
//! result, 26 to 28 columns (`IP`, `Hostname`, `Port`, `Port Protocol`,
//! `CVSS`, `Severity`, `QoD`, `Solution Type`, `NVT Name`, …, `NVT OID`,
//! `CVEs`, …, `Timestamp`, …, `Solution`, …, newer exports add `Max Severity
//! EPSS score` and `percentile`), with line breaks inside quoted cells.
//!
//! # Rules
//!
//! The header is the first row; `IP`, `NVT OID` and `NVT Name` are required,
//! the other columns are found by name (case-insensitive) when present. The
//! OpenVAS XML rules ([`crate::openvas`]) apply cell by cell, so a result
//! gets the same fingerprint, check, severity and CVE list from either
//! export:
//!
//! - asset from `Hostname` and `IP`;
//! - `Port` empty or non-numeric (`general`) means host level, with the
//!   `Port Protocol` protocol;
//! - `CVSS` is the result's severity score (0 = an asset fact), `Severity`
//!   the threat label used only without a score; the export carries no CVSS
//!   vector;
//! - `CVEs` is a comma-separated list;
//! - `Timestamp` (RFC 3339) is when the result was observed;
//! - remediation: the one KB or advisory the NVT name names, else
//!   `Solution`.
//!
//! Hosts are yielded once the file has been read, their rows held as
//! compact [`crate::scanner::Detection`]s until then (rows of one host are
//! not adjacent: GVM sorts by severity).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use chrono::{DateTime, Utc};

use crate::format::Summary;
use crate::normalize::NormalizedHost;
use crate::openvas::{self, Class, SCANNER};
use crate::scanner::{
    self, CheckDef, Checks, CsvRecords, Detection, HostRecord, ParseError, Symbols, Tally,
};

const FORMAT: &str = "Greenbone CSV results export";

/// Content sniff: a header row with `IP`, `NVT OID` and `NVT Name`.
pub(crate) fn sniff(head: &str) -> bool {
    !head.starts_with('<')
        && !head.starts_with('{')
        && scanner::csv_header_has(head, &["IP", "NVT OID", "NVT Name"])
}

/// Validates a whole export in one streaming pass and counts it: hosts (by
/// asset id), findings, informational results, skipped results.
///
/// # Errors
/// The first [`ParseError`] of the export.
pub fn check<R: BufRead>(r: R) -> Result<Summary, ParseError> {
    let mut rows = Rows::new(r, true)?;
    while rows.step()? {}
    let Rows {
        mut tally,
        checks,
        seen,
        ..
    } = rows;
    tally.hosts = seen.len() as u64;
    Ok(tally.summary(&checks))
}

/// The export's hosts, normalized, in order of first appearance, yielded
/// once the file has been read. Fused after an error.
pub fn hosts<R: BufRead>(r: R, fallback: DateTime<Utc>) -> Hosts<R> {
    Hosts {
        input: Some(r),
        done: None,
        fallback,
    }
}

/// Iterator of [`hosts`].
pub struct Hosts<R> {
    input: Option<R>,
    done: Option<(std::vec::IntoIter<HostRecord>, Checks, Symbols)>,
    fallback: DateTime<Utc>,
}

impl<R: BufRead> Iterator for Hosts<R> {
    type Item = Result<NormalizedHost, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(input) = self.input.take() {
            let read = Rows::new(input, false).and_then(|mut rows| {
                while rows.step()? {}
                Ok(rows)
            });
            match read {
                Ok(rows) => {
                    self.done = Some((rows.records.into_iter(), rows.checks, rows.symbols));
                }
                Err(e) => return Some(Err(e)),
            }
        }
        let (records, checks, symbols) = self.done.as_mut()?;
        let record = records.next()?;
        Some(Ok(scanner::normalize(
            SCANNER,
            record,
            checks,
            symbols,
            self.fallback,
        )))
    }
}

#[derive(Debug, Default)]
struct Columns {
    ip: usize,
    oid: usize,
    name: usize,
    hostname: Option<usize>,
    port: Option<usize>,
    protocol: Option<usize>,
    cvss: Option<usize>,
    severity: Option<usize>,
    cves: Option<usize>,
    timestamp: Option<usize>,
    solution: Option<usize>,
}

struct Rows<R> {
    csv: CsvRecords<R>,
    columns: Columns,
    count_only: bool,
    checks: Checks,
    symbols: Symbols,
    tally: Tally,
    seen: HashSet<String>,
    index: HashMap<String, usize>,
    records: Vec<HostRecord>,
}

impl<R: BufRead> Rows<R> {
    fn new(r: R, count_only: bool) -> Result<Rows<R>, ParseError> {
        let mut rows = Rows {
            csv: CsvRecords::new(r),
            columns: Columns::default(),
            count_only,
            checks: Checks::default(),
            symbols: Symbols::default(),
            tally: Tally::default(),
            seen: HashSet::new(),
            index: HashMap::new(),
            records: Vec::new(),
        };
        if !rows.csv.read_record()? {
            return Err(ParseError::Empty {
                detail: "no CSV row".to_owned(),
            });
        }
        let find = |name: &str| {
            rows.csv
                .cells
                .iter()
                .position(|c| c.trim().eq_ignore_ascii_case(name))
        };
        let missing: Vec<&str> = ["IP", "NVT OID", "NVT Name"]
            .into_iter()
            .filter(|n| find(n).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(ParseError::NotFormat {
                format: FORMAT,
                found: format!("the header row lacks column(s) {}", missing.join(", ")),
            });
        }
        rows.csv.header_len = rows.csv.cells.len();
        rows.columns = Columns {
            ip: find("IP").unwrap_or_default(),
            oid: find("NVT OID").unwrap_or_default(),
            name: find("NVT Name").unwrap_or_default(),
            hostname: find("Hostname"),
            port: find("Port"),
            protocol: find("Port Protocol"),
            cvss: find("CVSS"),
            severity: find("Severity"),
            cves: find("CVEs"),
            timestamp: find("Timestamp"),
            solution: find("Solution"),
        };
        Ok(rows)
    }

    fn step(&mut self) -> Result<bool, ParseError> {
        if !self.csv.read_record()? {
            return Ok(false);
        }
        if self.csv.cell(Some(self.columns.ip)).is_some()
            || self.csv.cell(Some(self.columns.oid)).is_some()
        {
            self.csv.last_row_whole()?;
        }
        let c = &self.columns;
        let (ip, oid) = (self.csv.cell(Some(c.ip)), self.csv.cell(Some(c.oid)));
        if ip.is_none() && oid.is_none() {
            return Ok(true);
        }
        let line = self.csv.line();
        let invalid = |reason: String| ParseError::Invalid {
            location: format!("row on line {line}"),
            reason,
        };
        let ip = ip.ok_or_else(|| invalid("no IP".to_owned()))?;
        let oid = oid
            .ok_or_else(|| invalid("no NVT OID".to_owned()))?
            .to_owned();
        let port_text = self.csv.cell(c.port).unwrap_or_default();
        let port = if port_text.bytes().all(|b| b.is_ascii_digit()) {
            scanner::port(port_text).map_err(&invalid)?
        } else {
            0
        };
        let protocol = self.csv.cell(c.protocol).unwrap_or_default().to_lowercase();
        let score = scanner::score(self.csv.cell(c.cvss).unwrap_or_default())
            .map_err(|why| invalid(format!("CVSS {why}")))?;
        let class = openvas::classify(score, None, self.csv.cell(c.severity).unwrap_or_default());
        let observed_at = scanner::time(self.csv.cell(c.timestamp).unwrap_or_default())
            .map_err(|why| invalid(format!("Timestamp {why}")))?;
        let asset = scanner::asset(&[self.csv.cell(c.hostname)], Some(ip), None, None)
            .ok_or_else(|| invalid("no IP".to_owned()))?;
        let name = scanner::reflow(self.csv.cell(Some(c.name)).unwrap_or(&oid));
        let mut cves = Vec::new();
        scanner::push_cves(&mut cves, self.csv.cell(c.cves).unwrap_or_default());
        let advisories = scanner::advisory_ids(&name);
        let solution = self.csv.cell(c.solution).map(scanner::reflow);
        let check = self.checks.define(&oid, || CheckDef {
            name,
            family: None,
            severity: None,
            cves,
            cwes: Vec::new(),
            cvss: Vec::new(),
            solution,
            advisory: match advisories.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        });
        let (info, severity) = match class {
            Class::Skip(why) => {
                self.tally.skip(why);
                (None, None)
            }
            Class::Fact => (Some(true), None),
            Class::Finding(s) => (Some(false), Some(s)),
        };
        if self.count_only {
            self.seen.insert(asset.asset_id);
            if let Some(info) = info {
                self.tally.detection(check, info);
            }
            return Ok(true);
        }
        let i = match self.index.get(&asset.asset_id) {
            Some(&i) => i,
            None => {
                self.index
                    .insert(asset.asset_id.clone(), self.records.len());
                self.records.push(HostRecord::new(asset));
                self.records.len() - 1
            }
        };
        let Some(info) = info else {
            return Ok(true);
        };
        let protocol = self.symbols.key(&protocol);
        if let Some(record) = self.records.get_mut(i) {
            record.detections.push(Detection {
                check,
                port,
                protocol,
                service: None,
                severity,
                info,
                observed_at,
            });
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::Severity;

    #[test]
    fn rows_group_by_host_and_classify() {
        let csv = "IP,Hostname,Port,Port Protocol,CVSS,Severity,NVT Name,NVT OID,CVEs,Timestamp\n\
10.0.0.1,web,443,tcp,7.5,High,A,1.1,\"CVE-2024-0001,CVE-2024-0002\",2024-01-01T10:00:00+02:00\n\
10.0.0.2,,,tcp,0.0,Log,B,1.2,,\n\
10.0.0.1,web,general,icmp,4.0,Medium,C,1.3,,\n";
        let t: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let hosts: Vec<_> = hosts(csv.as_bytes(), t).collect::<Result<_, _>>().unwrap();
        assert_eq!(hosts.len(), 2);
        let web = &hosts[0];
        assert_eq!(web.findings.len(), 2);
        assert_eq!(web.findings[0].fingerprint, "openvas:v1:web:1.1:443/tcp");
        assert_eq!(web.findings[0].severity, Severity::High);
        assert_eq!(web.findings[0].cves, ["CVE-2024-0001", "CVE-2024-0002"]);
        assert_eq!(web.findings[1].fingerprint, "openvas:v1:web:1.3:0/icmp");
        assert_eq!(
            web.observed_at,
            "2024-01-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(hosts[1].facts.len(), 1);
        let s = check(csv.as_bytes()).unwrap();
        assert_eq!((s.hosts, s.findings, s.info_items), (2, 2, 1));
    }

    #[test]
    fn rejections() {
        for (csv, want) in [
            ("", "empty report"),
            ("IP,Port\n", "lacks column(s) NVT OID, NVT Name"),
            (
                "IP,NVT OID,NVT Name,CVSS\n1.2.3.4,1.1,x,11\n",
                "CVSS \"11\"",
            ),
        ] {
            let got = check(csv.as_bytes()).unwrap_err().to_string();
            assert!(got.contains(want), "{csv:?}: {got}");
        }
    }
}
