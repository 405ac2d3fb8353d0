//! Streaming parser for Tenable Nessus v2 reports (`.nessus`, root element
//! `NessusClientData_v2`).
//!
//! [`NessusReader`] pulls one [`ReportHost`] at a time from any
//! [`BufRead`], so a 1 GB report never sits in memory: only the current host
//! and its items do. The `<Policy>` block (megabytes of preferences and plugin
//! lists) is walked without keeping anything but its `policyName`. Long free
//! text (`description`, `plugin_output`, `see_also`, …) is never kept; kept
//! text fields are capped at [`MAX_FIELD_BYTES`]. `plugin_output` is scanned
//! line by line as it streams past (one line of at most [`MAX_LINE_BYTES`]
//! in memory) for the package lines of local checks
//! (`Remote package installed : X` / `Should be : Y`, see [`PackageFix`]).
//!
//! # Rejections
//!
//! Every way a report can be unusable is a [`NessusError`] with a one-line
//! reason, never a panic: an empty file, XML that is not well-formed (with
//! the byte offset), a legacy v1 (`NessusClientData`) or foreign root, a
//! truncated file, invalid UTF-8, any `DOCTYPE` (DTDs can declare entities:
//! refusing them is the XXE and "billion laughs" protection; only the five
//! predefined XML entities and character references are resolved), and
//! attribute or field values that do not parse (a non-numeric `port`, a
//! `severity` outside 0–4, an unknown CVSS vector prefix, …), named by host
//! and item.
//!
//! [`check`] runs a whole validating pass and counts, so a caller can refuse
//! a broken report before publishing anything from it.

use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::normalize::{VectorField, cvss_shape};

/// The most bytes kept of one text field (a `<solution>`, a host `<tag>`);
/// longer text is cut at a character boundary. 64 KiB.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The longest `plugin_output` line looked at, in bytes; a longer line is
/// skipped (package lines are short).
pub const MAX_LINE_BYTES: usize = 1024;

/// The most package fixes kept of one item.
pub const MAX_PACKAGE_FIXES: usize = 1000;

/// One package line pair of a local-check plugin's output (Nessus's
/// `rpm_report_get` / `deb_report_get` format):
///
/// ```text
/// Remote package installed : curl-7.76.1-35.el9_7.3
/// Should be                : curl-7.76.1-40.el9_8.5
/// ```
///
/// Both values as written: RPM `name-version-release`, dpkg
/// `name_version`, apk `name-version-rN` (split by
/// [`crate::normalize::package_fix`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageFix {
    /// `Remote package installed` (or `Installed package`), if it preceded.
    pub installed: Option<String>,
    /// `Should be`: the first fixed package.
    pub fixed: String,
}

/// Why a Nessus report was rejected. `Display` is the one-line reason that
/// goes into `patch.scan.rejected`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NessusError {
    /// The input holds no XML element at all (0 bytes, or only whitespace,
    /// comments and an XML declaration).
    #[error("empty report: no XML element in {bytes} bytes")]
    Empty {
        /// Bytes read.
        bytes: u64,
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
        /// Where it ended (`inside <ReportHost> (depth 3)`).
        context: String,
    },
    /// Bytes that are not UTF-8 (the only encoding accepted).
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
    /// A `<!DOCTYPE …>`: refused, since a DTD can declare entities (XXE,
    /// billion laughs).
    #[error(
        "refused DOCTYPE declaration at byte {position}: DTDs and entity declarations are not allowed"
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
    /// The legacy v1 format (root `NessusClientData`).
    #[error("unsupported Nessus v1 format (NessusClientData); export as .nessus v2")]
    LegacyV1,
    /// Some other document.
    #[error("not a Nessus v2 report: {found}")]
    NotNessusV2 {
        /// What was found instead (`root element is <html>`).
        found: String,
    },
    /// A value inside an otherwise well-formed report does not parse.
    #[error("{location}: {reason} (at byte {position})")]
    Invalid {
        /// Byte offset of the element.
        position: u64,
        /// Which host and item (`host "qa3app09", item 4 (pluginID 19506)`).
        location: String,
        /// What is wrong (`port "http" is not a number 0-65535`).
        reason: String,
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

/// Report-level metadata, filled in as the reader passes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportMeta {
    /// `Policy/policyName`, when present.
    pub policy_name: Option<String>,
    /// `Report@name` of the first `<Report>`.
    pub report_name: Option<String>,
}

/// The `<HostProperties>` of a host: the tags patchflow uses, typed, and the
/// rest as they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostProperties {
    /// `host-ip`.
    pub host_ip: Option<String>,
    /// `host-fqdn` (may be a URL in Nessus WAS exports).
    pub host_fqdn: Option<String>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `netbios-name`.
    pub netbios_name: Option<String>,
    /// `host-rdns`.
    pub host_rdns: Option<String>,
    /// `operating-system` (may hold several newline-separated guesses).
    pub operating_system: Option<String>,
    /// `mac-address` (may hold several newline-separated addresses).
    pub mac_address: Option<String>,
    /// `HOST_START` as written (`Mon Jul  1 11:33:11 2013`, no zone; WAS
    /// writes RFC 3339). Validated by the parser (see [`parse_host_time`]).
    pub host_start: Option<String>,
    /// `HOST_END` as written, same forms.
    pub host_end: Option<String>,
    /// `HOST_START_TIMESTAMP`: Unix seconds.
    pub host_start_timestamp: Option<i64>,
    /// `HOST_END_TIMESTAMP`: Unix seconds.
    pub host_end_timestamp: Option<i64>,
    /// The FQDNs of `host-fqdns` (a JSON array of `{"FQDN": …, "sources": […]}`
    /// serialised in the tag text by newer scanners), in order. A tag that is
    /// not such JSON is kept in `other` instead.
    pub host_fqdns: Vec<String>,
    /// Every other tag by name (`patch-summary-total-cves`, `cpe-0`, …); for
    /// a repeated name the last one wins.
    pub other: BTreeMap<String, String>,
}

impl HostProperties {
    /// When the scan of this host started (UTC): `HOST_START_TIMESTAMP`, else
    /// `HOST_START` (see [`parse_host_time`]).
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.host_start_timestamp
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .or_else(|| self.host_start.as_deref().and_then(parse_host_time))
    }

    /// When the scan of this host ended (UTC): `HOST_END_TIMESTAMP`, else
    /// `HOST_END`.
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.host_end_timestamp
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .or_else(|| self.host_end.as_deref().and_then(parse_host_time))
    }
}

/// One `<ReportItem>`: a plugin's result on one port of the host.
///
/// Text fields are trimmed; an empty element counts as absent. Free text not
/// needed downstream (`description`, `plugin_output`, `see_also`) is not kept.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportItem {
    /// `pluginID`.
    pub plugin_id: u32,
    /// `pluginName` (else the `<plugin_name>` element, else empty).
    pub plugin_name: String,
    /// `pluginFamily`.
    pub plugin_family: Option<String>,
    /// `port`; `0` = host level.
    pub port: u16,
    /// `protocol` as written (`tcp`, `udp`, `icmp`; WAS writes `TCP`).
    pub protocol: String,
    /// `svc_name` as written (`www`, `general`, `http?`).
    pub svc_name: Option<String>,
    /// `severity`: 0 = informational, 1 low, 2 medium, 3 high, 4 critical.
    pub severity: u8,
    /// `<risk_factor>` as written (`None`, `Low`, …, `high` in WAS).
    pub risk_factor: Option<String>,
    /// Every `<cve>`, in order, as written.
    pub cves: Vec<String>,
    /// Every `<cwe>`, in order, as written (`20`, `CWE-20`).
    pub cwes: Vec<String>,
    /// Every `<xref>`, in order (`CWE:200`, `IAVA:2020-A-0510-S`).
    pub xrefs: Vec<String>,
    /// Every `<bid>`, in order.
    pub bids: Vec<String>,
    /// `<cvss_vector>` (v2, usually `CVSS2#`-prefixed), as written.
    pub cvss_vector: Option<String>,
    /// `<cvss_base_score>` (0.0–10.0).
    pub cvss_base_score: Option<f64>,
    /// `<cvss3_vector>`, as written (prefix `CVSS:3.x/` or bare).
    pub cvss3_vector: Option<String>,
    /// `<cvss3_base_score>` (0.0–10.0).
    pub cvss3_base_score: Option<f64>,
    /// `<cvss4_vector>`, as written.
    pub cvss4_vector: Option<String>,
    /// `<cvss4_base_score>` (0.0–10.0).
    pub cvss4_base_score: Option<f64>,
    /// `<solution>`.
    pub solution: Option<String>,
    /// `<synopsis>`.
    pub synopsis: Option<String>,
    /// The `Should be` lines of `<plugin_output>`, in order (at most
    /// [`MAX_PACKAGE_FIXES`]); the rest of the output is not kept.
    pub package_fixes: Vec<PackageFix>,
}

/// One `<ReportHost>` and everything reported for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportHost {
    /// `ReportHost@name`: an IP, a host name or a URL (WAS).
    pub name: String,
    /// Its `<HostProperties>`.
    pub properties: HostProperties,
    /// Its `<ReportItem>`s in report order.
    pub items: Vec<ReportItem>,
}

/// What a validating pass over a whole report found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportSummary {
    /// Policy and report names.
    pub meta: ReportMeta,
    /// `<ReportHost>` elements.
    pub hosts: u64,
    /// Items with severity 1–4. A plugin repeated on the same host, port and
    /// protocol counts each time here; normalization merges such repeats into
    /// one finding.
    pub findings: u64,
    /// Items with severity 0.
    pub info_items: u64,
    /// Earliest host scan start (UTC), if any host states one.
    pub started_at: Option<DateTime<Utc>>,
    /// Latest host scan end (UTC), if any host states one.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Reads a whole report, validating everything the publishing pass relies
/// on, and counts hosts and items.
///
/// # Errors
/// The first [`NessusError`] of the report.
pub fn check<R: BufRead>(r: R) -> Result<ReportSummary, NessusError> {
    let mut reader = NessusReader::new(r);
    // Items are validated and counted, not kept.
    reader.keep_items = false;
    let mut summary = ReportSummary::default();
    for host in reader.by_ref() {
        let host = host?;
        summary.hosts += 1;
        if let Some(t) = host.properties.started_at() {
            summary.started_at = Some(summary.started_at.map_or(t, |s| s.min(t)));
        }
        if let Some(t) = host.properties.ended_at() {
            summary.finished_at = Some(summary.finished_at.map_or(t, |s| s.max(t)));
        }
    }
    summary.meta = reader.meta().clone();
    summary.findings = reader.counted.findings;
    summary.info_items = reader.counted.info_items;
    Ok(summary)
}

/// Parses a `HOST_START`/`HOST_END` text as UTC.
///
/// Accepted forms: the ctime-like text Nessus writes (`Mon Jul  1 11:33:11
/// 2013`; it carries no zone and is interpreted as UTC, since Nessus does
/// not say which zone its scanner ran in — prefer `HOST_START_TIMESTAMP`,
/// which is unambiguous) and RFC 3339 (`2021-03-12T12:34:30.12031+00:00`,
/// Nessus WAS). Returns `None` for anything else.
pub fn parse_host_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&collapsed, "%a %b %d %H:%M:%S %Y")
        .ok()
        .map(|t| t.and_utc())
}

/// Where the reader is: one frame per open element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Root,
    Policy,
    PolicyName,
    Report,
    Host,
    HostProperties,
    Tag,
    Item,
    Field(ItemField),
    /// `<plugin_output>`: scanned line by line, never kept.
    PluginOutput,
    Ignored,
}

impl Frame {
    fn name(self) -> &'static str {
        match self {
            Frame::Root => "NessusClientData_v2",
            Frame::Policy => "Policy",
            Frame::PolicyName => "policyName",
            Frame::Report => "Report",
            Frame::Host => "ReportHost",
            Frame::HostProperties => "HostProperties",
            Frame::Tag => "tag",
            Frame::Item => "ReportItem",
            Frame::Field(f) => f.name(),
            Frame::PluginOutput => "plugin_output",
            Frame::Ignored => "an element",
        }
    }

    fn captures_text(self) -> bool {
        matches!(self, Frame::PolicyName | Frame::Tag | Frame::Field(_))
    }
}

/// Where [`NessusReader::fast_text`] puts the text it reads.
#[derive(Debug, Clone, Copy)]
enum Sink {
    /// Text of an element that is not kept: checked, then dropped.
    Discard,
    /// Text of a kept field ([`Frame::captures_text`]).
    Capture,
    /// `<plugin_output>`: scanned for package lines.
    Output,
}

/// The `<plugin_output>` being scanned for package lines (see
/// [`PackageFix`]): one line at a time, at most [`MAX_LINE_BYTES`] of it.
#[derive(Debug, Default)]
struct OutputScan {
    /// The line being read (at most [`MAX_LINE_BYTES`]).
    line: String,
    /// The current line outgrew [`MAX_LINE_BYTES`] and is skipped.
    line_too_long: bool,
    /// A `Remote package installed` value waiting for its `Should be`.
    installed: Option<String>,
    /// The fixes of this output, in order, at most `room`.
    fixes: Vec<PackageFix>,
    /// How many more fixes the item takes ([`MAX_PACKAGE_FIXES`] in all).
    room: usize,
}

impl OutputScan {
    /// A new `<plugin_output>` of an item that takes `room` more fixes.
    fn start(&mut self, room: usize) {
        self.line.clear();
        self.line_too_long = false;
        self.installed = None;
        self.fixes.clear();
        self.room = room;
    }

    /// Feeds output text. A line that lies whole in `content` is looked at
    /// where it is; the pieces of a line cut by markup, a reference or the
    /// read buffer are gathered in [`Self::line`] first.
    fn text(&mut self, content: &str) {
        let mut rest = content;
        if !self.line.is_empty() || self.line_too_long {
            // A gathered line goes on: its end first.
            let Some(i) = memchr::memchr(b'\n', rest.as_bytes()) else {
                self.push(rest);
                return;
            };
            self.push(rest.get(..i).unwrap_or_default());
            self.line_end();
            rest = rest.get(i + 1..).unwrap_or_default();
        }
        if memchr::memchr(b':', rest.as_bytes()).is_none() {
            // No whole line here has a key (`look_at` skips it): only the
            // start of the last, unfinished line is kept.
            if let Some(i) = memchr::memrchr(b'\n', rest.as_bytes()) {
                rest = rest.get(i + 1..).unwrap_or_default();
            }
            self.push(rest);
            return;
        }
        while let Some(i) = memchr::memchr(b'\n', rest.as_bytes()) {
            let part = rest.get(..i).unwrap_or_default();
            if self.line.is_empty() && !self.line_too_long {
                if part.len() <= MAX_LINE_BYTES {
                    self.look_at(part);
                }
            } else {
                self.push(part);
                self.line_end();
            }
            rest = rest.get(i + 1..).unwrap_or_default();
        }
        self.push(rest);
    }

    /// Adds a piece of the current line, or marks it too long.
    fn push(&mut self, part: &str) {
        if !self.line_too_long {
            if self.line.len() + part.len() > MAX_LINE_BYTES {
                self.line_too_long = true;
                self.line.clear();
            } else {
                self.line.push_str(part);
            }
        }
    }

    /// The gathered line ended: looks at it unless it was too long.
    fn line_end(&mut self) {
        let too_long = std::mem::replace(&mut self.line_too_long, false);
        let line = std::mem::take(&mut self.line);
        if !too_long {
            self.look_at(&line);
        }
        // Back, emptied, so its capacity is reused.
        self.line = line;
        self.line.clear();
    }

    /// Looks at one line: keeps a `Remote package installed` value until
    /// its `Should be`, which becomes a [`PackageFix`].
    fn look_at(&mut self, line: &str) {
        let Some(colon) = memchr::memchr(b':', line.as_bytes()) else {
            return;
        };
        let (Some(key), Some(value)) = (line.get(..colon), line.get(colon + 1..)) else {
            return;
        };
        let key = key.trim();
        let value = value.trim();
        if value.is_empty() || value.contains(char::is_whitespace) {
            return;
        }
        if key.eq_ignore_ascii_case("remote package installed")
            || key.eq_ignore_ascii_case("installed package")
        {
            self.installed = Some(value.to_owned());
        } else if key.eq_ignore_ascii_case("should be") {
            let installed = self.installed.take();
            if self.fixes.len() < self.room {
                self.fixes.push(PackageFix {
                    installed,
                    fixed: value.to_owned(),
                });
            }
        }
    }

    /// The output ended: its last line counts too.
    fn finish(&mut self) {
        self.line_end();
        self.installed = None;
    }
}

/// `&lt;`, `&gt;`, `&amp;`, `&apos;` or `&quot;` at the start of `after`
/// (the bytes after `&`): the character and the reference's length with
/// `&` and `;`. `None` for anything else, which quick-xml then reads.
fn predefined_entity(after: &[u8]) -> Option<(&'static str, usize)> {
    const ENTITIES: [(&[u8], &str); 5] = [
        (b"lt;", "<"),
        (b"gt;", ">"),
        (b"amp;", "&"),
        (b"apos;", "'"),
        (b"quot;", "\""),
    ];
    let (name, c) = match after.first()? {
        b'l' => ENTITIES[0],
        b'g' => ENTITIES[1],
        b'a' if after.get(1) == Some(&b'm') => ENTITIES[2],
        b'a' => ENTITIES[3],
        b'q' => ENTITIES[4],
        _ => return None,
    };
    after.starts_with(name).then_some((c, name.len() + 1))
}

/// A whole leaf element at the start of a buffer (see
/// [`NessusReader::fast_leaf`]).
#[derive(Debug, Clone, Copy)]
struct Leaf {
    /// Its frame.
    frame: Frame,
    /// Bytes of its start tag (where its text begins).
    open: usize,
    /// Where its text ends and its end tag begins.
    text_end: usize,
    /// Bytes of the whole element.
    total: usize,
}

/// ASCII letters, digits, `_`, `-`, `.` and `:`, by byte value.
const PLAIN_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':');
        b += 1;
    }
    table
};

/// Whether `b` may be part of a name [`leaf_at`] takes.
fn is_plain_name_byte(b: u8) -> bool {
    PLAIN_NAME_BYTES[usize::from(b)]
}

/// `<name>text</name>` at the start of `chunk` under `parent`, with a plain
/// name (ASCII letters, digits, `_`, `-`, `.`, `:`: nothing quick-xml
/// could read otherwise), no attribute, whose start reads none, and no
/// markup in the text; `None` for anything else.
fn leaf_at(chunk: &[u8], parent: Frame) -> Option<Leaf> {
    let rest = chunk.strip_prefix(b"<")?;
    let name_len = rest.iter().position(|b| !is_plain_name_byte(*b))?;
    if name_len == 0 || rest.get(name_len) != Some(&b'>') {
        return None;
    }
    let name = rest.get(..name_len)?;
    if !is_plain_child(parent, name) {
        return None;
    }
    let open = name_len + 2;
    let lt = memchr::memchr(b'<', chunk.get(open..)?)?;
    let text_end = open + lt;
    let end = chunk.get(text_end..)?;
    let closes = end.get(..2) == Some(b"</")
        && end.get(2..2 + name_len) == Some(name)
        && end.get(2 + name_len) == Some(&b'>');
    closes.then(|| Leaf {
        frame: plain_child(parent, name),
        open,
        text_end,
        total: text_end + name_len + 3,
    })
}

/// The `<ReportItem>` children that are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemField {
    Cve,
    Cwe,
    Xref,
    Bid,
    CvssVector,
    CvssBaseScore,
    Cvss3Vector,
    Cvss3BaseScore,
    Cvss4Vector,
    Cvss4BaseScore,
    Solution,
    Synopsis,
    RiskFactor,
    PluginName,
}

impl ItemField {
    #[cfg(test)]
    const ALL: [ItemField; 14] = [
        ItemField::Cve,
        ItemField::Cwe,
        ItemField::Xref,
        ItemField::Bid,
        ItemField::CvssVector,
        ItemField::CvssBaseScore,
        ItemField::Cvss3Vector,
        ItemField::Cvss3BaseScore,
        ItemField::Cvss4Vector,
        ItemField::Cvss4BaseScore,
        ItemField::Solution,
        ItemField::Synopsis,
        ItemField::RiskFactor,
        ItemField::PluginName,
    ];

    fn name(self) -> &'static str {
        match self {
            ItemField::Cve => "cve",
            ItemField::Cwe => "cwe",
            ItemField::Xref => "xref",
            ItemField::Bid => "bid",
            ItemField::CvssVector => "cvss_vector",
            ItemField::CvssBaseScore => "cvss_base_score",
            ItemField::Cvss3Vector => "cvss3_vector",
            ItemField::Cvss3BaseScore => "cvss3_base_score",
            ItemField::Cvss4Vector => "cvss4_vector",
            ItemField::Cvss4BaseScore => "cvss4_base_score",
            ItemField::Solution => "solution",
            ItemField::Synopsis => "synopsis",
            ItemField::RiskFactor => "risk_factor",
            ItemField::PluginName => "plugin_name",
        }
    }

    /// The field named `name`: the inverse of [`Self::name`].
    fn from_name(name: &[u8]) -> Option<ItemField> {
        Some(match name {
            b"cve" => ItemField::Cve,
            b"cwe" => ItemField::Cwe,
            b"xref" => ItemField::Xref,
            b"bid" => ItemField::Bid,
            b"cvss_vector" => ItemField::CvssVector,
            b"cvss_base_score" => ItemField::CvssBaseScore,
            b"cvss3_vector" => ItemField::Cvss3Vector,
            b"cvss3_base_score" => ItemField::Cvss3BaseScore,
            b"cvss4_vector" => ItemField::Cvss4Vector,
            b"cvss4_base_score" => ItemField::Cvss4BaseScore,
            b"solution" => ItemField::Solution,
            b"synopsis" => ItemField::Synopsis,
            b"risk_factor" => ItemField::RiskFactor,
            b"plugin_name" => ItemField::PluginName,
            _ => return None,
        })
    }
}

/// The frame of a child element `name` of `parent` whose start reads no
/// attribute: every child but `<Report>`, `<ReportHost>`, `<ReportItem>`
/// and the host `<tag>`s, which [`NessusReader::start`] handles itself.
fn plain_child(parent: Frame, name: &[u8]) -> Frame {
    match (parent, name) {
        (Frame::Root, b"Policy") => Frame::Policy,
        (Frame::Policy, b"policyName") => Frame::PolicyName,
        (Frame::Host, b"HostProperties") => Frame::HostProperties,
        (Frame::Item, b"plugin_output") => Frame::PluginOutput,
        (Frame::Item, field) => ItemField::from_name(field).map_or(Frame::Ignored, Frame::Field),
        _ => Frame::Ignored,
    }
}

/// Whether the start of `name` under `parent` is [`plain_child`]'s.
fn is_plain_child(parent: Frame, name: &[u8]) -> bool {
    !matches!(
        (parent, name),
        (Frame::Root, b"Report")
            | (Frame::Report, b"ReportHost")
            | (Frame::Host, b"ReportItem")
            | (Frame::HostProperties, b"tag")
    )
}

/// The host being read.
#[derive(Debug, Default)]
struct HostState {
    host: ReportHost,
    /// `<ReportItem>`s seen so far (1-based index of the current one).
    items_seen: usize,
    /// The item being read.
    item: Option<ReportItem>,
}

impl HostState {
    fn location(&self) -> String {
        match &self.item {
            Some(item) => format!(
                "host {:?}, item {} (pluginID {})",
                self.host.name, self.items_seen, item.plugin_id
            ),
            None => format!("host {:?}", self.host.name),
        }
    }
}

/// A pull parser yielding one [`ReportHost`] at a time.
///
/// After the first error it yields nothing more (it is fused). Report-level
/// metadata is available from [`NessusReader::meta`] once the reader has
/// passed it (the `Policy` comes before the hosts in Nessus exports).
///
/// ```
/// let xml = br#"<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.1">
/// <HostProperties><tag name="host-ip">10.0.0.1</tag></HostProperties>
/// <ReportItem port="22" protocol="tcp" svc_name="ssh" severity="2" pluginID="10881"
///   pluginName="SSH Protocol Versions Supported" pluginFamily="General"/>
/// </ReportHost></Report></NessusClientData_v2>"#;
/// let mut reader = ingest::nessus::NessusReader::new(&xml[..]);
/// let host = reader.next().unwrap().unwrap();
/// assert_eq!(host.items[0].port, 22);
/// assert!(reader.next().is_none());
/// assert_eq!(reader.meta().report_name.as_deref(), Some("r"));
/// ```
pub struct NessusReader<R> {
    xml: Reader<R>,
    buf: Vec<u8>,
    frames: Vec<Frame>,
    /// Text of the innermost capturing element.
    text: String,
    /// `name` of the `<tag>` being read.
    tag_name: String,
    /// The `<plugin_output>` being scanned for package lines.
    output: OutputScan,
    /// Where the text run that [`Self::fast_text`] left to quick-xml began
    /// (it stopped inside the run), so an invalid UTF-8 error names the
    /// same byte as when quick-xml reads the whole run.
    run_start: Option<u64>,
    /// quick-xml's last event was text, which ends at markup or at a
    /// reference quick-xml has begun (not consumed, but its state expects
    /// it): [`Self::fast_text`] must then leave the next event to quick-xml.
    after_xml_text: bool,
    meta: ReportMeta,
    host: Option<HostState>,
    root_seen: bool,
    root_closed: bool,
    finished: bool,
    /// Whether a host's items are kept in [`ReportHost::items`]; [`check`]
    /// only counts them (in [`Self::counted`]).
    keep_items: bool,
    /// Items read so far (every item, kept or not).
    counted: ItemCounts,
    /// Items of the last host, to size the next one's list.
    last_items: usize,
}

/// Items read, by severity.
#[derive(Debug, Clone, Copy, Default)]
struct ItemCounts {
    /// Severity 1-4.
    findings: u64,
    /// Severity 0.
    info_items: u64,
}

enum Step {
    Continue,
    Host(Box<ReportHost>),
    Eof,
}

impl<R: BufRead> NessusReader<R> {
    /// A reader over `input`, which is consumed as hosts are pulled.
    pub fn new(input: R) -> NessusReader<R> {
        let mut xml = Reader::from_reader(input);
        let config = xml.config_mut();
        // `<a/>` arrives as one `Empty` event and is handled as a start and
        // an end in one step, so the text after it is never taken for its
        // content by [`Self::fast_text`].
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.trim_text(false);
        NessusReader {
            xml,
            buf: Vec::new(),
            frames: Vec::new(),
            text: String::new(),
            tag_name: String::new(),
            output: OutputScan::default(),
            run_start: None,
            after_xml_text: false,
            meta: ReportMeta::default(),
            host: None,
            root_seen: false,
            root_closed: false,
            finished: false,
            keep_items: true,
            counted: ItemCounts::default(),
            last_items: 0,
        }
    }

    /// Policy and report names seen so far.
    pub fn meta(&self) -> &ReportMeta {
        &self.meta
    }

    /// Bytes of input consumed so far.
    pub fn position(&self) -> u64 {
        self.xml.buffer_position()
    }

    fn step(&mut self) -> Result<Step, NessusError> {
        if !std::mem::take(&mut self.after_xml_text) {
            self.fast_text()?;
            while self.fast_leaf()? {
                self.fast_text()?;
            }
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let position = self.xml.buffer_position();
        // Only this read can continue a run `fast_text` handed over.
        let handed_over = self.run_start.take();
        let event = match self.xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                self.run_start = handed_over;
                return Err(self.xml_error(e, position));
            }
        };
        let step = match event {
            Event::Start(e) => self.start(&e, position).map(|()| Step::Continue),
            Event::End(_) => self.end(position),
            Event::Empty(e) => {
                // `<a/>`: its start and its end.
                self.start(&e, position)?;
                self.end(position)
            }
            Event::Text(t) => {
                self.after_xml_text = true;
                let content = t.xml10_content();
                self.text_event(&content, position).map(|()| Step::Continue)
            }
            Event::CData(c) => {
                let content = c.xml10_content();
                self.text_event(&content, position).map(|()| Step::Continue)
            }
            Event::GeneralRef(r) => {
                let mut utf8 = [0u8; 4];
                let resolved: &str = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.encode_utf8(&mut utf8),
                        _ => {
                            return Err(NessusError::Xml {
                                position,
                                message: format!("invalid character reference &{};", &*r),
                            });
                        }
                    }
                } else {
                    match quick_xml::escape::resolve_xml_entity(&r) {
                        Some(s) => s,
                        None => {
                            return Err(NessusError::UndeclaredEntity {
                                name: r.to_string(),
                                position,
                            });
                        }
                    }
                };
                self.text_event(resolved, position).map(|()| Step::Continue)
            }
            Event::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(|e| NessusError::Xml {
                        position,
                        message: e.to_string(),
                    })?;
                    let norm = enc.trim().to_ascii_lowercase();
                    if !matches!(norm.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
                        return Err(NessusError::UnsupportedEncoding {
                            encoding: enc.into_owned(),
                        });
                    }
                }
                Ok(Step::Continue)
            }
            Event::DocType(_) => Err(NessusError::Doctype { position }),
            Event::Comment(_) | Event::PI(_) => Ok(Step::Continue),
            Event::Eof => self.eof().map(|()| Step::Eof),
        };
        self.buf = buf;
        step
    }

    /// Maps a quick-xml error; `event_start` is where the failing event
    /// began (quick-xml records no position for encoding errors).
    fn xml_error(&self, e: quick_xml::Error, event_start: u64) -> NessusError {
        use quick_xml::errors::SyntaxError;
        let position = self.xml.error_position().max(event_start);
        match e {
            quick_xml::Error::Encoding(_) => NessusError::InvalidUtf8 {
                position: self.run_start.unwrap_or(position),
            },
            quick_xml::Error::Io(io) => NessusError::Io {
                position: self.xml.buffer_position(),
                message: io.to_string(),
            },
            quick_xml::Error::Syntax(SyntaxError::InvalidBangMarkup) => NessusError::Xml {
                position,
                message: SyntaxError::InvalidBangMarkup.to_string(),
            },
            quick_xml::Error::Syntax(s) => NessusError::Truncated {
                position,
                context: format!("{} ({s})", self.context()),
            },
            other => NessusError::Xml {
                position,
                message: other.to_string(),
            },
        }
    }

    /// `inside <ReportHost> (depth 3)` for the innermost known element.
    fn context(&self) -> String {
        match self.frames.iter().rev().find(|f| **f != Frame::Ignored) {
            Some(f) => format!("inside <{}> (depth {})", f.name(), self.frames.len()),
            None if self.root_closed => "after the root element".to_owned(),
            None => "before the root element".to_owned(),
        }
    }

    fn invalid(&self, position: u64, reason: String) -> NessusError {
        let location = match &self.host {
            Some(h) => h.location(),
            None => "report".to_owned(),
        };
        NessusError::Invalid {
            position,
            location,
            reason,
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, position: u64) -> Result<(), NessusError> {
        let name = e.name();
        let name: &str = name.as_ref();
        let Some(&parent) = self.frames.last() else {
            return self.root(name, position);
        };
        let frame = match (parent, name) {
            (Frame::Root, "Report") => {
                if self.meta.report_name.is_none() {
                    self.meta.report_name = attribute(e, "name", position)?;
                }
                Frame::Report
            }
            (Frame::Report, "ReportHost") => {
                let name = attribute(e, "name", position)?
                    .map(|n| n.trim().to_owned())
                    .unwrap_or_default();
                if name.is_empty() {
                    return Err(
                        self.invalid(position, "<ReportHost> without a name attribute".to_owned())
                    );
                }
                let items = if self.keep_items { self.last_items } else { 0 };
                self.host = Some(HostState {
                    host: ReportHost {
                        name,
                        items: Vec::with_capacity(items),
                        ..ReportHost::default()
                    },
                    ..HostState::default()
                });
                Frame::Host
            }
            (Frame::Host, "ReportItem") => {
                self.item_start(e, position)?;
                Frame::Item
            }
            (Frame::HostProperties, "tag") => {
                self.tag_name = attribute(e, "name", position)?.unwrap_or_default();
                Frame::Tag
            }
            (parent, name) => plain_child(parent, name.as_bytes()),
        };
        self.open_frame(frame);
        Ok(())
    }

    /// Pushes `frame`, readying what it reads: the kept text emptied, the
    /// package-line scan of a `<plugin_output>` started.
    fn open_frame(&mut self, frame: Frame) {
        Self::ready(frame, &mut self.text, &mut self.output, self.host.as_ref());
        self.frames.push(frame);
    }

    /// What [`Self::open_frame`] readies, on the fields it touches.
    fn ready(frame: Frame, text: &mut String, output: &mut OutputScan, host: Option<&HostState>) {
        match frame {
            Frame::PluginOutput => {
                let kept = host
                    .and_then(|h| h.item.as_ref())
                    .map(|i| i.package_fixes.len());
                // No item to add fixes to: room for none.
                let room = kept.map_or(0, |n| MAX_PACKAGE_FIXES.saturating_sub(n));
                output.start(room);
            }
            f if f.captures_text() => text.clear(),
            _ => {}
        }
    }

    fn root(&mut self, name: &str, position: u64) -> Result<(), NessusError> {
        if self.root_closed {
            return Err(NessusError::Xml {
                position,
                message: format!("element <{name}> after the root element"),
            });
        }
        match name {
            "NessusClientData_v2" => {
                self.root_seen = true;
                self.frames.push(Frame::Root);
                Ok(())
            }
            "NessusClientData" => Err(NessusError::LegacyV1),
            other => Err(NessusError::NotNessusV2 {
                found: format!("root element is <{other}>"),
            }),
        }
    }

    fn item_start(&mut self, e: &BytesStart<'_>, position: u64) -> Result<(), NessusError> {
        let Some(state) = self.host.as_mut() else {
            return Ok(());
        };
        state.items_seen += 1;
        let mut item = ReportItem::default();
        // Parsed as they come; the text is kept only when it does not parse,
        // for the message.
        let (mut id, mut port, mut protocol, mut severity) = (None, None, None, None);
        let mut take = |key: &str, value: &str| {
            let value = value.trim();
            match key {
                "pluginID" => id = Some(value.parse::<u32>().map_err(|_| value.to_owned())),
                "port" => port = Some(value.parse::<u16>().map_err(|_| value.to_owned())),
                "protocol" => protocol = Some(value.to_owned()),
                "severity" => {
                    severity = Some(match value.parse::<u8>() {
                        Ok(s) if s <= 4 => Ok(s),
                        _ => Err(value.to_owned()),
                    });
                }
                "pluginName" => item.plugin_name = value.to_owned(),
                "pluginFamily" if !value.is_empty() => item.plugin_family = Some(value.to_owned()),
                "svc_name" if !value.is_empty() => item.svc_name = Some(value.to_owned()),
                _ => {}
            }
        };
        let mut plain = [("", ""); PLAIN_ATTRIBUTES];
        match plain_attributes(e.attributes_raw(), &mut plain) {
            Some(n) => {
                for (key, value) in plain.iter().take(n) {
                    take(key, value);
                }
            }
            None => {
                for attr in e.attributes() {
                    let attr = attr.map_err(|err| NessusError::Xml {
                        position,
                        message: err.to_string(),
                    })?;
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|err| NessusError::Xml {
                            position,
                            message: err.to_string(),
                        })?;
                    take(attr.key.as_ref(), &value);
                }
            }
        }
        // The location is only spelled out for an error.
        let bad = |plugin: Option<u32>, reason: String| {
            let mut location = format!("host {:?}, item {}", state.host.name, state.items_seen);
            if let Some(id) = plugin {
                location.push_str(&format!(" (pluginID {id})"));
            }
            NessusError::Invalid {
                position,
                location,
                reason,
            }
        };
        item.plugin_id = match id {
            None => return Err(bad(None, "missing attribute pluginID".to_owned())),
            Some(Err(id)) => return Err(bad(None, format!("pluginID {id:?} is not a number"))),
            Some(Ok(id)) => id,
        };
        let plugin = Some(item.plugin_id);
        item.port = match port {
            None => return Err(bad(plugin, "missing attribute port".to_owned())),
            Some(Err(port)) => {
                return Err(bad(
                    plugin,
                    format!("port {port:?} is not a number 0-65535"),
                ));
            }
            Some(Ok(port)) => port,
        };
        item.protocol =
            protocol.ok_or_else(|| bad(plugin, "missing attribute protocol".to_owned()))?;
        if item.protocol.is_empty() {
            return Err(bad(plugin, "protocol is empty".to_owned()));
        }
        item.severity = match severity {
            None => return Err(bad(plugin, "missing attribute severity".to_owned())),
            Some(Err(severity)) => {
                return Err(bad(
                    plugin,
                    format!("severity {severity:?} is not an integer 0-4"),
                ));
            }
            Some(Ok(severity)) => severity,
        };
        state.item = Some(item);
        Ok(())
    }

    fn text_event(&mut self, content: &str, position: u64) -> Result<(), NessusError> {
        match self.frames.last() {
            Some(f) if f.captures_text() => {
                push_capped(&mut self.text, content);
                Ok(())
            }
            Some(Frame::PluginOutput) => {
                self.output.text(content);
                Ok(())
            }
            Some(_) => Ok(()),
            None if content.trim().is_empty() => Ok(()),
            None if self.root_closed => Err(NessusError::Xml {
                position,
                message: "text after the root element".to_owned(),
            }),
            None => Err(NessusError::NotNessusV2 {
                found: "text outside any XML element (not an XML document)".to_owned(),
            }),
        }
    }

    fn end(&mut self, position: u64) -> Result<Step, NessusError> {
        let Some(frame) = self.frames.pop() else {
            // quick-xml refuses unmatched end tags; nothing to do otherwise.
            return Ok(Step::Continue);
        };
        self.close_frame(frame, position)
    }

    /// The element of `frame` (already popped) ended at `position`.
    fn close_frame(&mut self, frame: Frame, position: u64) -> Result<Step, NessusError> {
        match frame {
            Frame::Root => self.root_closed = true,
            Frame::PolicyName => {
                if self.meta.policy_name.is_none() {
                    self.meta.policy_name = non_empty(&self.text);
                }
            }
            Frame::Tag => self.tag_end(position)?,
            Frame::Field(field) => self.field_end(field, position)?,
            Frame::PluginOutput => {
                self.output.finish();
                if let Some(item) = self.host.as_mut().and_then(|h| h.item.as_mut()) {
                    item.package_fixes.append(&mut self.output.fixes);
                }
            }
            Frame::Item => self.item_end(position)?,
            Frame::Host => {
                if let Some(state) = self.host.take() {
                    self.last_items = state.host.items.len();
                    return Ok(Step::Host(Box::new(state.host)));
                }
            }
            Frame::Policy | Frame::Report | Frame::HostProperties | Frame::Ignored => {}
        }
        Ok(Step::Continue)
    }

    /// Reads the text ahead straight from the input's buffer: no event,
    /// no copy, one `memchr` per run. Text of a kept field goes to
    /// [`Self::text`], `<plugin_output>` text to [`OutputScan`], any other
    /// text (`description`, `see_also`, the `Policy`, whitespace between
    /// elements) is dropped, and all of it is checked as quick-xml would:
    /// UTF-8 (an error names the run's first byte, as quick-xml's does) and
    /// references (the five predefined entities are resolved here).
    ///
    /// It stops, leaving the rest to quick-xml's event loop, at markup
    /// (`<`), at any other reference (`&#…;`, an undeclared entity, a
    /// reference cut by the buffer's end), at a character cut by the
    /// buffer's end and, in kept text, at `\r` (line ends are normalized
    /// by quick-xml). Outside the root element it reads nothing: text there
    /// is an error quick-xml's path reports.
    ///
    /// # Errors
    /// [`NessusError::InvalidUtf8`] or [`NessusError::Io`].
    fn fast_text(&mut self) -> Result<(), NessusError> {
        let sink = match self.frames.last() {
            None => return Ok(()),
            Some(f) if f.captures_text() => Sink::Capture,
            Some(Frame::PluginOutput) => Sink::Output,
            Some(_) => Sink::Discard,
        };
        self.run_start = None;
        let NessusReader {
            xml,
            text,
            output,
            run_start: stopped_run,
            ..
        } = self;
        let mut stream = xml.stream();
        let mut run_start = stream.offset();
        loop {
            let chunk = match stream.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(NessusError::Io {
                        position: stream.offset(),
                        message: e.to_string(),
                    });
                }
            };
            if chunk.is_empty() {
                // The end of the input: quick-xml reports what it means.
                return Ok(());
            }
            if matches!(sink, Sink::Discard) {
                // Mostly the line break and indent between two elements:
                // what the dropped-ASCII path below does with it, without
                // a search.
                let blank = chunk
                    .iter()
                    .take_while(|b| matches!(b, b' ' | b'\n' | b'\t' | b'\r'))
                    .count();
                if chunk.get(blank) == Some(&b'<') {
                    stream.consume(blank);
                    return Ok(());
                }
            }
            let stop = match sink {
                Sink::Discard => memchr::memchr2(b'<', b'&', chunk),
                Sink::Capture | Sink::Output => memchr::memchr3(b'<', b'&', b'\r', chunk),
            };
            let run = chunk.get(..stop.unwrap_or(chunk.len())).unwrap_or_default();
            if matches!(sink, Sink::Discard) && run.is_ascii() {
                // Dropped text that is ASCII: nothing to decode.
                let used = run.len();
                let entity = match stop.and_then(|i| chunk.get(i..)) {
                    Some([b'&', rest @ ..]) => Some(predefined_entity(rest)),
                    Some(_) => None,
                    None => {
                        stream.consume(used);
                        continue;
                    }
                };
                stream.consume(used);
                match entity {
                    Some(Some((_, len))) => {
                        stream.consume(len);
                        run_start = stream.offset();
                        continue;
                    }
                    // Markup, or a reference quick-xml reads.
                    _ => return Ok(()),
                }
            }
            let (valid, cut) = match std::str::from_utf8(run) {
                Ok(valid) => (valid, false),
                // A character cut by the end of the buffer: quick-xml reads
                // on across the refill.
                Err(e) if e.error_len().is_none() => (
                    run.get(..e.valid_up_to())
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .unwrap_or_default(),
                    true,
                ),
                Err(_) => {
                    return Err(NessusError::InvalidUtf8 {
                        position: run_start,
                    });
                }
            };
            match sink {
                Sink::Capture => push_capped(text, valid),
                Sink::Output => output.text(valid),
                Sink::Discard => {}
            }
            let used = valid.len();
            let next = if cut {
                None
            } else {
                stop.and_then(|i| chunk.get(i..))
            };
            let entity = match next {
                Some([b'&', rest @ ..]) => predefined_entity(rest),
                _ => None,
            };
            let stopped = cut || next.is_some();
            // quick-xml goes on reading this run's text (not markup, not a
            // reference): its UTF-8 errors name where the run began.
            let hand_over_run = cut || next.is_some_and(|n| n.first() == Some(&b'\r'));
            stream.consume(used);
            match (stopped, entity) {
                (false, _) => {}
                (true, Some((resolved, len))) => {
                    match sink {
                        Sink::Capture => push_capped(text, resolved),
                        Sink::Output => output.text(resolved),
                        Sink::Discard => {}
                    }
                    stream.consume(len);
                    run_start = stream.offset();
                }
                (true, None) => {
                    if hand_over_run {
                        *stopped_run = Some(run_start);
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Reads one whole leaf element straight from the input's buffer, as
    /// [`Self::fast_text`] reads text: its start, text and end handled as
    /// quick-xml's three events would be, without them (most of a report's
    /// elements are such leaves: `<description>`, `<cve>`, `<fname>`, …).
    ///
    /// It takes only `<name>text</name>` lying whole in the buffer, where
    /// `name` is plain (see [`leaf_at`]) and the start reads no attribute
    /// ([`is_plain_child`]), and the text is UTF-8 holding no markup, no
    /// reference but the five predefined entities and, when the text is
    /// kept or scanned, no `\r`. For anything else it reads nothing and
    /// returns `false`: quick-xml then reads the element and reports what
    /// is wrong with it, at the same byte as ever.
    ///
    /// # Errors
    /// What the element's end would give ([`Self::close_frame`]).
    fn fast_leaf(&mut self) -> Result<bool, NessusError> {
        let Some(&parent) = self.frames.last() else {
            return Ok(false);
        };
        let NessusReader {
            xml,
            text,
            output,
            host,
            ..
        } = self;
        let mut stream = xml.stream();
        let Ok(chunk) = stream.fill_buf() else {
            // quick-xml reads again and reports the error.
            return Ok(false);
        };
        let Some(leaf) = leaf_at(chunk, parent) else {
            return Ok(false);
        };
        let Some(raw) = chunk.get(leaf.open..leaf.text_end) else {
            return Ok(false);
        };
        let sink = match leaf.frame {
            f if f.captures_text() => Sink::Capture,
            // An output without a `:` has no `key : value` line for
            // [`OutputScan`] to keep (a reference it may hold resolves to
            // one of `<>&'"`, never to `:`): it is only checked.
            Frame::PluginOutput if memchr::memchr(b':', raw).is_some() => Sink::Output,
            _ => Sink::Discard,
        };
        if matches!(sink, Sink::Discard) {
            // Dropped text: only checked (ASCII is UTF-8 and cheaper to tell).
            let utf8 = raw.is_ascii() || std::str::from_utf8(raw).is_ok();
            let refs = memchr::memchr_iter(b'&', raw)
                .all(|i| raw.get(i + 1..).and_then(predefined_entity).is_some());
            if !(utf8 && refs) {
                return Ok(false);
            }
        }
        let body = match sink {
            Sink::Discard => "",
            Sink::Capture | Sink::Output => match std::str::from_utf8(raw) {
                Ok(body) => body,
                Err(_) => return Ok(false),
            },
        };
        Self::ready(leaf.frame, text, output, host.as_ref());
        // Fed in the pieces `fast_text` gives: the runs between references
        // and each reference resolved. A `\r` or another reference stops
        // it: what was fed is then fed again by quick-xml's path, which
        // readies the frame anew.
        let mut rest = body;
        // (Dropped text is checked above: its `body` is empty.)
        loop {
            let stop = memchr::memchr2(b'&', b'\r', rest.as_bytes());
            let run = stop.map_or(rest, |i| rest.get(..i).unwrap_or_default());
            match sink {
                Sink::Capture => push_capped(text, run),
                Sink::Output => output.text(run),
                Sink::Discard => {}
            }
            let Some(i) = stop else {
                break;
            };
            let entity = match rest.as_bytes().get(i..) {
                Some([b'&', after @ ..]) => predefined_entity(after),
                _ => None,
            };
            let Some((resolved, len)) = entity else {
                return Ok(false);
            };
            match sink {
                Sink::Capture => push_capped(text, resolved),
                Sink::Output => output.text(resolved),
                Sink::Discard => {}
            }
            rest = rest.get(i + len..).unwrap_or_default();
        }
        stream.consume(leaf.text_end);
        let end_position = stream.offset();
        stream.consume(leaf.total - leaf.text_end);
        self.close_frame(leaf.frame, end_position)?;
        Ok(true)
    }

    fn tag_end(&mut self, position: u64) -> Result<(), NessusError> {
        let Some(value) = non_empty(&self.text) else {
            return Ok(());
        };
        let name = std::mem::take(&mut self.tag_name);
        if name.is_empty() {
            // A <tag> without a name says nothing usable.
            return Ok(());
        }
        let epoch = |value: &str| -> Result<i64, String> {
            value
                .parse::<i64>()
                .ok()
                .filter(|s| DateTime::from_timestamp(*s, 0).is_some())
                .ok_or_else(|| format!("tag {name} {value:?} is not a Unix timestamp"))
        };
        let time = |value: &str| -> Result<(), String> {
            parse_host_time(value)
                .map(|_| ())
                .ok_or_else(|| format!("tag {name} {value:?} is not a recognised time"))
        };
        let checked = match name.as_str() {
            "HOST_START_TIMESTAMP" | "HOST_END_TIMESTAMP" => epoch(&value).map(Some),
            "HOST_START" | "HOST_END" => time(&value).map(|()| None),
            _ => Ok(None),
        };
        let stamp = match checked {
            Ok(stamp) => stamp,
            Err(reason) => return Err(self.invalid(position, reason)),
        };
        let Some(state) = self.host.as_mut() else {
            return Ok(());
        };
        let p = &mut state.host.properties;
        match name.as_str() {
            "host-ip" => p.host_ip = Some(value),
            "host-fqdn" => p.host_fqdn = Some(value),
            "hostname" => p.hostname = Some(value),
            "netbios-name" => p.netbios_name = Some(value),
            "host-rdns" => p.host_rdns = Some(value),
            "operating-system" => p.operating_system = Some(value),
            "mac-address" => p.mac_address = Some(value),
            "HOST_START" => p.host_start = Some(value),
            "HOST_END" => p.host_end = Some(value),
            "HOST_START_TIMESTAMP" => p.host_start_timestamp = stamp,
            "HOST_END_TIMESTAMP" => p.host_end_timestamp = stamp,
            "host-fqdns" => match parse_host_fqdns(&value) {
                Some(list) => p.host_fqdns = list,
                None => {
                    p.other.insert(name, value);
                }
            },
            _ => {
                p.other.insert(name, value);
            }
        }
        Ok(())
    }

    fn field_end(&mut self, field: ItemField, position: u64) -> Result<(), NessusError> {
        let checked = matches!(
            field,
            ItemField::CvssVector
                | ItemField::Cvss3Vector
                | ItemField::Cvss4Vector
                | ItemField::CvssBaseScore
                | ItemField::Cvss3BaseScore
                | ItemField::Cvss4BaseScore
        );
        if !self.keep_items && !checked {
            // [`check`] drops the item: only what is validated (scores
            // here, vectors at the item's end) needs reading.
            return Ok(());
        }
        let Some(value) = non_empty(&self.text) else {
            return Ok(());
        };
        let score = |value: &str| -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=10.0).contains(s))
                .ok_or_else(|| format!("{} {value:?} is not a score 0.0-10.0", field.name()))
        };
        let parsed = match field {
            ItemField::CvssBaseScore | ItemField::Cvss3BaseScore | ItemField::Cvss4BaseScore => {
                score(&value).map(Some)
            }
            _ => Ok(None),
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(reason) => return Err(self.invalid(position, reason)),
        };
        let Some(item) = self.host.as_mut().and_then(|h| h.item.as_mut()) else {
            return Ok(());
        };
        match field {
            ItemField::Cve => item.cves.push(value),
            ItemField::Cwe => item.cwes.push(value),
            ItemField::Xref => item.xrefs.push(value),
            ItemField::Bid => item.bids.push(value),
            ItemField::CvssVector => item.cvss_vector = Some(value),
            ItemField::Cvss3Vector => item.cvss3_vector = Some(value),
            ItemField::Cvss4Vector => item.cvss4_vector = Some(value),
            ItemField::CvssBaseScore => item.cvss_base_score = parsed,
            ItemField::Cvss3BaseScore => item.cvss3_base_score = parsed,
            ItemField::Cvss4BaseScore => item.cvss4_base_score = parsed,
            ItemField::Solution => item.solution = Some(value),
            ItemField::Synopsis => item.synopsis = Some(value),
            ItemField::RiskFactor => item.risk_factor = Some(value),
            ItemField::PluginName => {
                if item.plugin_name.is_empty() {
                    item.plugin_name = value;
                }
            }
        }
        Ok(())
    }

    fn item_end(&mut self, position: u64) -> Result<(), NessusError> {
        let problem = self
            .host
            .as_ref()
            .and_then(|h| h.item.as_ref())
            .and_then(vector_problem);
        if let Some(reason) = problem {
            return Err(self.invalid(position, reason));
        }
        if let Some(state) = self.host.as_mut()
            && let Some(item) = state.item.take()
        {
            if item.severity == 0 {
                self.counted.info_items += 1;
            } else {
                self.counted.findings += 1;
            }
            if self.keep_items {
                state.host.items.push(item);
            }
        }
        Ok(())
    }

    fn eof(&mut self) -> Result<(), NessusError> {
        if !self.root_seen {
            return Err(NessusError::Empty {
                bytes: self.xml.buffer_position(),
            });
        }
        if !self.frames.is_empty() {
            return Err(NessusError::Truncated {
                position: self.xml.buffer_position(),
                context: self.context(),
            });
        }
        Ok(())
    }
}

impl<R: BufRead> Iterator for NessusReader<R> {
    type Item = Result<ReportHost, NessusError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        loop {
            match self.step() {
                Ok(Step::Continue) => {}
                Ok(Step::Host(h)) => return Some(Ok(*h)),
                Ok(Step::Eof) => {
                    self.finished = true;
                    return None;
                }
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<R: BufRead> std::iter::FusedIterator for NessusReader<R> {}

/// Attributes [`plain_attributes`] reads at most.
const PLAIN_ATTRIBUTES: usize = 16;

/// The attributes of a start tag, from the text after its name, when each
/// is `key="value"` as quick-xml would read it without a change: keys of
/// plain name bytes (see [`leaf_at`]), no two alike, values holding no
/// `&`, `<`, `"`, tab or line break (nothing to resolve or normalize), at
/// most [`PLAIN_ATTRIBUTES`] of them, separated by XML whitespace. Fills
/// `out` and gives the count; `None` for anything else, which quick-xml's
/// attribute reader then reads (and reports, when it is an error), so the
/// outcome is the same either way.
fn plain_attributes<'a>(
    raw: &'a str,
    out: &mut [(&'a str, &'a str); PLAIN_ATTRIBUTES],
) -> Option<usize> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let bytes = raw.as_bytes();
    let mut at = 0;
    let mut n = 0;
    loop {
        while bytes.get(at).copied().is_some_and(is_space) {
            at += 1;
        }
        if at >= bytes.len() {
            return Some(n);
        }
        let key_len = bytes
            .get(at..)?
            .iter()
            .position(|b| !is_plain_name_byte(*b))?;
        let key_end = at + key_len;
        if key_len == 0 || bytes.get(key_end..key_end + 2) != Some(b"=\"") {
            return None;
        }
        let value_start = key_end + 2;
        let value_len = memchr::memchr(b'"', bytes.get(value_start..)?)?;
        let value_end = value_start + value_len;
        let value = raw.get(value_start..value_end)?;
        if value
            .bytes()
            .any(|b| matches!(b, b'&' | b'<' | b'\t' | b'\r' | b'\n'))
        {
            return None;
        }
        let key = raw.get(at..key_end)?;
        let seen = out.get(..n)?;
        if seen.iter().any(|(k, _)| *k == key) {
            return None;
        }
        *out.get_mut(n)? = (key, value);
        n += 1;
        at = value_end + 1;
        // The next byte, if any, separates attributes.
        if bytes.get(at).is_some_and(|b| !is_space(*b)) {
            return None;
        }
    }
}

/// The value of attribute `key` of `e`, entity references resolved.
fn attribute(e: &BytesStart<'_>, key: &str, position: u64) -> Result<Option<String>, NessusError> {
    let xml_err = |message: String| NessusError::Xml { position, message };
    for attr in e.attributes() {
        let attr = attr.map_err(|err| xml_err(err.to_string()))?;
        if attr.key.as_ref() == key {
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| xml_err(err.to_string()))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The first problem of an item's CVSS vectors, if any.
fn vector_problem(item: &ReportItem) -> Option<String> {
    [
        (VectorField::V2, "cvss_vector", &item.cvss_vector),
        (VectorField::V3, "cvss3_vector", &item.cvss3_vector),
        (VectorField::V4, "cvss4_vector", &item.cvss4_vector),
    ]
    .into_iter()
    .find_map(|(field, name, raw)| {
        let raw = raw.as_deref()?;
        cvss_shape(field, raw)
            .err()
            .map(|why| format!("{name} {raw:?} {why}"))
    })
}

/// The FQDNs of a `host-fqdns` JSON array, or `None` when it is not one.
fn parse_host_fqdns(text: &str) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "FQDN")]
        fqdn: String,
    }
    let entries: Vec<Entry> = serde_json::from_str(text).ok()?;
    Some(entries.into_iter().map(|e| e.fqdn).collect())
}

fn non_empty(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Appends `s` to `text` up to [`MAX_FIELD_BYTES`], cutting at a character
/// boundary.
fn push_capped(text: &mut String, s: &str) {
    let room = MAX_FIELD_BYTES.saturating_sub(text.len());
    if s.len() <= room {
        text.push_str(s);
        return;
    }
    let mut cut = room;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(s.get(..cut).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &[u8]) -> Result<Vec<ReportHost>, NessusError> {
        NessusReader::new(xml).collect()
    }

    fn reason(xml: &[u8]) -> String {
        match parse(xml) {
            Ok(hosts) => panic!("accepted: {hosts:?}"),
            Err(e) => e.to_string(),
        }
    }

    const HOST: &str = r#"<NessusClientData_v2><Report name="r"><ReportHost name="h1">
<HostProperties><tag name="host-ip">10.0.0.1</tag></HostProperties>
<ReportItem port="@PORT@" protocol="tcp" severity="@SEV@" pluginID="@ID@" pluginName="n"/>
</ReportHost></Report></NessusClientData_v2>"#;

    fn item(port: &str, sev: &str, id: &str) -> Vec<u8> {
        HOST.replace("@PORT@", port)
            .replace("@SEV@", sev)
            .replace("@ID@", id)
            .into_bytes()
    }

    #[test]
    fn plugin_output_keeps_only_its_package_lines() {
        let huge = "y".repeat(5 * MAX_LINE_BYTES);
        let xml = format!(
            r#"<NessusClientData_v2><Report name="r"><ReportHost name="h1">
<HostProperties><tag name="host-ip">10.0.0.1</tag></HostProperties>
<ReportItem port="0" protocol="tcp" severity="3" pluginID="1" pluginName="n"><plugin_output>
Remote package installed : {huge}
Should be : {huge}
Remote package installed : a&amp;b-1.0-1.el9
Should be                : a&amp;b-1.1-1.el9
Should be : c-2.0-1.el9
Installed version : 1.0
</plugin_output></ReportItem>
<ReportItem port="0" protocol="tcp" severity="3" pluginID="2" pluginName="m"><plugin_output><![CDATA[Remote package installed : d_1
Should be : d_2]]></plugin_output></ReportItem>
</ReportHost></Report></NessusClientData_v2>"#
        );
        let hosts = parse(xml.as_bytes());
        let fixes: Vec<Vec<PackageFix>> = hosts
            .map(|h| h[0].items.iter().map(|i| i.package_fixes.clone()).collect())
            .unwrap_or_default();
        let fix = |installed: Option<&str>, fixed: &str| PackageFix {
            installed: installed.map(str::to_owned),
            fixed: fixed.to_owned(),
        };
        assert_eq!(
            fixes,
            vec![
                vec![
                    fix(Some("a&b-1.0-1.el9"), "a&b-1.1-1.el9"),
                    fix(None, "c-2.0-1.el9"),
                ],
                vec![fix(Some("d_1"), "d_2")],
            ]
        );
    }

    /// The text fast path reads straight from the input's buffer; where
    /// that buffer ends (a character, a reference or a `\r\n` cut in two)
    /// must not change a result or an error's byte.
    #[test]
    fn results_do_not_depend_on_where_the_read_buffer_ends() {
        let good = "<?xml version=\"1.0\" ?>\r\n<NessusClientData_v2><Policy><policyName>p &amp; q\r\nx</policyName></Policy>\
<Report name=\"r&#33;\"><ReportHost name=\"h\"><HostProperties><tag name=\"host-ip\">10.0.0.1</tag></HostProperties>\r\n\
<ReportItem port=\"0\" protocol=\"tcp\" severity=\"2\" pluginID=\"1\" pluginName=\"n\" pluginFamily=\"Red Hat Local Security Checks\">\
<solution>do\r\nthis &lt;now&gt; &#233;t&#xE9; caf\u{e9}</solution><plugin_output>\r\nRemote package installed : a-1.0-1.el9\r\n\
Should be : a-1.1-1.el9\r\nRemote package installed : b&amp;c-1.0-1\nSho<!-- c -->uld be : b-2-1<![CDATA[\nShould be : z-9-9]]>\n</plugin_output>\
<description>\u{e9}\u{e9} &quot;x&quot; &apos; <b>bold</b> tail</description><see_also/></ReportItem>\
<ReportItem port=\"1\" protocol=\"udp\" severity=\"0\" pluginID=\"2\" pluginName=\"no\tkey\">\
<plugin_output>no key &lt;here&gt;\r\nnor here</plugin_output></ReportItem>\
<ReportItem port='2' protocol=\"tcp\" severity=\"1\" pluginID=\"3\" pluginName=\"a &amp; b\">\
<plugin_output>Should be&#58; q-1-1</plugin_output></ReportItem></ReportHost></Report></NessusClientData_v2>";
        let read = |bytes: &[u8], capacity: usize| -> Result<Vec<ReportHost>, NessusError> {
            NessusReader::new(std::io::BufReader::with_capacity(capacity, bytes)).collect()
        };
        let whole = read(good.as_bytes(), 1 << 16);
        let item = whole.as_ref().map(|h| h[0].items[0].clone()).unwrap();
        assert_eq!(
            item.solution.as_deref(),
            Some("do\nthis <now> \u{e9}t\u{e9} caf\u{e9}")
        );
        let fixed: Vec<&str> = item
            .package_fixes
            .iter()
            .map(|f| f.fixed.as_str())
            .collect();
        assert_eq!(fixed, ["a-1.1-1.el9", "b-2-1", "z-9-9"]);
        let items = &whole.as_ref().unwrap()[0].items;
        let names: Vec<&str> = items.iter().map(|i| i.plugin_name.as_str()).collect();
        assert_eq!(names, ["n", "no key", "a & b"]);
        assert_eq!(items[1].package_fixes, []);
        let fixed: Vec<&str> = items[2]
            .package_fixes
            .iter()
            .map(|f| f.fixed.as_str())
            .collect();
        assert_eq!(fixed, ["q-1-1"]);
        let mut bad = good.as_bytes().to_vec();
        let at = good.find("bold").unwrap();
        bad[at] = 0xff;
        let whole_bad = read(&bad, 1 << 16);
        assert!(
            matches!(whole_bad, Err(NessusError::InvalidUtf8 { .. })),
            "{whole_bad:?}"
        );
        for capacity in 1..80 {
            assert_eq!(
                read(good.as_bytes(), capacity),
                whole,
                "capacity {capacity}"
            );
            assert_eq!(read(&bad, capacity), whole_bad, "capacity {capacity}");
        }
    }

    #[test]
    fn item_field_names_round_trip() {
        for field in ItemField::ALL {
            assert_eq!(ItemField::from_name(field.name().as_bytes()), Some(field));
        }
        assert_eq!(ItemField::from_name(b"description"), None);
    }

    /// The leaf fast path takes only `<name>text</name>` lying whole in the
    /// buffer, with a plain name, no attribute and no markup in the text.
    /// Where the fast path reads a start tag's attributes, it reads what
    /// quick-xml reads; everything else is left to quick-xml.
    #[test]
    fn plain_attributes_agree_with_quick_xml() {
        let pieces = [
            r#" a="1""#,
            r#" b="x y""#,
            r#" a="2""#,
            r#" c='q'"#,
            r#" d = "s""#,
            r#" e="&amp;""#,
            "\n\tf=\"t\tab\"",
            r#" g="""#,
            r#"h="glued""#,
            r#" i="<""#,
            r#" j=unquoted"#,
            r#" k:l.m-n_o="é""#,
            " ",
        ];
        let mut tags = vec![String::new()];
        let mut fast = 0;
        for _ in 0..3 {
            tags = tags
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}")))
                .collect();
            for attrs in &tags {
                let xml = format!("<x{attrs}/>");
                let mut reader = Reader::from_str(&xml);
                let Ok(Event::Empty(e)) = reader.read_event() else {
                    continue;
                };
                let mut out = [("", ""); PLAIN_ATTRIBUTES];
                let Some(n) = plain_attributes(e.attributes_raw(), &mut out) else {
                    continue;
                };
                fast += 1;
                let theirs: Vec<(String, String)> = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("quick-xml refuses what the fast path took");
                        let v = a.normalized_value(XmlVersion::Implicit1_0).unwrap();
                        (a.key.as_ref().to_owned(), v.into_owned())
                    })
                    .collect();
                let ours: Vec<(String, String)> = out
                    .iter()
                    .take(n)
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                assert_eq!(ours, theirs, "{xml}");
            }
        }
        // The plain spellings do take the fast path.
        assert!(fast > 100, "{fast}");
        let mut out = [("", ""); PLAIN_ATTRIBUTES];
        assert_eq!(plain_attributes(r#" port="22" a="""#, &mut out), Some(2));
        assert_eq!(out[..2], [("port", "22"), ("a", "")]);
        for refused in [
            r#" a="1" a="2""#,
            r#" a='1'"#,
            r#" a = "1""#,
            r#" a="&lt;""#,
        ] {
            assert_eq!(plain_attributes(refused, &mut out), None, "{refused}");
        }
    }

    #[test]
    fn leaf_at_takes_only_whole_plain_leaves() {
        let at = |bytes: &[u8], parent| {
            leaf_at(bytes, parent).map(|l| (l.frame, l.open, l.text_end, l.total))
        };
        assert_eq!(
            at(b"<cve>CVE-1</cve>\n", Frame::Item),
            Some((Frame::Field(ItemField::Cve), 5, 10, 16))
        );
        assert_eq!(
            at(b"<description>a &amp; b</description>", Frame::Item),
            Some((Frame::Ignored, 13, 22, 36))
        );
        assert_eq!(
            at(b"<b></b>", Frame::Field(ItemField::Solution)),
            Some((Frame::Ignored, 3, 3, 7))
        );
        for (bytes, parent) in [
            (&b"<cve>CVE-1</cve"[..], Frame::Item),
            (b"<cve>CVE-1</cwe>", Frame::Item),
            (b"<cve>CVE-1</cve >", Frame::Item),
            (b"<cve a=\"1\">x</cve>", Frame::Item),
            (b"<cve/>", Frame::Item),
            (b"<cve>a<b/></cve>", Frame::Item),
            (b"<cve><!-- c --></cve>", Frame::Item),
            (b"</cve>", Frame::Item),
            (b"<!DOCTYPE x>", Frame::Item),
            (b"<ReportItem>x</ReportItem>", Frame::Host),
            (b"<tag>x</tag>", Frame::HostProperties),
            (b"<Report>x</Report>", Frame::Root),
            (b"<ReportHost>x</ReportHost>", Frame::Report),
            (b"text<cve>x</cve>", Frame::Item),
        ] {
            assert_eq!(
                at(bytes, parent),
                None,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn host_times_parse_as_utc() {
        let table = [
            ("Mon Jul  1 11:33:11 2013", Some("2013-07-01T11:33:11Z")),
            ("Wed Mar 23 14:31:51 2022", Some("2022-03-23T14:31:51Z")),
            (
                "2021-03-12T12:34:30.12031+00:00",
                Some("2021-03-12T12:34:30.120310Z"),
            ),
            ("2021-03-12T14:34:30+02:00", Some("2021-03-12T12:34:30Z")),
            ("yesterday", None),
        ];
        for (text, want) in table {
            let want = want.map(|w| w.parse::<DateTime<Utc>>().unwrap());
            assert_eq!(parse_host_time(text), want, "{text}");
        }
    }

    #[test]
    fn bad_item_attributes_are_rejected_naming_host_and_item() {
        let table = [
            (
                item("http", "1", "42"),
                "host \"h1\", item 1 (pluginID 42): port \"http\" is not a number 0-65535",
            ),
            (item("99999", "1", "42"), "port \"99999\""),
            (
                item("80", "5", "42"),
                "severity \"5\" is not an integer 0-4",
            ),
            (item("80", "high", "42"), "severity \"high\""),
            (
                item("80", "1", "x1"),
                "host \"h1\", item 1: pluginID \"x1\" is not a number",
            ),
        ];
        for (xml, want) in table {
            let got = reason(&xml);
            assert!(got.contains(want), "{got} does not contain {want}");
        }
    }

    #[test]
    fn good_item_parses_all_attributes() {
        let hosts = parse(&item("443", "3", "1234")).unwrap();
        assert_eq!(hosts.len(), 1);
        let it = &hosts[0].items[0];
        assert_eq!((it.plugin_id, it.port, it.severity), (1234, 443, 3));
        assert_eq!(it.protocol, "tcp");
        assert_eq!(hosts[0].properties.host_ip.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn structural_rejections_give_their_reason() {
        let table: [(&[u8], &str); 9] = [
            (b"", "empty report"),
            (b"  \n<?xml version=\"1.0\"?>\n", "empty report"),
            (b"<NessusClientData><Report/></NessusClientData>", "unsupported Nessus v1 format (NessusClientData); export as .nessus v2"),
            (b"<html><body/></html>", "not a Nessus v2 report: root element is <html>"),
            (b"{\"json\": true}", "not a Nessus v2 report"),
            (b"<NessusClientData_v2><Report>", "truncated report"),
            (b"<NessusClientData_v2><Report><ReportHost name=\"a\"><HostProp", "truncated report"),
            (b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><NessusClientData_v2>&a;</NessusClientData_v2>", "refused DOCTYPE"),
            (b"<NessusClientData_v2/><extra/>", "after the root element"),
        ];
        for (xml, want) in table {
            let got = reason(xml);
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }

    #[test]
    fn entities_other_than_the_predefined_ones_are_refused() {
        let got =
            reason(b"<NessusClientData_v2><Report name=\"a\">&xxe;</Report></NessusClientData_v2>");
        assert!(
            got.starts_with("undeclared entity reference &xxe;"),
            "{got}"
        );
        let ok = parse(
            b"<NessusClientData_v2><Policy><policyName>a &amp; b&#33;</policyName></Policy></NessusClientData_v2>",
        );
        assert_eq!(ok, Ok(vec![]));
        let mut r = NessusReader::new(
            &b"<NessusClientData_v2><Policy><policyName>a &amp; b&#33;</policyName></Policy></NessusClientData_v2>"[..],
        );
        assert!(r.next().is_none());
        assert_eq!(r.meta().policy_name.as_deref(), Some("a & b!"));
    }

    #[test]
    fn invalid_utf8_is_rejected_with_its_position() {
        let mut xml = b"<NessusClientData_v2><Report name=\"".to_vec();
        xml.extend_from_slice(&[0xff, 0xfe]);
        xml.extend_from_slice(b"\"/></NessusClientData_v2>");
        assert!(reason(&xml).starts_with("invalid UTF-8 at byte"));
        let mut text = b"<NessusClientData_v2><Policy><policyName>".to_vec();
        text.extend_from_slice(&[b'a', 0xc3, 0x28]);
        text.extend_from_slice(b"</policyName></Policy></NessusClientData_v2>");
        assert!(reason(&text).starts_with("invalid UTF-8 at byte"));
    }

    #[test]
    fn non_utf8_declared_encodings_are_refused() {
        let got = reason(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><NessusClientData_v2/>");
        assert_eq!(
            got,
            "unsupported encoding \"ISO-8859-1\": only UTF-8 reports are accepted"
        );
    }

    #[test]
    fn reader_is_fused_after_an_error() {
        let xml = item("x", "1", "1");
        let mut r = NessusReader::new(&xml[..]);
        assert!(matches!(r.next(), Some(Err(NessusError::Invalid { .. }))));
        assert!(r.next().is_none());
    }

    #[test]
    fn kept_text_is_capped_at_a_char_boundary() {
        let mut s = String::new();
        push_capped(&mut s, &"é".repeat(MAX_FIELD_BYTES));
        assert_eq!(s.len(), MAX_FIELD_BYTES);
        push_capped(&mut s, "more");
        assert_eq!(s.len(), MAX_FIELD_BYTES);
    }

    #[test]
    fn bad_scores_timestamps_and_vectors_are_rejected() {
        let with = |inner: &str| {
            HOST.replace("@PORT@", "80")
                .replace("@SEV@", "2")
                .replace("@ID@", "7")
                .replace(
                    "pluginName=\"n\"/>",
                    &format!("pluginName=\"n\">{inner}</ReportItem>"),
                )
        };
        let table = [
            (
                with("<cvss3_base_score>high</cvss3_base_score>"),
                "cvss3_base_score \"high\" is not a score",
            ),
            (
                with("<cvss_base_score>11</cvss_base_score>"),
                "cvss_base_score \"11\"",
            ),
            (
                with("<cvss3_vector>CVSS:3.7/AV:N</cvss3_vector>"),
                "cvss3_vector \"CVSS:3.7/AV:N\"",
            ),
            (
                HOST.replace("@PORT@", "80")
                    .replace("@SEV@", "2")
                    .replace("@ID@", "7")
                    .replace(
                        "<tag name=\"host-ip\">",
                        "<tag name=\"HOST_START_TIMESTAMP\">soon</tag><tag name=\"host-ip\">",
                    ),
                "host \"h1\": tag HOST_START_TIMESTAMP \"soon\" is not a Unix timestamp",
            ),
        ];
        for (xml, want) in table {
            let got = reason(xml.as_bytes());
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }
}
