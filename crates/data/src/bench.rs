//! Measurements for `cairn bench data` and `cairn bench dedup`.
//!
//! [`bench_hash`] times the real pipeline ([`add`](crate::add) without a
//! cache) on a directory, alternating with a BLAKE3-only pass over the same
//! files (same threads, same reads): that pass is the ceiling for any format
//! that hashes every byte with BLAKE3, and the report gives Cairn's fraction
//! of it. [`stage_rates`] measures each stage alone on one core, so a slow
//! result can be attributed. [`bench_dedup`] measures how many chunks survive
//! edits, for the v2 chunker and FastCDC v2020 at the same sizes.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hint::black_box;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::cdc::{self, Kernel};
use crate::dataset::add;
use crate::digest::Blake3Hash;
use crate::error::{Error, Result};
use crate::file_hash::{
    CHUNK_AVG, DEFAULT_READ_BLOCK, HashSpec, Scratch, chunk_boundaries, hash_reader,
};
use crate::options::Options;
use crate::walk::{SymlinkPolicy, walk};

/// Default number of timed runs of each side (median and best are reported).
pub const DEFAULT_BENCH_RUNS: u32 = 3;

/// Size of the in-memory buffer used for per-stage rates.
const STAGE_SAMPLE: usize = 64 * 1024 * 1024;

/// Single-core throughput of each stage, in bytes per second.
#[derive(Debug, Clone, Serialize)]
pub struct StageRates {
    /// SHA-256 over the whole buffer (what format v1 and `--sha256` add).
    pub sha256: f64,
    /// BLAKE3 over 64 KiB pieces (the average chunk).
    pub blake3_chunks: f64,
    /// FastCDC v2020 boundary search alone (format v1).
    pub fastcdc: f64,
    /// The format v2 boundary search alone, with the kernel this CPU uses.
    pub cdc_v2: f64,
    /// The same with the portable scalar kernel.
    pub cdc_v2_scalar: f64,
    /// Which kernel `cdc_v2` used (`avx512`, `avx2`, `scalar`).
    pub kernel: &'static str,
    /// The full format v2 per-file pipeline (1 MiB blocks copied as a read
    /// would, cuts, BLAKE3, Merkle) on one core.
    pub pipeline: f64,
}

/// Throughput of one side of [`bench_hash`].
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// Wall time of the fastest run.
    #[serde(serialize_with = "secs")]
    pub best: Duration,
    /// Median wall time.
    #[serde(serialize_with = "secs")]
    pub median: Duration,
    /// `bytes / median`.
    pub bytes_per_sec: f64,
    /// `bytes_per_sec / threads`.
    pub bytes_per_sec_per_core: f64,
    /// Median CPU time (user + system, all threads) of a run, where the
    /// platform reports it (Linux); zero otherwise.
    #[serde(serialize_with = "secs")]
    pub cpu: Duration,
    /// `bytes / cpu`: throughput per busy core, which other load on the
    /// machine does not lower the way it lowers wall-clock rates (0 if unknown).
    pub bytes_per_cpu_sec: f64,
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
    /// Timed runs of each side.
    pub runs: u32,
    /// Format hashed in.
    pub format: u32,
    /// Whether SHA-256 per file was computed as well.
    pub sha256: bool,
    /// Cairn's dataset hashing (`add`, no cache).
    pub cairn: Side,
    /// BLAKE3 of every file, nothing else: the ceiling.
    pub blake3_only: Side,
    /// `cairn.bytes_per_sec / blake3_only.bytes_per_sec` (median wall times).
    pub fraction_of_blake3: f64,
    /// The same from CPU time (`bytes_per_cpu_sec`), steadier on a busy machine.
    pub fraction_of_blake3_cpu: f64,
    /// The dataset root (so a bench run doubles as a determinism check).
    pub root: Blake3Hash,
    /// Per-stage single-core rates.
    pub stages: StageRates,
}

fn secs<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn side(mut times: Vec<Duration>, mut cpu: Vec<Duration>, bytes: u64, threads: usize) -> Side {
    times.sort();
    cpu.sort();
    let median = times[times.len() / 2];
    let cpu = cpu.get(cpu.len() / 2).copied().unwrap_or_default();
    let bytes_per_sec = bytes as f64 / median.as_secs_f64().max(1e-9);
    Side {
        best: times[0],
        median,
        bytes_per_sec,
        bytes_per_sec_per_core: bytes_per_sec / threads.max(1) as f64,
        cpu,
        bytes_per_cpu_sec: if cpu.is_zero() {
            0.0
        } else {
            bytes as f64 / cpu.as_secs_f64()
        },
    }
}

/// CPU time (user + system) of this process so far, all threads, from
/// `/proc/self/stat` (Linux; clock ticks of 10 ms). `None` elsewhere.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime) are 11 and 12 after the name.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Runs `f`, returning its wall time and CPU time.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration, Option<Duration>)> {
    let c0 = process_cpu();
    let t = Instant::now();
    let out = f()?;
    let wall = t.elapsed();
    let cpu = match (c0, process_cpu()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Ok((out, wall, cpu))
}

fn pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>> {
    threads
        .map(|n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Error::ThreadPool {
                    threads: n,
                    reason: e.to_string(),
                })
        })
        .transpose()
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// BLAKE3 of every file under `dir`, read in 1 MiB blocks, files in parallel
/// (largest first), exactly as `add` reads them. Returns the bytes hashed.
pub fn blake3_only(dir: &Path, threads: Option<usize>) -> Result<u64> {
    let walked = walk(dir, SymlinkPolicy::Skip, None)?;
    let mut files: Vec<_> = walked.files.iter().collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.meta.len()));
    let job = || {
        files
            .par_iter()
            .with_max_len(1)
            .map(|f| {
                let mut file =
                    std::fs::File::open(&f.abs).map_err(|e| Error::io("open", &f.abs, e))?;
                BUF.with(|b| {
                    let mut buf = b.borrow_mut();
                    buf.resize(DEFAULT_READ_BLOCK, 0);
                    let mut h = blake3::Hasher::new();
                    let mut n = 0u64;
                    loop {
                        let k = file
                            .read(&mut buf)
                            .map_err(|e| Error::io("read", &f.abs, e))?;
                        if k == 0 {
                            break;
                        }
                        h.update(&buf[..k]);
                        n += k as u64;
                    }
                    black_box(h.finalize());
                    Ok(n)
                })
            })
            .sum::<Result<u64>>()
    };
    match pool(threads)? {
        Some(p) => p.install(job),
        None => job(),
    }
}

/// Hashes `dir` with `options` (no cache) and with BLAKE3 only, `runs`
/// times each, alternating, after one warm-up of each (so that the files
/// come from the page cache); also measures each stage on one core.
pub fn bench_hash(dir: &Path, options: &Options, runs: u32) -> Result<BenchReport> {
    let mut options = options.clone();
    options.cache_dir = None;
    options.progress = None;
    let runs = runs.max(1);
    let warm = add(dir, &options)?;
    blake3_only(dir, options.threads)?;
    let (mut cairn_t, mut b3_t) = (Vec::new(), Vec::new());
    let (mut cairn_c, mut b3_c) = (Vec::new(), Vec::new());
    let mut report = warm;
    for _ in 0..runs {
        let (r, wall, cpu) = timed(|| add(dir, &options))?;
        report = r;
        cairn_t.push(wall);
        cairn_c.extend(cpu);
        let (_, wall, cpu) = timed(|| blake3_only(dir, options.threads))?;
        b3_t.push(wall);
        b3_c.extend(cpu);
    }
    let bytes = report.stats.bytes_total;
    let threads = report.stats.threads.max(1);
    let cairn = side(cairn_t, cairn_c, bytes, threads);
    let blake3_only = side(b3_t, b3_c, bytes, threads);
    Ok(BenchReport {
        files: report.stats.files_total,
        bytes,
        threads,
        runs,
        format: options.format.number(),
        sha256: options.sha256 || options.format.requires_sha256(),
        fraction_of_blake3: cairn.bytes_per_sec / blake3_only.bytes_per_sec.max(1e-9),
        fraction_of_blake3_cpu: cairn.bytes_per_cpu_sec / blake3_only.bytes_per_cpu_sec.max(1e-9),
        cairn,
        blake3_only,
        root: report.manifest.root(),
        stages: stage_rates()?,
    })
}

/// Deterministic incompressible bytes (xorshift64).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 29) as u8
        })
        .collect()
}

/// Per-stage single-core rates over a pseudo-random in-memory buffer.
pub fn stage_rates() -> Result<StageRates> {
    let data = pseudo_random(STAGE_SAMPLE, 1);
    let rate = |f: &dyn Fn()| {
        f(); // warm-up
        let mut best = f64::MAX;
        for _ in 0..2 {
            let t = Instant::now();
            f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        data.len() as f64 / best.max(1e-9)
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
    let kernel = Kernel::detect();
    let cdc_v2 = rate(&|| {
        black_box(cdc::chunk_boundaries_v2(kernel, &data));
    });
    let cdc_v2_scalar = rate(&|| {
        black_box(cdc::chunk_boundaries_v2(Kernel::Scalar, &data));
    });
    // One thread, so the pipeline's parallel chunk hashing stays on one core.
    let pipeline = pool(Some(1))?
        .map(|p| {
            p.install(|| {
                rate(&|| {
                    let mut scratch = Scratch::new(DEFAULT_READ_BLOCK);
                    let _ = black_box(hash_reader(
                        &data[..],
                        &mut scratch,
                        &HashSpec::v2(),
                        &mut |_| {},
                    ));
                })
            })
        })
        .unwrap_or_default();
    Ok(StageRates {
        sha256,
        blake3_chunks,
        fastcdc,
        cdc_v2,
        cdc_v2_scalar,
        kernel: kernel.name(),
        pipeline,
    })
}

/// Default size of each file [`bench_dedup`] edits (64 MiB).
pub const DEFAULT_DEDUP_BYTES: usize = 64 * 1024 * 1024;
/// Default number of edits [`bench_dedup`] applies to each file.
pub const DEFAULT_DEDUP_EDITS: u32 = 150;

/// How one chunker fared on the edited files (counts summed over files).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChunkerDedup {
    /// Chunks of the originals.
    pub chunks_before: u64,
    /// Chunks of the edited files.
    pub chunks_after: u64,
    /// Chunks of the edited files found in their original.
    pub chunks_found: u64,
    /// Bytes of the edited files.
    pub bytes_after: u64,
    /// Bytes of the edited files in chunks found in their original.
    pub bytes_found: u64,
    /// Average chunk length of the edited files.
    pub avg_chunk: u64,
    /// `chunks_found / chunks_after`: the fraction of chunks reused.
    pub chunks_reused: f64,
    /// `bytes_found / bytes_after`.
    pub bytes_reused: f64,
}

impl ChunkerDedup {
    fn add(&mut self, o: &ChunkerDedup) {
        self.chunks_before += o.chunks_before;
        self.chunks_after += o.chunks_after;
        self.chunks_found += o.chunks_found;
        self.bytes_after += o.bytes_after;
        self.bytes_found += o.bytes_found;
        self.avg_chunk = self.bytes_after / self.chunks_after.max(1);
        self.chunks_reused = self.chunks_found as f64 / self.chunks_after.max(1) as f64;
        self.bytes_reused = self.bytes_found as f64 / self.bytes_after.max(1) as f64;
    }
}

/// [`bench_dedup`]'s result for one kind of data.
#[derive(Debug, Clone, Serialize)]
pub struct DedupReport {
    /// `random` (incompressible) or `text` (words, low entropy).
    pub data: &'static str,
    /// Size of each original.
    pub bytes: u64,
    /// Edits applied to each file (insertions, deletions, moved blocks).
    pub edits: u32,
    /// Files (each its own data and edit script).
    pub files: u32,
    /// The lowest per-file `v2 / FastCDC` ratio of chunks reused.
    pub min_file_ratio: f64,
    /// The format v2 chunker.
    pub v2: ChunkerDedup,
    /// FastCDC v2020 at the same sizes (16/64/256 KiB, normalization 1).
    pub fastcdc_v2020: ChunkerDedup,
    /// `v2.chunks_reused / fastcdc_v2020.chunks_reused` over all files
    /// (≥ 1: at least as good).
    pub ratio: f64,
}

/// A small xorshift generator for the edit script.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Text-like data: words of a fixed vocabulary, Zipf-like frequencies,
/// spaces, punctuation and line breaks.
fn text(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let vocab: Vec<Vec<u8>> = (0..4000)
        .map(|_| {
            let n = 2 + r.below(9);
            (0..n).map(|_| b'a' + r.below(26) as u8).collect()
        })
        .collect();
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let u = (r.next() >> 11) as f64 / (1u64 << 53) as f64;
        let w = &vocab[((u * u * u) * vocab.len() as f64) as usize % vocab.len()];
        out.extend_from_slice(w);
        out.push(match r.below(20) {
            0 => b'\n',
            1 => b',',
            2 => b'.',
            _ => b' ',
        });
    }
    out.truncate(len);
    out
}

/// Applies `edits` random insertions (1 B – 4 KiB), deletions (1 B – 4 KiB)
/// and block moves (1 – 256 KiB) to a copy of `data`.
fn edit(data: &[u8], edits: u32, seed: u64, random_inserts: bool) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut v = data.to_vec();
    for _ in 0..edits {
        match r.below(3) {
            0 => {
                let n = 1 + r.below(4096);
                let at = r.below(v.len() + 1);
                let ins: Vec<u8> = if random_inserts {
                    pseudo_random(n, r.next())
                } else {
                    text(n, r.next())
                };
                v.splice(at..at, ins);
            }
            1 => {
                let n = (1 + r.below(4096)).min(v.len());
                let at = r.below(v.len() - n + 1);
                v.drain(at..at + n);
            }
            _ => {
                let n = (1024 + r.below(255 * 1024)).min(v.len());
                let at = r.below(v.len() - n + 1);
                let block: Vec<u8> = v.drain(at..at + n).collect();
                let to = r.below(v.len() + 1);
                v.splice(to..to, block);
            }
        }
    }
    v
}

fn dedup_of<F: Fn(&[u8]) -> Vec<(usize, usize)>>(
    before: &[u8],
    after: &[u8],
    cut: &F,
) -> ChunkerDedup {
    let hashes = |d: &[u8]| -> Vec<(usize, [u8; 32])> {
        cut(d)
            .into_iter()
            .map(|(off, len)| (len, *blake3::hash(&d[off..off + len]).as_bytes()))
            .collect()
    };
    let old = hashes(before);
    let new = hashes(after);
    let known: HashSet<[u8; 32]> = old.iter().map(|c| c.1).collect();
    let reused: Vec<&(usize, [u8; 32])> = new.iter().filter(|c| known.contains(&c.1)).collect();
    let reused_bytes: usize = reused.iter().map(|c| c.0).sum();
    let mut d = ChunkerDedup::default();
    d.add(&ChunkerDedup {
        chunks_before: old.len() as u64,
        chunks_after: new.len() as u64,
        chunks_found: reused.len() as u64,
        bytes_after: after.len() as u64,
        bytes_found: reused_bytes as u64,
        ..ChunkerDedup::default()
    });
    d
}

/// Default number of files per kind of data in [`bench_dedup`].
pub const DEFAULT_DEDUP_FILES: u32 = 6;

/// Edits `files` files of `bytes` bytes `edits` times each and reports, for
/// the v2 chunker and FastCDC v2020, which fraction of the edited files'
/// chunks already existed in their original: for random data and for text.
/// Each file has its own data and edit script (seeds `seed`, `seed + 1`, …),
/// because one file's result varies by a few percent with its content.
pub fn bench_dedup(bytes: usize, edits: u32, seed: u64, files: u32) -> Vec<DedupReport> {
    let kernel = Kernel::detect();
    let v2 = move |d: &[u8]| cdc::chunk_boundaries_v2(kernel, d);
    let fast = |d: &[u8]| chunk_boundaries(d);
    let files = files.max(1);
    [("random", true), ("text", false)]
        .into_iter()
        .map(|(name, random)| {
            let per_file: Vec<(ChunkerDedup, ChunkerDedup)> = (0..files as u64)
                .into_par_iter()
                .map(|f| {
                    let s = seed.wrapping_add(f);
                    let before = if random {
                        pseudo_random(bytes, s)
                    } else {
                        text(bytes, s)
                    };
                    let after = edit(&before, edits, s ^ 0x5555, random);
                    (
                        dedup_of(&before, &after, &v2),
                        dedup_of(&before, &after, &fast),
                    )
                })
                .collect();
            let (mut a, mut b) = (ChunkerDedup::default(), ChunkerDedup::default());
            let mut min_file_ratio = f64::MAX;
            for (x, y) in &per_file {
                a.add(x);
                b.add(y);
                min_file_ratio = min_file_ratio.min(x.chunks_reused / y.chunks_reused.max(1e-12));
            }
            DedupReport {
                data: name,
                bytes: bytes as u64,
                edits,
                files,
                min_file_ratio,
                ratio: a.chunks_reused / b.chunks_reused.max(1e-12),
                v2: a,
                fastcdc_v2020: b,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_change_the_file_and_dedup_is_measured() {
        let r = bench_dedup(4 << 20, 6, 7, 2);
        assert_eq!(r.len(), 2);
        for d in &r {
            for c in [&d.v2, &d.fastcdc_v2020] {
                assert!(c.chunks_reused > 0.2 && c.chunks_reused < 1.0, "{d:?}");
                assert!(c.bytes_reused > 0.2 && c.bytes_reused < 1.0, "{d:?}");
            }
        }
    }

    #[test]
    fn blake3_only_reads_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), pseudo_random(3_000_000, 1)).unwrap();
        std::fs::write(dir.path().join("b"), b"xyz").unwrap();
        assert_eq!(blake3_only(dir.path(), Some(2)).unwrap(), 3_000_003);
    }
}
