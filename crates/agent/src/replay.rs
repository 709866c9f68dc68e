//! `cairn market replay`: moves the devnet's pools and feeds along real history, so the agent
//! has a market to react to and the feeds stay fresh.
//!
//! ```text
//!  for each candle k:  chain time = start + (k + 1) · interval (evm_setNextBlockTimestamp)
//!                      pool:  the arbitrage swap that brings its price to close_k (integer
//!                             square root on the reserves, fee grossed up; math::arbitrage)
//!                      feed:  updateAnswer(close_k)   (after the pools: fresh feeds mean the
//!                             pools have moved)
//!                      sleep interval / speed
//! ```
//!
//! The market maker is a funded devnet account that owns the test tokens (it mints what a
//! swap needs) and approves the router for its own tokens.
use crate::{Error, Result, market::Venue, math};
use alloy::{
    primitives::{I256, U256},
    providers::Provider,
};
use cairn_chain::{Chain, SendFailure, parse_units};
use cairn_contracts::{MockV3Aggregator, TestToken, UniswapV2Router02};
use serde::Serialize;
use std::time::{Duration, Instant};

/// What to replay and how fast.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The pools and feeds (assets in the order of `close`).
    pub venue: Venue,
    /// Candle times (UTC ms), shared by every asset.
    pub time_ms: Vec<i64>,
    /// `close[asset][candle]`, stablecoin per whole asset.
    pub close: Vec<Vec<f64>>,
    /// Chain seconds each candle advances (the candle interval).
    pub chain_step_secs: u64,
    /// Wall time each candle takes.
    pub wall_per_step: Duration,
    /// A pool within this many basis points of its target is left alone.
    pub tolerance_bps: u32,
}

/// One asset after one step.
#[derive(Debug, Clone, Serialize)]
pub struct AssetStep {
    /// The venue's symbol.
    pub symbol: String,
    /// The candle's close.
    pub target: f64,
    /// The feed's new answer (feed decimals).
    pub answer: String,
    /// The pool's price after the swap.
    pub pool_price: f64,
    /// The swap made: `buy` (stablecoin in) or `sell` (asset in), base units paid in.
    pub swap: Option<(String, String)>,
}

/// One replayed candle.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Index of the candle in the replay.
    pub step: usize,
    /// The candle's time (UTC ms).
    pub candle_ms: i64,
    /// The chain time it was replayed at (unix seconds).
    pub chain_time: u64,
    /// Per asset.
    pub assets: Vec<AssetStep>,
}

fn sent(what: &str, r: std::result::Result<impl Sized, SendFailure>) -> Result<()> {
    r.map(|_| ())
        .map_err(|e| Error::Chain(format!("{what}: {e}")))
}

/// Replays every candle of `cfg` with `chain` (signing as the market maker, which must own the
/// test tokens), calling `on_step` after each.
pub async fn run(
    chain: &Chain,
    cfg: &ReplayConfig,
    mut on_step: impl FnMut(&Step),
) -> Result<Vec<Step>> {
    let me = chain.require_signer()?;
    let p = chain.provider();
    let v = &cfg.venue;
    if cfg.close.len() != v.assets.len() {
        return Err(Error::Config(format!(
            "{} price series for {} assets",
            cfg.close.len(),
            v.assets.len()
        )));
    }
    // The market maker's own standing approvals (its tokens, not the vault's), on every route.
    let routes = v.routes();
    for r in &routes {
        for t in std::iter::once(v.stable).chain(v.assets.iter().map(|a| a.token)) {
            let token = TestToken::new(t, p);
            let allowance = chain
                .rpc("allowance", token.allowance(me, r.router).call())
                .await?;
            if allowance < U256::from(u128::MAX) {
                sent(
                    "approve",
                    chain
                        .send_call("approve", token.approve(r.router, U256::MAX))
                        .await,
                )?;
            }
        }
    }
    let mut steps = Vec::new();
    let start = chain.clock().await?;
    for k in 0..cfg.time_ms.len() {
        let began = Instant::now();
        let ts = (start + (k as u64 + 1) * cfg.chain_step_secs).max(chain.clock().await? + 1);
        let _: serde_json::Value = chain
            .rpc(
                "evm_setNextBlockTimestamp",
                p.raw_request("evm_setNextBlockTimestamp".into(), (ts,)),
            )
            .await?;
        let mut answers = Vec::new();
        let mut assets = Vec::new();
        for (i, a) in v.assets.iter().enumerate() {
            let close = cfg.close[i][k];
            let answer = parse_units(
                &format!("{close:.*}", a.feed_decimals as usize),
                a.feed_decimals,
            )
            .map_err(|e| Error::Config(format!("{} close {close}: {e}", a.symbol)))?;
            // Every route's pool is moved to the candle (the primary's swap is the one reported).
            let mut made = None;
            for (ri, r) in routes.iter().enumerate() {
                let rv = v.through(r);
                let router = UniswapV2Router02::new(r.router, p);
                let q = crate::market::read(
                    chain,
                    &Venue {
                        assets: vec![rv.assets[i].clone()],
                        ..rv.clone()
                    },
                )
                .await?[0];
                let ten = U256::from(10u8);
                let num = answer * ten.pow(U256::from(v.stable_decimals));
                let den = ten.pow(U256::from(a.feed_decimals) + U256::from(a.decimals));
                let swap = math::arbitrage(
                    q.reserve_stable,
                    q.reserve_asset,
                    num,
                    den,
                    r.fee_bps,
                    cfg.tolerance_bps,
                );
                if let Some(s) = swap {
                    let (pay, get) = if s.buy_asset {
                        (v.stable, a.token)
                    } else {
                        (a.token, v.stable)
                    };
                    let token = TestToken::new(pay, p);
                    let bal = chain.rpc("balanceOf", token.balanceOf(me).call()).await?;
                    if bal < s.amount_in {
                        sent(
                            "mint",
                            chain
                                .send_call("mint", token.mint(me, s.amount_in * U256::from(2u8)))
                                .await,
                        )?;
                    }
                    sent(
                        "swapExactTokensForTokens",
                        chain
                            .send_call(
                                "swapExactTokensForTokens",
                                router.swapExactTokensForTokens(
                                    s.amount_in,
                                    U256::ZERO,
                                    vec![pay, get],
                                    me,
                                    U256::from(ts + 3_600),
                                ),
                            )
                            .await,
                    )?;
                    if ri == 0 {
                        made = Some((
                            if s.buy_asset { "buy" } else { "sell" }.to_owned(),
                            s.amount_in.to_string(),
                        ));
                    }
                }
            }
            answers.push(answer);
            assets.push(AssetStep {
                symbol: a.symbol.clone(),
                target: close,
                answer: answer.to_string(),
                pool_price: 0.0,
                swap: made,
            });
        }
        // Feeds after pools: an agent that waits for fresh feeds sees moved pools.
        for (a, answer) in v.assets.iter().zip(&answers) {
            let feed = MockV3Aggregator::new(a.feed, p);
            let value = I256::try_from(*answer)
                .map_err(|_| Error::Config(format!("{} answer too large", a.symbol)))?;
            sent(
                "updateAnswer",
                chain
                    .send_call("updateAnswer", feed.updateAnswer(value))
                    .await,
            )?;
        }
        let after = crate::market::read(chain, v).await?;
        for (s, q) in assets.iter_mut().zip(&after) {
            s.pool_price = q.pool_price;
        }
        let step = Step {
            step: k,
            candle_ms: cfg.time_ms[k],
            chain_time: chain.clock().await?,
            assets,
        };
        on_step(&step);
        steps.push(step);
        if k + 1 < cfg.time_ms.len()
            && let Some(rest) = cfg.wall_per_step.checked_sub(began.elapsed())
        {
            tokio::time::sleep(rest).await;
        }
    }
    Ok(steps)
}
