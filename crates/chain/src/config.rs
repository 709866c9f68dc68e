//! Where the chain is and what it must look like.
use std::time::Duration;

/// RPC URL used when nothing else is configured: the local devnet's default port.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";

/// How long one RPC request may take before the command gives up with a clear error.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// JSON-RPC endpoint (`http://` or `https://`).
    pub rpc_url: String,
    /// The chain id the caller expects; a different answer from the endpoint is an error.
    /// `None` accepts whatever the endpoint reports.
    pub chain_id: Option<u64>,
    /// Deadline for each RPC request.
    pub timeout: Duration,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            rpc_url: DEFAULT_RPC_URL.to_owned(),
            chain_id: None,
            timeout: DEFAULT_RPC_TIMEOUT,
        }
    }
}

impl ChainConfig {
    /// A config for `rpc_url` with the default timeout and no chain-id expectation.
    pub fn new(rpc_url: impl Into<String>) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            ..Self::default()
        }
    }

    /// Expect this chain id.
    pub fn with_chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = Some(chain_id);
        self
    }

    /// Use this per-request deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
