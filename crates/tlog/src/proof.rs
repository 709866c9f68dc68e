//! Merkle tree roots, inclusion proofs and consistency proofs (RFC 6962 /
//! RFC 9162).
//!
//! Proof *generation* works over any [`NodeSource`]: something that can hand
//! out the hash of a complete subtree, addressed by `(level, index)`. A
//! complete subtree is all the tree ever needs: the root of a tree of any
//! size, and every sibling in a proof, is either such a node or a fold of a
//! few of them along the tree's right edge. That makes the same code work over
//! an in-memory tree ([`MemoryTree`](crate::MemoryTree)), over tiles
//! ([`TileNodeSource`](crate::TileNodeSource)) or over a database.
//!
//! Proof *verification* needs no source at all, allocates nothing, and is the
//! hot path for clients:
//!
//! ```text
//!   leaf ──► node_hash with proof[0] ──► ... ──► proof[n-1] ──► root?
//!            (left or right decided by the bits of the index)
//! ```

use crate::error::{Error, ProofError, Result};
use crate::hash::{Hash, empty_root, node_hash};

/// Source of hashes of complete subtrees.
///
/// `node(level, index)` is the root of the complete subtree over the leaves
/// `[index << level, (index + 1) << level)`; level 0 holds the leaf hashes.
/// Implementations return [`Error::MissingNode`] for nodes they don't have.
pub trait NodeSource {
    /// The hash of the complete subtree at `level`, `index`.
    fn node(&self, level: u8, index: u64) -> Result<Hash>;
}

impl<T: NodeSource + ?Sized> NodeSource for &T {
    fn node(&self, level: u8, index: u64) -> Result<Hash> {
        (**self).node(level, index)
    }
}

/// Root hash of the tree made of the first `size` leaves of `src`.
///
/// The empty tree's root is [`empty_root`].
pub fn tree_root(src: &impl NodeSource, size: u64) -> Result<Hash> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// `MTH(D[lo..hi])` for a range that the RFC 6962 recursion produces: `lo` is
/// a multiple of the smallest power of two not below `hi - lo`, so the range
/// splits into complete subtrees, one per set bit of its length, largest
/// first. Folding them right to left gives the RFC's unbalanced-tree hash.
fn range_hash(src: &impl NodeSource, lo: u64, hi: u64) -> Result<Hash> {
    debug_assert!(lo < hi);
    let len = hi - lo;
    // Walk the set bits of `len` from the smallest (rightmost subtree) up.
    let mut bits = len;
    let mut end = hi;
    let mut acc: Option<Hash> = None;
    while bits != 0 {
        let level = bits.trailing_zeros();
        bits &= bits - 1;
        let start = end - (1u64 << level);
        let h = src.node(level as u8, start >> level)?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
        end = start;
    }
    acc.ok_or(Error::MissingNode {
        level: 0,
        index: lo,
    })
}

/// Largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Inclusion proof for leaf `index` in the tree of `size` leaves
/// (RFC 6962 section 2.1.1, `PATH(m, D[n])`): sibling hashes from the leaf
/// up to the root's child.
pub fn inclusion_proof(src: &impl NodeSource, index: u64, size: u64) -> Result<Vec<Hash>> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(64);
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// `PATH(m, D[lo..hi])`, appending deepest sibling first.
fn path(src: &impl NodeSource, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Result<()> {
    let n = hi - lo;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, lo, lo + k, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        path(src, m - k, lo + k, hi, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// Consistency proof between the trees of `old` and `new` leaves
/// (RFC 6962 section 2.1.2, `PROOF(m, D[n])`).
///
/// The proof is empty when `old == 0` or `old == new`.
pub fn consistency_proof(src: &impl NodeSource, old: u64, new: u64) -> Result<Vec<Hash>> {
    if old > new {
        return Err(Error::SizeOrder { old, new });
    }
    let mut proof = Vec::with_capacity(64);
    if old == 0 || old == new {
        return Ok(proof);
    }
    subproof(src, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

/// `SUBPROOF(m, D[lo..hi], b)`.
fn subproof(
    src: &impl NodeSource,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<()> {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(range_hash(src, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, lo, lo + k, whole, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        subproof(src, m - k, lo + k, hi, false, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// Bit length of `x` (0 for 0).
#[inline]
fn bit_len(x: u64) -> usize {
    (64 - x.leading_zeros()) as usize
}

/// Shape of an audit path from node `index` up to the root of a tree whose
/// last node at that level is `last`: the first `inner` levels are below the
/// point where the path joins the tree's right edge (sibling side given by
/// the index bits); then `border` levels on the right edge, where every
/// sibling is on the left.
#[inline]
fn path_shape(index: u64, last: u64) -> (usize, usize) {
    let inner = bit_len(index ^ last);
    // `inner` is 64 when the two differ in the top bit (trees of 2^63 + 1 leaves and more):
    // nothing is left above it, and a plain shift by 64 would overflow.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

/// Verify that `leaf` is at `index` in the tree of `size` leaves with root
/// `root`, given an RFC 6962 inclusion proof.
///
/// Allocates nothing; costs one SHA-256 node hash per proof element.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = path_shape(index, size - 1);
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            expected: inner + border,
            got: proof.len(),
        });
    }
    let mut h = *leaf;
    for (i, sibling) in proof[..inner].iter().enumerate() {
        h = if (index >> i) & 1 == 0 {
            node_hash(&h, sibling)
        } else {
            node_hash(sibling, &h)
        };
    }
    for sibling in &proof[inner..] {
        h = node_hash(sibling, &h);
    }
    if h == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verify that the tree of `old_size` leaves with root `old_root` is a prefix
/// of the tree of `new_size` leaves with root `new_root`, given an RFC 6962
/// consistency proof.
///
/// An empty old tree is consistent with everything (the proof must be
/// empty); equal sizes need equal roots and an empty proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots);
        }
        return Ok(());
    }

    // The old tree's rightmost complete subtree sits at level `shift` (the
    // lowest set bit of old_size), at node index `index` on that level. The
    // proof is then an inclusion proof of that node in the new tree, whose
    // left-hand siblings alone rebuild the old root.
    let shift = old_size.trailing_zeros();
    let index = (old_size - 1) >> shift;
    let last = (new_size - 1) >> shift;
    let (inner, border) = path_shape(index, last);

    // When the old tree is itself a complete subtree (index == 0) the proof
    // omits it: the verifier already has it as old_root.
    let (seed, rest) = if index == 0 {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => {
                return Err(ProofError::WrongLength {
                    expected: 1 + inner + border,
                    got: 0,
                });
            }
        }
    };
    if rest.len() != inner + border {
        return Err(ProofError::WrongLength {
            expected: proof.len() - rest.len() + inner + border,
            got: proof.len(),
        });
    }

    let mut old_h = *seed;
    let mut new_h = *seed;
    for (i, sibling) in rest[..inner].iter().enumerate() {
        if (index >> i) & 1 == 1 {
            old_h = node_hash(sibling, &old_h);
            new_h = node_hash(sibling, &new_h);
        } else {
            new_h = node_hash(&new_h, sibling);
        }
    }
    for sibling in &rest[inner..] {
        old_h = node_hash(sibling, &old_h);
        new_h = node_hash(sibling, &new_h);
    }
    if old_h != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if new_h != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryTree;
    use crate::hash::leaf_hash;

    #[test]
    fn huge_tree_sizes_do_not_overflow() {
        // Regression (found by fuzzing): sizes of 2^63 + 1 and more overflowed a shift.
        let big = (1u64 << 63) + 1;
        let e = verify_inclusion(&[0; 32], 0, big, &[], &[0; 32]).unwrap_err();
        assert!(
            matches!(e, ProofError::WrongLength { expected: 64, .. }),
            "{e:?}"
        );
        let e = verify_inclusion(&[0; 32], u64::MAX - 1, u64::MAX, &[], &[0; 32]).unwrap_err();
        assert!(matches!(e, ProofError::WrongLength { .. }), "{e:?}");
        for (old, new) in [(1, u64::MAX), (3, big), ((1 << 63) - 1, u64::MAX)] {
            assert!(verify_consistency(old, new, &[0; 32], &[1; 32], &[]).is_err());
        }
    }

    #[test]
    fn split_point_is_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn proof_lengths_match_generated_proofs() {
        let mut t = MemoryTree::new();
        for i in 0..70u32 {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        for size in 1..=70 {
            for index in 0..size {
                let p = inclusion_proof(&t, index, size).unwrap();
                let (inner, border) = path_shape(index, size - 1);
                assert_eq!(p.len(), inner + border, "index {index} size {size}");
            }
        }
    }

    #[test]
    fn generation_rejects_bad_ranges() {
        let mut t = MemoryTree::new();
        t.push(leaf_hash(b"a"));
        assert!(matches!(
            inclusion_proof(&t, 1, 1),
            Err(Error::IndexOutOfRange { index: 1, size: 1 })
        ));
        assert!(matches!(
            consistency_proof(&t, 2, 1),
            Err(Error::SizeOrder { old: 2, new: 1 })
        ));
        // Asking about a tree larger than the source has is a missing node.
        assert!(matches!(tree_root(&t, 2), Err(Error::MissingNode { .. })));
    }
}
