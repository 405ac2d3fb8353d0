//! What the JSON-based formats (Trivy, Grype, SARIF, the generic CSV/JSON)
//! share: building one [`NormalizedHost`] from findings whose asset is known
//! only at the end of the document, versioned fingerprints, and the small
//! field rules (CVE ids, CWE tags, fixed versions, CVSS vectors, times).
//!
//! # The asset of a software scanner
//!
//! A container image, a directory or a repository is scanned, not a host;
//! it becomes an [`events::Asset`] whose `asset_id` is the scanned
//! artifact's name as the report gives it ([`artifact_asset`]: trimmed, a
//! trailing `/` dropped, case kept, since image references and paths are
//! case-sensitive), with no host name or address. Each format documents
//! where it takes the name from; a report that names no artifact at all
//! puts its findings on the placeholder `<scanner>:unnamed`.
//!
//! # Fingerprints
//!
//! `<scanner>:v1:<asset_id>:<part>:<part>…` ([`fingerprint`]), every
//! component with `%` and `:` percent-escaped so that no two component
//! lists give the same string (`org.example:lib` is `org.example%3Alib`).
//! `finding_id = UUIDv5(normalize::FINDING_NAMESPACE, fingerprint)`, the
//! same namespace as Nessus. The parts per format are documented in each
//! module; none of them is a volatile field (severity, title, fixed version,
//! scanner version, dates, line numbers).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use events::{
    Asset, AssetFact, Check, CvssVector, CvssVersion, FixState, Package, Remediation, Severity,
};

use crate::normalize::{self, NormalizedHost, Observation, VectorField, canonical_cvss};

/// The most bytes kept of one free-text field (a title, a solution); longer
/// text is cut at a character boundary. 64 KiB, as for Nessus.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// `text` cut to at most [`MAX_TEXT_BYTES`], at a character boundary.
pub fn capped(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Escapes one fingerprint component: `%` → `%25`, `:` → `%3A`.
pub fn escape(part: &str) -> String {
    part.replace('%', "%25").replace(':', "%3A")
}

/// `<scanner>:v1:<asset_id>:<parts…>`, each component [`escape`]d.
pub fn fingerprint(scanner: &str, asset_id: &str, parts: &[String]) -> String {
    let mut fp = format!("{scanner}:v1:{}", escape(asset_id));
    for p in parts {
        fp.push(':');
        fp.push_str(&escape(p));
    }
    fp
}

/// The asset of a scanned artifact named `name` (see the module docs):
/// `asset_id` is the trimmed name without a trailing `/` (the root `/`
/// stays), `None` when the name is empty.
pub fn artifact_asset(name: &str) -> Option<Asset> {
    let name = name.trim();
    let id = match name.trim_end_matches('/') {
        "" if name.starts_with('/') => "/",
        trimmed => trimmed,
    };
    (!id.is_empty()).then(|| Asset {
        asset_id: id.to_owned(),
        ..Asset::default()
    })
}

/// The placeholder asset of a report that names no artifact:
/// `<scanner>:unnamed`.
pub fn unnamed_asset(scanner: &str) -> Asset {
    Asset {
        asset_id: format!("{scanner}:unnamed"),
        ..Asset::default()
    }
}

/// Whether `id` is a CVE id (`CVE-YYYY-NNNN…`, any case).
pub fn is_cve(id: &str) -> bool {
    cve_at(id.trim().as_bytes()).is_some_and(|n| n == id.trim().len())
}

/// Length of a CVE id at the start of `b`, if one starts there.
fn cve_at(b: &[u8]) -> Option<usize> {
    let prefix = b.get(..4)?;
    if !prefix.eq_ignore_ascii_case(b"CVE-") {
        return None;
    }
    let year = b.get(4..8)?;
    if !year.iter().all(u8::is_ascii_digit) || b.get(8) != Some(&b'-') {
        return None;
    }
    let digits = b
        .get(9..)?
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    (digits >= 4).then_some(9 + digits)
}

/// Every CVE id in `text` (`CVE-2008-0732-geronimo…` holds `CVE-2008-0732`),
/// upper case, de-duplicated, in order. An id must not be glued to a
/// preceding letter or digit.
pub fn cves_in(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let glued = i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_alphanumeric);
        let found = if glued {
            None
        } else {
            b.get(i..).and_then(cve_at)
        };
        match found {
            Some(n) => {
                let id = text.get(i..i + n).unwrap_or_default().to_ascii_uppercase();
                if !out.contains(&id) {
                    out.push(id);
                }
                i += n;
            }
            None => i += 1,
        }
    }
    out
}

/// Adds `id` to `cves` when it is a CVE id not yet listed (upper-cased).
pub fn push_cve(cves: &mut Vec<String>, id: &str) {
    if is_cve(id) {
        let id = id.trim().to_ascii_uppercase();
        if !cves.contains(&id) {
            cves.push(id);
        }
    }
}

/// The CWE number in a tag or id: `CWE-79`, `CWE:79`, `cwe-079`,
/// `external/cwe/cwe-089`, `CWE-327: Use of a Broken…`. `None` when the
/// text names no CWE number (`cwe`, `owasp`).
pub fn cwe_in(tag: &str) -> Option<u32> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.rfind("cwe")?;
    let rest = lower
        .get(at + 3..)?
        .trim_start_matches(['-', ':', ' ', '_']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    digits.parse().ok()
}

/// Splits a fixed-version field into the versions it lists (`"11.0.14,
/// 10.1.49, 9.0.112"`), trimmed, empty entries dropped, spelling kept.
pub fn split_versions(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A fixed version without a range operator (`>=4.17.11` → `4.17.11`).
pub fn bare_version(v: &str) -> &str {
    v.trim()
        .trim_start_matches(['>', '<', '=', '~', '^', '!'])
        .trim()
}

/// The fixed version an upgrade of `installed` should target, from the
/// versions a scanner lists (one per release branch, as in Trivy's
/// `"11.0.14, 10.1.49, 9.0.112"` for an installed `9.0.109`): the one that
/// shares the most leading `.`-separated components with `installed`, the
/// first listed on a tie; range operators removed. `None` for an empty list.
pub fn choose_fixed(installed: &str, listed: &[String]) -> Option<String> {
    let parts = |v: &str| -> Vec<String> {
        bare_version(v)
            .trim_start_matches(['v', 'V'])
            .split(['.', '-', '+', ':'])
            .map(str::to_owned)
            .collect()
    };
    let have = parts(installed);
    let mut best: Option<(usize, &String)> = None;
    for v in listed {
        let shared = parts(v)
            .iter()
            .zip(&have)
            .take_while(|(a, b)| a == b)
            .count();
        if best.is_none_or(|(n, _)| shared > n) {
            best = Some((shared, v));
        }
    }
    best.map(|(_, v)| bare_version(v).to_owned())
        .filter(|v| !v.is_empty())
}

/// A reported vector in canonical spelling ([`canonical_cvss`]), its version
/// taken from `version` (`"2.0"`, `"3.1"`, …) when the text carries no
/// prefix; `field` decides otherwise.
///
/// # Errors
/// The reason of [`canonical_cvss`].
pub fn cvss_vector(
    field: VectorField,
    version: Option<&str>,
    raw: &str,
    score: Option<f64>,
    source: &str,
) -> Result<CvssVector, String> {
    let raw = raw.trim();
    let prefixed = raw.starts_with("CVSS:") || raw.starts_with("CVSS2#");
    let (field, text) = match version.map(str::trim) {
        Some(v) if !prefixed && v.starts_with('2') => (VectorField::V2, raw.to_owned()),
        Some(v) if !prefixed && (v == "3.1" || v == "4.0") => (field, format!("CVSS:{v}/{raw}")),
        Some(v) if !prefixed && v.starts_with('3') => (VectorField::V3, raw.to_owned()),
        _ => (field, raw.to_owned()),
    };
    let (version, vector) = canonical_cvss(field, &text)?;
    Ok(CvssVector {
        version,
        vector,
        reported_score: score.filter(|s| s.is_finite() && (0.0..=10.0).contains(s)),
        source: source.to_owned(),
    })
}

/// The version a bare vector is in, from its metrics: `Au:` only exists in
/// CVSS v2, `AT:` only in v4.0; anything else bare is refused by the caller.
pub fn bare_vector_field(raw: &str) -> Option<VectorField> {
    let metrics: Vec<&str> = raw
        .trim()
        .split('/')
        .filter_map(|m| m.split_once(':').map(|(k, _)| k))
        .collect();
    if metrics.contains(&"Au") {
        Some(VectorField::V2)
    } else if metrics.contains(&"AT") {
        Some(VectorField::V4)
    } else {
        None
    }
}

/// The severity a vector set implies when the scanner gives no usable label:
/// the rating ([`Severity::from_cvss`]) of the score printed beside the
/// newest vector (v4 over v3 over v2, then the highest score); `None` when
/// no vector has a printed score. Nothing is computed here.
pub fn severity_from_reported(vectors: &[CvssVector]) -> Option<Severity> {
    vectors
        .iter()
        .filter_map(|v| v.reported_score.map(|s| (v.version, s)))
        .max_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
        })
        .map(|(_, s)| Severity::from_cvss(s))
}

/// Adds `v` unless an identical (version, vector) is already listed.
pub fn push_vector(list: &mut Vec<CvssVector>, v: CvssVector) {
    if !list
        .iter()
        .any(|c| c.version == v.version && c.vector == v.vector)
    {
        list.push(v);
    }
}

/// Sorts CVSS vectors newest version first, keeping report order within a
/// version (so the scanner's preferred source stays first).
pub fn order_vectors(list: &mut [CvssVector]) {
    list.sort_by_key(|v| std::cmp::Reverse(version_rank(v.version)));
}

fn version_rank(v: CvssVersion) -> u8 {
    match v {
        CvssVersion::V2 => 0,
        CvssVersion::V3_0 => 1,
        CvssVersion::V3_1 => 2,
        CvssVersion::V4_0 => 3,
    }
}

/// An RFC 3339 instant in UTC; `None` for an empty text or Go's zero time
/// (`0001-01-01T00:00:00Z`, what Go writes for "unset").
///
/// # Errors
/// Text that is not RFC 3339.
pub fn instant(text: &str) -> Result<Option<DateTime<Utc>>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let parsed = DateTime::parse_from_rfc3339(t)
        .map_err(|e| format!("{t:?} is not an RFC 3339 time ({e})"))?
        .with_timezone(&Utc);
    Ok((parsed.timestamp() > -62_135_596_800).then_some(parsed))
}

/// A finding of a software scanner before its asset is known: everything of
/// an [`Observation`] but the fingerprint, id and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Identity components after the asset id (see [`fingerprint`]).
    pub key: Vec<String>,
    /// The check (vulnerability id or rule).
    pub check: Check,
    /// Normalized severity (never `Info`).
    pub severity: Severity,
    /// CVE ids, upper case, de-duplicated.
    pub cves: Vec<String>,
    /// CWE numbers, sorted, de-duplicated.
    pub cwes: Vec<u32>,
    /// CVSS vectors, canonical, newest version first.
    pub cvss: Vec<CvssVector>,
    /// What fixes it.
    pub remediation: Remediation,
    /// The affected package, for package findings.
    pub package: Option<Package>,
    /// The scanner's fix status.
    pub fix_state: Option<FixState>,
    /// Port (`0` for packages and code).
    pub port: u16,
    /// Lower-case protocol (empty for packages and code).
    pub protocol: String,
    /// Service name, when reported.
    pub service: Option<String>,
    /// This item's own observation time, when it states one (UTC).
    pub observed_at: Option<DateTime<Utc>>,
}

impl Pending {
    /// Folds a repeat of the same key into this finding: the higher
    /// severity, the union of CVEs, CWEs, vectors, package locations and
    /// fixed versions; the first item's check, remediation and fix state
    /// stay.
    fn merge(&mut self, other: Pending) {
        self.severity = self.severity.max(other.severity);
        for cve in other.cves {
            if !self.cves.contains(&cve) {
                self.cves.push(cve);
            }
        }
        self.cwes.extend(other.cwes);
        self.cwes.sort_unstable();
        self.cwes.dedup();
        for v in other.cvss {
            push_vector(&mut self.cvss, v);
        }
        order_vectors(&mut self.cvss);
        if let (Some(mine), Some(theirs)) = (self.package.as_mut(), other.package) {
            mine.locations.extend(theirs.locations);
            mine.locations.sort();
            mine.locations.dedup();
            for f in theirs.fixed_versions {
                if !mine.fixed_versions.contains(&f) {
                    mine.fixed_versions.push(f);
                }
            }
        }
        self.fix_state = self.fix_state.or(other.fix_state);
        self.observed_at = match (self.observed_at, other.observed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What a report held besides its findings: the counts of
/// [`crate::format::Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// Hosts (artifacts) emitted.
    pub hosts: u64,
    /// Items that became findings, before repeats of one key merged.
    pub findings: u64,
    /// Informational items kept as facts.
    pub info_items: u64,
    /// Items skipped, with why, in first-seen order.
    pub skipped: Vec<(String, u64)>,
    /// Earliest scan start stated (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// Latest scan end stated (UTC).
    pub finished_at: Option<DateTime<Utc>>,
}

impl Stats {
    /// Counts one skipped item under `reason`.
    pub fn skip(&mut self, reason: &str) {
        self.skip_n(reason, 1);
    }

    /// Counts `n` skipped items under `reason` (nothing when `n` is 0).
    pub fn skip_n(&mut self, reason: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self.skipped.iter_mut().find(|(r, _)| r == reason) {
            Some((_, count)) => *count += n,
            None => self.skipped.push((reason.to_owned(), n)),
        }
    }

    /// Widens the stated scan window with a host's start and end.
    pub fn window(&mut self, started: Option<DateTime<Utc>>, finished: Option<DateTime<Utc>>) {
        if let Some(s) = started {
            self.started_at = Some(self.started_at.map_or(s, |t| t.min(s)));
        }
        if let Some(f) = finished {
            self.finished_at = Some(self.finished_at.map_or(f, |t| t.max(f)));
        }
    }
}

/// Collects one host's findings while its document is read.
///
/// In counting mode (the whole-report check) nothing is kept, so memory
/// stays bounded by one element of the report; in collecting mode findings
/// with the same key merge ([`Pending`] docs) or, for formats whose repeats
/// are distinct findings (SARIF results), get an occurrence suffix
/// (`#2`, `#3`, … in report order).
#[derive(Debug)]
pub struct HostBuilder {
    scanner: &'static str,
    keep: bool,
    merge: bool,
    findings: Vec<Pending>,
    index: HashMap<Vec<String>, usize>,
    facts: Vec<AssetFact>,
}

impl HostBuilder {
    /// A builder for fingerprints `<scanner>:v1:…`; `keep` false counts
    /// only; `merge` false gives repeats an occurrence suffix.
    pub fn new(scanner: &'static str, keep: bool, merge: bool) -> HostBuilder {
        HostBuilder {
            scanner,
            keep,
            merge,
            findings: Vec::new(),
            index: HashMap::new(),
            facts: Vec::new(),
        }
    }

    /// Adds one finding (counted in `stats`).
    pub fn add(&mut self, mut p: Pending, stats: &mut Stats) {
        stats.findings += 1;
        if !self.keep {
            return;
        }
        if let Some(&i) = self.index.get(&p.key) {
            if self.merge {
                if let Some(first) = self.findings.get_mut(i) {
                    first.merge(p);
                }
                return;
            }
            let base = p.key.clone();
            let mut n = 2u64;
            loop {
                let mut k = base.clone();
                if let Some(last) = k.last_mut() {
                    last.push_str(&format!("#{n}"));
                } else {
                    k.push(format!("#{n}"));
                }
                if !self.index.contains_key(&k) {
                    p.key = k;
                    break;
                }
                n += 1;
            }
        }
        self.index.insert(p.key.clone(), self.findings.len());
        self.findings.push(p);
    }

    /// Adds one informational item (counted in `stats`).
    pub fn fact(&mut self, fact: AssetFact, stats: &mut Stats) {
        stats.info_items += 1;
        if self.keep {
            self.facts.push(fact);
        }
    }

    /// Whether nothing was added (in collecting mode).
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty() && self.facts.is_empty()
    }

    /// The host: fingerprints computed against `asset`; every finding
    /// observed at its own time, else `observed_at` (UTC).
    pub fn finish(
        self,
        asset: Asset,
        observed_at: DateTime<Utc>,
        started_at: Option<DateTime<Utc>>,
        finished_at: Option<DateTime<Utc>>,
    ) -> NormalizedHost {
        let findings = self
            .findings
            .into_iter()
            .map(|p| {
                let fingerprint = fingerprint(self.scanner, &asset.asset_id, &p.key);
                Observation {
                    finding_id: normalize::finding_id(&fingerprint),
                    fingerprint,
                    check: p.check,
                    port: p.port,
                    protocol: p.protocol,
                    severity: p.severity,
                    service: p.service,
                    cves: p.cves,
                    cwes: p.cwes,
                    cvss: p.cvss,
                    remediation: p.remediation,
                    observed_at: p.observed_at.unwrap_or(observed_at),
                    package: p.package,
                    fix_state: p.fix_state,
                }
            })
            .collect();
        NormalizedHost {
            asset,
            observed_at,
            started_at,
            finished_at,
            findings,
            facts: self.facts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_ids_are_found_in_text_and_ids() {
        let table: [(&str, &[&str]); 6] = [
            (
                "CVE-2008-0732-geronimo-j2ee-management_1.1_spec",
                &["CVE-2008-0732"],
            ),
            ("cve-2019-11358", &["CVE-2019-11358"]),
            (
                "Vulnerability CVE-2019-1549 and CVE-2019-1549, CVE-2021-44228",
                &["CVE-2019-1549", "CVE-2021-44228"],
            ),
            ("XCVE-2019-1549 CVE-2019-15", &[]),
            ("TEMP-0841856-B18BAF GHSA-v6rh-hp5x-86rv", &[]),
            ("", &[]),
        ];
        for (text, want) in table {
            assert_eq!(cves_in(text), want, "{text}");
        }
        assert!(is_cve(" CVE-2021-44228 "));
        assert!(!is_cve("CVE-2021-44228-log4j"));
        assert!(!is_cve("GHSA-v6rh-hp5x-86rv"));
    }

    #[test]
    fn cwe_tags_in_their_spellings() {
        let table = [
            ("CWE-89", Some(89)),
            ("external/cwe/cwe-089", Some(89)),
            (
                "CWE-327: Use of a Broken or Risky Cryptographic Algorithm",
                Some(327),
            ),
            ("cwe", None),
            ("owasp", None),
            ("security", None),
        ];
        for (tag, want) in table {
            assert_eq!(cwe_in(tag), want, "{tag}");
        }
    }

    #[test]
    fn fixed_version_follows_the_installed_branch() {
        let v = |s: &str| split_versions(s);
        let table = [
            ("9.0.109", "11.0.14, 10.1.49, 9.0.112", Some("9.0.112")),
            ("10.1.2", "11.0.14, 10.1.49, 9.0.112", Some("10.1.49")),
            ("1.1.1c-r0", "1.1.1d-r0", Some("1.1.1d-r0")),
            ("4.17.4", ">=4.17.11", Some("4.17.11")),
            ("4.0.2", "fix_1, fix_2", Some("fix_1")),
            ("v0.9.0", "0.17.0", Some("0.17.0")),
            ("1.0", "", None),
        ];
        for (installed, listed, want) in table {
            assert_eq!(
                choose_fixed(installed, &v(listed)).as_deref(),
                want,
                "{installed} in {listed}"
            );
        }
    }

    #[test]
    fn fingerprints_escape_their_separator() {
        let fp = fingerprint(
            "trivy",
            "teamdojo:latest",
            &["CVE-1".into(), "org.example:lib".into(), "100%".into()],
        );
        assert_eq!(
            fp,
            "trivy:v1:teamdojo%3Alatest:CVE-1:org.example%3Alib:100%25"
        );
        assert_ne!(
            fingerprint("t", "a", &["b:c".into(), "d".into()]),
            fingerprint("t", "a", &["b".into(), "c:d".into()])
        );
    }

    #[test]
    fn artifact_names_become_asset_ids() {
        let id = |n: &str| artifact_asset(n).map(|a| a.asset_id);
        assert_eq!(id(" /opt/ ").as_deref(), Some("/opt"));
        assert_eq!(id("/").as_deref(), Some("/"));
        assert_eq!(id("Teamdojo:latest").as_deref(), Some("Teamdojo:latest"));
        assert_eq!(id("  "), None);
    }

    #[test]
    fn vectors_take_the_stated_version_when_bare() {
        let v = |field, version, raw| {
            cvss_vector(field, version, raw, Some(8.8), "github").map(|c| (c.version, c.vector))
        };
        assert_eq!(
            v(
                VectorField::V3,
                Some("3.1"),
                "AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
            ),
            Ok((
                CvssVersion::V3_1,
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H".to_owned()
            ))
        );
        assert_eq!(
            v(VectorField::V3, Some("2.0"), "AV:L/AC:L/Au:N/C:N/I:P/A:N"),
            Ok((CvssVersion::V2, "AV:L/AC:L/Au:N/C:N/I:P/A:N".to_owned()))
        );
        assert_eq!(
            v(
                VectorField::V2,
                Some("3.0"),
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
            )
            .map(|x| x.0),
            Ok(CvssVersion::V3_1)
        );
        assert!(v(VectorField::V3, None, "not a vector").is_err());
        assert_eq!(
            bare_vector_field("AV:N/AC:L/Au:N/C:P/I:P/A:P"),
            Some(VectorField::V2)
        );
        assert_eq!(
            bare_vector_field("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            None
        );
    }

    #[test]
    fn times_are_rfc3339_and_go_zero_is_unset() {
        assert_eq!(
            instant("2021-08-25T12:20:30.000000005Z").unwrap(),
            Some("2021-08-25T12:20:30.000000005Z".parse().unwrap())
        );
        assert_eq!(
            instant("2021-12-15T13:22:33+01:00").unwrap(),
            Some("2021-12-15T12:22:33Z".parse().unwrap())
        );
        assert_eq!(instant("0001-01-01T00:00:00Z").unwrap(), None);
        assert_eq!(instant("").unwrap(), None);
        assert!(instant("yesterday").is_err());
    }

    fn pending(key: &str, sev: Severity, loc: &str) -> Pending {
        Pending {
            key: vec![key.to_owned()],
            check: Check {
                scanner: "grype".into(),
                id: key.into(),
                name: key.into(),
                family: None,
            },
            severity: sev,
            cves: vec![],
            cwes: vec![],
            cvss: vec![],
            remediation: Remediation::Advisory { id: key.into() },
            package: Some(Package {
                name: "p".into(),
                version: "1".into(),
                ecosystem: None,
                purl: None,
                locations: vec![loc.into()],
                fixed_versions: vec![],
            }),
            fix_state: None,
            port: 0,
            protocol: String::new(),
            service: None,
            observed_at: None,
        }
    }

    #[test]
    fn builder_merges_or_numbers_repeats() {
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut stats = Stats::default();
        let mut merging = HostBuilder::new("grype", true, true);
        merging.add(pending("a", Severity::Low, "/b"), &mut stats);
        merging.add(pending("a", Severity::High, "/a"), &mut stats);
        let host = merging.finish(artifact_asset("img").unwrap(), t, None, None);
        assert_eq!(stats.findings, 2);
        assert_eq!(host.findings.len(), 1);
        assert_eq!(host.findings[0].severity, Severity::High);
        assert_eq!(
            host.findings[0].package.as_ref().unwrap().locations,
            ["/a", "/b"]
        );
        assert_eq!(host.findings[0].fingerprint, "grype:v1:img:a");

        let mut numbering = HostBuilder::new("sarif", true, false);
        for _ in 0..3 {
            numbering.add(pending("r", Severity::Low, "/x"), &mut stats);
        }
        let host = numbering.finish(artifact_asset("repo").unwrap(), t, None, None);
        let fps: Vec<&str> = host
            .findings
            .iter()
            .map(|f| f.fingerprint.as_str())
            .collect();
        assert_eq!(
            fps,
            ["sarif:v1:repo:r", "sarif:v1:repo:r#2", "sarif:v1:repo:r#3"]
        );

        let mut counting = HostBuilder::new("grype", false, true);
        counting.add(pending("a", Severity::Low, "/b"), &mut stats);
        assert!(counting.is_empty());
        assert_eq!(stats.findings, 6);
    }
}
