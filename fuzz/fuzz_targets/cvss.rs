//! `prioritize::cvss::score` on arbitrary strings: the whole input, each line and each tab-separated cell (so the corpus' TSV vector tables seed it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    patchflow_fuzz::cvss(&text);
    for line in text.lines().take(256) {
        patchflow_fuzz::cvss(line);
        for cell in line.split('\t').take(8) {
            patchflow_fuzz::cvss(cell);
        }
    }
});
