//! Plain Rust views of the contract's state: jobs, provider bonds, the market's parameters, and
//! what a sent transaction cost. Amounts stay `U256` base units of the market's token; times
//! are unix seconds of the chain's clock (block timestamps), which is not the local clock.
use alloy::primitives::{Address, B256, U256, keccak256};
use serde::Serialize;
use std::{fmt, ops::Range};

/// A job's id in the contract. Ids start at 1 and grow by one per posted job.
pub type JobId = u64;

/// Where a job is in its life (the contract's `JobState` without `None`: a job id that was
/// never posted reads as `Option::None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Posted, payment escrowed, waiting for the operator to assign it.
    Open,
    /// Assigned to a provider, waiting for its result.
    Assigned,
    /// The provider committed a result; the challenge window runs.
    Committed,
    /// A committed result was challenged; the arbiter decides.
    Challenged,
    /// The provider was paid (final).
    Settled,
    /// The requester got the payment back (final).
    Refunded,
    /// The requester cancelled before assignment (final).
    Cancelled,
    /// A refereed bisection dispute over the committed result runs.
    Disputed,
}

impl JobState {
    /// The state for the contract's `uint8` value; `None` for 0 (never posted) and unknown
    /// values.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Open,
            2 => Self::Assigned,
            3 => Self::Committed,
            4 => Self::Challenged,
            5 => Self::Settled,
            6 => Self::Refunded,
            7 => Self::Cancelled,
            8 => Self::Disputed,
            _ => return None,
        })
    }

    /// The contract's `uint8` value.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Open => 1,
            Self::Assigned => 2,
            Self::Committed => 3,
            Self::Challenged => 4,
            Self::Settled => 5,
            Self::Refunded => 6,
            Self::Cancelled => 7,
            Self::Disputed => 8,
        }
    }

    /// Whether no further transition is possible (the escrow has been paid out).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Settled | Self::Refunded | Self::Cancelled)
    }

    /// The name used in the contract and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Assigned => "assigned",
            Self::Committed => "committed",
            Self::Challenged => "challenged",
            Self::Settled => "settled",
            Self::Refunded => "refunded",
            Self::Cancelled => "cancelled",
            Self::Disputed => "disputed",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names a raw state value as it appears in a revert (`WrongState(id, 3)` → "committed").
pub(crate) fn state_name(v: u8) -> String {
    match (v, JobState::from_u8(v)) {
        (_, Some(s)) => s.as_str().to_owned(),
        (0, None) => "unknown".to_owned(),
        (v, None) => format!("state {v}"),
    }
}

/// A job as stored on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// The id.
    pub id: JobId,
    /// Who posted and paid.
    pub requester: Address,
    /// Escrowed payment in token base units.
    pub payment: U256,
    /// The assigned provider (`None` while open, or if it was never assigned).
    pub provider: Option<Address>,
    /// Current state.
    pub state: JobState,
    /// The result must be committed by then.
    pub deadline: u64,
    /// The contract's `expiry` field: acceptBy while open, the challenge window's end once a
    /// result is committed, stale otherwise. Prefer [`Job::accept_by`] and
    /// [`Job::challenge_ends`].
    pub expiry: u64,
    /// The spec digest until a result is committed, then
    /// [`result_commitment`]`(spec, output, trace)`.
    pub digest: B256,
}

impl Job {
    /// The time by which an open job must be assigned.
    pub fn accept_by(&self) -> Option<u64> {
        (self.state == JobState::Open).then_some(self.expiry)
    }

    /// The end of the challenge window of a committed (or challenged) job.
    pub fn challenge_ends(&self) -> Option<u64> {
        matches!(self.state, JobState::Committed | JobState::Challenged).then_some(self.expiry)
    }

    /// The spec digest, while the contract still holds it (before a result is committed).
    pub fn spec_digest(&self) -> Option<B256> {
        matches!(self.state, JobState::Open | JobState::Assigned).then_some(self.digest)
    }

    /// Whether anyone may settle this job at chain time `now`.
    pub fn settleable_at(&self, now: u64) -> bool {
        self.state == JobState::Committed && now >= self.expiry
    }

    /// Whether anyone (not only the operator) may refund this job at chain time `now`.
    pub fn expired_at(&self, now: u64) -> bool {
        match self.state {
            JobState::Open => now > self.expiry,
            JobState::Assigned => now > self.deadline,
            _ => false,
        }
    }
}

/// A provider's bond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    /// Bonded stake (slashable; counts towards eligibility).
    pub stake: U256,
    /// Stake on its way out (still slashable until withdrawn).
    pub unbonding: U256,
    /// When `unbonding` can be withdrawn (0 if never requested).
    pub unlock_at: u64,
    /// Registered and not fully unstaked.
    pub active: bool,
}

/// The market's parameters and roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MarketConfig {
    /// The ERC-20 for payments and stake.
    pub token: Address,
    /// The node's account: assigns, reassigns, refunds failed jobs, challenges.
    pub operator: Address,
    /// Resolves challenges and slashes besides the operator (`None`: operator alone).
    pub arbiter: Option<Address>,
    /// Receives fees.
    pub treasury: Address,
    /// Seconds between requestUnstake and withdrawStake.
    pub unbonding_delay: u64,
    /// Seconds a committed result can be challenged.
    pub challenge_window: u64,
    /// Fee on settled payments in basis points.
    pub fee_bps: u16,
    /// Stake needed to be assigned jobs.
    pub min_stake: U256,
}

impl MarketConfig {
    /// The fee the contract takes from `payment` (rounded down) and what the provider gets.
    pub fn split(&self, payment: U256) -> (U256, U256) {
        let fee = payment * U256::from(self.fee_bps) / U256::from(10_000u64);
        (payment - fee, fee)
    }
}

/// A mined transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tx {
    /// Its hash.
    pub tx_hash: B256,
    /// The block it was mined in.
    pub block_number: u64,
    /// Gas it used.
    pub gas_used: u64,
}

/// Jobs posted by one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posted {
    /// Their ids (consecutive).
    pub ids: Range<JobId>,
    /// The transaction.
    pub tx: Tx,
}

impl Posted {
    /// The first (for a single post: the only) job id.
    pub fn first(&self) -> JobId {
        self.ids.start
    }
}

/// What a committed job's `digest` becomes: `keccak256(abi.encode(spec, output, trace))`, the
/// contract's `resultCommitment`. Three 32-byte words concatenated are exactly their ABI
/// encoding.
pub fn result_commitment(spec_digest: B256, output_digest: B256, trace_root: B256) -> B256 {
    let mut buf = [0u8; 96];
    buf[..32].copy_from_slice(spec_digest.as_slice());
    buf[32..64].copy_from_slice(output_digest.as_slice());
    buf[64..].copy_from_slice(trace_root.as_slice());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_zero_is_not_a_state() {
        for v in 1..=7u8 {
            let s = JobState::from_u8(v).unwrap();
            assert_eq!(s.as_u8(), v);
        }
        assert_eq!(JobState::from_u8(0), None);
        assert_eq!(JobState::from_u8(9), None);
        assert_eq!(state_name(3), "committed");
        assert_eq!(state_name(0), "unknown");
        assert_eq!(state_name(9), "state 9");
        assert!(JobState::Settled.is_final() && !JobState::Challenged.is_final());
    }

    #[test]
    fn fee_split_rounds_the_fee_down() {
        let cfg = MarketConfig {
            token: Address::ZERO,
            operator: Address::ZERO,
            arbiter: None,
            treasury: Address::ZERO,
            unbonding_delay: 0,
            challenge_window: 0,
            fee_bps: 100,
            min_stake: U256::ZERO,
        };
        assert_eq!(
            cfg.split(U256::from(1_000_000u64)),
            (U256::from(990_000u64), U256::from(10_000u64))
        );
        // 1% of 199 is 1.99: the provider gets the rounding.
        assert_eq!(
            cfg.split(U256::from(199u64)),
            (U256::from(198u64), U256::from(1u64))
        );
    }

    #[test]
    fn job_views_depend_on_state() {
        let mut job = Job {
            id: 1,
            requester: Address::ZERO,
            payment: U256::from(5u64),
            provider: None,
            state: JobState::Open,
            deadline: 200,
            expiry: 100,
            digest: B256::repeat_byte(1),
        };
        assert_eq!(job.accept_by(), Some(100));
        assert!(!job.expired_at(100) && job.expired_at(101));
        job.state = JobState::Assigned;
        assert_eq!((job.accept_by(), job.challenge_ends()), (None, None));
        assert!(!job.expired_at(200) && job.expired_at(201));
        job.state = JobState::Committed;
        job.expiry = 300;
        assert_eq!(job.challenge_ends(), Some(300));
        assert_eq!(job.spec_digest(), None);
        assert!(!job.settleable_at(299) && job.settleable_at(300));
    }
}
