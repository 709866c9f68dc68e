//! Restart time of a log of N entries, in a build of the log engine alone (no HTTP stack), so
//! it can be measured in release mode cheaply:
//! `cargo run --release -p cairn-log --example bench_restart -- 1000000 [dir]`.
//! `cairn bench log --restart N` runs the same code.
#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let base = args.next().map(std::path::PathBuf::from);
    let dir = match &base {
        Some(b) => tempfile::tempdir_in(b),
        None => tempfile::tempdir(),
    }
    .expect("scratch directory");
    let r = cairn_log::bench::bench_restart(dir.path(), entries, 800)
        .await
        .expect("benchmark");
    println!(
        "restart: {} entries, journal {:.0} MB, filled in {:.1} s, reopened in {:.2} s",
        r.entries,
        r.journal_bytes as f64 / 1e6,
        r.fill_secs,
        r.open_secs
    );
}
