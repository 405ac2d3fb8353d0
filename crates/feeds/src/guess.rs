//! Which kind of feed document a body looks like, for the hint a user gets
//! when a document is loaded as the wrong kind (`feed load --kind csaf` on
//! a KEV catalog). A guess from the document's outer shape only: the
//! loader of the kind still validates the whole document.

use serde_json::Value;

use crate::FeedKind;

/// The kind `body` looks like, from its outer shape:
///
/// - gzip data, or text whose first line is an EPSS `#model_version…`
///   comment or a `cve,epss` header: [`FeedKind::Epss`];
/// - a CSV header starting `cveID,`, or a JSON object with
///   `catalogVersion`: [`FeedKind::Kev`];
/// - a JSON object with a `document` object (CSAF 2.0 §3.2.1):
///   [`FeedKind::Csaf`];
/// - a JSON object with `id` and one of `affected`, `modified` or
///   `aliases`, an array of those, or osv-scanner's `results`:
///   [`FeedKind::Osv`].
///
/// `None` for anything else (an HTML error page, another JSON document).
pub fn guess_kind(body: &[u8]) -> Option<FeedKind> {
    if body.starts_with(&[0x1f, 0x8b]) {
        return Some(FeedKind::Epss);
    }
    let text = std::str::from_utf8(body).ok()?;
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let first_line = text.lines().next().unwrap_or_default().trim();
    if first_line.starts_with("#model_version") || first_line.starts_with("cve,epss") {
        return Some(FeedKind::Epss);
    }
    if first_line.starts_with("cveID,") {
        return Some(FeedKind::Kev);
    }
    if !text.starts_with(['{', '[']) {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let osv_record = |v: &Value| {
        v.get("id").is_some_and(Value::is_string)
            && ["affected", "modified", "aliases"]
                .iter()
                .any(|k| v.get(k).is_some())
    };
    match &value {
        Value::Object(o) if o.contains_key("catalogVersion") => Some(FeedKind::Kev),
        Value::Object(o) if o.get("document").is_some_and(Value::is_object) => Some(FeedKind::Csaf),
        Value::Object(o) if o.get("results").is_some_and(Value::is_array) => Some(FeedKind::Osv),
        Value::Object(_) if osv_record(&value) => Some(FeedKind::Osv),
        Value::Array(items) if items.first().is_some_and(osv_record) => Some(FeedKind::Osv),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_documents_are_told_apart_by_shape() {
        let table: &[(&[u8], Option<FeedKind>)] = &[
            (b"\x1f\x8b\x08\x00", Some(FeedKind::Epss)),
            (b"#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000\ncve,epss,percentile\n", Some(FeedKind::Epss)),
            (b"cve,epss\nCVE-1999-0001,0.1\n", Some(FeedKind::Epss)),
            (b"\xef\xbb\xbfcveID,vendorProject,product\n", Some(FeedKind::Kev)),
            (br#"{"catalogVersion":"2025.08.25","vulnerabilities":[]}"#, Some(FeedKind::Kev)),
            (br#"{"document":{"category":"csaf_vex"}}"#, Some(FeedKind::Csaf)),
            (br#"{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z"}"#, Some(FeedKind::Osv)),
            (br#"[{"id":"PYSEC-1","affected":[]}]"#, Some(FeedKind::Osv)),
            (br#"{"results":[]}"#, Some(FeedKind::Osv)),
            (b"<HTML><HEAD><TITLE>Access Denied</TITLE>", None),
            (br#"{"id":7}"#, None),
            (b"{not json", None),
            (b"", None),
            (b"\xff\xfe", None),
        ];
        for (body, want) in table {
            assert_eq!(
                guess_kind(body),
                *want,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn every_corpus_feed_is_guessed_as_its_folder_says() {
        let Some(corpus) = testkit::corpus() else {
            return;
        };
        let table = [
            ("kev", FeedKind::Kev),
            ("epss", FeedKind::Epss),
            ("csaf", FeedKind::Csaf),
            ("osv", FeedKind::Osv),
        ];
        let mut checked = 0;
        for (folder, kind) in table {
            for entry in std::fs::read_dir(corpus.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                // Not feed documents: a JSON Schema and a saved error page.
                if name.contains("_schema") || name.contains("access-denied") {
                    continue;
                }
                let body = std::fs::read(&path).unwrap();
                // An empty file (osv-scanner's "no findings") has no shape.
                if body.is_empty() {
                    assert_eq!(guess_kind(&body), None, "{name}");
                    continue;
                }
                assert_eq!(guess_kind(&body), Some(kind), "{name}");
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked}");
    }
}
