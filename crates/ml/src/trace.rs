//! The trace a tensor job commits: an RFC 6962 Merkle tree (`cairn-tlog`'s hashing) whose
//! leaves are the checkpoint bytes, in step order. Its root is what the worker commits on chain
//! with the result; `trace.json` lists the leaves so anyone can check a checkpoint file
//! against the root.
use crate::{Error, Result};
use cairn_tlog::{Hash, MemoryTree, inclusion_proof, leaf_hash};
use serde::{Deserialize, Serialize};

/// `trace.json`: the committed steps, the leaf hashes and the root (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceFile {
    /// Format marker, `cairn-trace/v1`.
    pub format: String,
    /// The step of each checkpoint.
    pub steps: Vec<u64>,
    /// RFC 6962 leaf hash of each checkpoint (hex).
    pub leaves: Vec<String>,
    /// The Merkle root over the leaves (hex): the committed trace root.
    pub root: String,
}

/// The Merkle root over `checkpoints` (RFC 6962: leaf hash of each, then node hashes).
pub fn trace_root(checkpoints: &[Vec<u8>]) -> [u8; 32] {
    MemoryTree::from_leaves(checkpoints.iter().map(|c| leaf_hash(c))).root()
}

impl TraceFile {
    /// The trace of `checkpoints` taken at `steps`.
    pub fn new(steps: Vec<u64>, checkpoints: &[Vec<u8>]) -> Self {
        let leaves: Vec<[u8; 32]> = checkpoints.iter().map(|c| leaf_hash(c)).collect();
        Self {
            format: "cairn-trace/v1".into(),
            steps,
            leaves: leaves.iter().map(hex::encode).collect(),
            root: hex::encode(MemoryTree::from_leaves(leaves).root()),
        }
    }
}

impl TraceFile {
    /// The leaf hashes, after checking the format, that there is one leaf per step and that
    /// they hash to [`TraceFile::root`].
    pub fn leaf_hashes(&self) -> Result<Vec<Hash>> {
        let bad = |d: String| Error::malformed("trace.json", d);
        if self.format != "cairn-trace/v1" {
            return Err(bad(format!(
                "format {:?} is not cairn-trace/v1",
                self.format
            )));
        }
        if self.leaves.len() != self.steps.len() || self.leaves.is_empty() {
            return Err(bad(format!(
                "{} leaves for {} steps",
                self.leaves.len(),
                self.steps.len()
            )));
        }
        let mut leaves = Vec::with_capacity(self.leaves.len());
        for (i, l) in self.leaves.iter().enumerate() {
            let mut h = [0u8; 32];
            hex::decode_to_slice(l, &mut h)
                .map_err(|_| bad(format!("leaf {i} is not 32 bytes of hex")))?;
            leaves.push(h);
        }
        if hex::encode(MemoryTree::from_leaves(leaves.iter().copied()).root()) != self.root {
            return Err(bad("the leaves do not hash to the root it states".into()));
        }
        Ok(leaves)
    }

    /// The committed root.
    pub fn root_bytes(&self) -> Result<Hash> {
        let mut h = [0u8; 32];
        hex::decode_to_slice(&self.root, &mut h)
            .map_err(|_| Error::malformed("trace.json", "the root is not 32 bytes of hex"))?;
        Ok(h)
    }
}

/// The RFC 6962 inclusion proof of leaf `index` among `leaves`.
pub fn proof(leaves: &[Hash], index: usize) -> Result<Vec<Hash>> {
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    inclusion_proof(&tree, index as u64, leaves.len() as u64)
        .map_err(|e| Error::malformed("trace", format!("no proof for leaf {index}: {e}")))
}

/// The name of checkpoint `i` (taken at `step`) among a train job's outputs.
pub fn checkpoint_name(step: u64) -> String {
    format!("checkpoints/{step:010}.bin")
}
