//! The CISA Known Exploited Vulnerabilities catalog, from its JSON feed
//! (`known_exploited_vulnerabilities.json`, schema in cisagov/kev-data) or
//! its CSV twin (`known_exploited_vulnerabilities.csv`, the same columns).
//!
//! Loaders validate before they return: a load that fails is an
//! [`IntelError`] the caller reports, and the caller keeps whatever table it
//! had (a failed fetch must never wipe a table). Oddities that do not make a
//! file unusable (a wrong `count`, a duplicated CVE) are returned as
//! `warnings` on the catalog.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use events::KevInput;
use serde::Deserialize;

use crate::cve_map::CveMap;
use crate::intel::{IntelError, describe_markup, is_cve_id, parse_date};

/// The CISA KEV catalog, keyed by CVE.
#[derive(Debug, Clone, PartialEq)]
pub struct KevCatalog {
    /// `catalogVersion` (`2025.08.25`).
    pub catalog_version: String,
    /// `dateReleased` (UTC).
    pub released: DateTime<Utc>,
    /// Entries by upper-case CVE id, one per CVE.
    pub entries: CveMap<KevInput>,
    /// Things that did not stop the load: `count` disagreeing with the
    /// entries, duplicated CVEs, unexpected `knownRansomwareCampaignUse`.
    pub warnings: Vec<String>,
}

impl KevCatalog {
    /// The entry for `cve` (case-insensitive), if the catalog lists it.
    pub fn get(&self, cve: &str) -> Option<&KevInput> {
        self.entries.get_cve(cve)
    }
}

/// The descriptive fields of one KEV entry (what `patch.bulletin.kev_added`
/// carries beside the dates).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KevDetails {
    /// `vendorProject` (`Microsoft`).
    pub vendor_project: String,
    /// `product` (`Windows`).
    pub product: String,
    /// `vulnerabilityName`.
    pub vulnerability_name: String,
    /// `shortDescription`.
    pub short_description: String,
    /// `requiredAction` (BOD 22-01).
    pub required_action: String,
    /// `cwes` (`CWE-59`); empty when the catalog has none (before mid-2024).
    pub cwes: Vec<String>,
}

/// A whole KEV catalog: the table prioritize reads, plus each entry's
/// descriptive fields, both keyed by upper-case CVE id.
#[derive(Debug, Clone, PartialEq)]
pub struct KevFeed {
    /// Dates per CVE (the decision input).
    pub catalog: KevCatalog,
    /// Vendor, product, name and required action per CVE (same keys).
    pub details: HashMap<String, KevDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCatalog {
    catalog_version: String,
    date_released: String,
    count: Option<u64>,
    vulnerabilities: Vec<RawKev>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKev {
    #[serde(rename = "cveID")]
    cve_id: String,
    date_added: String,
    due_date: String,
    known_ransomware_campaign_use: Option<String>,
    #[serde(default)]
    vendor_project: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    vulnerability_name: String,
    #[serde(default)]
    short_description: String,
    #[serde(default)]
    required_action: String,
    #[serde(default)]
    cwes: Vec<String>,
}

/// Loads a CISA KEV JSON catalog, keeping only the table (see [`parse_kev`]
/// for the rules).
///
/// # Errors
/// As [`parse_kev`].
pub fn load_kev<R: Read>(reader: R) -> Result<KevCatalog, IntelError> {
    parse_kev(reader).map(|feed| feed.catalog)
}

/// Parses a CISA KEV JSON catalog (`catalogVersion`, `dateReleased`, `count`,
/// `vulnerabilities[]` with `cveID`, `dateAdded`, `dueDate`, optional
/// `knownRansomwareCampaignUse`, and the descriptive `vendorProject`,
/// `product`, `vulnerabilityName`, `shortDescription`, `requiredAction`,
/// `cwes`; other fields are ignored).
///
/// Rules:
/// - `count` is not trusted: a mismatch with the entries is a warning.
/// - A CVE listed twice keeps the entry with the newest `dateAdded` (then
///   the latest `dueDate`, then the first in the file), with a warning:
///   the newest listing is CISA's current statement about the CVE.
/// - `dueDate` before `dateAdded` is accepted (CISA's 2021-11-03 launch batch).
/// - `knownRansomwareCampaignUse`: `Known` → `Some(true)`, `Unknown` →
///   `Some(false)`, absent (catalogs before late 2023) → `None`.
/// - A catalog that lists no vulnerability is refused: the real catalog is
///   never empty, and an empty table would silently drop the KEV rule.
///
/// # Errors
/// [`IntelError::Io`]; [`IntelError::KevNotJson`] for a file that is not
/// JSON (an HTML page is named as such, with its title);
/// [`IntelError::KevShape`] for JSON without the catalog fields, with an
/// unreadable `dateReleased` or without entries; [`IntelError::KevEntry`]
/// for an entry whose `cveID` is not `CVE-YYYY-NNNN…` or whose dates are not
/// `YYYY-MM-DD`. Text fields are trimmed.
pub fn parse_kev<R: Read>(mut reader: R) -> Result<KevFeed, IntelError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| IntelError::Io {
            what: "KEV catalog",
            source,
        })?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let first = text.trim_start().chars().next();
    if first == Some('<') {
        return Err(IntelError::KevNotJson(describe_markup(text)));
    }
    if first != Some('{') {
        let what = match first {
            None => "the file is empty".to_owned(),
            Some(c) => format!("it starts with {c:?}, not '{{'"),
        };
        return Err(IntelError::KevNotJson(what));
    }
    let raw: RawCatalog = serde_json::from_str(text).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            IntelError::KevNotJson(e.to_string())
        } else {
            IntelError::KevShape(e.to_string())
        }
    })?;
    if raw.catalog_version.trim().is_empty() {
        return Err(IntelError::KevShape("catalogVersion is empty".to_owned()));
    }
    let released = DateTime::parse_from_rfc3339(raw.date_released.trim())
        .map_err(|e| {
            IntelError::KevShape(format!(
                "dateReleased {:?} is not an RFC 3339 instant: {e}",
                raw.date_released
            ))
        })?
        .with_timezone(&Utc);
    if raw.vulnerabilities.is_empty() {
        return Err(IntelError::KevShape("vulnerabilities is empty".to_owned()));
    }

    let mut builder = Builder::new(raw.catalog_version.trim(), raw.vulnerabilities.len());
    match raw.count {
        Some(c) if c != raw.vulnerabilities.len() as u64 => builder.warnings.push(format!(
            "count says {c} but the catalog lists {} entries",
            raw.vulnerabilities.len()
        )),
        Some(_) => {}
        None => builder.warnings.push("count is missing".to_owned()),
    }
    for (index, v) in raw.vulnerabilities.into_iter().enumerate() {
        builder.add(
            index,
            &v.cve_id,
            &v.date_added,
            &v.due_date,
            v.known_ransomware_campaign_use.as_deref(),
            KevDetails {
                vendor_project: v.vendor_project.trim().to_owned(),
                product: v.product.trim().to_owned(),
                vulnerability_name: v.vulnerability_name.trim().to_owned(),
                short_description: v.short_description.trim().to_owned(),
                required_action: v.required_action.trim().to_owned(),
                cwes: v.cwes.iter().map(|c| c.trim().to_owned()).collect(),
            },
        )?;
    }
    Ok(builder.finish(released))
}

/// The KEV CSV columns a row needs; the others are read when present.
const CSV_REQUIRED: [&str; 3] = ["cveID", "dateAdded", "dueDate"];

/// Parses the CISA KEV CSV twin: a header naming the JSON fields
/// (`cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,
/// requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes`, matched by
/// name, in any order; `cveID`, `dateAdded` and `dueDate` required), then one
/// quoted CSV row per entry; `cwes` is one cell joined with `", "`.
///
/// The CSV carries neither `catalogVersion` nor `dateReleased`: both are
/// derived from the newest `dateAdded` (`2025.08.25`, released at its
/// midnight UTC), which is how CISA numbers a catalog that added entries that
/// day. Duplicates, ransomware values and the refusal of an empty catalog
/// follow [`parse_kev`].
///
/// # Errors
/// [`IntelError::Io`]; [`IntelError::KevNotCsv`] for an HTML page, a JSON
/// document or an empty file; [`IntelError::KevCsvHeader`];
/// [`IntelError::KevCsvRow`] for a row the CSV reader rejects (a wrong
/// number of cells); [`IntelError::KevEntry`] for a bad CVE id or date;
/// [`IntelError::KevShape`] when no row follows the header.
pub fn parse_kev_csv<R: Read>(mut reader: R) -> Result<KevFeed, IntelError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| IntelError::Io {
            what: "KEV CSV",
            source,
        })?;
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    let lead = String::from_utf8_lossy(body.get(..body.len().min(4096)).unwrap_or_default())
        .trim_start()
        .to_owned();
    match lead.chars().next() {
        None => return Err(IntelError::KevNotCsv("the file is empty".to_owned())),
        Some('<') => return Err(IntelError::KevNotCsv(describe_markup(&lead))),
        Some('{') => {
            return Err(IntelError::KevNotCsv(
                "it is JSON: load it as the JSON catalog".to_owned(),
            ));
        }
        Some(_) => {}
    }

    let mut rows = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let header = rows
        .headers()
        .map_err(|e| IntelError::KevCsvRow {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let header_text = || header.iter().collect::<Vec<_>>().join(",");
    let mut required = [0usize; 3];
    for (slot, name) in required.iter_mut().zip(CSV_REQUIRED) {
        *slot = column(name).ok_or_else(|| IntelError::KevCsvHeader {
            header: header_text(),
            missing: name,
        })?;
    }
    let [cve_at, added_at, due_at] = required;
    let optional = [
        "vendorProject",
        "product",
        "vulnerabilityName",
        "shortDescription",
        "requiredAction",
        "knownRansomwareCampaignUse",
        "cwes",
    ]
    .map(column);

    let mut parsed = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = rows.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            // csv prefixes its message with the record position, which the
            // line number already gives.
            let text = e.to_string();
            let reason = text
                .split_once("): ")
                .map_or(text.as_str(), |(_, r)| r)
                .to_owned();
            match e.into_kind() {
                csv::ErrorKind::Io(source) => IntelError::Io {
                    what: "KEV CSV",
                    source,
                },
                _ => IntelError::KevCsvRow { line, reason },
            }
        })?;
        if !more {
            break;
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).unwrap_or_default();
        let text = |at: Option<usize>| cell(at).trim().to_owned();
        let [vendor, product, name, description, action, ransomware, cwes] = optional;
        parsed.push((
            cell(Some(cve_at)).to_owned(),
            cell(Some(added_at)).to_owned(),
            cell(Some(due_at)).to_owned(),
            ransomware.map(|_| text(ransomware)),
            KevDetails {
                vendor_project: text(vendor),
                product: text(product),
                vulnerability_name: text(name),
                short_description: text(description),
                required_action: text(action),
                cwes: cell(cwes)
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
        ));
    }
    let newest = parsed
        .iter()
        .filter_map(|(_, added, ..)| parse_date(added))
        .max()
        .ok_or_else(|| IntelError::KevShape("the CSV lists no vulnerabilities".to_owned()))?;
    let version = newest.format("%Y.%m.%d").to_string();
    let mut builder = Builder::new(&version, parsed.len());
    for (index, (cve, added, due, ransomware, details)) in parsed.into_iter().enumerate() {
        let ransomware = ransomware.filter(|r| !r.is_empty());
        builder.add(index, &cve, &added, &due, ransomware.as_deref(), details)?;
    }
    let released = newest
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    Ok(builder.finish(released))
}

/// Parses a KEV catalog in either spelling, told apart by its content: a
/// document starting with `{` is the JSON feed ([`parse_kev`]), anything
/// else the CSV ([`parse_kev_csv`], which names an HTML page as such).
///
/// # Errors
/// As the parser the content selects.
pub fn parse_kev_any(bytes: &[u8]) -> Result<KevFeed, IntelError> {
    let body = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') | Some(b'<') | None => parse_kev(bytes),
        Some(_) => parse_kev_csv(bytes),
    }
}

/// Collects entries with the shared rules (CVE id and dates checked,
/// duplicates resolved deterministically, warnings kept).
struct Builder {
    catalog_version: String,
    entries: HashMap<String, KevInput>,
    details: HashMap<String, KevDetails>,
    warnings: Vec<String>,
}

impl Builder {
    fn new(catalog_version: &str, capacity: usize) -> Self {
        Builder {
            catalog_version: catalog_version.to_owned(),
            entries: HashMap::with_capacity(capacity),
            details: HashMap::with_capacity(capacity),
            warnings: Vec::new(),
        }
    }

    fn add(
        &mut self,
        index: usize,
        cve_id: &str,
        date_added: &str,
        due_date: &str,
        ransomware: Option<&str>,
        details: KevDetails,
    ) -> Result<(), IntelError> {
        let entry_err = |reason: String| IntelError::KevEntry {
            index,
            cve: cve_id.to_owned(),
            reason,
        };
        let cve = cve_id.trim().to_ascii_uppercase();
        if !is_cve_id(&cve) {
            return Err(entry_err("cveID is not CVE-YYYY-NNNN".to_owned()));
        }
        let date_added: NaiveDate = parse_date(date_added)
            .ok_or_else(|| entry_err(format!("dateAdded {date_added:?} is not YYYY-MM-DD")))?;
        let due_date: NaiveDate = parse_date(due_date)
            .ok_or_else(|| entry_err(format!("dueDate {due_date:?} is not YYYY-MM-DD")))?;
        let known_ransomware = match ransomware.map(str::trim) {
            None => None,
            Some(s) if s.eq_ignore_ascii_case("known") => Some(true),
            Some(s) if s.eq_ignore_ascii_case("unknown") => Some(false),
            Some(other) => {
                self.warnings.push(format!(
                    "{cve}: knownRansomwareCampaignUse {other:?} is neither Known nor Unknown; ignored"
                ));
                None
            }
        };
        let input = KevInput {
            cve: cve.clone(),
            date_added,
            due_date,
            known_ransomware,
            catalog_version: self.catalog_version.clone(),
        };
        match self.entries.entry(cve.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(input);
                self.details.insert(cve, details);
            }
            Entry::Occupied(mut slot) => {
                let kept = slot.get();
                let replace = (input.date_added, input.due_date) > (kept.date_added, kept.due_date);
                self.warnings.push(format!(
                    "{} is listed more than once (dateAdded {} and {}); keeping dateAdded {}",
                    input.cve,
                    kept.date_added,
                    input.date_added,
                    if replace {
                        input.date_added
                    } else {
                        kept.date_added
                    }
                ));
                if replace {
                    slot.insert(input);
                    self.details.insert(cve, details);
                }
            }
        }
        Ok(())
    }

    fn finish(self, released: DateTime<Utc>) -> KevFeed {
        KevFeed {
            catalog: KevCatalog {
                catalog_version: self.catalog_version,
                released,
                entries: self.entries.into(),
                warnings: self.warnings,
            },
            details: self.details,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn corpus(rel: &str) -> Option<PathBuf> {
        Some(testkit::corpus()?.join(rel))
    }

    fn kev(rel: &str) -> Option<Result<KevCatalog, IntelError>> {
        let path = corpus(rel)?;
        Some(load_kev(std::fs::File::open(path).unwrap()))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn kev_full_catalog_2025() {
        let Some(cat) =
            kev("kev/cisagov-kev-data__known_exploited_vulnerabilities_2025.08.25.json")
        else {
            return;
        };
        let cat = cat.unwrap();
        assert_eq!(cat.catalog_version, "2025.08.25");
        assert_eq!(cat.released, utc("2025-08-25T17:04:19.9796Z"));
        assert_eq!(cat.entries.len(), 1404);
        assert!(cat.warnings.is_empty(), "{:?}", cat.warnings);
        assert_eq!(
            cat.get("cve-2025-48384"),
            Some(&KevInput {
                cve: "CVE-2025-48384".to_owned(),
                date_added: day("2025-08-25"),
                due_date: day("2025-09-15"),
                known_ransomware: Some(false),
                catalog_version: "2025.08.25".to_owned(),
            })
        );
        let known = cat
            .entries
            .values()
            .filter(|e| e.known_ransomware == Some(true))
            .count();
        assert_eq!(known, 293);
        let unknown = cat
            .entries
            .values()
            .filter(|e| e.known_ransomware == Some(false))
            .count();
        assert_eq!(unknown, 1111);
        // dueDate before dateAdded is accepted as published.
        let printnightmare = cat.get("CVE-2021-34527").unwrap();
        assert_eq!(printnightmare.date_added, day("2021-11-03"));
        assert_eq!(printnightmare.due_date, day("2021-07-20"));
        let early = cat
            .entries
            .values()
            .filter(|e| e.due_date < e.date_added)
            .count();
        assert_eq!(early, 15);
    }

    #[test]
    fn kev_json_details_and_vendor_counts() {
        let Some(path) =
            corpus("kev/cisagov-kev-data__known_exploited_vulnerabilities_2025.08.25.json")
        else {
            return;
        };
        let feed = parse_kev(std::fs::File::open(path).unwrap()).unwrap();
        assert_eq!(feed.details.len(), 1404);
        assert_eq!(
            feed.details.get("CVE-2025-48384"),
            Some(&KevDetails {
                vendor_project: "Git".to_owned(),
                product: "Git".to_owned(),
                vulnerability_name: "Git Link Following Vulnerability".to_owned(),
                short_description: "Git contains a link following vulnerability that stems from \
                                    Git\u{2019}s inconsistent handling of carriage return \
                                    characters in configuration files."
                    .to_owned(),
                required_action: "Apply mitigations per vendor instructions, follow applicable \
                                  BOD 22-01 guidance for cloud services, or discontinue use of \
                                  the product if mitigations are unavailable."
                    .to_owned(),
                cwes: vec!["CWE-59".to_owned(), "CWE-436".to_owned()],
            })
        );
        let vendor = |name: &str| {
            feed.details
                .values()
                .filter(|d| d.vendor_project == name)
                .count()
        };
        assert_eq!(
            (vendor("Microsoft"), vendor("Apple"), vendor("Cisco")),
            (340, 84, 78)
        );
        let cwe_counts = |n: usize| feed.details.values().filter(|d| d.cwes.len() == n).count();
        assert_eq!((cwe_counts(0), cwe_counts(2), cwe_counts(3)), (152, 78, 4));
    }

    #[test]
    fn kev_csv_twin_equals_the_json_catalog() {
        let (Some(csv_path), Some(json_path)) = (
            corpus("kev/cisagov-kev-data__known_exploited_vulnerabilities_2025.08.25.csv"),
            corpus("kev/cisagov-kev-data__known_exploited_vulnerabilities_2025.08.25.json"),
        ) else {
            return;
        };
        let csv = parse_kev_csv(std::fs::File::open(csv_path).unwrap()).unwrap();
        let json = parse_kev(std::fs::File::open(&json_path).unwrap()).unwrap();
        assert_eq!(csv.catalog.entries.len(), 1404);
        assert_eq!(csv.catalog.catalog_version, "2025.08.25");
        assert_eq!(csv.catalog.released, utc("2025-08-25T00:00:00Z"));
        assert!(
            csv.catalog.warnings.is_empty(),
            "{:?}",
            csv.catalog.warnings
        );
        // Same entries (dates, ransomware use, version) and same details.
        assert_eq!(csv.catalog.entries, json.catalog.entries);
        assert_eq!(csv.details, json.details);
        assert_eq!(
            csv.details.get("CVE-2025-48384").map(|d| d.cwes.clone()),
            Some(vec!["CWE-59".to_owned(), "CWE-436".to_owned()])
        );
        // The sniffing entry point picks each parser by content.
        let bytes = std::fs::read(json_path).unwrap();
        assert_eq!(parse_kev_any(&bytes).unwrap(), json);
    }

    #[test]
    fn kev_pre_ransomware_field_crlf_catalog() {
        let Some(cat) = kev("kev/lodestone__kev_2023.04.12_pre-ransomware-field.json") else {
            return;
        };
        let cat = cat.unwrap();
        assert_eq!(cat.catalog_version, "2023.04.12");
        assert_eq!(cat.entries.len(), 914);
        assert!(cat.warnings.is_empty(), "{:?}", cat.warnings);
        assert!(cat.entries.values().all(|e| e.known_ransomware.is_none()));
        assert_eq!(
            cat.get("CVE-2021-27104").unwrap().due_date,
            day("2021-11-17")
        );
        assert_eq!(
            cat.get("CVE-2023-28252").unwrap().date_added,
            day("2023-04-11")
        );
    }

    #[test]
    fn kev_duplicate_cve_keeps_newest_date_added_with_a_warning() {
        let Some(path) = corpus("kev/lodestone__kev_2024.09.18_duplicate-cveID.json") else {
            return;
        };
        let feed = parse_kev(std::fs::File::open(path).unwrap()).unwrap();
        let cat = &feed.catalog;
        assert_eq!(cat.catalog_version, "2024.09.18");
        assert_eq!(cat.entries.len(), 1180);
        let e = cat.get("CVE-2019-1069").unwrap();
        assert_eq!(e.date_added, day("2024-09-18"));
        assert_eq!(e.due_date, day("2024-10-09"));
        assert_eq!(e.known_ransomware, Some(false));
        // The details follow the kept entry.
        assert_eq!(feed.details["CVE-2019-1069"].product, "Windows");
        assert_eq!(
            cat.warnings,
            vec![
                "CVE-2019-1069 is listed more than once (dateAdded 2022-03-15 and 2024-09-18); \
                 keeping dateAdded 2024-09-18"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn kev_count_mismatch_is_a_warning() {
        let Some(cat) = kev("kev/vunnel__valid-catalog-1.json") else {
            return;
        };
        let cat = cat.unwrap();
        assert_eq!(cat.catalog_version, "2025.02.19");
        assert_eq!(cat.entries.len(), 3);
        let mut cves: Vec<_> = cat.entries.keys().cloned().collect();
        cves.sort();
        assert_eq!(
            cves,
            ["CVE-2024-53704", "CVE-2024-57727", "CVE-2025-0108"].map(String::from)
        );
        assert_eq!(
            cat.warnings,
            vec!["count says 1273 but the catalog lists 3 entries".to_owned()]
        );
        assert_eq!(
            cat.get("CVE-2025-0108").unwrap().due_date,
            day("2025-03-11")
        );
    }

    #[test]
    fn kev_html_page_is_rejected_with_the_reason() {
        let Some(path) = corpus("kev/lodestone__kev_2024-11-26_access-denied-html.json") else {
            return;
        };
        let bytes = std::fs::read(path).unwrap();
        let want = "KEV catalog is not JSON: it is an HTML page titled \"Access Denied\" \
                    (an error page saved as the feed?)";
        let err = load_kev(bytes.as_slice()).unwrap_err();
        assert!(matches!(err, IntelError::KevNotJson(_)), "{err:?}");
        assert_eq!(err.to_string(), want);
        assert_eq!(parse_kev_any(&bytes).unwrap_err().to_string(), want);
        assert_eq!(
            parse_kev_csv(bytes.as_slice()).unwrap_err().to_string(),
            "KEV CSV is not CSV: it is an HTML page titled \"Access Denied\" \
             (an error page saved as the feed?)"
        );
    }

    #[test]
    fn kev_schema_file_is_not_a_catalog() {
        let Some(path) =
            corpus("kev/cisagov-kev-data__known_exploited_vulnerabilities_schema.json")
        else {
            return;
        };
        let err = load_kev(std::fs::File::open(path).unwrap()).unwrap_err();
        assert!(matches!(err, IntelError::KevShape(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("KEV catalog is not a valid catalog: missing field `catalogVersion`"),
            "{err}"
        );
    }

    #[test]
    fn kev_rejects_bad_shapes_and_entries() {
        let table: &[(&str, &str)] = &[
            ("", "KEV catalog is not JSON: the file is empty"),
            ("[]", "KEV catalog is not JSON: it starts with '[', not '{'"),
            (
                r#"{"catalogVersion":"1","dateReleased":"2025-01-01T00:00:00Z","count":0}"#,
                "KEV catalog is not a valid catalog: missing field `vulnerabilities` at line 1 column 70",
            ),
            (
                r#"{"catalogVersion":"1","dateReleased":"yesterday","count":0,"vulnerabilities":[]}"#,
                "KEV catalog is not a valid catalog: dateReleased \"yesterday\" is not an RFC 3339 \
                 instant: premature end of input",
            ),
            (
                r#"{"catalogVersion":"1","dateReleased":"2025-01-01T00:00:00Z","count":0,"vulnerabilities":[]}"#,
                "KEV catalog is not a valid catalog: vulnerabilities is empty",
            ),
            (
                r#"{"catalogVersion":"1","dateReleased":"2025-01-01T00:00:00Z","count":1,
                   "vulnerabilities":[{"cveID":"CVE-2025-1234","dateAdded":"2025-13-01","dueDate":"2025-01-02"}]}"#,
                "KEV catalog entry 0 (CVE-2025-1234): dateAdded \"2025-13-01\" is not YYYY-MM-DD",
            ),
            (
                r#"{"catalogVersion":"1","dateReleased":"2025-01-01T00:00:00Z","count":1,
                   "vulnerabilities":[{"cveID":"GHSA-1","dateAdded":"2025-01-01","dueDate":"2025-01-02"}]}"#,
                "KEV catalog entry 0 (GHSA-1): cveID is not CVE-YYYY-NNNN",
            ),
        ];
        for (input, want) in table {
            let err = load_kev(input.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), *want, "{input}");
        }
    }

    #[test]
    fn kev_csv_rejections_name_the_problem() {
        let head = "cveID,vendorProject,dateAdded,dueDate,knownRansomwareCampaignUse\n";
        let table: &[(&str, &str)] = &[
            ("", "KEV CSV is not CSV: the file is empty"),
            (
                "{\"catalogVersion\":\"1\"}",
                "KEV CSV is not CSV: it is JSON: load it as the JSON catalog",
            ),
            (
                "cve,vendorProject,dateAdded,dueDate\nCVE-2025-0001,x,2025-01-01,2025-01-02\n",
                "KEV CSV header \"cve,vendorProject,dateAdded,dueDate\" has no cveID column",
            ),
            (
                "cveID,dateAdded\nCVE-2025-0001,2025-01-01\n",
                "KEV CSV header \"cveID,dateAdded\" has no dueDate column",
            ),
            (
                head,
                "KEV catalog is not a valid catalog: the CSV lists no vulnerabilities",
            ),
        ];
        for (input, want) in table {
            let err = parse_kev_csv(input.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), *want, "{input}");
        }
        let rows: &[(&str, &str)] = &[
            (
                "CVE-2025-0001,x,2025-01-01,2025-01-02,Unknown\nCVE-2025-0002,x,2025-01-01\n",
                "KEV CSV line 3: found record with 3 fields, but the previous record has 5 fields",
            ),
            (
                "CVE-2025-0001,x,2025-01-01,2025-02-30,Known\n",
                "KEV catalog entry 0 (CVE-2025-0001): dueDate \"2025-02-30\" is not YYYY-MM-DD",
            ),
        ];
        for (input, want) in rows {
            let err = parse_kev_csv(format!("{head}{input}").as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), *want, "{input}");
        }
        let ok = parse_kev_csv(
            format!("\u{feff}{head}CVE-2025-0001,x,2025-01-01,2025-01-02,Known\n").as_bytes(),
        )
        .unwrap();
        assert_eq!(
            ok.catalog.get("CVE-2025-0001").unwrap().known_ransomware,
            Some(true)
        );
        assert_eq!(ok.catalog.catalog_version, "2025.01.01");
    }
}
