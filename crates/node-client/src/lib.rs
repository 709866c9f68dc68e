//! The client side of a Cairn compute node, without the server.
//!
//! ```text
//! CLI, worker, tests ──NodeClient──HTTP (x-cairn-auth: signed)──▶ cairn-node
//! requester ──submit::{precheck, upload, escrow_and_submit}──▶ node + ComputeMarket
//! ```
//!
//! [`NodeClient`] reads jobs and providers and, with a key ([`NodeClient::with_signer`]),
//! signs the requests that act for an account ([`sign_request`]). [`submit`] is the
//! requester's flow from a `job.toml` to an escrowed job. The API types are
//! `cairn_compute::api`. Nothing here links axum, SQLite or the node's internals.

mod client;
mod sign;
pub mod submit;

pub use client::{ClientError, NodeClient};
pub use sign::sign_request;
