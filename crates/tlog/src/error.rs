//! Error types.
//!
//! Two enums, because they serve different callers. [`ProofError`] is what a
//! verifier gets back from [`verify_inclusion`](crate::verify_inclusion) and
//! [`verify_consistency`](crate::verify_consistency): it is small, `Copy`, and
//! costs nothing on the hot path. [`Error`] covers everything else (bad input
//! text, missing tree nodes, keys, signatures) and always says which field or
//! line was wrong, so a message can be shown to an operator as is.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a Merkle inclusion or consistency proof was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree (`index >= size`).
    #[error(
        "leaf index {index} is outside a tree of size {size}; the proof must be for a larger tree"
    )]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// The proof has the wrong number of hashes for the given index and sizes.
    #[error(
        "proof has {got} hashes but {expected} are needed for these sizes; it was made for another index or tree size"
    )]
    WrongLength {
        /// How many hashes a proof for these parameters has.
        expected: usize,
        /// How many hashes were given.
        got: usize,
    },
    /// Hashing the proof did not give the expected root.
    #[error("the proof does not lead to the expected root hash; the leaf, proof or root is wrong")]
    RootMismatch,
    /// A consistency proof was asked for from a larger tree to a smaller one.
    #[error(
        "old tree size {old} is larger than new tree size {new}; a log never shrinks, so swap the sizes or reject the checkpoint"
    )]
    SizeOrder {
        /// The old (first) tree size.
        old: u64,
        /// The new (second) tree size.
        new: u64,
    },
    /// Hashing the consistency proof did not give the old root.
    #[error("the consistency proof does not lead to the old root hash")]
    OldRootMismatch,
    /// Hashing the consistency proof did not give the new root.
    #[error("the consistency proof does not lead to the new root hash")]
    NewRootMismatch,
    /// Two checkpoints of the same size have different roots: the log forked.
    #[error("two trees of the same size have different root hashes: the log has forked")]
    SameSizeDifferentRoots,
}

/// Everything else that can go wrong: bad input, missing nodes, keys and signatures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Merkle proof did not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A [`NodeSource`](crate::NodeSource) has no hash for a node the computation needs.
    #[error(
        "no hash for tree node at level {level}, index {index}; the tree is smaller than the size asked for, or a tile is missing"
    )]
    MissingNode {
        /// Level of the node (0 = leaves).
        level: u8,
        /// Index of the node within its level.
        index: u64,
    },
    /// A leaf index is outside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// A consistency proof was requested from a larger tree to a smaller one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder {
        /// The old tree size.
        old: u64,
        /// The new tree size.
        new: u64,
    },
    /// A node is not a complete subtree of the tree of the given size.
    #[error("tree node at level {level}, index {index} is not complete in a tree of size {size}")]
    NodeNotInTree {
        /// Level of the node.
        level: u8,
        /// Index of the node within its level.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tile path is not in the canonical C2SP tlog-tiles form.
    #[error("invalid tile path {path:?}: {detail}")]
    TilePath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Tile bytes do not have the length the tile's width requires.
    #[error(
        "tile {tile} has {got} bytes, expected {expected} (32 per hash); the tile is truncated or for another tree size"
    )]
    TileSize {
        /// Path of the tile.
        tile: String,
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// An entry bundle could not be encoded or decoded.
    #[error("entry bundle, entry {entry}: {detail}")]
    Bundle {
        /// Zero-based position of the entry within the bundle.
        entry: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// A signed note is not well formed.
    #[error("malformed signed note: {detail}")]
    Note {
        /// What is wrong, with the line where that helps.
        detail: String,
    },
    /// A key name is empty or contains whitespace or `+`.
    #[error(
        "invalid key name {name:?}: names must be non-empty and contain no spaces, control characters or '+'"
    )]
    KeyName {
        /// The name as given.
        name: String,
    },
    /// A verifier or signer key string could not be parsed.
    #[error("invalid {kind}: {detail}")]
    Key {
        /// Which kind of key ("verifier key", "signer key", ...).
        kind: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A signature from a known key failed to verify.
    #[error(
        "signature by {name} (key ID {key_id}) does not verify; the note was altered or signed by another key"
    )]
    BadSignature {
        /// The key name.
        name: String,
        /// The key ID in hex.
        key_id: String,
    },
    /// None of the signatures on a note is from a known key.
    #[error(
        "no signature on the note is from a known key (signers present: {present}); configure the right verifier key"
    )]
    NoKnownSignature {
        /// The names of the signers that were present, comma-separated.
        present: String,
    },
    /// A signature was checked with a verifier for another key.
    #[error(
        "signature is by {sig_name} (key ID {sig_id}) but the verifier is for {key_name} (key ID {key_id})"
    )]
    WrongKey {
        /// Name on the signature.
        sig_name: String,
        /// Key ID on the signature, in hex.
        sig_id: String,
        /// Name of the verifier.
        key_name: String,
        /// Key ID of the verifier, in hex.
        key_id: String,
    },
    /// A cosignature is malformed (wrong length, timestamp out of range).
    #[error("invalid cosignature by {name}: {detail}")]
    Cosignature {
        /// The cosigner name.
        name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A checkpoint body is not in the canonical C2SP tlog-checkpoint form.
    #[error("invalid checkpoint {line} line: {detail}")]
    Checkpoint {
        /// Which line: "origin", "size", "root hash", "extension" or "final".
        line: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A tlog-proof is not in the C2SP tlog-proof@v1 form.
    #[error("invalid tlog-proof, line {line}: {detail}")]
    TlogProof {
        /// One-based line number.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// The operating system's random number generator failed.
    #[error("could not get random bytes from the operating system: {0}")]
    Random(String),
}
