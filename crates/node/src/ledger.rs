//! The escrow as the node uses it: a narrow trait over the `ComputeMarket` client, so the node's
//! bookkeeping is tested without a chain ([`MemoryLedger`]) and runs against the real contract
//! ([`cairn_escrow::Escrow`]) in production.
//!
//! Only the operator's calls are here (assign, reassign, settle, refund) plus the views the node
//! checks submissions and results against. Requesters post and workers commit with their own
//! keys, through their own `Escrow` clients.
use alloy::primitives::{Address, B256, U256};
use cairn_escrow::{Error, Job, JobId, JobState, MarketConfig, Result, Tx, result_commitment};
use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
};

/// A boxed future, so the trait can be used as `dyn Ledger`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The operator's view of the escrow contract.
pub trait Ledger: Send + Sync + 'static {
    /// Chain id.
    fn chain_id(&self) -> u64;
    /// The market's address.
    fn market(&self) -> Address;
    /// Parameters and roles.
    fn config(&self) -> BoxFuture<'_, Result<MarketConfig>>;
    /// The chain's clock (latest block timestamp).
    fn chain_time(&self) -> BoxFuture<'_, Result<u64>>;
    /// The hash of the chain's block 0: tells a reset chain (same id, same contract addresses
    /// after a redeploy) from the one the node's state was made on.
    fn genesis_hash(&self) -> BoxFuture<'_, Result<B256>>;
    /// A job, or `None` if never posted.
    fn job(&self, id: JobId) -> BoxFuture<'_, Result<Option<Job>>>;
    /// The receipt key the operator published on the market (`None`: none).
    fn receipt_key(&self) -> BoxFuture<'_, Result<Option<B256>>>;
    /// Publishes the node's receipt key on the market.
    fn set_receipt_key(&self, key: B256) -> BoxFuture<'_, Result<Tx>>;
    /// Whether `provider` may be assigned jobs.
    fn is_eligible(&self, provider: Address) -> BoxFuture<'_, Result<bool>>;
    /// Assigns open jobs (all or nothing).
    fn assign_jobs<'a>(&'a self, jobs: &'a [(JobId, Address)]) -> BoxFuture<'a, Result<Tx>>;
    /// Moves an assigned job to another provider.
    fn reassign_job(&self, id: JobId, provider: Address) -> BoxFuture<'_, Result<Tx>>;
    /// Settles committed jobs past their window (all or nothing).
    fn settle_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>>;
    /// Refunds open or assigned jobs as the operator (all or nothing).
    fn refund_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>>;
    /// Closes assigned jobs that ended without a result: pays each provider its charge (less
    /// the fee) and refunds the rest (all or nothing).
    fn close_jobs<'a>(&'a self, jobs: &'a [(JobId, u64)]) -> BoxFuture<'a, Result<Tx>>;
    /// Challenges a committed result (as the operator).
    fn challenge(&self, id: JobId) -> BoxFuture<'_, Result<Tx>>;
    /// Escrows a job paid by the operator itself (a replica of another job's result, from
    /// the operator's verification budget): approves the market for `payment` if needed and
    /// posts it. Returns the new job's id.
    fn post_job(
        &self,
        spec_digest: B256,
        payment: u64,
        accept_by: u64,
        deadline: u64,
    ) -> BoxFuture<'_, Result<(JobId, Tx)>>;
    /// Takes `amount` of `provider`'s bond and pays it to `beneficiary` (as the arbiter).
    fn slash(
        &self,
        provider: Address,
        amount: u64,
        beneficiary: Address,
    ) -> BoxFuture<'_, Result<Tx>>;
    /// The contract client for refereed bisection disputes (`None`: this ledger cannot
    /// dispute, so a failed audit takes the direct path: challenge, refund, slash).
    fn disputes(&self) -> Option<&cairn_escrow::Escrow> {
        None
    }
}

impl Ledger for cairn_escrow::Escrow {
    fn disputes(&self) -> Option<&cairn_escrow::Escrow> {
        Some(self)
    }
    fn chain_id(&self) -> u64 {
        self.chain().chain_id()
    }
    fn market(&self) -> Address {
        self.address()
    }
    fn config(&self) -> BoxFuture<'_, Result<MarketConfig>> {
        Box::pin(cairn_escrow::Escrow::config(self))
    }
    fn chain_time(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(cairn_escrow::Escrow::chain_time(self))
    }
    fn genesis_hash(&self) -> BoxFuture<'_, Result<B256>> {
        Box::pin(async move { Ok(self.chain().genesis_hash().await?) })
    }
    fn job(&self, id: JobId) -> BoxFuture<'_, Result<Option<Job>>> {
        Box::pin(cairn_escrow::Escrow::job(self, id))
    }
    fn is_eligible(&self, provider: Address) -> BoxFuture<'_, Result<bool>> {
        Box::pin(cairn_escrow::Escrow::is_eligible(self, provider))
    }
    fn receipt_key(&self) -> BoxFuture<'_, Result<Option<B256>>> {
        Box::pin(cairn_escrow::Escrow::receipt_key(self))
    }
    fn set_receipt_key(&self, key: B256) -> BoxFuture<'_, Result<Tx>> {
        Box::pin(cairn_escrow::Escrow::set_receipt_key(self, key))
    }
    fn assign_jobs<'a>(&'a self, jobs: &'a [(JobId, Address)]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(cairn_escrow::Escrow::assign_jobs(self, jobs))
    }
    fn reassign_job(&self, id: JobId, provider: Address) -> BoxFuture<'_, Result<Tx>> {
        Box::pin(cairn_escrow::Escrow::reassign_job(self, id, provider))
    }
    fn settle_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(cairn_escrow::Escrow::settle_many(self, ids))
    }
    fn refund_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(cairn_escrow::Escrow::refund_many(self, ids))
    }
    fn close_jobs<'a>(&'a self, jobs: &'a [(JobId, u64)]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(async move {
            let jobs: Vec<(JobId, U256)> = jobs.iter().map(|&(i, c)| (i, U256::from(c))).collect();
            cairn_escrow::Escrow::close_jobs(self, &jobs).await
        })
    }
    fn challenge(&self, id: JobId) -> BoxFuture<'_, Result<Tx>> {
        Box::pin(cairn_escrow::Escrow::challenge(self, id))
    }
    fn post_job(
        &self,
        spec_digest: B256,
        payment: u64,
        accept_by: u64,
        deadline: u64,
    ) -> BoxFuture<'_, Result<(JobId, Tx)>> {
        Box::pin(async move {
            let payment = U256::from(payment);
            // One approval covers many replicas.
            if self.allowance(self.chain().require_signer()?).await? < payment {
                self.approve(payment.saturating_mul(U256::from(64u64)))
                    .await?;
            }
            let posted =
                cairn_escrow::Escrow::post_job(self, spec_digest, payment, accept_by, deadline)
                    .await?;
            Ok((posted.ids.start, posted.tx))
        })
    }
    fn slash(
        &self,
        provider: Address,
        amount: u64,
        beneficiary: Address,
    ) -> BoxFuture<'_, Result<Tx>> {
        Box::pin(cairn_escrow::Escrow::slash(
            self,
            provider,
            U256::from(amount),
            beneficiary,
        ))
    }
}

/// An in-memory stand-in for the contract with the same rules for the calls the node makes
/// (and helpers for what requesters and providers do), for tests and dry runs.
#[derive(Debug, Clone)]
pub struct MemoryLedger {
    inner: Arc<Mutex<Memory>>,
    config: MarketConfig,
    genesis: B256,
}

#[derive(Debug, Default)]
struct Memory {
    now: u64,
    next_id: JobId,
    jobs: HashMap<JobId, Job>,
    eligible: HashMap<Address, bool>,
    txs: u64,
    receipt_key: Option<B256>,
}

impl MemoryLedger {
    /// A ledger at chain time `now` with this challenge window and fee.
    pub fn new(now: u64, challenge_window: u64, fee_bps: u16) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Memory {
                now,
                next_id: 1,
                ..Memory::default()
            })),
            config: MarketConfig {
                token: Address::repeat_byte(0x70),
                operator: Address::repeat_byte(0x0a),
                arbiter: None,
                treasury: Address::repeat_byte(0x0a),
                unbonding_delay: 86_400,
                challenge_window,
                fee_bps,
                min_stake: U256::from(100_000_000u64),
            },
            genesis: B256::repeat_byte(0x9e),
        }
    }

    /// The same ledger on a chain with another genesis block (a reset devnet).
    pub fn with_genesis(mut self, genesis: B256) -> Self {
        self.genesis = genesis;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.lock().now += secs;
    }

    /// Registers an eligible provider.
    pub fn register(&self, provider: Address) {
        self.lock().eligible.insert(provider, true);
    }

    /// A requester posts a job; returns its id.
    pub fn post(
        &self,
        requester: Address,
        spec: B256,
        payment: u64,
        accept_by: u64,
        deadline: u64,
    ) -> JobId {
        let mut m = self.lock();
        let id = m.next_id;
        m.next_id += 1;
        m.jobs.insert(
            id,
            Job {
                id,
                requester,
                payment: U256::from(payment),
                provider: None,
                state: JobState::Open,
                deadline,
                expiry: accept_by,
                digest: spec,
            },
        );
        id
    }

    /// The assigned provider commits a result and its charge (the rest is refunded).
    pub fn commit(
        &self,
        id: JobId,
        caller: Address,
        output: B256,
        trace: B256,
        charge: u64,
    ) -> Result<()> {
        let mut m = self.lock();
        let now = m.now;
        let window = self.config.challenge_window;
        let job = m
            .jobs
            .get_mut(&id)
            .ok_or_else(|| rejected("commitResult", "UnknownJob"))?;
        if job.provider != Some(caller) {
            return Err(rejected("commitResult", "NotAssignedProvider"));
        }
        if job.state != JobState::Assigned {
            return Err(rejected("commitResult", "WrongState"));
        }
        if U256::from(charge) > job.payment {
            return Err(rejected("commitResult", "ChargeTooHigh"));
        }
        job.state = JobState::Committed;
        job.expiry = now + window;
        job.digest = result_commitment(job.digest, output, trace);
        job.payment = U256::from(charge);
        Ok(())
    }

    /// Transactions sent so far by the operator.
    pub fn tx_count(&self) -> u64 {
        self.lock().txs
    }

    fn tx(m: &mut Memory) -> Tx {
        m.txs += 1;
        Tx {
            tx_hash: B256::from(U256::from(m.txs)),
            block_number: m.txs,
            gas_used: 0,
        }
    }
}

fn rejected(call: &'static str, name: &'static str) -> Error {
    Error::Rejected {
        contract: Address::ZERO,
        call,
        revert: Some(name),
        reason: name.to_owned(),
    }
}

fn ready<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(v))
}

impl Ledger for MemoryLedger {
    fn chain_id(&self) -> u64 {
        31337
    }
    fn market(&self) -> Address {
        Address::repeat_byte(0x3c)
    }
    fn config(&self) -> BoxFuture<'_, Result<MarketConfig>> {
        ready(Ok(self.config))
    }
    fn chain_time(&self) -> BoxFuture<'_, Result<u64>> {
        ready(Ok(self.lock().now))
    }
    fn genesis_hash(&self) -> BoxFuture<'_, Result<B256>> {
        ready(Ok(self.genesis))
    }
    fn job(&self, id: JobId) -> BoxFuture<'_, Result<Option<Job>>> {
        ready(Ok(self.lock().jobs.get(&id).cloned()))
    }
    fn receipt_key(&self) -> BoxFuture<'_, Result<Option<B256>>> {
        ready(Ok(self.lock().receipt_key))
    }
    fn set_receipt_key(&self, key: B256) -> BoxFuture<'_, Result<Tx>> {
        let mut m = self.lock();
        m.receipt_key = Some(key);
        ready(Ok(Self::tx(&mut m)))
    }
    fn is_eligible(&self, provider: Address) -> BoxFuture<'_, Result<bool>> {
        ready(Ok(self
            .lock()
            .eligible
            .get(&provider)
            .copied()
            .unwrap_or(false)))
    }
    fn assign_jobs<'a>(&'a self, jobs: &'a [(JobId, Address)]) -> BoxFuture<'a, Result<Tx>> {
        let mut m = self.lock();
        for (id, p) in jobs {
            let ok = m
                .jobs
                .get(id)
                .is_some_and(|j| j.state == JobState::Open && m.now <= j.expiry)
                && m.eligible.get(p).copied().unwrap_or(false);
            if !ok {
                return ready(Err(rejected("assignJobs", "WrongState")));
            }
        }
        for (id, p) in jobs {
            let j = m.jobs.get_mut(id).expect("checked");
            j.state = JobState::Assigned;
            j.provider = Some(*p);
        }
        ready(Ok(Self::tx(&mut m)))
    }
    fn reassign_job(&self, id: JobId, provider: Address) -> BoxFuture<'_, Result<Tx>> {
        let mut m = self.lock();
        match m.jobs.get_mut(&id) {
            Some(j) if j.state == JobState::Assigned && j.provider != Some(provider) => {
                j.provider = Some(provider);
                ready(Ok(Self::tx(&mut m)))
            }
            _ => ready(Err(rejected("reassignJob", "WrongState"))),
        }
    }
    fn settle_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>> {
        let mut m = self.lock();
        let now = m.now;
        if ids
            .iter()
            .any(|id| !m.jobs.get(id).is_some_and(|j| j.settleable_at(now)))
        {
            return ready(Err(rejected("settleMany", "ChallengeWindowOpen")));
        }
        for id in ids {
            m.jobs.get_mut(id).expect("checked").state = JobState::Settled;
        }
        ready(Ok(Self::tx(&mut m)))
    }
    fn refund_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>> {
        let mut m = self.lock();
        if ids.iter().any(|id| {
            !m.jobs.get(id).is_some_and(|j| {
                matches!(
                    j.state,
                    JobState::Open | JobState::Assigned | JobState::Challenged
                )
            })
        }) {
            return ready(Err(rejected("refundMany", "NotRefundable")));
        }
        for id in ids {
            m.jobs.get_mut(id).expect("checked").state = JobState::Refunded;
        }
        ready(Ok(Self::tx(&mut m)))
    }
    fn close_jobs<'a>(&'a self, jobs: &'a [(JobId, u64)]) -> BoxFuture<'a, Result<Tx>> {
        let mut m = self.lock();
        if jobs.iter().any(|(id, c)| {
            !m.jobs
                .get(id)
                .is_some_and(|j| j.state == JobState::Assigned && U256::from(*c) <= j.payment)
        }) {
            return ready(Err(rejected("closeJobs", "WrongState")));
        }
        for (id, c) in jobs {
            m.jobs.get_mut(id).expect("checked").state = if *c > 0 {
                JobState::Settled
            } else {
                JobState::Refunded
            };
        }
        ready(Ok(Self::tx(&mut m)))
    }
    fn challenge(&self, id: JobId) -> BoxFuture<'_, Result<Tx>> {
        let mut m = self.lock();
        let now = m.now;
        match m.jobs.get_mut(&id) {
            Some(j) if j.state == JobState::Committed && now < j.expiry => {
                j.state = JobState::Challenged;
                ready(Ok(Self::tx(&mut m)))
            }
            _ => ready(Err(rejected("challenge", "WrongState"))),
        }
    }
    fn post_job(
        &self,
        spec_digest: B256,
        payment: u64,
        accept_by: u64,
        deadline: u64,
    ) -> BoxFuture<'_, Result<(JobId, Tx)>> {
        let id = self.post(
            self.config.operator,
            spec_digest,
            payment,
            accept_by,
            deadline,
        );
        let tx = Self::tx(&mut self.lock());
        ready(Ok((id, tx)))
    }
    fn slash(
        &self,
        provider: Address,
        amount: u64,
        _beneficiary: Address,
    ) -> BoxFuture<'_, Result<Tx>> {
        let mut m = self.lock();
        // The memory ledger keeps no bonds: a registered provider holds the minimum stake.
        if amount == 0
            || !m.eligible.contains_key(&provider)
            || U256::from(amount) > self.config.min_stake
        {
            return ready(Err(rejected("slash", "InsufficientStake")));
        }
        ready(Ok(Self::tx(&mut m)))
    }
}

/// A ledger that counts the operator's transactions and their gas (for benchmarks).
pub struct Metered {
    inner: Arc<dyn Ledger>,
    counts: Mutex<HashMap<&'static str, (u64, u64, u64)>>,
}

impl Metered {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Ledger>) -> Self {
        Self {
            inner,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Per call: (transactions, jobs, gas used).
    pub fn counts(&self) -> HashMap<&'static str, (u64, u64, u64)> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn count(&self, call: &'static str, jobs: usize, r: &Result<Tx>) {
        if let Ok(tx) = r {
            let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            let e = c.entry(call).or_default();
            e.0 += 1;
            e.1 += jobs as u64;
            e.2 += tx.gas_used;
        }
    }
}

impl Ledger for Metered {
    fn chain_id(&self) -> u64 {
        self.inner.chain_id()
    }
    fn market(&self) -> Address {
        self.inner.market()
    }
    fn config(&self) -> BoxFuture<'_, Result<MarketConfig>> {
        self.inner.config()
    }
    fn chain_time(&self) -> BoxFuture<'_, Result<u64>> {
        self.inner.chain_time()
    }
    fn genesis_hash(&self) -> BoxFuture<'_, Result<B256>> {
        self.inner.genesis_hash()
    }
    fn job(&self, id: JobId) -> BoxFuture<'_, Result<Option<Job>>> {
        self.inner.job(id)
    }
    fn is_eligible(&self, provider: Address) -> BoxFuture<'_, Result<bool>> {
        self.inner.is_eligible(provider)
    }
    fn receipt_key(&self) -> BoxFuture<'_, Result<Option<B256>>> {
        self.inner.receipt_key()
    }
    fn set_receipt_key(&self, key: B256) -> BoxFuture<'_, Result<Tx>> {
        self.inner.set_receipt_key(key)
    }
    fn assign_jobs<'a>(&'a self, jobs: &'a [(JobId, Address)]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(async move {
            let r = self.inner.assign_jobs(jobs).await;
            self.count("assignJobs", jobs.len(), &r);
            r
        })
    }
    fn reassign_job(&self, id: JobId, provider: Address) -> BoxFuture<'_, Result<Tx>> {
        Box::pin(async move {
            let r = self.inner.reassign_job(id, provider).await;
            self.count("reassignJob", 1, &r);
            r
        })
    }
    fn settle_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(async move {
            let r = self.inner.settle_many(ids).await;
            self.count("settleMany", ids.len(), &r);
            r
        })
    }
    fn refund_many<'a>(&'a self, ids: &'a [JobId]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(async move {
            let r = self.inner.refund_many(ids).await;
            self.count("refundMany", ids.len(), &r);
            r
        })
    }
    fn close_jobs<'a>(&'a self, jobs: &'a [(JobId, u64)]) -> BoxFuture<'a, Result<Tx>> {
        Box::pin(async move {
            let r = self.inner.close_jobs(jobs).await;
            self.count("closeJobs", jobs.len(), &r);
            r
        })
    }
    fn challenge(&self, id: JobId) -> BoxFuture<'_, Result<Tx>> {
        Box::pin(async move {
            let r = self.inner.challenge(id).await;
            self.count("challenge", 1, &r);
            r
        })
    }
    fn post_job(
        &self,
        spec_digest: B256,
        payment: u64,
        accept_by: u64,
        deadline: u64,
    ) -> BoxFuture<'_, Result<(JobId, Tx)>> {
        Box::pin(async move {
            let r = self
                .inner
                .post_job(spec_digest, payment, accept_by, deadline)
                .await;
            if let Ok((_, tx)) = &r {
                self.count("postJob", 1, &Ok(*tx));
            }
            r
        })
    }
    fn slash(
        &self,
        provider: Address,
        amount: u64,
        beneficiary: Address,
    ) -> BoxFuture<'_, Result<Tx>> {
        Box::pin(async move {
            let r = self.inner.slash(provider, amount, beneficiary).await;
            self.count("slash", 1, &r);
            r
        })
    }
}
