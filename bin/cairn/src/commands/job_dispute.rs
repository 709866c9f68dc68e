//! `cairn job dispute <id>`: a requester who does not take the node's word re-executes every
//! segment of a `train` result from its committed checkpoints and, where one re-executes to
//! another checkpoint, disputes it on chain by refereed bisection and answers its rounds.
//!
//! ```text
//!  node: spec, trace.json, every checkpoint (digest- and proof-checked), dataset, model
//!      ─▶ re-execute all segments (cairn-ml) ─▶ all agree: nothing to dispute (exit 0)
//!      ─▶ segment s differs ─▶ own trace = the provider's leaves with the recomputed s+1
//!      ─▶ openDispute(bond from the requester) ─▶ reveal at each round's probe
//!      ─▶ AwaitingReferee (the node, as operator, assigns a staked referee; it recomputes s)
//!      ─▶ Resolved: provider wrong (exit 0: refund, slash and bond to the requester)
//!                   or the result stands (exit 1)
//! ```
//!
//! The command is safe to run again: it finds its own dispute on chain and keeps answering
//! (the re-execution is deterministic, so the trace is the same).
use super::job_verify::{Source, b256, checked_spec_digest, committed_result, dispute_view};
use alloy::primitives::U256;
use anyhow::{Context, Result, anyhow, bail};
use cairn_chain::Chain;
use cairn_escrow::{DisputePhase, Escrow, MarketEvent, Outcome};
use cairn_ml::{
    audit::{Finding, Opening, audit_openings, recompute_segment},
    trace::{TraceFile, checkpoint_name, proof},
};
use cairn_node_client::NodeClient;
use serde_json::json;
use std::{
    collections::BTreeMap,
    process::ExitCode,
    time::{Duration, Instant},
};

use crate::output;

/// What `job dispute` was asked to do.
pub(super) struct Request<'a> {
    pub(super) id: u64,
    pub(super) node_url: &'a str,
    pub(super) rpc_url: Option<&'a str>,
    pub(super) signer: alloy::signers::local::PrivateKeySigner,
    /// Seconds to stay and answer rounds; 0: open (or find) the dispute and return.
    pub(super) wait: u64,
    pub(super) threads: usize,
    pub(super) json_out: bool,
    pub(super) settings: &'a crate::config::Settings,
}

/// Exit status while the dispute is still open when `--wait` runs out.
const STILL_OPEN: u8 = 3;

pub(super) async fn dispute(q: Request<'_>) -> Result<ExitCode> {
    let id = q.id;
    // Progress goes to stderr (stdout has the answer, or its JSON).
    let say = |line: String| eprintln!("{line}");
    let node = NodeClient::new(q.node_url);
    let (v, spec) = (node.job(id).await?, node.spec(id).await?);
    let spec_digest = checked_spec_digest(&v, &spec)?;
    let Some(train) = &spec.train else {
        bail!(
            "job {id} is a {} job: only train jobs have a step trace to bisect; its result is checked by replication (`cairn job verify {id}`)",
            spec.kind
        );
    };
    let r = committed_result(&v, "dispute")?;

    // The market, signing as the requester.
    let info = node.info().await?;
    let rpc = q.rpc_url.unwrap_or(&info.rpc_url);
    let chain = Chain::connect(
        &super::node::config_for(rpc, info.chain_id),
        Some(q.signer.clone()),
    )
    .await
    .with_context(|| format!("connecting to chain {} at {rpc}", info.chain_id))?;
    let market = info
        .market
        .parse()
        .map_err(|_| anyhow!("the node reports a bad market address {:?}", info.market))?;
    let escrow = Escrow::new(chain, market);
    let me = q.signer.address();
    let on_chain = escrow
        .job(id)
        .await?
        .ok_or_else(|| anyhow!("job {id} is not on the ComputeMarket at {market}"))?;
    let existing = escrow.dispute(id).await?;
    if let Some(d) = &existing
        && d.challenger != me
    {
        bail!(
            "job {id}'s result is already disputed by {} (phase {:?}); `cairn job verify {id}` shows how it stands",
            d.challenger,
            d.phase
        );
    }
    if existing.is_none() {
        if on_chain.requester != me {
            bail!(
                "job {id} was posted by {}, not by {me}: a requester disputes its own jobs; pass that account's --key-file",
                on_chain.requester
            );
        }
        if on_chain.state != cairn_escrow::JobState::Committed {
            bail!(
                "job {id} is {} on chain: only a committed result inside its challenge window can be disputed",
                on_chain.state
            );
        }
        let now = escrow.chain_time().await?;
        if now >= on_chain.expiry {
            bail!(
                "job {id}'s challenge window closed at chain time {} (now {now}): the result stands",
                on_chain.expiry
            );
        }
    }

    // Every checkpoint, checked against the outputs committed and the trace root.
    let source = Source::Node(node);
    let output = |name: &str| {
        r.outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| anyhow!("the result of job {id} has no {name}"))
    };
    let trace: TraceFile =
        serde_json::from_slice(&source.output_checked(output("trace.json")?).await?)
            .context("trace.json does not parse")?;
    let steps = train.checkpoint_steps();
    if trace.root != r.trace_root || trace.steps != steps {
        bail!(
            "trace.json is not the committed trace of the spec's checkpoint schedule: the node's audit refunds such a result (`cairn job verify {id}`)"
        );
    }
    let leaves = trace.leaf_hashes()?;
    let root = trace.root_bytes()?;
    let model = source.output_checked(output("model.safetensors")?).await?;
    let mut checkpoints = BTreeMap::new();
    for (i, &step) in steps.iter().enumerate() {
        checkpoints.insert(
            i,
            source
                .output_checked(output(&checkpoint_name(step))?)
                .await?,
        );
    }
    let mut inputs = vec![];
    for i in &spec.inputs {
        inputs.push((i.name.clone(), source.input(i).await?));
    }
    let data = cairn_ml::data::samples(&train.data, "train.data", &inputs)?;
    let segments = steps.len() - 1;
    say(format!(
        "job {id}: re-executing all {segments} segments ({} steps, {} parameters) of provider {}'s trace",
        train.steps,
        train.parameters(),
        v.provider.as_deref().unwrap_or("?")
    ));
    let started = Instant::now();
    let report = audit_openings(train, &data, root, &model, segments, 0, q.threads, |i| {
        Ok(Opening {
            bytes: checkpoints.get(&i).cloned().unwrap_or_default(),
            proof: proof(&leaves, i)?,
        })
    })?;
    let mismatch = report.findings.iter().find_map(|f| match f {
        Finding::StepMismatch { segment, .. } => Some(*segment),
        _ => None,
    });
    let Some(segment) = mismatch else {
        if report.passed() {
            let line = format!(
                "re-executed all {segments} segments ({} steps) in {:.1} s: every checkpoint is the one committed; nothing to dispute",
                report.steps_replayed,
                started.elapsed().as_secs_f64()
            );
            return finish(
                q.json_out,
                ExitCode::SUCCESS,
                line,
                json!({"id": id, "disputed": false, "segments": segments}),
            );
        }
        bail!(
            "the result fails for reasons a bisection cannot show (no re-executed step differs): {}; the node's audit refunds such results (`cairn job verify {id}`)",
            report
                .findings
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        );
    };
    let start = (segment > 0).then(|| checkpoints[&segment].as_slice());
    let recomputed = recompute_segment(train, &data, segment, &leaves[segment], start, q.threads)?;
    let (mine, disputed) = cairn_node::dispute::challenger_trace(&leaves, segment, recomputed.leaf);
    say(format!(
        "steps {}..{} re-execute to another checkpoint than the one committed at step {} (leaf {})",
        steps[segment],
        steps[segment + 1],
        steps[segment + 1],
        segment + 1
    ));

    if existing.is_none() {
        let rules = escrow.dispute_rules().await?;
        if rules.window == 0 {
            bail!(
                "the ComputeMarket at {market} takes no disputes (its operator has not set dispute rules)"
            );
        }
        // On the devnet, a requester short of the bond gets it from the faucet, as for a job.
        let (token, _) = cairn_node_client::submit::settlement(&info, escrow.chain())?;
        let held = escrow.token_balance(me).await?;
        if held < rules.bond
            && !super::node::fund_on_devnet(
                q.settings,
                escrow.chain(),
                token,
                me,
                rules.bond * U256::from(10u64),
            )
            .await?
        {
            bail!(
                "the dispute bond is {} and {me} holds {}: fund the account with the market's token ({token}), then run this again",
                cairn_compute::fmt_usdt(rules.bond.saturating_to()),
                cairn_compute::fmt_usdt(held.saturating_to())
            );
        }
        escrow.ensure_allowance(rules.bond).await?;
        let tx = escrow
            .open_dispute(
                id,
                b256(&spec_digest, "spec digest")?,
                b256(&r.output_digest, "output digest")?,
                b256(&r.trace_root, "trace root")?,
                cairn_node::dispute::root(&mine),
                mine.len() as u32,
                disputed,
            )
            .await
            .map_err(|e| anyhow!("the market refused the dispute: {e}"))?;
        say(format!(
            "dispute opened in block {} (tx {}): bond {} posted, checkpoint {disputed} named",
            tx.block_number,
            tx.tx_hash,
            cairn_compute::fmt_usdt(rules.bond.saturating_to())
        ));
    } else {
        say(format!("job {id}: continuing this account's dispute"));
    }

    // Answer every round until the dispute ends or `--wait` runs out.
    let until = Instant::now() + Duration::from_secs(q.wait);
    let mut noted_referee = false;
    let outcome = loop {
        let d = escrow
            .dispute(id)
            .await?
            .ok_or_else(|| anyhow!("job {id}'s dispute is not on chain"))?;
        match d.phase {
            DisputePhase::Bisecting => {
                if escrow.chain_time().await? > d.deadline {
                    // The side that did not answer loses; anyone may end it.
                    let _ = escrow.resolve_timeout(id).await;
                } else if let Some(tx) =
                    cairn_node::dispute::answer_round(&escrow, id, false, &mine).await?
                {
                    say(format!(
                        "round {}: revealed checkpoint {} (tx {})",
                        d.rounds + 1,
                        d.probe,
                        tx.tx_hash
                    ));
                }
            }
            DisputePhase::AwaitingReferee if !noted_referee => {
                noted_referee = true;
                say(format!(
                    "bisection done after {} rounds: checkpoints {} → {} (steps {}..{}); the market's operator assigns a staked referee, who recomputes that segment",
                    d.rounds,
                    d.lo,
                    d.hi,
                    steps.get(d.lo as usize).copied().unwrap_or_default(),
                    steps.get(d.hi as usize).copied().unwrap_or_default()
                ));
            }
            DisputePhase::AwaitingReferee => {}
            DisputePhase::Resolved => {
                let resolved =
                    escrow
                        .dispute_events(id)
                        .await?
                        .into_iter()
                        .find_map(|l| match l.event {
                            MarketEvent::DisputeResolved { outcome, .. } => Some(outcome),
                            _ => None,
                        });
                if let Some(o) = resolved {
                    break Some(o);
                }
            }
        }
        if Instant::now() >= until {
            break None;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => break None,
        }
    };
    let mut lines = vec![];
    let view = dispute_view(&escrow, id, &steps, &mut lines).await?;
    let fields = json!({"id": id, "disputed": true, "segment": segment, "dispute": view});
    let line = lines.join("\n");
    match outcome {
        Some(Outcome::ProviderWrong | Outcome::BothWrong) => finish(
            q.json_out,
            ExitCode::SUCCESS,
            format!(
                "{line}\nthe provider was wrong: the job is refunded to you, with the slash and your bond"
            ),
            fields,
        ),
        Some(o) => finish(
            q.json_out,
            ExitCode::FAILURE,
            format!(
                "{line}\nthe dispute ended {}: the result stands",
                o.as_str()
            ),
            fields,
        ),
        None => finish(
            q.json_out,
            ExitCode::from(STILL_OPEN),
            format!(
                "{line}\nthe dispute is still open: run `cairn job dispute {id}` again to keep answering (a round not answered in time is lost)"
            ),
            fields,
        ),
    }
}

fn finish(
    json_out: bool,
    code: ExitCode,
    line: String,
    fields: serde_json::Value,
) -> Result<ExitCode> {
    if json_out {
        output::json(&fields);
    } else {
        output::print(&format!("{line}\n"));
    }
    Ok(code)
}
