//! The OHLCV CSV importer (crates/market).
#![no_main]
use cairn_market::{ImportOptions, parse_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_csv(data, "fuzz.csv", &ImportOptions::default());
    let _ = parse_csv(
        data,
        "fuzz.csv",
        &ImportOptions::default().with_strict(true),
    );
});
