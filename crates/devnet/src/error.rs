//! Devnet errors. Each says what was wrong and what to do.
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong running the devnet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No anvil binary was found.
    #[error(
        "anvil not found (looked for {searched} and on PATH): run `npm ci` in the repository root to install @foundry-rs/anvil-linux-amd64, or configure the path of an anvil binary"
    )]
    AnvilMissing {
        /// Where it was looked for.
        searched: String,
    },
    /// The configured anvil path does not exist or cannot run.
    #[error(
        "cannot start anvil at {path}: {source}; check the configured anvil path or run `npm ci`"
    )]
    AnvilSpawn {
        /// The binary.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Something else listens on the port.
    #[error(
        "port {port} on {host} is busy (another process listens there); stop it or pick another port"
    )]
    PortBusy {
        /// The interface.
        host: String,
        /// The port.
        port: u16,
    },
    /// A devnet with different settings already runs from this data directory.
    #[error(
        "a devnet with chain id {running} is already running at {url}; stop it with `cairn devnet down` before starting one with chain id {requested}"
    )]
    AlreadyRunning {
        /// Its RPC URL.
        url: String,
        /// Its chain id.
        running: u64,
        /// The chain id asked for.
        requested: u64,
    },
    /// anvil exited or never answered.
    #[error("anvil did not start: {reason}; its log is at {log}")]
    AnvilFailed {
        /// What happened, with the end of anvil's log.
        reason: String,
        /// Full log path.
        log: PathBuf,
    },
    /// A file under the data dir could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The candle file for a seed price is missing or malformed.
    #[error("seed prices: {path}: {reason}")]
    Prices {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The pair bytecode does not hash to what Router02 expects, so swaps could not route.
    #[error(
        "Uniswap V2 pair init-code hash {actual} differs from the one Router02 was built with ({expected}); reinstall @uniswap/v2-core and @uniswap/v2-periphery with `npm ci` and run `make contracts`"
    )]
    InitCodeHash {
        /// What Router02 expects.
        expected: String,
        /// What the factory's pair bytecode hashes to.
        actual: String,
    },
    /// The manifest names contracts the running chain does not have: the chain's state was
    /// lost (anvil was killed before it wrote its state file) or another chain answers.
    #[error(
        "the deployment manifest {path} names contracts that are not on the chain at {rpc_url} (its state was lost, or it is another chain); services started against them (a compute node's database, escrowed jobs) belong to the old chain. Redeploy the stack (the old manifest is kept beside it), and start the compute node with a fresh data directory"
    )]
    StaleManifest {
        /// The manifest.
        path: std::path::PathBuf,
        /// The chain that does not have its contracts.
        rpc_url: String,
    },
    /// The manifest's contracts were built from other code than this Cairn's (an older
    /// version): reusing them would leave clients calling functions they do not have.
    #[error(
        "the contracts in {path} were deployed by another version of Cairn; redeploy this version's stack (the old manifest is kept beside it), and start the compute node with a fresh data directory"
    )]
    ContractsChanged {
        /// The manifest.
        path: std::path::PathBuf,
    },
    /// A contract call or deployment failed.
    #[error("{what}: {reason}")]
    Contract {
        /// What was being done.
        what: String,
        /// The error.
        reason: String,
    },
    /// Chain access failed.
    #[error(transparent)]
    Chain(#[from] cairn_chain::Error),
}

impl Error {
    pub(crate) fn file(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Self::File {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn contract(what: impl Into<String>, reason: impl ToString) -> Self {
        Self::Contract {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
