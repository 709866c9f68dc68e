//! `cairn node serve`, and the chain plumbing the compute commands share: which chain, key and
//! ComputeMarket (the local devnet by default), and funding fresh accounts on the devnet.
use crate::{
    cli::{BenchComputeArgs, ChainArgs, NodeCmd},
    config::Settings,
    output,
};
use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use anyhow::{Context, Result, anyhow};
use cairn_chain::{Chain, ChainConfig, Deployment};
use cairn_escrow::Escrow;
use cairn_node::{Node, NodeConfig};
use serde_json::json;
use std::{process::ExitCode, sync::Arc, time::Duration};

/// The chain for a compute command: explicit `--rpc-url`/`--key-file` (or config/env) win;
/// otherwise the running local devnet, signing with its account `devnet_account` (0 is the
/// deployer and faucet, [`cairn_devnet::COMPUTE_OPERATOR_ACCOUNT`] operates the ComputeMarket).
pub(crate) async fn chain(
    settings: &Settings,
    args: &ChainArgs,
    devnet_account: usize,
) -> Result<Chain> {
    let (cfg, key) = settings.chain(args)?;
    if args.rpc_url.is_some() || key.is_some() {
        let key = key.ok_or(cairn_chain::Error::NoSigner {
            var: cairn_chain::PRIVATE_KEY_ENV,
        })?;
        return Ok(Chain::connect(&cfg, Some(key.load()?)).await?);
    }
    let dcfg = settings.devnet(None);
    let devnet = cairn_devnet::status(&dcfg).await?.ok_or_else(|| {
        anyhow!("no chain: start the devnet (`cairn devnet up`) or pass --rpc-url and --key-file")
    })?;
    let dev = cairn_devnet::dev_accounts(&dcfg)?;
    let key = dev
        .key(devnet_account)
        .ok_or_else(|| anyhow!("the devnet has no account {devnet_account}"))?;
    Ok(cairn_devnet::connect(&devnet, Some(key)).await?)
}

/// The ComputeMarket: `explicit`, else the deployment manifest's `compute_market` for this chain.
pub(crate) fn market_address(
    settings: &Settings,
    chain_id: u64,
    explicit: Option<Address>,
) -> Result<Address> {
    if let Some(a) = explicit {
        return Ok(a);
    }
    for path in [
        settings.data_dir.join("deployment.json"),
        settings
            .data_dir
            .join(format!("deployment-{chain_id}.json")),
    ] {
        if let Some(d) = Deployment::read(&path)?.filter(|d| d.chain_id == chain_id)
            && let Some(a) = d.contract("compute_market")
        {
            return Ok(a);
        }
    }
    Err(anyhow!(
        "no ComputeMarket known for chain {chain_id}: pass --market-contract <address> or deploy with `cairn devnet up`"
    ))
}

/// Whole USDT the devnet's faucet gives the operator for replicas of `wasm` results.
const REPLICATION_BUDGET_USDT: u64 = 10_000;

/// On the local devnet only (same RPC URL and chain id as the running devnet): gives `who`
/// gas money and mints it `usdt` base units of the market token from the deployer, when it has
/// less. Returns whether anything was sent. Elsewhere, accounts must be funded by their owners.
pub(crate) async fn fund_on_devnet(
    settings: &Settings,
    chain: &Chain,
    token: Address,
    who: Address,
    usdt: U256,
) -> Result<bool> {
    let dcfg = settings.devnet(None);
    let Some(devnet) = cairn_devnet::status(&dcfg).await.ok().flatten() else {
        return Ok(false);
    };
    if devnet.rpc_url != chain.url() || devnet.chain_id != chain.chain_id() {
        return Ok(false);
    }
    let dev = cairn_devnet::dev_accounts(&dcfg)?;
    let deployer = cairn_devnet::connect(&devnet, Some(dev.deployer_key())).await?;
    let mut sent = false;
    let gas_money = U256::from(10u64).pow(U256::from(19u64)); // 10 ETH
    if deployer.balance(who).await? < gas_money / U256::from(2u64) {
        deployer.send_ether(who, gas_money).await?;
        sent = true;
    }
    let t = cairn_contracts::TestToken::new(token, deployer.provider());
    let balance = deployer
        .rpc("balanceOf", async { t.balanceOf(who).call().await })
        .await?;
    if balance < usdt {
        // Workers and requesters starting together all mint from the faucet key: the send
        // retries a nonce another process took.
        deployer
            .send_call("mint USDT", t.mint(who, usdt - balance))
            .await
            .map_err(|e| anyhow::anyhow!("minting devnet USDT for {who}: {e}"))?;
        sent = true;
    }
    Ok(sent)
}

/// Writes a fresh random key to `path` (mode 0600, never over an existing file) for a devnet
/// account in `role`, and says so (the address, never the key).
pub(crate) fn create_key_file(path: &std::path::Path, role: &str) -> Result<PrivateKeySigner> {
    use std::io::Write;
    let key = PrivateKeySigner::random();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(format!("0x{}\n", alloy::primitives::hex::encode(key.to_bytes())).as_bytes())?;
    f.sync_all()?;
    eprintln!(
        "created {role} key {} for {} (devnet)",
        path.display(),
        key.address()
    );
    Ok(key)
}

/// Reads a hex private key file.
pub(crate) fn read_key(path: &std::path::Path) -> Result<PrivateKeySigner> {
    cairn_chain::KeySource::File(path.to_owned())
        .load()
        .with_context(|| format!("reading the key in {}", path.display()))
}

pub(super) async fn run(cmd: &NodeCmd, settings: &Settings, json_out: bool) -> Result<ExitCode> {
    let NodeCmd::Serve(a) = cmd;
    if !(a.check_floor > 0.0 && a.check_floor <= 1.0) {
        anyhow::bail!(
            "--check-floor must be a probability in (0, 1], not {} (1 checks every train and wasm result)",
            a.check_floor
        );
    }
    let chain = chain(
        settings,
        &a.market.chain,
        cairn_devnet::COMPUTE_OPERATOR_ACCOUNT,
    )
    .await?;
    let market = market_address(settings, chain.chain_id(), a.market.market_contract)?;
    if !chain.has_code(market).await? {
        return Err(anyhow!(
            "no contract code at {market} on chain {}: check --market-contract",
            chain.chain_id()
        ));
    }
    let operator = chain.require_funded().await?;
    let escrow = Escrow::new(chain.clone(), market);
    let cfg = escrow.config().await?;
    if cfg.operator != operator {
        return Err(anyhow!(
            "{operator} is not the operator of the ComputeMarket at {market} ({} is); pass the operator's --key-file",
            cfg.operator
        ));
    }
    if !a.no_replication {
        // Replicas are escrowed from the operator's funds: on the local devnet it gets a
        // verification budget from the faucet; elsewhere the operator funds it.
        fund_on_devnet(
            settings,
            &chain,
            cfg.token,
            operator,
            U256::from(REPLICATION_BUDGET_USDT) * U256::from(1_000_000u64),
        )
        .await?;
    }
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("node"));
    let mut config = NodeConfig::new(&dir, chain.url())
        .with_lease(
            Duration::from_millis(a.heartbeat_ms.max(50)),
            Duration::from_millis(a.lease_ms.max(100)),
        )
        .with_audit_samples(a.audit_samples)
        .with_check_policy(a.check_floor, a.check_probation)
        .with_replication(!a.no_replication)
        .with_write_limits(match a.writes_per_sec {
            r if r <= 0.0 || !r.is_finite() => cairn_node::WriteLimits::unlimited(),
            r => cairn_node::WriteLimits {
                per_sec_per_address: r,
                burst_per_address: 5.0 * r,
                per_sec_per_key: r,
                burst_per_key: 5.0 * r,
            },
        });
    // Receipts: the log given, else the local one when it answers.
    let log = match &a.log {
        Some(l) => Some(l.clone()),
        None => {
            let local = crate::cli::DEFAULT_LOG_URL;
            // A log started just before the node may take a moment to listen.
            let client = cairn_log_client::LogClient::new(local);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let mut up = client.info().await.is_ok();
            while !up && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
                up = client.info().await.is_ok();
            }
            match up {
                true => Some(local.to_owned()),
                false => {
                    eprintln!(
                        "note: no transparency log answers at {local}; job receipts are off (start `cairn log serve` and restart the node, or pass --log URL)"
                    );
                    None
                }
            }
        }
    };
    if let Some(log) = &log {
        config = config.with_log(log.clone());
    }
    config = config.with_overrun_grace(Duration::from_millis(a.overrun_grace_ms));
    if a.trust_claims {
        config = config.without_calibration();
    }
    if let Some(state) = &a.agent_state {
        // Read only, and only when asked for: the agent may start after the node.
        config = config.with_agent_state(state.clone());
    }
    let node = Node::open(config, Arc::new(escrow)).await?;
    node.spawn_loops();
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: the address is busy or invalid; pass --listen HOST:PORT",
                a.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let info = node.info();
    if json_out {
        // One line, so a supervisor can read the address before the service runs.
        let line = json!({
            "listening": format!("http://{addr}"),
            "verifierKey": info.receipt_key,
            "market": info.market,
            "chainId": info.chain_id,
        });
        output::print(&format!("{line}\n"));
    } else {
        output::print(&format!(
            "compute node listening on http://{addr}\nmarket {} on chain {} (operator {operator})\nreceipts: {}\n",
            info.market,
            info.chain_id,
            log.as_deref().unwrap_or("off (pass --log <url>)")
        ));
    }
    let stopping = node.clone();
    // Connect info: write limits apply per client address.
    axum::serve(
        listener,
        cairn_node::router(node).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = tokio::signal::ctrl_c().await;
        // The chain loops stop (finishing a send in flight) before the port is released.
        stopping.shutdown().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn bench(
    args: &BenchComputeArgs,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    super::bench_compute::run(args, settings, json_out).await
}

/// A chain config for an RPC URL the node reported, checked against its chain id.
pub(crate) fn config_for(rpc_url: &str, chain_id: u64) -> ChainConfig {
    ChainConfig::new(rpc_url).with_chain_id(chain_id)
}
