//! The OpenVAS / Greenbone parsers (report XML in the GSA, gvm-cli and OMP 7
//! layouts; the CSV results export) against the shared corpus (`openvas/`,
//! see EXPECTED.md), through `format::open`, `format::check` and
//! `format::hosts`. Skipped, loudly, when the corpus is absent (never in
//! CI).
//!
//! Where the peers differ, the test asserts our value and says why: OpenVAS
//! labels (and DefectDojo copies) 9.0–10.0 as "High"; we rate the CVSS
//! score by the FIRST bands, so those are critical. DD's V1 parser appends
//! `_<host>_<port>` to titles; our check name is the NVT name.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use events::{CvssVersion, Remediation, Severity};
use ingest::format::{Format, Summary};
use ingest::normalize::{NormalizedHost, Observation};
use support::{survives_damage, utc};

fn run(name: &str, want: Format) -> Option<(Summary, Vec<NormalizedHost>)> {
    support::run("openvas", name, want)
}

fn findings(hosts: &[NormalizedHost]) -> Vec<&Observation> {
    hosts.iter().flat_map(|h| &h.findings).collect()
}

#[test]
fn gsa_export_many_results() {
    let Some((summary, hosts)) = run("defectdojo__many_vuln.xml", Format::OpenVas) else {
        return;
    };
    // 44 results on one host, no host × OID × port repeats: 44 findings
    // (DD: 44 too).
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (1, 44, 0)
    );
    let h = &hosts[0];
    // The host text `192.168.1.1001` is not a valid IPv4 address
    // (anonymised): kept as written; the `<hostname>` names the asset.
    assert_eq!(h.asset.asset_id, "b6b9f466d63");
    assert_eq!(h.asset.ip.as_deref(), Some("192.168.1.1001"));
    // The report-level <host> gives the scan start.
    assert_eq!(h.observed_at, utc("2023-09-26T10:50:34Z"));
    assert_eq!(h.finished_at, Some(utc("2023-09-26T13:04:00Z")));
    let all = findings(&hosts);
    assert_eq!(all.len(), 44);
    // DD's first location: tcp://192.168.1.1001:512.
    let first = all[0];
    assert_eq!((first.port, first.protocol.as_str()), (512, "tcp"));
    assert_eq!(first.check.name, "The rexec service is running");
    assert_eq!(first.check.id, "1.3.6.1.4.1.25623.1.0.100111");
    assert_eq!(first.check.family.as_deref(), Some("Useless services"));
    assert_eq!(
        first.fingerprint,
        "openvas:v1:b6b9f466d63:1.3.6.1.4.1.25623.1.0.100111:512/tcp"
    );
    assert_eq!(first.cves, ["CVE-1999-0618"]);
    // Solution from the pipe-separated tags, its wrapping undone.
    match &first.remediation {
        Remediation::Solution { text, .. } => {
            assert_eq!(
                text,
                "Disable the rexec service and use alternatives like SSH instead."
            );
        }
        other => panic!("{other:?}"),
    }
    // Threat High ×19, Medium ×23, empty ×2 (severity 4.0). Ours by the
    // severity score: 9.0-10.0 critical (OpenVAS and DD say High), the two
    // empty-threat results medium.
    let mut by_severity = BTreeMap::new();
    for f in &all {
        *by_severity.entry(f.severity).or_insert(0) += 1;
    }
    assert_eq!(
        by_severity,
        BTreeMap::from([
            (Severity::Medium, 25),
            (Severity::High, 11),
            (Severity::Critical, 8)
        ])
    );
    let oids: BTreeSet<&str> = all.iter().map(|f| f.check.id.as_str()).collect();
    assert_eq!(oids.len(), 40);
    assert_eq!(all.iter().map(|f| f.cves.len()).sum::<usize>(), 55);
    // `general/tcp`: no port, protocol tcp.
    let general: Vec<&&Observation> = all.iter().filter(|f| f.port == 0).collect();
    assert_eq!(general.len(), 1);
    assert_eq!(general[0].protocol, "tcp");
    // Names are unwrapped to one line.
    assert!(all.iter().all(|f| !f.check.name.contains('\n')));
    assert!(all.iter().any(|f| f.check.name
        == "Distributed Ruby (dRuby/DRb) Multiple Remote Code Execution Vulnerabilities"));
}

#[test]
fn gsa_export_without_results() {
    let Some((summary, hosts)) = run("defectdojo__no_vuln.xml", Format::OpenVas) else {
        return;
    };
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (0, 0, 0)
    );
    assert_eq!(
        (summary.started_at, summary.finished_at),
        (
            Some(utc("2023-09-25T10:46:09Z")),
            Some(utc("2023-09-25T10:54:26Z"))
        )
    );
    assert!(hosts.is_empty());
}

#[test]
fn gsa_export_one_result_on_one_line() {
    let Some((summary, hosts)) = run("defectdojo__one_vuln.xml", Format::OpenVas) else {
        return;
    };
    assert_eq!((summary.hosts, summary.findings), (1, 1));
    let f = &hosts[0].findings[0];
    assert_eq!(hosts[0].asset.asset_id, "10.0.101.2");
    // DD (V1): "…- Windows_10.0.101.2_general/tcp", High. Ours: the NVT
    // name, and critical (severity 10.0).
    assert_eq!(
        f.check.name,
        "Mozilla Firefox Security Update (mfsa_2023-32_2023-36) - Windows"
    );
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!((f.port, f.protocol.as_str()), (0, "tcp"));
    assert_eq!(f.cves.len(), 12);
    assert_eq!(f.cves[0], "CVE-2023-4573");
}

#[test]
fn gvm22_export_with_severities_and_the_csv_twin() {
    let Some((summary, hosts)) = run("defectdojo__report_detail_v2.xml", Format::OpenVas) else {
        return;
    };
    assert_eq!((summary.hosts, summary.findings), (1, 1));
    let h = &hosts[0];
    assert_eq!(h.asset.asset_id, "server99");
    assert_eq!(h.asset.ip.as_deref(), Some("10.99.99.99"));
    // No report-level host: scan_start (+02:00) in UTC.
    assert_eq!(h.observed_at, utc("2025-08-22T13:01:38Z"));
    let f = &h.findings[0];
    assert_eq!(f.check.id, "1.3.6.1.4.1.25623.1.0.836484");
    assert_eq!(
        f.check.name,
        "Microsoft Windows Multiple Vulnerabilities (KB5062557)"
    );
    assert_eq!(
        f.check.family.as_deref(),
        Some("Windows : Microsoft Bulletins")
    );
    assert_eq!((f.port, f.protocol.as_str()), (42, "tcp"));
    // CVSS v3 score 9.8 (DD asserts it); DD says High, ours critical.
    assert_eq!(f.cvss.len(), 1);
    assert_eq!(f.cvss[0].version, CvssVersion::V3_1);
    assert_eq!(
        f.cvss[0].vector,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    );
    assert_eq!(f.cvss[0].reported_score, Some(9.8));
    assert_eq!(f.severity, Severity::Critical);
    // 93 CVE refs (the cert-bund, dfn-cert and url refs are not CVEs).
    assert_eq!(f.cves.len(), 93);
    assert_eq!(f.cves[1], "CVE-2025-48823");
    // The KB the NVT names is the remediation.
    assert_eq!(
        f.remediation,
        Remediation::Advisory {
            id: "KB5062557".into()
        }
    );
    assert_eq!(f.observed_at, utc("2025-08-22T14:55:31Z"));

    // DD checks that the XML and the CSV export parse to the same finding.
    let Some((csv_summary, csv_hosts)) =
        run("defectdojo__report_detail_v2.csv", Format::OpenVasCsv)
    else {
        return;
    };
    assert_eq!((csv_summary.hosts, csv_summary.findings), (1, 1));
    let c = &csv_hosts[0].findings[0];
    assert_eq!(csv_hosts[0].asset.asset_id, h.asset.asset_id);
    assert_eq!(csv_hosts[0].asset.ip, h.asset.ip);
    assert_eq!(c.fingerprint, f.fingerprint);
    assert_eq!(c.finding_id, f.finding_id);
    assert_eq!(c.check.id, f.check.id);
    assert_eq!(c.check.name, f.check.name);
    assert_eq!(c.severity, f.severity);
    assert_eq!(c.cves, f.cves);
    assert_eq!((c.port, c.protocol.as_str()), (f.port, f.protocol.as_str()));
    assert_eq!(c.remediation, f.remediation);
    // The CSV carries a score but no vector, and no family.
    assert!(c.cvss.is_empty());
    assert_eq!(c.check.family, None);
    // Timestamp 2025-08-22T16:27:22+02:00.
    assert_eq!(c.observed_at, utc("2025-08-22T14:27:22Z"));
    // DD also reads the EPSS score 0.00143 / percentile 0.35177 of the
    // "Max Severity EPSS" columns: the finding model does not carry a
    // scanner's EPSS; prioritize takes EPSS from the FIRST feed.
}

#[test]
fn omp7_result() {
    let Some((summary, hosts)) = run("openvas-edxml__result.xml", Format::OpenVas) else {
        return;
    };
    assert_eq!((summary.hosts, summary.findings), (1, 1));
    let h = &hosts[0];
    // `<host>10.0.0.1\n  <asset …/></host>`: mixed content trimmed.
    assert_eq!(h.asset.asset_id, "10.0.0.1");
    assert_eq!(h.observed_at, utc("2019-01-01T12:01:01Z"));
    let f = &h.findings[0];
    assert_eq!(f.check.id, "1.3.6.1.4.1.25623.1.0.112081");
    assert_eq!(f.check.name, "HTTP Security Headers Detection");
    assert_eq!(f.check.family.as_deref(), Some("General"));
    // The peer's port "443/TCP": protocols compare case-insensitively; ours
    // is lower case.
    assert_eq!((f.port, f.protocol.as_str()), (443, "tcp"));
    // The result's creation time.
    assert_eq!(f.observed_at, utc("2019-01-02T12:01:01Z"));
    // CVSS v2 vector from the `cvss_base_vector` tag, score from <cvss_base>.
    assert_eq!(f.cvss.len(), 1);
    assert_eq!(f.cvss[0].version, CvssVersion::V2);
    assert_eq!(f.cvss[0].vector, "AV:N/AC:L/Au:N/C:N/I:N/A:N");
    assert_eq!(f.cvss[0].reported_score, Some(5.0));
    // {CVE-2014-3566, CVE-2016-0800} from `NOCVE` and a comma-separated
    // list (report order kept).
    assert_eq!(f.cves, ["CVE-2016-0800", "CVE-2014-3566"]);
    // Threat "Log" but severity 6.0 (a hand-made fixture): the numeric
    // severity decides, so this is a medium finding, not a fact.
    assert_eq!(f.severity, Severity::Medium);
    // The trimmed `solution=` tag. (BIDs, xref URLs, QoD and the solution
    // type are not part of the finding model.)
    match &f.remediation {
        Remediation::Solution { text, .. } => assert_eq!(text, "Test solution"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn omp7_result_with_non_numeric_port() {
    let Some((summary, hosts)) = run(
        "openvas-edxml__result-non-numerical-port.xml",
        Format::OpenVas,
    ) else {
        return;
    };
    assert_eq!((summary.hosts, summary.findings), (1, 1));
    let f = &hosts[0].findings[0];
    // `general/tcp`: no port (the peer's port set is empty).
    assert_eq!((f.port, f.protocol.as_str()), (0, "tcp"));
    assert_eq!(
        f.fingerprint,
        "openvas:v1:10.0.0.1:1.3.6.1.4.1.25623.1.0.112081:0/tcp"
    );
}

#[test]
fn damaged_reports_are_rejected_not_panicked() {
    survives_damage("openvas", "defectdojo__many_vuln.xml", true);
    survives_damage("openvas", "defectdojo__report_detail_v2.xml", true);
    survives_damage("openvas", "openvas-edxml__result.xml", true);
    survives_damage("openvas", "defectdojo__report_detail_v2.csv", false);
}
