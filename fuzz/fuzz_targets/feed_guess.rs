//! The feed-kind guess behind `feed load` and `parse` hints
//! (`feeds::guess::guess_kind`): any bytes, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = feeds::guess::guess_kind(data);
});
