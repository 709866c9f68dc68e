//! The trace a tensor job commits: an RFC 6962 Merkle tree (`cairn-tlog`'s hashing) whose
//! leaves are the checkpoint bytes, in step order. Its root is what the worker commits on chain
//! with the result; `trace.json` lists the leaves so anyone can check a checkpoint file
//! against the root.
use cairn_tlog::{MemoryTree, leaf_hash};
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

/// The name of checkpoint `i` (taken at `step`) among a train job's outputs.
pub fn checkpoint_name(step: u64) -> String {
    format!("checkpoints/{step:010}.bin")
}
