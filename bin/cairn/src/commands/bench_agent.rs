//! `cairn bench agent`: how fast the live agent acts on a decision, on a scratch devnet (its
//! own anvil, stopped afterwards).
//!
//! The market replayer moves the pools and feeds one candle per `--step` of wall time while
//! the agent runs a plan live through a vault. For every buy it reports the wall time from the
//! slot's decision (feeds and pools read, policy run) to the broadcast of the signed buy
//! (route quotes, `eth_call` simulation, gas estimate, nonce, fees, signing, the intent
//! committed to SQLite) — the number to hold against a chain's block interval (BNB Chain and
//! Base: 2 s or less) — and how many blocks after the one it was signed at the buy was mined.
//! The devnet mines a block per transaction (the market replayer jumps chain time a day per
//! candle, which only an automining chain keeps consistent), so the block count also shows
//! whether the replayer's transactions came in between.
use crate::{cli::BenchAgentArgs, config::Settings, output};
use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use anyhow::{Context, Result, anyhow, bail};
use cairn_agent::{Agent, AgentConfig, Live, Mode, OrderState, Store, Venue, replay};
use cairn_chain::{Chain, ChainConfig};
use cairn_contracts::TestToken;
use cairn_devnet::DevnetConfig;
use cairn_vault::{FeedConfig, Policy, Vault, VaultParams};
use serde_json::json;
use std::{process::ExitCode, time::Duration};

/// What one run measured.
struct Measured {
    /// Orders that were not bought, with why.
    failed: Vec<String>,
    latency_ms: Vec<f64>,
    blocks_to_mined: Vec<u64>,
    buys: usize,
}

pub(super) async fn run(
    args: &BenchAgentArgs,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    if args.slots == 0 {
        bail!("--slots must be at least 1");
    }
    let step = super::vault::duration(&args.step, "--step")?;
    if step < 2 {
        bail!("--step must be at least 2s: the replayer's swaps and feed updates take a moment");
    }
    let (tmp, config) = super::bench_vault::scratch_devnet(settings)?;
    let measured = measure(args, &config, tmp.path(), Duration::from_secs(step)).await;
    let _ = cairn_devnet::down(&config).await;
    let m = measured?;
    if !m.failed.is_empty() {
        bail!("buys failed:\n{}", m.failed.join("\n"));
    }
    if m.latency_ms.is_empty() {
        bail!(
            "the agent bought nothing in {} slot(s); try more --slots",
            args.slots
        );
    }
    let mut l = m.latency_ms.clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| l[((l.len() - 1) as f64 * p).round() as usize];
    let within = m.blocks_to_mined.iter().filter(|&&b| b <= 1).count();
    if json_out {
        output::json(&json!({
            "plan": args.plan,
            "slots": args.slots,
            "buys": m.buys,
            "decision_to_broadcast_ms": {
                "p50": pct(0.5), "p90": pct(0.9), "max": pct(1.0), "all": m.latency_ms,
            },
            "blocks_from_signing_to_mined": m.blocks_to_mined,
            "mined_in_the_block_after_signing": within,
        }));
    } else {
        output::print(&format!(
            "live agent on a scratch devnet, {} slot(s), {} buy(s)\n\
             decision → broadcast: p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms\n\
             mined in the block after signing: {within} of {} (blocks: {:?})\n",
            args.slots,
            m.buys,
            pct(0.5),
            pct(0.9),
            pct(1.0),
            m.blocks_to_mined.len(),
            m.blocks_to_mined
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn measure(
    args: &BenchAgentArgs,
    config: &DevnetConfig,
    dir: &std::path::Path,
    step: Duration,
) -> Result<Measured> {
    let plan_bytes = std::fs::read(&args.plan)
        .with_context(|| format!("cannot read plan {}", args.plan.display()))?;
    let plan = super::agent::load_plan(&args.plan)?;
    let up = cairn_devnet::up(config).await?;
    let d = &up.deployment;
    let dev = cairn_devnet::dev_accounts(config)?;
    let faucet = cairn_devnet::connect(&up.devnet, Some(dev.deployer_key())).await?;
    let owner = cairn_devnet::connect(&up.devnet, dev.key(1)).await?;
    let me = owner.require_signer()?;
    let venue = Venue::from_deployment(d, &plan.quote, plan.symbols(), 3_600)?;
    let symbols: Vec<String> = plan.symbols().map(str::to_owned).collect();

    // The vault: every route and asset of the venue, a budget the plan cannot exceed.
    let agent_key = PrivateKeySigner::random();
    faucet
        .send_ether(agent_key.address(), U256::from(10u128.pow(19)))
        .await?;
    let budget = cairn_chain::parse_units("1000000", venue.stable_decimals)?;
    let usdt = TestToken::new(venue.stable, faucet.provider());
    faucet
        .send_call("mint USDT", usdt.mint(me, budget))
        .await
        .map_err(|e| anyhow!("minting the stablecoin: {e}"))?;
    let params = VaultParams {
        owner: me,
        stable: venue.stable,
        agent: agent_key.address(),
        budget_per_period: budget.to(),
        period_secs: 86_400,
        max_slippage_bps: 200,
    };
    let policy = Policy {
        routers: venue.routes().iter().map(|r| r.router).collect(),
        paths: venue
            .assets
            .iter()
            .map(|a| vec![venue.stable, a.token])
            .collect(),
        feeds: venue
            .assets
            .iter()
            .map(|a| FeedConfig {
                asset: a.token,
                oracle: a.feed,
                heartbeat_secs: 3_600,
            })
            .collect(),
    };
    let vault = Vault::deploy(owner.clone(), &params, &policy).await?;
    vault.deposit(budget).await?;

    let cfg = ChainConfig::new(faucet.url()).with_chain_id(faucet.chain_id());
    let chain = Chain::connect(&cfg, None).await?;
    let store = Store::open(&dir.join("agent.sqlite"))?;
    let agent_cfg = AgentConfig {
        plan,
        plan_bytes,
        mode: Mode::Live,
        venue: venue.clone(),
        live: Some(Live {
            vault: vault.address(),
            signer: agent_key,
        }),
        slots: Some(args.slots),
        poll: Duration::from_millis(50),
        deadline_secs: 300,
        max_outage: Duration::from_secs(60),
        log: None,
        exit_at: None,
        route: None,
        bump_after: cairn_chain::send::BUMP_AFTER,
        vol_model: None,
    };
    let mut agent = Agent::new(agent_cfg, chain, store)?;
    let running = tokio::spawn(async move { agent.run().await });
    // The agent fixes slot 0 on its first look at the clock; the first candle starts slot 1.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let files: Vec<String> = symbols
        .iter()
        .map(|s| {
            args.data
                .join(format!("{s}USDT_1d.csv"))
                .display()
                .to_string()
        })
        .collect();
    let series = super::agent::load_data(
        &files,
        super::agent::DataOptions {
            quiet: true,
            ..Default::default()
        },
    )?
    .1;
    let start = series.time.len().saturating_sub(args.slots as usize + 1);
    let rc = replay::ReplayConfig {
        venue: venue.clone(),
        time_ms: series.time[start..].to_vec(),
        close: series.close.iter().map(|c| c[start..].to_vec()).collect(),
        chain_step_secs: 86_400,
        wall_per_step: step,
        tolerance_bps: 10,
    };
    let market = cairn_devnet::connect(&up.devnet, Some(dev.deployer_key())).await?;
    replay::run(&market, &rc, |_| {}).await?;
    let report = tokio::time::timeout(Duration::from_secs(120), running)
        .await
        .map_err(|_| anyhow!("the agent did not finish its slots within two minutes"))??
        .map_err(|e| anyhow!("the agent stopped: {e}"))?;
    let filled: Vec<_> = report
        .orders
        .iter()
        .filter(|o| o.state == OrderState::Filled)
        .collect();
    Ok(Measured {
        failed: report
            .orders
            .iter()
            .filter(|o| o.state == OrderState::Failed)
            .map(|o| {
                format!(
                    "slot {} {}: {}",
                    o.slot,
                    o.symbol,
                    o.error.as_deref().unwrap_or("?")
                )
            })
            .collect(),
        latency_ms: report.send_latency_ms.clone(),
        blocks_to_mined: filled
            .iter()
            .filter_map(|o| Some(o.fill_block?.saturating_sub(o.sent_block?)))
            .collect(),
        buys: filled.len(),
    })
}
