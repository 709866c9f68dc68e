//! Knobs for hashing a dataset, and the progress hook.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::file_hash::{DEFAULT_READ_BLOCK, HashSpec};
use crate::format::Format;
use crate::walk::SymlinkPolicy;

/// Default worker thread count: `None` means one per available core (rayon's
/// global pool).
pub const DEFAULT_THREADS: Option<usize> = None;

/// Whether manifests list every chunk by default. Off: chunk lists make a
/// manifest about 100 bytes per 64 KiB larger and the root does not need them.
pub const DEFAULT_CHUNK_LISTS: bool = false;

/// Whether format v2 manifests record each file's SHA-256 by default. Off:
/// SHA-256 is the slowest stage by far, and the dataset subject carries the
/// SHA-256 of the manifest anyway.
pub const DEFAULT_SHA256: bool = false;

/// Receives progress while a dataset is hashed. Called from worker threads,
/// after every read block (1 MiB) and once for all files taken from the cache.
///
/// Any `Fn(u64, u64, &str) + Send + Sync` closure is a `Progress`, so a CLI can
/// pass `move |done, total, file| { bar.set_length(total); bar.set_position(done); bar.set_message(file.to_owned()) }`
/// for an indicatif bar.
pub trait Progress: Send + Sync {
    /// `bytes_done` of `bytes_total` are hashed (or taken from the cache);
    /// `current` is the dataset path of the file that just advanced.
    fn update(&self, bytes_done: u64, bytes_total: u64, current: &str);
}

impl<F> Progress for F
where
    F: Fn(u64, u64, &str) + Send + Sync,
{
    fn update(&self, bytes_done: u64, bytes_total: u64, current: &str) {
        self(bytes_done, bytes_total, current)
    }
}

/// How to hash a dataset. Start from `Options::default()` and use the
/// `with_*` builders.
#[derive(Clone)]
pub struct Options {
    /// Worker threads; `None` = all cores ([`DEFAULT_THREADS`]).
    pub threads: Option<usize>,
    /// Directory for the incremental cache; `None` = no cache. If it lies
    /// inside the dataset directory it is left out of the dataset.
    pub cache_dir: Option<PathBuf>,
    /// What to do with symbolic links inside the dataset.
    pub symlinks: SymlinkPolicy,
    /// Whether manifest entries carry their chunk lists ([`DEFAULT_CHUNK_LISTS`]).
    pub chunk_lists: bool,
    /// The format version to hash in ([`Format::V2`] by default).
    pub format: Format,
    /// Whether to record each file's SHA-256 ([`DEFAULT_SHA256`]; format v1 always does).
    pub sha256: bool,
    /// Bytes per read ([`DEFAULT_READ_BLOCK`]); values below 256 KiB are raised to it.
    pub read_block: usize,
    /// Progress hook.
    pub progress: Option<Arc<dyn Progress>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: DEFAULT_THREADS,
            cache_dir: None,
            symlinks: SymlinkPolicy::default(),
            chunk_lists: DEFAULT_CHUNK_LISTS,
            format: Format::default(),
            sha256: DEFAULT_SHA256,
            read_block: DEFAULT_READ_BLOCK,
            progress: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("threads", &self.threads)
            .field("cache_dir", &self.cache_dir)
            .field("symlinks", &self.symlinks)
            .field("chunk_lists", &self.chunk_lists)
            .field("format", &self.format)
            .field("sha256", &self.sha256)
            .field("read_block", &self.read_block)
            .field("progress", &self.progress.as_ref().map(|_| "<hook>"))
            .finish()
    }
}

impl Options {
    /// Use exactly `n` worker threads (at least 1).
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// Keep the incremental cache in `dir` (created if missing).
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Set the symlink policy.
    pub fn with_symlinks(mut self, policy: SymlinkPolicy) -> Self {
        self.symlinks = policy;
        self
    }

    /// Record (or not) every chunk in the manifest.
    pub fn with_chunk_lists(mut self, on: bool) -> Self {
        self.chunk_lists = on;
        self
    }

    /// Hash in format `format` (v1 only to check old manifests and roots).
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Record (or not) each file's SHA-256 as well.
    pub fn with_sha256(mut self, on: bool) -> Self {
        self.sha256 = on;
        self
    }

    /// What to compute for each file.
    pub(crate) fn spec(&self) -> HashSpec {
        HashSpec {
            format: self.format,
            sha256: self.sha256 || self.format.requires_sha256(),
            keep_chunks: self.chunk_lists,
        }
    }

    /// Read `bytes` at a time.
    pub fn with_read_block(mut self, bytes: usize) -> Self {
        self.read_block = bytes;
        self
    }

    /// Report progress to `hook`.
    pub fn with_progress(mut self, hook: impl Progress + 'static) -> Self {
        self.progress = Some(Arc::new(hook));
        self
    }
}
