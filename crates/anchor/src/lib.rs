//! On-chain anchors for transparency-log checkpoints.
//!
//! A log posts `(keccak256(origin), tree size, root)` to the `ProvenanceAnchor` contract. The
//! contract accepts only strictly growing sizes, and only from the account that registered the
//! log, so the chain holds a monotone, tamper-evident sequence of the log's tree heads. The root
//! is kept in the `Anchored` event rather than in storage, which keeps an anchor under 30,000
//! gas however many entries it covers; verifiers read it back with `eth_getLogs`.
//!
//! A verifier holding a checkpoint of size N finds the latest anchor (size A, root R) and checks
//! a Merkle consistency proof between A and N: then the log cannot have shown it a history that
//! differs from the one it committed to on chain.

use alloy::{
    primitives::{Address, B256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use cairn_chain::Chain;
use cairn_contracts::ProvenanceAnchor;
use serde::Serialize;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong anchoring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Chain access failed.
    #[error(transparent)]
    Chain(#[from] cairn_chain::Error),
    /// The contract rejected the call; the reason names the revert.
    #[error("ProvenanceAnchor at {contract} rejected {call}: {reason}")]
    Rejected {
        /// Contract address.
        contract: Address,
        /// The function called.
        call: &'static str,
        /// Decoded revert or transport error.
        reason: String,
    },
    /// The log is registered to another account.
    #[error(
        "log {origin:?} is registered to {submitter}, not {caller}; anchor with the registered key or have it call setSubmitter"
    )]
    NotSubmitter {
        /// Log origin.
        origin: String,
        /// Registered submitter.
        submitter: Address,
        /// The caller.
        caller: Address,
    },
}

/// The on-chain hash identifying a log: keccak256 of its checkpoint origin line.
pub fn origin_hash(origin: &str) -> B256 {
    keccak256(origin.as_bytes())
}

/// An anchored checkpoint, as read back from the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Anchor {
    /// Tree size.
    pub size: u64,
    /// Merkle root at that size.
    pub root: B256,
    /// Block it was anchored in.
    pub block_number: u64,
    /// Transaction hash.
    pub tx_hash: B256,
}

/// The receipt of one anchoring transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Anchored {
    /// What was anchored.
    pub anchor: Anchor,
    /// Gas the transaction used.
    pub gas_used: u64,
}

/// Anchors one log's checkpoints through a signing [`Chain`].
#[derive(Debug, Clone)]
pub struct Anchorer {
    chain: Chain,
    contract: Address,
    origin: String,
}

impl Anchorer {
    /// An anchorer for the log `origin` at the contract `contract`.
    pub fn new(chain: Chain, contract: Address, origin: impl Into<String>) -> Self {
        Self {
            chain,
            contract,
            origin: origin.into(),
        }
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The `ProvenanceAnchor` contract it anchors at.
    pub fn contract(&self) -> Address {
        self.contract
    }

    /// The chain it anchors on.
    pub fn chain_id(&self) -> u64 {
        self.chain.chain_id()
    }

    fn rejected(&self, call: &'static str, e: alloy::contract::Error) -> Error {
        use ProvenanceAnchor::ProvenanceAnchorErrors as E;
        // Name the contract's custom error when the revert carries one.
        let reason = match e.as_decoded_interface_error::<E>() {
            Some(E::SizeNotGrowing(x)) => {
                format!(
                    "SizeNotGrowing: size {} is not larger than the anchored {}",
                    x.given, x.anchored
                )
            }
            Some(E::NotSubmitter(x)) => {
                format!("NotSubmitter: {} is not the log's submitter", x.caller)
            }
            Some(E::UnknownLog(_)) => "UnknownLog: register the log first (registerLog)".to_owned(),
            Some(E::AlreadyRegistered(_)) => "AlreadyRegistered".to_owned(),
            Some(E::ZeroSubmitter(_)) => "ZeroSubmitter".to_owned(),
            None => e.to_string(),
        };
        Error::Rejected {
            contract: self.contract,
            call,
            reason,
        }
    }

    /// The registered submitter and last anchored size (`None` if unregistered).
    pub async fn registration(&self) -> Result<Option<(Address, u64)>> {
        let c = ProvenanceAnchor::new(self.contract, self.chain.provider());
        let log = self
            .chain
            .rpc(
                "ProvenanceAnchor.logs",
                c.logs(origin_hash(&self.origin)).call(),
            )
            .await?;
        Ok((log.submitter != Address::ZERO).then_some((log.submitter, log.size)))
    }

    /// Registers the log with the signer as submitter, unless it already is. `log_key_hash` is
    /// SHA-256 of the log's checkpoint public key, published for verifiers.
    pub async fn ensure_registered(&self, log_key_hash: B256) -> Result<()> {
        let me = self.chain.require_funded().await?;
        match self.registration().await? {
            Some((submitter, _)) if submitter == me => Ok(()),
            Some((submitter, _)) => Err(Error::NotSubmitter {
                origin: self.origin.clone(),
                submitter,
                caller: me,
            }),
            None => {
                let c = ProvenanceAnchor::new(self.contract, self.chain.provider());
                let call = c.registerLog(origin_hash(&self.origin), log_key_hash);
                self.send("registerLog", call).await?;
                Ok(())
            }
        }
    }

    /// Sends through [`Chain::send_call`] (estimate, retry transient failures, confirm).
    async fn send<D: alloy::contract::CallDecoder + Clone>(
        &self,
        what: &'static str,
        call: alloy::contract::CallBuilder<&&alloy::providers::DynProvider, D>,
    ) -> Result<alloy::rpc::types::TransactionReceipt> {
        match self.chain.send_call(what, call).await {
            Ok(r) => Ok(r),
            Err(cairn_chain::SendFailure::Rejected(e)) => Err(self.rejected(what, e)),
            Err(cairn_chain::SendFailure::Transient(e) | cairn_chain::SendFailure::Failed(e)) => {
                Err(e.into())
            }
        }
    }

    /// The latest anchor of this log, if any.
    pub async fn latest(&self) -> Result<Option<Anchor>> {
        latest_anchor(&self.chain, self.contract, &self.origin).await
    }

    /// Anchors `(size, root)`. The contract reverts unless `size` is larger than the last one.
    pub async fn anchor(&self, size: u64, root: B256) -> Result<Anchored> {
        let c = ProvenanceAnchor::new(self.contract, self.chain.provider());
        let call = c.anchor(origin_hash(&self.origin), size, root);
        // Estimated first: a revert (a shrinking size, a foreign key) is reported with its
        // decoded reason and costs no gas.
        let receipt = self.send("anchor", call).await?;
        Ok(Anchored {
            anchor: Anchor {
                size,
                root,
                block_number: receipt.block_number.unwrap_or_default(),
                tx_hash: receipt.transaction_hash,
            },
            gas_used: receipt.gas_used,
        })
    }
}

/// Every anchor of `origin` at `contract`, oldest first.
pub async fn anchors(chain: &Chain, contract: Address, origin: &str) -> Result<Vec<Anchor>> {
    let filter = Filter::new()
        .address(contract)
        .event_signature(ProvenanceAnchor::Anchored::SIGNATURE_HASH)
        .topic1(origin_hash(origin))
        .from_block(0);
    let logs = chain
        .rpc("eth_getLogs", chain.provider().get_logs(&filter))
        .await?;
    let mut out = Vec::with_capacity(logs.len());
    for log in logs {
        let decoded =
            ProvenanceAnchor::Anchored::decode_log(&log.inner).map_err(|e| Error::Rejected {
                contract,
                call: "Anchored event",
                reason: e.to_string(),
            })?;
        out.push(Anchor {
            size: decoded.data.size,
            root: decoded.data.root,
            block_number: log.block_number.unwrap_or_default(),
            tx_hash: log.transaction_hash.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The latest anchor of `origin`, if any.
pub async fn latest_anchor(
    chain: &Chain,
    contract: Address,
    origin: &str,
) -> Result<Option<Anchor>> {
    Ok(anchors(chain, contract, origin).await?.pop())
}
