//! The Rapid7 Nexpose / InsightVM XML Export parser against the shared
//! corpus (`nexpose/`, see EXPECTED.md), through `format::open`,
//! `format::check` and `format::hosts`. Skipped, loudly, when the corpus is
//! absent (never in CI).
//!
//! Where DefectDojo (the peer) counts differently, the test asserts our
//! count and says why: DD adds synthetic "Host Up" and "Open port" Info
//! findings and merges by (severity, title) across nodes; we synthesize
//! nothing (endpoints are inventory) and keep one finding per node ×
//! vulnerability × endpoint.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use events::{CvssVersion, Remediation, Severity};
use ingest::format::{Format, Summary};
use ingest::normalize::{NormalizedHost, Observation};
use support::{fallback, open, survives_damage, utc};

/// Detects, checks and normalizes a corpus file the way the adapter does;
/// two passes (definitions first) must give the same hosts as one.
fn run(name: &str) -> Option<(Summary, Vec<NormalizedHost>)> {
    let (summary, hosts) = support::run("nexpose", name, Format::Nexpose)?;
    let path = corpus_file(name)?;
    let defs = ingest::nexpose::read_definitions(open(&path)).unwrap();
    let two: Vec<NormalizedHost> =
        ingest::nexpose::Hosts::with_definitions(open(&path), defs, fallback())
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(hosts, two, "{name}: two passes differ");
    Some((summary, hosts))
}

fn corpus_file(name: &str) -> Option<PathBuf> {
    support::corpus_file("nexpose", name)
}

fn findings(hosts: &[NormalizedHost]) -> Vec<&Observation> {
    hosts.iter().flat_map(|h| &h.findings).collect()
}

fn skipped(summary: &Summary) -> Vec<(&str, u64)> {
    summary
        .skipped
        .iter()
        .map(|(why, n)| (why.as_str(), *n))
        .collect()
}

#[test]
fn export_1_0_many_vulns() {
    let Some((summary, hosts)) = run("defectdojo__many_vulns.xml") else {
        return;
    };
    // 621 tests: 162 vulnerable (158 exploited, 4 version), the rest skipped
    // by status.
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (8, 162, 0)
    );
    assert_eq!(
        skipped(&summary),
        [
            ("status error", 6),
            ("status not-vulnerable", 400),
            ("status skipped-version", 52),
            ("status unknown", 1)
        ]
    );
    assert_eq!(
        (summary.started_at, summary.finished_at),
        (
            Some(utc("2013-11-27T05:02:42.739Z")),
            Some(utc("2013-11-27T11:55:13.233Z"))
        )
    );
    let all = findings(&hosts);
    // DD: 38 findings including its synthetic ones. Ours: the 162 vulnerable
    // tests are 28 node × vulnerability × endpoint findings (instances of
    // one vulnerability on one endpoint, such as several URL paths, merge).
    assert_eq!(all.len(), 28);
    let per_node: Vec<usize> = hosts.iter().map(|h| h.findings.len()).collect();
    assert_eq!(per_node, [6, 6, 12, 2, 0, 0, 1, 1]);
    let ids: BTreeSet<&str> = all.iter().map(|f| f.check.id.as_str()).collect();
    assert_eq!(ids.len(), 17);
    // Nodes are identified by their name when they have one.
    let assets: Vec<&str> = hosts.iter().map(|h| h.asset.asset_id.as_str()).collect();
    assert_eq!(
        assets,
        [
            "192.168.1.1",
            "192.168.1.18",
            "192.168.1.33",
            "192.168.1.34",
            "192.168.1.35",
            "macbookpro-c9a7",
            "192.168.1.38",
            "192.168.1.40"
        ]
    );
    assert_eq!(hosts[0].asset.os.as_deref(), Some("Linux 2.6.9"));
    // 136 definitions holding 74 CVE references.
    let path = corpus_file("defectdojo__many_vulns.xml").unwrap();
    let defs = ingest::nexpose::read_definitions(open(&path)).unwrap();
    assert_eq!(defs.iter().count(), 136);
    assert_eq!(defs.iter().map(|(_, d)| d.cves.len()).sum::<usize>(), 74);
    assert!(
        hosts
            .iter()
            .all(|h| h.observed_at == utc("2013-11-27T05:02:42.739Z"))
    );

    // DD [0]: Medium "TCP Sequence Number Approximation Vulnerability", 3
    // locations, ids [CVE-2004-0230]: ours 3 findings.
    let tcp_seq: Vec<&&Observation> = all
        .iter()
        .filter(|f| f.check.name == "TCP Sequence Number Approximation Vulnerability")
        .collect();
    assert_eq!(tcp_seq.len(), 3);
    for f in &tcp_seq {
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.cves, ["CVE-2004-0230"]);
        assert_eq!(f.check.id, "tcp-seq-num-approximation");
        assert_eq!(f.cvss[0].version, CvssVersion::V2);
        assert_eq!(f.cvss[0].vector, "AV:N/AC:L/Au:N/C:N/I:N/A:P");
        assert_eq!(f.cvss[0].reported_score, Some(5.0));
        // MS05-019 and MS06-064: two bulletins, so the solution text stays.
        assert_eq!(f.remediation.key(), "nexpose:tcp-seq-num-approximation");
    }
    assert_eq!(
        tcp_seq[0].fingerprint,
        "nexpose:v1:192.168.1.1:tcp-seq-num-approximation:0/"
    );
    // DD [2]: Low "TCP timestamp response", 5 locations, no ids, the first
    // with no port or protocol.
    let ts: Vec<&&Observation> = all
        .iter()
        .filter(|f| f.check.name == "TCP timestamp response")
        .collect();
    assert_eq!(ts.len(), 5);
    assert!(
        ts.iter()
            .all(|f| f.severity == Severity::Low && f.cves.is_empty())
    );
    assert_eq!((ts[0].port, ts[0].protocol.as_str()), (0, ""));
    // DD [5]: the default root password on 22/ssh.
    let ssh = all
        .iter()
        .find(|f| f.check.name == "Default SSH password: root password \"root\"")
        .unwrap();
    assert_eq!(
        (ssh.port, ssh.protocol.as_str(), ssh.service.as_deref()),
        (22, "tcp", Some("SSH"))
    );
    // DD [9]: HttpOnly on 80/http.
    let cookie = all
        .iter()
        .find(|f| f.check.name == "Missing HttpOnly Flag From Cookie")
        .unwrap();
    assert_eq!((cookie.port, cookie.service.as_deref()), (80, Some("HTTP")));
    // Findings keep the service name of their endpoint.
    let services: BTreeSet<(u16, &str, &str)> = all
        .iter()
        .filter_map(|f| Some((f.port, f.protocol.as_str(), f.service.as_deref()?)))
        .collect();
    assert_eq!(
        services,
        BTreeSet::from([
            (22, "tcp", "SSH"),
            (23, "tcp", "Telnet"),
            (80, "tcp", "HTTP"),
            (123, "udp", "NTP"),
            (443, "tcp", "HTTPS")
        ])
    );
    // DD [26]-[32] and [37] ("Open port UDP/137", radius on udp/1812,
    // nfs_acl, Backup Exec, sun-answerbook, HP JetDirect) are its synthetic
    // open-port findings: endpoints are inventory, so none of ours is there.
    assert!(
        all.iter()
            .all(|f| ![137, 1812, 2049, 6101, 8888, 9100].contains(&f.port))
    );
    // DD [33]: DES/IDEA ciphers on 443/tcp (service `<unknown>`: none).
    let des = all
        .iter()
        .find(|f| f.check.name == "TLS/SSL Server Supports DES and IDEA Cipher Suites")
        .unwrap();
    assert_eq!(
        (des.port, des.protocol.as_str(), des.service.as_deref()),
        (443, "tcp", None)
    );
    assert!(all.iter().all(|f| !f.check.name.starts_with("Open port")));
    // Solutions are flattened rich text.
    match &tcp_seq[0].remediation {
        Remediation::Solution { text, .. } => {
            assert!(!text.contains("  ") && !text.is_empty(), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn export_1_0_test_without_definition() {
    let Some((summary, hosts)) = run("defectdojo__no_vuln.xml") else {
        return;
    };
    // DD: 1 finding, the synthetic "Host Up". Ours: the node, no finding; its
    // vulnerable test names an id with no definition and is skipped (the
    // definition nested inside the node is not the report's).
    assert_eq!((summary.hosts, summary.findings), (1, 0));
    assert_eq!(skipped(&summary), [("no definition", 1)]);
    assert_eq!(hosts[0].asset.asset_id, "192.168.1.1");
    assert!(hosts[0].findings.is_empty());
}

#[test]
fn export_2_0_authenticated() {
    let Some((summary, hosts)) = run("defectdojo__report_auth.xml") else {
        return;
    };
    // 26 node-level vulnerable tests (10 exploited, 16 version).
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (4, 26, 0)
    );
    assert!(summary.skipped.is_empty());
    let assets: Vec<&str> = hosts.iter().map(|h| h.asset.asset_id.as_str()).collect();
    assert_eq!(assets, ["host0", "host1", "host3", "host4"]);
    assert_eq!(hosts[0].asset.ip.as_deref(), Some("192.168.0.12"));
    assert_eq!(hosts[0].asset.os.as_deref(), Some("Ubuntu Linux 20.04"));
    // Observed at the start of the scan the tests name (scan-id 27992).
    assert_eq!(hosts[0].observed_at, utc("2021-02-11T16:23:40.221Z"));
    let all = findings(&hosts);
    // DD: 5 (4 vulnerabilities + Host Up), "User home directory mode unsafe"
    // with 16 locations. Ours: 14, one per node × vulnerability: the 16
    // home-directory tests are 4 findings (4 per node, no endpoint).
    assert_eq!(all.len(), 14);
    let count = |name: &str, severity: Severity| {
        all.iter()
            .filter(|f| f.check.name == name)
            .inspect(|f| assert_eq!(f.severity, severity, "{name}"))
            .count()
    };
    assert_eq!(count("ICMP redirection enabled", Severity::High), 4);
    assert_eq!(count("No password for Grub", Severity::Medium), 4);
    assert_eq!(count("User home directory mode unsafe", Severity::Low), 4);
    assert_eq!(count("TCP timestamp response", Severity::Low), 2);
    // DD: ids None for ICMP redirection; its one MSKB reference is the
    // remediation.
    let icmp = all
        .iter()
        .find(|f| f.check.name == "ICMP redirection enabled")
        .unwrap();
    assert!(icmp.cves.is_empty());
    assert_eq!(
        icmp.remediation,
        Remediation::Advisory {
            id: "KB293626".into()
        }
    );
    assert_eq!(icmp.fingerprint, "nexpose:v1:host0:linux-icmp-redirect:0/");
}

#[test]
fn damaged_reports_are_rejected_not_panicked() {
    survives_damage("nexpose", "defectdojo__many_vulns.xml", true);
    survives_damage("nexpose", "defectdojo__report_auth.xml", true);
    survives_damage("nexpose", "defectdojo__no_vuln.xml", true);
}
