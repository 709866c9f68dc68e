//! Anchoring the log's checkpoints on chain, on demand and periodically.
use alloy::primitives::B256;
use cairn_anchor::{Anchored, Anchorer};
use cairn_tlog::{Checkpoint, NoteVerifier};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::{
    sync::{Arc, RwLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::openapi::{AnchorAnswer, LatestAnchor};

/// What the log knows of its anchoring, served at `GET /anchor`: updated by [`anchor_loop`]
/// after every attempt, read by the handler. Cloning shares it.
#[derive(Debug, Clone)]
pub struct AnchorWatch(Arc<RwLock<AnchorAnswer>>);

impl AnchorWatch {
    /// A watch for anchoring at `contract` on chain `chain_id` every `interval`, with nothing
    /// anchored yet.
    pub fn new(contract: alloy::primitives::Address, chain_id: u64, interval: Duration) -> Self {
        Self(Arc::new(RwLock::new(AnchorAnswer {
            contract: contract.to_checksum(None),
            chain_id,
            interval_secs: interval.as_secs(),
            latest: None,
            last_error: None,
            checked_ms: None,
        })))
    }

    /// The watch of `anchorer`'s contract and chain.
    pub fn for_anchorer(anchorer: &Anchorer, interval: Duration) -> Self {
        Self::new(anchorer.contract(), anchorer.chain_id(), interval)
    }

    /// What `GET /anchor` answers now.
    pub fn get(&self) -> AnchorAnswer {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the latest anchor on chain (a newer one than recorded, or the first seen).
    pub fn anchored(&self, a: &cairn_anchor::Anchor, gas_used: Option<u64>) {
        let mut w = self.0.write().unwrap_or_else(|e| e.into_inner());
        if w.latest.as_ref().is_some_and(|l| l.size > a.size) {
            return;
        }
        w.latest = Some(LatestAnchor {
            size: a.size,
            root: hex::encode(a.root),
            block_number: a.block_number,
            tx_hash: a.tx_hash.to_string(),
            gas_used,
        });
        w.last_error = None;
        w.checked_ms = Some(now_ms());
    }

    /// Records a failed attempt (the latest anchor stays).
    pub fn failed(&self, error: &str) {
        let mut w = self.0.write().unwrap_or_else(|e| e.into_inner());
        w.last_error = Some(error.to_owned());
        w.checked_ms = Some(now_ms());
    }

    /// Records an attempt that found nothing new to anchor.
    fn checked(&self) {
        let mut w = self.0.write().unwrap_or_else(|e| e.into_inner());
        w.last_error = None;
        w.checked_ms = Some(now_ms());
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

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

/// Anchors the log's latest checkpoint every `interval` while the log grows, recording each
/// outcome in `watch` (which starts from the latest anchor already on chain, so a restarted
/// log shows it at once).
pub async fn anchor_loop(
    log: cairn_log::Log,
    anchorer: Anchorer,
    interval: Duration,
    watch: AnchorWatch,
) {
    let key = log.signer().verifier();
    let mut known = false;
    loop {
        if !known {
            match anchorer.latest().await {
                Ok(Some(a)) => {
                    watch.anchored(&a, None);
                    known = true;
                }
                Ok(None) => known = true,
                Err(e) => watch.failed(&format!("reading the latest anchor: {e}")),
            }
        }
        tokio::time::sleep(interval).await;
        match anchor_once(&anchorer, &log.checkpoint(), &key).await {
            Ok(AnchorStatus::Anchored(a)) => {
                tracing::info!(size = a.anchor.size, gas = a.gas_used, tx = %a.anchor.tx_hash, "checkpoint anchored");
                watch.anchored(&a.anchor, Some(a.gas_used));
            }
            Ok(AnchorStatus::UpToDate { .. }) => watch.checked(),
            Err(e) => {
                tracing::warn!(error = %e, "anchoring failed; will retry");
                watch.failed(&e);
            }
        }
    }
}
