//! Errors of the worker.
use std::path::PathBuf;

/// What can stop the worker (transient node and chain failures are retried, not returned).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node refused a request that retrying cannot fix.
    #[error(transparent)]
    Node(#[from] cairn_node_client::ClientError),
    /// The chain or the escrow contract refused.
    #[error(transparent)]
    Escrow(#[from] cairn_escrow::Error),
    /// The sandbox could not be set up on this host.
    #[error(transparent)]
    Sandbox(#[from] cairn_sandbox::Error),
    /// The local state file could not be read or written.
    #[error("worker state {}: {reason}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The configuration asks for something this machine or account cannot give.
    #[error("{0}")]
    Config(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
