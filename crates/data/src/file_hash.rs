//! Hashing one file: content-defined chunk boundaries, BLAKE3 per chunk,
//! the chunk Merkle root, and (format v1, or when asked) SHA-256 of the whole
//! file — in one pass over cache-sized blocks.
//!
//! ```text
//!   file ──read 1 MiB blocks──▶ block ─┬─▶ SHA-256(update)            (only v1 or --sha256; beside)
//!                                      └─▶ cut points (v2: vector kernel, v1: FastCDC)
//!                                            └─▶ BLAKE3 of each chunk (in parallel for a big block)
//!                                                  └─▶ chunk leaf ─▶ RootBuilder
//! ```
//!
//! Why blocks and not whole files: memory stays bounded for any file size and
//! the reused buffer stays in L2, so the cut search and BLAKE3 read the bytes
//! from cache right after `read` wrote them there. Both chunkers decide each
//! cut from at most [`CHUNK_MAX`] bytes after the chunk start, so a cut found
//! with at least that many bytes ahead in the buffer is final; the unfinished
//! tail is moved to the front of the buffer and completed with the next block.
//! The result is exactly what chunking the whole file in memory gives.
//!
//! Why the chunks of a block are hashed in parallel: finding cuts is several
//! times faster than BLAKE3, so one large file would otherwise keep a single
//! core busy while the others idle.

use std::io::{self, Read};
use std::path::Path;

use fastcdc::v2020::{Normalization, cut, select_masks};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cdc::{self, Kernel};
use crate::digest::{Blake3Hash, Sha256Hash};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::merkle::RootBuilder;

/// Minimum chunk size of both formats (16 KiB).
pub const CHUNK_MIN: usize = 16 * 1024;
/// Average (target) chunk size of both formats (64 KiB).
pub const CHUNK_AVG: usize = 64 * 1024;
/// Maximum chunk size of both formats (256 KiB).
pub const CHUNK_MAX: usize = 256 * 1024;

const _: () =
    assert!(cdc::V2_MIN == CHUNK_MIN && cdc::V2_AVG == CHUNK_AVG && cdc::V2_MAX == CHUNK_MAX);

/// Default size of one read (and of the reused read buffer, plus
/// [`CHUNK_MAX`] for the carried tail). Large enough that syscalls and the
/// parallel hand-off cost little; small enough to stay in a core's L2.
pub const DEFAULT_READ_BLOCK: usize = 1024 * 1024;

/// Reads land at an address that is a multiple of this (a page), so the
/// kernel's copy from the page cache writes whole aligned lines.
const READ_ALIGN: usize = 4096;

/// Blocks smaller than this are hashed on one thread: splitting them would
/// cost more in hand-off than it saves.
const PARALLEL_MIN: usize = 512 * 1024;

/// What to compute for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashSpec {
    /// Chunker and leaf encoding.
    pub format: Format,
    /// Whether to compute SHA-256 of the whole file (always on for v1).
    pub sha256: bool,
    /// Whether to keep the chunk list.
    pub keep_chunks: bool,
}

impl HashSpec {
    /// Format v2 without SHA-256.
    pub fn v2() -> Self {
        HashSpec {
            format: Format::V2,
            sha256: false,
            keep_chunks: false,
        }
    }

    /// Format v1 (SHA-256 included, as v1 requires).
    pub fn v1() -> Self {
        HashSpec {
            format: Format::V1,
            sha256: true,
            keep_chunks: false,
        }
    }

    /// The same spec, keeping (or not) the chunk list.
    pub fn with_chunks(mut self, on: bool) -> Self {
        self.keep_chunks = on;
        self
    }

    /// The same spec, computing (or not) SHA-256; v1 always computes it.
    pub fn with_sha256(mut self, on: bool) -> Self {
        self.sha256 = on;
        self
    }

    fn wants_sha256(&self) -> bool {
        self.sha256 || self.format.requires_sha256()
    }
}

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

/// Everything a manifest records about one file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file, when it was computed.
    pub sha256: Option<Sha256Hash>,
    /// Merkle root over the chunk leaves (the format's empty-file root for an empty file).
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

/// The cut finder of a format.
#[derive(Clone, Copy)]
enum Chunker {
    FastCdc(Cdc),
    V2(Kernel),
}

impl Chunker {
    fn of(format: Format) -> Self {
        match format {
            Format::V1 => Chunker::FastCdc(Cdc::v1()),
            Format::V2 => Chunker::V2(Kernel::detect()),
        }
    }

    fn next_len(&self, data: &[u8]) -> usize {
        match self {
            Chunker::FastCdc(c) => c.next_len(data),
            Chunker::V2(k) => cdc::next_chunk_len(*k, data),
        }
    }
}

/// Receives chunks in order and folds them into the file root.
struct ChunkSink {
    format: Format,
    chunker: Chunker,
    root: RootBuilder,
    chunks: Option<Vec<ChunkRef>>,
    cuts: Vec<(usize, usize)>,
    hashes: Vec<Blake3Hash>,
}

impl ChunkSink {
    fn new(spec: &HashSpec) -> Self {
        ChunkSink {
            format: spec.format,
            chunker: Chunker::of(spec.format),
            root: RootBuilder::new(),
            chunks: spec.keep_chunks.then(Vec::new),
            cuts: Vec::new(),
            hashes: Vec::new(),
        }
    }

    /// Cuts and hashes the chunks of `data` whose cut point is final: all of
    /// them at end of file, otherwise those with [`CHUNK_MAX`] bytes ahead.
    /// Returns how many bytes were consumed.
    fn feed(&mut self, data: &[u8], eof: bool) -> usize {
        self.cuts.clear();
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            if rest.is_empty() || (!eof && rest.len() < CHUNK_MAX) {
                break;
            }
            let len = self.chunker.next_len(rest);
            self.cuts.push((pos, len));
            pos += len;
        }
        let hash = |&(off, len): &(usize, usize)| -> Blake3Hash {
            blake3::hash(&data[off..off + len]).into()
        };
        self.hashes.clear();
        if pos >= PARALLEL_MIN && self.cuts.len() > 1 && rayon::current_num_threads() > 1 {
            self.cuts
                .par_iter()
                .with_max_len(1)
                .map(hash)
                .collect_into_vec(&mut self.hashes);
        } else {
            self.hashes.extend(self.cuts.iter().map(hash));
        }
        for (&(_, len), hash) in self.cuts.iter().zip(&self.hashes) {
            self.root.push(self.format.chunk_leaf(hash, len as u64));
            if let Some(c) = &mut self.chunks {
                c.push(ChunkRef {
                    len: len as u64,
                    hash: *hash,
                });
            }
        }
        pos
    }

    fn finish(self, size: u64, sha256: Option<Sha256Hash>) -> FileDigest {
        let chunk_count = self.root.len();
        FileDigest {
            size,
            sha256,
            root: self
                .root
                .finish()
                .unwrap_or_else(|| self.format.empty_file_root()),
            chunk_count,
            chunks: self.chunks,
        }
    }
}

/// Hashes bytes already in memory in format v2 without SHA-256 (used for
/// proofs over a buffer and in tests).
pub fn hash_bytes(data: &[u8], keep_chunks: bool) -> FileDigest {
    hash_bytes_with(data, &HashSpec::v2().with_chunks(keep_chunks))
}

/// Hashes bytes already in memory as `spec` says.
pub fn hash_bytes_with(data: &[u8], spec: &HashSpec) -> FileDigest {
    let mut sink = ChunkSink::new(spec);
    if !spec.wants_sha256() {
        let consumed = sink.feed(data, true);
        debug_assert_eq!(consumed, data.len());
        return sink.finish(data.len() as u64, None);
    }
    let mut sha = Sha256::new();
    let consumed = if data.len() >= PARALLEL_MIN {
        rayon::join(|| sha.update(data), || sink.feed(data, true)).1
    } else {
        sha.update(data);
        sink.feed(data, true)
    };
    debug_assert_eq!(consumed, data.len());
    sink.finish(data.len() as u64, Some(Sha256Hash(sha.finalize().into())))
}

/// SHA-256 of a file, read in blocks (for a single file that becomes a subject).
pub fn sha256_file(path: &Path) -> Result<Sha256Hash> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; DEFAULT_READ_BLOCK];
    loop {
        let n = read_full(&mut file, &mut buf).map_err(|e| Error::io("read", path, e))?;
        sha.update(&buf[..n]);
        if n < buf.len() {
            break;
        }
    }
    Ok(Sha256Hash(sha.finalize().into()))
}

/// Opens and hashes one file in format v2 without SHA-256 (follows a
/// symlink if `path` is one).
pub fn hash_file(path: &Path, keep_chunks: bool) -> Result<FileDigest> {
    hash_file_with(path, &HashSpec::v2().with_chunks(keep_chunks))
}

/// Opens and hashes one file as `spec` says.
pub fn hash_file_with(path: &Path, spec: &HashSpec) -> Result<FileDigest> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut scratch = Scratch::new(DEFAULT_READ_BLOCK);
    hash_reader(file, &mut scratch, spec, &mut |_| {}).map_err(|e| Error::io("read", path, e))
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
            buf: vec![0; block + CHUNK_MAX + READ_ALIGN],
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
    spec: &HashSpec,
    on_bytes: &mut dyn FnMut(u64),
) -> io::Result<FileDigest> {
    let Scratch { buf, block } = scratch;
    let block = *block;
    let mut sink = ChunkSink::new(spec);
    let mut sha = spec.wants_sha256().then(Sha256::new);
    let mut size = 0u64;
    // buf[start..start + carry] holds bytes already fed to SHA-256 but not
    // yet chunked; `start` is chosen so that the next read lands aligned.
    let align_for = |buf: &[u8], carry: usize| {
        let addr = buf.as_ptr() as usize + carry;
        (READ_ALIGN - addr % READ_ALIGN) % READ_ALIGN
    };
    let mut start = align_for(buf, 0);
    let mut carry = 0usize;
    loop {
        let n = read_full(&mut reader, &mut buf[start + carry..start + carry + block])?;
        let eof = n < block;
        let filled = carry + n;
        let data = &buf[start..start + filled];
        let fresh = &data[carry..];
        let consumed = match &mut sha {
            None => sink.feed(data, eof),
            Some(sha) if n >= PARALLEL_MIN => {
                rayon::join(|| sha.update(fresh), || sink.feed(data, eof)).1
            }
            Some(sha) => {
                sha.update(fresh);
                sink.feed(data, eof)
            }
        };
        size += n as u64;
        on_bytes(n as u64);
        carry = filled - consumed;
        let next = align_for(buf, carry);
        buf.copy_within(start + consumed..start + filled, next);
        start = next;
        if eof {
            debug_assert_eq!(carry, 0, "all bytes are chunked at end of file");
            break;
        }
    }
    Ok(sink.finish(size, sha.map(|s| Sha256Hash(s.finalize().into()))))
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
        for spec in [
            HashSpec::v2(),
            HashSpec::v2().with_sha256(true),
            HashSpec::v1(),
        ] {
            let spec = spec.with_chunks(true);
            let whole = hash_bytes_with(&data, &spec);
            assert_eq!(whole.sha256.is_some(), spec.wants_sha256());
            for block in [CHUNK_MAX, CHUNK_MAX + 1, 300_001, 1 << 20, 8 << 20] {
                let mut s = Scratch::new(block);
                let mut seen = 0;
                let d = hash_reader(&data[..], &mut s, &spec, &mut |n| seen += n).unwrap();
                assert_eq!(d, whole, "block size {block}, {spec:?}");
                assert_eq!(seen, data.len() as u64);
            }
        }
        // The two formats cut differently and never share a root.
        assert_ne!(
            hash_bytes_with(&data, &HashSpec::v1()).root,
            hash_bytes(&data, false).root
        );
    }

    #[test]
    fn parallel_chunk_hashing_equals_one_thread() {
        let data = pseudo_random(5 * 1024 * 1024 + 3, 11);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| hash_bytes(&data, true));
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
            .install(|| hash_bytes(&data, true));
        assert_eq!(one, four);
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
