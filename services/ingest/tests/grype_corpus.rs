//! Grype JSON through detection, the whole-report check and normalization
//! (`format::open`, `format::check`, `format::hosts`, as `patchflow parse`
//! runs them) against every Grype file of the shared corpus (`grype/`,
//! values from EXPECTED.md) and case OC-05. Skipped, loudly, when the corpus
//! is absent (never in CI).

mod support;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;

use events::{CvssVersion, FixState, Remediation, Severity};
use ingest::format::Format;
use ingest::grype::GrypeMatches;
use support::{Parsed, assert_reimport_stable, case_file, corpus_file, fallback, parse, utc};

fn corpus(name: &str) -> Option<Parsed> {
    let path = corpus_file("grype", name)?;
    let parsed = assert_reimport_stable(&path);
    assert_eq!(parsed.format, Format::Grype, "{name}");
    assert_eq!(parsed.hosts.len(), 1, "{name}: one scanned artifact");
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
fn no_vuln_is_a_clean_scan_of_its_image() {
    let Some(p) = corpus("defectdojo__no_vuln.json") else {
        return;
    };
    assert!(p.findings().is_empty());
    assert_eq!(p.hosts[0].asset.asset_id, "busybox:latest");
    assert_eq!(
        p.hosts[0].observed_at,
        fallback(),
        "grype 0.7 has no timestamp"
    );
}

#[test]
fn check_all_fields() {
    let Some(p) = corpus("defectdojo__check_all_fields.json") else {
        return;
    };
    // 6 matches; the two Django GHSA matches share (id, package, version)
    // and merge (DD: nb_occurences 2), so 5 findings as DD counts.
    assert_eq!(p.summary.findings, 6);
    assert_eq!(p.findings().len(), 5);
    assert_eq!(p.hosts[0].asset.asset_id, "vulnerable-image:latest");
    assert_eq!(p.hosts[0].asset.os.as_deref(), Some("debian 10"));

    // [0] Negligible: DD says Info; patchflow keeps a vulnerable package a
    // finding, at low (Info is for non-findings). Its own id and the
    // related NVD id are the same CVE: listed once (DD lists it twice).
    let f0 = p.findings()[0];
    assert_eq!(f0.check.id, "CVE-2004-0971");
    assert_eq!(f0.severity, Severity::Low);
    assert_eq!(f0.cves, ["CVE-2004-0971"]);
    assert!(
        f0.cvss.iter().all(|v| v.version == CvssVersion::V2),
        "no CVSS v3"
    );
    assert!(
        matches!(f0.remediation, Remediation::Solution { .. }),
        "no mitigation"
    );
    assert_eq!(f0.check.family.as_deref(), Some("deb"));
    assert_eq!(f0.fix_state, Some(FixState::NotFixed));
    let pkg = f0.package.as_ref().unwrap();
    assert_eq!(
        (pkg.name.as_str(), pkg.version.as_str()),
        ("libgssapi-krb5-2", "1.17-3+deb10u3")
    );

    // [1] redis: two matchers (python, python2) in one match.
    let f1 = p.finding("CVE-2021-32626", "redis");
    assert_eq!(f1.severity, Severity::High);
    assert_eq!(
        f1.cvss[0].vector,
        "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
    );
    assert_eq!(
        f1.package.as_ref().unwrap().fixed_versions,
        ["fix_1", "fix_2"]
    );
    assert_eq!(f1.fix_state, Some(FixState::WontFix));

    // [2], [3] one CVE on two packages: two findings.
    for name in ["libc-bin", "libc6"] {
        let f = p.finding("CVE-2021-33574", name);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.cves, ["CVE-2021-33574"]);
        assert_eq!(
            f.cvss[0].vector,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        );
    }

    // [4] the GHSA match carries its CVE (and its only CVSS) in
    // relatedVulnerabilities.
    let django = p.finding("GHSA-v6rh-hp5x-86rv", "Django");
    assert_eq!(django.severity, Severity::High);
    assert_eq!(django.cves, ["CVE-2021-44420"]);
    assert_eq!(
        django.cvss[0].vector,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L"
    );
    assert_eq!(fixed_version(&django.remediation), Some("3.2.10"));
    assert_eq!(django.fix_state, Some(FixState::Fixed));

    // Counted: Negligible 1, High 3, Critical 2 over 6 matches; after the
    // Django merge High is 2.
    assert_eq!(
        severities(&p),
        BTreeMap::from([
            (Severity::Low, 1),
            (Severity::High, 2),
            (Severity::Critical, 2)
        ])
    );
}

#[test]
fn many_vulns_grype_0_7() {
    let Some(p) = corpus("defectdojo__many_vulns.json") else {
        return;
    };
    // DD: 1509 findings, all unique by (id, package, version).
    assert_eq!(p.findings().len(), 1509);
    assert!(p.findings().iter().all(|f| !f.check.id.is_empty()));
    assert_eq!(p.hosts[0].asset.asset_id, "python:3.6");
    // Negligible 681 + Low 107 + Unknown 76 (no score at all) are low.
    assert_eq!(
        severities(&p),
        BTreeMap::from([
            (Severity::Low, 864),
            (Severity::Medium, 613),
            (Severity::High, 32)
        ])
    );
    // The old schema has no fix object.
    assert!(p.findings().iter().all(|f| f.fix_state.is_none()));
    let f = p.finding("CVE-2011-3389", "libgnutls-openssl27");
    assert_eq!(f.severity, Severity::Medium);
    let pkg = f.package.as_ref().unwrap();
    assert_eq!(pkg.version, "3.6.7-4+deb10u5");
    assert!(
        pkg.locations.iter().any(|l| l == "/var/lib/dpkg/status"),
        "{:?}",
        pkg.locations
    );
    // 0.7-era cvssV2 object.
    assert_eq!(f.cvss[0].vector, "AV:N/AC:M/Au:N/C:P/I:N/A:N");
    assert_eq!(f.cvss[0].reported_score, Some(4.3));
}

#[test]
fn many_vulns_with_epss_values() {
    let Some(path) = corpus_file("grype", "defectdojo__many_vulns_with_epss_values.json") else {
        return;
    };
    let p = corpus("defectdojo__many_vulns_with_epss_values.json").unwrap();
    assert_eq!(p.findings().len(), 15);
    assert_eq!(
        p.hosts[0].observed_at,
        utc("2025-06-19T11:43:35.523947199Z")
    );
    // fix.state is "" in 14 matches (no statement) and "fixed" in 1.
    let fixed = p
        .findings()
        .iter()
        .filter(|f| f.fix_state == Some(FixState::Fixed))
        .count();
    let unstated = p
        .findings()
        .iter()
        .filter(|f| f.fix_state.is_none())
        .count();
    assert_eq!((fixed, unstated), (1, 14));

    // EPSS is read and checked per match, in report order (DD's table).
    let want = [
        ("CVE-2022-28391", 0.0719, 0.91123),
        ("CVE-2021-28831", 0.00878, 0.74313),
        ("CVE-2022-48174", 0.00451, 0.62761),
        ("CVE-2021-42380", 0.00277, 0.50908),
        ("CVE-2021-42381", 0.00197, 0.42221),
        ("CVE-2021-42382", 0.00197, 0.42221),
        ("CVE-2021-42386", 0.00183, 0.40722),
        ("CVE-2021-42385", 0.0018, 0.40314),
        ("CVE-2021-42378", 0.00145, 0.35906),
        ("CVE-2021-42379", 0.00145, 0.35906),
        ("CVE-2021-42384", 0.00145, 0.35906),
        ("CVE-2021-42374", 0.00077, 0.23977),
        ("CVE-2021-42376", 0.00028, 0.06078),
        ("CVE-2024-58251", 0.0002, 0.0361),
        ("CVE-2025-46394", 0.00017, 0.02652),
    ];
    let matches: Vec<_> = GrypeMatches::new(BufReader::new(File::open(&path).unwrap()))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(matches.len(), want.len());
    for (m, (id, epss, percentile)) in matches.iter().zip(want) {
        assert_eq!(m.vulnerability.id.as_deref(), Some(id));
        let e = m.epss().unwrap_or_else(|| panic!("{id}: no EPSS"));
        assert!((e.epss - epss).abs() < 5e-6, "{id}: {}", e.epss);
        assert!((e.percentile.unwrap() - percentile).abs() < 5e-6, "{id}");
    }
    let order: Vec<&str> = p.findings().iter().map(|f| f.check.id.as_str()).collect();
    let want_order: Vec<&str> = want.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(order, want_order);
}

#[test]
fn fix_available() {
    let Some(p) = corpus("defectdojo__fix_available.json") else {
        return;
    };
    let f = p.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(fixed_version(&f[0].remediation), Some("1.2.3"));
    assert_eq!(f[0].fix_state, Some(FixState::Fixed));
    // The artifact version holds a NUL byte; it is kept as reported.
    assert_eq!(
        f[0].package.as_ref().unwrap().version,
        "17.0.10+7\u{0}-J-ms8m"
    );
    assert_eq!(p.hosts[0].asset.os.as_deref(), Some("ubuntu 20.04"));
}

#[test]
fn same_cve_different_paths_is_one_finding_with_two_locations() {
    let Some(p) = corpus("defectdojo__same_cve_different_paths.json") else {
        return;
    };
    // DD default mode: 1 finding, nb_occurences 2; its detailed mode's two
    // file paths are our finding's two locations.
    assert_eq!(p.summary.findings, 2);
    let f = p.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].fix_state, Some(FixState::NotFixed));
    assert_eq!(
        f[0].package.as_ref().unwrap().locations,
        [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6"
        ]
    );
}

#[test]
fn epss_problem_matches_only() {
    let Some(path) = corpus_file("grype", "defectdojo__anchore_grype_epss_problem.json") else {
        return;
    };
    let p = corpus("defectdojo__anchore_grype_epss_problem.json").unwrap();
    let f = p.findings();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].check.id, "GHSA-4374-p667-p6c8");
    assert_eq!(f[0].cves, ["CVE-2023-39325"]);
    // Only `matches`: no source, so the placeholder asset.
    assert_eq!(p.hosts[0].asset.asset_id, "grype:unnamed");
    let m = GrypeMatches::new(BufReader::new(File::open(&path).unwrap()))
        .next()
        .unwrap()
        .unwrap();
    let e = m.epss().unwrap();
    assert_eq!((e.epss, e.percentile), (0.00163, Some(0.37957)));
    assert_eq!(e.cve.as_deref(), Some("CVE-2023-39325"));
}

#[test]
fn oc05_label_and_vector_disagree_and_both_are_kept() {
    let Some(path) = case_file("OC-05", "scan.json") else {
        return;
    };
    let p = parse(&path);
    assert_eq!(p.format, Format::Grype);
    let f = p.findings();
    assert_eq!(f.len(), 1);
    let f = f[0];
    assert_eq!(f.check.id, "GHSA-2345-6789-cfgh");
    assert_eq!(f.cves, ["CVE-2000-99051"]);
    let pkg = f.package.as_ref().unwrap();
    assert_eq!(
        (pkg.name.as_str(), pkg.version.as_str()),
        ("examplelib", "3.0.3")
    );
    // The scanner's label stays what it said...
    assert_eq!(f.severity, Severity::Medium);
    // ...and the vector travels with the finding: prioritize scores it
    // (8.8, high) and records the disagreement.
    assert_eq!(f.cvss.len(), 1);
    assert_eq!(
        f.cvss[0].vector,
        "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
    );
    assert_eq!(f.cvss[0].version, CvssVersion::V3_1);
    assert_eq!(f.cvss[0].reported_score, Some(8.8));
    assert_eq!(f.cvss[0].source, "github");
    assert_eq!(fixed_version(&f.remediation), Some("3.1.5"));
    assert_eq!(p.hosts[0].asset.asset_id, "/");
    assert_eq!(p.hosts[0].asset.os.as_deref(), Some("debian 12"));
}

#[test]
fn damaged_reports_are_rejected_not_panicked() {
    support::assert_damage_is_rejected("grype");
}
