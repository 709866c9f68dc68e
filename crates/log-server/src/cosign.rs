//! Collecting witness cosignatures for each new checkpoint (tlog-witness, client side).
use cairn_log::Log;
use cairn_tlog::{CosignatureVerifier, Note};
use cairn_witness::{ClientError, submit_checkpoint};
use std::collections::HashMap;

/// A witness the log asks for cosignatures.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// Submission prefix, e.g. `http://127.0.0.1:7301`.
    pub url: String,
    /// Its cosignature key: answers are checked before they are attached.
    pub verifier: CosignatureVerifier,
}

/// Runs until the log closes: after every checkpoint publication, asks each witness to cosign
/// the latest checkpoint and attaches the verified cosignatures to the published note. A
/// witness that is down is retried at the next checkpoint; publication never waits for it.
pub async fn cosign_loop(log: Log, witnesses: Vec<WitnessEndpoint>) {
    if witnesses.is_empty() {
        return;
    }
    let http = reqwest::Client::new();
    let mut known: HashMap<String, u64> = HashMap::new();
    let mut rx = log.subscribe();
    loop {
        let note_text = log.checkpoint();
        if let Ok(note) = Note::parse(&note_text) {
            let size = cairn_tlog::Checkpoint::parse_body(&note.text)
                .map(|c| c.size)
                .unwrap_or(0);
            let mut signed = note.clone();
            for w in &witnesses {
                match cosign_one(&log, &http, w, &mut known, size, &note_text).await {
                    Ok(sigs) => {
                        for sig in sigs {
                            if w.verifier.matches(&sig)
                                && w.verifier.verify(&note.text, &sig).is_ok()
                            {
                                signed.add_signature(sig);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(witness = %w.url, error = %e, "no cosignature this round")
                    }
                }
            }
            if signed.signatures.len() > note.signatures.len()
                && let Err(e) = log.attach_cosignatures(&signed)
            {
                tracing::warn!(error = %e, "could not attach cosignatures");
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn cosign_one(
    log: &Log,
    http: &reqwest::Client,
    w: &WitnessEndpoint,
    known: &mut HashMap<String, u64>,
    size: u64,
    checkpoint: &str,
) -> Result<Vec<cairn_tlog::NoteSignature>, ClientError> {
    for _ in 0..2 {
        let old = known.get(&w.url).copied().unwrap_or(0).min(size);
        let proof = if old == 0 {
            Vec::new()
        } else {
            log.consistency_proof(old, size).unwrap_or_default()
        };
        match submit_checkpoint(http, &w.url, old, proof, checkpoint).await {
            Ok(sigs) => {
                known.insert(w.url.clone(), size);
                return Ok(sigs);
            }
            // The witness tells us where it is; retry once from there.
            Err(ClientError::Conflict { size: theirs, .. }) if theirs <= size => {
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
