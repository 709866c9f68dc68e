//! Errors of the escrow client. A rejected call names the contract's custom error, so the
//! node can tell a lost race (`WrongState`) from a bug (`NotOperator`) without parsing text.
use alloy::primitives::Address;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to the `ComputeMarket`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Chain access failed (unreachable RPC, no signer, timeout, a mined transaction reverted).
    #[error(transparent)]
    Chain(#[from] cairn_chain::Error),
    /// The contract (or its token) refused the call; nothing was mined.
    #[error("ComputeMarket at {contract} rejected {call}: {reason}")]
    Rejected {
        /// Contract address.
        contract: Address,
        /// The function called.
        call: &'static str,
        /// The custom error's name (`"WrongState"`, `"ERC20InsufficientAllowance"`, ...), when
        /// the revert carried one this crate knows.
        revert: Option<&'static str>,
        /// The decoded revert with its arguments and a hint, or the transport's message.
        reason: String,
    },
    /// The chain answered with something this client cannot interpret (an unknown job state,
    /// a receipt without the expected event): the contract at the address is probably not
    /// the `ComputeMarket` this crate was built for.
    #[error(
        "unexpected answer from ComputeMarket at {contract} ({what}): {reason}; check that the address is a ComputeMarket of this Cairn version"
    )]
    Unexpected {
        /// Contract address.
        contract: Address,
        /// What was being read.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
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
