//! The importer on the real Binance files the repository ships and the 4-hour files in
//! `../shared/data/market/` (skipped when that folder is absent).
use cairn_market::{ImportOptions, align, read_csv};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn shipped_daily_files_import_without_gaps_and_align() {
    let dir = repo().join("data/market");
    let btc = read_csv(
        &dir.join("BTCUSDT_1d.csv"),
        &ImportOptions::default().with_strict(true),
    )
    .unwrap();
    let bnb = read_csv(
        &dir.join("BNBUSDT_1d.csv"),
        &ImportOptions::default().with_strict(true),
    )
    .unwrap();
    assert_eq!((btc.symbol.as_str(), bnb.symbol.as_str()), ("BTC", "BNB"));
    assert_eq!(btc.len(), 3065);
    assert_eq!(btc.interval_ms, 86_400_000);
    assert_eq!(btc.close[0], 4285.08);
    let al = align(&[&btc, &bnb]).unwrap();
    assert_eq!(al.len(), bnb.len());
    assert_eq!(al.dropped[0].before_start, btc.len() - bnb.len());
}

#[test]
fn four_hour_files_have_reported_gaps_and_strict_rejects_them() {
    let path = repo().join("../shared/data/market/BTCUSDT_4h.csv");
    if !path.exists() {
        eprintln!("skipping: {} not present", path.display());
        return;
    }
    let s = read_csv(&path, &ImportOptions::default()).unwrap();
    assert_eq!(s.interval_ms, 14_400_000);
    assert_eq!(s.gaps.len(), 8);
    assert!(s.gaps.iter().all(|g| g.missing >= 1 && g.line >= 2));
    let e = read_csv(&path, &ImportOptions::default().with_strict(true)).unwrap_err();
    assert!(e.to_string().contains("gap of"), "{e}");
    assert!(
        e.to_string().contains(&format!("line {}", s.gaps[0].line)),
        "{e}"
    );
}
