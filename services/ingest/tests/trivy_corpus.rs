//! Trivy JSON through detection, the whole-report check and normalization
//! (`format::open`, `format::check`, `format::hosts`, as `patchflow parse`
//! runs them) against every Trivy file of the shared corpus
//! (`trivy/`, values from EXPECTED.md) and case OC-04. Skipped, loudly,
//! when the corpus is absent (never in CI).

mod support;

use std::collections::BTreeMap;

use events::{CvssVersion, FixState, Remediation, Severity};
use ingest::format::Format;
use ingest::trivy;
use support::{
    ALPINE_310, Parsed, assert_reimport_stable, case_file, corpus_file, fallback, parse, utc,
};

fn corpus(name: &str) -> Option<Parsed> {
    let path = corpus_file("trivy", name)?;
    let parsed = assert_reimport_stable(&path);
    assert_eq!(parsed.format, Format::Trivy, "{name}");
    Some(parsed)
}

fn severities(p: &Parsed) -> BTreeMap<Severity, usize> {
    let mut counts = BTreeMap::new();
    for f in p.findings() {
        *counts.entry(f.severity).or_default() += 1;
    }
    counts
}

fn fixed_version(r: &Remediation) -> Option<&str> {
    match r {
        Remediation::Package { fixed_version, .. } => Some(fixed_version),
        _ => None,
    }
}

#[test]
fn legacy_no_vuln_is_the_null_document() {
    let Some(p) = corpus("defectdojo__legacy_no_vuln.json") else {
        return;
    };
    // DD: 0 findings. The document `null` names no artifact: no host.
    assert_eq!(p.summary.hosts, 0);
    assert_eq!(p.summary.findings, 0);
    assert!(p.summary.skipped.is_empty());
}

#[test]
fn legacy_many_vulns_top_level_array() {
    let Some(p) = corpus("defectdojo__legacy_many_vulns.json") else {
        return;
    };
    assert_eq!(p.hosts.len(), 1);
    let host = &p.hosts[0];
    // Target "debian (debian 10.8)": the artifact and its OS.
    assert_eq!(host.asset.asset_id, "debian");
    assert_eq!(host.asset.os.as_deref(), Some("debian 10.8"));
    assert_eq!(
        host.observed_at,
        fallback(),
        "legacy reports carry no CreatedAt"
    );
    // DD: 93 findings; counted 93 records, all distinct.
    assert_eq!(p.summary.findings, 93);
    assert_eq!(p.findings().len(), 93);
    // Legacy results have no Class; every finding still has the result
    // Type as its family (DD: "no finding has a null tag").
    assert!(
        p.findings()
            .iter()
            .all(|f| f.check.family.as_deref() == Some("debian"))
    );
    // LOW 65, HIGH 18, MEDIUM 9; the one UNKNOWN (TEMP-0981404-911A2F,
    // no CVSS at all) is low.
    assert_eq!(
        severities(&p),
        BTreeMap::from([
            (Severity::Low, 66),
            (Severity::Medium, 9),
            (Severity::High, 18)
        ])
    );
    let first = p.findings()[0];
    assert_eq!(first.severity, Severity::Low);
    assert_eq!(first.cves, ["CVE-2011-3374"]);
    assert_eq!(first.cwes, [347]);
    let pkg = first.package.as_ref().unwrap();
    assert_eq!(
        (pkg.name.as_str(), pkg.version.as_str()),
        ("apt", "1.8.2.2")
    );
    assert_eq!(
        first.fingerprint,
        "trivy:v1:debian:CVE-2011-3374:apt@1.8.2.2:"
    );
    assert_eq!(first.fix_state, None, "legacy records state no Status");
}

#[test]
fn legacy_trivy_mix_skips_the_degenerate_record() {
    let Some(p) = corpus("defectdojo__legacy_trivy_mix.json") else {
        return;
    };
    // Counted: 6 valid vulnerabilities plus 1 record holding only PkgName.
    assert_eq!(p.findings().len(), 6);
    assert_eq!(p.skipped(trivy::SKIP_NO_ID), 1);
    // The OS result names the artifact; the lock files are locations.
    assert_eq!(p.hosts[0].asset.asset_id, "trivy-ci-test");
    assert_eq!(p.hosts[0].asset.os.as_deref(), Some("alpine 3.7.1"));
    let lodash = p.finding("CVE-2018-16487", "lodash");
    let pkg = lodash.package.as_ref().unwrap();
    assert_eq!(
        pkg.fixed_versions,
        [">=4.17.11"],
        "the range is kept as written"
    );
    assert_eq!(pkg.locations, ["node-app/package-lock.json"]);
    assert_eq!(fixed_version(&lodash.remediation), Some("4.17.11"));
    let alpine: Vec<&str> = p
        .findings()
        .iter()
        .filter(|f| f.check.family.as_deref() == Some("alpine"))
        .map(|f| f.cves[0].as_str())
        .collect();
    assert_eq!(
        alpine,
        [
            "CVE-2018-16840",
            "CVE-2019-3822",
            "CVE-2018-16839",
            "CVE-2018-19486",
            "CVE-2018-17456"
        ]
    );
}

#[test]
fn scheme_2_many_vulns() {
    let Some(p) = corpus("defectdojo__scheme_2_many_vulns.json") else {
        return;
    };
    assert_eq!(p.hosts[0].asset.asset_id, "teamdojo:latest");
    assert_eq!(p.hosts[0].asset.os.as_deref(), Some("alpine 3.9.4"));
    // DD: 5 findings (3 on the image, none on HdrHistogram, whose result has
    // no Vulnerabilities key, 2 on commons-compress).
    assert_eq!(p.findings().len(), 5);
    let f0 = p.findings()[0];
    assert_eq!(f0.check.id, "CVE-2020-15999");
    assert_eq!(f0.severity, Severity::Medium);
    assert_eq!(f0.cwes, [787]);
    let pkg = f0.package.as_ref().unwrap();
    assert_eq!(
        (pkg.name.as_str(), pkg.version.as_str()),
        ("freetype", "2.9.1-r2")
    );
    assert_eq!(pkg.locations, ["app/libs/freetype-2.9.1-r2"]);
    assert_eq!(fixed_version(&f0.remediation), Some("2.9.1-r3"));
    // The SeveritySource's (nvd) v3 vector comes first.
    assert_eq!(
        f0.cvss[0].vector,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"
    );
    assert_eq!(f0.cvss[0].source, "nvd");
    let f1 = p.findings()[1];
    assert_eq!(f1.check.id, "CVE-2020-28196");
    assert_eq!(f1.severity, Severity::High);
    assert_eq!(f1.cwes, [674]);
    assert_eq!(fixed_version(&f1.remediation), Some("1.15.5-r1"));
    // SeveritySource nvd has no entry: redhat's vector is the one there is.
    assert_eq!(f1.cvss.len(), 1);
    assert_eq!(
        f1.cvss[0].vector,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    );
    let compress: Vec<&str> = p
        .findings()
        .iter()
        .filter(|f| {
            f.package
                .as_ref()
                .is_some_and(|p| p.name == "org.apache.commons:commons-compress")
        })
        .map(|f| f.check.id.as_str())
        .collect();
    assert_eq!(compress, ["CVE-2018-11771", "CVE-2018-1324"]);
}

#[test]
fn all_statuses() {
    let Some(p) = corpus("defectdojo__all_statuses.json") else {
        return;
    };
    // DD makes 8 findings and marks the not_affected one inactive and
    // mitigated. patchflow never opens work for a vendor's "not affected":
    // that record is skipped with its reason, so 7 findings (knowingly
    // fewer than DD).
    assert_eq!(p.findings().len(), 7);
    assert_eq!(p.skipped(trivy::SKIP_NOT_AFFECTED), 1);
    let states: Vec<Option<FixState>> = p.findings().iter().map(|f| f.fix_state).collect();
    assert_eq!(
        states,
        [
            Some(FixState::Unknown),
            Some(FixState::NotFixed),
            Some(FixState::Fixed),
            Some(FixState::UnderInvestigation),
            Some(FixState::WontFix),
            Some(FixState::FixDeferred),
            Some(FixState::EndOfLife),
        ]
    );
    assert!(p.findings().iter().all(|f| f.severity == Severity::Low));
    // ArtifactName is empty and RepoTags is [""]: the OS target names it.
    assert_eq!(
        p.hosts[0].asset.asset_id,
        "noppaknopsta/example-app:main-159"
    );
    assert_eq!(p.hosts[0].asset.os.as_deref(), Some("debian 10.13"));
    assert_eq!(p.hosts[0].observed_at, utc("2024-01-15T08:58:29.82753744Z"));
    // DD [2] (our [1]): the Debian temporary id is not a CVE.
    let temp = p.findings()[1];
    assert_eq!(temp.check.id, "TEMP-0841856-B18BAF");
    assert!(temp.cves.is_empty() && temp.cwes.is_empty());
    // DD [3] (our [2]): CWE list [190, 787]; "fixed" without a FixedVersion
    // has no upgrade to offer.
    let binutils = p.findings()[2];
    assert_eq!(binutils.check.id, "CVE-2018-1000876");
    assert_eq!(binutils.cwes, [190, 787]);
    assert!(
        matches!(&binutils.remediation, Remediation::Solution { text, .. } if text.contains("status fixed"))
    );
    // DD [4] (our [3]): CWE 476.
    assert_eq!(p.findings()[3].cwes, [476]);
}

#[test]
fn cvssv4_severity_source() {
    let Some(p) = corpus("defectdojo__cvssv4_severity_source.json") else {
        return;
    };
    assert_eq!(p.findings().len(), 3);
    let f0 = p.findings()[0];
    assert_eq!(f0.check.id, "CVE-2025-66614");
    assert_eq!(f0.severity, Severity::Medium);
    assert_eq!(f0.cvss[0].version, CvssVersion::V4_0);
    assert_eq!(
        f0.cvss[0].vector,
        "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"
    );
    assert_eq!(f0.cvss[0].reported_score, Some(6.3));
    assert_eq!(f0.cvss[0].source, "ghsa");
    let ids: Vec<(&str, Severity)> = p
        .findings()
        .iter()
        .map(|f| (f.check.id.as_str(), f.severity))
        .collect();
    assert_eq!(
        ids,
        [
            ("CVE-2025-66614", Severity::Medium),
            ("CVE-2025-61795", Severity::Low),
            ("CVE-2026-24733", Severity::Low)
        ]
    );
    // Three fixed versions, one per Tomcat branch: the upgrade stays on 9.0.
    let fixes: Vec<Option<&str>> = p
        .findings()
        .iter()
        .map(|f| fixed_version(&f.remediation))
        .collect();
    assert_eq!(fixes, [Some("9.0.112"), Some("9.0.110"), Some("9.0.112")]);
    let pkg = f0.package.as_ref().unwrap();
    assert_eq!(pkg.ecosystem.as_deref(), Some("maven"));
    assert_eq!(
        pkg.purl.as_deref(),
        Some("pkg:maven/org.apache.tomcat/tomcat-catalina@9.0.109")
    );
    assert_eq!(pkg.fixed_versions, ["11.0.14", "10.1.49", "9.0.112"]);
}

#[test]
fn alpine_310_golden() {
    let Some(p) = corpus("trivy__alpine-310.json.golden") else {
        return;
    };
    let host = &p.hosts[0];
    assert_eq!(
        host.asset.asset_id,
        "testdata/fixtures/images/alpine-310.tar.gz"
    );
    assert_eq!(host.asset.os.as_deref(), Some("alpine 3.10.2"));
    assert_eq!(host.observed_at, utc("2021-08-25T12:20:30.000000005Z"));
    assert_eq!(
        p.summary.finished_at,
        Some(utc("2021-08-25T12:20:30.000000005Z"))
    );
    let tuples: Vec<(&str, &str, &str, &str)> = p
        .findings()
        .iter()
        .map(|f| {
            let pkg = f.package.as_ref().unwrap();
            (
                f.cves[0].as_str(),
                pkg.name.as_str(),
                pkg.version.as_str(),
                fixed_version(&f.remediation).unwrap(),
            )
        })
        .collect();
    assert_eq!(tuples, ALPINE_310);
    for f in p.findings() {
        assert_eq!(f.severity, Severity::Medium);
        let sources: Vec<&str> = f.cvss.iter().map(|v| v.source.as_str()).collect();
        assert!(
            sources.contains(&"nvd") && sources.contains(&"redhat"),
            "{sources:?}"
        );
        assert_eq!(f.fix_state, Some(FixState::Fixed));
    }
    let ssl = p
        .finding("CVE-2019-1549", "libssl1.1")
        .package
        .as_ref()
        .unwrap();
    assert_eq!(
        ssl.purl.as_deref(),
        Some("pkg:apk/alpine/libssl1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2")
    );
    assert_eq!(ssl.ecosystem.as_deref(), Some("apk"));
}

#[test]
fn alpine_39_skip_golden_has_no_results_and_is_clean() {
    let Some(p) = corpus("trivy__alpine-39-skip.json.golden") else {
        return;
    };
    // No Results key at all: a successful scan with nothing found, so the
    // artifact is a host (its earlier findings can resolve).
    assert_eq!(p.hosts.len(), 1);
    assert_eq!(
        p.hosts[0].asset.asset_id,
        "testdata/fixtures/images/alpine-39.tar.gz"
    );
    assert!(p.findings().is_empty());
    // OS family "none": no OS.
    assert_eq!(p.hosts[0].asset.os, None);
}

#[test]
fn oc04_same_cve_in_two_jars_is_two_findings() {
    let (Some(scan1), Some(scan2)) = (
        case_file("OC-04", "scan1.json"),
        case_file("OC-04", "scan2.json"),
    ) else {
        return;
    };
    let first = parse(&scan1);
    assert_eq!(first.hosts[0].asset.asset_id, "/opt");
    let locations: Vec<&str> = first
        .findings()
        .iter()
        .map(|f| f.package.as_ref().unwrap().locations[0].as_str())
        .collect();
    assert_eq!(
        locations,
        [
            "opt/app-a/lib/examplelib-1.4.2.jar",
            "opt/app-b/lib/app-b-all-2.1.0.jar"
        ]
    );
    let findings = first.findings();
    assert_eq!(findings.len(), 2, "neither path is dropped as a duplicate");
    assert!(findings.iter().all(|f| f.cves == ["CVE-2000-99041"]));
    assert_ne!(findings[0].finding_id, findings[1].finding_id);
    assert_eq!(
        findings[0].fingerprint,
        "trivy:v1:/opt:CVE-2000-99041:org.example%3Aexamplelib@1.4.2:opt/app-a/lib/examplelib-1.4.2.jar"
    );
    assert_eq!(
        findings[0].package.as_ref().unwrap().purl.as_deref(),
        Some("pkg:maven/org.example/examplelib@1.4.2")
    );
    // The full rescan still shows app-a only: the same finding (same id);
    // app-b's finding is absent from it, which is what resolves it.
    let second = parse(&scan2);
    let rescanned = second.findings();
    assert_eq!(rescanned.len(), 1);
    assert_eq!(rescanned[0].finding_id, findings[0].finding_id);
    assert_eq!(
        second.hosts[0].asset.asset_id,
        first.hosts[0].asset.asset_id
    );
    assert_eq!(second.hosts[0].observed_at, utc("2025-03-11T10:00:00Z"));
}

#[test]
fn damaged_reports_are_rejected_not_panicked() {
    support::assert_damage_is_rejected("trivy");
}
