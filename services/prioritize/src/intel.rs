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
//! Beside the tables, [`Intel::exploited`] holds the CVEs a vendor
//! advisory (CSAF 2.0 or OSV, a `patch.bulletin.advisory` with
//! `exploited: true`) states are exploited in the wild, each with the
//! advisory that said so first ([`ExploitedAdvisory`]).
//!
//! Sources:
//! - CISA Known Exploited Vulnerabilities catalog, JSON feed
//!   (`known_exploited_vulnerabilities.json`, schema in cisagov/kev-data),
//!   or its CSV twin ([`feeds::parse_kev_csv`]).
//! - FIRST Exploit Prediction Scoring System daily CSV
//!   (`epss_scores-YYYY-MM-DD.csv[.gz]`, <https://www.first.org/epss/data_stats>).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use feeds::{EpssTable, IntelError, KevCatalog, load_epss, load_kev};

use events::{AdvisoryFormat, AdvisoryPublished};

/// The intel a decision reads: each table is optional (not loaded yet, or
/// not configured); a missing table makes its rule silent, never an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intel {
    /// The CISA KEV catalog.
    pub kev: Option<KevCatalog>,
    /// The FIRST EPSS scores.
    pub epss: Option<EpssTable>,
    /// CVE (upper case) → the advisory stating it is exploited in the wild
    /// (the earliest-dated one when several do). Empty: the rule is silent.
    pub exploited: BTreeMap<String, ExploitedAdvisory>,
}

/// A vendor advisory stating that a CVE is exploited in the wild
/// (`patch.bulletin.advisory` with `exploited: true`, not withdrawn): what
/// the `exploited_advisory` rule cites. Stored in prioritize's KV
/// (`intel.exploited`) so it survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploitedAdvisory {
    /// The advisory id (`RHSA-2024:4546`, `GHSA-…`, `DSA-5555-1`).
    pub advisory_id: String,
    /// Where it came from: a CSAF 2.0 document or an OSV record.
    pub source: AdvisoryFormat,
    /// When the advisory stated it (UTC): its last modification, else its
    /// first publication, else the time of the bulletin event.
    pub date: DateTime<Utc>,
}

impl ExploitedAdvisory {
    /// What `a` states, dated as [`ExploitedAdvisory::date`] says, with
    /// `received` (the bulletin event's time, UTC) as the last fallback.
    pub fn of(a: &AdvisoryPublished, received: DateTime<Utc>) -> ExploitedAdvisory {
        ExploitedAdvisory {
            advisory_id: a.id.trim().to_owned(),
            source: a.format,
            date: a.modified.or(a.published).unwrap_or(received),
        }
    }
}
