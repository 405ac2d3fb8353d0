//! From a parsed Nessus [`ReportHost`] to the events model: the host's
//! [`Asset`], its scan time, its findings ([`Observation`]s, severity 1–4) and
//! its informational items ([`AssetFact`]s, severity 0).
//!
//! Pure: no clock (the fallback time is passed in), no I/O.
//!
//! # Rules
//!
//! - **Asset identity** ([`host_asset`]): the lower-case short host name when
//!   one is known — the `hostname` tag, else the first label of `host-fqdn`,
//!   else `netbios-name`, else `ReportHost@name`; IP literals are not names,
//!   and a URL (Nessus WAS, `http://google.com/`) stands for its whole host
//!   (`google.com`) — else the IP address, else the raw name.
//! - **Scan time** (`observed_at`, UTC): `HOST_START_TIMESTAMP`, else
//!   `HOST_START` (zone-less text read as UTC), else `HOST_END_TIMESTAMP`,
//!   else `HOST_END`, else the caller's fallback.
//! - **Severity**: Nessus 0 is informational (a fact, never a finding); 1 low,
//!   2 medium, 3 high, 4 critical. The scanner's severity is kept as written
//!   even when its CVSS v3 score says otherwise (plugin 142591: severity 2,
//!   CVSS v3 7.5): the vectors travel with the finding and prioritize scores
//!   them, the vector winning over the label.
//! - **Identity of a finding**: the fingerprint
//!   `nessus:v1:<asset_id>:<pluginID>:<port>/<protocol lower-case>` and
//!   `finding_id = UUIDv5(FINDING_NAMESPACE, fingerprint)`. Items of one host
//!   with the same fingerprint (a plugin reporting twice on one port) are
//!   merged into one observation.
//! - **Identifiers**: CVEs upper-case, de-duplicated, report order; CWEs as
//!   numbers from `<cwe>` and `CWE:` xrefs (`CWE-20`, `CWE:20`, `20`),
//!   sorted and de-duplicated.
//! - **CVSS vectors** in canonical spelling ([`canonical_cvss`]), reported
//!   scores kept beside them; nothing is scored here.
//! - **Remediation** ([`remediation`]): a local check's `Should be` line
//!   ([`crate::nessus::PackageFix`]) makes a package upgrade to that exact
//!   version (the package also goes into `package`); several lines make the
//!   advisory the plugin is named after (`RHSA-2024:4420`, `USN-6409-1`),
//!   which the host's package manager resolves; otherwise (or with several
//!   packages and no advisory) the plugin's solution text, which schedule
//!   plans as a manual task.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use events::{
    Asset, AssetFact, AssetSource, AssetUpserted, Check, CvssVector, CvssVersion, FindingObserved,
    FixState, Package, Remediation, Severity,
};
use uuid::Uuid;

use crate::identity;
use crate::nessus::{PackageFix, ReportHost, ReportItem};

/// The scanner family name used in checks, remediations and CVSS sources.
pub const SCANNER: &str = "nessus";

/// The UUID namespace of finding ids: `finding_id = UUIDv5(FINDING_NAMESPACE,
/// fingerprint)`.
///
/// Fixed forever (changing it would change every finding id). It is itself
/// `UUIDv5(NAMESPACE_URL, "https://github.com/patchflow/patchflow/ns/finding")`
/// = `dd965c77-0806-5ad7-93a7-e0c8dd59e31b`.
pub const FINDING_NAMESPACE: Uuid = Uuid::from_u128(0xdd96_5c77_0806_5ad7_93a7_e0c8_dd59_e31b);

/// A finding as one report observed it: every field of
/// [`FindingObserved`] except `asset`, `scan_id` and `first_observed_at`,
/// which the adapter supplies ([`Observation::to_finding`]): the asset is the
/// host's [`NormalizedHost::asset`] after inventory enrichment, and the first
/// observation comes from ingest's fingerprint state.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `UUIDv5(FINDING_NAMESPACE, fingerprint)`.
    pub finding_id: Uuid,
    /// `nessus:v1:<asset_id>:<pluginID>:<port>/<protocol>`.
    pub fingerprint: String,
    /// The Nessus plugin.
    pub check: Check,
    /// Port; `0` = host level.
    pub port: u16,
    /// Lower-case protocol.
    pub protocol: String,
    /// Nessus severity 1–4 as low…critical.
    pub severity: Severity,
    /// Service name as reported (`www`, `http?`).
    pub service: Option<String>,
    /// CVE ids, upper case, de-duplicated, report order.
    pub cves: Vec<String>,
    /// CWE numbers, sorted, de-duplicated.
    pub cwes: Vec<u32>,
    /// CVSS vectors in canonical spelling (v2, then v3, then v4).
    pub cvss: Vec<CvssVector>,
    /// What fixes it (the plugin's solution for Nessus).
    pub remediation: Remediation,
    /// The host's scan time (UTC).
    pub observed_at: DateTime<Utc>,
    /// The affected package, for software scanners.
    pub package: Option<Package>,
    /// The scanner's fix status, when it reports one.
    pub fix_state: Option<FixState>,
}

impl Observation {
    /// The `patch.finding.observed` payload for this observation on `asset`
    /// (normally [`NormalizedHost::asset`], enriched from inventory), in scan
    /// `scan_id`, first observed at `first_observed_at` (UTC).
    pub fn to_finding(
        &self,
        asset: &Asset,
        scan_id: Uuid,
        first_observed_at: DateTime<Utc>,
    ) -> FindingObserved {
        FindingObserved {
            finding_id: self.finding_id,
            fingerprint: self.fingerprint.clone(),
            scan_id,
            asset: asset.clone(),
            check: self.check.clone(),
            port: self.port,
            protocol: self.protocol.clone(),
            service: self.service.clone(),
            severity: self.severity,
            cves: self.cves.clone(),
            cwes: self.cwes.clone(),
            cvss: self.cvss.clone(),
            remediation: self.remediation.clone(),
            observed_at: self.observed_at,
            first_observed_at,
            package: self.package.clone(),
            fix_state: self.fix_state,
            reopened: false,
        }
    }

    /// Folds a repeat of the same fingerprint into this observation: the
    /// higher severity, the union of CVEs (report order), CWEs and vectors;
    /// the first item's check, service and solution stay.
    fn merge(&mut self, other: Observation) {
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
            if !self
                .cvss
                .iter()
                .any(|c| c.version == v.version && c.vector == v.vector)
            {
                self.cvss.push(v);
            }
        }
    }
}

/// One host of a report in the events model.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedHost {
    /// The asset as the scanner described it (no inventory attributes yet).
    pub asset: Asset,
    /// The host's scan time (UTC), see the module rules.
    pub observed_at: DateTime<Utc>,
    /// When the host's scan started (UTC), when the report says.
    pub started_at: Option<DateTime<Utc>>,
    /// When the host's scan ended (UTC), when the report says.
    pub finished_at: Option<DateTime<Utc>>,
    /// Findings (severity 1–4), one per fingerprint, in report order.
    pub findings: Vec<Observation>,
    /// Informational items (severity 0), in report order.
    pub facts: Vec<AssetFact>,
}

impl NormalizedHost {
    /// The `patch.asset.upserted` payload for this host, as scan `scan_id`
    /// saw it (source `scan`, with its facts).
    pub fn asset_upserted(&self, scan_id: Uuid) -> AssetUpserted {
        AssetUpserted {
            asset: self.asset.clone(),
            source: AssetSource::Scan,
            scan_id: Some(scan_id),
            facts: self.facts.clone(),
        }
    }
}

/// Normalizes one host. `fallback_time` (UTC) is the scan time used when the
/// host states none (normally the time the report was submitted).
///
/// The same as [`normalize_report_host`] on a copy of `host`.
pub fn normalize_host(host: &ReportHost, fallback_time: DateTime<Utc>) -> NormalizedHost {
    normalize_report_host(host.clone(), fallback_time)
}

/// Normalizes one host, taking it: the texts the result keeps (plugin
/// names, families, services, solutions, CVEs, protocols) are moved into
/// it rather than copied. `fallback_time` (UTC) is the scan time used when
/// the host states none (normally the time the report was submitted).
pub fn normalize_report_host(host: ReportHost, fallback_time: DateTime<Utc>) -> NormalizedHost {
    let asset = host_asset(&host);
    let started_at = host.properties.started_at();
    let finished_at = host.properties.ended_at();
    let observed_at = started_at.or(finished_at).unwrap_or(fallback_time);
    let info_items = host.items.iter().filter(|i| i.severity == 0).count();
    let mut findings: Vec<Observation> = Vec::with_capacity(host.items.len() - info_items);
    // The first finding of each (pluginID, port): the fingerprint's parts
    // besides the host's asset id and the protocol, which is compared on a
    // hit (the fingerprint is `…:<pluginID>:<port>/<protocol>`, so equal
    // parts are equal fingerprints and the other way round).
    let mut by_check: HashMap<(u32, u16), usize> = HashMap::with_capacity(findings.capacity());
    let mut facts = Vec::with_capacity(info_items);
    for mut item in host.items {
        let protocol = lowercase(std::mem::take(&mut item.protocol));
        if item.severity == 0 {
            facts.push(AssetFact {
                check_id: item.plugin_id.to_string(),
                name: item.plugin_name,
                port: item.port,
                protocol,
                service: item.svc_name,
            });
            continue;
        }
        let key = (item.plugin_id, item.port);
        let obs = observation(&asset.asset_id, item, protocol, observed_at);
        let same = match by_check.get(&key) {
            Some(&i)
                if findings
                    .get(i)
                    .is_some_and(|f| f.fingerprint == obs.fingerprint) =>
            {
                Some(i)
            }
            // Another protocol on the same plugin and port (rare): any
            // earlier finding with this fingerprint.
            Some(_) => findings
                .iter()
                .position(|f| f.fingerprint == obs.fingerprint),
            None => None,
        };
        match same {
            Some(i) => {
                if let Some(first) = findings.get_mut(i) {
                    first.merge(obs);
                }
            }
            None => {
                by_check.entry(key).or_insert(findings.len());
                findings.push(obs);
            }
        }
    }
    NormalizedHost {
        asset,
        observed_at,
        started_at,
        finished_at,
        findings,
        facts,
    }
}

/// `text.to_lowercase()`, in place when it is ASCII (where the two agree).
fn lowercase(mut text: String) -> String {
    if text.is_ascii() {
        text.make_ascii_lowercase();
        text
    } else {
        text.to_lowercase()
    }
}

/// The scanner's view of a host as an [`Asset`] (inventory attributes unset).
///
/// - `asset_id`: see the module rules.
/// - `hostname`: the name the id came from, case kept (a short name, or a
///   URL's whole host).
/// - `ip`: `host-ip`, else `ReportHost@name`, `host-fqdn` or `host-rdns` when
///   one of them is an IP literal.
/// - `fqdn`: `host-fqdn` (a URL's host), else `host-rdns`, else a dotted
///   `ReportHost@name`, whichever is not an IP literal.
/// - `os`, `mac`: `operating-system`, `mac-address` as reported.
pub fn host_asset(host: &ReportHost) -> Asset {
    let p = &host.properties;
    let name = host.name.trim();
    let fqdn_tag = p.host_fqdn.as_deref().map(str::trim);
    let hostname = [
        p.hostname.as_deref(),
        fqdn_tag,
        p.netbios_name.as_deref(),
        Some(name),
    ]
    .into_iter()
    .flatten()
    .find_map(identity::host_name_of);
    let ip = p
        .host_ip
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .or_else(|| {
            [Some(name), fqdn_tag, p.host_rdns.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .find(|s| identity::is_ip(s))
        })
        .map(str::to_owned);
    let as_fqdn = |s: &str| {
        let host = identity::url_host(s).unwrap_or(s).trim();
        (!host.is_empty() && !identity::is_ip(host)).then(|| host.to_owned())
    };
    let fqdn = fqdn_tag
        .and_then(as_fqdn)
        .or_else(|| p.host_rdns.as_deref().and_then(as_fqdn))
        .or_else(|| as_fqdn(name).filter(|n| n.contains('.')));
    let asset_id = identity::asset_id(hostname.as_deref(), ip.as_deref())
        .unwrap_or_else(|| name.to_lowercase());
    Asset {
        asset_id,
        hostname,
        ip,
        fqdn,
        os: p.operating_system.clone(),
        mac: p.mac_address.clone(),
        ..Asset::default()
    }
}

/// `nessus:v1:<asset_id>:<plugin_id>:<port>/<protocol>`, protocol lower-cased.
pub fn fingerprint(asset_id: &str, plugin_id: u32, port: u16, protocol: &str) -> String {
    format!(
        "nessus:v1:{asset_id}:{plugin_id}:{port}/{}",
        protocol.to_lowercase()
    )
}

/// `UUIDv5(FINDING_NAMESPACE, fingerprint)`.
pub fn finding_id(fingerprint: &str) -> Uuid {
    Uuid::new_v5(&FINDING_NAMESPACE, fingerprint.as_bytes())
}

/// The normalized severity of a Nessus `severity` (0–4; above 4 is critical).
pub fn severity(nessus: u8) -> Severity {
    match nessus {
        0 => Severity::Info,
        1 => Severity::Low,
        2 => Severity::Medium,
        3 => Severity::High,
        _ => Severity::Critical,
    }
}

/// A CWE number from `CWE-20`, `CWE:20`, `cwe 20` or `20`; `None` for
/// anything else (`NVD-CWE-noinfo`, `NVD-CWE-Other`, empty).
pub fn parse_cwe(text: &str) -> Option<u32> {
    let t = text.trim();
    let digits = match t.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("cwe") => t
            .get(3..)
            .unwrap_or_default()
            .trim_start_matches(['-', ':', ' ']),
        _ => t,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Which Nessus element a vector came from, which decides the version of a
/// vector written without a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorField {
    /// `cvss_vector`: bare means CVSS v2.
    V2,
    /// `cvss3_vector`: bare means CVSS v3.0 (Nessus writes 3.0).
    V3,
    /// `cvss4_vector`: bare means CVSS v4.0.
    V4,
}

/// A vector in its canonical spelling and version ([`CvssVector::vector`]):
/// v2 bare (`CVSS2#` and surrounding parentheses removed), v3 with its
/// `CVSS:3.0/` or `CVSS:3.1/` prefix exactly once, v4 with `CVSS:4.0/`.
///
/// A version prefix wins over the field; a vector without one takes the
/// field's version (see [`VectorField`]). Stacked prefixes
/// (`CVSS:3.0/CVSS:3.1/…`, a peer's bug) collapse to the innermost one.
/// Metrics are not checked here (prioritize scores the vector and refuses a
/// bad one); only the shape `KEY:VALUE/KEY:VALUE…` is.
///
/// # Errors
/// A one-phrase reason: an unknown `CVSS:x.y/` version, or a body that is not
/// `/`-separated `KEY:VALUE` pairs.
pub fn canonical_cvss(field: VectorField, raw: &str) -> Result<(CvssVersion, String), String> {
    let (version, body) = cvss_shape(field, raw)?;
    let vector = match version {
        CvssVersion::V2 => body.to_owned(),
        v => {
            let prefix = v.as_str();
            let mut vector = String::with_capacity("CVSS:/".len() + prefix.len() + body.len());
            vector.push_str("CVSS:");
            vector.push_str(prefix);
            vector.push('/');
            vector.push_str(body);
            vector
        }
    };
    Ok((version, vector))
}

/// What [`canonical_cvss`] checks, without building the canonical text:
/// the version and the metrics part of `raw` (`AV:N/AC:L/…`, no prefix,
/// no trailing `/`), borrowed from `raw`. The parsers call it to refuse a
/// report with a bad vector before any finding is published.
///
/// # Errors
/// As [`canonical_cvss`].
pub fn cvss_shape(field: VectorField, raw: &str) -> Result<(CvssVersion, &str), String> {
    let mut s = raw.trim();
    if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        s = inner.trim();
    }
    let mut version = None;
    if let Some(rest) = s.strip_prefix("CVSS2#") {
        s = rest;
        version = Some(CvssVersion::V2);
    }
    while let Some(rest) = s.strip_prefix("CVSS:") {
        let (label, body) = rest.split_once('/').unwrap_or((rest, ""));
        version = Some(match label {
            "3.0" => CvssVersion::V3_0,
            "3.1" => CvssVersion::V3_1,
            "4.0" => CvssVersion::V4_0,
            other => return Err(format!("has an unknown version prefix CVSS:{other}")),
        });
        s = body;
    }
    let body = s.trim().trim_end_matches('/');
    if !is_metric_list(body) {
        return Err("is not a CVSS vector (KEY:VALUE/KEY:VALUE…)".to_owned());
    }
    let version = version.unwrap_or(match field {
        VectorField::V2 => CvssVersion::V2,
        VectorField::V3 => CvssVersion::V3_0,
        VectorField::V4 => CvssVersion::V4_0,
    });
    Ok((version, body))
}

/// Whether `body` is one or more `KEY:VALUE` pairs joined by `/`, each key
/// and value one or more ASCII letters or digits: one pass over the bytes.
fn is_metric_list(body: &str) -> bool {
    /// Where in a pair the last byte left the scan.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum At {
        KeyStart,
        Key,
        ValueStart,
        Value,
    }
    let mut at = At::KeyStart;
    for b in body.bytes() {
        at = match (at, b) {
            (At::KeyStart | At::Key, b) if b.is_ascii_alphanumeric() => At::Key,
            (At::Key, b':') => At::ValueStart,
            (At::ValueStart | At::Value, b) if b.is_ascii_alphanumeric() => At::Value,
            (At::Value, b'/') => At::KeyStart,
            _ => return false,
        };
    }
    at == At::Value
}

/// The observation of finding `item` on the host `asset_id`; `protocol`
/// is the item's, lower-cased.
fn observation(
    asset_id: &str,
    mut item: ReportItem,
    protocol: String,
    observed_at: DateTime<Utc>,
) -> Observation {
    let fingerprint = if protocol.is_ascii() {
        // `fingerprint`'s text, the protocol being lower case already.
        use std::fmt::Write as _;
        let mut text =
            String::with_capacity("nessus:v1:::/".len() + asset_id.len() + 10 + 5 + protocol.len());
        let _ = write!(
            text,
            "nessus:v1:{asset_id}:{}:{}/{protocol}",
            item.plugin_id, item.port
        );
        text
    } else {
        fingerprint(asset_id, item.plugin_id, item.port, &protocol)
    };
    let mut cves: Vec<String> = Vec::with_capacity(item.cves.len());
    for cve in std::mem::take(&mut item.cves) {
        let cve = uppercase_trimmed(cve);
        if !cve.is_empty() && !cves.contains(&cve) {
            cves.push(cve);
        }
    }
    let mut cwes: Vec<u32> = item
        .cwes
        .iter()
        .filter_map(|c| parse_cwe(c))
        .chain(item.xrefs.iter().filter_map(|x| {
            let (kind, value) = x.split_once(':')?;
            if kind.trim().eq_ignore_ascii_case("cwe") {
                parse_cwe(value)
            } else {
                None
            }
        }))
        .collect();
    cwes.sort_unstable();
    cwes.dedup();
    let cvss = [
        (VectorField::V2, &item.cvss_vector, item.cvss_base_score),
        (VectorField::V3, &item.cvss3_vector, item.cvss3_base_score),
        (VectorField::V4, &item.cvss4_vector, item.cvss4_base_score),
    ]
    .into_iter()
    .filter_map(|(field, raw, score)| {
        // The parser already refused reports with a vector that does not
        // canonicalize, so nothing is dropped here for a parsed report.
        let (version, vector) = canonical_cvss(field, raw.as_deref()?).ok()?;
        Some(CvssVector {
            version,
            vector,
            reported_score: score,
            source: SCANNER.to_owned(),
        })
    })
    .collect();
    let solution = item.solution.take();
    let remediation = remediation_with(&item, solution);
    let package = single_package(&item);
    Observation {
        finding_id: finding_id(&fingerprint),
        fingerprint,
        check: Check {
            scanner: SCANNER.to_owned(),
            id: item.plugin_id.to_string(),
            name: item.plugin_name,
            family: item.plugin_family,
        },
        port: item.port,
        protocol,
        service: item.svc_name,
        severity: severity(item.severity),
        cves,
        cwes,
        cvss,
        remediation,
        observed_at,
        package,
        fix_state: None,
    }
}

/// `text.trim().to_uppercase()`, in place when it is ASCII and trimmed
/// already (where the two agree).
fn uppercase_trimmed(mut text: String) -> String {
    if text.is_ascii() && text.trim().len() == text.len() {
        text.make_ascii_uppercase();
        text
    } else {
        text.trim().to_uppercase()
    }
}

/// A package line of a local check split into the package manager's name
/// and version, with its ecosystem (`deb`, `rpm`, `apk`), or `None` when
/// it does not split.
///
/// The format follows the plugin family: Debian and Ubuntu checks print
/// dpkg `name_version` (`libssl1.0.0_1.0.1t-1+deb8u7`: a Debian package
/// name never holds `_`); Alpine checks `name-version-rN`; every other
/// family RPM `name-version-release` (`curl-7.76.1-40.el9_8.5`: name up to
/// the second-last `-`). Without a known family, a value is read as dpkg
/// when its part before the first `_` holds no `-`, or when the part after
/// it starts with a digit (a dpkg version or epoch) while the RPM reading
/// gives a version that does not (`openssh-server_1:8.9p1-3ubuntu0.6`
/// would be package `openssh` at `server_1:8.9p1-…`); anything else as RPM.
pub fn package_fix(family: Option<&str>, text: &str) -> Option<(String, String, &'static str)> {
    let family = family.unwrap_or_default().to_ascii_lowercase();
    let dpkg = |t: &str| {
        let (name, version) = t.split_once('_')?;
        (!name.is_empty() && !version.is_empty())
            .then(|| (name.to_owned(), version.to_owned(), "deb"))
    };
    let nvr = |t: &str, eco: &'static str| {
        let (rest, release) = t.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        (!name.is_empty() && !version.is_empty() && !release.is_empty())
            .then(|| (name.to_owned(), format!("{version}-{release}"), eco))
    };
    if family.contains("debian") || family.contains("ubuntu") {
        dpkg(text)
    } else if family.contains("alpine") {
        nvr(text, "apk")
    } else if family.contains("local security checks") {
        nvr(text, "rpm")
    } else {
        let starts_with_digit = |v: &str| v.bytes().next().is_some_and(|b| b.is_ascii_digit());
        match text.split_once('_') {
            Some((before, _)) if !before.contains('-') => dpkg(text),
            Some((_, after))
                if starts_with_digit(after)
                    && !nvr(text, "rpm").is_some_and(|(_, v, _)| starts_with_digit(&v)) =>
            {
                dpkg(text)
            }
            _ => nvr(text, "rpm"),
        }
    }
}

/// Vendor advisory id prefixes a plugin name may carry (Red Hat, Ubuntu,
/// Debian, Oracle, Amazon, CentOS, Rocky, Alma, SUSE, openSUSE, Fedora).
const ADVISORY_PREFIXES: [&str; 15] = [
    "RHSA-",
    "RHBA-",
    "RHEA-",
    "USN-",
    "DSA-",
    "DLA-",
    "ELSA-",
    "ALAS-",
    "ALAS2-",
    "CESA-",
    "RLSA-",
    "ALSA-",
    "SUSE-SU-",
    "OPENSUSE-SU-",
    "FEDORA-",
];

/// The one vendor advisory a plugin is named after (`RHEL 9 : curl
/// (RHSA-2025:23974)`, `Ubuntu 22.04 LTS : GNU C Library vulnerabilities
/// (USN-6409-1)`, `Debian DSA-4121-1 : gcc-4.9 - security update`), as
/// written; `None` when it names none or several.
pub fn named_advisory(plugin_name: &str) -> Option<String> {
    let mut found: Vec<&str> = plugin_name
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .map(|t| t.trim_end_matches(':'))
        .filter(|t| {
            let upper = t.to_ascii_uppercase();
            ADVISORY_PREFIXES.iter().any(|p| {
                upper
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.bytes().next().is_some_and(|b| b.is_ascii_digit()))
            })
        })
        .collect();
    found.dedup();
    match found.as_slice() {
        [one] => Some((*one).to_owned()),
        _ => None,
    }
}

/// The remediation of a Nessus item (see the module rules).
pub fn remediation(item: &ReportItem) -> Remediation {
    remediation_with(item, item.solution.clone())
}

/// [`remediation`] with the item's `<solution>` given apart (taken from
/// the item by a caller that owns it).
fn remediation_with(item: &ReportItem, solution_text: Option<String>) -> Remediation {
    let family = item.plugin_family.as_deref();
    let fixes: Vec<(String, String, &'static str)> = item
        .package_fixes
        .iter()
        .filter_map(|f| package_fix(family, &f.fixed))
        .collect();
    match fixes.as_slice() {
        [(name, fixed_version, _)] if item.package_fixes.len() == 1 => Remediation::Package {
            name: name.clone(),
            fixed_version: fixed_version.clone(),
        },
        [] => solution(item, solution_text, &[]),
        _ => match named_advisory(&item.plugin_name) {
            Some(id) => Remediation::Advisory { id },
            None => solution(item, solution_text, &item.package_fixes),
        },
    }
}

/// The plugin's solution text; with several packages and no advisory to
/// name, the packages and their fixed versions follow it, so the manual
/// task says what to install.
///
/// `text` is the item's `<solution>`.
fn solution(item: &ReportItem, text: Option<String>, fixes: &[PackageFix]) -> Remediation {
    let mut text = text.unwrap_or_else(|| "n/a".to_owned());
    if !fixes.is_empty() {
        let list: Vec<&str> = fixes.iter().map(|f| f.fixed.as_str()).collect();
        text.push_str(&format!(" (should be: {})", list.join(", ")));
    }
    Remediation::Solution {
        scanner: SCANNER.to_owned(),
        check_id: item.plugin_id.to_string(),
        text,
    }
}

/// The affected package of an item with exactly one package line.
fn single_package(item: &ReportItem) -> Option<Package> {
    let [fix] = item.package_fixes.as_slice() else {
        return None;
    };
    let family = item.plugin_family.as_deref();
    let (name, fixed, ecosystem) = package_fix(family, &fix.fixed)?;
    let installed = fix
        .installed
        .as_deref()
        .and_then(|i| package_fix(family, i))
        .filter(|(n, _, _)| *n == name)
        .map(|(_, v, _)| v)
        .unwrap_or_default();
    Some(Package {
        name,
        version: installed,
        ecosystem: Some(ecosystem.to_owned()),
        purl: None,
        locations: Vec::new(),
        fixed_versions: vec![fixed],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nessus::HostProperties;

    #[test]
    fn finding_namespace_is_the_documented_v5() {
        assert_eq!(
            FINDING_NAMESPACE,
            Uuid::new_v5(
                &Uuid::NAMESPACE_URL,
                b"https://github.com/patchflow/patchflow/ns/finding"
            )
        );
    }

    #[test]
    fn vectors_get_their_canonical_spelling() {
        use CvssVersion::*;
        use VectorField as F;
        let table = [
            (
                F::V2,
                "CVSS2#AV:N/AC:L/Au:N/C:P/I:N/A:N",
                Ok((V2, "AV:N/AC:L/Au:N/C:P/I:N/A:N")),
            ),
            (
                F::V2,
                "(AV:N/AC:L/Au:N/C:P/I:N/A:N)",
                Ok((V2, "AV:N/AC:L/Au:N/C:P/I:N/A:N")),
            ),
            (
                F::V3,
                "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                Ok((V3_0, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N")),
            ),
            (
                F::V3,
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                Ok((V3_1, "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H")),
            ),
            (
                F::V3,
                "CVSS:3.0/CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                Ok((V3_1, "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H")),
            ),
            (
                F::V4,
                "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                Ok((
                    V4_0,
                    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                )),
            ),
            (
                F::V3,
                " CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N/ ",
                Ok((V3_0, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N")),
            ),
        ];
        for (field, raw, want) in table {
            let got = canonical_cvss(field, raw);
            let want = want.map(|(v, s): (CvssVersion, &str)| (v, s.to_owned()));
            assert_eq!(got, want, "{raw}");
        }
        for bad in ["CVSS:3.7/AV:N", "garbage", "", "AV:N//AC:L", "CVSS:3.1/"] {
            assert!(canonical_cvss(F::V3, bad).is_err(), "{bad} accepted");
        }
    }

    /// The one-pass scan accepts exactly what splitting on `/` and the
    /// first `:` accepts.
    #[test]
    fn metric_list_scan_matches_the_split_rule() {
        let split_rule = |body: &str| {
            !body.is_empty()
                && body.split('/').all(|metric| {
                    metric.split_once(':').is_some_and(|(k, v)| {
                        !k.is_empty()
                            && !v.is_empty()
                            && k.bytes().all(|b| b.is_ascii_alphanumeric())
                            && v.bytes().all(|b| b.is_ascii_alphanumeric())
                    })
                })
        };
        let pieces = ["A", "AV", "N", ":", "/", "9", "é", " ", "-", ""];
        let mut bodies = vec![String::new()];
        for _ in 0..5 {
            bodies = bodies
                .iter()
                .flat_map(|b| pieces.iter().map(move |p| format!("{b}{p}")))
                .collect();
            for body in &bodies {
                assert_eq!(is_metric_list(body), split_rule(body), "{body:?}");
            }
        }
    }

    #[test]
    fn cwe_spellings_become_one_number() {
        let table = [
            ("CWE-20", Some(20)),
            ("CWE:20", Some(20)),
            ("cwe 79", Some(79)),
            ("79", Some(79)),
            (" 352 ", Some(352)),
            ("NVD-CWE-noinfo", None),
            ("CWE-", None),
            ("-5", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_cwe(text), want, "{text}");
        }
    }

    fn host(name: &str, props: HostProperties) -> ReportHost {
        ReportHost {
            name: name.to_owned(),
            properties: props,
            items: vec![],
        }
    }

    #[test]
    fn asset_identity_follows_the_documented_order() {
        let tags = |hostname: Option<&str>,
                    fqdn: Option<&str>,
                    netbios: Option<&str>,
                    ip: Option<&str>| {
            HostProperties {
                hostname: hostname.map(str::to_owned),
                host_fqdn: fqdn.map(str::to_owned),
                netbios_name: netbios.map(str::to_owned),
                host_ip: ip.map(str::to_owned),
                ..HostProperties::default()
            }
        };
        let table = [
            (
                host(
                    "10.0.0.1",
                    tags(
                        Some("Host-A"),
                        Some("other.example"),
                        Some("NB"),
                        Some("10.0.0.1"),
                    ),
                ),
                "host-a",
            ),
            (
                host(
                    "10.0.0.1",
                    tags(
                        None,
                        Some("Web01.Example.com"),
                        Some("NB"),
                        Some("10.0.0.1"),
                    ),
                ),
                "web01",
            ),
            (
                host(
                    "10.0.0.1",
                    tags(
                        None,
                        Some("10.0.0.1"),
                        Some("MIKE-MACBOOK"),
                        Some("10.0.0.1"),
                    ),
                ),
                "mike-macbook",
            ),
            (
                host("Srv.Corp.example", tags(None, None, None, None)),
                "srv",
            ),
            (
                host(
                    "http://google.com/",
                    tags(None, Some("http://google.com/"), None, None),
                ),
                "google.com",
            ),
            (
                host(
                    "192.168.2.104",
                    tags(None, None, None, Some("192.168.2.104")),
                ),
                "192.168.2.104",
            ),
            (
                host("2001:DB8::0:1", tags(None, None, None, None)),
                "2001:db8::1",
            ),
        ];
        for (h, want) in table {
            assert_eq!(host_asset(&h).asset_id, want, "{h:?}");
        }
    }

    #[test]
    fn asset_fields_fall_back_per_notes() {
        let was = host_asset(&host(
            "http://google.com/",
            HostProperties {
                host_fqdn: Some("http://google.com/".into()),
                ..HostProperties::default()
            },
        ));
        assert_eq!(was.hostname.as_deref(), Some("google.com"));
        assert_eq!(was.fqdn.as_deref(), Some("google.com"));
        assert_eq!(was.ip, None);
        let bare = host_asset(&host("10.1.2.3", HostProperties::default()));
        assert_eq!(bare.ip.as_deref(), Some("10.1.2.3"));
        assert_eq!((bare.hostname, bare.fqdn), (None, None));
    }

    #[test]
    fn fingerprint_and_id_are_stable() {
        let fp = fingerprint("qa3app09", 10114, 0, "ICMP");
        assert_eq!(fp, "nessus:v1:qa3app09:10114:0/icmp");
        assert_eq!(
            finding_id(&fp),
            Uuid::new_v5(&FINDING_NAMESPACE, fp.as_bytes())
        );
        assert_ne!(
            finding_id(&fp),
            finding_id("nessus:v1:qa3app08:10114:0/icmp")
        );
    }

    #[test]
    fn repeated_items_merge_into_one_observation() {
        let item = |sev: u8, cve: &str| ReportItem {
            plugin_id: 58987,
            plugin_name: "PHP Unsupported Version Detection".into(),
            port: 80,
            protocol: "TCP".into(),
            severity: sev,
            cves: vec![cve.into()],
            ..ReportItem::default()
        };
        let mut h = host("web", HostProperties::default());
        h.items = vec![item(3, "cve-2000-1"), item(4, "CVE-2000-2"), item(0, "")];
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let n = normalize_host(&h, t);
        assert_eq!(n.observed_at, t);
        assert_eq!(n.findings.len(), 1);
        let f = &n.findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.cves, ["CVE-2000-1", "CVE-2000-2"]);
        assert_eq!(f.protocol, "tcp");
        assert_eq!(f.fingerprint, "nessus:v1:web:58987:80/tcp");
        assert_eq!(
            f.remediation,
            Remediation::Solution {
                scanner: "nessus".into(),
                check_id: "58987".into(),
                text: "n/a".into()
            }
        );
        assert_eq!(n.facts.len(), 1);
        assert_eq!(n.facts[0].protocol, "tcp");
    }

    #[test]
    fn only_items_with_one_fingerprint_merge() {
        let item = |port: u16, protocol: &str, cve: &str| ReportItem {
            plugin_id: 11219,
            plugin_name: "Nessus SYN scanner".into(),
            port,
            protocol: protocol.into(),
            severity: 2,
            cves: vec![cve.into()],
            ..ReportItem::default()
        };
        let mut h = host("web", HostProperties::default());
        h.items = vec![
            item(80, "tcp", "CVE-2000-1"),
            item(80, "udp", "CVE-2000-2"),
            item(443, "tcp", "CVE-2000-3"),
            item(80, "UDP", " cve-2000-4 "),
            item(80, "TCP", "CVE-2000-5"),
        ];
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let n = normalize_report_host(h.clone(), t);
        assert_eq!(n, normalize_host(&h, t));
        let got: Vec<(&str, Vec<&str>)> = n
            .findings
            .iter()
            .map(|f| {
                (
                    f.fingerprint.as_str(),
                    f.cves.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "nessus:v1:web:11219:80/tcp",
                    vec!["CVE-2000-1", "CVE-2000-5"]
                ),
                (
                    "nessus:v1:web:11219:80/udp",
                    vec!["CVE-2000-2", "CVE-2000-4"]
                ),
                ("nessus:v1:web:11219:443/tcp", vec!["CVE-2000-3"]),
            ]
        );
    }

    /// One host with one local-check item whose `<plugin_output>` is
    /// `output`, read through the streaming parser.
    fn local_check(name: &str, family: &str, output: &str) -> Observation {
        let xml = format!(
            r#"<NessusClientData_v2><Report name="r"><ReportHost name="10.0.0.5">
<HostProperties><tag name="host-ip">10.0.0.5</tag><tag name="HOST_START_TIMESTAMP">1700000000</tag></HostProperties>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="3" pluginID="200001" pluginName="{name}" pluginFamily="{family}">
<solution>Update the affected packages.</solution>
<description>{long}</description>
<plugin_output>{output}</plugin_output>
</ReportItem></ReportHost></Report></NessusClientData_v2>"#,
            long = "x".repeat(10_000)
        );
        let mut reader = crate::nessus::NessusReader::new(xml.as_bytes());
        let host = match reader.next() {
            Some(Ok(h)) => h,
            other => panic!("{name}: {other:?}"),
        };
        let fallback = "2026-01-01T00:00:00Z".parse().unwrap();
        match normalize_host(&host, fallback).findings.into_iter().next() {
            Some(f) => f,
            None => panic!("{name}: no finding"),
        }
    }

    fn solution_text(text: &str) -> Remediation {
        Remediation::Solution {
            scanner: SCANNER.to_owned(),
            check_id: "200001".into(),
            text: text.into(),
        }
    }

    /// The plugin outputs are in the shape Nessus's `rpm_report_get` and
    /// `deb_report_get` print them; the package lines are taken from public
    /// Nessus exports (a Tenable.sc sample row of plugin 103686 "RHEL 6 :
    /// postgresql (RHSA-2017:2860)", a Tenable.io export fixture of a Debian
    /// 8 gcc-4.9 advisory).
    #[test]
    fn should_be_lines_become_package_or_advisory_remediations() {
        let rhel_one = "Remote package installed : postgresql-libs-8.4.20-7.el6\nShould be                : postgresql-libs-8.4.20-8.el6_9\n\nNOTE: The vulnerability information above was derived by checking the\npackage versions of the affected packages from this advisory.";
        let o = local_check(
            "RHEL 6 : postgresql (RHSA-2017:2860)",
            "Red Hat Local Security Checks",
            rhel_one,
        );
        assert_eq!(
            o.remediation,
            Remediation::Package {
                name: "postgresql-libs".into(),
                fixed_version: "8.4.20-8.el6_9".into()
            }
        );
        assert_eq!(
            o.package,
            Some(Package {
                name: "postgresql-libs".into(),
                version: "8.4.20-7.el6".into(),
                ecosystem: Some("rpm".into()),
                purl: None,
                locations: vec![],
                fixed_versions: vec!["8.4.20-8.el6_9".into()],
            })
        );

        let debian_two = "Remote package installed : cpp-4.9_4.9.2-10\nShould be : cpp-4.9_4.9.2-10+deb8u1\nRemote package installed : gcc-4.9_4.9.2-10\nShould be : gcc-4.9_4.9.2-10+deb8u1\n";
        let o = local_check(
            "Debian DSA-4121-1 : gcc-4.9 - security update",
            "Debian Local Security Checks",
            debian_two,
        );
        assert_eq!(
            o.remediation,
            Remediation::Advisory {
                id: "DSA-4121-1".into()
            }
        );
        assert_eq!(o.package, None);

        // Several packages and no advisory in the name: the manual task
        // lists what to install.
        let o = local_check(
            "Debian 8 : gcc-4.9 packages",
            "Debian Local Security Checks",
            debian_two,
        );
        assert_eq!(
            o.remediation,
            solution_text(
                "Update the affected packages. (should be: cpp-4.9_4.9.2-10+deb8u1, gcc-4.9_4.9.2-10+deb8u1)"
            )
        );

        // One Debian package: dpkg's name_version.
        let o = local_check(
            "Debian DSA-4121-1 : gcc-4.9 - security update",
            "Debian Local Security Checks",
            "Remote package installed : cpp-4.9_4.9.2-10\nShould be : cpp-4.9_4.9.2-10+deb8u1",
        );
        assert_eq!(
            o.remediation,
            Remediation::Package {
                name: "cpp-4.9".into(),
                fixed_version: "4.9.2-10+deb8u1".into()
            }
        );

        // No package lines: the plugin's solution, planned as a manual task.
        let o = local_check(
            "OpenSSH < 9.8 RCE (regreSSHion)",
            "Misc.",
            "  Version source    : SSH-2.0-OpenSSH_8.9p1\n  Installed version : 8.9p1\n  Fixed version     : 9.8p1",
        );
        assert_eq!(
            o.remediation,
            solution_text("Update the affected packages.")
        );
        assert_eq!(o.package, None);
    }

    #[test]
    fn package_lines_split_by_family() {
        let table = [
            (
                Some("Red Hat Local Security Checks"),
                "curl-7.76.1-40.el9_8.5",
                Some(("curl", "7.76.1-40.el9_8.5", "rpm")),
            ),
            (
                Some("SuSE Local Security Checks"),
                "kernel-default-5.14.21-150500.55.39.1",
                Some(("kernel-default", "5.14.21-150500.55.39.1", "rpm")),
            ),
            (
                Some("Ubuntu Local Security Checks"),
                "libc6_2.35-0ubuntu3.4",
                Some(("libc6", "2.35-0ubuntu3.4", "deb")),
            ),
            (
                Some("Alpine Local Security Checks"),
                "openssl-1.1.1k-r0",
                Some(("openssl", "1.1.1k-r0", "apk")),
            ),
            (
                None,
                "libssl1.0.0_1.0.1t-1+deb8u7",
                Some(("libssl1.0.0", "1.0.1t-1+deb8u7", "deb")),
            ),
            (
                None,
                "gnupg2-2.3.3-5.el9_7",
                Some(("gnupg2", "2.3.3-5.el9_7", "rpm")),
            ),
            (
                None,
                "curl-7.76.1-40.el9_8.5",
                Some(("curl", "7.76.1-40.el9_8.5", "rpm")),
            ),
            // A Debian name with a `-`, found by a new-user trial.
            (
                None,
                "openssh-server_1:8.9p1-3ubuntu0.6",
                Some(("openssh-server", "1:8.9p1-3ubuntu0.6", "deb")),
            ),
            (
                None,
                "libc6-dev_2.35-0ubuntu3.6",
                Some(("libc6-dev", "2.35-0ubuntu3.6", "deb")),
            ),
            (Some("Red Hat Local Security Checks"), "curl", None),
            (Some("Debian Local Security Checks"), "curl", None),
        ];
        for (family, text, want) in table {
            let got = package_fix(family, text);
            let want = want.map(|(n, v, e)| (n.to_owned(), v.to_owned(), e));
            assert_eq!(got, want, "{family:?} {text}");
        }
    }

    #[test]
    fn advisories_named_in_plugin_names() {
        let table = [
            (
                "RHEL 9 : webkit2gtk3 (RHSA-2025:23974)",
                Some("RHSA-2025:23974"),
            ),
            (
                "Ubuntu 22.04 LTS : GNU C Library vulnerabilities (USN-6409-1)",
                Some("USN-6409-1"),
            ),
            (
                "Debian DSA-4121-1 : gcc-4.9 - security update",
                Some("DSA-4121-1"),
            ),
            (
                "SUSE SLES15 Security Update : kernel (SUSE-SU-2024:1234-1)",
                Some("SUSE-SU-2024:1234-1"),
            ),
            (
                "SSH Terrapin Prefix Truncation Weakness (CVE-2023-48795)",
                None,
            ),
            ("RHEL 8 : a (RHSA-2024:1) (RHSA-2024:2)", None),
            ("nginx HTTP/2 Rapid Reset Denial of Service", None),
        ];
        for (name, want) in table {
            assert_eq!(named_advisory(name).as_deref(), want, "{name}");
        }
    }
}
