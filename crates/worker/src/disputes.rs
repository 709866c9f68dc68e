//! The provider's side of refereed bisection disputes: the worker keeps the leaves of every
//! trace it committed (`<dir>/disputes/<job id>.json`, beside its blob cache) until the job
//! settles, is refunded, or its dispute resolves, and answers every round opened against it
//! from that trace — the leaf at the round's probe with its RFC 6962 inclusion proof.
//!
//! ```text
//!  commit (train) ─▶ keep leaves ─▶ watch (poll the escrow) ─▶ Bisecting, not revealed ─▶ reveal
//!                                                          └▶ Settled / Refunded / Resolved ─▶ forget
//! ```
//!
//! An honest worker answers with the leaves it really computed, so against a challenger whose
//! trace is wrong the bisection ends at a segment the referee recomputes to the worker's leaf.
use cairn_escrow::{DisputePhase, Escrow, JobState};
type Hash = [u8; 32];
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the worker keeps for a committed trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptTrace {
    /// The job.
    pub job_id: u64,
    /// The committed leaves (hex), in checkpoint order.
    pub leaves: Vec<String>,
}

impl KeptTrace {
    fn leaf_hashes(&self) -> Option<Vec<Hash>> {
        self.leaves
            .iter()
            .map(|h| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h, &mut out).ok().map(|_| out)
            })
            .collect()
    }
}

/// The folder of kept traces under the worker's directory.
pub fn traces_dir(dir: &Path) -> PathBuf {
    dir.join("disputes")
}

/// Keeps the leaves of job `id`'s committed trace (from its `trace.json`).
pub(crate) fn keep(dir: &Path, id: u64, trace_json: &[u8]) -> std::io::Result<()> {
    let Ok(t) = serde_json::from_slice::<cairn_ml::trace::TraceFile>(trace_json) else {
        return Ok(());
    };
    let Ok(leaves) = t.leaf_hashes() else {
        return Ok(());
    };
    let kept = KeptTrace {
        job_id: id,
        leaves: leaves.iter().map(hex::encode).collect(),
    };
    let d = traces_dir(dir);
    std::fs::create_dir_all(&d)?;
    let tmp = d.join(format!("{id}.json.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(&kept).expect("serializable"))?;
    std::fs::rename(tmp, d.join(format!("{id}.json")))
}

/// The traces kept now.
pub fn kept(dir: &Path) -> Vec<KeptTrace> {
    let Ok(entries) = std::fs::read_dir(traces_dir(dir)) else {
        return vec![];
    };
    let mut out: Vec<KeptTrace> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by_key(|k| k.job_id);
    out
}

/// What one pass did for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Revealed the leaf at this checkpoint.
    Revealed(u32),
    /// The job is settled, refunded or its dispute resolved: the trace was dropped.
    Forgotten,
}

/// One pass: answers the open round of every dispute against a kept trace, forgets traces of
/// finished jobs. A chain error for one job does not stop the others.
pub async fn pass(dir: &Path, escrow: &Escrow) -> Vec<(u64, Answer)> {
    let mut out = vec![];
    for k in kept(dir) {
        match answer(escrow, &k).await {
            Ok(Some(Answer::Forgotten)) => {
                let _ = std::fs::remove_file(traces_dir(dir).join(format!("{}.json", k.job_id)));
                out.push((k.job_id, Answer::Forgotten));
            }
            Ok(Some(a)) => out.push((k.job_id, a)),
            Ok(None) => {}
            Err(e) => tracing::warn!(job = k.job_id, error = %e, "dispute round not answered yet"),
        }
    }
    out
}

async fn answer(escrow: &Escrow, k: &KeptTrace) -> cairn_escrow::Result<Option<Answer>> {
    let id = k.job_id;
    let Some(d) = escrow.dispute(id).await? else {
        return Ok(match escrow.job(id).await? {
            Some(j) if matches!(j.state, JobState::Settled | JobState::Refunded) => {
                Some(Answer::Forgotten)
            }
            _ => None,
        });
    };
    match d.phase {
        DisputePhase::Resolved => {
            tracing::info!(job = id, verdict = ?d.verdict, "dispute resolved");
            Ok(Some(Answer::Forgotten))
        }
        DisputePhase::AwaitingReferee => Ok(None),
        DisputePhase::Bisecting => {
            if d.provider_revealed || escrow.chain_time().await? > d.deadline {
                return Ok(None);
            }
            let Some(leaves) = k.leaf_hashes() else {
                return Ok(None);
            };
            let i = d.probe as usize;
            let (Some(leaf), Ok(proof)) = (leaves.get(i), cairn_ml::trace::proof(&leaves, i))
            else {
                return Ok(None);
            };
            let proof: Vec<_> = proof
                .into_iter()
                .map(alloy::primitives::B256::from)
                .collect();
            let tx = escrow
                .reveal(id, alloy::primitives::B256::from(*leaf), &proof)
                .await?;
            tracing::info!(job = id, round = d.rounds + 1, checkpoint = d.probe, tx = %tx.tx_hash, "answered a dispute round");
            Ok(Some(Answer::Revealed(d.probe)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_trace_round_trips_and_junk_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cps = vec![vec![1u8; 8], vec![2u8; 8], vec![3u8; 8]];
        let t = cairn_ml::trace::TraceFile::new(vec![0, 5, 10], &cps);
        keep(dir.path(), 4, &serde_json::to_vec(&t).unwrap()).unwrap();
        keep(dir.path(), 5, b"not json").unwrap();
        let k = kept(dir.path());
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].job_id, 4);
        assert_eq!(k[0].leaf_hashes().unwrap(), t.leaf_hashes().unwrap());
    }
}
