//! The market's events, decoded, and readers over `eth_getLogs`.
//!
//! The node and the workers follow jobs through events rather than by polling every job:
//! the node watches `JobPosted` to learn of new work, a worker watches `JobAssigned` with its
//! own address (an indexed topic, so the RPC filters), and `JobSettled` sums to its earnings.
//! Job events carry the job id as their first indexed topic, so one filter gives a job's whole
//! history. Readers take a block range because public RPCs cap how many blocks one
//! `eth_getLogs` may span; followers remember the last block they read.
use crate::{
    dispute::{DisputeRules, Outcome, Verdict},
    types::JobId,
};
use alloy::{
    primitives::{Address, B256, U256},
    rpc::types::Log,
    sol_types::{SolEvent, SolEventInterface},
};
use cairn_contracts::ComputeMarket::{self as CM, ComputeMarketEvents as E};
use serde::Serialize;

/// One decoded market event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MarketEvent {
    /// A provider registered with `stake`.
    ProviderRegistered {
        /// The provider.
        provider: Address,
        /// Its stake.
        stake: U256,
    },
    /// A provider added stake.
    StakeAdded {
        /// The provider.
        provider: Address,
        /// Added.
        amount: U256,
        /// New total.
        stake: U256,
    },
    /// A provider started unbonding.
    UnstakeRequested {
        /// The provider.
        provider: Address,
        /// Amount unbonding.
        amount: U256,
        /// Withdrawable from then on.
        unlock_at: u64,
    },
    /// A provider withdrew unbonded stake.
    StakeWithdrawn {
        /// The provider.
        provider: Address,
        /// Withdrawn.
        amount: U256,
    },
    /// A job was posted.
    JobPosted {
        /// The job.
        job_id: JobId,
        /// Who pays.
        requester: Address,
        /// Digest of the job spec.
        spec_digest: B256,
        /// Escrowed payment.
        payment: U256,
        /// Must be assigned by then.
        accept_by: u64,
        /// Result due by then.
        deadline: u64,
    },
    /// The requester cancelled an open job.
    JobCancelled {
        /// The job.
        job_id: JobId,
    },
    /// A job was assigned (`previous` is `None`) or reassigned.
    JobAssigned {
        /// The job.
        job_id: JobId,
        /// The provider now responsible.
        provider: Address,
        /// The provider it was taken from, on reassignment.
        previous: Option<Address>,
    },
    /// A provider committed a result.
    ResultCommitted {
        /// The job.
        job_id: JobId,
        /// The provider.
        provider: Address,
        /// Digest of the outputs.
        output_digest: B256,
        /// Root of the execution trace.
        trace_root: B256,
        /// End of the challenge window.
        challenge_ends: u64,
        /// What the run cost; the rest of the payment went back to the requester.
        charge: U256,
    },
    /// The operator closed an assigned job that ended without a result.
    JobClosed {
        /// The job.
        job_id: JobId,
        /// The provider.
        provider: Address,
        /// Paid to the provider for the work metered.
        paid: U256,
        /// Paid to the treasury.
        fee: U256,
        /// Back to the requester.
        refunded: U256,
    },
    /// A committed result was challenged.
    JobChallenged {
        /// The job.
        job_id: JobId,
        /// The challenger.
        by: Address,
    },
    /// A job was settled.
    JobSettled {
        /// The job.
        job_id: JobId,
        /// The provider paid.
        provider: Address,
        /// Paid to the provider.
        paid: U256,
        /// Paid to the treasury.
        fee: U256,
    },
    /// A job's payment went back to the requester.
    JobRefunded {
        /// The job.
        job_id: JobId,
        /// The requester.
        requester: Address,
        /// Refunded.
        amount: U256,
    },
    /// A provider was slashed.
    ProviderSlashed {
        /// The provider.
        provider: Address,
        /// Taken.
        amount: U256,
        /// Paid to.
        beneficiary: Address,
    },
    /// The operator changed.
    OperatorChanged {
        /// The old operator (zero at deployment).
        previous: Address,
        /// The new one.
        operator: Address,
    },
    /// The arbiter changed.
    ArbiterChanged {
        /// The old arbiter.
        previous: Option<Address>,
        /// The new one.
        arbiter: Option<Address>,
    },
    /// The operator published the key its node signs job receipts with.
    ReceiptKeyChanged {
        /// The old key (zero: none).
        previous: B256,
        /// The new key.
        key: B256,
    },
    /// The operator changed the dispute rules.
    DisputeRulesChanged {
        /// The rules now in force.
        rules: DisputeRules,
    },
    /// A bisection dispute was opened on a committed result.
    DisputeOpened {
        /// The job.
        job_id: JobId,
        /// Who disputes.
        challenger: Address,
        /// The challenger's trace root.
        challenger_root: B256,
        /// Checkpoints in each trace.
        size: u32,
        /// The checkpoint the challenger named as disputed.
        disputed_index: u32,
        /// The bond posted.
        bond: U256,
    },
    /// A bisection round began.
    BisectionRound {
        /// The job.
        job_id: JobId,
        /// Rounds completed before this one.
        round: u16,
        /// The agreed index.
        lo: u32,
        /// The differing index.
        hi: u32,
        /// The index both sides reveal now.
        probe: u32,
        /// Both must reveal by then.
        deadline: u64,
    },
    /// A side revealed its leaf at `index` (its inclusion proof verified on chain).
    LeafRevealed {
        /// The job.
        job_id: JobId,
        /// The side.
        by: Address,
        /// The checkpoint index.
        index: u32,
        /// The leaf hash.
        leaf: B256,
    },
    /// The bisection narrowed to the segment `lo → lo + 1`.
    BisectionDone {
        /// The job.
        job_id: JobId,
        /// The agreed index.
        lo: u32,
        /// The agreed leaf at `lo` (zero for lo = 0: the spec's initial state).
        lo_leaf: B256,
        /// The provider's leaf at `lo + 1`.
        provider_leaf: B256,
        /// The challenger's leaf at `lo + 1`.
        challenger_leaf: B256,
    },
    /// The provider contested the trace size the challenger stated.
    SizeContested {
        /// The job.
        job_id: JobId,
        /// The provider.
        provider: Address,
        /// The size stated.
        size: u32,
    },
    /// A referee registered or added stake.
    RefereeRegistered {
        /// The referee.
        referee: Address,
        /// Its stake now.
        stake: U256,
    },
    /// A referee left with its stake.
    RefereeLeft {
        /// The referee.
        referee: Address,
        /// The stake returned.
        stake: U256,
    },
    /// The operator assigned (or replaced) a dispute's referee.
    RefereeAssigned {
        /// The job.
        job_id: JobId,
        /// The referee.
        referee: Address,
        /// The late referee it replaced.
        previous: Option<Address>,
        /// It must rule by then.
        deadline: u64,
    },
    /// A referee that did not rule in time lost part of its stake.
    RefereePenalized {
        /// The job.
        job_id: JobId,
        /// The referee.
        referee: Address,
        /// Taken (to the treasury).
        amount: U256,
    },
    /// The referee ruled.
    DisputeRuled {
        /// The job.
        job_id: JobId,
        /// The referee.
        referee: Address,
        /// The ruling.
        verdict: Verdict,
    },
    /// A dispute ended.
    DisputeResolved {
        /// The job.
        job_id: JobId,
        /// How.
        outcome: Outcome,
        /// Taken from the provider.
        slashed: U256,
        /// Paid to the referee.
        referee_paid: U256,
    },
}

impl MarketEvent {
    /// The job the event is about, for job events.
    pub fn job_id(&self) -> Option<JobId> {
        match self {
            Self::JobPosted { job_id, .. }
            | Self::JobCancelled { job_id }
            | Self::JobAssigned { job_id, .. }
            | Self::ResultCommitted { job_id, .. }
            | Self::JobChallenged { job_id, .. }
            | Self::JobSettled { job_id, .. }
            | Self::JobRefunded { job_id, .. }
            | Self::JobClosed { job_id, .. }
            | Self::DisputeOpened { job_id, .. }
            | Self::BisectionRound { job_id, .. }
            | Self::LeafRevealed { job_id, .. }
            | Self::BisectionDone { job_id, .. }
            | Self::SizeContested { job_id, .. }
            | Self::RefereeAssigned { job_id, .. }
            | Self::RefereePenalized { job_id, .. }
            | Self::DisputeRuled { job_id, .. }
            | Self::DisputeResolved { job_id, .. } => Some(*job_id),
            _ => None,
        }
    }
}

/// An event with where it was logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logged {
    /// The event.
    #[serde(flatten)]
    pub event: MarketEvent,
    /// Block number.
    pub block_number: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
}

/// Which events a reader asks for (topic 0 of the filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `ProviderRegistered`.
    ProviderRegistered,
    /// `StakeAdded`.
    StakeAdded,
    /// `UnstakeRequested`.
    UnstakeRequested,
    /// `StakeWithdrawn`.
    StakeWithdrawn,
    /// `JobPosted`.
    JobPosted,
    /// `JobCancelled`.
    JobCancelled,
    /// `JobAssigned`.
    JobAssigned,
    /// `ResultCommitted`.
    ResultCommitted,
    /// `JobChallenged`.
    JobChallenged,
    /// `JobSettled`.
    JobSettled,
    /// `JobRefunded`.
    JobRefunded,
    /// `JobClosed`.
    JobClosed,
    /// `ProviderSlashed`.
    ProviderSlashed,
    /// `OperatorChanged`.
    OperatorChanged,
    /// `ArbiterChanged`.
    ArbiterChanged,
    /// `ReceiptKeyChanged`.
    ReceiptKeyChanged,
    /// `DisputeRulesChanged`.
    DisputeRulesChanged,
    /// `DisputeOpened`.
    DisputeOpened,
    /// `BisectionRound`.
    BisectionRound,
    /// `LeafRevealed`.
    LeafRevealed,
    /// `BisectionDone`.
    BisectionDone,
    /// `SizeContested`.
    SizeContested,
    /// `RefereeRegistered`.
    RefereeRegistered,
    /// `RefereeLeft`.
    RefereeLeft,
    /// `RefereeAssigned`.
    RefereeAssigned,
    /// `RefereePenalized`.
    RefereePenalized,
    /// `DisputeRuled`.
    DisputeRuled,
    /// `DisputeResolved`.
    DisputeResolved,
}

impl EventKind {
    /// Every dispute event whose first indexed topic is a job id.
    pub const DISPUTE: [EventKind; 9] = [
        Self::DisputeOpened,
        Self::BisectionRound,
        Self::LeafRevealed,
        Self::BisectionDone,
        Self::SizeContested,
        Self::RefereeAssigned,
        Self::RefereePenalized,
        Self::DisputeRuled,
        Self::DisputeResolved,
    ];

    /// Every event whose first indexed topic is a job id.
    pub const JOB: [EventKind; 8] = [
        Self::JobPosted,
        Self::JobCancelled,
        Self::JobAssigned,
        Self::ResultCommitted,
        Self::JobChallenged,
        Self::JobSettled,
        Self::JobRefunded,
        Self::JobClosed,
    ];

    /// keccak256 of the event signature (topic 0).
    pub fn signature_hash(self) -> B256 {
        match self {
            Self::ProviderRegistered => CM::ProviderRegistered::SIGNATURE_HASH,
            Self::StakeAdded => CM::StakeAdded::SIGNATURE_HASH,
            Self::UnstakeRequested => CM::UnstakeRequested::SIGNATURE_HASH,
            Self::StakeWithdrawn => CM::StakeWithdrawn::SIGNATURE_HASH,
            Self::JobPosted => CM::JobPosted::SIGNATURE_HASH,
            Self::JobCancelled => CM::JobCancelled::SIGNATURE_HASH,
            Self::JobAssigned => CM::JobAssigned::SIGNATURE_HASH,
            Self::ResultCommitted => CM::ResultCommitted::SIGNATURE_HASH,
            Self::JobChallenged => CM::JobChallenged::SIGNATURE_HASH,
            Self::JobSettled => CM::JobSettled::SIGNATURE_HASH,
            Self::JobRefunded => CM::JobRefunded::SIGNATURE_HASH,
            Self::JobClosed => CM::JobClosed::SIGNATURE_HASH,
            Self::ProviderSlashed => CM::ProviderSlashed::SIGNATURE_HASH,
            Self::OperatorChanged => CM::OperatorChanged::SIGNATURE_HASH,
            Self::ArbiterChanged => CM::ArbiterChanged::SIGNATURE_HASH,
            Self::ReceiptKeyChanged => CM::ReceiptKeyChanged::SIGNATURE_HASH,
            Self::DisputeRulesChanged => CM::DisputeRulesChanged::SIGNATURE_HASH,
            Self::DisputeOpened => CM::DisputeOpened::SIGNATURE_HASH,
            Self::BisectionRound => CM::BisectionRound::SIGNATURE_HASH,
            Self::LeafRevealed => CM::LeafRevealed::SIGNATURE_HASH,
            Self::BisectionDone => CM::BisectionDone::SIGNATURE_HASH,
            Self::SizeContested => CM::SizeContested::SIGNATURE_HASH,
            Self::RefereeRegistered => CM::RefereeRegistered::SIGNATURE_HASH,
            Self::RefereeLeft => CM::RefereeLeft::SIGNATURE_HASH,
            Self::RefereeAssigned => CM::RefereeAssigned::SIGNATURE_HASH,
            Self::RefereePenalized => CM::RefereePenalized::SIGNATURE_HASH,
            Self::DisputeRuled => CM::DisputeRuled::SIGNATURE_HASH,
            Self::DisputeResolved => CM::DisputeResolved::SIGNATURE_HASH,
        }
    }
}

/// The topic a job id is indexed as.
pub(crate) fn job_topic(id: JobId) -> B256 {
    B256::from(U256::from(id))
}

/// The topic an address is indexed as.
pub(crate) fn address_topic(a: Address) -> B256 {
    a.into_word()
}

fn job_id(v: U256) -> Result<JobId, String> {
    u64::try_from(v).map_err(|_| format!("job id {v} does not fit in 64 bits"))
}

fn nonzero(a: Address) -> Option<Address> {
    (a != Address::ZERO).then_some(a)
}

/// Decodes one log of the market; `Err` names what did not fit.
pub(crate) fn decode(log: &Log) -> Result<Logged, String> {
    let decoded = E::decode_log(&log.inner).map_err(|e| e.to_string())?;
    let event = match decoded.data {
        E::ProviderRegistered(x) => MarketEvent::ProviderRegistered {
            provider: x.provider,
            stake: x.stake,
        },
        E::StakeAdded(x) => MarketEvent::StakeAdded {
            provider: x.provider,
            amount: x.amount,
            stake: x.stake,
        },
        E::UnstakeRequested(x) => MarketEvent::UnstakeRequested {
            provider: x.provider,
            amount: x.amount,
            unlock_at: x.unlockAt,
        },
        E::StakeWithdrawn(x) => MarketEvent::StakeWithdrawn {
            provider: x.provider,
            amount: x.amount,
        },
        E::JobPosted(x) => MarketEvent::JobPosted {
            job_id: job_id(x.jobId)?,
            requester: x.requester,
            spec_digest: x.specDigest,
            payment: x.payment,
            accept_by: x.acceptBy,
            deadline: x.deadline,
        },
        E::JobCancelled(x) => MarketEvent::JobCancelled {
            job_id: job_id(x.jobId)?,
        },
        E::JobAssigned(x) => MarketEvent::JobAssigned {
            job_id: job_id(x.jobId)?,
            provider: x.provider,
            previous: nonzero(x.previous),
        },
        E::ResultCommitted(x) => MarketEvent::ResultCommitted {
            job_id: job_id(x.jobId)?,
            provider: x.provider,
            output_digest: x.outputDigest,
            trace_root: x.traceRoot,
            challenge_ends: x.challengeEnds,
            charge: x.charge,
        },
        E::JobClosed(x) => MarketEvent::JobClosed {
            job_id: job_id(x.jobId)?,
            provider: x.provider,
            paid: x.paid,
            fee: x.fee,
            refunded: x.refunded,
        },
        E::JobChallenged(x) => MarketEvent::JobChallenged {
            job_id: job_id(x.jobId)?,
            by: x.by,
        },
        E::JobSettled(x) => MarketEvent::JobSettled {
            job_id: job_id(x.jobId)?,
            provider: x.provider,
            paid: x.paid,
            fee: x.fee,
        },
        E::JobRefunded(x) => MarketEvent::JobRefunded {
            job_id: job_id(x.jobId)?,
            requester: x.requester,
            amount: x.amount,
        },
        E::ProviderSlashed(x) => MarketEvent::ProviderSlashed {
            provider: x.provider,
            amount: x.amount,
            beneficiary: x.beneficiary,
        },
        E::OperatorChanged(x) => MarketEvent::OperatorChanged {
            previous: x.previous,
            operator: x.operator,
        },
        E::ArbiterChanged(x) => MarketEvent::ArbiterChanged {
            previous: nonzero(x.previous),
            arbiter: nonzero(x.arbiter),
        },
        E::ReceiptKeyChanged(x) => MarketEvent::ReceiptKeyChanged {
            previous: x.previous,
            key: x.key,
        },
        E::DisputeRulesChanged(x) => MarketEvent::DisputeRulesChanged {
            rules: DisputeRules {
                bond: x.bond,
                slash: x.slash,
                referee_fee: x.refereeFee,
                min_referee_stake: x.minRefereeStake,
                window: x.window,
            },
        },
        E::DisputeOpened(x) => MarketEvent::DisputeOpened {
            job_id: job_id(x.jobId)?,
            challenger: x.challenger,
            challenger_root: x.challengerRoot,
            size: x.size,
            disputed_index: x.disputedIndex,
            bond: x.bond,
        },
        E::BisectionRound(x) => MarketEvent::BisectionRound {
            job_id: job_id(x.jobId)?,
            round: x.round,
            lo: x.lo,
            hi: x.hi,
            probe: x.probe,
            deadline: x.deadline,
        },
        E::LeafRevealed(x) => MarketEvent::LeafRevealed {
            job_id: job_id(x.jobId)?,
            by: x.by,
            index: x.index,
            leaf: x.leaf,
        },
        E::BisectionDone(x) => MarketEvent::BisectionDone {
            job_id: job_id(x.jobId)?,
            lo: x.lo,
            lo_leaf: x.loLeaf,
            provider_leaf: x.providerLeaf,
            challenger_leaf: x.challengerLeaf,
        },
        E::SizeContested(x) => MarketEvent::SizeContested {
            job_id: job_id(x.jobId)?,
            provider: x.provider,
            size: x.size,
        },
        E::RefereeRegistered(x) => MarketEvent::RefereeRegistered {
            referee: x.referee,
            stake: x.stake,
        },
        E::RefereeLeft(x) => MarketEvent::RefereeLeft {
            referee: x.referee,
            stake: x.stake,
        },
        E::RefereeAssigned(x) => MarketEvent::RefereeAssigned {
            job_id: job_id(x.jobId)?,
            referee: x.referee,
            previous: nonzero(x.previous),
            deadline: x.deadline,
        },
        E::RefereePenalized(x) => MarketEvent::RefereePenalized {
            job_id: job_id(x.jobId)?,
            referee: x.referee,
            amount: x.amount,
        },
        E::DisputeRuled(x) => MarketEvent::DisputeRuled {
            job_id: job_id(x.jobId)?,
            referee: x.referee,
            verdict: Verdict::from_u8(x.verdict)
                .ok_or_else(|| format!("verdict {} is not one this client knows", x.verdict))?,
        },
        E::DisputeResolved(x) => MarketEvent::DisputeResolved {
            job_id: job_id(x.jobId)?,
            outcome: Outcome::from_u8(x.outcome)
                .ok_or_else(|| format!("outcome {} is not one this client knows", x.outcome))?,
            slashed: x.slashed,
            referee_paid: x.refereePaid,
        },
    };
    Ok(Logged {
        event,
        block_number: log.block_number.unwrap_or_default(),
        tx_hash: log.transaction_hash.unwrap_or_default(),
        log_index: log.log_index.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{LogData, address};

    #[test]
    fn job_topics_are_the_abi_word_of_the_id() {
        let t = job_topic(0x0102);
        assert_eq!(&t[..30], &[0u8; 30]);
        assert_eq!(&t[30..], &[1, 2]);
        let a = address!("00000000000000000000000000000000000000aa");
        assert_eq!(address_topic(a)[31], 0xaa);
    }

    #[test]
    fn decodes_a_job_assigned_log_and_maps_zero_previous_to_none() {
        let provider = address!("1111111111111111111111111111111111111111");
        let ev = CM::JobAssigned {
            jobId: U256::from(7u64),
            provider,
            previous: Address::ZERO,
        };
        let data: LogData = ev.encode_log_data();
        let log = Log {
            inner: alloy::primitives::Log {
                address: Address::ZERO,
                data,
            },
            block_number: Some(9),
            log_index: Some(2),
            ..Default::default()
        };
        let got = decode(&log).unwrap();
        assert_eq!(
            got.event,
            MarketEvent::JobAssigned {
                job_id: 7,
                provider,
                previous: None
            }
        );
        assert_eq!((got.block_number, got.log_index), (9, 2));
        assert_eq!(got.event.job_id(), Some(7));
    }

    #[test]
    fn refuses_a_foreign_log_and_an_oversized_job_id() {
        let foreign = Log::default();
        assert!(decode(&foreign).is_err());
        let ev = CM::JobCancelled {
            jobId: U256::from(u64::MAX) + U256::from(1u64),
        };
        let log = Log {
            inner: alloy::primitives::Log {
                address: Address::ZERO,
                data: ev.encode_log_data(),
            },
            ..Default::default()
        };
        assert!(decode(&log).unwrap_err().contains("64 bits"));
    }
}
