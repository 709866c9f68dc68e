//! Witness-gated publishing (tlog-witness, client side).
//!
//! ```text
//!  integrator ── signs checkpoint N ──▶ latest signed ──▶ cosign_loop ──▶ every witness
//!                                                              │  all cosigned N
//!                                                              ▼
//!             GET /checkpoint, bundles ◀── served checkpoint ◀─ publish_cosigned(N + cosignatures)
//! ```
//!
//! As in Tessera, the log keeps serving the last checkpoint its witnesses cosigned, and builds
//! bundles from it, until they cosign a newer one: a cosignature is never thrown away because
//! the tree grew while the witness answered, so under any load every served checkpoint — and
//! every bundle — carries the cosignatures a verifier requires. A witness that is down delays
//! publication (entries stay sequenced and durable) and is retried with the newest checkpoint.
use cairn_log::Log;
use cairn_tlog::{Checkpoint, CosignatureVerifier, Note, NoteSignature};
use cairn_witness::{ClientError, submit_checkpoint};
use std::{collections::HashMap, time::Duration};

/// A witness the log asks for cosignatures.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// Submission prefix, e.g. `http://127.0.0.1:7301`.
    pub url: String,
    /// Its cosignature key: answers are checked before they are attached.
    pub verifier: CosignatureVerifier,
}

/// How long to wait before asking again after a witness failed.
const RETRY: Duration = Duration::from_millis(500);

/// Runs until the log closes: whenever the log signs a checkpoint newer than the served one,
/// asks every witness to cosign it and, once all have, serves it with their cosignatures
/// ([`Log::publish_cosigned`]). Open the log with witness gating
/// ([`cairn_log::LogConfig::with_witness_gating`]) so nothing is served before that.
pub async fn cosign_loop(log: Log, witnesses: Vec<WitnessEndpoint>) {
    if witnesses.is_empty() {
        return;
    }
    let http = reqwest::Client::new();
    let mut known: HashMap<String, u64> = HashMap::new();
    let mut rx = log.subscribe_signed();
    loop {
        let done = match cosign_latest(&log, &http, &witnesses, &mut known).await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint not cosigned yet; retrying");
                false
            }
        };
        let changed = if done {
            rx.changed().await.map(|_| ())
        } else {
            match tokio::time::timeout(RETRY, rx.changed()).await {
                Ok(r) => r.map(|_| ()),
                Err(_) => Ok(()),
            }
        };
        if changed.is_err() || log.halted().is_some() {
            return;
        }
    }
}

/// Has the latest signed checkpoint cosigned by every witness and serves it. Returns whether
/// the served checkpoint is now the latest signed one with every cosignature.
async fn cosign_latest(
    log: &Log,
    http: &reqwest::Client,
    witnesses: &[WitnessEndpoint],
    known: &mut HashMap<String, u64>,
) -> Result<bool, String> {
    let note_text = log.latest_signed();
    let note = Note::parse(&note_text).map_err(|e| e.to_string())?;
    let size = Checkpoint::parse_body(&note.text)
        .map_err(|e| e.to_string())?
        .size;
    let served = Note::parse(&log.checkpoint()).ok();
    let has_all = |n: &Note| {
        witnesses
            .iter()
            .all(|w| n.signatures.iter().any(|s| w.verifier.matches(s)))
    };
    if served
        .as_ref()
        .is_some_and(|s| s.text == note.text && has_all(s))
    {
        return Ok(true);
    }
    let mut signed = note.clone();
    let mut failures = Vec::new();
    for w in witnesses {
        match cosign_one(log, http, w, known, size, &note_text).await {
            Ok(sigs) => {
                for sig in sigs {
                    if w.verifier.matches(&sig) && w.verifier.verify(&note.text, &sig).is_ok() {
                        signed.add_signature(sig);
                    }
                }
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if !has_all(&signed) {
        return Err(failures.join("; "));
    }
    log.publish_cosigned(&signed).map_err(|e| e.to_string())?;
    Ok(log.latest_signed() == note_text)
}

async fn cosign_one(
    log: &Log,
    http: &reqwest::Client,
    w: &WitnessEndpoint,
    known: &mut HashMap<String, u64>,
    size: u64,
    checkpoint: &str,
) -> Result<Vec<NoteSignature>, ClientError> {
    for _ in 0..2 {
        let old = known.get(&w.url).copied().unwrap_or(0);
        if old > size {
            // The witness is ahead of this checkpoint (it cosigned a newer one already).
            return Err(ClientError::Refused {
                url: w.url.clone(),
                status: 409,
                body: format!("the witness is at size {old}, beyond {size}"),
            });
        }
        // A proof is empty only where tlog-witness says so: from size 0, or to the same size.
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            log.consistency_proof(old, size)
                .map_err(|e| ClientError::Refused {
                    url: w.url.clone(),
                    status: 0,
                    body: format!("no consistency proof from {old} to {size}: {e}"),
                })?
        };
        match submit_checkpoint(http, &w.url, old, proof, checkpoint).await {
            Ok(sigs) => {
                known.insert(w.url.clone(), size);
                return Ok(sigs);
            }
            // The witness tells us where it is; retry once from there.
            Err(ClientError::Conflict { size: theirs, .. }) => {
                known.insert(w.url.clone(), theirs);
            }
            Err(e) => return Err(e),
        }
    }
    Err(ClientError::Refused {
        url: w.url.clone(),
        status: 409,
        body: "size kept changing".into(),
    })
}
