//! An in-memory Merkle tree that keeps every complete subtree hash.
//!
//! Storing all levels costs about twice the leaf hashes (64 bytes per leaf)
//! and makes every [`NodeSource`] lookup a vector index. It is meant for
//! tests, small logs, and a sequencer's right edge; large logs keep their
//! hashes in tiles and read them through
//! [`TileNodeSource`](crate::TileNodeSource).
//!
//! ```text
//!   level 2:  n(2,0)
//!   level 1:  n(1,0)        n(1,1)
//!   level 0:  l0    l1      l2    l3    l4      <- push(l4) adds no parent yet
//! ```

use crate::error::{Error, Result};
use crate::hash::{Hash, node_hash};
use crate::proof::{NodeSource, tree_root};

/// In-memory tree of leaf hashes with every complete subtree hash cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[l][i]` is `node(l, i)`; `levels[0]` holds the leaf hashes.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree holding the given leaf hashes, in order.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut t = Self::new();
        for leaf in leaves {
            t.push(leaf);
        }
        t
    }

    /// Append a leaf hash; returns its index. Hashes every subtree that the
    /// new leaf completes (amortised one node hash per leaf).
    pub fn push(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let index = (self.levels[0].len() - 1) as u64;
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let n = self.levels[level].len();
            let parent = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
        index
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let i = usize::try_from(index).ok()?;
        self.levels.first()?.get(i).copied()
    }

    /// Root hash of the whole tree ([`empty_root`](crate::empty_root) when empty).
    pub fn root(&self) -> Hash {
        self.root_at(self.len())
            .expect("every complete subtree of the current size is stored")
    }

    /// Root hash of the tree made of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        tree_root(self, size)
    }
}

impl NodeSource for MemoryTree {
    fn node(&self, level: u8, index: u64) -> Result<Hash> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i).copied())
            .ok_or(Error::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{empty_root, leaf_hash};

    #[test]
    fn push_returns_indexes_and_builds_levels() {
        let mut t = MemoryTree::new();
        assert!(t.is_empty());
        assert_eq!(t.root(), empty_root());
        for i in 0..5u8 {
            assert_eq!(t.push(leaf_hash(&[i])), u64::from(i));
        }
        assert_eq!(t.len(), 5);
        let n01 = node_hash(&leaf_hash(&[0]), &leaf_hash(&[1]));
        let n23 = node_hash(&leaf_hash(&[2]), &leaf_hash(&[3]));
        assert_eq!(t.node(1, 0).unwrap(), n01);
        assert_eq!(t.node(2, 0).unwrap(), node_hash(&n01, &n23));
        assert!(t.node(1, 2).is_err(), "leaf 4 has no sibling yet");
        assert_eq!(
            t.root(),
            node_hash(&node_hash(&n01, &n23), &leaf_hash(&[4]))
        );
        assert_eq!(t.leaf(4), Some(leaf_hash(&[4])));
        assert_eq!(t.leaf(5), None);
    }
}
