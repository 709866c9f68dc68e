//! Throughput measurement for `cairn bench data`.
//!
//! Measures the real pipeline ([`add`](crate::add) without a cache) on a
//! directory, after one warm-up run so that the files come from the page
//! cache, and separately each stage on one core over an in-memory buffer, so
//! that a slow result can be attributed to a stage.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::dataset::add;
use crate::digest::Blake3Hash;
use crate::error::{Error, Result};
use crate::file_hash::{CHUNK_AVG, chunk_boundaries, hash_bytes};
use crate::options::Options;

/// Default number of timed runs (the best one is reported).
pub const DEFAULT_BENCH_RUNS: u32 = 3;

/// Size of the in-memory buffer used for per-stage rates.
const STAGE_SAMPLE: usize = 64 * 1024 * 1024;

/// Single-core throughput of each stage, in bytes per second.
#[derive(Debug, Clone, Serialize)]
pub struct StageRates {
    /// SHA-256 over the whole buffer.
    pub sha256: f64,
    /// BLAKE3 over 64 KiB pieces (the average chunk).
    pub blake3_chunks: f64,
    /// FastCDC v2020 boundary search alone.
    pub fastcdc: f64,
    /// The full per-file pipeline (all of the above) on one core.
    pub pipeline: f64,
}

/// What [`bench_hash`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Files in the directory.
    pub files: u64,
    /// Bytes in the directory.
    pub bytes: u64,
    /// Worker threads used.
    pub threads: usize,
    /// Timed runs.
    pub runs: u32,
    /// Wall time of the fastest run.
    #[serde(serialize_with = "secs")]
    pub best: Duration,
    /// `bytes / best`.
    pub bytes_per_sec: f64,
    /// `bytes_per_sec / threads`.
    pub bytes_per_sec_per_core: f64,
    /// The dataset root (so a bench run doubles as a determinism check).
    pub root: Blake3Hash,
    /// Per-stage single-core rates.
    pub stages: StageRates,
}

fn secs<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Hashes `dir` `runs` times (after one warm-up run) with `threads` workers
/// (`None` = all cores) and no cache, and measures each stage on one core.
pub fn bench_hash(dir: &Path, threads: Option<usize>, runs: u32) -> Result<BenchReport> {
    let mut options = Options::default();
    if let Some(n) = threads {
        options = options.with_threads(n);
    }
    let warm = add(dir, &options)?;
    let mut best = Duration::MAX;
    let mut report = warm;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        report = add(dir, &options)?;
        best = best.min(t.elapsed());
    }
    let bytes = report.stats.bytes_total;
    let used = report.stats.threads.max(1);
    let bytes_per_sec = bytes as f64 / best.as_secs_f64().max(1e-9);
    Ok(BenchReport {
        files: report.stats.files_total,
        bytes,
        threads: used,
        runs: runs.max(1),
        best,
        bytes_per_sec,
        bytes_per_sec_per_core: bytes_per_sec / used as f64,
        root: report.manifest.root(),
        stages: stage_rates()?,
    })
}

/// Per-stage single-core rates over a pseudo-random in-memory buffer.
pub fn stage_rates() -> Result<StageRates> {
    let mut data = vec![0u8; STAGE_SAMPLE];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 29) as u8;
    }
    let rate = |f: &dyn Fn()| {
        f(); // warm-up
        let t = Instant::now();
        f();
        data.len() as f64 / t.elapsed().as_secs_f64().max(1e-9)
    };
    let sha256 = rate(&|| {
        black_box(Sha256::digest(&data));
    });
    let blake3_chunks = rate(&|| {
        for c in data.chunks(CHUNK_AVG) {
            black_box(blake3::hash(c));
        }
    });
    let fastcdc = rate(&|| {
        black_box(chunk_boundaries(&data));
    });
    // One thread, so the pipeline's internal join does not use a second core.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::ThreadPool {
            threads: 1,
            reason: e.to_string(),
        })?;
    let pipeline = pool.install(|| {
        rate(&|| {
            black_box(hash_bytes(&data, false));
        })
    });
    Ok(StageRates {
        sha256,
        blake3_chunks,
        fastcdc,
        pipeline,
    })
}
