//! The node's settings: where it keeps state and how patient it is with workers.
use std::{path::PathBuf, time::Duration};

/// Default address of `cairn node serve`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";
/// How often workers are asked to heartbeat.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(1_000);
/// A lease lapses (and its job goes to another provider) after this long without a heartbeat:
/// three missed heartbeats.
pub const DEFAULT_LEASE: Duration = Duration::from_millis(3_000);
/// How long a worker's claim request waits for an assignment before answering "none".
pub const DEFAULT_CLAIM_WAIT: Duration = Duration::from_secs(10);
/// How often the scheduler and the chain loop look for work when nothing wakes them.
pub const DEFAULT_TICK: Duration = Duration::from_millis(250);
/// How long past its wall-time cap a running job may go without a result before the node
/// takes it from its provider (fetching inputs, uploading outputs and the commit take time).
pub const DEFAULT_OVERRUN_GRACE: Duration = Duration::from_secs(60);
/// Blobs no job refers to are deleted once they are this old (an upload waits for its job).
pub const DEFAULT_BLOB_GRACE: Duration = Duration::from_secs(3600);
/// Segments of a `train` result's trace the node re-executes before it settles (the last one
/// always, the others drawn from a seed the provider cannot know when it commits).
pub const DEFAULT_AUDIT_SAMPLES: u32 = 2;
/// What a failed audit costs the provider: this share (basis points) of the market's minimum
/// stake, slashed from its bond and paid to the requester.
pub const DEFAULT_SLASH_BPS: u32 = 1_000;
/// Most jobs in one batched chain call (assignJobs, settleMany, refundMany).
pub const DEFAULT_BATCH: usize = 200;

/// Sustained signed writes per second one client address may make.
pub const DEFAULT_WRITES_PER_SEC_PER_ADDRESS: f64 = 1000.0;
/// Signed writes one client address may make in a burst.
pub const DEFAULT_WRITE_BURST_PER_ADDRESS: f64 = 5000.0;
/// Sustained signed writes per second by one key (account).
pub const DEFAULT_WRITES_PER_SEC_PER_KEY: f64 = 1000.0;
/// Signed writes by one key in a burst.
pub const DEFAULT_WRITE_BURST_PER_KEY: f64 = 5000.0;

/// Budgets of the write routes (POST, PUT): token buckets per client address and per signing
/// key. A write over either gets 429 with `Retry-After` and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteLimits {
    /// Sustained writes per second per client address.
    pub per_sec_per_address: f64,
    /// Burst of writes per client address.
    pub burst_per_address: f64,
    /// Sustained writes per second per signing key.
    pub per_sec_per_key: f64,
    /// Burst of writes per signing key.
    pub burst_per_key: f64,
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self {
            per_sec_per_address: DEFAULT_WRITES_PER_SEC_PER_ADDRESS,
            burst_per_address: DEFAULT_WRITE_BURST_PER_ADDRESS,
            per_sec_per_key: DEFAULT_WRITES_PER_SEC_PER_KEY,
            burst_per_key: DEFAULT_WRITE_BURST_PER_KEY,
        }
    }
}

impl WriteLimits {
    /// No limits (benchmarks, a node behind its own limiter).
    pub fn unlimited() -> Self {
        Self {
            per_sec_per_address: f64::INFINITY,
            burst_per_address: f64::INFINITY,
            per_sec_per_key: f64::INFINITY,
            burst_per_key: f64::INFINITY,
        }
    }
}

/// Everything the node needs besides its chain connection.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Directory for the database, blobs and the receipt key.
    pub dir: PathBuf,
    /// Heartbeat interval asked of workers.
    pub heartbeat: Duration,
    /// Lease timeout.
    pub lease: Duration,
    /// Long-poll duration of claims.
    pub claim_wait: Duration,
    /// Idle tick of the background loops.
    pub tick: Duration,
    /// Batch size cap for chain calls.
    pub batch: usize,
    /// Grace past a job's wall-time cap before the node takes it from a provider that
    /// started it and reported nothing.
    pub overrun_grace: Duration,
    /// Age after which a blob no job refers to is deleted.
    pub blob_grace: Duration,
    /// Check each provider's claimed cores with a timed calibration before matching it (on by
    /// default). Off only for a closed pool of trusted machines, or simulated providers.
    pub calibrate: bool,
    /// How often a provider credited with fewer cores than it claims may be calibrated again.
    pub recalibrate_every: Duration,
    /// URL of the transparency log receipts are appended to (`None`: no receipts).
    pub log: Option<String>,
    /// RPC URL told to workers in `/info` (they may use their own).
    pub public_rpc_url: String,
    /// Segments of each `train` trace re-executed by the audit (0: no audits).
    pub audit_samples: u32,
    /// Slash for a failed audit, basis points of the market's minimum stake.
    pub slash_bps: u32,
    /// The floor of the probability that a `train` result of a provider with a long valid
    /// streak is audited, or a `wasm` one replicated ([`cairn_compute::verify::Policy`]; 1:
    /// check every result).
    pub check_floor: f64,
    /// Results of a provider always checked after its start or its last invalid result.
    pub probation: u64,
    /// Whether a `wasm` result the policy checks is replicated on another provider (the
    /// operator escrows the replica from its own funds; off: `wasm` results are not checked).
    pub replication: bool,
    /// A wallet agent's state database, served read-only at `/agent` (`None`: no agent).
    pub agent_state: Option<PathBuf>,

    /// Rate limits of the write routes.
    pub write_limits: WriteLimits,
}

impl NodeConfig {
    /// Defaults with state under `dir`.
    pub fn new(dir: impl Into<PathBuf>, public_rpc_url: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            heartbeat: DEFAULT_HEARTBEAT,
            lease: DEFAULT_LEASE,
            claim_wait: DEFAULT_CLAIM_WAIT,
            tick: DEFAULT_TICK,
            batch: DEFAULT_BATCH,
            overrun_grace: DEFAULT_OVERRUN_GRACE,
            blob_grace: DEFAULT_BLOB_GRACE,
            calibrate: true,
            recalibrate_every: cairn_compute::calibration::RECALIBRATE_EVERY,
            log: None,
            public_rpc_url: public_rpc_url.into(),
            audit_samples: DEFAULT_AUDIT_SAMPLES,
            slash_bps: DEFAULT_SLASH_BPS,
            check_floor: cairn_compute::verify::DEFAULT_P_MIN,
            probation: cairn_compute::verify::DEFAULT_PROBATION,
            replication: false,
            agent_state: None,

            write_limits: WriteLimits::default(),
        }
    }

    /// Audits a `train` result of a provider with valid streak `n` with probability 1 for the
    /// first `probation` results, then `max(floor, 1/n)` (floor 1: every result).
    pub fn with_check_policy(mut self, floor: f64, probation: u64) -> Self {
        self.check_floor = floor;
        self.probation = probation;
        self
    }

    /// Replicates the `wasm` results the verification policy checks on another provider,
    /// paid by the operator ([`NodeConfig::replication`]).
    pub fn with_replication(mut self, on: bool) -> Self {
        self.replication = on;
        self
    }

    /// The verification policy these settings make.
    pub fn check_policy(&self) -> cairn_compute::verify::Policy {
        cairn_compute::verify::Policy {
            p_min: self.check_floor,
            probation: self.probation,
            samples: self.audit_samples.max(1),
        }
    }

    /// Serves the wallet agent whose state database is `path` at `/agent` (read only).
    pub fn with_agent_state(mut self, path: impl Into<PathBuf>) -> Self {
        self.agent_state = Some(path.into());
        self
    }

    /// Re-executes `samples` segments of each `train` trace before settling (0: none).
    pub fn with_audit_samples(mut self, samples: u32) -> Self {
        self.audit_samples = samples;
        self
    }

    /// Sets the rate limits of the write routes.
    pub fn with_write_limits(mut self, limits: WriteLimits) -> Self {
        self.write_limits = limits;
        self
    }

    /// Appends receipts to the log at `url`.
    pub fn with_log(mut self, url: impl Into<String>) -> Self {
        self.log = Some(url.into());
        self
    }

    /// Sets the heartbeat interval and the lease (which must be longer).
    pub fn with_lease(mut self, heartbeat: Duration, lease: Duration) -> Self {
        self.heartbeat = heartbeat;
        self.lease = lease.max(heartbeat * 2);
        self
    }

    /// Trusts providers' claimed cores without calibration (a closed pool).
    pub fn without_calibration(mut self) -> Self {
        self.calibrate = false;
        self
    }

    /// Sets how often a provider credited with fewer cores than it claims may be calibrated
    /// again.
    pub fn with_recalibration(mut self, every: Duration) -> Self {
        self.recalibrate_every = every;
        self
    }

    /// Sets the grace past a job's wall-time cap.
    pub fn with_overrun_grace(mut self, grace: Duration) -> Self {
        self.overrun_grace = grace;
        self
    }

    /// The SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("node.db")
    }

    /// The content-addressed blob store.
    pub fn blobs_dir(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    /// The Ed25519 key that signs receipts.
    pub fn receipt_key_path(&self) -> PathBuf {
        self.dir.join("receipt.key")
    }
}
