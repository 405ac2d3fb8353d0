//! Correlation in the compliance report: findings of one host that share a
//! CVE (a Nessus and a Qualys finding, two checks of one scanner) are one
//! open exposure, while each keeps its own row.

mod support;

use events::*;
use report::Projection;
use support::*;

#[test]
fn findings_sharing_a_cve_on_a_host_count_as_one_exposure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut p = Projection::open(dir.path().join("report.sqlite")).expect("open projection");
    let mut feed = Feed::default();
    let at = "2025-01-10T00:00:00Z";
    // web-1: two checks of CVE-1 (one exposure) and one of CVE-2.
    // db-1: CVE-1 again (another host: another exposure).
    let findings = [
        observed(asset("web-1"), "10001", 443, "CVE-2000-00001", at, at),
        observed(
            asset("web-1"),
            "qualys-38739",
            443,
            "cve-2000-00001",
            at,
            at,
        ),
        observed(asset("web-1"), "10002", 22, "CVE-2000-00002", at, at),
        observed(asset("db-1"), "10001", 443, "CVE-2000-00001", at, at),
    ];
    for f in &findings {
        feed.push(Service::Ingest, at, f.clone());
    }
    feed.apply_in_order(&mut p);
    let report = p.compliance(t("2025-01-11T00:00:00Z")).expect("compliance");
    let host = |id: &str| {
        report
            .hosts
            .iter()
            .find(|h| h.asset_id == id)
            .unwrap_or_else(|| panic!("no host {id}"))
    };
    // (host, open findings, open exposures)
    for (id, open, exposures) in [("web-1", 3, 2), ("db-1", 1, 1)] {
        let h = host(id);
        assert_eq!((h.open, h.open_exposures), (open, exposures), "{id}");
        assert_eq!(
            h.findings.len() as u64,
            open,
            "{id}: every finding keeps its row"
        );
    }
    assert_eq!((report.fleet.open, report.fleet.open_exposures), (4, 3));

    // One of the pair resolved: the exposure is still open through the other.
    feed.push(
        Service::Ingest,
        "2025-01-12T00:00:00Z",
        resolved(&findings[0], "2025-01-12T00:00:00Z"),
    );
    let (stream, seq, e) = feed.items.last().expect("the resolution");
    p.apply(stream, *seq, e).expect("apply");
    let later = p.compliance(t("2025-01-13T00:00:00Z")).expect("compliance");
    let web = later
        .hosts
        .iter()
        .find(|h| h.asset_id == "web-1")
        .expect("web-1");
    assert_eq!((web.open, web.open_exposures), (2, 2));
}
