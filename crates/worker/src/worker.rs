//! The provider daemon.
//!
//! ```text
//!  start: stake on chain (if not yet) ──▶ advertise capacity + ask ──▶ ┬─ heartbeat every N ms
//!                                                                      ├─ claim (long poll) ──▶ job task
//!                                                                      └─ earnings refresh
//!  job task: started ─▶ fetch blobs (verified) ─▶ runner of the job's kind (spawn_blocking)
//!            (train: each checkpoint ─▶ upload + progress, as written; a resume point's
//!             checkpoints fetched first: `crate::resume`)
//!            ─▶ upload outputs
//!            ─▶ success: commitResult on chain ─▶ report      fault: report (refund follows)
//! ```
//!
//! Node and RPC failures are retried with backoff inside each step; a run in progress is never
//! torn down because the node or the chain hiccupped. A job is dropped only when the node says
//! the lease is gone (heartbeat `abandon`, or a conflict answer).
use crate::{
    Error, Result,
    retry::{MAX_BACKOFF, backoff, retry},
    runner::{RunError, RunJob, Runners},
    state::{JobStatus, WorkerState},
};
use alloy::{
    primitives::{B256, U256},
    signers::local::PrivateKeySigner,
};
use cairn_compute::{
    BlobRef, JobKind, JobState, Price, Resources, StopReason,
    api::{
        Assignment, Heartbeat, NodeInfo, OutputRef, ProviderAdvert, ProviderView, RunOutcome,
        RunReport, output_digest,
    },
};
use cairn_escrow::Escrow;
use cairn_node_client::{ClientError, NodeClient};
use cairn_sandbox::Sandbox;
use sha2::{Digest as _, Sha256};
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::time::Instant;

/// How the worker presents itself.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Directory for the state file and the blob cache.
    pub dir: PathBuf,
    /// Resources offered.
    pub capacity: Resources,
    /// GPU names (from detection).
    pub gpu_names: Vec<String>,
    /// The ask.
    pub ask: Price,
    /// Stake to bond when registering (`None`: the market's minimum).
    pub stake: Option<U256>,
    /// Job kinds to run (empty: every kind this build runs).
    pub kinds: Vec<JobKind>,
}

/// A running provider.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    config: WorkerConfig,
    address: String,
    node: NodeClient,
    escrow: Escrow,
    info: NodeInfo,
    runners: Runners,
    state: Mutex<WorkerState>,
    /// Jobs being run, with their "drop it" flags.
    running: Mutex<HashMap<u64, Stops>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("address", &self.inner.address)
            .field("node", &self.inner.node.url())
            .finish_non_exhaustive()
    }
}

fn node_transient(e: &ClientError) -> bool {
    e.is_transient()
}

fn chain_transient(e: &cairn_escrow::Error) -> bool {
    matches!(e, cairn_escrow::Error::Chain(_))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How a running job is stopped from outside.
#[derive(Clone, Default)]
struct Stops {
    /// The lease is gone: stop and drop the job (nothing is reported).
    dropped: Arc<AtomicBool>,
    /// The requester cancelled: stop and report the metering, so the work done is paid.
    cancelled: Arc<AtomicBool>,
    /// Set with either: the sandbox watches this one.
    halt: Arc<AtomicBool>,
}

/// The trace root committed with a `wasm` result (tensor jobs commit the Merkle root of their
/// checkpoints): the root commits to the output digest and the fuel used, so a later dispute
/// can hold the provider to both.
pub fn trace_root(output_digest: &[u8; 32], fuel_used: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"cairn-trace-v0\n");
    h.update(output_digest);
    h.update(fuel_used.to_be_bytes());
    h.finalize().into()
}

impl Worker {
    /// A worker for the node behind `node` (which must sign with `signer`), committing results
    /// through `escrow` (signing with the same key).
    pub async fn new(
        config: WorkerConfig,
        signer: PrivateKeySigner,
        node_url: &str,
        escrow: Escrow,
        info: NodeInfo,
    ) -> Result<Self> {
        Self::with_runners(config, signer, node_url, escrow, info, None).await
    }

    /// [`Worker::new`] with these runners instead of the standard ones (`None`: the standard
    /// ones, restricted to `config.kinds`): a provider's own runner for a kind.
    pub async fn with_runners(
        config: WorkerConfig,
        signer: PrivateKeySigner,
        node_url: &str,
        escrow: Escrow,
        info: NodeInfo,
        runners: Option<Runners>,
    ) -> Result<Self> {
        let address = signer.address().to_string();
        if escrow.chain().signer() != Some(signer.address()) {
            return Err(Error::Config(
                "the escrow client must sign with the worker's key".into(),
            ));
        }
        let node = NodeClient::new(node_url).with_signer(signer);
        let sandbox = tokio::task::spawn_blocking(Sandbox::new)
            .await
            .map_err(|e| Error::Config(format!("starting the sandbox: {e}")))??;
        let mut state = WorkerState::load(&config.dir)?;
        state.address = address.clone();
        state.node = node_url.to_owned();
        state.capacity = config.capacity;
        state.gpu_names = config.gpu_names.clone();
        // Runs interrupted by a restart are not picked up here: the node gives those jobs to
        // another provider when the leases lapse (a `train` job from its last checkpoint).
        for j in &mut state.jobs {
            if j.status == JobStatus::Running {
                j.status = JobStatus::Abandoned;
                j.note = Some("interrupted by a worker restart".into());
            }
        }
        state.save(&config.dir)?;
        let runners =
            runners.unwrap_or_else(|| Runners::standard(Arc::new(sandbox), &config.kinds));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                address,
                node,
                escrow,
                info,
                runners,
                state: Mutex::new(state),
                running: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The provider's address.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut WorkerState) -> T) -> T {
        let mut s = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut s);
        if let Err(e) = s.save(&self.inner.config.dir) {
            tracing::error!(error = %e, "saving worker state");
        }
        out
    }

    /// A copy of the local state.
    pub fn state(&self) -> WorkerState {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Registers and stakes on chain unless already eligible. Returns the bonded stake.
    pub async fn ensure_registered(&self) -> Result<U256> {
        let escrow = &self.inner.escrow;
        let me = escrow
            .chain()
            .require_signer()
            .map_err(cairn_escrow::Error::from)?;
        let info = retry(
            "reading the provider's stake",
            None,
            chain_transient,
            || escrow.provider(me),
        )
        .await?;
        let min: U256 = self.inner.info.min_stake.parse().map_err(|_| {
            Error::Config(format!(
                "the node reports a bad minStake {:?}",
                self.inner.info.min_stake
            ))
        })?;
        let want = self.inner.config.stake.unwrap_or(min).max(min);
        let stake = if info.active && info.stake >= min {
            info.stake
        } else if info.active {
            let more = want - info.stake;
            retry("approving stake", None, chain_transient, || {
                escrow.ensure_allowance(more)
            })
            .await?;
            retry("adding stake", None, chain_transient, || {
                escrow.add_stake(more)
            })
            .await?;
            want
        } else {
            let balance = retry("reading the token balance", None, chain_transient, || {
                escrow.token_balance(me)
            })
            .await?;
            let top_up = want.saturating_sub(info.stake);
            if balance < top_up {
                return Err(Error::Config(format!(
                    "{me} holds {balance} base units of the stake token {}, but registering needs {top_up}; fund the account",
                    self.inner.info.token
                )));
            }
            retry("approving stake", None, chain_transient, || {
                escrow.ensure_allowance(top_up)
            })
            .await?;
            retry("registering as a provider", None, chain_transient, || {
                escrow.register_provider(top_up)
            })
            .await?;
            want
        };
        self.with_state(|s| s.stake = stake.to_string());
        Ok(stake)
    }

    /// Tells the node what this worker offers.
    pub async fn advertise(&self) -> Result<ProviderView> {
        let c = &self.inner.config;
        let ad = ProviderAdvert {
            address: self.inner.address.clone(),
            capacity: c.capacity,
            ask: c.ask,
            gpu_names: c.gpu_names.clone(),
            kinds: self.inner.runners.kinds(),
            devices: self.inner.runners.devices(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let view = retry("advertising to the node", None, node_transient, || {
            self.inner.node.advertise(&ad)
        })
        .await?;
        let Some(challenge) = view.calibration.clone() else {
            return Ok(view);
        };
        // The node checks the cores claimed before matching any: one lane per core, timed.
        let answer =
            tokio::task::spawn_blocking(move || cairn_compute::calibration::answer(&challenge))
                .await
                .map_err(|e| Error::Config(format!("the calibration thread failed: {e}")))?
                .ok_or_else(|| Error::Config("the node sent a malformed calibration".into()))?;
        let view = self.inner.node.calibrate(&answer).await?;
        tracing::info!(
            claimed = c.capacity.cpu_cores,
            verified = ?view.verified_cores,
            "calibrated by the node"
        );
        Ok(view)
    }

    /// Runs until the process ends: heartbeats, claims, jobs, earnings.
    pub async fn run(&self) -> Result<()> {
        self.advertise().await?;
        let hb = self.clone();
        tokio::spawn(async move { hb.heartbeat_loop().await });
        let earn = self.clone();
        tokio::spawn(async move { earn.earnings_loop().await });
        let disputes = self.clone();
        tokio::spawn(async move { disputes.dispute_loop().await });
        let mut failures = 0;
        loop {
            match self.inner.node.claim().await {
                Ok(Some(a)) => {
                    failures = 0;
                    let w = self.clone();
                    tokio::spawn(async move { w.job(a).await });
                }
                Ok(None) => failures = 0,
                Err(e) => {
                    let pause = backoff(failures, MAX_BACKOFF);
                    tracing::warn!(error = %e, retry_in = ?pause, "claiming work failed");
                    if matches!(e, ClientError::Api { status: 404, .. }) {
                        let _ = self.advertise().await;
                    }
                    tokio::time::sleep(pause).await;
                    failures += 1;
                }
            }
        }
    }

    /// Answers the rounds of disputes against this worker's committed traces
    /// ([`crate::disputes`]), polling the escrow.
    async fn dispute_loop(&self) {
        let every = Duration::from_millis(self.inner.info.heartbeat_ms.clamp(200, 2_000));
        loop {
            crate::disputes::pass(&self.inner.config.dir, &self.inner.escrow).await;
            tokio::time::sleep(every).await;
        }
    }

    async fn heartbeat_loop(&self) {
        let every = Duration::from_millis(self.inner.info.heartbeat_ms.max(50));
        let mut checked = std::time::Instant::now();
        loop {
            // Credited with fewer cores than offered (the machine was busy when the node timed
            // it)? Ask to be checked again now and then.
            if checked.elapsed() >= cairn_compute::calibration::RECALIBRATE_EVERY {
                checked = std::time::Instant::now();
                let claimed = self.inner.config.capacity.cpu_cores;
                if let Ok(view) = self.inner.node.provider(&self.inner.address).await
                    && view.verified_cores.is_some_and(|v| v < claimed)
                {
                    match self.advertise().await {
                        Ok(v) => tracing::info!(
                            claimed,
                            verified = ?v.verified_cores,
                            "calibrated again"
                        ),
                        Err(e) => tracing::warn!(error = %e, "recalibration failed"),
                    }
                }
            }
            let running: Vec<u64> = self
                .inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .copied()
                .collect();
            match self.inner.node.heartbeat(&Heartbeat { running }).await {
                Ok(reply) => {
                    let r = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
                    for id in reply.abandon {
                        if let Some(stops) = r.get(&id) {
                            tracing::warn!(job = id, "the node took the job away; dropping it");
                            stops.dropped.store(true, Ordering::SeqCst);
                            stops.halt.store(true, Ordering::SeqCst);
                        }
                    }
                    for id in reply.cancel {
                        if let Some(stops) = r.get(&id) {
                            tracing::info!(
                                job = id,
                                "the requester cancelled the job; stopping it"
                            );
                            stops.cancelled.store(true, Ordering::SeqCst);
                            stops.halt.store(true, Ordering::SeqCst);
                        }
                    }
                }
                Err(ClientError::Api { status: 404, .. }) => {
                    // The node forgot us (a new database): introduce ourselves again.
                    let _ = self.advertise().await;
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed; will retry"),
            }
            tokio::time::sleep(every).await;
        }
    }

    async fn earnings_loop(&self) {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = self.refresh_earnings().await;
        }
    }

    /// Asks the node about committed jobs and records what was paid.
    pub async fn refresh_earnings(&self) -> Result<()> {
        let committed: Vec<u64> = self
            .state()
            .jobs
            .iter()
            .filter(|j| j.status == JobStatus::Committed)
            .map(|j| j.id)
            .collect();
        for id in committed {
            let view = self.inner.node.job(id).await?;
            if view.state == JobState::Settled {
                self.with_state(|s| {
                    let j = s.job_mut(id);
                    j.status = JobStatus::Paid;
                    j.paid = view.paid.unwrap_or(0);
                });
            } else if view.state.is_terminal() {
                self.with_state(|s| {
                    let j = s.job_mut(id);
                    j.status = JobStatus::Abandoned;
                    j.note = view.reason.clone();
                });
            }
        }
        Ok(())
    }

    /// Runs one leased job to its end.
    async fn job(&self, a: Assignment) {
        let id = a.job_id;
        let stops = Stops::default();
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, stops.clone());
        self.with_state(|s| {
            let j = s.job_mut(id);
            j.name = a.spec.name.clone();
            j.payment = a.spec.payment;
            j.status = JobStatus::Running;
            j.started_ms = now_ms();
            j.note = None;
        });
        let outcome = self.run_job(&a, &stops).await;
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        let (status, note) = match outcome {
            Ok(s) => s,
            Err(e) => (JobStatus::Abandoned, Some(e.to_string())),
        };
        if let Some(n) = &note {
            tracing::info!(job = id, ?status, note = %n, "job ended");
        }
        self.with_state(|s| {
            let j = s.job_mut(id);
            j.status = status;
            j.note = note;
        });
    }

    async fn run_job(&self, a: &Assignment, stops: &Stops) -> Result<(JobStatus, Option<String>)> {
        let dropped: &AtomicBool = &stops.dropped;
        let id = a.job_id;
        let node = &self.inner.node;
        // The deadline is the chain's; leave a margin for the commit to be mined.
        let remaining = a.deadline_unix_ms.saturating_sub(now_ms());
        let deadline = Instant::now() + Duration::from_millis(remaining.saturating_sub(5_000));
        let gone = |e: &ClientError| {
            matches!(
                e,
                ClientError::Api {
                    status: 409 | 404,
                    ..
                }
            )
        };
        let abandoned = |why: String| Ok((JobStatus::Abandoned, Some(why)));

        if let Err(e) = retry(
            "reporting the start",
            Some(deadline),
            node_transient,
            || node.started(id),
        )
        .await
        {
            return if gone(&e) {
                abandoned(e.to_string())
            } else {
                Err(e.into())
            };
        }
        let module = self.fetch(&a.spec.module, deadline).await?;
        let mut inputs = Vec::with_capacity(a.spec.inputs.len());
        for i in &a.spec.inputs {
            inputs.push((i.name.clone(), self.fetch(&i.blob, deadline).await?));
        }
        let Some(runner) = self.inner.runners.get(a.spec.kind).cloned() else {
            let why = format!("this worker does not run {} jobs", a.spec.kind);
            let _ = retry("releasing the job", Some(deadline), node_transient, || {
                node.release(id, &why)
            })
            .await;
            return abandoned(why);
        };
        // A train job another provider left: its checkpoints, each checked against its digest.
        let mut resume = Vec::with_capacity(a.resume.len());
        for c in &a.resume {
            match self.fetch(&c.blob(), deadline).await {
                Ok(b) => resume.push(b),
                Err(e) => {
                    // Without all of them there is nothing to resume from: start afresh.
                    tracing::warn!(job = id, step = c.step, error = %e, "a checkpoint of the resume point could not be fetched; training from step 0");
                    resume.clear();
                    break;
                }
            }
        }
        if let Some(last) = a.resume.last() {
            tracing::info!(
                job = id,
                step = last.step,
                checkpoint = %last.sha256,
                from = %last.provider,
                "resume point received; checking its last segment"
            );
        }
        let mut job = RunJob::new(a.spec.clone(), module, inputs);
        job.resume = resume;
        // Every checkpoint goes to the node as it is written, so that another provider can
        // resume from it if this one fails.
        let uploader = a.spec.train.is_some().then(|| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Vec<u8>)>();
            job.checkpoints = Some(tx);
            let w = self.clone();
            tokio::spawn(async move {
                while let Some((step, bytes)) = rx.recv().await {
                    w.send_checkpoint(id, step, bytes, deadline).await;
                }
            })
        });
        let halt = stops.halt.clone();
        let ran = tokio::task::spawn_blocking(move || runner.run(&job, &halt))
            .await
            .map_err(|e| Error::Config(format!("the runner thread failed: {e}")))?;
        if let Some(u) = uploader {
            // The sender went with the job: the uploads end with the queue.
            let _ = tokio::time::timeout_at(deadline, u).await;
        }
        if dropped.load(Ordering::SeqCst) {
            return abandoned("the lease went to another provider while running".into());
        }
        let report = match ran {
            Ok(r) => r,
            Err(RunError::Invalid(detail)) => {
                let reason = StopReason::InvalidJob {
                    detail: detail.clone(),
                };
                let empty = OutputRef::of("stdout", b"");
                let stderr = OutputRef::of("stderr", detail.as_bytes());
                self.upload(b"".to_vec(), deadline).await?;
                self.upload(detail.into_bytes(), deadline).await?;
                let rep = RunReport {
                    job_id: id,
                    outcome: RunOutcome::Failed {
                        reason: reason.clone(),
                    },
                    fuel_used: 0,
                    wall_time_ms: 0,
                    outputs: vec![],
                    output_digest: hex::encode(output_digest(&[], &empty)),
                    trace_root: hex::encode([0u8; 32]),
                    stdout: empty,
                    stderr,
                    commit_tx: None,
                };
                return self
                    .send_report(rep, deadline, JobStatus::Failed, Some(reason.to_string()))
                    .await;
            }
            Err(RunError::Host(e)) => {
                // The host failed, not the job: give it back for another provider.
                let why = format!("runner failure on this provider: {e}");
                let _ = retry("releasing the job", Some(deadline), node_transient, || {
                    node.release(id, &why)
                })
                .await;
                return abandoned(why);
            }
        };
        let mut outputs = Vec::new();
        for (name, bytes) in &report.outputs {
            outputs.push(OutputRef::of(name.clone(), bytes));
            self.upload(bytes.clone(), deadline).await?;
        }
        let stdout = OutputRef::of("stdout", &report.stdout);
        let stderr = OutputRef::of("stderr", &report.stderr);
        self.upload(report.stdout.clone(), deadline).await?;
        self.upload(report.stderr.clone(), deadline).await?;
        let digest = output_digest(&outputs, &stdout);
        let root = report
            .trace_root
            .unwrap_or_else(|| trace_root(&digest, report.metered));
        let wall_time_ms = report.wall_time.as_millis() as u64;
        self.with_state(|s| {
            let j = s.job_mut(id);
            j.fuel_used = report.metered;
            j.wall_time_ms = wall_time_ms;
        });
        let reason = report.stop.clone();
        let mut rep = RunReport {
            job_id: id,
            outcome: match &reason {
                None => RunOutcome::Succeeded,
                Some(r) => RunOutcome::Failed { reason: r.clone() },
            },
            fuel_used: report.metered,
            wall_time_ms,
            outputs,
            stdout,
            stderr,
            output_digest: hex::encode(digest),
            trace_root: hex::encode(root),
            commit_tx: None,
        };
        if let Some(r) = reason {
            return self
                .send_report(rep, deadline, JobStatus::Failed, Some(r.to_string()))
                .await;
        }
        // What the run cost at the job's price (the node and any verifier recompute it).
        let charge = U256::from(a.spec.bill(rep.fuel_used, rep.wall_time_ms));
        match self
            .commit(
                id,
                B256::from(digest),
                B256::from(root),
                charge,
                deadline,
                dropped,
            )
            .await?
        {
            Some(tx) => rep.commit_tx = Some(tx),
            None => return abandoned("the job is no longer ours on chain".into()),
        }
        // Kept to answer a dispute over the committed trace.
        if let Some((_, t)) = report.outputs.iter().find(|(n, _)| n == "trace.json")
            && let Err(e) = crate::disputes::keep(&self.inner.config.dir, id, t)
        {
            tracing::warn!(job = id, error = %e, "could not keep the trace for disputes");
        }
        self.send_report(rep, deadline, JobStatus::Committed, None)
            .await
    }

    async fn send_report(
        &self,
        rep: RunReport,
        deadline: Instant,
        status: JobStatus,
        note: Option<String>,
    ) -> Result<(JobStatus, Option<String>)> {
        let node = &self.inner.node;
        match retry(
            "reporting the result",
            Some(deadline),
            node_transient,
            || node.report(&rep),
        )
        .await
        {
            Ok(_) => Ok((status, note)),
            Err(
                e @ ClientError::Api {
                    status: 409 | 404, ..
                },
            ) => Ok((JobStatus::Abandoned, Some(e.to_string()))),
            Err(e) => Err(e.into()),
        }
    }

    /// Commits the result on chain. Waits (with backoff) while the node's assignment has not
    /// reached the chain yet. `None` when the job is no longer this provider's.
    async fn commit(
        &self,
        id: u64,
        output: B256,
        trace: B256,
        charge: U256,
        deadline: Instant,
        dropped: &AtomicBool,
    ) -> Result<Option<String>> {
        let escrow = &self.inner.escrow;
        let me = escrow.chain().signer();
        let mut attempt = 0;
        loop {
            if dropped.load(Ordering::SeqCst) {
                return Ok(None);
            }
            match escrow.commit_result(id, output, trace, charge).await {
                Ok(tx) => return Ok(Some(tx.tx_hash.to_string())),
                Err(e) => {
                    // Already committed by an earlier attempt whose answer was lost?
                    if let Ok(Some(j)) = escrow.job(id).await {
                        match j.state {
                            cairn_escrow::JobState::Committed
                            | cairn_escrow::JobState::Disputed
                                if j.provider == me =>
                            {
                                return Ok(Some(String::new()));
                            }
                            cairn_escrow::JobState::Open => {} // assignment not on chain yet
                            cairn_escrow::JobState::Assigned if j.provider == me => {}
                            _ => return Ok(None),
                        }
                    }
                    let pause = backoff(attempt, MAX_BACKOFF.min(Duration::from_secs(1)));
                    if Instant::now() + pause > deadline {
                        return Err(e.into());
                    }
                    tracing::info!(job = id, error = %e, retry_in = ?pause, "commit not accepted yet; retrying");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Uploads a running `train` job's checkpoint and tells the node. A failure is logged, not
    /// fatal: the run goes on, and only a resume after this provider failed would miss it.
    async fn send_checkpoint(&self, id: u64, step: u64, bytes: Vec<u8>, deadline: Instant) {
        let node = &self.inner.node;
        let sent = async {
            let blob = self.upload(bytes, deadline).await?;
            retry(
                "reporting a checkpoint",
                Some(deadline),
                node_transient,
                || node.progress(id, step, &blob),
            )
            .await?;
            Ok::<_, Error>(blob)
        };
        match sent.await {
            Ok(blob) => {
                tracing::info!(job = id, step, checkpoint = %blob.sha256, "checkpoint stored on the node")
            }
            Err(e) => {
                tracing::warn!(job = id, step, error = %e, "the node did not take a checkpoint")
            }
        }
    }

    async fn upload(&self, bytes: Vec<u8>, deadline: Instant) -> Result<BlobRef> {
        let node = &self.inner.node;
        Ok(retry(
            "uploading an output",
            Some(deadline),
            node_transient,
            || node.put_blob(bytes.clone()),
        )
        .await?)
    }

    /// A blob from the local cache, else from the node (checked against its digest). Reading,
    /// hashing and writing run on the blocking pool: a large module must not stall the
    /// heartbeats that keep this worker's leases.
    async fn fetch(&self, r: &BlobRef, deadline: Instant) -> Result<Vec<u8>> {
        let path = self.inner.config.dir.join("blobs").join(&r.sha256);
        let cached = {
            let (path, r) = (path.clone(), r.clone());
            tokio::task::spawn_blocking(move || std::fs::read(&path).ok().filter(|b| r.matches(b)))
                .await
                .ok()
                .flatten()
        };
        if let Some(b) = cached {
            return Ok(b);
        }
        let node = &self.inner.node;
        let bytes = retry("fetching a blob", Some(deadline), node_transient, || {
            node.blob(r)
        })
        .await?;
        let copy = bytes.clone();
        // The cache is an optimisation: a failed write only costs a later download.
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent()
                && std::fs::create_dir_all(dir).is_ok()
            {
                let _ = std::fs::write(&path, &copy);
            }
        })
        .await;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::stop_reason;
    use cairn_compute::JobFile;
    use cairn_sandbox::Outcome;

    #[test]
    fn sandbox_outcomes_map_to_stop_reasons_with_the_job_limits() {
        let spec = JobFile::from_toml("name = \"t\"\nmodule = \"m\"\n[resources]\nmemory = \"64 MiB\"\n[limits]\nfuel = 5000\nwall_time_secs = 2\n[price]\nper_second = 1\n")
            .unwrap()
            .resolve(BlobRef::of(b"m"), vec![], None)
            .unwrap();
        assert_eq!(stop_reason(&Outcome::Exited(0), &spec), None);
        assert_eq!(
            stop_reason(&Outcome::Exited(3), &spec),
            Some(StopReason::Exited { code: 3 })
        );
        assert_eq!(
            stop_reason(&Outcome::OutOfFuel, &spec),
            Some(StopReason::OutOfFuel { limit: 5000 })
        );
        assert_eq!(
            stop_reason(&Outcome::MemoryLimit, &spec),
            Some(StopReason::MemoryLimit {
                limit_bytes: 64 << 20
            })
        );
        assert_eq!(
            stop_reason(&Outcome::TimedOut, &spec),
            Some(StopReason::TimedOut { limit_ms: 2000 })
        );
        let denied = stop_reason(&Outcome::Denied("path_open ../x".into()), &spec).unwrap();
        assert!(denied.to_string().starts_with("denied: path_open"));
    }

    #[test]
    fn trace_roots_bind_outputs_and_fuel() {
        let d = [1u8; 32];
        assert_ne!(trace_root(&d, 1), trace_root(&d, 2));
        assert_ne!(trace_root(&d, 1), trace_root(&[2u8; 32], 1));
    }
}
