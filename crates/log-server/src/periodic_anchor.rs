//! Anchoring the log's checkpoints on chain, on demand and periodically.
use alloy::primitives::B256;
use cairn_anchor::{Anchored, Anchorer};
use cairn_tlog::{Checkpoint, NoteVerifier};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The outcome of one anchoring attempt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum AnchorStatus {
    /// A new anchor was posted.
    Anchored(Anchored),
    /// The chain already holds an anchor at least this large.
    UpToDate {
        /// The anchored size.
        anchored_size: u64,
    },
}

/// Anchors the checkpoint `note` (verified against `log_key` first) unless the chain already
/// has an anchor of that size or larger. Registers the log on first use.
pub async fn anchor_once(
    anchorer: &Anchorer,
    note: &str,
    log_key: &NoteVerifier,
) -> Result<AnchorStatus, String> {
    let (cp, _) = Checkpoint::open(note, log_key).map_err(|e| format!("checkpoint: {e}"))?;
    if cp.origin != anchorer.origin() {
        return Err(format!(
            "checkpoint origin {:?} is not {:?}",
            cp.origin,
            anchorer.origin()
        ));
    }
    let key_hash: [u8; 32] = Sha256::digest(log_key.verifying_key().as_bytes()).into();
    anchorer
        .ensure_registered(B256::from(key_hash))
        .await
        .map_err(|e| e.to_string())?;
    let anchored = anchorer
        .registration()
        .await
        .map_err(|e| e.to_string())?
        .map(|(_, s)| s)
        .unwrap_or(0);
    if cp.size <= anchored {
        return Ok(AnchorStatus::UpToDate {
            anchored_size: anchored,
        });
    }
    anchorer
        .anchor(cp.size, B256::from(cp.root))
        .await
        .map(AnchorStatus::Anchored)
        .map_err(|e| e.to_string())
}

/// Anchors the log's latest checkpoint every `interval` while the log grows.
pub async fn anchor_loop(log: cairn_log::Log, anchorer: Anchorer, interval: Duration) {
    let key = log.signer().verifier();
    loop {
        tokio::time::sleep(interval).await;
        match anchor_once(&anchorer, &log.checkpoint(), &key).await {
            Ok(AnchorStatus::Anchored(a)) => {
                tracing::info!(size = a.anchor.size, gas = a.gas_used, tx = %a.anchor.tx_hash, "checkpoint anchored");
            }
            Ok(AnchorStatus::UpToDate { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "anchoring failed; will retry"),
        }
    }
}
