//! Job receipts: when a job that ran is paid out (settled to the provider, or refunded after a
//! module fault), the node signs a `job-receipt/v1` statement and appends it to the
//! transparency log. Receipts are retried until the log takes them; a log that is down delays
//! receipts, never settlement.
use crate::{Error, Node, Result, node::now_ms, store::JobRow};
use cairn_attest::{
    Digest, Envelope, Statement, Subject,
    predicate::{
        InferenceV1, JobReceiptV1, ModelV1, Predicate, ReceiptOutput, ReceiptPayment,
        ReceiptReplica, TrainingRunV1, Verification, VerificationOutcome,
    },
};
use cairn_compute::api::{ReceiptRef, RunOutcome};
use cairn_log_server::Submission;
use std::time::Duration;

/// The statement a job's receipt carries.
pub(crate) fn statement(node: &Node, j: &JobRow) -> Result<Statement<JobReceiptV1>> {
    let r = j
        .result
        .as_ref()
        .ok_or_else(|| Error::Corrupt(format!("job {} has no result to receipt", j.id)))?;
    let sha = |hex: &str| {
        Digest::new("sha256", hex).map_err(|e| Error::Corrupt(format!("job {}: {e}", j.id)))
    };
    let mut outputs = Vec::new();
    for o in &r.outputs {
        outputs.push(ReceiptOutput {
            name: format!("output/{}", o.name),
            digest: sha(&o.sha256)?,
        });
    }
    outputs.push(ReceiptOutput {
        name: "stdout".into(),
        digest: sha(&r.stdout.sha256)?,
    });
    let subjects = outputs
        .iter()
        .map(|o| Subject::new(o.name.clone(), &o.digest))
        .collect();
    let mut inputs = Vec::new();
    for i in &j.spec.inputs {
        inputs.push(sha(&i.blob.sha256)?);
    }
    let input_roots = match &j.spec.dataset_root {
        Some(root) => vec![
            Digest::new("blake3", root.trim_start_matches("blake3:"))
                .map_err(|e| Error::Corrupt(format!("job {}: {e}", j.id)))?,
        ],
        None => vec![],
    };
    let outcome = match &r.outcome {
        RunOutcome::Succeeded if j.audit.as_ref().is_some_and(|a| !a.passed()) => format!(
            "failed: disputed: the sampled step audit failed: {}",
            j.audit
                .as_ref()
                .map(|a| a.findings.join("; "))
                .unwrap_or_default()
        ),
        RunOutcome::Succeeded
            if matches!(
                j.stop,
                Some(cairn_compute::StopReason::ReplicaMismatch { .. })
            ) =>
        {
            format!(
                "failed: {}",
                j.stop.as_ref().map(|s| s.to_string()).unwrap_or_default()
            )
        }
        RunOutcome::Succeeded => "succeeded".to_owned(),
        RunOutcome::Failed { reason } => format!("failed: {reason}"),
    };
    let predicate = JobReceiptV1 {
        job_id: j.id.to_string(),
        chain_id: node.shared.ledger.chain_id(),
        market: node.shared.ledger.market().to_string(),
        spec: sha(&j.spec_digest)?,
        module: sha(&j.spec.module.sha256)?,
        inputs,
        input_roots,
        outputs,
        provider: j.provider.clone().unwrap_or_default(),
        outcome,
        fuel_used: r.fuel_used,
        wall_time_ms: r.wall_time_ms,
        payment: ReceiptPayment {
            token: node.shared.market.token.to_string(),
            escrowed: j.spec.payment.to_string(),
            paid: j.paid.unwrap_or(0).to_string(),
            fee: j.fee.unwrap_or(0).to_string(),
            refunded: j.refunded.unwrap_or(0).to_string(),
        },
        replica_of: j.replica_of.map(|id| id.to_string()),
        replicas: j
            .replication
            .iter()
            .flat_map(|r| &r.replicas)
            .filter_map(|r| {
                Some(ReceiptReplica {
                    job_id: r.job.to_string(),
                    provider: r.provider.clone()?,
                    agrees: r.agrees?,
                })
            })
            .collect(),
    };
    Ok(Statement::new(subjects, predicate))
}

/// The `training-run/v1` statement of a succeeded `train` job on a dataset (subjects: the model
/// file and the trace), or `None` for other jobs.
pub(crate) fn training_run(j: &JobRow) -> Result<Option<Statement<TrainingRunV1>>> {
    let (Some(t), Some(r), Some(root)) = (&j.spec.train, &j.result, &j.spec.dataset_root) else {
        return Ok(None);
    };
    if r.outcome != RunOutcome::Succeeded {
        return Ok(None);
    }
    let bad = |e: cairn_attest::FieldError| Error::Corrupt(format!("job {}: {e}", j.id));
    let subjects = r
        .outputs
        .iter()
        .filter(|o| o.name == "model.safetensors" || o.name == "trace.json")
        .map(|o| Digest::new("sha256", &o.sha256).map(|d| Subject::new(o.name.clone(), &d)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let hyper = serde_json::json!({
        "model": t.model, "hidden": t.hidden, "layers": t.layers, "seed": t.seed,
        "optimiser": t.optimiser, "learningRate": t.learning_rate, "batchSize": t.batch_size,
        "steps": t.steps, "checkpointEvery": t.checkpoint_every, "reader": t.data.reader,
        "assets": t.data.assets, "window": t.data.window, "horizon": t.data.horizon,
    });
    let predicate = TrainingRunV1 {
        job_id: j.id.to_string(),
        datasets: vec![Digest::new("blake3", root.trim_start_matches("blake3:")).map_err(bad)?],
        code: Digest::new("sha256", &j.spec.module.sha256).map_err(bad)?,
        hyperparameters: serde_json::from_value(hyper).expect("an object"),
        step_trace_root: Some(Digest::new("sha256", &r.trace_root).map_err(bad)?),
        providers: vec![j.provider.clone().unwrap_or_default()],
        verification: match &j.audit {
            Some(a) => Verification {
                outcome: if a.passed() {
                    VerificationOutcome::Verified
                } else {
                    VerificationOutcome::Failed
                },
                method: Some(a.method.clone()),
                detail: Some(if a.passed() {
                    crate::audit::describe(a)
                } else {
                    format!("{}; {}", a.findings.join("; "), crate::audit::describe(a))
                }),
            },
            None => Verification {
                outcome: VerificationOutcome::Unverified,
                method: None,
                detail: None,
            },
        },
    };
    Ok(Some(Statement::new(subjects, predicate)))
}

/// The `model/v1` statement of the model file of a `train` job whose training-run envelope is
/// `run`.
pub(crate) fn model(j: &JobRow, run: Digest) -> Result<Option<Statement<ModelV1>>> {
    let (Some(t), Some(r)) = (&j.spec.train, &j.result) else {
        return Ok(None);
    };
    let Some(file) = r.outputs.iter().find(|o| o.name == "model.safetensors") else {
        return Ok(None);
    };
    let digest = Digest::new("sha256", &file.sha256)
        .map_err(|e| Error::Corrupt(format!("job {}: {e}", j.id)))?;
    Ok(Some(Statement::new(
        vec![Subject::new("model.safetensors", &digest)],
        ModelV1 {
            model: digest,
            format: "safetensors".into(),
            training_run: run,
            parameters: Some(t.parameters()),
        },
    )))
}

/// The `inference/v1` statement of a succeeded `infer` job (subject: its predictions, or a
/// text model's completions).
pub(crate) fn inference(j: &JobRow) -> Result<Option<Statement<InferenceV1>>> {
    let (Some(i), Some(r)) = (&j.spec.infer, &j.result) else {
        return Ok(None);
    };
    let Some(out) = r
        .outputs
        .iter()
        .find(|o| o.name == "predictions.csv" || o.name == "completions.jsonl")
    else {
        return Ok(None);
    };
    let bad = |e: cairn_attest::FieldError| Error::Corrupt(format!("job {}: {e}", j.id));
    let output = Digest::new("sha256", &out.sha256).map_err(bad)?;
    // The input: the dataset's root when the inputs are one, else the first data file.
    let input = match (
        &j.spec.dataset_root,
        j.spec
            .inputs
            .iter()
            .find(|x| x.name != cairn_compute::tensor::INFER_MODEL_INPUT),
    ) {
        (Some(root), _) => {
            Digest::new("blake3", root.trim_start_matches("blake3:")).map_err(bad)?
        }
        (None, Some(x)) => Digest::new("sha256", &x.blob.sha256).map_err(bad)?,
        (None, None) => return Ok(None),
    };
    Ok(Some(Statement::new(
        vec![Subject::new(&out.name, &output)],
        InferenceV1 {
            model: Digest::new("sha256", i.model.trim_start_matches("sha256:")).map_err(bad)?,
            input,
            output,
            provider: j.provider.clone(),
            job_id: Some(j.id.to_string()),
        },
    )))
}

/// Signs `st` with the receipt key and appends it to the log; returns its index and envelope
/// digest.
pub(crate) async fn append_statement<P: Predicate>(
    node: &Node,
    id: u64,
    st: &Statement<P>,
) -> Result<(u64, Digest)> {
    let log = node.shared.log.as_ref().expect("only called with a log");
    let key = &node.shared.receipt_key;
    let envelope = Envelope::sign_statement(st, key)
        .map_err(|e| Error::Corrupt(format!("job {id}: a statement does not sign: {e}")))?;
    let sub = Submission {
        envelope: serde_json::to_value(&envelope).expect("serializable"),
        public_key: key.public().to_base64(),
    };
    let resp = log
        .add(&sub, false)
        .await
        .map_err(|e| Error::Conflict(format!("log: {e}")))?;
    Ok((resp.index, envelope.digest()))
}

/// The lineage statements of a settled tensor job (`training-run` then `model`, or
/// `inference`), appended before its receipt; returns a line per statement for the job's
/// events. Signatures are deterministic, so a retry appends the same envelopes.
async fn lineage(node: &Node, j: &JobRow) -> Result<Vec<String>> {
    // A disputed run is logged too (its audit failed, so no model statement vouches for it).
    let disputed = j.audit.as_ref().is_some_and(|a| !a.passed());
    if j.paid.is_none() && !disputed {
        return Ok(vec![]);
    }
    let mut lines = Vec::new();
    if let Some(run) = training_run(j)? {
        let (index, digest) = append_statement(node, j.id, &run).await?;
        lines.push(format!(
            "training-run statement logged at index {index} ({digest}){}",
            if disputed {
                ", verification failed"
            } else if j.audit.is_some() {
                ", verification verified"
            } else {
                ""
            }
        ));
        if disputed {
            return Ok(lines);
        }
        if let Some(m) = model(j, digest)? {
            let (index, digest) = append_statement(node, j.id, &m).await?;
            lines.push(format!(
                "model statement logged at index {index} ({digest})"
            ));
        }
    }
    if let Some(inf) = inference(j)? {
        let (index, digest) = append_statement(node, j.id, &inf).await?;
        lines.push(format!(
            "inference statement logged at index {index} ({digest})"
        ));
    }
    Ok(lines)
}

async fn append(node: &Node, j: &JobRow) -> Result<(ReceiptRef, Vec<String>)> {
    let lines = lineage(node, j).await?;
    let log = node.shared.log.as_ref().expect("only called with a log");
    let st = statement(node, j)?;
    let key = &node.shared.receipt_key;
    let envelope = Envelope::sign_statement(&st, key)
        .map_err(|e| Error::Corrupt(format!("job {}: receipt does not sign: {e}", j.id)))?;
    let sub = Submission {
        envelope: serde_json::to_value(&envelope).expect("serializable"),
        public_key: key.public().to_base64(),
    };
    let resp = log
        .add(&sub, false)
        .await
        .map_err(|e| Error::Conflict(format!("log: {e}")))?;
    Ok((
        ReceiptRef {
            log: log.url().to_owned(),
            index: resp.index,
            envelope_digest: resp.envelope_digest,
        },
        lines,
    ))
}

/// Appends due receipts until the node stops (returns at once when no log is configured).
pub(crate) async fn run(node: Node) {
    if node.shared.log.is_none() {
        return;
    }
    let mut backoff = Duration::from_millis(200);
    let mut stop = node.stopping();
    while !*stop.borrow() {
        let due = node.store().read().jobs_needing_receipt(32);
        let due = match due {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "reading receipts due");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let mut failed = false;
        for j in &due {
            match append(&node, j).await {
                Ok((receipt, lines)) => {
                    let id = j.id;
                    let r = node.store().tx(|t| {
                        let Some(mut j) = t.job(id)? else {
                            return Ok(());
                        };
                        for line in &lines {
                            t.event(id, now_ms(), line)?;
                        }
                        t.event(
                            id,
                            now_ms(),
                            &format!(
                                "receipt logged at index {} ({})",
                                receipt.index, receipt.envelope_digest
                            ),
                        )?;
                        j.receipt = Some(receipt.clone());
                        j.receipt_todo = false;
                        t.put_job(&j)
                    });
                    if let Err(e) = r {
                        tracing::error!(error = %e, "recording a receipt");
                    }
                }
                Err(e) => {
                    tracing::warn!(job = j.id, error = %e, retry_in = ?backoff, "receipt not logged yet");
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
            continue;
        }
        backoff = Duration::from_millis(200);
        if due.is_empty() {
            tokio::select! {
                _ = node.shared.receipt_wake.notified() => {}
                _ = tokio::time::sleep(node.shared.config.tick * 4) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
