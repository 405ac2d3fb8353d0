//! What every fuzz target runs: the same entry points the ingest service,
//! the feed loader and `patchflow parse`/`patchflow cvss` run, driven to the
//! end on arbitrary bytes.
//!
//! A target fails (libFuzzer records a crash) when any of these panics,
//! aborts, runs out of memory (`-rss_limit_mb`) or takes longer than
//! `-timeout`. Besides "no panic", the harness asserts the one promise the
//! adapter builds on: a report the check pass accepts is published whole,
//! so its hosts pass yields no error (ingest would otherwise publish part of
//! a report and then fail with "report changed between passes").

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use feeds::matching::{HostPackages, InstalledPackage, OsRelease};
use feeds::{FeedDocument, Scheme};
use ingest::coverage::{self, CheckSite};
use ingest::format::{self, Format};
use uuid::Uuid;

/// The observation time of hosts whose report states none (UTC,
/// 2023-11-14T22:13:20Z); fixed, so a run is reproducible.
fn fallback_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
}

/// Runs a report through the adapter's two passes as `format`, whatever
/// the bytes look like: [`format::check`], then the policy read and
/// [`coverage::hosts`] (which is [`format::hosts`] plus the coverage of each
/// host), then everything published of each host (the
/// `patch.finding.observed` and `patch.asset.upserted` payloads as JSON, the
/// reconciliation identifiers, the coverage of each finding's check site).
///
/// # Panics
/// When the check accepted the report and the hosts pass then failed.
pub fn report(format: Format, data: &[u8]) {
    let checked = format::check(format, data);
    if let Err(e) = &checked {
        // The rejection reason is a one-liner that must render.
        let _ = e.to_string();
    }
    let policy = coverage::read_policy_of(format, data);
    drain_hosts(format, data, policy, checked.is_ok());
}

/// Pulls every host of the adapter's publishing pass and serializes what
/// would be published. Stops at the first error, as the adapter does.
fn drain_hosts(format: Format, data: &[u8], policy: Arc<coverage::NessusPolicy>, checked: bool) {
    for host in coverage::hosts(format, data, fallback_time(), policy) {
        let (host, cov) = match host {
            Ok(found) => found,
            Err(e) => {
                assert!(
                    !checked,
                    "{format}: check accepted the report but the hosts pass failed: {e}"
                );
                return;
            }
        };
        let scan_id = Uuid::nil();
        let upserted = host.asset_upserted(scan_id);
        let _ = serde_json::to_vec(&upserted);
        let _ = ingest::reconcile::identifiers(&host.asset);
        for obs in &host.findings {
            let finding = obs.to_finding(&host.asset, scan_id, host.observed_at);
            let _ = serde_json::to_vec(&finding);
            let _ = cov.covers(&CheckSite {
                scanner: obs.check.scanner.clone(),
                check_id: obs.check.id.clone(),
                family: obs.check.family.clone(),
                port: obs.port,
                protocol: obs.protocol.to_lowercase(),
            });
        }
    }
}

/// Detection over arbitrary bytes, then the two passes of whatever was
/// detected, each through [`format::open`] as the adapter does (the second
/// with the detected format as its hint, which must detect it again).
///
/// # Panics
/// When the second open detects another format, or as [`report`].
pub fn detect(data: &[u8]) {
    for hint in std::iter::once(None).chain(Format::ALL.iter().copied().map(Some)) {
        if let Err(e) = format::detect(data, hint) {
            let _ = e.to_string();
        }
    }
    let (fmt, reader) = match format::open(data, None) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let checked = format::check(fmt, reader);
    let (again, reader) = match format::open(data, Some(fmt)) {
        Ok(opened) => opened,
        Err(e) => panic!("{fmt} detected once, then the second open failed: {e}"),
    };
    assert_eq!(again, fmt, "the second open detected another format");
    let policy = coverage::read_policy_of(fmt, reader);
    let (_, reader) = match format::open(data, Some(fmt)) {
        Ok(opened) => opened,
        Err(e) => panic!("{fmt} detected twice, then the third open failed: {e}"),
    };
    let mut checked_ok = checked.is_ok();
    if let Err(e) = checked {
        let _ = e.to_string();
        checked_ok = false;
    }
    // `drain_hosts` wants bytes; the sniffed reader replays them, so read
    // it back (bounded by the input itself).
    let mut bytes = Vec::with_capacity(data.len());
    let mut reader = reader;
    if std::io::Read::read_to_end(&mut reader, &mut bytes).is_ok() {
        assert_eq!(bytes, data, "the sniffed reader must replay the whole input");
        drain_hosts(fmt, &bytes, policy, checked_ok);
    }
}

/// Everything derived from a loaded feed document: its version, counts,
/// `catalog_loaded`, advisories (as JSON), KEV additions, and the matching
/// of each advisory against hosts that have its packages installed at the
/// versions the advisory itself names.
pub fn feed(doc: Result<FeedDocument, feeds::FeedError>) {
    let doc = match doc {
        Ok(doc) => doc,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = doc.version();
    let _ = doc.entries();
    let _ = doc.warnings();
    if let Some(loaded) = doc.catalog_loaded("object", None, "fuzz") {
        let _ = serde_json::to_vec(&loaded);
    }
    match &doc {
        FeedDocument::Kev(kev) => {
            let added = feeds::kev_added(&BTreeSet::new(), kev);
            let _ = serde_json::to_vec(&added);
            let cves = feeds::kev_cves(kev);
            assert!(
                feeds::kev_added(&cves, kev).is_empty(),
                "a catalog adds nothing to itself"
            );
            for cve in cves.iter().take(8) {
                let _ = kev.catalog.get(cve);
            }
        }
        FeedDocument::Epss(table) => {
            for cve in table.scores.keys().take(8) {
                let _ = table.get(cve);
            }
        }
        FeedDocument::Csaf(_) | FeedDocument::Osv(_) => {}
    }
    for advisory in doc.advisories() {
        let _ = serde_json::to_vec(&advisory);
        match_advisory(&advisory);
    }
}

/// Hosts of a few distributions with every package the advisory names,
/// installed at each version it mentions, matched against it; and every
/// version order over pairs of those versions. Bounded: at most 16 packages
/// and 8 versions each.
fn match_advisory(advisory: &events::AdvisoryPublished) {
    const OS: [(&str, &str); 4] = [
        ("debian", "12"),
        ("ubuntu", "22.04"),
        ("rhel", "8.6"),
        ("alpine", "3.18"),
    ];
    let mut packages = Vec::new();
    for pkg in advisory.affected.iter().take(16) {
        let mut versions: Vec<&str> = pkg.fixed_versions.iter().map(String::as_str).collect();
        for range in &pkg.ranges {
            versions.push(&range.introduced);
            versions.extend(range.fixed.as_deref());
            versions.extend(range.last_affected.as_deref());
        }
        versions.truncate(8);
        for a in &versions {
            for b in &versions {
                for scheme in [Scheme::Dpkg, Scheme::Rpm, Scheme::Semver] {
                    let _ = scheme.compare(a, b);
                }
            }
            packages.push(InstalledPackage {
                name: pkg.name.clone(),
                source: Some(pkg.name.clone()),
                version: (*a).to_owned(),
                arch: None,
            });
        }
    }
    for (id, version_id) in OS {
        let host = HostPackages {
            host: "fuzz".to_owned(),
            ip: None,
            os: OsRelease {
                id: id.to_owned(),
                version_id: version_id.to_owned(),
            },
            packages: packages.clone(),
        };
        let _ = feeds::match_host(advisory, &host);
    }
}

/// Scores `raw` and, when it scores, checks the canonical spelling scores
/// the same (a vector normalized once is a fixed point).
///
/// # Panics
/// When a score is outside 0.0–10.0 or the canonical vector scores
/// differently.
pub fn cvss(raw: &str) {
    let Ok(scored) = prioritize::cvss::score(raw) else {
        return;
    };
    assert!(
        (0.0..=10.0).contains(&scored.score),
        "{raw:?} scored {}",
        scored.score
    );
    let _ = scored.rating();
    let _ = scored.score_type();
    match prioritize::cvss::score(&scored.vector) {
        Ok(again) => {
            assert_eq!(
                (again.version, again.score.to_bits(), &again.vector),
                (scored.version, scored.score.to_bits(), &scored.vector),
                "{raw:?}: its canonical spelling scores differently"
            );
        }
        Err(e) => panic!("{raw:?} scored, its canonical {:?} does not: {e}", scored.vector),
    }
}
