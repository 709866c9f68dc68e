//! Sending transactions so that a transient failure never loses one and never leaves a gap.
//!
//! ```text
//!  send_call ──lock(key)──▶ estimate gas ──▶ fill nonce (Nonces) ──▶ send ──unlock──▶ confirm
//!       ▲                        │ revert: Rejected (nothing sent, no nonce taken)
//!       └── backoff ◀── Transient: transport error, "nonce too low", "already known",
//!                       underpriced replacement, no receipt yet (the nonce cache is reset)
//! ```
//!
//! One [`Nonces`] and one send lock are shared by every clone of a [`crate::Chain`], so the
//! calls of one process never race for a nonce. Another process signing with the same key
//! (a faucet, a second node) makes the cached nonce stale: the node answers "nonce too low",
//! the cache is dropped, and the send is retried with the nonce the chain reports. A call
//! that is resent after a lost receipt is harmless for the state machines built on this: the
//! contract refuses the duplicate in estimation, and the caller reads the state it reached.
use alloy::{
    contract::Error as ContractError,
    network::Network,
    primitives::Address,
    providers::{Provider, fillers::NonceManager},
    transports::TransportResult,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

/// How many times [`crate::Chain::send_call`] tries a call that fails transiently.
pub const SEND_ATTEMPTS: u32 = 4;
/// The first pause between attempts; it doubles each time.
pub const SEND_BACKOFF: Duration = Duration::from_millis(250);

/// A nonce cache per account that can be dropped when the chain disagrees with it.
///
/// Like alloy's cached manager it hands out consecutive nonces without a round trip, so a
/// batch of sends is not serialised on `eth_getTransactionCount`; unlike it, [`Nonces::reset`]
/// forgets an account, so the next nonce is read from the chain's pending count again.
#[derive(Debug, Clone, Default)]
pub struct Nonces {
    next: Arc<Mutex<HashMap<Address, u64>>>,
}

impl Nonces {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Address, u64>> {
        self.next.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets what was cached for `who`.
    pub fn reset(&self, who: Address) {
        self.lock().remove(&who);
    }

    /// The nonce the next transaction of `who` will get, if one is cached.
    pub fn peek(&self, who: Address) -> Option<u64> {
        self.lock().get(&who).copied()
    }
}

#[async_trait::async_trait]
impl NonceManager for Nonces {
    async fn get_next_nonce<P, N>(&self, provider: &P, address: Address) -> TransportResult<u64>
    where
        P: Provider<N>,
        N: Network,
    {
        if let Some(n) = {
            let mut m = self.lock();
            m.get_mut(&address).map(|n| {
                let v = *n;
                *n += 1;
                v
            })
        } {
            return Ok(n);
        }
        let n = provider.get_transaction_count(address).pending().await?;
        let mut m = self.lock();
        // A concurrent fill may have cached it meanwhile: take the larger, never reuse one.
        let v = m.get(&address).copied().unwrap_or(n).max(n);
        m.insert(address, v + 1);
        Ok(v)
    }
}

/// Why a call was not confirmed.
#[derive(Debug)]
pub enum SendFailure {
    /// The contract refused the call (estimation or execution reverted); nothing was mined.
    /// Retrying will not help until the chain's state changes.
    Rejected(ContractError),
    /// The call may succeed if tried again: the endpoint did not answer, the nonce was taken,
    /// the transaction was not mined in time. What happened is in the message.
    Transient(crate::Error),
    /// The call cannot succeed as configured (no signer, the node refused the transaction for
    /// a reason other than a revert, a mined transaction reverted).
    Failed(crate::Error),
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendFailure::Rejected(e) => write!(f, "rejected: {e}"),
            SendFailure::Transient(e) | SendFailure::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// Whether a contract call's error is the contract saying no (as opposed to the transport,
/// the mempool or the nonce).
pub fn is_revert(e: &ContractError) -> bool {
    if e.as_revert_data().is_some() {
        return true;
    }
    match e {
        ContractError::TransportError(t) => match t.as_error_resp() {
            Some(p) => {
                let m = p.message.to_ascii_lowercase();
                m.contains("revert") && !is_transient_message(&m)
            }
            None => false,
        },
        ContractError::PendingTransactionError(_) => false,
        // ABI and decoding errors are the caller's mistake: retrying cannot help.
        _ => true,
    }
}

/// Mempool and nonce answers that a later attempt fixes.
fn is_transient_message(m: &str) -> bool {
    const TRANSIENT: [&str; 8] = [
        "nonce too low",
        "nonce too high",
        "already known",
        "replacement transaction underpriced",
        "transaction underpriced",
        "known transaction",
        "timeout",
        "temporarily",
    ];
    TRANSIENT.iter().any(|t| m.contains(t))
}

/// Whether a send error (after estimation passed) is worth retrying: everything except an
/// explicit refusal of the transaction by the node for a reason a retry cannot fix.
pub(crate) fn is_transient_send(e: &ContractError) -> bool {
    match e {
        ContractError::TransportError(t) => match t.as_error_resp() {
            Some(p) => {
                let m = p.message.to_ascii_lowercase();
                is_transient_message(&m) || !(m.contains("revert") || m.contains("insufficient"))
            }
            None => true,
        },
        ContractError::PendingTransactionError(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_messages_are_transient() {
        for m in [
            "nonce too low: next nonce 5, tx nonce 4",
            "already known",
            "replacement transaction underpriced",
        ] {
            assert!(is_transient_message(m), "{m}");
        }
        assert!(!is_transient_message("execution reverted: WrongState"));
    }

    fn resp(code: i64, message: &'static str) -> ContractError {
        ContractError::TransportError(alloy::transports::RpcError::ErrorResp(
            alloy_json_rpc::ErrorPayload {
                code,
                message: message.into(),
                data: None,
            },
        ))
    }

    #[test]
    fn only_reverts_are_refusals() {
        // What anvil and geth answer when the nonce was taken by another sender: retry.
        let stale = resp(-32003, "nonce too low");
        assert!(!is_revert(&stale) && is_transient_send(&stale));
        let known = resp(-32000, "already known");
        assert!(!is_revert(&known) && is_transient_send(&known));
        // The connection dropped: retry.
        let down = ContractError::TransportError(
            alloy::transports::TransportErrorKind::custom_str("connection refused"),
        );
        assert!(!is_revert(&down) && is_transient_send(&down));
        // The contract said no: a refusal, not worth resending.
        let revert = resp(3, "execution reverted: WrongState");
        assert!(is_revert(&revert) && !is_transient_send(&revert));
    }

    #[test]
    fn reset_forgets_the_cached_nonce() {
        let n = Nonces::default();
        let a = Address::repeat_byte(1);
        n.lock().insert(a, 7);
        assert_eq!(n.peek(a), Some(7));
        n.reset(a);
        assert_eq!(n.peek(a), None);
    }
}
