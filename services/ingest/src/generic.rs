//! The generic CSV and JSON report formats, for scanners patchflow has no
//! parser for: one row (CSV) or one object (JSON `findings[]`) per
//! observation. `docs/generic-format.md` is the reference with examples;
//! this module implements it.
//!
//! # Fields (CSV columns, JSON keys)
//!
//! Required: `host`, `check_id`, `severity`. Optional: `ip`, `os`,
//! `asset_kind` (`host`, the default, or `artifact`), `scanner`, `title`,
//! `cves`, `cwes`, `cvss_vector`, `port`, `protocol`, `service`, `package`,
//! `version`, `fixed_version`, `fix_state`, `solution`, `observed_at`.
//! Names are case-insensitive; a name starting with `x_` is an extension and
//! ignored; any other unknown name is rejected (a typo would otherwise lose
//! data silently).
//!
//! # Rules
//!
//! - **Detection**: a CSV whose header row has `host`, `check_id` and
//!   `severity`; a JSON object with `"patchflow_generic": 1`, which must
//!   come before `findings` (as must the document-wide `scanner`).
//! - **Asset**: a host is identified as a Nessus host is
//!   ([`crate::identity`]: the lower-case short name, a URL's host, else the
//!   IP); `asset_kind = artifact` takes `host` as an artifact name as written
//!   ([`crate::software::artifact_asset`]: an image, a path).
//! - **Hosts are contiguous**: the rows of one asset must follow each
//!   other (sort the file by host). A host that reappears after another is
//!   rejected by the check, since each host is a full scan of that host and
//!   a split one would resolve its own findings.
//! - **Severity**: `critical`, `high`, `medium`, `low`; `info` (also
//!   `informational`, `none`) rows are facts about the asset, never findings.
//! - **Values**: `cves` CVE ids and `cwes` CWE numbers (`CWE-79` or `79`)
//!   separated by commas, semicolons or spaces (JSON: also a list);
//!   `cvss_vector` one or more vectors separated by `;` or spaces, each with
//!   its `CVSS:3.x/`/`CVSS:4.0/` prefix (a bare vector must be CVSS v2, or
//!   v4 recognised by its `AT` metric); `port` 0–65535 (0, the default, is
//!   host level), `protocol` lower-cased, `tcp` when a port is given without
//!   one; `fix_state` one of `fixed`, `not_fixed`, `wont_fix`,
//!   `fix_deferred`, `end_of_life`, `under_investigation`, `unknown`
//!   (`not_affected` rows are skipped with the reason); `observed_at` RFC 3339
//!   or a `YYYY-MM-DD` date (midnight UTC).
//! - **Remediation**: `package` with `fixed_version` is an upgrade; else the
//!   `solution` text (`n/a` when empty).
//! - **Identity**: `generic:v1:<asset_id>:<scanner>:<check_id>:<port>/
//!   <protocol>`, plus `:<package>@<version>` for a package row
//!   ([`crate::software::fingerprint`] escaping). Rows with the same key on
//!   one host merge.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;

use chrono::{DateTime, NaiveDate, Utc};
use events::{Asset, AssetFact, Check, FixState, Package, Remediation, Severity};
use serde::Deserialize;

use crate::identity;
use crate::jsonpull::{JsonCursor, JsonError, Kind};
use crate::normalize::{NormalizedHost, VectorField, parse_cwe};
use crate::scanner::CsvQuotes;
use crate::software::{
    self, HostBuilder, Pending, Stats, artifact_asset, bare_vector_field, capped, cvss_vector,
    order_vectors, push_vector,
};

/// The fingerprint family of generic findings (`generic:v1:…`).
pub const SCANNER: &str = "generic";

/// The one version of the JSON document (`"patchflow_generic": 1`).
pub const JSON_VERSION: u64 = 1;

/// Skip reason: a row whose `fix_state` is `not_affected`.
pub const SKIP_NOT_AFFECTED: &str = "fix_state not_affected";

/// Every field name (lower case) the formats define.
pub const FIELDS: &[&str] = &[
    "host",
    "ip",
    "os",
    "asset_kind",
    "scanner",
    "check_id",
    "title",
    "severity",
    "cves",
    "cwes",
    "cvss_vector",
    "port",
    "protocol",
    "service",
    "package",
    "version",
    "fixed_version",
    "fix_state",
    "solution",
    "observed_at",
];

/// Why a generic report was rejected: where (`row 7`, `findings[3]`) and
/// what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GenericError {
    /// The one-line reason, with its place.
    pub message: String,
}

impl From<JsonError> for GenericError {
    fn from(e: JsonError) -> Self {
        GenericError {
            message: e.to_string(),
        }
    }
}

fn err(place: &str, message: impl std::fmt::Display) -> GenericError {
    GenericError {
        message: format!("{place}: {message}"),
    }
}

/// Whether a CSV header line (the first line of `head`) names the required
/// columns.
pub fn sniff_csv(head: &str) -> bool {
    let first = head
        .trim_start_matches('\u{feff}')
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let names: Vec<String> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"').trim().to_ascii_lowercase())
        .collect();
    ["host", "check_id", "severity"]
        .iter()
        .all(|r| names.iter().any(|n| n == r))
}

/// Whether `head` is a generic JSON document (carries the marker key).
pub fn sniff_json(head: &str) -> bool {
    let t = head.trim_start_matches('\u{feff}').trim_start();
    t.starts_with('{') && t.contains("\"patchflow_generic\"")
}

/// One observation as text, whatever the container.
#[derive(Debug, Clone, Default, PartialEq)]
struct Row {
    fields: BTreeMap<&'static str, String>,
}

impl Row {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

/// A row, normalized.
enum Item {
    Finding(Box<Pending>),
    Fact(AssetFact),
    Skip(&'static str),
}

fn field_name(raw: &str) -> Option<&'static str> {
    let lower = raw.trim().to_ascii_lowercase();
    FIELDS.iter().copied().find(|f| *f == lower)
}

fn row_asset(row: &Row, place: &str) -> Result<Asset, GenericError> {
    let host = row.get("host").ok_or_else(|| err(place, "host is empty"))?;
    let kind = row.get("asset_kind").unwrap_or("host").to_ascii_lowercase();
    let mut asset = match kind.as_str() {
        "artifact" => artifact_asset(host).ok_or_else(|| err(place, "host is empty"))?,
        "host" => {
            let ip = row
                .get("ip")
                .map(str::to_owned)
                .or_else(|| identity::is_ip(host).then(|| host.to_owned()));
            if let Some(ip) = ip.as_deref()
                && !identity::is_ip(ip)
            {
                return Err(err(place, format!("ip {ip:?} is not an IP address")));
            }
            let name = identity::host_name_of(host);
            let asset_id = identity::asset_id(name.as_deref(), ip.as_deref())
                .unwrap_or_else(|| host.to_lowercase());
            let fqdn_text = identity::url_host(host).unwrap_or(host);
            Asset {
                asset_id,
                hostname: name,
                ip: ip.as_deref().and_then(identity::canonical_ip),
                fqdn: (fqdn_text.contains('.') && !identity::is_ip(fqdn_text))
                    .then(|| fqdn_text.to_owned()),
                ..Asset::default()
            }
        }
        other => {
            return Err(err(
                place,
                format!("asset_kind {other:?} is neither host nor artifact"),
            ));
        }
    };
    asset.os = row.get("os").map(str::to_owned);
    Ok(asset)
}

fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', ';', ' ', '\t', '\n', '\r', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn severity(text: &str, place: &str) -> Result<Severity, GenericError> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" | "moderate" => Severity::Medium,
        "low" => Severity::Low,
        "info" | "informational" | "none" => Severity::Info,
        other => {
            return Err(err(
                place,
                format!("severity {other:?} is not critical, high, medium, low or info"),
            ));
        }
    })
}

fn fix_state(text: &str, place: &str) -> Result<Option<FixState>, GenericError> {
    Ok(Some(
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "fixed" => FixState::Fixed,
            "not_fixed" | "affected" => FixState::NotFixed,
            "wont_fix" | "will_not_fix" => FixState::WontFix,
            "fix_deferred" => FixState::FixDeferred,
            "end_of_life" => FixState::EndOfLife,
            "under_investigation" => FixState::UnderInvestigation,
            "unknown" => FixState::Unknown,
            "not_affected" => return Ok(None),
            other => {
                return Err(err(
                    place,
                    format!("fix_state {other:?} is not one of the documented values"),
                ));
            }
        },
    ))
}

/// `observed_at`: RFC 3339, or `YYYY-MM-DD` (midnight UTC).
fn observed(text: &str, place: &str) -> Result<DateTime<Utc>, GenericError> {
    if let Ok(d) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    software::instant(text)
        .map_err(|e| err(place, format!("observed_at {e}")))?
        .ok_or_else(|| err(place, "observed_at is empty"))
}

fn item(row: &Row, default_scanner: &str, place: &str) -> Result<Item, GenericError> {
    let check_id = row
        .get("check_id")
        .ok_or_else(|| err(place, "check_id is empty"))?
        .to_owned();
    let severity = severity(
        row.get("severity")
            .ok_or_else(|| err(place, "severity is empty"))?,
        place,
    )?;
    let port = match row.get("port") {
        None => 0,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| err(place, format!("port {p:?} is not a number 0-65535")))?,
    };
    let protocol = match row.get("protocol") {
        Some(p) => p.to_ascii_lowercase(),
        None if port > 0 => "tcp".to_owned(),
        None => String::new(),
    };
    let service = row.get("service").map(str::to_owned);
    let title = capped(row.get("title").unwrap_or(&check_id).to_owned());
    if severity == Severity::Info {
        return Ok(Item::Fact(AssetFact {
            check_id,
            name: title,
            port,
            protocol,
            service,
        }));
    }
    let fix_state = match row.get("fix_state") {
        None => None,
        Some(s) => match fix_state(s, place)? {
            None => return Ok(Item::Skip(SKIP_NOT_AFFECTED)),
            some => some,
        },
    };
    let scanner = row
        .get("scanner")
        .unwrap_or(default_scanner)
        .to_ascii_lowercase();
    let mut cves: Vec<String> = Vec::new();
    for c in row.get("cves").map(list).into_iter().flatten() {
        if !software::is_cve(c) {
            return Err(err(place, format!("cves: {c:?} is not a CVE id")));
        }
        software::push_cve(&mut cves, c);
    }
    let mut cwes = Vec::new();
    for c in row.get("cwes").map(list).into_iter().flatten() {
        cwes.push(parse_cwe(c).ok_or_else(|| err(place, format!("cwes: {c:?} is not a CWE")))?);
    }
    cwes.sort_unstable();
    cwes.dedup();
    let mut cvss = Vec::new();
    for raw in row
        .get("cvss_vector")
        .into_iter()
        .flat_map(|t| t.split([';', ' ', '\t', '\n']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let prefixed = raw.starts_with("CVSS:") || raw.starts_with("CVSS2#");
        let field = if prefixed {
            VectorField::V3
        } else {
            bare_vector_field(raw).ok_or_else(|| {
                err(
                    place,
                    format!("cvss_vector {raw:?} has no CVSS:3.x/ prefix (only v2 and v4 vectors may be bare)"),
                )
            })?
        };
        let v = cvss_vector(field, None, raw, None, &scanner)
            .map_err(|e| err(place, format!("cvss_vector {raw:?} {e}")))?;
        push_vector(&mut cvss, v);
    }
    order_vectors(&mut cvss);
    let observed_at = row
        .get("observed_at")
        .map(|t| observed(t, place))
        .transpose()?;
    let package = row.get("package").map(|name| Package {
        name: name.to_owned(),
        version: row.get("version").unwrap_or_default().to_owned(),
        ecosystem: None,
        purl: None,
        locations: Vec::new(),
        fixed_versions: row
            .get("fixed_version")
            .map(software::split_versions)
            .unwrap_or_default(),
    });
    let remediation = match (&package, row.get("fixed_version")) {
        (Some(p), Some(fixed)) => Remediation::Package {
            name: p.name.clone(),
            fixed_version: software::choose_fixed(&p.version, &p.fixed_versions)
                .unwrap_or_else(|| fixed.to_owned()),
        },
        _ => Remediation::Solution {
            scanner: scanner.clone(),
            check_id: check_id.clone(),
            text: capped(row.get("solution").unwrap_or("n/a").to_owned()),
        },
    };
    let mut key = vec![
        scanner.clone(),
        check_id.clone(),
        format!("{port}/{protocol}"),
    ];
    if let Some(p) = &package {
        key.push(format!("{}@{}", p.name, p.version));
    }
    Ok(Item::Finding(Box::new(Pending {
        key,
        check: Check {
            scanner,
            id: check_id,
            name: title,
            family: None,
        },
        severity,
        cves,
        cwes,
        cvss,
        remediation,
        package,
        fix_state,
        port,
        protocol,
        service,
        observed_at,
    })))
}

/// Where rows come from.
enum Source<R: BufRead> {
    Csv {
        records: csv::StringRecordsIntoIter<CsvQuotes<R>>,
        columns: Vec<Option<&'static str>>,
    },
    Json {
        cur: Box<JsonCursor<R>>,
        state: JsonState,
        index: u64,
        scanner: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonState {
    Start,
    Top { marked: bool },
    Findings,
    Done,
}

/// One element of JSON `findings[]`: a field is a string, a number, a
/// boolean or (for lists) an array of those.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum JsonValue {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
    List(Vec<JsonValue>),
    Null(()),
}

impl JsonValue {
    fn text(&self) -> String {
        match self {
            JsonValue::Text(s) => s.clone(),
            JsonValue::Number(n) => n.to_string(),
            JsonValue::Bool(b) => b.to_string(),
            JsonValue::List(items) => items
                .iter()
                .map(JsonValue::text)
                .collect::<Vec<_>>()
                .join(";"),
            JsonValue::Null(_) => String::new(),
        }
    }
}

impl<R: BufRead> Source<R> {
    /// The next row and its place, `None` at the end.
    fn next_row(&mut self) -> Result<Option<(Row, String)>, GenericError> {
        match self {
            Source::Csv { records, columns } => {
                let Some(record) = records.next() else {
                    // The csv crate ends an open quoted cell at the end of
                    // input: a cut-off file, not a complete one.
                    return match records.reader().get_ref().truncated() {
                        Some(cut) => Err(err("end of input", cut)),
                        None => Ok(None),
                    };
                };
                let place = || records.reader().position().line().to_string();
                let record = record.map_err(|e| {
                    let line = e.position().map_or_else(place, |p| p.line().to_string());
                    err(&format!("line {line}"), csv_reason(&e))
                })?;
                let line = record
                    .position()
                    .map_or_else(place, |p| p.line().to_string());
                let mut row = Row::default();
                for (value, column) in record.iter().zip(columns.iter()) {
                    if let Some(name) = column {
                        row.fields.insert(name, value.to_owned());
                    }
                }
                Ok(Some((row, format!("line {line}"))))
            }
            Source::Json {
                cur,
                state,
                index,
                scanner,
            } => {
                loop {
                    match *state {
                        JsonState::Done => return Ok(None),
                        JsonState::Start => {
                            if cur.kind()? != Kind::Object {
                                return Err(GenericError {
                                    message: "not a generic JSON report: expected an object".into(),
                                });
                            }
                            cur.begin_object()?;
                            *state = JsonState::Top { marked: false };
                        }
                        JsonState::Findings => {
                            if !cur.next_element()? {
                                *state = JsonState::Top { marked: true };
                                continue;
                            }
                            let place = format!("findings[{index}]");
                            *index += 1;
                            let fields: BTreeMap<String, JsonValue> =
                                cur.read().map_err(|e| err(&place, e))?;
                            let mut row = Row::default();
                            for (k, v) in fields {
                                match field_name(&k) {
                                    Some(name) => {
                                        row.fields.insert(name, v.text());
                                    }
                                    None if k.to_ascii_lowercase().starts_with("x_") => {}
                                    None => {
                                        return Err(err(&place, format!("unknown field {k:?}")));
                                    }
                                }
                            }
                            if let Some(s) = scanner.as_deref() {
                                row.fields.entry("scanner").or_insert_with(|| s.to_owned());
                            }
                            return Ok(Some((row, place)));
                        }
                        JsonState::Top { marked } => {
                            let Some(key) = cur.next_key()? else {
                                cur.finish()?;
                                *state = JsonState::Done;
                                if !marked {
                                    return Err(GenericError {
                                        message:
                                            "not a generic JSON report: no \"patchflow_generic\": 1"
                                                .into(),
                                    });
                                }
                                return Ok(None);
                            };
                            match key.as_str() {
                                "patchflow_generic" => {
                                    let v: serde_json::Value = cur.read()?;
                                    if v.as_u64() != Some(JSON_VERSION) {
                                        return Err(cur.error(format!(
                                        "unsupported patchflow_generic version {v} ({JSON_VERSION} is supported)"
                                    )).into());
                                    }
                                    *state = JsonState::Top { marked: true };
                                }
                                "scanner" => {
                                    let s: Option<String> = cur.read()?;
                                    *scanner = s.filter(|s| !s.trim().is_empty());
                                }
                                "findings" => {
                                    if !marked {
                                        return Err(cur
                                        .error("\"patchflow_generic\" must come before \"findings\"")
                                        .into());
                                    }
                                    if !cur.null()? {
                                        cur.begin_array()?;
                                        *state = JsonState::Findings;
                                    }
                                }
                                k if k.to_ascii_lowercase().starts_with("x_") => cur.skip()?,
                                other => {
                                    return Err(cur
                                        .error(format!("unknown top-level key {other:?}"))
                                        .into());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

/// Streams the hosts of a generic CSV or JSON report, one per run of
/// contiguous rows of one asset.
pub struct GenericReader<R: BufRead> {
    source: Option<Source<R>>,
    keep: bool,
    fallback_time: DateTime<Utc>,
    current: Option<Current>,
    seen: HashSet<String>,
    stats: Stats,
    failed: Option<GenericError>,
    done: bool,
}

struct Current {
    asset: Asset,
    builder: HostBuilder,
    earliest: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
}

impl<R: BufRead> GenericReader<R> {
    /// A reader of a generic CSV report; `keep` false counts only (the
    /// whole-report check). `fallback_time` (UTC) is the observation time of
    /// rows without `observed_at`.
    pub fn csv(input: R, fallback_time: DateTime<Utc>, keep: bool) -> GenericReader<R> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(CsvQuotes::new(input));
        let (source, failed) = match reader.headers() {
            Ok(h) => {
                let mut columns = Vec::new();
                let mut failed = None;
                for name in h.iter() {
                    let clean = name.trim().trim_start_matches('\u{feff}');
                    match field_name(clean) {
                        Some(f) if columns.contains(&Some(f)) => {
                            failed = Some(err("header", format!("column {f:?} appears twice")));
                        }
                        Some(f) => columns.push(Some(f)),
                        None if clean.to_ascii_lowercase().starts_with("x_") => columns.push(None),
                        None => {
                            failed = failed.or(Some(err(
                                "header",
                                format!("unknown column {clean:?} (see docs/generic-format.md; extensions start with x_)"),
                            )));
                            columns.push(None);
                        }
                    }
                }
                for required in ["host", "check_id", "severity"] {
                    if !columns.contains(&Some(required)) {
                        failed = failed.or(Some(err("header", format!("no {required} column"))));
                    }
                }
                (
                    Some(Source::Csv {
                        records: reader.into_records(),
                        columns,
                    }),
                    failed,
                )
            }
            Err(e) => (None, Some(err("header", csv_reason(&e)))),
        };
        GenericReader::with_source(source, failed, fallback_time, keep)
    }

    /// A reader of a generic JSON report (see [`GenericReader::csv`]).
    pub fn json(input: R, fallback_time: DateTime<Utc>, keep: bool) -> GenericReader<R> {
        let source = Source::Json {
            cur: Box::new(JsonCursor::new(input)),
            state: JsonState::Start,
            index: 0,
            scanner: None,
        };
        GenericReader::with_source(Some(source), None, fallback_time, keep)
    }

    fn with_source(
        source: Option<Source<R>>,
        failed: Option<GenericError>,
        fallback_time: DateTime<Utc>,
        keep: bool,
    ) -> GenericReader<R> {
        GenericReader {
            source,
            keep,
            fallback_time,
            current: None,
            seen: HashSet::new(),
            stats: Stats::default(),
            failed,
            done: false,
        }
    }

    /// Counts so far (complete once the iterator is exhausted).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn close(&mut self) -> Option<NormalizedHost> {
        let c = self.current.take()?;
        self.stats.hosts += 1;
        self.stats.window(c.earliest, c.latest);
        let observed_at = c.earliest.unwrap_or(self.fallback_time);
        Some(c.builder.finish(c.asset, observed_at, c.earliest, c.latest))
    }

    fn step(&mut self) -> Result<Option<NormalizedHost>, GenericError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        loop {
            let next = match self.source.as_mut() {
                Some(source) => source.next_row()?,
                None => None,
            };
            let Some((row, place)) = next else {
                return Ok(self.close());
            };
            let asset = row_asset(&row, &place)?;
            let item = item(&row, SCANNER, &place)?;
            let mut finished = None;
            let same = self
                .current
                .as_ref()
                .is_some_and(|c| c.asset.asset_id == asset.asset_id);
            if !same {
                if self.seen.contains(&asset.asset_id) {
                    return Err(err(
                        &place,
                        format!(
                            "rows of host {:?} are not contiguous (sort the file by host)",
                            asset.asset_id
                        ),
                    ));
                }
                finished = self.close();
                self.seen.insert(asset.asset_id.clone());
                self.current = Some(Current {
                    asset,
                    builder: HostBuilder::new(SCANNER, self.keep, true),
                    earliest: None,
                    latest: None,
                });
            }
            if let Some(c) = self.current.as_mut() {
                match item {
                    Item::Finding(p) => {
                        if let Some(t) = p.observed_at {
                            c.earliest = Some(c.earliest.map_or(t, |e| e.min(t)));
                            c.latest = Some(c.latest.map_or(t, |e| e.max(t)));
                        }
                        c.builder.add(*p, &mut self.stats);
                    }
                    Item::Fact(f) => c.builder.fact(f, &mut self.stats),
                    Item::Skip(reason) => self.stats.skip(reason),
                }
            }
            if finished.is_some() {
                return Ok(finished);
            }
        }
    }
}

impl<R: BufRead> Iterator for GenericReader<R> {
    type Item = Result<NormalizedHost, GenericError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(h)) => Some(Ok(h)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Checks a whole generic CSV report, keeping nothing, and counts.
///
/// # Errors
/// The first [`GenericError`], with its line.
pub fn check_csv<R: BufRead>(input: R) -> Result<Stats, GenericError> {
    drain(GenericReader::csv(
        input,
        DateTime::<Utc>::UNIX_EPOCH,
        false,
    ))
}

/// Checks a whole generic JSON report, keeping nothing, and counts.
///
/// # Errors
/// The first [`GenericError`], with its place (`findings[3]`).
pub fn check_json<R: BufRead>(input: R) -> Result<Stats, GenericError> {
    drain(GenericReader::json(
        input,
        DateTime::<Utc>::UNIX_EPOCH,
        false,
    ))
}

fn drain<R: BufRead>(mut reader: GenericReader<R>) -> Result<Stats, GenericError> {
    for host in reader.by_ref() {
        host?;
    }
    Ok(reader.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> DateTime<Utc> {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    fn csv_hosts(text: &str) -> Result<Vec<NormalizedHost>, GenericError> {
        GenericReader::csv(text.as_bytes(), t(), true).collect()
    }

    fn json_hosts(text: &str) -> Result<Vec<NormalizedHost>, GenericError> {
        GenericReader::json(text.as_bytes(), t(), true).collect()
    }

    const CSV: &str = "\u{feff}host,ip,check_id,title,severity,cves,cvss_vector,port,protocol,package,version,fixed_version,solution,observed_at,x_note\n\
web01.example.com,192.0.2.10,OPENSSL-1,OpenSSL too old,high,\"CVE-2000-0001, cve-2000-0002\",CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H,443,,openssl,1.1.1k,1.1.1w,,2025-03-04T10:00:00Z,ignored\n\
web01.example.com,192.0.2.10,BANNER,Web banner,info,,,80,tcp,,,,,,\n\
192.0.2.20,,SSH-WEAK,Weak SSH ciphers,medium,,AV:N/AC:H/Au:N/C:P/I:N/A:N,22,tcp,,,,Disable CBC ciphers,2025-03-05,\n";

    #[test]
    fn csv_rows_become_hosts_findings_and_facts() {
        let hosts = csv_hosts(CSV).unwrap();
        assert_eq!(hosts.len(), 2);
        let web = &hosts[0];
        assert_eq!(web.asset.asset_id, "web01");
        assert_eq!(web.asset.fqdn.as_deref(), Some("web01.example.com"));
        assert_eq!(web.asset.ip.as_deref(), Some("192.0.2.10"));
        assert_eq!(web.findings.len(), 1);
        assert_eq!(web.facts.len(), 1);
        let f = &web.findings[0];
        assert_eq!(
            f.fingerprint,
            "generic:v1:web01:generic:OPENSSL-1:443/tcp:openssl@1.1.1k"
        );
        assert_eq!(f.cves, ["CVE-2000-0001", "CVE-2000-0002"]);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.remediation,
            Remediation::Package {
                name: "openssl".into(),
                fixed_version: "1.1.1w".into()
            }
        );
        assert_eq!(
            web.observed_at,
            "2025-03-04T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let ssh = &hosts[1];
        assert_eq!(ssh.asset.asset_id, "192.0.2.20");
        assert_eq!(ssh.findings[0].cvss[0].vector, "AV:N/AC:H/Au:N/C:P/I:N/A:N");
        assert_eq!(
            ssh.observed_at,
            "2025-03-05T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let stats = check_csv(CSV.as_bytes()).unwrap();
        assert_eq!((stats.hosts, stats.findings, stats.info_items), (2, 2, 1));
    }

    #[test]
    fn csv_mistakes_are_rejected_with_their_line() {
        let head = "host,check_id,severity,cvss_vector,port\n";
        let table = [
            (
                "host,check_id,sevrity\nh,1,high\n".to_owned(),
                "unknown column \"sevrity\"",
            ),
            ("host,check_id\nh,1\n".to_owned(), "no severity column"),
            (
                format!("{head}h,1,urgent,,\n"),
                "line 2: severity \"urgent\"",
            ),
            (
                format!("{head}h,1,high,AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H,\n"),
                "line 2: cvss_vector",
            ),
            (format!("{head}h,1,high,,99999\n"), "line 2: port \"99999\""),
            (
                format!("{head}a,1,high,,\nb,1,high,,\na,2,low,,\n"),
                "line 4: rows of host \"a\" are not contiguous",
            ),
            (
                format!("{head}h,1,high\n"),
                "line 2: 3 fields where the header has 5",
            ),
            (format!("{head},1,high,,\n"), "line 2: host is empty"),
        ];
        for (text, want) in table {
            let e = check_csv(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn json_documents() {
        let doc = r#"{"patchflow_generic": 1, "scanner": "acme", "findings": [
            {"host": "registry.example/app:1.2", "asset_kind": "artifact", "check_id": "ACME-7", "severity": "critical",
             "cves": ["CVE-2000-0009"], "cwes": [79, "CWE-89"], "package": "libx", "version": "2.0", "fixed_version": "2.1",
             "fix_state": "fixed", "x_ticket": 12},
            {"host": "registry.example/app:1.2", "asset_kind": "artifact", "check_id": "ACME-8", "severity": "low", "fix_state": "not_affected"}
        ]}"#;
        let hosts = json_hosts(doc).unwrap();
        assert_eq!(hosts.len(), 1);
        let f = &hosts[0].findings[0];
        assert_eq!(hosts[0].asset.asset_id, "registry.example/app:1.2");
        assert_eq!(f.check.scanner, "acme");
        assert_eq!(f.cwes, [79, 89]);
        assert_eq!(f.fix_state, Some(FixState::Fixed));
        assert_eq!(
            f.fingerprint,
            "generic:v1:registry.example/app%3A1.2:acme:ACME-7:0/:libx@2.0"
        );
        let stats = check_json(doc.as_bytes()).unwrap();
        assert_eq!(stats.skipped, [(SKIP_NOT_AFFECTED.to_owned(), 1)]);

        let table = [
            (
                r#"{"findings": [], "patchflow_generic": 1}"#,
                "must come before",
            ),
            (
                r#"{"patchflow_generic": 2, "findings": []}"#,
                "unsupported patchflow_generic version 2",
            ),
            (r#"{"findings": []}"#, "must come before"),
            (r#"{"scanner": "x"}"#, "no \"patchflow_generic\": 1"),
            (
                r#"{"patchflow_generic": 1, "findings": [{"host": "h", "check_id": "1", "severity": "high", "cve": "x"}]}"#,
                "findings[0]: unknown field \"cve\"",
            ),
            (
                r#"{"patchflow_generic": 1, "extra": 1}"#,
                "unknown top-level key",
            ),
        ];
        for (doc, want) in table {
            let e = check_json(doc.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{doc}: {e}");
        }
        assert!(sniff_json(r#"{"patchflow_generic": 1}"#));
        assert!(sniff_csv("\"Host\",\"Check_ID\",\"Severity\"\n"));
        assert!(!sniff_csv("IP,DNS,QID,Severity\n"));
    }
}
