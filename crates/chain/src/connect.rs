//! A checked connection to a chain.
use crate::{
    ChainConfig, Error, Result,
    send::{self, Nonces, SEND_ATTEMPTS, SEND_BACKOFF, SendFailure},
};
use alloy::{
    contract::{CallBuilder, CallDecoder},
    eips::BlockNumberOrTag,
    network::{Ethereum, TransactionBuilder},
    primitives::{Address, B256, U256},
    providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use serde::Serialize;
use std::{future::IntoFuture, sync::Arc, time::Duration};

/// How long [`Chain::confirm`] waits for a transaction to be mined.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(120);

/// A provider that answered, on the expected chain, optionally with a signer.
#[derive(Debug, Clone)]
pub struct Chain {
    provider: DynProvider,
    url: String,
    chain_id: u64,
    signer: Option<Address>,
    timeout: Duration,
    /// The signer's nonces, shared by clones (see [`crate::send`]).
    nonces: Nonces,
    /// Held from gas estimation until the node has the transaction, so the calls of one
    /// process take nonces in order.
    send_lock: Arc<tokio::sync::Mutex<()>>,
}

/// A snapshot of a chain's state, as `cairn chain status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ChainInfo {
    /// RPC URL.
    pub rpc_url: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Latest block number.
    pub block_number: u64,
    /// Hash of block 0.
    pub genesis_hash: B256,
    /// The signing account, if a key was given.
    pub account: Option<Address>,
    /// Its balance in wei.
    pub balance_wei: Option<U256>,
}

impl Chain {
    /// Connects to `config.rpc_url`, checks that it answers within the timeout and that its
    /// chain id matches `config.chain_id` (when set). With a signer, transactions sent through
    /// [`Chain::provider`] are signed locally by it.
    pub async fn connect(config: &ChainConfig, signer: Option<PrivateKeySigner>) -> Result<Self> {
        let url: Url =
            config
                .rpc_url
                .parse()
                .map_err(|e: url_error::ParseError| Error::BadUrl {
                    url: config.rpc_url.clone(),
                    reason: e.to_string(),
                })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::BadUrl {
                url: config.rpc_url.clone(),
                reason: format!("scheme {:?} is not http or https", url.scheme()),
            });
        }
        let address = signer.as_ref().map(|s| s.address());
        let nonces = Nonces::default();
        let provider = match signer {
            Some(s) => ProviderBuilder::new()
                .disable_recommended_fillers()
                .with_gas_estimation()
                .with_nonce_management(nonces.clone())
                .fetch_chain_id()
                .wallet(s)
                .connect_http(url)
                .erased(),
            None => ProviderBuilder::new().connect_http(url).erased(),
        };
        let mut chain = Self {
            provider,
            url: config.rpc_url.clone(),
            chain_id: 0,
            signer: address,
            timeout: config.timeout,
            nonces,
            send_lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        let actual = tokio::time::timeout(config.timeout, chain.provider.get_chain_id())
            .await
            .map_err(|_| chain.unreachable(format!("no answer within {:?}", config.timeout)))?
            .map_err(|e| chain.unreachable(error_chain(&e)))?;
        if let Some(expected) = config.chain_id.filter(|&e| e != actual) {
            return Err(Error::WrongChainId {
                url: chain.url,
                expected,
                actual,
            });
        }
        chain.chain_id = actual;
        Ok(chain)
    }

    fn unreachable(&self, reason: String) -> Error {
        Error::Unreachable {
            url: self.url.clone(),
            reason,
        }
    }

    /// The underlying alloy provider (with the signer's wallet, when one was given).
    ///
    /// Sending through it: estimate gas (or simulate with `.call()`) *before* `.send()`. alloy's
    /// cached nonce manager takes a nonce while it estimates gas, so a transaction that fails
    /// estimation leaves a gap and every later transaction from the key waits forever.
    /// `cairn-escrow` and `cairn-anchor` follow this rule.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id the endpoint reported.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The signing account, if any.
    pub fn signer(&self) -> Option<Address> {
        self.signer
    }

    /// The signing account, or [`Error::NoSigner`].
    pub fn require_signer(&self) -> Result<Address> {
        self.signer.ok_or(Error::NoSigner {
            var: crate::PRIVATE_KEY_ENV,
        })
    }

    /// Runs one RPC future under the configured deadline, mapping failures to [`Error::Rpc`].
    pub async fn rpc<T, E: std::fmt::Display>(
        &self,
        call: &'static str,
        fut: impl IntoFuture<Output = std::result::Result<T, E>>,
    ) -> Result<T> {
        let rpc_err = |reason: String| Error::Rpc {
            call,
            url: self.url.clone(),
            reason,
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| rpc_err(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| rpc_err(e.to_string()))
    }

    /// Latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.rpc("eth_blockNumber", self.provider.get_block_number())
            .await
    }

    /// The chain's clock as a transaction sent now would see it: the pending block's timestamp
    /// where the endpoint builds one (anvil, geth: the wall clock), never earlier than the
    /// latest block's. On an idle chain that mines a block per transaction, the latest block
    /// can be hours old; deadlines and challenge windows must still end on time.
    pub async fn clock(&self) -> Result<u64> {
        let latest = self
            .rpc(
                "eth_getBlockByNumber(latest)",
                self.provider.get_block_by_number(BlockNumberOrTag::Latest),
            )
            .await?
            .map(|b| b.header.timestamp)
            .ok_or_else(|| {
                self.rpc_error(
                    "eth_getBlockByNumber(latest)",
                    "the endpoint has no latest block".into(),
                )
            })?;
        // Not every endpoint serves a pending block; the latest one is then the best reading.
        let pending = self
            .rpc(
                "eth_getBlockByNumber(pending)",
                self.provider.get_block_by_number(BlockNumberOrTag::Pending),
            )
            .await
            .ok()
            .flatten()
            .map(|b| b.header.timestamp);
        Ok(pending.map_or(latest, |p| p.max(latest)))
    }

    /// Hash of block 0.
    pub async fn genesis_hash(&self) -> Result<B256> {
        let block = self
            .rpc(
                "eth_getBlockByNumber(0)",
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(0)),
            )
            .await?;
        block.map(|b| b.header.hash).ok_or_else(|| Error::Rpc {
            call: "eth_getBlockByNumber(0)",
            url: self.url.clone(),
            reason: "the endpoint has no block 0".into(),
        })
    }

    /// Balance of `who` in wei.
    pub async fn balance(&self, who: Address) -> Result<U256> {
        self.rpc("eth_getBalance", self.provider.get_balance(who))
            .await
    }

    /// Whether `at` holds contract code.
    pub async fn has_code(&self, at: Address) -> Result<bool> {
        Ok(!self
            .rpc("eth_getCode", self.provider.get_code_at(at))
            .await?
            .is_empty())
    }

    /// The signer's address, after checking it can pay for gas.
    pub async fn require_funded(&self) -> Result<Address> {
        let address = self.require_signer()?;
        let balance = self.balance(address).await?;
        if balance.is_zero() {
            return Err(Error::Unfunded {
                address,
                balance,
                chain_id: self.chain_id,
            });
        }
        Ok(address)
    }

    /// Waits (up to [`CONFIRM_TIMEOUT`]) for a sent transaction to be mined and checks that it
    /// succeeded. The deadline is longer than a single RPC call's: with interval mining a
    /// transaction legitimately waits for the next block.
    pub async fn confirm(
        &self,
        what: &str,
        pending: PendingTransactionBuilder<Ethereum>,
    ) -> Result<TransactionReceipt> {
        let hash = pending.tx_hash().to_string();
        let receipt = tokio::time::timeout(CONFIRM_TIMEOUT, pending.get_receipt())
            .await
            .map_err(|_| Error::Rpc {
                call: "eth_getTransactionReceipt",
                url: self.url.clone(),
                reason: format!("{what} (tx {hash}) not mined within {CONFIRM_TIMEOUT:?}"),
            })?
            .map_err(|e| Error::Rpc {
                call: "eth_getTransactionReceipt",
                url: self.url.clone(),
                reason: format!("{what} (tx {hash}): {e}"),
            })?;
        ensure_success(&receipt, what)?;
        Ok(receipt)
    }

    /// Sends plain ether from the signer (used to fund fresh accounts on a devnet), retrying
    /// transient failures like [`Chain::send_call`].
    pub async fn send_ether(&self, to: Address, wei: U256) -> Result<TransactionReceipt> {
        let who = self.require_signer()?;
        let mut pause = SEND_BACKOFF;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = TransactionRequest::default().with_to(to).with_value(wei);
            let sent = {
                let _turn = self.send_lock.lock().await;
                self.rpc("eth_sendTransaction", self.provider.send_transaction(tx))
                    .await
            };
            let r = match sent {
                Ok(pending) => self.confirm("ether transfer", pending).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(r) => return Ok(r),
                Err(e @ Error::Reverted { .. }) => return Err(e),
                Err(e) if attempt >= SEND_ATTEMPTS => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "ether transfer failed; retrying");
                    self.nonces.reset(who);
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
    }

    /// Sends a contract call and waits for its receipt: estimates gas first (so a refusal
    /// costs nothing and takes no nonce), sends with a margin over the estimate, and retries
    /// transient failures (transport errors, a stale nonce, no receipt in time) up to
    /// [`SEND_ATTEMPTS`] times with backoff. See [`crate::send`].
    pub async fn send_call<P, D>(
        &self,
        what: &'static str,
        builder: CallBuilder<P, D>,
    ) -> std::result::Result<TransactionReceipt, SendFailure>
    where
        P: Provider + Clone,
        D: CallDecoder + Clone,
    {
        let who = self.require_signer().map_err(SendFailure::Failed)?;
        let mut pause = SEND_BACKOFF;
        let mut last = None;
        for attempt in 0..SEND_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let pending = {
                let _turn = self.send_lock.lock().await;
                // Against the pending block: the one this transaction will be mined in (its
                // timestamp is now, not the last block's on an idle chain).
                let estimate = builder.clone().block(BlockNumberOrTag::Pending.into());
                let gas = match tokio::time::timeout(self.timeout, estimate.estimate_gas()).await {
                    Err(_) => {
                        last =
                            Some(self.rpc_error(
                                what,
                                format!("no gas estimate within {:?}", self.timeout),
                            ));
                        continue;
                    }
                    Ok(Err(e)) if send::is_revert(&e) => return Err(SendFailure::Rejected(e)),
                    Ok(Err(e)) => {
                        last = Some(
                            self.rpc_error(what, format!("estimating gas: {}", error_chain(&e))),
                        );
                        continue;
                    }
                    Ok(Ok(g)) => g,
                };
                let call = builder.clone().gas(with_margin(gas));
                match tokio::time::timeout(self.timeout, call.send()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(e)) => {
                        self.nonces.reset(who);
                        if !send::is_transient_send(&e) {
                            return Err(if send::is_revert(&e) {
                                SendFailure::Rejected(e)
                            } else {
                                SendFailure::Failed(self.rpc_error(what, error_chain(&e)))
                            });
                        }
                        last = Some(self.rpc_error(what, error_chain(&e)));
                        continue;
                    }
                    Err(_) => {
                        self.nonces.reset(who);
                        last = Some(
                            self.rpc_error(what, format!("not sent within {:?}", self.timeout)),
                        );
                        continue;
                    }
                }
            };
            match self.confirm(what, pending).await {
                Ok(r) => return Ok(r),
                Err(e @ Error::Reverted { .. }) => return Err(SendFailure::Failed(e)),
                Err(e) => {
                    self.nonces.reset(who);
                    last = Some(e);
                }
            }
        }
        Err(SendFailure::Transient(last.unwrap_or_else(|| {
            self.rpc_error(what, "no attempt was made".into())
        })))
    }

    fn rpc_error(&self, call: &'static str, reason: String) -> Error {
        Error::Rpc {
            call,
            url: self.url.clone(),
            reason,
        }
    }

    /// Forgets the signer's cached nonce (after a send failed outside [`Chain::send_call`]).
    pub fn reset_nonce(&self) {
        if let Some(who) = self.signer {
            self.nonces.reset(who);
        }
    }

    /// A full status snapshot.
    pub async fn info(&self) -> Result<ChainInfo> {
        let balance = match self.signer {
            Some(a) => Some(self.balance(a).await?),
            None => None,
        };
        Ok(ChainInfo {
            rpc_url: self.url.clone(),
            chain_id: self.chain_id,
            block_number: self.block_number().await?,
            genesis_hash: self.genesis_hash().await?,
            account: self.signer,
            balance_wei: balance,
        })
    }
}

/// The gas limit sent for an estimate: 20% over it plus 10k, so a little state drift between
/// the estimate and inclusion (another job settled, a warm slot gone cold) does not run out
/// of gas.
pub fn with_margin(estimate: u64) -> u64 {
    estimate.saturating_add(estimate / 5).saturating_add(10_000)
}

/// An error and its sources, joined: transports wrap the useful part ("Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !msg.contains(&part) {
            msg = format!("{msg}: {part}");
        }
        source = s.source();
    }
    msg
}

/// Turns a reverted receipt into [`Error::Reverted`].
pub fn ensure_success(receipt: &TransactionReceipt, what: &str) -> Result<()> {
    if receipt.status() {
        Ok(())
    } else {
        Err(Error::Reverted {
            what: what.to_owned(),
            tx_hash: receipt.transaction_hash.to_string(),
        })
    }
}

mod url_error {
    pub(super) use alloy::transports::http::reqwest::Url;
    pub(super) type ParseError = <Url as std::str::FromStr>::Err;
}
