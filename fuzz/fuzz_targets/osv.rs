//! OSV records, bare or osv-scanner output (`feeds::parse_osv`), their advisory payloads and their matching against installed packages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchflow_fuzz::feed(feeds::parse(feeds::FeedKind::Osv, data, feeds::ParseOptions::default()));
});
