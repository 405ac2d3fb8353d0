//! CISA KEV CSV catalog (`feeds::parse_kev_csv`) and everything derived from it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchflow_fuzz::feed(feeds::parse_kev_csv(data).map(feeds::FeedDocument::Kev).map_err(Into::into));
});
