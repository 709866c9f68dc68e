//! `cairn referee register|run|status`: a staked referee of refereed bisection disputes.
//!
//! `run` is a loop: every dispute the operator assigned to this key and that waits for its
//! ruling is recomputed — the job's spec and dataset and the agreed checkpoint `lo` come from
//! the node's content store (the checkpoint is checked against the agreed leaf on chain before
//! it is used), only the segment lo → lo + 1 is re-executed — and the ruling is sent.
use crate::{
    cli::{RefereeArgs, RefereeCmd},
    commands::node::{config_for, fund_on_devnet, read_key},
    config::Settings,
    output,
};
use alloy::{primitives::U256, signers::local::PrivateKeySigner};
use anyhow::{Context, Result, anyhow, bail};
use cairn_chain::Chain;
use cairn_escrow::{DisputePhase, Escrow, EventKind, MarketEvent};
use cairn_ml::trace::checkpoint_name;
use cairn_node::dispute::{SegmentInputs, referee_pass};
use cairn_node_client::NodeClient;
use serde_json::json;
use std::{collections::HashMap, process::ExitCode, time::Duration};

pub(super) async fn run(cmd: &RefereeCmd, settings: &Settings, json_out: bool) -> Result<ExitCode> {
    match cmd {
        RefereeCmd::Register { stake, who } => {
            let signer = key(who)?;
            let (escrow, node) = market(who, Some(signer.clone())).await?;
            let stake: U256 = stake
                .parse()
                .map_err(|_| anyhow!("stake {stake:?} is not a number of USDT base units"))?;
            let info = node.info().await?;
            let token = info
                .token
                .parse()
                .map_err(|_| anyhow!("the node reports a bad token address {:?}", info.token))?;
            fund_on_devnet(settings, escrow.chain(), token, signer.address(), stake).await?;
            let rules = escrow.dispute_rules().await?;
            let before = escrow.referee(signer.address()).await?;
            if before.stake + stake < rules.min_referee_stake {
                bail!(
                    "the market needs a referee stake of at least {} base units ({} bonded now); register with a larger stake",
                    rules.min_referee_stake,
                    before.stake
                );
            }
            escrow.ensure_allowance(stake).await?;
            let tx = escrow.register_referee(stake).await?;
            let r = escrow.referee(signer.address()).await?;
            if json_out {
                output::json(&json!({
                    "referee": signer.address().to_string(),
                    "stake": r.stake.to_string(),
                    "tx": tx.tx_hash.to_string(),
                }));
            } else {
                output::print(&format!(
                    "referee {} registered: stake {} base units (tx {})\n",
                    signer.address(),
                    r.stake,
                    tx.tx_hash
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        RefereeCmd::Status { who } => {
            let signer = key(who)?;
            let (escrow, _) = market(who, None).await?;
            let me = signer.address();
            let r = escrow.referee(me).await?;
            let rules = escrow.dispute_rules().await?;
            let assigned = assigned_to(&escrow, me).await?;
            if json_out {
                output::json(&json!({
                    "referee": me.to_string(),
                    "active": r.active,
                    "stake": r.stake.to_string(),
                    "open": r.open,
                    "minStake": rules.min_referee_stake.to_string(),
                    "assigned": assigned,
                }));
            } else {
                output::print(&format!(
                    "referee {me}: {}, stake {} base units (minimum {}), {} dispute(s) to rule; assigned so far: {:?}\n",
                    if r.active {
                        "registered"
                    } else {
                        "not registered"
                    },
                    r.stake,
                    rules.min_referee_stake,
                    r.open,
                    assigned
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        RefereeCmd::Run { who, once, threads } => {
            let signer = key(who)?;
            let me = signer.address();
            let (escrow, node) = market(who, Some(signer)).await?;
            if !escrow.referee(me).await?.active {
                bail!("{me} is not a registered referee: run `cairn referee register` first");
            }
            if !json_out && !*once {
                output::print(&format!("referee {me} ruling disputes assigned to it\n"));
            }
            let mut backoff = Duration::from_millis(500);
            loop {
                match pass(&escrow, &node, me, *threads).await {
                    Ok(done) => {
                        backoff = Duration::from_millis(500);
                        for line in done {
                            if json_out {
                                // One JSON object per line per ruling (JSON Lines).
                                output::print(&format!("{line}\n"));
                            } else {
                                output::print(&format!(
                                    "{}\n",
                                    line["line"].as_str().unwrap_or("")
                                ));
                            }
                        }
                    }
                    Err(e) if *once => return Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?backoff, "referee pass failed; retrying");
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
                if *once {
                    return Ok(ExitCode::SUCCESS);
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff.max(Duration::from_secs(1))) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                }
            }
        }
    }
}

fn key(who: &RefereeArgs) -> Result<PrivateKeySigner> {
    let k = who
        .key
        .as_ref()
        .ok_or_else(|| anyhow!("pass --key <file> with the referee's hex private key"))?;
    read_key(k)
}

/// The node's market, as a client signing with `signer` (or read-only).
async fn market(
    who: &RefereeArgs,
    signer: Option<PrivateKeySigner>,
) -> Result<(Escrow, NodeClient)> {
    let node = NodeClient::new(&who.node);
    let info = node
        .info()
        .await
        .with_context(|| format!("asking the node {} which market it uses", who.node))?;
    let rpc = who.rpc_url.clone().unwrap_or_else(|| info.rpc_url.clone());
    let chain = Chain::connect(&config_for(&rpc, info.chain_id), signer).await?;
    let market = info
        .market
        .parse()
        .map_err(|_| anyhow!("the node reports a bad market address {:?}", info.market))?;
    Ok((Escrow::new(chain, market), node))
}

/// Jobs whose dispute was assigned to `me`.
async fn assigned_to(escrow: &Escrow, me: alloy::primitives::Address) -> Result<Vec<u64>> {
    Ok(escrow
        .events_of(&[EventKind::RefereeAssigned], 0, None)
        .await?
        .into_iter()
        .filter_map(|l| match l.event {
            MarketEvent::RefereeAssigned {
                job_id, referee, ..
            } if referee == me => Some(job_id),
            _ => None,
        })
        .collect())
}

/// One pass: fetch the inputs of every dispute waiting for this referee, then rule.
async fn pass(
    escrow: &Escrow,
    node: &NodeClient,
    me: alloy::primitives::Address,
    threads: usize,
) -> Result<Vec<serde_json::Value>> {
    let mut inputs: HashMap<u64, Result<SegmentInputs, String>> = HashMap::new();
    for id in assigned_to(escrow, me).await? {
        let Some(d) = escrow.dispute(id).await? else {
            continue;
        };
        if d.phase != DisputePhase::AwaitingReferee || d.referee != Some(me) {
            continue;
        }
        inputs.insert(id, segment_inputs(node, id, d.lo).await);
    }
    if inputs.is_empty() {
        return Ok(vec![]);
    }
    let ran = referee_pass(escrow, me, 0, threads.max(1), |d| {
        inputs
            .remove(&d.job_id)
            .unwrap_or_else(|| Err("its inputs were not fetched this pass".into()))
    })
    .await?;
    let mut out = vec![];
    for r in ran.rulings {
        out.push(json!({
            "job": r.job_id,
            "lo": r.lo,
            "verdict": r.verdict,
            "stepsReplayed": r.check.steps_replayed,
            "tx": r.tx.tx_hash.to_string(),
            "line": format!(
                "job {}: recomputed segment {} → {} ({} steps): {:?} (tx {})",
                r.job_id, r.lo, r.lo + 1, r.check.steps_replayed, r.verdict, r.tx.tx_hash
            ),
        }));
    }
    for e in ran.refused {
        out.push(json!({
            "refused": e.to_string(),
            "line": format!("could not rule: {e}"),
        }));
    }
    Ok(out)
}

/// The job's spec and dataset and its checkpoint `lo` from the node's content store.
async fn segment_inputs(node: &NodeClient, id: u64, lo: u32) -> Result<SegmentInputs, String> {
    let spec = node.spec(id).await.map_err(|e| format!("its spec: {e}"))?;
    let train = spec
        .train
        .clone()
        .ok_or_else(|| format!("job {id} is a {} job, not a train job", spec.kind))?;
    let mut data = vec![];
    for i in &spec.inputs {
        data.push((
            i.name.clone(),
            node.blob(&i.blob)
                .await
                .map_err(|e| format!("input {}: {e}", i.name))?,
        ));
    }
    let samples = cairn_ml::data::samples(&train.data, "train.data", &data)
        .map_err(|e| format!("the dataset does not load: {e}"))?;
    let lo_checkpoint = if lo == 0 {
        None
    } else {
        let v = node.job(id).await.map_err(|e| format!("the job: {e}"))?;
        let steps = train.checkpoint_steps();
        let name = steps
            .get(lo as usize)
            .map(|s| checkpoint_name(*s))
            .ok_or_else(|| format!("checkpoint {lo} is not in the schedule"))?;
        let o = v
            .result
            .as_ref()
            .and_then(|r| r.outputs.iter().find(|o| o.name == name))
            .ok_or_else(|| format!("the node has no {name} for job {id}"))?;
        Some(
            node.blob_as_served(&o.sha256)
                .await
                .map_err(|e| format!("{name}: {e}"))?,
        )
    };
    Ok(SegmentInputs {
        spec: train,
        data: samples,
        lo_checkpoint,
    })
}
