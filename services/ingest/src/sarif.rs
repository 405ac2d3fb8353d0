//! SARIF 2.1.0 logs (code scanners, and the SARIF output of Trivy, Grype,
//! OWASP dependency-check), streamed result by result.
//!
//! [`SarifResults`] walks `runs[]` and each run's `results[]` one element at
//! a time ([`crate::jsonpull`]); a run's rules (`tool.driver.rules`), base
//! URIs and artifacts are kept for the run. Results that come before their
//! run's `tool` (legal JSON, written by no known tool) wait, typed, until the
//! run ends. [`SarifReader`] folds every run into the log's one host.
//!
//! # Rules
//!
//! - **Clean logs**: `runs: []` has no host; a run with `results: []` is a
//!   scanned artifact with no findings (its earlier findings can resolve). A
//!   run whose `results` is absent or `null` did not produce results (SARIF
//!   §3.14.23) and covers nothing.
//! - **Not findings, skipped with the reason**: a suppressed result
//!   (`suppressions` non-empty and none `underReview` or `rejected`; the
//!   pre-release `state` is read as `status`), `kind` `pass`,
//!   `notApplicable` or `informational`, `level` `none`, and
//!   `baselineState` `absent` (gone since the baseline).
//! - **Severity**: `result.level`, else the rule's
//!   `defaultConfiguration.level` (error high, warning medium, note low);
//!   else the rule's `properties["security-severity"]` (a CVSS score, often
//!   a string: `"2.1"`) rated per CVSS v3.1 §5; else the result's
//!   `properties["security-severity"]`, then its `properties.severity` word
//!   (dependency-check); else medium (SARIF's default level is warning).
//! - **Location**: the first `locations[]` entry's artifact URI, made a path
//!   ([`artifact_path`]: `file:////src/x` → `/src/x`, `file:///C:/x` →
//!   `C:/x`, relative URIs kept relative to their `uriBaseId`, percent
//!   escapes decoded); an `index`-only location is looked up in
//!   `run.artifacts`.
//! - **Asset** ([`crate::software`]): the run's
//!   `versionControlProvenance[0].repositoryUri` without scheme, user and
//!   `.git` (`github.com/example-corp/browser`); else `properties.imageName`
//!   (Trivy); else the absolute path of the base URI the results are
//!   relative to (`originalUriBaseIds`, resolved through its chain:
//!   `file:///build/repo-a/` → `/build/repo-a`); else `<tool>:unnamed`. The
//!   first run that names one names the host.
//! - **Package**: vulnerability scanners' SARIF states package, installed
//!   and fixed version only in text; `Package:`, `Installed Version:` or
//!   `Version:`, and `Fixed Version:` or `Fix Version:` lines of the result
//!   message, else of the rule help, give the [`events::Package`] and an
//!   upgrade remediation. Without them, the remediation is the rule's help.
//! - **Ids**: CVE ids in the rule id (`CVE-2008-0732-geronimo…`); CWE
//!   numbers from the rule's `tags` (`CWE-89`, `external/cwe/cwe-089`);
//!   vectors from the rule's `cvssv2_vector`/`cvssv3_vector`/`cvssv40_vector`
//!   properties (Trivy).
//! - **Identity**, robust to a code shift (case OC-06): `sarif:v1:<asset_id>:
//!   <rule id>:<path>:<content key>`, where the content key is the tool's own
//!   `fingerprints` (every key, sorted), else its `partialFingerprints`, else
//!   the package and version, else a hash of the whitespace-normalized code
//!   snippet, else the logical location, else a hash of the message text —
//!   never the line number. Results sharing a key are distinct findings
//!   numbered in report order (`…#2`, `#3`), which a shift of lines does not
//!   reorder. Fingerprint values may be strings or `{ "value": … }`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::BufRead;

use chrono::{DateTime, Utc};
use events::{Asset, Check, Package, Remediation, Severity};
use serde::Deserialize;
use serde::de::IgnoredAny;
use uuid::Uuid;

use crate::jsonpull::{JsonCursor, JsonError, Kind};
use crate::normalize::{FINDING_NAMESPACE, NormalizedHost, VectorField};
use crate::software::{
    self, HostBuilder, Pending, Stats, artifact_asset, capped, choose_fixed, cves_in, cvss_vector,
    cwe_in, order_vectors, push_vector, split_versions,
};

/// The fingerprint family of SARIF findings (`sarif:v1:…`).
pub const SCANNER: &str = "sarif";

/// Skip reason: an accepted suppression.
pub const SKIP_SUPPRESSED: &str = "suppressed result";
/// Skip reason: `kind` says the result is not a failure.
pub const SKIP_NOT_A_FAILURE: &str = "result kind pass, notApplicable or informational";
/// Skip reason: `level` `none`.
pub const SKIP_LEVEL_NONE: &str = "result level none";
/// Skip reason: `baselineState` `absent`.
pub const SKIP_ABSENT: &str = "result absent since the baseline";
/// Skip reason: no rule id anywhere.
pub const SKIP_NO_RULE: &str = "result without a rule id";
/// Skip reason: a run that produced no `results`.
pub const SKIP_NO_RESULTS: &str = "run without results (the tool did not complete)";
/// Skip reason: a vector that is not a CVSS vector (the finding is kept).
pub const SKIP_BAD_VECTOR: &str = "CVSS vector that does not parse (vector dropped, finding kept)";

/// A property value of no fixed type: a string, a number, a boolean, a
/// `{ "value": … }` wrapper (BlackDuck fingerprints), or anything else.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Loose {
    Text(String),
    Number(f64),
    Bool(bool),
    Wrapped { value: Box<Loose> },
    Other(IgnoredAny),
}

impl Loose {
    fn text(&self) -> Option<String> {
        match self {
            Loose::Text(s) => Some(s.clone()),
            Loose::Number(n) => Some(n.to_string()),
            Loose::Bool(b) => Some(b.to_string()),
            Loose::Wrapped { value } => value.text(),
            Loose::Other(_) => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Loose::Number(n) => Some(*n),
            Loose::Text(s) => s.trim().parse().ok(),
            Loose::Wrapped { value } => value.number(),
            _ => None,
        }
        .filter(|n: &f64| n.is_finite())
    }
}

#[derive(Debug, Default, Deserialize)]
struct Text {
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Tool {
    driver: Option<Driver>,
}

#[derive(Debug, Default, Deserialize)]
struct Driver {
    name: Option<String>,
    rules: Option<Vec<Rule>>,
}

#[derive(Debug, Default, Deserialize)]
struct Rule {
    id: Option<String>,
    name: Option<String>,
    #[serde(rename = "shortDescription")]
    short_description: Option<Text>,
    #[serde(rename = "fullDescription")]
    full_description: Option<Text>,
    help: Option<Text>,
    #[serde(rename = "messageStrings")]
    message_strings: Option<BTreeMap<String, Text>>,
    #[serde(rename = "defaultConfiguration")]
    default_configuration: Option<Configuration>,
    properties: Option<RuleProperties>,
}

#[derive(Debug, Default, Deserialize)]
struct Configuration {
    level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RuleProperties {
    #[serde(rename = "security-severity")]
    security_severity: Option<Loose>,
    tags: Option<Vec<Loose>>,
    cvssv2_vector: Option<Loose>,
    cvssv2_score: Option<Loose>,
    cvssv3_vector: Option<Loose>,
    #[serde(rename = "cvssv3_baseScore")]
    cvssv3_base_score: Option<Loose>,
    cvssv40_vector: Option<Loose>,
    #[serde(rename = "cvssv40_baseScore")]
    cvssv40_base_score: Option<Loose>,
}

#[derive(Debug, Deserialize)]
struct RawResult {
    #[serde(rename = "ruleId")]
    rule_id: Option<String>,
    #[serde(rename = "ruleIndex")]
    rule_index: Option<i64>,
    rule: Option<RuleReference>,
    kind: Option<String>,
    level: Option<String>,
    message: Option<Message>,
    locations: Option<Vec<Location>>,
    suppressions: Option<Vec<Suppression>>,
    fingerprints: Option<BTreeMap<String, Loose>>,
    #[serde(rename = "partialFingerprints")]
    partial_fingerprints: Option<BTreeMap<String, Loose>>,
    #[serde(rename = "baselineState")]
    baseline_state: Option<String>,
    properties: Option<ResultProperties>,
}

#[derive(Debug, Deserialize)]
struct RuleReference {
    id: Option<String>,
    index: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Message {
    text: Option<String>,
    id: Option<String>,
    arguments: Option<Vec<Loose>>,
}

#[derive(Debug, Deserialize)]
struct Location {
    #[serde(rename = "physicalLocation")]
    physical_location: Option<PhysicalLocation>,
    #[serde(rename = "logicalLocations")]
    logical_locations: Option<Vec<LogicalLocation>>,
}

#[derive(Debug, Deserialize)]
struct PhysicalLocation {
    #[serde(rename = "artifactLocation")]
    artifact_location: Option<ArtifactLocation>,
    region: Option<Region>,
    #[serde(rename = "contextRegion")]
    context_region: Option<Region>,
}

#[derive(Debug, Clone, Deserialize)]
struct ArtifactLocation {
    uri: Option<String>,
    #[serde(rename = "uriBaseId")]
    uri_base_id: Option<String>,
    index: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Region {
    #[serde(rename = "startLine")]
    start_line: Option<u64>,
    snippet: Option<Text>,
}

#[derive(Debug, Deserialize)]
struct LogicalLocation {
    #[serde(rename = "fullyQualifiedName")]
    fully_qualified_name: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Suppression {
    status: Option<String>,
    state: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResultProperties {
    #[serde(rename = "security-severity")]
    security_severity: Option<Loose>,
    severity: Option<Loose>,
}

#[derive(Debug, Deserialize)]
struct BaseUri {
    uri: Option<String>,
    #[serde(rename = "uriBaseId")]
    uri_base_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Provenance {
    #[serde(rename = "repositoryUri")]
    repository_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Invocation {
    #[serde(rename = "startTimeUtc")]
    start_time_utc: Option<String>,
    #[serde(rename = "endTimeUtc")]
    end_time_utc: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunProperties {
    #[serde(rename = "imageName")]
    image_name: Option<Loose>,
}

#[derive(Debug, Deserialize)]
struct ArtifactEntry {
    location: Option<ArtifactLocation>,
}

/// Where in the code a result is: its primary location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLocation {
    /// The artifact path ([`artifact_path`]), relative to its `uriBaseId`
    /// when it has one.
    pub path: String,
    /// `region.startLine` (1-based), when given.
    pub start_line: Option<u64>,
}

/// A result that is a finding, before the log's asset is known.
#[derive(Debug, Clone, PartialEq)]
pub struct SarifFinding {
    /// Index of its run in `runs[]`.
    pub run: u64,
    /// Its primary location, when it has one.
    pub location: Option<CodeLocation>,
    /// Rule vectors that did not parse and were dropped.
    pub dropped_vectors: u64,
    /// The finding (its key is the identity before numbering repeats).
    pub pending: Pending,
}

/// One result of a log, in report order.
#[derive(Debug, Clone, PartialEq)]
pub enum SarifItem {
    /// A finding.
    Finding(Box<SarifFinding>),
    /// Not a finding, with why (one of the `SKIP_*` reasons).
    Skipped(&'static str),
}

/// What the log says beyond its results (complete after the last one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// The scanned artifact (see the module rules), when a run names one.
    pub asset: Option<Asset>,
    /// The first run's tool (`tool.driver.name`, lower case).
    pub tool: Option<String>,
    /// Runs whose `results` is an array (scanned).
    pub runs_with_results: u64,
    /// Earliest `invocations[].startTimeUtc` (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// Latest `invocations[].endTimeUtc` (UTC).
    pub finished_at: Option<DateTime<Utc>>,
}

/// One run's context while its results stream.
#[derive(Debug, Default)]
struct Run {
    index: u64,
    tool: String,
    tool_seen: bool,
    rules: Vec<Rule>,
    rule_ids: HashMap<String, usize>,
    artifacts: Vec<Option<ArtifactLocation>>,
    bases: BTreeMap<String, BaseUri>,
    repository: Option<String>,
    image_name: Option<String>,
    first_base_id: Option<String>,
    has_results: bool,
    waiting: Vec<RawResult>,
    result_index: u64,
}

impl Run {
    fn set_tool(&mut self, tool: Tool) {
        let driver = tool.driver.unwrap_or_default();
        self.tool = driver
            .name
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| SCANNER.to_owned());
        self.rules = driver.rules.unwrap_or_default();
        self.rule_ids = self
            .rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.id.clone().map(|id| (id, i)))
            .collect();
        self.tool_seen = true;
    }

    /// Remembers the base URI id the run's first located result uses.
    fn note_base(&mut self, r: &RawResult) {
        if self.first_base_id.is_some() {
            return;
        }
        self.first_base_id = r
            .locations
            .iter()
            .flatten()
            .filter_map(|l| l.physical_location.as_ref())
            .filter_map(|p| p.artifact_location.as_ref())
            .find_map(|a| a.uri_base_id.clone());
    }

    fn rule(&self, id: Option<&str>, index: Option<i64>) -> Option<&Rule> {
        index
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.rules.get(i))
            .filter(|r| id.is_none() || r.id.as_deref() == id)
            .or_else(|| {
                id.and_then(|id| self.rule_ids.get(id))
                    .and_then(|&i| self.rules.get(i))
            })
    }

    fn asset(&self) -> Option<Asset> {
        if let Some(repo) = self.repository.as_deref().and_then(repository_id) {
            return Some(Asset {
                asset_id: repo,
                ..Asset::default()
            });
        }
        if let Some(a) = self.image_name.as_deref().and_then(artifact_asset) {
            return Some(a);
        }
        let base = self
            .first_base_id
            .as_deref()
            .filter(|b| self.bases.contains_key(*b))
            .or_else(|| self.bases.contains_key("SRCROOT").then_some("SRCROOT"))
            .or_else(|| self.bases.keys().next().map(String::as_str))?;
        let uri = resolve_base(base, &self.bases, 0)?;
        artifact_asset(&artifact_path(&uri))
    }
}

/// The URI a base id stands for, following `uriBaseId` chains (at most 8).
fn resolve_base(id: &str, bases: &BTreeMap<String, BaseUri>, depth: u8) -> Option<String> {
    let base = bases.get(id)?;
    let uri = base.uri.as_deref()?.trim();
    match base.uri_base_id.as_deref() {
        Some(parent) if depth < 8 => {
            let p = resolve_base(parent, bases, depth + 1)?;
            Some(format!(
                "{}/{}",
                p.trim_end_matches('/'),
                uri.trim_start_matches('/')
            ))
        }
        Some(_) => None,
        None => Some(uri.to_owned()),
    }
}

/// A repository URI as an asset id: scheme, user, a trailing `/` and `.git`
/// removed, the host lower-cased (`https://GitHub.com/org/repo.git` →
/// `github.com/org/repo`; `git@github.com:org/repo` → `github.com/org/repo`).
pub fn repository_id(uri: &str) -> Option<String> {
    let u = uri.trim();
    let rest = match u.split_once("://") {
        Some((_, rest)) => rest.to_owned(),
        None => match u.split_once(':') {
            Some((host, path)) if host.contains('@') && !path.starts_with('/') => {
                format!("{host}/{path}")
            }
            _ => u.to_owned(),
        },
    };
    let rest = rest.rsplit_once('@').map_or(rest.as_str(), |(_, r)| r);
    let rest = rest.trim_end_matches('/');
    let rest = rest
        .strip_suffix(".git")
        .unwrap_or(rest)
        .trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let id = if path.is_empty() {
        host.to_lowercase()
    } else {
        format!("{}/{path}", host.to_lowercase())
    };
    (!id.is_empty()).then_some(id)
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let byte = b.get(i).copied().unwrap_or_default();
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (byte, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// An artifact URI as a path: percent escapes decoded; `file:` URIs lose
/// their scheme and an empty or `localhost` authority (`file:///a` → `/a`,
/// `file:////src/a` → `/src/a`, `file:///C:/a` → `C:/a`; another authority
/// stays as `//host/a`); relative references lose a leading `./`; other
/// URIs are kept.
pub fn artifact_path(uri: &str) -> String {
    let decoded = percent_decode(uri.trim());
    let is_file = decoded
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("file:"));
    if !is_file {
        let mut rel = decoded.as_str();
        while let Some(r) = rel.strip_prefix("./") {
            rel = r;
        }
        return rel.to_owned();
    }
    let rest = decoded.get(5..).unwrap_or_default();
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = match after.find('/') {
                Some(i) => (
                    after.get(..i).unwrap_or_default(),
                    after.get(i..).unwrap_or_default(),
                ),
                None => (after, ""),
            };
            if authority.is_empty() || authority.eq_ignore_ascii_case("localhost") {
                path.to_owned()
            } else {
                return format!("//{authority}{path}");
            }
        }
        None => rest.to_owned(),
    };
    let path = format!("/{}", path.trim_start_matches('/'));
    // `/C:/x` is a Windows drive path.
    let b = path.as_bytes();
    if b.len() >= 3 && b.get(1).is_some_and(u8::is_ascii_alphabetic) && b.get(2) == Some(&b':') {
        return path.get(1..).unwrap_or_default().to_owned();
    }
    path
}

fn level_severity(level: &str) -> Option<Severity> {
    match level.trim().to_ascii_lowercase().as_str() {
        "error" => Some(Severity::High),
        "warning" => Some(Severity::Medium),
        "note" => Some(Severity::Low),
        _ => None,
    }
}

fn word_severity(word: &str) -> Option<Severity> {
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" | "error" => Some(Severity::High),
        "medium" | "moderate" | "warning" => Some(Severity::Medium),
        "low" | "note" | "info" | "informational" => Some(Severity::Low),
        _ => None,
    }
}

fn score_severity(score: f64) -> Severity {
    Severity::from_cvss(score).max(Severity::Low)
}

/// Whether the result is suppressed (SARIF 2.1.0 §3.27.23): a non-empty
/// `suppressions` none of which is `underReview` or `rejected`.
fn suppressed(list: Option<&[Suppression]>) -> bool {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return false;
    };
    !list.iter().any(|s| {
        let status = s
            .status
            .as_deref()
            .or(s.state.as_deref())
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        status == "underreview" || status == "rejected"
    })
}

fn normalized_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_hash(text: &str) -> String {
    Uuid::new_v5(&FINDING_NAMESPACE, normalized_text(text).as_bytes())
        .simple()
        .to_string()
}

fn fingerprint_key(map: Option<&BTreeMap<String, Loose>>) -> Option<String> {
    let parts: Vec<String> = map?
        .iter()
        .filter_map(|(k, v)| v.text().map(|v| format!("{k}={}", v.trim())))
        .filter(|p| !p.ends_with('='))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// `Package:`/`Installed Version:`/`Fixed Version:` lines of one text.
fn package_in(text: &str) -> Option<(String, String, Vec<String>, Option<String>)> {
    let (mut name, mut version, mut fixed, mut kind) = (None, None, Vec::new(), None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_start_matches("**").trim();
        match key
            .trim()
            .trim_matches('*')
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "package" if !value.is_empty() => name = Some(value.to_owned()),
            "installed version" | "version" if !value.is_empty() => {
                version = Some(value.to_owned())
            }
            "fixed version" | "fix version" => fixed = split_versions(value),
            "type" if !value.is_empty() => kind = Some(value.to_owned()),
            _ => {}
        }
    }
    Some((name?, version?, fixed, kind))
}

fn message_text(r: &RawResult, rule: Option<&Rule>) -> String {
    let Some(m) = r.message.as_ref() else {
        return String::new();
    };
    if let Some(t) = m.text.as_deref().filter(|t| !t.trim().is_empty()) {
        return t.to_owned();
    }
    let args: Vec<String> = m
        .arguments
        .iter()
        .flatten()
        .map(|a| a.text().unwrap_or_default())
        .collect();
    let template = m.id.as_deref().and_then(|id| {
        rule.and_then(|r| r.message_strings.as_ref())
            .and_then(|s| s.get(id))
            .and_then(|t| t.text.clone())
    });
    match (template, m.id.as_deref()) {
        (Some(mut t), _) => {
            for (i, a) in args.iter().enumerate() {
                t = t.replace(&format!("{{{i}}}"), a);
            }
            t
        }
        (None, Some(id)) => format!("{id}({})", args.join(", ")),
        (None, None) => String::new(),
    }
}

/// Normalizes one result against its run.
fn normalize(r: RawResult, run: &Run) -> SarifItem {
    let ref_id = r
        .rule_id
        .clone()
        .or_else(|| r.rule.as_ref().and_then(|x| x.id.clone()));
    let index = r
        .rule_index
        .or_else(|| r.rule.as_ref().and_then(|x| x.index));
    let rule = run.rule(ref_id.as_deref(), index);
    let Some(rule_id) = ref_id
        .or_else(|| rule.and_then(|x| x.id.clone()))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    else {
        return SarifItem::Skipped(SKIP_NO_RULE);
    };
    if suppressed(r.suppressions.as_deref()) {
        return SarifItem::Skipped(SKIP_SUPPRESSED);
    }
    if let Some(kind) = r.kind.as_deref()
        && matches!(kind.trim(), "pass" | "notApplicable" | "informational")
    {
        return SarifItem::Skipped(SKIP_NOT_A_FAILURE);
    }
    if r.baseline_state.as_deref().map(str::trim) == Some("absent") {
        return SarifItem::Skipped(SKIP_ABSENT);
    }
    let level = r.level.clone().or_else(|| {
        rule.and_then(|x| x.default_configuration.as_ref())
            .and_then(|c| c.level.clone())
    });
    if level.as_deref().map(str::trim) == Some("none") {
        return SarifItem::Skipped(SKIP_LEVEL_NONE);
    }
    let rule_props = rule.and_then(|x| x.properties.as_ref());
    let result_props = r.properties.as_ref();
    let severity = level
        .as_deref()
        .and_then(level_severity)
        .or_else(|| {
            rule_props
                .and_then(|p| p.security_severity.as_ref())
                .and_then(Loose::number)
                .map(score_severity)
        })
        .or_else(|| {
            result_props
                .and_then(|p| p.security_severity.as_ref())
                .and_then(Loose::number)
                .map(score_severity)
        })
        .or_else(|| {
            result_props
                .and_then(|p| p.severity.as_ref())
                .and_then(Loose::text)
                .as_deref()
                .and_then(word_severity)
        })
        .unwrap_or(Severity::Medium);

    let primary = r.locations.as_ref().and_then(|l| l.first());
    let physical = primary.and_then(|l| l.physical_location.as_ref());
    let artifact = physical
        .and_then(|p| p.artifact_location.as_ref())
        .and_then(|a| {
            if a.uri.is_some() {
                Some(a.clone())
            } else {
                a.index
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| run.artifacts.get(i))
                    .and_then(Clone::clone)
            }
        });
    let location = artifact
        .as_ref()
        .and_then(|a| a.uri.as_deref())
        .map(|uri| CodeLocation {
            path: artifact_path(uri),
            start_line: physical
                .and_then(|p| p.region.as_ref())
                .and_then(|x| x.start_line),
        });
    let snippet = physical.and_then(|p| {
        [p.region.as_ref(), p.context_region.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|x| x.snippet.as_ref().and_then(|s| s.text.clone()))
            .filter(|t| !t.trim().is_empty())
    });
    let logical = primary
        .and_then(|l| l.logical_locations.as_ref())
        .and_then(|l| l.first())
        .and_then(|l| l.fully_qualified_name.clone().or_else(|| l.name.clone()))
        .filter(|l| !l.trim().is_empty());
    let message = message_text(&r, rule);
    let help = rule
        .and_then(|x| x.help.as_ref())
        .and_then(|h| h.text.clone());
    let package = package_in(&message).or_else(|| help.as_deref().and_then(package_in));

    let content = fingerprint_key(r.fingerprints.as_ref())
        .map(|k| format!("fp/{k}"))
        .or_else(|| fingerprint_key(r.partial_fingerprints.as_ref()).map(|k| format!("pfp/{k}")))
        .or_else(|| package.as_ref().map(|(n, v, _, _)| format!("pkg/{n}@{v}")))
        .or_else(|| {
            snippet
                .as_deref()
                .map(|s| format!("snippet/{}", text_hash(s)))
        })
        .or_else(|| logical.as_deref().map(|l| format!("logical/{}", l.trim())))
        .unwrap_or_else(|| format!("message/{}", text_hash(&message)));

    let mut cves = cves_in(&rule_id);
    if let Some(name) = rule.and_then(|x| x.name.as_deref()) {
        for c in cves_in(name) {
            if !cves.contains(&c) {
                cves.push(c);
            }
        }
    }
    let mut cwes: Vec<u32> = rule_props
        .and_then(|p| p.tags.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|t| t.text().as_deref().and_then(cwe_in))
        .collect();
    cwes.sort_unstable();
    cwes.dedup();
    let mut cvss = Vec::new();
    let mut bad_vectors = 0u64;
    if let Some(p) = rule_props {
        for (field, raw, score) in [
            (VectorField::V4, &p.cvssv40_vector, &p.cvssv40_base_score),
            (VectorField::V3, &p.cvssv3_vector, &p.cvssv3_base_score),
            (VectorField::V2, &p.cvssv2_vector, &p.cvssv2_score),
        ] {
            let Some(raw) = raw
                .as_ref()
                .and_then(Loose::text)
                .filter(|r| !r.trim().is_empty())
            else {
                continue;
            };
            let score = score.as_ref().and_then(Loose::number);
            match cvss_vector(field, None, &raw, score, &run.tool) {
                Ok(v) => push_vector(&mut cvss, v),
                Err(_) => bad_vectors += 1,
            }
        }
    }
    order_vectors(&mut cvss);

    let title = rule
        .and_then(|x| x.short_description.as_ref())
        .and_then(|d| d.text.clone())
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            message
                .lines()
                .next()
                .map(str::to_owned)
                .filter(|t| !t.trim().is_empty())
        })
        .or_else(|| rule.and_then(|x| x.name.clone()))
        .unwrap_or_else(|| rule_id.clone());
    let path = location.as_ref().map(|l| l.path.clone());
    let (remediation, pkg) = match package {
        Some((name, version, fixed, kind)) => {
            let remediation = match choose_fixed(&version, &fixed) {
                Some(fixed_version) => Remediation::Package {
                    name: name.clone(),
                    fixed_version,
                },
                None => solution(run, &rule_id, help.as_deref(), rule),
            };
            (
                remediation,
                Some(Package {
                    name,
                    version,
                    ecosystem: kind,
                    purl: None,
                    locations: path.clone().into_iter().collect(),
                    fixed_versions: fixed,
                }),
            )
        }
        None => (solution(run, &rule_id, help.as_deref(), rule), None),
    };
    SarifItem::Finding(Box::new(SarifFinding {
        run: run.index,
        location,
        dropped_vectors: bad_vectors,
        pending: Pending {
            key: vec![rule_id.clone(), path.unwrap_or_default(), content],
            check: Check {
                scanner: run.tool.clone(),
                id: rule_id,
                name: capped(normalized_text(&title)),
                family: None,
            },
            severity,
            cves,
            cwes,
            cvss,
            remediation,
            package: pkg,
            fix_state: None,
            port: 0,
            protocol: String::new(),
            service: None,
            observed_at: None,
        },
    }))
}

fn solution(run: &Run, rule_id: &str, help: Option<&str>, rule: Option<&Rule>) -> Remediation {
    let text = help
        .filter(|h| !h.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| {
            rule.and_then(|x| x.full_description.as_ref())
                .and_then(|d| d.text.clone())
                .filter(|t| !t.trim().is_empty())
        })
        .unwrap_or_else(|| "n/a".to_owned());
    Remediation::Solution {
        scanner: run.tool.clone(),
        check_id: rule_id.to_owned(),
        text: capped(text),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    TopObject,
    Runs,
    Run,
    Results,
    Done,
}

/// Streams the results of a SARIF log (see the module docs), normalized.
pub struct SarifResults<R> {
    cur: JsonCursor<R>,
    state: State,
    saw_runs: bool,
    run: Run,
    runs: u64,
    queue: VecDeque<SarifItem>,
    doc: Document,
}

impl<R: BufRead> SarifResults<R> {
    /// A reader at the start of `input`.
    pub fn new(input: R) -> SarifResults<R> {
        SarifResults {
            cur: JsonCursor::new(input),
            state: State::Start,
            saw_runs: false,
            run: Run::default(),
            runs: 0,
            queue: VecDeque::new(),
            doc: Document::default(),
        }
    }

    /// What the log says beyond its results (complete after the last one).
    pub fn document(&self) -> &Document {
        &self.doc
    }

    fn context(&self, e: JsonError, what: &str) -> JsonError {
        JsonError {
            offset: e.offset,
            message: format!("runs[{}].{what}: {}", self.run.index, e.message),
        }
    }

    fn end_run(&mut self) {
        let mut run = std::mem::take(&mut self.run);
        for r in std::mem::take(&mut run.waiting) {
            let item = normalize(r, &run);
            self.queue.push_back(item);
        }
        if run.has_results {
            self.doc.runs_with_results += 1;
        } else {
            self.queue.push_back(SarifItem::Skipped(SKIP_NO_RESULTS));
        }
        if self.doc.tool.is_none() && run.tool_seen {
            self.doc.tool = Some(run.tool.clone());
        }
        if self.doc.asset.is_none() {
            self.doc.asset = run.asset();
        }
    }

    fn read_run_key(&mut self, key: &str) -> Result<(), JsonError> {
        match key {
            "tool" => {
                let tool: Option<Tool> = self.cur.read().map_err(|e| self.context(e, "tool"))?;
                self.run.set_tool(tool.unwrap_or_default());
            }
            "results" => {
                if !self.cur.null()? {
                    self.cur.begin_array()?;
                    self.run.has_results = true;
                    self.state = State::Results;
                }
            }
            "originalUriBaseIds" => {
                let bases: Option<BTreeMap<String, BaseUri>> = self
                    .cur
                    .read()
                    .map_err(|e| self.context(e, "originalUriBaseIds"))?;
                self.run.bases = bases.unwrap_or_default();
            }
            "versionControlProvenance" => {
                let list: Option<Vec<Provenance>> = self
                    .cur
                    .read()
                    .map_err(|e| self.context(e, "versionControlProvenance"))?;
                self.run.repository = list
                    .into_iter()
                    .flatten()
                    .find_map(|p| p.repository_uri.filter(|u| !u.trim().is_empty()));
            }
            "invocations" => {
                let list: Option<Vec<Invocation>> = self
                    .cur
                    .read()
                    .map_err(|e| self.context(e, "invocations"))?;
                for inv in list.into_iter().flatten() {
                    let start = software::instant(inv.start_time_utc.as_deref().unwrap_or(""))
                        .map_err(|e| {
                            self.cur
                                .error(format!("runs[{}].invocations: {e}", self.run.index))
                        })?;
                    let end = software::instant(inv.end_time_utc.as_deref().unwrap_or(""))
                        .map_err(|e| {
                            self.cur
                                .error(format!("runs[{}].invocations: {e}", self.run.index))
                        })?;
                    if let Some(s) = start {
                        self.doc.started_at = Some(self.doc.started_at.map_or(s, |t| t.min(s)));
                    }
                    if let Some(f) = end {
                        self.doc.finished_at = Some(self.doc.finished_at.map_or(f, |t| t.max(f)));
                    }
                }
            }
            "properties" => {
                let p: Option<RunProperties> =
                    self.cur.read().map_err(|e| self.context(e, "properties"))?;
                self.run.image_name = p
                    .and_then(|p| p.image_name)
                    .and_then(|n| n.text())
                    .filter(|n| !n.trim().is_empty());
            }
            "artifacts" => {
                // One entry at a time: a run can list thousands of artifacts
                // with their contents; only their locations are kept.
                self.run.artifacts.clear();
                if !self.cur.null()? {
                    self.cur.begin_array()?;
                    while self.cur.next_element()? {
                        let entry: Option<ArtifactEntry> =
                            self.cur.read().map_err(|e| self.context(e, "artifacts"))?;
                        self.run.artifacts.push(entry.and_then(|a| a.location));
                    }
                }
            }
            _ => self.cur.skip()?,
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<SarifItem>, JsonError> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    if self.cur.is_empty()? {
                        return Err(self.cur.error("empty report: no JSON value"));
                    }
                    if self.cur.kind()? != Kind::Object {
                        return Err(self
                            .cur
                            .error("not a SARIF log: expected an object with runs"));
                    }
                    self.cur.begin_object()?;
                    self.state = State::TopObject;
                }
                State::TopObject => {
                    let Some(key) = self.cur.next_key()? else {
                        self.cur.finish()?;
                        self.state = State::Done;
                        if !self.saw_runs {
                            return Err(self.cur.error("not a SARIF log: no runs"));
                        }
                        continue;
                    };
                    match key.as_str() {
                        "version" => {
                            let v: Option<String> = self.cur.read()?;
                            if let Some(v) = v
                                && v.trim() != "2.1.0"
                            {
                                return Err(self.cur.error(format!(
                                    "unsupported SARIF version {v:?} (2.1.0 is supported)"
                                )));
                            }
                        }
                        "runs" => {
                            self.saw_runs = true;
                            if !self.cur.null()? {
                                self.cur.begin_array()?;
                                self.state = State::Runs;
                            }
                        }
                        _ => self.cur.skip()?,
                    }
                }
                State::Runs => {
                    if !self.cur.next_element()? {
                        self.state = State::TopObject;
                        continue;
                    }
                    if self.cur.null()? {
                        continue;
                    }
                    self.cur.begin_object()?;
                    self.run = Run {
                        index: self.runs,
                        tool: SCANNER.to_owned(),
                        ..Run::default()
                    };
                    self.runs += 1;
                    self.state = State::Run;
                }
                State::Run => match self.cur.next_key()? {
                    Some(key) => self.read_run_key(&key)?,
                    None => {
                        self.end_run();
                        self.state = State::Runs;
                    }
                },
                State::Results => {
                    if !self.cur.next_element()? {
                        self.state = State::Run;
                        continue;
                    }
                    let j = self.run.result_index;
                    self.run.result_index += 1;
                    let raw: RawResult = self
                        .cur
                        .read()
                        .map_err(|e| self.context(e, &format!("results[{j}]")))?;
                    self.run.note_base(&raw);
                    if self.run.tool_seen {
                        return Ok(Some(normalize(raw, &self.run)));
                    }
                    self.run.waiting.push(raw);
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for SarifResults<R> {
    type Item = Result<SarifItem, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.state = State::Done;
                self.queue.clear();
                Some(Err(e))
            }
        }
    }
}

impl<R: BufRead> std::iter::FusedIterator for SarifResults<R> {}

/// Streams the one host of a SARIF log (none for a log without a scanned
/// run).
pub struct SarifReader<R> {
    results: SarifResults<R>,
    fallback_time: DateTime<Utc>,
    builder: Option<HostBuilder>,
    stats: Stats,
}

impl<R: BufRead> SarifReader<R> {
    /// A reader yielding the host with its findings; `fallback_time` (UTC)
    /// is the observation time when the log states none.
    pub fn new(input: R, fallback_time: DateTime<Utc>) -> SarifReader<R> {
        SarifReader::with_mode(input, fallback_time, true)
    }

    /// A reader for the whole-report check: the host comes without findings
    /// and nothing accumulates; [`SarifReader::stats`] counts.
    pub fn counting(input: R) -> SarifReader<R> {
        SarifReader::with_mode(input, DateTime::<Utc>::UNIX_EPOCH, false)
    }

    fn with_mode(input: R, fallback_time: DateTime<Utc>, keep: bool) -> SarifReader<R> {
        SarifReader {
            results: SarifResults::new(input),
            fallback_time,
            builder: Some(HostBuilder::new(SCANNER, keep, false)),
            stats: Stats::default(),
        }
    }

    /// Counts so far (complete once the iterator is exhausted).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn host(&mut self) -> Result<Option<NormalizedHost>, JsonError> {
        let Some(mut builder) = self.builder.take() else {
            return Ok(None);
        };
        for item in self.results.by_ref() {
            match item? {
                SarifItem::Finding(f) => {
                    self.stats.skip_n(SKIP_BAD_VECTOR, f.dropped_vectors);
                    builder.add(f.pending, &mut self.stats);
                }
                SarifItem::Skipped(reason) => self.stats.skip(reason),
            }
        }
        let doc = self.results.document();
        self.stats.window(doc.started_at, doc.finished_at);
        if doc.runs_with_results == 0 {
            return Ok(None);
        }
        let asset = doc
            .asset
            .clone()
            .unwrap_or_else(|| software::unnamed_asset(doc.tool.as_deref().unwrap_or(SCANNER)));
        let observed_at = doc
            .started_at
            .or(doc.finished_at)
            .unwrap_or(self.fallback_time);
        self.stats.hosts += 1;
        Ok(Some(builder.finish(
            asset,
            observed_at,
            doc.started_at,
            doc.finished_at,
        )))
    }
}

impl<R: BufRead> Iterator for SarifReader<R> {
    type Item = Result<NormalizedHost, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.host().transpose()
    }
}

impl<R: BufRead> std::iter::FusedIterator for SarifReader<R> {}

/// Reads the whole log once, keeping nothing, and counts.
///
/// # Errors
/// The first [`JsonError`] (malformed JSON, a field of the wrong type, a
/// SARIF version other than 2.1.0, no `runs`), with its byte offset.
pub fn check<R: BufRead>(input: R) -> Result<Stats, JsonError> {
    let mut reader = SarifReader::counting(input);
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

    fn items(text: &str) -> Vec<SarifItem> {
        SarifResults::new(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn finding(item: &SarifItem) -> &SarifFinding {
        match item {
            SarifItem::Finding(f) => f,
            SarifItem::Skipped(r) => panic!("skipped: {r}"),
        }
    }

    #[test]
    fn artifact_uris_become_paths() {
        let table = [
            ("file:////src/.venv/x.js", "/src/.venv/x.js"),
            ("file:///build/repo-a/", "/build/repo-a/"),
            ("file:///C:/code/file1.c", "C:/code/file1.c"),
            ("file://localhost/etc/passwd", "/etc/passwd"),
            (
                "file://build.example.com/work/",
                "//build.example.com/work/",
            ),
            ("./src/app%20one/db.py", "src/app one/db.py"),
            ("src/main/App.java", "src/main/App.java"),
            ("https://example.org/a.js", "https://example.org/a.js"),
            ("bad%zzescape", "bad%zzescape"),
        ];
        for (uri, want) in table {
            assert_eq!(artifact_path(uri), want, "{uri}");
        }
    }

    #[test]
    fn repository_uris_become_asset_ids() {
        let table = [
            (
                "https://github.com/example-corp/browser",
                Some("github.com/example-corp/browser"),
            ),
            (
                "https://user@GitHub.com/org/repo.git/",
                Some("github.com/org/repo"),
            ),
            ("git@github.com:org/repo.git", Some("github.com/org/repo")),
            ("", None),
        ];
        for (uri, want) in table {
            assert_eq!(repository_id(uri).as_deref(), want, "{uri}");
        }
    }

    const RULES: &str = r#""tool": {"driver": {"name": "Scan", "rules": [
        {"id": "R1", "shortDescription": {"text": "Rule one"}, "defaultConfiguration": {"level": "note"},
         "properties": {"tags": ["security", "external/cwe/cwe-079"]}},
        {"id": "R2", "properties": {"security-severity": 9.1}},
        {"id": "R3"}
    ]}}"#;

    fn log(results: &str) -> String {
        format!(r#"{{"version": "2.1.0", "runs": [{{{RULES}, "results": [{results}]}}]}}"#)
    }

    #[test]
    fn severity_falls_back_from_level_to_rule_to_scores() {
        let got = items(&log(
            r#"{"ruleId": "R1", "level": "error", "message": {"text": "a"}},
               {"ruleId": "R1", "message": {"text": "b"}},
               {"ruleId": "R2", "message": {"text": "c"}},
               {"ruleIndex": 2, "message": {"text": "d"}, "properties": {"security-severity": "4.0"}},
               {"ruleId": "R3", "message": {"text": "e"}, "properties": {"severity": "critical"}},
               {"ruleId": "R3", "message": {"text": "f"}}"#,
        ));
        let sev: Vec<Severity> = got.iter().map(|i| finding(i).pending.severity).collect();
        assert_eq!(
            sev,
            [
                Severity::High,
                Severity::Low,
                Severity::Critical,
                Severity::Medium,
                Severity::Critical,
                Severity::Medium
            ]
        );
        let first = &finding(&got[0]).pending;
        assert_eq!(first.cwes, [79]);
        assert_eq!(first.check.name, "Rule one");
        assert_eq!(first.check.scanner, "scan");
        assert_eq!(finding(&got[3]).pending.check.id, "R3");
    }

    #[test]
    fn not_findings_are_skipped_with_their_reason() {
        let got = items(&log(
            r#"{"ruleId": "R1", "message": {"text": "a"}, "suppressions": [{"kind": "inSource"}]},
               {"ruleId": "R1", "message": {"text": "b"}, "suppressions": [{"kind": "external", "status": "underReview"}]},
               {"ruleId": "R1", "message": {"text": "c"}, "suppressions": [{"kind": "external", "status": "rejected"}, {"kind": "inSource"}]},
               {"ruleId": "R1", "message": {"text": "d"}, "suppressions": []},
               {"ruleId": "R1", "message": {"text": "e"}, "kind": "pass"},
               {"ruleId": "R1", "message": {"text": "f"}, "level": "none"},
               {"ruleId": "R1", "message": {"text": "g"}, "baselineState": "absent"},
               {"message": {"text": "h"}}"#,
        ));
        let outcome: Vec<Option<&str>> = got
            .iter()
            .map(|i| match i {
                SarifItem::Skipped(r) => Some(*r),
                SarifItem::Finding(_) => None,
            })
            .collect();
        assert_eq!(
            outcome,
            [
                Some(SKIP_SUPPRESSED),
                None,
                None,
                None,
                Some(SKIP_NOT_A_FAILURE),
                Some(SKIP_LEVEL_NONE),
                Some(SKIP_ABSENT),
                Some(SKIP_NO_RULE)
            ]
        );
    }

    #[test]
    fn identity_prefers_the_tools_fingerprints_and_never_the_line() {
        let at = |line: u32, extra: &str| {
            format!(
                r#"{{"ruleId": "R1", "message": {{"text": "m"}}, {extra}
                    "locations": [{{"physicalLocation": {{"artifactLocation": {{"uri": "a.py"}}, "region": {{"startLine": {line}}}}}}}]}}"#
            )
        };
        let key = |text: String| finding(&items(&log(&text))[0]).pending.key.clone();
        assert_eq!(
            key(at(3, r#""fingerprints": {"b": {"value": "2"}, "a": "1"},"#)),
            ["R1", "a.py", "fp/a=1,b=2"]
        );
        assert_eq!(
            key(at(
                3,
                r#""partialFingerprints": {"primaryLocationLineHash": "ab:1"},"#
            )),
            ["R1", "a.py", "pfp/primaryLocationLineHash=ab:1"]
        );
        assert_eq!(key(at(3, "")), key(at(300, "")));
        assert!(key(at(3, ""))[2].starts_with("message/"));
    }

    #[test]
    fn results_before_their_tool_wait_for_the_run() {
        let doc = r#"{"runs": [{"results": [{"ruleIndex": 0, "message": {"text": "x"},
            "locations": [{"physicalLocation": {"artifactLocation": {"index": 0}}}]}],
            "artifacts": [{"location": {"uri": "file:///repo/x.c"}}],
            "tool": {"driver": {"name": "Late", "rules": [{"id": "L1", "defaultConfiguration": {"level": "error"}}]}},
            "versionControlProvenance": [{"repositoryUri": "https://git.example/team/repo"}]}]}"#;
        let got = items(doc);
        let f = finding(&got[0]);
        assert_eq!(f.pending.check.id, "L1");
        assert_eq!(f.pending.severity, Severity::High);
        assert_eq!(
            f.location.as_ref().map(|l| l.path.as_str()),
            Some("/repo/x.c")
        );
        let host = SarifReader::new(doc.as_bytes(), t())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(host.asset.asset_id, "git.example/team/repo");
        assert_eq!(host.findings.len(), 1);
    }

    #[test]
    fn runs_without_results_cover_nothing() {
        let doc = r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}}]}"#;
        let stats = check(doc.as_bytes()).unwrap();
        assert_eq!(stats.hosts, 0);
        assert_eq!(stats.skipped, [(SKIP_NO_RESULTS.to_owned(), 1)]);
        let base = r#"{"runs": [{"tool": {"driver": {"name": "x"}}, "results": [],
            "originalUriBaseIds": {"ROOT": {"uri": "file:///w/"}, "SRCROOT": {"uri": "src/", "uriBaseId": "ROOT"}}}]}"#;
        let host = SarifReader::new(base.as_bytes(), t())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(host.asset.asset_id, "/w/src");
    }

    #[test]
    fn broken_logs_are_rejected_with_a_reason() {
        let table = [
            (
                r#"{"version": "2.0.0", "runs": []}"#,
                "unsupported SARIF version \"2.0.0\"",
            ),
            (r#"{"version": "2.1.0"}"#, "no runs"),
            (r#"[]"#, "not a SARIF log"),
            (
                r#"{"runs": [{"results": [{"ruleId": 5}]}]}"#,
                "runs[0].results[0]: invalid type",
            ),
            (
                r#"{"runs": [{"invocations": [{"startTimeUtc": "x"}]}]}"#,
                "runs[0].invocations",
            ),
        ];
        for (doc, want) in table {
            let e = check(doc.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{doc}: {e}");
        }
    }
}
