//! Hashing one file: FastCDC chunk boundaries, BLAKE3 per chunk, the chunk
//! Merkle root, and SHA-256 of the whole file — all in one pass.
//!
//! ```text
//!   file ──read 4 MiB blocks──▶ block ─┬─▶ SHA-256(update)              (thread A)
//!                                      └─▶ FastCDC cut ─▶ BLAKE3(chunk)  (thread B)
//!                                              └─▶ chunk leaf ─▶ RootBuilder
//! ```
//!
//! Why blocks and not whole files: memory stays bounded for any file size and
//! the reused buffer stays warm. FastCDC decides each cut from at most
//! [`CHUNK_MAX`] bytes after the chunk start, so a cut found with at least
//! that many bytes ahead in the buffer is final; the unfinished tail is moved
//! to the front of the buffer and completed with the next block. The result
//! is exactly what FastCDC gives over the whole file in memory.
//!
//! Why SHA-256 and chunking run side by side (`rayon::join`): SHA-256 is the
//! slowest stage (about 1.8 GB/s per core even with SHA-NI), so one large file
//! would otherwise be limited to a single core.

use std::io::{self, Read};
use std::path::Path;

use fastcdc::v2020::{Normalization, cut, select_masks};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::digest::{Blake3Hash, Sha256Hash};
use crate::error::{Error, Result};
use crate::merkle::{RootBuilder, chunk_leaf, empty_file_root};

/// FastCDC minimum chunk size in format v1 (16 KiB).
pub const CHUNK_MIN: usize = 16 * 1024;
/// FastCDC average (target) chunk size in format v1 (64 KiB).
pub const CHUNK_AVG: usize = 64 * 1024;
/// FastCDC maximum chunk size in format v1 (256 KiB).
pub const CHUNK_MAX: usize = 256 * 1024;

/// Default size of one read (and of the reused read buffer, plus
/// [`CHUNK_MAX`] for the carried tail). Large enough that syscalls and the
/// SHA-256/chunking hand-off cost nothing; small enough to stay in L3.
pub const DEFAULT_READ_BLOCK: usize = 4 * 1024 * 1024;

/// Blocks smaller than this are hashed on one thread: splitting them would
/// cost more in hand-off than it saves.
const PARALLEL_MIN: usize = 512 * 1024;

/// One chunk of a file, in file order (its offset is the sum of the lengths
/// before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkRef {
    /// Length in bytes.
    pub len: u64,
    /// BLAKE3 of the chunk's bytes.
    pub hash: Blake3Hash,
}

/// Everything format v1 records about one file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: Sha256Hash,
    /// Merkle root over the chunk leaves ([`empty_file_root`] for an empty file).
    pub root: Blake3Hash,
    /// Number of chunks.
    pub chunk_count: u64,
    /// The chunk list, when it was asked for.
    pub chunks: Option<Vec<ChunkRef>>,
}

/// The FastCDC v2020 parameters of format v1, precomputed.
#[derive(Clone, Copy)]
struct Cdc {
    mask_s: u64,
    mask_l: u64,
}

impl Cdc {
    fn v1() -> Self {
        let (mask_s, mask_l) = select_masks(CHUNK_AVG, Normalization::Level1);
        Cdc { mask_s, mask_l }
    }

    /// Length of the chunk starting at `data[0]` (all of `data` if short).
    fn next_len(&self, data: &[u8]) -> usize {
        let (_, len) = cut(
            data,
            CHUNK_MIN,
            CHUNK_AVG,
            CHUNK_MAX,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
        );
        len
    }
}

/// Chunk boundaries of `data` as `(offset, len)` pairs, exactly as format v1
/// cuts a file with these bytes.
pub fn chunk_boundaries(data: &[u8]) -> Vec<(usize, usize)> {
    let cdc = Cdc::v1();
    let mut out = Vec::with_capacity(data.len() / CHUNK_AVG + 1);
    let mut pos = 0;
    while pos < data.len() {
        let len = cdc.next_len(&data[pos..]);
        out.push((pos, len));
        pos += len;
    }
    out
}

/// Receives chunks in order and folds them into the file root.
struct ChunkSink {
    cdc: Cdc,
    root: RootBuilder,
    chunks: Option<Vec<ChunkRef>>,
}

impl ChunkSink {
    fn new(keep_chunks: bool) -> Self {
        ChunkSink {
            cdc: Cdc::v1(),
            root: RootBuilder::new(),
            chunks: keep_chunks.then(Vec::new),
        }
    }

    /// Cuts and hashes the chunks of `data` whose cut point is final: all of
    /// them at end of file, otherwise those with [`CHUNK_MAX`] bytes ahead.
    /// Returns how many bytes were consumed.
    fn feed(&mut self, data: &[u8], eof: bool) -> usize {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            if rest.is_empty() || (!eof && rest.len() < CHUNK_MAX) {
                return pos;
            }
            let len = self.cdc.next_len(rest);
            let hash: Blake3Hash = blake3::hash(&rest[..len]).into();
            self.root.push(chunk_leaf(&hash, len as u64));
            if let Some(c) = &mut self.chunks {
                c.push(ChunkRef {
                    len: len as u64,
                    hash,
                });
            }
            pos += len;
        }
    }

    fn finish(self, size: u64, sha256: Sha256Hash) -> FileDigest {
        let chunk_count = self.root.len();
        FileDigest {
            size,
            sha256,
            root: self.root.finish().unwrap_or_else(empty_file_root),
            chunk_count,
            chunks: self.chunks,
        }
    }
}

/// Hashes bytes already in memory (used for proofs over a buffer and in tests).
pub fn hash_bytes(data: &[u8], keep_chunks: bool) -> FileDigest {
    let mut sink = ChunkSink::new(keep_chunks);
    let mut sha = Sha256::new();
    let consumed = if data.len() >= PARALLEL_MIN {
        rayon::join(|| sha.update(data), || sink.feed(data, true)).1
    } else {
        sha.update(data);
        sink.feed(data, true)
    };
    debug_assert_eq!(consumed, data.len());
    sink.finish(data.len() as u64, Sha256Hash(sha.finalize().into()))
}

/// Opens and hashes one file (follows a symlink if `path` is one).
pub fn hash_file(path: &Path, keep_chunks: bool) -> Result<FileDigest> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut scratch = Scratch::new(DEFAULT_READ_BLOCK);
    hash_reader(file, &mut scratch, keep_chunks, &mut |_| {})
        .map_err(|e| Error::io("read", path, e))
}

/// A reusable read buffer: one per worker thread, so large files do not
/// allocate (and page-fault) a fresh buffer each time.
pub(crate) struct Scratch {
    buf: Vec<u8>,
    block: usize,
}

impl Scratch {
    pub(crate) fn new(block: usize) -> Self {
        let block = block.max(CHUNK_MAX);
        Scratch {
            buf: vec![0; block + CHUNK_MAX],
            block,
        }
    }

    /// Bytes read per block.
    pub(crate) fn block_len(&self) -> usize {
        self.block
    }
}

/// Reads until `buf` is full or the reader is at end of file.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Streams `reader` through the block pipeline. `on_bytes` is told how many
/// new bytes were hashed after every block (for progress bars).
pub(crate) fn hash_reader<R: Read>(
    mut reader: R,
    scratch: &mut Scratch,
    keep_chunks: bool,
    on_bytes: &mut dyn FnMut(u64),
) -> io::Result<FileDigest> {
    let Scratch { buf, block } = scratch;
    let block = *block;
    let mut sink = ChunkSink::new(keep_chunks);
    let mut sha = Sha256::new();
    let mut size = 0u64;
    // buf[..carry] holds bytes already fed to SHA-256 but not yet chunked.
    let mut carry = 0usize;
    loop {
        let n = read_full(&mut reader, &mut buf[carry..carry + block])?;
        let eof = n < block;
        let filled = carry + n;
        let data = &buf[..filled];
        let fresh = &data[carry..];
        let consumed = if n >= PARALLEL_MIN {
            rayon::join(|| sha.update(fresh), || sink.feed(data, eof)).1
        } else {
            sha.update(fresh);
            sink.feed(data, eof)
        };
        size += n as u64;
        on_bytes(n as u64);
        buf.copy_within(consumed..filled, 0);
        carry = filled - consumed;
        if eof {
            debug_assert_eq!(carry, 0, "all bytes are chunked at end of file");
            break;
        }
    }
    Ok(sink.finish(size, Sha256Hash(sha.finalize().into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic incompressible bytes (xorshift), no RNG dependency.
    pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    #[test]
    fn streaming_equals_in_memory_for_any_block_size() {
        let data = pseudo_random(3 * 1024 * 1024 + 12345, 7);
        let whole = hash_bytes(&data, true);
        for block in [CHUNK_MAX, CHUNK_MAX + 1, 300_001, 1 << 20, 8 << 20] {
            let mut s = Scratch::new(block);
            let mut seen = 0;
            let d = hash_reader(&data[..], &mut s, true, &mut |n| seen += n).unwrap();
            assert_eq!(d, whole, "block size {block}");
            assert_eq!(seen, data.len() as u64);
        }
    }

    #[test]
    fn chunks_respect_size_limits_and_cover_the_file() {
        let data = pseudo_random(2 * 1024 * 1024, 3);
        let b = chunk_boundaries(&data);
        let mut pos = 0;
        for (i, &(off, len)) in b.iter().enumerate() {
            assert_eq!(off, pos);
            assert!(len <= CHUNK_MAX);
            if i + 1 < b.len() {
                assert!(len >= CHUNK_MIN, "only the last chunk may be short");
            }
            pos += len;
        }
        assert_eq!(pos, data.len());
    }

    #[test]
    fn zeros_cut_at_max() {
        // Gear hash of zeros never hits the mask: every chunk is CHUNK_MAX long.
        let b = chunk_boundaries(&vec![0u8; CHUNK_MAX * 3 + 10]);
        let lens: Vec<usize> = b.iter().map(|x| x.1).collect();
        assert_eq!(lens, vec![CHUNK_MAX, CHUNK_MAX, CHUNK_MAX, 10]);
    }
}
