//! Transparency-log math and formats for Cairn, with no I/O.
//!
//! Everything a log, a witness or a client must agree on byte for byte lives
//! here, and nothing else: no files, no HTTP, no clocks. Storage and serving
//! are built on top (`cairn-log`), which keeps this crate easy to test
//! exhaustively and to reuse in any transport.
//!
//! ```text
//!   entries ──leaf_hash──► MemoryTree / tiles ──► tree_root ──► Checkpoint
//!                               │                                 │ NoteSigner (log)
//!                               ├─► inclusion_proof ─┐            ▼
//!                               └─► consistency_proof│      signed Note ◄── Cosigner (witness)
//!                                                    ▼            │
//!                                         TlogProof (index + proof + note)
//! ```
//!
//! | module | spec |
//! |---|---|
//! | [`hash`], [`proof`], [`memory`] | RFC 6962 / RFC 9162 Merkle trees |
//! | [`tile`], [`bundle`] | C2SP tlog-tiles |
//! | [`note`] | C2SP signed-note (Go `sumdb/note` compatible) |
//! | [`checkpoint`] | C2SP tlog-checkpoint |
//! | [`cosignature`] | C2SP tlog-cosignature v1 (Ed25519) |
//! | [`tlog_proof`] | C2SP tlog-proof@v1 |
//! | [`entry`] | Cairn's 74-byte log entry (kind, envelope and signer digests, time) |
//!
//! # Example
//!
//! ```
//! use cairn_tlog::*;
//!
//! # fn main() -> cairn_tlog::Result<()> {
//! // A log appends entries and signs a checkpoint.
//! let mut tree = MemoryTree::new();
//! for entry in [&b"alpha"[..], b"beta", b"gamma"] {
//!     tree.push(leaf_hash(entry));
//! }
//! let log = NoteSigner::generate("example.com/log")?;
//! let checkpoint = Checkpoint::new("example.com/log", tree.len(), tree.root());
//! let mut note = checkpoint.sign(&log)?;
//!
//! // A witness cosigns it.
//! let witness = Cosigner::generate("witness.example/w1")?;
//! note.add_signature(witness.cosign(&note.text, 1_700_000_000)?);
//!
//! // The log hands out an offline-verifiable proof for entry 1.
//! let proof = TlogProof::new(1, inclusion_proof(&tree, 1, tree.len())?, note.to_string());
//! let text = proof.format();
//!
//! // A client checks it against the log key and the witness key.
//! let parsed = TlogProof::parse(&text)?;
//! let (cp, note) = parsed.verify(&leaf_hash(b"beta"), &log.verifier())?;
//! assert_eq!(cp.size, 3);
//! assert_eq!(witness.verifier().verify_note(&note)?, Some(1_700_000_000));
//! # Ok(())
//! # }
//! ```

pub mod bundle;
pub mod checkpoint;
pub mod cosignature;
pub mod entry;
pub mod error;
pub mod hash;
mod keys;
pub mod memory;
pub mod note;
pub mod proof;
pub mod tile;
pub mod tlog_proof;

/// The Ed25519 key types the signer and verifier constructors take.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

pub use bundle::{
    BundleEntries, MAX_ENTRY_SIZE, bundle_entries, decode_bundle, encode_bundle, push_bundle_entry,
};
pub use checkpoint::Checkpoint;
pub use cosignature::{CosignatureVerifier, Cosigner, MAX_TIMESTAMP, cosignature_timestamp};
pub use entry::{ENTRY_SIZE, EntryError, LogEntry, StatementKind};
pub use error::{Error, ProofError, Result};
pub use hash::{HASH_SIZE, Hash, empty_root, leaf_hash, node_hash};
pub use memory::MemoryTree;
pub use note::{MAX_SIGNATURES, Note, NoteSignature, NoteSigner, NoteVerifier};
pub use proof::{
    NodeSource, consistency_proof, inclusion_proof, tree_root, verify_consistency, verify_inclusion,
};
pub use tile::{
    MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, TileId, TileNodeSource, TileParse, build_tile,
    tile_for_node, tiles_between, tiles_for_size,
};
pub use tlog_proof::{MAX_PROOF_HASHES, TLOG_PROOF_HEADER, TlogProof};
