//! Issue 3, item 8, for every report format at once: entity expansion
//! ("billion laughs"), external entities (XXE) and undeclared entity
//! references are refused by every XML parser; bytes that are not UTF-8 and
//! a report cut off halfway are rejected with a reason by every parser (XML,
//! JSON and CSV); an access-denied HTML page is named as such. Each input
//! runs through the same calls `patchflow parse` and the adapter make:
//! `format::open` (detection), `format::check` (the whole-report check that
//! must reject before anything is published), then the publishing pass
//! `format::hosts`, which must fail the same way.
//!
//! The well-formed bases are corpus reports (see EXPECTED.md); without the
//! corpus the test is skipped, loudly (never in CI).

use chrono::{DateTime, Utc};
use ingest::format::{self, Format};

/// The fallback observation time (unused by a rejection).
fn fallback() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// Detection, the whole-report check and the publishing pass over `bytes`:
/// the detected format, or the check's error. A rejection by the check must
/// also stop the publishing pass.
fn run(bytes: &[u8]) -> Result<Format, String> {
    let (fmt, r) = format::open(bytes, None).map_err(|e| e.to_string())?;
    let checked = format::check(fmt, r).map_err(|e| e.to_string());
    let (_, r) = format::open(bytes, Some(fmt)).map_err(|e| e.to_string())?;
    let published: Result<Vec<_>, String> = format::hosts(fmt, r, fallback())
        .map(|h| h.map_err(|e| e.to_string()))
        .collect();
    match (checked, published) {
        (Ok(_), Ok(_)) => Ok(fmt),
        (Err(e), Err(_)) => Err(e),
        (Err(e), Ok(_)) => panic!("the check rejected ({e}) but the publishing pass did not"),
        (Ok(_), Err(e)) => panic!("the publishing pass failed ({e}) after the check passed"),
    }
}

/// One hostile input and the reason its rejection must give.
fn check(what: &str, bytes: &[u8], reason: &str) {
    match run(bytes) {
        Ok(fmt) => panic!("{what}: accepted as {fmt}"),
        Err(e) => assert!(e.contains(reason), "{what}: {e:?} does not say {reason:?}"),
    }
}

fn corpus(rel: &str) -> Option<Vec<u8>> {
    let path = testkit::corpus()?.join(rel);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn splice(bytes: &[u8], at: usize, insert: &[u8]) -> Vec<u8> {
    let (head, tail) = bytes.split_at(at.min(bytes.len()));
    [head, insert, tail].concat()
}

/// The XML document with `doctype` in place of its prolog's DOCTYPE and
/// `text` right after the root start tag.
fn xml_with(bytes: &[u8], doctype: &str, text: &str) -> Vec<u8> {
    let mut at = 0;
    if bytes.starts_with(b"<?xml") {
        at = find(bytes, b"?>", 0).expect("declaration end") + 2;
    }
    let mut body_start = at;
    while bytes.get(body_start).is_some_and(u8::is_ascii_whitespace) {
        body_start += 1;
    }
    if bytes
        .get(body_start..)
        .is_some_and(|b| b.starts_with(b"<!DOCTYPE"))
    {
        body_start = find(bytes, b">", body_start).expect("doctype end") + 1;
    }
    let root = (body_start..bytes.len())
        .find(|&i| bytes[i] == b'<' && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic))
        .expect("root element");
    let name_end = (root + 1..bytes.len())
        .find(|&i| matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/'))
        .expect("root name end");
    let name = String::from_utf8_lossy(&bytes[root + 1..name_end]).into_owned();
    let tag_end = find(bytes, b">", root).expect("root tag end") + 1;
    let doctype = doctype.replace("ROOT", &name);
    [
        &bytes[..at],
        b"\n",
        doctype.as_bytes(),
        b"\n",
        &bytes[root..tag_end],
        text.as_bytes(),
        &bytes[tag_end..],
    ]
    .concat()
}

const XML: &[(&str, Format)] = &[
    (
        "nessus/libnessus__nessus_report_local_3.nessus",
        Format::Nessus,
    ),
    (
        "qualys/defectdojo__Qualys_Sample_Report.xml",
        Format::Qualys,
    ),
    (
        "qualys/defectdojo__qualys_infrascan_webgui_multiple.xml",
        Format::QualysScan,
    ),
    ("openvas/defectdojo__many_vuln.xml", Format::OpenVas),
    ("nexpose/defectdojo__report_auth.xml", Format::Nexpose),
];

const LAUGHS: &str = r#"<!DOCTYPE ROOT [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>"#;
const XXE: &str = r#"<!DOCTYPE ROOT [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>"#;

#[test]
fn xml_entities_are_refused_by_every_xml_parser() {
    for (rel, fmt) in XML {
        let Some(base) = corpus(rel) else {
            return;
        };
        assert_eq!(run(&base), Ok(*fmt), "{rel}: the base must parse");
        // Nessus never writes a DOCTYPE and refuses any; the others accept
        // an external DTD name (Qualys writes one) but no internal subset.
        let refused = if *fmt == Format::Nessus {
            "refused DOCTYPE"
        } else {
            "refused DOCTYPE with an internal subset"
        };
        check(
            &format!("{rel}: billion laughs"),
            &xml_with(&base, LAUGHS, "&lol3;"),
            refused,
        );
        check(
            &format!("{rel}: XXE"),
            &xml_with(&base, XXE, "&xxe;"),
            refused,
        );
        check(
            &format!("{rel}: undeclared entity"),
            &xml_with(&base, "", "&xxe;"),
            "undeclared entity reference &xxe;",
        );
        // The five predefined entities and character references are fine.
        assert_eq!(
            run(&xml_with(&base, "", "&amp;&lt;&#x41;&#66;")),
            Ok(*fmt),
            "{rel}: predefined entities"
        );
    }
}

/// Every parser, one base each: (corpus file, where to put a broken byte so
/// that it lands inside text the parser reads or skips, the reason).
const ALL: &[(&str, &[u8], &str)] = &[
    (
        "nessus/libnessus__nessus_report_local_3.nessus",
        b"<description>",
        "invalid UTF-8",
    ),
    (
        "qualys/defectdojo__Qualys_Sample_Report.xml",
        b"<RESULT>",
        "invalid UTF-8",
    ),
    (
        "qualys/defectdojo__qualys_infrascan_webgui_multiple.xml",
        b"<TITLE>",
        "invalid UTF-8",
    ),
    (
        "openvas/defectdojo__many_vuln.xml",
        b"<description>",
        "invalid UTF-8",
    ),
    (
        "nexpose/defectdojo__report_auth.xml",
        b"<Paragraph>",
        "invalid UTF-8",
    ),
    // JSON: inside a value the parser skips (serde does not check those).
    (
        "trivy/defectdojo__scheme_2_many_vulns.json",
        b"\"Description\": \"",
        "invalid UTF-8",
    ),
    (
        "grype/defectdojo__check_all_fields.json",
        b"\"description\": \"",
        "invalid UTF-8",
    ),
    (
        "sarif/defectdojo__cxf-3.4.6.sarif",
        b"\"markdown\": \"",
        "invalid UTF-8",
    ),
];

#[test]
fn bytes_that_are_not_utf8_are_rejected_even_in_skipped_text() {
    for (rel, marker, reason) in ALL {
        let Some(base) = corpus(rel) else {
            return;
        };
        assert!(run(&base).is_ok(), "{rel}: the base must parse");
        let from = base.len() / 2;
        let at = find(&base, marker, from)
            .or_else(|| find(&base, marker, 0))
            .unwrap_or_else(|| panic!("{rel}: no {}", String::from_utf8_lossy(marker)))
            + marker.len();
        check(
            &format!("{rel}: invalid UTF-8"),
            &splice(&base, at, b"\xff\xfe\xc3("),
            reason,
        );
    }
}

#[test]
fn a_report_cut_off_anywhere_is_rejected() {
    let bases = [
        "nessus/libnessus__nessus_report_local_3.nessus",
        "qualys/defectdojo__Qualys_Sample_Report.xml",
        "qualys/defectdojo__qualys_infrascan_webgui_multiple.xml",
        "openvas/defectdojo__many_vuln.xml",
        "nexpose/defectdojo__report_auth.xml",
        "trivy/defectdojo__scheme_2_many_vulns.json",
        "grype/defectdojo__check_all_fields.json",
        "sarif/defectdojo__cxf-3.4.6.sarif",
        // CSV: every field is quoted, so a cut inside a cell leaves a quote
        // open (the csv crate would end the cell there and read on).
        "qualys/defectdojo__Qualys_Sample_Report.csv",
        "openvas/defectdojo__report_detail_v2.csv",
    ];
    for rel in bases {
        let Some(base) = corpus(rel) else {
            return;
        };
        assert!(run(&base).is_ok(), "{rel}: the base must parse");
        for fraction in [3, 2] {
            let cut = &base[..base.len() * (fraction - 1) / fraction];
            check(
                &format!("{rel}: cut at {}/{fraction}", fraction - 1),
                cut,
                "truncated",
            );
        }
    }
}

#[test]
fn a_csv_cut_between_cells_or_at_a_row_end_is_told_apart() {
    let Some(base) = corpus("qualys/defectdojo__Qualys_Sample_Report.csv") else {
        return;
    };
    let text = String::from_utf8(base.clone()).expect("UTF-8 sample");
    // Cut right after a closing quote in the middle of the last row: no
    // quote is open, but the row is short of the header's cells.
    // Cells hold line breaks: a row starts at a line opening with its IP.
    let last_row = text.rfind("\n\"10.").expect("rows") + 1;
    let mid = text[last_row..].find("\",\"").expect("cells") + last_row + 1;
    check("Qualys CSV cut between cells", &base[..mid], "truncated");
    // Cut exactly at a row end: a complete, shorter export (nothing tells
    // it apart), read as such.
    assert_eq!(
        run(&base[..last_row]),
        Ok(Format::QualysCsv),
        "a cut at a row end"
    );
    // The generic CSV: a quoted last cell left open.
    let generic = b"host,check_id,severity,port\nweb1,C-1,high,\"44";
    check("generic CSV with an open quote", generic, "truncated");
}

#[test]
fn an_access_denied_html_page_is_named() {
    let page =
        b"<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n\
                 You don't have permission to access this server.<P>\n</BODY>\n</HTML>\n";
    check("HTML error page", page, "an HTML page, not a report");
    let doctype = b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head></html>";
    check("HTML5 error page", doctype, "an HTML page, not a report");
    // With a format forced, it is still refused with a reason.
    let forced = format::open(&page[..], Some(Format::Nessus))
        .and_then(|(fmt, r)| format::check(fmt, r))
        .expect_err("HTML as Nessus");
    assert!(forced.to_string().contains("HTML"), "{forced}");
}
