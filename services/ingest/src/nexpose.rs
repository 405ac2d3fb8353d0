//! Streaming parser for Rapid7 Nexpose / InsightVM "XML Export" reports
//! (`<NexposeReport version="1.0">` and `"2.0"`).
//!
//! # Layout
//!
//! `scans/scan` (id, `startTime`, `endTime`), then `nodes/node` (address,
//! `names/name`, `fingerprints/os`, node-level `tests/test`, and
//! `endpoints/endpoint/services/service/tests/test` per port), then
//! `VulnerabilityDefinitions/vulnerability` (title, severity 1–10, CVSS,
//! references, solution) — after the nodes. Version 2.0 adds attributes
//! (`vulnerable-since`, `scan-id`, `key`, `riskScore`, …); both versions read
//! the same way. Any other version is refused.
//!
//! # Joining tests to definitions with bounded memory
//!
//! Test ids are case-insensitive keys into the definitions, which follow the
//! nodes. As for the Qualys glossary ([`crate::qualys`]): [`hosts`] yields a
//! node at once when the definitions came first, else keeps closed nodes as
//! compact [`crate::scanner::HostRecord`]s (about 40 bytes per vulnerable
//! test, no test or definition text) until `</VulnerabilityDefinitions>`;
//! [`read_definitions`] + [`Hosts::with_definitions`] do it in two passes
//! holding only the definitions and one node.
//!
//! # Rules
//!
//! - **Findings**: only tests with status `vulnerable-exploited`,
//!   `vulnerable-version` or `vulnerable-potential`; every other status
//!   (`not-vulnerable`, `skipped-version`, `error`, `unknown`, …) is skipped
//!   and counted by status. A test whose id has no definition in the report
//!   is skipped (`no definition`). Endpoints (open ports and their services)
//!   are inventory, not findings; nothing is synthesized ("Host Up", "Open
//!   port").
//! - **Fingerprint**: `nexpose:v1:<asset_id>:<vulnerability id, lower
//!   case>:<port>/<protocol>`: the node, the vulnerability and the endpoint
//!   (port `0` with no protocol for node-level tests). Several instances of
//!   one vulnerability on one endpoint (tests with different `key`s, such as
//!   URL paths) are one finding; tcp/53 and udp/53 are two.
//! - **Severity**: the CVSS v3 base score when the definition has one
//!   (`cvssV3Score`; FIRST rating), else Rapid7's severity 1–10, which
//!   tracks the CVSS base score: 9–10 critical, 7–8 high, 4–6 medium, 1–3
//!   low (as DefectDojo maps it).
//! - **CVSS**: `cvssVector` (`(AV:N/AC:L/…)`, v2) with `cvssScore`, and
//!   `cvssV3Vector` with `cvssV3Score` when present, canonicalized.
//! - **Identifiers**: CVEs from `reference source="CVE"`. **Remediation**:
//!   the one vendor advisory among the references (`MS`, `MSKB` as
//!   `KB<n>`, `REDHAT`, `DEBIAN`, `UBUNTU`, `SUSE`, …) when there is
//!   exactly one, else the definition's `<solution>` flattened to text.
//! - **Assets**: the first `names/name`, else the `address`; the
//!   highest-certainty `fingerprints/os`; `hardware-address` as the MAC.
//! - **Times** (UTC; Nexpose writes `20210211T162340221` without a zone,
//!   read as UTC): a node is observed at the start of the scan its tests
//!   name (`scan-id`), else of the report's first scan.

use std::collections::{HashMap, VecDeque};
use std::io::BufRead;

use chrono::{DateTime, Utc};
use events::Severity;

use crate::format::Summary;
use crate::normalize::{NormalizedHost, VectorField};
use crate::scanner::{
    self, CheckDef, Checks, Detection, HostRecord, ParseError, Symbols, Tally, value,
};
use crate::xmlpull::{Node, XmlPull, flatten};

/// The scanner family name in checks, fingerprints and remediations.
pub const SCANNER: &str = "nexpose";

const FORMAT: &str = "Nexpose XML export";

/// Test statuses that are findings.
pub const VULNERABLE: [&str; 3] = [
    "vulnerable-exploited",
    "vulnerable-version",
    "vulnerable-potential",
];

/// The normalized severity of a definition: its CVSS v3 base score when it
/// has one, else Rapid7's 1–10 severity (9–10 critical, 7–8 high, 4–6
/// medium, else low).
pub fn severity(rapid7: u8, cvss3_base: Option<f64>) -> Severity {
    if let Some(s) = cvss3_base {
        return Severity::from_cvss(s);
    }
    match rapid7 {
        9.. => Severity::Critical,
        7..=8 => Severity::High,
        4..=6 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// Content sniff: root element `NexposeReport`.
pub(crate) fn sniff(head: &str) -> bool {
    scanner::root_element(head) == Some("NexposeReport")
}

/// The vulnerability definitions of a report, from a first pass
/// ([`read_definitions`]).
#[derive(Debug, Default)]
pub struct Definitions(Checks);

impl Definitions {
    /// Whether vulnerability `id` (any case) is defined.
    pub fn contains(&self, id: &str) -> bool {
        self.0.is_defined(&id.to_lowercase())
    }

    /// Every definition as (lower-case id, definition), in report order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CheckDef)> {
        self.0.definitions()
    }

    /// The definition of vulnerability `id` (any case).
    pub fn get(&self, id: &str) -> Option<&CheckDef> {
        self.0.definition(&id.to_lowercase())
    }
}

/// Reads only the definitions (the first of two passes); nodes are skipped.
///
/// # Errors
/// The first [`ParseError`] of the report.
pub fn read_definitions<R: BufRead>(r: R) -> Result<Definitions, ParseError> {
    let mut reader = Report::new(r, Mode::DefinitionsOnly, None);
    while !reader.finished {
        reader.step()?;
    }
    Ok(Definitions(reader.checks))
}

/// Validates a whole report in one streaming pass and counts it: nodes,
/// findings (vulnerable tests with a definition), skipped tests by status
/// and `no definition`.
///
/// # Errors
/// The first [`ParseError`] of the report.
pub fn check<R: BufRead>(r: R) -> Result<Summary, ParseError> {
    let mut reader = Report::new(r, Mode::Count, None);
    while !reader.finished {
        reader.step()?;
    }
    let Report { tally, checks, .. } = reader;
    Ok(tally.summary(&checks))
}

/// The report's nodes, normalized, one pass (see the module documentation).
pub fn hosts<R: BufRead>(r: R, fallback: DateTime<Utc>) -> Hosts<R> {
    Hosts {
        inner: Report::new(r, Mode::Collect, None),
        fallback,
    }
}

/// Iterator of normalized nodes. Fused after an error.
pub struct Hosts<R> {
    inner: Report<R>,
    fallback: DateTime<Utc>,
}

impl<R: BufRead> Hosts<R> {
    /// The second of two passes: definitions from [`read_definitions`] over
    /// the same report; every node is yielded as soon as it closes.
    pub fn with_definitions(
        input: R,
        definitions: Definitions,
        fallback: DateTime<Utc>,
    ) -> Hosts<R> {
        Hosts {
            inner: Report::new(input, Mode::Collect, Some(definitions.0)),
            fallback,
        }
    }
}

impl<R: BufRead> Iterator for Hosts<R> {
    type Item = Result<NormalizedHost, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = &mut self.inner;
        loop {
            if r.definitions_done
                && let Some(mut record) = r.ready.pop_front()
            {
                if record.observed_at.is_none() {
                    record.observed_at = r.first_scan_start;
                }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Collect,
    Count,
    DefinitionsOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Root,
    Scan,
    Node,
    Name,
    Os,
    Endpoint,
    Service,
    Test,
    Definitions,
    Vulnerability,
    Reference,
    Tag,
    Solution,
    Other,
}

fn classify(path: &[&str]) -> Elem {
    match path {
        ["NexposeReport"] => Elem::Root,
        ["NexposeReport", "scans", "scan"] => Elem::Scan,
        ["NexposeReport", "nodes", "node"] => Elem::Node,
        ["NexposeReport", "nodes", "node", "names", "name"] => Elem::Name,
        ["NexposeReport", "nodes", "node", "fingerprints", "os"] => Elem::Os,
        ["NexposeReport", "nodes", "node", "tests", "test"] => Elem::Test,
        ["NexposeReport", "nodes", "node", "endpoints", "endpoint"] => Elem::Endpoint,
        [
            "NexposeReport",
            "nodes",
            "node",
            "endpoints",
            "endpoint",
            "services",
            "service",
        ] => Elem::Service,
        [
            "NexposeReport",
            "nodes",
            "node",
            "endpoints",
            "endpoint",
            "services",
            "service",
            "tests",
            "test",
        ] => Elem::Test,
        ["NexposeReport", "VulnerabilityDefinitions"] => Elem::Definitions,
        ["NexposeReport", "VulnerabilityDefinitions", "vulnerability"] => Elem::Vulnerability,
        [
            "NexposeReport",
            "VulnerabilityDefinitions",
            "vulnerability",
            "references",
            "reference",
        ] => Elem::Reference,
        [
            "NexposeReport",
            "VulnerabilityDefinitions",
            "vulnerability",
            "tags",
            "tag",
        ] => Elem::Tag,
        [
            "NexposeReport",
            "VulnerabilityDefinitions",
            "vulnerability",
            "solution",
        ] => Elem::Solution,
        _ => Elem::Other,
    }
}

#[derive(Debug, Default)]
struct NodeState {
    index: u64,
    address: Option<String>,
    mac: Option<String>,
    names: Vec<String>,
    os: Option<(f64, String)>,
    tests_seen: u64,
    scan_time: Option<DateTime<Utc>>,
    detections: Vec<Detection>,
}

#[derive(Debug, Default)]
struct VulnState {
    id: String,
    title: Option<String>,
    severity: Option<String>,
    cvss_score: Option<String>,
    cvss_vector: Option<String>,
    cvss3_score: Option<String>,
    cvss3_vector: Option<String>,
    references: Vec<(String, String)>,
    reference_source: String,
    tags: Vec<String>,
    solution: Option<String>,
}

struct Report<R> {
    pull: XmlPull<R>,
    mode: Mode,
    checks: Checks,
    symbols: Symbols,
    tally: Tally,
    scans: HashMap<String, DateTime<Utc>>,
    first_scan_start: Option<DateTime<Utc>>,
    definitions_done: bool,
    preloaded: bool,
    ready: VecDeque<HostRecord>,
    node: Option<NodeState>,
    endpoint: Option<(u16, String)>,
    service: Option<String>,
    vuln: Option<VulnState>,
    nodes_seen: u64,
    finished: bool,
}

impl<R: BufRead> Report<R> {
    fn new(input: R, mode: Mode, definitions: Option<Checks>) -> Report<R> {
        let preloaded = definitions.is_some();
        Report {
            pull: XmlPull::new(input, FORMAT),
            mode,
            checks: definitions.unwrap_or_default(),
            symbols: Symbols::default(),
            tally: Tally::default(),
            scans: HashMap::new(),
            first_scan_start: None,
            definitions_done: preloaded,
            preloaded,
            ready: VecDeque::new(),
            node: None,
            endpoint: None,
            service: None,
            vuln: None,
            nodes_seen: 0,
            finished: false,
        }
    }

    fn invalid(&self, location: &str, reason: String) -> ParseError {
        ParseError::Invalid {
            location: format!("{location} at byte {}", self.pull.position()),
            reason,
        }
    }

    fn node_label(&self) -> String {
        match &self.node {
            Some(NodeState {
                address: Some(a), ..
            }) => format!("node {a:?}"),
            Some(n) => format!("node {}", n.index),
            None => "report".to_owned(),
        }
    }

    fn step(&mut self) -> Result<(), ParseError> {
        let node = self.pull.next()?;
        if node == Node::Eof {
            self.finished = true;
            self.definitions_done = true;
            return Ok(());
        }
        let path: Vec<&str> = self.pull.path().iter().map(String::as_str).collect();
        let elem = classify(&path);
        let root_name = path.first().map(|s| (*s).to_owned()).unwrap_or_default();
        drop(path);
        let nodes_wanted = self.mode != Mode::DefinitionsOnly;
        let definitions_wanted = !self.preloaded;
        match node {
            Node::Start => match elem {
                Elem::Root => self.root()?,
                _ if self.pull.depth() == 1 => {
                    return Err(ParseError::NotFormat {
                        format: FORMAT,
                        found: format!("root element is <{root_name}>"),
                    });
                }
                Elem::Scan => self.scan()?,
                Elem::Node if nodes_wanted => {
                    self.nodes_seen += 1;
                    let attr = |k: &str| self.pull.attr(k).and_then(value).map(str::to_owned);
                    self.node = Some(NodeState {
                        index: self.nodes_seen,
                        address: attr("address"),
                        mac: attr("hardware-address"),
                        ..NodeState::default()
                    });
                }
                Elem::Name if nodes_wanted => self.pull.capture(false),
                Elem::Os if nodes_wanted => self.os(),
                Elem::Endpoint if nodes_wanted => {
                    let port = self.pull.attr("port").unwrap_or_default().to_owned();
                    let port = scanner::port(&port).map_err(|why| {
                        let label = self.node_label();
                        self.invalid(&format!("{label}, endpoint"), why)
                    })?;
                    let protocol = self
                        .pull
                        .attr("protocol")
                        .unwrap_or_default()
                        .trim()
                        .to_lowercase();
                    self.endpoint = Some((port, protocol));
                }
                Elem::Service if nodes_wanted => {
                    // `<unknown>` is Nexpose's placeholder for an unidentified service.
                    self.service = self
                        .pull
                        .attr("name")
                        .and_then(value)
                        .filter(|n| !n.eq_ignore_ascii_case("<unknown>"))
                        .map(str::to_owned);
                }
                Elem::Test if nodes_wanted => self.test()?,
                Elem::Vulnerability if definitions_wanted => {
                    let attr = |k: &str| self.pull.attr(k).and_then(value).map(str::to_owned);
                    self.vuln = Some(VulnState {
                        id: attr("id").unwrap_or_default(),
                        title: attr("title"),
                        severity: attr("severity"),
                        cvss_score: attr("cvssScore"),
                        cvss_vector: attr("cvssVector"),
                        cvss3_score: attr("cvssV3Score"),
                        cvss3_vector: attr("cvssV3Vector"),
                        ..VulnState::default()
                    });
                }
                Elem::Reference if definitions_wanted => {
                    let source = self
                        .pull
                        .attr("source")
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    if let Some(v) = self.vuln.as_mut() {
                        v.reference_source = source;
                    }
                    self.pull.capture(false);
                }
                Elem::Tag if definitions_wanted => self.pull.capture(false),
                Elem::Solution if definitions_wanted => self.pull.capture(true),
                _ => {}
            },
            Node::End => {
                let text = self.pull.take_text();
                match elem {
                    Elem::Name if nodes_wanted => {
                        if let (Some(n), Some(name)) = (self.node.as_mut(), value(&text)) {
                            n.names.push(name.to_owned());
                        }
                    }
                    Elem::Service => self.service = None,
                    Elem::Endpoint => self.endpoint = None,
                    Elem::Node if nodes_wanted => self.node_end()?,
                    Elem::Reference if definitions_wanted => {
                        if let (Some(v), Some(t)) = (self.vuln.as_mut(), value(&text)) {
                            let source = std::mem::take(&mut v.reference_source);
                            v.references.push((source, t.to_owned()));
                        }
                    }
                    Elem::Tag if definitions_wanted => {
                        if let (Some(v), Some(t)) = (self.vuln.as_mut(), value(&text)) {
                            v.tags.push(t.to_owned());
                        }
                    }
                    Elem::Solution if definitions_wanted => {
                        if let Some(v) = self.vuln.as_mut() {
                            let flat = flatten(&text);
                            v.solution = (!flat.is_empty()).then_some(flat);
                        }
                    }
                    Elem::Vulnerability if definitions_wanted => self.vulnerability_end()?,
                    Elem::Definitions => self.definitions_done = true,
                    _ => {}
                }
            }
            Node::Eof => {}
        }
        Ok(())
    }

    fn root(&self) -> Result<(), ParseError> {
        match self.pull.attr("version").map(str::trim) {
            Some("1.0" | "2.0") => Ok(()),
            Some(v) => Err(ParseError::Unsupported {
                what: format!("Nexpose XML export version {v:?} (1.0 and 2.0 are supported)"),
            }),
            None => Err(ParseError::Unsupported {
                what: "Nexpose XML export without a version (1.0 and 2.0 are supported)".to_owned(),
            }),
        }
    }

    fn scan(&mut self) -> Result<(), ParseError> {
        let id = self.pull.attr("id").unwrap_or_default().trim().to_owned();
        let start = scanner::time(self.pull.attr("startTime").unwrap_or_default())
            .map_err(|why| self.invalid(&format!("scan {id:?}"), format!("startTime {why}")))?;
        let end = scanner::time(self.pull.attr("endTime").unwrap_or_default())
            .map_err(|why| self.invalid(&format!("scan {id:?}"), format!("endTime {why}")))?;
        self.tally.span(start, end);
        if let Some(s) = start {
            if self.first_scan_start.is_none() {
                self.first_scan_start = Some(s);
            }
            self.scans.insert(id, s);
        }
        Ok(())
    }

    fn os(&mut self) {
        let certainty = self
            .pull
            .attr("certainty")
            .and_then(|c| c.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let mut parts: Vec<&str> = Vec::new();
        for key in ["vendor", "product", "version"] {
            if let Some(v) = self.pull.attr(key).and_then(value)
                && !parts.contains(&v)
            {
                parts.push(v);
            }
        }
        if parts.is_empty() {
            return;
        }
        let text = parts.join(" ");
        if let Some(n) = self.node.as_mut()
            && n.os.as_ref().is_none_or(|(c, _)| certainty > *c)
        {
            n.os = Some((certainty, text));
        }
    }

    fn test(&mut self) -> Result<(), ParseError> {
        let label = self.node_label();
        let id = self.pull.attr("id").and_then(value).map(str::to_lowercase);
        let status = self
            .pull
            .attr("status")
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        let scan_time = self
            .pull
            .attr("scan-id")
            .and_then(|s| self.scans.get(s.trim()))
            .copied();
        let Some(n) = self.node.as_mut() else {
            return Ok(());
        };
        n.tests_seen += 1;
        if let Some(t) = scan_time {
            n.scan_time = Some(n.scan_time.map_or(t, |s| s.max(t)));
        }
        let location = format!("{label}, test {}", n.tests_seen);
        let Some(id) = id else {
            return Err(self.invalid(&location, "test without an id".to_owned()));
        };
        if !VULNERABLE.contains(&status.as_str()) {
            let why = if status.is_empty() {
                "status missing".to_owned()
            } else {
                format!("status {status}")
            };
            self.tally.skip(&why);
            return Ok(());
        }
        let check = self.checks.key(&id);
        if self.mode == Mode::Count {
            self.tally.detection(check, false);
            return Ok(());
        }
        let (port, protocol) = self.endpoint.clone().unwrap_or_default();
        let protocol = self.symbols.key(&protocol);
        let service = self.service.as_deref().map(|s| self.symbols.key(s));
        if let Some(n) = self.node.as_mut() {
            n.detections.push(Detection {
                check,
                port,
                protocol,
                service,
                severity: None,
                info: false,
                observed_at: None,
            });
        }
        Ok(())
    }

    fn node_end(&mut self) -> Result<(), ParseError> {
        let label = self.node_label();
        let Some(n) = self.node.take() else {
            return Ok(());
        };
        let names: Vec<Option<&str>> = n.names.iter().map(|s| Some(s.as_str())).collect();
        let Some(asset) =
            scanner::asset(&names, n.address.as_deref(), n.os.map(|(_, os)| os), n.mac)
        else {
            return Err(self.invalid(&label, "node without an address or a name".to_owned()));
        };
        self.tally.hosts += 1;
        if self.mode != Mode::Collect {
            return Ok(());
        }
        let mut record = HostRecord::new(asset);
        record.observed_at = n.scan_time;
        record.detections = n.detections;
        self.ready.push_back(record);
        Ok(())
    }

    fn vulnerability_end(&mut self) -> Result<(), ParseError> {
        let Some(v) = self.vuln.take() else {
            return Ok(());
        };
        let location = format!("vulnerability {:?}", v.id);
        if v.id.is_empty() {
            return Err(self.invalid(&location, "no id".to_owned()));
        }
        let def = definition(&v).map_err(|why| self.invalid(&location, why))?;
        self.checks.define(&v.id.to_lowercase(), || def);
        Ok(())
    }
}

/// Reference sources whose values are vendor advisories.
const ADVISORY_SOURCES: [&str; 10] = [
    "MS", "MSKB", "REDHAT", "DEBIAN", "UBUNTU", "SUSE", "CENTOS", "ORACLE", "AMAZON", "ALAS",
];

fn definition(v: &VulnState) -> Result<CheckDef, String> {
    let text = v
        .severity
        .as_deref()
        .ok_or_else(|| "no severity".to_owned())?;
    let rapid7 = text
        .parse::<u8>()
        .ok()
        .filter(|s| *s <= 10)
        .ok_or_else(|| format!("severity {text:?} is not a number 0-10"))?;
    let mut cvss = Vec::new();
    let v2_score = scanner::score(v.cvss_score.as_deref().unwrap_or_default())
        .map_err(|why| format!("cvssScore {why}"))?;
    if let Some(vector) = v.cvss_vector.as_deref().and_then(value) {
        cvss.push(scanner::cvss_vector(
            VectorField::V2,
            vector,
            v2_score,
            SCANNER,
        )?);
    }
    let v3_score = scanner::score(v.cvss3_score.as_deref().unwrap_or_default())
        .map_err(|why| format!("cvssV3Score {why}"))?;
    if let Some(vector) = v.cvss3_vector.as_deref().and_then(value) {
        cvss.push(scanner::cvss_vector(
            VectorField::V3,
            vector,
            v3_score,
            SCANNER,
        )?);
    }
    let mut cves = Vec::new();
    let mut advisories: Vec<String> = Vec::new();
    for (source, text) in &v.references {
        let source = source.to_ascii_uppercase();
        if source == "CVE" {
            scanner::push_cves(&mut cves, text);
        } else if ADVISORY_SOURCES.contains(&source.as_str()) {
            let text = if source == "MSKB" && text.bytes().all(|b| b.is_ascii_digit()) {
                format!("KB{text}")
            } else {
                text.clone()
            };
            for id in scanner::advisory_ids(&text) {
                if !advisories.contains(&id) {
                    advisories.push(id);
                }
            }
        }
    }
    Ok(CheckDef {
        name: v.title.clone().unwrap_or_else(|| v.id.clone()),
        family: (!v.tags.is_empty()).then(|| v.tags.join(", ")),
        severity: Some(severity(rapid7, v3_score)),
        cves,
        cwes: Vec::new(),
        cvss,
        solution: v.solution.clone(),
        advisory: match advisories.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<NexposeReport version="2.0">
 <scans><scan id="7" name="s" startTime="20210211T162340221" endTime="20210211T164705486" status="finished"/></scans>
 <nodes>
  <node address="10.0.0.5" status="alive" hardware-address="00:11:22:33:44:55">
   <names><name>db01.example.com</name></names>
   <fingerprints><os certainty="0.70" vendor="Linux" product="Linux" version="2.6.9"/>
     <os certainty="1.00" vendor="Ubuntu" product="Linux" version="20.04"/></fingerprints>
   <tests><test id="Linux-ICMP-Redirect" status="vulnerable-exploited" scan-id="7"/>
     <test id="x" status="not-vulnerable" scan-id="7"/>
     <test id="undefined-one" status="vulnerable-version"/></tests>
   <endpoints><endpoint protocol="tcp" port="80" status="open"><services><service name="HTTP"><tests>
     <test id="http-basic-auth-cleartext" status="vulnerable-exploited" key="/a"/>
     <test id="http-basic-auth-cleartext" status="vulnerable-exploited" key="/b"/>
   </tests></service></services></endpoint></endpoints>
  </node>
 </nodes>
 <VulnerabilityDefinitions>
  <vulnerability id="linux-icmp-redirect" title="ICMP redirection enabled" severity="7" cvssScore="6.8" cvssVector="(AV:N/AC:M/Au:N/C:P/I:P/A:P)">
   <references><reference source="MSKB">293626</reference><reference source="CVE">CVE-1999-0001</reference></references>
   <solution><ContainerBlockElement><Paragraph>Disable   redirects.</Paragraph><Paragraph>Reboot.</Paragraph></ContainerBlockElement></solution>
  </vulnerability>
  <vulnerability id="http-basic-auth-cleartext" title="HTTP Basic Authentication Enabled" severity="4" cvssScore="4.3" cvssVector="(AV:N/AC:M/Au:N/C:P/I:N/A:N)"/>
 </VulnerabilityDefinitions>
</NexposeReport>"#;

    #[test]
    fn rapid7_severity_bands() {
        let table = [
            (1, None, Severity::Low),
            (3, None, Severity::Low),
            (4, None, Severity::Medium),
            (6, None, Severity::Medium),
            (7, None, Severity::High),
            (8, None, Severity::High),
            (9, None, Severity::Critical),
            (10, None, Severity::Critical),
            (10, Some(6.1), Severity::Medium),
        ];
        for (s, v3, want) in table {
            assert_eq!(severity(s, v3), want, "{s}");
        }
    }

    #[test]
    fn one_pass_and_two_passes_agree() {
        let t: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        let one: Vec<_> = hosts(REPORT.as_bytes(), t)
            .collect::<Result<_, _>>()
            .unwrap();
        let defs = read_definitions(REPORT.as_bytes()).unwrap();
        assert!(defs.contains("Linux-ICMP-Redirect") && !defs.contains("undefined-one"));
        let two: Vec<_> = Hosts::with_definitions(REPORT.as_bytes(), defs, t)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(one, two);
        let n = &one[0];
        assert_eq!(n.asset.asset_id, "db01");
        assert_eq!(n.asset.os.as_deref(), Some("Ubuntu Linux 20.04"));
        assert_eq!(n.asset.mac.as_deref(), Some("00:11:22:33:44:55"));
        assert_eq!(
            n.observed_at,
            "2021-02-11T16:23:40.221Z".parse::<DateTime<Utc>>().unwrap()
        );
        let fps: Vec<&str> = n.findings.iter().map(|f| f.fingerprint.as_str()).collect();
        assert_eq!(
            fps,
            [
                "nexpose:v1:db01:linux-icmp-redirect:0/",
                "nexpose:v1:db01:http-basic-auth-cleartext:80/tcp"
            ]
        );
        let icmp = &n.findings[0];
        assert_eq!(icmp.severity, Severity::High);
        assert_eq!(icmp.cves, ["CVE-1999-0001"]);
        assert_eq!(
            icmp.remediation,
            events::Remediation::Advisory {
                id: "KB293626".into()
            }
        );
        assert_eq!(n.findings[1].service.as_deref(), Some("HTTP"));
        match &n.findings[1].remediation {
            events::Remediation::Solution { text, .. } => assert_eq!(text, "n/a"),
            other => panic!("{other:?}"),
        }
        let s = check(REPORT.as_bytes()).unwrap();
        assert_eq!((s.hosts, s.findings, s.info_items), (1, 3, 0));
        assert_eq!(
            s.skipped,
            [
                ("no definition".to_owned(), 1),
                ("status not-vulnerable".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn solutions_flatten() {
        let defs = read_definitions(REPORT.as_bytes()).unwrap();
        assert_eq!(
            defs.get("LINUX-ICMP-REDIRECT")
                .and_then(|d| d.solution.as_deref()),
            Some("Disable redirects.\nReboot.")
        );
    }

    #[test]
    fn versions_and_roots() {
        let table = [
            (
                "<NexposeReport version=\"3.0\"/>",
                "unsupported Nexpose XML export version \"3.0\"",
            ),
            (
                "<NeXposeSimpleXML version=\"1.0\"/>",
                "not a Nexpose XML export: root element is <NeXposeSimpleXML>",
            ),
            (
                "<NexposeReport version=\"1.0\"><VulnerabilityDefinitions><vulnerability id=\"a\" severity=\"high\"/></VulnerabilityDefinitions></NexposeReport>",
                "severity \"high\"",
            ),
        ];
        for (xml, want) in table {
            let got = check(xml.as_bytes()).unwrap_err().to_string();
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }
}
