//! Merkle math for format v1: leaf and node encodings, roots, audit paths.
//!
//! Pure functions over 32-byte values, no I/O, so that a verifier (or another
//! implementation of the format) needs only this module and BLAKE3.
//!
//! Both trees in the format (the per-file tree over chunks and the dataset
//! tree over files) have the shape of RFC 6962 / RFC 9162 §2.1.1: for `n > 1`
//! leaves, split at `k`, the largest power of two smaller than `n`, and hash
//! `node(MTH(first k), MTH(rest))`. Every hash input starts with a one-byte
//! tag so that a leaf can never be mistaken for a node, a chunk leaf for a
//! file leaf, or an empty file for an empty dataset:
//!
//! ```text
//! tag 0x00  chunk leaf    BLAKE3(0x00 || chunk_hash[32] || u64le(chunk_len))
//! tag 0x01  inner node    BLAKE3(0x01 || left[32] || right[32])
//! tag 0x02  file leaf     BLAKE3(0x02 || u64le(len(path)) || path || u64le(size) || file_root[32] || sha256[32])
//! tag 0x03  empty file    BLAKE3(0x03)          (root of a file with no chunks)
//! tag 0x04  empty dataset BLAKE3(0x04)          (root of a dataset with no files)
//! ```

use crate::digest::{Blake3Hash, Sha256Hash};

/// Tag byte of a chunk leaf.
pub const TAG_CHUNK_LEAF: u8 = 0x00;
/// Tag byte of an inner node (both trees).
pub const TAG_NODE: u8 = 0x01;
/// Tag byte of a file leaf in the dataset tree.
pub const TAG_FILE_LEAF: u8 = 0x02;
/// Tag byte hashed alone to give the root of an empty file.
pub const TAG_EMPTY_FILE: u8 = 0x03;
/// Tag byte hashed alone to give the root of an empty dataset.
pub const TAG_EMPTY_DATASET: u8 = 0x04;

/// Leaf of a file's chunk tree: `BLAKE3(0x00 || chunk_hash || u64le(len))`.
pub fn chunk_leaf(chunk_hash: &Blake3Hash, len: u64) -> Blake3Hash {
    let mut buf = [0u8; 1 + 32 + 8];
    buf[0] = TAG_CHUNK_LEAF;
    buf[1..33].copy_from_slice(&chunk_hash.0);
    buf[33..].copy_from_slice(&len.to_le_bytes());
    blake3::hash(&buf).into()
}

/// Inner node: `BLAKE3(0x01 || left || right)`.
pub fn node(left: &Blake3Hash, right: &Blake3Hash) -> Blake3Hash {
    let mut buf = [0u8; 1 + 32 + 32];
    buf[0] = TAG_NODE;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    blake3::hash(&buf).into()
}

/// Leaf of the dataset tree for one file:
/// `BLAKE3(0x02 || u64le(len(path)) || path || u64le(size) || file_root || sha256)`.
pub fn file_leaf(path: &str, size: u64, file_root: &Blake3Hash, sha256: &Sha256Hash) -> Blake3Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[TAG_FILE_LEAF]);
    h.update(&(path.len() as u64).to_le_bytes());
    h.update(path.as_bytes());
    h.update(&size.to_le_bytes());
    h.update(&file_root.0);
    h.update(&sha256.0);
    h.finalize().into()
}

/// Root of a file with no bytes (and so no chunks): `BLAKE3(0x03)`.
pub fn empty_file_root() -> Blake3Hash {
    blake3::hash(&[TAG_EMPTY_FILE]).into()
}

/// Root of a dataset with no files: `BLAKE3(0x04)`.
pub fn empty_dataset_root() -> Blake3Hash {
    blake3::hash(&[TAG_EMPTY_DATASET]).into()
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// RFC 6962 tree hash of `leaves` (already leaf-hashed). `None` for no leaves:
/// the caller picks the empty root of its tree kind.
pub fn merkle_root(leaves: &[Blake3Hash]) -> Option<Blake3Hash> {
    match leaves.len() {
        0 => None,
        1 => Some(leaves[0]),
        n => {
            let k = split_point(n);
            let left = merkle_root(&leaves[..k])?;
            let right = merkle_root(&leaves[k..])?;
            Some(node(&left, &right))
        }
    }
}

/// Audit path (RFC 9162 §2.1.3.1 `PATH(m, D[n])`) of leaf `index`, leaf-side
/// sibling first. Empty for a one-leaf tree; `None` if `index` is out of range.
pub fn audit_path(leaves: &[Blake3Hash], index: usize) -> Option<Vec<Blake3Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    collect_path(leaves, index, &mut path);
    Some(path)
}

fn collect_path(leaves: &[Blake3Hash], index: usize, out: &mut Vec<Blake3Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    // Recurse first so that siblings come out bottom-up.
    if index < k {
        collect_path(&leaves[..k], index, out);
        out.extend(merkle_root(&leaves[k..]));
    } else {
        collect_path(&leaves[k..], index - k, out);
        out.extend(merkle_root(&leaves[..k]));
    }
}

/// Root implied by `leaf` at `index` in a tree of `tree_size` leaves with the
/// given audit path (RFC 9162 §2.1.3.2). `None` if the path does not fit the
/// index and size (wrong length, index out of range).
pub fn root_from_audit_path(
    leaf: &Blake3Hash,
    index: u64,
    tree_size: u64,
    path: &[Blake3Hash],
) -> Option<Blake3Hash> {
    if index >= tree_size {
        return None;
    }
    let mut f = index;
    let mut s = tree_size - 1;
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node(p, &r);
            // Skip levels where this subtree is the rightmost, unpaired one.
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

/// Builds an RFC 6962 root from leaves pushed one at a time in `O(log n)`
/// memory, so that hashing a huge file does not need its whole chunk list.
///
/// It keeps the roots of the perfect subtrees seen so far (like a binary
/// counter); folding them right to left at the end gives exactly
/// [`merkle_root`], because the RFC's split point is always the largest
/// perfect subtree on the left.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    peaks: Vec<Blake3Hash>,
    count: u64,
}

impl RootBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next leaf (already leaf-hashed).
    pub fn push(&mut self, leaf: Blake3Hash) {
        let mut h = leaf;
        let mut c = self.count;
        while c & 1 == 1 {
            // Invariant: one peak per set bit of `count`, so this pop succeeds.
            let left = self.peaks.pop().unwrap_or(h);
            h = node(&left, &h);
            c >>= 1;
        }
        self.peaks.push(h);
        self.count += 1;
    }

    /// Number of leaves pushed.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no leaf was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The root, or `None` if no leaf was pushed.
    pub fn finish(mut self) -> Option<Blake3Hash> {
        let mut acc = self.peaks.pop()?;
        while let Some(left) = self.peaks.pop() {
            acc = node(&left, &acc);
        }
        Some(acc)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leaves(n: usize) -> Vec<Blake3Hash> {
        (0..n as u64)
            .map(|i| chunk_leaf(&blake3::hash(&i.to_le_bytes()).into(), i))
            .collect()
    }

    #[test]
    fn split_point_is_largest_smaller_power_of_two() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
    }

    #[test]
    fn three_leaf_shape_is_rfc6962() {
        let l = leaves(3);
        // RFC 6962: MTH(d0,d1,d2) = node(node(d0,d1), d2).
        let expect = node(&node(&l[0], &l[1]), &l[2]);
        assert_eq!(merkle_root(&l), Some(expect));
    }

    #[test]
    fn tags_separate_domains() {
        assert_ne!(empty_file_root(), empty_dataset_root());
        // A chunk leaf is BLAKE3 over exactly 41 bytes starting with 0x00.
        let h = Blake3Hash([7; 32]);
        let mut raw = vec![0u8];
        raw.extend_from_slice(&[7; 32]);
        raw.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(
            chunk_leaf(&h, 5),
            Blake3Hash(*blake3::hash(&raw).as_bytes())
        );
    }

    #[test]
    fn path_length_mismatch_rejected() {
        let l = leaves(5);
        let p = audit_path(&l, 4).unwrap();
        let root = merkle_root(&l).unwrap();
        assert_eq!(root_from_audit_path(&l[4], 4, 5, &p), Some(root));
        let mut longer = p.clone();
        longer.push(l[0]);
        assert_eq!(root_from_audit_path(&l[4], 4, 5, &longer), None);
        assert_eq!(root_from_audit_path(&l[4], 4, 5, &p[..p.len() - 1]), None);
        assert_eq!(root_from_audit_path(&l[4], 5, 5, &p), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn builder_matches_recursive_root(n in 0usize..300) {
            let l = leaves(n);
            let mut b = RootBuilder::new();
            for x in &l {
                b.push(*x);
            }
            prop_assert_eq!(b.len(), n as u64);
            prop_assert_eq!(b.finish(), merkle_root(&l));
        }

        #[test]
        fn every_audit_path_verifies(n in 1usize..200, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let i = pick.index(n);
            let root = merkle_root(&l).unwrap();
            let p = audit_path(&l, i).unwrap();
            prop_assert_eq!(root_from_audit_path(&l[i], i as u64, n as u64, &p), Some(root));
            // Any other leaf value at that position yields another root.
            let wrong = node(&l[i], &l[i]);
            prop_assert_ne!(root_from_audit_path(&wrong, i as u64, n as u64, &p), Some(root));
        }
    }
}
