//! Refereed bisection disputes, off chain: the challenger's trace after a failed audit, the
//! sides' answers to each round, and the referee that recomputes the one disputed segment.
//!
//! ```text
//!  audit finds segment s wrong ─▶ challenger trace = provider's leaves with leaf s+1 recomputed
//!      ─▶ openDispute(bond, root, disputed index s+1) ─▶ rounds: answer_round (both sides)
//!      ─▶ BisectionDone (lo, lo+1) ─▶ operator assigns a staked referee
//!      ─▶ referee_pass: fetch checkpoint lo (checked against the agreed leaf), recompute lo→lo+1
//!         with cairn-ml, rule which side's leaf at lo+1 is the recomputed one
//! ```
//!
//! A verifier that re-executed segment `s` and got a different checkpoint `s + 1` knows the
//! provider's leaves `0..=s` and its own leaf at `s + 1`; its trace copies the provider's other
//! leaves, so the bisection over `0..=s+1` moves `lo` up to `s` in ⌈log2(s + 1)⌉ rounds after
//! the first, and the referee recomputes exactly the segment the audit found wrong.
use cairn_compute::TrainSpec;
use cairn_escrow::{Dispute, DisputePhase, Escrow, EventKind, JobId, MarketEvent, Tx, Verdict};
use cairn_ml::{
    audit::{SegmentCheck, recompute_segment},
    data::Samples,
};
use cairn_tlog::{Hash, MemoryTree, inclusion_proof};

use alloy::primitives::{Address, B256};

/// The challenger's trace after an audit found segment `segment` (checkpoint `segment` to
/// `segment + 1`) wrong: the provider's leaves with leaf `segment + 1` replaced by the
/// recomputed one. Returns the leaves and the index to name as disputed.
pub fn challenger_trace(
    provider_leaves: &[Hash],
    segment: usize,
    recomputed: Hash,
) -> (Vec<Hash>, u32) {
    let mut leaves = provider_leaves.to_vec();
    if let Some(l) = leaves.get_mut(segment + 1) {
        *l = recomputed;
    }
    (leaves, (segment + 1) as u32)
}

/// The RFC 6962 root over `leaves`.
pub fn root(leaves: &[Hash]) -> B256 {
    B256::from(MemoryTree::from_leaves(leaves.iter().copied()).root())
}

/// Reveals the signer's leaf at the dispute's current probe, with its inclusion proof in
/// `leaves` (the signer's trace), unless it already revealed this round or the bisection is
/// over. `Ok(None)`: nothing to answer.
pub async fn answer_round(
    escrow: &Escrow,
    id: JobId,
    provider: bool,
    leaves: &[Hash],
) -> cairn_escrow::Result<Option<Tx>> {
    let Some(d) = escrow.dispute(id).await? else {
        return Ok(None);
    };
    let done = if provider {
        d.provider_revealed
    } else {
        d.challenger_revealed
    };
    if d.phase != DisputePhase::Bisecting || done {
        return Ok(None);
    }
    let i = d.probe as usize;
    let Some(leaf) = leaves.get(i) else {
        return Ok(None);
    };
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    let proof = inclusion_proof(&tree, i as u64, leaves.len() as u64)
        .expect("index checked against the leaves")
        .into_iter()
        .map(B256::from)
        .collect::<Vec<_>>();
    escrow.reveal(id, B256::from(*leaf), &proof).await.map(Some)
}

/// Which side's leaf at `hi` is the recomputed one.
pub fn verdict(d: &Dispute, recomputed: &Hash) -> Verdict {
    if d.provider_hi_leaf.0 == *recomputed {
        Verdict::ProviderRight
    } else if d.challenger_hi_leaf.0 == *recomputed {
        Verdict::ChallengerRight
    } else {
        Verdict::NeitherRight
    }
}

/// What a referee needs to recompute a dispute's segment: the job's spec and dataset and,
/// for `lo > 0`, the agreed checkpoint's bytes (from the node's store or either side).
pub struct SegmentInputs {
    /// The job's `[train]` spec.
    pub spec: TrainSpec,
    /// Its dataset.
    pub data: Samples,
    /// Checkpoint `lo`'s bytes (`None` for lo = 0: the referee builds the initial state).
    pub lo_checkpoint: Option<Vec<u8>>,
}

/// A referee's ruling on one dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruling {
    /// The job.
    pub job_id: JobId,
    /// The segment's first checkpoint.
    pub lo: u32,
    /// What the recomputation gave.
    pub check: SegmentCheck,
    /// The verdict sent.
    pub verdict: Verdict,
    /// The transaction.
    pub tx: Tx,
}

/// Why a referee could not rule on a dispute.
#[derive(Debug, thiserror::Error)]
pub enum RefereeError {
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] cairn_escrow::Error),
    /// The segment's inputs could not be had or did not check out.
    #[error("job {job}: {detail}")]
    Inputs {
        /// The job.
        job: JobId,
        /// Why.
        detail: String,
    },
}

/// What one referee pass did.
#[derive(Debug, Default)]
pub struct RefereePass {
    /// The disputes ruled.
    pub rulings: Vec<Ruling>,
    /// The disputes it could not rule on this time (their inputs could not be had or did not
    /// check out); the next pass tries again while the ruling window lasts.
    pub refused: Vec<RefereeError>,
}

/// One pass of the referee loop for the signer `me`: every dispute assigned to it (by
/// `RefereeAssigned` events from `from_block` on) that still waits for its ruling is
/// recomputed — only the segment lo → lo + 1, with `cairn-ml` on `threads` threads — and
/// ruled. `inputs` fetches a dispute's spec, data and agreed checkpoint. A chain error stops
/// the pass; a dispute whose inputs fail is listed in [`RefereePass::refused`] and the others
/// are still ruled.
pub async fn referee_pass(
    escrow: &Escrow,
    me: Address,
    from_block: u64,
    threads: usize,
    mut inputs: impl FnMut(&Dispute) -> Result<SegmentInputs, String>,
) -> Result<RefereePass, RefereeError> {
    let mut out = RefereePass::default();
    let assigned = escrow
        .events_of(&[EventKind::RefereeAssigned], from_block, None)
        .await?;
    let now = escrow.chain_time().await?;
    for l in assigned {
        let MarketEvent::RefereeAssigned {
            job_id, referee, ..
        } = l.event
        else {
            continue;
        };
        if referee != me {
            continue;
        }
        let Some(d) = escrow.dispute(job_id).await? else {
            continue;
        };
        if d.phase != DisputePhase::AwaitingReferee || d.referee != Some(me) || now > d.deadline {
            continue;
        }
        let bad = |detail: String| RefereeError::Inputs {
            job: job_id,
            detail,
        };
        let i = match inputs(&d) {
            Ok(i) => i,
            Err(e) => {
                out.refused.push(bad(e));
                continue;
            }
        };
        if d.size_contested {
            // The question is only whether the stated size is the spec's.
            let right = i.spec.checkpoint_steps().len() == d.size as usize;
            let v = if right {
                Verdict::ChallengerRight
            } else {
                Verdict::ProviderRight
            };
            let tx = escrow.rule(job_id, v).await?;
            out.rulings.push(Ruling {
                job_id,
                lo: d.lo,
                check: SegmentCheck {
                    leaf: [0; 32],
                    steps_replayed: 0,
                },
                verdict: v,
                tx,
            });
            continue;
        }
        let check = match recompute_segment(
            &i.spec,
            &i.data,
            d.lo as usize,
            &d.lo_leaf.0,
            i.lo_checkpoint.as_deref(),
            threads,
        ) {
            Ok(c) => c,
            Err(e) => {
                out.refused.push(bad(e.to_string()));
                continue;
            }
        };
        let v = verdict(&d, &check.leaf);
        let tx = escrow.rule(job_id, v).await?;
        out.rulings.push(Ruling {
            job_id,
            lo: d.lo,
            check,
            verdict: v,
            tx,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenger_trace_differs_from_the_providers_only_at_the_disputed_checkpoint() {
        let leaves: Vec<Hash> = (0..9u8).map(|i| [i; 32]).collect();
        let (mine, at) = challenger_trace(&leaves, 4, [0xff; 32]);
        assert_eq!(at, 5);
        for (i, (a, b)) in leaves.iter().zip(&mine).enumerate() {
            assert_eq!(a == b, i != 5, "leaf {i}");
        }
        assert_ne!(root(&mine), root(&leaves));
    }
}
