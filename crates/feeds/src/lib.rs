//! Bulletin and intel feeds, parsed and validated without I/O: CISA KEV
//! (JSON and CSV), FIRST EPSS (CSV, gzipped or not), OASIS CSAF 2.0
//! advisories and OSV records (bare or inside osv-scanner output), mapped to
//! the `patch.bulletin.*` payloads of [`events`]; and the package version
//! orders (dpkg, RPM, semver-ish) that match advisories against installed
//! packages.
//!
//! - [`kev`], [`epss`]: the intel tables prioritize reads
//!   ([`KevCatalog`], [`EpssTable`]) and their loaders; [`cve_map`]: the
//!   CVE-keyed table type they share, with its packed-integer index.
//! - [`csaf`], [`osv`]: advisories, each mapped to
//!   [`events::AdvisoryPublished`].
//! - [`version`]: [`Scheme::compare`] for dpkg, RPM and the semver fallback.
//! - [`matching`]: which installed packages an advisory affects.
//! - [`parse`]: one entry point per [`FeedKind`], giving a [`FeedDocument`]
//!   whose events are [`FeedDocument::catalog_loaded`],
//!   [`FeedDocument::advisories`] and [`kev_added`].
//!
//! # Invariants
//!
//! - Pure: no I/O beyond the reader or bytes handed in, no clock, no
//!   randomness. The same bytes give the same document and payloads.
//! - A document is used whole or not at all: every parser validates the
//!   whole input before it returns, and a failure is an error naming the
//!   problem (an HTML error page is named by its title). A failed load never
//!   yields an empty table, so a broken fetch cannot wipe a catalog.
//! - No input panics: no `unwrap`, no indexing on input data.
//! - All instants are UTC.

pub mod advisory;
pub mod csaf;
pub mod cve_map;
pub mod epss;
pub mod guess;
pub mod intel;
pub mod kev;
pub mod matching;
pub mod osv;
pub mod purl;
pub mod version;

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use events::{AdvisoryPublished, CatalogKind, CatalogLoaded, KevAdded};
use serde::{Deserialize, Serialize};

pub use advisory::{AdvisoryError, severity_word};
pub use csaf::{CsafDocument, parse_csaf};
pub use cve_map::{CveKey, CveMap, cve_code};
pub use epss::{EpssTable, load_epss};
pub use intel::IntelError;
pub use kev::{KevCatalog, KevDetails, KevFeed, load_kev, parse_kev, parse_kev_any, parse_kev_csv};
pub use matching::{HostPackages, PackageInventory, match_host};
pub use osv::{OsvFile, OsvRecord, parse_osv};
pub use version::{Scheme, VersionError};

/// The feeds patchflow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedKind {
    /// CISA KEV catalog (JSON or CSV, told apart by content).
    Kev,
    /// FIRST EPSS daily scores (CSV, plain or gzip).
    Epss,
    /// One CSAF 2.0 advisory.
    Csaf,
    /// OSV records (one, an array, or osv-scanner output).
    Osv,
}

impl FeedKind {
    /// Every kind.
    pub const ALL: [FeedKind; 4] = [FeedKind::Kev, FeedKind::Epss, FeedKind::Csaf, FeedKind::Osv];

    /// `kev`, `epss`, `csaf`, `osv`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Kev => "kev",
            FeedKind::Epss => "epss",
            FeedKind::Csaf => "csaf",
            FeedKind::Osv => "osv",
        }
    }

    /// The catalog a feed of this kind loads (KEV, EPSS); advisories have
    /// none: they are published one by one.
    pub fn catalog_kind(self) -> Option<CatalogKind> {
        match self {
            FeedKind::Kev => Some(CatalogKind::Kev),
            FeedKind::Epss => Some(CatalogKind::Epss),
            FeedKind::Csaf | FeedKind::Osv => None,
        }
    }
}

impl std::fmt::Display for FeedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FeedKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FeedKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown feed kind {s:?}: expected kev, epss, csaf or osv"))
    }
}

/// Why a feed document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A KEV or EPSS file.
    #[error(transparent)]
    Intel(#[from] IntelError),
    /// A CSAF or OSV document.
    #[error(transparent)]
    Advisory(#[from] AdvisoryError),
}

/// Options of [`parse`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// The EPSS `score_date` to use when the file states none (v1 files
    /// have no `#` comment line; UTC).
    pub epss_score_date: Option<DateTime<Utc>>,
}

/// A validated feed document.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedDocument {
    /// A KEV catalog.
    Kev(KevFeed),
    /// An EPSS table.
    Epss(EpssTable),
    /// A CSAF advisory.
    Csaf(CsafDocument),
    /// OSV records.
    Osv(OsvFile),
}

/// Parses and validates a whole feed document of `kind`.
///
/// # Errors
/// [`FeedError`] with the parser's reason: [`parse_kev_any`] for KEV,
/// [`load_epss`] for EPSS, [`parse_csaf`], [`parse_osv`].
pub fn parse(
    kind: FeedKind,
    bytes: &[u8],
    options: ParseOptions,
) -> Result<FeedDocument, FeedError> {
    Ok(match kind {
        FeedKind::Kev => FeedDocument::Kev(parse_kev_any(bytes)?),
        FeedKind::Epss => FeedDocument::Epss(load_epss(bytes, options.epss_score_date)?),
        FeedKind::Csaf => FeedDocument::Csaf(parse_csaf(bytes)?),
        FeedKind::Osv => FeedDocument::Osv(parse_osv(bytes)?),
    })
}

impl FeedDocument {
    /// Its kind.
    pub fn kind(&self) -> FeedKind {
        match self {
            FeedDocument::Kev(_) => FeedKind::Kev,
            FeedDocument::Epss(_) => FeedKind::Epss,
            FeedDocument::Csaf(_) => FeedKind::Csaf,
            FeedDocument::Osv(_) => FeedKind::Osv,
        }
    }

    /// What did not stop the load.
    pub fn warnings(&self) -> &[String] {
        match self {
            FeedDocument::Kev(k) => &k.catalog.warnings,
            FeedDocument::Epss(e) => &e.warnings,
            FeedDocument::Csaf(c) => &c.warnings,
            FeedDocument::Osv(o) => &o.warnings,
        }
    }

    /// Its version: KEV `catalogVersion`; EPSS `model_version@score_date`
    /// (`v2025.03.14@2025-03-17T12:55:00Z`, `none@…` for v1 files); CSAF
    /// `id@tracking.version`; OSV the newest `modified`.
    pub fn version(&self) -> String {
        match self {
            FeedDocument::Kev(k) => k.catalog.catalog_version.clone(),
            FeedDocument::Epss(e) => format!(
                "{}@{}",
                e.model_version.as_deref().unwrap_or("none"),
                e.score_date.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            FeedDocument::Csaf(c) => format!("{}@{}", c.id, c.version),
            FeedDocument::Osv(o) => o
                .records
                .iter()
                .map(|r| r.modified)
                .max()
                .map(|m| m.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default(),
        }
    }

    /// When a catalog was issued, for ordering catalogs of one kind: KEV
    /// `dateReleased`, EPSS `score_date` (UTC); `None` for advisories.
    pub fn released(&self) -> Option<DateTime<Utc>> {
        match self {
            FeedDocument::Kev(k) => Some(k.catalog.released),
            FeedDocument::Epss(e) => Some(e.score_date),
            FeedDocument::Csaf(_) | FeedDocument::Osv(_) => None,
        }
    }

    /// Entries: KEV CVEs, EPSS rows, CSAF vulnerabilities, OSV records.
    pub fn entries(&self) -> u64 {
        let n = match self {
            FeedDocument::Kev(k) => k.catalog.entries.len(),
            FeedDocument::Epss(e) => e.scores.len(),
            FeedDocument::Csaf(c) => c.vulnerabilities.len(),
            FeedDocument::Osv(o) => o.records.len(),
        };
        n as u64
    }

    /// The `patch.bulletin.catalog_loaded` payload of a KEV or EPSS
    /// catalog stored as `object` (with the object store's `digest`) and
    /// fetched from `source`; `None` for advisories.
    pub fn catalog_loaded(
        &self,
        object: &str,
        digest: Option<String>,
        source: &str,
    ) -> Option<CatalogLoaded> {
        let kind = self.kind().catalog_kind()?;
        Some(CatalogLoaded {
            kind,
            object: object.to_owned(),
            digest,
            version: self.version(),
            entries: self.entries(),
            source: source.to_owned(),
            warnings: self.warnings().to_vec(),
        })
    }

    /// The `patch.bulletin.advisory` payloads: one per CSAF document, one
    /// per OSV record; none for catalogs.
    pub fn advisories(&self) -> Vec<AdvisoryPublished> {
        match self {
            FeedDocument::Csaf(c) => vec![c.to_advisory()],
            FeedDocument::Osv(o) => o.records.iter().map(OsvRecord::to_advisory).collect(),
            FeedDocument::Kev(_) | FeedDocument::Epss(_) => Vec::new(),
        }
    }
}

/// The `patch.bulletin.kev_added` payloads of `feed` against the CVE set of
/// the previous catalog: one per CVE absent from `previous`, in CVE order
/// (CISA BOD 22-01: an entry added to the catalog). The caller decides what
/// a first catalog (no previous set) means; see ingest's feed loader.
pub fn kev_added(previous: &BTreeSet<String>, feed: &KevFeed) -> Vec<KevAdded> {
    let mut added: Vec<KevAdded> = feed
        .catalog
        .entries
        .iter()
        .filter(|(cve, _)| !previous.contains(*cve))
        .map(|(cve, entry)| {
            let details = feed.details.get(cve).cloned().unwrap_or_default();
            KevAdded {
                entry: entry.clone(),
                vendor_project: details.vendor_project,
                product: details.product,
                vulnerability_name: details.vulnerability_name,
                required_action: details.required_action,
            }
        })
        .collect();
    added.sort_by(|a, b| a.entry.cve.cmp(&b.entry.cve));
    added
}

/// The CVE set of a catalog, for the next [`kev_added`].
pub fn kev_cves(feed: &KevFeed) -> BTreeSet<String> {
    feed.catalog.entries.keys().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEV: &str = r#"{"catalogVersion":"2025.01.02","dateReleased":"2025-01-02T10:00:00Z","count":3,
        "vulnerabilities":[
          {"cveID":"CVE-2025-0003","vendorProject":"V3","product":"P3","vulnerabilityName":"N3",
           "dateAdded":"2025-01-02","dueDate":"2025-01-23","requiredAction":"Patch","shortDescription":"d"},
          {"cveID":"CVE-2025-0001","vendorProject":"V1","product":"P1","vulnerabilityName":"N1",
           "dateAdded":"2025-01-01","dueDate":"2025-01-22","requiredAction":"Patch","shortDescription":"d"},
          {"cveID":"CVE-2025-0002","vendorProject":"V2","product":"P2","vulnerabilityName":"N2",
           "dateAdded":"2025-01-02","dueDate":"2025-01-23","requiredAction":"Patch","shortDescription":"d"}]}"#;

    #[test]
    fn kev_added_lists_only_new_cves_in_order() {
        let FeedDocument::Kev(feed) =
            parse(FeedKind::Kev, KEV.as_bytes(), ParseOptions::default()).unwrap()
        else {
            panic!("not a KEV document");
        };
        let previous = BTreeSet::from(["CVE-2025-0001".to_owned()]);
        let added = kev_added(&previous, &feed);
        let got: Vec<_> = added
            .iter()
            .map(|a| {
                (
                    a.entry.cve.as_str(),
                    a.vendor_project.as_str(),
                    a.product.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [("CVE-2025-0002", "V2", "P2"), ("CVE-2025-0003", "V3", "P3")]
        );
        assert_eq!(added[0].required_action, "Patch");
        assert_eq!(added[0].entry.catalog_version, "2025.01.02");
        assert!(kev_added(&kev_cves(&feed), &feed).is_empty());
    }

    #[test]
    fn catalog_summaries() {
        let doc = parse(FeedKind::Kev, KEV.as_bytes(), ParseOptions::default()).unwrap();
        assert_eq!(
            doc.catalog_loaded(
                "feed-kev-1",
                Some("SHA-256=x".into()),
                "https://example/kev.json"
            ),
            Some(CatalogLoaded {
                kind: CatalogKind::Kev,
                object: "feed-kev-1".into(),
                digest: Some("SHA-256=x".into()),
                version: "2025.01.02".into(),
                entries: 3,
                source: "https://example/kev.json".into(),
                warnings: vec![],
            })
        );
        assert!(doc.advisories().is_empty());
        let epss = "#model_version:v2025.03.14,score_date:2025-03-17T12:55:00Z\ncve,epss,percentile\nCVE-2024-0001,0.5,0.9\n";
        let doc = parse(FeedKind::Epss, epss.as_bytes(), ParseOptions::default()).unwrap();
        assert_eq!(doc.version(), "v2025.03.14@2025-03-17T12:55:00Z");
        assert_eq!(doc.entries(), 1);
        let v1 = "cve,epss\nCVE-2024-0001,0.5\n";
        let date: DateTime<Utc> = "2021-04-14T00:00:00Z".parse().unwrap();
        let doc = parse(
            FeedKind::Epss,
            v1.as_bytes(),
            ParseOptions {
                epss_score_date: Some(date),
            },
        )
        .unwrap();
        assert_eq!(doc.version(), "none@2021-04-14T00:00:00Z");
        let osv = r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z"}"#;
        let doc = parse(FeedKind::Osv, osv.as_bytes(), ParseOptions::default()).unwrap();
        assert_eq!(doc.catalog_loaded("o", None, "s"), None);
        assert_eq!(doc.advisories().len(), 1);
        assert_eq!(doc.version(), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn kinds_parse_from_their_names() {
        assert_eq!("KEV".parse::<FeedKind>(), Ok(FeedKind::Kev));
        assert_eq!("osv".parse::<FeedKind>(), Ok(FeedKind::Osv));
        assert_eq!(
            "rss".parse::<FeedKind>(),
            Err("unknown feed kind \"rss\": expected kev, epss, csaf or osv".to_owned())
        );
    }
}
