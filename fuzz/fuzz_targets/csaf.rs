//! CSAF 2.0 advisory (`feeds::parse_csaf`), its advisory payload and its matching against installed packages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchflow_fuzz::feed(feeds::parse(feeds::FeedKind::Csaf, data, feeds::ParseOptions::default()));
});
