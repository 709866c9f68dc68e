//! The contracts every devnet carries: Cairn's `ProvenanceAnchor` and `ComputeMarket`, WETH9,
//! Uniswap V2 Factory and Router02, the USDT / WBTC / WBNB test tokens, and USDT pools seeded at
//! real prices.
use crate::{DevnetConfig, Error, Result, prices::last_close};
use alloy::{
    contract::RawCallBuilder,
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider},
};
use cairn_chain::{Chain, Deployment, FeedInfo, PoolInfo, TokenInfo};
use cairn_contracts::{
    ComputeMarket, MockV3Aggregator, PAIR_INIT_CODE_HASH, PancakeFactory, PancakeRouter,
    ProvenanceAnchor, TestToken, UniswapV2Factory, UniswapV2Router02, WETH9, pair_init_code_hash,
    pancake_pair_init_code_hash, pancake_router_expects_init_code_hash,
    router_expects_init_code_hash,
};
use std::{collections::BTreeMap, path::Path};

/// Test tokens: symbol, name, decimals (as on mainnet).
pub const TOKENS: [(&str, &str, u8); 3] = [
    ("USDT", "Tether USD (Cairn devnet)", 6),
    ("WBTC", "Wrapped BTC (Cairn devnet)", 8),
    ("WBNB", "Wrapped BNB (Cairn devnet)", 18),
];

/// Seeded pools: base token, quote token, candle file whose last close is the seed price.
pub const PAIRS: [(&str, &str, &str); 2] = [
    ("WBTC", "USDT", "BTCUSDT_1d.csv"),
    ("WBNB", "USDT", "BNBUSDT_1d.csv"),
];

/// Decimals of the devnet's price feeds (Chainlink's USD feeds have 8).
pub const FEED_DECIMALS: u8 = 8;

/// USDT minted to the deployer beyond the pool seeds, for swaps and demos.
const WORKING_USDT: u64 = 1_000_000;

/// The devnet `ComputeMarket`'s unbonding delay: a day, so a provider cannot dodge a slash for
/// a job it just took by unstaking.
pub const COMPUTE_UNBONDING_DELAY_SECS: u64 = 86_400;
/// The devnet `ComputeMarket`'s challenge window: a minute, long enough for the node to check
/// a result, short enough that demos settle quickly.
pub const COMPUTE_CHALLENGE_WINDOW_SECS: u64 = 60;
/// The devnet `ComputeMarket`'s fee on settled payments, in basis points (1%).
pub const COMPUTE_FEE_BPS: u16 = 100;
/// The anvil development account that operates the devnet's `ComputeMarket`: the last of
/// anvil's ten (0 deploys and is the faucet, 1 is the default requester).
pub const COMPUTE_OPERATOR_ACCOUNT: usize = 9;
/// The devnet `ComputeMarket`'s minimum provider stake, in whole USDT.
pub const COMPUTE_MIN_STAKE_USDT: u64 = 100;

/// Reuses the deployment in the manifest when every contract in it is live on this chain;
/// deploys everything otherwise. Returns the deployment and whether it was reused.
pub async fn ensure_stack(
    chain: &Chain,
    config: &DevnetConfig,
    manifest: &Path,
) -> Result<(Deployment, bool)> {
    if let Some(existing) = Deployment::read(manifest)? {
        let current =
            existing.contracts_version == Some(cairn_contracts::cairn_contracts_version());
        if current && is_live(chain, &existing).await? {
            tracing::info!("contracts already deployed; reusing {}", manifest.display());
            return Ok((existing, true));
        }
        if !config.redeploy {
            return Err(if current {
                Error::StaleManifest {
                    path: manifest.to_owned(),
                    rpc_url: chain.url().to_owned(),
                }
            } else {
                Error::ContractsChanged {
                    path: manifest.to_owned(),
                }
            });
        }
        let kept = manifest.with_extension(format!(
            "{}.json",
            &existing.genesis_hash.to_string()[2..10]
        ));
        std::fs::rename(manifest, &kept).map_err(|e| Error::file(manifest, e))?;
        tracing::warn!(
            "manifest {} describes contracts this chain does not have; kept it as {} and redeploying",
            manifest.display(),
            kept.display()
        );
    }
    let operator = crate::anvil::dev_accounts(config)?
        .key(COMPUTE_OPERATOR_ACCOUNT)
        .ok_or_else(|| Error::contract("ComputeMarket operator", "anvil has too few accounts"))?
        .load()?
        .address();
    let deployment =
        deploy_stack(chain, &config.prices_dir, config.pool_depth_usdt, operator).await?;
    deployment.write(manifest)?;
    Ok((deployment, false))
}

async fn is_live(chain: &Chain, d: &Deployment) -> Result<bool> {
    if d.chain_id != chain.chain_id() || d.genesis_hash != chain.genesis_hash().await? {
        return Ok(false);
    }
    let addresses = d
        .contracts
        .values()
        .chain(d.tokens.values().map(|t| &t.address))
        .chain(d.pools.values().map(|p| &p.pair))
        .chain(d.feeds.values().map(|f| &f.address));
    for &a in addresses {
        if !chain.has_code(a).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Deploys the whole stack with the chain's signer and seeds one pool per [`PAIRS`] entry with
/// `depth_usdt` USDT against the base token at the last close in `prices_dir`.
///
/// `operator` runs the `ComputeMarket` (the compute node's account). On the devnet it is
/// [`COMPUTE_OPERATOR_ACCOUNT`], not the deployer: the deployer is the devnet's faucet, and a
/// faucet sharing the node's key would keep invalidating the node's nonces.
pub async fn deploy_stack(
    chain: &Chain,
    prices_dir: &Path,
    depth_usdt: u64,
    operator: Address,
) -> Result<Deployment> {
    let deployer = chain.require_funded().await?;
    let hash = pair_init_code_hash();
    if hash != PAIR_INIT_CODE_HASH || !router_expects_init_code_hash(hash) {
        return Err(Error::InitCodeHash {
            expected: PAIR_INIT_CODE_HASH.to_string(),
            actual: hash.to_string(),
        });
    }
    let pancake_hash = pancake_pair_init_code_hash();
    if !pancake_router_expects_init_code_hash(pancake_hash) {
        return Err(Error::InitCodeHash {
            expected: "the Pancake router built for the Pancake pair (run `make contracts`)".into(),
            actual: pancake_hash.to_string(),
        });
    }
    // Read prices first: a missing candle file must fail before any transaction is sent.
    let mut prices = Vec::new();
    for (base, _, file) in PAIRS {
        prices.push((base, last_close(&prices_dir.join(file))?));
    }

    let p = chain.provider();
    let weth = deploy(chain, "deploy WETH9", WETH9::deploy_builder(p)).await?;
    let factory = deploy(
        chain,
        "deploy UniswapV2Factory",
        UniswapV2Factory::deploy_builder(p, deployer),
    )
    .await?;
    let router = deploy(
        chain,
        "deploy UniswapV2Router02",
        UniswapV2Router02::deploy_builder(p, factory, weth),
    )
    .await?;

    // The second venue: PancakeSwap's own factory (and pair) with the router built for it.
    let pancake_factory = deploy(
        chain,
        "deploy PancakeFactory",
        PancakeFactory::deploy_builder(p, deployer),
    )
    .await?;
    let pancake_router = deploy(
        chain,
        "deploy PancakeRouter",
        PancakeRouter::deploy_builder(p, pancake_factory, weth),
    )
    .await?;

    let mut tokens = BTreeMap::new();
    for (symbol, name, decimals) in TOKENS {
        let builder = TestToken::deploy_builder(p, name.into(), symbol.into(), decimals);
        let address = deploy(chain, &format!("deploy {symbol}"), builder).await?;
        tokens.insert(
            symbol.to_owned(),
            TokenInfo {
                address,
                symbol: symbol.into(),
                decimals,
            },
        );
    }

    let usdt = &tokens["USDT"];
    let mut pools = BTreeMap::new();
    let mut pancake_pools = BTreeMap::new();
    for ((base_sym, quote_sym, _), (_, price)) in PAIRS.iter().zip(prices) {
        let (base, quote) = (&tokens[*base_sym], &tokens[*quote_sym]);
        let quote_amount = units(depth_usdt as f64, quote.decimals);
        let base_amount = units(depth_usdt as f64 / price.close, base.decimals);
        // The same pool on both venues, at the same seed price and depth.
        for (venue, router, factory, init_hash) in [
            ("Uniswap V2", router, factory, PAIR_INIT_CODE_HASH),
            ("Pancake", pancake_router, pancake_factory, pancake_hash),
        ] {
            for (token, amount) in [(base, base_amount), (quote, quote_amount)] {
                let t = TestToken::new(token.address, p);
                send(
                    chain,
                    &format!("mint {}", token.symbol),
                    t.mint(deployer, amount),
                )
                .await?;
                send(
                    chain,
                    &format!("approve {}", token.symbol),
                    t.approve(router, amount),
                )
                .await?;
            }
            // Both routers have Router02's interface.
            let r = UniswapV2Router02::new(router, p);
            let add = r.addLiquidity(
                base.address,
                quote.address,
                base_amount,
                quote_amount,
                base_amount,
                quote_amount,
                deployer,
                U256::MAX,
            );
            send(
                chain,
                &format!("seed {venue} {base_sym}/{quote_sym} pool"),
                add,
            )
            .await?;
            let pair = UniswapV2Factory::new(factory, p)
                .getPair(base.address, quote.address)
                .call()
                .await
                .map_err(|e| Error::contract("factory.getPair", e))?;
            // The router never asks the factory; it derives the pair address with CREATE2. Both
            // must agree or swaps revert.
            let expected = pair_address_for(factory, init_hash, base.address, quote.address);
            if pair != expected {
                return Err(Error::InitCodeHash {
                    expected: format!("{venue} pair at {expected}"),
                    actual: format!("{venue} pair at {pair}"),
                });
            }
            let info = PoolInfo {
                pair,
                base: base_sym.to_string(),
                quote: quote_sym.to_string(),
                seed_price: price.close,
                price_source: price.source.clone(),
            };
            let name = format!("{base_sym}/{quote_sym}");
            if init_hash == PAIR_INIT_CODE_HASH {
                pools.insert(name, info);
            } else {
                pancake_pools.insert(name, info);
            }
        }
    }
    // One Chainlink MockV3Aggregator per pool's base asset, answering the same seed price in
    // USD with 8 decimals (the stablecoin counts as one dollar).
    let mut feeds = BTreeMap::new();
    for (base_sym, _, _) in PAIRS {
        let pool = &pools[&format!("{base_sym}/USDT")];
        let answer = feed_answer(pool.seed_price).ok_or_else(|| {
            Error::contract(
                "seed price feed",
                format!(
                    "seed price {} ({}) does not fit {FEED_DECIMALS} decimals",
                    pool.seed_price, pool.price_source
                ),
            )
        })?;
        let description = format!("{}/USD", base_sym.trim_start_matches('W'));
        let address = deploy(
            chain,
            &format!("deploy {description} feed"),
            MockV3Aggregator::deploy_builder(p, FEED_DECIMALS, answer),
        )
        .await?;
        feeds.insert(
            base_sym.to_owned(),
            FeedInfo {
                address,
                description,
                decimals: FEED_DECIMALS,
                seed_answer: answer.to_string(),
            },
        );
    }
    let anchor = deploy(
        chain,
        "deploy ProvenanceAnchor",
        ProvenanceAnchor::deploy_builder(p),
    )
    .await?;
    // The compute market escrows USDT; `operator` is the node, the deployer the treasury.
    let market = deploy(
        chain,
        "deploy ComputeMarket",
        ComputeMarket::deploy_builder(
            p,
            usdt.address,
            operator,
            COMPUTE_UNBONDING_DELAY_SECS,
            COMPUTE_CHALLENGE_WINDOW_SECS,
            COMPUTE_FEE_BPS,
            deployer,
            units(COMPUTE_MIN_STAKE_USDT as f64, usdt.decimals),
        ),
    )
    .await?;
    let working = TestToken::new(usdt.address, p);
    send(
        chain,
        "mint working USDT",
        working.mint(deployer, units(WORKING_USDT as f64, 6)),
    )
    .await?;

    let contracts = BTreeMap::from([
        ("weth9".to_owned(), weth),
        ("uniswap_v2_factory".to_owned(), factory),
        ("uniswap_v2_router02".to_owned(), router),
        ("pancake_factory".to_owned(), pancake_factory),
        ("pancake_router".to_owned(), pancake_router),
        ("provenance_anchor".to_owned(), anchor),
        ("compute_market".to_owned(), market),
    ]);
    Ok(Deployment {
        chain_id: chain.chain_id(),
        rpc_url: chain.url().to_owned(),
        genesis_hash: chain.genesis_hash().await?,
        block_number: chain.block_number().await?,
        deployer,
        contracts,
        tokens,
        pools,
        pair_init_code_hash: hash,
        contracts_version: Some(cairn_contracts::cairn_contracts_version()),
        feeds,
        pancake_pools,
    })
}

/// The CREATE2 address of the pair for two tokens, as `UniswapV2Library.pairFor` computes it.
pub fn pair_address(factory: Address, a: Address, b: Address) -> Address {
    pair_address_for(factory, PAIR_INIT_CODE_HASH, a, b)
}

/// The CREATE2 address of a V2-style pair for two tokens under a factory whose pairs have
/// `init_hash` as init-code hash (Uniswap V2's, or PancakeSwap's).
pub(crate) fn pair_address_for(
    factory: Address,
    init_hash: B256,
    a: Address,
    b: Address,
) -> Address {
    let (t0, t1) = if a < b { (a, b) } else { (b, a) };
    let mut packed = [0u8; 40];
    packed[..20].copy_from_slice(t0.as_slice());
    packed[20..].copy_from_slice(t1.as_slice());
    factory.create2(keccak256(packed), init_hash)
}

/// A seed price as an 8-decimal feed answer, exactly from its shortest decimal form (a close of
/// `91234.56` answers `9123456000000`); `None` when it has more places than the feed.
fn feed_answer(price: f64) -> Option<alloy::primitives::I256> {
    let units = cairn_chain::parse_units(&format!("{price}"), FEED_DECIMALS).ok()?;
    alloy::primitives::I256::try_from(units)
        .ok()
        .filter(|a| a.is_positive())
}

/// `amount` whole tokens in base units of a token with `decimals` places.
fn units(amount: f64, decimals: u8) -> U256 {
    U256::from((amount * 10f64.powi(decimals as i32)).round() as u128)
}

async fn deploy(
    chain: &Chain,
    what: &str,
    builder: RawCallBuilder<&DynProvider>,
) -> Result<Address> {
    let pending = chain.rpc("eth_sendTransaction", builder.send()).await?;
    let receipt = chain.confirm(what, pending).await?;
    receipt
        .contract_address
        .ok_or_else(|| Error::contract(what, "receipt has no contract address"))
}

async fn send<P: Provider, D: alloy::contract::CallDecoder>(
    chain: &Chain,
    what: &str,
    call: alloy::contract::CallBuilder<P, D>,
) -> Result<()> {
    let pending = chain.rpc("eth_sendTransaction", call.send()).await?;
    chain.confirm(what, pending).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn pair_address_matches_mainnet_usdc_weth() {
        // The USDC/WETH pair on Ethereum mainnet, derived from the mainnet factory.
        let factory = address!("5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f");
        let usdc = address!("A0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
        let weth = address!("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2");
        let want = address!("B4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc");
        assert_eq!(pair_address(factory, usdc, weth), want);
        assert_eq!(pair_address(factory, weth, usdc), want);
    }

    #[test]
    fn feed_answers_are_exact_eight_decimal_integers() {
        assert_eq!(feed_answer(91234.56).unwrap().to_string(), "9123456000000");
        assert_eq!(feed_answer(612.3).unwrap().to_string(), "61230000000");
        assert!(feed_answer(0.000000001).is_none());
        assert!(feed_answer(0.0).is_none());
    }

    #[test]
    fn units_scale_by_decimals() {
        assert_eq!(units(1.5, 6), U256::from(1_500_000u64));
        assert_eq!(units(2.0, 18), U256::from(2_000_000_000_000_000_000u128));
    }
}
