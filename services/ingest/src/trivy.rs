//! Trivy JSON reports (`trivy image|fs|repo|rootfs|k8s -f json`), streamed.
//!
//! # Shapes accepted
//!
//! - **SchemaVersion 2** (Trivy ≥ 0.20): one scanned artifact
//!   (`ArtifactName`), `Results[]` absent, `null` or present, each result's
//!   `Vulnerabilities` absent, `null` or a list. Any other `SchemaVersion`
//!   is rejected.
//! - **Legacy** (before SchemaVersion): a top-level array of results.
//! - The document **`null`**: Trivy's legacy "nothing found" (no host).
//! - **Kubernetes** (`trivy k8s`): `ClusterName` with `Resources[]` (each
//!   `Namespace`, `Kind`, `Name`, `Results[]`), or the older layout with a
//!   top-level `Vulnerabilities[]` (and `Misconfigurations[]`) of resources.
//!   Each resource with package results is one host, emitted as soon as it
//!   is read. `ClusterName` must come before the resources (Trivy writes it
//!   first); a report where it follows them is rejected, since the ids of
//!   the resources already read would lack it.
//!
//! `Misconfigurations`, `Secrets` and `Licenses` entries are not package
//! vulnerabilities: they are counted as skipped with that reason and never
//! break the parse. Memory is bounded by one element of `Results[]` (one
//! Kubernetes resource), never the document ([`crate::jsonpull`]).
//!
//! # Rules
//!
//! - **Asset** ([`crate::software`]): `ArtifactName`; when empty, the first
//!   `Metadata.RepoTags` entry; else the first result `Target` naming an OS
//!   (`teamdojo:latest (alpine 3.9.4)` → `teamdojo:latest`), else the first
//!   `Target`; else `trivy:unnamed`. A Kubernetes resource is
//!   `<ClusterName>/<Namespace>/<Kind>/<Name>` (`<ClusterName>/<Kind>/<Name>`
//!   for cluster-scoped resources). `os` is `Metadata.OS` (`alpine 3.10.2`)
//!   or the OS in a target's parentheses.
//! - **Time**: `CreatedAt` (UTC) is the observation time and the scan end;
//!   without it, the caller's fallback.
//! - **Skipped, with the reason**: a record without `VulnerabilityID` or
//!   `PkgName` (a degenerate record holding only `PkgName` exists in the
//!   wild), and `Status: not_affected` (the vendor says the package is not
//!   affected: never a finding). `will_not_fix`, `fix_deferred` and
//!   `end_of_life` are findings, with [`FixState::WontFix`],
//!   [`FixState::FixDeferred`], [`FixState::EndOfLife`]: real exposure
//!   without a patch. `affected` is `NotFixed`; an unknown status string is
//!   `Unknown`; no status is `None`.
//! - **Severity**: `CRITICAL`…`LOW` as such; `UNKNOWN` (or none) takes the
//!   rating of the score Trivy printed beside its newest vector, else low.
//!   Prioritize scores the vectors themselves.
//! - **CVSS**: every source of the `CVSS` map (`nvd`, `redhat`, `ghsa`, …)
//!   with its `V40Vector`, `V3Vector`, `V2Vector` and scores, the
//!   `SeveritySource` first within a version, identical vectors once.
//! - **Package**: `PkgName`, `InstalledVersion`, the purl of
//!   `PkgIdentifier.PURL` (its type is the ecosystem, else the result
//!   `Type`), location `PkgPath` (else the result `Target` when it is a
//!   file, such as a lock file or a jar), `FixedVersion` split on commas.
//!   The remediation upgrades to the listed fixed version on the installed
//!   version's branch ([`crate::software::choose_fixed`]); without one, the
//!   scanner's solution "no fixed version".
//! - **Identity**: `trivy:v1:<asset_id>:<VulnerabilityID>:<PkgName>@
//!   <InstalledVersion>:<location>` (location empty for OS packages). The
//!   same vulnerable library in two jars is two findings, each resolved on
//!   its own; repeats of one key merge.

use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::{DateTime, Utc};
use events::{Asset, Check, FixState, Package, Remediation, Severity};
use serde::Deserialize;

use crate::jsonpull::{JsonCursor, JsonError, Kind};
use crate::normalize::{NormalizedHost, VectorField, parse_cwe};
use crate::software::{
    self, HostBuilder, Pending, Stats, artifact_asset, capped, choose_fixed, cvss_vector,
    order_vectors, push_cve, push_vector, severity_from_reported, split_versions,
};

/// The scanner family name in checks, remediations and fingerprints.
pub const SCANNER: &str = "trivy";

/// Skip reason: a record with no vulnerability id.
pub const SKIP_NO_ID: &str = "vulnerability record without VulnerabilityID";
/// Skip reason: a record with no package name.
pub const SKIP_NO_PACKAGE: &str = "vulnerability record without PkgName";
/// Skip reason: the vendor states the package is not affected.
pub const SKIP_NOT_AFFECTED: &str = "status not_affected (vendor: package not affected)";
/// Skip reason: a misconfiguration entry.
pub const SKIP_MISCONFIG: &str = "misconfiguration (not a package vulnerability)";
/// Skip reason: a secret entry.
pub const SKIP_SECRET: &str = "secret (not a package vulnerability)";
/// Skip reason: a license entry.
pub const SKIP_LICENSE: &str = "license (not a package vulnerability)";
/// Skip reason: a vector that is not a CVSS vector (the finding is kept).
pub const SKIP_BAD_VECTOR: &str = "CVSS vector that does not parse (vector dropped, finding kept)";
/// Skip reason: a Kubernetes resource with no package results.
pub const SKIP_K8S_NO_PACKAGES: &str = "kubernetes resource without package results";
/// Skip reason: a Kubernetes resource Trivy could not scan.
pub const SKIP_K8S_ERROR: &str = "kubernetes resource not scanned (Error)";

#[derive(Debug, Deserialize)]
struct Vuln {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: Option<String>,
    #[serde(rename = "PkgName")]
    pkg_name: Option<String>,
    #[serde(rename = "PkgPath")]
    pkg_path: Option<String>,
    #[serde(rename = "PkgIdentifier")]
    pkg_identifier: Option<PkgIdentifier>,
    #[serde(rename = "InstalledVersion")]
    installed_version: Option<String>,
    #[serde(rename = "FixedVersion")]
    fixed_version: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Severity")]
    severity: Option<String>,
    #[serde(rename = "SeveritySource")]
    severity_source: Option<String>,
    #[serde(rename = "Title")]
    title: Option<String>,
    #[serde(rename = "CweIDs")]
    cwe_ids: Option<Vec<String>>,
    #[serde(rename = "CVSS")]
    cvss: Option<BTreeMap<String, Option<SourceCvss>>>,
}

#[derive(Debug, Deserialize)]
struct PkgIdentifier {
    #[serde(rename = "PURL")]
    purl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SourceCvss {
    #[serde(rename = "V2Vector")]
    v2_vector: Option<String>,
    #[serde(rename = "V3Vector")]
    v3_vector: Option<String>,
    #[serde(rename = "V40Vector")]
    v40_vector: Option<String>,
    #[serde(rename = "V2Score")]
    v2_score: Option<f64>,
    #[serde(rename = "V3Score")]
    v3_score: Option<f64>,
    #[serde(rename = "V40Score")]
    v40_score: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(rename = "OS")]
    os: Option<Os>,
    #[serde(rename = "RepoTags")]
    repo_tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Os {
    #[serde(rename = "Family")]
    family: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
}

/// One element of `Results[]`, its vulnerabilities typed, the rest counted.
#[derive(Debug, Default)]
struct Block {
    target: Option<String>,
    class: Option<String>,
    kind: Option<String>,
    has_vulnerabilities: bool,
    vulns: Vec<Vuln>,
}

impl Block {
    /// `true` for an OS-package result (`Class: os-pkgs`, or a legacy
    /// target `name (os version)`).
    fn is_os(&self) -> bool {
        self.class.as_deref() == Some("os-pkgs")
            || (self.class.is_none()
                && self
                    .target
                    .as_deref()
                    .is_some_and(|t| split_target(t).1.is_some()))
    }

    fn has_packages(&self) -> bool {
        self.has_vulnerabilities || matches!(self.class.as_deref(), Some("os-pkgs" | "lang-pkgs"))
    }
}

/// `teamdojo:latest (alpine 3.9.4)` → (`teamdojo:latest`, `Some("alpine 3.9.4")`).
fn split_target(target: &str) -> (&str, Option<&str>) {
    let t = target.trim();
    if let Some(body) = t.strip_suffix(')')
        && let Some(i) = body.rfind(" (")
    {
        let name = body.get(..i).unwrap_or_default().trim();
        let os = body.get(i + 2..).unwrap_or_default().trim();
        if !name.is_empty() && !os.is_empty() {
            return (name, Some(os));
        }
    }
    (t, None)
}

fn with_context(e: JsonError, context: &str) -> JsonError {
    JsonError {
        offset: e.offset,
        message: format!("{context}: {}", e.message),
    }
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn fix_state(status: &str) -> Option<FixState> {
    Some(match status {
        "" => return None,
        "fixed" => FixState::Fixed,
        "affected" => FixState::NotFixed,
        "will_not_fix" => FixState::WontFix,
        "fix_deferred" => FixState::FixDeferred,
        "end_of_life" => FixState::EndOfLife,
        "under_investigation" => FixState::UnderInvestigation,
        _ => FixState::Unknown,
    })
}

fn label(severity: &str) -> Option<Severity> {
    match severity.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" => Some(Severity::Critical),
        "HIGH" => Some(Severity::High),
        "MEDIUM" => Some(Severity::Medium),
        "LOW" => Some(Severity::Low),
        _ => None,
    }
}

/// The ecosystem of a purl: its type (`pkg:apk/alpine/…` → `apk`).
pub(crate) fn purl_type(purl: &str) -> Option<String> {
    let rest = purl.trim().strip_prefix("pkg:")?;
    let ty = rest.split('/').next()?.trim();
    (!ty.is_empty()).then(|| ty.to_ascii_lowercase())
}

/// Normalizes one vulnerability record of `block`; `None` (counted in
/// `stats`) when it is skipped.
fn pending(v: Vuln, block: &Block, stats: &mut Stats) -> Option<Pending> {
    let Some(id) = nonempty(v.vulnerability_id) else {
        stats.skip(SKIP_NO_ID);
        return None;
    };
    let Some(name) = nonempty(v.pkg_name) else {
        stats.skip(SKIP_NO_PACKAGE);
        return None;
    };
    let status = v.status.as_deref().map(str::trim).unwrap_or_default();
    if status == "not_affected" {
        stats.skip(SKIP_NOT_AFFECTED);
        return None;
    }
    let fix_state = fix_state(status);

    let mut sources: Vec<(String, SourceCvss)> = v
        .cvss
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, c)| c.map(|c| (k, c)))
        .collect();
    if let Some(preferred) = v.severity_source.as_deref() {
        sources.sort_by_key(|(k, _)| k != preferred);
    }
    let mut cvss = Vec::new();
    for (source, c) in &sources {
        for (field, raw, score) in [
            (VectorField::V4, &c.v40_vector, c.v40_score),
            (VectorField::V3, &c.v3_vector, c.v3_score),
            (VectorField::V2, &c.v2_vector, c.v2_score),
        ] {
            let Some(raw) = raw.as_deref().filter(|r| !r.trim().is_empty()) else {
                continue;
            };
            match cvss_vector(field, None, raw, score, source) {
                Ok(vector) => push_vector(&mut cvss, vector),
                Err(_) => stats.skip(SKIP_BAD_VECTOR),
            }
        }
    }
    order_vectors(&mut cvss);

    let severity = v
        .severity
        .as_deref()
        .and_then(label)
        .or_else(|| severity_from_reported(&cvss))
        .unwrap_or(Severity::Low)
        .max(Severity::Low);
    let mut cves = Vec::new();
    push_cve(&mut cves, &id);
    let mut cwes: Vec<u32> = v
        .cwe_ids
        .unwrap_or_default()
        .iter()
        .filter_map(|c| parse_cwe(c))
        .collect();
    cwes.sort_unstable();
    cwes.dedup();

    let version = v
        .installed_version
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let fixed_versions = v
        .fixed_version
        .as_deref()
        .map(split_versions)
        .unwrap_or_default();
    let location = nonempty(v.pkg_path).or_else(|| {
        if block.is_os() {
            None
        } else {
            block.target.clone().filter(|t| !t.trim().is_empty())
        }
    });
    let purl = v.pkg_identifier.and_then(|p| nonempty(p.purl));
    let ecosystem = purl
        .as_deref()
        .and_then(purl_type)
        .or_else(|| block.kind.clone());
    let remediation = match choose_fixed(&version, &fixed_versions) {
        Some(fixed_version) => Remediation::Package {
            name: name.clone(),
            fixed_version,
        },
        None => Remediation::Solution {
            scanner: SCANNER.to_owned(),
            check_id: id.clone(),
            text: format!(
                "no fixed version of {name} {version} is known (status {})",
                if status.is_empty() {
                    "not stated"
                } else {
                    status
                }
            ),
        },
    };
    let title = nonempty(v.title).unwrap_or_else(|| format!("{id} in {name} {version}"));
    Some(Pending {
        key: vec![
            id.clone(),
            format!("{name}@{version}"),
            location.clone().unwrap_or_default(),
        ],
        check: Check {
            scanner: SCANNER.to_owned(),
            id,
            name: capped(title),
            family: block.kind.clone(),
        },
        severity,
        cves,
        cwes,
        cvss,
        remediation,
        package: Some(Package {
            name,
            version,
            ecosystem,
            purl,
            locations: location.into_iter().collect(),
            fixed_versions,
        }),
        fix_state,
        port: 0,
        protocol: String::new(),
        service: None,
        observed_at: None,
    })
}

/// What the reader knows of the document so far.
#[derive(Debug, Default)]
struct Doc {
    artifact_name: Option<String>,
    created_at: Option<DateTime<Utc>>,
    metadata: Metadata,
    cluster: Option<String>,
    kubernetes: bool,
    resources_read: u64,
    saw_results: bool,
    first_os_target: Option<(String, String)>,
    first_target: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    TopObject,
    Legacy { index: u64 },
    Resources,
    Done,
}

/// Streams the hosts of a Trivy report (see the module docs): one for an
/// ordinary report (none for the document `null`), one per Kubernetes
/// resource with package results.
pub struct TrivyReader<R> {
    cur: JsonCursor<R>,
    fallback_time: DateTime<Utc>,
    keep: bool,
    state: State,
    doc: Doc,
    builder: HostBuilder,
    stats: Stats,
}

impl<R: BufRead> TrivyReader<R> {
    /// A reader that yields every host with its findings. `fallback_time`
    /// (UTC) is the observation time when the report states none.
    pub fn new(input: R, fallback_time: DateTime<Utc>) -> TrivyReader<R> {
        TrivyReader::with_mode(input, fallback_time, true)
    }

    /// A reader for the whole-report check: hosts come without findings and
    /// nothing accumulates; [`TrivyReader::stats`] counts.
    pub fn counting(input: R) -> TrivyReader<R> {
        TrivyReader::with_mode(input, DateTime::<Utc>::UNIX_EPOCH, false)
    }

    fn with_mode(input: R, fallback_time: DateTime<Utc>, keep: bool) -> TrivyReader<R> {
        TrivyReader {
            cur: JsonCursor::new(input),
            fallback_time,
            keep,
            state: State::Start,
            doc: Doc::default(),
            builder: HostBuilder::new(SCANNER, keep, true),
            stats: Stats::default(),
        }
    }

    /// Counts so far (complete once the iterator is exhausted).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Reads one element of `Results[]` (`null` allowed).
    fn read_block(&mut self, context: &str) -> Result<Option<Block>, JsonError> {
        let cur = &mut self.cur;
        if cur.null()? {
            return Ok(None);
        }
        cur.begin_object()?;
        let mut block = Block::default();
        while let Some(key) = cur.next_key()? {
            match key.as_str() {
                "Target" => block.target = cur.read()?,
                "Class" => block.class = cur.read()?,
                "Type" => block.kind = cur.read()?,
                "Vulnerabilities" => {
                    block.has_vulnerabilities = true;
                    if !cur.null()? {
                        cur.begin_array()?;
                        let mut j = 0u64;
                        while cur.next_element()? {
                            let v = cur.read::<Vuln>().map_err(|e| {
                                with_context(e, &format!("{context}.Vulnerabilities[{j}]"))
                            })?;
                            block.vulns.push(v);
                            j += 1;
                        }
                    }
                }
                "Misconfigurations" => self.stats.skip_n(SKIP_MISCONFIG, cur.count_elements()?),
                "Secrets" => self.stats.skip_n(SKIP_SECRET, cur.count_elements()?),
                "Licenses" => self.stats.skip_n(SKIP_LICENSE, cur.count_elements()?),
                _ => cur.skip()?,
            }
        }
        Ok(Some(block))
    }

    /// Folds a block into `builder`, remembering targets for naming.
    fn absorb(block: Block, builder: &mut HostBuilder, doc: &mut Doc, stats: &mut Stats) {
        if let Some(t) = block
            .target
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if doc.first_target.is_none() {
                doc.first_target = Some(t.to_owned());
            }
            if let (name, Some(os)) = split_target(t)
                && doc.first_os_target.is_none()
                && block.is_os()
            {
                doc.first_os_target = Some((name.to_owned(), os.to_owned()));
            }
        }
        let mut block = block;
        let vulns = std::mem::take(&mut block.vulns);
        for v in vulns {
            if let Some(p) = pending(v, &block, stats) {
                builder.add(p, stats);
            }
        }
    }

    /// Reads `Results[]` (or `null`) of the top-level object.
    fn read_results(&mut self) -> Result<(), JsonError> {
        self.doc.saw_results = true;
        if self.cur.null()? {
            return Ok(());
        }
        self.cur.begin_array()?;
        let mut i = 0u64;
        while self.cur.next_element()? {
            let context = format!("Results[{i}]");
            if let Some(block) = self.read_block(&context)? {
                Self::absorb(block, &mut self.builder, &mut self.doc, &mut self.stats);
            }
            i += 1;
        }
        Ok(())
    }

    /// The host of an ordinary report, at the end of the document.
    fn artifact_host(&mut self) -> NormalizedHost {
        let doc = &self.doc;
        let tags = doc.metadata.repo_tags.as_deref().unwrap_or_default();
        let mut asset = [
            doc.artifact_name.as_deref(),
            tags.iter().map(|t| t.trim()).find(|t| !t.is_empty()),
            doc.first_os_target.as_ref().map(|(n, _)| n.as_str()),
            doc.first_target.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find_map(artifact_asset)
        .unwrap_or_else(|| software::unnamed_asset(SCANNER));
        asset.os = doc
            .metadata
            .os
            .as_ref()
            .and_then(|os| {
                let family = os.family.as_deref().map(str::trim).unwrap_or_default();
                let name = os.name.as_deref().map(str::trim).unwrap_or_default();
                (!family.is_empty() && family != "none")
                    .then(|| format!("{family} {name}").trim().to_owned())
            })
            .or_else(|| doc.first_os_target.as_ref().map(|(_, os)| os.clone()));
        let observed_at = doc.created_at.unwrap_or(self.fallback_time);
        let builder = std::mem::replace(
            &mut self.builder,
            HostBuilder::new(SCANNER, self.keep, true),
        );
        self.stats.hosts += 1;
        self.stats.window(None, doc.created_at);
        builder.finish(asset, observed_at, None, doc.created_at)
    }

    /// Reads one Kubernetes resource; its host when it has package results.
    fn read_resource(&mut self, index: u64) -> Result<Option<NormalizedHost>, JsonError> {
        self.doc.resources_read += 1;
        if self.cur.null()? {
            return Ok(None);
        }
        self.cur.begin_object()?;
        let (mut namespace, mut kind, mut name, mut error) = (None, None, None, None);
        let mut builder = HostBuilder::new(SCANNER, self.keep, true);
        let mut doc = Doc::default();
        let mut packages = false;
        while let Some(key) = self.cur.next_key()? {
            match key.as_str() {
                "Namespace" => namespace = nonempty(self.cur.read()?),
                "Kind" => kind = nonempty(self.cur.read()?),
                "Name" => name = nonempty(self.cur.read()?),
                "Error" => error = nonempty(self.cur.read()?),
                "Results" => {
                    if !self.cur.null()? {
                        self.cur.begin_array()?;
                        let mut i = 0u64;
                        while self.cur.next_element()? {
                            let context = format!("Resources[{index}].Results[{i}]");
                            if let Some(block) = self.read_block(&context)? {
                                packages |= block.has_packages();
                                Self::absorb(block, &mut builder, &mut doc, &mut self.stats);
                            }
                            i += 1;
                        }
                    }
                }
                _ => self.cur.skip()?,
            }
        }
        if error.is_some() && !packages {
            self.stats.skip(SKIP_K8S_ERROR);
            return Ok(None);
        }
        if !packages {
            self.stats.skip(SKIP_K8S_NO_PACKAGES);
            return Ok(None);
        }
        let (Some(kind), Some(name)) = (kind, name) else {
            return Err(self.cur.error(format!(
                "Resources[{index}]: a Kubernetes resource without Kind or Name"
            )));
        };
        let asset_id = [self.doc.cluster.clone(), namespace, Some(kind), Some(name)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
        let asset = Asset {
            asset_id,
            os: doc.first_os_target.map(|(_, os)| os),
            ..Asset::default()
        };
        let observed_at = self.doc.created_at.unwrap_or(self.fallback_time);
        self.stats.hosts += 1;
        Ok(Some(builder.finish(
            asset,
            observed_at,
            None,
            self.doc.created_at,
        )))
    }

    fn step(&mut self) -> Result<Option<NormalizedHost>, JsonError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    if self.cur.is_empty()? {
                        return Err(self.cur.error("empty report: no JSON value"));
                    }
                    match self.cur.kind()? {
                        Kind::Null => {
                            self.cur.null()?;
                            self.cur.finish()?;
                            self.state = State::Done;
                            return Ok(None);
                        }
                        Kind::Array => {
                            self.cur.begin_array()?;
                            self.state = State::Legacy { index: 0 };
                        }
                        Kind::Object => {
                            self.cur.begin_object()?;
                            self.state = State::TopObject;
                        }
                        _ => {
                            return Err(self.cur.error(
                                "not a Trivy report: expected an object, an array or null",
                            ));
                        }
                    }
                }
                State::Legacy { index } => {
                    if self.cur.next_element()? {
                        let context = format!("[{index}]");
                        if let Some(block) = self.read_block(&context)? {
                            Self::absorb(block, &mut self.builder, &mut self.doc, &mut self.stats);
                        }
                        self.state = State::Legacy { index: index + 1 };
                    } else {
                        self.cur.finish()?;
                        self.state = State::Done;
                        return Ok(Some(self.artifact_host()));
                    }
                }
                State::Resources => {
                    if self.cur.next_element()? {
                        let index = self.doc.resources_read;
                        if let Some(host) = self.read_resource(index)? {
                            return Ok(Some(host));
                        }
                    } else {
                        self.state = State::TopObject;
                    }
                }
                State::TopObject => {
                    let Some(key) = self.cur.next_key()? else {
                        self.cur.finish()?;
                        self.state = State::Done;
                        if self.doc.kubernetes {
                            if self.doc.saw_results {
                                return Err(self
                                    .cur
                                    .error("a report with both Results and Kubernetes resources"));
                            }
                            return Ok(None);
                        }
                        return Ok(Some(self.artifact_host()));
                    };
                    match key.as_str() {
                        "SchemaVersion" => {
                            let v: Option<serde_json::Number> = self.cur.read()?;
                            if let Some(v) = v
                                && v.as_u64() != Some(2)
                            {
                                return Err(self.cur.error(format!(
                                    "unsupported Trivy SchemaVersion {v} (2 is supported)"
                                )));
                            }
                        }
                        "ArtifactName" => self.doc.artifact_name = nonempty(self.cur.read()?),
                        "CreatedAt" => {
                            let text: Option<String> = self.cur.read()?;
                            self.doc.created_at = software::instant(text.as_deref().unwrap_or(""))
                                .map_err(|e| self.cur.error(format!("CreatedAt: {e}")))?;
                        }
                        "Metadata" => {
                            let m: Option<Metadata> =
                                self.cur.read().map_err(|e| with_context(e, "Metadata"))?;
                            self.doc.metadata = m.unwrap_or_default();
                        }
                        "Results" => self.read_results()?,
                        "ClusterName" => {
                            if self.doc.resources_read > 0 {
                                return Err(self
                                    .cur
                                    .error("ClusterName after the Kubernetes resources it names"));
                            }
                            self.doc.cluster = nonempty(self.cur.read()?);
                            self.doc.kubernetes = true;
                        }
                        "Resources" | "Vulnerabilities" => {
                            self.doc.kubernetes = true;
                            if !self.cur.null()? {
                                self.cur.begin_array()?;
                                self.state = State::Resources;
                            }
                        }
                        "Misconfigurations" => {
                            self.doc.kubernetes = true;
                            let n = self.cur.count_elements()?;
                            self.stats.skip_n(SKIP_K8S_NO_PACKAGES, n);
                        }
                        _ => self.cur.skip()?,
                    }
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for TrivyReader<R> {
    type Item = Result<NormalizedHost, JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(host) => host.map(Ok),
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

impl<R: BufRead> std::iter::FusedIterator for TrivyReader<R> {}

/// Reads the whole report once, keeping nothing, and counts.
///
/// # Errors
/// The first [`JsonError`] (malformed JSON, a field of the wrong type, an
/// unsupported `SchemaVersion`, …), with its byte offset.
pub fn check<R: BufRead>(input: R) -> Result<Stats, JsonError> {
    let mut reader = TrivyReader::counting(input);
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

    fn hosts(text: &str) -> Result<Vec<NormalizedHost>, JsonError> {
        TrivyReader::new(text.as_bytes(), t()).collect()
    }

    const VULN: &str = r#"{"VulnerabilityID": "CVE-2000-1", "PkgName": "p", "InstalledVersion": "1.0", "FixedVersion": "1.1", "Severity": "HIGH"}"#;

    #[test]
    fn every_shape_of_document() {
        assert_eq!(hosts("null").unwrap().len(), 0);
        let skip = hosts(r#"{"SchemaVersion": 2, "ArtifactName": "img:1"}"#).unwrap();
        assert_eq!(skip.len(), 1);
        assert_eq!(skip[0].asset.asset_id, "img:1");
        assert!(skip[0].findings.is_empty());
        assert_eq!(skip[0].observed_at, t());

        let legacy = hosts(&format!(
            r#"[{{"Target": "app (alpine 3.7.1)", "Type": "alpine", "Vulnerabilities": [{VULN}]}}, {{"Target": "Gemfile.lock", "Vulnerabilities": null}}]"#
        ))
        .unwrap();
        assert_eq!(legacy.len(), 1);
        assert_eq!(legacy[0].asset.asset_id, "app");
        assert_eq!(legacy[0].asset.os.as_deref(), Some("alpine 3.7.1"));
        assert_eq!(
            legacy[0].findings[0].fingerprint,
            "trivy:v1:app:CVE-2000-1:p@1.0:"
        );

        // Key order does not matter: the artifact is named at the end.
        let late = hosts(&format!(
            r#"{{"Results": [{{"Target": "x", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": [{VULN}], "Misconfigurations": [{{}}, {{}}], "Secrets": null}}], "CreatedAt": "2025-03-04T10:00:00Z", "ArtifactName": "/opt/", "SchemaVersion": 2}}"#
        ))
        .unwrap();
        let f = &late[0].findings[0];
        assert_eq!(f.fingerprint, "trivy:v1:/opt:CVE-2000-1:p@1.0:x");
        assert_eq!(
            f.observed_at,
            "2025-03-04T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            f.remediation,
            Remediation::Package {
                name: "p".into(),
                fixed_version: "1.1".into()
            }
        );
        let stats = check(late_doc().as_bytes()).unwrap();
        assert_eq!(stats.skipped, [(SKIP_MISCONFIG.to_owned(), 2)]);
    }

    fn late_doc() -> String {
        format!(
            r#"{{"Results": [{{"Target": "x", "Vulnerabilities": [{VULN}], "Misconfigurations": [{{}}, {{}}]}}], "ArtifactName": "/opt"}}"#
        )
    }

    #[test]
    fn kubernetes_resources_are_hosts_streamed_one_by_one() {
        let doc = format!(
            r#"{{"ClusterName": "c1", "Resources": [
              {{"Namespace": "default", "Kind": "Deployment", "Name": "web", "Results": [{{"Target": "nginx:1 (debian 12)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [{VULN}]}}]}},
              {{"Kind": "ClusterRole", "Name": "admin", "Results": [{{"Target": "ClusterRole/admin", "Class": "config", "Misconfigurations": [{{"ID": "KSV1"}}]}}]}},
              {{"Kind": "Node", "Name": "n1", "Results": [{{"Target": "n1 (ubuntu 22.04)", "Class": "os-pkgs"}}]}}
            ]}}"#
        );
        let hs = hosts(&doc).unwrap();
        let ids: Vec<&str> = hs.iter().map(|h| h.asset.asset_id.as_str()).collect();
        assert_eq!(ids, ["c1/default/Deployment/web", "c1/Node/n1"]);
        assert_eq!(hs[0].findings.len(), 1);
        assert_eq!(hs[0].asset.os.as_deref(), Some("debian 12"));
        let stats = check(doc.as_bytes()).unwrap();
        assert_eq!(stats.hosts, 2);
        assert_eq!(stats.findings, 1);
        assert_eq!(
            stats.skipped,
            [
                (SKIP_MISCONFIG.to_owned(), 1),
                (SKIP_K8S_NO_PACKAGES.to_owned(), 1)
            ]
        );
        let late = r#"{"Resources": [{"Kind": "Pod", "Name": "a", "Results": [{"Class": "os-pkgs"}]}], "ClusterName": "c"}"#;
        let err = check(late.as_bytes()).unwrap_err();
        assert!(err.message.contains("ClusterName after"), "{err}");
    }

    #[test]
    fn the_older_kubernetes_layout() {
        // `trivy k8s` before Resources[]: top-level Vulnerabilities and
        // Misconfigurations lists of resources (DefectDojo's kubernetes.json).
        let doc = format!(
            r#"{{"ClusterName": "arn:aws:eks:us-east-1:1:cluster/test",
                "Vulnerabilities": [{{"Namespace": "default", "Kind": "Deployment", "Name": "redis-follower",
                  "Results": [{{"Target": "gcr.io/redis:v2 (debian 10.4)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [{VULN}]}}]}}],
                "Misconfigurations": [{{"Namespace": "default", "Kind": "Deployment", "Name": "redis-follower", "Results": []}}]}}"#
        );
        let hs = hosts(&doc).unwrap();
        assert_eq!(hs.len(), 1);
        assert_eq!(
            hs[0].asset.asset_id,
            "arn:aws:eks:us-east-1:1:cluster/test/default/Deployment/redis-follower"
        );
        assert_eq!(hs[0].findings.len(), 1);
        let stats = check(doc.as_bytes()).unwrap();
        assert_eq!(stats.skipped, [(SKIP_K8S_NO_PACKAGES.to_owned(), 1)]);
    }

    #[test]
    fn statuses_and_degenerate_records() {
        let doc = r#"{"SchemaVersion": 2, "ArtifactName": "a", "Results": [{"Target": "a (debian 10)", "Class": "os-pkgs", "Vulnerabilities": [
            {"PkgName": "only-a-name"},
            {"VulnerabilityID": "CVE-2000-2", "PkgName": "bash", "InstalledVersion": "5", "Status": "not_affected", "Severity": "LOW"},
            {"VulnerabilityID": "CVE-2000-3", "PkgName": "bash", "InstalledVersion": "5", "Status": "will_not_fix", "Severity": "LOW"},
            {"VulnerabilityID": "TEMP-1", "PkgName": "bash", "InstalledVersion": "5", "Status": "someday", "Severity": "UNKNOWN",
             "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 9.8, "V2Vector": "garbage"}}}
        ]}]}"#;
        let hs = hosts(doc).unwrap();
        let f = &hs[0].findings;
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].fix_state, Some(FixState::WontFix));
        assert!(
            matches!(&f[0].remediation, Remediation::Solution { text, .. } if text.contains("will_not_fix"))
        );
        assert_eq!(f[1].fix_state, Some(FixState::Unknown));
        assert_eq!(f[1].severity, Severity::Critical);
        assert!(f[1].cves.is_empty());
        let stats = check(doc.as_bytes()).unwrap();
        assert_eq!(stats.findings, 2);
        assert_eq!(
            stats.skipped,
            [
                (SKIP_NO_ID.to_owned(), 1),
                (SKIP_NOT_AFFECTED.to_owned(), 1),
                (SKIP_BAD_VECTOR.to_owned(), 1)
            ]
        );
    }

    #[test]
    fn broken_reports_are_rejected_with_a_reason() {
        let table = [
            (
                r#"{"SchemaVersion": 3}"#,
                "unsupported Trivy SchemaVersion 3",
            ),
            (r#""text""#, "not a Trivy report"),
            (
                r#"{"Results": [{"Vulnerabilities": [{"PkgName": 7}]}]}"#,
                "Results[0].Vulnerabilities[0]: invalid type",
            ),
            (
                r#"{"Results": [{"Vulnerabilities": [{"PkgName": "x""#,
                "truncated",
            ),
            (r#"{"CreatedAt": "soon"}"#, "CreatedAt"),
            ("", "empty report"),
            ("null null", "trailing data"),
        ];
        for (doc, want) in table {
            let err = check(doc.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(want), "{doc}: {err}");
            let from_hosts = hosts(doc).unwrap_err().to_string();
            assert_eq!(from_hosts, err, "{doc}");
        }
    }
}
