//! Format detection from the content (with every hint), then both passes of whatever it detects, through `format::open` as the adapter runs them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchflow_fuzz::detect(data);
});
