//! The node's verifier role: a sampled step audit of every committed `train` result before it
//! settles.
//!
//! ```text
//!  report (train, committed) ─▶ todo = audit ─▶ seed = H(receipt-key signature over the commitment)
//!      ─▶ trace.json (leaves → committed root) ─▶ fetch checkpoints 0, last, and both ends of
//!         `audit_samples` segments, each with its inclusion proof ─▶ re-execute the segments
//!      ├─ passed ─▶ todo = settle (after the challenge window)
//!      └─ failed ─▶ a step re-executed to another checkpoint: todo = dispute — a refereed
//!         │         bisection on chain (`crate::dispute_task`), the trace naming the
//!         │         recomputed checkpoint
//!         └─ no dispute possible (other findings, dispute rules unset, no referee, no dispute client):
//!            state failed (disputed) ─▶ challenge ─▶ refund ─▶ slash, paid to the requester
//! ```
//!
//! The seed is the node's deterministic Ed25519 signature over the market, the job and the
//! committed digests: the provider cannot compute it before it commits (it lacks the key), and
//! the node cannot pick it after (the signature is fixed by the commitment). It is published
//! in the job's audit record, so anyone can re-run the same audit (`cairn job verify`).
//!
//! Audits run on the blocking pool, one job at a time, single-threaded: a verifier should not
//! take the node's cores from the API. Their cost — `k` segments of the trace — is recorded
//! with the result.
use crate::dispute_task::DisputeRecord;
use crate::{
    Error, Node, Result,
    node::now_ms,
    store::{JobRow, Todo},
};
use cairn_compute::{JobState, StopReason, api::AuditView, fmt_usdt};
use cairn_ml::{
    audit::{Opening, audit_openings},
    trace::{TraceFile, checkpoint_name, proof},
};
use sha2::{Digest as _, Sha256};
use std::time::Instant;

/// The name of the method in audit records and statements.
pub(crate) const METHOD: &str = "sampled-step-audit";

/// Runs due audits until the node stops.
pub(crate) async fn run(node: Node) {
    crate::node::drive(
        node,
        "audits",
        |n| async move { pass(&n).await },
        |n| *n > 0,
    )
    .await
}

/// Audits the jobs due now; returns how many were decided. A job whose audit cannot run (its
/// blobs unreadable on this node: the node's fault, not the provider's) stays due and does
/// not hold up the others.
pub(crate) async fn pass(node: &Node) -> Result<usize> {
    let due = node.store().read().jobs_todo(Todo::Audit, 8)?;
    let mut decided = 0;
    for j in &due {
        let (n, row) = (node.clone(), j.clone());
        let outcome = tokio::task::spawn_blocking(move || audit_job(&n, &row))
            .await
            .map_err(|e| Error::Corrupt(format!("the audit of job {} panicked: {e}", j.id)))?;
        match outcome {
            Ok((view, plan)) => {
                record(node, j.id, view, plan)?;
                decided += 1;
            }
            Err(e) => tracing::warn!(job = j.id, error = %e, "the audit could not run; retrying"),
        }
    }
    Ok(decided)
}

/// The audit's seed for `j`: the first 8 bytes of SHA-256 of the receipt key's signature over
/// the market, the job id and its committed digests.
pub(crate) fn seed(node: &Node, j: &JobRow, trace_root: &str, output_digest: &str) -> u64 {
    let message = format!(
        "cairn-audit-seed/v1\n{}\n{}\n{}\n{}\n{}\n",
        node.shared.ledger.market(),
        j.id,
        j.spec_digest,
        output_digest,
        trace_root
    );
    let env = cairn_attest::Envelope::sign_payload(
        "application/vnd.cairn.audit-seed",
        message.into_bytes(),
        &node.shared.receipt_key,
    );
    let h = Sha256::digest(serde_json::to_vec(&env.signatures).expect("serializable"));
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
}

/// Re-executes the sampled segments of `j`'s committed trace from the node's blob store; for a
/// step that re-executed to another checkpoint, also the dispute the node opens over it.
fn audit_job(node: &Node, j: &JobRow) -> Result<(AuditView, Option<DisputeRecord>)> {
    let start = Instant::now();
    let (Some(spec), Some(r)) = (&j.spec.train, &j.result) else {
        return Err(Error::Corrupt(format!(
            "job {} is not a train job with a result",
            j.id
        )));
    };
    let samples = node.shared.config.audit_samples.max(1);
    let seed = seed(node, j, &r.trace_root, &r.output_digest);
    let steps = spec.checkpoint_steps();
    let mut view = AuditView {
        method: METHOD.into(),
        outcome: "passed".into(),
        seed,
        samples,
        segments: vec![],
        steps_replayed: 0,
        steps_total: spec.steps,
        checkpoints_fetched: 0,
        checkpoints_total: steps.len() as u64,
        wall_ms: 0,
        findings: vec![],
    };
    let blob = |sha: &str, what: &str| -> Result<Vec<u8>> {
        let mut d = [0u8; 32];
        hex::decode_to_slice(sha, &mut d)
            .map_err(|_| Error::Corrupt(format!("job {}: {what}: bad digest", j.id)))?;
        node.shared
            .blobs
            .get(&d)
            .map_err(|e| Error::io(format!("reading {what}"), e))?
            .ok_or_else(|| Error::Corrupt(format!("job {}: {what} is not in the store", j.id)))
    };
    let output = |name: &str| r.outputs.iter().find(|o| o.name == name);
    let fail = |mut view: AuditView, why: String| {
        view.outcome = "failed".into();
        view.findings.push(why);
        view.wall_ms = start.elapsed().as_millis() as u64;
        Ok((view, None))
    };
    // The provider's claim: trace.json whose leaves hash to the committed root, the model.
    let Some(trace) = output("trace.json") else {
        return fail(view, "the result has no trace.json".into());
    };
    let trace: TraceFile = match serde_json::from_slice(&blob(&trace.sha256, "trace.json")?) {
        Ok(t) => t,
        Err(e) => return fail(view, format!("trace.json does not parse: {e}")),
    };
    let leaves = match trace.leaf_hashes() {
        Ok(l) => l,
        Err(e) => return fail(view, e.to_string()),
    };
    if trace.root != r.trace_root || trace.steps != steps {
        return fail(
            view,
            "trace.json is not the trace committed on chain for the job's schedule".into(),
        );
    }
    let Some(model) = output("model.safetensors") else {
        return fail(view, "the result has no model.safetensors".into());
    };
    let model = blob(&model.sha256, "model.safetensors")?;
    let mut inputs = Vec::new();
    for i in &j.spec.inputs {
        inputs.push((i.name.clone(), blob(&i.blob.sha256, &i.name)?));
    }
    let data = match cairn_ml::data::samples(&spec.data, "train.data", &inputs) {
        Ok(d) => d,
        Err(e) => return fail(view, format!("the dataset does not load: {e}")),
    };
    let root = trace
        .root_bytes()
        .map_err(|e| Error::Corrupt(format!("job {}: {e}", j.id)))?;
    let mut fetched = 0u64;
    let report = audit_openings(spec, &data, root, &model, samples as usize, seed, 1, |i| {
        fetched += 1;
        let name = checkpoint_name(steps[i]);
        let sha =
            output(&name)
                .map(|o| o.sha256.clone())
                .ok_or_else(|| cairn_ml::Error::Malformed {
                    what: name.clone(),
                    detail: "missing from the result".into(),
                })?;
        let bytes = blob(&sha, &name).map_err(|e| cairn_ml::Error::Malformed {
            what: name.clone(),
            detail: e.to_string(),
        })?;
        Ok(Opening {
            bytes,
            proof: proof(&leaves, i)?,
        })
    });
    view.checkpoints_fetched = fetched;
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(view, e.to_string()),
    };
    view.segments = report.segments_checked.iter().map(|&s| s as u64).collect();
    view.steps_replayed = report.steps_replayed;
    view.findings = report.findings.iter().map(|f| f.to_string()).collect();
    let mut plan = None;
    if !report.passed() {
        view.outcome = "failed".into();
        // A step that re-executed to another checkpoint: the node's own checkpoint there is
        // what it disputes (only the segment's start is fetched again, by its proof).
        if let Some(cairn_ml::audit::Finding::StepMismatch { segment, .. }) = report
            .findings
            .iter()
            .find(|f| matches!(f, cairn_ml::audit::Finding::StepMismatch { .. }))
        {
            let segment = *segment;
            let start_bytes = if segment == 0 {
                None
            } else {
                output(&checkpoint_name(steps[segment]))
                    .and_then(|o| blob(&o.sha256, "a checkpoint").ok())
            };
            if let Ok(c) = cairn_ml::audit::recompute_segment(
                spec,
                &data,
                segment,
                &leaves[segment],
                start_bytes.as_deref(),
                1,
            ) {
                plan = Some(DisputeRecord::new(
                    &leaves,
                    segment,
                    c.leaf,
                    view.findings.join("; "),
                ));
            }
        }
    }
    view.wall_ms = start.elapsed().as_millis() as u64;
    Ok((view, plan))
}

/// What one line of the job's history says about an audit.
pub(crate) fn describe(a: &AuditView) -> String {
    let pct = if a.steps_total > 0 {
        100.0 * a.steps_replayed as f64 / a.steps_total as f64
    } else {
        0.0
    };
    format!(
        "re-executed segments {:?} ({} of {} steps, {pct:.1}% of the run; {} of {} checkpoints fetched with inclusion proofs) in {} ms, seed {}",
        a.segments,
        a.steps_replayed,
        a.steps_total,
        a.checkpoints_fetched,
        a.checkpoints_total,
        a.wall_ms,
        a.seed
    )
}

/// The direct path for a failed audit: the job fails, the provider's record counts a lost
/// lease, and the chain loop challenges, refunds and slashes `j.slash`.
pub(crate) fn fail_directly(
    t: &crate::store::Tx<'_>,
    j: &mut JobRow,
    detail: String,
    now: u64,
) -> Result<()> {
    j.state = JobState::Failed;
    j.stop = Some(StopReason::AuditFailed { detail });
    j.todo = Some(Todo::Challenge);
    j.finished_ms = Some(now);
    if let Some(p) = j.provider.clone()
        && let Some(mut p) = t.provider(&p)?
    {
        p.lost += 1;
        t.put_provider(&p)?;
    }
    Ok(())
}

/// Records an audit's outcome: a pass lets the job settle; a failure disputes it — a refereed
/// bisection when `plan` says which checkpoint (see `crate::dispute_task`), else challenge,
/// refund, then slash.
fn record(node: &Node, id: u64, audit: AuditView, plan: Option<DisputeRecord>) -> Result<()> {
    let now = now_ms();
    let min_stake: u64 = node.shared.market.min_stake.saturating_to();
    let slash = (u128::from(min_stake) * u128::from(node.shared.config.slash_bps) / 10_000)
        .clamp(1, u128::from(u64::MAX)) as u64;
    node.store().tx(|t| {
        let Some(mut j) = t.job(id)? else {
            return Ok(());
        };
        if j.todo != Some(Todo::Audit) {
            return Ok(());
        }
        // The verification policy's streak: one more for a pass, back to 0 for a failure.
        if let Some(p) = j.provider.clone()
            && let Some(mut p) = t.provider(&p)?
        {
            p.streak = cairn_compute::verify::next_streak(p.streak, audit.passed());
            t.put_provider(&p)?;
        }
        if audit.passed() {
            j.todo = Some(Todo::Settle);
            t.event(
                id,
                now,
                &format!(
                    "audit passed: {}; settles after the challenge window",
                    describe(&audit)
                ),
            )?;
        } else if let Some(plan) = plan.clone() {
            let detail = audit.findings.join("; ");
            j.todo = Some(Todo::Dispute);
            // Used only if the dispute cannot be opened (the direct path).
            j.slash = Some(slash);
            t.event(
                id,
                now,
                &format!(
                    "audit FAILED: {detail}; {}; disputing on chain: a refereed bisection naming checkpoint {}",
                    describe(&audit),
                    plan.disputed
                ),
            )?;
            j.dispute = Some(plan);
        } else {
            let detail = audit.findings.join("; ");
            j.slash = Some(slash);
            fail_directly(t, &mut j, detail.clone(), now)?;
            t.event(
                id,
                now,
                &format!(
                    "audit FAILED: {detail}; {}; disputed: challenge, refund to the requester and a slash of {} queued",
                    describe(&audit),
                    fmt_usdt(slash)
                ),
            )?;
        }
        j.audit = Some(audit.clone());
        t.put_job(&j)
    })?;
    node.shared.chain_wake.notify_one();
    Ok(())
}
