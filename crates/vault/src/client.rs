//! [`Vault`]: one typed async method per contract function the owner or the agent calls, plus
//! the status views. Every transaction goes through [`Chain::send_call`] (estimate first, so a
//! refusal comes back decoded and costs nothing; nonces managed; transient errors retried).
use crate::{
    Error, Result, revert,
    types::{
        Bought, FeedConfig, FeedStatus, Holding, Order, Policy, Quote, Tx, VaultParams, VaultStatus,
    },
};
use alloy::{
    contract::{CallBuilder, CallDecoder},
    primitives::{Address, U256, aliases::U96},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
};
use cairn_chain::{Chain, SendFailure};
use cairn_contracts::{AgentVault, MockV3Aggregator, TestToken};

/// The farthest ahead a buy's deadline may be (the contract's `MAX_DEADLINE_DELAY`).
pub const MAX_DEADLINE_DELAY_SECS: u64 = 15 * 60;

/// A client of one `AgentVault`, signing with the chain's key (the owner's or the agent's).
#[derive(Debug, Clone)]
pub struct Vault {
    chain: Chain,
    address: Address,
}

type Instance<'a> = AgentVault::AgentVaultInstance<&'a DynProvider>;

impl Vault {
    /// A client of the vault at `address`. Nothing is sent until a method is called.
    pub fn new(chain: Chain, address: Address) -> Self {
        Self { chain, address }
    }

    /// Deploys a vault with the chain's key paying for it, then configures `policy` with the
    /// same key (which must then be `params.owner`).
    pub async fn deploy(chain: Chain, params: &VaultParams, policy: &Policy) -> Result<Self> {
        let sender = chain.require_signer()?;
        let configures =
            !policy.routers.is_empty() || !policy.paths.is_empty() || !policy.feeds.is_empty();
        if configures && sender != params.owner {
            return Err(Error::Invalid(format!(
                "the vault's owner {} must sign its configuration, but the key given is {sender}",
                params.owner
            )));
        }
        let builder = AgentVault::deploy_builder(
            chain.provider(),
            params.owner,
            params.stable,
            params.agent,
            budget96(params.budget_per_period)?,
            params.period_secs,
            params.max_slippage_bps,
        );
        let receipt = match chain.send_call("deploy AgentVault", builder).await {
            Ok(r) => r,
            Err(SendFailure::Rejected(e)) => {
                return Err(rejected(sender, "deploy AgentVault", e));
            }
            Err(SendFailure::Transient(e) | SendFailure::Failed(e)) => return Err(e.into()),
        };
        let address = receipt.contract_address.ok_or_else(|| Error::Unexpected {
            contract: Address::ZERO,
            what: "deployment receipt",
            reason: "no contract address".into(),
        })?;
        let vault = Self::new(chain, address);
        vault.configure(policy).await?;
        Ok(vault)
    }

    /// Allow-lists every router, path and feed of `policy` (owner only).
    pub async fn configure(&self, policy: &Policy) -> Result<Vec<Tx>> {
        let mut txs = Vec::new();
        for &r in &policy.routers {
            txs.push(self.set_router(r, true).await?);
        }
        for p in &policy.paths {
            txs.push(self.set_path(p, true).await?);
        }
        for f in &policy.feeds {
            txs.push(self.set_feed(f).await?);
        }
        Ok(txs)
    }

    /// The vault's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The chain this client talks to.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    fn vault(&self) -> Instance<'_> {
        AgentVault::new(self.address, self.chain.provider())
    }

    async fn send<P: Provider + Clone, D: CallDecoder + Clone>(
        &self,
        call: &'static str,
        builder: CallBuilder<P, D>,
    ) -> Result<TransactionReceipt> {
        match self.chain.send_call(call, builder).await {
            Ok(r) => Ok(r),
            Err(SendFailure::Rejected(e)) => Err(rejected(self.address, call, e)),
            Err(SendFailure::Transient(e) | SendFailure::Failed(e)) => Err(Error::Chain(e)),
        }
    }

    async fn tx<P: Provider + Clone, D: CallDecoder + Clone>(
        &self,
        call: &'static str,
        builder: CallBuilder<P, D>,
    ) -> Result<Tx> {
        Ok(tx_of(&self.send(call, builder).await?))
    }

    async fn view<P: Provider, D: CallDecoder>(
        &self,
        call: &'static str,
        builder: CallBuilder<P, D>,
    ) -> Result<D::CallOutput> {
        match self
            .chain
            .rpc(call, async { Ok::<_, String>(builder.call().await) })
            .await?
        {
            Ok(v) => Ok(v),
            Err(e) if cairn_chain::send::is_revert(&e) => Err(rejected(self.address, call, e)),
            Err(e) => Err(Error::Chain(cairn_chain::Error::Rpc {
                call,
                url: self.chain.url().to_owned(),
                reason: e.to_string(),
            })),
        }
    }

    // ------------------------------------------------------------------ agent

    /// Buys through the vault (agent key only). Returns the `Bought` event's numbers.
    pub async fn buy(&self, order: &Order) -> Result<Bought> {
        if order.path.len() < 2 {
            return Err(Error::Invalid(
                "a path needs the stablecoin and the asset".into(),
            ));
        }
        let v = self.vault();
        let call = v.buy(
            order.router,
            order.path.clone(),
            order.amount_in,
            order.min_out,
            U256::from(order.deadline),
        );
        let receipt = self.send("buy", call).await?;
        let tx = tx_of(&receipt);
        for log in receipt.inner.logs() {
            if log.address() != self.address {
                continue;
            }
            if let Ok(e) = log.log_decode::<AgentVault::Bought>() {
                let e = e.inner.data;
                return Ok(Bought {
                    tx,
                    asset: e.asset,
                    router: e.router,
                    amount_in: e.amountIn,
                    received: e.received,
                    floor: e.floor,
                    price: e.price,
                    oracle_updated_at: e.oracleUpdatedAt.saturating_to(),
                    spent_in_period: e.spentInPeriod,
                });
            }
        }
        Err(Error::Unexpected {
            contract: self.address,
            what: "buy receipt",
            reason: "no Bought event".into(),
        })
    }

    /// A deadline `secs` after the chain's clock, capped at the vault's maximum.
    pub async fn deadline_in(&self, secs: u64) -> Result<u64> {
        Ok(self.chain.clock().await? + secs.min(MAX_DEADLINE_DELAY_SECS))
    }

    // ------------------------------------------------------------------ owner

    /// Moves `amount` stablecoin from the signer into the vault, approving exactly the missing
    /// allowance first (no standing approval is left for more than the deposit).
    pub async fn deposit(&self, amount: U256) -> Result<Tx> {
        let me = self.chain.require_signer()?;
        let stable = self.stable().await?;
        let token = TestToken::new(stable, self.chain.provider());
        let allowance = self
            .view("allowance", token.allowance(me, self.address))
            .await?;
        if allowance < amount {
            self.tx("approve", token.approve(self.address, amount))
                .await?;
        }
        self.tx("deposit", self.vault().deposit(amount)).await
    }

    /// Sends `amount` of `token` from the vault to `to` (owner only; works while paused).
    pub async fn withdraw(&self, token: Address, to: Address, amount: U256) -> Result<Tx> {
        self.tx("withdraw", self.vault().withdraw(token, to, amount))
            .await
    }

    /// Stops buys (owner only).
    pub async fn pause(&self) -> Result<Tx> {
        self.tx("pause", self.vault().pause()).await
    }

    /// Allows buys again (owner only).
    pub async fn unpause(&self) -> Result<Tx> {
        self.tx("unpause", self.vault().unpause()).await
    }

    /// Replaces the agent key (owner only).
    pub async fn rotate_agent(&self, agent: Address) -> Result<Tx> {
        self.tx("rotateAgent", self.vault().rotateAgent(agent))
            .await
    }

    /// Allows or disallows a router (owner only).
    pub async fn set_router(&self, router: Address, allowed: bool) -> Result<Tx> {
        self.tx("setRouter", self.vault().setRouter(router, allowed))
            .await
    }

    /// Allows or disallows a path (owner only).
    pub async fn set_path(&self, path: &[Address], allowed: bool) -> Result<Tx> {
        self.tx("setPath", self.vault().setPath(path.to_vec(), allowed))
            .await
    }

    /// Sets an asset's feed (owner only).
    pub async fn set_feed(&self, feed: &FeedConfig) -> Result<Tx> {
        let v = self.vault();
        let call = v.setFeed(feed.asset, feed.oracle, feed.heartbeat_secs);
        self.tx("setFeed", call).await
    }

    /// Sets the budget per period and the period (owner only).
    pub async fn set_budget(&self, budget_per_period: u128, period_secs: u64) -> Result<Tx> {
        let v = self.vault();
        let call = v.setBudget(budget96(budget_per_period)?, period_secs);
        self.tx("setBudget", call).await
    }

    /// Sets the slippage cap (owner only).
    pub async fn set_slippage(&self, bps: u16) -> Result<Tx> {
        self.tx("setSlippage", self.vault().setSlippage(bps)).await
    }

    // ------------------------------------------------------------------ views

    /// The stablecoin.
    pub async fn stable(&self) -> Result<Address> {
        self.view("stable", self.vault().stable()).await
    }

    /// The agent key.
    pub async fn agent(&self) -> Result<Address> {
        self.view("agent", self.vault().agent()).await
    }

    /// The owner.
    pub async fn owner(&self) -> Result<Address> {
        self.view("owner", self.vault().owner()).await
    }

    /// The vault's bound for buying `asset` with `amount_in` stablecoin now (reverts, decoded,
    /// when the feed is stale, non-positive or missing).
    pub async fn quote(&self, asset: Address, amount_in: U256) -> Result<Quote> {
        let q = self
            .view("quote", self.vault().quote(asset, amount_in))
            .await?;
        Ok(Quote {
            floor: q.floor,
            price: q.price,
            updated_at: q.updatedAt.saturating_to(),
        })
    }

    /// What the agent may still spend this period, and when the period ends.
    pub async fn budget_left(&self) -> Result<(U256, u64)> {
        let b = self.view("budgetLeft", self.vault().budgetLeft()).await?;
        Ok((b.left, b.periodEnds.saturating_to()))
    }

    /// The vault's balance of `token`.
    pub async fn balance_of(&self, token: Address) -> Result<U256> {
        let t = TestToken::new(token, self.chain.provider());
        self.view("balanceOf", t.balanceOf(self.address)).await
    }

    async fn holding(&self, token: Address) -> Result<Holding> {
        let t = TestToken::new(token, self.chain.provider());
        Ok(Holding {
            token,
            symbol: self.view("symbol", t.symbol()).await.unwrap_or_default(),
            decimals: self.view("decimals", t.decimals()).await?,
            balance: self.balance_of(token).await?,
        })
    }

    /// Balances, budget, pause state, agent, and the allow-lists with each feed's answer.
    pub async fn status(&self) -> Result<VaultStatus> {
        if !self.chain.has_code(self.address).await? {
            return Err(Error::Unexpected {
                contract: self.address,
                what: "code",
                reason: "no contract at this address".into(),
            });
        }
        let v = self.vault();
        let chain_time = self.chain.clock().await?;
        let pending = self.view("pendingOwner", v.pendingOwner()).await?;
        let (budget_left, period_ends) = self.budget_left().await?;
        let mut routers = Vec::new();
        for r in self.view("routers", v.routers()).await? {
            routers.push((r, self.view("routerAllowed", v.routerAllowed(r)).await?));
        }
        let p = self.view("paths", v.paths()).await?;
        let paths = p.all.into_iter().zip(p.allowed).collect();
        let mut feeds = Vec::new();
        for asset in self.view("assets", v.assets()).await? {
            let f = self.view("feeds", v.feeds(asset)).await?;
            let agg = MockV3Aggregator::new(f.oracle, self.chain.provider());
            let round = if f.oracle == Address::ZERO {
                None
            } else {
                self.view("latestRoundData", agg.latestRoundData())
                    .await
                    .ok()
            };
            let answer = round.as_ref().map(|r| r.answer);
            let updated_at = round.as_ref().map(|r| r.updatedAt.saturating_to::<u64>());
            let usable = matches!((answer, updated_at), (Some(a), Some(t))
                if a.is_positive() && t != 0 && t <= chain_time
                    && chain_time - t <= u64::from(f.heartbeat));
            feeds.push(FeedStatus {
                asset: self.holding(asset).await?,
                oracle: f.oracle,
                heartbeat_secs: f.heartbeat,
                feed_decimals: f.feedDecimals,
                answer,
                updated_at,
                usable,
            });
        }
        Ok(VaultStatus {
            address: self.address,
            owner: self.owner().await?,
            pending_owner: (pending != Address::ZERO).then_some(pending),
            agent: self.agent().await?,
            paused: self.view("paused", v.paused()).await?,
            stable: self.holding(self.stable().await?).await?,
            budget_per_period: self
                .view("budgetPerPeriod", v.budgetPerPeriod())
                .await?
                .to(),
            period_secs: self.view("period", v.period()).await?,
            budget_left,
            period_ends,
            max_slippage_bps: self.view("maxSlippageBps", v.maxSlippageBps()).await?,
            routers,
            paths,
            feeds,
            chain_time,
        })
    }
}

/// The contract stores budgets in 96 bits (7.9e28 base units: 79 billion whole tokens of 18
/// decimals), packed with what was spent.
fn budget96(v: u128) -> Result<U96> {
    U96::try_from(v).map_err(|_| {
        Error::Invalid(format!(
            "a budget of {v} base units does not fit the vault's 96 bits (at most {})",
            U96::MAX
        ))
    })
}

fn rejected(contract: Address, call: &'static str, e: alloy::contract::Error) -> Error {
    let (revert, reason) = match revert::decode(&e) {
        Some((name, why)) => (Some(name), format!("{name}: {why}")),
        None => (None, e.to_string()),
    };
    Error::Rejected {
        contract,
        call,
        revert,
        reason,
    }
}

fn tx_of(r: &TransactionReceipt) -> Tx {
    Tx {
        hash: r.transaction_hash,
        block: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
    }
}
