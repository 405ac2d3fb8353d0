//! The Nessus parser and normalizer against the shared corpus
//! (`/work/shared/corpus/nessus`, see EXPECTED.md) and the outside cases
//! OC-01 and OC-02. Skipped, loudly, when the corpus is absent (never in CI).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use events::{CvssVersion, Severity};
use ingest::nessus::{self, NessusError, NessusReader, ReportHost};
use ingest::normalize::{self, NormalizedHost};

fn corpus_file(name: &str) -> Option<PathBuf> {
    Some(testkit::corpus()?.join("nessus").join(name))
}

fn case_file(case: &str) -> Option<PathBuf> {
    Some(testkit::cases()?.join(case).join("scan.nessus"))
}

fn open(path: &PathBuf) -> BufReader<File> {
    BufReader::new(File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display())))
}

fn hosts(path: &PathBuf) -> Vec<ReportHost> {
    NessusReader::new(open(path))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Submission time used as the fallback scan time; far from every corpus
/// date so a wrong fallback shows.
fn fallback() -> DateTime<Utc> {
    utc("2030-01-01T00:00:00Z")
}

fn normalized(path: &PathBuf) -> Vec<NormalizedHost> {
    hosts(path)
        .iter()
        .map(|h| normalize::normalize_host(h, fallback()))
        .collect()
}

fn rejection(path: &PathBuf) -> NessusError {
    match nessus::check(open(path)) {
        Ok(s) => panic!("{} accepted: {s:?}", path.display()),
        Err(e) => e,
    }
}

fn severity_counts(hosts: &[ReportHost]) -> BTreeMap<u8, usize> {
    let mut counts = BTreeMap::new();
    for item in hosts.iter().flat_map(|h| &h.items) {
        *counts.entry(item.severity).or_default() += 1;
    }
    counts
}

#[test]
fn nessus_v_unknown_seven_windows_hosts() {
    let Some(path) = corpus_file("defectdojo__nessus_v_unknown.xml") else {
        return;
    };
    let parsed = hosts(&path);
    let names: Vec<&str> = parsed.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "qa3app09", "qa3app06", "qa3app05", "qa3app04", "qa3app03", "qa3app02", "qa3app01"
        ]
    );
    let items: Vec<usize> = parsed.iter().map(|h| h.items.len()).collect();
    assert_eq!(items, [43, 41, 41, 41, 41, 45, 44]);
    assert_eq!(
        severity_counts(&parsed),
        BTreeMap::from([(0, 266), (1, 7), (2, 23)])
    );
    let cves: Vec<&String> = parsed
        .iter()
        .flat_map(|h| &h.items)
        .flat_map(|i| &i.cves)
        .collect();
    assert_eq!(cves.len(), 7);
    assert!(cves.iter().all(|c| *c == "CVE-2005-1794"));

    let summary = nessus::check(open(&path)).unwrap();
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (7, 30, 266)
    );
    assert_eq!(
        summary.meta.policy_name.as_deref(),
        Some("Internal Network Scan")
    );
    assert_eq!(summary.meta.report_name.as_deref(), Some("2459_Coinstar"));

    let norm = normalized(&path);
    let ids: Vec<&str> = norm.iter().map(|h| h.asset.asset_id.as_str()).collect();
    assert_eq!(ids, names);
    let ips: Vec<&str> = norm.iter().filter_map(|h| h.asset.ip.as_deref()).collect();
    assert_eq!(
        ips,
        [
            "10.31.112.29",
            "10.31.112.26",
            "10.31.112.25",
            "10.31.112.24",
            "10.31.112.23",
            "10.31.112.22",
            "10.31.112.21"
        ]
    );
    let first = &norm[0];
    // No HOST_START_TIMESTAMP in this file: HOST_START, read as UTC.
    assert_eq!(parsed[0].properties.host_start_timestamp, None);
    assert_eq!(first.observed_at, utc("2013-07-01T11:33:11Z"));
    assert_eq!(first.finished_at, Some(utc("2013-07-01T11:40:48Z")));
    assert_eq!(first.asset.hostname.as_deref(), Some("qa3app09"));
    assert_eq!(first.asset.mac.as_deref(), Some("00:50:56:81:01:e3"));
    assert_eq!(
        first.asset.os.as_deref(),
        Some("Microsoft Windows Server 2008 R2 Standard Service Pack 1")
    );
    let findings: Vec<_> = norm.iter().flat_map(|h| &h.findings).collect();
    let facts: usize = norm.iter().map(|h| h.facts.len()).sum();
    assert_eq!((findings.len(), facts), (30, 266));
    let low = findings
        .iter()
        .filter(|f| f.severity == Severity::Low)
        .count();
    let medium = findings
        .iter()
        .filter(|f| f.severity == Severity::Medium)
        .count();
    assert_eq!((low, medium), (7, 23));
    let with_cve: Vec<_> = findings.iter().filter(|f| !f.cves.is_empty()).collect();
    assert_eq!(with_cve.len(), 7);
    assert!(with_cve.iter().all(|f| f.cves == ["CVE-2005-1794"]));
    assert!(
        findings
            .iter()
            .all(|f| f.observed_at == utc("2013-07-01T11:33:11Z"))
    );
    // Findings of one host share its asset id in their fingerprint.
    assert!(
        first
            .findings
            .iter()
            .all(|f| f.fingerprint.starts_with("nessus:v1:qa3app09:"))
    );
    let nsi = first.facts.iter().find(|f| f.check_id == "19506").unwrap();
    assert_eq!(
        (
            nsi.name.as_str(),
            nsi.port,
            nsi.protocol.as_str(),
            nsi.service.as_deref()
        ),
        ("Nessus Scan Information", 0, "tcp", Some("general"))
    );
}

#[test]
fn nessus_with_cvssv3_one_web_host() {
    let Some(path) = corpus_file("defectdojo__nessus_with_cvssv3.nessus") else {
        return;
    };
    let parsed = hosts(&path);
    assert_eq!(parsed.len(), 1);
    let host = &parsed[0];
    assert_eq!(host.name, "testphp.vulnweb.com");
    assert_eq!(host.items.len(), 49);
    assert_eq!(
        severity_counts(&parsed),
        BTreeMap::from([(0, 23), (1, 1), (2, 13), (3, 10), (4, 2)])
    );
    assert_eq!(host.items.iter().map(|i| i.cves.len()).sum::<usize>(), 138);
    assert_eq!(host.items.iter().filter(|i| i.cves.len() > 1).count(), 15);
    let p24907 = host.items.iter().find(|i| i.plugin_id == 24907).unwrap();
    assert_eq!(p24907.cves.len(), 27);
    assert_eq!(host.items.iter().map(|i| i.cwes.len()).sum::<usize>(), 47);
    assert_eq!(host.items.iter().filter(|i| !i.cwes.is_empty()).count(), 15);
    assert_eq!(
        host.items
            .iter()
            .filter(|i| i.cvss3_vector.is_some() && i.cvss3_base_score.is_some())
            .count(),
        9
    );
    assert_eq!(
        host.items
            .iter()
            .filter(|i| i.svc_name.as_deref() == Some("www"))
            .count(),
        41
    );
    assert_eq!(
        host.properties.host_fqdns,
        [
            "testphp.vulnweb.com",
            "ec2-44-228-249-3.us-west-2.compute.amazonaws.com"
        ]
    );
    assert_eq!(
        host.properties
            .other
            .get("patch-summary-total-cves")
            .map(String::as_str),
        Some("138")
    );

    let summary = nessus::check(open(&path)).unwrap();
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (1, 26, 23)
    );
    // The epoch tags win over the zone-less text (which is in the scanner's
    // local time, UTC+1 here).
    assert_eq!(summary.started_at, Some(utc("2022-03-23T13:31:51Z")));
    assert_eq!(summary.finished_at, Some(utc("2022-03-23T14:07:52Z")));

    let norm = normalize::normalize_host(host, fallback());
    assert_eq!(norm.asset.asset_id, "testphp");
    assert_eq!(norm.asset.ip.as_deref(), Some("44.228.249.3"));
    assert_eq!(norm.asset.fqdn.as_deref(), Some("testphp.vulnweb.com"));
    assert_eq!(norm.asset.os.as_deref(), Some("Linux Kernel 2.6"));
    assert_eq!(norm.observed_at, utc("2022-03-23T13:31:51Z"));
    // 26 severity 1-4 items; plugin 58987 is reported twice on 80/tcp and
    // merges into one finding.
    assert_eq!(norm.findings.len(), 25);
    assert_eq!(norm.facts.len(), 23);
    let php = norm
        .findings
        .iter()
        .filter(|f| f.check.id == "58987")
        .count();
    assert_eq!(php, 1);
    let p142591 = norm
        .findings
        .iter()
        .find(|f| f.check.id == "142591")
        .unwrap();
    assert_eq!(p142591.severity, Severity::Medium);
    assert_eq!(p142591.fingerprint, "nessus:v1:testphp:142591:80/tcp");
    assert_eq!(p142591.service.as_deref(), Some("www"));
    let v3 = p142591
        .cvss
        .iter()
        .find(|c| c.version == CvssVersion::V3_0)
        .unwrap();
    assert_eq!(v3.vector, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H");
    assert_eq!(v3.reported_score, Some(7.5));
    assert_eq!(v3.source, "nessus");
    let v2 = p142591
        .cvss
        .iter()
        .find(|c| c.version == CvssVersion::V2)
        .unwrap();
    assert_eq!(v2.vector, "AV:N/AC:L/Au:N/C:N/I:N/A:P");
    assert_eq!(v2.reported_score, Some(5.0));
    assert_eq!(
        p142591.remediation,
        events::Remediation::Solution {
            scanner: "nessus".into(),
            check_id: "142591".into(),
            text: "Upgrade to PHP version 7.3.24 or later.".into(),
        }
    );
    let p24907 = norm
        .findings
        .iter()
        .find(|f| f.check.id == "24907")
        .unwrap();
    assert_eq!(p24907.cves.len(), 27);
    assert!(p24907.cves.iter().all(|c| c.starts_with("CVE-")));
    // Every vector is canonical: v2 bare, v3 prefixed exactly once.
    for v in norm.findings.iter().flat_map(|f| &f.cvss) {
        match v.version {
            CvssVersion::V2 => assert!(!v.vector.starts_with("CVSS"), "{}", v.vector),
            _ => assert_eq!(v.vector.matches("CVSS:").count(), 1, "{}", v.vector),
        }
    }
}

#[test]
fn libnessus_local_3_three_ip_hosts() {
    let Some(path) = corpus_file("libnessus__nessus_report_local_3.nessus") else {
        return;
    };
    let parsed = hosts(&path);
    let names: Vec<&str> = parsed.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["192.168.2.104", "192.168.2.101", "192.168.2.100"]);
    let items: Vec<usize> = parsed.iter().map(|h| h.items.len()).collect();
    assert_eq!(items, [2, 31, 73]);
    assert!(parsed.iter().all(|h| h.properties.host_fqdn.is_none()));
    let total_cves: Vec<Option<&str>> = parsed
        .iter()
        .map(|h| {
            h.properties
                .other
                .get("patch-summary-total-cves")
                .map(String::as_str)
        })
        .collect();
    assert_eq!(total_cves, [Some("0"), Some("9"), Some("43")]);
    let per_host: Vec<BTreeMap<u8, usize>> = parsed
        .iter()
        .map(|h| severity_counts(std::slice::from_ref(h)))
        .collect();
    assert_eq!(
        per_host,
        [
            BTreeMap::from([(0, 2)]),
            BTreeMap::from([(0, 22), (1, 6), (2, 3)]),
            BTreeMap::from([(0, 47), (1, 4), (2, 17), (3, 3), (4, 2)]),
        ]
    );
    assert_eq!(parsed[0].properties.operating_system, None);
    assert_eq!(
        parsed[2].properties.netbios_name.as_deref(),
        Some("MIKE-MACBOOK")
    );

    let norm = normalized(&path);
    let ids: Vec<&str> = norm.iter().map(|h| h.asset.asset_id.as_str()).collect();
    // The .100 host has a NetBIOS name, which is a host name.
    assert_eq!(ids, ["192.168.2.104", "192.168.2.101", "mike-macbook"]);
    assert!(
        norm.iter()
            .all(|h| h.observed_at == utc("2014-03-20T00:30:57Z"))
    );
    let ends: Vec<Option<DateTime<Utc>>> = norm.iter().map(|h| h.finished_at).collect();
    assert_eq!(
        ends,
        [
            Some(utc("2014-03-20T01:07:03Z")),
            Some(utc("2014-03-20T00:57:04Z")),
            Some(utc("2014-03-20T01:22:17Z")),
        ]
    );
    let counts: Vec<(usize, usize)> = norm
        .iter()
        .map(|h| (h.findings.len(), h.facts.len()))
        .collect();
    assert_eq!(counts, [(0, 2), (9, 22), (26, 47)]);
}

#[test]
fn nessus_was_one_vuln_url_host() {
    let Some(path) = corpus_file("defectdojo__nessus_was_one_vuln.xml") else {
        return;
    };
    let norm = normalized(&path);
    assert_eq!(norm.len(), 1);
    let host = &norm[0];
    assert_eq!(host.asset.asset_id, "google.com");
    assert_eq!(host.asset.ip, None);
    assert_eq!(host.observed_at, utc("2021-03-12T12:34:30.12031Z"));
    assert_eq!(host.findings.len(), 1);
    assert!(host.facts.is_empty());
    let f = &host.findings[0];
    assert_eq!(f.check.id, "98104");
    assert_eq!(f.check.name, "Cross-Site Scripting (XSS)");
    assert_eq!(f.check.family.as_deref(), Some("Cross Site Scripting"));
    assert_eq!((f.port, f.protocol.as_str()), (80, "tcp"));
    assert_eq!(f.service.as_deref(), Some("http"));
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.cwes, [79]);
    assert!(f.cves.is_empty());
    assert_eq!(f.fingerprint, "nessus:v1:google.com:98104:80/tcp");
    assert_eq!(
        f.finding_id,
        normalize::finding_id("nessus:v1:google.com:98104:80/tcp")
    );
}

#[test]
fn nessus_was_no_vuln_is_a_clean_report() {
    let Some(path) = corpus_file("defectdojo__nessus_was_no_vuln.xml") else {
        return;
    };
    let summary = nessus::check(open(&path)).unwrap();
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (1, 0, 0)
    );
    let norm = normalized(&path);
    assert_eq!(norm.len(), 1);
    assert_eq!(norm[0].asset.asset_id, "google.com");
    assert!(norm[0].findings.is_empty());
}

#[test]
fn corpus_rejections_give_their_reason() {
    let Some(dir) = testkit::corpus() else {
        return;
    };
    let file = |name: &str| dir.join("nessus").join(name);
    assert_eq!(
        rejection(&file("libnessus__xxxxxxxx_empty.nessus")),
        NessusError::Empty { bytes: 0 }
    );
    assert_eq!(
        rejection(&file("rubynessus__example_v1_legacy.nessus")).to_string(),
        "unsupported Nessus v1 format (NessusClientData); export as .nessus v2"
    );
    let malformed = file("rubynessus__example_v2_malformed-tag.nessus");
    let err = rejection(&malformed);
    let NessusError::Xml { position, .. } = &err else {
        panic!("not an XML error: {err}");
    };
    assert!(
        err.to_string()
            .starts_with("not well-formed XML at byte 256380: "),
        "{err}"
    );
    // The byte is on line 1488, the line with `<<plugin_publication_date>`.
    let bytes = std::fs::read(&malformed).unwrap();
    let line = bytes[..*position as usize]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1;
    assert_eq!(line, 1488);
    // The bad tag is inside the first host: the iterator yields the error,
    // then nothing (fused).
    let mut reader = NessusReader::new(open(&malformed));
    assert!(matches!(reader.next(), Some(Err(NessusError::Xml { .. }))));
    assert!(reader.next().is_none());
    assert_eq!(reader.meta().policy_name.as_deref(), Some("Ruby-Nessus"));
    assert_eq!(reader.meta().report_name.as_deref(), Some("Ruby-Nessus"));
}

#[test]
fn truncated_report_is_rejected() {
    let Some(path) = corpus_file("defectdojo__nessus_v_unknown.xml") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let cut = &bytes[..400 * 1024];
    let err = match nessus::check(cut) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e,
    };
    assert!(matches!(err, NessusError::Truncated { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("truncated report: input ended at byte "),
        "{err}"
    );
    // Cut right after a complete host too: still truncated (no root end).
    let end_of_host = bytes
        .windows(13)
        .position(|w| w == b"</ReportHost>")
        .unwrap()
        + 13;
    let err = nessus::check(&bytes[..end_of_host]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("truncated report: input ended at byte {end_of_host} inside <Report> (depth 2)")
    );
}

#[test]
fn doctype_and_entity_bombs_are_refused() {
    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<NessusClientData_v2><Report name="&lol2;"/></NessusClientData_v2>"#;
    assert_eq!(
        nessus::check(&laughs[..]).unwrap_err(),
        NessusError::Doctype { position: 22 }
    );
    let xxe = br#"<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><NessusClientData_v2/>"#;
    assert!(matches!(
        nessus::check(&xxe[..]),
        Err(NessusError::Doctype { position: 0 })
    ));
}

#[test]
fn invalid_utf8_inside_a_real_report_is_rejected() {
    let Some(path) = corpus_file("defectdojo__nessus_v_unknown.xml") else {
        return;
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"<description>")
        .unwrap()
        + 13;
    bytes[at] = 0xff;
    let err = nessus::check(&bytes[..]).unwrap_err();
    let NessusError::InvalidUtf8 { position } = err else {
        panic!("not an encoding error: {err}");
    };
    assert!(
        position <= at as u64 && position + 64 >= at as u64,
        "{position} vs {at}"
    );
}

#[test]
fn parsing_twice_gives_the_same_findings_and_ids() {
    let Some(path) = corpus_file("defectdojo__nessus_with_cvssv3.nessus") else {
        return;
    };
    assert_eq!(normalized(&path), normalized(&path));
}

#[test]
fn oc01_cwe_text_forms_normalize_to_numbers() {
    let Some(path) = case_file("OC-01") else {
        return;
    };
    let summary = nessus::check(open(&path)).unwrap();
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (1, 2, 0)
    );
    let norm = normalized(&path);
    assert_eq!(norm.len(), 1);
    let host = &norm[0];
    assert_eq!(host.asset.ip.as_deref(), Some("192.0.2.21"));
    assert_eq!(host.asset.fqdn.as_deref(), Some("host-a.example"));
    assert_eq!(host.asset.asset_id, "host-a");
    assert_eq!(host.observed_at, utc("2025-09-23T12:01:44Z"));
    let got: Vec<(&str, u16, &str, &[u32])> = host
        .findings
        .iter()
        .map(|f| {
            (
                f.check.id.as_str(),
                f.port,
                f.protocol.as_str(),
                f.cwes.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("990101", 443, "tcp", &[20][..]),
            ("990102", 8443, "tcp", &[79, 352][..]),
        ]
    );
}

#[test]
fn oc02_unprefixed_v3_vectors_get_the_prefix_once() {
    let Some(path) = case_file("OC-02") else {
        return;
    };
    let norm = normalized(&path);
    assert_eq!(norm.len(), 1);
    let host = &norm[0];
    assert_eq!(host.asset.ip.as_deref(), Some("192.0.2.22"));
    assert_eq!(host.asset.asset_id, "host-b");
    let v3: Vec<(&str, CvssVersion, &str, Option<f64>)> = host
        .findings
        .iter()
        .flat_map(|f| {
            f.cvss
                .iter()
                .filter(|c| c.version != CvssVersion::V2)
                .map(move |c| {
                    (
                        f.check.id.as_str(),
                        c.version,
                        c.vector.as_str(),
                        c.reported_score,
                    )
                })
        })
        .collect();
    assert_eq!(
        v3,
        [
            (
                "990201",
                CvssVersion::V3_0,
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                Some(7.5)
            ),
            (
                "990202",
                CvssVersion::V3_0,
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
                Some(0.0)
            ),
            (
                "990203",
                CvssVersion::V3_1,
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                Some(8.8)
            ),
        ]
    );
    let severities: Vec<Severity> = host.findings.iter().map(|f| f.severity).collect();
    assert_eq!(severities, [Severity::High, Severity::Low, Severity::High]);
}

#[test]
fn every_prefix_of_a_report_is_rejected_and_nothing_panics() {
    let Some(path) = corpus_file("defectdojo__nessus_was_one_vuln.xml") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(nessus::check(&bytes[..]).map(|s| s.findings), Ok(1));
    // The file has no final newline: every strict prefix is incomplete.
    for cut in 0..bytes.len() {
        assert!(
            nessus::check(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes accepted"
        );
    }
    // Single-byte corruptions: any outcome but a panic.
    let mut copy = bytes.clone();
    for at in (0..bytes.len()).step_by(2) {
        for b in [b'<', b'&', 0xff] {
            copy[at] = b;
            let _ = nessus::check(&copy[..]);
        }
        copy[at] = bytes[at];
    }
}

#[test]
fn tiny_read_buffers_give_the_same_hosts() {
    let Some(path) = corpus_file("libnessus__nessus_report_local_3.nessus") else {
        return;
    };
    let big = hosts(&path);
    let small: Vec<ReportHost> =
        NessusReader::new(BufReader::with_capacity(7, File::open(&path).unwrap()))
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(small, big);
}
