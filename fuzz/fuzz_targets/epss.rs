//! FIRST EPSS CSV, plain or gzip (`feeds::load_epss`), with and without a fallback score date, and everything derived from it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let date = chrono::DateTime::from_timestamp(1_700_000_000, 0);
    patchflow_fuzz::feed(feeds::load_epss(data, date).map(feeds::FeedDocument::Epss).map_err(Into::into));
    patchflow_fuzz::feed(feeds::load_epss(data, None).map(feeds::FeedDocument::Epss).map_err(Into::into));
});
