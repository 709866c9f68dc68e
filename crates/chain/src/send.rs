//! Sending transactions so that a transient failure never loses one, never leaves a gap, and
//! never makes two.
//!
//! ```text
//!  send_call ──lock(key)──▶ estimate gas ──▶ nonce (Nonces) ──▶ sign here ──▶ send bytes ──unlock─┐
//!       ▲                        │ revert: Rejected (nothing sent, no nonce taken)               │
//!       │                        ▼                                                               ▼
//!       │              transient: backoff, retry                  track: receipt of any version? ─▶ done
//!       │                                                               │ nonce used by another tx
//!       └──────────── new attempt (cache reset) ◀────────────────────────┘
//!                    every few seconds: the same bytes again; waiting too long: the same nonce,
//!                    a higher fee (a replacement); past the deadline: NotMined, nothing resent
//! ```
//!
//! One [`Nonces`] and one send lock are shared by every clone of a [`crate::Chain`], so the
//! calls of one process never race for a nonce. Another process signing with the same key
//! (a faucet, a second node) makes the cached nonce stale: the node answers "nonce too low",
//! the cache is dropped, and a new attempt takes the nonce the chain reports.
//!
//! A transaction whose answer was lost may be in the node's pool or mined already, so it is
//! never followed by a second one at a new nonce: it is sent again byte for byte (the node
//! answers "already known" or "nonce too low", and the receipt is read by its hash), and its
//! replacements keep its nonce, so at most one version can ever be mined. Only when the
//! nonce is used by a transaction that is none of its versions is a new one signed.
use alloy::{
    contract::Error as ContractError,
    eips::Encodable2718,
    network::{Ethereum, EthereumWallet, Network, NetworkWallet, TransactionBuilder},
    primitives::{Address, B256},
    providers::{Provider, fillers::NonceManager},
    rpc::types::{TransactionReceipt, TransactionRequest},
    transports::TransportResult,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// How many times [`crate::Chain::send_call`] tries a call that fails transiently.
pub const SEND_ATTEMPTS: u32 = 4;
/// The first pause between attempts; it doubles each time.
pub const SEND_BACKOFF: Duration = Duration::from_millis(250);
/// How long a sent transaction waits before its bytes are sent again.
pub const REBROADCAST_AFTER: Duration = Duration::from_secs(5);
/// How long a sent transaction waits unmined before it is replaced with a higher fee.
pub const BUMP_AFTER: Duration = Duration::from_secs(30);

/// The timings of [`crate::Chain::send_call`]; [`SendPolicy::default`] suits public chains
/// and the devnet alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// Attempts with a new nonce (after a refusal, or a nonce taken by another sender).
    pub attempts: u32,
    /// The first pause between attempts; it doubles each time.
    pub backoff: Duration,
    /// How long one attempt waits to be mined before [`SendFailure::Transient`].
    pub confirm_timeout: Duration,
    /// How long before the same bytes are sent again.
    pub rebroadcast_after: Duration,
    /// How long before a replacement with a higher fee at the same nonce.
    pub bump_after: Duration,
    /// The longest pause between two looks for the receipt.
    pub max_poll: Duration,
}

impl Default for SendPolicy {
    fn default() -> Self {
        Self {
            attempts: SEND_ATTEMPTS,
            backoff: SEND_BACKOFF,
            confirm_timeout: crate::CONFIRM_TIMEOUT,
            rebroadcast_after: REBROADCAST_AFTER,
            bump_after: BUMP_AFTER,
            max_poll: Duration::from_millis(500),
        }
    }
}

/// The fee fields of one version of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fees {
    Eip1559 { max_fee: u128, priority: u128 },
    Legacy(u128),
}

impl Fees {
    /// A replacement's fees: 25% more on every field (nodes want at least 10% more).
    pub(crate) fn bumped(self) -> Self {
        let up = |v: u128| v.saturating_add(v / 4).max(v.saturating_add(1));
        match self {
            Fees::Eip1559 { max_fee, priority } => Fees::Eip1559 {
                max_fee: up(max_fee),
                priority: up(priority),
            },
            Fees::Legacy(p) => Fees::Legacy(up(p)),
        }
    }
}

/// A replacement for the signed transaction `raw`: the same call at the same nonce with every
/// fee 25% higher, and at least `now` (the fees a transaction sent now would pay), signed by
/// `wallet`. Only one of the two can ever be mined. Returns the new bytes and hash.
pub async fn bump_signed(
    wallet: &EthereumWallet,
    raw: &[u8],
    now: Option<(u128, u128)>,
) -> Result<(Vec<u8>, B256), String> {
    use alloy::consensus::{Transaction as _, TxEnvelope};
    use alloy::eips::Decodable2718;
    let envelope = TxEnvelope::decode_2718(&mut &raw[..])
        .map_err(|e| format!("the signed transaction does not decode: {e}"))?;
    let fees = match envelope.max_priority_fee_per_gas() {
        Some(priority) => Fees::Eip1559 {
            max_fee: envelope.max_fee_per_gas(),
            priority,
        },
        None => Fees::Legacy(envelope.max_fee_per_gas()),
    };
    let fees = match (fees.bumped(), now) {
        (Fees::Eip1559 { max_fee, priority }, Some((m, p))) => Fees::Eip1559 {
            max_fee: max_fee.max(m),
            priority: priority.max(p),
        },
        (Fees::Legacy(g), Some((m, _))) => Fees::Legacy(g.max(m)),
        (f, None) => f,
    };
    let request = <TransactionRequest as From<TxEnvelope>>::from(envelope);
    let signed = Signed::new(wallet, request, fees).await?;
    Ok((signed.raw, signed.hash))
}

/// One signed version of a transaction: the request it came from (without fees), its fees,
/// its bytes and hash.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub(crate) request: TransactionRequest,
    pub(crate) fees: Fees,
    pub(crate) raw: Vec<u8>,
    pub(crate) hash: B256,
}

impl Signed {
    pub(crate) async fn new(
        wallet: &EthereumWallet,
        request: TransactionRequest,
        fees: Fees,
    ) -> Result<Self, String> {
        let with_fees = match fees {
            Fees::Eip1559 { max_fee, priority } => request
                .clone()
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(priority),
            Fees::Legacy(p) => request.clone().with_gas_price(p),
        };
        let envelope = <EthereumWallet as NetworkWallet<Ethereum>>::sign_request(wallet, with_fees)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            request,
            fees,
            raw: envelope.encoded_2718(),
            hash: *envelope.tx_hash(),
        })
    }
}

/// A transaction in flight: its nonce and every version sent at that nonce.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) nonce: u64,
    pub(crate) versions: Vec<Signed>,
    pub(crate) sent_at: Instant,
}

/// What the node said to signed bytes.
#[derive(Debug)]
pub(crate) enum Broadcast {
    /// In its pool (or mined, or already known).
    Accepted,
    /// No answer, or a transport error: they may or may not be in its pool.
    Unknown(String),
    /// An answer refusing them: they are not in its pool.
    Refused(String),
}

/// How watching a sent transaction ended.
#[derive(Debug)]
pub(crate) enum Tracked {
    Mined(Box<TransactionReceipt>),
    /// The nonce was used by a transaction that is none of the versions.
    NonceTaken(crate::Error),
    /// Nothing mined in time; a version may still be.
    NotMined(crate::Error),
}

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

/// Whether a node's answer to signed bytes says it has them already (in its pool, or mined:
/// the nonce is then used, which tracking tells apart).
pub(crate) fn is_already_sent(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "already known",
        "known transaction",
        "already imported",
        "nonce too low",
    ]
    .iter()
    .any(|t| m.contains(t))
}

/// Whether a node's refusal of signed bytes is fixed by a new attempt (fresh nonce and fees).
pub(crate) fn is_transient_refusal(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    is_transient_message(&m)
        || [
            "fee cap",
            "max fee per gas less than block base fee",
            "busy",
            "rate limit",
        ]
        .iter()
        .any(|t| m.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bumped_transaction_keeps_its_call_and_nonce_and_pays_more() {
        use alloy::consensus::{Transaction as _, TxEnvelope};
        use alloy::eips::Decodable2718;
        use alloy::signers::local::PrivateKeySigner;
        let signer = PrivateKeySigner::random();
        let wallet = EthereumWallet::from(signer.clone());
        let request = TransactionRequest::default()
            .with_to(Address::repeat_byte(7))
            .with_input(vec![1u8, 2, 3])
            .with_nonce(9)
            .with_chain_id(31337)
            .with_gas_limit(100_000);
        let fees = Fees::Eip1559 {
            max_fee: 1_000,
            priority: 100,
        };
        let first = Signed::new(&wallet, request, fees).await.unwrap();
        let (raw, hash) = bump_signed(&wallet, &first.raw, Some((1_100, 500)))
            .await
            .unwrap();
        assert_ne!(hash, first.hash);
        let a = TxEnvelope::decode_2718(&mut &first.raw[..]).unwrap();
        let b = TxEnvelope::decode_2718(&mut &raw[..]).unwrap();
        assert_eq!(b.nonce(), 9);
        assert_eq!(b.input(), a.input());
        assert_eq!(b.to(), a.to());
        assert_eq!(b.gas_limit(), a.gas_limit());
        // 25% more, or what a transaction sent now pays where that is more.
        assert_eq!(b.max_fee_per_gas(), 1_250);
        assert_eq!(b.max_priority_fee_per_gas(), Some(500));
        assert!(bump_signed(&wallet, b"junk", None).await.is_err());
    }

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
        assert!(!is_revert(&resp(-32003, "nonce too low")));
        assert!(!is_revert(&resp(-32000, "already known")));
        // The connection dropped: retry.
        let down = ContractError::TransportError(
            alloy::transports::TransportErrorKind::custom_str("connection refused"),
        );
        assert!(!is_revert(&down));
        // The contract said no: a refusal, not worth resending.
        assert!(is_revert(&resp(3, "execution reverted: WrongState")));
    }

    #[test]
    fn answers_to_signed_bytes_are_told_apart() {
        // The node has them (pool or chain): keep watching the same hash, never sign anew.
        for m in [
            "already known",
            "Known transaction: 0xab",
            "nonce too low: next nonce 5",
        ] {
            assert!(is_already_sent(m), "{m}");
        }
        // Refused, and a fresh attempt can fix it.
        for m in [
            "replacement transaction underpriced",
            "nonce too high",
            "max fee per gas less than block base fee",
        ] {
            assert!(!is_already_sent(m) && is_transient_refusal(m), "{m}");
        }
        // Refused for good.
        for m in [
            "insufficient funds for gas * price + value",
            "intrinsic gas too low",
        ] {
            assert!(!is_already_sent(m) && !is_transient_refusal(m), "{m}");
        }
    }

    #[test]
    fn the_gas_margin_covers_a_pair_writing_its_accumulators_from_zero() {
        // Seen: a Router02 swap estimated at 96,500 in one second needed 126,000 in the next.
        assert!(crate::with_margin(96_500) > 126_000);
        assert!(crate::with_margin(21_000) >= 21_000 + 2 * 22_100);
    }

    #[test]
    fn a_replacement_pays_at_least_ten_percent_more_on_every_field() {
        let f = Fees::Eip1559 {
            max_fee: 1_000,
            priority: 0,
        };
        let Fees::Eip1559 { max_fee, priority } = f.bumped() else {
            unreachable!()
        };
        assert!(max_fee >= 1_100 && priority >= 1);
        let Fees::Legacy(p) = Fees::Legacy(7).bumped() else {
            unreachable!()
        };
        assert!(p > 7 && p * 10 >= 77);
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
