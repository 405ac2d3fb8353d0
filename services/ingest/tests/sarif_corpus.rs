//! SARIF 2.1.0 through detection, the whole-report check and normalization
//! (`format::open`, `format::check`, `format::hosts`, as `patchflow parse`
//! runs them) against every SARIF file of the shared corpus (`sarif/`,
//! values from EXPECTED.md) and case OC-06. Locations, which a finding event
//! has no field for, are read through [`SarifResults`]. Skipped, loudly,
//! when the corpus is absent (never in CI).

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use events::{Remediation, Severity};
use ingest::format::Format;
use ingest::sarif::{self, CodeLocation, SarifFinding, SarifItem, SarifResults};
use support::{
    ALPINE_310, Parsed, assert_reimport_stable, case_file, corpus_file, fallback, parse, utc,
};

fn corpus(name: &str) -> Option<Parsed> {
    let path = corpus_file("sarif", name)?;
    let parsed = assert_reimport_stable(&path);
    assert_eq!(parsed.format, Format::Sarif, "{name}");
    Some(parsed)
}

/// Every result of a log, normalized, from text.
fn items(text: &str) -> Vec<SarifItem> {
    SarifResults::new(text.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn file_items(path: &Path) -> Vec<SarifItem> {
    items(&std::fs::read_to_string(path).unwrap())
}

fn findings(items: &[SarifItem]) -> Vec<&SarifFinding> {
    items
        .iter()
        .filter_map(|i| match i {
            SarifItem::Finding(f) => Some(f.as_ref()),
            SarifItem::Skipped(_) => None,
        })
        .collect()
}

fn location(path: &str, line: u64) -> Option<CodeLocation> {
    Some(CodeLocation {
        path: path.to_owned(),
        start_line: Some(line),
    })
}

/// Parses a log given as text through the same format calls.
fn parse_text(text: &str) -> Parsed {
    let dir = std::env::temp_dir().join(format!("patchflow-sarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.sarif", uuid::Uuid::new_v4()));
    std::fs::write(&path, text).unwrap();
    let parsed = parse(&path);
    std::fs::remove_file(&path).unwrap();
    parsed
}

#[test]
fn appendix_k_suppressed_result_is_not_a_finding() {
    let Some(path) = corpus_file("sarif", "defectdojo__appendix_k.sarif") else {
        return;
    };
    let p = corpus("defectdojo__appendix_k.sarif").unwrap();
    // DD makes 1 finding. Its one result carries an accepted external
    // suppression, and a suppressed result is not open work in patchflow:
    // 0 findings, 1 skipped with the reason (knowingly fewer than DD).
    assert_eq!(p.findings().len(), 0);
    assert_eq!(p.skipped(sarif::SKIP_SUPPRESSED), 1);
    // The run names its repository; the invocation its times (DD's date is
    // the end, 2016-07-16T14:19:01Z).
    assert_eq!(p.hosts[0].asset.asset_id, "github.com/example-corp/browser");
    assert_eq!(p.hosts[0].observed_at, utc("2016-07-16T14:18:25Z"));
    assert_eq!(p.summary.finished_at, Some(utc("2016-07-16T14:19:01Z")));

    // Without its suppression the result is DD's finding: High, at
    // collections/list.h line 15, its message built from the rule's
    // messageStrings.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("suppressions");
    let unsuppressed = items(&doc.to_string());
    let f = findings(&unsuppressed);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].location, location("collections/list.h", 15));
    assert_eq!(f[0].pending.severity, Severity::High);
    assert_eq!(f[0].pending.check.id, "C2001");
    assert_eq!(
        f[0].pending.check.name,
        "A variable was used without being initialized."
    );
    // No fingerprints, but a snippet: the identity does not use the line.
    assert!(
        f[0].pending.key[2].starts_with("snippet/"),
        "{:?}",
        f[0].pending.key
    );
}

#[test]
fn appendix_k1_empty_results_is_a_clean_run() {
    let Some(p) = corpus("defectdojo__appendix_k1.sarif") else {
        return;
    };
    // DD: 0 findings. One run with `results: []`: scanned, nothing found.
    assert_eq!(p.hosts.len(), 1);
    assert!(p.findings().is_empty());
    assert_eq!(p.hosts[0].asset.asset_id, "codescanner:unnamed");
}

#[test]
fn no_runs_imports_as_empty() {
    let Some(p) = corpus("defectdojo__no_runs.sarif") else {
        return;
    };
    // DD: re-import succeeds with 0 new findings; nothing was scanned.
    assert_eq!(p.hosts.len(), 0);
    assert_eq!(p.summary.findings, 0);
}

#[test]
fn dependency_check_without_rules() {
    let Some(path) = corpus_file("sarif", "defectdojo__dependency_check.sarif") else {
        return;
    };
    let p = corpus("defectdojo__dependency_check.sarif").unwrap();
    assert_eq!(p.findings().len(), 13);
    // Every result says level error (their properties.severity says
    // otherwise; the level wins, as for DD).
    assert!(p.findings().iter().all(|f| f.severity == Severity::High));
    assert_eq!(p.hosts[0].asset.asset_id, "dependency-check:unnamed");
    let all = file_items(&path);
    let f = findings(&all);
    // DD [0] keeps the URI `file:////src/...` (four slashes); patchflow
    // makes it the path it names.
    assert_eq!(
        f[0].location.as_ref().map(|l| l.path.as_str()),
        Some(
            "/src/.venv/lib/python3.9/site-packages/tastypie_swagger/static/tastypie_swagger/js/lib/handlebars-1.0.0.js"
        )
    );
    let f6 = &f[6].pending;
    assert!(
        f6.check.name.starts_with(
            "CVE-2019-11358 - jQuery before 3.4.0, as used in Drupal, Backdrop CMS, and other products, mishandles jQuery.extend(true, {}, ...) because of"
        ),
        "{}",
        f6.check.name
    );
    assert_eq!(f6.severity, Severity::High);
    assert_eq!(f6.cves, ["CVE-2019-11358"]);
}

#[test]
fn cxf_grype_sarif_takes_severity_from_security_severity() {
    let Some(p) = corpus("defectdojo__cxf-3.4.6.sarif") else {
        return;
    };
    assert_eq!(p.findings().len(), 22);
    let f = p.findings();
    // No level, no defaultConfiguration: the rule's "security-severity"
    // string is the score ("2.1" low, "7.8" high).
    assert_eq!(f[0].severity, Severity::Low);
    assert_eq!(f[6].severity, Severity::High);
    assert_eq!(
        f[6].check.id,
        "CVE-2011-5034-geronimo-j2ee-management_1.1_spec"
    );
    assert_eq!(f[6].cves, ["CVE-2011-5034"]);
    // Package and version come from the rule's help text.
    let pkg = f[0].package.as_ref().unwrap();
    assert_eq!(
        (
            pkg.name.as_str(),
            pkg.version.as_str(),
            pkg.ecosystem.as_deref()
        ),
        (
            "geronimo-j2ee-management_1.1_spec",
            "1.0.1",
            Some("java-archive")
        )
    );
    assert_eq!(
        pkg.locations,
        ["lib/geronimo-j2ee-management_1.1_spec-1.0.1.jar"]
    );
    assert!(
        matches!(f[0].remediation, Remediation::Solution { .. }),
        "no fix version"
    );
    assert_eq!(p.hosts[0].asset.asset_id, "grype:unnamed");
}

#[test]
fn suppression_test_current() {
    let Some(p) = corpus("defectdojo__SuppressionTestCurrent.sarif") else {
        return;
    };
    // DD: 4 findings, [0] "New suppressed result.". Three results carry an
    // external suppression without a status (accepted): patchflow skips them
    // with the reason and keeps the one unsuppressed result (knowingly fewer
    // than DD).
    assert_eq!(p.findings().len(), 1);
    assert_eq!(p.skipped(sarif::SKIP_SUPPRESSED), 3);
    let f = p.findings()[0];
    assert_eq!(f.check.id, "TST0004");
    assert_eq!(f.check.name, "Existing, originally suppressed result.");
    assert_eq!(
        f.severity,
        Severity::Medium,
        "no level anywhere: SARIF's default, warning"
    );
}

#[test]
fn semgrep_owasp_benchmark() {
    let Some(path) = corpus_file("sarif", "defectdojo__semgrepowasp-benchmark-sample.sarif") else {
        return;
    };
    let p = corpus("defectdojo__semgrepowasp-benchmark-sample.sarif").unwrap();
    // DD: 1768 findings. 104 results repeat another's (rule, file, message)
    // and are numbered, not merged.
    assert_eq!(p.findings().len(), 1768);
    assert_eq!(
        p.findings()
            .iter()
            .filter(|f| f.fingerprint.contains('#'))
            .count(),
        104
    );
    let all = file_items(&path);
    assert_eq!(
        findings(&all)[0].location.as_ref().map(|l| l.path.as_str()),
        Some("src/main/java/org/owasp/benchmark/testcode/BenchmarkTest02660.java")
    );
    // No level on results: the rules' defaultConfiguration. The rules that
    // fired are all "warning" (the one "note" rule, the first listed, fired
    // nowhere).
    let mut by: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in p.findings() {
        *by.entry(f.severity).or_default() += 1;
    }
    assert_eq!(by, BTreeMap::from([(Severity::Medium, 1768)]));
    assert_eq!(p.hosts[0].asset.asset_id, "semgrep:unnamed");
}

#[test]
fn trivy_sarif_golden_agrees_with_the_json_golden() {
    let Some(p) = corpus("trivy__alpine-310.sarif.golden") else {
        return;
    };
    // run.properties.imageName: the same asset as Trivy's JSON names.
    assert_eq!(
        p.hosts[0].asset.asset_id,
        "testdata/fixtures/images/alpine-310.tar.gz"
    );
    let tuples: Vec<(&str, &str, &str, &str)> = p
        .findings()
        .iter()
        .map(|f| {
            let pkg = f.package.as_ref().unwrap();
            let fixed = match &f.remediation {
                Remediation::Package { fixed_version, .. } => fixed_version.as_str(),
                other => panic!("{other:?}"),
            };
            (
                f.cves[0].as_str(),
                pkg.name.as_str(),
                pkg.version.as_str(),
                fixed,
            )
        })
        .collect();
    assert_eq!(tuples, ALPINE_310);
    for f in p.findings() {
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.check.scanner, "trivy");
        assert_eq!(
            f.cvss[0].vector,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"
        );
        assert_eq!(f.cvss[0].reported_score, Some(5.3));
    }
    // The JSON golden gives the same tuples (and the same asset id).
    if let Some(json) = corpus_file("trivy", "trivy__alpine-310.json.golden") {
        let j = parse(&json);
        assert_eq!(j.hosts[0].asset.asset_id, p.hosts[0].asset.asset_id);
        assert_eq!(j.findings().len(), tuples.len());
    }
}

#[test]
fn oc06_a_code_shift_keeps_the_fingerprint() {
    let (Some(scan1), Some(scan2)) = (
        case_file("OC-06", "scan1.sarif"),
        case_file("OC-06", "scan2.sarif"),
    ) else {
        return;
    };
    let first = parse(&scan1);
    assert_eq!(first.findings().len(), 2);
    assert_eq!(first.hosts[0].asset.asset_id, "/build/repo-a");
    assert_eq!(first.hosts[0].observed_at, fallback());
    let sql = first.finding_by_check("example.python.sql-injection");
    assert_eq!(sql.severity, Severity::High);
    assert_eq!(sql.cwes, [89]);
    assert_eq!(
        sql.fingerprint,
        "sarif:v1:/build/repo-a:example.python.sql-injection:src/app/db.py:pfp/primaryLocationLineHash=7f1c2a9b0d3e4f56%3A1"
    );
    assert_eq!(
        first.finding_by_check("example.python.weak-hash").cwes,
        [328]
    );

    // Three lines inserted above the query, the MD5 use removed: the SQL
    // finding keeps its id (its line moves 42 -> 45), the weak hash is
    // absent (resolved by the rescan). 2 findings ever, never 3.
    let second = parse(&scan2);
    assert_eq!(second.findings().len(), 1);
    assert_eq!(second.findings()[0].finding_id, sql.finding_id);
    assert_eq!(
        second.hosts[0].asset.asset_id,
        first.hosts[0].asset.asset_id
    );
    let lines: Vec<Option<u64>> = [&scan1, &scan2]
        .iter()
        .map(|p| {
            findings(&file_items(p))[0]
                .location
                .as_ref()
                .and_then(|l| l.start_line)
        })
        .collect();
    assert_eq!(lines, [Some(42), Some(45)]);
}

#[test]
fn a_code_shift_keeps_the_fingerprint_without_tool_fingerprints() {
    let Some(scan1) = case_file("OC-06", "scan1.sarif") else {
        return;
    };
    // The same log without partialFingerprints, then the same results three
    // lines lower: the message-based key does not move with the line.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&scan1).unwrap()).unwrap();
    for r in doc["runs"][0]["results"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("partialFingerprints");
    }
    let before = parse_text(&doc.to_string());
    for r in doc["runs"][0]["results"].as_array_mut().unwrap() {
        let region = &mut r["locations"][0]["physicalLocation"]["region"];
        for k in ["startLine", "endLine"] {
            let line = region[k].as_u64().unwrap();
            region[k] = serde_json::json!(line + 3);
        }
    }
    let after = parse_text(&doc.to_string());
    let ids = |p: &Parsed| {
        p.findings()
            .iter()
            .map(|f| f.finding_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&before), ids(&after));
    assert!(before.findings()[0].fingerprint.contains(":message/"));
}

#[test]
fn damaged_reports_are_rejected_not_panicked() {
    support::assert_damage_is_rejected("sarif");
}
