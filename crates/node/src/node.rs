//! The node's state machine: submissions, matching, leases, results, cancellation.
//!
//! ```text
//!  POST /jobs ──▶ check escrow on chain ──▶ Queued ──schedule()──▶ Assigned ──claim──▶ worker
//!                                             ▲   (matching)          │ todo = assign ──▶ chain loop
//!        lease lapsed (no heartbeat) ─────────┘                       ▼
//!                                                      started ──▶ Running ──result──▶ Committed
//!                                                                     │ module fault      │ todo = settle
//!                                                                     ▼                   ▼
//!                                                      Failed (todo = refund)     Settled ──▶ receipt
//! ```
//!
//! Every operation here is synchronous under one lock around the SQLite store: they are short
//! (microseconds) and never wait on the network. What must wait on the chain is recorded as a
//! [`Todo`] on the job and done by the chain loop in batches ([`crate::chain_loop`]).
use crate::{
    Error, NodeConfig, Result,
    ledger::Ledger,
    store::{JobRow, ProviderRow, Store, Todo},
};
use alloy::primitives::Address;
use cairn_attest::Key;
use cairn_compute::calibration::{Answer, CALIBRATION_ITERS, CHECKED_LANES, Challenge};
use cairn_compute::{
    Demand, JobState, NoMatch, Offer, Resources, StopReason,
    api::{
        Assignment, Heartbeat, HeartbeatReply, JobLogs, JobView, NodeInfo, ProviderAdvert,
        ProviderView, RunOutcome, RunReport, SubmitJob,
    },
    choose, fmt_usdt, reputation,
};
use cairn_escrow::MarketConfig;
use cairn_log_server::BlobStore;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicI64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::Notify;

/// How often unreferenced blobs are collected.
const BLOB_GC_EVERY: Duration = Duration::from_secs(600);

/// Seconds before a job's acceptance deadline after which it is no longer assigned (the
/// assignment must reach the chain before `acceptBy`).
const ASSIGN_MARGIN_SECS: u64 = 5;

/// Unix milliseconds now.
/// Runs `pass` until the node stops: again at once while `busy` says it did work, else after a
/// tick; an error is logged as "`what` failed" and backs off (200 ms doubling to 10 s).
pub(crate) async fn drive<T, F, Fut>(node: Node, what: &str, mut pass: F, busy: fn(&T) -> bool)
where
    F: FnMut(Node) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    const FIRST: Duration = Duration::from_millis(200);
    let mut stop = node.stopping();
    let mut backoff = FIRST;
    while !*stop.borrow() {
        match pass(node.clone()).await {
            Ok(t) => {
                backoff = FIRST;
                if busy(&t) {
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "{what} failed; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(node.shared.config.tick.max(backoff)) => {}
            _ = stop.changed() => {}
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Normalizes an address string (checksummed `0x…`), naming `what` on failure.
pub(crate) fn parse_address(what: &str, s: &str) -> Result<Address> {
    s.parse::<Address>().map_err(|_| {
        Error::BadRequest(format!(
            "{what}: {s:?} is not a 0x-prefixed 20-byte address"
        ))
    })
}

/// The compute node. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Node {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) config: NodeConfig,
    store: Mutex<Store>,
    /// Read connections for the API's reads (never behind the writer's lock).
    reads: crate::store::ReadPool,
    /// Last heartbeat per provider.
    live: Mutex<HashMap<String, Instant>>,
    pub(crate) blobs: BlobStore,
    pub(crate) ledger: Arc<dyn Ledger>,
    pub(crate) market: MarketConfig,
    /// Chain clock minus local clock, seconds (anvil's clock can be moved).
    chain_offset: AtomicI64,
    /// Wakes claim long-polls when leases are handed out.
    pub(crate) assignments: Notify,
    /// Wakes the chain loop.
    pub(crate) chain_wake: Notify,
    /// Wakes the receipt loop.
    pub(crate) receipt_wake: Notify,
    pub(crate) receipt_key: Key,
    pub(crate) log: Option<cairn_log_server::LogClient>,
    /// Calibrations handed out and not answered yet, by provider.
    calibrations: Mutex<HashMap<String, (Challenge, Instant)>>,
    /// When each provider was last handed a calibration (a provider credited with fewer cores
    /// than it claims may ask again, at most every `recalibrate_every`).
    calibrated_at: Mutex<HashMap<String, Instant>>,
    /// When the operator may next try to escrow a replica of each result whose last try the
    /// chain refused (an empty verification budget is not retried every tick).
    pub(crate) replica_retry: Mutex<HashMap<u64, Instant>>,
    /// Signed requests already seen (replay protection).
    pub(crate) replays: crate::auth::Replays,
    /// Counters for `GET /metrics`.
    pub(crate) metrics: crate::metrics::Metrics,
    /// Held for the node's life: one node per data directory.
    _dir_lock: std::fs::File,
    /// Set when the node stops; the background loops watch it.
    stop: tokio::sync::watch::Sender<bool>,
    /// The background loops, awaited by [`Node::shutdown`].
    loops: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("dir", &self.shared.config.dir)
            .field("market", &self.shared.ledger.market())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Opens the node's state under `config.dir` and reads the market's parameters. Background
    /// loops are not started: see [`Node::spawn_loops`].
    pub async fn open(config: NodeConfig, ledger: Arc<dyn Ledger>) -> Result<Self> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| Error::io(format!("creating {}", config.dir.display()), e))?;
        let dir_lock = lock_dir(&config.dir)?;
        let store = Store::open(&config.db_path())?;
        bind_market(&store, &config.dir, ledger.as_ref()).await?;
        let blobs = BlobStore::new(config.blobs_dir())
            .map_err(|e| Error::io(format!("opening {}", config.blobs_dir().display()), e))?;
        let receipt_key = load_or_create_key(&config.receipt_key_path())?;
        publish_receipt_key(ledger.as_ref(), &receipt_key).await?;
        let market = ledger.config().await?;
        let chain_time = ledger.chain_time().await?;
        let offset = chain_time as i64 - (now_ms() / 1000) as i64;
        // Providers holding leases get one lease period of grace after a node restart.
        let mut live = HashMap::new();
        for j in store
            .read()
            .jobs_in(&[JobState::Assigned, JobState::Running])?
        {
            if let Some(p) = j.provider {
                live.insert(p, Instant::now());
            }
        }
        let log = config.log.clone().map(cairn_log_server::LogClient::new);
        let replays = crate::auth::Replays::new(&config.write_limits);
        let reads = crate::store::ReadPool::new(&config.db_path());
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                reads,
                store: Mutex::new(store),
                live: Mutex::new(live),
                blobs,
                ledger,
                market,
                chain_offset: AtomicI64::new(offset),
                assignments: Notify::new(),
                chain_wake: Notify::new(),
                receipt_wake: Notify::new(),
                receipt_key,
                log,
                replays,
                metrics: Default::default(),
                calibrations: Mutex::new(HashMap::new()),
                calibrated_at: Mutex::new(HashMap::new()),
                replica_retry: Mutex::new(HashMap::new()),
                _dir_lock: dir_lock,
                stop: tokio::sync::watch::channel(false).0,
                loops: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A receiver that turns `true` when the node stops.
    pub(crate) fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.stop.subscribe()
    }

    /// Stops the background loops (each finishes the step it is in: a transaction being sent
    /// is confirmed and recorded first) and waits for them. Call before the HTTP server
    /// releases its port, so a restarted node never runs beside a still-sending old one.
    pub async fn shutdown(&self) {
        self.shared.stop.send_replace(true);
        let loops: Vec<_> =
            std::mem::take(&mut *self.shared.loops.lock().unwrap_or_else(|p| p.into_inner()));
        for h in loops {
            let _ = h.await;
        }
    }

    /// Starts the scheduler, chain and receipt loops on the current runtime.
    pub fn spawn_loops(&self) {
        let node = self.clone();
        let mut stop = self.stopping();
        let scheduler = tokio::spawn(async move {
            let mut last_gc = Instant::now();
            while !*stop.borrow() {
                if let Err(e) = node.schedule() {
                    tracing::error!(error = %e, "scheduling failed");
                }
                if last_gc.elapsed() >= BLOB_GC_EVERY {
                    last_gc = Instant::now();
                    let (n, grace) = (node.clone(), node.shared.config.blob_grace);
                    match tokio::task::spawn_blocking(move || n.collect_blobs(grace)).await {
                        Ok(Err(e)) => tracing::warn!(error = %e, "collecting blobs failed"),
                        Err(e) => tracing::warn!(error = %e, "collecting blobs failed"),
                        Ok(Ok(_)) => {}
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(node.shared.config.tick) => {}
                    _ = stop.changed() => {}
                }
            }
        });
        let handles = [
            tokio::spawn(crate::chain_loop::run(self.clone())),
            tokio::spawn(crate::receipts::run(self.clone())),
            tokio::spawn(crate::audit::run(self.clone())),
            tokio::spawn(crate::replication::run(self.clone())),
            tokio::spawn(crate::dispute_task::run(self.clone())),
            scheduler,
        ];
        self.shared
            .loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(handles);
    }

    /// Runs the sampled step audits due now (the loop started by [`Node::spawn_loops`] does
    /// this by itself). Returns how many jobs were audited.
    pub async fn audit_pass(&self) -> Result<usize> {
        crate::audit::pass(self).await
    }

    /// Runs one step of every replication due now: compares replica results, escrows the next
    /// replica, falls back past the deadline (the loop started by [`Node::spawn_loops`] does
    /// this by itself). Returns how many results changed.
    pub async fn replication_pass(&self) -> Result<usize> {
        crate::replication::pass(self).await
    }

    /// Advances the node's refereed bisection disputes by what the chain says now (the loop
    /// started by [`Node::spawn_loops`] does this by itself). Returns how many are open.
    pub async fn dispute_pass(&self) -> Result<usize> {
        crate::dispute_task::pass(self).await
    }

    /// Runs one pass of chain work (the loop started by [`Node::spawn_loops`] does this by
    /// itself). Returns whether anything was sent.
    pub async fn chain_pass(&self) -> Result<bool> {
        crate::chain_loop::pass(self).await
    }

    /// Watches the id of the newest live-feed event.
    pub fn feed_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.store().feed_watch()
    }

    /// Live-feed events after `after`, oldest first, at most `limit`.
    pub fn feed_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<cairn_compute::api::FeedEvent>> {
        self.reads()?.read().feed_after(after, limit)
    }

    /// A read connection of its own: reads that do not wait for a write in progress.
    pub(crate) fn reads(&self) -> Result<crate::store::PooledReader<'_>> {
        self.shared.reads.get()
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.shared.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the store counts for `GET /metrics`.
    pub(crate) fn store_counts(&self) -> Result<crate::metrics::StoreCounts> {
        self.reads()?.read().counts()
    }

    /// Providers whose last heartbeat is within the lease period.
    pub(crate) fn online_providers(&self) -> usize {
        let lease = self.shared.config.lease;
        self.live()
            .values()
            .filter(|t| t.elapsed() <= lease)
            .count()
    }

    /// The providers whose last heartbeat is within the lease period.
    pub(crate) fn online_addresses(&self) -> Vec<String> {
        let lease = self.shared.config.lease;
        self.live()
            .iter()
            .filter(|(_, t)| t.elapsed() <= lease)
            .map(|(a, _)| a.clone())
            .collect()
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.shared.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The chain's clock, estimated from the last reading and the local clock.
    pub(crate) fn chain_now(&self) -> u64 {
        let local = (now_ms() / 1000) as i64;
        (local + self.shared.chain_offset.load(Ordering::Relaxed)).max(0) as u64
    }

    pub(crate) fn set_chain_time(&self, chain_time: u64) {
        let local = (now_ms() / 1000) as i64;
        self.shared
            .chain_offset
            .store(chain_time as i64 - local, Ordering::Relaxed);
    }

    /// What the node tells clients about itself.
    pub fn info(&self) -> NodeInfo {
        let s = &self.shared;
        NodeInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            chain_id: s.ledger.chain_id(),
            rpc_url: s.config.public_rpc_url.clone(),
            market: s.ledger.market().to_string(),
            token: s.market.token.to_string(),
            operator: s.market.operator.to_string(),
            min_stake: s.market.min_stake.to_string(),
            heartbeat_ms: s.config.heartbeat.as_millis() as u64,
            lease_ms: s.config.lease.as_millis() as u64,
            receipt_key: s.receipt_key.public().to_base64(),
            log: s.config.log.clone(),
        }
    }

    /// The content-addressed store.
    pub fn blobs(&self) -> &BlobStore {
        &self.shared.blobs
    }

    // ------------------------------------------------------------------ requesters

    /// Accepts a job whose payment the requester escrowed on chain with the spec's digest.
    pub async fn submit(&self, req: SubmitJob) -> Result<JobView> {
        self.submit_by(None, req).await
    }

    /// [`Node::submit`] for a request signed by `signer`, who must be the escrow's requester.
    pub async fn submit_signed(&self, signer: Address, req: SubmitJob) -> Result<JobView> {
        self.submit_by(Some(signer), req).await
    }

    async fn submit_by(&self, signer: Option<Address>, req: SubmitJob) -> Result<JobView> {
        req.spec.validate()?;
        for (i, blob) in req.spec.blobs().enumerate() {
            let digest = blob.digest().expect("validated");
            let what = match i {
                0 if req.spec.kind == cairn_compute::JobKind::Wasm => "module".to_owned(),
                0 => format!("the [{}] program", req.spec.kind),
                _ => format!("input {:?}", req.spec.inputs[i - 1].name),
            };
            // A size check from the file's metadata: the store names each blob by its digest
            // (checked on upload), so nothing is read or hashed on the request path.
            match self.shared.blobs.size(&digest) {
                Ok(Some(n)) if n == blob.size => {}
                Ok(_) => {
                    return Err(Error::BadRequest(format!(
                        "{what} (sha256:{}, {} bytes) is not in the node's store; upload it first (PUT /blob)",
                        blob.sha256, blob.size
                    )));
                }
                Err(e) => return Err(Error::io("reading a blob", e)),
            }
        }
        let chain_job = self.shared.ledger.job(req.job_id).await?.ok_or_else(|| {
            Error::BadRequest(format!(
                "job {} is not posted on the ComputeMarket at {}; escrow it first (postJob)",
                req.job_id,
                self.shared.ledger.market()
            ))
        })?;
        if let Some(signer) = signer
            && signer != chain_job.requester
        {
            return Err(Error::Unauthorized(format!(
                "job {} was escrowed by {}, but the submission is signed by {signer}; sign it with the requester's key",
                req.job_id, chain_job.requester
            )));
        }
        let digest = req.spec.digest();
        if chain_job.state != cairn_escrow::JobState::Open {
            return Err(Error::Conflict(format!(
                "job {} is {} on chain, not open",
                req.job_id, chain_job.state
            )));
        }
        if chain_job.digest.0 != digest {
            return Err(Error::BadRequest(format!(
                "job {} escrows spec digest {}, but this spec's digest is 0x{}",
                req.job_id,
                chain_job.digest,
                hex::encode(digest)
            )));
        }
        if chain_job.payment != alloy::primitives::U256::from(req.spec.payment) {
            return Err(Error::BadRequest(format!(
                "job {} escrows {} base units, but the spec's payment is {}",
                req.job_id, chain_job.payment, req.spec.payment
            )));
        }
        let now = now_ms();
        let row = JobRow {
            id: req.job_id,
            spec_digest: hex::encode(digest),
            spec: req.spec,
            requester: chain_job.requester.to_string(),
            state: JobState::Queued,
            stop: None,
            waiting: None,
            provider: None,
            providers: vec![],
            excluded: vec![],
            attempt: 0,
            claimed: false,
            chain_provider: None,
            todo: None,
            receipt_todo: false,
            accept_by: chain_job.expiry,
            deadline: chain_job.deadline,
            challenge_ends: None,
            submitted_ms: now,
            started_ms: None,
            finished_ms: None,
            result: None,
            paid: None,
            fee: None,
            refunded: None,
            receipt: None,
            txs: vec![],
            cancelling: false,
            charge: None,
            audit: None,
            slash: None,
            verification: None,
            replication: None,
            replica_of: None,
            dispute: None,

            checkpoints: vec![],
            resumed: None,
        };
        self.store().tx(|t| {
            if t.job(row.id)?.is_some() {
                return Err(Error::Conflict(format!(
                    "job {} was already submitted",
                    row.id
                )));
            }
            t.put_job(&row)?;
            t.event(
                row.id,
                now,
                &format!(
                    "submitted by {}: {} escrowed, accept by chain time {}, deadline {}",
                    row.requester,
                    fmt_usdt(row.spec.payment),
                    row.accept_by,
                    row.deadline
                ),
            )
        })?;
        self.schedule_some(Some(row.id))?;
        self.job(row.id)
    }

    /// A job's spec (what its digest, escrowed on chain, commits to): what a verifier re-runs.
    pub fn spec(&self, id: u64) -> Result<cairn_compute::JobSpec> {
        Ok(self
            .reads()?
            .read()
            .job(id)?
            .ok_or_else(|| Error::NotFound(format!("no job {id} on this node")))?
            .spec)
    }

    /// A job as `cairn job status` shows it.
    pub fn job(&self, id: u64) -> Result<JobView> {
        let row = self
            .reads()?
            .read()
            .job(id)?
            .ok_or_else(|| Error::NotFound(format!("no job {id} on this node")))?;
        Ok(view(&row))
    }

    /// Deletes blobs that no job refers to (module, inputs, outputs, stdout, stderr) and that
    /// are older than `grace` (an upload waits for its job a while). Returns how many went.
    pub fn collect_blobs(&self, grace: Duration) -> Result<usize> {
        let mut referenced = std::collections::HashSet::new();
        {
            let store = self.reads()?;
            let r = store.read();
            let mut before = u64::MAX;
            loop {
                let page = r.jobs_before(before, 1000)?;
                let Some(last) = page.last() else { break };
                before = last.id;
                for j in &page {
                    for b in j.spec.blobs() {
                        referenced.insert(b.sha256.clone());
                    }
                    for c in &j.checkpoints {
                        referenced.insert(c.sha256.clone());
                    }
                    if let Some(res) = &j.result {
                        for o in res.outputs.iter().chain([&res.stdout, &res.stderr]) {
                            referenced.insert(o.sha256.clone());
                        }
                    }
                }
            }
        }
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(UNIX_EPOCH);
        let mut removed = 0;
        for (digest, written) in self
            .shared
            .blobs
            .list()
            .map_err(|e| Error::io("listing blobs", e))?
        {
            if written > cutoff || referenced.contains(&hex::encode(digest)) {
                continue;
            }
            self.shared
                .blobs
                .remove(&digest)
                .map_err(|e| Error::io("removing a blob", e))?;
            removed += 1;
        }
        if removed > 0 {
            tracing::info!(removed, "unreferenced blobs collected");
        }
        Ok(removed)
    }

    /// A page of jobs, newest first, filtered by requester and state.
    pub fn jobs(&self, q: &cairn_compute::api::JobQuery) -> Result<Vec<JobView>> {
        let limit = q.limit.unwrap_or(50);
        if limit == 0 || limit > cairn_compute::api::MAX_JOB_PAGE {
            return Err(Error::BadRequest(format!(
                "limit {limit} is out of range: ask for 1 to {} jobs per page",
                cairn_compute::api::MAX_JOB_PAGE
            )));
        }
        let requester = match &q.requester {
            Some(r) => Some(parse_address("requester", r)?.to_string()),
            None => None,
        };
        let mut before = q.before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        let store = self.reads()?;
        let r = store.read();
        while out.len() < limit {
            let batch = r.jobs_before(before, 500)?;
            let Some(last) = batch.last() else { break };
            before = last.id;
            out.extend(
                batch
                    .iter()
                    .filter(|j| requester.as_deref().is_none_or(|x| j.requester == x))
                    .filter(|j| q.state.is_none_or(|s| j.state == s))
                    .take(limit - out.len())
                    .map(view),
            );
        }
        Ok(out)
    }

    /// A job's history and streams.
    pub fn logs(&self, id: u64) -> Result<JobLogs> {
        let (row, events) = {
            let store = self.reads()?;
            let r = store.read();
            let row = r
                .job(id)?
                .ok_or_else(|| Error::NotFound(format!("no job {id} on this node")))?;
            (row, r.events(id)?)
        };
        let stream = |o: Option<&cairn_compute::api::OutputRef>| -> Option<String> {
            let o = o?;
            let mut d = [0u8; 32];
            hex::decode_to_slice(&o.sha256, &mut d).ok()?;
            let bytes = self.shared.blobs.get(&d).ok()??;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        };
        Ok(JobLogs {
            id,
            events,
            stdout: stream(row.result.as_ref().map(|r| &r.stdout)),
            stderr: stream(row.result.as_ref().map(|r| &r.stderr)),
        })
    }

    /// The requester (checked by the caller's signature) stops a job and gets a refund. A job
    /// whose result is committed cannot be cancelled.
    pub fn cancel(&self, requester: Address, id: u64) -> Result<JobView> {
        let now = now_ms();
        self.store().tx(|t| {
            let mut j = t
                .job(id)?
                .ok_or_else(|| Error::NotFound(format!("no job {id} on this node")))?;
            if j.requester != requester.to_string() {
                return Err(Error::Unauthorized(format!(
                    "job {id} belongs to {}, not {requester}",
                    j.requester
                )));
            }
            if j.state == JobState::Cancelled {
                return Ok(());
            }
            j.state.check(id, JobState::Cancelled).map_err(|_| {
                Error::Conflict(format!(
                    "job {id} is {}; only queued, assigned or running jobs can be cancelled",
                    j.state
                ))
            })?;
            if j.state == JobState::Running || (j.state == JobState::Assigned && j.claimed) {
                // The provider is (about to be) computing: it stops at its next heartbeat and
                // reports what it used; that much is paid, the rest refunded.
                if !j.cancelling {
                    j.cancelling = true;
                    t.put_job(&j)?;
                    t.event(
                        id,
                        now,
                        "cancel requested by the requester; the provider stops the run and is paid for the fuel it used, the rest is refunded",
                    )?;
                }
                return Ok(());
            }
            j.state = JobState::Cancelled;
            j.stop = Some(StopReason::Cancelled);
            j.todo = Some(Todo::Refund);
            j.finished_ms = Some(now);
            t.put_job(&j)?;
            t.event(id, now, "cancelled by the requester; refund queued")
        })?;
        self.shared.chain_wake.notify_one();
        self.job(id)
    }

    // ------------------------------------------------------------------ providers

    /// Registers or updates a provider (its stake is checked on chain).
    pub async fn advertise(&self, signer: Address, ad: ProviderAdvert) -> Result<ProviderView> {
        let addr = parse_address("address", &ad.address)?;
        if addr != signer {
            return Err(Error::Unauthorized(format!(
                "the advert is for {addr} but was signed by {signer}"
            )));
        }
        ad.ask.validate("ask")?;
        if ad.capacity.cpu_cores == 0 || ad.capacity.memory_bytes == 0 {
            return Err(Error::BadRequest(
                "capacity: a provider must offer at least one core and some memory".into(),
            ));
        }
        if ad.kinds.is_empty() || ad.devices.len() > 64 || ad.devices.iter().any(|d| d.len() > 64) {
            return Err(Error::BadRequest(
                "kinds: a provider must run at least one job kind (and name at most 64 devices of at most 64 bytes)".into(),
            ));
        }
        if !self.shared.ledger.is_eligible(addr).await? {
            return Err(Error::Conflict(format!(
                "{addr} is not an eligible provider on the ComputeMarket at {}: register with at least {} base units of stake first",
                self.shared.ledger.market(),
                self.shared.market.min_stake
            )));
        }
        let key = addr.to_string();
        self.store().tx(|t| {
            let mut p = t.provider(&key)?.unwrap_or(ProviderRow {
                address: key.clone(),
                capacity: ad.capacity,
                ask: ad.ask,
                gpu_names: vec![],
                kinds: vec![],
                devices: vec![],
                version: String::new(),
                completed: 0,
                failed: 0,
                lost: 0,
                earned: 0,
                verified_cores: None,
                streak: 0,
            });
            // A new claim is checked again (a trusted pool takes it as it is).
            if !self.shared.config.calibrate {
                p.verified_cores = Some(ad.capacity.cpu_cores);
            } else if p.capacity.cpu_cores != ad.capacity.cpu_cores {
                p.verified_cores = None;
            }
            p.capacity = ad.capacity;
            p.ask = ad.ask;
            p.gpu_names = ad.gpu_names.clone();
            p.kinds = ad.kinds.clone();
            p.devices = ad.devices.clone();
            p.version = ad.version.clone();
            t.put_provider(&p)
        })?;
        self.live().insert(key.clone(), Instant::now());
        self.schedule()?;
        let mut view = self.provider(&key)?;
        // A provider credited with fewer cores than it claims (it was busy when it answered, or
        // it overstates) may be checked again when it advertises, at most every
        // `recalibrate_every`; what it was credited with stands until it answers.
        let short = self.shared.config.calibrate
            && view
                .verified_cores
                .is_some_and(|v| v < ad.capacity.cpu_cores);
        let due = self
            .shared
            .calibrated_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .is_none_or(|t| t.elapsed() >= self.shared.config.recalibrate_every);
        if view.verified_cores.is_none() || (short && due) {
            self.shared
                .calibrated_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone(), Instant::now());
            // Until it answers, the provider is matched to nothing.
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed)
                .map_err(|e| Error::Corrupt(format!("no randomness: {e}")))?;
            let c = Challenge {
                seed: hex::encode(seed),
                lanes: ad.capacity.cpu_cores,
                iters: CALIBRATION_ITERS,
            };
            self.calibrations()
                .insert(key.clone(), (c.clone(), Instant::now()));
            view.calibration = Some(c);
        }
        Ok(view)
    }

    fn calibrations(&self) -> MutexGuard<'_, HashMap<String, (Challenge, Instant)>> {
        self.shared
            .calibrations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The provider's answer to its calibration: checked (a few lanes recomputed, off the
    /// runtime) and timed; the cores its throughput shows are the cores it is matched with.
    pub async fn calibrate(&self, signer: Address, answer: Answer) -> Result<ProviderView> {
        let key = signer.to_string();
        let (challenge, issued) = self.calibrations().remove(&key).ok_or_else(|| {
            Error::Conflict(format!(
                "{key} has no calibration pending; advertise (POST /providers) to get one"
            ))
        })?;
        let elapsed_ms = issued.elapsed().as_millis() as u64;
        let mut picks = [0u8; 8];
        getrandom::fill(&mut picks).map_err(|e| Error::Corrupt(format!("no randomness: {e}")))?;
        let lanes: Vec<u32> = picks
            .chunks(4)
            .take(CHECKED_LANES)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) % challenge.lanes.max(1))
            .collect();
        let c = challenge.clone();
        let checked = tokio::task::spawn_blocking(move || {
            cairn_compute::calibration::check(&c, &answer, &lanes)
        })
        .await
        .map_err(|e| Error::Corrupt(e.to_string()))?;
        let verified = match &checked {
            Ok(()) => cairn_compute::calibration::verified_cores(&challenge, elapsed_ms),
            Err(_) => 0,
        };
        self.store().tx(|t| {
            let Some(mut p) = t.provider(&key)? else {
                return Err(Error::NotFound(format!("no provider {key} on this node")));
            };
            p.verified_cores = Some(verified);
            if checked.is_err() {
                p.lost += 1;
            }
            t.put_provider(&p)
        })?;
        match &checked {
            Ok(()) => {
                tracing::info!(provider = %key, claimed = challenge.lanes, verified, elapsed_ms, "calibrated")
            }
            Err(e) => tracing::warn!(provider = %key, error = %e, "calibration failed"),
        }
        if let Err(e) = checked {
            return Err(Error::BadRequest(format!(
                "calibration failed: {e}; the provider is not matched until it advertises and answers again"
            )));
        }
        self.schedule()?;
        self.provider(&key)
    }

    /// Records a heartbeat; answers with the jobs the worker should drop.
    pub fn heartbeat(&self, signer: Address, hb: &Heartbeat) -> Result<HeartbeatReply> {
        let key = signer.to_string();
        let known = self.store().read().provider(&key)?.is_some();
        if !known {
            return Err(Error::NotFound(format!(
                "{key} has not advertised to this node; POST /providers first"
            )));
        }
        let was_offline = self.live().insert(key.clone(), Instant::now()).is_none();
        let leased_jobs = self.store().read().leased_to(&key)?;
        let leased: Vec<u64> = leased_jobs.iter().map(|j| j.id).collect();
        let cancel: Vec<u64> = leased_jobs
            .iter()
            .filter(|j| j.cancelling)
            .map(|j| j.id)
            .collect();
        let abandon = hb
            .running
            .iter()
            .copied()
            .filter(|id| !leased.contains(id))
            .collect();
        if was_offline {
            self.schedule()?;
        }
        Ok(HeartbeatReply { abandon, cancel })
    }

    /// Hands the provider its oldest unclaimed lease, if any.
    pub fn claim(&self, signer: Address) -> Result<Option<Assignment>> {
        let key = signer.to_string();
        self.live().insert(key.clone(), Instant::now());
        let now = now_ms();
        let offset = self.chain_now() as i64 - (now / 1000) as i64;
        self.store().tx(|t| {
            let Some(mut j) = t
                .leased_to(&key)?
                .into_iter()
                .find(|j| j.state == JobState::Assigned && !j.claimed)
            else {
                return Ok(None);
            };
            j.claimed = true;
            let resume = crate::progress::hand_off(&mut j, &key);
            t.put_job(&j)?;
            t.event(j.id, now, &format!("lease picked up by {key}"))?;
            if let Some(r) = &j.resumed
                && !resume.is_empty()
            {
                t.event(j.id, now, &r.to_string())?;
            }
            Ok(Some(Assignment {
                job_id: j.id,
                spec: j.spec.clone(),
                attempt: j.attempt,
                deadline_unix_ms: ((j.deadline as i64 - offset).max(0) as u64) * 1000,
                resume,
            }))
        })
    }

    /// Waits up to `wait` for a lease for `signer`.
    pub async fn claim_wait(&self, signer: Address, wait: Duration) -> Result<Option<Assignment>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.shared.assignments.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(a) = self.claim(signer)? {
                return Ok(Some(a));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    pub(crate) fn leased_job(t: &crate::store::Tx<'_>, signer: Address, id: u64) -> Result<JobRow> {
        let j = t
            .job(id)?
            .ok_or_else(|| Error::NotFound(format!("no job {id} on this node")))?;
        if j.provider.as_deref() != Some(signer.to_string().as_str()) || !j.state.is_leased() {
            return Err(Error::Conflict(format!(
                "job {id} is not leased to {signer} (it is {}{}); drop it",
                j.state,
                j.provider
                    .as_ref()
                    .map(|p| format!(" with {p}"))
                    .unwrap_or_default()
            )));
        }
        Ok(j)
    }

    /// The lease holder started running the job.
    pub fn started(&self, signer: Address, id: u64) -> Result<JobView> {
        let now = now_ms();
        self.store().tx(|t| {
            let mut j = Self::leased_job(t, signer, id)?;
            if j.state == JobState::Assigned {
                j.state = JobState::Running;
                j.started_ms = Some(now);
                t.put_job(&j)?;
                t.event(
                    id,
                    now,
                    &format!("running on {signer} (attempt {})", j.attempt),
                )?;
            }
            Ok(())
        })?;
        self.job(id)
    }

    /// The lease holder gives the job back (it cannot run it); another provider will.
    pub fn release(&self, signer: Address, id: u64, why: &str) -> Result<JobView> {
        let now = now_ms();
        self.store().tx(|t| {
            let mut j = Self::leased_job(t, signer, id)?;
            requeue(&mut j, &signer.to_string());
            t.put_job(&j)?;
            t.event(
                id,
                now,
                &format!("{signer} gave the job back ({why}); returned to the queue"),
            )
        })?;
        self.schedule()?;
        self.job(id)
    }

    /// The lease holder reports how its run ended. A success must already be committed on
    /// chain with the reported digests.
    pub async fn report(&self, signer: Address, report: RunReport) -> Result<JobView> {
        let id = report.job_id;
        // Check without holding the lock across the chain read.
        let (spec_digest, spec, started_ms) = {
            let store = self.store();
            let j = store
                .read()
                .job(id)?
                .ok_or_else(|| Error::NotFound(format!("no job {id} on this node")))?;
            if j.provider.as_deref() != Some(signer.to_string().as_str()) || !j.state.is_leased() {
                return Err(Error::Conflict(format!(
                    "job {id} is not leased to {signer} (it is {}); the result is not accepted",
                    j.state
                )));
            }
            (j.spec_digest.clone(), j.spec.clone(), j.started_ms)
        };
        // The bill for the metering reported: fuel is recomputable by re-running the module;
        // the time is at most what the node saw between "started" and this report.
        let observed_ms = started_ms.map_or(u64::MAX, |s| now_ms().saturating_sub(s) + 2_000);
        // A stopped training run is billed only for the steps its trace proves.
        let metered = match (&spec.train, &report.outcome) {
            (
                Some(t),
                RunOutcome::Failed {
                    reason: StopReason::Cancelled | StopReason::TimedOut { .. },
                },
            ) => report.fuel_used.min(self.units_proven_by_trace(t, &report)),
            _ => report.fuel_used,
        };
        let billed = spec.bill(metered, report.wall_time_ms.min(observed_ms));
        for o in report
            .outputs
            .iter()
            .chain([&report.stdout, &report.stderr])
        {
            let mut d = [0u8; 32];
            hex::decode_to_slice(&o.sha256, &mut d).map_err(|_| {
                Error::BadRequest(format!("output {:?}: sha256 is not 64 hex digits", o.name))
            })?;
            if self
                .shared
                .blobs
                .size(&d)
                .map_err(|e| Error::io("reading a blob", e))?
                .is_none_or(|n| n != o.size)
            {
                return Err(Error::BadRequest(format!(
                    "output {:?} (sha256:{}) is not in the node's store; upload it first",
                    o.name, o.sha256
                )));
            }
        }
        let mut challenge_ends = None;
        let mut overcharged = None;
        let mut committed_charge = 0;
        if report.outcome == RunOutcome::Succeeded {
            let expected = cairn_compute::api::output_digest(&report.outputs, &report.stdout);
            if hex::encode(expected) != report.output_digest {
                return Err(Error::BadRequest(format!(
                    "outputDigest {} does not match the outputs (expected {})",
                    report.output_digest,
                    hex::encode(expected)
                )));
            }
            let chain_job = self
                .shared
                .ledger
                .job(id)
                .await?
                .ok_or_else(|| Error::Corrupt(format!("job {id} vanished from the chain")))?;
            let parse = |h: &str, what: &str| -> Result<alloy::primitives::B256> {
                h.parse()
                    .or_else(|_| format!("0x{h}").parse())
                    .map_err(|_| Error::BadRequest(format!("{what} is not 32 bytes of hex")))
            };
            let commitment = cairn_escrow::result_commitment(
                parse(&spec_digest, "spec digest")?,
                parse(&report.output_digest, "outputDigest")?,
                parse(&report.trace_root, "traceRoot")?,
            );
            if chain_job.state != cairn_escrow::JobState::Committed
                || chain_job.provider != Some(signer)
                || chain_job.digest != commitment
            {
                return Err(Error::Conflict(format!(
                    "job {id} has no matching result committed on chain by {signer} (chain state: {}); commit it first (commitResult)",
                    chain_job.state
                )));
            }
            challenge_ends = chain_job.challenge_ends();
            committed_charge = chain_job.payment.saturating_to::<u64>();
            overcharged = (chain_job.payment > alloy::primitives::U256::from(billed))
                .then_some(committed_charge);
        }
        let now = now_ms();
        self.store().tx(|t| {
            let mut j = Self::leased_job(t, signer, id)?;
            let key = signer.to_string();
            let mut p = t.provider(&key)?;
            match &report.outcome {
                RunOutcome::Succeeded if overcharged.is_some() => {
                    let charged = overcharged.unwrap_or_default();
                    j.state = JobState::Failed;
                    j.stop = Some(StopReason::Overcharged { charged, billed });
                    j.todo = Some(Todo::Challenge);
                    j.finished_ms = Some(now);
                    if let Some(p) = p.as_mut() {
                        p.lost += 1;
                        p.streak = cairn_compute::verify::next_streak(p.streak, false);
                    }
                    t.event(
                        id,
                        now,
                        &format!(
                            "{signer} committed a charge of {} but its metering ({} fuel, {} ms) bills {}: challenged, refund to the requester queued",
                            fmt_usdt(charged),
                            report.fuel_used,
                            report.wall_time_ms,
                            fmt_usdt(billed)
                        ),
                    )?;
                }
                RunOutcome::Succeeded => {
                    j.state = JobState::Committed;
                    j.challenge_ends = challenge_ends;
                    // A `train` result the verification policy picks settles only once the
                    // node's audit passed, a `wasm` or `infer` one once replicas agree (a
                    // replica itself waits for the quorum); one it does not, after the
                    // challenge window.
                    let kind = j.spec.kind;
                    let checks = match kind {
                        cairn_compute::JobKind::Train => self.shared.config.audit_samples > 0,
                        // Deterministic on any provider's CPU (the sandbox; the reproducible
                        // kernels): a second run must give the same bytes.
                        cairn_compute::JobKind::Wasm | cairn_compute::JobKind::Infer => {
                            self.shared.config.replication && j.replica_of.is_none()
                        }
                    };
                    let decision = checks.then(|| {
                        let streak = p.as_ref().map_or(0, |p| p.streak);
                        let seed = crate::audit::seed(
                            self,
                            &j,
                            &report.trace_root,
                            &report.output_digest,
                        );
                        self.shared
                            .config
                            .check_policy()
                            .decide(kind, streak, seed)
                    });
                    let audited = decision.as_ref().is_some_and(|d| d.checked());
                    let replicated = audited && kind != cairn_compute::JobKind::Train;
                    if let Some(d) = &decision
                        && !d.checked()
                        && let Some(p) = p.as_mut()
                    {
                        // Accepted unchecked: the streak grows as if it had passed.
                        p.streak = cairn_compute::verify::next_streak(p.streak, true);
                    }
                    j.todo = Some(if replicated || j.replica_of.is_some() {
                        Todo::Replicate
                    } else if audited {
                        Todo::Audit
                    } else {
                        Todo::Settle
                    });
                    if replicated {
                        j.replication = Some(cairn_compute::api::ReplicationView {
                            outcome: "waiting".into(),
                            deadline: crate::replication::deadline(
                                challenge_ends.unwrap_or(0),
                                self.shared.market.challenge_window,
                            ),
                            replicas: vec![],
                            detail: "a replica is to be escrowed for another provider".into(),
                        });
                    }
                    // The unused rest of the payment went back at commit.
                    j.charge = Some(committed_charge);
                    j.refunded = Some(j.spec.payment.saturating_sub(committed_charge));
                    if let Some(tx) = &report.commit_tx {
                        j.txs.push(("commit".into(), tx.clone()));
                    }
                    j.verification = decision.clone();
                    t.event(
                        id,
                        now,
                        &format!(
                            "result committed by {signer}: {} fuel, {} ms; settles after the challenge window (chain time {}){}",
                            report.fuel_used,
                            report.wall_time_ms,
                            challenge_ends.unwrap_or(0),
                            match &decision {
                                Some(d) if replicated => format!(
                                    " once a replica on another provider agrees ({}, seed {})",
                                    d.reason, d.seed
                                ),
                                None if j.replica_of.is_some() => format!(
                                    "; compared with job {}'s result before it settles",
                                    j.replica_of.unwrap_or_default()
                                ),
                                Some(d) if audited => format!(
                                    " once a sampled step audit of {} segments passes ({})",
                                    self.shared.config.audit_samples, d.reason
                                ),
                                Some(d) => format!("; not audited ({}, seed {})", d.reason, d.seed),
                                None => String::new(),
                            }
                        ),
                    )?;
                }
                RunOutcome::Failed { reason } => {
                    // A cancellation counts only when the requester asked for it; any other
                    // stop the module did not cause is the provider's and is not paid.
                    let cancelled = j.cancelling;
                    let reason = if cancelled {
                        StopReason::Cancelled
                    } else {
                        reason.clone()
                    };
                    let paid_for = reason.is_module_fault() || cancelled;
                    let charge = if paid_for { billed } else { 0 };
                    j.state = if cancelled {
                        JobState::Cancelled
                    } else {
                        JobState::Failed
                    };
                    j.stop = Some(reason.clone());
                    j.charge = Some(charge);
                    j.todo = Some(if charge > 0 { Todo::Close } else { Todo::Refund });
                    j.finished_ms = Some(now);
                    if let Some(p) = p.as_mut() {
                        if paid_for {
                            p.failed += 1;
                        } else {
                            // An unexplained failure counts against the provider like a lost
                            // lease: reporting failures without running costs reputation.
                            p.lost += 1;
                        }
                    }
                    t.event(
                        id,
                        now,
                        &format!(
                            "stopped on {signer}: {reason}; {} metered ({} fuel, {} ms) paid to the provider, the rest refunded to the requester",
                            fmt_usdt(charge),
                            metered,
                            report.wall_time_ms
                        ),
                    )?;
                }
            }
            j.result = Some(report.clone());
            t.put_job(&j)?;
            if let Some(p) = p {
                t.put_provider(&p)?;
            }
            Ok(())
        })?;
        self.shared.chain_wake.notify_one();
        self.schedule()?;
        self.job(id)
    }

    /// The units (`steps × parameters`) the checkpoints of a stopped training run prove: the
    /// checkpoints uploaded, in schedule order from step 0, must each decode as the state at
    /// their scheduled step and hash to the trace root reported; the last one's step counts.
    /// Anything else proves nothing (0).
    fn units_proven_by_trace(&self, spec: &cairn_compute::TrainSpec, report: &RunReport) -> u64 {
        let mut bytes = Vec::new();
        let mut last = 0;
        for step in spec.checkpoint_steps() {
            let name = cairn_ml::trace::checkpoint_name(step);
            let Some(o) = report.outputs.iter().find(|o| o.name == name) else {
                break;
            };
            let mut d = [0u8; 32];
            if hex::decode_to_slice(&o.sha256, &mut d).is_err() {
                return 0;
            }
            let Ok(Some(b)) = self.shared.blobs.get(&d) else {
                return 0;
            };
            match cairn_ml::train::TrainState::from_bytes(&b, spec) {
                Ok(s) if s.step == step => {}
                _ => return 0,
            }
            bytes.push(b);
            last = step;
        }
        if bytes.is_empty() || hex::encode(cairn_ml::trace::trace_root(&bytes)) != report.trace_root
        {
            return 0;
        }
        last.saturating_mul(spec.parameters())
    }

    /// A provider as the node sees it.
    pub fn provider(&self, address: &str) -> Result<ProviderView> {
        let key = parse_address("provider", address)?.to_string();
        let store = self.reads()?;
        let r = store.read();
        let p = r
            .provider(&key)?
            .ok_or_else(|| Error::NotFound(format!("no provider {key} on this node")))?;
        let leased = r.leased_to(&key)?;
        drop(store);
        Ok(self.provider_view(&p, &leased))
    }

    /// Every provider.
    pub fn providers(&self) -> Result<Vec<ProviderView>> {
        let store = self.reads()?;
        let r = store.read();
        let mut out = Vec::new();
        for p in r.providers()? {
            let leased = r.leased_to(&p.address)?;
            out.push((p, leased));
        }
        drop(store);
        Ok(out.iter().map(|(p, l)| self.provider_view(p, l)).collect())
    }

    fn provider_view(&self, p: &ProviderRow, leased: &[JobRow]) -> ProviderView {
        let last = self.live().get(&p.address).copied();
        let ago = last.map(|t| t.elapsed());
        let used = leased.iter().fold(Resources::default(), |acc, j| {
            acc.saturating_add(&j.spec.resources)
        });
        ProviderView {
            address: p.address.clone(),
            capacity: p.capacity,
            free: matched_capacity(p, !self.shared.config.calibrate).saturating_sub(&used),
            verified_cores: p.verified_cores,
            calibration: None,
            ask: p.ask,
            gpu_names: p.gpu_names.clone(),
            kinds: p.kinds.clone(),
            devices: p.devices.clone(),
            reputation: reputation(p.completed, p.lost),
            online: ago.is_some_and(|a| a <= self.shared.config.lease),
            last_seen_ms_ago: ago.map_or(u64::MAX, |a| a.as_millis() as u64),
            jobs_completed: p.completed,
            jobs_failed: p.failed,
            leases_lost: p.lost,
            earned: p.earned,
            leased: leased.iter().map(|j| j.id).collect(),
            valid_streak: p.streak,
        }
    }

    // ------------------------------------------------------------------ scheduling

    /// One scheduling pass: lapsed leases go back to the queue, jobs past their deadlines stop,
    /// queued jobs are matched. Returns how many jobs were assigned.
    pub fn schedule(&self) -> Result<usize> {
        self.schedule_some(None)
    }

    /// A pass that matches only job `only` (when given): a new submission does not rescan a
    /// long queue.
    pub(crate) fn schedule_some(&self, only: Option<u64>) -> Result<usize> {
        let lease = self.shared.config.lease;
        let lapsed: Vec<(String, Duration)> = {
            let mut live = self.live();
            let gone: Vec<(String, Duration)> = live
                .iter()
                .filter(|(_, t)| t.elapsed() > lease)
                .map(|(k, t)| (k.clone(), t.elapsed()))
                .collect();
            for (k, _) in &gone {
                live.remove(k);
            }
            gone
        };
        let online: HashMap<String, ()> = self.live().keys().map(|k| (k.clone(), ())).collect();
        let chain_now = self.chain_now();
        let now = now_ms();
        let grace_ms = self.shared.config.overrun_grace.as_millis() as u64;
        let mut assigned = 0;
        let mut refunds = false;
        self.store().tx(|t| {
            for (provider, silent) in &lapsed {
                let jobs = t.leased_to(provider)?;
                if jobs.is_empty() {
                    continue;
                }
                if let Some(mut p) = t.provider(provider)? {
                    p.lost += jobs.len() as u64;
                    t.put_provider(&p)?;
                }
                for mut j in jobs {
                    if j.cancelling {
                        // Cancelled, and the provider vanished before reporting its metering:
                        // nothing is owed to it.
                        stop_cancelled(&mut j, now);
                        t.put_job(&j)?;
                        t.event(j.id, now, &format!("{provider} went silent before reporting the cancelled run; full refund queued"))?;
                        refunds = true;
                        continue;
                    }
                    requeue(&mut j, provider);
                    t.put_job(&j)?;
                    t.event(
                        j.id,
                        now,
                        &format!(
                            "{provider} missed its heartbeats (silent for {:.1} s); returned to the queue for another provider",
                            silent.as_secs_f64()
                        ),
                    )?;
                }
            }
            // Wall time: a provider that started a job and holds it (heartbeating) well past
            // its cap without a result loses it to another provider.
            for mut j in t.jobs_in(&[JobState::Running])? {
                let Some(started) = j.started_ms else { continue };
                let cap = j.spec.limits.wall_time_ms + grace_ms;
                if now.saturating_sub(started) <= cap {
                    continue;
                }
                let provider = j.provider.clone().unwrap_or_default();
                if let Some(mut p) = t.provider(&provider)? {
                    p.lost += 1;
                    t.put_provider(&p)?;
                }
                if j.cancelling {
                    stop_cancelled(&mut j, now);
                    refunds = true;
                } else {
                    requeue(&mut j, &provider);
                }
                t.put_job(&j)?;
                t.event(
                    j.id,
                    now,
                    &format!(
                        "{provider} ran the job {:.1} s, past its wall-time cap of {:.1} s plus {:.0} s of grace, without a result; taken from it",
                        now.saturating_sub(started) as f64 / 1000.0,
                        j.spec.limits.wall_time_ms as f64 / 1000.0,
                        grace_ms as f64 / 1000.0
                    ),
                )?;
            }
            // Deadlines, by the chain's clock.
            for mut j in t.jobs_overdue(chain_now, ASSIGN_MARGIN_SECS)? {
                let stop = if j.state == JobState::Queued {
                    let why = j.waiting.clone().unwrap_or_else(|| "no provider took it".into());
                    (JobState::Expired, StopReason::NobodyCanTake { why })
                } else if j.cancelling {
                    (JobState::Cancelled, StopReason::Cancelled)
                } else {
                    (JobState::Failed, StopReason::DeadlineMissed)
                };
                j.state = stop.0;
                t.event(j.id, now, &format!("{}; refund queued", stop.1))?;
                j.stop = Some(stop.1);
                j.todo = Some(Todo::Refund);
                j.finished_ms = Some(now);
                j.provider = None;
                t.put_job(&j)?;
                refunds = true;
            }
            let mut offers = offers(t, &online, !self.shared.config.calibrate)?;
            let queued = match only {
                Some(id) => t.job(id)?.into_iter().filter(|j| j.state == JobState::Queued).collect(),
                None => t.jobs_in(&[JobState::Queued])?,
            };
            for mut j in queued {
                let demand = Demand::of(&j.spec, j.excluded.clone());
                match choose(&demand, &offers) {
                    Ok(o) => {
                        let provider = o.provider.clone();
                        if let Some(o) = offers.iter_mut().find(|o| o.provider == provider) {
                            o.free = o.free.saturating_sub(&j.spec.resources);
                        }
                        j.state = JobState::Assigned;
                        j.provider = Some(provider.clone());
                        j.providers.push(provider.clone());
                        j.attempt += 1;
                        j.claimed = false;
                        j.waiting = None;
                        if j.chain_provider.as_deref() != Some(provider.as_str()) {
                            j.todo = Some(Todo::Assign);
                        }
                        t.put_job(&j)?;
                        t.event(
                            j.id,
                            now,
                            &format!("assigned to {provider} (attempt {})", j.attempt),
                        )?;
                        assigned += 1;
                    }
                    Err(why) => {
                        let text = explain(&why);
                        if j.waiting.as_deref() != Some(text.as_str()) {
                            t.event(j.id, now, &text)?;
                            j.waiting = Some(text);
                            t.put_job(&j)?;
                        }
                    }
                }
            }
            Ok(())
        })?;
        if assigned > 0 {
            self.shared.assignments.notify_waiters();
        }
        if assigned > 0 || refunds {
            self.shared.chain_wake.notify_one();
        }
        Ok(assigned)
    }
}

/// What a provider is matched with: its claim, with cores capped at what calibration showed
/// (none before it answered). Claimed GPUs count only in a trusted pool (calibration off):
/// a GPU claim is proven only by a device probe that a real GPU answers in time, which needs
/// the worker's CUDA path; until a provider passes one, its GPUs are not sold.
fn matched_capacity(p: &ProviderRow, trusted: bool) -> Resources {
    Resources {
        cpu_cores: p.capacity.cpu_cores.min(p.verified_cores.unwrap_or(0)),
        gpus: if trusted { p.capacity.gpus } else { 0 },
        ..p.capacity
    }
}

/// Offers: every provider, online or not, with what its leases leave free.
fn offers(
    t: &crate::store::Tx<'_>,
    online: &HashMap<String, ()>,
    trusted: bool,
) -> Result<Vec<Offer>> {
    let used = t.leased_resources()?;
    Ok(t.providers()?
        .into_iter()
        .map(|p| Offer {
            free: matched_capacity(&p, trusted)
                .saturating_sub(used.get(&p.address).unwrap_or(&Resources::default())),
            online: online.contains_key(&p.address),
            reputation: reputation(p.completed, p.lost),
            capacity: matched_capacity(&p, trusted),
            kinds: p.kinds.clone(),
            provider: p.address,
            ask: p.ask,
        })
        .collect())
}

/// The status line for a job nobody takes.
fn explain(why: &NoMatch) -> String {
    if why.is_waiting() {
        why.to_string()
    } else {
        format!("nobody can take it: {why}")
    }
}

/// Ends a job whose cancellation the provider never reported: a full refund.
fn stop_cancelled(j: &mut JobRow, now: u64) {
    j.state = JobState::Cancelled;
    j.stop = Some(StopReason::Cancelled);
    j.charge = Some(0);
    j.todo = Some(Todo::Refund);
    j.finished_ms = Some(now);
    j.provider = None;
    j.cancelling = false;
}

/// Puts a leased job back in the queue, never to be given to `provider` again.
fn requeue(j: &mut JobRow, provider: &str) {
    j.state = JobState::Queued;
    if !j.excluded.iter().any(|p| p == provider) {
        j.excluded.push(provider.to_owned());
    }
    j.provider = None;
    j.claimed = false;
    j.started_ms = None;
    // The chain still names the old provider: the next assignment is a reassignment.
    if j.todo == Some(Todo::Assign) {
        j.todo = None;
    }
}

/// The view of a stored job.
pub(crate) fn view(j: &JobRow) -> JobView {
    let reason = match j.state {
        JobState::Queued => j
            .waiting
            .clone()
            .or_else(|| Some("waiting to be matched".into())),
        JobState::Assigned => j
            .provider
            .as_ref()
            .map(|p| format!("assigned to {p}, waiting for it to start")),
        JobState::Running if j.cancelling => Some(format!(
            "cancelling: waiting for {} to stop the run and report its metering",
            j.provider.as_deref().unwrap_or("the provider")
        )),
        JobState::Running => j
            .provider
            .as_ref()
            .map(|p| format!("running on {p} (attempt {})", j.attempt)),
        JobState::Committed if j.todo == Some(Todo::Audit) => Some(format!(
            "result committed; the node is auditing sampled training steps (the provider is paid once it passes and the challenge window ends, chain time {})",
            j.challenge_ends.unwrap_or(0)
        )),
        JobState::Committed => Some(format!(
            "result committed; the provider is paid when the challenge window ends (chain time {})",
            j.challenge_ends.unwrap_or(0)
        )),
        JobState::Settled => j.paid.map(|paid| {
            let back = match j.refunded {
                Some(r) if r > 0 => format!("; {} unused, refunded to the requester", fmt_usdt(r)),
                _ => String::new(),
            };
            format!(
                "paid {} to {} (fee {}){back}",
                fmt_usdt(paid),
                j.provider.as_deref().unwrap_or("?"),
                fmt_usdt(j.fee.unwrap_or(0))
            )
        }),
        JobState::Failed | JobState::Expired | JobState::Cancelled => j.stop.as_ref().map(|s| {
            let paid = match (j.paid, j.charge) {
                (Some(p), Some(c)) if c > 0 => {
                    format!(
                        "; {} paid to the provider for the work metered",
                        fmt_usdt(p)
                    )
                }
                (None, Some(c)) if c > 0 => format!(
                    "; {} for the work metered to be paid to the provider",
                    fmt_usdt(c)
                ),
                _ => String::new(),
            };
            match j.refunded {
                Some(r) => format!("{s}{paid}; refunded {} to the requester", fmt_usdt(r)),
                None => format!("{s}{paid}; refund pending"),
            }
        }),
    };
    JobView {
        id: j.id,
        name: j.spec.name.clone(),
        state: j.state,
        reason,
        stop: j.stop.clone(),
        requester: j.requester.clone(),
        provider: j.provider.clone().or_else(|| j.providers.last().cloned()),
        providers: j.providers.clone(),
        spec_digest: j.spec_digest.clone(),
        payment: j.spec.payment,
        paid: j.paid,
        refunded: j.refunded,
        submitted_ms: j.submitted_ms,
        started_ms: j.started_ms,
        finished_ms: j.finished_ms,
        result: j.result.clone(),
        receipt: j.receipt.clone(),
        txs: j.txs.clone(),
        audit: j.audit.clone(),
        verification: j.verification.clone(),
        replication: j.replication.clone(),
        replica_of: j.replica_of,

        progress: j.checkpoints.last().cloned(),
        resumed: j.resumed.clone(),
    }
}

/// Publishes the node's receipt key on the market unless it is already there, so verifiers
/// learn it from the chain, not from the node.
async fn publish_receipt_key(ledger: &dyn Ledger, key: &Key) -> Result<()> {
    let mine = alloy::primitives::B256::from(key.public().to_bytes());
    if ledger.receipt_key().await? != Some(mine) {
        let tx = ledger.set_receipt_key(mine).await?;
        tracing::info!(key = %key.public(), tx = %tx.tx_hash, "receipt key published on the market");
    }
    Ok(())
}

/// Takes the data directory's lock file (released when the process exits, however it exits).
fn lock_dir(dir: &std::path::Path) -> Result<std::fs::File> {
    let path = dir.join("node.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::DirInUse {
            dir: dir.to_owned(),
            lock: path,
        }),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("locking {}", path.display()), e))
        }
    }
}

/// Records which market (chain id, genesis block, contract) the state in `dir` belongs to,
/// and refuses another one.
async fn bind_market(store: &Store, dir: &std::path::Path, ledger: &dyn Ledger) -> Result<()> {
    let genesis = ledger.genesis_hash().await?;
    let current = format!(
        "ComputeMarket {} on chain {} (genesis {genesis})",
        ledger.market(),
        ledger.chain_id()
    );
    match store.meta("market")? {
        Some(recorded) if recorded != current => Err(Error::WrongMarket {
            dir: dir.to_owned(),
            recorded,
            current,
        }),
        Some(recorded) => {
            // A chain reset within the same second can repeat the genesis hash (and a redeploy
            // the addresses): the newest job this node escrowed must still be on chain.
            if let Some(newest) = store.read().jobs_before(u64::MAX, 1)?.first()
                && ledger.job(newest.id).await?.is_none()
            {
                return Err(Error::WrongMarket {
                    dir: dir.to_owned(),
                    recorded: format!("{recorded}, whose job {} is escrowed there", newest.id),
                    current: format!(
                        "{current}, which has no job {} (the chain was reset)",
                        newest.id
                    ),
                });
            }
            Ok(())
        }
        None => store.set_meta("market", &current),
    }
}

fn load_or_create_key(path: &std::path::Path) -> Result<Key> {
    if path.exists() {
        return Key::read_file(path)
            .map_err(|e| Error::Corrupt(format!("{}: {e}", path.display())));
    }
    let key = Key::generate().map_err(|e| Error::Corrupt(e.to_string()))?;
    key.write_file(path)
        .map_err(|e| Error::Corrupt(format!("{}: {e}", path.display())))?;
    Ok(key)
}

#[cfg(test)]
mod read_tests {
    use super::*;
    use crate::store::tests::row;
    use tower::ServiceExt as _;

    /// Reads have their own connections: a write transaction held open (the store's lock
    /// taken, a change not committed) does not make the API's reads wait, and they see the last
    /// committed state. Before, every read took the writer's lock and waited here forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn api_reads_answer_while_a_write_transaction_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let config = NodeConfig::new(dir.path(), "http://127.0.0.1:8545").without_calibration();
        let node = Node::open(
            config,
            Arc::new(crate::MemoryLedger::new(1_000_000, 60, 100)),
        )
        .await
        .unwrap();
        node.store().tx(|t| t.put_job(&row(1))).unwrap();
        let app = crate::router(node.clone());
        let reader = node.clone();
        node.store()
            .tx(|t| {
                t.put_job(&row(2))?;
                let (send, answers) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let http = rt.block_on(
                        app.oneshot(
                            axum::http::Request::get("/jobs/1")
                                .body(axum::body::Body::empty())
                                .unwrap(),
                        ),
                    );
                    let _ = send.send((
                        http.map(|r| r.status()),
                        reader.job(1).map(|v| v.id),
                        reader.job(2).is_err(),
                        reader.jobs(&Default::default()).map(|j| j.len()),
                    ));
                });
                // A deadlock guard, not a speed check: the old code never answered.
                let (http, one, no_two, listed) = answers
                    .recv_timeout(Duration::from_secs(60))
                    .expect("the reads waited for the write transaction");
                assert_eq!(http.unwrap(), axum::http::StatusCode::OK);
                assert_eq!(one.unwrap(), 1);
                assert!(no_two, "a read saw a write that is not committed");
                assert_eq!(listed.unwrap(), 1);
                Ok(())
            })
            .unwrap();
        // Committed: the reads see it.
        assert_eq!(node.job(2).unwrap().id, 2);
        assert_eq!(node.jobs(&Default::default()).unwrap().len(), 2);
    }
}
