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
//! 400 bad request · 403 no trusted signature · 404 unknown origin
//! 409 old size mismatch (body: "<size>\n", text/x.tlog.size) or same size, other root
//! 422 consistency proof does not verify
//! ```

mod client;
mod protocol;
mod server;
mod state;

pub use client::{ClientError, submit_checkpoint};
pub use protocol::{AddCheckpoint, MAX_PROOF_LINES, WitnessError};
pub use server::router;
pub use state::{Witness, WitnessConfig};
