//! A checked connection to a chain.
use crate::{
    ChainConfig, Error, Result,
    send::{self, Broadcast, Fees, Nonces, SendFailure, SendPolicy, Sent, Signed, Tracked},
};
use alloy::{
    contract::{CallBuilder, CallDecoder},
    eips::BlockNumberOrTag,
    network::{Ethereum, EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, U256},
    providers::{
        DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder, fillers::NonceManager,
    },
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use serde::Serialize;
use std::{
    future::IntoFuture,
    sync::Arc,
    time::{Duration, Instant},
};

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
    /// Signs what [`Chain::send_call`] sends (the same key as the provider's wallet).
    wallet: Option<EthereumWallet>,
    /// The timings of [`Chain::send_call`].
    policy: SendPolicy,
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
        let wallet = signer.as_ref().map(|s| EthereumWallet::from(s.clone()));
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
            wallet,
            policy: SendPolicy::default(),
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

    /// The same connection with other send timings (tests shorten them).
    pub fn with_send_policy(mut self, policy: SendPolicy) -> Self {
        self.policy = policy;
        self
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

    /// Sends plain ether from the signer (used to fund fresh accounts on a devnet), with the
    /// guarantees of [`Chain::send_call`]: one transfer at most, whatever the transport does.
    pub async fn send_ether(&self, to: Address, wei: U256) -> Result<TransactionReceipt> {
        let tx = TransactionRequest::default().with_to(to).with_value(wei);
        let what = "ether transfer";
        let r = self
            .send_request(what, || {
                let tx = tx.clone();
                async move {
                    let gas = self
                        .rpc("eth_estimateGas", self.provider.estimate_gas(tx.clone()))
                        .await
                        .map_err(SendFailure::Transient)?;
                    Ok((gas, tx))
                }
            })
            .await;
        r.map_err(|e| match e {
            SendFailure::Transient(e) | SendFailure::Failed(e) => e,
            SendFailure::Rejected(c) => self.rpc_error("eth_estimateGas", c.to_string()),
        })
    }

    /// Sends a contract call and waits for its receipt: estimates gas first (so a refusal
    /// costs nothing and takes no nonce), signs it here with a margin over the estimate and an
    /// explicit nonce, and sends those bytes. A lost answer, a dropped transaction or a slow
    /// block never makes a second transaction: the same bytes are sent again (same hash), a
    /// stuck one is replaced at the same nonce with a higher fee, and only a nonce that another
    /// transaction of the key took leads to a new one. See [`crate::send`].
    pub async fn send_call<P, D>(
        &self,
        what: &'static str,
        builder: CallBuilder<P, D>,
    ) -> std::result::Result<TransactionReceipt, SendFailure>
    where
        P: Provider + Clone,
        D: CallDecoder + Clone,
    {
        self.send_request(what, || {
            let builder = builder.clone();
            async move {
                // Against the pending block: the one this transaction will be mined in (its
                // timestamp is now, not the last block's on an idle chain).
                let estimate = builder.clone().block(BlockNumberOrTag::Pending.into());
                let gas = match tokio::time::timeout(self.timeout, estimate.estimate_gas()).await {
                    Err(_) => {
                        return Err(SendFailure::Transient(self.rpc_error(
                            what,
                            format!("no gas estimate within {:?}", self.timeout),
                        )));
                    }
                    Ok(Err(e)) if send::is_revert(&e) => return Err(SendFailure::Rejected(e)),
                    Ok(Err(e)) => {
                        return Err(SendFailure::Transient(
                            self.rpc_error(what, format!("estimating gas: {}", error_chain(&e))),
                        ));
                    }
                    Ok(Ok(g)) => g,
                };
                Ok((gas, builder.into_transaction_request()))
            }
        })
        .await
    }

    /// The sending loop shared by [`Chain::send_call`] and [`Chain::send_ether`]: `prepare`
    /// estimates and returns the gas and the request; a fresh attempt (new
    /// nonce) is made only when nothing of the previous one can be mined any more.
    async fn send_request<F, Fut>(
        &self,
        what: &'static str,
        prepare: F,
    ) -> std::result::Result<TransactionReceipt, SendFailure>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<
                Output = std::result::Result<(u64, TransactionRequest), SendFailure>,
            >,
    {
        let who = self.require_signer().map_err(SendFailure::Failed)?;
        let mut pause = self.policy.backoff;
        let mut last = None;
        for attempt in 0..self.policy.attempts {
            if attempt > 0 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let sent = {
                let _turn = self.send_lock.lock().await;
                let (gas, request) = match prepare().await {
                    Ok(p) => p,
                    Err(SendFailure::Transient(e)) => {
                        last = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                match self.sign_and_broadcast(what, who, gas, request).await {
                    Ok(s) => s,
                    Err(SendFailure::Transient(e)) => {
                        self.nonces.reset(who);
                        last = Some(e);
                        continue;
                    }
                    Err(e) => {
                        self.nonces.reset(who);
                        return Err(e);
                    }
                }
            };
            match self.track(what, who, sent).await {
                Tracked::Mined(receipt) => {
                    ensure_success(&receipt, what).map_err(SendFailure::Failed)?;
                    return Ok(*receipt);
                }
                Tracked::NonceTaken(e) => {
                    // Another transaction of this key used the nonce: ours can never be mined.
                    self.nonces.reset(who);
                    last = Some(e);
                }
                Tracked::NotMined(e) => return Err(SendFailure::Transient(e)),
            }
        }
        Err(SendFailure::Transient(last.unwrap_or_else(|| {
            self.rpc_error(what, "no attempt was made".into())
        })))
    }

    /// Takes the next nonce, fills in the fees, signs locally and sends the bytes once.
    /// `Transient`: the node refused them for a reason a fresh attempt can fix (nothing of
    /// this attempt is in its pool); `Failed`: it refused them for good.
    async fn sign_and_broadcast(
        &self,
        what: &'static str,
        who: Address,
        gas: u64,
        request: TransactionRequest,
    ) -> std::result::Result<Sent, SendFailure> {
        let wallet = self
            .wallet
            .as_ref()
            .ok_or(SendFailure::Failed(Error::NoSigner {
                var: crate::PRIVATE_KEY_ENV,
            }))?;
        let nonce = self
            .rpc(
                "eth_getTransactionCount",
                self.nonces.get_next_nonce(&self.provider, who),
            )
            .await
            .map_err(SendFailure::Transient)?;
        let fees = self.fees().await.map_err(SendFailure::Transient)?;
        let request = request
            .with_from(who)
            .with_chain_id(self.chain_id)
            .with_nonce(nonce)
            .with_gas_limit(with_margin(gas));
        let signed = Signed::new(wallet, request, fees).await.map_err(|e| {
            SendFailure::Failed(self.rpc_error(what, format!("cannot sign the transaction: {e}")))
        })?;
        tracing::debug!(what, hash = %signed.hash, nonce, "sending");
        match self.broadcast(&signed.raw).await {
            Broadcast::Accepted => {}
            // Perhaps in the pool: tracking sends the same bytes again, never new ones.
            Broadcast::Unknown(why) => tracing::debug!(what, %why, "no clear answer to the send"),
            Broadcast::Refused(m) if send::is_transient_refusal(&m) => {
                return Err(SendFailure::Transient(self.rpc_error(what, m)));
            }
            Broadcast::Refused(m) => return Err(SendFailure::Failed(self.rpc_error(what, m))),
        }
        Ok(Sent {
            nonce,
            versions: vec![signed],
            sent_at: Instant::now(),
        })
    }

    /// The fee fields for a transaction sent now: EIP-1559 where the chain has a base fee,
    /// a legacy gas price elsewhere.
    async fn fees(&self) -> Result<Fees> {
        match self
            .rpc("eth_feeHistory", self.provider.estimate_eip1559_fees())
            .await
        {
            Ok(f) => Ok(Fees::Eip1559 {
                max_fee: f.max_fee_per_gas,
                priority: f.max_priority_fee_per_gas,
            }),
            Err(_) => Ok(Fees::Legacy(
                self.rpc("eth_gasPrice", self.provider.get_gas_price())
                    .await?,
            )),
        }
    }

    /// Sends signed bytes, telling a refusal (the node answered no) from not knowing.
    async fn broadcast(&self, raw: &[u8]) -> Broadcast {
        match tokio::time::timeout(self.timeout, self.provider.send_raw_transaction(raw)).await {
            Err(_) => Broadcast::Unknown(format!("no answer within {:?}", self.timeout)),
            Ok(Ok(_)) => Broadcast::Accepted,
            Ok(Err(e)) => match e.as_error_resp() {
                Some(p) if send::is_already_sent(&p.message) => Broadcast::Accepted,
                Some(p) => Broadcast::Refused(p.message.to_string()),
                None => Broadcast::Unknown(error_chain(&e)),
            },
        }
    }

    /// Watches a sent transaction until one of its versions is mined or its nonce is used by
    /// something else: sends the same bytes again now and then (a node that lost them, an
    /// answer that never came) and replaces it at the same nonce with a higher fee when it
    /// waits too long.
    async fn track(&self, what: &'static str, who: Address, mut sent: Sent) -> Tracked {
        let started = Instant::now();
        let mut poll = Duration::from_millis(20);
        let mut last_bump = started;
        loop {
            for v in sent.versions.iter().rev() {
                if let Ok(Some(r)) = self
                    .rpc(
                        "eth_getTransactionReceipt",
                        self.provider.get_transaction_receipt(v.hash),
                    )
                    .await
                {
                    return Tracked::Mined(Box::new(r));
                }
            }
            let used = self
                .rpc(
                    "eth_getTransactionCount(latest)",
                    self.provider.get_transaction_count(who).latest(),
                )
                .await;
            if let Ok(count) = used
                && count > sent.nonce
            {
                // The nonce is used. Receipts can trail the count (an indexer behind a load
                // balancer): ask for a while before concluding that none of ours was mined.
                for wait in [0u64, 250, 750, 2_000] {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    for v in &sent.versions {
                        if let Ok(Some(r)) = self
                            .rpc(
                                "eth_getTransactionReceipt",
                                self.provider.get_transaction_receipt(v.hash),
                            )
                            .await
                        {
                            return Tracked::Mined(Box::new(r));
                        }
                    }
                }
                return Tracked::NonceTaken(self.rpc_error(
                    what,
                    format!(
                        "nonce {} of {who} was used by another transaction (tx {} was not mined)",
                        sent.nonce, sent.versions[0].hash
                    ),
                ));
            }
            let latest = sent.versions.last().expect("one version at least");
            if started.elapsed() >= self.policy.confirm_timeout {
                return Tracked::NotMined(self.rpc_error(
                    "eth_getTransactionReceipt",
                    format!(
                        "{what} (tx {}, nonce {}) not mined within {:?}; it may still be mined: \
                         read the state before sending it again",
                        latest.hash, sent.nonce, self.policy.confirm_timeout
                    ),
                ));
            }
            if last_bump.elapsed() >= self.policy.bump_after {
                last_bump = Instant::now();
                if let Some(wallet) = &self.wallet {
                    match Signed::new(wallet, latest.request.clone(), latest.fees.bumped()).await {
                        Ok(b) => match self.broadcast(&b.raw).await {
                            Broadcast::Refused(m) => {
                                tracing::debug!(what, reason = %m, "fee bump refused");
                            }
                            _ => {
                                tracing::info!(what, nonce = sent.nonce, old = %latest.hash,
                                    new = %b.hash, "not mined yet: replaced with a higher fee");
                                sent.versions.push(b);
                                sent.sent_at = Instant::now();
                            }
                        },
                        Err(e) => tracing::warn!(what, error = %e, "cannot sign a fee bump"),
                    }
                }
            } else if sent.sent_at.elapsed() >= self.policy.rebroadcast_after {
                // Same bytes, same hash: at most one of the versions can ever be mined.
                if let Broadcast::Refused(m) = self.broadcast(&latest.raw).await {
                    tracing::debug!(what, reason = %m, "rebroadcast refused");
                }
                sent.sent_at = Instant::now();
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(self.policy.max_poll);
        }
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

/// The gas limit sent for an estimate: 25% over it plus 50,000. The estimate runs in a block
/// that is not the one the transaction lands in, and state written per block moves with it:
/// a Uniswap V2 pair swapped in a later second than the estimate's block writes its two price
/// accumulators, up to 2 × 22,100 gas when they were zero (seen: a swap estimated at 96,500
/// that needed 126,000 on a loaded machine, out of gas with 20% + 10,000). Only the gas used
/// is paid; the limit costs nothing beyond the balance it must cover.
pub fn with_margin(estimate: u64) -> u64 {
    estimate
        .saturating_add(estimate / 4)
        .saturating_add(BLOCK_STATE_GAS)
}

/// Gas for state a transaction may write only because of the block it lands in (see
/// [`with_margin`]).
const BLOCK_STATE_GAS: u64 = 50_000;

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
