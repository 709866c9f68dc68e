//! The client side of Cairn's transparency log, without the server.
//!
//! ```text
//! CLI, agent, node ──LogClient──HTTP──▶ cairn-log-server
//!        │                                   │ bundle (envelope, key, entry, tlog-proof)
//!        └──Bundle::verify(TrustPolicy) ◀─────┘ offline: no log, no network
//! ```
//!
//! [`LogClient`] adds statements ([`Submission`]), fetches checkpoints, bundles, consistency
//! proofs, lineage and blobs. [`Bundle::verify`] checks a statement's signature, its inclusion
//! in a checkpoint signed by the trusted log key, and the witnesses' cosignatures, offline.
//! Nothing here links the log's engine, its storage or an HTTP server.

mod bundle;
mod client;

pub use bundle::{BUNDLE_MEDIA_TYPE, Bundle, BundleEntry, TrustPolicy, Verified};
pub use client::{ClientError, LogClient, Submission, SubmitResponse};
