//! Helpers shared by the integration tests.

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Deterministic incompressible bytes (xorshift64), independent of the crate.
pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes `bytes` at `dir/rel`, creating parent directories.
pub(crate) fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, bytes).unwrap();
}

/// Sets a file's mtime one hour into the past, so the cache does not treat
/// it as racily modified.
pub(crate) fn age(path: &Path) {
    let f = File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// [`age`] for every regular file below `dir`.
pub(crate) fn age_all(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            age_all(&e.path());
        } else if ft.is_file() {
            age(&e.path());
        }
    }
}

/// Independent Merkle root: RFC 6962's shape computed bottom-up (pair
/// neighbours, promote an unpaired last node), not by the crate's recursion.
pub(crate) fn bottom_up_root(leaves: &[[u8; 32]]) -> Option<[u8; 32]> {
    if leaves.is_empty() {
        return None;
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            if let [l, r] = pair {
                let mut h = blake3::Hasher::new();
                h.update(&[0x01]);
                h.update(l);
                h.update(r);
                next.push(*h.finalize().as_bytes());
            } else {
                next.push(pair[0]);
            }
        }
        level = next;
    }
    Some(level[0])
}

/// Independent FastCDC 2020 reference: the byte-at-a-time gear loop that the
/// crate's two-bytes-per-step scan is an optimisation of. Returns chunk lengths.
pub(crate) fn reference_chunk_lens(data: &[u8]) -> Vec<usize> {
    const MIN: usize = 16 * 1024;
    const AVG: usize = 64 * 1024;
    const MAX: usize = 256 * 1024;
    let (gear, _) = fastcdc::v2020::get_gear_with_seed(0);
    // avg = 2^16, normalization level 1: strict mask 17 bits, relaxed 15 bits.
    let mask_s = fastcdc::v2020::MASKS[17];
    let mask_l = fastcdc::v2020::MASKS[15];
    let mut lens = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        let end = rest.len().min(MAX);
        let mut len = end;
        if rest.len() > MIN {
            let center = AVG.min(end);
            // Candidates are tested in pairs, so an odd final byte is never a cut.
            let last_candidate = end & !1;
            let mut h: u64 = 0;
            for (i, &b) in rest.iter().enumerate().take(last_candidate).skip(MIN) {
                h = (h << 1).wrapping_add(gear[b as usize]);
                let mask = if i < center { mask_s } else { mask_l };
                if h & mask == 0 {
                    len = i;
                    break;
                }
            }
        }
        lens.push(len);
        pos += len;
    }
    lens
}

/// Independent file root: chunk with the reference chunker, BLAKE3 each
/// chunk, build leaves by hand, combine bottom-up.
pub(crate) fn reference_file_root(data: &[u8]) -> ([u8; 32], usize) {
    let mut leaves = Vec::new();
    let mut pos = 0;
    for len in reference_chunk_lens(data) {
        let c = blake3::hash(&data[pos..pos + len]);
        let mut input = vec![0x00];
        input.extend_from_slice(c.as_bytes());
        input.extend_from_slice(&(len as u64).to_le_bytes());
        leaves.push(*blake3::hash(&input).as_bytes());
        pos += len;
    }
    let n = leaves.len();
    let root = bottom_up_root(&leaves).unwrap_or(*blake3::hash(&[0x03]).as_bytes());
    (root, n)
}

/// Independent format v2 reference: the cut test written byte by byte from
/// the spec (README), one position at a time. Returns chunk lengths.
pub(crate) fn reference_chunk_lens_v2(data: &[u8]) -> Vec<usize> {
    const MIN: usize = 16 * 1024;
    const AVG: usize = 64 * 1024;
    const MAX: usize = 256 * 1024;
    const K: u32 = 0x9E37_79B1;
    let test = |b: &[u8], i: usize, threshold: u32| {
        let w = |k: usize| u32::from_le_bytes([b[k], b[k + 1], b[k + 2], b[k + 3]]);
        let x = w(i - 16).rotate_left(8)
            ^ w(i - 12).rotate_left(24)
            ^ w(i - 8)
            ^ w(i - 4).rotate_left(16);
        x.wrapping_mul(K) >= threshold
    };
    let mut lens = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let rest = &data[pos..];
        let end = rest.len().min(MAX);
        let mut len = end;
        if rest.len() > MIN {
            for i in MIN..end {
                let threshold = if i < AVG { 0xFFFF_8000 } else { 0xFFFE_0000 };
                if test(rest, i, threshold) {
                    len = i;
                    break;
                }
            }
        }
        lens.push(len);
        pos += len;
    }
    lens
}

/// Independent v2 file root (chunk leaf tag 0x10, empty file tag 0x13).
pub(crate) fn reference_file_root_v2(data: &[u8]) -> ([u8; 32], Vec<usize>) {
    let lens = reference_chunk_lens_v2(data);
    let mut leaves = Vec::new();
    let mut pos = 0;
    for &len in &lens {
        let c = blake3::hash(&data[pos..pos + len]);
        let mut input = vec![0x10];
        input.extend_from_slice(c.as_bytes());
        input.extend_from_slice(&(len as u64).to_le_bytes());
        leaves.push(*blake3::hash(&input).as_bytes());
        pos += len;
    }
    let root = bottom_up_root(&leaves).unwrap_or(*blake3::hash(&[0x13]).as_bytes());
    (root, lens)
}
