//! Anchore Grype JSON reports (`grype -o json`), streamed match by match.
//!
//! A report is one object: `matches[]` (each a `vulnerability`, its
//! `relatedVulnerabilities[]`, `matchDetails` — a list, an object in Grype
//! 0.7, not used — and the `artifact`, i.e. the package), plus `source`, `distro` and `descriptor`, which some producers
//! leave out. [`GrypeMatches`] yields the typed matches one at a time, so
//! memory is bounded by one match ([`crate::jsonpull`]); [`GrypeReader`]
//! folds them into the report's one host.
//!
//! # Rules
//!
//! - **Asset** ([`crate::software`]): `source.target` when it is a string (a
//!   directory or file scan), else `source.target.userInput` (the image
//!   reference as given, `python:3.6`); else `grype:unnamed`. `os` is
//!   `distro` (`debian 10`).
//! - **Time**: `descriptor.timestamp` (UTC) is the observation time and the
//!   scan end; without it, the caller's fallback.
//! - **Severity**: `Critical`…`Low` as such; `Negligible` (a distribution's
//!   "unimportant") is low: the package is vulnerable, so it stays a finding
//!   (DefectDojo's Info is a class patchflow keeps for non-findings);
//!   `Unknown` takes the rating of the score printed beside the newest
//!   vector, else low. The label is kept even when its own vector disagrees
//!   (case OC-05: `Medium` beside an 8.8 vector): prioritize scores the
//!   vector, and the vector wins.
//! - **Ids**: the match's id; CVE ids from it and from every related
//!   vulnerability (a `GHSA-…` match carries its CVE there).
//! - **CVSS**: `cvss[]` of the vulnerability, then of each related entry
//!   (which may be the only one that has any), then the 0.7-era
//!   `cvssV3`/`cvssV2` objects; the source is the entry's `source`, else its
//!   `namespace`.
//! - **Fix**: `fix.versions` (0.7-era `fixedInVersion`), `fix.state`
//!   `fixed`, `not-fixed`, `wont-fix`, `unknown` as [`FixState`]; an empty
//!   or absent state is `None`, another string `Unknown`.
//! - **Package**: `artifact` name, version, type (ecosystem: the purl type
//!   first), purl and every `locations[].path`.
//! - **Identity**: `grype:v1:<asset_id>:<vulnerability id>:<artifact
//!   name>@<artifact version>`. The same (id, package, version)
//!   matched several times (several locations, or the `python` and
//!   `python2` matchers) is one finding with the union of the locations.
//! - **EPSS**: a match's EPSS reading ([`Match::epss`]) is parsed and
//!   checked but not part of the finding: prioritize takes EPSS from the
//!   FIRST feed.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use events::{Check, FixState, Package, Remediation, Severity};
use serde::Deserialize;

use crate::jsonpull::{JsonCursor, JsonError, Kind};
use crate::normalize::{NormalizedHost, VectorField};
use crate::software::{
    self, HostBuilder, Pending, Stats, artifact_asset, choose_fixed, cvss_vector, order_vectors,
    push_cve, push_vector, severity_from_reported,
};
use crate::trivy::purl_type;

/// The scanner family name in checks, remediations and fingerprints.
pub const SCANNER: &str = "grype";

/// Skip reason: a match without a vulnerability id.
pub const SKIP_NO_ID: &str = "match without vulnerability id";
/// Skip reason: a match without an artifact name.
pub const SKIP_NO_PACKAGE: &str = "match without artifact name";
/// Skip reason: a vector that is not a CVSS vector (the finding is kept).
pub const SKIP_BAD_VECTOR: &str = "CVSS vector that does not parse (vector dropped, finding kept)";

/// One element of `matches[]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Match {
    /// The matched vulnerability.
    pub vulnerability: Vulnerability,
    /// Aliases (for a `GHSA-…` match, its CVE), with their own CVSS and EPSS.
    #[serde(rename = "relatedVulnerabilities", default)]
    pub related_vulnerabilities: Option<Vec<Vulnerability>>,
    /// The vulnerable package.
    pub artifact: Artifact,
}

impl Match {
    /// The EPSS reading Grype attached: the vulnerability's first entry,
    /// else the first entry of the first related vulnerability that has
    /// one.
    pub fn epss(&self) -> Option<&Epss> {
        self.vulnerability.epss.iter().flatten().next().or_else(|| {
            self.related_vulnerabilities
                .iter()
                .flatten()
                .find_map(|r| r.epss.iter().flatten().next())
        })
    }
}

/// A vulnerability record (the match's own, or a related one).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Vulnerability {
    /// `CVE-…`, `GHSA-…`, …
    pub id: Option<String>,
    /// Where the record comes from (`debian:10`, `nvd`, `github:language:python`).
    pub namespace: Option<String>,
    /// `Critical`, `High`, `Medium`, `Low`, `Negligible`, `Unknown`.
    pub severity: Option<String>,
    /// CVSS entries.
    pub cvss: Option<Vec<Cvss>>,
    /// Grype 0.7-era CVSS v2.
    #[serde(rename = "cvssV2")]
    pub cvss_v2: Option<LegacyCvss>,
    /// Grype 0.7-era CVSS v3.
    #[serde(rename = "cvssV3")]
    pub cvss_v3: Option<LegacyCvss>,
    /// EPSS readings (Grype ≥ 0.88).
    pub epss: Option<Vec<Epss>>,
    /// What fixes it.
    pub fix: Option<Fix>,
    /// Grype 0.7-era fixed version.
    #[serde(rename = "fixedInVersion")]
    pub fixed_in_version: Option<String>,
}

/// One CVSS entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Cvss {
    /// `2.0`, `3.0`, `3.1`, `4.0`.
    pub version: Option<String>,
    /// The vector (a v3 one may lack its prefix).
    pub vector: Option<String>,
    /// Scores.
    pub metrics: Option<CvssMetrics>,
    /// Who scored it (`nvd@nist.gov`, `github`).
    pub source: Option<String>,
}

/// The scores of a CVSS entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CvssMetrics {
    /// Base score, 0.0–10.0.
    #[serde(rename = "baseScore")]
    pub base_score: Option<f64>,
}

/// A Grype 0.7-era CVSS object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LegacyCvss {
    /// Base score, 0.0–10.0.
    #[serde(rename = "baseScore")]
    pub base_score: Option<f64>,
    /// The vector.
    pub vector: Option<String>,
}

/// An EPSS reading (FIRST EPSS, as Grype's database had it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Epss {
    /// The CVE scored.
    pub cve: Option<String>,
    /// Probability of exploitation in the next 30 days, 0.0–1.0.
    pub epss: f64,
    /// Percentile among all scored CVEs, 0.0–1.0.
    pub percentile: Option<f64>,
    /// Score date (`2025-06-18`).
    pub date: Option<String>,
}

/// A fix statement.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Fix {
    /// Fixed versions.
    pub versions: Option<Vec<String>>,
    /// `fixed`, `not-fixed`, `wont-fix`, `unknown` or empty.
    pub state: Option<String>,
}

/// The vulnerable package.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Artifact {
    /// Package name.
    pub name: Option<String>,
    /// Installed version.
    pub version: Option<String>,
    /// Package type (`deb`, `python`, `java-archive`, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Where it was found.
    pub locations: Option<Vec<ArtifactLocation>>,
    /// Package URL.
    pub purl: Option<String>,
}

/// A place a package was found.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ArtifactLocation {
    /// Path in the image or directory.
    pub path: Option<String>,
}

/// The report's description of what was scanned, read after the matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// `source.type` (`image`, `directory`, `file`, `sbom`).
    pub source_type: Option<String>,
    /// The scanned artifact's name (see the module rules).
    pub target: Option<String>,
    /// `distro.name` and `distro.version`, space-separated.
    pub distro: Option<String>,
    /// `descriptor.name` and `descriptor.version` (`grype 0.94.0`).
    pub tool: Option<String>,
    /// `descriptor.timestamp` (UTC).
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Distro {
    name: Option<String>,
    version: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    name: Option<String>,
    version: Option<String>,
    timestamp: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    TopObject,
    Matches,
    Done,
}

/// Streams the typed matches of a Grype report; [`GrypeMatches::document`]
/// is complete once the iterator is exhausted.
pub struct GrypeMatches<R> {
    cur: JsonCursor<R>,
    state: State,
    index: u64,
    saw_matches: bool,
    doc: Document,
}

impl<R: BufRead> GrypeMatches<R> {
    /// A reader at the start of `input`.
    pub fn new(input: R) -> GrypeMatches<R> {
        GrypeMatches {
            cur: JsonCursor::new(input),
            state: State::Start,
            index: 0,
            saw_matches: false,
            doc: Document::default(),
        }
    }

    /// What the report says about its scan (complete after the last match).
    pub fn document(&self) -> &Document {
        &self.doc
    }

    fn read_source(&mut self) -> Result<(), JsonError> {
        let cur = &mut self.cur;
        if cur.null()? {
            return Ok(());
        }
        cur.begin_object()?;
        while let Some(key) = cur.next_key()? {
            match key.as_str() {
                "type" => self.doc.source_type = cur.read()?,
                "target" => match cur.kind()? {
                    Kind::String => self.doc.target = cur.read()?,
                    Kind::Object => {
                        cur.begin_object()?;
                        let (mut user_input, mut name) = (None, None);
                        while let Some(k) = cur.next_key()? {
                            match k.as_str() {
                                "userInput" => user_input = cur.read::<Option<String>>()?,
                                "name" | "path" => {
                                    let v: Option<String> = cur.read()?;
                                    name = name.or(v);
                                }
                                _ => cur.skip()?,
                            }
                        }
                        self.doc.target = user_input.filter(|s| !s.trim().is_empty()).or(name);
                    }
                    _ => cur.skip()?,
                },
                _ => cur.skip()?,
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Match>, JsonError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    if self.cur.is_empty()? {
                        return Err(self.cur.error("empty report: no JSON value"));
                    }
                    if self.cur.kind()? != Kind::Object {
                        return Err(self
                            .cur
                            .error("not a Grype report: expected an object with matches"));
                    }
                    self.cur.begin_object()?;
                    self.state = State::TopObject;
                }
                State::Matches => {
                    if self.cur.next_element()? {
                        let i = self.index;
                        self.index += 1;
                        let m = self.cur.read::<Match>().map_err(|e| JsonError {
                            offset: e.offset,
                            message: format!("matches[{i}]: {}", e.message),
                        })?;
                        return Ok(Some(m));
                    }
                    self.state = State::TopObject;
                }
                State::TopObject => {
                    let Some(key) = self.cur.next_key()? else {
                        self.cur.finish()?;
                        self.state = State::Done;
                        if !self.saw_matches {
                            return Err(self.cur.error("not a Grype report: no matches"));
                        }
                        return Ok(None);
                    };
                    match key.as_str() {
                        "matches" => {
                            self.saw_matches = true;
                            if !self.cur.null()? {
                                self.cur.begin_array()?;
                                self.state = State::Matches;
                            }
                        }
                        "source" => self.read_source()?,
                        "distro" => {
                            let d: Option<Distro> = self.cur.read()?;
                            self.doc.distro = d.and_then(|d| {
                                let name = d.name.unwrap_or_default();
                                let text = format!(
                                    "{} {}",
                                    name.trim(),
                                    d.version.unwrap_or_default().trim()
                                );
                                let text = text.trim().to_owned();
                                (!name.trim().is_empty()).then_some(text)
                            });
                        }
                        "descriptor" => {
                            let d: Option<Descriptor> = self.cur.read()?;
                            if let Some(d) = d {
                                self.doc.tool = d.name.map(|n| {
                                    format!("{n} {}", d.version.unwrap_or_default())
                                        .trim()
                                        .to_owned()
                                });
                                self.doc.timestamp =
                                    software::instant(d.timestamp.as_deref().unwrap_or(""))
                                        .map_err(|e| {
                                            self.cur.error(format!("descriptor.timestamp: {e}"))
                                        })?;
                            }
                        }
                        _ => self.cur.skip()?,
                    }
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for GrypeMatches<R> {
    type Item = Result<Match, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(m) => m.map(Ok),
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

impl<R: BufRead> std::iter::FusedIterator for GrypeMatches<R> {}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn label(severity: &str) -> Option<Severity> {
    match severity.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(Severity::Critical),
        "high" => Some(Severity::High),
        "medium" => Some(Severity::Medium),
        "low" | "negligible" => Some(Severity::Low),
        _ => None,
    }
}

fn fix_state(state: &str) -> Option<FixState> {
    Some(
        match state.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "" => return None,
            "fixed" => FixState::Fixed,
            "not-fixed" => FixState::NotFixed,
            "wont-fix" => FixState::WontFix,
            _ => FixState::Unknown,
        },
    )
}

fn field_of(version: Option<&str>) -> VectorField {
    match version.map(str::trim) {
        Some(v) if v.starts_with('2') => VectorField::V2,
        Some(v) if v.starts_with('4') => VectorField::V4,
        _ => VectorField::V3,
    }
}

/// Normalizes one match; `None` (counted in `stats`) when it is skipped.
fn pending(m: Match, stats: &mut Stats) -> Option<Pending> {
    let Some(id) = nonempty(m.vulnerability.id.as_deref()) else {
        stats.skip(SKIP_NO_ID);
        return None;
    };
    let Some(name) = nonempty(m.artifact.name.as_deref()) else {
        stats.skip(SKIP_NO_PACKAGE);
        return None;
    };
    let version = m
        .artifact
        .version
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let kind = nonempty(m.artifact.kind.as_deref());
    let related = m.related_vulnerabilities.unwrap_or_default();

    let mut cves = Vec::new();
    push_cve(&mut cves, &id);
    for r in &related {
        if let Some(rid) = r.id.as_deref() {
            push_cve(&mut cves, rid);
        }
    }

    let mut cvss = Vec::new();
    for v in std::iter::once(&m.vulnerability).chain(&related) {
        let default_source = v.namespace.as_deref().unwrap_or(SCANNER);
        let entries = v.cvss.iter().flatten().map(|c| {
            (
                field_of(c.version.as_deref()),
                c.version.as_deref(),
                c.vector.as_deref(),
                c.metrics.as_ref().and_then(|x| x.base_score),
                c.source.as_deref().unwrap_or(default_source),
            )
        });
        let legacy = [(VectorField::V3, &v.cvss_v3), (VectorField::V2, &v.cvss_v2)]
            .into_iter()
            .filter_map(|(field, c)| {
                c.as_ref().map(|c| {
                    (
                        field,
                        None,
                        c.vector.as_deref(),
                        c.base_score,
                        default_source,
                    )
                })
            });
        for (field, version, raw, score, source) in entries.chain(legacy) {
            let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
                continue;
            };
            match cvss_vector(field, version, raw, score, source) {
                Ok(vector) => push_vector(&mut cvss, vector),
                Err(_) => stats.skip(SKIP_BAD_VECTOR),
            }
        }
    }
    order_vectors(&mut cvss);

    let severity = m
        .vulnerability
        .severity
        .as_deref()
        .and_then(label)
        .or_else(|| severity_from_reported(&cvss))
        .unwrap_or(Severity::Low)
        .max(Severity::Low);

    let fix = m.vulnerability.fix.as_ref();
    let mut fixed_versions: Vec<String> = fix
        .and_then(|f| f.versions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if let Some(old) = nonempty(m.vulnerability.fixed_in_version.as_deref())
        && !fixed_versions.contains(&old)
    {
        fixed_versions.push(old);
    }
    let state_text = fix
        .and_then(|f| f.state.as_deref())
        .map(str::trim)
        .unwrap_or_default();
    let fix_state = fix_state(state_text);
    let remediation = match choose_fixed(&version, &fixed_versions) {
        Some(fixed_version) => Remediation::Package {
            name: name.clone(),
            fixed_version,
        },
        None => Remediation::Solution {
            scanner: SCANNER.to_owned(),
            check_id: id.clone(),
            text: format!(
                "no fixed version of {name} {version} is known (fix state {})",
                if state_text.is_empty() {
                    "not stated"
                } else {
                    state_text
                }
            ),
        },
    };

    let purl = nonempty(m.artifact.purl.as_deref());
    let ecosystem = purl.as_deref().and_then(purl_type).or_else(|| kind.clone());
    let mut locations: Vec<String> = m
        .artifact
        .locations
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| nonempty(l.path.as_deref()))
        .collect();
    locations.sort();
    locations.dedup();

    Some(Pending {
        key: vec![id.clone(), format!("{name}@{version}")],
        check: Check {
            scanner: SCANNER.to_owned(),
            name: format!("{id} in {name} {version}").trim().to_owned(),
            id,
            family: kind,
        },
        severity,
        cves,
        cwes: Vec::new(),
        cvss,
        remediation,
        package: Some(Package {
            name,
            version,
            ecosystem,
            purl,
            locations,
            fixed_versions,
        }),
        fix_state,
        port: 0,
        protocol: String::new(),
        service: None,
        observed_at: None,
    })
}

/// Streams the one host of a Grype report.
pub struct GrypeReader<R> {
    matches: GrypeMatches<R>,
    fallback_time: DateTime<Utc>,
    builder: Option<HostBuilder>,
    stats: Stats,
}

impl<R: BufRead> GrypeReader<R> {
    /// A reader yielding the host with its findings; `fallback_time` (UTC)
    /// is the observation time when the report states none.
    pub fn new(input: R, fallback_time: DateTime<Utc>) -> GrypeReader<R> {
        GrypeReader::with_mode(input, fallback_time, true)
    }

    /// A reader for the whole-report check: the host comes without findings
    /// and nothing accumulates; [`GrypeReader::stats`] counts.
    pub fn counting(input: R) -> GrypeReader<R> {
        GrypeReader::with_mode(input, DateTime::<Utc>::UNIX_EPOCH, false)
    }

    fn with_mode(input: R, fallback_time: DateTime<Utc>, keep: bool) -> GrypeReader<R> {
        GrypeReader {
            matches: GrypeMatches::new(input),
            fallback_time,
            builder: Some(HostBuilder::new(SCANNER, keep, true)),
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
        for m in self.matches.by_ref() {
            if let Some(p) = pending(m?, &mut self.stats) {
                builder.add(p, &mut self.stats);
            }
        }
        let doc = self.matches.document();
        let mut asset = doc
            .target
            .as_deref()
            .and_then(artifact_asset)
            .unwrap_or_else(|| software::unnamed_asset(SCANNER));
        asset.os.clone_from(&doc.distro);
        let observed_at = doc.timestamp.unwrap_or(self.fallback_time);
        self.stats.hosts += 1;
        self.stats.window(None, doc.timestamp);
        Ok(Some(builder.finish(
            asset,
            observed_at,
            None,
            doc.timestamp,
        )))
    }
}

impl<R: BufRead> Iterator for GrypeReader<R> {
    type Item = Result<NormalizedHost, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.host().transpose()
    }
}

impl<R: BufRead> std::iter::FusedIterator for GrypeReader<R> {}

/// Reads the whole report once, keeping nothing, and counts.
///
/// # Errors
/// The first [`JsonError`] (malformed JSON, a field of the wrong type, no
/// `matches`, …), with its byte offset.
pub fn check<R: BufRead>(input: R) -> Result<Stats, JsonError> {
    let mut reader = GrypeReader::counting(input);
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

    fn m(id: &str, name: &str, path: &str, matcher: &str) -> String {
        format!(
            r#"{{"vulnerability": {{"id": "{id}", "severity": "Negligible", "fix": {{"versions": [], "state": ""}}}},
               "relatedVulnerabilities": [{{"id": "CVE-2000-0007", "cvss": [{{"version": "3.1", "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "metrics": {{"baseScore": 9.8}}}}], "epss": [{{"cve": "CVE-2000-0007", "epss": 0.5, "percentile": 0.9}}]}}],
               "matchDetails": [{{"matcher": "{matcher}"}}],
               "artifact": {{"name": "{name}", "version": "1.0", "type": "python", "locations": [{{"path": "{path}"}}]}}}}"#
        )
    }

    #[test]
    fn repeats_merge_and_related_entries_count() {
        let doc = format!(
            r#"{{"matches": [{}, {}, {}], "source": {{"type": "image", "target": {{"userInput": "app:1", "layers": [{{"digest": "x"}}]}}}}, "distro": {{"name": "debian", "version": "12"}}, "descriptor": {{"name": "grype", "version": "0.95.0", "timestamp": "2025-06-19T11:43:35.523947199Z"}}}}"#,
            m("GHSA-x", "lib", "/b", "python-matcher"),
            m("GHSA-x", "lib", "/a", "python2-matcher"),
            m("GHSA-y", "lib", "/a", "python-matcher"),
        );
        let hosts: Vec<_> = GrypeReader::new(doc.as_bytes(), t())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(hosts.len(), 1);
        let h = &hosts[0];
        assert_eq!(h.asset.asset_id, "app:1");
        assert_eq!(h.asset.os.as_deref(), Some("debian 12"));
        assert_eq!(
            h.observed_at,
            "2025-06-19T11:43:35.523947199Z"
                .parse::<DateTime<Utc>>()
                .unwrap()
        );
        assert_eq!(h.findings.len(), 2);
        let f = &h.findings[0];
        assert_eq!(f.fingerprint, "grype:v1:app%3A1:GHSA-x:lib@1.0");
        assert_eq!(f.package.as_ref().unwrap().locations, ["/a", "/b"]);
        assert_eq!(f.cves, ["CVE-2000-0007"]);
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(f.fix_state, None);
        assert_eq!(
            f.cvss[0].vector,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        );
        let stats = check(doc.as_bytes()).unwrap();
        assert_eq!((stats.hosts, stats.findings), (1, 3));
        let first = GrypeMatches::new(doc.as_bytes()).next().unwrap().unwrap();
        assert_eq!(first.epss().map(|e| e.epss), Some(0.5));
    }

    #[test]
    fn rejections_name_the_match() {
        let table = [
            (r#"{"source": {}}"#, "no matches"),
            (r#"[]"#, "not a Grype report"),
            (
                r#"{"matches": [{"vulnerability": {"id": 5}, "artifact": {}}]}"#,
                "matches[0]: invalid type",
            ),
            (
                r#"{"matches": [{"artifact": {}}]}"#,
                "matches[0]: missing field `vulnerability`",
            ),
            (
                r#"{"matches": [], "descriptor": {"timestamp": "noon"}}"#,
                "descriptor.timestamp",
            ),
        ];
        for (doc, want) in table {
            let err = check(doc.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{doc}: {err}");
        }
        let empty = check(r#"{"matches": null}"#.as_bytes()).unwrap();
        assert_eq!((empty.hosts, empty.findings), (1, 0));
    }
}
