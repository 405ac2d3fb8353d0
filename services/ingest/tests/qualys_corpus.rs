//! The Qualys parsers (ASSET_DATA_REPORT and SCAN XML, the CSV export)
//! against the shared corpus (`qualys/`, see EXPECTED.md), through the same
//! entry points as the adapter and `patchflow parse`: `format::open`,
//! `format::check`, `format::hosts`. Skipped, loudly, when the corpus is
//! absent (never in CI).
//!
//! Where DefectDojo (the peer) counts differently, the test asserts our
//! count and says why: DD makes one finding per VULN_INFO *including* the
//! information-gathered (`Ig`) items, which we keep as asset facts, and
//! aggregates CSV rows per QID; we keep one finding per asset × QID ×
//! port/protocol. DD's severity comes from the Qualys level (or
//! `CVSS3_FINAL`); ours prefers the QID's CVSS v3 base score.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use events::{CvssVersion, Remediation, Severity};
use ingest::format::{Format, Summary};
use ingest::normalize::{NormalizedHost, Observation};
use support::{fallback, open, survives_damage, utc};

fn run(name: &str, want: Format) -> Option<(Summary, Vec<NormalizedHost>)> {
    support::run("qualys", name, want)
}

fn corpus_file(name: &str) -> Option<PathBuf> {
    support::corpus_file("qualys", name)
}

fn findings(hosts: &[NormalizedHost]) -> Vec<&Observation> {
    hosts.iter().flat_map(|h| &h.findings).collect()
}

fn severities(hosts: &[NormalizedHost]) -> BTreeMap<Severity, usize> {
    let mut counts = BTreeMap::new();
    for f in findings(hosts) {
        *counts.entry(f.severity).or_default() += 1;
    }
    counts
}

fn solution_key(f: &Observation) -> String {
    f.remediation.key()
}

#[test]
fn asset_data_report_sample() {
    let Some((summary, hosts)) = run("defectdojo__Qualys_Sample_Report.xml", Format::Qualys) else {
        return;
    };
    // DD: 301 findings = every VULN_INFO. Ours: the 90 Vuln + 2 Practice
    // items are findings, the 209 Ig items asset facts (Ig is information
    // gathered, not a vulnerability); none repeats host × QID × port.
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (7, 92, 209)
    );
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    // The header's TOTAL_VULNERABILITIES (299) leaves out the 2 Practice
    // items; the report has 301 VULN_INFO.
    assert_eq!(
        findings(&hosts).len() + hosts.iter().map(|h| h.facts.len()).sum::<usize>(),
        301
    );
    let per_host: Vec<usize> = hosts
        .iter()
        .map(|h| h.findings.len() + h.facts.len())
        .collect();
    assert_eq!(per_host, [21, 24, 20, 42, 47, 27, 120]);
    let ids: Vec<&str> = hosts.iter().map(|h| h.asset.asset_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "demo13",
            "demo14",
            "demo15",
            "trn-win7",
            "win2008r2",
            "trn-win2012-dc",
            "demo20"
        ]
    );
    let ips: Vec<&str> = hosts.iter().filter_map(|h| h.asset.ip.as_deref()).collect();
    assert_eq!(
        ips,
        [
            "64.41.200.243",
            "64.41.200.244",
            "64.41.200.245",
            "64.41.200.247",
            "64.41.200.246",
            "64.41.200.249",
            "64.41.200.250"
        ]
    );
    let demo13 = &hosts[0];
    assert_eq!(
        demo13.asset.fqdn.as_deref(),
        Some("demo13.s02.sjc01.qualys.com")
    );
    assert_eq!(
        demo13.asset.os.as_deref(),
        Some("Ubuntu / Tiny Core Linux / Linux 2.6.x")
    );
    // DD's finding 0, "QID-6 | DNS Host Name" (Info) on demo13, is an Ig
    // item: for us the host's first fact.
    let dns = &demo13.facts[0];
    assert_eq!(
        (dns.check_id.as_str(), dns.name.as_str()),
        ("6", "DNS Host Name")
    );
    // DD's finding date 2019-07-31: demo13's detections were last found then.
    let first = &demo13.findings[0];
    assert_eq!(first.fingerprint, "qualys:v1:demo13:82054:0/");
    assert_eq!(first.observed_at, utc("2019-07-31T21:57:48Z"));
    assert_eq!(first.check.scanner, "qualys");
    // The host's scan time is its latest LAST_FOUND: the Practice item's
    // 2021-04-19 (a date after the report's generation, as the sample has it).
    assert_eq!(demo13.observed_at, utc("2021-04-19T02:35:28Z"));

    // QID 370876 on demo13 and demo14. DD: High (Qualys level 4). Ours:
    // Critical, from the QID's CVSS v3 base score 9.0. DD gives demo14 no
    // vector and the detection's CVSS3_FINAL 8.2; we keep the KB's base
    // vector on both (CVSS3_FINAL is a temporal score without a vector).
    let amd: Vec<&Observation> = findings(&hosts)
        .into_iter()
        .filter(|f| f.check.id == "370876")
        .collect();
    assert_eq!(amd.len(), 2);
    let cves: Vec<String> = (8930..=8936).map(|n| format!("CVE-2018-{n}")).collect();
    for f in &amd {
        assert_eq!(
            f.check.name,
            "AMD Processors Multiple Security Vulnerabilities (RYZENFALL/MASTERKEY/CHIMERA-FW/FALLOUT)"
        );
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.cves, cves);
        let v3 = f
            .cvss
            .iter()
            .find(|c| c.version == CvssVersion::V3_0)
            .unwrap();
        assert_eq!(v3.vector, "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H");
        assert_eq!(v3.reported_score, Some(9.0));
        let v2 = f
            .cvss
            .iter()
            .find(|c| c.version == CvssVersion::V2)
            .unwrap();
        assert_eq!(v2.vector, "AV:N/AC:M/Au:N/C:C/I:C/A:C");
        assert_eq!(v2.reported_score, Some(9.3));
        assert_eq!(f.check.family.as_deref(), Some("Local"));
        match &f.remediation {
            Remediation::Solution { text, check_id, .. } => {
                assert_eq!(check_id, "370876");
                assert!(text.starts_with("AMD has confirmed the vulnerability. However, updates are awaited.\nWorkaround:\n"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(amd[0].fingerprint.starts_with("qualys:v1:demo13:370876:"));
    assert!(amd[1].fingerprint.starts_with("qualys:v1:demo14:370876:"));

    // QID 121695 on demo14: one CVE, no CVSS ("-" placeholders), title with
    // its two spaces kept; host level (the port is only in the RESULT text).
    let ntp = hosts[1]
        .findings
        .iter()
        .find(|f| f.check.id == "121695")
        .unwrap();
    assert_eq!(
        ntp.check.name,
        "NTP \"monlist\"  Feature Denial of Service Vulnerability"
    );
    assert_eq!(ntp.cves, ["CVE-2013-5211"]);
    assert!(ntp.cvss.is_empty());
    assert_eq!(ntp.severity, Severity::Medium);
    assert_eq!((ntp.port, ntp.protocol.as_str()), (0, ""));

    // DD legacy histogram (Info 177, Low 65, Medium 46, High 6, Critical 7)
    // counts the Ig items and maps level 1 to Info. Ours over the 92
    // findings: level 1-2 low, 3 medium, 4 high, 5 critical, the two AMD
    // items critical by CVSS.
    assert_eq!(
        severities(&hosts),
        BTreeMap::from([
            (Severity::Low, 47),
            (Severity::Medium, 32),
            (Severity::High, 4),
            (Severity::Critical, 9)
        ])
    );
    // A vendor reference naming one bulletin becomes the remediation.
    let ms17 = findings(&hosts)
        .into_iter()
        .find(|f| f.check.id == "91345")
        .unwrap();
    assert_eq!(solution_key(ms17), "advisory:MS17-010");
    assert_eq!(ms17.severity, Severity::Critical);
    // Service and port of a port-level detection.
    let ssh = demo13
        .findings
        .iter()
        .find(|f| f.check.id == "38738")
        .unwrap();
    assert_eq!(
        (ssh.port, ssh.protocol.as_str(), ssh.service.as_deref()),
        (22, "tcp", Some("ssh"))
    );
}

#[test]
fn asset_data_report_two_passes_match_one() {
    let Some(path) = corpus_file("defectdojo__Qualys_Sample_Report.xml") else {
        return;
    };
    let glossary = ingest::qualys::read_glossary(open(&path)).unwrap();
    assert!(glossary.contains(370876) && glossary.contains(6));
    // 93 GLOSSARY VULN_DETAILS, each joined on `id="qid_<n>"`.
    assert_eq!(glossary.iter().count(), 93);
    assert_eq!(
        glossary.get(121695).map(|d| d.cves.clone()),
        Some(vec!["CVE-2013-5211".to_owned()])
    );
    let two: Vec<NormalizedHost> =
        ingest::qualys::AssetDataHosts::with_glossary(open(&path), glossary, fallback())
            .collect::<Result<_, _>>()
            .unwrap();
    let one: Vec<NormalizedHost> = ingest::qualys::asset_data_hosts(open(&path), fallback())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(one, two);
}

#[test]
fn empty_asset_data_report_imports_clean() {
    let Some((summary, hosts)) = run("defectdojo__empty.xml", Format::Qualys) else {
        return;
    };
    // HEADER and APPENDICES only, a comment after the root: valid, empty.
    assert_eq!(summary, Summary::default());
    assert!(hosts.is_empty());
}

#[test]
fn csv_export() {
    let Some((summary, hosts)) = run("defectdojo__Qualys_Sample_Report.csv", Format::QualysCsv)
    else {
        return;
    };
    // DD: 3 findings (one per QID). Ours: one per host × QID, the 6 rows:
    // QID 105971 on 4 hosts, 105970 and 91762 on one.
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (4, 6, 0)
    );
    let all = findings(&hosts);
    assert_eq!(all.len(), 6);
    let ids: Vec<&str> = hosts.iter().map(|h| h.asset.asset_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ip-10-98-57-180",
            "ip-10-98-57-151",
            "ip-10-98-49-209",
            "ip-10-98-35-11"
        ]
    );
    assert_eq!(all.iter().filter(|f| f.check.id == "105971").count(), 4);
    let f = all[0];
    assert_eq!(
        f.check.name,
        "EOL/Obsolete Software: Microsoft ASP.NET 1.0 Detected"
    );
    assert_eq!(f.check.id, "105971");
    assert_eq!(f.fingerprint, "qualys:v1:ip-10-98-57-180:105971:0/");
    assert_eq!(
        hosts[0].asset.fqdn.as_deref(),
        Some("ip-10-98-57-180.eu-west-1.compute.internal")
    );
    // DD: Critical (Qualys level 5). Ours: High, from the CVSS v3 base 8.1.
    assert_eq!(f.severity, Severity::High);
    // DD: `CVSS:3.0/…/E:U/RL:U/RC:C` (base and temporal joined). Ours: the
    // base vector only, v3.0 from the column name "CVSS3 Base".
    assert_eq!(f.cvss.len(), 1);
    assert_eq!(f.cvss[0].version, CvssVersion::V3_0);
    assert_eq!(
        f.cvss[0].vector,
        "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"
    );
    assert_eq!(f.cvss[0].reported_score, Some(8.1));
    // Last Detected (DD's date 2021-05-25), read as UTC.
    assert_eq!(f.observed_at, utc("2021-05-25T07:36:58Z"));
    assert!(f.cves.is_empty());
    let may = all.iter().find(|f| f.check.id == "91762").unwrap();
    assert_eq!(may.cves.len(), 23);
    assert_eq!(may.cves[0], "CVE-2021-31192");
    assert_eq!(may.cves[22], "CVE-2020-24588");
    assert_eq!(may.severity, Severity::Critical);
    // 13 KBs named: no single advisory, the solution text stays.
    assert_eq!(solution_key(may), "qualys:91762");
    // The same host × QID from the XML would get the same fingerprint.
    assert_eq!(
        ingest::scanner::fingerprint("qualys", "ip-10-98-57-180", "105971", 0, ""),
        f.fingerprint
    );
}

#[test]
fn scan_report_without_vulns() {
    let Some((summary, hosts)) = run(
        "defectdojo__qualys_infrascan_webgui_0.xml",
        Format::QualysScan,
    ) else {
        return;
    };
    assert_eq!((summary.hosts, summary.findings), (1, 0));
    let h = &hosts[0];
    assert_eq!(h.asset.asset_id, "host1");
    assert_eq!(h.asset.ip.as_deref(), Some("10.1.10.1"));
    assert_eq!(h.asset.fqdn.as_deref(), Some("host1.example.com"));
    assert!(h.findings.is_empty() && h.facts.is_empty());
    assert_eq!(h.observed_at, utc("2019-04-02T10:14:53Z"));
}

#[test]
fn scan_report_with_placeholder_host_name() {
    let Some((summary, hosts)) = run(
        "defectdojo__qualys_infrascan_webgui_3.xml",
        Format::QualysScan,
    ) else {
        return;
    };
    assert_eq!((summary.hosts, summary.findings), (1, 1));
    let h = &hosts[0];
    // "No registered hostname" is a placeholder, not a name.
    assert_eq!(h.asset.asset_id, "10.1.10.1");
    assert_eq!(h.asset.hostname, None);
    assert_eq!(h.asset.os.as_deref(), Some("Linux 2.6"));
    let f = &h.findings[0];
    assert_eq!(
        f.check.name,
        "UDP Constant IP Identification Field Fingerprinting Vulnerability"
    );
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.observed_at, utc("2019-04-02T10:14:53Z"));
    assert_eq!(f.cves, ["CVE-2002-0510"]);
    assert_eq!(f.check.family.as_deref(), Some("TCP/IP"));
    // CVSS_BASE is a bare score (5) and CVSS3_BASE empty: no vector.
    assert!(f.cvss.is_empty());
    assert_eq!(f.fingerprint, "qualys:v1:10.1.10.1:82024:0/");
    match &f.remediation {
        Remediation::Solution { text, .. } => assert_eq!(text, "some solution"),
        other => panic!("{other:?}"),
    }
    // Launched at DATE, finished DURATION (04:29:11) later.
    assert_eq!(h.finished_at, Some(utc("2019-04-02T14:44:04Z")));
}

#[test]
fn scan_report_with_two_hosts() {
    let Some((summary, hosts)) = run(
        "defectdojo__qualys_infrascan_webgui_multiple.xml",
        Format::QualysScan,
    ) else {
        return;
    };
    // DD: 6 findings, the VULN elements. Ours: the 6 VULNs and the 2
    // PRACTICEs (potential vulnerabilities) are findings; the 12 INFOs and
    // 4 SERVICEs asset facts.
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (2, 8, 16)
    );
    let ids: Vec<&str> = hosts.iter().map(|h| h.asset.asset_id.as_str()).collect();
    assert_eq!(ids, ["host1", "host2"]);
    let all = findings(&hosts);
    assert!(
        all.iter()
            .all(|f| f.observed_at == utc("2019-04-02T10:14:53Z"))
    );
    let vulns: Vec<&&Observation> = all.iter().filter(|f| f.check.id != "124848").collect();
    assert_eq!(vulns.len(), 6);
    // DD index 0 and 4 (host2's second VULN).
    assert_eq!(
        vulns[0].check.name,
        "UDP Constant IP Identification Field Fingerprinting Vulnerability"
    );
    assert_eq!(vulns[0].severity, Severity::Low);
    assert_eq!(vulns[4].check.name, "Hidden RPC Services");
    assert_eq!(vulns[4].severity, Severity::Low);
    assert!(vulns[4].fingerprint.starts_with("qualys:v1:host2:11:"));
    // The Java CPU is Qualys level 5, but its CVSS3_BASE says 3.4: low
    // (CVSS preferred). Its 19 CVEs come from the cveid attribute and the
    // CVE_ID_LIST, once each.
    let java = all.iter().find(|f| f.check.id == "123168").unwrap();
    assert_eq!(java.severity, Severity::Low);
    assert_eq!(java.cves.len(), 19);
    // The PRACTICE: level 5 with CVSS3_BASE 8.1 → high.
    let practice = all.iter().find(|f| f.check.id == "124848").unwrap();
    assert_eq!(practice.severity, Severity::High);
    assert_eq!(practice.cves, ["CVE-2016-0636"]);
    let facts: Vec<&str> = hosts[0].facts.iter().map(|f| f.check_id.as_str()).collect();
    assert_eq!(
        facts,
        [
            "82040", "82063", "6", "45304", "45376", "42017", "82023", "82004"
        ]
    );
}

#[test]
fn damaged_reports_are_rejected_not_panicked() {
    survives_damage("qualys", "defectdojo__Qualys_Sample_Report.xml", true);
    survives_damage(
        "qualys",
        "defectdojo__qualys_infrascan_webgui_multiple.xml",
        true,
    );
    survives_damage("qualys", "defectdojo__Qualys_Sample_Report.csv", false);
    survives_damage("qualys", "defectdojo__empty.xml", true);
}
