//! `cairn bench vault`: gas of one AgentVault buy against the same swap sent straight to the
//! router (Uniswap V2's Router02, or with `--venue pancake` the router built for PancakeSwap's
//! pairs), on a scratch devnet (its own anvil, stopped afterwards).
//!
//! The direct trader is a wallet with a standing approval to the router (what the vault
//! exists to avoid); the vault buys with the agent key under its whole policy (allow-lists,
//! budget, oracle floor, exact approval reset to zero, balance deltas, event). The first swap
//! of each pays for a zero asset balance becoming non-zero; the rest are steady state.
use crate::{cli::BenchVaultArgs, config::Settings, output};
use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use anyhow::{Context, Result, anyhow, bail};
use cairn_chain::{Chain, ChainConfig, parse_units};
use cairn_contracts::{TestToken, UniswapV2Router02};
use cairn_devnet::DevnetConfig;
use cairn_vault::{FeedConfig, Order, Policy, Vault, VaultParams};
use serde_json::json;
use std::process::ExitCode;

/// What one run measured.
struct Gas {
    direct: Vec<u64>,
    vault: Vec<u64>,
}

pub(super) async fn run(
    args: &BenchVaultArgs,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    if args.rounds < 2 {
        bail!(
            "--rounds must be at least 2 (the first swap of each side warms its recipient's balance)"
        );
    }
    let (_tmp, config) = scratch_devnet(settings)?;
    let measured = measure(args, &config).await;
    let _ = cairn_devnet::down(&config).await;
    let gas = measured?;

    let median = |v: &[u64]| {
        let mut s = v[1..].to_vec();
        s.sort_unstable();
        s[s.len() / 2]
    };
    let (d, v) = (median(&gas.direct), median(&gas.vault));
    let overhead = v as i64 - d as i64;
    if json_out {
        output::json(&json!({
            "amount_usdt": args.amount,
            "asset": args.asset,
            "venue": args.venue,
            "rounds": args.rounds,
            "direct_router02_swap_gas": gas.direct,
            "vault_buy_gas": gas.vault,
            "steady_state": { "direct": d, "vault": v, "overhead": overhead },
        }));
    } else {
        output::print(&format!(
            "gas of {} USDT -> {} through the {} router on a scratch devnet ({} rounds)\n\
             {:<34}{:>10}{:>10}\n{:<34}{:>10}{:>10}\n{:<34}{:>10}{:>10}\n\
             vault overhead (steady state): {overhead} gas ({:+.1}%)\n",
            args.amount,
            args.asset,
            args.venue,
            args.rounds,
            "",
            "direct",
            "vault",
            "first swap (cold storage)",
            gas.direct[0],
            gas.vault[0],
            "steady state (median of the rest)",
            d,
            v,
            (v as f64 / d as f64 - 1.0) * 100.0,
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// A devnet of its own for a benchmark (any free port, automine, nothing persisted), in a
/// temporary directory under the data directory that goes when the guard does.
pub(super) fn scratch_devnet(settings: &Settings) -> Result<(tempfile::TempDir, DevnetConfig)> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let tmp = tempfile::tempdir_in(&settings.data_dir)?;
    let mut config = settings.devnet(None).with_data_dir(tmp.path());
    config.port = 0;
    config.persist_state = false;
    config.block_time = None;
    Ok((tmp, config))
}

async fn measure(args: &BenchVaultArgs, config: &DevnetConfig) -> Result<Gas> {
    let up = cairn_devnet::up(config).await?;
    let d = &up.deployment;
    let dev = cairn_devnet::dev_accounts(config)?;
    let faucet = cairn_devnet::connect(&up.devnet, Some(dev.deployer_key())).await?;
    let owner = cairn_devnet::connect(&up.devnet, dev.key(1)).await?;
    let me = owner.require_signer()?;
    let asset_sym = args.asset.to_ascii_uppercase();
    let asset = d
        .tokens
        .get(&asset_sym)
        .map(|t| t.address)
        .ok_or_else(|| anyhow!("--asset {}: the devnet has WBTC and WBNB", args.asset))?;
    let feed = d
        .feeds
        .get(&asset_sym)
        .ok_or_else(|| anyhow!("--asset {}: the devnet has no feed for it", args.asset))?
        .address;
    let usdt = d.tokens["USDT"].address;
    let role = match args.venue.as_str() {
        "uniswap-v2" => "uniswap_v2_router02",
        "pancake" => "pancake_router",
        v => bail!("--venue {v:?}: use uniswap-v2 or pancake"),
    };
    let router = d
        .contract(role)
        .ok_or_else(|| anyhow!("the devnet has no {role}"))?;
    let amount = parse_units(&args.amount, 6)
        .with_context(|| format!("--amount {:?}: whole USDT, up to 6 decimals", args.amount))?;
    if amount.is_zero() {
        bail!("--amount must be more than zero");
    }
    let total = amount * U256::from(args.rounds);

    // The agent: a fresh key with gas only.
    let agent_key = PrivateKeySigner::random();
    faucet
        .send_ether(agent_key.address(), U256::from(10u128.pow(19)))
        .await?;
    let cfg = ChainConfig::new(faucet.url()).with_chain_id(faucet.chain_id());
    let agent = Chain::connect(&cfg, Some(agent_key.clone())).await?;

    let usdt_token = TestToken::new(usdt, faucet.provider());
    faucet
        .send_call("mint USDT", usdt_token.mint(me, total * U256::from(2u8)))
        .await
        .map_err(|e| anyhow!("minting USDT: {e}"))?;
    let params = VaultParams {
        owner: me,
        stable: usdt,
        agent: agent_key.address(),
        budget_per_period: total.to(),
        period_secs: 86_400,
        max_slippage_bps: 100,
    };
    let policy = Policy {
        routers: vec![router],
        paths: vec![vec![usdt, asset]],
        feeds: vec![FeedConfig {
            asset,
            oracle: feed,
            heartbeat_secs: 3_600,
        }],
    };
    let owner_vault = Vault::deploy(owner.clone(), &params, &policy).await?;
    owner_vault.deposit(total).await?;
    let vault = Vault::new(agent, owner_vault.address());

    // The direct trader's standing approval.
    let t = TestToken::new(usdt, owner.provider());
    owner
        .send_call("approve", t.approve(router, total))
        .await
        .map_err(|e| anyhow!("approving Router02: {e}"))?;
    let r = UniswapV2Router02::new(router, owner.provider());
    let mut gas = Gas {
        direct: Vec::new(),
        vault: Vec::new(),
    };
    for _ in 0..args.rounds {
        let deadline = vault.deadline_in(300).await?;
        let swap = r.swapExactTokensForTokens(
            amount,
            U256::from(1u8),
            vec![usdt, asset],
            me,
            U256::from(deadline),
        );
        let receipt = owner
            .send_call("direct swap", swap)
            .await
            .map_err(|e| anyhow!("direct Router02 swap: {e}"))?;
        gas.direct.push(receipt.gas_used);
        let bought = vault
            .buy(&Order {
                router,
                path: vec![usdt, asset],
                amount_in: amount,
                min_out: U256::ZERO,
                deadline,
            })
            .await?;
        gas.vault.push(bought.tx.gas_used);
    }
    Ok(gas)
}
