//! Threat intelligence tables: the CISA KEV catalog and the FIRST EPSS scores.
//!
//! The tables and their loaders live in the `feeds` crate (with the CSAF
//! and OSV parsers, which ingest uses too) and are re-exported here, so
//! `prioritize::intel::{KevCatalog, EpssTable, load_kev, load_epss}` stay
//! where the decision code expects them.
//!
//! Loaders validate before they return: a load that fails is an
//! [`IntelError`] the caller reports, and the caller keeps whatever table it
//! had (a failed fetch must never wipe a table). Oddities that do not make a
//! file unusable (a wrong `count`, a duplicated CVE) are returned as
//! `warnings` on the table.
//!
//! Sources:
//! - CISA Known Exploited Vulnerabilities catalog, JSON feed
//!   (`known_exploited_vulnerabilities.json`, schema in cisagov/kev-data),
//!   or its CSV twin ([`feeds::parse_kev_csv`]).
//! - FIRST Exploit Prediction Scoring System daily CSV
//!   (`epss_scores-YYYY-MM-DD.csv[.gz]`, <https://www.first.org/epss/data_stats>).

pub use feeds::{EpssTable, IntelError, KevCatalog, load_epss, load_kev};

/// The intel a decision reads: each table is optional (not loaded yet, or
/// not configured); a missing table makes its rule silent, never an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intel {
    /// The CISA KEV catalog.
    pub kev: Option<KevCatalog>,
    /// The FIRST EPSS scores.
    pub epss: Option<EpssTable>,
}
