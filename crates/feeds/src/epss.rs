//! FIRST Exploit Prediction Scoring System scores: the daily CSV
//! (`epss_scores-YYYY-MM-DD.csv[.gz]`, <https://www.first.org/epss/data_stats>),
//! plain or gzip-compressed, streamed row by row.
//!
//! The loader validates the whole file before it returns: a load that fails
//! is an [`IntelError`] and the caller keeps the table it had.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, Utc};
use events::EpssInput;

use crate::cve_map::CveMap;
use crate::intel::{IntelError, is_cve_id, parse_instant};

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
    pub scores: CveMap<(f64, Option<f64>)>,
    /// Things that did not stop the load (a CVE listed twice keeps its first row).
    pub warnings: Vec<String>,
}

impl EpssTable {
    /// The reading for `cve` (case-insensitive), with the file's date and model.
    pub fn get(&self, cve: &str) -> Option<EpssInput> {
        let &(probability, percentile) = self.scores.get_cve(cve)?;
        Some(EpssInput {
            cve: cve.to_ascii_uppercase(),
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
/// [`IntelError::EpssHeader`] (the header, at most 80 characters),
/// [`IntelError::EpssIsJson`], [`IntelError::EpssRow`] (naming the line:
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
    let columns: Vec<String> = header
        .trim_start_matches('\u{feff}')
        .trim()
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let has_percentile = match columns.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["cve", "epss"] => false,
        ["cve", "epss", "percentile"] => true,
        // Name what the file is before what it lacks: a JSON document
        // (KEV, CSAF, OSV) is not an EPSS file without a date.
        _ if header.trim_start().starts_with(['{', '[']) => return Err(IntelError::EpssIsJson),
        _ => {
            let mut shown: String = header.trim().chars().take(80).collect();
            if header.trim().chars().count() > 80 {
                shown.push('…');
            }
            return Err(IntelError::EpssHeader(shown));
        }
    };
    let score_date = score_date
        .or(fallback_score_date)
        .ok_or(IntelError::EpssMissingScoreDate)?;

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
        scores: scores.into(),
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

fn parse_unit(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("{s:?} is outside 0..1"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;

    use super::*;

    fn corpus(rel: &str) -> Option<PathBuf> {
        Some(testkit::corpus()?.join(rel))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
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
        // A KEV catalog given as EPSS: named as JSON, not as a missing date.
        let kev = br#"{"title": "CISA Catalog of Known Exploited Vulnerabilities", "vulnerabilities": []}"#;
        let err = load_epss(&kev[..], None).unwrap_err();
        assert!(matches!(err, IntelError::EpssIsJson), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("not an EPSS CSV: the file is a JSON document")
        );
        // A long foreign header is cut in the message.
        let long = format!("{}\n", "x".repeat(200));
        let err = load_epss(long.as_bytes(), None).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "EPSS header \"{}…\" is not `cve,epss` or `cve,epss,percentile`",
                "x".repeat(80)
            )
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
