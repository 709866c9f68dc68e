//! Errors of chain access. Each message says what was wrong and what to do about it.
use alloy::primitives::{Address, U256};
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to a chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The RPC URL does not parse.
    #[error("invalid RPC URL {url:?}: {reason}; use a URL like http://127.0.0.1:8545")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Nothing answered at the RPC URL (refused, timed out, or not a JSON-RPC server).
    #[error(
        "cannot reach the RPC endpoint at {url}: {reason}; start the devnet (`cairn devnet up`) or use a reachable RPC URL"
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The endpoint is a different chain than configured.
    #[error(
        "wrong chain at {url}: it reports chain id {actual}, but {expected} was expected; point the RPC URL at chain {expected}, or expect chain id {actual}"
    )]
    WrongChainId {
        /// The URL tried.
        url: String,
        /// The configured chain id.
        expected: u64,
        /// What the endpoint reported.
        actual: u64,
    },
    /// The key file could not be read.
    #[error(
        "cannot read key file {path}: {source}; use a readable file holding a 0x-prefixed hex private key"
    )]
    KeyFile {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key environment variable is not set.
    #[error(
        "environment variable {var} is not set; export it with a hex private key, or use a key file"
    )]
    KeyEnvMissing {
        /// The variable name.
        var: String,
    },
    /// A key was found but is not a valid secp256k1 private key. The key itself is never shown.
    #[error("the private key from {origin} is not a valid 32-byte hex secp256k1 key")]
    KeyInvalid {
        /// Where the key came from (a path or a variable name).
        origin: String,
    },
    /// The signing account has no ether to pay for gas.
    #[error(
        "account {address} has {balance} wei on chain {chain_id}: fund it with ether for gas before sending transactions"
    )]
    Unfunded {
        /// The account.
        address: Address,
        /// Its balance.
        balance: U256,
        /// The chain.
        chain_id: u64,
    },
    /// An operation needs a signer but none was configured.
    #[error("this command sends transactions and needs a key: a key file, or {var} set to one")]
    NoSigner {
        /// The environment variable that would also work.
        var: &'static str,
    },
    /// A JSON-RPC call failed after the endpoint was reached.
    #[error("RPC call {call} failed at {url}: {reason}")]
    Rpc {
        /// What was being done.
        call: &'static str,
        /// The URL.
        url: String,
        /// The error reported.
        reason: String,
    },
    /// A transaction was mined but reverted.
    #[error("transaction {what} reverted (tx {tx_hash})")]
    Reverted {
        /// What the transaction was for.
        what: String,
        /// Its hash.
        tx_hash: String,
    },
    /// The deployment manifest could not be read or written.
    #[error("deployment manifest {path}: {reason}")]
    Manifest {
        /// The manifest path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
