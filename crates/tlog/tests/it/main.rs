//! Integration tests for cairn-tlog: known-answer vectors from the specs and
//! reference implementations, reference-model comparisons, and property tests.

mod checkpoint;
mod cosignature;
mod merkle;
mod note;
mod tiles;
mod tlog_proof;

/// Decode hex test vectors (test-only helper; panics on bad literals).
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex literal {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex literal"))
        .collect()
}

/// A 32-byte hash from a hex literal.
pub(crate) fn h(s: &str) -> cairn_tlog::Hash {
    unhex(s).try_into().expect("32-byte hex literal")
}

/// One shared tree of 2000 leaves (`leaf_hash` of the big-endian u64 index).
/// A [`cairn_tlog::MemoryTree`] answers for every smaller size too, so
/// property tests pick sizes without rebuilding trees.
pub(crate) fn shared_tree() -> &'static cairn_tlog::MemoryTree {
    static TREE: std::sync::OnceLock<cairn_tlog::MemoryTree> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        cairn_tlog::MemoryTree::from_leaves(
            (0..2000u64).map(|i| cairn_tlog::leaf_hash(&i.to_be_bytes())),
        )
    })
}

/// A deterministic Ed25519 key for tests.
pub(crate) fn test_key(n: u8) -> cairn_tlog::SigningKey {
    cairn_tlog::SigningKey::from_bytes(&[n; 32])
}
