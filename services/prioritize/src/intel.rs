//! Threat intelligence tables: the CISA KEV catalog and the FIRST EPSS scores.
//!
//! Loaders validate before they return: a load that fails is an
//! [`IntelError`] the caller reports, and the caller keeps whatever table it
//! had (a failed fetch must never wipe a table). Oddities that do not make a
//! file unusable (a wrong `count`, a duplicated CVE) are returned as
//! `warnings` on the table.
//!
//! Sources:
//! - CISA Known Exploited Vulnerabilities catalog, JSON feed
//!   (`known_exploited_vulnerabilities.json`, schema in cisagov/kev-data).
//! - FIRST Exploit Prediction Scoring System daily CSV
//!   (`epss_scores-YYYY-MM-DD.csv[.gz]`, <https://www.first.org/epss/data_stats>).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use events::{EpssInput, KevInput};
use serde::Deserialize;

/// Why an intel file could not be loaded. The message names the problem.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// Reading the input failed.
    #[error("read {what}: {source}")]
    Io {
        /// `KEV catalog` or `EPSS file`.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The KEV file is not JSON at all (an HTML error page saved as `.json`).
    #[error("KEV catalog is not JSON: {0}")]
    KevNotJson(String),
    /// The KEV JSON does not have the catalog's shape.
    #[error("KEV catalog is not a valid catalog: {0}")]
    KevShape(String),
    /// One KEV entry is unusable.
    #[error("KEV catalog entry {index} ({cve}): {reason}")]
    KevEntry {
        /// Position in `vulnerabilities` (0-based).
        index: usize,
        /// Its `cveID`, as written.
        cve: String,
        /// What is wrong.
        reason: String,
    },
    /// The EPSS `#` comment line cannot be read.
    #[error("EPSS comment line {line:?}: {reason}")]
    EpssComment {
        /// The line, as written.
        line: String,
        /// What is wrong.
        reason: String,
    },
    /// The EPSS file has no `score_date` and the caller gave no fallback.
    #[error(
        "EPSS file has no score_date in its '#' comment line and no fallback score date was given \
         (EPSS v1 files have none: pass the file's date)"
    )]
    EpssMissingScoreDate,
    /// The EPSS column header is not `cve,epss[,percentile]`.
    #[error("EPSS header {0:?} is not `cve,epss` or `cve,epss,percentile`")]
    EpssHeader(String),
    /// One EPSS data row is unusable.
    #[error("EPSS line {line}: {reason}")]
    EpssRow {
        /// 1-based line number in the (decompressed) file.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The EPSS file has a header but no data rows.
    #[error("EPSS file has no data rows")]
    EpssEmpty,
}

/// The CISA KEV catalog, keyed by CVE.
#[derive(Debug, Clone, PartialEq)]
pub struct KevCatalog {
    /// `catalogVersion` (`2025.08.25`).
    pub catalog_version: String,
    /// `dateReleased` (UTC).
    pub released: DateTime<Utc>,
    /// Entries by upper-case CVE id, one per CVE.
    pub entries: HashMap<String, KevInput>,
    /// Things that did not stop the load: `count` disagreeing with the
    /// entries, duplicated CVEs, unexpected `knownRansomwareCampaignUse`.
    pub warnings: Vec<String>,
}

impl KevCatalog {
    /// The entry for `cve` (case-insensitive), if the catalog lists it.
    pub fn get(&self, cve: &str) -> Option<&KevInput> {
        self.entries.get(&cve.to_ascii_uppercase())
    }
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
}

/// Loads a CISA KEV JSON catalog (`catalogVersion`, `dateReleased`, `count`,
/// `vulnerabilities[]` with `cveID`, `dateAdded`, `dueDate`, optional
/// `knownRansomwareCampaignUse`; other fields are ignored).
///
/// Rules:
/// - `count` is not trusted: a mismatch with the entries is a warning.
/// - A CVE listed twice keeps the entry with the newest `dateAdded` (then
///   the latest `dueDate`, then the first in the file), with a warning:
///   the newest listing is CISA's current statement about the CVE.
/// - `dueDate` before `dateAdded` is accepted (CISA's 2021-11-03 launch batch).
/// - `knownRansomwareCampaignUse`: `Known` → `Some(true)`, `Unknown` →
///   `Some(false)`, absent (catalogs before late 2023) → `None`.
///
/// # Errors
/// [`IntelError::Io`]; [`IntelError::KevNotJson`] for a file that is not
/// JSON (an HTML page is named as such, with its title);
/// [`IntelError::KevShape`] for JSON without the catalog fields or with an
/// unreadable `dateReleased`; [`IntelError::KevEntry`] for an entry whose
/// `cveID` is not `CVE-YYYY-NNNN…` or whose dates are not `YYYY-MM-DD`.
pub fn load_kev<R: Read>(mut reader: R) -> Result<KevCatalog, IntelError> {
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

    let mut warnings = Vec::new();
    match raw.count {
        Some(c) if c != raw.vulnerabilities.len() as u64 => warnings.push(format!(
            "count says {c} but the catalog lists {} entries",
            raw.vulnerabilities.len()
        )),
        Some(_) => {}
        None => warnings.push("count is missing".to_owned()),
    }

    let mut entries: HashMap<String, KevInput> = HashMap::with_capacity(raw.vulnerabilities.len());
    for (index, v) in raw.vulnerabilities.into_iter().enumerate() {
        let entry_err = |reason: String| IntelError::KevEntry {
            index,
            cve: v.cve_id.clone(),
            reason,
        };
        let cve = v.cve_id.trim().to_ascii_uppercase();
        if !is_cve_id(&cve) {
            return Err(entry_err("cveID is not CVE-YYYY-NNNN".to_owned()));
        }
        let date_added = parse_date(&v.date_added)
            .ok_or_else(|| entry_err(format!("dateAdded {:?} is not YYYY-MM-DD", v.date_added)))?;
        let due_date = parse_date(&v.due_date)
            .ok_or_else(|| entry_err(format!("dueDate {:?} is not YYYY-MM-DD", v.due_date)))?;
        let known_ransomware = match v.known_ransomware_campaign_use.as_deref().map(str::trim) {
            None => None,
            Some(s) if s.eq_ignore_ascii_case("known") => Some(true),
            Some(s) if s.eq_ignore_ascii_case("unknown") => Some(false),
            Some(other) => {
                warnings.push(format!(
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
            catalog_version: raw.catalog_version.clone(),
        };
        match entries.entry(cve) {
            Entry::Vacant(slot) => {
                slot.insert(input);
            }
            Entry::Occupied(mut slot) => {
                let kept = slot.get();
                let replace = (input.date_added, input.due_date) > (kept.date_added, kept.due_date);
                warnings.push(format!(
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
                }
            }
        }
    }
    Ok(KevCatalog {
        catalog_version: raw.catalog_version,
        released,
        entries,
        warnings,
    })
}

/// A short description of a markup document for an error message.
fn describe_markup(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .and_then(|start| {
            let from = start + "<title>".len();
            lower[from..]
                .find("</title>")
                .and_then(|len| text.get(from..from + len))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match title {
        Some(t) => format!("it is an HTML page titled {t:?} (an error page saved as the feed?)"),
        None => "it starts with '<': an HTML or XML page, not the JSON feed".to_owned(),
    }
}

fn is_cve_id(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    let (Some("CVE"), Some(year), Some(num)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=19).contains(&num.len())
        && num.bytes().all(|b| b.is_ascii_digit())
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// One FIRST EPSS daily file.
#[derive(Debug, Clone, PartialEq)]
pub struct EpssTable {
    /// `model_version` from the `#` comment line (`v2025.03.14`); `None`
    /// for v1 files, which have no comment line.
    pub model_version: Option<String>,
    /// `score_date` from the comment line, else the caller's fallback (UTC).
    pub score_date: DateTime<Utc>,
    /// Upper-case CVE id → (probability 0.0–1.0, percentile 0.0–1.0 when
    /// the file has the column).
    pub scores: HashMap<String, (f64, Option<f64>)>,
    /// Things that did not stop the load (a CVE listed twice keeps its first row).
    pub warnings: Vec<String>,
}

impl EpssTable {
    /// The reading for `cve` (case-insensitive), with the file's date and model.
    pub fn get(&self, cve: &str) -> Option<EpssInput> {
        let cve = cve.to_ascii_uppercase();
        let &(probability, percentile) = self.scores.get(&cve)?;
        Some(EpssInput {
            cve,
            probability,
            percentile,
            score_date: self.score_date,
            model_version: self.model_version.clone(),
        })
    }
}

/// Loads a FIRST EPSS CSV, plain or gzip-compressed (detected by the gzip
/// magic bytes `1f 8b`, not by the file name), streaming its rows.
///
/// Format: an optional first line `#model_version:v2025.03.14,score_date:2025-03-17T12:55:00Z`
/// read as comma-separated `key:value` pairs (unknown keys ignored;
/// `score_date` as RFC 3339 `…Z`, `…T00:00:00+0000` or a bare date, all
/// UTC); then the header `cve,epss` (v1) or `cve,epss,percentile`; then one
/// row per CVE. Numbers may use exponents (`8e-05`) or float artefacts
/// (`0.37252999999999997`); both columns must lie in 0.0–1.0.
///
/// `fallback_score_date` is used only when the file states no `score_date`
/// (v1 files have no comment line).
///
/// # Errors
/// [`IntelError::Io`] (including a corrupt gzip stream),
/// [`IntelError::EpssComment`], [`IntelError::EpssMissingScoreDate`],
/// [`IntelError::EpssHeader`], [`IntelError::EpssRow`] (naming the line:
/// a bad CVE id, number or column count) and [`IntelError::EpssEmpty`].
pub fn load_epss<R: Read>(
    reader: R,
    fallback_score_date: Option<DateTime<Utc>>,
) -> Result<EpssTable, IntelError> {
    let io = |source| IntelError::Io {
        what: "EPSS file",
        source,
    };
    let mut buffered = BufReader::new(reader);
    let gzip = buffered.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut input: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(
            buffered,
        )))
    } else {
        Box::new(buffered)
    };

    let mut line_no: u64 = 1;
    let mut first = String::new();
    input.read_line(&mut first).map_err(io)?;
    let mut model_version = None;
    let mut score_date = None;
    let header = if first.trim_start_matches('\u{feff}').starts_with('#') {
        let comment = first.trim_start_matches('\u{feff}').trim();
        (model_version, score_date) = parse_comment(comment)?;
        let mut header = String::new();
        input.read_line(&mut header).map_err(io)?;
        line_no += 1;
        header
    } else {
        first
    };
    let score_date = score_date
        .or(fallback_score_date)
        .ok_or(IntelError::EpssMissingScoreDate)?;

    let columns: Vec<String> = header
        .trim_start_matches('\u{feff}')
        .trim()
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let has_percentile = match columns.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["cve", "epss"] => false,
        ["cve", "epss", "percentile"] => true,
        _ => return Err(IntelError::EpssHeader(header.trim().to_owned())),
    };

    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut scores = HashMap::new();
    let mut warnings = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = rows.read_record(&mut record).map_err(|e| {
            let line = line_no + e.position().map_or(1, |p| p.line());
            let reason = e.to_string();
            match e.into_kind() {
                csv::ErrorKind::Io(source) => io(source),
                _ => IntelError::EpssRow { line, reason },
            }
        })?;
        if !more {
            break;
        }
        let line = line_no + record.position().map_or(0, |p| p.line());
        let row_err = |reason: String| IntelError::EpssRow { line, reason };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let want = if has_percentile { 3 } else { 2 };
        if record.len() != want {
            return Err(row_err(format!(
                "{} fields, the header has {want}",
                record.len()
            )));
        }
        let cve = record
            .get(0)
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        if !is_cve_id(&cve) {
            return Err(row_err(format!("{cve:?} is not a CVE id")));
        }
        let probability = parse_unit(record.get(1).unwrap_or_default())
            .map_err(|r| row_err(format!("epss {r}")))?;
        let percentile = if has_percentile {
            Some(
                parse_unit(record.get(2).unwrap_or_default())
                    .map_err(|r| row_err(format!("percentile {r}")))?,
            )
        } else {
            None
        };
        match scores.entry(cve) {
            Entry::Vacant(slot) => {
                slot.insert((probability, percentile));
            }
            Entry::Occupied(slot) => warnings.push(format!(
                "line {line}: {} is listed again; keeping its first row",
                slot.key()
            )),
        }
    }
    if scores.is_empty() {
        return Err(IntelError::EpssEmpty);
    }
    Ok(EpssTable {
        model_version,
        score_date,
        scores,
        warnings,
    })
}

type Comment = (Option<String>, Option<DateTime<Utc>>);

fn parse_comment(line: &str) -> Result<Comment, IntelError> {
    let err = |reason: String| IntelError::EpssComment {
        line: line.to_owned(),
        reason,
    };
    let body = line.trim_start_matches('#');
    let mut model_version = None;
    let mut score_date = None;
    for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once(':') else {
            return Err(err(format!("{pair:?} is not key:value")));
        };
        match key.trim() {
            "model_version" => model_version = Some(value.trim().to_owned()),
            "score_date" => {
                score_date = Some(parse_instant(value.trim()).ok_or_else(|| {
                    err(format!(
                        "score_date {value:?} is not an RFC 3339 instant or YYYY-MM-DD"
                    ))
                })?);
            }
            _ => {}
        }
    }
    Ok((model_version, score_date))
}

/// `2025-03-17T12:55:00Z`, `2025-02-20T00:00:00+0000`, `…+00:00` or `2025-02-20`.
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    parse_date(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn parse_unit(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("{s:?} is outside 0..1"));
    }
    Ok(v)
}

/// The intel a decision reads: each table is optional (not loaded yet, or
/// not configured); a missing table makes its rule silent, never an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intel {
    /// The CISA KEV catalog.
    pub kev: Option<KevCatalog>,
    /// The FIRST EPSS scores.
    pub epss: Option<EpssTable>,
}

#[cfg(test)]
mod tests {
    use std::io::Write;
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
    fn kev_pre_ransomware_field_crlf_catalog() {
        let Some(cat) = kev("kev/lodestone__kev_2023.04.12_pre-ransomware-field.json") else {
            return;
        };
        let cat = cat.unwrap();
        assert_eq!(cat.catalog_version, "2023.04.12");
        assert_eq!(cat.entries.len(), 914);
        assert!(cat.entries.values().all(|e| e.known_ransomware.is_none()));
        assert_eq!(
            cat.get("CVE-2021-27104").unwrap().due_date,
            day("2021-11-17")
        );
    }

    #[test]
    fn kev_duplicate_cve_keeps_newest_date_added_with_a_warning() {
        let Some(cat) = kev("kev/lodestone__kev_2024.09.18_duplicate-cveID.json") else {
            return;
        };
        let cat = cat.unwrap();
        assert_eq!(cat.entries.len(), 1180);
        let e = cat.get("CVE-2019-1069").unwrap();
        assert_eq!(e.date_added, day("2024-09-18"));
        assert_eq!(e.due_date, day("2024-10-09"));
        assert_eq!(e.known_ransomware, Some(false));
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
        let Some(res) = kev("kev/lodestone__kev_2024-11-26_access-denied-html.json") else {
            return;
        };
        let err = res.unwrap_err();
        assert!(matches!(err, IntelError::KevNotJson(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "KEV catalog is not JSON: it is an HTML page titled \"Access Denied\" \
             (an error page saved as the feed?)"
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

    fn epss(rel: &str, fallback: Option<DateTime<Utc>>) -> Option<Result<EpssTable, IntelError>> {
        let path = corpus(rel)?;
        Some(load_epss(std::fs::File::open(path).unwrap(), fallback))
    }

    #[test]
    fn epss_vunnel_example_with_plus0000_score_date() {
        let Some(t) = epss("epss/vunnel__example-1.csv", None) else {
            return;
        };
        let t = t.unwrap();
        assert_eq!(t.model_version.as_deref(), Some("v2023.03.01"));
        assert_eq!(t.score_date, utc("2025-02-20T00:00:00Z"));
        let mut got: Vec<_> = t.scores.iter().map(|(k, v)| (k.clone(), *v)).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("CVE-1999-0001".to_owned(), (0.00383, Some(0.73075))),
                ("CVE-1999-0002".to_owned(), (0.01328, Some(0.85996))),
                ("CVE-1999-0003".to_owned(), (0.04409, Some(0.9244))),
                ("CVE-1999-0004".to_owned(), (0.00917, Some(0.82963))),
                ("CVE-1999-0005".to_owned(), (0.91963, Some(0.99214))),
            ]
        );
        assert_eq!(
            t.get("cve-1999-0005"),
            Some(EpssInput {
                cve: "CVE-1999-0005".to_owned(),
                probability: 0.91963,
                percentile: Some(0.99214),
                score_date: utc("2025-02-20T00:00:00Z"),
                model_version: Some("v2023.03.01".to_owned()),
            })
        );
    }

    #[test]
    fn epss_v4_model_file_with_exponents() {
        let Some(t) = epss(
            "epss/rogolabs__epss_scores-2025-03-17_head535_tail134.csv",
            None,
        ) else {
            return;
        };
        let t = t.unwrap();
        assert_eq!(t.model_version.as_deref(), Some("v2025.03.14"));
        assert_eq!(t.score_date, utc("2025-03-17T12:55:00Z"));
        assert_eq!(t.scores.len(), 669);
        let table = [
            ("CVE-1999-0001", 0.07126, 0.90885),
            ("CVE-1999-0003", 0.91459, 0.99658),
            ("CVE-2025-2157", 8e-05, 0.00383),
            ("CVE-2025-2229", 7e-05, 0.0032),
            ("CVE-2025-2367", 0.01031, 0.75805),
            ("CVE-2025-30089", 0.00039, 0.08698),
        ];
        for (cve, p, pct) in table {
            assert_eq!(t.scores.get(cve), Some(&(p, Some(pct))), "{cve}");
        }
    }

    #[test]
    fn epss_v1_file_needs_a_fallback_date() {
        let Some(res) = epss("epss/rogolabs__epss_scores-2021-04-14_v1_head119.csv", None) else {
            return;
        };
        assert!(matches!(res, Err(IntelError::EpssMissingScoreDate)));
        let date = utc("2021-04-14T00:00:00Z");
        let t = epss(
            "epss/rogolabs__epss_scores-2021-04-14_v1_head119.csv",
            Some(date),
        )
        .unwrap()
        .unwrap();
        assert_eq!(t.model_version, None);
        assert_eq!(t.score_date, date);
        assert_eq!(t.scores.len(), 119);
        assert_eq!(t.scores.get("CVE-2020-5902"), Some(&(0.65117, None)));
        assert_eq!(t.scores.get("CVE-2020-1472"), Some(&(0.9318, None)));
        assert_eq!(t.scores.get("CVE-2019-0232"), Some(&(0.99457, None)));
        assert_eq!(t.scores.get("CVE-2019-3403"), Some(&(0.02304, None)));
    }

    #[test]
    fn epss_rejections_name_the_problem() {
        let Some(res) = epss("epss/vunnel__invalid-header.csv", None) else {
            return;
        };
        assert_eq!(
            res.unwrap_err().to_string(),
            "EPSS header \"invalid,header,format\" is not `cve,epss` or `cve,epss,percentile`"
        );
        let res = epss("epss/vunnel__missing-date.csv", None).unwrap();
        assert!(
            matches!(res, Err(IntelError::EpssMissingScoreDate)),
            "{res:?}"
        );
    }

    #[test]
    fn epss_gzip_is_detected_by_magic_bytes() {
        let plain = "#model_version:v2025.03.14,score_date:2025-03-17T12:55:00Z\n\
                     cve,epss,percentile\nCVE-2024-0001,0.37252999999999997,1\nCVE-2024-0002,1,0.5\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(plain.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let t = load_epss(bytes.as_slice(), None).unwrap();
        assert_eq!(
            t.scores.get("CVE-2024-0001"),
            // The float artefact is the nearest f64 to 0.37253.
            Some(&(0.37253, Some(1.0)))
        );
        assert_eq!(t.scores.get("CVE-2024-0002"), Some(&(1.0, Some(0.5))));
        assert_eq!(t, load_epss(plain.as_bytes(), None).unwrap());
    }

    #[test]
    fn epss_bad_rows_and_comments_are_errors() {
        let head = "#model_version:v1,score_date:2025-01-01T00:00:00Z\ncve,epss,percentile\n";
        let table: &[(&str, &str)] = &[
            (
                "CVE-2024-0001,abc,0.1\n",
                "EPSS line 3: epss \"abc\" is not a number",
            ),
            (
                "CVE-2024-0001,1.5,0.1\n",
                "EPSS line 3: epss \"1.5\" is outside 0..1",
            ),
            (
                "CVE-2024-0001,0.1,0.2\nCVE-2024-0002,0.1\n",
                "EPSS line 4: 2 fields, the header has 3",
            ),
            (
                "GHSA-x,0.1,0.2\n",
                "EPSS line 3: \"GHSA-X\" is not a CVE id",
            ),
            ("", "EPSS file has no data rows"),
        ];
        for (rows, want) in table {
            let err = load_epss(format!("{head}{rows}").as_bytes(), None).unwrap_err();
            assert_eq!(err.to_string(), *want, "{rows}");
        }
        let err = load_epss(
            "#model_version:v1,score_date:soon\ncve,epss\nCVE-2024-0001,0.1\n".as_bytes(),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "EPSS comment line \"#model_version:v1,score_date:soon\": score_date \"soon\" is not \
             an RFC 3339 instant or YYYY-MM-DD"
        );
    }

    #[test]
    fn epss_duplicate_cve_keeps_first_row_with_warning() {
        let text = "cve,epss\nCVE-2024-0001,0.1\nCVE-2024-0001,0.9\n";
        let t = load_epss(text.as_bytes(), Some(utc("2025-01-01T00:00:00Z"))).unwrap();
        assert_eq!(t.scores.get("CVE-2024-0001"), Some(&(0.1, None)));
        assert_eq!(
            t.warnings,
            vec!["line 3: CVE-2024-0001 is listed again; keeping its first row".to_owned()]
        );
    }
}
