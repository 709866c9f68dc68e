//! RFC 6962 hashing.
//!
//! Leaves and interior nodes are hashed with different one-byte prefixes
//! (0x00 and 0x01) so that a leaf can never be passed off as a node (second
//! preimage protection, RFC 6962 section 2.1). These functions sit on the hot
//! path of proof verification, so they hash from fixed stack buffers and
//! never allocate.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// Size of a [`Hash`](type@Hash) in bytes.
pub const HASH_SIZE: usize = 32;

/// Hash of a log entry: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0x00])
        .chain_update(data)
        .finalize()
        .into()
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)`.
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous buffer: sha2 compresses the first 64 bytes straight from
    // it and pads the last byte, with no intermediate copies.
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    buf[0] = 0x01;
    buf[1..1 + HASH_SIZE].copy_from_slice(left);
    buf[1 + HASH_SIZE..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_hash_matches_streamed_definition() {
        let l = [7u8; 32];
        let r = [9u8; 32];
        let want: Hash = Sha256::new()
            .chain_update([1u8])
            .chain_update(l)
            .chain_update(r)
            .finalize()
            .into();
        assert_eq!(node_hash(&l, &r), want);
        assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
    }

    #[test]
    fn leaf_and_node_are_domain_separated() {
        let mut data = vec![0u8; 64];
        data[..32].copy_from_slice(&[3u8; 32]);
        data[32..].copy_from_slice(&[4u8; 32]);
        assert_ne!(leaf_hash(&data), node_hash(&[3u8; 32], &[4u8; 32]));
    }
}
