//! Errors of the vault client. A refused call names the contract's custom error, so callers
//! (the agent, the CLI, the attacker tests) can tell `OverBudget` from `StaleOracle` without
//! parsing text.
use alloy::primitives::Address;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to an `AgentVault`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Chain access failed (unreachable RPC, no signer, timeout, a mined transaction reverted).
    #[error(transparent)]
    Chain(#[from] cairn_chain::Error),
    /// The vault (or a contract it called: the token, the router) refused the call; nothing
    /// was mined.
    #[error("AgentVault at {contract} rejected {call}: {reason}")]
    Rejected {
        /// Vault address (the deployment's sender for a refused deployment).
        contract: Address,
        /// The function called.
        call: &'static str,
        /// The custom error's name (`"OverBudget"`, `"StaleOracle"`, `"EnforcedPause"`,
        /// `"ERC20InsufficientAllowance"`, ...), `"Error"` for a string revert (Router02's
        /// `INSUFFICIENT_OUTPUT_AMOUNT`), `"Panic"` for a panic; `None` when the revert carried
        /// nothing this crate can decode.
        revert: Option<&'static str>,
        /// The decoded revert with its arguments, or the transport's message.
        reason: String,
    },
    /// The chain answered with something this client cannot interpret: the address is probably
    /// not an `AgentVault` of this Cairn version.
    #[error(
        "unexpected answer from AgentVault at {contract} ({what}): {reason}; check that the address is an AgentVault of this Cairn version"
    )]
    Unexpected {
        /// Vault address.
        contract: Address,
        /// What was being read.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A request the vault would refuse anyway, caught before sending (an empty path, a
    /// deadline that does not fit, ...).
    #[error("invalid vault request: {0}")]
    Invalid(String),
}

impl Error {
    /// The contract's custom error name when the call was rejected with one.
    pub fn revert_name(&self) -> Option<&'static str> {
        match self {
            Error::Rejected { revert, .. } => *revert,
            _ => None,
        }
    }
}
