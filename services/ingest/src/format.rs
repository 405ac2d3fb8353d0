//! Report formats: detection from the content (never the file name) and one
//! interface over every parser, so the adapter and `patchflow parse` run the
//! same code.
//!
//! Every format module offers the same two streaming entry points over any
//! `BufRead`: a whole-report check (the adapter runs it first, so a broken
//! report publishes nothing) and an iterator of [`NormalizedHost`]s. A format
//! that cannot stream host by host (a single JSON document) must still keep
//! memory bounded by the report's per-host content, never the whole file.

use std::io::BufRead;

use chrono::{DateTime, Utc};

use crate::normalize::NormalizedHost;

/// A report format patchflow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Tenable Nessus v2 (`NessusClientData_v2`).
    Nessus,
}

impl Format {
    /// Every format, in detection order.
    pub const ALL: &'static [Format] = &[Format::Nessus];

    /// Lower-case name, as `--format` and `ScanCompleted.format` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Nessus => "nessus",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| FormatError::Unknown(s.to_owned()))
    }
}

/// What a whole-report check counted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Hosts (or artifacts) in the report.
    pub hosts: u64,
    /// Items that are findings, as the report counts them (before merging
    /// repeats of one fingerprint).
    pub findings: u64,
    /// Informational items (kept as asset facts).
    pub info_items: u64,
    /// Items skipped, with why (`not_affected`, no vulnerability id, …).
    pub skipped: Vec<(String, u64)>,
    /// Earliest scan start (UTC), if the report states one.
    pub started_at: Option<DateTime<Utc>>,
    /// Latest scan end (UTC), if the report states one.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Why a report cannot be read: the one-line reason of `patch.scan.rejected`.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// `--format` names no format.
    #[error("unknown format {0:?}")]
    Unknown(String),
    /// The content matches no supported format.
    #[error("unrecognized report format: {0}")]
    Unrecognized(String),
    /// The report is broken; the format's own reason.
    #[error("{0}")]
    Invalid(String),
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
}

/// How many bytes [`detect`] looks at.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Detects the format from the first bytes of the report (up to
/// [`SNIFF_BYTES`]); `hint` only breaks ties.
///
/// # Errors
/// [`FormatError::Unrecognized`] naming what the content looks like.
pub fn detect(head: &[u8], hint: Option<Format>) -> Result<Format, FormatError> {
    let text = String::from_utf8_lossy(&head[..head.len().min(SNIFF_BYTES)]);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Err(FormatError::Invalid(format!(
            "empty report: no content in {} bytes",
            head.len()
        )));
    }
    let candidates: Vec<Format> = Format::ALL
        .iter()
        .copied()
        .filter(|f| sniff(*f, trimmed))
        .collect();
    match (candidates.as_slice(), hint) {
        ([only], _) => Ok(*only),
        ([], Some(Format::Nessus)) if trimmed.starts_with('<') => Ok(Format::Nessus),
        ([], _) => Err(FormatError::Unrecognized(describe(trimmed))),
        (many, Some(h)) if many.contains(&h) => Ok(h),
        (many, _) => Ok(many[0]),
    }
}

fn sniff(format: Format, text: &str) -> bool {
    match format {
        Format::Nessus => text.contains("<NessusClientData"),
    }
}

fn describe(text: &str) -> String {
    let first: String = text
        .chars()
        .take(60)
        .collect::<String>()
        .replace(['\n', '\r'], " ");
    if text.starts_with("<!DOCTYPE html") || text.to_ascii_lowercase().starts_with("<html") {
        format!("an HTML page, not a report ({first:?})")
    } else if text.starts_with('<') {
        format!("XML of no supported scanner ({first:?})")
    } else if text.starts_with('{') || text.starts_with('[') {
        format!("JSON of no supported scanner ({first:?})")
    } else {
        format!("starts with {first:?}")
    }
}

/// A reader whose head was read for detection and is replayed first.
pub type Sniffed<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

/// Reads the head of `r`, detects the format, and gives back a reader that
/// still yields the whole report.
///
/// # Errors
/// As [`detect`], or [`FormatError::Io`].
pub fn open<R: BufRead>(
    mut r: R,
    hint: Option<Format>,
) -> Result<(Format, Sniffed<R>), FormatError> {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut r).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    let format = detect(&head, hint)?;
    Ok((format, std::io::Cursor::new(head).chain(r)))
}

/// Checks the whole report in one streaming pass.
///
/// # Errors
/// [`FormatError::Invalid`] with the format's reason.
pub fn check<R: BufRead>(format: Format, r: R) -> Result<Summary, FormatError> {
    match format {
        Format::Nessus => crate::nessus::check(r)
            .map(|s| Summary {
                hosts: s.hosts,
                findings: s.findings,
                info_items: s.info_items,
                skipped: Vec::new(),
                started_at: s.started_at,
                finished_at: s.finished_at,
            })
            .map_err(|e| FormatError::Invalid(e.to_string())),
    }
}

/// The report's hosts, normalized, one at a time. `fallback_time` is the
/// observation time of hosts whose report states none (UTC).
pub fn hosts<'a, R: BufRead + 'a>(
    format: Format,
    r: R,
    fallback_time: DateTime<Utc>,
) -> Box<dyn Iterator<Item = Result<NormalizedHost, FormatError>> + 'a> {
    match format {
        Format::Nessus => Box::new(crate::nessus::NessusReader::new(r).map(move |h| {
            h.map(|h| crate::normalize::normalize_host(&h, fallback_time))
                .map_err(|e| FormatError::Invalid(e.to_string()))
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_from_content_and_names_what_it_is_not() {
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?>\n<NessusClientData_v2>", None).unwrap(),
            Format::Nessus
        );
        let html = detect(b"<!DOCTYPE html><html><title>Access Denied</title>", None).unwrap_err();
        assert!(html.to_string().contains("HTML page"), "{html}");
        let empty = detect(b"  \n", None).unwrap_err();
        assert!(empty.to_string().starts_with("empty report"), "{empty}");
        assert!("NESSUS".parse::<Format>().is_ok());
        assert!("qualys-xyz".parse::<Format>().is_err());
    }
}
