#![doc = include_str!("../README.md")]

mod bench;
mod cache;
pub mod cdc;
mod dataset;
pub mod digest;
mod error;
pub mod file_hash;
mod format;
mod manifest;
pub mod merkle;
mod options;
mod proof;
mod stats;
mod walk;

pub use bench::{
    BenchReport, ChunkerDedup, DEFAULT_BENCH_RUNS, DEFAULT_DEDUP_BYTES, DEFAULT_DEDUP_EDITS,
    DEFAULT_DEDUP_FILES, DedupReport, Side, StageRates, bench_dedup, bench_hash, blake3_only,
    stage_rates,
};
pub use cache::RACY_WINDOW;
pub use dataset::{AddReport, Expected, VerifyReport, add, prove, verify};
pub use digest::{Blake3Hash, Sha256Hash};
pub use error::{Error, ProofFailure, Result};
pub use file_hash::{
    ChunkRef, FileDigest, HashSpec, hash_bytes, hash_bytes_with, hash_file, hash_file_with,
    sha256_file,
};
pub use format::{
    Format, TAG_CHUNK_LEAF_V2, TAG_EMPTY_DATASET_V2, TAG_EMPTY_FILE_V2, TAG_FILE_LEAF_V2,
};
pub use manifest::{DatasetDiff, FORMAT_NAME, FORMAT_VERSION, FileEntry, Manifest};
pub use options::{DEFAULT_CHUNK_LISTS, DEFAULT_SHA256, DEFAULT_THREADS, Options, Progress};
pub use proof::{FileProof, FileSource, PROOF_FORMAT_NAME, ProvenFile, verify_file_proof};
pub use stats::{CacheStatus, Stats};
pub use walk::SymlinkPolicy;
