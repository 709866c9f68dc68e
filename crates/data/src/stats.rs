//! What a hashing run did: how much was hashed vs reused from the cache.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// What happened with the incremental cache in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CacheStatus {
    /// No cache directory was given.
    #[default]
    Disabled,
    /// No cache file existed yet; one is written at the end.
    Created,
    /// A cache file was read.
    Loaded {
        /// Entries it held.
        entries: u64,
    },
    /// A cache file existed but was unusable (corrupt, other version, other
    /// dataset); it was ignored and is overwritten at the end.
    Discarded {
        /// Why it was ignored.
        reason: String,
    },
}

/// Counters of one run of [`add`](crate::add) or [`verify`](crate::verify).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Files in the dataset.
    pub files_total: u64,
    /// Files whose bytes were read and hashed.
    pub files_hashed: u64,
    /// Files taken unchanged from the cache.
    pub files_reused: u64,
    /// Bytes in the dataset.
    pub bytes_total: u64,
    /// Bytes read and hashed in this run.
    pub bytes_hashed: u64,
    /// Chunks hashed in this run.
    pub chunks_hashed: u64,
    /// Worker threads used.
    pub threads: usize,
    /// Wall time of the whole run, walk and cache included.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// What happened with the cache.
    pub cache: CacheStatus,
    /// Set if the updated cache could not be written (the result is still valid).
    pub cache_write_error: Option<String>,
    /// Symbolic links left out under [`SymlinkPolicy::Skip`](crate::SymlinkPolicy::Skip).
    pub skipped_symlinks: Vec<String>,
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Stats {
    /// Bytes hashed per second of wall time (0 if nothing was timed).
    pub fn hashed_bytes_per_sec(&self) -> f64 {
        let t = self.elapsed.as_secs_f64();
        if t > 0.0 {
            self.bytes_hashed as f64 / t
        } else {
            0.0
        }
    }
}
