//! `cairn job verify <id>`: re-runs the sampled step audit of a `train` job from its public
//! artefacts, trusting the node for nothing it can check:
//!
//! ```text
//!  node: spec ──sha256──▶ spec digest ─┐
//!  node: outputs ──────▶ output digest ├─keccak─▶ == the commitment on chain (ComputeMarket)
//!  node: trace.json ──leaves──▶ root ──┘
//!  node: checkpoints 0, last, both ends of k segments ──inclusion proofs──▶ root
//!  node: dataset + model ──▶ re-execute the k segments (cairn-ml) ──▶ same bytes?
//!  log: receipt bundle ──▶ signed by the receipt key the market publishes?
//! ```
//!
//! The seed and the number of segments are the node's audit's by default (the same audit,
//! re-run), or `--seed` / `--samples`.
//!
//! A `wasm` job has no step trace: the node checks it by replication. `job verify` then reads
//! each replica's result from the node and checks that the chain holds the commitment of the
//! original and of every replica to what they are said to have committed, and that the
//! replicas ran the same spec on other providers.
use anyhow::{Context, Result, anyhow, bail};
use cairn_compute::{
    JobSpec,
    api::{JobView, OutputRef, RunOutcome, RunReport, output_digest},
};
use cairn_ml::{
    audit::{Opening, audit_openings, needed_checkpoints, sample_segments},
    trace::{TraceFile, checkpoint_name, proof},
};
use cairn_node_client::NodeClient;
use serde_json::{Value, json};
use std::{collections::BTreeMap, path::Path, process::ExitCode};

use crate::output;

/// Segments re-executed when neither the node's audit nor `--samples` says.
const DEFAULT_SAMPLES: u32 = 2;

pub(super) fn b256(hex: &str, what: &str) -> Result<alloy::primitives::B256> {
    hex.trim_start_matches("0x")
        .parse::<alloy::primitives::B256>()
        .or_else(|_| format!("0x{}", hex.trim_start_matches("0x")).parse())
        .map_err(|_| anyhow!("the node reports a bad {what} {hex:?}"))
}

/// Where the artefacts come from: the node, or a directory `cairn job result` wrote.
pub(super) enum Source<'a> {
    Node(NodeClient),
    Dir(&'a Path),
}

impl Source<'_> {
    /// An output's bytes as served (or as written), unchecked.
    async fn output(&self, o: &OutputRef) -> Result<Vec<u8>> {
        match self {
            Source::Node(n) => Ok(n.blob_as_served(&o.sha256).await?),
            Source::Dir(d) => {
                let path = d.join("output").join(&o.name);
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
            }
        }
    }

    /// An output's bytes, checked against its digest.
    pub(super) async fn output_checked(&self, o: &OutputRef) -> Result<Vec<u8>> {
        let b = self.output(o).await?;
        let r = cairn_compute::BlobRef {
            sha256: o.sha256.clone(),
            size: o.size,
        };
        if !r.matches(&b) {
            bail!(
                "{} is not the output the result names (sha256:{})",
                o.name,
                o.sha256
            );
        }
        Ok(b)
    }

    /// An input's bytes, checked against its digest.
    pub(super) async fn input(&self, i: &cairn_compute::InputRef) -> Result<Vec<u8>> {
        let b = match self {
            Source::Node(n) => n.blob(&i.blob).await?,
            Source::Dir(d) => {
                let path = d.join("input").join(&i.name);
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
            }
        };
        if !i.blob.matches(&b) {
            bail!(
                "input {} is not the one the spec names (sha256:{})",
                i.name,
                i.blob.sha256
            );
        }
        Ok(b)
    }
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "reading {} (write the bundle with `cairn job result <id> --out {}`)",
            path.display(),
            dir.display()
        )
    })?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} does not parse", path.display()))
}

/// The spec's digest, if it is the one the job names (else the node serves another spec).
pub(super) fn checked_spec_digest(v: &JobView, spec: &JobSpec) -> Result<String> {
    let digest = alloy::primitives::hex::encode(spec.digest());
    if digest != v.spec_digest {
        bail!(
            "the node's spec of job {} does not hash to the job's spec digest; do not trust this node",
            v.id
        );
    }
    Ok(digest)
}

/// The job's committed result, or why there is none to `what` (verify, dispute).
pub(super) fn committed_result<'a>(v: &'a JobView, what: &str) -> Result<&'a RunReport> {
    match &v.result {
        Some(r) if r.outcome == RunOutcome::Succeeded => Ok(r),
        _ => bail!(
            "job {id} has no committed result to {what} ({}); see `cairn job status {id}`",
            v.state,
            id = v.id
        ),
    }
}

pub(super) async fn verify(
    id: u64,
    samples: Option<u32>,
    seed: Option<u64>,
    node_url: &str,
    bundle: Option<&Path>,
    json_out: bool,
) -> Result<ExitCode> {
    let source = match bundle {
        Some(d) => Source::Dir(d),
        None => Source::Node(NodeClient::new(node_url)),
    };
    let (v, spec): (JobView, JobSpec) = match &source {
        Source::Node(node) => (node.job(id).await?, node.spec(id).await?),
        Source::Dir(d) => (read_json(d, "job.json")?, read_json(d, "spec.json")?),
    };
    if v.id != id {
        bail!("the bundle is job {}'s, not job {id}'s", v.id);
    }
    let spec_digest = checked_spec_digest(&v, &spec)?;
    if spec.kind != cairn_compute::JobKind::Train {
        let Source::Node(node) = &source else {
            bail!(
                "job {id} is a {} job: its replicas are compared on chain, which needs the node; run without --bundle",
                spec.kind
            );
        };
        return verify_replicated(id, &v, spec.kind, &spec_digest, node, json_out).await;
    }
    let Some(train) = &spec.train else {
        bail!(
            "job {id} is a {} job: `job verify` re-runs the step audits of train jobs",
            spec.kind
        );
    };
    let r = committed_result(&v, "verify")?;
    let mut lines: Vec<String> = vec![];
    let mut failures: Vec<String> = vec![];
    lines.push(format!(
        "job {id}: train {} ({} parameters), {} steps, checkpoint every {}; provider {}",
        train.model,
        train.parameters(),
        train.steps,
        train.checkpoint_every,
        v.provider.as_deref().unwrap_or("?")
    ));
    lines.push(format!("spec sha256:{spec_digest}"));

    // The outputs listed are the ones committed.
    let digest = alloy::primitives::hex::encode(output_digest(&r.outputs, &r.stdout));
    if digest != r.output_digest {
        failures.push(format!(
            "the outputs listed hash to {digest}, not the committed output digest {}",
            r.output_digest
        ));
    }
    // The commitment on chain binds spec, outputs and trace root (with the node: offline, the
    // bundle's receipt does, below).
    let mut escrow_market = None;
    let mut dispute = None;
    if let Source::Node(node) = &source {
        let info = node.info().await?;
        let chain = cairn_chain::Chain::connect(
            &super::node::config_for(&info.rpc_url, info.chain_id),
            None,
        )
        .await
        .with_context(|| format!("reading job {id} on chain {}", info.chain_id))?;
        let market = info
            .market
            .parse()
            .map_err(|_| anyhow!("the node reports a bad market address {:?}", info.market))?;
        let escrow = cairn_escrow::Escrow::new(chain, market);
        let on_chain = escrow
            .job(id)
            .await?
            .ok_or_else(|| anyhow!("job {id} is not on the ComputeMarket at {market}"))?;
        let commitment = cairn_escrow::result_commitment(
            b256(&spec_digest, "spec digest")?,
            b256(&r.output_digest, "output digest")?,
            b256(&r.trace_root, "trace root")?,
        );
        if on_chain.digest == commitment {
            lines.push(format!(
            "trace root {} and output digest {} are the ones committed on chain {} (market {market}, job {})",
            r.trace_root, r.output_digest, info.chain_id, on_chain.state
        ));
        } else {
            failures.push(format!(
            "the chain holds no commitment to trace root {} and output digest {} for job {id} (chain state {})",
            r.trace_root, r.output_digest, on_chain.state
        ));
        }
        dispute = dispute_view(&escrow, id, &train.checkpoint_steps(), &mut lines).await?;
        if let Some(d) = dispute.as_mut() {
            // The node's signed dispute/v1 statements, as its history names them.
            let logged: Vec<String> = node
                .logs(id)
                .await?
                .events
                .into_iter()
                .filter(|e| e.message.starts_with("dispute statement"))
                .map(|e| e.message)
                .collect();
            for l in &logged {
                lines.push(format!("  {l}"));
            }
            d["statements"] = json!(logged);
        }
        escrow_market = Some((escrow, market));
    } else {
        lines.push("offline: the chain commitment is not checked (run without --bundle, or check the receipt's signer with `cairn verify`)".into());
    }

    // The trace: leaves that hash to the committed root.
    let output = |name: &str| {
        r.outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| anyhow!("the result of job {id} has no {name}"))
    };
    let trace: TraceFile =
        serde_json::from_slice(&source.output_checked(output("trace.json")?).await?)
            .context("trace.json does not parse")?;
    let leaves = trace.leaf_hashes()?;
    if trace.root != r.trace_root || trace.steps != train.checkpoint_steps() {
        failures
            .push("trace.json is not the committed trace of the spec's checkpoint schedule".into());
    }
    let root = trace.root_bytes()?;
    let model_ref = output("model.safetensors")?;
    let model = source.output_checked(model_ref).await?;
    lines.push(format!("model.safetensors sha256:{}", model_ref.sha256));
    let mut inputs = vec![];
    for i in &spec.inputs {
        inputs.push((i.name.clone(), source.input(i).await?));
    }
    lines.push(format!(
        "dataset: {} file(s){}",
        inputs.len(),
        spec.dataset_root
            .as_deref()
            .map(|d| format!(", root {d}"))
            .unwrap_or_default()
    ));
    let data = cairn_ml::data::samples(&train.data, "train.data", &inputs)?;

    // The audit: the node's seed and sample count unless told otherwise.
    let samples = samples
        .or(v.audit.as_ref().map(|a| a.samples))
        .unwrap_or(DEFAULT_SAMPLES)
        .max(1);
    let seed = match (seed, &v.audit, &v.verification) {
        (Some(s), _, _) => s,
        (None, Some(a), _) => a.seed,
        // Not audited by the node: the seed its policy drew from (the same signature).
        (None, None, Some(d)) => d.seed,
        (None, None, None) => {
            use std::hash::BuildHasher as _;
            std::collections::hash_map::RandomState::new().hash_one(id)
        }
    };
    lines.push(format!("how the node verified it: {}", how_verified(&v)));
    if let Some(a) = &v.audit {
        lines.push(format!(
            "the node's audit: {} (segments {:?}, seed {}, {} of {} steps re-executed in {} ms)",
            a.outcome, a.segments, a.seed, a.steps_replayed, a.steps_total, a.wall_ms
        ));
    }
    let steps = train.checkpoint_steps();
    let chosen = sample_segments(steps.len() - 1, samples as usize, seed);
    let mut opened = BTreeMap::new();
    for i in needed_checkpoints(steps.len(), &chosen) {
        let name = checkpoint_name(steps[i]);
        let bytes = source.output(output(&name)?).await?;
        opened.insert(i, bytes);
    }
    let report = audit_openings(train, &data, root, &model, samples as usize, seed, 1, |i| {
        Ok(Opening {
            bytes: opened.remove(&i).unwrap_or_default(),
            proof: proof(&leaves, i)?,
        })
    })?;
    lines.push(format!(
        "re-executed segments {:?} with seed {seed}: steps {} ({} of {} steps); checkpoints at steps {:?} checked against the trace root by inclusion proofs",
        report.segments_checked,
        report
            .segments_checked
            .iter()
            .map(|&s| format!("{}..{}", steps[s], steps[s + 1]))
            .collect::<Vec<_>>()
            .join(", "),
        report.steps_replayed,
        train.steps,
        needed_checkpoints(steps.len(), &chosen)
            .iter()
            .map(|&i| steps[i])
            .collect::<Vec<_>>()
    ));
    failures.extend(report.findings.iter().map(|f| f.to_string()));

    // The receipt: signed by the receipt key the market publishes.
    let mut receipt_signer = None;
    match (&v.receipt, &escrow_market) {
        (Some(rc), None) => {
            let path = bundle.unwrap_or(Path::new(".")).join("receipt.bundle.json");
            let b = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let b = cairn_log_client::Bundle::from_json(&b)
                .map_err(|e| anyhow!("{} does not parse: {e}", path.display()))?;
            let key = cairn_attest::PublicKey::parse(&b.public_key)
                .map_err(|e| anyhow!("the receipt's public key is invalid: {e}"))?;
            let names = b.envelope.verify_signature(&key).map(|_| {
                serde_json::from_slice::<serde_json::Value>(&b.envelope.payload)
                    .ok()
                    .is_some_and(|st| st["predicate"]["jobId"] == id.to_string().as_str())
            });
            match names {
                Ok(true) => {
                    lines.push(format!(
                        "receipt: log index {}, signed by {} (offline: `cairn verify {}` checks that it is the market's receipt key and the log's proofs)",
                        rc.index,
                        key.to_base64(),
                        path.display()
                    ));
                    receipt_signer = Some(key.to_base64());
                }
                Ok(false) => failures.push(format!(
                    "the receipt in {} is not job {id}'s",
                    path.display()
                )),
                Err(e) => failures.push(format!("the receipt's signature does not verify: {e}")),
            }
        }
        (Some(rc), Some((escrow, market))) => {
            let bundle = cairn_log_client::LogClient::new(&rc.log)
                .bundle(rc.index)
                .await
                .with_context(|| {
                    format!("fetching the receipt at index {} of {}", rc.index, rc.log)
                })?;
            let key = escrow
                .receipt_key()
                .await?
                .ok_or_else(|| anyhow!("the ComputeMarket at {market} publishes no receipt key"))?;
            let key = cairn_attest::PublicKey::from_bytes(&key.0)
                .map_err(|e| anyhow!("the market's receipt key is invalid: {e}"))?;
            match bundle.envelope.verify_signature(&key) {
                Ok(_) => {
                    lines.push(format!(
                        "receipt: log {} index {}, signed by the market's receipt key {}",
                        rc.log,
                        rc.index,
                        key.to_base64()
                    ));
                    receipt_signer = Some(key.to_base64());
                }
                Err(e) => failures.push(format!(
                    "the receipt at index {} is not signed by the market's receipt key: {e}",
                    rc.index
                )),
            }
        }
        (None, _) => lines.push("receipt: not logged yet (it is once the job is paid out)".into()),
    }
    finish(
        id,
        json_out,
        Outcome { failures, lines },
        json!({
            "id": id,
            "specDigest": spec_digest,
            "traceRoot": r.trace_root,
            "outputDigest": r.output_digest,
            "model": model_ref.sha256,
            "seed": seed,
            "samples": samples,
            "segments": report.segments_checked,
            "stepsReplayed": report.steps_replayed,
            "stepsTotal": train.steps,
            "receiptSigner": receipt_signer,
            "nodeAudit": v.audit,
            "dispute": dispute,
            "nodeVerification": v.verification,
            "verifiedBy": how_verified(&v),
        }),
    )
}

/// The refereed bisection over job `id`'s result on chain, if anyone opened one: one line for
/// the history (method "disputed": rounds, the segment, the referee's verdict, the outcome) and
/// the same as JSON.
pub(super) async fn dispute_view(
    escrow: &cairn_escrow::Escrow,
    id: u64,
    steps: &[u64],
    lines: &mut Vec<String>,
) -> Result<Option<serde_json::Value>> {
    let Some(d) = escrow.dispute(id).await? else {
        return Ok(None);
    };
    let outcome = escrow
        .dispute_events(id)
        .await?
        .into_iter()
        .find_map(|l| match l.event {
            cairn_escrow::MarketEvent::DisputeResolved { outcome, .. } => Some(outcome),
            _ => None,
        });
    let step = |i: u32| steps.get(i as usize).copied();
    let verdict = d.verdict.map(|v| format!("{v:?}"));
    lines.push(format!(
        "method: disputed (refereed bisection) by {}: {} round(s) over {} checkpoints, segment {}→{} (steps {}..{}), referee {}, verdict {}, outcome {}",
        d.challenger,
        d.rounds,
        d.size,
        d.lo,
        d.hi,
        step(d.lo).map_or("?".into(), |s| s.to_string()),
        step(d.hi).map_or("?".into(), |s| s.to_string()),
        d.referee.map_or("none yet".into(), |r| r.to_string()),
        verdict.as_deref().unwrap_or("none yet"),
        outcome.map_or("pending", |o| o.as_str()),
    ));
    Ok(Some(json!({
        "method": "disputed",
        "challenger": d.challenger,
        "phase": d.phase,
        "rounds": d.rounds,
        "size": d.size,
        "lo": d.lo,
        "hi": d.hi,
        "referee": d.referee,
        "verdict": d.verdict,
        "outcome": outcome,
    })))
}

/// How the node verified a job's result, in words: replicated, sampled audit (passed, or failed
/// and disputed), not checked (with the streak and probability), or not yet decided.
pub(super) fn how_verified(v: &JobView) -> String {
    use cairn_compute::verify::Method;
    let why = v
        .verification
        .as_ref()
        .map(|d| format!(" — {}", d.reason))
        .unwrap_or_default();
    match (&v.verification, &v.audit) {
        (_, Some(a)) if a.passed() => format!(
            "sampled audit of {} segments, passed{why}",
            a.segments.len()
        ),
        (_, Some(a)) if a.findings.iter().any(|f| f.contains("the result stands")) => format!(
            "sampled audit of {} segments, FAILED, then disputed and the result stood{why}",
            a.segments.len()
        ),
        (_, Some(a)) => format!(
            "sampled audit of {} segments, FAILED: disputed{why}",
            a.segments.len()
        ),
        (Some(d), None) => match d.method {
            Method::NotChecked => format!(
                "not checked (streak {}, p = {:.3}, draw {:.3} from seed {}): settles after the challenge window",
                d.streak, d.probability, d.draw, d.seed
            ),
            Method::SampledAudit => {
                format!("sampled audit of {} segments, pending{why}", d.samples)
            }
            Method::Replication => match &v.replication {
                Some(r) => format!("replication, {}{why}", r.outcome),
                None => format!("replication{why}"),
            },
        },
        (None, None) => "not verified by the node (no verification policy recorded)".into(),
    }
}

/// One line per replica of a replicated result: "replicated on provider X: outputs agree
/// (replica job N)"; for a replica job, which job it re-ran.
pub(super) fn replication_lines(v: &JobView) -> Vec<String> {
    let mut lines = vec![];
    if let Some(of) = v.replica_of {
        lines.push(format!(
            "replica of job {of} (escrowed by the operator to check its result)"
        ));
    }
    let Some(rep) = &v.replication else {
        return lines;
    };
    for r in &rep.replicas {
        let who = r.provider.as_deref().unwrap_or("(not assigned yet)");
        let what = match (r.agrees, r.gone) {
            (Some(true), _) => "outputs agree",
            (Some(false), _) => "outputs disagree",
            (None, true) => "ended without a result",
            (None, false) => "waiting for its result",
        };
        lines.push(format!(
            "replicated on provider {who}: {what} (replica job {})",
            r.job
        ));
    }
    lines.push(format!("replication {}: {}", rep.outcome, rep.detail));
    lines
}

/// `job verify` of a `wasm` job: the original's and every replica's committed results, checked
/// against the chain's commitments, and whether they agree.
async fn verify_replicated(
    id: u64,
    v: &JobView,
    kind: cairn_compute::JobKind,
    spec_digest: &str,
    node: &NodeClient,
    json_out: bool,
) -> Result<ExitCode> {
    let r = committed_result(v, "verify")?;
    let mut lines = vec![format!(
        "job {id}: {kind}, provider {}; spec sha256:{spec_digest}",
        v.provider.as_deref().unwrap_or("?")
    )];
    let mut failures = vec![];
    let digest = alloy::primitives::hex::encode(output_digest(&r.outputs, &r.stdout));
    if digest != r.output_digest {
        failures.push(format!(
            "the outputs listed hash to {digest}, not the committed output digest {}",
            r.output_digest
        ));
    }
    let info = node.info().await?;
    let chain =
        cairn_chain::Chain::connect(&super::node::config_for(&info.rpc_url, info.chain_id), None)
            .await
            .with_context(|| format!("reading job {id} on chain {}", info.chain_id))?;
    let market = info
        .market
        .parse()
        .map_err(|_| anyhow!("the node reports a bad market address {:?}", info.market))?;
    let escrow = cairn_escrow::Escrow::new(chain, market);
    // Whether the chain holds job `job`'s commitment to this spec, output digest and trace root.
    let committed = |job: u64, out: String, trace: String| {
        let escrow = &escrow;
        async move {
            let on_chain = escrow
                .job(job)
                .await?
                .ok_or_else(|| anyhow!("job {job} is not on the ComputeMarket at {market}"))?;
            let c = cairn_escrow::result_commitment(
                b256(spec_digest, "spec digest")?,
                b256(&out, "output digest")?,
                b256(&trace, "trace root")?,
            );
            anyhow::Ok((on_chain.digest == c, on_chain.state))
        }
    };
    let (ok, state) = committed(id, r.output_digest.clone(), r.trace_root.clone()).await?;
    if ok {
        lines.push(format!(
            "output digest {} and trace root {} are the ones committed on chain {} (market {market}, job {state})",
            r.output_digest, r.trace_root, info.chain_id
        ));
    } else {
        failures.push(format!(
            "the chain holds no commitment to output digest {} and trace root {} for job {id} (chain state {state})",
            r.output_digest, r.trace_root
        ));
    }
    lines.push(format!("how the node verified it: {}", how_verified(v)));
    if let Some(of) = v.replica_of {
        lines.push(format!(
            "replica of job {of} (escrowed by the operator to check its result)"
        ));
    }
    let mut replicas = vec![];
    if let Some(rep) = &v.replication {
        for rv in &rep.replicas {
            let replica = node.job(rv.job).await?;
            if replica.spec_digest != spec_digest || replica.replica_of != Some(id) {
                failures.push(format!(
                    "replica job {} is not a replica of job {id}'s spec",
                    rv.job
                ));
                continue;
            }
            if replica.provider.is_some() && replica.provider == v.provider {
                failures.push(format!(
                    "replica job {} ran on the original's provider {}",
                    rv.job,
                    replica.provider.as_deref().unwrap_or("?")
                ));
            }
            let Some(rr) = replica
                .result
                .as_ref()
                .filter(|rr| rr.outcome == RunOutcome::Succeeded)
            else {
                lines.push(format!(
                    "replica job {} on {}: no result ({})",
                    rv.job,
                    replica.provider.as_deref().unwrap_or("nobody"),
                    replica.state
                ));
                continue;
            };
            let (on_chain, _) =
                committed(rv.job, rr.output_digest.clone(), rr.trace_root.clone()).await?;
            if !on_chain {
                failures.push(format!(
                    "the chain holds no commitment to replica job {}'s reported result",
                    rv.job
                ));
            }
            let agrees = rr.output_digest == r.output_digest && rr.trace_root == r.trace_root;
            lines.push(format!(
                "replicated on provider {}: outputs {} (replica job {}, output digest {}, committed on chain)",
                replica.provider.as_deref().unwrap_or("?"),
                if agrees { "agree" } else { "disagree" },
                rv.job,
                rr.output_digest
            ));
            replicas.push(json!({
                "job": rv.job,
                "provider": replica.provider,
                "outputDigest": rr.output_digest,
                "traceRoot": rr.trace_root,
                "agrees": agrees,
            }));
        }
        let agreeing = replicas.iter().filter(|x| x["agrees"] == true).count();
        let differing: Vec<&serde_json::Value> =
            replicas.iter().filter(|x| x["agrees"] == false).collect();
        let majority_elsewhere = differing.iter().enumerate().any(|(i, a)| {
            differing
                .iter()
                .skip(i + 1)
                .any(|b| a["outputDigest"] == b["outputDigest"] && a["traceRoot"] == b["traceRoot"])
        });
        if majority_elsewhere && agreeing == 0 {
            failures.push(format!(
                "two replicas on other providers committed the same result, and it is not job {id}'s"
            ));
        }
    }
    finish(
        id,
        json_out,
        Outcome { failures, lines },
        json!({
            "id": id,
            "specDigest": spec_digest,
            "traceRoot": r.trace_root,
            "outputDigest": r.output_digest,
            "nodeVerification": v.verification,
            "replication": v.replication,
            "replicas": replicas,
            "verifiedBy": how_verified(v),
        }),
    )
}

/// What a verification found: failures, and every check made (in order).
struct Outcome {
    failures: Vec<String>,
    lines: Vec<String>,
}

/// Prints the verdict — `fields` plus `verified`, `failures` and `checked` with `--json`, else
/// the checks and a last line — and exits 1 when something failed.
fn finish(id: u64, json_out: bool, o: Outcome, mut fields: Value) -> Result<ExitCode> {
    let ok = o.failures.is_empty();
    if json_out {
        if let Some(m) = fields.as_object_mut() {
            m.insert("verified".into(), ok.into());
            m.insert("failures".into(), json!(o.failures));
            m.insert("checked".into(), json!(o.lines));
        }
        output::json(&fields);
    } else {
        let mut s = o.lines.join("\n");
        s.push('\n');
        if ok {
            s.push_str(&format!("verified: job {id}'s result holds up\n"));
        } else {
            for f in &o.failures {
                s.push_str(&format!("FAILED: {f}\n"));
            }
        }
        output::print(&s);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
