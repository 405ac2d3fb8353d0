//! OASIS CSAF 2.0 advisories (Common Security Advisory Framework,
//! <https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html>), read whole
//! and checked before anything is used.
//!
//! What is read:
//! - `document`: `csaf_version` (must be `"2.0"`: 1.x is CVRF-era),
//!   `tracking` (`id`, `version`, `status`, release dates), `title`,
//!   `publisher.name`, `aggregate_severity.text`.
//! - `product_tree`: the tree of `branches` (vendor → product_family →
//!   product_name / architecture → product_version; the leaf `product`
//!   holds the `product_id`, a version lives on its `product_version`
//!   branch), `full_product_names`, `relationships` (each defines a new
//!   product id, "X as a component of Y"), `product_groups`, and each
//!   product's `product_identification_helper` (`cpe`, `purl`).
//! - `vulnerabilities[]`: `cve` (or, without one, `ids[]`), `title`, `cwe`,
//!   the `product_status` buckets (first_affected, first_fixed, fixed,
//!   known_affected, known_not_affected, last_affected, recommended,
//!   under_investigation), `remediations` (vendor_fix, workaround, …, with
//!   `product_ids`/`group_ids`, `url`, `restart_required`), `scores`
//!   (`cvss_v3`/`cvss_v2` per product) and `threats` (`impact`,
//!   `exploit_status`). The key is absent when there are none.
//!
//! Checks (CSAF §6.1.1 "Missing Definition of Product ID" and the schema's
//! required fields): every product id a vulnerability, a remediation, a
//! score, a threat or a relationship names must be defined; a CVE must read
//! `CVE-YYYY-NNNN…`. A product id defined twice is a warning (§6.1.2).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use events::{AdvisoryFormat, AdvisoryPublished, AffectedRange, CvssVector, Severity};
use serde::Deserialize;

use crate::advisory::{
    AdvisoryError, AffectedSet, cvss_vector, json_text, serde_error, severity_word,
};
use crate::intel::{is_cve_id, parse_instant};
use crate::purl::Purl;

const FORMAT: &str = "CSAF";

/// A validated CSAF 2.0 advisory.
#[derive(Debug, Clone, PartialEq)]
pub struct CsafDocument {
    /// `document.tracking.id` (`RHSA-2024:4546`).
    pub id: String,
    /// `document.tracking.version` (`3`).
    pub version: String,
    /// `document.tracking.status` (`final`, `interim`, `draft`).
    pub status: String,
    /// `document.title`.
    pub title: String,
    /// `document.publisher.name` (`Red Hat Product Security`).
    pub publisher: String,
    /// `document.tracking.initial_release_date` (UTC).
    pub initial_release: DateTime<Utc>,
    /// `document.tracking.current_release_date` (UTC).
    pub current_release: DateTime<Utc>,
    /// `document.aggregate_severity.text` (`Important`), as written.
    pub aggregate_severity: Option<String>,
    /// Every product id the tree defines (branch leaves, full product names
    /// and relationships).
    pub products: BTreeMap<String, Product>,
    /// The vulnerabilities, in document order.
    pub vulnerabilities: Vec<CsafVulnerability>,
    /// Oddities that did not stop the load.
    pub warnings: Vec<String>,
}

/// One product of the product tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Product {
    /// `product_id`.
    pub id: String,
    /// Its full name (`Generic App 1.0.0`).
    pub name: String,
    /// The `vendor` branch above it.
    pub vendor: Option<String>,
    /// The `product_family` branch above it.
    pub family: Option<String>,
    /// The `product_name` branch above it (`Generic App`).
    pub product_name: Option<String>,
    /// The `product_version` branch it sits on (`1.0.1`).
    pub version: Option<String>,
    /// The `architecture` branch above it (`x86_64`).
    pub architecture: Option<String>,
    /// `product_identification_helper.cpe`.
    pub cpe: Option<String>,
    /// `product_identification_helper.purl`, parsed.
    pub purl: Option<Purl>,
    /// For a product a relationship defines: what it is made of.
    pub relationship: Option<Relationship>,
}

/// A `relationships[]` entry: `component` (`product_reference`) as
/// `category` (`default_component_of`) of `platform`
/// (`relates_to_product_reference`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    /// `category`.
    pub category: String,
    /// `product_reference`: the package.
    pub component: String,
    /// `relates_to_product_reference`: the platform or product it is part of.
    pub platform: String,
}

/// A product resolved to the package it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRef {
    /// OSV-style ecosystem from the platform's CPE (`Red Hat:rhel_aus:8.6::appstream`
    /// from `cpe:/a:redhat:rhel_aus:8.6::appstream`); `None` for vendors
    /// without such a naming.
    pub ecosystem: Option<String>,
    /// The platform's CPE, as written.
    pub platform_cpe: Option<String>,
    /// Package name (purl name, else the `product_name` branch, else the
    /// product's full name).
    pub name: String,
    /// Version: for RPM `epoch:version-release` (epoch 0 when the purl has
    /// none), else the purl version or the `product_version` branch.
    pub version: Option<String>,
    /// Architecture (purl `arch`, else the `architecture` branch).
    pub arch: Option<String>,
    /// RPM module stream (`ruby:3.1`, from the purl's `rpmmod`).
    pub module: Option<String>,
}

/// One `vulnerabilities[]` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsafVulnerability {
    /// `cve`, upper case.
    pub cve: Option<String>,
    /// `ids[].text` (`2268273`, `EXAMPLE-2026-0002-B`).
    pub ids: Vec<String>,
    /// `title`.
    pub title: Option<String>,
    /// `cwe.id` (`CWE-400`).
    pub cwe: Option<String>,
    /// Product ids per status bucket.
    pub status: ProductStatus,
    /// `remediations`, group ids expanded to product ids.
    pub remediations: Vec<CsafRemediation>,
    /// `scores`, group ids expanded.
    pub scores: Vec<CsafScore>,
    /// `threats`, group ids expanded.
    pub threats: Vec<CsafThreat>,
}

impl CsafVulnerability {
    /// The name the vulnerability goes by: its CVE, else its first `ids[]`
    /// text.
    pub fn key(&self) -> Option<&str> {
        self.cve.as_deref().or(self.ids.first().map(String::as_str))
    }
}

/// `product_status`: product ids per bucket (CSAF §3.2.3.9).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ProductStatus {
    /// First version affected.
    pub first_affected: Vec<String>,
    /// First version fixed.
    pub first_fixed: Vec<String>,
    /// Fixed versions.
    pub fixed: Vec<String>,
    /// Affected versions.
    pub known_affected: Vec<String>,
    /// Not affected versions (VEX): never open work.
    pub known_not_affected: Vec<String>,
    /// Last version affected.
    pub last_affected: Vec<String>,
    /// Versions the vendor recommends.
    pub recommended: Vec<String>,
    /// Being investigated.
    pub under_investigation: Vec<String>,
}

impl ProductStatus {
    fn buckets(&self) -> [(&'static str, &Vec<String>); 8] {
        [
            ("first_affected", &self.first_affected),
            ("first_fixed", &self.first_fixed),
            ("fixed", &self.fixed),
            ("known_affected", &self.known_affected),
            ("known_not_affected", &self.known_not_affected),
            ("last_affected", &self.last_affected),
            ("recommended", &self.recommended),
            ("under_investigation", &self.under_investigation),
        ]
    }
}

/// One `remediations[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsafRemediation {
    /// `category`: `vendor_fix`, `workaround`, `mitigation`, `no_fix_planned`,
    /// `none_available`.
    pub category: String,
    /// `details`.
    pub details: String,
    /// `url` (the errata page for a vendor fix).
    pub url: Option<String>,
    /// The products it applies to (`product_ids` plus expanded `group_ids`).
    pub product_ids: Vec<String>,
    /// `restart_required.category` (`none`, `service`, `system`, …).
    pub restart_required: Option<String>,
}

/// One `scores[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CsafScore {
    /// The products it scores.
    pub products: Vec<String>,
    /// `cvss_v3` (`version` 3.0 or 3.1).
    pub cvss_v3: Option<CsafCvss>,
    /// `cvss_v2`.
    pub cvss_v2: Option<CsafCvss>,
}

/// A CVSS object inside a score.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsafCvss {
    /// `vectorString`.
    pub vector_string: String,
    /// `baseScore` (0.0–10.0).
    pub base_score: f64,
    /// `baseSeverity` (v3 only).
    pub base_severity: Option<String>,
}

/// One `threats[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsafThreat {
    /// `category`: `impact`, `exploit_status`, `target_set`.
    pub category: String,
    /// `details` (`Important`; `Exploited in the wild`).
    pub details: String,
    /// The products it applies to (empty: all).
    pub product_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Probe {
    document: Option<ProbeDocument>,
}

#[derive(Deserialize)]
struct ProbeDocument {
    csaf_version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawCsaf {
    document: RawDocument,
    #[serde(default)]
    product_tree: RawProductTree,
    #[serde(default)]
    vulnerabilities: Vec<RawVulnerability>,
}

#[derive(Deserialize)]
struct RawDocument {
    title: String,
    publisher: RawPublisher,
    tracking: RawTracking,
    aggregate_severity: Option<RawText>,
}

#[derive(Deserialize)]
struct RawPublisher {
    name: String,
}

#[derive(Deserialize)]
struct RawText {
    text: String,
}

#[derive(Deserialize)]
struct RawTracking {
    id: String,
    version: String,
    status: String,
    initial_release_date: String,
    current_release_date: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawProductTree {
    branches: Vec<RawBranch>,
    full_product_names: Vec<RawProduct>,
    relationships: Vec<RawRelationship>,
    product_groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
struct RawBranch {
    category: String,
    name: String,
    #[serde(default)]
    branches: Vec<RawBranch>,
    product: Option<RawProduct>,
}

#[derive(Deserialize)]
struct RawProduct {
    product_id: String,
    name: String,
    product_identification_helper: Option<RawHelper>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawHelper {
    cpe: Option<String>,
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawRelationship {
    category: String,
    product_reference: String,
    relates_to_product_reference: String,
    full_product_name: RawProduct,
}

#[derive(Deserialize)]
struct RawGroup {
    group_id: String,
    product_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawVulnerability {
    cve: Option<String>,
    ids: Vec<RawId>,
    title: Option<String>,
    cwe: Option<RawCwe>,
    product_status: ProductStatus,
    remediations: Vec<RawRemediation>,
    scores: Vec<RawScore>,
    threats: Vec<RawThreat>,
}

#[derive(Deserialize)]
struct RawId {
    text: String,
}

#[derive(Deserialize)]
struct RawCwe {
    id: String,
}

#[derive(Deserialize)]
struct RawRemediation {
    category: String,
    #[serde(default)]
    details: String,
    url: Option<String>,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
    restart_required: Option<RawRestart>,
}

#[derive(Deserialize)]
struct RawRestart {
    category: String,
}

#[derive(Deserialize)]
struct RawScore {
    products: Vec<String>,
    cvss_v3: Option<CsafCvss>,
    cvss_v2: Option<CsafCvss>,
}

#[derive(Deserialize)]
struct RawThreat {
    category: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

fn invalid(reason: impl Into<String>) -> AdvisoryError {
    AdvisoryError::Invalid {
        format: FORMAT,
        reason: reason.into(),
    }
}

/// Parses and checks one CSAF 2.0 document (see the module docs for what is
/// read and checked).
///
/// # Errors
/// [`AdvisoryError::Empty`], [`AdvisoryError::NotJson`] (an HTML page is
/// named by its title), [`AdvisoryError::CsafVersion`] for any
/// `csaf_version` but `"2.0"`, [`AdvisoryError::Invalid`] naming the field
/// (a missing required field, an unreadable date, an undefined product id,
/// a malformed CVE id or purl).
pub fn parse_csaf(bytes: &[u8]) -> Result<CsafDocument, AdvisoryError> {
    let text = json_text(FORMAT, bytes)?;
    let probe: Probe = serde_json::from_str(&text).map_err(|e| serde_error(FORMAT, &e))?;
    let version = probe
        .document
        .ok_or_else(|| invalid("document is missing"))?
        .csaf_version
        .ok_or_else(|| invalid("document.csaf_version is missing"))?;
    match version.as_str() {
        Some("2.0") => {}
        Some(other) => return Err(AdvisoryError::CsafVersion(other.to_owned())),
        None => {
            return Err(invalid(format!(
                "document.csaf_version must be the string \"2.0\", not {version}"
            )));
        }
    }
    let raw: RawCsaf = serde_json::from_str(&text).map_err(|e| serde_error(FORMAT, &e))?;
    let date = |field: &str, value: &str| {
        parse_instant(value).ok_or_else(|| {
            invalid(format!(
                "document.tracking.{field} {value:?} is not an RFC 3339 instant"
            ))
        })
    };
    let tracking = &raw.document.tracking;
    if tracking.id.trim().is_empty() {
        return Err(invalid("document.tracking.id is empty"));
    }
    let initial_release = date("initial_release_date", &tracking.initial_release_date)?;
    let current_release = date("current_release_date", &tracking.current_release_date)?;

    let mut warnings = Vec::new();
    let mut products = BTreeMap::new();
    let mut define = |p: Product, warnings: &mut Vec<String>| {
        if products.contains_key(&p.id) {
            warnings.push(format!(
                "product id {:?} is defined more than once; keeping the first",
                p.id
            ));
        } else {
            products.insert(p.id.clone(), p);
        }
    };
    let mut leaves = Vec::new();
    collect_branches(&raw.product_tree.branches, &Context::default(), &mut leaves)?;
    for p in leaves {
        define(p, &mut warnings);
    }
    for fp in &raw.product_tree.full_product_names {
        define(product(fp, &Context::default())?, &mut warnings);
    }
    for r in &raw.product_tree.relationships {
        let mut p = product(&r.full_product_name, &Context::default())?;
        p.relationship = Some(Relationship {
            category: r.category.clone(),
            component: r.product_reference.clone(),
            platform: r.relates_to_product_reference.clone(),
        });
        define(p, &mut warnings);
    }
    for (i, r) in raw.product_tree.relationships.iter().enumerate() {
        for (field, id) in [
            ("product_reference", &r.product_reference),
            (
                "relates_to_product_reference",
                &r.relates_to_product_reference,
            ),
        ] {
            if !products.contains_key(id) {
                return Err(invalid(format!(
                    "product_tree.relationships[{i}].{field}: product id {id:?} is not defined in the product tree"
                )));
            }
        }
    }
    let mut groups: HashMap<&str, &[String]> = HashMap::new();
    for (i, g) in raw.product_tree.product_groups.iter().enumerate() {
        check_ids(
            &products,
            &g.product_ids,
            &format!("product_tree.product_groups[{i}]"),
        )?;
        groups.insert(g.group_id.as_str(), g.product_ids.as_slice());
    }
    let expand = |product_ids: &[String], group_ids: &[String], at: &str| {
        let mut out = product_ids.to_vec();
        for g in group_ids {
            let members = groups.get(g.as_str()).ok_or_else(|| {
                invalid(format!(
                    "{at}: group id {g:?} is not defined in the product tree"
                ))
            })?;
            out.extend(members.iter().cloned());
        }
        check_ids(&products, &out, at)?;
        Ok::<_, AdvisoryError>(out)
    };

    let mut vulnerabilities = Vec::with_capacity(raw.vulnerabilities.len());
    for (i, v) in raw.vulnerabilities.into_iter().enumerate() {
        let at = format!("vulnerabilities[{i}]");
        let cve = match v.cve {
            Some(c) => {
                let c = c.trim().to_ascii_uppercase();
                if !is_cve_id(&c) {
                    return Err(invalid(format!("{at}.cve {c:?} is not CVE-YYYY-NNNN")));
                }
                Some(c)
            }
            None => None,
        };
        let ids: Vec<String> = v.ids.into_iter().map(|id| id.text).collect();
        if cve.is_none() && ids.is_empty() {
            warnings.push(format!("{at} has neither a cve nor ids"));
        }
        for (bucket, list) in v.product_status.buckets() {
            check_ids(&products, list, &format!("{at}.product_status.{bucket}"))?;
        }
        let mut remediations = Vec::with_capacity(v.remediations.len());
        for (k, r) in v.remediations.into_iter().enumerate() {
            remediations.push(CsafRemediation {
                product_ids: expand(
                    &r.product_ids,
                    &r.group_ids,
                    &format!("{at}.remediations[{k}]"),
                )?,
                category: r.category,
                details: r.details,
                url: r.url,
                restart_required: r.restart_required.map(|r| r.category),
            });
        }
        let mut scores = Vec::with_capacity(v.scores.len());
        for (k, s) in v.scores.into_iter().enumerate() {
            check_ids(&products, &s.products, &format!("{at}.scores[{k}]"))?;
            scores.push(CsafScore {
                products: s.products,
                cvss_v3: s.cvss_v3,
                cvss_v2: s.cvss_v2,
            });
        }
        let mut threats = Vec::with_capacity(v.threats.len());
        for (k, t) in v.threats.into_iter().enumerate() {
            threats.push(CsafThreat {
                product_ids: expand(&t.product_ids, &t.group_ids, &format!("{at}.threats[{k}]"))?,
                category: t.category,
                details: t.details,
            });
        }
        vulnerabilities.push(CsafVulnerability {
            cve,
            ids,
            title: v.title,
            cwe: v.cwe.map(|c| c.id),
            status: v.product_status,
            remediations,
            scores,
            threats,
        });
    }

    let document = raw.document;
    Ok(CsafDocument {
        id: document.tracking.id.trim().to_owned(),
        version: document.tracking.version,
        status: document.tracking.status,
        title: document.title,
        publisher: document.publisher.name,
        initial_release,
        current_release,
        aggregate_severity: document.aggregate_severity.map(|s| s.text),
        products,
        vulnerabilities,
        warnings,
    })
}

fn check_ids(
    products: &BTreeMap<String, Product>,
    ids: &[String],
    at: &str,
) -> Result<(), AdvisoryError> {
    match ids.iter().find(|id| !products.contains_key(*id)) {
        Some(id) => Err(invalid(format!(
            "{at}: product id {id:?} is not defined in the product tree"
        ))),
        None => Ok(()),
    }
}

/// The branch categories above a product.
#[derive(Clone, Default)]
struct Context {
    vendor: Option<String>,
    family: Option<String>,
    product_name: Option<String>,
    version: Option<String>,
    architecture: Option<String>,
}

fn collect_branches(
    branches: &[RawBranch],
    ctx: &Context,
    out: &mut Vec<Product>,
) -> Result<(), AdvisoryError> {
    for b in branches {
        let mut ctx = ctx.clone();
        let name = Some(b.name.clone());
        match b.category.as_str() {
            "vendor" => ctx.vendor = name,
            "product_family" => ctx.family = name,
            "product_name" => ctx.product_name = name,
            "product_version" => ctx.version = name,
            "architecture" => ctx.architecture = name,
            _ => {}
        }
        if let Some(p) = &b.product {
            out.push(product(p, &ctx)?);
        }
        collect_branches(&b.branches, &ctx, out)?;
    }
    Ok(())
}

fn product(raw: &RawProduct, ctx: &Context) -> Result<Product, AdvisoryError> {
    let helper = raw.product_identification_helper.as_ref();
    let purl = helper
        .and_then(|h| h.purl.as_deref())
        .map(|p| {
            Purl::parse(p)
                .map_err(|reason| invalid(format!("product {:?}: {reason}", raw.product_id)))
        })
        .transpose()?;
    Ok(Product {
        id: raw.product_id.clone(),
        name: raw.name.clone(),
        vendor: ctx.vendor.clone(),
        family: ctx.family.clone(),
        product_name: ctx.product_name.clone(),
        version: ctx.version.clone(),
        architecture: ctx.architecture.clone(),
        cpe: helper.and_then(|h| h.cpe.clone()),
        purl,
        relationship: None,
    })
}

/// The OSV ecosystem of a Red Hat CPE: `cpe:/a:redhat:rhel_aus:8.6::appstream`
/// → `Red Hat:rhel_aus:8.6::appstream` (the naming of Red Hat's own CSAF→OSV
/// converter in ossf/osv-schema).
fn ecosystem_of_cpe(cpe: &str) -> Option<String> {
    let rest = cpe
        .strip_prefix("cpe:/a:redhat:")
        .or_else(|| cpe.strip_prefix("cpe:/o:redhat:"))
        .or_else(|| cpe.strip_prefix("cpe:/h:redhat:"))?;
    Some(format!("Red Hat:{rest}"))
}

impl CsafDocument {
    /// The package a product id names: a relationship product resolves to
    /// its component, with the ecosystem of its platform.
    pub fn package(&self, product_id: &str) -> Option<PackageRef> {
        self.package_at(product_id, 0)
    }

    fn package_at(&self, product_id: &str, depth: usize) -> Option<PackageRef> {
        let p = self.products.get(product_id)?;
        if let Some(rel) = &p.relationship {
            if depth > 8 {
                return None;
            }
            let mut component = self.package_at(&rel.component, depth + 1)?;
            let platform = self.products.get(&rel.platform);
            let cpe = platform.and_then(|pl| pl.cpe.clone());
            if let Some(cpe) = &cpe {
                component.ecosystem = ecosystem_of_cpe(cpe).or(component.ecosystem);
                component.platform_cpe = Some(cpe.clone());
            }
            return Some(component);
        }
        let (name, version, arch, module) = match &p.purl {
            Some(purl) => {
                let version = purl.version.clone().map(|v| {
                    if purl.ty == "rpm" && !v.contains(':') {
                        format!("{}:{v}", purl.qualifier("epoch").unwrap_or("0"))
                    } else {
                        v
                    }
                });
                let module = purl
                    .qualifier("rpmmod")
                    .map(|m| m.splitn(3, ':').take(2).collect::<Vec<_>>().join(":"));
                (
                    purl.name.clone(),
                    version,
                    purl.qualifier("arch")
                        .map(str::to_owned)
                        .or(p.architecture.clone()),
                    module,
                )
            }
            None => (
                p.product_name.clone().unwrap_or_else(|| p.name.clone()),
                p.version.clone(),
                p.architecture.clone(),
                None,
            ),
        };
        Some(PackageRef {
            ecosystem: None,
            platform_cpe: None,
            name,
            version,
            arch,
            module,
        })
    }

    /// The document as `patch.bulletin.advisory`, one event per document.
    ///
    /// - `aliases`: each vulnerability's CVE, or its `ids[]` texts when it
    ///   has no CVE (a CVE's `ids[]` are tracker numbers, not aliases).
    /// - `severity`: `aggregate_severity`, else the highest `impact` threat,
    ///   else the highest CVSS `baseSeverity` (words per
    ///   [`crate::severity_word`]).
    /// - `exploited`: an `exploit_status` threat that says the flaw is
    ///   exploited (`exploited`, `in the wild`, `active exploitation`) and
    ///   does not deny it (`no known`, `not `).
    /// - `cvss`: every `cvss_v3`/`cvss_v2` vector once, with its base score,
    ///   `source` = the publisher.
    /// - `affected`, per product in a status bucket, resolved through
    ///   [`CsafDocument::package`] (source packages, `arch=src`, are skipped:
    ///   they are never installed): `fixed`/`first_fixed` → fixed version and
    ///   range `0`..fixed (Red Hat lists only fixed products; the affected set
    ///   is implied); `known_affected`/`under_investigation` → exactly that
    ///   version; `first_affected` → from it on; `last_affected` → up to it;
    ///   `known_not_affected` → `not_affected` for that version. A product
    ///   without a version speaks about every version. `recommended` is not a
    ///   statement about being affected and is skipped.
    pub fn to_advisory(&self) -> AdvisoryPublished {
        let mut aliases = Vec::new();
        for v in &self.vulnerabilities {
            match &v.cve {
                Some(cve) => aliases.push(cve.clone()),
                None => aliases.extend(v.ids.iter().cloned()),
            }
        }
        dedup(&mut aliases);

        let impact = self
            .vulnerabilities
            .iter()
            .flat_map(|v| &v.threats)
            .filter(|t| t.category == "impact")
            .filter_map(|t| severity_word(&t.details))
            .max();
        let cvss_severity = self
            .vulnerabilities
            .iter()
            .flat_map(|v| &v.scores)
            .filter_map(|s| s.cvss_v3.as_ref()?.base_severity.as_deref())
            .filter_map(severity_word)
            .max();
        let severity: Option<Severity> = self
            .aggregate_severity
            .as_deref()
            .and_then(severity_word)
            .or(impact)
            .or(cvss_severity);

        let exploited = self
            .vulnerabilities
            .iter()
            .flat_map(|v| &v.threats)
            .filter(|t| t.category == "exploit_status")
            .any(|t| says_exploited(&t.details));

        let mut cvss: Vec<CvssVector> = Vec::new();
        for s in self.vulnerabilities.iter().flat_map(|v| &v.scores) {
            for c in [&s.cvss_v3, &s.cvss_v2].into_iter().flatten() {
                if cvss
                    .iter()
                    .any(|known| known.vector == c.vector_string.trim())
                {
                    continue;
                }
                if let Some(v) = cvss_vector(&c.vector_string, Some(c.base_score), &self.publisher)
                {
                    cvss.push(v);
                }
            }
        }

        let mut affected = AffectedSet::default();
        for v in &self.vulnerabilities {
            let s = &v.status;
            let statements: [(&Vec<String>, Statement); 7] = [
                (&s.fixed, Statement::Fixed),
                (&s.first_fixed, Statement::Fixed),
                (&s.known_affected, Statement::Exactly),
                (&s.under_investigation, Statement::Exactly),
                (&s.first_affected, Statement::From),
                (&s.last_affected, Statement::UpTo),
                (&s.known_not_affected, Statement::NotAffected),
            ];
            let mut seen = BTreeSet::new();
            for (ids, statement) in statements {
                for id in ids {
                    let Some(pkg) = self.package(id) else {
                        continue;
                    };
                    if pkg.arch.as_deref() == Some("src") {
                        continue;
                    }
                    if !seen.insert((id.as_str(), statement as u8)) {
                        continue;
                    }
                    let eco = pkg.ecosystem.as_deref();
                    let range = pkg.version.clone().map(|ver| statement.range(ver));
                    let not_affected = statement == Statement::NotAffected
                        || (statement == Statement::Fixed && range.is_none());
                    affected.add(eco, &pkg.name, not_affected, range);
                }
            }
        }

        AdvisoryPublished {
            format: AdvisoryFormat::Csaf,
            id: self.id.clone(),
            revision: Some(self.version.clone()),
            title: Some(self.title.clone()),
            aliases,
            published: Some(self.initial_release),
            modified: Some(self.current_release),
            withdrawn: false,
            exploited,
            severity,
            cvss,
            affected: affected.finish(),
        }
    }
}

/// What a status bucket says about the version of the product it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Statement {
    Fixed,
    Exactly,
    From,
    UpTo,
    NotAffected,
}

impl Statement {
    fn range(self, version: String) -> AffectedRange {
        match self {
            Statement::Fixed => AffectedRange {
                introduced: "0".to_owned(),
                fixed: Some(version),
                last_affected: None,
            },
            Statement::Exactly | Statement::NotAffected => AffectedRange {
                introduced: version.clone(),
                fixed: None,
                last_affected: Some(version),
            },
            Statement::From => AffectedRange {
                introduced: version,
                fixed: None,
                last_affected: None,
            },
            Statement::UpTo => AffectedRange {
                introduced: "0".to_owned(),
                fixed: None,
                last_affected: Some(version),
            },
        }
    }
}

fn says_exploited(details: &str) -> bool {
    let d = details.to_ascii_lowercase();
    let claims = ["exploited", "in the wild", "active exploitation"]
        .iter()
        .any(|w| d.contains(w));
    let denies = ["no known", "not "].iter().any(|w| d.contains(w));
    claims && !denies
}

fn dedup(list: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    list.retain(|x| seen.insert(x.clone()));
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use events::{AffectedPackage, CvssVersion};

    use super::*;

    fn corpus(rel: &str) -> Option<PathBuf> {
        Some(testkit::corpus()?.join(rel))
    }

    fn load(rel: &str) -> Option<Result<CsafDocument, AdvisoryError>> {
        let bytes = std::fs::read(corpus(rel)?).unwrap();
        Some(parse_csaf(&bytes))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn fixed_range(v: &str) -> AffectedRange {
        AffectedRange {
            introduced: "0".to_owned(),
            fixed: Some(v.to_owned()),
            last_affected: None,
        }
    }

    fn exactly(v: &str) -> AffectedRange {
        AffectedRange {
            introduced: v.to_owned(),
            fixed: None,
            last_affected: Some(v.to_owned()),
        }
    }

    #[test]
    fn red_hat_git_lfs_maps_like_the_osv_converter() {
        let Some(doc) = load("csaf/osv-schema__rhsa-2024_4546.json") else {
            return;
        };
        let doc = doc.unwrap();
        assert_eq!(doc.id, "RHSA-2024:4546");
        assert_eq!(doc.aggregate_severity.as_deref(), Some("Important"));
        assert_eq!(doc.vulnerabilities.len(), 1);
        let v = &doc.vulnerabilities[0];
        assert_eq!(v.cve.as_deref(), Some("CVE-2023-45288"));
        assert_eq!(v.cwe.as_deref(), Some("CWE-400"));
        assert_eq!(v.status.fixed.len(), 15);
        let categories: Vec<_> = v.remediations.iter().map(|r| r.category.as_str()).collect();
        assert_eq!(categories, ["vendor_fix", "workaround"]);
        assert_eq!(
            v.remediations[0].url.as_deref(),
            Some("https://access.redhat.com/errata/RHSA-2024:4546")
        );
        assert_eq!(v.remediations[0].product_ids.len(), 15);
        // The tree: 10 leaf products (3 platforms + 7 packages) + 15 relationships.
        let leaves = doc
            .products
            .values()
            .filter(|p| p.relationship.is_none())
            .count();
        assert_eq!((leaves, doc.products.len()), (10, 25));
        assert_eq!(
            doc.package("AppStream-8.6.0.Z.AUS:git-lfs-0:2.13.3-3.el8_6.1.x86_64"),
            Some(PackageRef {
                ecosystem: Some("Red Hat:rhel_aus:8.6::appstream".to_owned()),
                platform_cpe: Some("cpe:/a:redhat:rhel_aus:8.6::appstream".to_owned()),
                name: "git-lfs".to_owned(),
                version: Some("0:2.13.3-3.el8_6.1".to_owned()),
                arch: Some("x86_64".to_owned()),
                module: None,
            })
        );

        let adv = doc.to_advisory();
        assert_eq!(adv.format, AdvisoryFormat::Csaf);
        assert_eq!(adv.revision.as_deref(), Some("3"));
        assert_eq!(
            adv.title.as_deref(),
            Some("Red Hat Security Advisory: git-lfs security update")
        );
        assert_eq!(adv.aliases, ["CVE-2023-45288"]);
        assert_eq!(adv.severity, Some(Severity::High));
        assert!(!adv.exploited && !adv.withdrawn);
        assert_eq!(
            adv.cvss,
            vec![CvssVector {
                version: CvssVersion::V3_1,
                vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H".to_owned(),
                reported_score: Some(7.5),
                source: "Red Hat Product Security".to_owned(),
            }]
        );
        // The golden OSV: {git-lfs, -debuginfo, -debugsource} × 3 streams,
        // introduced 0, fixed 0:2.13.3-3.el8_6.1; no source RPM.
        let mut want = Vec::new();
        for stream in ["rhel_aus", "rhel_e4s", "rhel_tus"] {
            for name in ["git-lfs", "git-lfs-debuginfo", "git-lfs-debugsource"] {
                want.push(AffectedPackage {
                    ecosystem: Some(format!("Red Hat:{stream}:8.6::appstream")),
                    name: name.to_owned(),
                    fixed_versions: vec!["0:2.13.3-3.el8_6.1".to_owned()],
                    not_affected: false,
                    ranges: vec![fixed_range("0:2.13.3-3.el8_6.1")],
                });
            }
        }
        assert_eq!(adv.affected, want);
    }

    #[test]
    fn red_hat_old_advisory_without_scores() {
        let Some(doc) = load("csaf/osv-schema__rhsa-2003_315.json") else {
            return;
        };
        let doc = doc.unwrap();
        assert_eq!(doc.vulnerabilities.len(), 1);
        assert_eq!(doc.vulnerabilities[0].status.fixed.len(), 26);
        assert!(doc.vulnerabilities[0].scores.is_empty());
        assert_eq!(doc.initial_release, utc("2003-11-12T14:16:00Z"));
        assert_eq!(doc.current_release, utc("2024-09-12T22:06:44Z"));
        let adv = doc.to_advisory();
        assert_eq!(adv.aliases, ["CVE-2003-0858"]);
        assert!(adv.cvss.is_empty());
        assert_eq!(adv.severity, Some(Severity::Low));
        // Every remediation purl is versioned; the affected names are not.
        assert!(
            doc.products
                .values()
                .filter_map(|p| p.purl.as_ref())
                .all(|p| p.version.is_some())
        );
        let names: Vec<_> = adv
            .affected
            .iter()
            .map(|a| (a.ecosystem.as_deref().unwrap_or_default(), a.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("Red Hat:enterprise_linux:3::as", "quagga"),
                ("Red Hat:enterprise_linux:3::as", "quagga-debuginfo"),
                ("Red Hat:enterprise_linux:3::es", "quagga"),
                ("Red Hat:enterprise_linux:3::es", "quagga-debuginfo"),
            ]
        );
        assert!(
            adv.affected
                .iter()
                .all(|a| a.ranges == [fixed_range("0:0.96.2-8.3E")])
        );
    }

    #[test]
    fn red_hat_large_advisory_every_range_is_zero_to_an_epoch_version() {
        let Some(doc) = load("csaf/osv-schema__rhsa-2024_4420.json") else {
            return;
        };
        let doc = doc.unwrap();
        assert_eq!(doc.vulnerabilities[0].cve.as_deref(), Some("CVE-2024-4467"));
        assert_eq!(doc.vulnerabilities[0].status.fixed.len(), 938);
        let leaves = doc
            .products
            .values()
            .filter(|p| p.relationship.is_none())
            .count();
        assert_eq!(leaves, 940);
        assert_eq!(doc.products.len() - leaves, 938);
        let adv = doc.to_advisory();
        assert_eq!(adv.severity, Some(Severity::High));
        assert!(!adv.affected.is_empty());
        for a in &adv.affected {
            assert!(!a.ranges.is_empty(), "{a:?}");
            for r in &a.ranges {
                assert_eq!(r.introduced, "0");
                let fixed = r.fixed.as_deref().unwrap();
                assert!(fixed.contains(':'), "{fixed}");
                assert!(fixed != "0" && !fixed.bytes().all(|b| b.is_ascii_digit()));
                assert!(
                    !fixed.ends_with(":rhel") && !fixed.contains("virt:"),
                    "{fixed}"
                );
            }
        }
    }

    #[test]
    fn red_hat_module_stream_product_resolves() {
        let Some(doc) = load("csaf/vunnel__rhsa-2024_1431.json") else {
            return;
        };
        let doc = doc.unwrap();
        let cves: Vec<_> = doc
            .vulnerabilities
            .iter()
            .filter_map(|v| v.cve.as_deref())
            .collect();
        assert_eq!(
            cves,
            [
                "CVE-2021-33621",
                "CVE-2023-28755",
                "CVE-2023-28756",
                "CVE-2023-36617"
            ]
        );
        assert!(
            doc.vulnerabilities
                .iter()
                .all(|v| v.status.fixed.len() == 136)
        );
        assert_eq!(
            doc.package(
                "AppStream-8.9.0.Z.MAIN:ruby-0:3.1.4-142.module+el8.9.0+21471+7d1e4a35.aarch64::ruby:3.1"
            ),
            Some(PackageRef {
                ecosystem: Some("Red Hat:enterprise_linux:8::appstream".to_owned()),
                platform_cpe: Some("cpe:/a:redhat:enterprise_linux:8::appstream".to_owned()),
                name: "ruby".to_owned(),
                version: Some("0:3.1.4-142.module+el8.9.0+21471+7d1e4a35".to_owned()),
                arch: Some("aarch64".to_owned()),
                module: Some("ruby:3.1".to_owned()),
            })
        );
        let adv = doc.to_advisory();
        assert_eq!(adv.aliases.len(), 4);
        assert_eq!(adv.severity, Some(Severity::Medium));
        // Four scores, two distinct vectors.
        assert_eq!(adv.cvss.len(), 2);
    }

    #[test]
    fn synthetic_one_vulnerability() {
        let Some(doc) = load("csaf/defectdojo__csaf_one_vuln.json") else {
            return;
        };
        let doc = doc.unwrap();
        let v = &doc.vulnerabilities[0];
        assert_eq!(v.key(), Some("CVE-2026-10001"));
        assert_eq!(v.cwe.as_deref(), Some("CWE-94"));
        assert_eq!(v.status.known_affected, ["CSAFPID-0001"]);
        assert_eq!(
            v.remediations,
            vec![CsafRemediation {
                category: "vendor_fix".to_owned(),
                details: "Upgrade to Generic App 1.0.1.".to_owned(),
                url: Some("https://example.com/advisories/EXAMPLE-2026-0001".to_owned()),
                product_ids: vec!["CSAFPID-0001".to_owned()],
                restart_required: Some("service".to_owned()),
            }]
        );
        let adv = doc.to_advisory();
        assert_eq!(adv.id, "EXAMPLE-2026-0001");
        assert_eq!(adv.severity, Some(Severity::Critical));
        assert_eq!(adv.published, Some(utc("2026-07-29T00:00:00Z")));
        assert_eq!(adv.cvss[0].reported_score, Some(9.8));
        assert_eq!(
            adv.cvss[0].vector,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        );
        // A full product name without branches: the whole product, affected.
        assert_eq!(
            adv.affected,
            vec![AffectedPackage {
                ecosystem: None,
                name: "Generic App 1.0.0".to_owned(),
                fixed_versions: vec![],
                not_affected: false,
                ranges: vec![],
            }]
        );
    }

    #[test]
    fn synthetic_status_matrix_with_not_affected_and_relationship() {
        let Some(doc) = load("csaf/defectdojo__csaf_many_vuln.json") else {
            return;
        };
        let doc = doc.unwrap();
        let versions: Vec<_> = ["CSAFPID-0001", "CSAFPID-0002", "CSAFPID-0003"]
            .iter()
            .map(|id| doc.package(id).and_then(|p| p.version))
            .collect();
        assert_eq!(
            versions,
            [
                Some("1.0.0".into()),
                Some("1.0.1".into()),
                Some("2.0.0".into())
            ]
        );
        assert_eq!(
            doc.products["CSAFPID-0005"].name,
            "Generic Library 3.4.5 as a component of Generic App 1.0.0"
        );
        let lib = doc.package("CSAFPID-0005").unwrap();
        assert_eq!(
            (lib.name.as_str(), lib.version.as_deref()),
            ("Generic Library", Some("3.4.5"))
        );
        // Five (vulnerability, product) statuses, as DefectDojo counts them.
        let statuses: usize = doc
            .vulnerabilities
            .iter()
            .map(|v| {
                v.status
                    .buckets()
                    .iter()
                    .map(|(_, l)| l.len())
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(statuses, 5);
        assert_eq!(doc.vulnerabilities[1].key(), Some("EXAMPLE-2026-0002-B"));
        assert!(doc.vulnerabilities[1].scores.is_empty());

        let adv = doc.to_advisory();
        assert_eq!(adv.aliases, ["CVE-2026-10002", "EXAMPLE-2026-0002-B"]);
        assert_eq!(adv.severity, Some(Severity::High));
        assert_eq!(
            adv.affected,
            vec![
                AffectedPackage {
                    ecosystem: None,
                    name: "Generic App".to_owned(),
                    fixed_versions: vec!["1.0.1".to_owned()],
                    not_affected: false,
                    ranges: vec![fixed_range("1.0.1"), exactly("1.0.0")],
                },
                AffectedPackage {
                    ecosystem: None,
                    name: "Generic App".to_owned(),
                    fixed_versions: vec![],
                    not_affected: true,
                    ranges: vec![exactly("2.0.0")],
                },
                AffectedPackage {
                    ecosystem: None,
                    name: "Generic Library".to_owned(),
                    fixed_versions: vec![],
                    not_affected: false,
                    ranges: vec![exactly("3.4.5")],
                },
            ]
        );
    }

    #[test]
    fn no_vulnerabilities_key_is_a_clean_document() {
        let Some(doc) = load("csaf/defectdojo__csaf_no_vuln.json") else {
            return;
        };
        let doc = doc.unwrap();
        assert!(doc.vulnerabilities.is_empty());
        let adv = doc.to_advisory();
        assert_eq!(adv.id, "EXAMPLE-2026-0000");
        assert!(adv.affected.is_empty() && adv.aliases.is_empty());
    }

    #[test]
    fn csaf_1_2_is_not_supported() {
        let Some(res) = load("csaf/defectdojo__csaf_unsupported_version.json") else {
            return;
        };
        let err = res.unwrap_err();
        assert!(
            matches!(err, AdvisoryError::CsafVersion(ref v) if v == "1.2"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("not supported") && msg.contains("CVRF"),
            "{msg}"
        );
    }

    #[test]
    fn rejections_name_the_problem() {
        let doc = |tracking: &str, rest: &str| {
            format!(
                r#"{{"document":{{"csaf_version":"2.0","title":"t","publisher":{{"name":"p"}},
                "tracking":{tracking}}}{rest}}}"#
            )
        };
        let good = r#"{"id":"X-1","version":"1","status":"final","initial_release_date":"2026-01-01T00:00:00Z","current_release_date":"2026-01-01T00:00:00Z"}"#;
        let table: Vec<(String, &str)> = vec![
            (
                String::new(),
                "CSAF document is empty (0 bytes): a feed or scanner that found nothing still writes a JSON document, so an empty file is a failed run or a cut-off download",
            ),
            (
                "<html><title>Bad Gateway</title></html>".into(),
                "CSAF document is not JSON: it is an HTML page titled \"Bad Gateway\" (an error page saved as the feed?)",
            ),
            (
                "{\"document\":".into(),
                "CSAF document is not JSON: EOF while parsing a value at line 1 column 12",
            ),
            (
                "{}".into(),
                "CSAF document is not valid: document is missing",
            ),
            (
                r#"{"document":{"csaf_version":2.0}}"#.into(),
                "CSAF document is not valid: document.csaf_version must be the string \"2.0\", not 2.0",
            ),
            (
                doc(
                    &good.replace("2026-01-01T00:00:00Z\",\"current", "yesterday\",\"current"),
                    "",
                ),
                "CSAF document is not valid: document.tracking.initial_release_date \"yesterday\" is not an RFC 3339 instant",
            ),
            (
                doc(
                    good,
                    r#","vulnerabilities":[{"cve":"CVE-2026-1","product_status":{"fixed":["P1"]}}]"#,
                ),
                "CSAF document is not valid: vulnerabilities[0].cve \"CVE-2026-1\" is not CVE-YYYY-NNNN",
            ),
            (
                doc(
                    good,
                    r#","vulnerabilities":[{"cve":"CVE-2026-10001","product_status":{"fixed":["P1"]}}]"#,
                ),
                "CSAF document is not valid: vulnerabilities[0].product_status.fixed: product id \"P1\" is not defined in the product tree",
            ),
            (
                doc(
                    good,
                    r#","product_tree":{"full_product_names":[{"product_id":"P1","name":"n"}],
                   "relationships":[{"category":"default_component_of","product_reference":"P1","relates_to_product_reference":"P9",
                   "full_product_name":{"product_id":"P2","name":"n"}}]}"#,
                ),
                "CSAF document is not valid: product_tree.relationships[0].relates_to_product_reference: product id \"P9\" is not defined in the product tree",
            ),
            (
                doc(
                    good,
                    r#","product_tree":{"full_product_names":[{"product_id":"P1","name":"n"}]},
                   "vulnerabilities":[{"remediations":[{"category":"vendor_fix","group_ids":["G1"]}]}]"#,
                ),
                "CSAF document is not valid: vulnerabilities[0].remediations[0]: group id \"G1\" is not defined in the product tree",
            ),
        ];
        for (input, want) in &table {
            let err = parse_csaf(input.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), *want, "{input}");
        }
        assert!(matches!(
            parse_csaf(doc(r#"{"id":"X"}"#, "").as_bytes()),
            Err(AdvisoryError::Invalid { .. })
        ));
    }

    #[test]
    fn exploit_status_words() {
        for (details, want) in [
            ("Exploited in the wild", true),
            ("Active exploitation reported", true),
            ("No known exploit", false),
            ("Not exploited", false),
            ("Proof of concept available", false),
        ] {
            assert_eq!(says_exploited(details), want, "{details}");
        }
    }
}
