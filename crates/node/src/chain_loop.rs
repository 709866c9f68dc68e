//! The operator's side of the escrow, batched.
//!
//! The node's state machine never waits for the chain: it marks a job with what the chain
//! still has to learn ([`Todo`]) and wakes this loop, which sends one transaction per kind of
//! work for up to [`crate::NodeConfig::batch`] jobs at a time (`assignJobs`, `refundMany`,
//! `settleMany`), in that order, from the operator's single account. A batch the contract
//! rejects as a whole (one job changed state meanwhile) is retried job by job so one stale job
//! cannot block the others; RPC failures are retried with exponential backoff, leaving every
//! job's state untouched.
use crate::{
    Node, Result,
    node::{now_ms, parse_address},
    store::{JobRow, Todo},
};
use alloy::primitives::{Address, U256};
use cairn_compute::{JobState, StopReason, fmt_usdt};
use cairn_escrow::{Error as EscrowError, JobId, Tx};
use std::time::Duration;

const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Runs until the node stops (finishing the pass it is in).
pub(crate) async fn run(node: Node) {
    let mut backoff = MIN_BACKOFF;
    let mut stop = node.stopping();
    while !*stop.borrow() {
        match pass(&node).await {
            Ok(true) => {
                backoff = MIN_BACKOFF;
                continue;
            }
            Ok(false) => backoff = MIN_BACKOFF,
            Err(e) => {
                node.shared
                    .metrics
                    .chain_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(error = %e, retry_in = ?backoff, "chain work failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        tokio::select! {
            _ = node.shared.chain_wake.notified() => {}
            _ = tokio::time::sleep(node.shared.config.tick) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One round of chain work. Returns whether anything was sent (so more may be waiting).
pub(crate) async fn pass(node: &Node) -> Result<bool> {
    let now = node.shared.ledger.chain_time().await?;
    node.set_chain_time(now);
    let mut did = assign(node).await?;
    did |= challenge(node).await?;
    did |= close(node).await?;
    did |= refund(node).await?;
    did |= slash(node).await?;
    did |= settle(node, now).await?;
    Ok(did)
}

fn is_rejection(e: &EscrowError) -> bool {
    matches!(e, EscrowError::Rejected { .. })
}

fn provider_of(j: &JobRow) -> Option<Address> {
    j.provider
        .as_deref()
        .and_then(|p| parse_address("provider", p).ok())
}

async fn assign(node: &Node) -> Result<bool> {
    let jobs = node
        .store()
        .read()
        .jobs_todo(Todo::Assign, node.shared.config.batch)?;
    if jobs.is_empty() {
        return Ok(false);
    }
    let ledger = &node.shared.ledger;
    let mut fresh = Vec::new();
    for j in &jobs {
        let Some(p) = provider_of(j) else { continue };
        match &j.chain_provider {
            None => fresh.push((j.id, p)),
            Some(_) => {
                let r = ledger.reassign_job(j.id, p).await;
                on_assigned(node, &[(j.id, p)], r, "reassign").await?;
            }
        }
    }
    if !fresh.is_empty() {
        let r = ledger.assign_jobs(&fresh).await;
        match r {
            Err(e) if is_rejection(&e) && fresh.len() > 1 => {
                tracing::info!(error = %e, "batch assignment rejected; assigning one by one");
                for pair in &fresh {
                    let r = ledger.assign_jobs(std::slice::from_ref(pair)).await;
                    on_assigned(node, std::slice::from_ref(pair), r, "assign").await?;
                }
            }
            r => on_assigned(node, &fresh, r, "assign").await?,
        }
    }
    Ok(true)
}

/// Records the outcome of an (re)assignment transaction for `pairs`.
async fn on_assigned(
    node: &Node,
    pairs: &[(JobId, Address)],
    r: cairn_escrow::Result<Tx>,
    what: &str,
) -> Result<()> {
    let now = now_ms();
    match r {
        Ok(tx) => node.store().tx(|t| {
            for (id, p) in pairs {
                let Some(mut j) = t.job(*id)? else { continue };
                j.chain_provider = Some(p.to_string());
                j.txs.push((what.to_owned(), tx.tx_hash.to_string()));
                if j.provider.as_deref() == Some(p.to_string().as_str())
                    && j.todo == Some(Todo::Assign)
                {
                    j.todo = None;
                }
                t.put_job(&j)?;
                t.event(
                    *id,
                    now,
                    &format!(
                        "chain: {what}ed to {p} in block {} (tx {})",
                        tx.block_number, tx.tx_hash
                    ),
                )?;
            }
            Ok(())
        }),
        Err(e) if is_rejection(&e) => {
            let (id, p) = pairs[0];
            let chain_job = node.shared.ledger.job(id).await?;
            node.store().tx(|t| {
                let Some(mut j) = t.job(id)? else { return Ok(()) };
                match chain_job.as_ref().map(|c| c.state) {
                    Some(cairn_escrow::JobState::Cancelled) | Some(cairn_escrow::JobState::Refunded) => {
                        if !j.state.is_terminal() {
                            j.state = JobState::Cancelled;
                            j.stop = Some(StopReason::Cancelled);
                            j.finished_ms = Some(now);
                        }
                        j.refunded = Some(j.spec.payment);
                        j.todo = None;
                        j.provider = None;
                        t.event(id, now, "the escrow was cancelled or refunded on chain; job stopped")?;
                    }
                    _ if e.revert_name() == Some("AcceptWindowClosed") => {
                        j.state = JobState::Expired;
                        j.stop = Some(StopReason::NobodyCanTake {
                            why: "the acceptance deadline passed before the assignment reached the chain".into(),
                        });
                        j.provider = None;
                        j.todo = Some(Todo::Refund);
                        j.finished_ms = Some(now);
                        t.event(id, now, "acceptance deadline passed on chain; refund queued")?;
                    }
                    _ => {
                        // The provider cannot hold it on chain (stake withdrawn, ...): another will.
                        let key = p.to_string();
                        j.state = JobState::Queued;
                        j.provider = None;
                        j.claimed = false;
                        j.todo = None;
                        if !j.excluded.contains(&key) {
                            j.excluded.push(key);
                        }
                        t.event(id, now, &format!("chain refused to {what} to {p} ({e}); back to the queue"))?;
                    }
                }
                t.put_job(&j)
            })?;
            node.shared.assignments.notify_waiters();
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Jobs that ran and stopped without a result: the provider is paid the metered charge, the
/// requester gets the rest.
async fn close(node: &Node) -> Result<bool> {
    let jobs = node
        .store()
        .read()
        .jobs_todo(Todo::Close, node.shared.config.batch)?;
    if jobs.is_empty() {
        return Ok(false);
    }
    let ledger = &node.shared.ledger;
    // A run that failed fast may end before its assignment reached the chain: record the
    // provider first, so that it can be paid for the fuel it burned.
    for j in &jobs {
        let Some(p) = j
            .providers
            .last()
            .and_then(|p| parse_address("provider", p).ok())
        else {
            continue;
        };
        if j.chain_provider.as_deref() == Some(p.to_string().as_str()) {
            continue;
        }
        let r = match &j.chain_provider {
            None => ledger.assign_jobs(&[(j.id, p)]).await,
            Some(_) => ledger.reassign_job(j.id, p).await,
        };
        match r {
            Ok(tx) => node.store().tx(|t| {
                let Some(mut row) = t.job(j.id)? else {
                    return Ok(());
                };
                row.chain_provider = Some(p.to_string());
                row.txs.push(("assign".into(), tx.tx_hash.to_string()));
                t.put_job(&row)
            })?,
            // The close below is refused and falls back to a plain refund.
            Err(e) if is_rejection(&e) => {
                tracing::info!(job = j.id, error = %e, "could not record the provider before closing");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let pairs: Vec<(JobId, u64)> = jobs.iter().map(|j| (j.id, j.charge.unwrap_or(0))).collect();
    match ledger.close_jobs(&pairs).await {
        Ok(tx) => on_closed(node, &pairs, Some(tx))?,
        Err(e) if is_rejection(&e) => {
            for pair in &pairs {
                match ledger.close_jobs(std::slice::from_ref(pair)).await {
                    Ok(tx) => on_closed(node, std::slice::from_ref(pair), Some(tx))?,
                    Err(e) if is_rejection(&e) => {
                        let id = pair.0;
                        let chain = ledger.job(id).await?.map(|c| c.state);
                        match chain {
                            Some(cairn_escrow::JobState::Settled) => {
                                on_closed(node, std::slice::from_ref(pair), None)?
                            }
                            Some(
                                cairn_escrow::JobState::Refunded
                                | cairn_escrow::JobState::Cancelled,
                            ) => on_refunded(node, &[id], None)?,
                            // The assignment never reached the chain: nobody worked for the
                            // market, so it is a plain refund.
                            Some(cairn_escrow::JobState::Open) => node.store().tx(|t| {
                                let Some(mut j) = t.job(id)? else { return Ok(()) };
                                j.todo = Some(Todo::Refund);
                                j.charge = Some(0);
                                t.put_job(&j)?;
                                t.event(id, now_ms(), "the job was never assigned on chain; a full refund is queued instead")
                            })?,
                            other => {
                                tracing::warn!(job = id, chain_state = ?other, error = %e, "close refused");
                                node.store().tx(|t| {
                                    let Some(mut j) = t.job(id)? else { return Ok(()) };
                                    j.todo = None;
                                    t.put_job(&j)?;
                                    t.event(id, now_ms(), &format!("chain refused to close the job ({e}); the requester can take the escrow back with `cairn job recover {id}`"))
                                })?;
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(true)
}

fn on_closed(node: &Node, pairs: &[(JobId, u64)], tx: Option<Tx>) -> Result<()> {
    let now = now_ms();
    let receipts = node.shared.log.is_some();
    let market = node.shared.market;
    node.store().tx(|t| {
        for &(id, charge) in pairs {
            let Some(mut j) = t.job(id)? else { continue };
            let (paid, fee) = market.split(U256::from(charge));
            let (paid, fee) = (paid.to::<u64>(), fee.to::<u64>());
            j.paid = Some(paid);
            j.fee = Some(fee);
            j.refunded = Some(j.spec.payment.saturating_sub(charge));
            j.todo = None;
            j.receipt_todo = receipts && j.result.is_some();
            let how = match &tx {
                Some(tx) => {
                    j.txs.push(("close".into(), tx.tx_hash.to_string()));
                    format!("in block {} (tx {})", tx.block_number, tx.tx_hash)
                }
                None => "already on chain".into(),
            };
            let provider = j.providers.last().cloned().unwrap_or_default();
            if let Some(mut p) = t.provider(&provider)? {
                p.earned += paid;
                t.put_provider(&p)?;
            }
            t.put_job(&j)?;
            t.event(
                id,
                now,
                &format!(
                    "chain: closed, {} paid to {provider} for the work metered (fee {}), {} refunded to {} {how}",
                    fmt_usdt(paid),
                    fmt_usdt(fee),
                    fmt_usdt(j.spec.payment.saturating_sub(charge)),
                    j.requester
                ),
            )?;
        }
        Ok(())
    })?;
    node.shared.receipt_wake.notify_one();
    Ok(())
}

/// Committed results whose charge the metering does not support: challenged, then refunded
/// by the operator as arbiter.
async fn challenge(node: &Node) -> Result<bool> {
    let jobs = node
        .store()
        .read()
        .jobs_todo(Todo::Challenge, node.shared.config.batch)?;
    if jobs.is_empty() {
        return Ok(false);
    }
    let ledger = &node.shared.ledger;
    for j in &jobs {
        let id = j.id;
        let r = match ledger.challenge(id).await {
            Err(e) if !is_rejection(&e) => return Err(e.into()),
            r => r,
        };
        let chain = ledger.job(id).await?.map(|c| c.state);
        node.store().tx(|t| {
            let Some(mut row) = t.job(id)? else {
                return Ok(());
            };
            match (&r, chain) {
                (Ok(_), _) | (_, Some(cairn_escrow::JobState::Challenged)) => {
                    if let Ok(tx) = &r {
                        row.txs.push(("challenge".into(), tx.tx_hash.to_string()));
                    }
                    row.todo = Some(Todo::Refund);
                    t.event(id, now_ms(), "chain: challenged; refunding as the arbiter")?;
                }
                (Err(e), other) => {
                    row.todo = None;
                    t.event(
                        id,
                        now_ms(),
                        &format!(
                            "chain refused the challenge ({e}); the job is {other:?} on chain"
                        ),
                    )?;
                }
            }
            t.put_job(&row)
        })?;
    }
    Ok(true)
}

async fn refund(node: &Node) -> Result<bool> {
    let jobs = node
        .store()
        .read()
        .jobs_todo(Todo::Refund, node.shared.config.batch)?;
    if jobs.is_empty() {
        return Ok(false);
    }
    let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
    let ledger = &node.shared.ledger;
    match ledger.refund_many(&ids).await {
        Ok(tx) => on_refunded(node, &ids, Some(tx))?,
        Err(e) if is_rejection(&e) => {
            for &id in &ids {
                match ledger.refund_many(&[id]).await {
                    Ok(tx) => on_refunded(node, &[id], Some(tx))?,
                    Err(e) if is_rejection(&e) => {
                        // Already paid out (the requester cancelled on chain, anyone refunded
                        // it after expiry): record what the chain says.
                        let chain = ledger.job(id).await?;
                        match chain.map(|c| c.state) {
                            Some(
                                cairn_escrow::JobState::Refunded
                                | cairn_escrow::JobState::Cancelled,
                            ) => on_refunded(node, &[id], None)?,
                            other => {
                                tracing::warn!(job = id, chain_state = ?other, error = %e, "refund refused");
                                node.store().tx(|t| {
                                    let Some(mut j) = t.job(id)? else {
                                        return Ok(());
                                    };
                                    j.todo = None;
                                    t.put_job(&j)?;
                                    t.event(id, now_ms(), &format!("chain refused the refund ({e}); the requester can take the escrow back with `cairn job recover {id}`"))
                                })?;
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(true)
}

fn on_refunded(node: &Node, ids: &[JobId], tx: Option<Tx>) -> Result<()> {
    let now = now_ms();
    let receipts = node.shared.log.is_some();
    node.store().tx(|t| {
        for &id in ids {
            let Some(mut j) = t.job(id)? else { continue };
            j.refunded = Some(j.spec.payment);
            j.charge = j.charge.map(|_| 0);
            // A failed audit: the provider's bond pays next.
            j.todo = j.slash.map(|_| Todo::Slash);
            j.receipt_todo = receipts && j.result.is_some();
            let how = match &tx {
                Some(tx) => {
                    j.txs.push(("refund".into(), tx.tx_hash.to_string()));
                    format!("in block {} (tx {})", tx.block_number, tx.tx_hash)
                }
                None => "already on chain".into(),
            };
            t.put_job(&j)?;
            t.event(
                id,
                now,
                &format!(
                    "chain: refunded {} to {} {how}",
                    fmt_usdt(j.spec.payment),
                    j.requester
                ),
            )?;
        }
        Ok(())
    })?;
    node.shared.receipt_wake.notify_one();
    Ok(())
}

/// Disputed jobs whose refund is on chain: the provider's bond pays the slash recorded on the
/// job to the requester (the contract's `slash`, as the arbiter).
async fn slash(node: &Node) -> Result<bool> {
    let jobs = node
        .store()
        .read()
        .jobs_todo(Todo::Slash, node.shared.config.batch)?;
    if jobs.is_empty() {
        return Ok(false);
    }
    let ledger = &node.shared.ledger;
    for j in &jobs {
        let id = j.id;
        let (Some(p), Ok(requester), Some(amount)) = (
            j.chain_provider
                .as_deref()
                .or(j.provider.as_deref())
                .and_then(|p| parse_address("provider", p).ok()),
            parse_address("requester", &j.requester),
            j.slash,
        ) else {
            node.store().tx(|t| {
                let Some(mut row) = t.job(id)? else {
                    return Ok(());
                };
                row.todo = None;
                t.put_job(&row)?;
                t.event(id, now_ms(), "nothing to slash: no provider on record")
            })?;
            continue;
        };
        let r = match ledger.slash(p, amount, requester).await {
            Err(e) if !is_rejection(&e) => return Err(e.into()),
            r => r,
        };
        node.store().tx(|t| {
            let Some(mut row) = t.job(id)? else {
                return Ok(());
            };
            row.todo = None;
            match &r {
                Ok(tx) => {
                    // Once: a later refund record must not slash again.
                    row.slash = None;
                    row.txs.push(("slash".into(), tx.tx_hash.to_string()));
                    t.event(
                        id,
                        now_ms(),
                        &format!(
                            "chain: slashed {} of {p}'s bond, paid to the requester {requester} in block {} (tx {})",
                            fmt_usdt(amount),
                            tx.block_number,
                            tx.tx_hash
                        ),
                    )?;
                }
                Err(e) => {
                    t.event(
                        id,
                        now_ms(),
                        &format!("chain refused to slash {p} ({e})"),
                    )?;
                }
            }
            t.put_job(&row)
        })?;
    }
    Ok(true)
}

async fn settle(node: &Node, chain_now: u64) -> Result<bool> {
    let mut jobs: Vec<JobRow> = node
        .store()
        .read()
        .jobs_todo(Todo::Settle, node.shared.config.batch * 4)?
        .into_iter()
        .filter(|j| j.challenge_ends.is_some_and(|e| e <= chain_now))
        .take(node.shared.config.batch)
        .collect();
    if jobs.is_empty() {
        return Ok(false);
    }
    // One transfer per run of a provider's jobs.
    jobs.sort_by(|a, b| a.provider.cmp(&b.provider).then(a.id.cmp(&b.id)));
    let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
    let ledger = &node.shared.ledger;
    match ledger.settle_many(&ids).await {
        Ok(tx) => on_settled(node, &ids, Some(tx))?,
        Err(e) if is_rejection(&e) => {
            for &id in &ids {
                match ledger.settle_many(&[id]).await {
                    Ok(tx) => on_settled(node, &[id], Some(tx))?,
                    Err(e) if is_rejection(&e) => {
                        let chain = ledger.job(id).await?;
                        match chain.map(|c| c.state) {
                            Some(cairn_escrow::JobState::Settled) => on_settled(node, &[id], None)?,
                            // A refereed bisection found the provider wrong: the contract
                            // refunded the requester.
                            Some(cairn_escrow::JobState::Refunded) => {
                                on_refunded(node, &[id], None)?
                            }
                            // Someone opened a refereed bisection over the result: it settles
                            // or refunds the job when it ends; look again a minute later.
                            Some(cairn_escrow::JobState::Disputed) => {
                                tracing::info!(
                                    job = id,
                                    "the result is disputed on chain; waiting for the dispute to end"
                                );
                                node.store().tx(|t| {
                                    let Some(mut j) = t.job(id)? else {
                                        return Ok(());
                                    };
                                    j.challenge_ends = Some(chain_now + 60);
                                    t.put_job(&j)
                                })?;
                                // Opened by someone else: the node drives it as operator.
                                if let Some(escrow) = ledger.disputes() {
                                    crate::dispute_task::adopt_job(node, escrow, id).await?;
                                }
                            }
                            other => {
                                tracing::info!(job = id, chain_state = ?other, error = %e, "not settleable yet");
                                if let Some(c) = ledger.job(id).await? {
                                    let ends = c.challenge_ends();
                                    node.store().tx(|t| {
                                        let Some(mut j) = t.job(id)? else {
                                            return Ok(());
                                        };
                                        j.challenge_ends = ends.or(Some(u64::MAX));
                                        t.put_job(&j)
                                    })?;
                                }
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(true)
}

fn on_settled(node: &Node, ids: &[JobId], tx: Option<Tx>) -> Result<()> {
    let now = now_ms();
    let receipts = node.shared.log.is_some();
    let market = node.shared.market;
    node.store().tx(|t| {
        for &id in ids {
            let Some(mut j) = t.job(id)? else { continue };
            let charge = j.charge.unwrap_or(j.spec.payment);
            let (paid, fee) = market.split(U256::from(charge));
            let (paid, fee) = (paid.to::<u64>(), fee.to::<u64>());
            j.state = JobState::Settled;
            j.paid = Some(paid);
            j.fee = Some(fee);
            j.todo = None;
            j.finished_ms = Some(now);
            j.receipt_todo = receipts;
            let how = match &tx {
                Some(tx) => {
                    j.txs.push(("settle".into(), tx.tx_hash.to_string()));
                    format!("in block {} (tx {})", tx.block_number, tx.tx_hash)
                }
                None => "already on chain".into(),
            };
            let provider = j.provider.clone().unwrap_or_default();
            if let Some(mut p) = t.provider(&provider)? {
                p.completed += 1;
                p.earned += paid;
                t.put_provider(&p)?;
            }
            t.put_job(&j)?;
            t.event(
                id,
                now,
                &format!(
                    "chain: settled, {} paid to {provider} (fee {}) {how}",
                    fmt_usdt(paid),
                    fmt_usdt(fee)
                ),
            )?;
        }
        Ok(())
    })?;
    node.shared.receipt_wake.notify_one();
    Ok(())
}
