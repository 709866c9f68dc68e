//! `job.toml` compute job specs (crates/compute).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cairn_compute::JobFile::from_toml(text);
    }
});
