//! Cairn's transparency log: signed AI statements in a C2SP tlog-tiles log.
//!
//! The log speaks the formats of Sigstore Rekor v2, Trillian Tessera and Sigsum so existing
//! clients and witnesses can read it: RFC 6962 hashing, tlog-tiles paths and entry bundles,
//! signed-note checkpoints with tlog-cosignature witness signatures, tlog-proof offline proofs.
//! It adds what AI lineage needs: small entries pointing at DSSE envelopes kept in a
//! content-addressed store, and an index from every digest a statement names to its entries.
//!
//! Durability: an entry is acknowledged only after its group commit is `fdatasync`ed to the
//! journal ([`Log::add`]); tiles, bundles, checkpoints and the index are derived and rebuilt from
//! the journal on open. Storage of published resources sits behind [`LogStorage`].

pub mod bench;
mod config;
mod error;
mod index;
mod journal;
mod log;
mod storage;

pub use cairn_tlog::entry::{ENTRY_SIZE, LogEntry, StatementKind};
pub use config::{
    DEFAULT_BATCH_DELAY, DEFAULT_BATCH_MAX, DEFAULT_MAX_ENVELOPE_BYTES, LogConfig, MentionFn,
};
pub use error::{Error, Result};
pub use index::{LineageHit, Mention, Role};
pub use log::{AddRequest, Log, Sequenced};
pub use storage::{FsStorage, LogStorage};
