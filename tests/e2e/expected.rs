//! The EXPECTED.md walk (issue 3's first acceptance line): every corpus file
//! that `../shared/corpus/EXPECTED.md` describes goes through the real
//! binary, and what it prints agrees with the values stated there.
//!
//! - Scanner reports run through `patchflow parse FILE` (no NATS): the
//!   summary line on stderr (format, hosts, findings, info items, skipped and
//!   why) is compared whole, and the named fields of the named findings are
//!   read from the JSON lines on stdout.
//! - Bulletin and intel feeds (CSAF, OSV, KEV, EPSS) are not reports:
//!   `patchflow parse` refuses them, and the user path is `patchflow feed
//!   load FILE --kind K` against NATS. Its stdout line (version, entries) is
//!   compared, the advisories it published are read from the event log, and
//!   a KEV or EPSS catalog is read back from the object store and loaded
//!   with `feeds`, exactly as prioritize loads it.
//! - A file EXPECTED.md calls malformed, empty, of an unsupported version or
//!   an HTML error page must be rejected with the stated reason.
//!
//! [`CASES`] is the table. Every file EXPECTED.md lists must have exactly one
//! case, and every case must be listed there: a new corpus file fails
//! [`every_expected_file_has_a_case`] until someone states what we make of
//! it. Where our model counts differently from the peer (DefectDojo merges
//! by severity and title, we keep one finding per asset × check and keep
//! informational items as asset facts), the case says so and why in
//! `peer`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{AdvisoryPublished, CatalogLoaded, Payload};
use serde_json::Value;
use tests::{Lab, patchflow_bin};
use tokio::io::AsyncReadExt;

const WAIT: Duration = Duration::from_secs(60);

/// The corpus folders EXPECTED.md describes (`cvss/` is someone else's).
const SECTIONS: &[&str] = &[
    "nessus", "qualys", "openvas", "nexpose", "trivy", "grype", "sarif", "csaf", "osv", "kev",
    "epss",
];

/// How a corpus file compares with the peer's stated values.
#[derive(Clone, Copy)]
enum Peer {
    /// Our counts and named fields are the stated ones.
    Agrees,
    /// We knowingly count or rate differently, for the reason given.
    Differs(&'static str),
}

/// What the real binary must make of a file.
enum Want {
    /// `patchflow parse` accepts it: the exact stderr summary line, then
    /// checks of the findings (one JSON value per stdout line).
    Report {
        summary: &'static str,
        check: fn(&[Value]),
    },
    /// `patchflow parse` exits 2 and stderr names this reason.
    Rejected { reason: &'static str },
    /// `patchflow feed load --kind <kind> [args]` succeeds; stdout contains
    /// `line`; then the published result is checked.
    Feed {
        kind: &'static str,
        args: &'static [&'static str],
        line: &'static str,
        check: FeedCheck,
    },
    /// `patchflow feed load --kind <kind>` exits 4 (rejected) with this reason.
    FeedRejected {
        kind: &'static str,
        reason: &'static str,
    },
}

/// What to check of a loaded feed.
enum FeedCheck {
    /// The advisories published (`patch.bulletin.advisory`), in log order.
    Advisories(fn(&[AdvisoryPublished])),
    /// The KEV catalog as stored and as prioritize loads it.
    Kev(fn(&feeds::KevFeed)),
    /// The EPSS table as stored and as prioritize loads it.
    Epss(fn(&feeds::EpssTable)),
}

/// One corpus file of EXPECTED.md.
struct Case {
    file: &'static str,
    want: Want,
    peer: Peer,
}

const fn report(
    file: &'static str,
    summary: &'static str,
    check: fn(&[Value]),
    peer: Peer,
) -> Case {
    Case {
        file,
        want: Want::Report { summary, check },
        peer,
    }
}

const fn rejected(file: &'static str, reason: &'static str, peer: Peer) -> Case {
    Case {
        file,
        want: Want::Rejected { reason },
        peer,
    }
}

const fn feed(
    file: &'static str,
    kind: &'static str,
    args: &'static [&'static str],
    line: &'static str,
    check: FeedCheck,
    peer: Peer,
) -> Case {
    Case {
        file,
        want: Want::Feed {
            kind,
            args,
            line,
            check,
        },
        peer,
    }
}

const fn feed_rejected(file: &'static str, kind: &'static str, reason: &'static str) -> Case {
    Case {
        file,
        want: Want::FeedRejected { kind, reason },
        peer: Peer::Agrees,
    }
}

/// DefectDojo's Nessus semantics against ours, said once.
const DD_NESSUS: &str = "DD makes one finding per (severity, pluginName) with hosts as \
     locations and counts informational items; we keep one finding per host × plugin × \
     port/protocol and keep severity-0 items as asset facts (the info items count)";

/// The table: every file EXPECTED.md lists, in its order.
const CASES: &[Case] = &[
    // ---- nessus ----
    report(
        "nessus/defectdojo__nessus_with_cvssv3.nessus",
        "format nessus, hosts 1, findings 25, info items 23 (kept as asset facts), skipped 0, merged 1 repeated item(s) into the finding they repeat",
        nessus_with_cvssv3,
        Peer::Differs(
            "DD's 48 = our 25 findings + 23 info items (48 distinct plugins: plugin 58987 is \
             listed twice on 80/tcp and is one finding); severity stays the scanner's \
             (plugin 142591 is Medium with its CVSS v3 7.5 vector carried for prioritize), \
             where DD re-rates it High from cvss3_base_score",
        ),
    ),
    report(
        "nessus/defectdojo__nessus_v_unknown.xml",
        "format nessus, hosts 7, findings 30, info items 266 (kept as asset facts), skipped 0",
        nessus_v_unknown,
        Peer::Differs(DD_NESSUS),
    ),
    report(
        "nessus/defectdojo__nessus_was_no_vuln.xml",
        "format nessus, hosts 1, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "nessus/defectdojo__nessus_was_one_vuln.xml",
        "format nessus, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        nessus_was_one_vuln,
        Peer::Differs(
            "DD reports CWE None; we keep the item's <cwe>79</cwe> (more, not different, data)",
        ),
    ),
    report(
        "nessus/libnessus__nessus_report_local_3.nessus",
        "format nessus, hosts 3, findings 35, info items 71 (kept as asset facts), skipped 0",
        nessus_local_3,
        Peer::Agrees,
    ),
    rejected(
        "nessus/libnessus__xxxxxxxx_empty.nessus",
        "empty report: no content in 0 bytes",
        Peer::Agrees,
    ),
    rejected(
        "nessus/rubynessus__example_v2_malformed-tag.nessus",
        "not well-formed XML at byte 256380",
        Peer::Differs(
            "ruby-nessus recovers from `<<plugin_publication_date>` with Nokogiri's lenient \
             parser; a report that is not well-formed is rejected whole, never half-imported",
        ),
    ),
    rejected(
        "nessus/rubynessus__example_v1_legacy.nessus",
        "unsupported Nessus v1 format (NessusClientData)",
        Peer::Differs("ruby-nessus reads v1; patchflow reads NessusClientData_v2 only"),
    ),
    // ---- qualys ----
    report(
        "qualys/defectdojo__Qualys_Sample_Report.xml",
        "format qualys, hosts 7, findings 92, info items 209 (kept as asset facts), skipped 0",
        qualys_asset_data_report,
        Peer::Differs(
            "DD's 301 = our 92 findings (90 Vuln + 2 Practice) + 209 Ig items kept as facts; \
             severity is the CVSS v3 base score of the glossary when there is one (QID 370876: \
             9.0, Critical) where DD maps the 1–5 level; DD's 8.2 on demo14 is the detection's \
             CVSS3_FINAL, a temporal score without a vector, which we do not carry",
        ),
    ),
    report(
        "qualys/defectdojo__empty.xml",
        "format qualys, hosts 0, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "qualys/defectdojo__Qualys_Sample_Report.csv",
        "format qualys-csv, hosts 4, findings 6, info items 0 (kept as asset facts), skipped 0",
        qualys_csv,
        Peer::Differs(
            "DD merges QID 105971 over its 4 hosts (3 findings); we keep one per host (6 rows, \
             6 findings). Severity is the CVSS v3 base score (8.1, High) where DD maps level 5 \
             to Critical; the CVSS3 Temporal vector is not appended (base vectors only)",
        ),
    ),
    report(
        "qualys/defectdojo__qualys_infrascan_webgui_0.xml",
        "format qualys-scan, hosts 1, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "qualys/defectdojo__qualys_infrascan_webgui_3.xml",
        "format qualys-scan, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        qualys_webgui_3,
        Peer::Agrees,
    ),
    report(
        "qualys/defectdojo__qualys_infrascan_webgui_multiple.xml",
        "format qualys-scan, hosts 2, findings 8, info items 16 (kept as asset facts), skipped 0",
        qualys_webgui_multiple,
        Peer::Differs(
            "DD counts the 6 <VULN>; we also keep the 2 <PRACTICE> (potential vulnerabilities) \
             as findings, and the 12 <INFO> + 4 <SERVICE> as asset facts",
        ),
    ),
    // ---- openvas ----
    report(
        "openvas/defectdojo__many_vuln.xml",
        "format openvas, hosts 1, findings 44, info items 0 (kept as asset facts), skipped 0",
        openvas_many,
        Peer::Differs(
            "same 44; severity comes from the CVSS score, so 8 of DD's 19 High are Critical \
             (≥ 9.0), which OpenVAS's own threat never says",
        ),
    ),
    report(
        "openvas/defectdojo__no_vuln.xml",
        "format openvas, hosts 0, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "openvas/defectdojo__one_vuln.xml",
        "format openvas, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        openvas_one,
        Peer::Differs(
            "severity 10.0 is Critical (DD: High); the title is the NVT name, without DD's \
             `_<host>_<port>` suffix",
        ),
    ),
    report(
        "openvas/defectdojo__report_detail_v2.xml",
        "format openvas, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        openvas_detail_v2_xml,
        Peer::Differs("CVSS 9.8 is Critical (DD: High)"),
    ),
    report(
        "openvas/defectdojo__report_detail_v2.csv",
        "format openvas-csv, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        openvas_detail_v2_csv,
        Peer::Differs(
            "CVSS 9.8 is Critical (DD: High); the CSV has the score but no vector, so no CVSS \
             vector is carried (the XML twin carries it); the EPSS columns are a scanner hint \
             that the EPSS feed supersedes",
        ),
    ),
    report(
        "openvas/openvas-edxml__result.xml",
        "format openvas, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        openvas_edxml_result,
        Peer::Differs(
            "the hand-made fixture says threat \"log\" beside severity 6.0; the score wins, so it \
             is a Medium finding, not a log entry",
        ),
    ),
    report(
        "openvas/openvas-edxml__result-non-numerical-port.xml",
        "format openvas, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        openvas_edxml_general_port,
        Peer::Agrees,
    ),
    // ---- nexpose ----
    report(
        "nexpose/defectdojo__many_vulns.xml",
        "format nexpose, hosts 8, findings 28, info items 0 (kept as asset facts), skipped 6 \
         status error, 400 status not-vulnerable, 52 status skipped-version, 1 status unknown, \
         merged 134 repeated item(s) into the finding they repeat",
        nexpose_many,
        Peer::Differs(
            "DD adds synthetic Host Up / Open port Info findings and merges by (severity, \
             title); we synthesize nothing and keep one finding per node × vulnerability × \
             endpoint: the 162 vulnerable tests are 28 such triples",
        ),
    ),
    report(
        "nexpose/defectdojo__no_vuln.xml",
        "format nexpose, hosts 1, findings 0, info items 0 (kept as asset facts), skipped 1 no \
         definition",
        no_findings,
        Peer::Differs("DD's one finding is its synthetic Host Up"),
    ),
    report(
        "nexpose/defectdojo__report_auth.xml",
        "format nexpose, hosts 4, findings 14, info items 0 (kept as asset facts), skipped 0, merged 12 repeated item(s) into the finding they repeat",
        nexpose_auth,
        Peer::Differs(
            "DD: 4 merged vulnerabilities + Host Up, with one location per test; we keep one \
             finding per node × vulnerability (the 16 home-directory tests are 4 nodes)",
        ),
    ),
    // ---- trivy ----
    report(
        "trivy/defectdojo__legacy_no_vuln.json",
        "format trivy, hosts 0, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "trivy/defectdojo__legacy_many_vulns.json",
        "format trivy, hosts 1, findings 93, info items 0 (kept as asset facts), skipped 0",
        trivy_legacy_many,
        Peer::Agrees,
    ),
    report(
        "trivy/defectdojo__legacy_trivy_mix.json",
        "format trivy, hosts 1, findings 6, info items 0 (kept as asset facts), skipped 1 \
         vulnerability record without VulnerabilityID",
        trivy_mix,
        Peer::Agrees,
    ),
    report(
        "trivy/defectdojo__scheme_2_many_vulns.json",
        "format trivy, hosts 1, findings 5, info items 0 (kept as asset facts), skipped 0",
        trivy_scheme_2,
        Peer::Agrees,
    ),
    report(
        "trivy/defectdojo__all_statuses.json",
        "format trivy, hosts 1, findings 7, info items 0 (kept as asset facts), skipped 1 status \
         not_affected (vendor: package not affected)",
        trivy_all_statuses,
        Peer::Differs(
            "DD imports the not_affected one as inactive; a not_affected finding opens no work, \
             so it is not published and the summary counts it as skipped",
        ),
    ),
    report(
        "trivy/defectdojo__cvssv4_severity_source.json",
        "format trivy, hosts 1, findings 3, info items 0 (kept as asset facts), skipped 0",
        trivy_cvss4,
        Peer::Agrees,
    ),
    report(
        "trivy/trivy__alpine-310.json.golden",
        "format trivy, hosts 1, findings 4, info items 0 (kept as asset facts), skipped 0",
        alpine_310,
        Peer::Agrees,
    ),
    report(
        "trivy/trivy__alpine-39-skip.json.golden",
        "format trivy, hosts 1, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    // ---- grype ----
    report(
        "grype/defectdojo__no_vuln.json",
        "format grype, hosts 1, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "grype/defectdojo__check_all_fields.json",
        "format grype, hosts 1, findings 5, info items 0 (kept as asset facts), skipped 0, merged 1 repeated item(s) into the finding they repeat",
        grype_check_all_fields,
        Peer::Differs(
            "Negligible is Low, not Info: the package is vulnerable, so it stays a finding \
             (Info is patchflow's class for non-findings)",
        ),
    ),
    report(
        "grype/defectdojo__many_vulns.json",
        "format grype, hosts 1, findings 1509, info items 0 (kept as asset facts), skipped 0",
        grype_many,
        Peer::Differs("same 1509; Negligible (681) and Unknown without a score (76) are Low"),
    ),
    report(
        "grype/defectdojo__many_vulns_with_epss_values.json",
        "format grype, hosts 1, findings 15, info items 0 (kept as asset facts), skipped 0",
        grype_epss,
        Peer::Differs(
            "same 15 in the same order; the scanner's EPSS values are not carried on the \
             finding: prioritize reads EPSS from the FIRST feed (NOTES.md: the scanner's value \
             is only a hint)",
        ),
    ),
    report(
        "grype/defectdojo__fix_available.json",
        "format grype, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        grype_fix_available,
        Peer::Agrees,
    ),
    report(
        "grype/defectdojo__same_cve_different_paths.json",
        "format grype, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0, merged 1 repeated item(s) into the finding they repeat",
        grype_same_cve,
        Peer::Agrees,
    ),
    report(
        "grype/defectdojo__anchore_grype_epss_problem.json",
        "format grype, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 0",
        grype_epss_problem,
        Peer::Differs(
            "the CVE and CVSS come from the related vulnerability as DD's do; the EPSS value \
             is not carried on the finding (the FIRST feed is the source)",
        ),
    ),
    // ---- sarif ----
    report(
        "sarif/defectdojo__appendix_k.sarif",
        "format sarif, hosts 1, findings 0, info items 0 (kept as asset facts), skipped 1 \
         suppressed result",
        no_findings,
        Peer::Differs(
            "its one result has an accepted external suppression: it opens no work, so it is \
             counted as skipped, not published (DD imports it)",
        ),
    ),
    report(
        "sarif/defectdojo__appendix_k1.sarif",
        "format sarif, hosts 1, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "sarif/defectdojo__no_runs.sarif",
        "format sarif, hosts 0, findings 0, info items 0 (kept as asset facts), skipped 0",
        no_findings,
        Peer::Agrees,
    ),
    report(
        "sarif/defectdojo__dependency_check.sarif",
        "format sarif, hosts 1, findings 13, info items 0 (kept as asset facts), skipped 0",
        sarif_dependency_check,
        Peer::Agrees,
    ),
    report(
        "sarif/defectdojo__cxf-3.4.6.sarif",
        "format sarif, hosts 1, findings 22, info items 0 (kept as asset facts), skipped 0",
        sarif_cxf,
        Peer::Agrees,
    ),
    report(
        "sarif/defectdojo__SuppressionTestCurrent.sarif",
        "format sarif, hosts 1, findings 1, info items 0 (kept as asset facts), skipped 3 \
         suppressed result",
        sarif_suppression,
        Peer::Differs(
            "DD imports all 4; the 3 with a suppression (no status = accepted, SARIF 2.1.0 \
             §3.27.23) open no work and are counted as skipped",
        ),
    ),
    report(
        "sarif/defectdojo__semgrepowasp-benchmark-sample.sarif",
        "format sarif, hosts 1, findings 1768, info items 0 (kept as asset facts), skipped 0",
        sarif_semgrep,
        Peer::Agrees,
    ),
    report(
        "sarif/trivy__alpine-310.sarif.golden",
        "format sarif, hosts 1, findings 4, info items 0 (kept as asset facts), skipped 0",
        alpine_310,
        Peer::Agrees,
    ),
    // ---- csaf (feeds) ----
    feed(
        "csaf/osv-schema__rhsa-2024_4546.json",
        "csaf",
        &[],
        "version RHSA-2024:4546@3, 1 entries",
        FeedCheck::Advisories(rhsa_2024_4546),
        Peer::Agrees,
    ),
    feed(
        "csaf/osv-schema__rhsa-2003_315.json",
        "csaf",
        &[],
        "version RHSA-2003:315@3, 1 entries",
        FeedCheck::Advisories(rhsa_2003_315),
        Peer::Agrees,
    ),
    feed(
        "csaf/osv-schema__rhsa-2024_4420.json",
        "csaf",
        &[],
        "version RHSA-2024:4420@3, 1 entries",
        FeedCheck::Advisories(rhsa_2024_4420),
        Peer::Agrees,
    ),
    feed(
        "csaf/vunnel__rhsa-2024_1431.json",
        "csaf",
        &[],
        "version RHSA-2024:1431@3, 4 entries",
        FeedCheck::Advisories(rhsa_2024_1431),
        Peer::Agrees,
    ),
    feed(
        "csaf/defectdojo__csaf_no_vuln.json",
        "csaf",
        &[],
        "version EXAMPLE-2026-0000@1, 0 entries",
        FeedCheck::Advisories(csaf_no_vuln),
        Peer::Agrees,
    ),
    feed(
        "csaf/defectdojo__csaf_one_vuln.json",
        "csaf",
        &[],
        "version EXAMPLE-2026-0001@1, 1 entries",
        FeedCheck::Advisories(csaf_one_vuln),
        Peer::Differs(
            "an advisory, not a finding: it is published once and opens work only where an \
             installed package matches it; the product is a bare full_product_name \
             \"Generic App 1.0.0\", which DD splits into component and version by guessing, \
             and we keep whole (CSAF gives its version only on product_version branches)",
        ),
    ),
    feed(
        "csaf/defectdojo__csaf_many_vuln.json",
        "csaf",
        &[],
        "version EXAMPLE-2026-0002@1, 2 entries",
        FeedCheck::Advisories(csaf_many_vuln),
        Peer::Differs(
            "DD's 5 findings are (vulnerability, product) pairs; we publish the one advisory \
             with its products, the known_not_affected one marked not_affected",
        ),
    ),
    feed_rejected(
        "csaf/defectdojo__csaf_unsupported_version.json",
        "csaf",
        "CSAF version \"1.2\" is not supported: only CSAF 2.0 is read (1.x documents are \
         CVRF-era",
    ),
    // ---- osv (feeds) ----
    feed(
        "osv/osv-schema__GO-2020-0001.json",
        "osv",
        &[],
        "version 2024-05-20T16:03:47Z, 1 entries",
        FeedCheck::Advisories(go_2020_0001),
        Peer::Agrees,
    ),
    feed(
        "osv/osv-schema__PYSEC-2023-74.json",
        "osv",
        &[],
        "version 2023-06-05T01:13:00Z, 1 entries",
        FeedCheck::Advisories(pysec_2023_74),
        Peer::Agrees,
    ),
    feed(
        "osv/osv-schema__CVE-2018-5407.json",
        "osv",
        &[],
        "version 2024-05-29T23:34:56Z, 1 entries",
        FeedCheck::Advisories(cve_2018_5407),
        Peer::Agrees,
    ),
    feed(
        "osv/osv-schema__SUSE-FU-2022_0444-1.json",
        "osv",
        &[],
        "version 2022-02-16T15:20:54Z, 1 entries",
        FeedCheck::Advisories(suse_fu),
        Peer::Differs(
            "the linter's \"affected field cannot be null or empty\" is a warning here: the \
             record is published and matches nothing",
        ),
    ),
    feed_rejected(
        "osv/osv-schema__nointroduced-CVE-2023-41045.json",
        "osv",
        "CVE-2023-41045: affected[0].ranges[0]: missing 'introduced' object in event",
    ),
    feed(
        "osv/osv-schema__ghsa_withdrawn.osv.json",
        "osv",
        &[],
        "version 2019-07-03T21:02:03Z, 1 entries",
        FeedCheck::Advisories(ghsa_withdrawn),
        Peer::Agrees,
    ),
    feed(
        "osv/defectdojo__osv_scanner_many_findings.json",
        "osv",
        &[],
        "version 2024-02-18T05:43:17Z, 64 entries",
        FeedCheck::Advisories(osv_scanner_many),
        Peer::Differs(
            "DD's 66 findings are (vulnerability, package) pairs; the feed loader publishes \
             each OSV record once: 66 embedded records, 2 of them (GHSA-j8r2-6x86-q33q, \
             PYSEC-2023-74) listed twice, give 64 advisories",
        ),
    ),
    feed_rejected(
        "osv/defectdojo__osv_scanner_no_findings.json",
        "osv",
        "OSV document is empty (0 bytes)",
    ),
    // ---- kev (feeds) ----
    feed(
        "kev/cisagov-kev-data__known_exploited_vulnerabilities_2025.08.25.json",
        "kev",
        &[],
        "version 2025.08.25, 1404 entries",
        FeedCheck::Kev(kev_2025),
        Peer::Agrees,
    ),
    feed(
        "kev/cisagov-kev-data__known_exploited_vulnerabilities_2025.08.25.csv",
        "kev",
        &[],
        "version 2025.08.25, 1404 entries",
        FeedCheck::Kev(kev_2025_csv),
        Peer::Agrees,
    ),
    feed_rejected(
        "kev/cisagov-kev-data__known_exploited_vulnerabilities_schema.json",
        "kev",
        "KEV catalog is not a valid catalog: missing field `catalogVersion`",
    ),
    feed(
        "kev/lodestone__kev_2023.04.12_pre-ransomware-field.json",
        "kev",
        &[],
        "version 2023.04.12, 914 entries",
        FeedCheck::Kev(kev_2023),
        Peer::Agrees,
    ),
    feed(
        "kev/lodestone__kev_2024.09.18_duplicate-cveID.json",
        "kev",
        &[],
        "version 2024.09.18, 1180 entries",
        FeedCheck::Kev(kev_duplicate),
        Peer::Agrees,
    ),
    feed_rejected(
        "kev/lodestone__kev_2024-11-26_access-denied-html.json",
        "kev",
        "KEV catalog is not JSON: it is an HTML page titled \"Access Denied\"",
    ),
    feed(
        "kev/vunnel__valid-catalog-1.json",
        "kev",
        &[],
        "version 2025.02.19, 3 entries",
        FeedCheck::Kev(kev_vunnel),
        Peer::Agrees,
    ),
    // ---- epss (feeds) ----
    feed(
        "epss/vunnel__example-1.csv",
        "epss",
        &[],
        "version v2023.03.01@2025-02-20T00:00:00Z, 5 entries",
        FeedCheck::Epss(epss_vunnel),
        Peer::Agrees,
    ),
    feed_rejected(
        "epss/vunnel__missing-date.csv",
        "epss",
        "EPSS file has no score_date in its '#' comment line",
    ),
    feed_rejected(
        "epss/vunnel__invalid-header.csv",
        "epss",
        "EPSS header \"invalid,header,format\" is not `cve,epss` or `cve,epss,percentile`",
    ),
    feed(
        "epss/rogolabs__epss_scores-2025-03-17_head535_tail134.csv",
        "epss",
        &[],
        "version v2025.03.14@2025-03-17T12:55:00Z, 669 entries",
        FeedCheck::Epss(epss_2025),
        Peer::Agrees,
    ),
    feed(
        "epss/rogolabs__epss_scores-2021-04-14_v1_head119.csv",
        "epss",
        // v1 files state no date: the operator passes the file's date.
        &["--score-date", "2021-04-14"],
        "119 entries",
        FeedCheck::Epss(epss_v1),
        Peer::Agrees,
    ),
];

// ---------------------------------------------------------------- the walk

/// The corpus files EXPECTED.md describes: its `**<section>/<file>**:`
/// headings, in order.
fn listed(expected: &str) -> Vec<String> {
    expected
        .lines()
        .filter_map(|line| line.strip_prefix("**")?.split_once("**:"))
        .map(|(file, _)| file.to_owned())
        .filter(|file| {
            file.split_once('/')
                .is_some_and(|(section, _)| SECTIONS.contains(&section))
        })
        .collect()
}

fn corpus_and_list() -> Option<(PathBuf, Vec<String>)> {
    let corpus = testkit::corpus()?;
    let expected = std::fs::read_to_string(corpus.join("EXPECTED.md")).expect("read EXPECTED.md");
    Some((corpus, listed(&expected)))
}

#[test]
fn every_expected_file_has_a_case() {
    let Some((corpus, listed)) = corpus_and_list() else {
        return;
    };
    let unique: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), listed.len(), "EXPECTED.md lists a file twice");
    assert!(
        listed.len() >= 70,
        "only {} files found in EXPECTED.md",
        listed.len()
    );
    for section in SECTIONS {
        assert!(
            listed.iter().any(|f| f.starts_with(&format!("{section}/"))),
            "EXPECTED.md lists nothing under {section}/"
        );
    }
    let table: BTreeMap<&str, &Case> = CASES.iter().map(|c| (c.file, c)).collect();
    assert_eq!(table.len(), CASES.len(), "a file has two cases");
    let missing: Vec<&str> = unique
        .iter()
        .copied()
        .filter(|f| !table.contains_key(f))
        .collect();
    assert!(
        missing.is_empty(),
        "EXPECTED.md lists files this test has no case for (add each, with its stated values, \
         or as a file we knowingly count differently, with the reason): {missing:?}"
    );
    let stale: Vec<&str> = table
        .keys()
        .copied()
        .filter(|f| !unique.contains(f))
        .collect();
    assert!(
        stale.is_empty(),
        "cases for files EXPECTED.md no longer lists: {stale:?}"
    );
    // And every corpus file of those folders is described in EXPECTED.md.
    for section in SECTIONS {
        for entry in std::fs::read_dir(corpus.join(section)).expect("read corpus folder") {
            let name = entry.expect("corpus entry").file_name();
            let file = format!("{section}/{}", name.to_string_lossy());
            assert!(
                unique.contains(file.as_str()),
                "{file} is not described in EXPECTED.md"
            );
        }
    }
    for case in CASES {
        if let Peer::Differs(why) = case.peer {
            assert!(why.len() > 20, "{}: say why it differs", case.file);
        }
    }
}

/// `patchflow parse` output: exit code, the stderr summary (last line), the
/// findings.
/// Runs `patchflow parse` on `path`: exit code, the last line on stderr
/// that is not a `hint:` (the summary or the rejection), the findings.
fn parse(path: &Path) -> (Option<i32>, String, Vec<Value>) {
    let (code, stderr, findings) = parse_all(path);
    let last = stderr
        .lines()
        .rfind(|l| !l.starts_with("hint: "))
        .unwrap_or_default()
        .to_owned();
    (code, last, findings)
}

/// [`parse`] with the whole of stderr.
fn parse_all(path: &Path) -> (Option<i32>, String, Vec<Value>) {
    let out = Command::new(patchflow_bin())
        .arg("parse")
        .arg(path)
        .env_remove("RUST_LOG")
        .output()
        .expect("run patchflow parse");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect();
    (out.status.code(), stderr, findings)
}

/// A report on stdin (`-`, or `/dev/stdin`: a pipe, which can be read only
/// once while `parse` reads a report twice) gives what the file gives.
#[test]
fn parse_reads_stdin_like_a_file() {
    let Some((corpus, _)) = corpus_and_list() else {
        return;
    };
    let path = corpus.join("nessus/libnessus__nessus_report_local_3.nessus");
    let from_file = Command::new(patchflow_bin())
        .arg("parse")
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .expect("run patchflow parse");
    assert_eq!(from_file.status.code(), Some(0));
    assert!(!from_file.stdout.is_empty());
    for arg in ["-", "/dev/stdin"] {
        let piped = Command::new(patchflow_bin())
            .arg("parse")
            .arg(arg)
            .env_remove("RUST_LOG")
            .stdin(std::fs::File::open(&path).expect("open the report"))
            .output()
            .expect("run patchflow parse");
        assert_eq!(piped.status.code(), Some(0), "{arg}");
        assert_eq!(piped.stdout, from_file.stdout, "{arg}");
        assert_eq!(piped.stderr, from_file.stderr, "{arg}");
    }
}

#[test]
fn every_report_agrees_with_expected() {
    let Some((corpus, _)) = corpus_and_list() else {
        return;
    };
    let mut checked = 0;
    for case in CASES {
        let path = corpus.join(case.file);
        match &case.want {
            Want::Report { summary, check } => {
                let (code, last, findings) = parse(&path);
                assert_eq!(code, Some(0), "{}: {last}", case.file);
                assert_eq!(last, *summary, "{}", case.file);
                let count = summary
                    .split("findings ")
                    .nth(1)
                    .and_then(|s| s.split(',').next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .expect("summary names findings");
                assert_eq!(findings.len(), count, "{}: JSON lines", case.file);
                check(&findings);
                checked += 1;
            }
            Want::Rejected { reason } => {
                let (code, last, findings) = parse(&path);
                assert_eq!(code, Some(4), "{}: {last}", case.file);
                assert!(
                    last.starts_with("rejected: ") && last.contains(reason),
                    "{}: {last:?} does not give {reason:?}",
                    case.file
                );
                assert!(findings.is_empty(), "{}", case.file);
                checked += 1;
            }
            Want::Feed { kind, .. } | Want::FeedRejected { kind, .. } => {
                // Not a scan report: `parse` refuses it, and `feed load` is
                // the user path (the test below). A document that looks
                // like a feed gets a hint naming its kind: always for a
                // valid one, and never another kind than its own.
                let (code, last, _) = parse(&path);
                assert_eq!(code, Some(4), "{}: {last}", case.file);
                assert!(last.starts_with("rejected: "), "{}: {last}", case.file);
                let (_, stderr, _) = parse_all(&path);
                let hint = stderr.lines().find(|l| l.starts_with("hint: "));
                let names_kind = |h: &str| h.ends_with(&format!("--kind {kind}"));
                match (&case.want, hint) {
                    (Want::Feed { .. }, Some(h)) | (Want::FeedRejected { .. }, Some(h)) => {
                        assert!(names_kind(h), "{}: {h}", case.file);
                    }
                    (Want::Feed { .. }, None) => panic!("{}: no hint: {stderr}", case.file),
                    _ => {}
                }
            }
        }
    }
    assert!(checked >= 45, "{checked} reports checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feed_agrees_with_expected() {
    let Some((corpus, _)) = corpus_and_list() else {
        return;
    };
    let server = testkit::NatsServer::shared();
    let mut checked = 0;
    for case in CASES {
        let path = corpus.join(case.file);
        let path_arg = path.to_str().expect("utf-8 path");
        match &case.want {
            Want::Report { .. } | Want::Rejected { .. } => {}
            Want::FeedRejected { kind, reason } => {
                let lab = Lab::on(&server.url()).await;
                std::fs::write(lab.path("patchflow.toml"), "").expect("config");
                let (status, out, err) = lab.run(&["feed", "load", path_arg, "--kind", kind]);
                assert_eq!(status.code(), Some(4), "{}: {out}{err}", case.file);
                assert!(
                    err.contains("rejected: ") && err.contains(reason),
                    "{}: {err} does not give {reason:?}",
                    case.file
                );
                assert_eq!(
                    err.matches(reason).count(),
                    1,
                    "{}: the reason is said once: {err}",
                    case.file
                );
                checked += 1;
            }
            Want::Feed {
                kind,
                args,
                line,
                check,
            } => {
                let lab = Lab::on(&server.url()).await;
                std::fs::write(lab.path("patchflow.toml"), "").expect("config");
                let mut argv = vec!["feed", "load", path_arg, "--kind", kind];
                argv.extend_from_slice(args);
                let (status, out, err) = lab.run(&argv);
                assert!(status.success(), "{}: {out}{err}", case.file);
                assert!(out.contains(line), "{}: {out:?} lacks {line:?}", case.file);
                match check {
                    FeedCheck::Advisories(check) => {
                        let n: usize = out
                            .trim_end()
                            .split("; ")
                            .find_map(|p| p.strip_suffix(" advisories published, 0 unchanged"))
                            .and_then(|n| n.parse().ok())
                            .unwrap_or_else(|| panic!("{}: {out}", case.file));
                        lab.log
                            .wait_for("the advisories", WAIT, |e| {
                                e.iter()
                                    .filter(|e| matches!(e.data, Payload::AdvisoryPublished(_)))
                                    .count()
                                    >= n
                            })
                            .await;
                        let advisories = lab.log.payloads(|p| match p {
                            Payload::AdvisoryPublished(a) => Some(a.clone()),
                            _ => None,
                        });
                        assert_eq!(advisories.len(), n, "{}", case.file);
                        check(&advisories);
                    }
                    FeedCheck::Kev(check) => {
                        let (catalog, bytes) = stored_catalog(&lab).await;
                        let feed = feeds::parse_kev_any(&bytes)
                            .unwrap_or_else(|e| panic!("{}: stored KEV: {e}", case.file));
                        assert_eq!(catalog.entries, feed.catalog.entries.len() as u64);
                        assert_eq!(catalog.version, feed.catalog.catalog_version);
                        check(&feed);
                    }
                    FeedCheck::Epss(check) => {
                        let (catalog, bytes) = stored_catalog(&lab).await;
                        let table = feeds::load_epss(bytes.as_slice(), score_date(&catalog))
                            .unwrap_or_else(|e| panic!("{}: stored EPSS: {e}", case.file));
                        assert_eq!(catalog.entries, table.scores.len() as u64);
                        check(&table);
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 25, "{checked} feeds checked");
}

/// The `catalog_loaded` a load published and the stored document it names.
async fn stored_catalog(lab: &Lab) -> (CatalogLoaded, Vec<u8>) {
    lab.log
        .wait_for("catalog_loaded", WAIT, |e| {
            e.iter()
                .any(|e| matches!(e.data, Payload::CatalogLoaded(_)))
        })
        .await;
    let catalog = lab
        .log
        .payloads(|p| match p {
            Payload::CatalogLoaded(c) => Some(c.clone()),
            _ => None,
        })
        .remove(0);
    let store = lab.bus.reports().await.expect("object store");
    let mut reader = store.open(&catalog.object).await.expect("stored catalog");
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.expect("read catalog");
    (catalog, bytes)
}

/// The score date a `catalog_loaded` version carries (`<model>@<RFC 3339>`),
/// as prioritize reads it back for files that state none.
fn score_date(c: &CatalogLoaded) -> Option<DateTime<Utc>> {
    c.version.rsplit_once('@')?.1.parse().ok()
}

// ---------------------------------------------------------- finding checks

fn s<'a>(f: &'a Value, pointer: &str) -> &'a str {
    f.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn strings(f: &Value, pointer: &str) -> Vec<String> {
    f.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn cwes(f: &Value) -> Vec<u64> {
    f["cwes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// `(version, vector, reported score)` of every CVSS vector.
fn cvss(f: &Value) -> Vec<(String, String, Option<f64>)> {
    f["cvss"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        s(c, "/version").to_owned(),
                        s(c, "/vector").to_owned(),
                        c["reported_score"].as_f64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has_vector(f: &Value, vector: &str, score: f64) {
    assert!(
        cvss(f)
            .iter()
            .any(|(_, v, s)| v == vector && *s == Some(score)),
        "{} lacks {vector} {score}: {:?}",
        s(f, "/check/id"),
        cvss(f)
    );
}

/// The one finding matching `pred`.
fn one<'a>(fs: &'a [Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let hits: Vec<&Value> = fs.iter().filter(|f| pred(f)).collect();
    assert_eq!(hits.len(), 1, "{what}: {} matches", hits.len());
    hits[0]
}

fn check_id<'a>(fs: &'a [Value], asset: &str, id: &str) -> &'a Value {
    one(fs, &format!("{asset} {id}"), |f| {
        s(f, "/asset/asset_id") == asset && s(f, "/check/id") == id
    })
}

fn severities(fs: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in fs {
        *m.entry(s(f, "/severity").to_owned()).or_insert(0) += 1;
    }
    m
}

fn histogram(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Asset ids in order of first appearance.
fn assets(fs: &[Value]) -> Vec<String> {
    let mut seen = Vec::new();
    for f in fs {
        let a = s(f, "/asset/asset_id").to_owned();
        if !seen.contains(&a) {
            seen.push(a);
        }
    }
    seen
}

fn no_findings(fs: &[Value]) {
    assert!(fs.is_empty());
}

fn nessus_with_cvssv3(fs: &[Value]) {
    assert!(fs.iter().all(
        |f| s(f, "/asset/ip") == "44.228.249.3" && s(f, "/asset/fqdn") == "testphp.vulnweb.com"
    ));
    // 26 items of severity 1–4; the two 58987 items on 80/tcp are one.
    assert_eq!(
        severities(fs),
        histogram(&[("low", 1), ("medium", 13), ("high", 10), ("critical", 1)])
    );
    let p142591 = check_id(fs, "testphp", "142591");
    assert_eq!(s(p142591, "/severity"), "medium");
    has_vector(p142591, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5);
    assert_eq!(strings(check_id(fs, "testphp", "24907"), "/cves").len(), 27);
    // Every item of this host runs over http (svc_name www).
    assert!(
        fs.iter()
            .all(|f| s(f, "/service") == "www" && f["port"] == 80)
    );
    // DD's finding 3 (Medium, no CWE, CVSS:3.0/…/C:L/I:N/A:N) is 40984.
    let p40984 = check_id(fs, "testphp", "40984");
    assert_eq!((s(p40984, "/severity"), cwes(p40984).len()), ("medium", 0));
    has_vector(p40984, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3);
}

fn nessus_v_unknown(fs: &[Value]) {
    assert_eq!(
        assets(fs),
        [
            "qa3app09", "qa3app06", "qa3app05", "qa3app04", "qa3app03", "qa3app02", "qa3app01"
        ]
    );
    assert!(
        fs.iter()
            .all(|f| s(f, "/asset/ip").starts_with("10.31.112.2"))
    );
    assert_eq!(severities(fs), histogram(&[("low", 7), ("medium", 23)]));
    // DD's index 9: CVE-2005-1794 once per host.
    let rdp: Vec<&Value> = fs.iter().filter(|f| s(f, "/check/id") == "18405").collect();
    assert_eq!(rdp.len(), 7);
    assert!(rdp.iter().all(|f| strings(f, "/cves") == ["CVE-2005-1794"]));
}

fn nessus_was_one_vuln(fs: &[Value]) {
    let f = one(fs, "XSS", |_| true);
    assert_eq!(s(f, "/check/name"), "Cross-Site Scripting (XSS)");
    assert_eq!(s(f, "/check/id"), "98104");
    assert_eq!(s(f, "/severity"), "high");
    // `protocol="TCP"` upper case; the host is a URL with no host-ip.
    assert_eq!((f["port"].as_u64(), s(f, "/protocol")), (Some(80), "tcp"));
    assert_eq!(s(f, "/service"), "http");
    assert!(f["asset"]["ip"].is_null());
    assert_eq!(s(f, "/asset/fqdn"), "google.com");
}

fn nessus_local_3(fs: &[Value]) {
    // .104 has only severity-0 items (2 facts); .101 {1:6, 2:3}; .100
    // {1:4, 2:17, 3:3, 4:2}.
    let by_ip = |ip: &str| -> Vec<Value> {
        fs.iter()
            .filter(|f| s(f, "/asset/ip") == ip)
            .cloned()
            .collect()
    };
    assert!(by_ip("192.168.2.104").is_empty());
    let h101 = by_ip("192.168.2.101");
    assert_eq!(severities(&h101), histogram(&[("low", 6), ("medium", 3)]));
    assert_eq!(s(&h101[0], "/asset/os"), "AIX 5.3");
    let h100 = by_ip("192.168.2.100");
    assert_eq!(
        severities(&h100),
        histogram(&[("low", 4), ("medium", 17), ("high", 3), ("critical", 2)])
    );
    assert_eq!(s(&h100[0], "/asset/hostname"), "MIKE-MACBOOK");
    assert!(s(&h100[0], "/asset/os").contains("Ubuntu 10.10"));
    assert!(fs.iter().all(|f| f["asset"]["fqdn"].is_null()));
}

fn qualys_asset_data_report(fs: &[Value]) {
    assert_eq!(
        assets(fs),
        [
            "demo13",
            "demo14",
            "demo15",
            "trn-win7",
            "win2008r2",
            "trn-win2012-dc",
            "demo20"
        ]
    );
    let ips: BTreeSet<&str> = fs.iter().map(|f| s(f, "/asset/ip")).collect();
    assert_eq!(
        ips.into_iter().collect::<Vec<_>>(),
        [
            "64.41.200.243",
            "64.41.200.244",
            "64.41.200.245",
            "64.41.200.246",
            "64.41.200.247",
            "64.41.200.249",
            "64.41.200.250"
        ]
    );
    let amd_cves: Vec<String> = (8930..=8936).map(|n| format!("CVE-2018-{n}")).collect();
    for host in ["demo13", "demo14"] {
        let f = check_id(fs, host, "370876");
        assert!(s(f, "/check/name").starts_with(
            "AMD Processors Multiple Security Vulnerabilities (RYZENFALL/MASTERKEY/CHIMERA-FW/FALLOUT)"
        ));
        assert_eq!(strings(f, "/cves"), amd_cves, "{host}");
        has_vector(f, "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H", 9.0);
        assert_eq!(s(f, "/severity"), "critical");
    }
    let ntp = check_id(fs, "demo14", "121695");
    assert_eq!(
        s(ntp, "/check/name"),
        "NTP \"monlist\"  Feature Denial of Service Vulnerability"
    );
    assert_eq!(strings(ntp, "/cves"), ["CVE-2013-5211"]);
    assert!(cvss(ntp).iter().all(|(v, _, _)| v == "2.0"));
    assert_eq!(
        s(check_id(fs, "demo13", "370876"), "/asset/fqdn"),
        "demo13.s02.sjc01.qualys.com"
    );
}

fn qualys_csv(fs: &[Value]) {
    let f = check_id(fs, "ip-10-98-57-180", "105971");
    assert_eq!(
        s(f, "/check/name"),
        "EOL/Obsolete Software: Microsoft ASP.NET 1.0 Detected"
    );
    assert_eq!(
        s(f, "/asset/fqdn"),
        "ip-10-98-57-180.eu-west-1.compute.internal"
    );
    has_vector(f, "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1);
    assert_eq!(s(f, "/observed_at"), "2021-05-25T07:36:58Z");
    assert_eq!(assets(fs).len(), 4);
    assert_eq!(
        fs.iter().filter(|f| s(f, "/check/id") == "105971").count(),
        4
    );
    let qids: BTreeSet<&str> = fs.iter().map(|f| s(f, "/check/id")).collect();
    assert_eq!(qids.len(), 3);
}

fn qualys_webgui_3(fs: &[Value]) {
    let f = one(fs, "UDP IP id", |_| true);
    assert_eq!(
        s(f, "/check/name"),
        "UDP Constant IP Identification Field Fingerprinting Vulnerability"
    );
    assert_eq!(s(f, "/severity"), "low");
    assert_eq!(s(f, "/observed_at"), "2019-04-02T10:14:53Z");
    assert_eq!(s(f, "/asset/ip"), "10.1.10.1");
    // "No registered hostname" is a placeholder, not a name.
    assert_eq!(s(f, "/asset/asset_id"), "10.1.10.1");
    assert!(f["asset"]["hostname"].is_null() && f["asset"]["fqdn"].is_null());
}

fn qualys_webgui_multiple(fs: &[Value]) {
    assert!(
        fs.iter()
            .all(|f| s(f, "/observed_at") == "2019-04-02T10:14:53Z")
    );
    let hosts: BTreeSet<(&str, &str)> = fs
        .iter()
        .map(|f| (s(f, "/asset/ip"), s(f, "/asset/fqdn")))
        .collect();
    assert_eq!(
        hosts.into_iter().collect::<Vec<_>>(),
        [
            ("10.1.10.1", "host1.example.com"),
            ("10.2.10.2", "host2.example.com")
        ]
    );
    let udp = check_id(fs, "host1", "82024");
    assert_eq!(
        (s(udp, "/check/name"), s(udp, "/severity")),
        (
            "UDP Constant IP Identification Field Fingerprinting Vulnerability",
            "low"
        )
    );
    let rpc = check_id(fs, "host1", "11");
    assert_eq!(
        (s(rpc, "/check/name"), s(rpc, "/severity")),
        ("Hidden RPC Services", "low")
    );
}

fn openvas_many(fs: &[Value]) {
    assert!(fs.iter().all(|f| s(f, "/asset/ip") == "192.168.1.1001"));
    // High ×19 (11 High + 8 Critical by score), Medium ×23, and the 2 with an
    // empty threat and severity 4.0.
    assert_eq!(
        severities(fs),
        histogram(&[("medium", 25), ("high", 11), ("critical", 8)])
    );
    let oids: BTreeSet<&str> = fs.iter().map(|f| s(f, "/check/id")).collect();
    assert_eq!(oids.len(), 40);
    assert_eq!(
        fs.iter().map(|f| strings(f, "/cves").len()).sum::<usize>(),
        55
    );
    assert_eq!(
        (fs[0]["port"].as_u64(), s(&fs[0], "/protocol")),
        (Some(512), "tcp")
    );
    let empty_threat: Vec<&Value> = fs
        .iter()
        .filter(|f| f["port"] == 5432 && s(f, "/severity") == "medium")
        .collect();
    assert!(empty_threat.len() >= 2);
}

fn openvas_one(fs: &[Value]) {
    let f = one(fs, "firefox", |_| true);
    assert_eq!(
        s(f, "/check/name"),
        "Mozilla Firefox Security Update (mfsa_2023-32_2023-36) - Windows"
    );
    assert_eq!(s(f, "/asset/ip"), "10.0.101.2");
    // general/tcp: no port.
    assert_eq!((f["port"].as_u64(), s(f, "/protocol")), (Some(0), "tcp"));
    assert_eq!(strings(f, "/cves").len(), 12);
    assert_eq!(s(f, "/severity"), "critical");
}

fn openvas_detail_v2(f: &Value) {
    assert_eq!(
        s(f, "/check/name"),
        "Microsoft Windows Multiple Vulnerabilities (KB5062557)"
    );
    assert_eq!(s(f, "/check/id"), "1.3.6.1.4.1.25623.1.0.836484");
    assert_eq!(s(f, "/severity"), "critical");
    let cves = strings(f, "/cves");
    assert_eq!(cves.len(), 93);
    assert_eq!(cves[1], "CVE-2025-48823");
    assert_eq!(
        (s(f, "/asset/hostname"), s(f, "/asset/ip")),
        ("server99", "10.99.99.99")
    );
    assert_eq!((f["port"].as_u64(), s(f, "/protocol")), (Some(42), "tcp"));
    // XML and CSV are the same finding.
    assert_eq!(
        s(f, "/fingerprint"),
        "openvas:v1:server99:1.3.6.1.4.1.25623.1.0.836484:42/tcp"
    );
}

fn openvas_detail_v2_xml(fs: &[Value]) {
    let f = one(fs, "KB5062557", |_| true);
    openvas_detail_v2(f);
    has_vector(f, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8);
}

fn openvas_detail_v2_csv(fs: &[Value]) {
    let f = one(fs, "KB5062557", |_| true);
    openvas_detail_v2(f);
    assert_eq!(s(f, "/observed_at"), "2025-08-22T14:27:22Z");
}

fn openvas_edxml(f: &Value) {
    assert_eq!(s(f, "/check/id"), "1.3.6.1.4.1.25623.1.0.112081");
    assert_eq!(s(f, "/check/name"), "HTTP Security Headers Detection");
    assert_eq!(s(f, "/check/family"), "General");
    assert_eq!(s(f, "/asset/ip"), "10.0.0.1");
    assert_eq!(s(f, "/observed_at"), "2019-01-02T12:01:01Z");
    let cves: BTreeSet<String> = strings(f, "/cves").into_iter().collect();
    assert_eq!(
        cves.into_iter().collect::<Vec<_>>(),
        ["CVE-2014-3566", "CVE-2016-0800"]
    );
    has_vector(f, "AV:N/AC:L/Au:N/C:N/I:N/A:N", 5.0);
}

fn openvas_edxml_result(fs: &[Value]) {
    let f = one(fs, "headers", |_| true);
    openvas_edxml(f);
    // "443/TCP": compared case-insensitively.
    assert_eq!((f["port"].as_u64(), s(f, "/protocol")), (Some(443), "tcp"));
}

fn openvas_edxml_general_port(fs: &[Value]) {
    let f = one(fs, "headers", |_| true);
    openvas_edxml(f);
    assert_eq!(f["port"].as_u64(), Some(0));
}

fn nexpose_many(fs: &[Value]) {
    assert_eq!(assets(fs).len(), 6);
    let ids: BTreeSet<&str> = fs.iter().map(|f| s(f, "/check/id")).collect();
    assert_eq!(ids.len(), 17);
    let tcp_seq: Vec<&Value> = fs
        .iter()
        .filter(|f| s(f, "/check/name") == "TCP Sequence Number Approximation Vulnerability")
        .collect();
    assert_eq!(tcp_seq.len(), 3);
    assert!(
        tcp_seq
            .iter()
            .all(|f| s(f, "/severity") == "medium" && strings(f, "/cves") == ["CVE-2004-0230"])
    );
    let ts: Vec<&Value> = fs
        .iter()
        .filter(|f| s(f, "/check/name") == "TCP timestamp response")
        .collect();
    assert_eq!(ts.len(), 5);
    assert!(ts.iter().all(|f| s(f, "/severity") == "low"
        && strings(f, "/cves").is_empty()
        && f["port"] == 0
        && s(f, "/protocol").is_empty()));
    let ssh = one(fs, "root ssh", |f| {
        s(f, "/check/name") == "Default SSH password: root password \"root\""
    });
    assert_eq!(
        (ssh["port"].as_u64(), s(ssh, "/protocol")),
        (Some(22), "tcp")
    );
    let cookie = one(fs, "HttpOnly", |f| {
        s(f, "/check/name") == "Missing HttpOnly Flag From Cookie"
    });
    assert_eq!(
        (cookie["port"].as_u64(), s(cookie, "/protocol")),
        (Some(80), "tcp")
    );
    let des = one(fs, "DES", |f| {
        s(f, "/check/name") == "TLS/SSL Server Supports DES and IDEA Cipher Suites"
    });
    assert_eq!(
        (des["port"].as_u64(), s(des, "/protocol")),
        (Some(443), "tcp")
    );
    assert!(
        fs.iter()
            .all(|f| !s(f, "/check/name").starts_with("Open port")
                && s(f, "/check/name") != "Host Up")
    );
}

fn nexpose_auth(fs: &[Value]) {
    assert_eq!(assets(fs), ["host0", "host1", "host3", "host4"]);
    let count = |name: &str, severity: &str| {
        fs.iter()
            .filter(|f| s(f, "/check/name") == name)
            .inspect(|f| assert_eq!(s(f, "/severity"), severity, "{name}"))
            .count()
    };
    assert_eq!(count("ICMP redirection enabled", "high"), 4);
    assert_eq!(count("No password for Grub", "medium"), 4);
    assert_eq!(count("User home directory mode unsafe", "low"), 4);
    assert!(fs.iter().all(|f| strings(f, "/cves").is_empty()));
}

fn package(f: &Value) -> (&str, &str) {
    (s(f, "/package/name"), s(f, "/package/version"))
}

fn trivy_legacy_many(fs: &[Value]) {
    let f = &fs[0];
    assert_eq!(s(f, "/severity"), "low");
    assert_eq!(strings(f, "/cves"), ["CVE-2011-3374"]);
    assert_eq!(cwes(f), [347]);
    assert_eq!(package(f), ("apt", "1.8.2.2"));
}

fn trivy_mix(fs: &[Value]) {
    let lodash = one(fs, "lodash", |f| s(f, "/check/id") == "CVE-2018-16487");
    assert_eq!(package(lodash), ("lodash", "4.17.4"));
    assert_eq!(strings(lodash, "/package/fixed_versions"), [">=4.17.11"]);
    assert_eq!(
        fs.iter()
            .filter(|f| s(f, "/check/id").starts_with("CVE-"))
            .count(),
        6
    );
}

fn trivy_scheme_2(fs: &[Value]) {
    let f = &fs[0];
    assert_eq!(s(f, "/check/id"), "CVE-2020-15999");
    assert_eq!(s(f, "/severity"), "medium");
    assert_eq!(cwes(f), [787]);
    assert_eq!(package(f), ("freetype", "2.9.1-r2"));
    assert_eq!(
        strings(f, "/package/locations"),
        ["app/libs/freetype-2.9.1-r2"]
    );
    assert_eq!(strings(f, "/package/fixed_versions"), ["2.9.1-r3"]);
    assert_eq!(cvss(f)[0].1, "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H");
    let f = &fs[1];
    assert_eq!(s(f, "/check/id"), "CVE-2020-28196");
    assert_eq!(s(f, "/severity"), "high");
    assert_eq!(cwes(f), [674]);
    assert_eq!(package(f), ("krb5-libs", "1.15.5-r0"));
    assert_eq!(strings(f, "/package/fixed_versions"), ["1.15.5-r1"]);
    assert_eq!(cvss(f)[0].1, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H");
}

fn trivy_all_statuses(fs: &[Value]) {
    let states: Vec<&str> = fs.iter().map(|f| s(f, "/fix_state")).collect();
    assert_eq!(
        states,
        [
            "unknown",
            "not_fixed",
            "fixed",
            "under_investigation",
            "wont_fix",
            "fix_deferred",
            "end_of_life"
        ]
    );
    assert!(fs.iter().all(|f| s(f, "/severity") == "low"
        && strings(f, "/package/fixed_versions").is_empty()));
    assert_eq!(s(&fs[1], "/check/id"), "TEMP-0841856-B18BAF");
    assert!(cwes(&fs[1]).is_empty() && strings(&fs[1], "/cves").is_empty());
    assert_eq!(
        (s(&fs[2], "/check/id"), package(&fs[2])),
        ("CVE-2018-1000876", ("binutils", "2.31.1-16"))
    );
    assert_eq!(cwes(&fs[2]), [190, 787]);
    assert_eq!(cwes(&fs[3]), [476]);
}

fn trivy_cvss4(fs: &[Value]) {
    let ids: Vec<&str> = fs.iter().map(|f| s(f, "/check/id")).collect();
    assert_eq!(ids, ["CVE-2025-66614", "CVE-2025-61795", "CVE-2026-24733"]);
    let sev: Vec<&str> = fs.iter().map(|f| s(f, "/severity")).collect();
    assert_eq!(sev, ["medium", "low", "low"]);
    has_vector(
        &fs[0],
        "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N",
        6.3,
    );
    assert!(
        fs.iter()
            .all(|f| package(f).0 == "org.apache.tomcat:tomcat-catalina")
    );
}

/// The Trivy JSON and SARIF goldens of one scan: the same 4 (CVE, package,
/// installed, fixed) tuples.
fn alpine_310(fs: &[Value]) {
    let tuples: BTreeSet<(String, String, String, Vec<String>)> = fs
        .iter()
        .map(|f| {
            (
                s(f, "/check/id").to_owned(),
                package(f).0.to_owned(),
                package(f).1.to_owned(),
                strings(f, "/package/fixed_versions"),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String, Vec<String>)> = [
        ("CVE-2019-1549", "libcrypto1.1", "1.1.1d-r0"),
        ("CVE-2019-1549", "libssl1.1", "1.1.1d-r0"),
        ("CVE-2019-1551", "libcrypto1.1", "1.1.1d-r2"),
        ("CVE-2019-1551", "libssl1.1", "1.1.1d-r2"),
    ]
    .into_iter()
    .map(|(c, p, fixed)| (c.into(), p.into(), "1.1.1c-r0".into(), vec![fixed.into()]))
    .collect();
    assert_eq!(tuples, want);
    assert!(fs.iter().all(|f| s(f, "/severity") == "medium"));
    assert!(
        fs.iter()
            .all(|f| s(f, "/asset/asset_id") == "testdata/fixtures/images/alpine-310.tar.gz")
    );
}

fn grype_check_all_fields(fs: &[Value]) {
    let krb = one(fs, "krb5", |f| s(f, "/check/id") == "CVE-2004-0971");
    assert_eq!(package(krb), ("libgssapi-krb5-2", "1.17-3+deb10u3"));
    assert_eq!(s(krb, "/severity"), "low");
    assert_eq!(strings(krb, "/cves"), ["CVE-2004-0971"]);
    assert!(cvss(krb).iter().all(|(v, _, _)| v == "2.0"));
    let redis = one(fs, "redis", |f| s(f, "/check/id") == "CVE-2021-32626");
    assert_eq!(s(redis, "/severity"), "high");
    has_vector(redis, "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8);
    assert_eq!(
        strings(redis, "/package/fixed_versions"),
        ["fix_1", "fix_2"]
    );
    for name in ["libc-bin", "libc6"] {
        let f = one(fs, name, |f| {
            s(f, "/check/id") == "CVE-2021-33574" && package(f).0 == name
        });
        assert_eq!((package(f).1, s(f, "/severity")), ("2.28-10", "critical"));
        has_vector(f, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8);
    }
    // Two matches (two matchers) of one (id, package, version): one finding.
    let django = one(fs, "django", |f| s(f, "/check/id") == "GHSA-v6rh-hp5x-86rv");
    assert_eq!(package(django), ("Django", "3.2.9"));
    assert_eq!(s(django, "/severity"), "high");
    assert_eq!(strings(django, "/cves"), ["CVE-2021-44420"]);
    assert_eq!(strings(django, "/package/fixed_versions"), ["3.2.10"]);
    has_vector(django, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L", 7.3);
}

fn grype_many(fs: &[Value]) {
    assert_eq!(
        severities(fs),
        histogram(&[("low", 681 + 107 + 76), ("medium", 613), ("high", 32)])
    );
    assert!(fs.iter().all(|f| !s(f, "/check/id").is_empty()));
    let f = one(fs, "gnutls", |f| {
        s(f, "/check/id") == "CVE-2011-3389" && package(f).0 == "libgnutls-openssl27"
    });
    assert_eq!(package(f).1, "3.6.7-4+deb10u5");
    assert_eq!(s(f, "/severity"), "medium");
    assert!(strings(f, "/package/locations").contains(&"/var/lib/dpkg/status".to_owned()));
}

fn grype_epss(fs: &[Value]) {
    let ids: Vec<&str> = fs.iter().map(|f| s(f, "/check/id")).collect();
    assert_eq!(
        ids,
        [
            "CVE-2022-28391",
            "CVE-2021-28831",
            "CVE-2022-48174",
            "CVE-2021-42380",
            "CVE-2021-42381",
            "CVE-2021-42382",
            "CVE-2021-42386",
            "CVE-2021-42385",
            "CVE-2021-42378",
            "CVE-2021-42379",
            "CVE-2021-42384",
            "CVE-2021-42374",
            "CVE-2021-42376",
            "CVE-2024-58251",
            "CVE-2025-46394"
        ]
    );
    let fixed = fs.iter().filter(|f| s(f, "/fix_state") == "fixed").count();
    assert_eq!(fixed, 1);
}

fn grype_fix_available(fs: &[Value]) {
    let f = one(fs, "fix", |_| true);
    assert_eq!(s(f, "/fix_state"), "fixed");
    assert_eq!(strings(f, "/package/fixed_versions"), ["1.2.3"]);
}

fn grype_same_cve(fs: &[Value]) {
    let f = one(fs, "libc", |_| true);
    assert_eq!(s(f, "/severity"), "critical");
    assert_eq!(s(f, "/fix_state"), "not_fixed");
    assert_eq!(
        strings(f, "/package/locations"),
        [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6"
        ]
    );
}

fn grype_epss_problem(fs: &[Value]) {
    let f = one(fs, "ghsa", |_| true);
    assert_eq!(s(f, "/check/id"), "GHSA-4374-p667-p6c8");
    assert_eq!(strings(f, "/cves"), ["CVE-2023-39325"]);
    has_vector(f, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5);
}

fn sarif_dependency_check(fs: &[Value]) {
    assert!(s(&fs[0], "/fingerprint").contains(
        ":/src/.venv/lib/python3.9/site-packages/tastypie_swagger/static/tastypie_swagger/js/lib/handlebars-1.0.0.js:"
    ));
    let f = &fs[6];
    assert!(s(f, "/check/name").starts_with(
        "CVE-2019-11358 - jQuery before 3.4.0, as used in Drupal, Backdrop CMS, and other products, mishandles jQuery.extend(true, {}, ...) because of"
    ));
    assert_eq!(s(f, "/severity"), "high");
    assert_eq!(strings(f, "/cves"), ["CVE-2019-11358"]);
    assert!(fs.iter().all(|f| s(f, "/severity") == "high"));
}

fn sarif_cxf(fs: &[Value]) {
    assert_eq!(s(&fs[0], "/severity"), "low");
    assert_eq!(s(&fs[6], "/severity"), "high");
}

fn sarif_suppression(fs: &[Value]) {
    assert_eq!(s(&fs[0], "/check/id"), "TST0004");
}

fn sarif_semgrep(fs: &[Value]) {
    assert!(
        s(&fs[0], "/fingerprint")
            .contains(":src/main/java/org/owasp/benchmark/testcode/BenchmarkTest02660.java:")
    );
    assert!(fs.iter().all(|f| s(f, "/severity") == "medium"));
}

// --------------------------------------------------------- advisory checks

fn sole(advisories: &[AdvisoryPublished]) -> &AdvisoryPublished {
    assert_eq!(advisories.len(), 1);
    &advisories[0]
}

fn severity(a: &AdvisoryPublished) -> Option<&'static str> {
    a.severity.map(|s| s.as_str())
}

fn rhsa_2024_4546(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "RHSA-2024:4546");
    assert_eq!(a.aliases, ["CVE-2023-45288"]);
    assert_eq!(
        a.title.as_deref(),
        Some("Red Hat Security Advisory: git-lfs security update")
    );
    assert!(
        a.cvss
            .iter()
            .any(|c| c.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")
    );
    assert_eq!(severity(a), Some("high"));
    // OSV's golden: {git-lfs, -debuginfo, -debugsource} × 3 streams, source
    // RPMs not listed, fixed in 0:2.13.3-3.el8_6.1.
    let mut pairs: Vec<(String, String)> = a
        .affected
        .iter()
        .map(|p| (p.ecosystem.clone().unwrap_or_default(), p.name.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    let mut want = Vec::new();
    for stream in ["aus", "e4s", "tus"] {
        for name in ["git-lfs", "git-lfs-debuginfo", "git-lfs-debugsource"] {
            want.push((
                format!("Red Hat:rhel_{stream}:8.6::appstream"),
                name.to_owned(),
            ));
        }
    }
    want.sort();
    assert_eq!(pairs, want);
    assert!(
        a.affected
            .iter()
            .all(|p| p.fixed_versions == ["0:2.13.3-3.el8_6.1"] && !p.not_affected)
    );
}

fn rhsa_2003_315(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "RHSA-2003:315");
    assert_eq!(a.aliases, ["CVE-2003-0858"]);
    // No CVSS score: the severity is the aggregate "Low".
    assert!(a.cvss.is_empty());
    assert_eq!(severity(a), Some("low"));
    assert!(!a.affected.is_empty());
    assert!(
        a.affected
            .iter()
            .all(|p| p.fixed_versions.iter().all(|v| !v.is_empty()))
    );
}

fn rhsa_2024_4420(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "RHSA-2024:4420");
    assert_eq!(a.aliases, ["CVE-2024-4467"]);
    assert_eq!(severity(a), Some("high"));
    assert!(!a.affected.is_empty());
    // Every fix has an epoch, is not "0", not all digits, no ":rhel", no
    // "virt:" (osv-schema's EventTest).
    for p in &a.affected {
        for v in &p.fixed_versions {
            assert!(v.contains(':') && v != "0", "{v}");
            assert!(!v.chars().all(|c| c.is_ascii_digit()), "{v}");
            assert!(!v.ends_with(":rhel") && !v.contains("virt:"), "{v}");
        }
    }
}

fn rhsa_2024_1431(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "RHSA-2024:1431");
    let aliases: BTreeSet<&str> = a.aliases.iter().map(String::as_str).collect();
    assert_eq!(
        aliases.into_iter().collect::<Vec<_>>(),
        [
            "CVE-2021-33621",
            "CVE-2023-28755",
            "CVE-2023-28756",
            "CVE-2023-36617"
        ]
    );
    assert_eq!(severity(a), Some("medium"));
    // vunnel: …:ruby-0:3.1.4-142.module+el8.9.0+21471+7d1e4a35.aarch64::ruby:3.1
    // is package ruby, version 0:3.1.4-142.module+el8.9.0+21471+7d1e4a35.
    assert!(
        a.affected.iter().any(|p| p.name == "ruby"
            && p.fixed_versions == ["0:3.1.4-142.module+el8.9.0+21471+7d1e4a35"]),
        "{:?}",
        a.affected
            .iter()
            .map(|p| (&p.name, &p.fixed_versions))
            .collect::<Vec<_>>()
    );
}

fn csaf_no_vuln(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert!(a.aliases.is_empty() && a.affected.is_empty());
}

fn csaf_one_vuln(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.aliases, ["CVE-2026-10001"]);
    assert_eq!(severity(a), Some("critical"));
    assert!(
        a.cvss
            .iter()
            .any(|c| c.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    );
    // A bare full_product_name: the whole product, no version guessed.
    assert_eq!(a.affected.len(), 1);
    let p = &a.affected[0];
    assert_eq!(p.name, "Generic App 1.0.0");
    assert!(!p.not_affected && p.ranges.is_empty());
}

fn csaf_many_vuln(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert!(a.aliases.contains(&"CVE-2026-10002".to_owned()));
    assert!(a.aliases.contains(&"EXAMPLE-2026-0002-B".to_owned()));
    // Generic App 2.0.0 is known_not_affected: never opens work.
    assert!(
        a.affected
            .iter()
            .any(|p| p.name == "Generic App" && p.not_affected),
        "{:?}",
        a.affected
    );
    assert!(
        a.affected
            .iter()
            .any(|p| p.name == "Generic App" && !p.not_affected)
    );
}

fn go_2020_0001(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "GO-2020-0001");
    let aliases: BTreeSet<&str> = a.aliases.iter().map(String::as_str).collect();
    assert!(aliases.contains("CVE-2020-36567") && aliases.contains("GHSA-6vm3-jj99-7229"));
    assert_eq!(a.affected.len(), 1);
    let p = &a.affected[0];
    assert_eq!(
        (p.ecosystem.as_deref(), p.name.as_str()),
        (Some("Go"), "github.com/gin-gonic/gin")
    );
    assert_eq!(p.ranges.len(), 1);
    assert_eq!(
        (
            p.ranges[0].introduced.as_str(),
            p.ranges[0].fixed.as_deref()
        ),
        ("0", Some("1.6.0"))
    );
}

fn pysec_2023_74(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "PYSEC-2023-74");
    let aliases: BTreeSet<&str> = a.aliases.iter().map(String::as_str).collect();
    assert!(aliases.contains("CVE-2023-32681") && aliases.contains("GHSA-j8r2-6x86-q33q"));
    let p = a
        .affected
        .iter()
        .find(|p| p.name == "requests")
        .expect("requests");
    assert_eq!(p.ecosystem.as_deref(), Some("PyPI"));
    // The GIT range names commits, not versions: only the ECOSYSTEM range.
    assert!(
        p.ranges
            .iter()
            .any(|r| r.introduced == "2.3.0" && r.fixed.as_deref() == Some("2.31.0")),
        "{:?}",
        p.ranges
    );
    assert_eq!(
        a.modified.map(|m| m.to_rfc3339()),
        Some("2023-06-05T01:13:00.534973+00:00".to_owned())
    );
}

fn cve_2018_5407(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "CVE-2018-5407");
    assert!(
        a.cvss
            .iter()
            .any(|c| c.vector == "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N")
    );
    // 6 openssl entries on Alpine v3.3–v3.8; the GIT-only node entry names
    // no package.
    let alpine: Vec<_> = a.affected.iter().filter(|p| p.name == "openssl").collect();
    assert_eq!(alpine.len(), 6, "{:?}", a.affected);
    assert!(alpine.iter().all(|p| {
        p.ecosystem
            .as_deref()
            .is_some_and(|e| e.starts_with("Alpine:v3."))
    }));
}

fn suse_fu(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "SUSE-FU-2022:0444-1");
    assert_eq!(
        a.title.as_deref(),
        Some("Feature update for venv-salt-minion")
    );
    assert!(a.affected.is_empty());
}

fn ghsa_withdrawn(a: &[AdvisoryPublished]) {
    let a = sole(a);
    assert_eq!(a.id, "GHSA-35c4-f3rq-f9g3");
    assert!(a.withdrawn);
    assert!(a.aliases.contains(&"CVE-2015-3227".to_owned()));
    let p = a
        .affected
        .iter()
        .find(|p| p.name == "activesupport")
        .expect("activesupport");
    let mut pairs: Vec<(String, Option<String>)> = p
        .ranges
        .iter()
        .map(|r| (r.introduced.clone(), r.fixed.clone()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("3.2.0".to_owned(), Some("3.2.22".to_owned())),
            ("4.0.0".to_owned(), Some("4.1.11".to_owned())),
            ("4.2.0".to_owned(), Some("4.2.2".to_owned()))
        ]
    );
}

fn osv_scanner_many(a: &[AdvisoryPublished]) {
    let ids: BTreeSet<&str> = a.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 64);
    for id in [
        "GHSA-25mq-v84q-4j7r",
        "GHSA-q559-8m2m-g699",
        "GHSA-53qw-q765-4fww",
    ] {
        assert!(ids.contains(id), "{id}");
    }
    let django = a
        .iter()
        .find(|a| a.id == "GHSA-53qw-q765-4fww")
        .expect("django advisory");
    assert!(django.aliases.contains(&"CVE-2021-45115".to_owned()));
    assert!(
        django
            .affected
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case("django")
                && p.ranges
                    .iter()
                    .any(|r| r.fixed.as_deref() == Some("2.2.26"))),
        "{:?}",
        django.affected
    );
}

// ------------------------------------------------------- KEV, EPSS checks

fn kev_common_2025(feed: &feeds::KevFeed) {
    let c = &feed.catalog;
    assert_eq!(c.catalog_version, "2025.08.25");
    assert_eq!(c.entries.len(), 1404);
    let git = c.get("CVE-2025-48384").expect("CVE-2025-48384");
    assert_eq!(git.date_added.to_string(), "2025-08-25");
    assert_eq!(git.due_date.to_string(), "2025-09-15");
    assert_eq!(feed.details["CVE-2025-48384"].cwes, ["CWE-59", "CWE-436"]);
    let known = c
        .entries
        .values()
        .filter(|e| e.known_ransomware == Some(true))
        .count();
    assert_eq!(known, 293);
    let early = c
        .entries
        .values()
        .filter(|e| e.due_date < e.date_added)
        .count();
    assert_eq!(early, 15);
    let printnightmare = c.get("CVE-2021-34527").expect("CVE-2021-34527");
    assert_eq!(printnightmare.due_date.to_string(), "2021-07-20");
    let microsoft = feed
        .details
        .values()
        .filter(|d| d.vendor_project == "Microsoft")
        .count();
    assert_eq!(microsoft, 340);
    assert!(
        feed.details["CVE-2021-41773"]
            .short_description
            .contains('\u{FFFD}')
    );
}

fn kev_2025(feed: &feeds::KevFeed) {
    kev_common_2025(feed);
    assert_eq!(
        feed.catalog.released.to_rfc3339(),
        "2025-08-25T17:04:19.979600+00:00"
    );
    assert!(
        feed.catalog.warnings.is_empty(),
        "{:?}",
        feed.catalog.warnings
    );
}

fn kev_2025_csv(feed: &feeds::KevFeed) {
    kev_common_2025(feed);
}

fn kev_2023(feed: &feeds::KevFeed) {
    let c = &feed.catalog;
    assert_eq!(
        (c.catalog_version.as_str(), c.entries.len()),
        ("2023.04.12", 914)
    );
    // No knownRansomwareCampaignUse and no cwes yet.
    assert!(c.entries.values().all(|e| e.known_ransomware.is_none()));
    assert!(feed.details.values().all(|d| d.cwes.is_empty()));
    assert!(c.get("CVE-2021-27104").is_some() && c.get("CVE-2023-28252").is_some());
}

fn kev_duplicate(feed: &feeds::KevFeed) {
    let c = &feed.catalog;
    assert_eq!(c.entries.len(), 1180);
    let dup = c.get("CVE-2019-1069").expect("CVE-2019-1069");
    // The newest dateAdded wins, deterministically.
    assert_eq!(dup.date_added.to_string(), "2024-09-18");
    assert!(c.warnings.iter().any(|w| w.contains("CVE-2019-1069")));
}

fn kev_vunnel(feed: &feeds::KevFeed) {
    let c = &feed.catalog;
    let cves: BTreeSet<&str> = c.entries.keys().map(String::as_str).collect();
    assert_eq!(
        cves.into_iter().collect::<Vec<_>>(),
        ["CVE-2024-53704", "CVE-2024-57727", "CVE-2025-0108"]
    );
    assert!(
        c.warnings.iter().any(|w| w.contains("1273")),
        "{:?}",
        c.warnings
    );
}

fn reading(t: &feeds::EpssTable, cve: &str) -> (f64, Option<f64>) {
    t.scores
        .get(cve)
        .copied()
        .unwrap_or_else(|| panic!("{cve} missing"))
}

fn epss_vunnel(t: &feeds::EpssTable) {
    assert_eq!(t.score_date.to_rfc3339(), "2025-02-20T00:00:00+00:00");
    assert_eq!(t.model_version.as_deref(), Some("v2023.03.01"));
    for (cve, epss, pct) in [
        ("CVE-1999-0001", 0.00383, 0.73075),
        ("CVE-1999-0002", 0.01328, 0.85996),
        ("CVE-1999-0003", 0.04409, 0.9244),
        ("CVE-1999-0004", 0.00917, 0.82963),
        ("CVE-1999-0005", 0.91963, 0.99214),
    ] {
        assert_eq!(reading(t, cve), (epss, Some(pct)), "{cve}");
    }
}

fn epss_2025(t: &feeds::EpssTable) {
    assert_eq!(t.score_date.to_rfc3339(), "2025-03-17T12:55:00+00:00");
    assert_eq!(t.model_version.as_deref(), Some("v2025.03.14"));
    for (cve, epss, pct) in [
        ("CVE-1999-0001", 0.07126, 0.90885),
        ("CVE-1999-0003", 0.91459, 0.99658),
        ("CVE-2025-2157", 8e-05, 0.00383),
        ("CVE-2025-2229", 7e-05, 0.0032),
        ("CVE-2025-2367", 0.01031, 0.75805),
        ("CVE-2025-30089", 0.00039, 0.08698),
    ] {
        assert_eq!(reading(t, cve), (epss, Some(pct)), "{cve}");
    }
}

fn epss_v1(t: &feeds::EpssTable) {
    assert_eq!(t.score_date.to_rfc3339(), "2021-04-14T00:00:00+00:00");
    assert!(t.model_version.is_none());
    for (cve, epss) in [
        ("CVE-2020-5902", 0.65117),
        ("CVE-2020-1472", 0.9318),
        ("CVE-2019-0232", 0.99457),
        ("CVE-2019-3403", 0.02304),
    ] {
        assert_eq!(reading(t, cve), (epss, None), "{cve}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_given_as_the_wrong_kind_gets_a_hint() {
    let Some((corpus, _)) = corpus_and_list() else {
        return;
    };
    let kev = corpus.join("kev/cisagov-kev-data__known_exploited_vulnerabilities_2025.08.25.json");
    let kev = kev.to_str().expect("utf-8 path");
    let server = testkit::NatsServer::shared();
    let lab = Lab::on(&server.url()).await;
    std::fs::write(lab.path("patchflow.toml"), "").expect("config");
    for wrong in ["csaf", "osv", "epss"] {
        let (status, out, err) = lab.run(&["feed", "load", kev, "--kind", wrong]);
        assert_eq!(status.code(), Some(4), "{wrong}: {out}{err}");
        assert!(
            err.contains("hint: it looks like a kev document: --kind kev"),
            "{wrong}: {err}"
        );
    }
    // A KEV catalog handed to the report parser.
    let (status, out, err) = lab.run(&["parse", kev]);
    assert_eq!(status.code(), Some(4), "{out}{err}");
    assert!(
        err.contains(&format!(
            "hint: it looks like a kev feed document, not a scanner report: \
             patchflow feed load {kev} --kind kev"
        )),
        "{err}"
    );
    // The right kind gets no hint.
    let (status, out, err) = lab.run(&["feed", "load", kev, "--kind", "kev"]);
    assert!(status.success(), "{out}{err}");
    assert!(!err.contains("hint:"), "{err}");
}
