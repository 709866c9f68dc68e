//! The incremental cache: re-adding a large directory after changing one
//! file re-hashes only that file.
//!
//! An entry is trusted when the file's identity and stat data are unchanged:
//! `(path, size, mtime_ns, ctime_ns, inode, device)`. Any write changes mtime
//! and ctime; restoring mtime afterwards (`touch -d`, `tar`, `rsync -t`) still
//! changes ctime, and replacing the file changes the inode.
//!
//! Racy entries, as in git: a file modified within [`RACY_WINDOW`] before it
//! was hashed could be modified again within the same timestamp tick without
//! any stat change, so such an entry is stored but not trusted; the next run
//! hashes the file again (and then trusts it).
//!
//! Entries record the format version they were hashed in and whether they
//! carry a SHA-256, so a v1 entry is never served for v2 (nor the other way
//! round). Cache files of the earlier layout (cache version 1, written before
//! format v2 existed) are discarded as a whole.
//!
//! The cache is a JSON file named after the dataset directory's canonical
//! path, written to a temporary file and renamed into place, so a crash never
//! leaves a half-written cache. An unreadable cache is ignored, never fatal.
//! Whoever can write the cache can make `add` report wrong digests:
//! [`verify`](crate::verify) and proofs never need it.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::digest::{Blake3Hash, Sha256Hash};
use crate::file_hash::{ChunkRef, FileDigest, HashSpec};
use crate::stats::CacheStatus;

/// A cache entry is trusted only if the file's mtime is at least this much
/// older than the moment it was hashed (covers coarse 2 s timestamps, e.g. FAT).
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

const CACHE_FORMAT: &str = "cairn-data-cache";
const CACHE_VERSION: u32 = 2;

/// Stat data that must be unchanged for a cache entry to be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileKey {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
    dev: u64,
}

impl FileKey {
    /// `None` where the platform gives no inode/ctime: no caching there.
    #[cfg(unix)]
    pub(crate) fn of(m: &Metadata) -> Option<FileKey> {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        Some(FileKey {
            size: m.len(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        })
    }

    #[cfg(not(unix))]
    pub(crate) fn of(_m: &Metadata) -> Option<FileKey> {
        None
    }
}

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheEntry {
    key: FileKey,
    hashed_at_ns: i64,
    /// Dataset format version the digest is in.
    format: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<Sha256Hash>,
    root: Blake3Hash,
    chunk_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chunks: Option<Vec<ChunkRef>>,
}

impl CacheEntry {
    pub(crate) fn new(key: FileKey, hashed_at_ns: i64, spec: &HashSpec, d: &FileDigest) -> Self {
        CacheEntry {
            key,
            hashed_at_ns,
            format: spec.format.number(),
            sha256: d.sha256,
            root: d.root,
            chunk_count: d.chunk_count,
            chunks: d.chunks.clone(),
        }
    }

    fn digest(&self, spec: &HashSpec) -> FileDigest {
        let want_chunks = spec.keep_chunks;
        FileDigest {
            size: self.key.size,
            // Only what was asked for: a v2 manifest without SHA-256 stays without.
            sha256: if spec.sha256 || spec.format.requires_sha256() {
                self.sha256
            } else {
                None
            },
            root: self.root,
            chunk_count: self.chunk_count,
            chunks: if want_chunks {
                self.chunks.clone()
            } else {
                None
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    format: String,
    version: u32,
    /// Canonical path of the dataset the entries belong to.
    dataset: String,
    entries: BTreeMap<String, CacheEntry>,
}

/// The loaded cache of one dataset directory.
#[derive(Debug)]
pub(crate) struct Cache {
    file: PathBuf,
    dataset: String,
    entries: BTreeMap<String, CacheEntry>,
}

impl Cache {
    /// Loads the cache for `dataset` from `dir`; never fails (an unusable
    /// cache is reported in the status and ignored).
    pub(crate) fn load(dir: &Path, dataset: &Path) -> (Cache, CacheStatus) {
        let canonical = fs::canonicalize(dataset).unwrap_or_else(|_| dataset.to_path_buf());
        let dataset = canonical.to_string_lossy().into_owned();
        let name = blake3::hash(dataset.as_bytes()).to_hex();
        let file = dir.join(format!("cairn-data-cache-{}.json", &name[..16]));
        let mut cache = Cache {
            file,
            dataset,
            entries: BTreeMap::new(),
        };
        let text = match fs::read(&cache.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (cache, CacheStatus::Created);
            }
            Err(e) => {
                let reason = format!("cannot read {}: {e}", cache.file.display());
                return (cache, CacheStatus::Discarded { reason });
            }
        };
        let parsed: CacheFile = match serde_json::from_slice(&text) {
            Ok(p) => p,
            Err(e) => {
                let reason = format!("{} is not a valid cache file: {e}", cache.file.display());
                return (cache, CacheStatus::Discarded { reason });
            }
        };
        if parsed.format != CACHE_FORMAT || parsed.version != CACHE_VERSION {
            let reason = format!(
                "{} has format {} v{}, expected {CACHE_FORMAT} v{CACHE_VERSION}",
                cache.file.display(),
                parsed.format,
                parsed.version
            );
            return (cache, CacheStatus::Discarded { reason });
        }
        if parsed.dataset != cache.dataset {
            let reason = format!(
                "{} belongs to {}, not {}",
                cache.file.display(),
                parsed.dataset,
                cache.dataset
            );
            return (cache, CacheStatus::Discarded { reason });
        }
        cache.entries = parsed.entries;
        let entries = cache.entries.len() as u64;
        (cache, CacheStatus::Loaded { entries })
    }

    /// The cached digest of `rel`, if its stat data is unchanged, the entry
    /// is not racy, is in the wanted format, and has a chunk list and a
    /// SHA-256 when those are wanted.
    pub(crate) fn lookup(
        &self,
        rel: &str,
        key: &FileKey,
        spec: &HashSpec,
    ) -> Option<(FileDigest, &CacheEntry)> {
        let e = self.entries.get(rel)?;
        let racy = e.hashed_at_ns.saturating_sub(e.key.mtime_ns) < RACY_WINDOW.as_nanos() as i64;
        let want_sha = spec.sha256 || spec.format.requires_sha256();
        if e.key != *key
            || racy
            || e.format != spec.format.number()
            || (spec.keep_chunks && e.chunks.is_none())
            || (want_sha && e.sha256.is_none())
        {
            return None;
        }
        Some((e.digest(spec), e))
    }

    /// Replaces the cache file with `entries` (atomically: temp file + rename).
    pub(crate) fn store(&self, entries: BTreeMap<String, CacheEntry>) -> std::io::Result<()> {
        let body = CacheFile {
            format: CACHE_FORMAT.to_owned(),
            version: CACHE_VERSION,
            dataset: self.dataset.clone(),
            entries,
        };
        let bytes = serde_json::to_vec(&body).map_err(std::io::Error::other)?;
        if let Some(dir) = self.file.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = self
            .file
            .with_extension(format!("json.tmp-{}-{}", std::process::id(), now_ns()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.file)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}
