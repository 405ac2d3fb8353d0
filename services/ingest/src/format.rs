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
    /// Trivy JSON: SchemaVersion 2, the legacy array, `null`, Kubernetes.
    Trivy,
    /// Anchore Grype JSON.
    Grype,
    /// SARIF 2.1.0.
    Sarif,
    /// patchflow's generic CSV (`docs/generic-format.md`).
    GenericCsv,
    /// Qualys VM host-based report XML (`ASSET_DATA_REPORT`).
    Qualys,
    /// Qualys VM scan results XML (`SCAN`, scan-1.dtd).
    QualysScan,
    /// Qualys VM CSV export.
    QualysCsv,
    /// OpenVAS / Greenbone (GVM) report XML.
    OpenVas,
    /// Greenbone (GVM) CSV results export.
    OpenVasCsv,
    /// Rapid7 Nexpose / InsightVM XML Export 1.0 and 2.0 (`NexposeReport`).
    Nexpose,
    /// patchflow's generic JSON (`"patchflow_generic": 1`).
    GenericJson,
}

impl Format {
    /// Every format, in detection order.
    pub const ALL: &'static [Format] = &[
        Format::Nessus,
        Format::Trivy,
        Format::Grype,
        Format::Sarif,
        Format::Qualys,
        Format::QualysScan,
        Format::QualysCsv,
        Format::OpenVas,
        Format::OpenVasCsv,
        Format::Nexpose,
        Format::GenericJson,
        Format::GenericCsv,
    ];

    /// Lower-case name, as `--format` and `ScanCompleted.format` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Nessus => "nessus",
            Format::Trivy => "trivy",
            Format::Grype => "grype",
            Format::Sarif => "sarif",
            Format::GenericCsv => "generic-csv",
            Format::GenericJson => "generic-json",
            Format::Qualys => "qualys",
            Format::QualysScan => "qualys-scan",
            Format::QualysCsv => "qualys-csv",
            Format::OpenVas => "openvas",
            Format::OpenVasCsv => "openvas-csv",
            Format::Nexpose => "nexpose",
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
    #[error("unknown format {0:?} (known: {known})", known = Format::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    /// `--format` names a format the content is not.
    #[error(
        "the report was submitted as {stated} but its content is {detected} (detected from the \
         content); submit it without a format or as {detected}"
    )]
    Mismatch {
        /// The format given with the report.
        stated: Format,
        /// What the content is.
        detected: Format,
    },
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

/// How far ahead of the clock a scan time may lie (clock skew between the
/// scanner and patchflow) before [`future_scan_warning`] speaks up: 5 minutes.
pub const FUTURE_SCAN_TOLERANCE_SECS: i64 = 300;

/// A warning when the report's scan time (`finished_at`, else `started_at`;
/// UTC) lies more than [`FUTURE_SCAN_TOLERANCE_SECS`] after `now`: findings
/// are observed at the scan time, so their SLA clocks, deadlines and
/// compliance would all move that much later. `None` when the times are
/// absent or not in the future.
pub fn future_scan_warning(
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    let at = finished_at.or(started_at)?;
    let ahead = at.signed_duration_since(now);
    if ahead.num_seconds() <= FUTURE_SCAN_TOLERANCE_SECS {
        return None;
    }
    let hours = ahead.num_minutes() as f64 / 60.0;
    Some(format!(
        "the report's scan time {} is {hours:.1} h after now ({}): findings are observed then, \
         so their SLA clocks start that late; check the scanner's clock",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ))
}

/// How many bytes [`detect`] looks at.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Detects the format from the first bytes of the report (up to
/// [`SNIFF_BYTES`]); `hint` (the format the report was submitted as) breaks
/// ties and must agree with the content.
///
/// # Errors
/// [`FormatError::Unrecognized`] naming what the content looks like;
/// [`FormatError::Mismatch`] when the content is clearly another format
/// than `hint`; [`FormatError::Invalid`] for an empty report.
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
        ([only], None) => Ok(*only),
        ([only], Some(h)) if *only == h => Ok(h),
        ([], Some(Format::Nessus)) if trimmed.starts_with('<') => Ok(Format::Nessus),
        ([], _) => Err(FormatError::Unrecognized(
            describe_binary(head).unwrap_or_else(|| describe(trimmed)),
        )),
        (many, Some(h)) if many.contains(&h) => Ok(h),
        ([first, ..], Some(stated)) => Err(FormatError::Mismatch {
            stated,
            detected: *first,
        }),
        ([first, ..], None) => Ok(*first),
    }
}

fn sniff(format: Format, text: &str) -> bool {
    match format {
        Format::Nessus => text.contains("<NessusClientData"),
        Format::Trivy => sniff_trivy(text),
        Format::Grype => {
            is_json(text)
                && text.contains("\"matches\"")
                && (text.contains("\"artifact\"") || text.contains("\"grype\""))
        }
        Format::Sarif => {
            is_json(text)
                && text.contains("\"runs\"")
                && (text.contains("\"2.1.0\"") || text.to_ascii_lowercase().contains("sarif"))
        }
        Format::GenericCsv => crate::generic::sniff_csv(text),
        Format::GenericJson => crate::generic::sniff_json(text),
        Format::Qualys => crate::qualys::sniff_asset_data(text),
        Format::QualysScan => crate::qualys::sniff_scan(text),
        Format::QualysCsv => crate::qualys_csv::sniff(text),
        Format::OpenVas => crate::openvas::sniff(text),
        Format::OpenVasCsv => crate::openvas_csv::sniff(text),
        Format::Nexpose => crate::nexpose::sniff(text),
    }
}

/// Whether the text starts like a JSON object or array.
fn is_json(text: &str) -> bool {
    text.starts_with('{') || text.starts_with('[')
}

/// Trivy: the document `null` alone (legacy "nothing found"), an object
/// with `SchemaVersion` and `ArtifactName`, a Kubernetes report
/// (`ClusterName`), or the legacy array of `Target` results.
fn sniff_trivy(text: &str) -> bool {
    if text.trim_end() == "null" {
        return true;
    }
    if text.starts_with('{') {
        return (text.contains("\"SchemaVersion\"") && text.contains("\"ArtifactName\""))
            || (text.contains("\"ClusterName\"")
                && (text.contains("\"Resources\"") || text.contains("\"Vulnerabilities\"")));
    }
    text.starts_with('[')
        && text.contains("\"Target\"")
        && (text.contains("\"Vulnerabilities\"") || text.contains("\"Type\""))
}

/// What a head that is not text is, by its magic bytes (gzip, zip, PDF,
/// ELF, UTF-16), or `binary data` when it holds a NUL byte; `None` for text.
fn describe_binary(head: &[u8]) -> Option<String> {
    let what = match head {
        [0x1f, 0x8b, ..] => "gzip-compressed data (decompress it first)",
        [b'P', b'K', 3, 4, ..] => "a zip archive (extract the report first)",
        [b'%', b'P', b'D', b'F', ..] => "a PDF document, not a machine-readable report",
        [0x7f, b'E', b'L', b'F', ..] => "an executable (ELF), not a report",
        [0xff, 0xfe, ..] | [0xfe, 0xff, ..] => "UTF-16 text (convert it to UTF-8)",
        _ if head.contains(&0) => "binary data, not a text report",
        _ => return None,
    };
    Some(what.to_owned())
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
        Format::Trivy => json_summary("Trivy JSON", crate::trivy::check(r)),
        Format::Grype => json_summary("Grype JSON", crate::grype::check(r)),
        Format::Sarif => json_summary("SARIF", crate::sarif::check(r)),
        Format::GenericCsv => generic_summary("generic CSV", crate::generic::check_csv(r)),
        Format::GenericJson => generic_summary("generic JSON", crate::generic::check_json(r)),
        Format::Qualys => crate::qualys::check_asset_data(r).map_err(FormatError::from),
        Format::QualysScan => crate::qualys::check_scan(r).map_err(FormatError::from),
        Format::QualysCsv => crate::qualys_csv::check(r).map_err(FormatError::from),
        Format::OpenVas => crate::openvas::check(r).map_err(FormatError::from),
        Format::OpenVasCsv => crate::openvas_csv::check(r).map_err(FormatError::from),
        Format::Nexpose => crate::nexpose::check(r).map_err(FormatError::from),
    }
}

impl From<crate::scanner::ParseError> for FormatError {
    fn from(e: crate::scanner::ParseError) -> Self {
        FormatError::Invalid(e.to_string())
    }
}

/// A Qualys, OpenVAS or Nexpose host with the error as a [`FormatError`].
fn scanner_host(
    h: Result<NormalizedHost, crate::scanner::ParseError>,
) -> Result<NormalizedHost, FormatError> {
    h.map_err(FormatError::from)
}

/// A [`Summary`] from a JSON format's counts, or its error named by format.
fn json_summary(
    name: &str,
    checked: Result<crate::software::Stats, crate::jsonpull::JsonError>,
) -> Result<Summary, FormatError> {
    checked
        .map(summary)
        .map_err(|e| FormatError::Invalid(format!("{name}: {e}")))
}

fn generic_summary(
    name: &str,
    checked: Result<crate::software::Stats, crate::generic::GenericError>,
) -> Result<Summary, FormatError> {
    checked
        .map(summary)
        .map_err(|e| FormatError::Invalid(format!("{name}: {e}")))
}

fn summary(s: crate::software::Stats) -> Summary {
    Summary {
        hosts: s.hosts,
        findings: s.findings,
        info_items: s.info_items,
        skipped: s.skipped,
        started_at: s.started_at,
        finished_at: s.finished_at,
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
            h.map(|h| crate::normalize::normalize_report_host(h, fallback_time))
                .map_err(|e| FormatError::Invalid(e.to_string()))
        })),
        Format::Trivy => Box::new(
            crate::trivy::TrivyReader::new(r, fallback_time)
                .map(|h| h.map_err(|e| FormatError::Invalid(format!("Trivy JSON: {e}")))),
        ),
        Format::Grype => Box::new(
            crate::grype::GrypeReader::new(r, fallback_time)
                .map(|h| h.map_err(|e| FormatError::Invalid(format!("Grype JSON: {e}")))),
        ),
        Format::Sarif => Box::new(
            crate::sarif::SarifReader::new(r, fallback_time)
                .map(|h| h.map_err(|e| FormatError::Invalid(format!("SARIF: {e}")))),
        ),
        Format::GenericCsv => Box::new(
            crate::generic::GenericReader::csv(r, fallback_time, true)
                .map(|h| h.map_err(|e| FormatError::Invalid(format!("generic CSV: {e}")))),
        ),
        Format::GenericJson => Box::new(
            crate::generic::GenericReader::json(r, fallback_time, true)
                .map(|h| h.map_err(|e| FormatError::Invalid(format!("generic JSON: {e}")))),
        ),
        Format::Qualys => {
            Box::new(crate::qualys::asset_data_hosts(r, fallback_time).map(scanner_host))
        }
        Format::QualysScan => {
            Box::new(crate::qualys::scan_hosts(r, fallback_time).map(scanner_host))
        }
        Format::QualysCsv => Box::new(crate::qualys_csv::hosts(r, fallback_time).map(scanner_host)),
        Format::OpenVas => Box::new(crate::openvas::hosts(r, fallback_time).map(scanner_host)),
        Format::OpenVasCsv => {
            Box::new(crate::openvas_csv::hosts(r, fallback_time).map(scanner_host))
        }
        Format::Nexpose => Box::new(crate::nexpose::hosts(r, fallback_time).map(scanner_host)),
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
        let unknown = "qualys-xyz".parse::<Format>().unwrap_err().to_string();
        assert!(
            unknown.starts_with("unknown format \"qualys-xyz\" (known: nessus, trivy, grype,"),
            "{unknown}"
        );
    }

    #[test]
    fn binary_input_is_named_not_quoted() {
        let table: [(&[u8], &str); 6] = [
            (b"\x1f\x8b\x08\x00\x00\x00", "gzip-compressed data"),
            (b"PK\x03\x04\x14\x00", "a zip archive"),
            (b"%PDF-1.7\n", "a PDF document"),
            (b"\x7fELF\x02\x01\x01", "an executable (ELF)"),
            (b"\xff\xfe<\x00?\x00x\x00", "UTF-16 text"),
            (b"abc\x00def", "binary data"),
        ];
        for (head, want) in table {
            let e = detect(head, None).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains('\u{fffd}'), "{e}");
        }
        // Text that is no report still shows its start.
        let text = detect(b"hello world", None).unwrap_err().to_string();
        assert!(text.contains("starts with \"hello world\""), "{text}");
    }

    #[test]
    fn a_scan_time_in_the_future_is_named() {
        let now: DateTime<Utc> = "2026-11-29T12:00:00Z".parse().unwrap();
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(future_scan_warning(None, None, now), None);
        // Within five minutes of skew, or in the past: nothing to say.
        assert_eq!(
            future_scan_warning(at("2026-11-29T12:05:00Z"), None, now),
            None
        );
        assert_eq!(
            future_scan_warning(None, at("2026-11-01T00:00:00Z"), now),
            None
        );
        assert_eq!(
            future_scan_warning(at("2026-11-29T11:00:00Z"), at("2026-11-30T00:30:00Z"), now)
                .unwrap(),
            "the report's scan time 2026-11-30T00:30:00Z is 12.5 h after now \
             (2026-11-29T12:00:00Z): findings are observed then, so their SLA clocks start \
             that late; check the scanner's clock"
        );
    }

    #[test]
    fn a_stated_format_must_agree_with_the_content() {
        let nessus = b"<?xml version=\"1.0\"?>\n<NessusClientData_v2>";
        assert_eq!(
            detect(nessus, Some(Format::Nessus)).unwrap(),
            Format::Nessus
        );
        let wrong = detect(nessus, Some(Format::Trivy)).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "the report was submitted as trivy but its content is nessus (detected from the \
             content); submit it without a format or as nessus"
        );
    }
}
