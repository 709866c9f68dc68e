//! Dataset hashing throughput on a directory, in a build of the data crate alone (cheap to
//! build in release): `cargo run --release -p cairn-data --example bench_hash -- DIR [RUNS]
//! [READ_BLOCK_KIB]`. `cairn bench data DIR` runs the same measurement.
fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: bench_hash DIR [RUNS] [KIB]"));
    let runs = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let mut options = cairn_data::Options::default();
    if let Some(kib) = args.next().and_then(|a| a.parse::<usize>().ok()) {
        options.read_block = kib * 1024;
    }
    let r = cairn_data::bench_hash(&dir, &options, runs).expect("benchmark");
    println!(
        "{} bytes, {} threads, read block {} KiB: cairn {:.2} GB/s per core ({:.2} per busy core), \
         BLAKE3-only {:.2} GB/s per core ({:.2}); fraction {:.2} (cpu {:.2}); pipeline on one core \
         {:.2} GB/s, cdc {:.2}, blake3 chunks {:.2}",
        r.bytes,
        r.threads,
        options.read_block / 1024,
        r.cairn.bytes_per_sec_per_core / 1e9,
        r.cairn.bytes_per_cpu_sec / 1e9,
        r.blake3_only.bytes_per_sec_per_core / 1e9,
        r.blake3_only.bytes_per_cpu_sec / 1e9,
        r.fraction_of_blake3,
        r.fraction_of_blake3_cpu,
        r.stages.pipeline / 1e9,
        r.stages.cdc_v2 / 1e9,
        r.stages.blake3_chunks / 1e9,
    );
}
