//! OSV records (Open Source Vulnerability schema, <https://ossf.github.io/osv-schema/>)
//! and the osv-scanner JSON output that embeds them.
//!
//! Accepted documents, told apart by content:
//! - one record (an object with `id`);
//! - an array of records;
//! - osv-scanner output: `{"results": [{"source": …, "packages": [{"package":
//!   {name, version, ecosystem}, "vulnerabilities": [records…], "groups":
//!   […]}]}]}`; the embedded records are read, each id once (the copy with the
//!   newest `modified` wins, then the first).
//!
//! Checks (the OSV JSON Schema): `id` and `modified` present, instants RFC
//! 3339, each range's `type` one of `SEMVER`, `ECOSYSTEM`, `GIT` (a GIT range
//! needs its `repo`), each event exactly one of `introduced`, `fixed`,
//! `last_affected`, `limit`, and every range holding an `introduced` event
//! (the osv-linter's "missing 'introduced' object in event"). One bad record
//! refuses the whole document. An empty `affected` (`[]`, the SUSE-FU
//! record) is valid and only warned about; a 0-byte file is refused
//! ([`AdvisoryError::Empty`] states the policy).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use events::{AdvisoryFormat, AdvisoryPublished, AffectedRange, CvssVector};
use serde::Deserialize;

use crate::advisory::{
    AdvisoryError, AffectedSet, cvss_vector, json_text, serde_error, severity_word,
};
use crate::intel::parse_instant;
use crate::version::Scheme;

const FORMAT: &str = "OSV";

/// A validated OSV document: its records and what did not stop the load.
#[derive(Debug, Clone, PartialEq)]
pub struct OsvFile {
    /// The records, in document order, each id once.
    pub records: Vec<OsvRecord>,
    /// Whether it was osv-scanner output (rather than bare records).
    pub scanner_output: bool,
    /// Oddities (an empty `affected`, a record listed twice).
    pub warnings: Vec<String>,
}

/// One OSV record.
#[derive(Debug, Clone, PartialEq)]
pub struct OsvRecord {
    /// `id` (`GHSA-35c4-f3rq-f9g3`, `SUSE-FU-2022:0444-1`).
    pub id: String,
    /// `schema_version`, when given.
    pub schema_version: Option<String>,
    /// `modified` (UTC).
    pub modified: DateTime<Utc>,
    /// `modified` as written (the revision: it keeps the source's precision).
    pub modified_text: String,
    /// `published` (UTC).
    pub published: Option<DateTime<Utc>>,
    /// `withdrawn` (UTC): the record is retracted.
    pub withdrawn: Option<DateTime<Utc>>,
    /// `aliases`.
    pub aliases: Vec<String>,
    /// `upstream` (the CVEs a distribution record derives from).
    pub upstream: Vec<String>,
    /// `related`.
    pub related: Vec<String>,
    /// `summary`.
    pub summary: Option<String>,
    /// `details`.
    pub details: Option<String>,
    /// `severity[]` of the record.
    pub severity: Vec<OsvSeverity>,
    /// `database_specific.severity` (GHSA: `MODERATE`), when a string.
    pub database_severity: Option<String>,
    /// `affected[]`.
    pub affected: Vec<OsvAffected>,
}

/// A `severity[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OsvSeverity {
    /// `type`: `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `score`: the vector (or Ubuntu's priority word).
    pub score: String,
}

/// An `affected[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsvAffected {
    /// `package`, absent for entries that only carry a GIT range.
    pub package: Option<OsvPackage>,
    /// `ranges`.
    pub ranges: Vec<OsvRange>,
    /// `versions` (string-sorted in the sources, not version-sorted).
    pub versions: Vec<String>,
    /// `severity[]` of this package.
    pub severity: Vec<OsvSeverity>,
}

/// An affected package.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OsvPackage {
    /// `ecosystem` (`Debian:12`, `PyPI`); empty strings are read as absent.
    #[serde(default)]
    pub ecosystem: String,
    /// `name` (for Debian, Ubuntu and Alpine: the source package).
    pub name: String,
    /// `purl`.
    pub purl: Option<String>,
}

/// The kind of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeKind {
    /// Semantic versions.
    Semver,
    /// The ecosystem's own versions.
    Ecosystem,
    /// Git commits (not comparable with installed versions).
    Git,
}

/// A `ranges[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsvRange {
    /// `type`.
    pub kind: RangeKind,
    /// `repo` (GIT ranges).
    pub repo: Option<String>,
    /// `events`, in document order.
    pub events: Vec<RangeEvent>,
}

/// One range event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeEvent {
    /// `introduced`: first affected version (`0` = from the start).
    Introduced(String),
    /// `fixed`: first unaffected version after an introduced one.
    Fixed(String),
    /// `last_affected`: last affected version.
    LastAffected(String),
    /// `limit`: an upper bound for the evaluation (GIT).
    Limit(String),
}

#[derive(Deserialize)]
struct RawRecord {
    id: Option<String>,
    schema_version: Option<String>,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    aliases: Option<Vec<String>>,
    upstream: Option<Vec<String>>,
    related: Option<Vec<String>>,
    summary: Option<String>,
    details: Option<String>,
    severity: Option<Vec<OsvSeverity>>,
    affected: Option<Vec<RawAffected>>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: Option<String>,
    repo: Option<String>,
    #[serde(default)]
    events: Vec<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct RawScanner {
    results: Vec<RawResult>,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(default)]
    packages: Vec<RawScannedPackage>,
}

#[derive(Deserialize)]
struct RawScannedPackage {
    #[serde(default)]
    vulnerabilities: Vec<serde_json::Value>,
}

fn invalid(reason: impl Into<String>) -> AdvisoryError {
    AdvisoryError::Invalid {
        format: FORMAT,
        reason: reason.into(),
    }
}

/// Parses and checks an OSV document (see the module docs for the shapes
/// and checks).
///
/// # Errors
/// [`AdvisoryError::Empty`] for a 0-byte file, [`AdvisoryError::NotJson`],
/// [`AdvisoryError::Invalid`] naming the record and field.
pub fn parse_osv(bytes: &[u8]) -> Result<OsvFile, AdvisoryError> {
    let text = json_text(FORMAT, bytes)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| serde_error(FORMAT, &e))?;
    let mut warnings = Vec::new();
    let (raws, scanner_output) = match value {
        serde_json::Value::Array(items) => (items, false),
        serde_json::Value::Object(ref map) if map.contains_key("results") => {
            let scanner: RawScanner = serde_json::from_value(value)
                .map_err(|e| invalid(format!("osv-scanner output: {e}")))?;
            let records = scanner
                .results
                .into_iter()
                .flat_map(|r| r.packages)
                .flat_map(|p| p.vulnerabilities)
                .collect();
            (records, true)
        }
        serde_json::Value::Object(_) => (vec![value], false),
        _ => {
            return Err(invalid(
                "neither a record, an array of records nor osv-scanner output",
            ));
        }
    };

    let mut records: Vec<OsvRecord> = Vec::with_capacity(raws.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut repeats: HashMap<String, usize> = HashMap::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let raw: RawRecord =
            serde_json::from_value(raw).map_err(|e| invalid(format!("record {i}: {e}")))?;
        let record = record(raw, i, &mut warnings)?;
        match at.get(&record.id) {
            Some(&k) => {
                *repeats.entry(record.id.clone()).or_insert(1) += 1;
                if let Some(kept) = records.get_mut(k)
                    && record.modified > kept.modified
                {
                    *kept = record;
                }
            }
            None => {
                at.insert(record.id.clone(), records.len());
                records.push(record);
            }
        }
    }
    let mut repeats: Vec<_> = repeats.into_iter().collect();
    repeats.sort();
    for (id, n) in repeats {
        warnings.push(format!(
            "{id} is listed {n} times; keeping the newest modified"
        ));
    }
    Ok(OsvFile {
        records,
        scanner_output,
        warnings,
    })
}

fn record(
    raw: RawRecord,
    i: usize,
    warnings: &mut Vec<String>,
) -> Result<OsvRecord, AdvisoryError> {
    let id = raw
        .id
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("record {i}: id is missing")))?;
    let instant = |field: &str, value: &str| {
        parse_instant(value).ok_or_else(|| {
            invalid(format!(
                "{id}: {field} {value:?} is not an RFC 3339 instant"
            ))
        })
    };
    let modified_text = raw
        .modified
        .ok_or_else(|| invalid(format!("{id}: modified is missing")))?;
    let modified = instant("modified", &modified_text)?;
    let published = raw
        .published
        .as_deref()
        .map(|p| instant("published", p))
        .transpose()?;
    let withdrawn = raw
        .withdrawn
        .as_deref()
        .map(|w| instant("withdrawn", w))
        .transpose()?;
    let raw_affected = raw.affected.unwrap_or_default();
    if raw_affected.is_empty() {
        warnings.push(format!(
            "{id}: affected is empty: the record names no package"
        ));
    }
    let mut affected = Vec::with_capacity(raw_affected.len());
    for (k, a) in raw_affected.into_iter().enumerate() {
        let mut ranges = Vec::with_capacity(a.ranges.len());
        for (r, range) in a.ranges.into_iter().enumerate() {
            let where_ = format!("{id}: affected[{k}].ranges[{r}]");
            let kind = match range.kind.as_deref() {
                Some("SEMVER") => RangeKind::Semver,
                Some("ECOSYSTEM") => RangeKind::Ecosystem,
                Some("GIT") => RangeKind::Git,
                Some(other) => {
                    return Err(invalid(format!(
                        "{where_}: type {other:?} is not SEMVER, ECOSYSTEM or GIT"
                    )));
                }
                None => return Err(invalid(format!("{where_}: type is missing"))),
            };
            if kind == RangeKind::Git && range.repo.is_none() {
                return Err(invalid(format!("{where_}: a GIT range needs its repo")));
            }
            let mut events = Vec::with_capacity(range.events.len());
            for (e, event) in range.events.into_iter().enumerate() {
                let mut pairs = event.into_iter();
                let (Some((key, value)), None) = (pairs.next(), pairs.next()) else {
                    return Err(invalid(format!(
                        "{where_}.events[{e}]: an event holds exactly one of introduced, fixed, last_affected, limit"
                    )));
                };
                events.push(match key.as_str() {
                    "introduced" => RangeEvent::Introduced(value),
                    "fixed" => RangeEvent::Fixed(value),
                    "last_affected" => RangeEvent::LastAffected(value),
                    "limit" => RangeEvent::Limit(value),
                    other => {
                        return Err(invalid(format!(
                            "{where_}.events[{e}]: unknown event {other:?}"
                        )));
                    }
                });
            }
            if !events
                .iter()
                .any(|e| matches!(e, RangeEvent::Introduced(_)))
            {
                return Err(invalid(format!(
                    "{where_}: missing 'introduced' object in event"
                )));
            }
            ranges.push(OsvRange {
                kind,
                repo: range.repo,
                events,
            });
        }
        affected.push(OsvAffected {
            package: a.package.filter(|p| !p.name.trim().is_empty()),
            ranges,
            versions: a.versions,
            severity: a.severity,
        });
    }
    let database_severity = raw
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .map(str::to_owned);
    Ok(OsvRecord {
        id,
        schema_version: raw.schema_version,
        modified,
        modified_text,
        published,
        withdrawn,
        aliases: raw.aliases.unwrap_or_default(),
        upstream: raw.upstream.unwrap_or_default(),
        related: raw.related.unwrap_or_default(),
        summary: raw.summary,
        details: raw.details,
        severity: raw.severity.unwrap_or_default(),
        database_severity,
        affected,
    })
}

impl OsvAffected {
    /// The ecosystem, an empty string read as absent.
    pub fn ecosystem(&self) -> Option<&str> {
        self.package
            .as_ref()
            .map(|p| p.ecosystem.trim())
            .filter(|e| !e.is_empty())
    }

    /// The version intervals of the `SEMVER` and `ECOSYSTEM` ranges (GIT
    /// ranges name commits, which no installed version can be compared
    /// with), per the OSV evaluation: events sorted by version in the
    /// ecosystem's order (`0` first; the document order is kept when a
    /// version does not parse), then each `introduced` opens an interval
    /// that the next `fixed` or `last_affected` closes; `limit` is ignored.
    /// `versions[]` entries outside every interval are added as single
    /// versions.
    pub fn intervals(&self) -> Vec<AffectedRange> {
        let scheme = Scheme::for_ecosystem(self.ecosystem());
        let mut out = Vec::new();
        for range in self.ranges.iter().filter(|r| r.kind != RangeKind::Git) {
            let scheme = if range.kind == RangeKind::Semver {
                Scheme::Semver
            } else {
                scheme
            };
            let mut events: Vec<&RangeEvent> = range.events.iter().collect();
            let version = |e: &RangeEvent| match e {
                RangeEvent::Introduced(v)
                | RangeEvent::Fixed(v)
                | RangeEvent::LastAffected(v)
                | RangeEvent::Limit(v) => v.clone(),
            };
            let sortable = events.iter().all(|e| {
                let v = version(e);
                v == "0" || scheme.compare(&v, &v).is_ok()
            });
            if sortable {
                events.sort_by(|a, b| {
                    let (a, b) = (version(a), version(b));
                    match (a == "0", b == "0") {
                        (true, true) => Ordering::Equal,
                        (true, false) => Ordering::Less,
                        (false, true) => Ordering::Greater,
                        _ => scheme.compare(&a, &b).unwrap_or(Ordering::Equal),
                    }
                });
            }
            let mut open: Option<String> = None;
            for e in events {
                match e {
                    RangeEvent::Introduced(v) => {
                        if open.is_none() {
                            open = Some(v.clone());
                        }
                    }
                    RangeEvent::Fixed(v) => {
                        if let Some(introduced) = open.take() {
                            out.push(AffectedRange {
                                introduced,
                                fixed: Some(v.clone()),
                                last_affected: None,
                            });
                        }
                    }
                    RangeEvent::LastAffected(v) => {
                        if let Some(introduced) = open.take() {
                            out.push(AffectedRange {
                                introduced,
                                fixed: None,
                                last_affected: Some(v.clone()),
                            });
                        }
                    }
                    RangeEvent::Limit(_) => {}
                }
            }
            if let Some(introduced) = open {
                out.push(AffectedRange {
                    introduced,
                    fixed: None,
                    last_affected: None,
                });
            }
        }
        for v in &self.versions {
            let inside = out
                .iter()
                .any(|r| crate::matching::range_contains(scheme, r, v).unwrap_or(false));
            if !inside {
                out.push(AffectedRange {
                    introduced: v.clone(),
                    fixed: None,
                    last_affected: Some(v.clone()),
                });
            }
        }
        out
    }
}

impl OsvRecord {
    /// The record as `patch.bulletin.advisory`.
    ///
    /// - `revision`: `modified` as written; `title`: `summary`.
    /// - `aliases`: `aliases` then `upstream`, each once, the record's own id
    ///   left out.
    /// - `withdrawn`: the record has a `withdrawn` instant.
    /// - `exploited`: false (OSV has no field for it).
    /// - `severity`: `database_specific.severity` (GHSA's word), else an
    ///   `Ubuntu` severity entry's word; never derived from a vector here.
    /// - `cvss`: the record's and each package's `CVSS_V2/V3/V4` vectors,
    ///   once each, `source` = the record id's prefix (`GHSA`, `PYSEC`).
    /// - `affected`: one entry per package with a name (entries with only a
    ///   GIT range are left out), ranges from [`OsvAffected::intervals`],
    ///   fixed versions from the `fixed` events.
    pub fn to_advisory(&self) -> AdvisoryPublished {
        let mut aliases: Vec<String> = Vec::new();
        for a in self.aliases.iter().chain(&self.upstream) {
            if a != &self.id && !aliases.contains(a) {
                aliases.push(a.clone());
            }
        }
        let ubuntu = self
            .severity
            .iter()
            .filter(|s| s.kind.eq_ignore_ascii_case("ubuntu"))
            .find_map(|s| severity_word(&s.score));
        let severity = self
            .database_severity
            .as_deref()
            .and_then(severity_word)
            .or(ubuntu);
        let source = self.id.split('-').next().unwrap_or(&self.id).to_owned();
        let mut cvss: Vec<CvssVector> = Vec::new();
        let mut seen = BTreeSet::new();
        for s in self
            .severity
            .iter()
            .chain(self.affected.iter().flat_map(|a| &a.severity))
        {
            if s.kind.starts_with("CVSS_")
                && seen.insert(s.score.trim().to_owned())
                && let Some(v) = cvss_vector(&s.score, None, &source)
            {
                cvss.push(v);
            }
        }
        let mut affected = AffectedSet::default();
        for a in &self.affected {
            let Some(pkg) = &a.package else {
                continue;
            };
            let intervals = a.intervals();
            if intervals.is_empty() {
                affected.add(a.ecosystem(), pkg.name.trim(), false, None);
            }
            for r in intervals {
                affected.add(a.ecosystem(), pkg.name.trim(), false, Some(r));
            }
        }
        AdvisoryPublished {
            format: AdvisoryFormat::Osv,
            id: self.id.clone(),
            revision: Some(self.modified_text.clone()),
            title: self.summary.clone(),
            aliases,
            published: self.published,
            modified: Some(self.modified),
            withdrawn: self.withdrawn.is_some(),
            exploited: false,
            severity,
            cvss,
            affected: affected.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use events::{AffectedPackage, CvssVersion, Severity};

    use super::*;

    fn corpus(rel: &str) -> Option<PathBuf> {
        Some(testkit::corpus()?.join(rel))
    }

    fn load(rel: &str) -> Option<Result<OsvFile, AdvisoryError>> {
        let bytes = std::fs::read(corpus(rel)?).unwrap();
        Some(parse_osv(&bytes))
    }

    fn one(rel: &str) -> Option<OsvRecord> {
        let mut file = load(rel)?.unwrap();
        assert_eq!(file.records.len(), 1, "{rel}");
        Some(file.records.remove(0))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn range(introduced: &str, fixed: &str) -> AffectedRange {
        AffectedRange {
            introduced: introduced.to_owned(),
            fixed: Some(fixed.to_owned()),
            last_affected: None,
        }
    }

    #[test]
    fn go_record_on_one_line() {
        let Some(r) = one("osv/osv-schema__GO-2020-0001.json") else {
            return;
        };
        assert_eq!(r.schema_version.as_deref(), Some("1.3.1"));
        assert_eq!(r.aliases, ["CVE-2020-36567", "GHSA-6vm3-jj99-7229"]);
        assert_eq!(r.affected.len(), 1);
        assert_eq!(r.affected[0].ranges[0].kind, RangeKind::Semver);
        let adv = r.to_advisory();
        assert_eq!(adv.id, "GO-2020-0001");
        assert_eq!(adv.revision.as_deref(), Some("2024-05-20T16:03:47Z"));
        assert_eq!(adv.published, Some(utc("2021-04-14T20:04:52Z")));
        assert_eq!(
            adv.affected,
            vec![AffectedPackage {
                ecosystem: Some("Go".to_owned()),
                name: "github.com/gin-gonic/gin".to_owned(),
                fixed_versions: vec!["1.6.0".to_owned()],
                not_affected: false,
                ranges: vec![range("0", "1.6.0")],
            }]
        );
    }

    #[test]
    fn pypi_record_with_git_and_ecosystem_ranges_and_versions() {
        let Some(r) = one("osv/osv-schema__PYSEC-2023-74.json") else {
            return;
        };
        assert_eq!(r.schema_version, None);
        assert_eq!(r.aliases, ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"]);
        assert_eq!(r.modified, utc("2023-06-05T01:13:00.534973Z"));
        assert_eq!(r.modified_text, "2023-06-05T01:13:00.534973Z");
        let a = &r.affected[0];
        assert_eq!(
            a.ranges.iter().map(|r| r.kind).collect::<Vec<_>>(),
            [RangeKind::Git, RangeKind::Ecosystem]
        );
        assert_eq!(a.versions.len(), 66);
        assert_eq!(a.versions.first().map(String::as_str), Some("2.10.0"));
        assert_eq!(a.versions.last().map(String::as_str), Some("2.9.2"));
        // Every listed version lies inside 2.3.0..2.31.0: one interval.
        assert_eq!(a.intervals(), vec![range("2.3.0", "2.31.0")]);
        let adv = r.to_advisory();
        assert_eq!(adv.affected.len(), 1);
        assert_eq!(adv.affected[0].fixed_versions, ["2.31.0"]);
    }

    #[test]
    fn alpine_openssl_and_a_package_less_git_entry() {
        let Some(r) = one("osv/osv-schema__CVE-2018-5407.json") else {
            return;
        };
        assert_eq!(r.affected.len(), 7);
        assert!(r.affected[6].package.is_none());
        let adv = r.to_advisory();
        assert_eq!(adv.affected.len(), 6);
        assert_eq!(
            adv.affected
                .iter()
                .map(|a| a.ecosystem.clone().unwrap())
                .collect::<Vec<_>>(),
            (3..=8)
                .map(|v| format!("Alpine:v3.{v}"))
                .collect::<Vec<_>>()
        );
        assert!(
            adv.affected
                .iter()
                .all(|a| a.name == "openssl" && a.ranges == [range("0", "1.0.2q-r0")])
        );
        assert_eq!(
            adv.cvss,
            vec![CvssVector {
                version: CvssVersion::V3_1,
                vector: "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N".to_owned(),
                reported_score: None,
                source: "CVE".to_owned(),
            }]
        );
    }

    #[test]
    fn empty_affected_is_valid_with_a_warning() {
        let Some(file) = load("osv/osv-schema__SUSE-FU-2022_0444-1.json") else {
            return;
        };
        let file = file.unwrap();
        let r = &file.records[0];
        assert_eq!(r.id, "SUSE-FU-2022:0444-1");
        assert_eq!(
            r.summary.as_deref(),
            Some("Feature update for venv-salt-minion")
        );
        assert_eq!(r.related.len(), 51);
        assert!(r.aliases.is_empty() && r.affected.is_empty());
        assert_eq!(
            file.warnings,
            ["SUSE-FU-2022:0444-1: affected is empty: the record names no package"]
        );
        assert!(r.to_advisory().affected.is_empty());
    }

    #[test]
    fn a_range_without_introduced_is_refused() {
        let Some(res) = load("osv/osv-schema__nointroduced-CVE-2023-41045.json") else {
            return;
        };
        assert_eq!(
            res.unwrap_err().to_string(),
            "OSV document is not valid: CVE-2023-41045: affected[0].ranges[0]: missing \
             'introduced' object in event"
        );
    }

    #[test]
    fn withdrawn_record_with_pairs_out_of_order() {
        let Some(r) = one("osv/osv-schema__ghsa_withdrawn.osv.json") else {
            return;
        };
        assert_eq!(r.withdrawn, Some(utc("2018-10-11T17:29:49Z")));
        assert!(r.details.as_deref().unwrap().contains("\r\n"));
        let adv = r.to_advisory();
        assert!(adv.withdrawn);
        assert_eq!(adv.aliases, ["CVE-2015-3227"]);
        assert_eq!(
            adv.title.as_deref(),
            Some("Moderate severity vulnerability that affects activesupport")
        );
        assert_eq!(
            adv.affected[0].ranges,
            vec![
                range("3.2.0", "3.2.22"),
                range("4.0.0", "4.1.11"),
                range("4.2.0", "4.2.2")
            ]
        );
        assert_eq!(
            adv.affected[0].fixed_versions,
            ["3.2.22", "4.1.11", "4.2.2"]
        );
    }

    #[test]
    fn osv_scanner_output_embeds_records() {
        let Some(file) = load("osv/defectdojo__osv_scanner_many_findings.json") else {
            return;
        };
        let file = file.unwrap();
        assert!(file.scanner_output);
        // 66 embedded records, 64 distinct ids (two requests findings share ids).
        assert_eq!(file.records.len(), 64);
        assert_eq!(file.warnings.len(), 2, "{:?}", file.warnings);
        let first = &file.records[0];
        assert_eq!(first.id, "GHSA-25mq-v84q-4j7r");
        let adv = first.to_advisory();
        assert_eq!(adv.severity, Some(Severity::High));
        assert_eq!(adv.aliases, ["CVE-2022-31090"]);
        assert_eq!(adv.affected[0].ecosystem.as_deref(), Some("Packagist"));
        assert_eq!(adv.affected[0].name, "guzzlehttp/guzzle");
        let q559 = file
            .records
            .iter()
            .find(|r| r.id == "GHSA-q559-8m2m-g699")
            .unwrap()
            .to_advisory();
        assert!(q559.affected.iter().any(|a| a.name == "guzzlehttp/guzzle"));
        let django = file
            .records
            .iter()
            .find(|r| r.id == "GHSA-53qw-q765-4fww")
            .unwrap()
            .to_advisory();
        assert!(
            django
                .affected
                .iter()
                .any(|a| a.name == "django" && a.fixed_versions.contains(&"2.2.26".to_owned())),
            "{:?}",
            django.affected
        );
    }

    #[test]
    fn a_zero_byte_file_is_refused_with_the_policy() {
        let Some(res) = load("osv/defectdojo__osv_scanner_no_findings.json") else {
            return;
        };
        let err = res.unwrap_err();
        assert!(
            matches!(err, AdvisoryError::Empty { format: "OSV" }),
            "{err:?}"
        );
        // The clean "nothing found" document osv-scanner writes is accepted.
        let clean = parse_osv(br#"{"results": []}"#).unwrap();
        assert!(clean.records.is_empty() && clean.scanner_output);
    }

    #[test]
    fn rejections_name_the_record_and_field() {
        let table: &[(&str, &str)] = &[
            (
                "[1]",
                "OSV document is not valid: record 0: invalid type: integer `1`, expected struct RawRecord",
            ),
            (
                r#"{"modified":"2024-01-01T00:00:00Z"}"#,
                "OSV document is not valid: record 0: id is missing",
            ),
            (
                r#"{"id":"X-1"}"#,
                "OSV document is not valid: X-1: modified is missing",
            ),
            (
                r#"{"id":"X-1","modified":"soon"}"#,
                "OSV document is not valid: X-1: modified \"soon\" is not an RFC 3339 instant",
            ),
            (
                r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SVN","events":[{"introduced":"0"}]}]}]}"#,
                "OSV document is not valid: X-1: affected[0].ranges[0]: type \"SVN\" is not SEMVER, ECOSYSTEM or GIT",
            ),
            (
                r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"GIT","events":[{"introduced":"0"}]}]}]}"#,
                "OSV document is not valid: X-1: affected[0].ranges[0]: a GIT range needs its repo",
            ),
            (
                r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}"#,
                "OSV document is not valid: X-1: affected[0].ranges[0].events[0]: an event holds exactly one of introduced, fixed, last_affected, limit",
            ),
            ("\"x\"", "OSV document is not JSON: it starts with '\"'"),
        ];
        for (input, want) in table {
            let err = parse_osv(input.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), *want, "{input}");
        }
    }
}
