//! Where the agent buys and what it sees there: each asset's Uniswap V2 pool (reserves) and
//! Chainlink-shaped feed (answer and its time), read in one pass.
use crate::{Error, Result, math};
use alloy::primitives::{Address, U256};
use cairn_chain::{Chain, Deployment};
use cairn_contracts::{MockV3Aggregator, UniswapV2Pair};
use serde::{Deserialize, Serialize};

/// One plan asset on the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetVenue {
    /// The plan's symbol (`BTC`).
    pub symbol: String,
    /// The token bought (`WBTC`).
    pub token: Address,
    /// The token's symbol.
    pub token_symbol: String,
    /// The token's decimals.
    pub decimals: u8,
    /// The price feed (stablecoin currency per whole token).
    pub feed: Address,
    /// The feed's decimals.
    pub feed_decimals: u8,
    /// The stablecoin/token pair.
    pub pair: Address,
}

/// Another router the agent may buy through, with its own pools (on the devnet: PancakeSwap's
/// core contracts behind a router built for them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Its name (`pancake`).
    pub name: String,
    /// The router (Router02 interface).
    pub router: Address,
    /// Its pools' fee in basis points.
    pub fee_bps: u32,
    /// Each plan asset's stablecoin pair on it, in plan order.
    pub pairs: Vec<Address>,
}

/// The name of a venue's primary route.
pub const PRIMARY_ROUTE: &str = "uniswap-v2";

/// The market the agent trades: the stablecoin, the router, the pool fee and the assets in
/// plan order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Venue {
    /// The stablecoin.
    pub stable: Address,
    /// Its symbol.
    pub stable_symbol: String,
    /// Its decimals.
    pub stable_decimals: u8,
    /// The Router02 the vault swaps through.
    pub router: Address,
    /// The pools' fee in basis points (30: Uniswap V2).
    pub fee_bps: u32,
    /// Longest accepted age of a feed answer, in seconds.
    pub heartbeat_secs: u64,
    /// Plan assets, in plan order.
    pub assets: Vec<AssetVenue>,
    /// Other routes to the same assets; a buy goes where it gets the most.
    #[serde(default)]
    pub alternatives: Vec<Route>,
}

impl Venue {
    /// The venue of `symbols` (plan order) in a devnet deployment manifest: token `S` or `WS`,
    /// its feed, its pool against `quote`, Router02.
    pub fn from_deployment<'a>(
        d: &Deployment,
        quote: &str,
        symbols: impl IntoIterator<Item = &'a str>,
        heartbeat_secs: u64,
    ) -> Result<Venue> {
        let find = |s: &str| {
            d.tokens
                .values()
                .find(|t| t.symbol.eq_ignore_ascii_case(s))
                .or_else(|| {
                    d.tokens
                        .values()
                        .find(|t| t.symbol.eq_ignore_ascii_case(&format!("W{s}")))
                })
        };
        let stable = find(quote).ok_or_else(|| {
            Error::Config(format!(
                "the deployment has no token for the plan's quote {quote}"
            ))
        })?;
        let router = d
            .contract("uniswap_v2_router02")
            .ok_or_else(|| Error::Config("the deployment has no uniswap_v2_router02".into()))?;
        let mut assets = Vec::new();
        for s in symbols {
            let t = find(s).ok_or_else(|| {
                Error::Config(format!(
                    "the deployment has no token for the plan's asset {s} (it has {})",
                    d.tokens.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            let feed = d.feeds.get(&t.symbol).ok_or_else(|| {
                Error::Config(format!("the deployment has no price feed for {}", t.symbol))
            })?;
            let pool = d
                .pools
                .values()
                .find(|p| p.base == t.symbol && p.quote == stable.symbol)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "the deployment has no {}/{} pool",
                        t.symbol, stable.symbol
                    ))
                })?;
            assets.push(AssetVenue {
                symbol: s.to_owned(),
                token: t.address,
                token_symbol: t.symbol.clone(),
                decimals: t.decimals,
                feed: feed.address,
                feed_decimals: feed.decimals,
                pair: pool.pair,
            });
        }
        // The Pancake venue when the deployment has it for every asset.
        let mut alternatives = Vec::new();
        if let Some(r) = d.contract("pancake_router") {
            let pairs: Option<Vec<Address>> = assets
                .iter()
                .map(|a| {
                    d.pancake_pools
                        .values()
                        .find(|p| p.base == a.token_symbol && p.quote == stable.symbol)
                        .map(|p| p.pair)
                })
                .collect();
            if let Some(pairs) = pairs {
                let (keep, den) = cairn_contracts::PANCAKE_FEE;
                alternatives.push(Route {
                    name: "pancake".into(),
                    router: r,
                    fee_bps: 10_000 - keep * 10_000 / den,
                    pairs,
                });
            }
        }
        Ok(Venue {
            stable: stable.address,
            stable_symbol: stable.symbol.clone(),
            stable_decimals: stable.decimals,
            router,
            fee_bps: 30,
            heartbeat_secs,
            assets,
            alternatives,
        })
    }

    /// Every route: the primary one first, then the alternatives.
    pub fn routes(&self) -> Vec<Route> {
        let mut all = vec![Route {
            name: PRIMARY_ROUTE.into(),
            router: self.router,
            fee_bps: self.fee_bps,
            pairs: self.assets.iter().map(|a| a.pair).collect(),
        }];
        all.extend(self.alternatives.iter().cloned());
        all
    }

    /// This venue seen through `route` (its router, fee and pairs) instead of the primary one.
    pub fn through(&self, route: &Route) -> Venue {
        let mut v = self.clone();
        v.router = route.router;
        v.fee_bps = route.fee_bps;
        for (a, p) in v.assets.iter_mut().zip(&route.pairs) {
            a.pair = *p;
        }
        v.alternatives.clear();
        v
    }
}

/// One asset as seen at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AssetQuote {
    /// The feed's answer (feed decimals).
    pub answer: U256,
    /// When the feed was updated (unix seconds).
    pub updated_at: u64,
    /// The feed's answer as a number (for the policy and the record).
    pub price: f64,
    /// Stablecoin reserve of the pool (base units).
    pub reserve_stable: U256,
    /// Asset reserve of the pool (base units).
    pub reserve_asset: U256,
    /// The pool's mid price, stablecoin per whole asset.
    pub pool_price: f64,
}

impl AssetQuote {
    /// Whether the feed's answer is usable at chain time `now` (positive, not from the
    /// future, within the heartbeat).
    pub fn fresh(&self, now: u64, heartbeat: u64) -> bool {
        !self.answer.is_zero()
            && self.updated_at != 0
            && self.updated_at <= now
            && now - self.updated_at <= heartbeat
    }
}

/// Reads every asset's feed and pool.
pub async fn read(chain: &Chain, venue: &Venue) -> Result<Vec<AssetQuote>> {
    let mut out = Vec::with_capacity(venue.assets.len());
    for a in &venue.assets {
        let feed = MockV3Aggregator::new(a.feed, chain.provider());
        let round = chain
            .rpc("latestRoundData", feed.latestRoundData().call())
            .await?;
        let answer = if round.answer.is_negative() {
            U256::ZERO
        } else {
            round.answer.into_raw()
        };
        let pair = UniswapV2Pair::new(a.pair, chain.provider());
        let token0 = chain.rpc("token0", pair.token0().call()).await?;
        let r = chain.rpc("getReserves", pair.getReserves().call()).await?;
        let (r0, r1) = (U256::from(r._reserve0), U256::from(r._reserve1));
        let (reserve_stable, reserve_asset) = if token0 == venue.stable {
            (r0, r1)
        } else if token0 == a.token {
            (r1, r0)
        } else {
            return Err(Error::Unexpected {
                contract: a.pair,
                what: "token0",
                reason: format!("{token0} is neither the stablecoin nor {}", a.token_symbol),
            });
        };
        let pool_price = math::to_float(reserve_stable, venue.stable_decimals)
            / math::to_float(reserve_asset, a.decimals);
        out.push(AssetQuote {
            answer,
            updated_at: round.updatedAt.saturating_to(),
            price: math::to_float(answer, a.feed_decimals),
            reserve_stable,
            reserve_asset,
            pool_price,
        });
    }
    Ok(out)
}
