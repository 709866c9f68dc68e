//! Hashing a whole directory: walk, cache lookup, parallel hashing, manifest.
//!
//! ```text
//!  walk (sorted paths) ─▶ cache lookup ─┬─ hit ──────────────────────────────┐
//!                                       └─ miss ─▶ rayon: hash files, largest ├─▶ Manifest::from_entries_in ─▶ root
//!                                                  first (each big file also   │
//!                                                  hashes its chunks in        │
//!                                                  parallel)                   ┘
//! ```
//!
//! Files are handed to the pool largest first so that one huge file does not
//! start last and leave the other cores idle at the end.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::cache::{Cache, CacheEntry, FileKey, now_ns};
use crate::digest::Blake3Hash;
use crate::error::{Error, Result};
use crate::file_hash::{FileDigest, Scratch, hash_reader};
use crate::format::Format;
use crate::manifest::{DatasetDiff, FileEntry, Manifest};
use crate::options::{Options, Progress};
use crate::proof::FileProof;
use crate::stats::{CacheStatus, Stats};
use crate::walk::{DirId, Found, walk};

/// The result of [`add`]: the manifest (with the dataset root) and what it cost.
#[derive(Debug, Clone)]
pub struct AddReport {
    /// The dataset's manifest; `manifest.root()` is the dataset root.
    pub manifest: Manifest,
    /// Counters: files hashed vs reused, bytes hashed, time.
    pub stats: Stats,
}

/// What [`verify`] compares the directory against.
#[derive(Debug, Clone, Copy)]
pub enum Expected<'a> {
    /// Only a root: the report says match or mismatch, not which files differ.
    /// The directory is hashed in the format of [`Options::format`]; if that
    /// does not give the root, it is hashed once more in the other format
    /// (a root alone does not say its version).
    Root(Blake3Hash),
    /// A manifest: the report also lists added, removed and modified paths.
    /// The directory is hashed in the manifest's format, with SHA-256 if the
    /// manifest records any, so recorded SHA-256 values are checked too.
    Manifest(&'a Manifest),
}

/// The result of [`verify`]. A mismatch is a normal outcome, not an error.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The root the directory was expected to have.
    pub expected_root: Blake3Hash,
    /// What the directory holds now (its root is `actual.root()`).
    pub actual: Manifest,
    /// Per-path differences; `None` when only a root was given.
    pub diff: Option<DatasetDiff>,
    /// Counters of the hashing run.
    pub stats: Stats,
}

impl VerifyReport {
    /// Whether the directory's root equals the expected root.
    pub fn matches(&self) -> bool {
        self.actual.root() == self.expected_root
    }
}

/// Hashes the dataset at `path` (a directory, or a single file) and returns
/// its manifest. With [`Options::cache_dir`], unchanged files are taken from
/// the cache and the cache is updated.
pub fn add(path: &Path, options: &Options) -> Result<AddReport> {
    let started = Instant::now();
    let exclude = options.cache_dir.as_deref().and_then(DirId::of);
    let walked = walk(path, options.symlinks, exclude)?;
    let (cache, cache_status) = match &options.cache_dir {
        Some(dir) => {
            let (c, s) = Cache::load(dir, path);
            (Some(c), s)
        }
        None => (None, CacheStatus::Disabled),
    };
    let files = &walked.files;
    let spec = options.spec();
    let bytes_total: u64 = files.iter().map(|f| f.meta.len()).sum();
    let progress = Tracker::new(options.progress.as_deref(), bytes_total);

    // Cache hits first; what is left goes to the pool.
    let mut digests: Vec<Option<FileDigest>> = vec![None; files.len()];
    let mut cache_entries: Vec<Option<CacheEntry>> = vec![None; files.len()];
    let mut todo = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let hit = cache.as_ref().and_then(|c| {
            let key = FileKey::of(&f.meta)?;
            c.lookup(&f.rel, &key, &spec)
        });
        match hit {
            Some((d, e)) => {
                progress.advance(d.size, &f.rel);
                digests[i] = Some(d);
                cache_entries[i] = Some(e.clone());
            }
            None => todo.push(i),
        }
    }
    todo.sort_by_key(|&i| std::cmp::Reverse(files[i].meta.len()));

    let threads = options.threads.unwrap_or_else(rayon::current_num_threads);
    let hashed: Vec<(usize, FileDigest, Option<CacheEntry>)> = {
        let job = || {
            todo.par_iter()
                .with_max_len(1)
                .map(|&i| hash_found(&files[i], options, &progress).map(|(d, e)| (i, d, e)))
                .collect::<Result<Vec<_>>>()
        };
        match options.threads {
            None => job()?,
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("cairn-data-{i}"))
                .build()
                .map_err(|e| Error::ThreadPool {
                    threads: n,
                    reason: e.to_string(),
                })?
                .install(job)?,
        }
    };

    let mut stats = Stats {
        files_total: files.len() as u64,
        files_hashed: hashed.len() as u64,
        files_reused: (files.len() - hashed.len()) as u64,
        bytes_total,
        threads,
        cache: cache_status,
        skipped_symlinks: walked.skipped_symlinks.clone(),
        ..Stats::default()
    };
    for (i, d, e) in hashed {
        stats.bytes_hashed += d.size;
        stats.chunks_hashed += d.chunk_count;
        digests[i] = Some(d);
        cache_entries[i] = e;
    }

    let mut entries = Vec::with_capacity(files.len());
    for (f, d) in files.iter().zip(digests) {
        // Every index was either a cache hit or hashed above.
        let Some(d) = d else { continue };
        entries.push(FileEntry {
            path: f.rel.clone(),
            size: d.size,
            sha256: d.sha256,
            root: d.root,
            chunk_count: d.chunk_count,
            chunks: d.chunks,
        });
    }
    let manifest = Manifest::from_entries_in(spec.format, entries)?;

    if let Some(cache) = &cache {
        let map: BTreeMap<String, CacheEntry> = files
            .iter()
            .zip(cache_entries)
            .filter_map(|(f, e)| Some((f.rel.clone(), e?)))
            .collect();
        if let Err(e) = cache.store(map) {
            stats.cache_write_error = Some(e.to_string());
        }
    }
    stats.elapsed = started.elapsed();
    Ok(AddReport { manifest, stats })
}

/// Hashes the directory again and compares it with `expected`. Never uses
/// a cache unless [`Options::cache_dir`] is set (leave it unset to verify
/// from the bytes alone).
pub fn verify(dir: &Path, expected: Expected<'_>, options: &Options) -> Result<VerifyReport> {
    let (expected_root, diff, report) = match expected {
        Expected::Root(r) => {
            let mut report = add(dir, options)?;
            if report.manifest.root() != r {
                let other = match options.format {
                    Format::V1 => Format::V2,
                    Format::V2 => Format::V1,
                };
                let again = add(dir, &options.clone().with_format(other))?;
                if again.manifest.root() == r {
                    report = again;
                }
            }
            (r, None, report)
        }
        Expected::Manifest(m) => {
            let opts = options
                .clone()
                .with_format(m.format())
                .with_sha256(m.has_sha256());
            let report = add(dir, &opts)?;
            (m.root(), Some(m.diff(&report.manifest)), report)
        }
    };
    Ok(VerifyReport {
        expected_root,
        actual: report.manifest,
        diff,
        stats: report.stats,
    })
}

/// Hashes the dataset at `dir` and returns a membership proof for `file`.
///
/// `file` may be a dataset-relative path (`sub/x.bin`), or a path (absolute,
/// or relative to the current directory) that lies inside `dir`.
pub fn prove(dir: &Path, file: &Path, options: &Options) -> Result<FileProof> {
    let report = add(dir, options)?;
    let m = &report.manifest;
    if let Some(s) = file.to_str()
        && m.file(s).is_some()
    {
        return m.prove(s);
    }
    let rel = relative_to(dir, file)?;
    m.prove(&rel)
}

/// The dataset-relative path of `file` inside `dir` (both resolved on disk).
fn relative_to(dir: &Path, file: &Path) -> Result<String> {
    let dir_c = std::fs::canonicalize(dir).map_err(|e| Error::io("resolve", dir, e))?;
    let file_c = std::fs::canonicalize(file).map_err(|e| Error::io("resolve", file, e))?;
    if dir_c.is_file() {
        // A one-file dataset: its only path is the file's name.
        if file_c == dir_c {
            let name = dir_c.file_name().and_then(|n| n.to_str());
            return name.map(str::to_owned).ok_or_else(|| Error::NonUtf8Path {
                path: dir_c.clone(),
            });
        }
        return Err(Error::OutsideDataset {
            path: file.into(),
            dir: dir.into(),
        });
    }
    let rel = file_c
        .strip_prefix(&dir_c)
        .map_err(|_| Error::OutsideDataset {
            path: file.into(),
            dir: dir.into(),
        })?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| Error::NonUtf8Path { path: file.into() })?,
            ),
            _ => {
                return Err(Error::OutsideDataset {
                    path: file.into(),
                    dir: dir.into(),
                });
            }
        }
    }
    Ok(parts.join("/"))
}

/// Shares the progress counter between workers.
struct Tracker<'a> {
    hook: Option<&'a dyn Progress>,
    done: AtomicU64,
    total: u64,
}

impl<'a> Tracker<'a> {
    fn new(hook: Option<&'a dyn Progress>, total: u64) -> Self {
        Tracker {
            hook,
            done: AtomicU64::new(0),
            total,
        }
    }

    fn advance(&self, bytes: u64, current: &str) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(h) = self.hook {
            h.update(done, self.total, current);
        }
    }
}

thread_local! {
    /// One read buffer per worker thread. Taken out while in use, so a task
    /// stolen by this thread during a nested `join` simply allocates its own.
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Hashes one walked file, checking that it is still the file the walk saw
/// and that it did not change while being read.
fn hash_found(
    f: &Found,
    options: &Options,
    progress: &Tracker<'_>,
) -> Result<(FileDigest, Option<CacheEntry>)> {
    let hashed_at = now_ns();
    let file = File::open(&f.abs).map_err(|e| Error::io("open", &f.abs, e))?;
    let before = file
        .metadata()
        .map_err(|e| Error::io("read metadata of", &f.abs, e))?;
    let walked_id = crate::walk::file_id(&f.meta);
    if !before.is_file() || crate::walk::file_id(&before) != walked_id {
        return Err(Error::FileChanged {
            path: f.abs.clone(),
            detail: "it was replaced after the directory was listed".into(),
        });
    }
    let mut scratch = SCRATCH
        .with(|s| s.borrow_mut().take())
        .filter(|s| s.block_len() == options.read_block.max(crate::file_hash::CHUNK_MAX))
        .unwrap_or_else(|| Scratch::new(options.read_block));
    let spec = options.spec();
    let result = hash_reader(&file, &mut scratch, &spec, &mut |n| {
        progress.advance(n, &f.rel)
    });
    SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
    let digest = result.map_err(|e| Error::io("read", &f.abs, e))?;
    let after = file
        .metadata()
        .map_err(|e| Error::io("read metadata of", &f.abs, e))?;
    let key = FileKey::of(&before);
    if digest.size != before.len() || key != FileKey::of(&after) {
        return Err(Error::FileChanged {
            path: f.abs.clone(),
            detail: format!(
                "{} bytes read, size was {} before and {} after",
                digest.size,
                before.len(),
                after.len()
            ),
        });
    }
    let entry = key.map(|k| CacheEntry::new(k, hashed_at, &spec, &digest));
    Ok((digest, entry))
}
