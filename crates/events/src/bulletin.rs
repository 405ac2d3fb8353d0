//! Bulletins: intelligence feeds (CISA KEV, FIRST EPSS) and vendor advisories
//! (CSAF 2.0, OSV), published by ingest on `patch.bulletin.<kind>`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::finding::{CvssVector, KevInput, Severity};

/// Which catalog a [`CatalogLoaded`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatalogKind {
    /// CISA Known Exploited Vulnerabilities (JSON or CSV).
    Kev,
    /// FIRST Exploit Prediction Scoring System scores (CSV, gzipped or not).
    Epss,
}

/// `patch.bulletin.catalog_loaded`: a whole catalog was validated and stored
/// in the object store; consumers reload their table from `object`. A fetch
/// that fails validation publishes nothing, so the previous table stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogLoaded {
    /// KEV or EPSS.
    pub kind: CatalogKind,
    /// Object name in the reports bucket holding the catalog as fetched.
    pub object: String,
    /// Object-store digest (`SHA-256=…`).
    pub digest: Option<String>,
    /// KEV `catalogVersion`, or EPSS `model_version@score_date`.
    pub version: String,
    /// Entries (KEV vulnerabilities, EPSS rows) after de-duplication.
    pub entries: u64,
    /// Where it came from (a path or URL).
    pub source: String,
    /// Non-fatal oddities found while validating (count mismatch, duplicates).
    pub warnings: Vec<String>,
}

/// `patch.bulletin.kev_added`: a CVE entered the KEV catalog since the
/// previous catalog (CISA BOD 22-01).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KevAdded {
    /// The entry, with its dates.
    pub entry: KevInput,
    /// `vendorProject`.
    pub vendor_project: String,
    /// `product`.
    pub product: String,
    /// `vulnerabilityName`.
    pub vulnerability_name: String,
    /// `requiredAction`.
    pub required_action: String,
}

/// Where an advisory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdvisoryFormat {
    /// OASIS CSAF 2.0.
    Csaf,
    /// OSV (Open Source Vulnerabilities) schema.
    Osv,
}

/// A package an advisory speaks about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AffectedPackage {
    /// Ecosystem with release (`Debian:12`, `Alpine:v3.8`, `Red Hat:rhel_aus:8.6::appstream`).
    pub ecosystem: Option<String>,
    /// Package name (source package for Debian/Ubuntu).
    pub name: String,
    /// Versions that fix it, in the ecosystem's spelling (with epoch for RPM).
    pub fixed_versions: Vec<String>,
    /// The advisory states this product is not affected (VEX): never opens work.
    pub not_affected: bool,
    /// The version intervals the statement covers, in the ecosystem's version
    /// order (OSV `ECOSYSTEM`/`SEMVER` ranges, CSAF product versions). Empty:
    /// every version (a statement about the product as a whole).
    #[serde(default)]
    pub ranges: Vec<AffectedRange>,
}

/// One version interval of an [`AffectedPackage`] (OSV range semantics): a
/// version `v` is inside when `introduced <= v`, and `v < fixed` when a fixed
/// version is given, and `v <= last_affected` when that is given; with
/// neither, every version from `introduced` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AffectedRange {
    /// First version inside; `"0"` means from the very first version.
    pub introduced: String,
    /// First version after the interval (the fix), if known.
    pub fixed: Option<String>,
    /// Last version inside, when the advisory names no fix.
    pub last_affected: Option<String>,
}

/// `patch.bulletin.advisory`: a vendor advisory (CSAF) or OSV record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AdvisoryPublished {
    /// CSAF or OSV.
    pub format: AdvisoryFormat,
    /// The advisory id (`RHSA-2024:4546`, `GHSA-…`, `DSA-5555-1`).
    pub id: String,
    /// Its revision (CSAF `tracking.version`, OSV `modified`).
    pub revision: Option<String>,
    /// Title or summary.
    pub title: Option<String>,
    /// CVE ids and other aliases.
    pub aliases: Vec<String>,
    /// First published (UTC).
    pub published: Option<DateTime<Utc>>,
    /// Last modified (UTC).
    pub modified: Option<DateTime<Utc>>,
    /// A withdrawn advisory opens no work and closes what it opened.
    pub withdrawn: bool,
    /// The advisory states exploitation in the wild.
    pub exploited: bool,
    /// The advisory's own severity, normalized.
    pub severity: Option<Severity>,
    /// CVSS vectors it gives.
    pub cvss: Vec<CvssVector>,
    /// Packages and their fixed versions.
    pub affected: Vec<AffectedPackage>,
}
