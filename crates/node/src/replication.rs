//! The node's replication of `wasm` and `infer` results (deterministic on any provider's CPU):
//! the same job run again by another provider, the committed results compared, a third run
//! breaking a tie (a BOINC-style quorum).
//!
//! ```text
//!  report (wasm/infer, committed) ─▶ policy (seed = the node's signature over the commitment, the
//!      provider's valid streak) ─▶ not checked ─▶ settles after the challenge window
//!                                ─▶ checked ─▶ todo = replicate, deadline = window end − margin
//!  replicate ─▶ another provider online (other address, runs its kind)? ─▶ the operator escrows a
//!      replica job (same spec: module, inputs, fuel limit; paid from its verification budget),
//!      never assigned to the original's provider or an earlier replica's
//!  replica committed ─▶ compare (output digest, trace root)
//!      ├─ the original has a majority (it and one replica) ─▶ original settles, streak + 1;
//!      │      a replica that disagreed ─▶ challenge, refund (to the operator), slash
//!      ├─ two replicas agree on another result ─▶ original: challenge, refund, slash to the
//!      │      requester; streak 0; the agreeing replicas settle (paid)
//!      ├─ one replica, disagreeing ─▶ a third run (excluding both providers)
//!      └─ three different results ─▶ no majority: the original is refunded, nobody slashed
//!  deadline passed, undecided ─▶ fallback: the original settles after its window, marked
//!      `unreplicated`; its provider's streak does not grow
//! ```
//!
//! **Why a replica is an ordinary market job.** Workers need no new protocol, the replica is
//! escrowed, assigned, committed and settled (or challenged and slashed) through the same
//! contract calls as any job, and its receipt goes to the log like any other. The operator is
//! its requester: a replica that lies is refunded to the operator and its slash paid to it.
//!
//! **Why the deadline is a margin before the original's challenge window closes.** A result
//! found wrong must still be challengeable; after the window anyone may settle it. The node
//! waits by its estimate of the chain's clock (never for a block), so an idle chain cannot
//! hold a result forever. If no replica result came by then — no other provider online, the
//! operator's budget empty, a replica that never finished — the original is not held past its
//! window: it settles as `unreplicated` (documented in the README), and because it was not
//! confirmed its provider's streak stays where it was, so the policy checks its next result
//! with the same probability.
use crate::{
    Error, Node, Result,
    node::now_ms,
    store::{JobRow, Todo, Tx},
};
use cairn_compute::{
    JobState, StopReason,
    api::{ReplicaView, ReplicationView, RunOutcome},
    fmt_usdt,
};
use std::time::{Duration, Instant};

/// Replica results a quorum can use: one to confirm, a second to break a tie.
pub(crate) const MAX_REPLICAS: usize = 2;

/// Replica jobs escrowed per result at most (replicas that ended without a result included).
const MAX_POSTED: usize = 4;

/// How long the operator waits before trying again to escrow a replica the chain refused.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Chain seconds before the original's challenge window closes when the node stops waiting for
/// replicas (at most half the window).
pub(crate) const MARGIN_SECS: u64 = 15;

/// When the node stops waiting for replicas of a result whose window closes at
/// `challenge_ends`.
pub(crate) fn deadline(challenge_ends: u64, window: u64) -> u64 {
    challenge_ends.saturating_sub(MARGIN_SECS.min(window / 2))
}

/// What the quorum says so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No result has two votes yet.
    Open,
    /// The original and at least one replica agree; the replicas at these indices do not.
    Agreed { odd: Vec<usize> },
    /// At least two replicas agree on another result; the replicas at these indices agree
    /// with neither.
    OriginalWrong { odd: Vec<usize> },
}

/// The quorum of the original result and the replicas' (`None`: not committed yet). A result
/// is its output digest and trace root together.
pub(crate) fn quorum(original: &str, replicas: &[Option<&str>]) -> Verdict {
    let done: Vec<(usize, &str)> = replicas
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .collect();
    if done.iter().any(|&(_, r)| r == original) {
        return Verdict::Agreed {
            odd: done
                .iter()
                .filter(|&&(_, r)| r != original)
                .map(|&(i, _)| i)
                .collect(),
        };
    }
    for &(_, r) in &done {
        if done.iter().filter(|&&(_, o)| o == r).count() >= 2 {
            return Verdict::OriginalWrong {
                odd: done
                    .iter()
                    .filter(|&&(_, o)| o != r)
                    .map(|&(i, _)| i)
                    .collect(),
            };
        }
    }
    Verdict::Open
}

/// Runs due replication steps until the node stops.
pub(crate) async fn run(node: Node) {
    crate::node::drive(
        node,
        "replication",
        |n| async move { pass(&n).await },
        |_| false,
    )
    .await
}

/// One step for every result waiting for replicas; returns how many changed.
pub(crate) async fn pass(node: &Node) -> Result<usize> {
    let due = node.store().read().jobs_todo(Todo::Replicate, 256)?;
    let mut changed = 0;
    for j in due.iter().filter(|j| j.replica_of.is_none()) {
        match step(node, j).await {
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(job = j.id, error = %e, "replication step failed; retrying"),
        }
    }
    retries(node).retain(|id, _| due.iter().any(|j| j.id == *id));
    for r in due.iter().filter(|j| j.replica_of.is_some()) {
        if release(node, r)? {
            changed += 1;
        }
    }
    if changed > 0 {
        node.shared.chain_wake.notify_one();
    }
    Ok(changed)
}

/// The compared value of a committed result.
fn result_key(j: &JobRow) -> Option<String> {
    j.result
        .as_ref()
        .filter(|r| r.outcome == RunOutcome::Succeeded)
        .map(|r| format!("{}/{}", r.output_digest, r.trace_root))
}

/// The slash for a result the quorum found wrong: the audit's (`slash_bps` of the minimum
/// stake).
fn slash_amount(node: &Node) -> u64 {
    let min_stake: u64 = node.shared.market.min_stake.saturating_to();
    (u128::from(min_stake) * u128::from(node.shared.config.slash_bps) / 10_000)
        .clamp(1, u128::from(u64::MAX)) as u64
}

/// Refreshes the replicas of `j` from their rows, then decides, waits, escrows another
/// replica, or falls back. Returns whether anything changed.
async fn step(node: &Node, j: &JobRow) -> Result<bool> {
    let Some(mut rep) = j.replication.clone() else {
        return Ok(false);
    };
    let Some(original) = result_key(j) else {
        return Ok(false);
    };
    // What the replicas committed so far.
    {
        let store = node.store();
        let read = store.read();
        for r in rep.replicas.iter_mut() {
            let Some(row) = read.job(r.job)? else {
                r.gone = true;
                continue;
            };
            r.provider = row.provider.clone().or(r.provider.take());
            if let Some(key) = result_key(&row) {
                let res = row.result.as_ref().expect("a result");
                r.output_digest = Some(res.output_digest.clone());
                r.trace_root = Some(res.trace_root.clone());
                r.agrees = Some(key == original);
            } else if row.state.is_terminal() {
                r.gone = true;
            }
        }
    }
    let keys: Vec<Option<String>> = rep
        .replicas
        .iter()
        .map(|r| match (&r.output_digest, &r.trace_root) {
            (Some(o), Some(t)) => Some(format!("{o}/{t}")),
            _ => None,
        })
        .collect();
    let refs: Vec<Option<&str>> = keys.iter().map(|k| k.as_deref()).collect();
    let verdict = quorum(&original, &refs);
    let chain_now = node.chain_now();
    match verdict {
        Verdict::Agreed { odd } => decide(node, j.id, rep, true, &odd).map(|_| true),
        Verdict::OriginalWrong { odd } => decide(node, j.id, rep, false, &odd).map(|_| true),
        Verdict::Open => {
            let pending = rep
                .replicas
                .iter()
                .filter(|r| !r.gone && r.output_digest.is_none())
                .count();
            let committed = keys.iter().flatten().count();
            if chain_now >= rep.deadline {
                return fall_back(node, j.id, rep, committed).map(|_| true);
            }
            if committed >= MAX_REPLICAS {
                // Three different results: nobody has a majority.
                return no_majority(node, j.id, rep).map(|_| true);
            }
            if pending > 0 || rep.replicas.len() >= MAX_POSTED {
                return persist_if_changed(node, j, rep);
            }
            escrow_replica(node, j, rep, chain_now).await
        }
    }
}

/// The operator's next tries at escrowing replicas the chain refused, by job.
fn retries(node: &Node) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, Instant>> {
    node.shared
        .replica_retry
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Saves refreshed replica views (providers assigned, replicas gone) when they changed.
fn persist_if_changed(node: &Node, j: &JobRow, rep: ReplicationView) -> Result<bool> {
    if j.replication.as_ref() == Some(&rep) {
        return Ok(false);
    }
    node.store().tx(|t| {
        let Some(mut row) = t.job(j.id)? else {
            return Ok(());
        };
        row.replication = Some(rep);
        t.put_job(&row)
    })?;
    Ok(true)
}

/// Escrows a replica of `j` for another provider, if one that runs its kind is online.
async fn escrow_replica(
    node: &Node,
    j: &JobRow,
    mut rep: ReplicationView,
    chain_now: u64,
) -> Result<bool> {
    let mut exclude: Vec<String> = j.provider.iter().cloned().collect();
    exclude.extend(j.providers.iter().cloned());
    for r in &rep.replicas {
        exclude.extend(r.provider.iter().cloned());
        if let Some(row) = node.store().read().job(r.job)? {
            exclude.extend(row.providers.iter().cloned());
        }
    }
    exclude.sort();
    exclude.dedup();
    let candidates: Vec<String> = {
        let online = node.online_addresses();
        let store = node.store();
        let read = store.read();
        let mut c = vec![];
        for a in online {
            if exclude.contains(&a) {
                continue;
            }
            if read
                .provider(&a)?
                .is_some_and(|p| p.kinds.contains(&j.spec.kind))
            {
                c.push(a);
            }
        }
        c
    };
    if candidates.is_empty() {
        let detail = format!(
            "waiting for a provider other than {} to replicate it (none online runs {}); falls back at chain time {}",
            exclude.join(", "),
            j.spec.kind.as_str(),
            rep.deadline
        );
        if rep.detail == detail {
            return Ok(false);
        }
        rep.detail = detail.clone();
        node.store().tx(|t| {
            let Some(mut row) = t.job(j.id)? else {
                return Ok(());
            };
            row.replication = Some(rep);
            t.put_job(&row)?;
            t.event(j.id, now_ms(), &detail)
        })?;
        return Ok(true);
    }
    if retries(node)
        .get(&j.id)
        .is_some_and(|at| Instant::now() < *at)
    {
        return Ok(false);
    }
    // The replica must be taken before the deadline; what it commits later is still paid
    // (the operator's cost) but no longer counts.
    let accept_by = rep.deadline;
    if accept_by <= chain_now + 1 {
        return Ok(false);
    }
    let deadline = accept_by + j.spec.limits.wall_time_ms.div_ceil(1000) + 60;
    let digest: alloy::primitives::B256 = format!("0x{}", j.spec_digest)
        .parse()
        .map_err(|_| Error::Corrupt(format!("job {}: bad spec digest", j.id)))?;
    let posted = node
        .shared
        .ledger
        .post_job(digest, j.spec.payment, accept_by, deadline)
        .await;
    let (id, tx) = match posted {
        Ok(p) => {
            retries(node).remove(&j.id);
            p
        }
        Err(e) => {
            retries(node).insert(j.id, Instant::now() + RETRY_AFTER);
            let detail = format!(
                "the operator could not escrow a replica ({e}); retrying until chain time {}",
                rep.deadline
            );
            if rep.detail != detail {
                rep.detail = detail.clone();
                node.store().tx(|t| {
                    let Some(mut row) = t.job(j.id)? else {
                        return Ok(());
                    };
                    row.replication = Some(rep);
                    t.put_job(&row)?;
                    t.event(j.id, now_ms(), &detail)
                })?;
            }
            return Err(e.into());
        }
    };
    let operator = node.shared.market.operator.to_string();
    let now = now_ms();
    let mut replica = j.clone();
    replica.id = id;
    replica.requester = operator.clone();
    replica.state = JobState::Queued;
    replica.stop = None;
    replica.waiting = None;
    replica.provider = None;
    replica.providers = vec![];
    replica.excluded = exclude.clone();
    replica.attempt = 0;
    replica.claimed = false;
    replica.chain_provider = None;
    replica.todo = None;
    replica.receipt_todo = false;
    replica.accept_by = accept_by;
    replica.deadline = deadline;
    replica.challenge_ends = None;
    replica.submitted_ms = now;
    replica.started_ms = None;
    replica.finished_ms = None;
    replica.result = None;
    replica.paid = None;
    replica.fee = None;
    replica.refunded = None;
    replica.receipt = None;
    replica.txs = vec![("post".into(), tx.tx_hash.to_string())];
    replica.cancelling = false;
    replica.charge = None;
    replica.audit = None;
    replica.slash = None;
    replica.verification = None;
    replica.replication = None;
    replica.replica_of = Some(j.id);
    rep.replicas.push(ReplicaView {
        job: id,
        provider: None,
        output_digest: None,
        trace_root: None,
        agrees: None,
        gone: false,
    });
    rep.detail = format!(
        "replica job {id} escrowed by the operator; never given to {}",
        exclude.join(", ")
    );
    node.store().tx(|t| {
        t.put_job(&replica)?;
        t.event(
            id,
            now,
            &format!(
                "replica of job {} escrowed by the operator {operator} ({} from its verification budget, tx {}): the same module, inputs and fuel limit, for a provider other than {}",
                j.id,
                fmt_usdt(j.spec.payment),
                tx.tx_hash,
                exclude.join(", ")
            ),
        )?;
        let Some(mut row) = t.job(j.id)? else {
            return Ok(());
        };
        row.replication = Some(rep);
        t.put_job(&row)?;
        t.event(
            j.id,
            now,
            &format!("replicating: replica job {id} escrowed for a provider other than {}", exclude.join(", ")),
        )
    })?;
    node.schedule_some(Some(id))?;
    Ok(true)
}

/// Marks the job `row` wrong by the quorum: challenged, refunded, its provider slashed.
fn dispute(t: &Tx<'_>, row: &mut JobRow, detail: &str, slash: Option<u64>, now: u64) -> Result<()> {
    row.state = JobState::Failed;
    row.stop = Some(StopReason::ReplicaMismatch {
        detail: detail.to_owned(),
    });
    row.todo = Some(Todo::Challenge);
    row.slash = slash;
    row.finished_ms = Some(now);
    if let Some(p) = row.provider.clone()
        && let Some(mut p) = t.provider(&p)?
    {
        p.lost += 1;
        p.streak = cairn_compute::verify::next_streak(p.streak, false);
        t.put_provider(&p)?;
    }
    t.event(
        row.id,
        now,
        &format!(
            "replication: {detail}; disputed: challenge, refund to the requester{}",
            match slash {
                Some(s) => format!(" and a slash of {} queued", fmt_usdt(s)),
                None => String::new(),
            }
        ),
    )
}

fn short(p: &Option<String>) -> String {
    p.clone().unwrap_or_else(|| "?".into())
}

/// Applies a quorum: the original right (`original_right`) or wrong; the replicas at `odd`
/// disagreed with the majority.
fn decide(
    node: &Node,
    id: u64,
    mut rep: ReplicationView,
    original_right: bool,
    odd: &[usize],
) -> Result<()> {
    let now = now_ms();
    let slash = slash_amount(node);
    rep.outcome = if original_right {
        "agreed"
    } else {
        "disagreed"
    }
    .into();
    let summary: Vec<String> = rep
        .replicas
        .iter()
        .filter(|r| r.agrees.is_some())
        .map(|r| {
            format!(
                "replica job {} on {}: outputs {}",
                r.job,
                short(&r.provider),
                if r.agrees == Some(true) {
                    "agree"
                } else {
                    "disagree"
                }
            )
        })
        .collect();
    rep.detail = summary.join("; ");
    node.store().tx(|t| {
        let Some(mut j) = t.job(id)? else {
            return Ok(());
        };
        if j.todo != Some(Todo::Replicate) {
            return Ok(());
        }
        for (i, r) in rep.replicas.iter().enumerate() {
            let Some(mut row) = t.job(r.job)? else {
                continue;
            };
            if row.todo != Some(Todo::Replicate) {
                continue;
            }
            if odd.contains(&i) {
                let detail = format!(
                    "its result differs from the majority of job {id}'s replication ({})",
                    rep.detail
                );
                dispute(t, &mut row, &detail, Some(slash), now)?;
            } else {
                row.todo = Some(Todo::Settle);
                t.event(
                    row.id,
                    now,
                    &format!("replication of job {id}: this replica's result is the majority's; settles after the challenge window"),
                )?;
            }
            t.put_job(&row)?;
        }
        if original_right {
            j.todo = Some(Todo::Settle);
            if let Some(p) = j.provider.clone()
                && let Some(mut p) = t.provider(&p)?
            {
                p.streak = cairn_compute::verify::next_streak(p.streak, true);
                t.put_provider(&p)?;
            }
            t.event(
                id,
                now,
                &format!("replicated: {}; settles after the challenge window", rep.detail),
            )?;
        } else {
            let detail = format!("replicas on other providers agree on another result ({})", rep.detail);
            dispute(t, &mut j, &detail, Some(slash), now)?;
        }
        j.replication = Some(rep.clone());
        t.put_job(&j)
    })
}

/// No replica result by the deadline: the original settles after its window, unconfirmed.
fn fall_back(node: &Node, id: u64, mut rep: ReplicationView, committed: usize) -> Result<()> {
    let now = now_ms();
    rep.outcome = "unreplicated".into();
    rep.detail = format!(
        "no replica result to compare by chain time {} ({} escrowed, {committed} committed, none agreeing or disagreeing in a majority): settles after the challenge window unconfirmed; the provider's streak does not grow",
        rep.deadline,
        rep.replicas.len()
    );
    node.store().tx(|t| {
        let Some(mut j) = t.job(id)? else {
            return Ok(());
        };
        if j.todo != Some(Todo::Replicate) {
            return Ok(());
        }
        j.todo = Some(Todo::Settle);
        t.event(id, now, &format!("replication fallback: {}", rep.detail))?;
        j.replication = Some(rep);
        t.put_job(&j)
    })
}

/// Three different results: the original is refunded (no majority confirms it) and nobody is
/// slashed (no majority shows who lied).
fn no_majority(node: &Node, id: u64, mut rep: ReplicationView) -> Result<()> {
    let now = now_ms();
    rep.outcome = "no-majority".into();
    rep.detail = "the original and two replicas committed three different results".into();
    node.store().tx(|t| {
        let Some(mut j) = t.job(id)? else {
            return Ok(());
        };
        if j.todo != Some(Todo::Replicate) {
            return Ok(());
        }
        let detail = rep.detail.clone();
        j.replication = Some(rep);
        dispute(t, &mut j, &detail, None, now)?;
        t.put_job(&j)
    })
}

/// A committed replica whose quorum is over (or that cannot be held longer): it settles.
fn release(node: &Node, r: &JobRow) -> Result<bool> {
    let Some(of) = r.replica_of else {
        return Ok(false);
    };
    let window = node.shared.market.challenge_window;
    let own_deadline = r.challenge_ends.map(|e| deadline(e, window));
    let chain_now = node.chain_now();
    node.store().tx(|t| {
        let Some(mut row) = t.job(r.id)? else {
            return Ok(false);
        };
        if row.todo != Some(Todo::Replicate) {
            return Ok(false);
        }
        let over = match t.job(of)? {
            Some(o) => o.todo != Some(Todo::Replicate),
            None => true,
        };
        if !over && own_deadline.is_none_or(|d| chain_now < d) {
            return Ok(false);
        }
        row.todo = Some(Todo::Settle);
        t.put_job(&row)?;
        t.event(
            row.id,
            now_ms(),
            &format!("job {of}'s replication is over without this replica in a decision; settles after the challenge window"),
        )?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_agreeing_replica_confirms_the_original() {
        assert_eq!(quorum("a", &[Some("a")]), Verdict::Agreed { odd: vec![] });
        assert_eq!(quorum("a", &[None]), Verdict::Open);
        assert_eq!(quorum("a", &[]), Verdict::Open);
    }

    #[test]
    fn a_disagreeing_replica_needs_a_third_run_which_decides() {
        assert_eq!(quorum("a", &[Some("b")]), Verdict::Open);
        assert_eq!(quorum("a", &[Some("b"), None]), Verdict::Open);
        // The third agrees with the original: the first replica is the odd one out.
        assert_eq!(
            quorum("a", &[Some("b"), Some("a")]),
            Verdict::Agreed { odd: vec![0] }
        );
        // The third agrees with the first replica: the original is wrong.
        assert_eq!(
            quorum("a", &[Some("b"), Some("b")]),
            Verdict::OriginalWrong { odd: vec![] }
        );
        // Three different results: no majority.
        assert_eq!(quorum("a", &[Some("b"), Some("c")]), Verdict::Open);
    }

    #[test]
    fn a_replica_that_ended_without_result_does_not_vote() {
        assert_eq!(
            quorum("a", &[None, Some("b"), Some("b")]),
            Verdict::OriginalWrong { odd: vec![] }
        );
        assert_eq!(
            quorum("a", &[None, Some("c"), Some("b"), Some("b")]),
            Verdict::OriginalWrong { odd: vec![1] }
        );
    }

    #[test]
    fn the_deadline_leaves_a_margin_inside_the_window() {
        assert_eq!(deadline(1_000, 60), 985);
        // A short window: half of it.
        assert_eq!(deadline(1_000, 10), 995);
        assert_eq!(deadline(5, 60), 0);
    }
}
