//! Plain data the client takes and returns. Amounts are integer base units.
use alloy::primitives::{Address, B256, I256, U256};
use serde::Serialize;

/// What a deployment fixes: who owns it, what it spends, who may spend, how much per period,
/// and how far under the oracle price a fill may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultParams {
    /// The owner (deposits, withdraws, pauses, configures).
    pub owner: Address,
    /// The stablecoin the vault holds and spends.
    pub stable: Address,
    /// The agent key allowed to buy.
    pub agent: Address,
    /// Stablecoin base units the agent may spend per period (at most 2^96 − 1).
    pub budget_per_period: u128,
    /// Length of a budget period, in seconds.
    pub period_secs: u64,
    /// Slippage cap under the oracle price, in basis points (at most 5000).
    pub max_slippage_bps: u16,
}

/// One asset's price feed (`AggregatorV3Interface`, the asset's price in the stablecoin's
/// currency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedConfig {
    /// The asset token it prices.
    pub asset: Address,
    /// The aggregator.
    pub oracle: Address,
    /// Longest accepted age of its answer, in seconds.
    pub heartbeat_secs: u32,
}

/// The allow-lists the owner configures after deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Routers the agent may trade through (Uniswap V2 Router02 interface).
    pub routers: Vec<Address>,
    /// Token paths, each `[stable, asset]` or `[stable, hop, asset]`.
    pub paths: Vec<Vec<Address>>,
    /// One feed per asset.
    pub feeds: Vec<FeedConfig>,
}

/// One buy the agent asks the vault to make. The vault picks the recipient (itself) and the
/// floor (oracle price minus the cap); `min_out` can only raise the floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// An allow-listed router.
    pub router: Address,
    /// An allow-listed path, stablecoin first.
    pub path: Vec<Address>,
    /// Stablecoin base units to spend.
    pub amount_in: U256,
    /// The agent's own minimum (0: the vault's floor alone).
    pub min_out: U256,
    /// Unix time (chain clock) after which the swap must not happen; at most 15 minutes ahead.
    pub deadline: u64,
}

/// A mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tx {
    /// Its hash.
    pub hash: B256,
    /// The block it was mined in.
    pub block: u64,
    /// Gas it used.
    pub gas_used: u64,
}

/// A completed buy, as the vault's `Bought` event reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bought {
    /// The transaction.
    pub tx: Tx,
    /// The asset bought.
    pub asset: Address,
    /// The router used.
    pub router: Address,
    /// Stablecoin spent.
    pub amount_in: U256,
    /// Asset received by the vault (balance delta).
    pub received: U256,
    /// The least the vault would accept (oracle price minus the cap).
    pub floor: U256,
    /// The oracle answer used (feed decimals).
    pub price: I256,
    /// When the oracle answer was updated.
    pub oracle_updated_at: u64,
    /// Stablecoin spent in the period so far, this buy included.
    pub spent_in_period: U256,
}

/// The vault's bound for one buy now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// Least asset base units accepted.
    pub floor: U256,
    /// The oracle answer (feed decimals).
    pub price: I256,
    /// When the answer was updated.
    pub updated_at: u64,
}

/// A token and the vault's balance of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Token contract.
    pub token: Address,
    /// Its symbol (empty when the token has none).
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
    /// The vault's balance, in base units.
    pub balance: U256,
}

/// A configured feed and what it answers now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// The asset it prices and the vault's holding of it.
    pub asset: Holding,
    /// The aggregator (zero: removed).
    pub oracle: Address,
    /// Heartbeat in seconds.
    pub heartbeat_secs: u32,
    /// The feed's decimals.
    pub feed_decimals: u8,
    /// The latest answer, when the feed could be read.
    pub answer: Option<I256>,
    /// When it was updated.
    pub updated_at: Option<u64>,
    /// Whether a buy now would accept it (positive and within the heartbeat).
    pub usable: bool,
}

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultStatus {
    /// The vault.
    pub address: Address,
    /// Its owner.
    pub owner: Address,
    /// A proposed owner that has not accepted yet.
    pub pending_owner: Option<Address>,
    /// The agent key.
    pub agent: Address,
    /// Whether buys are stopped.
    pub paused: bool,
    /// The stablecoin and the vault's balance of it.
    pub stable: Holding,
    /// Budget per period (stablecoin base units).
    pub budget_per_period: u128,
    /// Period length in seconds.
    pub period_secs: u64,
    /// What the agent may still spend in the current period.
    pub budget_left: U256,
    /// When the current period ends (unix seconds).
    pub period_ends: u64,
    /// Slippage cap in basis points.
    pub max_slippage_bps: u16,
    /// Routers ever allow-listed, with whether they are allowed now.
    pub routers: Vec<(Address, bool)>,
    /// Paths ever allow-listed, with whether they are allowed now.
    pub paths: Vec<(Vec<Address>, bool)>,
    /// Feeds of the assets ever configured.
    pub feeds: Vec<FeedStatus>,
    /// The chain clock the status was read at.
    pub chain_time: u64,
}
