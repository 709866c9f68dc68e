//! [`Escrow`]: one typed async method per contract function, plus views and event readers.
//!
//! Every sending method estimates gas first (`eth_estimateGas` runs the call), so a call the
//! contract would refuse fails before anything is mined, with the custom error decoded; then it
//! waits for the receipt with [`Chain::confirm`]. Job ids are `u64` here and `uint256` on chain.
use crate::{
    Error, Result,
    events::{self, EventKind, Logged, MarketEvent, address_topic, job_topic},
    revert,
    types::{Job, JobId, JobState, MarketConfig, Posted, ProviderInfo, Tx},
};
use alloy::{
    contract::{CallBuilder, CallDecoder},
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionReceipt},
    sol_types::SolEvent,
};
use cairn_chain::{Chain, SendFailure};
use cairn_contracts::{ComputeMarket, TestToken};
use std::sync::OnceLock;

/// A client of one `ComputeMarket` deployment, signing with the chain's key.
#[derive(Debug, Clone)]
pub struct Escrow {
    chain: Chain,
    contract: Address,
    token: OnceLock<Address>,
}

pub(crate) type Market<'a> = ComputeMarket::ComputeMarketInstance<&'a DynProvider>;

impl Escrow {
    /// A client of the market at `contract`. Nothing is sent until a method is called.
    pub fn new(chain: Chain, contract: Address) -> Self {
        Self {
            chain,
            contract,
            token: OnceLock::new(),
        }
    }

    /// The market's address.
    pub fn address(&self) -> Address {
        self.contract
    }

    /// The chain this client talks to.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    pub(crate) fn market(&self) -> Market<'_> {
        ComputeMarket::new(self.contract, self.chain.provider())
    }

    fn rejected(&self, call: &'static str, e: alloy::contract::Error) -> Error {
        let (revert, reason) = match revert::decode(&e) {
            Some((name, why)) => (Some(name), format!("{name}: {why}")),
            None => (None, e.to_string()),
        };
        Error::Rejected {
            contract: self.contract,
            call,
            revert,
            reason,
        }
    }

    pub(crate) fn unexpected(&self, what: &'static str, reason: impl Into<String>) -> Error {
        Error::Unexpected {
            contract: self.contract,
            what,
            reason: reason.into(),
        }
    }

    /// Sends through [`Chain::send_call`]: estimates gas first (which runs the call, so a
    /// refusal comes back decoded and costs nothing), sends with a margin, retries transient
    /// failures and waits for a successful receipt. Only a revert becomes
    /// [`Error::Rejected`]; a transport error, a stale nonce or a missing receipt stays a
    /// chain error, which callers retry.
    pub(crate) async fn send<P: Provider + Clone, D: CallDecoder + Clone>(
        &self,
        call: &'static str,
        builder: CallBuilder<P, D>,
    ) -> Result<TransactionReceipt> {
        match self.chain.send_call(call, builder).await {
            Ok(r) => Ok(r),
            Err(SendFailure::Rejected(e)) => Err(self.rejected(call, e)),
            Err(SendFailure::Transient(e) | SendFailure::Failed(e)) => Err(Error::Chain(e)),
        }
    }

    pub(crate) async fn tx<P: Provider + Clone, D: CallDecoder + Clone>(
        &self,
        call: &'static str,
        builder: CallBuilder<P, D>,
    ) -> Result<Tx> {
        Ok(tx_of(&self.send(call, builder).await?))
    }

    pub(crate) async fn view<P: Provider, D: CallDecoder>(
        &self,
        call: &'static str,
        builder: CallBuilder<P, D>,
    ) -> Result<D::CallOutput> {
        match self
            .chain
            .rpc(call, async { Ok::<_, String>(builder.call().await) })
            .await?
        {
            Ok(v) => Ok(v),
            Err(e) if cairn_chain::send::is_revert(&e) => Err(self.rejected(call, e)),
            Err(e) => Err(Error::Chain(cairn_chain::Error::Rpc {
                call,
                url: self.chain.url().to_owned(),
                reason: e.to_string(),
            })),
        }
    }

    // ------------------------------------------------------------------ views

    /// The market's parameters and roles.
    pub async fn config(&self) -> Result<MarketConfig> {
        let m = self.market();
        let arbiter = self.view("arbiter", m.arbiter()).await?;
        Ok(MarketConfig {
            token: self.token().await?,
            operator: self.view("operator", m.operator()).await?,
            arbiter: (arbiter != Address::ZERO).then_some(arbiter),
            treasury: self.view("treasury", m.treasury()).await?,
            unbonding_delay: self.view("unbondingDelay", m.unbondingDelay()).await?,
            challenge_window: self.view("challengeWindow", m.challengeWindow()).await?,
            fee_bps: self.view("feeBps", m.feeBps()).await?,
            min_stake: self.view("minStake", m.minStake()).await?,
        })
    }

    /// The ERC-20 the market escrows (read once, then cached).
    pub async fn token(&self) -> Result<Address> {
        if let Some(t) = self.token.get() {
            return Ok(*t);
        }
        let t = self.view("token", self.market().token()).await?;
        Ok(*self.token.get_or_init(|| t))
    }

    /// The job `id`, or `None` if it was never posted.
    pub async fn job(&self, id: JobId) -> Result<Option<Job>> {
        let j = self
            .view("jobs", self.market().jobs(U256::from(id)))
            .await?;
        let raw = j.state;
        if raw == 0 {
            return Ok(None);
        }
        let state = JobState::from_u8(raw)
            .ok_or_else(|| self.unexpected("jobs", format!("job {id} has state {raw}")))?;
        Ok(Some(Job {
            id,
            requester: j.requester,
            payment: U256::from(j.payment),
            provider: (j.provider != Address::ZERO).then_some(j.provider),
            state,
            deadline: j.deadline.to::<u64>(),
            expiry: j.expiry.to::<u64>(),
            digest: j.digest,
        }))
    }

    /// The id the next posted job gets (so `next_job_id() - 1` jobs exist).
    pub async fn next_job_id(&self) -> Result<JobId> {
        let n = self.view("nextJobId", self.market().nextJobId()).await?;
        u64::try_from(n).map_err(|_| self.unexpected("nextJobId", format!("{n} exceeds u64")))
    }

    /// A provider's bond (all zero if it never registered).
    pub async fn provider(&self, who: Address) -> Result<ProviderInfo> {
        let p = self.view("providers", self.market().providers(who)).await?;
        Ok(ProviderInfo {
            stake: U256::from(p.stake),
            unbonding: U256::from(p.unbonding),
            unlock_at: p.unlockAt.to::<u64>(),
            active: p.active,
        })
    }

    /// Whether `who` may be assigned jobs (active with at least the minimum stake).
    pub async fn is_eligible(&self, who: Address) -> Result<bool> {
        self.view("isEligible", self.market().isEligible(who)).await
    }

    /// The contract's own `resultCommitment` (see [`crate::result_commitment`]).
    pub async fn result_commitment(&self, spec: B256, output: B256, trace: B256) -> Result<B256> {
        self.view(
            "resultCommitment",
            self.market().resultCommitment(spec, output, trace),
        )
        .await
    }

    /// The chain's clock as the next transaction sees it ([`Chain::clock`]). Job times are
    /// compared with this, not with the local clock.
    pub async fn chain_time(&self) -> Result<u64> {
        Ok(self.chain.clock().await?)
    }

    /// `who`'s balance of the market's token.
    pub async fn token_balance(&self, who: Address) -> Result<U256> {
        let t = TestToken::new(self.token().await?, self.chain.provider());
        self.view("token.balanceOf", t.balanceOf(who)).await
    }

    /// How much of `owner`'s token the market may spend.
    pub async fn allowance(&self, owner: Address) -> Result<U256> {
        let t = TestToken::new(self.token().await?, self.chain.provider());
        self.view("token.allowance", t.allowance(owner, self.contract))
            .await
    }

    // ------------------------------------------------------------------ token

    /// Lets the market spend `amount` of the signer's token (for stake and payments).
    pub async fn approve(&self, amount: U256) -> Result<Tx> {
        let t = TestToken::new(self.token().await?, self.chain.provider());
        self.tx("token.approve", t.approve(self.contract, amount))
            .await
    }

    /// Approves `amount` unless the market may already spend that much; `None` when no
    /// transaction was needed.
    pub async fn ensure_allowance(&self, amount: U256) -> Result<Option<Tx>> {
        let me = self.chain.require_signer()?;
        if self.allowance(me).await? >= amount {
            return Ok(None);
        }
        self.approve(amount).await.map(Some)
    }

    // ------------------------------------------------------------------ providers

    /// Registers the signer as a provider bonding `stake` (needs an allowance).
    pub async fn register_provider(&self, stake: U256) -> Result<Tx> {
        self.tx("registerProvider", self.market().registerProvider(stake))
            .await
    }

    /// Bonds `amount` more.
    pub async fn add_stake(&self, amount: U256) -> Result<Tx> {
        self.tx("addStake", self.market().addStake(amount)).await
    }

    /// Starts unbonding `amount` (withdrawable after the unbonding delay).
    pub async fn request_unstake(&self, amount: U256) -> Result<Tx> {
        self.tx("requestUnstake", self.market().requestUnstake(amount))
            .await
    }

    /// Withdraws everything that finished unbonding.
    pub async fn withdraw_stake(&self) -> Result<Tx> {
        self.tx("withdrawStake", self.market().withdrawStake())
            .await
    }

    // ------------------------------------------------------------------ jobs

    /// Posts one job, escrowing `payment` (needs an allowance). Times are chain unix seconds:
    /// `now < accept_by < deadline`.
    pub async fn post_job(
        &self,
        spec_digest: B256,
        payment: U256,
        accept_by: u64,
        deadline: u64,
    ) -> Result<Posted> {
        let m = self.market();
        let call = m.postJob(spec_digest, payment, accept_by, deadline);
        let receipt = self.send("postJob", call).await?;
        self.posted(&receipt, 1)
    }

    /// Posts `(spec digest, payment)` jobs sharing `accept_by` and `deadline` in one
    /// transaction with one token transfer; they get consecutive ids.
    pub async fn post_jobs(
        &self,
        jobs: &[(B256, U256)],
        accept_by: u64,
        deadline: u64,
    ) -> Result<Posted> {
        let (specs, payments): (Vec<B256>, Vec<U256>) = jobs.iter().copied().unzip();
        let m = self.market();
        let call = m.postJobs(specs, payments, accept_by, deadline);
        let receipt = self.send("postJobs", call).await?;
        self.posted(&receipt, jobs.len())
    }

    /// Reads the ids from the receipt's `JobPosted` logs (never guessed from `nextJobId`,
    /// which another requester may have moved meanwhile).
    fn posted(&self, receipt: &TransactionReceipt, expected: usize) -> Result<Posted> {
        let mut ids = Vec::with_capacity(expected);
        for log in receipt.inner.logs() {
            if log.address() != self.contract
                || log.topic0() != Some(&ComputeMarket::JobPosted::SIGNATURE_HASH)
            {
                continue;
            }
            match events::decode(log).map(|l| l.event) {
                Ok(MarketEvent::JobPosted { job_id, .. }) => ids.push(job_id),
                Ok(_) => {}
                Err(e) => return Err(self.unexpected("JobPosted", e)),
            }
        }
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return Err(self.unexpected("JobPosted", "the receipt has no JobPosted log"));
        };
        if ids.len() != expected || last - first + 1 != expected as u64 {
            return Err(self.unexpected(
                "JobPosted",
                format!("expected {expected} consecutive ids, got {}", ids.len()),
            ));
        }
        Ok(Posted {
            ids: first..last + 1,
            tx: tx_of(receipt),
        })
    }

    /// The requester cancels an open job and gets the payment back.
    pub async fn cancel_job(&self, id: JobId) -> Result<Tx> {
        self.tx("cancelJob", self.market().cancelJob(U256::from(id)))
            .await
    }

    /// Operator: assigns an open job to an eligible provider.
    pub async fn assign_job(&self, id: JobId, provider: Address) -> Result<Tx> {
        self.tx(
            "assignJob",
            self.market().assignJob(U256::from(id), provider),
        )
        .await
    }

    /// Operator: assigns many jobs in one transaction (all or nothing).
    pub async fn assign_jobs(&self, assignments: &[(JobId, Address)]) -> Result<Tx> {
        let ids = assignments.iter().map(|(id, _)| U256::from(*id)).collect();
        let providers = assignments.iter().map(|(_, p)| *p).collect();
        self.tx("assignJobs", self.market().assignJobs(ids, providers))
            .await
    }

    /// Operator: moves an assigned job to another provider (the first one vanished).
    pub async fn reassign_job(&self, id: JobId, provider: Address) -> Result<Tx> {
        self.tx(
            "reassignJob",
            self.market().reassignJob(U256::from(id), provider),
        )
        .await
    }

    /// The assigned provider commits its result (before the deadline) and what the run cost
    /// (`charge` ≤ payment, in base units); the rest of the payment goes back to the requester.
    pub async fn commit_result(
        &self,
        id: JobId,
        output_digest: B256,
        trace_root: B256,
        charge: U256,
    ) -> Result<Tx> {
        let m = self.market();
        let call = m.commitResult(U256::from(id), output_digest, trace_root, charge);
        self.tx("commitResult", call).await
    }

    /// The requester or operator challenges a committed result inside the window.
    pub async fn challenge(&self, id: JobId) -> Result<Tx> {
        self.tx("challenge", self.market().challenge(U256::from(id)))
            .await
    }

    /// Settles a job whose challenge window is over: provider paid `payment − fee`.
    pub async fn settle(&self, id: JobId) -> Result<Tx> {
        self.tx("settle", self.market().settle(U256::from(id)))
            .await
    }

    /// Settles many jobs in one transaction (all or nothing). Order the ids by provider: each
    /// run of one provider's jobs is paid in a single transfer.
    pub async fn settle_many(&self, ids: &[JobId]) -> Result<Tx> {
        let ids = ids.iter().map(|&id| U256::from(id)).collect();
        self.tx("settleMany", self.market().settleMany(ids)).await
    }

    /// Refunds an expired job (anyone), a failed one (operator), or a challenged one whose
    /// challenge held (arbiter).
    pub async fn refund(&self, id: JobId) -> Result<Tx> {
        self.tx("refund", self.market().refund(U256::from(id)))
            .await
    }

    /// Refunds many jobs in one transaction (all or nothing).
    pub async fn refund_many(&self, ids: &[JobId]) -> Result<Tx> {
        let ids = ids.iter().map(|&id| U256::from(id)).collect();
        self.tx("refundMany", self.market().refundMany(ids)).await
    }

    /// Operator: closes assigned jobs that ended without a result, paying each provider its
    /// charge (less the fee) for the work metered and refunding the rest (all or nothing).
    pub async fn close_jobs(&self, jobs: &[(JobId, U256)]) -> Result<Tx> {
        let ids = jobs.iter().map(|&(id, _)| U256::from(id)).collect();
        let charges = jobs.iter().map(|&(_, c)| c).collect();
        self.tx("closeJobs", self.market().closeJobs(ids, charges))
            .await
    }

    // ------------------------------------------------------------------ roles

    /// Arbiter or operator: takes `amount` of `provider`'s bond and pays it to `beneficiary`.
    pub async fn slash(&self, provider: Address, amount: U256, beneficiary: Address) -> Result<Tx> {
        self.tx("slash", self.market().slash(provider, amount, beneficiary))
            .await
    }

    /// Operator: hands the operator role to another account.
    pub async fn set_operator(&self, operator: Address) -> Result<Tx> {
        self.tx("setOperator", self.market().setOperator(operator))
            .await
    }

    /// Operator: publishes the Ed25519 key its node signs job receipts with.
    pub async fn set_receipt_key(&self, key: B256) -> Result<Tx> {
        self.tx("setReceiptKey", self.market().setReceiptKey(key))
            .await
    }

    /// The Ed25519 key the operator published for job receipts (`None`: none yet).
    pub async fn receipt_key(&self) -> Result<Option<B256>> {
        let k = self.view("receiptKey", self.market().receiptKey()).await?;
        Ok((k != B256::ZERO).then_some(k))
    }

    /// Operator: sets (or with `None` removes) the arbiter.
    pub async fn set_arbiter(&self, arbiter: Option<Address>) -> Result<Tx> {
        let a = arbiter.unwrap_or(Address::ZERO);
        self.tx("setArbiter", self.market().setArbiter(a)).await
    }

    // ------------------------------------------------------------------ events

    pub(crate) async fn logs(&self, filter: Filter) -> Result<Vec<Logged>> {
        let filter = filter.address(self.contract);
        let logs = self
            .chain
            .rpc("eth_getLogs", self.chain.provider().get_logs(&filter))
            .await?;
        logs.iter()
            .map(|l| events::decode(l).map_err(|e| self.unexpected("event log", e)))
            .collect()
    }

    fn filter(kinds: &[EventKind], from_block: u64, to_block: Option<u64>) -> Filter {
        let sigs: Vec<B256> = kinds.iter().map(|k| k.signature_hash()).collect();
        let f = Filter::new().event_signature(sigs).from_block(from_block);
        match to_block {
            Some(to) => f.to_block(to),
            None => f,
        }
    }

    /// Every market event in `from_block..=to_block` (`None`: up to the latest block), in
    /// chain order.
    pub async fn events(&self, from_block: u64, to_block: Option<u64>) -> Result<Vec<Logged>> {
        let mut f = Filter::new().from_block(from_block);
        if let Some(to) = to_block {
            f = f.to_block(to);
        }
        self.logs(f).await
    }

    /// Events of the given kinds in `from_block..=to_block`.
    pub async fn events_of(
        &self,
        kinds: &[EventKind],
        from_block: u64,
        to_block: Option<u64>,
    ) -> Result<Vec<Logged>> {
        self.logs(Self::filter(kinds, from_block, to_block)).await
    }

    /// `JobPosted` events from `from_block` on: the node's feed of new work.
    pub async fn jobs_posted_since(&self, from_block: u64) -> Result<Vec<Logged>> {
        self.events_of(&[EventKind::JobPosted], from_block, None)
            .await
    }

    /// `JobAssigned` events from `from_block` on, only those naming `provider` when given: a
    /// worker's feed of jobs it was given (or given back by reassignment).
    pub async fn assignments_since(
        &self,
        from_block: u64,
        provider: Option<Address>,
    ) -> Result<Vec<Logged>> {
        let mut f = Self::filter(&[EventKind::JobAssigned], from_block, None);
        if let Some(p) = provider {
            f = f.topic2(address_topic(p));
        }
        self.logs(f).await
    }

    /// `ResultCommitted` events from `from_block` on: jobs whose challenge window runs.
    pub async fn results_since(&self, from_block: u64) -> Result<Vec<Logged>> {
        self.events_of(&[EventKind::ResultCommitted], from_block, None)
            .await
    }

    /// `JobSettled` events from `from_block` on, only those paying `provider` when given.
    pub async fn settlements_since(
        &self,
        from_block: u64,
        provider: Option<Address>,
    ) -> Result<Vec<Logged>> {
        let mut f = Self::filter(&[EventKind::JobSettled], from_block, None);
        if let Some(p) = provider {
            f = f.topic2(address_topic(p));
        }
        self.logs(f).await
    }

    /// What `provider` was paid by settlements from `from_block` on (after fees).
    pub async fn earnings(&self, provider: Address, from_block: u64) -> Result<U256> {
        let settled = self.settlements_since(from_block, Some(provider)).await?;
        Ok(settled
            .iter()
            .map(|l| match l.event {
                MarketEvent::JobSettled { paid, .. } => paid,
                _ => U256::ZERO,
            })
            .sum())
    }

    /// Everything that happened to job `id`, in order.
    pub async fn job_events(&self, id: JobId) -> Result<Vec<Logged>> {
        let f = Self::filter(&EventKind::JOB, 0, None).topic1(job_topic(id));
        self.logs(f).await
    }
}

fn tx_of(r: &TransactionReceipt) -> Tx {
    Tx {
        tx_hash: r.transaction_hash,
        block_number: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
    }
}
