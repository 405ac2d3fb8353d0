//! Rescans of the shared cases, through the real parsers and ingest's pure
//! resolution core, the way the adapter drives them (per host: decide, then
//! store the records and the open index): OC-04 (Trivy, one CVE in two jars,
//! one jar gone in the rescan) and OC-06 (SARIF, lines inserted above one
//! finding, the other finding fixed).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::{FindingResolved, ScanScope};
use ingest::coverage;
use ingest::format;
use ingest::resolve::{self, FindingStatus, FingerprintRecord, HostScan, OpenIndex};
use uuid::Uuid;

/// ingest's state for the assets of one case.
#[derive(Default)]
struct Store {
    index: BTreeMap<String, OpenIndex>,
    records: BTreeMap<Uuid, FingerprintRecord>,
}

/// What one report did.
#[derive(Debug, Default)]
struct Imported {
    /// (finding id, fingerprint) published as observed.
    observed: Vec<(Uuid, String)>,
    resolved: Vec<FindingResolved>,
}

impl Store {
    /// Imports `file` as scan `scan` with `scope`, as the adapter does; a
    /// report that states no scan time is observed at its submission, here
    /// day `scan` of January 2030.
    fn import(&mut self, file: &Path, scan: u128, scope: ScanScope) -> Imported {
        let fallback: DateTime<Utc> = format!("2030-01-{scan:02}T00:00:00Z").parse().unwrap();
        let open = || std::io::BufReader::new(std::fs::File::open(file).unwrap());
        let (fmt, reader) = format::open(open(), None).unwrap();
        format::check(fmt, reader).unwrap();
        let policy = coverage::read_policy_of(fmt, open());
        let (_, reader) = format::open(open(), Some(fmt)).unwrap();
        let mut out = Imported::default();
        for host in coverage::hosts(fmt, reader, fallback, Arc::clone(&policy)) {
            let (host, coverage) = host.unwrap();
            let asset_id = host.asset.asset_id.clone();
            let index = self.index.get(&asset_id).cloned().unwrap_or_default();
            let scan = HostScan {
                asset_id: &asset_id,
                scan_id: Uuid::from_u128(scan),
                scope,
                observed_at: host.observed_at,
                findings: &host.findings,
                coverage: &coverage,
            };
            let d = resolve::decide_host(&scan, &index, &self.records);
            for (i, _, _) in &d.observed {
                let f = &host.findings[*i];
                out.observed.push((f.finding_id, f.fingerprint.clone()));
            }
            out.resolved.extend(d.resolved.iter().cloned());
            for (id, r) in d.records {
                self.records.insert(id, r);
            }
            if let Some(next) = d.index {
                self.index.insert(asset_id, next);
            }
        }
        out
    }

    fn open_findings(&self) -> usize {
        self.records
            .values()
            .filter(|r| r.status == FindingStatus::Open)
            .count()
    }
}

#[test]
fn oc04_trivy_rescan_resolves_only_the_jar_that_is_gone() {
    let Some(cases) = testkit::cases() else {
        return;
    };
    let dir = cases.join("OC-04");
    let mut store = Store::default();
    let first = store.import(&dir.join("scan1.json"), 1, ScanScope::Full);
    // One CVE in two jars: two findings, neither dropped as a duplicate.
    assert_eq!(first.observed.len(), 2, "{first:?}");
    let app_b = first
        .observed
        .iter()
        .find(|(_, fp)| fp.contains("app-b-all-2.1.0.jar"))
        .unwrap_or_else(|| panic!("no finding for the app-b jar: {first:?}"))
        .clone();
    let app_a = first
        .observed
        .iter()
        .find(|(_, fp)| fp.contains("examplelib-1.4.2.jar"))
        .unwrap_or_else(|| panic!("no finding for the app-a jar: {first:?}"))
        .clone();

    // The same report again: nothing new, nothing resolved.
    let again = store.import(&dir.join("scan1.json"), 2, ScanScope::Full);
    assert_eq!(again.observed.len(), 2);
    assert!(again.resolved.is_empty());

    // A partial rescan without app-b resolves nothing.
    let partial = store.import(&dir.join("scan2.json"), 3, ScanScope::Partial);
    assert!(partial.resolved.is_empty(), "{partial:?}");

    // The full rescan: app-b resolved by it, app-a still open.
    let second = store.import(&dir.join("scan2.json"), 4, ScanScope::Full);
    assert_eq!(second.observed, vec![app_a.clone()]);
    let resolved: Vec<Uuid> = second.resolved.iter().map(|r| r.finding_id).collect();
    assert_eq!(resolved, vec![app_b.0]);
    assert_eq!(second.resolved[0].scan_id, Uuid::from_u128(4));
    assert_eq!(
        second.resolved[0].resolved_at,
        "2025-03-11T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    // Exactly one open (CVE, path) pair remains.
    assert_eq!(store.open_findings(), 1);
    assert_eq!(store.records[&app_a.0].status, FindingStatus::Open);
}

#[test]
fn oc06_sarif_code_shift_keeps_the_finding_and_the_fixed_one_resolves() {
    let Some(cases) = testkit::cases() else {
        return;
    };
    let dir = cases.join("OC-06");
    let mut store = Store::default();
    let first = store.import(&dir.join("scan1.sarif"), 1, ScanScope::Full);
    assert_eq!(first.observed.len(), 2, "{first:?}");
    let sql = first
        .observed
        .iter()
        .find(|(_, fp)| fp.contains("sql-injection"))
        .unwrap_or_else(|| panic!("no SQL injection finding: {first:?}"))
        .clone();
    let weak = first
        .observed
        .iter()
        .find(|(_, fp)| fp.contains("weak-hash"))
        .unwrap_or_else(|| panic!("no weak-hash finding: {first:?}"))
        .clone();

    // Three lines inserted above the query, the MD5 use removed.
    let second = store.import(&dir.join("scan2.sarif"), 2, ScanScope::Full);
    // The SQL injection keeps its fingerprint (0 new findings) …
    assert_eq!(second.observed, vec![sql.clone()]);
    // … and the weak hash is resolved by the rescan.
    let resolved: Vec<Uuid> = second.resolved.iter().map(|r| r.finding_id).collect();
    assert_eq!(resolved, vec![weak.0]);
    // 1 open, 1 resolved, 2 findings ever created (never 3).
    assert_eq!(store.records.len(), 2);
    assert_eq!(store.open_findings(), 1);
    assert_eq!(store.records[&weak.0].status, FindingStatus::Resolved);
}
