//! What the Qualys, OpenVAS/Greenbone and Rapid7 Nexpose parsers share: the
//! error type, the compact per-host detection records and their join to the
//! scanners' check definitions, and the cell-level rules (placeholders, CVE
//! lists, scores, ports, times, advisory ids).
//!
//! # The model
//!
//! A parser turns a report into [`HostRecord`]s: the host's [`Asset`] and a
//! list of compact [`Detection`]s (about 40 bytes each: check, port,
//! protocol, service, severity, time, finding-or-fact). What a check *is*
//! (title, family, CVEs, CVSS vectors, solution) lives once per check in
//! [`Checks`], however many hosts it appears on. [`normalize`] joins a
//! record to the definitions and yields the [`NormalizedHost`] the rest of
//! ingest uses, one finding per fingerprint.
//!
//! This split is what keeps memory bounded when a format puts the
//! definitions after the hosts (the Qualys GLOSSARY, Nexpose
//! VulnerabilityDefinitions) or scatters one host's results over the file
//! (OpenVAS results sorted by severity, CSV rows): only the compact records
//! wait, never the report's text.
//!
//! # Fingerprints (version `v1`)
//!
//! `<scanner>:v1:<asset_id>:<check id>:<port>/<protocol>` ([`fingerprint`]),
//! `finding_id = UUIDv5(FINDING_NAMESPACE, fingerprint)`: one finding per
//! asset × check × port/protocol, whatever the export (Qualys XML and CSV,
//! OpenVAS XML and CSV agree). Port `0` is host level; the protocol is lower
//! case and empty when the report names none (a Qualys host-level QID, a
//! Nexpose node-level test). Volatile fields (titles, scores, dates, result
//! text) are not part of it. Changing the shape means a new version prefix.
//!
//! # Safe XML
//!
//! The three XML parsers share one pull reader over quick-xml with these
//! rules (every violation a [`ParseError`], never a panic): UTF-8 only; a
//! `<!DOCTYPE>` with an internal subset (`[…]`, where entities are declared:
//! XXE, "billion laughs") is refused, one that only names an external DTD
//! (every Qualys export has `<!DOCTYPE SCAN SYSTEM "…/scan-1.dtd">`) is
//! accepted because nothing ever fetches or reads it; only the five
//! predefined entities and character references resolve; one root element;
//! kept text capped at [`crate::nessus::MAX_FIELD_BYTES`]. Memory is the
//! open-element path, the current attributes and the captured text.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use events::{Asset, AssetFact, Check, CvssVector, CvssVersion, Remediation, Severity};

use crate::format::Summary;
use crate::identity;
use crate::normalize::{NormalizedHost, Observation, VectorField, canonical_cvss, finding_id};

/// Why a Qualys, OpenVAS or Nexpose report was rejected. `Display` is the
/// one-line reason of `patch.scan.rejected`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing to read (0 bytes, whitespace, a CSV without a header row).
    #[error("empty report: {detail}")]
    Empty {
        /// What was found (`no XML element in 0 bytes`).
        detail: String,
    },
    /// The XML is not well-formed.
    #[error("not well-formed XML at byte {position}: {message}")]
    Xml {
        /// Byte offset of the offending markup.
        position: u64,
        /// What the XML parser found.
        message: String,
    },
    /// The input ended before the document was complete.
    #[error("truncated report: input ended at byte {position} {context}")]
    Truncated {
        /// Byte offset where the input stopped making sense.
        position: u64,
        /// Where it ended (`inside <HOST> (depth 3)`).
        context: String,
    },
    /// Bytes that are not UTF-8.
    #[error("invalid UTF-8 at byte {position}")]
    InvalidUtf8 {
        /// Byte offset of the event holding the bad bytes.
        position: u64,
    },
    /// The XML declaration names an encoding other than UTF-8.
    #[error("unsupported encoding {encoding:?}: only UTF-8 reports are accepted")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// A DOCTYPE with an internal subset, where entities can be declared.
    #[error(
        "refused DOCTYPE with an internal subset at byte {position}: entity declarations are not allowed"
    )]
    Doctype {
        /// Byte offset of the declaration.
        position: u64,
    },
    /// A reference to an entity other than the five predefined XML ones.
    #[error("undeclared entity reference &{name}; at byte {position}")]
    UndeclaredEntity {
        /// Entity name.
        name: String,
        /// Byte offset.
        position: u64,
    },
    /// Some other document.
    #[error("not a {format}: {found}")]
    NotFormat {
        /// The expected format (`Qualys ASSET_DATA_REPORT`).
        format: &'static str,
        /// What was found instead (`root element is <html>`).
        found: String,
    },
    /// A version or variant of the format that is not supported.
    #[error("unsupported {what}")]
    Unsupported {
        /// What and why (`Nexpose XML export version "3.0" (1.0 and 2.0 are supported)`).
        what: String,
    },
    /// A value inside an otherwise well-formed report does not parse.
    #[error("{location}: {reason}")]
    Invalid {
        /// Which host and item, and where (`host "10.0.0.1", VULN_INFO 4 (QID 6) at byte 1234`).
        location: String,
        /// What is wrong (`port "http" is not a number 0-65535`).
        reason: String,
    },
    /// CSV that does not parse.
    #[error("malformed CSV on line {line}: {message}")]
    Csv {
        /// 1-based line.
        line: u64,
        /// What the CSV reader found.
        message: String,
    },
    /// The underlying reader failed.
    #[error("read error at byte {position}: {message}")]
    Io {
        /// Bytes read before the failure.
        position: u64,
        /// The I/O error.
        message: String,
    },
}

/// Builds the fingerprint `<scanner>:v1:<asset_id>:<check_id>:<port>/<protocol>`
/// (protocol lower-cased). See the module documentation.
pub fn fingerprint(
    scanner: &str,
    asset_id: &str,
    check_id: &str,
    port: u16,
    protocol: &str,
) -> String {
    format!(
        "{scanner}:v1:{asset_id}:{check_id}:{port}/{}",
        protocol.to_lowercase()
    )
}

/// The text of a cell or element with the "no value" placeholders removed:
/// trimmed, and `None` when empty or a lone `-` (Qualys writes `-` in empty
/// CVSS fields).
pub fn value(text: &str) -> Option<&str> {
    let t = text.trim();
    (!t.is_empty() && t != "-").then_some(t)
}

/// Whether `s` has the shape of a CVE id (`CVE-YYYY-NNNN…`, any case).
pub fn is_cve(s: &str) -> bool {
    let Some((prefix, rest)) = s.split_at_checked(4) else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    prefix.eq_ignore_ascii_case("CVE-")
        && year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && number.len() >= 4
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Appends the CVE ids of `text` to `cves`: the list may be separated by
/// commas, semicolons or whitespace; ids are upper-cased, repeats and
/// sentinels (`NOCVE`, `-`, anything not shaped like a CVE id) dropped,
/// report order kept.
pub fn push_cves(cves: &mut Vec<String>, text: &str) {
    for token in text.split([',', ';', ' ', '\n', '\r', '\t']) {
        let token = token.trim();
        if is_cve(token) {
            let id = token.to_ascii_uppercase();
            if !cves.contains(&id) {
                cves.push(id);
            }
        }
    }
}

/// The name of the root element of an XML head (after the declaration,
/// comments, processing instructions and a DOCTYPE), for content sniffing.
/// `None` when `head` does not start like XML.
pub fn root_element(head: &str) -> Option<&str> {
    let mut rest = head.trim_start_matches('\u{feff}').trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>")?.1.trim_start();
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->")?.1.trim_start();
        } else if rest.starts_with("<!") {
            // DOCTYPE: its end is the first '>' after an internal subset, if any.
            let end = match (rest.find('['), rest.find('>')) {
                (Some(open), Some(gt)) if open < gt => {
                    let close = rest.find("]>")?;
                    close + 1
                }
                (_, Some(gt)) => gt,
                _ => return None,
            };
            rest = rest.get(end + 1..)?.trim_start();
        } else {
            let r = rest.strip_prefix('<')?;
            let end = r
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(r.len());
            return r.get(..end).filter(|n| !n.is_empty());
        }
    }
}

/// Where a CSV reader stands in RFC 4180 quoting, byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvQuoting {
    /// At the start of a cell.
    CellStart,
    /// Inside a cell that did not start with `"` (a quote there is text).
    Unquoted,
    /// Inside a quoted cell.
    Quoted,
    /// A `"` inside a quoted cell: the closing quote, or the first half of
    /// an escaped `""`.
    QuoteInQuoted,
}

/// A reader that follows RFC 4180 quoting (`,` between cells, `"` around a
/// cell, `""` inside one) over the bytes a CSV reader pulls through it.
///
/// The `csv` crate takes the end of input inside an open quoted cell as the
/// end of that cell, so an export cut off in the middle of a cell would read
/// as a complete, shorter report, and a full rescan built from it would
/// resolve every finding of the missing rows. [`CsvQuotes::truncated`] tells
/// that case apart, for the CSV parsers to reject it.
#[derive(Debug)]
pub(crate) struct CsvQuotes<R> {
    inner: R,
    state: CsvQuoting,
    /// Bytes read so far.
    consumed: u64,
}

impl<R> CsvQuotes<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        CsvQuotes {
            inner,
            state: CsvQuoting::CellStart,
            consumed: 0,
        }
    }

    /// When everything read so far ends inside an open quoted cell: the
    /// rejection of a cut-off export ([`ParseError::Truncated`]).
    pub(crate) fn truncated(&self) -> Option<ParseError> {
        matches!(self.state, CsvQuoting::Quoted).then(|| ParseError::Truncated {
            position: self.consumed,
            context: "inside a quoted CSV cell (no closing `\"`): the export was cut off"
                .to_owned(),
        })
    }

    fn scan(&mut self, bytes: &[u8]) {
        use CsvQuoting::{CellStart, QuoteInQuoted, Quoted, Unquoted};
        for &b in bytes {
            self.state = match (self.state, b) {
                (CellStart, b'"') | (QuoteInQuoted, b'"') => Quoted,
                (CellStart | Unquoted | QuoteInQuoted, b',' | b'\n' | b'\r') => CellStart,
                (CellStart | Unquoted | QuoteInQuoted, _) => Unquoted,
                (Quoted, b'"') => QuoteInQuoted,
                (Quoted, _) => Quoted,
            };
        }
        self.consumed += bytes.len() as u64;
    }
}

impl<R: std::io::Read> std::io::Read for CsvQuotes<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Whether one of the first lines of a CSV head has every column of
/// `required` (compared case-insensitively, quotes and a BOM ignored), for
/// content sniffing. Exports may put a few preamble lines before the header.
pub fn csv_header_has(head: &str, required: &[&str]) -> bool {
    head.lines().take(64).any(|line| {
        let cells: Vec<String> = line
            .split(',')
            .map(|c| {
                c.trim()
                    .trim_start_matches('\u{feff}')
                    .trim_matches('"')
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect();
        required
            .iter()
            .all(|r| cells.iter().any(|c| c.eq_ignore_ascii_case(r)))
    })
}

/// The vendor advisory and KB ids in `text`, in order, de-duplicated:
/// Microsoft `KB1234567` and `MS17-010`, Red Hat `RHSA-2024:4420` (and
/// `RHBA`/`RHEA`), Ubuntu `USN-1234-1`, Debian `DSA-1234-1`/`DLA-…`, SUSE
/// `SUSE-SU-2024:0001-1`, Amazon `ALAS-…`/`ALAS2-…`, Oracle `ELSA-…` and
/// CentOS `CESA-…`.
pub fn advisory_ids(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | ':'))) {
        let token = token.trim_matches(|c| c == '-' || c == ':');
        if is_advisory(token) {
            let id = token.to_ascii_uppercase();
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

fn is_advisory(t: &str) -> bool {
    let upper = t.to_ascii_uppercase();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(n) = upper.strip_prefix("KB") {
        return (6..=7).contains(&n.len()) && digits(n);
    }
    if let Some(n) = upper.strip_prefix("MS") {
        return n
            .split_once('-')
            .is_some_and(|(y, k)| y.len() == 2 && digits(y) && k.len() == 3 && digits(k));
    }
    let prefixes = [
        "RHSA-", "RHBA-", "RHEA-", "USN-", "DSA-", "DLA-", "SUSE-SU-", "ALAS-", "ALAS2-", "ELSA-",
        "CESA-",
    ];
    prefixes.iter().any(|p| {
        upper.strip_prefix(p).is_some_and(|rest| {
            rest.bytes().any(|b| b.is_ascii_digit())
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'-' || b == b':')
        })
    })
}

/// Scanner rich text (Qualys KB text holds HTML: `<P>`, `<BR>`, `<A
/// HREF=…>`) as plain lines: line-breaking tags become line breaks, other
/// tags are dropped, the common entities decoded, each line trimmed with
/// inner whitespace collapsed, empty lines dropped.
pub fn html_to_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        let tag_like = tail
            .chars()
            .nth(1)
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match tail.find('>') {
            Some(end) if tag_like => {
                let tag = tail.get(1..end).unwrap_or_default().trim_start_matches('/');
                let name: String = tag
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_uppercase();
                if matches!(
                    name.as_str(),
                    "BR" | "P" | "LI" | "DIV" | "TR" | "UL" | "OL"
                ) {
                    out.push('\n');
                }
                rest = tail.get(end + 1..).unwrap_or_default();
            }
            _ => {
                out.push('<');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    crate::xmlpull::flatten(&decoded)
}

/// Text wrapped over several lines (OpenVAS NVT names and solutions are
/// indented and soft-wrapped inside the XML) as paragraphs: the lines of a
/// paragraph trimmed and joined with one space, paragraphs (separated by
/// blank lines) joined with a line break. Spacing inside a line is kept.
pub fn reflow(text: &str) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    paragraphs.join("\n")
}

/// A CVSS score cell: `None` for a placeholder, else a number 0.0–10.0.
///
/// # Errors
/// `"… is not a score 0.0-10.0"`.
pub fn score(text: &str) -> Result<Option<f64>, String> {
    let Some(t) = value(text) else {
        return Ok(None);
    };
    t.parse::<f64>()
        .ok()
        .filter(|s| (0.0..=10.0).contains(s))
        .map(Some)
        .ok_or_else(|| format!("{t:?} is not a score 0.0-10.0"))
}

/// A Qualys-style `score (vector)` cell (`8.1 (AV:N/AC:H/…)`), or a bare
/// score, or a bare vector: (score, vector), each `None` when absent.
///
/// # Errors
/// A score that is not a number 0.0–10.0, or text after the vector.
pub fn score_and_vector(text: &str) -> Result<(Option<f64>, Option<String>), String> {
    let Some(t) = value(text) else {
        return Ok((None, None));
    };
    match t.split_once('(') {
        Some((s, rest)) => {
            let vector = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("{t:?} is not \"score (vector)\""))?
                .trim();
            Ok((score(s)?, value(vector).map(str::to_owned)))
        }
        None if t.contains(':') => Ok((None, Some(t.to_owned()))),
        None => Ok((score(t)?, None)),
    }
}

/// A CVSS vector in canonical spelling ([`canonical_cvss`]), with the score
/// printed beside it and its source.
///
/// # Errors
/// `vector "…" is not a CVSS vector…`, as [`canonical_cvss`].
pub fn cvss_vector(
    field: VectorField,
    raw: &str,
    reported_score: Option<f64>,
    source: &str,
) -> Result<CvssVector, String> {
    let (version, vector) =
        canonical_cvss(field, raw).map_err(|why| format!("vector {raw:?} {why}"))?;
    Ok(CvssVector {
        version,
        vector,
        reported_score,
        source: source.to_owned(),
    })
}

/// The severity a CVSS v4 or v3.x base score gives (FIRST qualitative
/// rating), preferring v4 over v3.1 over v3.0; `None` when no such vector
/// carries a reported score. v2 scores are not used for the label: CVSS v2
/// has no "critical" band (NVD rates v2 7.0–10.0 "high").
pub fn severity_from_vectors(vectors: &[CvssVector]) -> Option<Severity> {
    [CvssVersion::V4_0, CvssVersion::V3_1, CvssVersion::V3_0]
        .into_iter()
        .find_map(|v| {
            vectors
                .iter()
                .find(|c| c.version == v)
                .and_then(|c| c.reported_score)
        })
        .map(Severity::from_cvss)
}

/// A `port/protocol` pair as OpenVAS writes it (`443/tcp`, `443/TCP`,
/// `general/tcp`, `general/icmp`, `general/CPE-T`, `package`), as (port,
/// lower-case protocol). A non-numeric port part means "no port" (`0`).
///
/// # Errors
/// A numeric port above 65535.
pub fn port_protocol(text: &str) -> Result<(u16, String), String> {
    let t = text.trim();
    let (port, protocol) = t.split_once('/').unwrap_or((t, ""));
    let port = port.trim();
    let number = if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        port.parse::<u16>()
            .map_err(|_| format!("port {port:?} is not a number 0-65535"))?
    } else {
        0
    };
    Ok((number, protocol.trim().to_lowercase()))
}

/// A port cell: empty or a placeholder means host level (`0`).
///
/// # Errors
/// Anything else that is not a number 0–65535.
pub fn port(text: &str) -> Result<u16, String> {
    match value(text) {
        None => Ok(0),
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("port {p:?} is not a number 0-65535")),
    }
}

/// A report time as UTC. Accepted: RFC 3339 (`2019-07-31T21:57:48Z`,
/// `2025-08-22T16:27:22+02:00`), ISO 8601 without a zone
/// (`2019-04-02T10:14:53`, read as UTC), ISO basic with milliseconds as
/// Nexpose writes it (`20210211T164506081`, read as UTC) and the US form of
/// Qualys CSV exports (`05/25/2021 07:36:58`, read as UTC). Zone-less times
/// are read as UTC because the reports do not say which zone they use.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y%m%dT%H%M%S%3f",
        "%Y%m%dT%H%M%S",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
    ]
    .into_iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .map(|n| n.and_utc())
}

/// A time cell: `None` for a placeholder.
///
/// # Errors
/// `"… is not a recognised time"`.
pub fn time(text: &str) -> Result<Option<DateTime<Utc>>, String> {
    match value(text) {
        None => Ok(None),
        Some(t) => parse_time(t)
            .map(Some)
            .ok_or_else(|| format!("{t:?} is not a recognised time")),
    }
}

/// The scanner's view of a host as an [`Asset`] (inventory attributes
/// unset), by the identity rule of [`crate::identity`]:
///
/// - `hostname`: the first of `names` that is a host name (a URL stands for
///   its whole host, an FQDN for its first label; IP literals are skipped);
/// - `ip`: `ip` in canonical form when it parses, else as reported (an
///   anonymised `192.168.1.1001` stays as it is);
/// - `fqdn`: the first of `names` that is a dotted name, not an IP;
/// - `asset_id`: the lower-case host name, else the canonical IP.
///
/// `None` when there is neither a name nor an IP.
pub fn asset(
    names: &[Option<&str>],
    ip: Option<&str>,
    os: Option<String>,
    mac: Option<String>,
) -> Option<Asset> {
    let names: Vec<&str> = names.iter().flatten().filter_map(|n| value(n)).collect();
    let hostname = names.iter().find_map(|n| identity::host_name_of(n));
    let ip = ip
        .and_then(value)
        .map(|i| identity::canonical_ip(i).unwrap_or_else(|| i.to_owned()));
    let fqdn = names.iter().find_map(|n| {
        let host = identity::url_host(n).unwrap_or(n).trim();
        (host.contains('.') && !identity::is_ip(host)).then(|| host.to_owned())
    });
    let asset_id = identity::asset_id(hostname.as_deref(), ip.as_deref())?;
    Some(Asset {
        asset_id,
        hostname,
        ip,
        fqdn,
        os,
        mac,
        ..Asset::default()
    })
}

/// What a scanner says about one of its checks, once per check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckDef {
    /// Title.
    pub name: String,
    /// Family or category.
    pub family: Option<String>,
    /// The severity of a detection that states none itself.
    pub severity: Option<Severity>,
    /// CVE ids, upper case, de-duplicated, report order.
    pub cves: Vec<String>,
    /// CWE numbers, sorted, de-duplicated.
    pub cwes: Vec<u32>,
    /// CVSS vectors, canonical.
    pub cvss: Vec<CvssVector>,
    /// The scanner's solution text.
    pub solution: Option<String>,
    /// The one vendor advisory or KB that fixes it, when the report names
    /// exactly one.
    pub advisory: Option<String>,
}

/// The check definitions of one report, interned: each check id gets a
/// small number, and is defined at most once.
#[derive(Debug, Default)]
pub struct Checks {
    index: HashMap<String, u32>,
    ids: Vec<String>,
    defs: Vec<Option<CheckDef>>,
}

impl Checks {
    /// The number of check `id`, allocated on first use.
    pub fn key(&mut self, id: &str) -> u32 {
        if let Some(&k) = self.index.get(id) {
            return k;
        }
        let k = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.index.insert(id.to_owned(), k);
        self.ids.push(id.to_owned());
        self.defs.push(None);
        k
    }

    /// Defines check `id` unless it already is (the first definition wins);
    /// returns its number.
    pub fn define(&mut self, id: &str, def: impl FnOnce() -> CheckDef) -> u32 {
        let k = self.key(id);
        if let Some(slot) = self.defs.get_mut(k as usize)
            && slot.is_none()
        {
            *slot = Some(def());
        }
        k
    }

    /// Whether check `id` has a definition.
    pub fn is_defined(&self, id: &str) -> bool {
        self.index
            .get(id)
            .and_then(|&k| self.defs.get(k as usize))
            .is_some_and(Option::is_some)
    }

    /// Every defined check as (id, definition), in order of first use.
    pub fn definitions(&self) -> impl Iterator<Item = (&str, &CheckDef)> {
        self.ids
            .iter()
            .zip(&self.defs)
            .filter_map(|(id, def)| Some((id.as_str(), def.as_ref()?)))
    }

    /// The definition of check `id`, if it has one.
    pub fn definition(&self, id: &str) -> Option<&CheckDef> {
        self.index
            .get(id)
            .and_then(|&k| self.defs.get(k as usize))
            .and_then(Option::as_ref)
    }

    fn get(&self, k: u32) -> (&str, Option<&CheckDef>) {
        (
            self.ids.get(k as usize).map_or("", String::as_str),
            self.defs.get(k as usize).and_then(Option::as_ref),
        )
    }
}

/// Interned short strings (protocols, service names).
#[derive(Debug, Default)]
pub struct Symbols {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Symbols {
    /// The number of `s`.
    pub fn key(&mut self, s: &str) -> u32 {
        if let Some(&k) = self.index.get(s) {
            return k;
        }
        let k = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.index.insert(s.to_owned(), k);
        self.names.push(s.to_owned());
        k
    }

    fn get(&self, k: u32) -> &str {
        self.names.get(k as usize).map_or("", String::as_str)
    }
}

/// One detection on a host, compact: what the report says about this
/// host × check × port.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The check ([`Checks::key`]).
    pub check: u32,
    /// Port; `0` = host level.
    pub port: u16,
    /// Lower-case protocol ([`Symbols::key`]; empty = none stated).
    pub protocol: u32,
    /// Service name ([`Symbols::key`]).
    pub service: Option<u32>,
    /// The detection's own severity, overriding the check's.
    pub severity: Option<Severity>,
    /// An informational item (an asset fact, never a finding).
    pub info: bool,
    /// When the scanner saw it (UTC), if the report says.
    pub observed_at: Option<DateTime<Utc>>,
}

/// One host of a report with its compact detections.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRecord {
    /// The scanner's view of the host.
    pub asset: Asset,
    /// The host's scan time (UTC), when the report states one.
    pub observed_at: Option<DateTime<Utc>>,
    /// When the host's scan started (UTC), when the report says.
    pub started_at: Option<DateTime<Utc>>,
    /// When the host's scan ended (UTC), when the report says.
    pub finished_at: Option<DateTime<Utc>>,
    /// Detections in report order.
    pub detections: Vec<Detection>,
}

impl HostRecord {
    /// A record for `asset` with no detections and no times.
    pub fn new(asset: Asset) -> HostRecord {
        HostRecord {
            asset,
            observed_at: None,
            started_at: None,
            finished_at: None,
            detections: Vec::new(),
        }
    }
}

/// Joins a host's detections to the check definitions.
///
/// - Scan time: the record's, else its latest detection time, else
///   `fallback` (UTC); a detection without a time takes the host's.
/// - A detection whose check has no definition is dropped (the check pass
///   counts it as skipped, "no definition").
/// - Informational detections become [`AssetFact`]s; the others
///   [`Observation`]s, one per fingerprint: repeats keep the first item's
///   fields and the highest severity.
/// - Remediation: the check's advisory when it names exactly one, else its
///   solution text (`n/a` when it has none).
pub fn normalize(
    scanner: &'static str,
    record: HostRecord,
    checks: &Checks,
    symbols: &Symbols,
    fallback: DateTime<Utc>,
) -> NormalizedHost {
    let observed_at = record
        .observed_at
        .or_else(|| record.detections.iter().filter_map(|d| d.observed_at).max())
        .unwrap_or(fallback);
    let mut findings: Vec<Observation> = Vec::new();
    let mut by_fingerprint: HashMap<String, usize> = HashMap::new();
    let mut facts = Vec::new();
    for d in &record.detections {
        let (id, Some(def)) = checks.get(d.check) else {
            continue;
        };
        let protocol = symbols.get(d.protocol).to_owned();
        let service = d.service.map(|s| symbols.get(s).to_owned());
        if d.info {
            facts.push(AssetFact {
                check_id: id.to_owned(),
                name: def.name.clone(),
                port: d.port,
                protocol,
                service,
            });
            continue;
        }
        let severity = d.severity.or(def.severity).unwrap_or(Severity::Low);
        let fp = fingerprint(scanner, &record.asset.asset_id, id, d.port, &protocol);
        if let Some(&i) = by_fingerprint.get(&fp) {
            if let Some(first) = findings.get_mut(i) {
                first.severity = first.severity.max(severity);
            }
            continue;
        }
        let remediation = match &def.advisory {
            Some(advisory) => Remediation::Advisory {
                id: advisory.clone(),
            },
            None => Remediation::Solution {
                scanner: scanner.to_owned(),
                check_id: id.to_owned(),
                text: def.solution.clone().unwrap_or_else(|| "n/a".to_owned()),
            },
        };
        by_fingerprint.insert(fp.clone(), findings.len());
        findings.push(Observation {
            finding_id: finding_id(&fp),
            fingerprint: fp,
            check: Check {
                scanner: scanner.to_owned(),
                id: id.to_owned(),
                name: def.name.clone(),
                family: def.family.clone(),
            },
            port: d.port,
            protocol,
            severity,
            service,
            cves: def.cves.clone(),
            cwes: def.cwes.clone(),
            cvss: def.cvss.clone(),
            remediation,
            observed_at: d.observed_at.unwrap_or(observed_at),
            package: None,
            fix_state: None,
        });
    }
    NormalizedHost {
        asset: record.asset,
        observed_at,
        started_at: record.started_at,
        finished_at: record.finished_at,
        findings,
        facts,
    }
}

/// The counts of a check pass: hosts, detections per check (settled against
/// the definitions at the end) and skipped items with why.
#[derive(Debug, Default)]
pub struct Tally {
    /// Hosts seen.
    pub hosts: u64,
    per_check: Vec<[u64; 2]>,
    skipped: BTreeMap<String, u64>,
    /// Earliest scan start (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// Latest scan end (UTC).
    pub finished_at: Option<DateTime<Utc>>,
}

impl Tally {
    /// Counts a detection of check `check` (a fact when `info`).
    pub fn detection(&mut self, check: u32, info: bool) {
        let i = check as usize;
        if self.per_check.len() <= i {
            self.per_check.resize(i + 1, [0, 0]);
        }
        if let Some(c) = self.per_check.get_mut(i) {
            c[usize::from(info)] += 1;
        }
    }

    /// Counts an item skipped for `why` (`status Fixed`).
    pub fn skip(&mut self, why: &str) {
        *self.skipped.entry(why.to_owned()).or_default() += 1;
    }

    /// Widens the scan span with a start and an end (UTC).
    pub fn span(&mut self, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) {
        if let Some(s) = start {
            self.started_at = Some(self.started_at.map_or(s, |t| t.min(s)));
        }
        if let Some(e) = end {
            self.finished_at = Some(self.finished_at.map_or(e, |t| t.max(e)));
        }
    }

    /// The summary: detections of defined checks are findings or
    /// informational items; the others are skipped as `no definition`.
    pub fn summary(mut self, checks: &Checks) -> Summary {
        let (mut findings, mut info_items, mut undefined) = (0, 0, 0);
        for (k, [f, i]) in self.per_check.iter().enumerate() {
            let defined = u32::try_from(k)
                .ok()
                .is_some_and(|k| checks.get(k).1.is_some());
            if defined {
                findings += f;
                info_items += i;
            } else {
                undefined += f + i;
            }
        }
        if undefined > 0 {
            *self.skipped.entry("no definition".to_owned()).or_default() += undefined;
        }
        Summary {
            hosts: self.hosts,
            findings,
            info_items,
            skipped: self.skipped.into_iter().collect(),
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }
}

/// A CSV export read row by row through [`CsvQuotes`], so that an export
/// cut off inside a quoted cell, or between the cells of its last row, is
/// rejected as truncated instead of read as a smaller complete report.
/// Shared by the Qualys and Greenbone CSV parsers.
pub(crate) struct CsvRecords<R> {
    csv: csv::Reader<CsvQuotes<R>>,
    record: csv::ByteRecord,
    /// The row after a short one, read ahead to tell whether it was the
    /// last (a cut-off export).
    ahead: Option<csv::ByteRecord>,
    /// The current row's cells, decoded ([`crate::qualys_csv::decode`]).
    pub(crate) cells: Vec<String>,
    /// Cells of the header row; 0 until the caller has found it.
    pub(crate) header_len: usize,
}

impl<R: std::io::BufRead> CsvRecords<R> {
    /// A reader over `r` without header handling (the caller finds the
    /// header row) and with rows of any length.
    pub(crate) fn new(r: R) -> CsvRecords<R> {
        CsvRecords {
            csv: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(CsvQuotes::new(r)),
            record: csv::ByteRecord::new(),
            ahead: None,
            cells: Vec::new(),
            header_len: 0,
        }
    }

    /// The current row's line number (1-based; 0 before the first).
    pub(crate) fn line(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::line)
    }

    /// Reads the next row into `cells`; `false` at the end.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] when the input ends inside a quoted cell;
    /// the CSV reader's error otherwise.
    pub(crate) fn read_record(&mut self) -> Result<bool, ParseError> {
        let read = match self.ahead.take() {
            Some(next) => {
                self.record = next;
                Ok(true)
            }
            None => self.csv.read_byte_record(&mut self.record),
        };
        match read {
            Ok(more) => {
                if !more && let Some(cut) = self.csv.get_ref().truncated() {
                    return Err(cut);
                }
                self.cells.clear();
                self.cells
                    .extend(self.record.iter().map(crate::qualys_csv::decode));
                Ok(more)
            }
            Err(e) => Err(crate::qualys_csv::csv_error(&e)),
        }
    }

    /// Cell `i` of the current row, trimmed, `None` when absent or empty.
    pub(crate) fn cell(&self, i: Option<usize>) -> Option<&str> {
        i.and_then(|i| self.cells.get(i)).and_then(|c| value(c))
    }

    /// A data row short of the header's cells is fine inside the export,
    /// but as its last row it means the export was cut off between two
    /// cells (a cut inside a cell leaves a quote open, which
    /// [`Self::read_record`] reports): reads one row ahead to tell.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming the short last row.
    pub(crate) fn last_row_whole(&mut self) -> Result<(), ParseError> {
        if self.cells.len() >= self.header_len {
            return Ok(());
        }
        let mut next = csv::ByteRecord::new();
        match self.csv.read_byte_record(&mut next) {
            Ok(true) => {
                self.ahead = Some(next);
                Ok(())
            }
            Ok(false) => Err(self.csv.get_ref().truncated().unwrap_or_else(|| {
                ParseError::Truncated {
                    position: self.record.position().map_or(0, csv::Position::byte),
                    context: format!(
                        "in its last row (line {}), which has {} of the header's {} cells: the export was cut off",
                        self.line(),
                        self.cells.len(),
                        self.header_len
                    ),
                }
            })),
            Err(e) => Err(crate::qualys_csv::csv_error(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_tell_a_cut_off_cell() {
        use std::io::Read as _;
        let state = |text: &str| {
            let mut r = CsvQuotes::new(text.as_bytes());
            let mut sink = Vec::new();
            r.read_to_end(&mut sink).unwrap();
            r.truncated().map(|e| e.to_string())
        };
        for whole in [
            "",
            "a,b\n1,2\n",
            "\"a\",\"b\"\n\"x\ny\",\"say \"\"hi\"\"\"",
            "a,b\n5\" screen,\"q\"\r\n",
            "\"\"",
        ] {
            assert_eq!(state(whole), None, "{whole:?}");
        }
        for cut in ["\"a\",\"b\n", "a,\"x\"\"", "\"a\",\"multi\nline"] {
            let err = state(cut).unwrap_or_else(|| panic!("{cut:?} not seen as cut"));
            assert!(
                err.starts_with("truncated report: input ended at byte"),
                "{err}"
            );
        }
    }

    #[test]
    fn cells_lose_their_placeholders() {
        let mut cves = Vec::new();
        push_cves(&mut cves, "NOCVE");
        push_cves(&mut cves, "CVE-2016-0800, cve-2014-3566,CVE-2016-0800;-");
        assert_eq!(cves, ["CVE-2016-0800", "CVE-2014-3566"]);
        assert_eq!(value(" - "), None);
        assert_eq!(score("-"), Ok(None));
        assert_eq!(score("9.8"), Ok(Some(9.8)));
        assert!(score("11").is_err());
        assert_eq!(
            score_and_vector("8.1 (AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H)"),
            Ok((
                Some(8.1),
                Some("AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H".to_owned())
            ))
        );
        assert_eq!(score_and_vector("3.4"), Ok((Some(3.4), None)));
        assert_eq!(score_and_vector(""), Ok((None, None)));
        assert!(score_and_vector("8.1 (AV:N").is_err());
    }

    #[test]
    fn sniffing_helpers() {
        let table = [
            (
                "<?xml version=\"1.0\"?>\n<!DOCTYPE SCAN SYSTEM \"x.dtd\">\n<!-- c -->\n<SCAN value=\"s\">",
                Some("SCAN"),
            ),
            (
                "<!DOCTYPE x [<!ENTITY a \"b>\">]><report id=\"1\">",
                Some("report"),
            ),
            (
                "\u{feff}<NexposeReport version=\"2.0\">",
                Some("NexposeReport"),
            ),
            ("{\"a\": 1}", None),
            ("<?xml", None),
        ];
        for (head, want) in table {
            assert_eq!(root_element(head), want, "{head}");
        }
        assert!(csv_header_has(
            "\"Scan Results\"\n\"IP\",\"DNS\",\"QID\",\"Title\"\n",
            &["IP", "QID"]
        ));
        assert!(!csv_header_has("IP,DNS,Title\n", &["IP", "QID"]));
    }

    #[test]
    fn wrapped_text_reflows() {
        assert_eq!(
            reflow(
                "Distributed Ruby (dRuby/DRb) Multiple Remote Code Execution\n      Vulnerabilities"
            ),
            "Distributed Ruby (dRuby/DRb) Multiple Remote Code Execution Vulnerabilities"
        );
        assert_eq!(reflow("a  b\n  c\n\n  d\n"), "a  b c\nd");
    }

    #[test]
    fn html_becomes_plain_lines() {
        assert_eq!(
            html_to_text(
                "AMD has confirmed.<P>\n\n\n\nWorkaround:<BR>\nKeep  it &amp; <A HREF=\"x\">safe</A>. 1 < 2"
            ),
            "AMD has confirmed.\nWorkaround:\nKeep it & safe. 1 < 2"
        );
    }

    #[test]
    fn ports_and_protocols() {
        let table = [
            ("443/tcp", Ok((443, "tcp"))),
            ("443/TCP", Ok((443, "tcp"))),
            ("general/tcp", Ok((0, "tcp"))),
            ("general/CPE-T", Ok((0, "cpe-t"))),
            ("package", Ok((0, ""))),
            ("", Ok((0, ""))),
            ("70000/tcp", Err(())),
        ];
        for (text, want) in table {
            let got = port_protocol(text).map_err(|_| ());
            assert_eq!(
                got,
                want.map(|(p, s): (u16, &str)| (p, s.to_owned())),
                "{text}"
            );
        }
    }

    #[test]
    fn advisories_are_recognised() {
        assert_eq!(
            advisory_ids("Microsoft Windows Multiple Vulnerabilities (KB5062557)"),
            ["KB5062557"]
        );
        assert_eq!(
            advisory_ids("RHSA-2024:4420, USN-6000-1 and MS17-010; KB12"),
            ["RHSA-2024:4420", "USN-6000-1", "MS17-010"]
        );
        assert!(advisory_ids("Microsoft ASP.NET End of Life").is_empty());
    }

    #[test]
    fn times_in_every_report_spelling() {
        let table = [
            ("2019-07-31T21:57:48Z", "2019-07-31T21:57:48Z"),
            ("2025-08-22T16:27:22+02:00", "2025-08-22T14:27:22Z"),
            ("20210211T164506081", "2021-02-11T16:45:06.081Z"),
            ("05/25/2021 07:36:58", "2021-05-25T07:36:58Z"),
        ];
        for (text, want) in table {
            assert_eq!(
                parse_time(text),
                Some(want.parse::<DateTime<Utc>>().unwrap()),
                "{text}"
            );
        }
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn assets_follow_the_identity_rule() {
        let a = asset(
            &[Some("demo13.s02.sjc01.qualys.com"), Some("NB")],
            Some("64.41.200.243"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(a.asset_id, "demo13");
        assert_eq!(a.fqdn.as_deref(), Some("demo13.s02.sjc01.qualys.com"));
        let b = asset(&[None], Some("2001:DB8:0::1"), None, None).unwrap();
        assert_eq!(
            (b.asset_id.as_str(), b.ip.as_deref()),
            ("2001:db8::1", Some("2001:db8::1"))
        );
        let c = asset(&[], Some("192.168.1.1001"), None, None).unwrap();
        assert_eq!(c.asset_id, "192.168.1.1001");
        assert!(asset(&[Some(" ")], None, None, None).is_none());
    }
}
