//! Turns a revert into a name and a sentence. The contract's custom errors carry the job id,
//! the offending account or the time that matters; the sentence says what to do about it.
//! Reverts from the token (an allowance or balance too small) bubble up through SafeERC20 and
//! are decoded too, since they are the most common mistake of a new requester or provider.
use crate::types::state_name;
use alloy::primitives::U256;
use cairn_contracts::{ComputeMarket::ComputeMarketErrors as M, TestToken::TestTokenErrors as T};

/// `(custom error name, explanation)` for a failed call, or `None` when the revert data is
/// missing or foreign.
pub(crate) fn decode(e: &alloy::contract::Error) -> Option<(&'static str, String)> {
    if let Some(m) = e.as_decoded_interface_error::<M>() {
        return Some(market(m));
    }
    e.as_decoded_interface_error::<T>().and_then(token)
}

fn id(v: U256) -> String {
    v.to_string()
}

fn market(e: M) -> (&'static str, String) {
    match e {
        M::ZeroAddress(_) => ("ZeroAddress", "an address argument is zero".into()),
        M::InvalidFee(x) => (
            "InvalidFee",
            format!("fee {} bps is above 10000 (100%)", x.feeBps),
        ),
        M::InvalidDelay(x) => (
            "InvalidDelay",
            format!("delay {} s does not fit in 32 bits", x.delay),
        ),
        M::ZeroAmount(_) => ("ZeroAmount", "the amount must be positive".into()),
        M::AmountTooLarge(x) => (
            "AmountTooLarge",
            format!("amount {} does not fit in 96 bits", x.amount),
        ),
        M::EmptyBatch(_) => ("EmptyBatch", "the batch is empty".into()),
        M::LengthMismatch(x) => (
            "LengthMismatch",
            format!("batch arrays differ: {} vs {}", x.expected, x.actual),
        ),
        M::NotOperator(x) => (
            "NotOperator",
            format!("{} is not the market operator", x.caller),
        ),
        M::NotArbiter(x) => (
            "NotArbiter",
            format!("{} is neither the arbiter nor the operator", x.caller),
        ),
        M::AlreadyRegistered(x) => (
            "AlreadyRegistered",
            format!(
                "provider {} is already registered; use addStake",
                x.provider
            ),
        ),
        M::NotRegistered(x) => (
            "NotRegistered",
            format!(
                "{} is not a registered provider; call registerProvider first",
                x.provider
            ),
        ),
        M::StakeBelowMinimum(x) => (
            "StakeBelowMinimum",
            format!(
                "stake {} is below the market's minimum {}",
                x.stake, x.minStake
            ),
        ),
        M::InsufficientStake(x) => (
            "InsufficientStake",
            format!(
                "provider {} has {} bonded, less than the {} requested",
                x.provider, x.available, x.requested
            ),
        ),
        M::NothingToWithdraw(x) => (
            "NothingToWithdraw",
            format!(
                "provider {} has nothing unbonding; call requestUnstake first",
                x.provider
            ),
        ),
        M::StillUnbonding(x) => (
            "StillUnbonding",
            format!(
                "provider {}'s stake unlocks at {} (chain time now {}); wait {} s",
                x.provider,
                x.unlockAt,
                x.now,
                x.unlockAt.saturating_sub(x.now)
            ),
        ),
        M::InvalidTimes(x) => (
            "InvalidTimes",
            format!(
                "acceptBy {} and deadline {} must satisfy now ({}) < acceptBy < deadline (chain time, unix seconds)",
                x.acceptBy, x.deadline, x.now
            ),
        ),
        M::UnknownJob(x) => ("UnknownJob", format!("no job {}", id(x.jobId))),
        M::WrongState(x) => (
            "WrongState",
            format!("job {} is {}", id(x.jobId), state_name(x.state)),
        ),
        M::NotRequester(x) => (
            "NotRequester",
            format!(
                "{} did not post job {}; only its requester may",
                x.caller,
                id(x.jobId)
            ),
        ),
        M::NotRequesterOrOperator(x) => (
            "NotRequesterOrOperator",
            format!(
                "{} is neither job {}'s requester nor the operator",
                x.caller,
                id(x.jobId)
            ),
        ),
        M::NotAssignedProvider(x) => (
            "NotAssignedProvider",
            format!(
                "{} is not the provider assigned to job {}",
                x.caller,
                id(x.jobId)
            ),
        ),
        M::ProviderNotEligible(x) => (
            "ProviderNotEligible",
            format!(
                "provider {} is not registered with at least the minimum stake",
                x.provider
            ),
        ),
        M::SameProvider(x) => (
            "SameProvider",
            format!("job {} is already assigned to {}", id(x.jobId), x.provider),
        ),
        M::AcceptWindowClosed(x) => (
            "AcceptWindowClosed",
            format!(
                "job {} had to be assigned by {}; refund it",
                id(x.jobId),
                x.acceptBy
            ),
        ),
        M::DeadlinePassed(x) => (
            "DeadlinePassed",
            format!("job {}'s deadline {} has passed", id(x.jobId), x.deadline),
        ),
        M::ChallengeWindowClosed(x) => (
            "ChallengeWindowClosed",
            format!(
                "job {}'s challenge window ended at {}",
                id(x.jobId),
                x.endsAt
            ),
        ),
        M::ChargeTooHigh(x) => (
            "ChargeTooHigh",
            format!(
                "job {}: a charge of {} is more than its payment {}",
                id(x.jobId),
                x.charge,
                x.payment
            ),
        ),
        M::ChallengeWindowOpen(x) => (
            "ChallengeWindowOpen",
            format!(
                "job {} can be settled from {} on (challenge window)",
                id(x.jobId),
                x.endsAt
            ),
        ),
        M::NotExpired(x) => (
            "NotExpired",
            format!(
                "job {} has not expired; anyone may refund it after {}, the operator at any time",
                id(x.jobId),
                x.expiresAt
            ),
        ),
        M::NotRefundable(x) => (
            "NotRefundable",
            format!(
                "job {} is {} and cannot be refunded",
                id(x.jobId),
                state_name(x.state)
            ),
        ),
        M::InvalidDisputeRules(_) => (
            "InvalidDisputeRules",
            "the referee fee must not exceed the bond or the slash, and the window must be positive".into(),
        ),
        M::NotAllowedToDispute(x) => (
            "NotAllowedToDispute",
            format!(
                "{} may not dispute job {}: only its requester, the operator or another eligible provider may",
                x.caller,
                id(x.jobId)
            ),
        ),
        M::ResultMismatch(x) => (
            "ResultMismatch",
            format!(
                "the spec, output and trace root given are not the ones job {} committed; read them from its ResultCommitted event",
                id(x.jobId)
            ),
        ),
        M::InvalidTraceSize(x) => (
            "InvalidTraceSize",
            format!(
                "a trace of {} checkpoints cannot dispute checkpoint {}: the size must be at least 2 and the index in 1..size",
                x.size, x.disputedIndex
            ),
        ),
        M::WrongPhase(x) => (
            "WrongPhase",
            format!(
                "job {}'s dispute is {}",
                id(x.jobId),
                match x.phase {
                    0 => "not open",
                    1 => "bisecting",
                    2 => "waiting for a referee",
                    3 => "resolved",
                    _ => "in an unknown phase",
                }
            ),
        ),
        M::NotDisputant(x) => (
            "NotDisputant",
            format!(
                "{} is neither job {}'s provider nor its challenger",
                x.caller,
                id(x.jobId)
            ),
        ),
        M::AlreadyRevealed(x) => (
            "AlreadyRevealed",
            format!(
                "{} already revealed its leaf at {} in job {}'s dispute this round",
                x.caller,
                x.index,
                id(x.jobId)
            ),
        ),
        M::InvalidProof(x) => (
            "InvalidProof",
            format!(
                "the proof does not show leaf {} at index {} under the committed trace root of job {}'s dispute",
                x.leaf,
                x.index,
                id(x.jobId)
            ),
        ),
        M::RoundClosed(x) => (
            "RoundClosed",
            format!(
                "job {}'s dispute deadline {} has passed; call resolveTimeout",
                id(x.jobId),
                x.deadline
            ),
        ),
        M::RoundOpen(x) => (
            "RoundOpen",
            format!(
                "job {}'s dispute runs until {}; wait for it",
                id(x.jobId),
                x.deadline
            ),
        ),
        M::NotReferee(x) => (
            "NotReferee",
            format!(
                "{} is not the referee assigned to job {}'s dispute",
                x.caller,
                id(x.jobId)
            ),
        ),
        M::RefereeNotEligible(x) => (
            "RefereeNotEligible",
            format!(
                "{} is not a referee with the minimum stake, or is a party to the dispute",
                x.referee
            ),
        ),
        M::RefereeStillInTime(x) => (
            "RefereeStillInTime",
            format!(
                "job {}'s referee may rule until {}; replace it only after",
                id(x.jobId),
                x.deadline
            ),
        ),
        M::InvalidVerdict(x) => (
            "InvalidVerdict",
            format!(
                "verdict {} is not allowed in job {}'s dispute",
                x.verdict,
                id(x.jobId)
            ),
        ),
        M::RefereeBusy(x) => (
            "RefereeBusy",
            format!(
                "referee {} has {} dispute(s) to rule before it may leave",
                x.referee, x.open
            ),
        ),
        M::NotARegisteredReferee(x) => (
            "NotARegisteredReferee",
            format!("{} is not a registered referee", x.caller),
        ),
        M::ReentrancyGuardReentrantCall(_) => (
            "ReentrancyGuardReentrantCall",
            "reentrant call refused".into(),
        ),
        M::SafeERC20FailedOperation(x) => (
            "SafeERC20FailedOperation",
            format!("token {} refused a transfer", x.token),
        ),
    }
}

fn token(e: T) -> Option<(&'static str, String)> {
    Some(match e {
        T::ERC20InsufficientAllowance(x) => (
            "ERC20InsufficientAllowance",
            format!(
                "the market may spend {} of the token but needs {}; approve it first",
                x.allowance, x.needed
            ),
        ),
        T::ERC20InsufficientBalance(x) => (
            "ERC20InsufficientBalance",
            format!(
                "{} holds {} of the token but {} is needed",
                x.sender, x.balance, x.needed
            ),
        ),
        _ => return None,
    })
}
