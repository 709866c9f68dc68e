//! The two format versions and what differs between them.
//!
//! | | version 1 | version 2 (written by default) |
//! |---|---|---|
//! | chunker | FastCDC v2020 (gear hash) | the windowed multiply test of [`cdc`](crate::cdc) |
//! | chunk sizes | 16 / 64 / 256 KiB | 16 / 64 / 256 KiB |
//! | per-file SHA-256 | always, part of the file leaf | only on request, not part of any leaf |
//! | chunk leaf tag | `0x00` | `0x10` |
//! | file leaf tag | `0x02` (with SHA-256) | `0x12` (without) |
//! | empty file / dataset | `0x03` / `0x04` | `0x13` / `0x14` |
//!
//! Inner nodes use tag `0x01` in both. Since every leaf and empty root is
//! tagged by version, a root of one version can never equal a root of the other.

use crate::digest::{Blake3Hash, Sha256Hash};
use crate::merkle::{TAG_CHUNK_LEAF, TAG_EMPTY_DATASET, TAG_EMPTY_FILE, TAG_FILE_LEAF};

/// Tag byte of a chunk leaf in format v2.
pub const TAG_CHUNK_LEAF_V2: u8 = 0x10;
/// Tag byte of a file leaf in format v2.
pub const TAG_FILE_LEAF_V2: u8 = 0x12;
/// Tag byte hashed alone to give the root of an empty file in format v2.
pub const TAG_EMPTY_FILE_V2: u8 = 0x13;
/// Tag byte hashed alone to give the root of an empty dataset in format v2.
pub const TAG_EMPTY_DATASET_V2: u8 = 0x14;

/// A manifest format version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Version 1: FastCDC chunks and SHA-256 of every file. Read and verified,
    /// written only when asked for.
    V1,
    /// Version 2: vectorised chunker, BLAKE3 only; SHA-256 per file on request.
    #[default]
    V2,
}

impl Format {
    /// The version number in manifests and proofs.
    pub fn number(self) -> u32 {
        match self {
            Format::V1 => 1,
            Format::V2 => 2,
        }
    }

    /// The format with this version number, if this build knows it.
    pub fn from_number(n: u32) -> Option<Format> {
        match n {
            1 => Some(Format::V1),
            2 => Some(Format::V2),
            _ => None,
        }
    }

    /// Whether every file entry of this format carries its SHA-256.
    pub fn requires_sha256(self) -> bool {
        self == Format::V1
    }

    /// Leaf of a file's chunk tree: `BLAKE3(tag || chunk_hash || u64le(len))`.
    pub fn chunk_leaf(self, chunk_hash: &Blake3Hash, len: u64) -> Blake3Hash {
        let mut buf = [0u8; 1 + 32 + 8];
        buf[0] = match self {
            Format::V1 => TAG_CHUNK_LEAF,
            Format::V2 => TAG_CHUNK_LEAF_V2,
        };
        buf[1..33].copy_from_slice(&chunk_hash.0);
        buf[33..].copy_from_slice(&len.to_le_bytes());
        blake3::hash(&buf).into()
    }

    /// Leaf of the dataset tree for one file. Version 1 hashes the SHA-256
    /// in (a missing one counts as all zeros, which no valid v1 manifest
    /// has); version 2 ignores it.
    pub fn file_leaf(
        self,
        path: &str,
        size: u64,
        file_root: &Blake3Hash,
        sha256: Option<&Sha256Hash>,
    ) -> Blake3Hash {
        let mut h = blake3::Hasher::new();
        h.update(&[match self {
            Format::V1 => TAG_FILE_LEAF,
            Format::V2 => TAG_FILE_LEAF_V2,
        }]);
        h.update(&(path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(&size.to_le_bytes());
        h.update(&file_root.0);
        if self == Format::V1 {
            h.update(&sha256.map(|s| s.0).unwrap_or([0; 32]));
        }
        h.finalize().into()
    }

    /// Root of a file with no bytes.
    pub fn empty_file_root(self) -> Blake3Hash {
        blake3::hash(&[match self {
            Format::V1 => TAG_EMPTY_FILE,
            Format::V2 => TAG_EMPTY_FILE_V2,
        }])
        .into()
    }

    /// Root of a dataset with no files.
    pub fn empty_dataset_root(self) -> Blake3Hash {
        blake3::hash(&[match self {
            Format::V1 => TAG_EMPTY_DATASET,
            Format::V2 => TAG_EMPTY_DATASET_V2,
        }])
        .into()
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle;

    #[test]
    fn v1_functions_are_the_merkle_module_ones() {
        let h = Blake3Hash([9; 32]);
        let s = Sha256Hash([3; 32]);
        assert_eq!(Format::V1.chunk_leaf(&h, 7), merkle::chunk_leaf(&h, 7));
        assert_eq!(
            Format::V1.file_leaf("a/b", 9, &h, Some(&s)),
            merkle::file_leaf("a/b", 9, &h, &s)
        );
        assert_eq!(Format::V1.empty_file_root(), merkle::empty_file_root());
        assert_eq!(
            Format::V1.empty_dataset_root(),
            merkle::empty_dataset_root()
        );
    }

    #[test]
    fn versions_never_share_leaves_or_empty_roots() {
        let h = Blake3Hash([9; 32]);
        let s = Sha256Hash([3; 32]);
        assert_ne!(Format::V1.chunk_leaf(&h, 7), Format::V2.chunk_leaf(&h, 7));
        assert_ne!(
            Format::V1.file_leaf("a", 1, &h, Some(&s)),
            Format::V2.file_leaf("a", 1, &h, Some(&s))
        );
        assert_ne!(Format::V1.empty_file_root(), Format::V2.empty_file_root());
        assert_ne!(
            Format::V1.empty_dataset_root(),
            Format::V2.empty_dataset_root()
        );
        // v2 leaves do not depend on the optional SHA-256.
        assert_eq!(
            Format::V2.file_leaf("a", 1, &h, Some(&s)),
            Format::V2.file_leaf("a", 1, &h, None)
        );
        assert_eq!(Format::from_number(2), Some(Format::V2));
        assert_eq!(Format::from_number(3), None);
    }
}
