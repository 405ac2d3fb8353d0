//! What can go wrong reading the intel tables (CISA KEV, FIRST EPSS), and
//! the small readers both formats share (CVE ids, dates, instants).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Why an intel file could not be loaded. The message names the problem.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// Reading the input failed.
    #[error("read {what}: {source}")]
    Io {
        /// `KEV catalog`, `KEV CSV` or `EPSS file`.
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
    /// The KEV CSV is not CSV (an HTML error page saved as `.csv`).
    #[error("KEV CSV is not CSV: {0}")]
    KevNotCsv(String),
    /// The KEV CSV header lacks a required column.
    #[error("KEV CSV header {header:?} has no {missing} column")]
    KevCsvHeader {
        /// The header line, as read.
        header: String,
        /// The first required column it lacks (`cveID`, `dateAdded`, `dueDate`).
        missing: &'static str,
    },
    /// One KEV CSV row cannot be read as CSV.
    #[error("KEV CSV line {line}: {reason}")]
    KevCsvRow {
        /// 1-based line number.
        line: u64,
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
         (EPSS v1 files have none: pass the file's date, `patchflow feed load --score-date \
         YYYY-MM-DD` or `epss_score_date` in [prioritize])"
    )]
    EpssMissingScoreDate,
    /// The EPSS column header is not `cve,epss[,percentile]`.
    #[error("EPSS header {0:?} is not `cve,epss` or `cve,epss,percentile`")]
    EpssHeader(String),
    /// The "EPSS file" is a JSON document (a KEV catalog, a CSAF or OSV
    /// advisory given the wrong kind).
    #[error(
        "not an EPSS CSV: the file is a JSON document (a KEV catalog, CSAF or OSV advisory is \
         loaded with that kind)"
    )]
    EpssIsJson,
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

/// A short description of a markup document for an error message: an HTML
/// page is named by its `<title>`.
pub(crate) fn describe_markup(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .and_then(|start| {
            let from = start + "<title>".len();
            lower
                .get(from..)
                .and_then(|rest| rest.find("</title>"))
                .and_then(|len| text.get(from..from + len))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match title {
        Some(t) => format!("it is an HTML page titled {t:?} (an error page saved as the feed?)"),
        None => "it starts with '<': an HTML or XML page, not the feed".to_owned(),
    }
}

/// `CVE-YYYY-NNNN…` with 4 to 19 digits after the year (CISA's KEV schema
/// pattern `^CVE-[0-9]{4}-[0-9]{4,19}$`), upper case.
pub fn is_cve_id(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    let (Some("CVE"), Some(year), Some(num)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=19).contains(&num.len())
        && num.bytes().all(|b| b.is_ascii_digit())
}

/// A calendar date `YYYY-MM-DD` (surrounding blanks ignored).
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// An instant as feeds write them, in UTC: RFC 3339 (`2025-03-17T12:55:00Z`,
/// `…+00:00`), a `+0000` offset (`2025-02-20T00:00:00+0000`), no offset at all
/// (read as UTC), or a bare date (its midnight UTC).
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
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
