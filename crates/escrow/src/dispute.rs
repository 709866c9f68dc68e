//! Refereed bisection disputes over a committed result.
//!
//! ```text
//!  challenger                 both sides, each round            operator         referee
//!  openDispute(bond, root) ─▶ Bisecting ─reveal(leaf, proof)─▶ ... ─▶ AwaitingReferee ─assignReferee─▶ rule ─▶ Resolved
//!                              │ equal leaves move lo,                    │ late: replaced (penalized)
//!                              │ different ones move hi                   └ no ruling: the result stands
//!                              └ a side that does not reveal in time loses (resolveTimeout, anyone)
//! ```
//!
//! A round costs both sides one leaf hash and an RFC 6962 inclusion proof against the trace root
//! each committed (checked on chain with the SHA-256 precompile, the same hashing as
//! `cairn-tlog`); after ⌈log2 n⌉ rounds the two traces agree at `lo` and differ at `lo + 1`,
//! and a staked referee recomputes only that segment.
use crate::{Escrow, Result, types::JobId, types::Tx};
use alloy::primitives::{Address, B256, U256};
use serde::Serialize;

/// Where a dispute is (the contract's `DisputePhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputePhase {
    /// Both sides reveal their leaf at the round's probe index.
    Bisecting,
    /// Narrowed to one segment (or the size is contested): a referee rules.
    AwaitingReferee,
    /// Paid out (final).
    Resolved,
}

impl DisputePhase {
    /// The phase for the contract's value; `None` for 0 (no dispute) and unknown values.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Bisecting,
            2 => Self::AwaitingReferee,
            3 => Self::Resolved,
            _ => return None,
        })
    }
}

/// A referee's ruling (the contract's `Verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The provider's leaf at `hi` is the recomputed one (for a contested size: the stated
    /// size is wrong).
    ProviderRight,
    /// The challenger's leaf at `hi` is the recomputed one (for a contested size: the stated
    /// size is right).
    ChallengerRight,
    /// Neither leaf at `hi` is the recomputed one.
    NeitherRight,
}

impl Verdict {
    /// The verdict for the contract's value (`None` for 0 and unknown values).
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::ProviderRight,
            2 => Self::ChallengerRight,
            3 => Self::NeitherRight,
            _ => return None,
        })
    }

    /// The contract's value.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::ProviderRight => 1,
            Self::ChallengerRight => 2,
            Self::NeitherRight => 3,
        }
    }
}

/// How a dispute ended (the contract's `Outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The provider was slashed to the challenger, the bond went back, the job was refunded.
    ProviderWrong,
    /// The bond went to the provider (less the referee's fee) and the job settled.
    ChallengerWrong,
    /// The provider was slashed and the bond forfeited, both to the treasury; job refunded.
    BothWrong,
    /// No referee ruled in time: the bond went back and the result stands (settled).
    NoRuling,
}

impl Outcome {
    /// The outcome for the contract's value (`None` for 0 and unknown values).
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::ProviderWrong,
            2 => Self::ChallengerWrong,
            3 => Self::BothWrong,
            4 => Self::NoRuling,
            _ => return None,
        })
    }

    /// The name used in JSON and in statements.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderWrong => "provider_wrong",
            Self::ChallengerWrong => "challenger_wrong",
            Self::BothWrong => "both_wrong",
            Self::NoRuling => "no_ruling",
        }
    }
}

/// The market's dispute rules (amounts in token base units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DisputeRules {
    /// What a challenger posts.
    pub bond: U256,
    /// What a provider that loses is slashed (at most its bond).
    pub slash: U256,
    /// What the referee that rules is paid, out of the loser's bond or slash.
    pub referee_fee: U256,
    /// Stake a referee needs.
    pub min_referee_stake: U256,
    /// Seconds per round, and per ruling.
    pub window: u32,
}

/// A dispute as stored on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispute {
    /// The job.
    pub job_id: JobId,
    /// Who disputes.
    pub challenger: Address,
    /// The bond posted.
    pub bond: U256,
    /// The assigned referee.
    pub referee: Option<Address>,
    /// The current round's (or ruling's) deadline, chain seconds.
    pub deadline: u64,
    /// The phase.
    pub phase: DisputePhase,
    /// The referee's verdict, once ruled.
    pub verdict: Option<Verdict>,
    /// Whether the provider revealed this round.
    pub provider_revealed: bool,
    /// Whether the challenger revealed this round.
    pub challenger_revealed: bool,
    /// The provider contested the stated size.
    pub size_contested: bool,
    /// The sides agree at this index.
    pub lo: u32,
    /// The sides differ at this index.
    pub hi: u32,
    /// The index revealed this round.
    pub probe: u32,
    /// Checkpoints in each trace.
    pub size: u32,
    /// Rounds completed.
    pub rounds: u16,
    /// The provider's committed trace root.
    pub provider_root: B256,
    /// The challenger's trace root.
    pub challenger_root: B256,
    /// The agreed leaf at `lo` (zero while lo = 0).
    pub lo_leaf: B256,
    /// The provider's leaf at `hi` (zero until revealed).
    pub provider_hi_leaf: B256,
    /// The challenger's leaf at `hi` (zero until revealed).
    pub challenger_hi_leaf: B256,
}

/// A referee's bond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RefereeInfo {
    /// Bonded stake.
    pub stake: U256,
    /// Disputes assigned and not ruled.
    pub open: u32,
    /// Registered.
    pub active: bool,
}

/// Rounds a bisection over `size` checkpoints takes at most, starting from the last one:
/// the first round at `size − 1`, then ⌈log2(size − 1)⌉ halvings.
pub fn max_rounds(size: u32) -> u32 {
    if size < 2 {
        return 0;
    }
    1 + (size - 1).next_power_of_two().trailing_zeros()
}

impl Escrow {
    /// The market's dispute rules.
    pub async fn dispute_rules(&self) -> Result<DisputeRules> {
        let m = self.market();
        Ok(DisputeRules {
            bond: U256::from(self.view("disputeBond", m.disputeBond()).await?),
            slash: U256::from(self.view("disputeSlash", m.disputeSlash()).await?),
            referee_fee: U256::from(self.view("refereeFee", m.refereeFee()).await?),
            min_referee_stake: U256::from(self.view("minRefereeStake", m.minRefereeStake()).await?),
            window: self.view("disputeWindow", m.disputeWindow()).await?,
        })
    }

    /// Operator: sets the dispute rules.
    pub async fn set_dispute_rules(&self, r: DisputeRules) -> Result<Tx> {
        let m = self.market();
        let call = m.setDisputeRules(
            r.bond,
            r.slash,
            r.referee_fee,
            r.min_referee_stake,
            r.window,
        );
        self.tx("setDisputeRules", call).await
    }

    /// The dispute on job `id` (`None`: there is none).
    pub async fn dispute(&self, id: JobId) -> Result<Option<Dispute>> {
        let d = self
            .view("getDispute", self.market().getDispute(U256::from(id)))
            .await?;
        if d.phase == 0 {
            return Ok(None);
        }
        let phase = DisputePhase::from_u8(d.phase).ok_or_else(|| {
            self.unexpected("getDispute", format!("dispute {id} has phase {}", d.phase))
        })?;
        Ok(Some(Dispute {
            job_id: id,
            challenger: d.challenger,
            bond: U256::from(d.bond),
            referee: (d.referee != Address::ZERO).then_some(d.referee),
            deadline: d.deadline.to::<u64>(),
            phase,
            verdict: Verdict::from_u8(d.verdict),
            provider_revealed: d.revealed & 1 != 0,
            challenger_revealed: d.revealed & 2 != 0,
            size_contested: d.sizeContested,
            lo: d.lo,
            hi: d.hi,
            probe: d.probe,
            size: d.size,
            rounds: d.rounds,
            provider_root: d.providerRoot,
            challenger_root: d.challengerRoot,
            lo_leaf: d.loLeaf,
            provider_hi_leaf: d.providerHiLeaf,
            challenger_hi_leaf: d.challengerHiLeaf,
        }))
    }

    /// A referee's bond (all zero if it never registered).
    pub async fn referee(&self, who: Address) -> Result<RefereeInfo> {
        let r = self.view("referees", self.market().referees(who)).await?;
        Ok(RefereeInfo {
            stake: U256::from(r.stake),
            open: r.open,
            active: r.active,
        })
    }

    /// Registers the signer as a referee bonding `stake` (needs an allowance), or adds to it.
    pub async fn register_referee(&self, stake: U256) -> Result<Tx> {
        self.tx("registerReferee", self.market().registerReferee(stake))
            .await
    }

    /// A referee with nothing to rule leaves with its stake.
    pub async fn leave_referees(&self) -> Result<Tx> {
        self.tx("leaveReferees", self.market().leaveReferees())
            .await
    }

    /// Disputes job `id`'s committed result (spec, output and provider trace root as
    /// committed) with the signer's own trace root over `size` checkpoints, naming
    /// `disputed_index` (1..size) as a checkpoint it disagrees with; posts the bond.
    #[allow(clippy::too_many_arguments)]
    pub async fn open_dispute(
        &self,
        id: JobId,
        spec: B256,
        output: B256,
        provider_root: B256,
        challenger_root: B256,
        size: u32,
        disputed_index: u32,
    ) -> Result<Tx> {
        let m = self.market();
        let call = m.openDispute(
            U256::from(id),
            spec,
            output,
            provider_root,
            challenger_root,
            size,
            disputed_index,
        );
        self.tx("openDispute", call).await
    }

    /// Reveals the signer's leaf hash at this round's probe with its inclusion proof.
    pub async fn reveal(&self, id: JobId, leaf: B256, proof: &[B256]) -> Result<Tx> {
        let m = self.market();
        let call = m.reveal(U256::from(id), leaf, proof.to_vec());
        self.tx("reveal", call).await
    }

    /// The provider contests the trace size the challenger stated.
    pub async fn contest_size(&self, id: JobId) -> Result<Tx> {
        self.tx("contestSize", self.market().contestSize(U256::from(id)))
            .await
    }

    /// Operator: assigns (or replaces a late) referee.
    pub async fn assign_referee(&self, id: JobId, referee: Address) -> Result<Tx> {
        let m = self.market();
        let call = m.assignReferee(U256::from(id), referee);
        self.tx("assignReferee", call).await
    }

    /// The assigned referee rules.
    pub async fn rule(&self, id: JobId, verdict: Verdict) -> Result<Tx> {
        let m = self.market();
        let call = m.rule(U256::from(id), verdict.as_u8());
        self.tx("rule", call).await
    }

    /// Anyone: ends a dispute whose deadline passed.
    pub async fn resolve_timeout(&self, id: JobId) -> Result<Tx> {
        let m = self.market();
        let call = m.resolveTimeout(U256::from(id));
        self.tx("resolveTimeout", call).await
    }

    /// The contract's own RFC 6962 inclusion check (a view: costs nothing).
    pub async fn verify_inclusion_on_chain(
        &self,
        leaf: B256,
        index: u64,
        size: u64,
        proof: &[B256],
        root: B256,
    ) -> Result<bool> {
        let m = self.market();
        let call = m.verifyInclusion(
            leaf,
            U256::from(index),
            U256::from(size),
            proof.to_vec(),
            root,
        );
        self.view("verifyInclusion", call).await
    }

    /// The contract's RFC 6962 leaf hash of `data`.
    pub async fn leaf_hash_on_chain(&self, data: &[u8]) -> Result<B256> {
        let m = self.market();
        let call = m.leafHash(data.to_vec().into());
        self.view("leafHash", call).await
    }

    /// Every dispute event of job `id`, in order.
    pub async fn dispute_events(&self, id: JobId) -> Result<Vec<crate::Logged>> {
        let f = alloy::rpc::types::Filter::new()
            .event_signature(
                crate::EventKind::DISPUTE
                    .iter()
                    .map(|k| k.signature_hash())
                    .collect::<Vec<_>>(),
            )
            .from_block(0u64)
            .topic1(B256::from(U256::from(id)));
        self.logs(f).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_grow_with_log2_of_the_trace() {
        assert_eq!(max_rounds(1), 0);
        assert_eq!(max_rounds(2), 1);
        assert_eq!(max_rounds(9), 4); // 8 segments: 1 + 3
        assert_eq!(max_rounds(65), 7);
        assert_eq!(max_rounds(513), 10);
        assert_eq!(max_rounds(8), 4); // 7 segments: 1 + ⌈log2 7⌉
    }

    #[test]
    fn contract_values_round_trip() {
        for v in 1..=3 {
            assert_eq!(Verdict::from_u8(v).unwrap().as_u8(), v);
            assert!(DisputePhase::from_u8(v).is_some());
        }
        assert_eq!(Verdict::from_u8(0), None);
        assert_eq!(Outcome::from_u8(4), Some(Outcome::NoRuling));
        assert_eq!(Outcome::from_u8(5), None);
    }
}
