//! The generic CSV and JSON formats as `docs/generic-format.md` documents
//! them: its two examples are parsed (through `format::open`, `format::check`
//! and `format::hosts`) and must give what the page says, so the page
//! cannot drift from the code. Also: no other corpus file is taken for one
//! of the JSON-based formats or the generic CSV.

use std::io::Read;

use chrono::{DateTime, Utc};
use events::{Remediation, Severity};
use ingest::format::{self, Format, Summary};
use ingest::normalize::NormalizedHost;

fn doc_block(lang: &str) -> String {
    let path = testkit::workspace_root().join("docs/generic-format.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fence = format!("```{lang}\n");
    let start = text
        .find(&fence)
        .unwrap_or_else(|| panic!("no {lang} example"))
        + fence.len();
    let len = text[start..].find("```").unwrap();
    text[start..start + len].to_owned()
}

fn fallback() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

fn run(text: &str) -> (Format, Summary, Vec<NormalizedHost>) {
    let (fmt, reader) = format::open(text.as_bytes(), None).unwrap();
    let summary = format::check(fmt, reader).unwrap_or_else(|e| panic!("{e}"));
    let (_, reader) = format::open(text.as_bytes(), Some(fmt)).unwrap();
    let hosts = format::hosts(fmt, reader, fallback())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (fmt, summary, hosts)
}

#[test]
fn the_documented_csv_example() {
    let (fmt, summary, hosts) = run(&doc_block("csv"));
    assert_eq!(fmt, Format::GenericCsv);
    assert_eq!(
        (summary.hosts, summary.findings, summary.info_items),
        (2, 2, 1)
    );
    let ids: Vec<&str> = hosts.iter().map(|h| h.asset.asset_id.as_str()).collect();
    assert_eq!(ids, ["web01", "192.0.2.20"]);
    let web = &hosts[0];
    assert_eq!(web.facts.len(), 1);
    assert_eq!(web.facts[0].check_id, "BANNER");
    let f = &web.findings[0];
    assert_eq!(
        f.fingerprint,
        "generic:v1:web01:generic:OPENSSL-1:443/tcp:openssl@1.1.1k"
    );
    assert_eq!(f.cves, ["CVE-2023-4807", "CVE-2023-5678"]);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(
        f.remediation,
        Remediation::Package {
            name: "openssl".into(),
            fixed_version: "1.1.1w".into()
        }
    );
    assert_eq!(
        web.observed_at,
        "2025-03-04T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    let ssh = &hosts[1].findings[0];
    assert_eq!(ssh.severity, Severity::Medium);
    assert_eq!(ssh.cvss[0].vector, "AV:N/AC:H/Au:N/C:P/I:N/A:N");
    assert!(
        matches!(&ssh.remediation, Remediation::Solution { text, .. } if text.starts_with("Disable the CBC"))
    );
}

#[test]
fn the_documented_json_example() {
    let (fmt, summary, hosts) = run(&doc_block("json"));
    assert_eq!(fmt, Format::GenericJson);
    assert_eq!(summary.skipped, [("fix_state not_affected".to_owned(), 1)]);
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].asset.asset_id, "registry.example/shop:1.2");
    let f = &hosts[0].findings[0];
    assert_eq!(f.check.scanner, "acme-scan");
    assert_eq!(f.cwes, [416]);
    assert_eq!(
        f.remediation,
        Remediation::Package {
            name: "libxml2".into(),
            fixed_version: "2.11.7".into()
        }
    );
    assert_eq!(
        f.fingerprint,
        "generic:v1:registry.example/shop%3A1.2:acme-scan:ACME-2024-017:0/:libxml2@2.9.14"
    );
}

#[test]
fn other_corpus_files_are_not_taken_for_these_formats() {
    let Some(corpus) = testkit::corpus() else {
        return;
    };
    let mine = [
        Format::Trivy,
        Format::Grype,
        Format::Sarif,
        Format::GenericCsv,
        Format::GenericJson,
    ];
    let mut checked = 0;
    for dir in [
        "kev", "epss", "csaf", "osv", "qualys", "openvas", "nexpose", "nessus",
    ] {
        let Ok(entries) = std::fs::read_dir(corpus.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let mut head = Vec::new();
            std::fs::File::open(&path)
                .unwrap()
                .take(format::SNIFF_BYTES as u64)
                .read_to_end(&mut head)
                .unwrap();
            if let Ok(fmt) = format::detect(&head, None) {
                assert!(!mine.contains(&fmt), "{} detected as {fmt}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} files looked at");
}
