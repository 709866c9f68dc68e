//! A transparency-log witness speaking C2SP tlog-witness.
//!
//! A witness keeps, per log origin, the latest checkpoint it cosigned. It cosigns a new
//! checkpoint only if the log's signature verifies against a trusted key and a Merkle
//! consistency proof links it to that latest one; then it records the new checkpoint durably
//! *before* answering, under one lock, so two racing requests can never roll its view back.
//! Clients that require witness cosignatures are thereby protected from split views: a log
//! would have to fork every witness they trust.
//!
//! ```text
//! POST /add-checkpoint
//!   old <size>\n  <base64 hash>\n* \n  <signed checkpoint note>
//! 200  — <witness> <base64 cosignature>\n     (tlog-cosignature/v1)
//! 400 bad request, or old size above the checkpoint size · 403 no trusted signature
//! 404 unknown origin · 409 old size mismatch, or the same size with another root (a fork)
//!     (body: the witness's size, "<size>\n", text/x.tlog.size — as tlog-witness says)
//! 422 consistency proof does not verify, a non-empty proof from size 0 or to the same size,
//!     a size-0 checkpoint without the empty-tree root
//!
//! GET /<lowercase hex SHA-256 of the origin>/checkpoint
//! 200  — the latest cosigned checkpoint, with the log's signature and the cosignature
//! ```

mod client;
mod protocol;
mod server;
mod state;

pub use client::{ClientError, submit_checkpoint};
pub use protocol::{AddCheckpoint, MAX_PROOF_LINES, WitnessError};
pub use server::router;
pub use state::{Witness, WitnessConfig};

/// The `<origin hash>` of the monitoring path: lowercase hex SHA-256 of the origin line.
pub fn origin_hash(origin: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(origin.as_bytes()))
}
