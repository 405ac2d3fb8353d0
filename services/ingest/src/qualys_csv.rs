//! Streaming parser for the Qualys VM CSV export ("Scan Report" / host-based
//! findings as CSV): one row per host × QID, every field quoted, a few
//! preamble lines possibly before the header row.
//!
//! # Format
//!
//! - The header row is the first row (of the first 100) naming both `IP`
//!   and `QID`; rows before it (report title, company, filters) are skipped.
//!   Columns are found by name, case-insensitively; `IP`, `QID`, `Title`
//!   and `Severity` are required. Used when present: `DNS`, `NetBIOS`,
//!   `FQDN`, `OS`, `Type`, `Vuln Status`, `Port`, `Protocol`, `First
//!   Detected`, `Last Detected`, `CVE ID`, `Vendor Reference`, `CVSS Base`,
//!   `CVSS3 Base` or `CVSS3.1 Base`, `Solution`, `Category`.
//! - Cells may hold line breaks (RFC 4180 quoting). UTF-8 with or without a
//!   BOM; a cell that is not UTF-8 is read as Windows-1252 (what Excel
//!   writes).
//! - A row without IP and QID (a blank line, a footer) is ignored.
//! - A cut-off export is rejected, not read as a shorter one: the input
//!   ending inside a quoted cell, or a last data row short of the header's
//!   cells (`scanner::CsvQuotes`; the same rule for the GVM CSV).
//!
//! # Rules
//!
//! The Qualys XML rules ([`crate::qualys`]) apply, cell by cell:
//! `Type` Vuln/Practice are findings, Ig facts; `Vuln Status` Fixed is
//! skipped; severity is the CVSS v3 base score when present, else the level
//! 1–5; the fingerprint is `qualys:v1:<asset_id>:<QID>:<port>/<protocol>`,
//! the same as the XML reports give. `CVSS3 Base` holds `8.1 (AV:N/…)`:
//! the CVSS version is only in the column name (`CVSS3 Base` = v3.0,
//! `CVSS3.1 Base` = v3.1), never in the vector; the temporal vector of
//! `CVSS3 Temporal` is not appended (only base vectors are scored).
//! `CVE ID` is a comma-separated list. Dates are US `MM/DD/YYYY HH:MM:SS`
//! without a zone, read as UTC; a row is observed at `Last Detected` (else
//! `First Detected`), a host at its latest row.
//!
//! # Memory
//!
//! Rows of one host need not be adjacent, and a host is yielded with all its
//! findings at once, so hosts are yielded when the file ends: until then
//! every row is held as a compact [`crate::scanner::Detection`] (about 40
//! bytes) and each QID's text once. The check pass counts without keeping
//! rows (hosts by asset id).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use chrono::{DateTime, Utc};

use crate::format::Summary;
use crate::normalize::{NormalizedHost, VectorField};
use crate::qualys::{self, SCANNER};
use crate::scanner::{
    self, CheckDef, Checks, CsvRecords, Detection, HostRecord, ParseError, Symbols, Tally,
};

/// How many rows may come before the header row.
pub const MAX_PREAMBLE_ROWS: u64 = 100;

const FORMAT: &str = "Qualys CSV export";

/// Content sniff: a header row with `IP`, `QID`, `Title` and `Severity`
/// columns in the first lines.
pub(crate) fn sniff(head: &str) -> bool {
    !head.starts_with('<')
        && !head.starts_with('{')
        && scanner::csv_header_has(head, &["IP", "QID", "Title", "Severity"])
}

/// Validates a whole export in one streaming pass and counts it: hosts (by
/// asset id), findings, informational items, skipped rows.
///
/// # Errors
/// The first [`ParseError`] of the export.
pub fn check<R: BufRead>(r: R) -> Result<Summary, ParseError> {
    let mut reader = Rows::new(r, true)?;
    while reader.step()? {}
    let Rows {
        mut tally,
        checks,
        seen,
        ..
    } = reader;
    tally.hosts = seen.len() as u64;
    Ok(tally.summary(&checks))
}

/// The export's hosts, normalized, in order of first appearance, all
/// yielded once the file has been read (see the module documentation).
/// Fused after an error.
pub fn hosts<R: BufRead>(r: R, fallback: DateTime<Utc>) -> Hosts<R> {
    Hosts {
        state: HostsState::Start(Some(r)),
        fallback,
    }
}

/// Iterator of [`hosts`].
pub struct Hosts<R> {
    state: HostsState<R>,
    fallback: DateTime<Utc>,
}

enum HostsState<R> {
    Start(Option<R>),
    Yielding {
        records: std::vec::IntoIter<HostRecord>,
        checks: Checks,
        symbols: Symbols,
    },
    Done,
}

impl<R: BufRead> Iterator for Hosts<R> {
    type Item = Result<NormalizedHost, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match &mut self.state {
                HostsState::Start(input) => {
                    let input = input.take()?;
                    match read_all(input) {
                        Ok(rows) => {
                            self.state = HostsState::Yielding {
                                records: rows.records.into_iter(),
                                checks: rows.checks,
                                symbols: rows.symbols,
                            };
                        }
                        Err(e) => {
                            self.state = HostsState::Done;
                            return Some(Err(e));
                        }
                    }
                }
                HostsState::Yielding {
                    records,
                    checks,
                    symbols,
                } => {
                    return match records.next() {
                        Some(record) => Some(Ok(scanner::normalize(
                            SCANNER,
                            record,
                            checks,
                            symbols,
                            self.fallback,
                        ))),
                        None => {
                            self.state = HostsState::Done;
                            None
                        }
                    };
                }
                HostsState::Done => return None,
            }
        }
    }
}

fn read_all<R: BufRead>(r: R) -> Result<Rows<R>, ParseError> {
    let mut rows = Rows::new(r, false)?;
    while rows.step()? {}
    Ok(rows)
}

/// Column positions, found by header name.
#[derive(Debug, Default)]
struct Columns {
    ip: usize,
    qid: usize,
    title: usize,
    severity: usize,
    dns: Option<usize>,
    netbios: Option<usize>,
    fqdn: Option<usize>,
    os: Option<usize>,
    kind: Option<usize>,
    status: Option<usize>,
    port: Option<usize>,
    protocol: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    cves: Option<usize>,
    vendor: Option<usize>,
    cvss2: Option<usize>,
    cvss3: Option<usize>,
    cvss3_is_31: bool,
    solution: Option<usize>,
    category: Option<usize>,
}

impl Columns {
    fn from_header(cells: &[String]) -> Result<Columns, ParseError> {
        let find = |name: &str| {
            cells
                .iter()
                .position(|c| c.trim().trim_matches('\u{feff}').eq_ignore_ascii_case(name))
        };
        let required = ["IP", "QID", "Title", "Severity"];
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|n| find(n).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(ParseError::NotFormat {
                format: FORMAT,
                found: format!("the header row lacks column(s) {}", missing.join(", ")),
            });
        }
        let (cvss3, cvss3_is_31) = match find("CVSS3.1 Base") {
            Some(i) => (Some(i), true),
            None => (find("CVSS3 Base"), false),
        };
        Ok(Columns {
            ip: find("IP").unwrap_or_default(),
            qid: find("QID").unwrap_or_default(),
            title: find("Title").unwrap_or_default(),
            severity: find("Severity").unwrap_or_default(),
            dns: find("DNS"),
            netbios: find("NetBIOS"),
            fqdn: find("FQDN"),
            os: find("OS"),
            kind: find("Type"),
            status: find("Vuln Status"),
            port: find("Port"),
            protocol: find("Protocol"),
            first: find("First Detected"),
            last: find("Last Detected"),
            cves: find("CVE ID"),
            vendor: find("Vendor Reference"),
            cvss2: find("CVSS Base"),
            cvss3,
            cvss3_is_31,
            solution: find("Solution"),
            category: find("Category"),
        })
    }
}

struct Rows<R> {
    csv: CsvRecords<R>,
    columns: Columns,
    count_only: bool,
    checks: Checks,
    symbols: Symbols,
    tally: Tally,
    /// Count mode: asset ids seen.
    seen: HashSet<String>,
    /// Collect mode: host records by asset id.
    index: HashMap<String, usize>,
    records: Vec<HostRecord>,
}

impl<R: BufRead> Rows<R> {
    /// Opens the export and reads up to its header row.
    fn new(r: R, count_only: bool) -> Result<Rows<R>, ParseError> {
        let csv = CsvRecords::new(r);
        let mut rows = Rows {
            csv,
            columns: Columns::default(),
            count_only,
            checks: Checks::default(),
            symbols: Symbols::default(),
            tally: Tally::default(),
            seen: HashSet::new(),
            index: HashMap::new(),
            records: Vec::new(),
        };
        let mut read = 0u64;
        loop {
            if !rows.csv.read_record()? {
                return Err(if read == 0 {
                    ParseError::Empty {
                        detail: "no CSV row".to_owned(),
                    }
                } else {
                    ParseError::NotFormat {
                        format: FORMAT,
                        found: format!("no header row with IP and QID columns in {read} rows"),
                    }
                });
            }
            read += 1;
            let has = |name: &str| {
                rows.csv
                    .cells
                    .iter()
                    .any(|c| c.trim().trim_matches('\u{feff}').eq_ignore_ascii_case(name))
            };
            if has("IP") && has("QID") {
                rows.csv.header_len = rows.csv.cells.len();
                rows.columns = Columns::from_header(&rows.csv.cells)?;
                return Ok(rows);
            }
            if read >= MAX_PREAMBLE_ROWS {
                return Err(ParseError::NotFormat {
                    format: FORMAT,
                    found: format!(
                        "no header row with IP and QID columns in the first {read} rows"
                    ),
                });
            }
        }
    }

    fn line(&self) -> u64 {
        self.csv.line()
    }

    /// Processes one data row; `false` at the end.
    fn step(&mut self) -> Result<bool, ParseError> {
        if !self.csv.read_record()? {
            return Ok(false);
        }
        if self.csv.cell(Some(self.columns.ip)).is_some()
            || self.csv.cell(Some(self.columns.qid)).is_some()
        {
            self.csv.last_row_whole()?;
        }
        let c = &self.columns;
        let (ip, qid) = (self.csv.cell(Some(c.ip)), self.csv.cell(Some(c.qid)));
        if ip.is_none() && qid.is_none() {
            return Ok(true);
        }
        let location = format!("row on line {}", self.line());
        let invalid = |reason: String| ParseError::Invalid {
            location: location.clone(),
            reason,
        };
        let qid_text = qid.ok_or_else(|| invalid("no QID".to_owned()))?;
        let qid: u32 = qid_text
            .parse()
            .map_err(|_| invalid(format!("QID {qid_text:?} is not a number")))?;
        let info = match self.csv.cell(c.kind) {
            Some(kind) => qualys::is_info_type(kind).map_err(&invalid)?,
            None => false,
        };
        let port = scanner::port(self.csv.cell(c.port).unwrap_or_default()).map_err(&invalid)?;
        let protocol = self.csv.cell(c.protocol).unwrap_or_default().to_lowercase();
        let last = scanner::time(self.csv.cell(c.last).unwrap_or_default())
            .map_err(|why| invalid(format!("Last Detected {why}")))?;
        let first = scanner::time(self.csv.cell(c.first).unwrap_or_default())
            .map_err(|why| invalid(format!("First Detected {why}")))?;
        let def = self.def(qid).map_err(&invalid)?;
        let asset = scanner::asset(
            &[
                self.csv.cell(c.dns),
                self.csv.cell(c.netbios),
                self.csv.cell(c.fqdn),
            ],
            ip,
            self.csv.cell(c.os).map(str::to_owned),
            None,
        )
        .ok_or_else(|| invalid("no IP or DNS name".to_owned()))?;
        let fixed = self
            .csv
            .cell(c.status)
            .is_some_and(|s| s.eq_ignore_ascii_case("fixed"));
        let check = self.checks.define(&qid.to_string(), || def);
        if self.count_only {
            self.seen.insert(asset.asset_id.clone());
            if fixed {
                self.tally.skip("status Fixed");
            } else {
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
        if fixed {
            return Ok(true);
        }
        let protocol = self.symbols.key(&protocol);
        if let Some(record) = self.records.get_mut(i) {
            record.detections.push(Detection {
                check,
                port,
                protocol,
                service: None,
                severity: None,
                info,
                observed_at: last.or(first),
            });
        }
        Ok(true)
    }

    /// The row's QID as a check definition.
    fn def(&self, qid: u32) -> Result<CheckDef, String> {
        let c = &self.columns;
        let level = qualys::level(self.csv.cell(Some(c.severity)).unwrap_or_default())?;
        let mut cvss = Vec::new();
        let (v2_score, v2) = scanner::score_and_vector(self.csv.cell(c.cvss2).unwrap_or_default())
            .map_err(|why| format!("CVSS Base {why}"))?;
        if let Some(v) = v2 {
            cvss.push(
                scanner::cvss_vector(VectorField::V2, &v, v2_score, SCANNER)
                    .map_err(|why| format!("CVSS Base {why}"))?,
            );
        }
        let (v3_score, v3) = scanner::score_and_vector(self.csv.cell(c.cvss3).unwrap_or_default())
            .map_err(|why| format!("CVSS3 Base {why}"))?;
        if let Some(v) = v3 {
            let v = if c.cvss3_is_31 && !v.starts_with("CVSS:") {
                format!("CVSS:3.1/{v}")
            } else {
                v
            };
            cvss.push(
                scanner::cvss_vector(VectorField::V3, &v, v3_score, SCANNER)
                    .map_err(|why| format!("CVSS3 Base {why}"))?,
            );
        }
        let mut cves = Vec::new();
        scanner::push_cves(&mut cves, self.csv.cell(c.cves).unwrap_or_default());
        let advisories = scanner::advisory_ids(self.csv.cell(c.vendor).unwrap_or_default());
        Ok(CheckDef {
            name: self
                .csv
                .cell(Some(c.title))
                .map_or_else(|| format!("QID {qid}"), str::to_owned),
            family: self.csv.cell(c.category).map(str::to_owned),
            severity: Some(qualys::severity(level, v3_score)),
            cves,
            cwes: Vec::new(),
            cvss,
            solution: self.csv.cell(c.solution).map(str::to_owned),
            advisory: match advisories.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        })
    }
}

/// A CSV reader error as a [`ParseError`].
pub(crate) fn csv_error(e: &csv::Error) -> ParseError {
    let line = e.position().map_or(0, csv::Position::line);
    match e.kind() {
        csv::ErrorKind::Io(io) => ParseError::Io {
            position: e.position().map_or(0, csv::Position::byte),
            message: io.to_string(),
        },
        _ => ParseError::Csv {
            line,
            message: e.to_string(),
        },
    }
}

/// A cell as text: UTF-8 (a leading BOM dropped), else Windows-1252.
pub(crate) fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    }
}

/// One Windows-1252 byte as a character (WHATWG encoding standard mapping;
/// the five undefined bytes map to the C1 control of the same value).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}',
        '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}',
        '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}',
        '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    match b {
        0x80..=0x9F => HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or('\u{FFFD}'),
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::Severity;

    const CSV: &str = "\"Scan Results\",\"x\"\n\
\"IP\",\"DNS\",\"NetBIOS\",\"QID\",\"Title\",\"Vuln Status\",\"Type\",\"Severity\",\"Port\",\"Protocol\",\"Last Detected\",\"CVE ID\",\"CVSS3.1 Base\",\"Solution\"\n\
\"10.0.0.1\",\"web01.example.com\",\"\",\"38739\",\"SSH\",\"Active\",\"Vuln\",\"3\",\"22\",\"tcp\",\"05/25/2021 07:36:58\",\"CVE-2021-0001, CVE-2021-0002\",\"9.8 (AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H)\",\"Fix\nit\"\n\
\"10.0.0.2\",\"\",\"\",\"6\",\"DNS Host Name\",\"\",\"Ig\",\"1\",\"\",\"\",\"\",\"\",\"\",\"\"\n\
\"10.0.0.1\",\"web01.example.com\",\"\",\"1\",\"Old\",\"Fixed\",\"Vuln\",\"5\",\"\",\"\",\"\",\"\",\"\",\"\"\n\
\"\"\n";

    #[test]
    fn preamble_header_rows_and_hosts() {
        let t: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let hosts: Vec<_> = hosts(CSV.as_bytes(), t).collect::<Result<_, _>>().unwrap();
        assert_eq!(hosts.len(), 2);
        let f = &hosts[0].findings[0];
        assert_eq!(hosts[0].findings.len(), 1);
        assert_eq!(f.fingerprint, "qualys:v1:web01:38739:22/tcp");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.cves, ["CVE-2021-0001", "CVE-2021-0002"]);
        assert_eq!(
            f.cvss[0].vector,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        );
        assert_eq!(
            f.observed_at,
            "2021-05-25T07:36:58Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(hosts[1].facts.len(), 1);
        let s = check(CSV.as_bytes()).unwrap();
        assert_eq!((s.hosts, s.findings, s.info_items), (2, 1, 1));
        assert_eq!(s.skipped, [("status Fixed".to_owned(), 1)]);
    }

    #[test]
    fn rejections() {
        let table = [
            ("", "empty report"),
            ("a,b\n1,2\n", "no header row"),
            ("IP,QID\n1.2.3.4,5\n", "lacks column(s) Title, Severity"),
            ("IP,QID,Title,Severity\n1.2.3.4,x,t,1\n", "QID \"x\""),
            ("IP,QID,Title,Severity\n1.2.3.4,5,t,9\n", "severity \"9\""),
        ];
        for (csv, want) in table {
            let got = check(csv.as_bytes()).map(|_| ()).unwrap_err().to_string();
            assert!(got.contains(want), "{csv:?}: {got}");
        }
    }

    #[test]
    fn windows_1252_cells_are_decoded() {
        assert_eq!(decode(b"caf\xe9 \x93q\x94"), "café “q”");
        assert_eq!(decode(b"\xEF\xBB\xBFIP"), "IP");
    }
}
