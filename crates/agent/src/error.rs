//! Errors of the agent and the market replay.
use alloy::primitives::Address;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop the agent or the replay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Chain access failed (the node did not answer, timed out, or refused a transaction).
    /// The agent retries these.
    #[error("chain: {0}")]
    Chain(String),
    /// The vault client failed.
    #[error(transparent)]
    Vault(#[from] cairn_vault::Error),
    /// The agent's state database failed.
    #[error("agent state {path}: {reason}")]
    Store {
        /// The database file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// A configuration that cannot work (an asset without a pool or feed, a plan that does not
    /// fit the vault, a state file of another plan).
    #[error("{0}")]
    Config(String),
    /// An amount that cannot become base units (negative, not finite, too large).
    #[error(
        "amount {amount} cannot be expressed in base units of a token with {decimals} decimals"
    )]
    Amount {
        /// The planner's number.
        amount: f64,
        /// The token's decimals.
        decimals: u8,
    },
    /// A contract answered something this crate cannot interpret.
    #[error("unexpected answer from {contract} ({what}): {reason}")]
    Unexpected {
        /// The contract.
        contract: Address,
        /// What was read.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The transparency log refused or did not take a statement.
    #[error("log: {0}")]
    Log(String),
}

impl Error {
    /// Whether waiting and trying again may help (the RPC endpoint or the log was unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Chain(_) | Error::Log(_))
            || matches!(self, Error::Vault(cairn_vault::Error::Chain(_)))
    }
}

impl From<cairn_chain::Error> for Error {
    fn from(e: cairn_chain::Error) -> Self {
        Error::Chain(e.to_string())
    }
}
