//! Streaming parser for OpenVAS / Greenbone (GVM) XML reports.
//!
//! # Layouts
//!
//! - GSA "XML" report export: `<report id format_id …>` wrapping the report
//!   proper, `<report id>` (report inside report);
//! - `gvm-cli … get_reports` output: the same inside `<get_reports_response
//!   status="200">` (any other status is refused with GVM's status text);
//! - the older OMP 7 layout (`<omp><version>7.0`), with `<cve>`/`<bid>`/
//!   `<xref>` elements and pipe-separated `<tags>` instead of `<refs>` and
//!   `<severities>`.
//!
//! Results are the `result` elements of a report's `results`; the
//! report-level `host` elements (after the results) give each host's scan
//! start and end, operating system and MAC address.
//!
//! # Rules
//!
//! - **Assets**: `<host>` is mixed content, the address followed by nested
//!   `<asset>` and `<hostname>`: the trimmed text is the IP (kept as written
//!   when it is not a valid address, like the anonymised `192.168.1.1001`;
//!   IPv6 in canonical compressed form), `<hostname>` the name; identity as
//!   [`crate::identity`].
//! - **Port**: `443/tcp`; `general/tcp`, `general/icmp`, `general/CPE-T` and
//!   other non-numeric forms mean "no port" (`0`) with that protocol;
//!   protocols lower-cased.
//! - **Findings and facts**: a result with `<severity>` above 0 is a finding;
//!   `0.0` (threat `Log`) is an asset fact; negative severities (GVM −1
//!   false positive, −2 debug, −3 error) are skipped and counted. Without a
//!   severity, `<threat>` decides (High/Medium/Low findings, Log or empty a
//!   fact, the others skipped). In a delta report a result whose `<delta>`
//!   is `gone` is skipped.
//! - **Severity**: the CVSS v4 or v3 base score of the NVT's `<severities>`
//!   when it has one, else the result's `<severity>` (a CVSS base score
//!   0–10), both by the FIRST rating (≥ 9.0 critical, ≥ 7.0 high, ≥ 4.0
//!   medium, else low), else the threat label. OpenVAS itself never says
//!   "Critical" (its `threat` for 9.8 is High); patchflow does.
//! - **CVSS**: `<severities><severity type="cvss_base_v3|v2|v4">` vectors
//!   with their scores; the OMP 7 `cvss_base_vector=` tag (a bare v2 vector,
//!   or a `CVSS:3.x/` one) with `<cvss_base>`; all canonicalized.
//! - **Identifiers**: CVEs from `<refs><ref type="cve">` and from the OMP 7
//!   comma-separated `<cve>` lists (the `NOCVE` sentinel dropped); CWEs
//!   from `<ref type="cwe">`.
//! - **Fingerprint**: `openvas:v1:<asset_id>:<NVT OID>:<port>/<protocol>`
//!   (the OID, never the name, is the check id); the CSV export gives the
//!   same one.
//! - **Remediation**: the one KB or vendor advisory the NVT's name names
//!   (`… (KB5062557)`), else its `<solution>` (or `solution=` tag).
//! - **Times** (UTC): a result is observed at its `creation_time`; a host at
//!   its report-level `<start>`, else the report's `scan_start`.
//!
//! # Memory
//!
//! GVM sorts results by severity, so one host's results are spread over the
//! file and a host can only be yielded once every result has been read:
//! until the end, results are held as compact
//! [`crate::scanner::Detection`]s (about 40 bytes each) and each NVT's text
//! once — never the descriptions or the tags. The check pass keeps no
//! results (hosts by asset id).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use chrono::{DateTime, Utc};
use events::Severity;

use crate::format::Summary;
use crate::normalize::{NormalizedHost, VectorField, parse_cwe};
use crate::scanner::{
    self, CheckDef, Checks, Detection, HostRecord, ParseError, Symbols, Tally, value,
};
use crate::xmlpull::{Node, XmlPull};

/// The scanner family name in checks, fingerprints and remediations.
pub const SCANNER: &str = "openvas";

const FORMAT: &str = "OpenVAS/Greenbone report";

/// Content sniff: a `get_reports_response` root (GVM's own, an error
/// response included), or a `report` root with GVM report markers in the
/// head.
pub(crate) fn sniff(head: &str) -> bool {
    match scanner::root_element(head) {
        Some("get_reports_response") => true,
        Some("report") => [
            "<results",
            "<nvt ",
            "<scan_run_status",
            "<omp>",
            "<gmp>",
            "<report_format",
        ]
        .iter()
        .any(|m| head.contains(m)),
        _ => false,
    }
}

/// What one result is: a finding with its severity, an asset fact, or
/// skipped with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A finding.
    Finding(Severity),
    /// An informational item (a fact about the asset).
    Fact,
    /// Not imported (`false positive`, `debug`, `error`).
    Skip(&'static str),
}

/// Classifies a result by its `<severity>` (a CVSS-like score −3…10), the
/// CVSS v3/v4 score of its NVT and its `<threat>` (see the module rules).
pub fn classify(severity: Option<f64>, cvss_label: Option<Severity>, threat: &str) -> Class {
    match severity {
        Some(s) if s < 0.0 => Class::Skip(if s >= -1.0 {
            "false positive"
        } else if s >= -2.0 {
            "debug"
        } else {
            "error"
        }),
        Some(0.0) => Class::Fact,
        Some(s) => Class::Finding(cvss_label.unwrap_or_else(|| Severity::from_cvss(s))),
        None => match threat.trim().to_ascii_lowercase().as_str() {
            "high" | "alarm" => Class::Finding(cvss_label.unwrap_or(Severity::High)),
            "medium" => Class::Finding(cvss_label.unwrap_or(Severity::Medium)),
            "low" => Class::Finding(cvss_label.unwrap_or(Severity::Low)),
            "log" | "" => Class::Fact,
            "false positive" => Class::Skip("false positive"),
            "debug" => Class::Skip("debug"),
            _ => Class::Skip("error"),
        },
    }
}

/// The pipe-separated `key=value` pairs of an NVT `<tags>` text, trimmed.
pub fn tags(text: &str) -> Vec<(String, String)> {
    text.split('|')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// Validates a whole report in one streaming pass and counts it: hosts (by
/// asset id), findings, informational results, skipped results.
///
/// # Errors
/// The first [`ParseError`] of the report.
pub fn check<R: BufRead>(r: R) -> Result<Summary, ParseError> {
    let mut reader = Gvm::new(r, true);
    while !reader.finished {
        reader.step()?;
    }
    let extra = reader
        .unmatched_details()
        .iter()
        .filter(|a| !reader.seen.contains(&a.asset_id))
        .count() as u64;
    let Gvm {
        mut tally,
        checks,
        seen,
        scan_start,
        scan_end,
        ..
    } = reader;
    tally.hosts = seen.len() as u64 + extra;
    tally.span(scan_start, scan_end);
    Ok(tally.summary(&checks))
}

/// The report's hosts, normalized, in order of first appearance, yielded
/// once the report has been read (see the module documentation). Fused
/// after an error.
pub fn hosts<R: BufRead>(r: R, fallback: DateTime<Utc>) -> Hosts<R> {
    Hosts {
        inner: Gvm::new(r, false),
        fallback,
        yielding: None,
    }
}

/// Iterator of [`hosts`].
pub struct Hosts<R> {
    inner: Gvm<R>,
    fallback: DateTime<Utc>,
    yielding: Option<std::vec::IntoIter<HostRecord>>,
}

impl<R: BufRead> Iterator for Hosts<R> {
    type Item = Result<NormalizedHost, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(records) = self.yielding.as_mut() {
                let record = records.next()?;
                let g = &self.inner;
                return Some(Ok(scanner::normalize(
                    SCANNER,
                    record,
                    &g.checks,
                    &g.symbols,
                    self.fallback,
                )));
            }
            if self.inner.finished {
                return None;
            }
            if let Err(e) = self.inner.step() {
                self.inner.finished = true;
                return Some(Err(e));
            }
            if self.inner.finished {
                let records = self.inner.finish_records();
                self.yielding = Some(records.into_iter());
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Result,
    ResultField(Field),
    Ref,
    Severity,
    ReportHost,
    ReportHostField(HostField),
    ScanStart,
    ScanEnd,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Host,
    Hostname,
    Port,
    Nvt,
    NvtName,
    Family,
    CvssBase,
    Tags,
    Solution,
    Cve,
    SeverityValue,
    SeverityScore,
    Threat,
    Severity,
    CreationTime,
    Delta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostField {
    Ip,
    Start,
    End,
    DetailName,
    DetailValue,
}

fn classify_path(path: &[&str], result_depth: Option<usize>) -> Elem {
    if let Some(d) = result_depth {
        let rel = path.get(d..).unwrap_or_default();
        return match rel {
            [] => Elem::Result,
            ["name"] => Elem::ResultField(Field::Name),
            ["host"] => Elem::ResultField(Field::Host),
            ["host", "hostname"] => Elem::ResultField(Field::Hostname),
            ["port"] => Elem::ResultField(Field::Port),
            ["nvt"] => Elem::ResultField(Field::Nvt),
            ["nvt", "name"] => Elem::ResultField(Field::NvtName),
            ["nvt", "family"] => Elem::ResultField(Field::Family),
            ["nvt", "cvss_base"] => Elem::ResultField(Field::CvssBase),
            ["nvt", "tags"] => Elem::ResultField(Field::Tags),
            ["nvt", "solution"] => Elem::ResultField(Field::Solution),
            ["nvt", "cve"] => Elem::ResultField(Field::Cve),
            ["nvt", "refs", "ref"] => Elem::Ref,
            ["nvt", "severities", "severity"] => Elem::Severity,
            ["nvt", "severities", "severity", "value"] => Elem::ResultField(Field::SeverityValue),
            ["nvt", "severities", "severity", "score"] => Elem::ResultField(Field::SeverityScore),
            ["threat"] => Elem::ResultField(Field::Threat),
            ["severity"] => Elem::ResultField(Field::Severity),
            ["creation_time"] => Elem::ResultField(Field::CreationTime),
            ["delta"] => Elem::ResultField(Field::Delta),
            _ => Elem::Other,
        };
    }
    match path {
        [.., "report", "results", "result"] => Elem::Result,
        [.., "report", "host"] => Elem::ReportHost,
        [.., "report", "host", "ip"] => Elem::ReportHostField(HostField::Ip),
        [.., "report", "host", "start"] => Elem::ReportHostField(HostField::Start),
        [.., "report", "host", "end"] => Elem::ReportHostField(HostField::End),
        [.., "report", "host", "detail", "name"] => Elem::ReportHostField(HostField::DetailName),
        [.., "report", "host", "detail", "value"] => Elem::ReportHostField(HostField::DetailValue),
        [.., "report", "scan_start"] => Elem::ScanStart,
        [.., "report", "scan_end"] => Elem::ScanEnd,
        _ => Elem::Other,
    }
}

#[derive(Debug, Default)]
struct ResultState {
    name: Option<String>,
    host: Option<String>,
    hostname: Option<String>,
    port: Option<String>,
    oid: Option<String>,
    nvt_name: Option<String>,
    family: Option<String>,
    cvss_base: Option<String>,
    tags: Option<String>,
    solution: Option<String>,
    cve_lists: Vec<String>,
    refs: Vec<(String, String)>,
    severities: Vec<(String, Option<String>, Option<String>)>,
    threat: Option<String>,
    severity: Option<String>,
    creation_time: Option<String>,
    delta: Option<String>,
}

#[derive(Debug, Default)]
struct HostInfo {
    ip: Option<String>,
    hostname: Option<String>,
    start: Option<String>,
    end: Option<String>,
    detail_name: Option<String>,
    os: Option<String>,
    mac: Option<String>,
}

struct Gvm<R> {
    pull: XmlPull<R>,
    count_only: bool,
    checks: Checks,
    symbols: Symbols,
    tally: Tally,
    result_depth: Option<usize>,
    result: Option<ResultState>,
    results_seen: u64,
    host_info: Option<HostInfo>,
    /// Report-level host details by IP text.
    host_details: HashMap<String, HostInfo>,
    scan_start: Option<DateTime<Utc>>,
    scan_end: Option<DateTime<Utc>>,
    /// Count mode: asset ids seen.
    seen: HashSet<String>,
    /// Count mode: canonical IPs of the assets seen.
    seen_ips: HashSet<String>,
    index: HashMap<String, usize>,
    records: Vec<HostRecord>,
    finished: bool,
}

impl<R: BufRead> Gvm<R> {
    fn new(input: R, count_only: bool) -> Gvm<R> {
        Gvm {
            pull: XmlPull::new(input, FORMAT),
            count_only,
            checks: Checks::default(),
            symbols: Symbols::default(),
            tally: Tally::default(),
            result_depth: None,
            result: None,
            results_seen: 0,
            host_info: None,
            host_details: HashMap::new(),
            scan_start: None,
            scan_end: None,
            seen: HashSet::new(),
            seen_ips: HashSet::new(),
            index: HashMap::new(),
            records: Vec::new(),
            finished: false,
        }
    }

    fn invalid(&self, location: &str, reason: String) -> ParseError {
        ParseError::Invalid {
            location: format!("{location} at byte {}", self.pull.position()),
            reason,
        }
    }

    fn root(&self) -> Result<(), ParseError> {
        match self.pull.name() {
            "report" => Ok(()),
            "get_reports_response" => match self.pull.attr("status").map(str::trim) {
                None => Ok(()),
                Some(s) if s.starts_with('2') => Ok(()),
                Some(s) => Err(ParseError::NotFormat {
                    format: FORMAT,
                    found: format!(
                        "a GVM error response (status {s}: {})",
                        self.pull.attr("status_text").unwrap_or_default()
                    ),
                }),
            },
            other => Err(ParseError::NotFormat {
                format: FORMAT,
                found: format!("root element is <{other}>"),
            }),
        }
    }

    fn step(&mut self) -> Result<(), ParseError> {
        let node = self.pull.next()?;
        if node == Node::Eof {
            self.finished = true;
            return Ok(());
        }
        if node == Node::Start && self.pull.depth() == 1 {
            return self.root();
        }
        let path: Vec<&str> = self.pull.path().iter().map(String::as_str).collect();
        let elem = classify_path(&path, self.result_depth);
        let depth = path.len();
        drop(path);
        match node {
            Node::Start => match elem {
                Elem::Result => {
                    self.results_seen += 1;
                    self.result_depth = Some(depth);
                    self.result = Some(ResultState::default());
                }
                Elem::ResultField(Field::Nvt) => {
                    let oid = self.pull.attr("oid").and_then(value).map(str::to_owned);
                    if let Some(r) = self.result.as_mut() {
                        r.oid = oid;
                    }
                }
                Elem::ResultField(_)
                | Elem::ReportHostField(_)
                | Elem::ScanStart
                | Elem::ScanEnd => self.pull.capture(false),
                Elem::Ref => {
                    let kind = self
                        .pull
                        .attr("type")
                        .unwrap_or_default()
                        .trim()
                        .to_lowercase();
                    let id = self.pull.attr("id").unwrap_or_default().trim().to_owned();
                    if let Some(r) = self.result.as_mut() {
                        r.refs.push((kind, id));
                    }
                }
                Elem::Severity => {
                    let kind = self
                        .pull
                        .attr("type")
                        .unwrap_or_default()
                        .trim()
                        .to_lowercase();
                    if let Some(r) = self.result.as_mut() {
                        r.severities.push((kind, None, None));
                    }
                }
                Elem::ReportHost => self.host_info = Some(HostInfo::default()),
                _ => {}
            },
            Node::End => {
                let text = self.pull.take_text();
                match elem {
                    Elem::Result => {
                        self.result_end()?;
                        self.result_depth = None;
                    }
                    Elem::ResultField(field) => self.result_field(field, text),
                    Elem::ReportHostField(field) => {
                        if let Some(h) = self.host_info.as_mut() {
                            let v = value(&text).map(str::to_owned);
                            match field {
                                HostField::Ip => h.ip = v,
                                HostField::Start => h.start = v,
                                HostField::End => h.end = v,
                                HostField::DetailName => h.detail_name = v,
                                HostField::DetailValue => match h.detail_name.as_deref() {
                                    Some("best_os_txt") => h.os = v,
                                    Some("hostname") => h.hostname = v,
                                    Some("MAC") => h.mac = v,
                                    _ => {}
                                },
                            }
                        }
                    }
                    Elem::ReportHost => {
                        if let Some(h) = self.host_info.take()
                            && let Some(ip) = h.ip.clone()
                        {
                            self.host_details.insert(canonical(&ip), h);
                        }
                    }
                    Elem::ScanStart => {
                        self.scan_start = scanner::time(&text)
                            .map_err(|why| self.invalid("report", format!("scan_start {why}")))?;
                    }
                    Elem::ScanEnd => {
                        self.scan_end = scanner::time(&text)
                            .map_err(|why| self.invalid("report", format!("scan_end {why}")))?;
                    }
                    _ => {}
                }
            }
            Node::Eof => {}
        }
        Ok(())
    }

    fn result_field(&mut self, field: Field, text: String) {
        let Some(r) = self.result.as_mut() else {
            return;
        };
        let v = value(&text).map(str::to_owned);
        match field {
            Field::Name => r.name = v,
            Field::Host => r.host = v,
            Field::Hostname => r.hostname = v,
            Field::Port => r.port = v,
            Field::Nvt => {}
            Field::NvtName => r.nvt_name = v,
            Field::Family => r.family = v,
            Field::CvssBase => r.cvss_base = v,
            Field::Tags => r.tags = v,
            Field::Solution => r.solution = v,
            Field::Cve => r.cve_lists.extend(v),
            Field::SeverityValue => {
                if let Some(s) = r.severities.last_mut() {
                    s.1 = v;
                }
            }
            Field::SeverityScore => {
                if let Some(s) = r.severities.last_mut() {
                    s.2 = v;
                }
            }
            Field::Threat => r.threat = v,
            Field::Severity => r.severity = v,
            Field::CreationTime => r.creation_time = v,
            Field::Delta => r.delta = v,
        }
    }

    fn result_end(&mut self) -> Result<(), ParseError> {
        let Some(r) = self.result.take() else {
            return Ok(());
        };
        let location = format!("result {}", self.results_seen);
        let host = r
            .host
            .clone()
            .ok_or_else(|| self.invalid(&location, "no host".to_owned()))?;
        let location = format!("{location} (host {host:?})");
        let oid = r
            .oid
            .clone()
            .ok_or_else(|| self.invalid(&location, "no NVT OID".to_owned()))?;
        let location = format!("{location}, NVT {oid}");
        let built = build(&r, &oid).map_err(|why| self.invalid(&location, why))?;
        let Built {
            def,
            port,
            protocol,
            class,
            observed_at,
        } = built;
        let asset = scanner::asset(&[r.hostname.as_deref()], Some(&host), None, None)
            .ok_or_else(|| self.invalid(&location, "no host address".to_owned()))?;
        let check = self.checks.define(&oid, || def);
        // In a delta report, a result "gone" since the other report is no
        // longer seen.
        let class = if r
            .delta
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("gone"))
        {
            Class::Skip("delta gone")
        } else {
            class
        };
        let (info, severity) = match class {
            Class::Skip(why) => {
                self.tally.skip(why);
                if self.count_only {
                    self.see(asset);
                } else {
                    self.record(asset);
                }
                return Ok(());
            }
            Class::Fact => (true, None),
            Class::Finding(s) => (false, Some(s)),
        };
        if self.count_only {
            self.see(asset);
            self.tally.detection(check, info);
            return Ok(());
        }
        let protocol = self.symbols.key(&protocol);
        let i = self.record(asset);
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
        Ok(())
    }

    /// Count mode: notes `asset` as seen.
    fn see(&mut self, asset: events::Asset) {
        if let Some(ip) = asset.ip.as_deref() {
            self.seen_ips.insert(canonical(ip));
        }
        self.seen.insert(asset.asset_id);
    }

    /// The assets of report-level hosts that no result names (hosts scanned
    /// clean): they are yielded too, with no findings, so a rescan can
    /// resolve what they no longer show.
    fn unmatched_details(&self) -> Vec<events::Asset> {
        let known: HashSet<String> = if self.count_only {
            self.seen_ips.clone()
        } else {
            self.records
                .iter()
                .filter_map(|r| r.asset.ip.as_deref().map(canonical))
                .collect()
        };
        let mut out: Vec<events::Asset> = Vec::new();
        for d in self.host_details.values() {
            let Some(ip) = d.ip.as_deref() else {
                continue;
            };
            if known.contains(&canonical(ip)) {
                continue;
            }
            if let Some(asset) = scanner::asset(&[d.hostname.as_deref()], Some(ip), None, None)
                && !out.iter().any(|a| a.asset_id == asset.asset_id)
            {
                out.push(asset);
            }
        }
        out.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
        out
    }

    /// The index of the record of `asset`, created on first sight.
    fn record(&mut self, asset: events::Asset) -> usize {
        if let Some(&i) = self.index.get(&asset.asset_id) {
            return i;
        }
        self.index
            .insert(asset.asset_id.clone(), self.records.len());
        self.records.push(HostRecord::new(asset));
        self.records.len() - 1
    }

    /// The host records, completed from the report-level host details.
    fn finish_records(&mut self) -> Vec<HostRecord> {
        for asset in self.unmatched_details() {
            self.record(asset);
        }
        let mut records = std::mem::take(&mut self.records);
        for record in &mut records {
            let detail = record
                .asset
                .ip
                .as_deref()
                .and_then(|ip| self.host_details.get(&canonical(ip)));
            let start = detail
                .and_then(|d| d.start.as_deref())
                .and_then(scanner::parse_time);
            let end = detail
                .and_then(|d| d.end.as_deref())
                .and_then(scanner::parse_time);
            if let Some(d) = detail {
                if record.asset.os.is_none() {
                    record.asset.os.clone_from(&d.os);
                }
                if record.asset.mac.is_none() {
                    record.asset.mac.clone_from(&d.mac);
                }
            }
            record.observed_at = start.or(self.scan_start);
            record.started_at = start;
            record.finished_at = end;
        }
        records
    }
}

fn canonical(ip: &str) -> String {
    crate::identity::canonical_ip(ip).unwrap_or_else(|| ip.trim().to_owned())
}

struct Built {
    def: CheckDef,
    port: u16,
    protocol: String,
    class: Class,
    observed_at: Option<DateTime<Utc>>,
}

/// One result's check definition, port and class.
fn build(r: &ResultState, oid: &str) -> Result<Built, String> {
    let (port, protocol) = scanner::port_protocol(r.port.as_deref().unwrap_or_default())?;
    let severity = match r.severity.as_deref() {
        None => None,
        Some(s) => Some(
            s.parse::<f64>()
                .ok()
                .filter(|v| (-3.0..=10.0).contains(v))
                .ok_or_else(|| format!("severity {s:?} is not a number -3.0-10.0"))?,
        ),
    };
    let tag_list = tags(r.tags.as_deref().unwrap_or_default());
    let tag = |key: &str| {
        tag_list
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| value(v))
    };
    let mut cvss: Vec<events::CvssVector> = Vec::new();
    for (kind, vector, score) in &r.severities {
        let field = match kind.as_str() {
            "cvss_base_v2" => VectorField::V2,
            "cvss_base_v3" => VectorField::V3,
            "cvss_base_v4" => VectorField::V4,
            _ => continue,
        };
        let Some(vector) = vector.as_deref() else {
            continue;
        };
        let score = scanner::score(score.as_deref().unwrap_or_default())
            .map_err(|why| format!("severity score {why}"))?;
        cvss.push(scanner::cvss_vector(field, vector, score, SCANNER)?);
    }
    if let Some(vector) = tag("cvss_base_vector") {
        let score = scanner::score(r.cvss_base.as_deref().unwrap_or_default())
            .map_err(|why| format!("cvss_base {why}"))?;
        let v = scanner::cvss_vector(VectorField::V2, vector, score, SCANNER)?;
        if !cvss
            .iter()
            .any(|c| c.version == v.version && c.vector == v.vector)
        {
            cvss.push(v);
        }
    }
    let mut cves = Vec::new();
    let mut cwes = Vec::new();
    for (kind, id) in &r.refs {
        match kind.as_str() {
            "cve" => scanner::push_cves(&mut cves, id),
            "cwe" => cwes.extend(parse_cwe(id)),
            _ => {}
        }
    }
    for list in &r.cve_lists {
        scanner::push_cves(&mut cves, list);
    }
    cwes.sort_unstable();
    cwes.dedup();
    let name = r
        .nvt_name
        .as_deref()
        .or(r.name.as_deref())
        .map_or_else(|| oid.to_owned(), scanner::reflow);
    let advisories = scanner::advisory_ids(&name);
    let class = classify(
        severity,
        scanner::severity_from_vectors(&cvss),
        r.threat.as_deref().unwrap_or_default(),
    );
    let observed_at = scanner::time(r.creation_time.as_deref().unwrap_or_default())
        .map_err(|why| format!("creation_time {why}"))?;
    Ok(Built {
        def: CheckDef {
            name,
            family: r.family.as_deref().map(scanner::reflow),
            severity: None,
            cves,
            cwes,
            cvss,
            solution: r
                .solution
                .as_deref()
                .or_else(|| tag("solution"))
                .map(scanner::reflow),
            advisory: match advisories.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        },
        port,
        protocol,
        class,
        observed_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_classify_by_severity_then_threat() {
        let table = [
            (Some(9.8), None, "High", Class::Finding(Severity::Critical)),
            (Some(6.0), None, "Log", Class::Finding(Severity::Medium)),
            (Some(4.0), None, "", Class::Finding(Severity::Medium)),
            (
                Some(5.0),
                Some(Severity::High),
                "Medium",
                Class::Finding(Severity::High),
            ),
            (Some(0.0), None, "Log", Class::Fact),
            (
                Some(-1.0),
                None,
                "False Positive",
                Class::Skip("false positive"),
            ),
            (None, None, "Low", Class::Finding(Severity::Low)),
            (None, None, "Log", Class::Fact),
            (None, None, "Debug", Class::Skip("debug")),
        ];
        for (sev, label, threat, want) in table {
            assert_eq!(classify(sev, label, threat), want, "{sev:?} {threat}");
        }
    }

    #[test]
    fn tags_split_and_trim() {
        assert_eq!(
            tags(
                "cvss_base_vector=AV:N/AC:L|summary=Test  |solution_type= Test solution  type  |x"
            ),
            [
                ("cvss_base_vector".to_owned(), "AV:N/AC:L".to_owned()),
                ("summary".to_owned(), "Test".to_owned()),
                ("solution_type".to_owned(), "Test solution  type".to_owned()),
            ]
        );
    }

    const REPORT: &str = r#"<get_reports_response status="200" status_text="OK">
<report id="r" format_id="f"><report id="r"><gmp><version>22.4</version></gmp>
<scan_start>2024-01-01T10:00:00Z</scan_start>
<results>
 <result id="1"><name>A</name><creation_time>2024-01-01T10:05:00Z</creation_time>
  <host>2001:DB8::1<asset asset_id="x"/></host><port>general/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.1"><name>A</name><family>F</family>
   <refs><ref type="cve" id="cve-2024-0001"/><ref type="url" id="u"/></refs></nvt>
  <threat>Medium</threat><severity>5.0</severity></result>
 <result id="2"><host>10.0.0.9<hostname>db.example.com</hostname></host><port>5432/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.2"><name>B</name></nvt><threat>Log</threat><severity>0.0</severity></result>
 <result id="3"><host>2001:db8::1</host><port>443/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.3"><name>C</name></nvt><threat>False Positive</threat><severity>-1.0</severity></result>
</results>
<host><ip>2001:db8::1</ip><start>2024-01-01T10:01:00Z</start><end>2024-01-01T10:09:00Z</end>
 <detail><name>best_os_txt</name><value>Debian 12</value></detail></host>
<scan_end>2024-01-01T10:10:00Z</scan_end>
</report></report></get_reports_response>"#;

    #[test]
    fn wrapper_mixed_host_and_host_details() {
        let t: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let hosts: Vec<_> = hosts(REPORT.as_bytes(), t)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(hosts.len(), 2);
        let v6 = &hosts[0];
        assert_eq!(v6.asset.asset_id, "2001:db8::1");
        assert_eq!(v6.asset.os.as_deref(), Some("Debian 12"));
        assert_eq!(
            v6.observed_at,
            "2024-01-01T10:01:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(v6.findings.len(), 1);
        let f = &v6.findings[0];
        assert_eq!(
            f.fingerprint,
            "openvas:v1:2001:db8::1:1.3.6.1.4.1.25623.1.0.1:0/tcp"
        );
        assert_eq!(f.cves, ["CVE-2024-0001"]);
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(hosts[1].asset.asset_id, "db");
        assert_eq!(hosts[1].facts.len(), 1);
        let s = check(REPORT.as_bytes()).unwrap();
        assert_eq!((s.hosts, s.findings, s.info_items), (2, 1, 1));
        assert_eq!(s.skipped, [("false positive".to_owned(), 1)]);
        assert_eq!(
            (s.started_at, s.finished_at),
            (
                Some("2024-01-01T10:00:00Z".parse().unwrap()),
                Some("2024-01-01T10:10:00Z".parse().unwrap())
            )
        );
    }

    #[test]
    fn delta_results_gone_are_skipped() {
        let xml = "<report><report><results>\
            <result><host>10.0.0.1</host><port>22/tcp</port><nvt oid=\"1.1\"><name>A</name></nvt>\
              <severity>5.0</severity><delta>gone<result id=\"old\"/></delta></result>\
            <result><host>10.0.0.1</host><port>23/tcp</port><nvt oid=\"1.2\"><name>B</name></nvt>\
              <severity>5.0</severity><delta>new</delta></result>\
            </results></report></report>";
        let s = check(xml.as_bytes()).unwrap();
        assert_eq!((s.hosts, s.findings), (1, 1));
        assert_eq!(s.skipped, [("delta gone".to_owned(), 1)]);
        let t: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let hosts: Vec<_> = hosts(xml.as_bytes(), t).collect::<Result<_, _>>().unwrap();
        assert_eq!(hosts[0].findings.len(), 1);
        assert_eq!(hosts[0].findings[0].port, 23);
    }

    #[test]
    fn rejections() {
        let table = [
            (
                "<get_reports_response status=\"404\" status_text=\"Failed to find report\"/>",
                "GVM error response (status 404: Failed to find report)",
            ),
            ("<html><body/></html>", "root element is <html>"),
            (
                "<report><report><results><result><port>1/tcp</port></result></results></report></report>",
                "result 1 at byte 51: no host",
            ),
            (
                "<report><results><result><host>h</host><nvt oid=\"1\"/><severity>high</severity></result></results></report>",
                "severity \"high\"",
            ),
        ];
        for (xml, want) in table {
            let got = check(xml.as_bytes()).unwrap_err().to_string();
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }
}
