//! SARIF 2.1.0: check pass, then the hosts pass, on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchflow_fuzz::report(ingest::format::Format::Sarif, data);
});
