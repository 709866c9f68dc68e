//! `cairn worker [run] --node URL --key FILE` and `cairn worker status`.
use crate::{
    cli::{WorkerArgs, WorkerCmd, WorkerRunArgs, WorkerStatusArgs},
    commands::node::{config_for, fund_on_devnet, read_key},
    config::Settings,
    output,
};
use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use anyhow::{Context, Result, anyhow, bail};
use cairn_chain::Chain;
use cairn_compute::{ByteSize, Price, Resources};
use cairn_escrow::Escrow;
use cairn_node_client::NodeClient;
use cairn_worker::{Worker, WorkerConfig, WorkerState, detect, state_dir};
use serde_json::json;
use std::{path::Path, process::ExitCode, time::Duration};

pub(super) async fn run(
    args: &WorkerArgs,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    match &args.command {
        None => serve(&args.run, settings, json_out).await,
        Some(WorkerCmd::Run(a)) => serve(a, settings, json_out).await,
        Some(WorkerCmd::Status(a)) => status(a, settings, json_out).await,
        Some(WorkerCmd::Unstake { amount, who }) => {
            stake_tx(who, Some(amount), settings, json_out).await
        }
        Some(WorkerCmd::Withdraw { who }) => stake_tx(who, None, settings, json_out).await,
    }
}

/// The worker's state directory: `--key`'s, else the only one under the data dir.
fn state_dir_of(a: &WorkerStatusArgs, settings: &Settings) -> Result<std::path::PathBuf> {
    Ok(match &a.key {
        Some(k) => {
            let who = read_key(k)?.address();
            let dir = state_dir(&settings.data_dir, &who.to_string());
            if !dir.join(cairn_worker::STATE_FILE).exists() {
                bail!(
                    "no worker has run with the key in {} ({who}) under {}: start it with `cairn worker --key {}` first",
                    k.display(),
                    settings.data_dir.display(),
                    k.display()
                );
            }
            dir
        }
        None => {
            let root = settings.data_dir.join("worker");
            let dirs: Vec<_> = std::fs::read_dir(&root)
                .map(|it| it.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            match dirs.as_slice() {
                [one] => one.clone(),
                [] => bail!(
                    "no worker state under {}: run `cairn worker --node URL --key FILE` first",
                    root.display()
                ),
                _ => bail!(
                    "{} workers under {}: pass --key to pick one",
                    dirs.len(),
                    root.display()
                ),
            }
        }
    })
}

/// The market the worker's node settles on, as a client signing with `signer` (or read-only).
async fn market_of(
    state: &WorkerState,
    rpc_url: Option<&str>,
    signer: Option<PrivateKeySigner>,
) -> Result<Escrow> {
    if state.node.is_empty() {
        bail!("this worker never reached a node; run it once with --node");
    }
    let info = NodeClient::new(&state.node)
        .info()
        .await
        .with_context(|| format!("asking the node {} which market it uses", state.node))?;
    let rpc = rpc_url.unwrap_or(&info.rpc_url);
    let chain = Chain::connect(&config_for(rpc, info.chain_id), signer).await?;
    let market = info
        .market
        .parse()
        .map_err(|_| anyhow!("the node reports a bad market address {:?}", info.market))?;
    Ok(Escrow::new(chain, market))
}

/// `worker unstake <amount>` (with `Some`) or `worker withdraw`.
async fn stake_tx(
    a: &WorkerStatusArgs,
    amount: Option<&String>,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    let key = a.key.as_ref().ok_or_else(|| {
        anyhow!("pass --key <file> with the provider's key: it signs the transaction")
    })?;
    let signer = read_key(key)?;
    let who = signer.address();
    let state = WorkerState::load(&state_dir_of(a, settings)?)?;
    let escrow = market_of(&state, a.rpc_url.as_deref(), Some(signer)).await?;
    let bond = escrow.provider(who).await?;
    let tx = match amount {
        Some(amount) => {
            let amount = if amount == "all" {
                bond.stake
            } else {
                amount.parse::<U256>().map_err(|_| {
                    anyhow!("amount {amount:?} is not a number of USDT base units (or `all`)")
                })?
            };
            if amount.is_zero() || amount > bond.stake {
                bail!(
                    "{who} has {} base units bonded; unstake between 1 and that (or `all`)",
                    bond.stake
                );
            }
            escrow.request_unstake(amount).await?
        }
        None => escrow.withdraw_stake().await?,
    };
    let after = escrow.provider(who).await?;
    if json_out {
        output::json(&json!({
            "provider": who.to_string(),
            "tx": tx.tx_hash.to_string(),
            "stake": after.stake.to_string(),
            "unbonding": after.unbonding.to_string(),
            "unlockAt": after.unlock_at,
        }));
    } else {
        output::print(&format!(
            "{} (tx {}): stake {}, unbonding {} (withdrawable from chain time {})\n",
            if amount.is_some() {
                "unbonding started"
            } else {
                "withdrawn"
            },
            tx.tx_hash,
            after.stake,
            after.unbonding,
            after.unlock_at
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The provider's balances and bond on chain.
async fn chain_view(state: &WorkerState, rpc_url: Option<&str>) -> Result<serde_json::Value> {
    let escrow = market_of(state, rpc_url, None).await?;
    let who: alloy::primitives::Address = state
        .address
        .parse()
        .map_err(|_| anyhow!("the worker state names a bad address {:?}", state.address))?;
    let bond = escrow.provider(who).await?;
    Ok(json!({
        "usdt": escrow.token_balance(who).await?.to_string(),
        "wei": escrow.chain().balance(who).await?.to_string(),
        "stake": bond.stake.to_string(),
        "unbonding": bond.unbonding.to_string(),
        "unlockAt": bond.unlock_at,
        "eligible": escrow.is_eligible(who).await?,
    }))
}

/// Whether the local devnet is up (keys may then be created and funded on the fly).
async fn devnet_running(settings: &Settings) -> bool {
    cairn_devnet::status(&settings.devnet(None))
        .await
        .ok()
        .flatten()
        .is_some()
}

/// The worker's key: the file, or (on the devnet, when the file does not exist yet) a fresh
/// key written there with mode 0600.
async fn key(path: &Path, settings: &Settings) -> Result<PrivateKeySigner> {
    if path.exists() {
        return read_key(path);
    }
    if !devnet_running(settings).await {
        bail!(
            "{} does not exist: pass --key with the provider's hex private key file",
            path.display()
        );
    }
    super::node::create_key_file(path, "provider")
}

/// What this worker offers: the flags, else what the machine has left after the other workers
/// running on it (each worker registers its offer machine-wide, so two workers never sell the
/// same cores). The guard keeps the registration until the worker stops.
fn capacity(
    a: &WorkerRunArgs,
) -> Result<(
    Resources,
    Vec<String>,
    cairn_worker::Detected,
    cairn_worker::ClaimGuard,
)> {
    let d = detect();
    let machine = Resources {
        cpu_cores: d.cpu_cores,
        memory_bytes: d.memory_bytes,
        gpus: d.gpus.len() as u32,
    };
    // One registry per machine; CAIRN_WORKER_CLAIMS_DIR gives a group of workers (a test, a
    // container sharing the host with others) a registry of its own.
    let claims = match std::env::var_os("CAIRN_WORKER_CLAIMS_DIR") {
        Some(dir) => cairn_worker::MachineClaims::at(dir),
        None => cairn_worker::MachineClaims::system(),
    };
    let (left, others) = claims
        .left(machine)
        .context("reading what the other workers on this machine offer")?;
    let held = |what: &str| -> String {
        if others.is_empty() {
            String::new()
        } else {
            format!(
                "; other workers on this machine (pids {}) offer the rest of its {what}",
                others
                    .iter()
                    .map(|c| c.pid.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let memory = match &a.memory {
        Some(m) => {
            m.parse::<ByteSize>()
                .map_err(|e| anyhow!("--memory: {e}"))?
                .0
        }
        None => left.memory_bytes,
    };
    if d.memory_bytes > 0 && memory > left.memory_bytes {
        bail!(
            "--memory {}: this machine has {} left to offer (of {}){}",
            ByteSize(memory),
            ByteSize(left.memory_bytes),
            ByteSize(d.memory_bytes),
            held("memory")
        );
    }
    let cores = a.cores.unwrap_or(left.cpu_cores);
    if cores == 0 || cores > left.cpu_cores {
        bail!(
            "--cores {cores}: this machine has {} of its {} cores left to offer{}; pass --cores 1 to {}",
            left.cpu_cores,
            d.cpu_cores,
            held("cores"),
            left.cpu_cores.max(1)
        );
    }
    let gpus = a.gpus.unwrap_or(left.gpus);
    if gpus > left.gpus {
        bail!(
            "--gpus {gpus}: NVML reports {} GPU(s) on this machine, {} not offered yet{}{}",
            d.gpus.len(),
            left.gpus,
            held("GPUs"),
            d.gpu_note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
    }
    let offer = Resources {
        cpu_cores: cores,
        memory_bytes: memory,
        gpus,
    };
    let guard = match claims
        .register(machine, offer)
        .context("registering this worker's offer")?
    {
        Ok(g) => g,
        Err((left, _)) => bail!(
            "another worker on this machine started at the same time and took part of it: {} cores and {} left; try again with less",
            left.cpu_cores,
            ByteSize(left.memory_bytes)
        ),
    };
    let names = d
        .gpus
        .iter()
        .take(gpus as usize)
        .map(|g| g.name.clone())
        .collect();
    Ok((offer, names, d, guard))
}

async fn serve(a: &WorkerRunArgs, settings: &Settings, json_out: bool) -> Result<ExitCode> {
    let key_path = a
        .key
        .clone()
        .ok_or_else(|| anyhow!("pass --key <file> with the provider's hex private key"))?;
    let signer = key(&key_path, settings).await?;
    let (capacity, gpu_names, detected, _claim) = capacity(a)?;
    // The node may still be starting: wait for it a little.
    let client = NodeClient::new(&a.node);
    let mut attempt = 0;
    let info = loop {
        match client.info().await {
            Ok(i) => break i,
            Err(e) if e.is_transient() && attempt < 8 => {
                tokio::time::sleep(cairn_worker::retry::backoff(
                    attempt,
                    Duration::from_secs(2),
                ))
                .await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let rpc = a.rpc_url.clone().unwrap_or_else(|| info.rpc_url.clone());
    let chain = Chain::connect(&config_for(&rpc, info.chain_id), Some(signer.clone())).await?;
    let min_stake: U256 = info
        .min_stake
        .parse()
        .map_err(|_| anyhow!("bad minStake from node"))?;
    let stake = match &a.stake {
        Some(s) => s
            .parse::<U256>()
            .map_err(|_| anyhow!("--stake {s:?}: expected base units"))?,
        None => min_stake,
    };
    let token = info
        .token
        .parse()
        .map_err(|_| anyhow!("bad token from node"))?;
    fund_on_devnet(settings, &chain, token, signer.address(), stake).await?;
    let market = info
        .market
        .parse()
        .map_err(|_| anyhow!("bad market from node"))?;
    let escrow = Escrow::new(chain, market);
    let dir = state_dir(&settings.data_dir, &signer.address().to_string());
    let config = WorkerConfig {
        dir,
        capacity,
        gpu_names,
        ask: Price {
            per_mfuel: a.ask_mfuel,
            per_second: a.ask_second,
        },
        stake: Some(stake),
        kinds: a.kinds.clone(),
    };
    let worker = Worker::new(config, signer, &a.node, escrow, info).await?;
    let bonded = worker.ensure_registered().await?;
    let view = worker.advertise().await?;
    if json_out {
        let line = json!({
            "worker": worker.address(),
            "node": a.node,
            "capacity": capacity,
            "stake": bonded.to_string(),
            "gpuNote": detected.gpu_note,
            "reputation": view.reputation,
        });
        output::print(&format!("{line}\n"));
    } else {
        output::print(&format!(
            "provider {} working for {}\noffers {capacity}{}\nstake {bonded} base units\n",
            worker.address(),
            a.node,
            detected
                .gpu_note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
    }
    tokio::select! {
        r = worker.run() => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(a: &WorkerStatusArgs, settings: &Settings, json_out: bool) -> Result<ExitCode> {
    let dir = state_dir_of(a, settings)?;
    let mut state = WorkerState::load(&dir)?;
    // Refresh settled payments from the node when it answers (best effort).
    let mut node_note = None;
    if !state.node.is_empty() {
        let client = NodeClient::new(&state.node);
        for j in state
            .jobs
            .iter_mut()
            .filter(|j| j.status == cairn_worker::JobStatus::Committed)
        {
            match client.job(j.id).await {
                Ok(v) if v.state == cairn_compute::JobState::Settled => {
                    j.status = cairn_worker::JobStatus::Paid;
                    j.paid = v.paid.unwrap_or(0);
                }
                Ok(_) => {}
                Err(e) => {
                    node_note = Some(format!(
                        "node not reachable ({e}); showing the last known state"
                    ));
                    break;
                }
            }
        }
        state.save(&dir)?;
    }
    // On chain: balances and the bond (best effort: the node or chain may be down).
    let chain = match chain_view(&state, a.rpc_url.as_deref()).await {
        Ok(v) => Some(v),
        Err(e) => {
            node_note.get_or_insert(format!("chain not reachable ({e:#})"));
            None
        }
    };
    if json_out {
        let mut v = serde_json::to_value(&state)?;
        v["earned"] = json!(state.earned());
        v["pending"] = json!(state.pending());
        v["chain"] = json!(chain);
        output::json(&v);
    } else {
        output::print(&state.summary());
        if let Some(c) = &chain {
            output::print(&format!(
                "  on chain: {} USDT base units, {} wei; stake {} bonded, {} unbonding (withdrawable from chain time {})\n",
                c["usdt"].as_str().unwrap_or("?"),
                c["wei"].as_str().unwrap_or("?"),
                c["stake"].as_str().unwrap_or("?"),
                c["unbonding"].as_str().unwrap_or("?"),
                c["unlockAt"]
            ));
        }
        for j in state.jobs.iter().rev().take(10) {
            output::print(&format!(
                "  job {} {:<10} {:?} fuel {} paid {}{}\n",
                j.id,
                j.name,
                j.status,
                j.fuel_used,
                cairn_compute::fmt_usdt(j.paid),
                j.note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(n) = node_note {
            output::print(&format!("{n}\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
