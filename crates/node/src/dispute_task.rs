//! The node as challenger: a failed sampled audit of a `train` result becomes a refereed
//! bisection dispute on chain, which this task drives to its end.
//!
//! ```text
//!  audit FAILED at segment s ─▶ todo = dispute (record: the challenger trace, persisted)
//!      ─▶ rules unset / no staked referee / no dispute client / refused ─▶ the direct path: challenge, refund, slash
//!      ─▶ openDispute(bond from the operator) ─▶ dispute/v1 "opened" statement
//!      ─▶ each pass: Bisecting       → reveal the node's leaf (answer_round); past the deadline:
//!                                      resolveTimeout (the side that did not answer loses)
//!                    AwaitingReferee → assign a registered referee (job id mod the eligible,
//!                                      sorted list; never the provider, the challenger or the
//!                                      requester); a late one is replaced by another; no
//!                                      ruling in time: resolveTimeout
//!                    Resolved        → the job's books from the chain; dispute/v1 statements
//!                                      "timeout" or "ruled", then "resolved"
//! ```
//!
//! Everything the task needs is in the job's row (`dispute`) or on chain, so a restarted node
//! resumes where it was; a pass never waits for a block: it acts on what the chain says now,
//! and RPC errors retry the whole pass with backoff.
use crate::{
    Error, Node, Result,
    node::{now_ms, parse_address},
    store::{JobRow, Todo},
};
use alloy::primitives::{Address, B256, U256};
use cairn_attest::{Digest, Statement, Subject, predicate::DisputeEvent, predicate::DisputeV1};
use cairn_compute::{JobState, StopReason, fmt_usdt};
use cairn_escrow::{
    Dispute, DisputePhase, DisputeRules, Error as EscrowError, Escrow, EventKind, MarketEvent,
    Outcome,
};
use cairn_tlog::Hash;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// A dispute the node opens or opened, as kept in the job's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct DisputeRecord {
    /// The challenger's trace: the provider's leaves with the recomputed one at `disputed`.
    pub(crate) leaves: Vec<String>,
    /// The checkpoint named as disputed.
    pub(crate) disputed: u32,
    /// The audit's findings (the stop reason if the provider loses).
    pub(crate) detail: String,
    /// The `openDispute` transaction, once sent.
    #[serde(default)]
    pub(crate) opened_tx: Option<String>,
    /// The referee assigned by this node.
    #[serde(default)]
    pub(crate) referee: Option<String>,
    /// Whether the "no referee" line was written (once).
    #[serde(default)]
    pub(crate) waiting_noted: bool,
    /// dispute/v1 statements not in the log yet.
    #[serde(default)]
    pub(crate) pending: Vec<DisputeV1>,
    /// Statements logged: (event, log index, envelope digest).
    #[serde(default)]
    pub(crate) logged: Vec<(String, u64, String)>,
    /// Who opened the dispute when it was not this node (the requester, or an eligible
    /// provider that re-ran the job): the node then only does the operator's part — assigns
    /// the referee, replaces a late one, resolves timeouts — and keeps the books.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) opened_by: Option<String>,
}

impl DisputeRecord {
    /// The record for an audit that found segment `segment` wrong: `recomputed` is the
    /// verifier's checkpoint `segment + 1`.
    pub(crate) fn new(
        provider_leaves: &[Hash],
        segment: usize,
        recomputed: Hash,
        detail: String,
    ) -> Self {
        let (leaves, disputed) =
            crate::dispute::challenger_trace(provider_leaves, segment, recomputed);
        Self {
            leaves: leaves.iter().map(hex::encode).collect(),
            disputed,
            detail,
            opened_tx: None,
            referee: None,
            waiting_noted: false,
            pending: vec![],
            logged: vec![],
            opened_by: None,
        }
    }

    /// The record of a dispute another party opened on chain (the `DisputeOpened` event).
    fn opened_by(challenger: Address, disputed: u32, tx: B256, detail: String) -> Self {
        Self {
            leaves: vec![],
            disputed,
            detail,
            opened_tx: Some(tx.to_string()),
            referee: None,
            waiting_noted: false,
            pending: vec![],
            logged: vec![],
            opened_by: Some(challenger.to_string()),
        }
    }

    fn leaves(&self) -> Result<Vec<Hash>> {
        self.leaves
            .iter()
            .map(|h| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h, &mut out)
                    .map_err(|_| Error::Corrupt(format!("dispute trace leaf {h:?} is not hex")))?;
                Ok(out)
            })
            .collect()
    }
}

/// Drives the node's disputes until the node stops.
pub(crate) async fn run(node: Node) {
    crate::node::drive(
        node,
        "dispute work",
        |n| async move { pass(&n).await },
        |_| false,
    )
    .await
}

/// One pass over the disputes in progress; returns how many are still open.
pub(crate) async fn pass(node: &Node) -> Result<usize> {
    if let Some(escrow) = node.shared.ledger.disputes() {
        adopt(node, escrow).await?;
    }
    let due = node.store().read().jobs_todo(Todo::Dispute, 32)?;
    if due.is_empty() {
        // Statements of disputes that ended while the log was down.
        log_pending(node).await;
        return Ok(0);
    }
    let Some(escrow) = node.shared.ledger.disputes() else {
        for j in &due {
            fall_back(node, j.id, "this node's ledger cannot open disputes")?;
        }
        return Ok(0);
    };
    let rules = escrow.dispute_rules().await.map_err(chain)?;
    for j in &due {
        step(node, escrow, &rules, j).await?;
    }
    log_pending(node).await;
    Ok(due.len())
}

/// The block from which `DisputeOpened` events are still to be read (in the node's `meta`).
const SEEN_META: &str = "disputes_opened_from_block";

/// Disputes another party opened over results of this node's jobs (the requester, or an
/// eligible provider that re-ran one): the node takes each on as the market's operator, so the
/// bisection gets its referee and its end, and the job its books, without anyone's help.
/// Idempotent: a job whose row already holds a dispute, or whose result is not waiting to be
/// paid, is left as it is.
async fn adopt(node: &Node, escrow: &Escrow) -> Result<()> {
    let from: u64 = node
        .store()
        .meta(SEEN_META)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let head = escrow
        .chain()
        .block_number()
        .await
        .map_err(|e| chain(e.into()))?;
    if head < from {
        return Ok(());
    }
    let events = escrow
        .events_of(&[EventKind::DisputeOpened], from, Some(head))
        .await
        .map_err(chain)?;
    let me = escrow.chain().signer().unwrap_or_default();
    for l in &events {
        adopt_event(node, l, me)?;
    }
    // A dispute in a block that a reorganisation drops and replays is still found: the settle
    // path adopts a job it finds disputed on chain ([`adopt_job`]).
    node.store().set_meta(SEEN_META, &(head + 1).to_string())?;
    Ok(())
}

/// Adopts the dispute over job `id` that someone else opened, if it is one (the settle path
/// found the job disputed on chain).
pub(crate) async fn adopt_job(node: &Node, escrow: &Escrow, id: u64) -> Result<()> {
    let me = escrow.chain().signer().unwrap_or_default();
    let events = escrow.dispute_events(id).await.map_err(chain)?;
    if let Some(l) = events
        .iter()
        .find(|l| matches!(l.event, MarketEvent::DisputeOpened { .. }))
    {
        adopt_event(node, l, me)?;
    }
    Ok(())
}

/// Takes on the dispute a `DisputeOpened` event records, unless this node opened it, the job
/// is not this node's, or its row already holds a dispute or is past waiting to be paid.
fn adopt_event(node: &Node, l: &cairn_escrow::Logged, me: Address) -> Result<()> {
    let MarketEvent::DisputeOpened {
        job_id,
        challenger,
        challenger_root,
        disputed_index,
        ..
    } = l.event
    else {
        return Ok(());
    };
    if challenger == me {
        return Ok(());
    }
    let mut opened = None;
    node.store().tx(|t| {
        let Some(mut row) = t.job(job_id)? else {
            return Ok(());
        };
        let waiting = matches!(
            row.todo,
            Some(Todo::Settle | Todo::Audit | Todo::Replicate)
        );
        if row.dispute.is_some() || !waiting || row.state != JobState::Committed {
            return Ok(());
        }
        let who = if challenger.to_string().eq_ignore_ascii_case(&row.requester) {
            "the requester"
        } else {
            "an eligible provider"
        };
        let detail = format!(
            "disputed by {who} {challenger}: a re-execution gives another checkpoint {disputed_index}"
        );
        let mut rec = DisputeRecord::opened_by(challenger, disputed_index, l.tx_hash, detail);
        let provider = row.provider.clone().unwrap_or_default();
        let provider_root = row
            .result
            .as_ref()
            .and_then(|r| b256(&r.trace_root, "the trace root").ok())
            .unwrap_or_default();
        rec.pending.push(statement(
            node,
            job_id,
            DisputeEvent::Opened,
            &provider,
            challenger,
            provider_root,
            challenger_root,
            (0, disputed_index, 0),
            l.tx_hash,
        ));
        row.todo = Some(Todo::Dispute);
        row.dispute = Some(rec);
        row.txs.push(("dispute".into(), l.tx_hash.to_string()));
        t.put_job(&row)?;
        opened = Some(job_id);
        t.event(
            job_id,
            now_ms(),
            &format!(
                "chain: {who} {challenger} opened a refereed bisection over the result in block {} (tx {}), naming checkpoint {disputed_index}; the node acts as the market's operator (referee, timeouts) until it ends",
                l.block_number, l.tx_hash
            ),
        )
    })?;
    if let Some(id) = opened {
        tracing::info!(job = id, %challenger, "a dispute opened by another party");
        PENDING.store(true, Ordering::SeqCst);
    }
    Ok(())
}

fn chain(e: EscrowError) -> Error {
    Error::Conflict(format!("chain: {e}"))
}

fn b256(hex_str: &str, what: &str) -> Result<B256> {
    hex_str
        .trim_start_matches("0x")
        .parse::<B256>()
        .map_err(|_| Error::Corrupt(format!("{what} {hex_str:?} is not 32 bytes of hex")))
}

/// Advances one job's dispute by what the chain says now.
async fn step(node: &Node, escrow: &Escrow, rules: &DisputeRules, j: &JobRow) -> Result<()> {
    let id = j.id;
    let Some(rec) = j.dispute.clone() else {
        return fall_back(node, id, "the dispute record is missing");
    };
    let Some(r) = &j.result else {
        return fall_back(node, id, "the job has no result to dispute");
    };
    let leaves = rec.leaves()?;
    let now = escrow.chain_time().await.map_err(chain)?;
    let d = escrow.dispute(id).await.map_err(chain)?;
    let Some(d) = d else {
        if rec.opened_tx.is_some() || rec.opened_by.is_some() {
            // Sent but not visible yet (or reorganised away): wait for the next pass.
            return Ok(());
        }
        if rules.window == 0 {
            return fall_back(node, id, "the market's dispute rules are not set");
        }
        // A bisection nobody can rule on would let the result stand: without a staked referee
        // (other than the parties and this node) the direct path is the honest one.
        let me = escrow.chain().signer().unwrap_or_default();
        let mut exclude = parties(j);
        exclude.push(me);
        if eligible_referees(escrow, &exclude).await?.is_empty() {
            return fall_back(node, id, "no staked referee is registered to rule on it");
        }
        if let Err(e) = escrow.ensure_allowance(rules.bond).await {
            return Err(chain(e));
        }
        let provider_root = b256(&r.trace_root, "the trace root")?;
        let challenger_root = crate::dispute::root(&leaves);
        let opened = escrow
            .open_dispute(
                id,
                b256(&j.spec_digest, "the spec digest")?,
                b256(&r.output_digest, "the output digest")?,
                provider_root,
                challenger_root,
                leaves.len() as u32,
                rec.disputed,
            )
            .await;
        let tx = match opened {
            Ok(tx) => tx,
            Err(e @ EscrowError::Rejected { .. }) => {
                return fall_back(node, id, &format!("the chain refused the dispute ({e})"));
            }
            Err(e) => return Err(chain(e)),
        };
        let provider = j.provider.clone().unwrap_or_default();
        let st = statement(
            node,
            id,
            DisputeEvent::Opened,
            &provider,
            me,
            provider_root,
            challenger_root,
            (0, rec.disputed, 0),
            tx.tx_hash,
        );
        return update(node, id, |row, rec| {
            rec.opened_tx = Some(tx.tx_hash.to_string());
            rec.pending.push(st.clone());
            PENDING.store(true, Ordering::SeqCst);
            row.txs.push(("dispute".into(), tx.tx_hash.to_string()));
            Some(format!(
                "chain: dispute opened in block {} (tx {}): bisection over {} checkpoints, checkpoint {} named, bond {} from the operator",
                tx.block_number,
                tx.tx_hash,
                leaves.len(),
                rec.disputed,
                fmt_usdt(rules.bond.saturating_to())
            ))
        });
    };
    match d.phase {
        DisputePhase::Bisecting => {
            if now > d.deadline {
                let tx = escrow.resolve_timeout(id).await;
                return ended_by_us(node, id, tx, "the round's deadline passed");
            }
            if rec.opened_by.is_some() {
                // The rounds are the challenger's and the provider's to answer.
                return Ok(());
            }
            match crate::dispute::answer_round(escrow, id, false, &leaves).await {
                Ok(Some(tx)) => update(node, id, |_, _| {
                    Some(format!(
                        "dispute round {}: revealed the node's leaf at checkpoint {} (tx {})",
                        d.rounds + 1,
                        d.probe,
                        tx.tx_hash
                    ))
                }),
                Ok(None) => Ok(()),
                // Revealed meanwhile, or the round closed: the next pass sees the new state.
                Err(EscrowError::Rejected { .. }) => Ok(()),
                Err(e) => Err(chain(e)),
            }
        }
        DisputePhase::AwaitingReferee => {
            let end = d.deadline + u64::from(rules.window);
            if d.referee.is_none() {
                if now > d.deadline && now > end {
                    let tx = escrow.resolve_timeout(id).await;
                    return ended_by_us(node, id, tx, "no referee ruled");
                }
                match pick_referee(escrow, j, &d).await? {
                    Some(referee) => match escrow.assign_referee(id, referee).await {
                        Ok(tx) => update(node, id, |_, rec| {
                            rec.referee = Some(referee.to_string());
                            Some(format!(
                                "dispute narrowed to checkpoints {} → {} after {} rounds; referee {referee} assigned (tx {})",
                                d.lo, d.hi, d.rounds, tx.tx_hash
                            ))
                        }),
                        Err(EscrowError::Rejected { .. }) => Ok(()),
                        Err(e) => Err(chain(e)),
                    },
                    None if !rec.waiting_noted => update(node, id, |_, rec| {
                        rec.waiting_noted = true;
                        Some(format!(
                            "dispute narrowed to checkpoints {} → {}; no eligible referee is registered yet (without a ruling the result stands)",
                            d.lo, d.hi
                        ))
                    }),
                    None => Ok(()),
                }
            } else if now > end {
                let tx = escrow.resolve_timeout(id).await;
                ended_by_us(node, id, tx, "the referee did not rule in time")
            } else if now > d.deadline {
                // The referee is late: another eligible one replaces it (the late one loses
                // its fee from its stake); none: the result stands once the window ends.
                let late = d.referee.unwrap_or_default();
                match pick_referee(escrow, j, &d).await? {
                    Some(referee) if referee != late => {
                        match escrow.assign_referee(id, referee).await {
                            Ok(tx) => update(node, id, |_, rec| {
                                rec.referee = Some(referee.to_string());
                                Some(format!(
                                    "referee {late} did not rule in time; referee {referee} assigned in its place (tx {})",
                                    tx.tx_hash
                                ))
                            }),
                            Err(EscrowError::Rejected { .. }) => Ok(()),
                            Err(e) => Err(chain(e)),
                        }
                    }
                    _ => Ok(()),
                }
            } else {
                Ok(())
            }
        }
        DisputePhase::Resolved => finish(node, escrow, j, &rec, &d).await,
    }
}

/// A `resolveTimeout` the node sent: refused means another party ended it first, which the
/// next pass reads from the chain.
fn ended_by_us(
    node: &Node,
    id: u64,
    tx: cairn_escrow::Result<cairn_escrow::Tx>,
    why: &str,
) -> Result<()> {
    match tx {
        Ok(tx) => update(node, id, |row, _| {
            row.txs
                .push(("resolveTimeout".into(), tx.tx_hash.to_string()));
            Some(format!(
                "chain: dispute timed out ({why}); resolved in block {} (tx {})",
                tx.block_number, tx.tx_hash
            ))
        }),
        Err(EscrowError::Rejected { .. }) => Ok(()),
        Err(e) => Err(chain(e)),
    }
}

/// The registered referees eligible for this dispute, sorted; the job id picks one.
async fn pick_referee(escrow: &Escrow, j: &JobRow, d: &Dispute) -> Result<Option<Address>> {
    let exclude: Vec<Address> = parties(j)
        .into_iter()
        .chain([d.challenger])
        .chain(d.referee)
        .collect();
    Ok(referee_for(
        j.id,
        &eligible_referees(escrow, &exclude).await?,
    ))
}

/// The job's provider and requester (never its referee).
fn parties(j: &JobRow) -> Vec<Address> {
    [j.provider.as_deref(), Some(j.requester.as_str())]
        .into_iter()
        .flatten()
        .filter_map(|a| parse_address("address", a).ok())
        .collect()
}

/// The active referees staked at least the rules' minimum, sorted, less `exclude`.
async fn eligible_referees(escrow: &Escrow, exclude: &[Address]) -> Result<Vec<Address>> {
    let events = escrow
        .events_of(
            &[EventKind::RefereeRegistered, EventKind::RefereeLeft],
            0,
            None,
        )
        .await
        .map_err(chain)?;
    let mut seen = std::collections::BTreeSet::new();
    for l in events {
        if let MarketEvent::RefereeRegistered { referee, .. } = l.event {
            seen.insert(referee);
        }
    }
    let rules = escrow.dispute_rules().await.map_err(chain)?;
    let mut eligible = Vec::new();
    for r in seen {
        if exclude.contains(&r) {
            continue;
        }
        let info = escrow.referee(r).await.map_err(chain)?;
        if info.active && info.stake >= rules.min_referee_stake && info.stake > U256::ZERO {
            eligible.push(r);
        }
    }
    Ok(eligible)
}

/// The deterministic pick: job id modulo the sorted eligible list.
pub(crate) fn referee_for(job: u64, eligible: &[Address]) -> Option<Address> {
    if eligible.is_empty() {
        return None;
    }
    Some(eligible[(job % eligible.len() as u64) as usize])
}

#[allow(clippy::too_many_arguments)]
fn statement(
    node: &Node,
    id: u64,
    event: DisputeEvent,
    provider: &str,
    challenger: Address,
    provider_root: B256,
    challenger_root: B256,
    (lo, hi, rounds): (u32, u32, u32),
    tx: B256,
) -> DisputeV1 {
    DisputeV1 {
        job_id: id.to_string(),
        market: node.shared.ledger.market().to_string(),
        event,
        provider: provider.to_owned(),
        challenger: challenger.to_string(),
        trace_root: Digest::from_sha256(provider_root.0),
        challenger_root: Digest::from_sha256(challenger_root.0),
        lo,
        hi: hi.max(lo + 1),
        rounds,
        referee: None,
        failed_to_answer: None,
        verdict: None,
        outcome: None,
        slashed: None,
        tx: tx.to_string(),
    }
}

/// The dispute is over on chain: its statements from the chain's events, and the job's books.
async fn finish(
    node: &Node,
    escrow: &Escrow,
    j: &JobRow,
    rec: &DisputeRecord,
    d: &Dispute,
) -> Result<()> {
    let id = j.id;
    let events = escrow.dispute_events(id).await.map_err(chain)?;
    let mut resolved = None;
    let mut ruled = None;
    let mut referee = None;
    for l in &events {
        match &l.event {
            MarketEvent::DisputeResolved {
                outcome, slashed, ..
            } => resolved = Some((*outcome, *slashed, l.tx_hash)),
            MarketEvent::DisputeRuled {
                referee: r,
                verdict,
                ..
            } => ruled = Some((*r, *verdict, l.tx_hash)),
            MarketEvent::RefereeAssigned { referee: r, .. } => referee = Some(*r),
            _ => {}
        }
    }
    let Some((outcome, slashed, tx)) = resolved else {
        // The resolution's log is not visible to this RPC yet.
        return Ok(());
    };
    let provider = j.provider.clone().unwrap_or_default();
    let base = |event| {
        let mut s = statement(
            node,
            id,
            event,
            &provider,
            d.challenger,
            d.provider_root,
            d.challenger_root,
            (d.lo, d.hi, u32::from(d.rounds)),
            tx,
        );
        s.referee = referee.map(|r| r.to_string());
        s
    };
    let mut sts = Vec::new();
    match (ruled, outcome) {
        (Some((r, verdict, rtx)), _) => {
            let mut s = base(DisputeEvent::Ruled);
            s.referee = Some(r.to_string());
            s.verdict = Some(
                match verdict {
                    cairn_escrow::Verdict::ProviderRight => "provider_right",
                    cairn_escrow::Verdict::ChallengerRight => "challenger_right",
                    cairn_escrow::Verdict::NeitherRight => "neither_right",
                }
                .into(),
            );
            s.tx = rtx.to_string();
            sts.push(s);
        }
        (None, Outcome::ProviderWrong | Outcome::ChallengerWrong) => {
            let mut s = base(DisputeEvent::Timeout);
            s.failed_to_answer = Some(
                if outcome == Outcome::ProviderWrong {
                    "provider"
                } else {
                    "challenger"
                }
                .into(),
            );
            sts.push(s);
        }
        _ => {}
    }
    let mut s = base(DisputeEvent::Resolved);
    s.outcome = Some(outcome.as_str().into());
    s.slashed = Some(slashed.to_string());
    sts.push(s);
    let now = now_ms();
    let receipts = node.shared.log.is_some();
    let market = node.shared.market;
    let slashed_u64: u64 = slashed.saturating_to();
    node.store().tx(|t| {
        let Some(mut row) = t.job(id)? else {
            return Ok(());
        };
        if row.todo != Some(Todo::Dispute) {
            return Ok(());
        }
        let Some(mut rec) = row.dispute.clone() else {
            return Ok(());
        };
        rec.pending.extend(sts.iter().cloned());
        PENDING.store(true, Ordering::SeqCst);
        row.txs.push(("disputeResolved".into(), tx.to_string()));
        row.todo = None;
        row.finished_ms = Some(now);
        row.receipt_todo = receipts;
        // The contract paid the slash out already.
        row.slash = None;
        let line = match outcome {
            Outcome::ProviderWrong | Outcome::BothWrong => {
                row.state = JobState::Failed;
                row.stop = Some(StopReason::AuditFailed {
                    detail: rec.detail.clone(),
                });
                row.refunded = Some(row.spec.payment);
                row.charge = row.charge.map(|_| 0);
                if let Some(mut p) = t.provider(&provider)? {
                    p.lost += 1;
                    t.put_provider(&p)?;
                }
                format!(
                    "chain: dispute resolved ({}): {} slashed from {provider}, {} refunded to {}, the {} bond returned (tx {tx})",
                    outcome.as_str(),
                    fmt_usdt(slashed_u64),
                    fmt_usdt(row.spec.payment),
                    row.requester,
                    if rec.opened_by.is_some() { "challenger's" } else { "operator's" }
                )
            }
            Outcome::ChallengerWrong | Outcome::NoRuling => {
                let charge = row.charge.unwrap_or(row.spec.payment);
                let (paid, fee) = market.split(U256::from(charge));
                let (paid, fee) = (paid.to::<u64>(), fee.to::<u64>());
                row.state = JobState::Settled;
                row.paid = Some(paid);
                row.fee = Some(fee);
                if let Some(a) = row.audit.as_mut() {
                    a.findings
                        .push(format!("the dispute ended {}: the result stands", outcome.as_str()));
                }
                if let Some(mut p) = t.provider(&provider)? {
                    p.completed += 1;
                    p.earned += paid;
                    t.put_provider(&p)?;
                }
                format!(
                    "chain: dispute resolved ({}): the result stands, settled, {} paid to {provider} (fee {}) (tx {tx})",
                    outcome.as_str(),
                    fmt_usdt(paid),
                    fmt_usdt(fee)
                )
            }
        };
        row.dispute = Some(rec);
        t.put_job(&row)?;
        t.event(id, now, &line)
    })?;
    let _ = rec;
    node.shared.receipt_wake.notify_one();
    Ok(())
}

/// Applies `f` to the job's row and dispute record in one transaction; its line, if any,
/// goes to the job's history.
fn update(
    node: &Node,
    id: u64,
    f: impl FnOnce(&mut JobRow, &mut DisputeRecord) -> Option<String>,
) -> Result<()> {
    node.store().tx(|t| {
        let Some(mut row) = t.job(id)? else {
            return Ok(());
        };
        let Some(mut rec) = row.dispute.clone() else {
            return Ok(());
        };
        let line = f(&mut row, &mut rec);
        row.dispute = Some(rec);
        t.put_job(&row)?;
        if let Some(line) = line {
            t.event(id, now_ms(), &line)?;
        }
        Ok(())
    })
}

/// No bisection dispute for this job: the direct path (challenge, refund, slash), as before
/// disputes existed.
fn fall_back(node: &Node, id: u64, why: &str) -> Result<()> {
    let now = now_ms();
    node.store().tx(|t| {
        let Some(mut j) = t.job(id)? else {
            return Ok(());
        };
        if j.todo != Some(Todo::Dispute) {
            return Ok(());
        }
        let detail = j
            .dispute
            .as_ref()
            .map(|d| d.detail.clone())
            .unwrap_or_default();
        crate::audit::fail_directly(t, &mut j, detail, now)?;
        j.dispute = None;
        t.put_job(&j)?;
        t.event(
            id,
            now,
            &format!(
                "no bisection dispute ({why}): challenge, refund to the requester and a slash of {} queued",
                fmt_usdt(j.slash.unwrap_or(0))
            ),
        )
    })?;
    node.shared.chain_wake.notify_one();
    Ok(())
}

/// Whether some job row may hold statements not logged yet (a hint that spares the scan;
/// true at start so a restarted node logs what an earlier run left).
static PENDING: AtomicBool = AtomicBool::new(true);

/// Appends the dispute statements waiting in job rows to the log (signed with the receipt
/// key); a log that is down leaves them waiting for the next pass.
async fn log_pending(node: &Node) {
    if node.shared.log.is_none() || !PENDING.swap(false, Ordering::SeqCst) {
        return;
    }
    let rows = match node.store().read().jobs_with_dispute_statements(32) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "reading dispute statements due");
            PENDING.store(true, Ordering::SeqCst);
            return;
        }
    };
    if rows.len() == 32 {
        PENDING.store(true, Ordering::SeqCst);
    }
    for j in rows {
        let Some(rec) = &j.dispute else { continue };
        for p in rec.pending.clone() {
            let st = Statement::new(vec![Subject::new("trace-root", &p.trace_root)], p.clone());
            match crate::receipts::append_statement(node, j.id, &st).await {
                Ok((index, digest)) => {
                    let event = serde_json::to_value(p.event)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let r = update(node, j.id, |_, rec| {
                        rec.pending.retain(|x| *x != p);
                        rec.logged.push((event.clone(), index, digest.to_string()));
                        Some(format!(
                            "dispute statement ({event}) logged at index {index} ({digest})"
                        ))
                    });
                    if let Err(e) = r {
                        tracing::error!(error = %e, "recording a dispute statement");
                    }
                }
                Err(e) => {
                    tracing::warn!(job = j.id, error = %e, "dispute statement not logged yet");
                    PENDING.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_referee_pick_is_deterministic_and_spreads_over_the_list() {
        let list: Vec<Address> = (1..=3u8).map(Address::repeat_byte).collect();
        assert_eq!(referee_for(7, &[]), None);
        assert_eq!(referee_for(7, &list), Some(list[1]));
        assert_eq!(referee_for(7, &list), referee_for(7, &list));
        let picks: std::collections::BTreeSet<_> =
            (0..3).filter_map(|j| referee_for(j, &list)).collect();
        assert_eq!(picks.len(), 3);
    }

    #[test]
    fn the_record_disputes_the_checkpoint_after_the_failed_segment_and_round_trips() {
        let leaves: Vec<Hash> = (0..5u8).map(|i| [i; 32]).collect();
        let r = DisputeRecord::new(&leaves, 2, [9; 32], "steps 20..30".into());
        assert_eq!(r.disputed, 3);
        let back = r.leaves().unwrap();
        assert_eq!(back[3], [9; 32]);
        assert_eq!(back[2], leaves[2]);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<DisputeRecord>(&json).unwrap(), r);
    }
}
