//! Streaming parsers for the two Qualys VM XML formats:
//!
//! - **ASSET_DATA_REPORT** (the host-based report): `HOST_LIST/HOST` with
//!   `VULN_INFO_LIST/VULN_INFO` detections that name only a QID, and a
//!   `GLOSSARY/VULN_DETAILS_LIST/VULN_DETAILS id="qid_<n>"` holding each
//!   QID's title, severity, CVEs, CVSS and solution ([`AssetDataHosts`],
//!   [`check_asset_data`]);
//! - **SCAN** (`scan-1.dtd`, web GUI or API scan results): `IP` elements with
//!   `VULNS`, `PRACTICES`, `INFOS` and `SERVICES`, each `CAT/<item
//!   number= severity=>` carrying its own details ([`ScanHosts`],
//!   [`check_scan`]).
//!
//! # Joining VULN_INFO to the GLOSSARY with bounded memory
//!
//! Qualys writes the GLOSSARY *after* the HOST_LIST, so a detection's title
//! and severity are unknown while its host streams past. Two ways, both
//! implemented, never holding the report's text:
//!
//! 1. **Two passes** (memory: the glossary plus one host). [`read_glossary`]
//!    walks the report keeping only the glossary (one compact
//!    [`crate::scanner::CheckDef`] per QID, a few hundred bytes each, however
//!    many hosts there are); [`AssetDataHosts::with_glossary`] then streams
//!    the report again and yields each host as soon as it closes. Use this
//!    when the report can be opened twice.
//! 2. **One pass** ([`AssetDataHosts::new`], what `format::hosts` runs over
//!    its single reader). Hosts are yielded at once when the glossary came
//!    first; otherwise each closed host is kept as a compact
//!    [`crate::scanner::HostRecord`] (about 40 bytes per VULN_INFO: QID,
//!    port, protocol, type, time — no RESULT text) until `</GLOSSARY>`, then
//!    all are joined and yielded in report order.
//!
//! The check pass ([`check_asset_data`]) needs neither: it counts per QID
//! and settles the counts against the glossary at the end.
//!
//! # Rules
//!
//! - **Assets**: the identity rule of [`crate::identity`] over the host's
//!   `DNS` (or the SCAN `IP@name`, unless it is the placeholder "No
//!   registered hostname"), then `NETBIOS`, else its `IP`.
//! - **Findings and facts**: `TYPE` `Vuln` (confirmed) and `Practice`
//!   (potential) are findings; `Ig` (information gathered) items are asset
//!   facts, whatever their severity. In SCAN reports `VULN` and `PRACTICE`
//!   are findings, `INFO` and `SERVICE` facts. A VULN_INFO with
//!   `VULN_STATUS` `Fixed` is skipped (counted as `status Fixed`).
//! - **Severity** ([`severity`]): the CVSS v3 base score when the QID has one
//!   (FIRST rating: ≥ 9.0 critical, ≥ 7.0 high, ≥ 4.0 medium, else low),
//!   else the Qualys level 1–5 (Qualys KB "severity levels": 1 minimal,
//!   2 medium, 3 serious, 4 critical, 5 urgent) mapped 1–2 low, 3 medium,
//!   4 high, 5 critical. The per-detection `CVSS3_FINAL` (a temporal or
//!   environmental score, with no vector) is not used.
//! - **CVSS**: `CVSS_BASE` `9.3 (AV:N/…)` is a bare v2 vector, `CVSS3_BASE`
//!   a bare v3 vector (v3.0 unless `CVSS3_VERSION` says 3.1), both
//!   canonicalized ([`crate::normalize::canonical_cvss`]) with the printed
//!   score kept; `-` and empty mean none.
//! - **Fingerprint**: `qualys:v1:<asset_id>:<QID>:<port>/<protocol>`
//!   ([`crate::scanner::fingerprint`]); the CSV export gives the same one.
//! - **Remediation**: the one vendor advisory or KB the QID's
//!   `VENDOR_REFERENCE_LIST` names, else its `SOLUTION` (HTML reduced to
//!   plain lines).
//! - **Times** (UTC): a detection is observed at its `LAST_FOUND` (else
//!   `FIRST_FOUND`); a host at its `LAST_SCAN_DATETIME`, else its latest
//!   detection, else the report's `GENERATION_DATETIME`. A SCAN report's
//!   hosts are all observed at the header's `DATE` (the scan launch) and
//!   finish at `DATE` + `DURATION`.
//! - **Rejections** ([`crate::scanner::ParseError`]): the safe-XML rules
//!   shared with the OpenVAS and Nexpose parsers (a DOCTYPE with an internal
//!   subset, undeclared entities, not UTF-8, truncated, empty), a foreign
//!   root element, and values that do not parse (a QID that is not a
//!   number, a severity outside 1–5, an unknown `TYPE`, a bad port, time,
//!   score or vector), named by host and item.

use std::collections::VecDeque;
use std::io::BufRead;

use chrono::{DateTime, Duration, Utc};
use events::Severity;

use crate::format::Summary;
use crate::normalize::{NormalizedHost, VectorField};
use crate::scanner::{
    self, CheckDef, Checks, Detection, HostRecord, ParseError, Symbols, Tally, value,
};
use crate::xmlpull::{Node, XmlPull};

/// The scanner family name in checks, fingerprints and remediations.
pub const SCANNER: &str = "qualys";

/// The normalized severity of a QID: its CVSS v3 base score when it has one,
/// else its Qualys level (1–2 low, 3 medium, 4 high, 5 critical). See the
/// module rules.
pub fn severity(level: u8, cvss3_base: Option<f64>) -> Severity {
    if let Some(s) = cvss3_base {
        return Severity::from_cvss(s);
    }
    match level {
        0..=2 => Severity::Low,
        3 => Severity::Medium,
        4 => Severity::High,
        _ => Severity::Critical,
    }
}

/// A Qualys severity level 1–5.
///
/// # Errors
/// `severity "…" is not a level 1-5`.
pub fn level(text: &str) -> Result<u8, String> {
    text.trim()
        .parse::<u8>()
        .ok()
        .filter(|l| (1..=5).contains(l))
        .ok_or_else(|| format!("severity {:?} is not a level 1-5", text.trim()))
}

/// Whether a detection `TYPE` is informational: `Ig` (information gathered)
/// is; `Vuln` (confirmed) and `Practice` (potential) are findings. The long
/// spellings of other exports are accepted too.
///
/// # Errors
/// Any other value.
pub fn is_info_type(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "ig" | "info" | "information gathered" => Ok(true),
        "vuln" | "confirmed" | "practice" | "potential" => Ok(false),
        other => Err(format!(
            "TYPE {other:?} is not Vuln, Practice or Ig (information gathered)"
        )),
    }
}

/// Content sniff for the ASSET_DATA_REPORT: its root element.
pub(crate) fn sniff_asset_data(head: &str) -> bool {
    scanner::root_element(head) == Some("ASSET_DATA_REPORT")
}

/// Content sniff for the SCAN report: root element `SCAN`.
pub(crate) fn sniff_scan(head: &str) -> bool {
    scanner::root_element(head) == Some("SCAN")
}

/// The GLOSSARY of an ASSET_DATA_REPORT: one definition per QID, from a
/// first pass ([`read_glossary`]).
#[derive(Debug, Default)]
pub struct Glossary(Checks);

impl Glossary {
    /// Whether QID `qid` has a VULN_DETAILS entry.
    pub fn contains(&self, qid: u32) -> bool {
        self.0.is_defined(&qid.to_string())
    }

    /// Every QID's definition as (QID, definition), in report order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CheckDef)> {
        self.0.definitions()
    }

    /// The definition of QID `qid`.
    pub fn get(&self, qid: u32) -> Option<&CheckDef> {
        self.0.definition(&qid.to_string())
    }
}

/// Reads only the GLOSSARY of an ASSET_DATA_REPORT (the first of two
/// passes); hosts are skipped unparsed.
///
/// # Errors
/// The first [`ParseError`] of the report.
pub fn read_glossary<R: BufRead>(r: R) -> Result<Glossary, ParseError> {
    let mut reader = AssetData::new(r, Mode::GlossaryOnly, None);
    while !reader.finished {
        reader.step()?;
    }
    Ok(Glossary(reader.checks))
}

/// Validates a whole ASSET_DATA_REPORT in one streaming pass and counts it:
/// hosts, findings (`Vuln` and `Practice` items), informational items
/// (`Ig`), skipped items (`status Fixed`, `no definition` for a QID missing
/// from the glossary).
///
/// # Errors
/// The first [`ParseError`] of the report.
pub fn check_asset_data<R: BufRead>(r: R) -> Result<Summary, ParseError> {
    let mut reader = AssetData::new(r, Mode::Count, None);
    while !reader.finished {
        reader.step()?;
    }
    let AssetData { tally, checks, .. } = reader;
    Ok(tally.summary(&checks))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Build host records and yield normalized hosts.
    Collect,
    /// Validate and count only.
    Count,
    /// Keep the glossary only.
    GlossaryOnly,
}

/// The hosts of an ASSET_DATA_REPORT, normalized, one at a time (see the
/// module documentation for when they are yielded). Fused after an error.
pub struct AssetDataHosts<R> {
    inner: AssetData<R>,
    fallback: DateTime<Utc>,
}

impl<R: BufRead> AssetDataHosts<R> {
    /// One pass over `input`; `fallback` (UTC) is the scan time of a host
    /// the report dates nowhere.
    pub fn new(input: R, fallback: DateTime<Utc>) -> AssetDataHosts<R> {
        AssetDataHosts {
            inner: AssetData::new(input, Mode::Collect, None),
            fallback,
        }
    }

    /// The second of two passes: the glossary comes from [`read_glossary`]
    /// over the same report, so every host is yielded as soon as it closes
    /// and the report's own GLOSSARY is skipped.
    pub fn with_glossary(
        input: R,
        glossary: Glossary,
        fallback: DateTime<Utc>,
    ) -> AssetDataHosts<R> {
        AssetDataHosts {
            inner: AssetData::new(input, Mode::Collect, Some(glossary.0)),
            fallback,
        }
    }
}

impl<R: BufRead> Iterator for AssetDataHosts<R> {
    type Item = Result<NormalizedHost, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = &mut self.inner;
        loop {
            if r.glossary_done
                && let Some(record) = r.ready.pop_front()
            {
                return Some(Ok(scanner::normalize(
                    SCANNER,
                    record,
                    &r.checks,
                    &r.symbols,
                    self.fallback,
                )));
            }
            if r.finished {
                return None;
            }
            if let Err(e) = r.step() {
                r.finished = true;
                r.ready.clear();
                return Some(Err(e));
            }
        }
    }
}

/// The hosts of an ASSET_DATA_REPORT, one pass (see [`AssetDataHosts::new`]).
pub fn asset_data_hosts<R: BufRead>(r: R, fallback: DateTime<Utc>) -> AssetDataHosts<R> {
    AssetDataHosts::new(r, fallback)
}

/// The elements the ASSET_DATA_REPORT parser uses, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Root,
    GenerationTime,
    Host,
    HostField(HostField),
    VulnInfo,
    VulnField(VulnField),
    Glossary,
    Details,
    DetailField(DetailField),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostField {
    Ip,
    Dns,
    Netbios,
    Os,
    LastScan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VulnField {
    Qid,
    Type,
    Port,
    Service,
    Protocol,
    Status,
    FirstFound,
    LastFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DetailField {
    Qid,
    Title,
    Severity,
    Category,
    Solution,
    CvssBase,
    Cvss3Base,
    Cvss3Version,
    CveId,
    VendorReferenceId,
}

fn classify(path: &[&str]) -> Elem {
    match path {
        ["ASSET_DATA_REPORT"] => Elem::Root,
        ["ASSET_DATA_REPORT", "HEADER", "GENERATION_DATETIME"] => Elem::GenerationTime,
        ["ASSET_DATA_REPORT", "HOST_LIST", "HOST"] => Elem::Host,
        ["ASSET_DATA_REPORT", "HOST_LIST", "HOST", field] => match *field {
            "IP" => Elem::HostField(HostField::Ip),
            "DNS" => Elem::HostField(HostField::Dns),
            "NETBIOS" => Elem::HostField(HostField::Netbios),
            "OPERATING_SYSTEM" => Elem::HostField(HostField::Os),
            "LAST_SCAN_DATETIME" => Elem::HostField(HostField::LastScan),
            _ => Elem::Other,
        },
        [
            "ASSET_DATA_REPORT",
            "HOST_LIST",
            "HOST",
            "VULN_INFO_LIST",
            "VULN_INFO",
        ] => Elem::VulnInfo,
        [
            "ASSET_DATA_REPORT",
            "HOST_LIST",
            "HOST",
            "VULN_INFO_LIST",
            "VULN_INFO",
            field,
        ] => match *field {
            "QID" => Elem::VulnField(VulnField::Qid),
            "TYPE" => Elem::VulnField(VulnField::Type),
            "PORT" => Elem::VulnField(VulnField::Port),
            "SERVICE" => Elem::VulnField(VulnField::Service),
            "PROTOCOL" => Elem::VulnField(VulnField::Protocol),
            "VULN_STATUS" => Elem::VulnField(VulnField::Status),
            "FIRST_FOUND" => Elem::VulnField(VulnField::FirstFound),
            "LAST_FOUND" => Elem::VulnField(VulnField::LastFound),
            _ => Elem::Other,
        },
        ["ASSET_DATA_REPORT", "GLOSSARY"] => Elem::Glossary,
        [
            "ASSET_DATA_REPORT",
            "GLOSSARY",
            "VULN_DETAILS_LIST",
            "VULN_DETAILS",
        ] => Elem::Details,
        [
            "ASSET_DATA_REPORT",
            "GLOSSARY",
            "VULN_DETAILS_LIST",
            "VULN_DETAILS",
            rest @ ..,
        ] => match rest {
            ["QID"] => Elem::DetailField(DetailField::Qid),
            ["TITLE"] => Elem::DetailField(DetailField::Title),
            ["SEVERITY"] => Elem::DetailField(DetailField::Severity),
            ["CATEGORY"] => Elem::DetailField(DetailField::Category),
            ["SOLUTION"] => Elem::DetailField(DetailField::Solution),
            ["CVSS_SCORE", "CVSS_BASE"] => Elem::DetailField(DetailField::CvssBase),
            ["CVSS3_SCORE", "CVSS3_BASE"] => Elem::DetailField(DetailField::Cvss3Base),
            ["CVSS3_SCORE", "CVSS3_VERSION"] => Elem::DetailField(DetailField::Cvss3Version),
            ["CVE_ID_LIST", "CVE_ID", "ID"] => Elem::DetailField(DetailField::CveId),
            ["VENDOR_REFERENCE_LIST", "VENDOR_REFERENCE", "ID"] => {
                Elem::DetailField(DetailField::VendorReferenceId)
            }
            _ => Elem::Other,
        },
        _ => Elem::Other,
    }
}

#[derive(Debug, Default)]
struct HostState {
    index: u64,
    ip: Option<String>,
    dns: Option<String>,
    netbios: Option<String>,
    os: Option<String>,
    last_scan: Option<DateTime<Utc>>,
    vulns_seen: u64,
    detections: Vec<Detection>,
}

impl HostState {
    fn label(&self) -> String {
        match (&self.ip, &self.dns) {
            (Some(ip), _) => format!("host {ip:?}"),
            (None, Some(dns)) => format!("host {dns:?}"),
            (None, None) => format!("HOST {}", self.index),
        }
    }
}

#[derive(Debug, Default)]
struct VulnState {
    qid_attr: Option<String>,
    qid: Option<String>,
    kind: Option<String>,
    port: Option<String>,
    service: Option<String>,
    protocol: Option<String>,
    status: Option<String>,
    first_found: Option<String>,
    last_found: Option<String>,
}

#[derive(Debug, Default)]
struct DetailState {
    id_attr: Option<String>,
    qid: Option<String>,
    title: Option<String>,
    severity: Option<String>,
    category: Option<String>,
    solution: Option<String>,
    cvss_base: Option<String>,
    cvss3_base: Option<String>,
    cvss3_version: Option<String>,
    cves: Vec<String>,
    vendor_refs: Vec<String>,
}

struct AssetData<R> {
    pull: XmlPull<R>,
    mode: Mode,
    checks: Checks,
    symbols: Symbols,
    tally: Tally,
    report_time: Option<DateTime<Utc>>,
    /// Every definition is known: hosts can be joined and yielded.
    glossary_done: bool,
    /// The glossary came from a first pass; the report's own is skipped.
    preloaded: bool,
    ready: VecDeque<HostRecord>,
    host: Option<HostState>,
    vuln: Option<VulnState>,
    detail: Option<DetailState>,
    hosts_seen: u64,
    finished: bool,
}

impl<R: BufRead> AssetData<R> {
    fn new(input: R, mode: Mode, glossary: Option<Checks>) -> AssetData<R> {
        let preloaded = glossary.is_some();
        AssetData {
            pull: XmlPull::new(input, "Qualys ASSET_DATA_REPORT"),
            mode,
            checks: glossary.unwrap_or_default(),
            symbols: Symbols::default(),
            tally: Tally::default(),
            report_time: None,
            glossary_done: preloaded,
            preloaded,
            ready: VecDeque::new(),
            host: None,
            vuln: None,
            detail: None,
            hosts_seen: 0,
            finished: false,
        }
    }

    fn step(&mut self) -> Result<(), ParseError> {
        let node = self.pull.next()?;
        if node == Node::Eof {
            self.finished = true;
            self.glossary_done = true;
            return Ok(());
        }
        let path: Vec<&str> = self.pull.path().iter().map(String::as_str).collect();
        let elem = classify(&path);
        let root_name = path.first().map(|s| (*s).to_owned());
        drop(path);
        let hosts_wanted = self.mode != Mode::GlossaryOnly;
        let glossary_wanted = !self.preloaded;
        if node == Node::Start && self.pull.depth() == 1 && elem != Elem::Root {
            return Err(ParseError::NotFormat {
                format: "Qualys ASSET_DATA_REPORT",
                found: format!("root element is <{}>", root_name.unwrap_or_default()),
            });
        }
        match node {
            Node::Start => match elem {
                Elem::GenerationTime => self.pull.capture(false),
                Elem::Host if hosts_wanted => {
                    self.hosts_seen += 1;
                    self.host = Some(HostState {
                        index: self.hosts_seen,
                        ..HostState::default()
                    });
                }
                Elem::HostField(_) | Elem::VulnField(_) if hosts_wanted => {
                    if elem == Elem::VulnField(VulnField::Qid) {
                        let id = self.pull.attr("id").map(str::to_owned);
                        if let Some(v) = self.vuln.as_mut() {
                            v.qid_attr = id;
                        }
                    }
                    self.pull.capture(false);
                }
                Elem::VulnInfo if hosts_wanted => {
                    if let Some(h) = self.host.as_mut() {
                        h.vulns_seen += 1;
                    }
                    self.vuln = Some(VulnState::default());
                }
                Elem::Details if glossary_wanted => {
                    self.detail = Some(DetailState {
                        id_attr: self.pull.attr("id").map(str::to_owned),
                        ..DetailState::default()
                    });
                }
                Elem::DetailField(_) if glossary_wanted => self.pull.capture(false),
                _ => {}
            },
            Node::End => {
                let text = self.pull.take_text();
                match elem {
                    Elem::GenerationTime => {
                        self.report_time = scanner::time(&text).map_err(|why| {
                            self.invalid("HEADER", format!("GENERATION_DATETIME {why}"))
                        })?;
                    }
                    Elem::HostField(field) if hosts_wanted => self.host_field(field, text)?,
                    Elem::VulnField(field) if hosts_wanted => self.vuln_field(field, &text),
                    Elem::VulnInfo if hosts_wanted => self.vuln_end()?,
                    Elem::Host if hosts_wanted => self.host_end()?,
                    Elem::DetailField(field) if glossary_wanted => self.detail_field(field, text),
                    Elem::Details if glossary_wanted => self.detail_end()?,
                    Elem::Glossary => self.glossary_done = true,
                    _ => {}
                }
            }
            Node::Eof => {}
        }
        Ok(())
    }

    fn invalid(&self, location: &str, reason: String) -> ParseError {
        ParseError::Invalid {
            location: format!("{location} at byte {}", self.pull.position()),
            reason,
        }
    }

    fn host_field(&mut self, field: HostField, text: String) -> Result<(), ParseError> {
        let v = value(&text).map(str::to_owned);
        if field == HostField::LastScan {
            let t = scanner::time(&text).map_err(|why| {
                let label = self.host.as_ref().map(HostState::label).unwrap_or_default();
                self.invalid(&label, format!("LAST_SCAN_DATETIME {why}"))
            })?;
            if let Some(h) = self.host.as_mut() {
                h.last_scan = t;
            }
            return Ok(());
        }
        if let Some(h) = self.host.as_mut() {
            match field {
                HostField::Ip => h.ip = v,
                HostField::Dns => h.dns = v,
                HostField::Netbios => h.netbios = v,
                HostField::Os => h.os = v,
                HostField::LastScan => {}
            }
        }
        Ok(())
    }

    fn vuln_field(&mut self, field: VulnField, text: &str) {
        let Some(v) = self.vuln.as_mut() else {
            return;
        };
        let t = value(text).map(str::to_owned);
        match field {
            VulnField::Qid => v.qid = t,
            VulnField::Type => v.kind = t,
            VulnField::Port => v.port = t,
            VulnField::Service => v.service = t,
            VulnField::Protocol => v.protocol = t,
            VulnField::Status => v.status = t,
            VulnField::FirstFound => v.first_found = t,
            VulnField::LastFound => v.last_found = t,
        }
    }

    fn vuln_end(&mut self) -> Result<(), ParseError> {
        let Some(v) = self.vuln.take() else {
            return Ok(());
        };
        let (label, n) = self
            .host
            .as_ref()
            .map(|h| (h.label(), h.vulns_seen))
            .unwrap_or_default();
        let qid_text = v.qid.clone().or_else(|| {
            v.qid_attr
                .as_deref()
                .map(|a| a.trim_start_matches("qid_").to_owned())
        });
        let location = format!("{label}, VULN_INFO {n}");
        let Some(qid_text) = qid_text else {
            return Err(self.invalid(&location, "no QID".to_owned()));
        };
        let Ok(qid) = qid_text.parse::<u32>() else {
            return Err(self.invalid(&location, format!("QID {qid_text:?} is not a number")));
        };
        let location = format!("{location} (QID {qid})");
        let kind = v
            .kind
            .as_deref()
            .ok_or_else(|| self.invalid(&location, "no TYPE".to_owned()))?;
        let info = is_info_type(kind).map_err(|why| self.invalid(&location, why))?;
        let port = scanner::port(v.port.as_deref().unwrap_or_default())
            .map_err(|why| self.invalid(&location, why))?;
        let last = scanner::time(v.last_found.as_deref().unwrap_or_default())
            .map_err(|why| self.invalid(&location, format!("LAST_FOUND {why}")))?;
        let first = scanner::time(v.first_found.as_deref().unwrap_or_default())
            .map_err(|why| self.invalid(&location, format!("FIRST_FOUND {why}")))?;
        if v.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("fixed"))
        {
            self.tally.skip("status Fixed");
            return Ok(());
        }
        let check = self.checks.key(&qid.to_string());
        if self.mode == Mode::Count {
            self.tally.detection(check, info);
            return Ok(());
        }
        let protocol = self
            .symbols
            .key(&v.protocol.as_deref().unwrap_or_default().to_lowercase());
        let service = v.service.as_deref().map(|s| self.symbols.key(s));
        if let Some(h) = self.host.as_mut() {
            h.detections.push(Detection {
                check,
                port,
                protocol,
                service,
                severity: None,
                info,
                observed_at: last.or(first),
            });
        }
        Ok(())
    }

    fn host_end(&mut self) -> Result<(), ParseError> {
        let Some(h) = self.host.take() else {
            return Ok(());
        };
        let Some(asset) = scanner::asset(
            &[h.dns.as_deref(), h.netbios.as_deref()],
            h.ip.as_deref(),
            h.os.clone(),
            None,
        ) else {
            return Err(self.invalid(
                &h.label(),
                "HOST has neither an IP nor a DNS name".to_owned(),
            ));
        };
        self.tally.hosts += 1;
        if self.mode != Mode::Collect {
            return Ok(());
        }
        let dated = h.detections.iter().any(|d| d.observed_at.is_some());
        let mut record = HostRecord::new(asset);
        record.observed_at = h.last_scan.or(if dated { None } else { self.report_time });
        record.detections = h.detections;
        self.ready.push_back(record);
        Ok(())
    }

    fn detail_field(&mut self, field: DetailField, text: String) {
        let Some(d) = self.detail.as_mut() else {
            return;
        };
        let t = value(&text).map(str::to_owned);
        match field {
            DetailField::Qid => d.qid = t,
            DetailField::Title => d.title = t,
            DetailField::Severity => d.severity = t,
            DetailField::Category => d.category = t,
            DetailField::Solution => d.solution = t,
            DetailField::CvssBase => d.cvss_base = t,
            DetailField::Cvss3Base => d.cvss3_base = t,
            DetailField::Cvss3Version => d.cvss3_version = t,
            DetailField::CveId => d.cves.extend(t),
            DetailField::VendorReferenceId => d.vendor_refs.extend(t),
        }
    }

    fn detail_end(&mut self) -> Result<(), ParseError> {
        let Some(d) = self.detail.take() else {
            return Ok(());
        };
        let qid_text = d
            .qid
            .clone()
            .or_else(|| {
                d.id_attr
                    .as_deref()
                    .map(|a| a.trim().trim_start_matches("qid_").to_owned())
            })
            .unwrap_or_default();
        let location = format!("GLOSSARY VULN_DETAILS {qid_text:?}");
        let Ok(qid) = qid_text.parse::<u32>() else {
            return Err(self.invalid(&location, format!("QID {qid_text:?} is not a number")));
        };
        let location = format!("GLOSSARY QID {qid}");
        let def = details_def(qid, &d).map_err(|why| self.invalid(&location, why))?;
        self.checks.define(&qid.to_string(), || def);
        Ok(())
    }
}

/// A GLOSSARY entry (or a SCAN item) as a check definition.
fn details_def(qid: u32, d: &DetailState) -> Result<CheckDef, String> {
    let level = level(
        d.severity
            .as_deref()
            .ok_or_else(|| "no SEVERITY".to_owned())?,
    )?;
    let mut cvss = Vec::new();
    let (v2_score, v2) = scanner::score_and_vector(d.cvss_base.as_deref().unwrap_or_default())
        .map_err(|why| format!("CVSS_BASE {why}"))?;
    if let Some(v) = v2 {
        cvss.push(
            scanner::cvss_vector(VectorField::V2, &v, v2_score, SCANNER)
                .map_err(|why| format!("CVSS_BASE {why}"))?,
        );
    }
    let (v3_score, v3) = scanner::score_and_vector(d.cvss3_base.as_deref().unwrap_or_default())
        .map_err(|why| format!("CVSS3_BASE {why}"))?;
    if let Some(v) = v3 {
        let v = match d.cvss3_version.as_deref().map(str::trim) {
            Some("3.1") if !v.starts_with("CVSS:") => format!("CVSS:3.1/{v}"),
            _ => v,
        };
        cvss.push(
            scanner::cvss_vector(VectorField::V3, &v, v3_score, SCANNER)
                .map_err(|why| format!("CVSS3_BASE {why}"))?,
        );
    }
    let mut cves = Vec::new();
    for c in &d.cves {
        scanner::push_cves(&mut cves, c);
    }
    let advisories: Vec<String> = d
        .vendor_refs
        .iter()
        .flat_map(|r| scanner::advisory_ids(r))
        .fold(Vec::new(), |mut acc, id| {
            if !acc.contains(&id) {
                acc.push(id);
            }
            acc
        });
    Ok(CheckDef {
        name: d.title.clone().unwrap_or_else(|| format!("QID {qid}")),
        family: d.category.clone(),
        severity: Some(severity(level, v3_score)),
        cves,
        cwes: Vec::new(),
        cvss,
        solution: d
            .solution
            .as_deref()
            .map(scanner::html_to_text)
            .filter(|s| !s.is_empty()),
        advisory: match advisories.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    })
}

// ---------------------------------------------------------------------------
// SCAN (scan-1.dtd)

/// Validates a whole SCAN report in one streaming pass and counts it: `IP`
/// hosts, findings (`VULN`, `PRACTICE`), informational items (`INFO`,
/// `SERVICE`).
///
/// # Errors
/// The first [`ParseError`] of the report.
pub fn check_scan<R: BufRead>(r: R) -> Result<Summary, ParseError> {
    let mut reader = Scan::new(r, true);
    while !reader.finished {
        reader.step()?;
    }
    let Scan { tally, checks, .. } = reader;
    Ok(tally.summary(&checks))
}

/// The hosts of a SCAN report, normalized, each yielded as its `IP` element
/// closes. Fused after an error.
pub struct ScanHosts<R> {
    inner: Scan<R>,
    fallback: DateTime<Utc>,
}

/// The hosts of a SCAN report (see [`ScanHosts`]); `fallback` (UTC) is the
/// scan time when the header has no `DATE`.
pub fn scan_hosts<R: BufRead>(r: R, fallback: DateTime<Utc>) -> ScanHosts<R> {
    ScanHosts {
        inner: Scan::new(r, false),
        fallback,
    }
}

impl<R: BufRead> Iterator for ScanHosts<R> {
    type Item = Result<NormalizedHost, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = &mut self.inner;
        loop {
            if let Some(record) = r.ready.pop_front() {
                return Some(Ok(scanner::normalize(
                    SCANNER,
                    record,
                    &r.checks,
                    &r.symbols,
                    self.fallback,
                )));
            }
            if r.finished {
                return None;
            }
            if let Err(e) = r.step() {
                r.finished = true;
                return Some(Err(e));
            }
        }
    }
}

/// The SCAN item kinds: `(container, item, informational)`.
const SCAN_ITEMS: [(&str, &str, bool); 4] = [
    ("VULNS", "VULN", false),
    ("PRACTICES", "PRACTICE", false),
    ("INFOS", "INFO", true),
    ("SERVICES", "SERVICE", true),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanElem {
    Root,
    HeaderKey,
    Ip,
    IpField(ScanIpField),
    Cat,
    Item(bool),
    ItemField(ScanItemField),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanIpField {
    Os,
    Netbios,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanItemField {
    Title,
    CvssBase,
    Cvss3Base,
    Cvss3Version,
    CveId,
    VendorReferenceId,
    Solution,
}

fn classify_scan(path: &[&str]) -> ScanElem {
    match path {
        ["SCAN"] => ScanElem::Root,
        ["SCAN", "HEADER", "KEY"] => ScanElem::HeaderKey,
        ["SCAN", "IP"] => ScanElem::Ip,
        ["SCAN", "IP", "OS"] => ScanElem::IpField(ScanIpField::Os),
        ["SCAN", "IP", "NETBIOS_HOSTNAME"] => ScanElem::IpField(ScanIpField::Netbios),
        ["SCAN", "IP", list, "CAT"] if SCAN_ITEMS.iter().any(|(l, _, _)| l == list) => {
            ScanElem::Cat
        }
        ["SCAN", "IP", list, "CAT", item] => SCAN_ITEMS
            .iter()
            .find(|(l, i, _)| l == list && i == item)
            .map_or(ScanElem::Other, |(_, _, info)| ScanElem::Item(*info)),
        ["SCAN", "IP", list, "CAT", item, rest @ ..]
            if SCAN_ITEMS.iter().any(|(l, i, _)| l == list && i == item) =>
        {
            match rest {
                ["TITLE"] => ScanElem::ItemField(ScanItemField::Title),
                ["CVSS_BASE"] => ScanElem::ItemField(ScanItemField::CvssBase),
                ["CVSS3_BASE"] => ScanElem::ItemField(ScanItemField::Cvss3Base),
                ["CVSS3_VERSION"] => ScanElem::ItemField(ScanItemField::Cvss3Version),
                ["CVE_ID_LIST", "CVE_ID", "ID"] => ScanElem::ItemField(ScanItemField::CveId),
                ["VENDOR_REFERENCE_LIST", "VENDOR_REFERENCE", "ID"] => {
                    ScanElem::ItemField(ScanItemField::VendorReferenceId)
                }
                ["SOLUTION"] => ScanElem::ItemField(ScanItemField::Solution),
                _ => ScanElem::Other,
            }
        }
        _ => ScanElem::Other,
    }
}

#[derive(Debug, Default)]
struct ScanHost {
    index: u64,
    ip: Option<String>,
    name: Option<String>,
    netbios: Option<String>,
    os: Option<String>,
    items_seen: u64,
    detections: Vec<Detection>,
}

#[derive(Debug, Default)]
struct ScanItem {
    info: bool,
    number: Option<String>,
    severity: Option<String>,
    cveid: Option<String>,
    details: DetailState,
}

struct Scan<R> {
    pull: XmlPull<R>,
    count_only: bool,
    checks: Checks,
    symbols: Symbols,
    tally: Tally,
    date: Option<DateTime<Utc>>,
    duration: Option<Duration>,
    key_name: Option<String>,
    /// The open `CAT`: port, protocol and category (the check family).
    cat: Option<(u16, String, Option<String>)>,
    host: Option<ScanHost>,
    item: Option<ScanItem>,
    hosts_seen: u64,
    ready: VecDeque<HostRecord>,
    finished: bool,
}

impl<R: BufRead> Scan<R> {
    fn new(input: R, count_only: bool) -> Scan<R> {
        Scan {
            pull: XmlPull::new(input, "Qualys SCAN report"),
            count_only,
            checks: Checks::default(),
            symbols: Symbols::default(),
            tally: Tally::default(),
            date: None,
            duration: None,
            key_name: None,
            cat: None,
            host: None,
            item: None,
            hosts_seen: 0,
            ready: VecDeque::new(),
            finished: false,
        }
    }

    fn invalid(&self, location: &str, reason: String) -> ParseError {
        ParseError::Invalid {
            location: format!("{location} at byte {}", self.pull.position()),
            reason,
        }
    }

    fn host_label(&self) -> String {
        match &self.host {
            Some(ScanHost { ip: Some(ip), .. }) => format!("IP {ip:?}"),
            Some(h) => format!("IP {}", h.index),
            None => "report".to_owned(),
        }
    }

    fn step(&mut self) -> Result<(), ParseError> {
        let node = self.pull.next()?;
        if node == Node::Eof {
            self.finished = true;
            let finished_at = self.date.zip(self.duration).map(|(d, l)| d + l);
            self.tally.span(self.date, finished_at);
            return Ok(());
        }
        let path: Vec<&str> = self.pull.path().iter().map(String::as_str).collect();
        let elem = classify_scan(&path);
        let depth = path.len();
        let root_name = path.first().map(|s| (*s).to_owned()).unwrap_or_default();
        drop(path);
        match node {
            Node::Start => match elem {
                ScanElem::Root => {}
                _ if depth == 1 => {
                    return Err(ParseError::NotFormat {
                        format: "Qualys SCAN report",
                        found: format!("root element is <{root_name}>"),
                    });
                }
                ScanElem::HeaderKey => {
                    self.key_name = self.pull.attr("value").map(str::to_owned);
                    self.pull.capture(false);
                }
                ScanElem::Ip => {
                    self.hosts_seen += 1;
                    self.host = Some(ScanHost {
                        index: self.hosts_seen,
                        ip: self.pull.attr("value").and_then(value).map(str::to_owned),
                        name: self
                            .pull
                            .attr("name")
                            .and_then(value)
                            .filter(|n| !n.eq_ignore_ascii_case("No registered hostname"))
                            .map(str::to_owned),
                        ..ScanHost::default()
                    });
                }
                ScanElem::IpField(_) | ScanElem::ItemField(_) => self.pull.capture(false),
                ScanElem::Cat => {
                    let port = self.pull.attr("port").unwrap_or_default().to_owned();
                    let port = scanner::port(&port).map_err(|why| {
                        let label = self.host_label();
                        self.invalid(&format!("{label}, CAT"), why)
                    })?;
                    let protocol = self
                        .pull
                        .attr("protocol")
                        .and_then(value)
                        .unwrap_or_default()
                        .to_lowercase();
                    let category = self.pull.attr("value").and_then(value).map(str::to_owned);
                    self.cat = Some((port, protocol, category));
                }
                ScanElem::Item(info) => {
                    if let Some(h) = self.host.as_mut() {
                        h.items_seen += 1;
                    }
                    self.item = Some(ScanItem {
                        info,
                        number: self.pull.attr("number").and_then(value).map(str::to_owned),
                        severity: self.pull.attr("severity").map(str::to_owned),
                        cveid: self.pull.attr("cveid").map(str::to_owned),
                        details: DetailState::default(),
                    });
                }
                ScanElem::Other => {}
            },
            Node::End => {
                let text = self.pull.take_text();
                match elem {
                    ScanElem::HeaderKey => self.header_key(&text)?,
                    ScanElem::IpField(field) => {
                        if let Some(h) = self.host.as_mut() {
                            let v = value(&text).map(str::to_owned);
                            match field {
                                ScanIpField::Os => h.os = v,
                                ScanIpField::Netbios => h.netbios = v,
                            }
                        }
                    }
                    ScanElem::ItemField(field) => {
                        if let Some(item) = self.item.as_mut() {
                            let d = &mut item.details;
                            let v = value(&text).map(str::to_owned);
                            match field {
                                ScanItemField::Title => d.title = v,
                                ScanItemField::CvssBase => d.cvss_base = v,
                                ScanItemField::Cvss3Base => d.cvss3_base = v,
                                ScanItemField::Cvss3Version => d.cvss3_version = v,
                                ScanItemField::CveId => d.cves.extend(v),
                                ScanItemField::VendorReferenceId => d.vendor_refs.extend(v),
                                ScanItemField::Solution => d.solution = v,
                            }
                        }
                    }
                    ScanElem::Item(_) => self.item_end()?,
                    ScanElem::Cat => self.cat = None,
                    ScanElem::Ip => self.host_end()?,
                    _ => {}
                }
            }
            Node::Eof => {}
        }
        Ok(())
    }

    fn header_key(&mut self, text: &str) -> Result<(), ParseError> {
        match self.key_name.take().as_deref() {
            Some("DATE") => {
                self.date = scanner::time(text)
                    .map_err(|why| self.invalid("HEADER", format!("DATE {why}")))?;
            }
            Some("DURATION") => {
                // `HH:MM:SS`; hours may exceed 24. Anything else is ignored:
                // the duration only widens the scan span.
                let parts: Vec<i64> = text
                    .trim()
                    .split(':')
                    .filter_map(|p| p.parse().ok())
                    .collect();
                if let [h, m, s] = parts.as_slice() {
                    self.duration =
                        Some(Duration::hours(*h) + Duration::minutes(*m) + Duration::seconds(*s));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn item_end(&mut self) -> Result<(), ParseError> {
        let Some(item) = self.item.take() else {
            return Ok(());
        };
        let n = self.host.as_ref().map_or(0, |h| h.items_seen);
        let location = format!("{}, item {n}", self.host_label());
        let number = item
            .number
            .ok_or_else(|| self.invalid(&location, "no number (QID) attribute".to_owned()))?;
        let qid = number
            .parse::<u32>()
            .map_err(|_| self.invalid(&location, format!("number {number:?} is not a QID")))?;
        let location = format!("{location} (QID {qid})");
        let (port, protocol, category) = self.cat.clone().unwrap_or_default();
        let mut details = item.details;
        details.severity = item.severity;
        details.category = category;
        if let Some(list) = item.cveid {
            details.cves.insert(0, list);
        }
        let def = details_def(qid, &details).map_err(|why| self.invalid(&location, why))?;
        let check = self.checks.define(&qid.to_string(), || def);
        if self.count_only {
            self.tally.detection(check, item.info);
            return Ok(());
        }
        let protocol = self.symbols.key(&protocol);
        if let Some(h) = self.host.as_mut() {
            h.detections.push(Detection {
                check,
                port,
                protocol,
                service: None,
                severity: None,
                info: item.info,
                observed_at: None,
            });
        }
        Ok(())
    }

    fn host_end(&mut self) -> Result<(), ParseError> {
        let label = self.host_label();
        let Some(h) = self.host.take() else {
            return Ok(());
        };
        let Some(asset) = scanner::asset(
            &[h.name.as_deref(), h.netbios.as_deref()],
            h.ip.as_deref(),
            h.os,
            None,
        ) else {
            return Err(self.invalid(&label, "IP element has no value".to_owned()));
        };
        self.tally.hosts += 1;
        if self.count_only {
            return Ok(());
        }
        let mut record = HostRecord::new(asset);
        record.observed_at = self.date;
        record.started_at = self.date;
        record.finished_at = self.date.zip(self.duration).map(|(d, l)| d + l);
        record.detections = h.detections;
        self.ready.push_back(record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const ADR: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE ASSET_DATA_REPORT SYSTEM "https://x/asset_data_report.dtd">
<ASSET_DATA_REPORT>
  <HEADER><GENERATION_DATETIME>2019-08-01T20:03:10Z</GENERATION_DATETIME></HEADER>
  <HOST_LIST>
    <HOST><IP>10.0.0.1</IP><DNS><![CDATA[web01.example.com]]></DNS>
      <VULN_INFO_LIST>
        <VULN_INFO><QID id="qid_6">6</QID><TYPE>Ig</TYPE><LAST_FOUND>2019-07-31T21:57:48Z</LAST_FOUND></VULN_INFO>
        <VULN_INFO><QID id="qid_38739">38739</QID><TYPE>Vuln</TYPE><PORT>22</PORT><SERVICE>ssh</SERVICE><PROTOCOL>tcp</PROTOCOL>
          <LAST_FOUND>2019-07-31T21:57:48Z</LAST_FOUND><VULN_STATUS>New</VULN_STATUS></VULN_INFO>
        <VULN_INFO><QID id="qid_1">1</QID><TYPE>Vuln</TYPE><VULN_STATUS>Fixed</VULN_STATUS></VULN_INFO>
      </VULN_INFO_LIST>
    </HOST>
    <HOST><IP>10.0.0.2</IP><VULN_INFO_LIST/></HOST>
  </HOST_LIST>
  <GLOSSARY><VULN_DETAILS_LIST>
    <VULN_DETAILS id="qid_6"><QID id="qid_6">6</QID><TITLE>DNS Host Name</TITLE><SEVERITY>1</SEVERITY></VULN_DETAILS>
    <VULN_DETAILS id="qid_38739"><QID id="qid_38739">38739</QID><TITLE>Deprecated SSH Cryptographic Settings</TITLE>
      <SEVERITY>3</SEVERITY><CATEGORY>General remote services</CATEGORY>
      <SOLUTION><![CDATA[Disable them.<P>]]></SOLUTION>
      <CVSS3_SCORE><CVSS3_BASE>-</CVSS3_BASE></CVSS3_SCORE>
      <VENDOR_REFERENCE_LIST><VENDOR_REFERENCE><ID>MS17-010</ID></VENDOR_REFERENCE></VENDOR_REFERENCE_LIST>
    </VULN_DETAILS>
  </VULN_DETAILS_LIST></GLOSSARY>
</ASSET_DATA_REPORT>"#;

    #[test]
    fn severity_prefers_cvss_then_maps_levels() {
        let table = [
            (1, None, Severity::Low),
            (2, None, Severity::Low),
            (3, None, Severity::Medium),
            (4, None, Severity::High),
            (5, None, Severity::Critical),
            (4, Some(9.0), Severity::Critical),
            (5, Some(3.4), Severity::Low),
        ];
        for (l, cvss, want) in table {
            assert_eq!(severity(l, cvss), want, "{l} {cvss:?}");
        }
    }

    #[test]
    fn one_pass_and_two_passes_agree() {
        let t = utc("2030-01-01T00:00:00Z");
        let one: Vec<_> = asset_data_hosts(ADR.as_bytes(), t)
            .collect::<Result<_, _>>()
            .unwrap();
        let glossary = read_glossary(ADR.as_bytes()).unwrap();
        assert!(glossary.contains(38739) && !glossary.contains(1));
        let two: Vec<_> = AssetDataHosts::with_glossary(ADR.as_bytes(), glossary, t)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(one, two);
        assert_eq!(one.len(), 2);
        let web = &one[0];
        assert_eq!(web.asset.asset_id, "web01");
        assert_eq!(web.observed_at, utc("2019-07-31T21:57:48Z"));
        assert_eq!(web.facts.len(), 1);
        assert_eq!(web.findings.len(), 1);
        let f = &web.findings[0];
        assert_eq!(f.fingerprint, "qualys:v1:web01:38739:22/tcp");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.service.as_deref(), Some("ssh"));
        assert_eq!(
            f.remediation,
            events::Remediation::Advisory {
                id: "MS17-010".into()
            }
        );
        // A host with no dated detection is observed at the report's time.
        assert_eq!(one[1].observed_at, utc("2019-08-01T20:03:10Z"));
        let s = check_asset_data(ADR.as_bytes()).unwrap();
        assert_eq!((s.hosts, s.findings, s.info_items), (2, 1, 1));
        assert_eq!(s.skipped, [("status Fixed".to_owned(), 1)]);
    }

    #[test]
    fn hosts_stream_when_the_glossary_comes_first() {
        // Glossary first, then a host, then the file breaks off: the host is
        // yielded before the error, so it was not held until the end.
        let glossary_first = ADR
            .replace("<HOST_LIST>", "<HOST_LIST_X>")
            .replace("</HOST_LIST>", "</HOST_LIST_X>");
        let start = glossary_first.find("<HOST_LIST_X>").unwrap();
        let end = glossary_first.find("</HOST_LIST_X>").unwrap() + "</HOST_LIST_X>".len();
        let hosts_xml = ADR
            .get(ADR.find("<HOST_LIST>").unwrap()..ADR.find("</HOST_LIST>").unwrap())
            .unwrap()
            .to_owned();
        let reordered = format!(
            "{}{}{hosts_xml}<HOST><IP>10.9.9.9</IP>",
            glossary_first.get(..start).unwrap(),
            glossary_first
                .get(end..)
                .unwrap()
                .replace("</ASSET_DATA_REPORT>", ""),
        );
        let t = utc("2030-01-01T00:00:00Z");
        let mut it = asset_data_hosts(reordered.as_bytes(), t);
        let first = it.next().unwrap().unwrap();
        assert_eq!(first.asset.asset_id, "web01");
        assert_eq!(first.findings[0].severity, Severity::Medium);
        assert!(it.next().unwrap().is_ok());
        let err = it.next().unwrap().unwrap_err();
        assert!(err.to_string().starts_with("truncated report"), "{err}");
        assert!(it.next().is_none());
    }

    #[test]
    fn bad_values_are_rejected_with_host_and_item() {
        let table = [
            (
                ADR.replace(">38739</QID><TYPE>Vuln", ">x1</QID><TYPE>Vuln"),
                "VULN_INFO 2 at byte 644: QID \"x1\" is not a number",
            ),
            (
                ADR.replace("<TYPE>Vuln</TYPE><PORT>", "<TYPE>Bug</TYPE><PORT>"),
                "TYPE \"bug\"",
            ),
            (
                ADR.replace("<PORT>22</PORT>", "<PORT>ssh</PORT>"),
                "port \"ssh\"",
            ),
            (
                ADR.replace("<SEVERITY>3</SEVERITY>", "<SEVERITY>7</SEVERITY>"),
                "GLOSSARY QID 38739",
            ),
            (
                ADR.replace(
                    "<CVSS3_BASE>-</CVSS3_BASE>",
                    "<CVSS3_BASE>9.8 (AV:N//X)</CVSS3_BASE>",
                ),
                "is not a CVSS vector",
            ),
            (
                ADR.replace("ASSET_DATA_REPORT>", "REPORT>"),
                "not a Qualys ASSET_DATA_REPORT: root element is <REPORT>",
            ),
        ];
        for (xml, want) in table {
            let got = check_asset_data(xml.as_bytes()).unwrap_err().to_string();
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }
}
