//! Job receipts: when a job that ran is paid out (settled to the provider, or refunded after a
//! module fault), the node signs a `job-receipt/v1` statement and appends it to the
//! transparency log. Receipts are retried until the log takes them; a log that is down delays
//! receipts, never settlement.
use crate::{Error, Node, Result, node::now_ms, store::JobRow};
use cairn_attest::{
    Digest, Envelope, Statement, Subject,
    predicate::{JobReceiptV1, ReceiptOutput, ReceiptPayment},
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
    };
    Ok(Statement::new(subjects, predicate))
}

async fn append(node: &Node, j: &JobRow) -> Result<ReceiptRef> {
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
    Ok(ReceiptRef {
        log: log.url().to_owned(),
        index: resp.index,
        envelope_digest: resp.envelope_digest,
    })
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
                Ok(receipt) => {
                    let id = j.id;
                    let r = node.store().tx(|t| {
                        let Some(mut j) = t.job(id)? else {
                            return Ok(());
                        };
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
