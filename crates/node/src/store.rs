//! Durable node state in SQLite: jobs, providers and each job's event history.
//!
//! A row keeps its whole record as JSON (the record types change with the code; a handful of
//! indexed columns are what queries filter on): `state` and `provider` for the scheduler,
//! `todo` for the chain loop ("assign", "refund", "settle") and `receipt_todo` for the receipt
//! loop. WAL journaling with `synchronous = NORMAL` keeps a commit durable against a process
//! crash at a few tens of microseconds, so bookkeeping is never the bottleneck.
use crate::{Error, Result};
use cairn_compute::{
    JobSpec, JobState, Price, Resources, StopReason,
    api::{FeedEvent, FeedKind, JobEvent, ReceiptRef, RunReport},
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Chain work a job waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Todo {
    /// The chain must record the current provider (assignJobs or reassignJob).
    Assign,
    /// The payment goes back to the requester (refundMany).
    Refund,
    /// Pay the provider once the challenge window is over (settleMany).
    Settle,
    /// Pay the provider the metered charge of a run that ended without a result and refund
    /// the rest (closeJobs).
    Close,
    /// Object to a committed result whose charge is not what the metering says, or whose
    /// audit failed (challenge), then refund it as the arbiter.
    Challenge,
    /// Not chain work: a committed `train` result waits for the node's sampled step audit
    /// (`crate::audit`) before it may settle.
    Audit,
    /// Take the slash recorded on the job from the provider's bond (after the refund).
    Slash,
    /// Not chain work: a committed `wasm` result (or a replica's) waits for the replicas'
    /// quorum (`crate::replication`) before it may settle.
    Replicate,

    /// A refereed bisection dispute over the result, driven by `crate::dispute_task`.
    Dispute,
}

impl Todo {
    fn as_str(self) -> &'static str {
        match self {
            Self::Assign => "assign",
            Self::Refund => "refund",
            Self::Settle => "settle",
            Self::Close => "close",
            Self::Challenge => "challenge",
            Self::Audit => "audit",
            Self::Slash => "slash",
            Self::Replicate => "replicate",

            Self::Dispute => "dispute",
        }
    }
}

/// A job's full record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct JobRow {
    pub(crate) id: u64,
    pub(crate) spec: JobSpec,
    pub(crate) spec_digest: String,
    pub(crate) requester: String,
    pub(crate) state: JobState,
    pub(crate) stop: Option<StopReason>,
    /// The matcher's latest explanation while nobody takes the job.
    pub(crate) waiting: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) providers: Vec<String>,
    pub(crate) excluded: Vec<String>,
    pub(crate) attempt: u32,
    /// Whether the current provider has picked up its lease.
    pub(crate) claimed: bool,
    /// Who the chain has the job assigned to.
    pub(crate) chain_provider: Option<String>,
    pub(crate) todo: Option<Todo>,
    pub(crate) receipt_todo: bool,
    /// Chain unix seconds.
    pub(crate) accept_by: u64,
    pub(crate) deadline: u64,
    pub(crate) challenge_ends: Option<u64>,
    pub(crate) submitted_ms: u64,
    pub(crate) started_ms: Option<u64>,
    pub(crate) finished_ms: Option<u64>,
    pub(crate) result: Option<RunReport>,
    pub(crate) paid: Option<u64>,
    pub(crate) fee: Option<u64>,
    pub(crate) refunded: Option<u64>,
    pub(crate) receipt: Option<ReceiptRef>,
    pub(crate) txs: Vec<(String, String)>,
    /// The requester cancelled while it ran: waiting for the provider's metering.
    #[serde(default)]
    pub(crate) cancelling: bool,
    /// What the provider is paid for a run that ended without a result (base units).
    #[serde(default)]
    pub(crate) charge: Option<u64>,
    /// The node's sampled step audit of a `train` result.
    #[serde(default)]
    pub(crate) audit: Option<cairn_compute::api::AuditView>,
    /// Base units to slash from the provider's bond once the refund is on chain (a failed
    /// audit).
    #[serde(default)]
    pub(crate) slash: Option<u64>,
    /// Whether and how the verification policy checks the committed result, and why (rows
    /// from before the policy: none).
    #[serde(default)]
    pub(crate) verification: Option<cairn_compute::verify::Decision>,
    /// The replication of a checked `wasm` result (`crate::replication`).
    #[serde(default)]
    pub(crate) replication: Option<cairn_compute::api::ReplicationView>,
    /// For a replica job the node escrowed: the job whose result it re-runs.
    #[serde(default)]
    pub(crate) replica_of: Option<u64>,
    /// The node's refereed bisection dispute over the result (a failed audit).
    #[serde(default)]
    pub(crate) dispute: Option<crate::dispute_task::DisputeRecord>,

    /// A running `train` job's checkpoints in the node's store, in step order from step 0
    /// (`crate::progress`): where another provider resumes if this one fails.
    #[serde(default)]
    pub(crate) checkpoints: Vec<cairn_compute::api::CheckpointRef>,
    /// The latest hand-off of a partly trained job to another provider.
    #[serde(default)]
    pub(crate) resumed: Option<cairn_compute::api::Resumed>,
}

/// A provider's record (its liveness is kept in memory: a restarted node waits for heartbeats).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProviderRow {
    pub(crate) address: String,
    pub(crate) capacity: Resources,
    pub(crate) ask: Price,
    pub(crate) gpu_names: Vec<String>,
    /// Job kinds its worker runs (rows from before job kinds: `wasm`).
    #[serde(default = "cairn_compute::api::wasm_only")]
    pub(crate) kinds: Vec<cairn_compute::JobKind>,
    /// Devices its tensor runners use.
    #[serde(default)]
    pub(crate) devices: Vec<String>,
    pub(crate) version: String,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) lost: u64,
    pub(crate) earned: u64,
    /// Cores verified by calibration for the current claim (`None`: not yet).
    #[serde(default)]
    pub(crate) verified_cores: Option<u32>,
    /// Accepted `train` results since its first or its last invalid one: the verification
    /// policy's streak (rows from before the policy: 0, so it starts in probation).
    #[serde(default)]
    pub(crate) streak: u64,
}

/// The most events the feed keeps (older ones are dropped; a client resuming from before them
/// starts at the oldest kept).
const FEED_KEEP: i64 = 100_000;

/// The database.
pub(crate) struct Store {
    conn: Connection,
    /// The id of the newest feed event, announced after each commit that adds some.
    feed: tokio::sync::watch::Sender<u64>,
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS jobs (
                 id INTEGER PRIMARY KEY,
                 state TEXT NOT NULL,
                 provider TEXT,
                 todo TEXT,
                 receipt_todo INTEGER NOT NULL DEFAULT 0,
                 cores INTEGER NOT NULL DEFAULT 0,
                 mem INTEGER NOT NULL DEFAULT 0,
                 gpus INTEGER NOT NULL DEFAULT 0,
                 accept_by INTEGER NOT NULL DEFAULT 0,
                 deadline INTEGER NOT NULL DEFAULT 0,
                 body TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
             CREATE INDEX IF NOT EXISTS jobs_provider ON jobs(provider);
             CREATE INDEX IF NOT EXISTS jobs_todo ON jobs(todo);
             CREATE INDEX IF NOT EXISTS jobs_receipt ON jobs(receipt_todo);
             CREATE TABLE IF NOT EXISTS providers (
                 address TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS events (
                 job INTEGER NOT NULL,
                 at_ms INTEGER NOT NULL,
                 message TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS events_job ON events(job);
             CREATE TABLE IF NOT EXISTS feed (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 at_ms INTEGER NOT NULL,
                 kind TEXT NOT NULL,
                 body TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS meta (
                 key TEXT PRIMARY KEY,
                 value TEXT NOT NULL
             );",
        )?;
        let newest: i64 =
            conn.query_row("SELECT COALESCE(MAX(id), 0) FROM feed", [], |r| r.get(0))?;
        Ok(Self {
            conn,
            feed: tokio::sync::watch::Sender::new(newest as u64),
        })
    }

    /// Watches the id of the newest feed event.
    pub(crate) fn feed_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.feed.subscribe()
    }

    /// A value of the `meta` table.
    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value of the `meta` table.
    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Runs `f` in one transaction.
    pub(crate) fn tx<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let t = self.conn.transaction()?;
        let tx = Tx {
            t: &t,
            fed: std::cell::Cell::new(None),
        };
        let out = f(&tx)?;
        let fed = tx.fed.get();
        if let Some(id) = fed
            && id % 1024 == 0
        {
            t.execute("DELETE FROM feed WHERE id <= ?1", [id - FEED_KEEP])?;
        }
        t.commit()?;
        if let Some(id) = fed {
            self.feed.send_replace(id as u64);
        }
        Ok(out)
    }

    /// Read access outside a transaction.
    pub(crate) fn read(&self) -> Reader<'_> {
        Reader { c: &self.conn }
    }
}

/// Read-only connections to the node's database, each used by one reader at a time, so API
/// reads never wait for the writer's lock: in WAL mode a reader sees the last committed state
/// while a write transaction is open.
pub(crate) struct ReadPool {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<Connection>>,
}

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

impl ReadPool {
    /// Read connections to the database at `path` (opened by [`Store::open`] first).
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Default::default(),
        }
    }

    /// A read connection: an idle one, or a new one.
    pub(crate) fn get(&self) -> Result<PooledReader<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c
            }
        };
        Ok(PooledReader {
            pool: self,
            conn: Some(conn),
        })
    }
}

/// A read connection, back to its pool when dropped.
pub(crate) struct PooledReader<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl PooledReader<'_> {
    /// Reads on this connection.
    pub(crate) fn read(&self) -> Reader<'_> {
        Reader {
            c: self.conn.as_ref().expect("held until dropped"),
        }
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(c);
            }
        }
    }
}

/// Reads shared by transactions and plain reads.
pub(crate) struct Reader<'a> {
    c: &'a Connection,
}

/// A transaction: reads plus writes.
pub(crate) struct Tx<'a> {
    t: &'a rusqlite::Transaction<'a>,
    /// The newest feed event this transaction added.
    fed: std::cell::Cell<Option<i64>>,
}

fn decode<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| Error::Corrupt(e.to_string()))
}

fn encode<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records serialize")
}

macro_rules! reads {
    ($ty:ident, $conn:ident) => {
        // The same reads inside and outside transactions; not every one is used on both sides.
        #[allow(dead_code)]
        impl $ty<'_> {
            /// One job.
            pub(crate) fn job(&self, id: u64) -> Result<Option<JobRow>> {
                let body: Option<String> = self
                    .$conn
                    .query_row("SELECT body FROM jobs WHERE id = ?1", [id as i64], |r| {
                        r.get(0)
                    })
                    .optional()?;
                body.map(|b| decode(&b)).transpose()
            }

            /// Jobs in one of `states`, oldest first.
            pub(crate) fn jobs_in(&self, states: &[JobState]) -> Result<Vec<JobRow>> {
                let list = states
                    .iter()
                    .map(|s| format!("'{}'", s.as_str()))
                    .collect::<Vec<_>>()
                    .join(",");
                self.query(&format!(
                    "SELECT body FROM jobs WHERE state IN ({list}) ORDER BY id"
                ), [])
            }

            /// Jobs waiting for this chain work, oldest first, at most `limit`.
            pub(crate) fn jobs_todo(&self, todo: Todo, limit: usize) -> Result<Vec<JobRow>> {
                self.query(
                    "SELECT body FROM jobs WHERE todo = ?1 ORDER BY id LIMIT ?2",
                    params![todo.as_str(), limit as i64],
                )
            }

            /// Up to `limit` jobs with ids below `before`, newest first.
            pub(crate) fn jobs_before(&self, before: u64, limit: usize) -> Result<Vec<JobRow>> {
                self.query(
                    "SELECT body FROM jobs WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
                    params![before.min(i64::MAX as u64) as i64, limit as i64],
                )
            }

            /// Jobs with dispute statements waiting for the log, at most `limit`.
            pub(crate) fn jobs_with_dispute_statements(&self, limit: usize) -> Result<Vec<JobRow>> {
                self.query(
                    "SELECT body FROM jobs WHERE json_array_length(body, '$.dispute.pending') > 0
                     ORDER BY id LIMIT ?1",
                    params![limit as i64],
                )
            }

            /// Jobs whose receipt is due, at most `limit`.
            pub(crate) fn jobs_needing_receipt(&self, limit: usize) -> Result<Vec<JobRow>> {
                self.query(
                    "SELECT body FROM jobs WHERE receipt_todo = 1 ORDER BY id LIMIT ?1",
                    params![limit as i64],
                )
            }

            /// Resources leased per provider (assigned and running jobs).
            pub(crate) fn leased_resources(&self) -> Result<std::collections::HashMap<String, Resources>> {
                let mut stmt = self.$conn.prepare_cached(
                    "SELECT provider, SUM(cores), SUM(mem), SUM(gpus) FROM jobs
                     WHERE state IN ('assigned','running') AND provider IS NOT NULL GROUP BY provider",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Resources {
                            cpu_cores: r.get::<_, i64>(1)? as u32,
                            memory_bytes: r.get::<_, i64>(2)? as u64,
                            gpus: r.get::<_, i64>(3)? as u32,
                        },
                    ))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }

            /// Jobs past their deadlines at chain time `now`: queued ones past `accept_by - margin`,
            /// leased ones past `deadline`.
            pub(crate) fn jobs_overdue(&self, now: u64, margin: u64) -> Result<Vec<JobRow>> {
                self.query(
                    "SELECT body FROM jobs WHERE (state = 'queued' AND accept_by <= ?1)
                     OR (state IN ('assigned','running') AND deadline <= ?2) ORDER BY id",
                    params![(now + margin) as i64, now as i64],
                )
            }

            /// Jobs held by `provider` (leased states).
            pub(crate) fn leased_to(&self, provider: &str) -> Result<Vec<JobRow>> {
                self.query(
                    "SELECT body FROM jobs WHERE provider = ?1 AND state IN ('assigned','running') ORDER BY id",
                    params![provider],
                )
            }

            fn query<P: rusqlite::Params>(&self, sql: &str, p: P) -> Result<Vec<JobRow>> {
                let mut stmt = self.$conn.prepare_cached(sql)?;
                let rows = stmt.query_map(p, |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for body in rows {
                    out.push(decode(&body?)?);
                }
                Ok(out)
            }

            /// One provider.
            pub(crate) fn provider(&self, address: &str) -> Result<Option<ProviderRow>> {
                let body: Option<String> = self
                    .$conn
                    .query_row(
                        "SELECT body FROM providers WHERE address = ?1",
                        [address],
                        |r| r.get(0),
                    )
                    .optional()?;
                body.map(|b| decode(&b)).transpose()
            }

            /// Jobs by state, providers, jobs waiting for chain work, and audit outcomes.
            pub(crate) fn counts(&self) -> Result<crate::metrics::StoreCounts> {
                let mut c = crate::metrics::StoreCounts::default();
                let mut stmt = self
                    .$conn
                    .prepare_cached("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
                for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                    let (state, n) = row?;
                    c.jobs.insert(state, n as u64);
                }
                c.providers = self
                    .$conn
                    .query_row("SELECT COUNT(*) FROM providers", [], |r| r.get::<_, i64>(0))?
                    as u64;
                c.escrow_queue = self.$conn.query_row(
                    "SELECT COUNT(*) FROM jobs WHERE todo IS NOT NULL AND todo != ?1",
                    [Todo::Audit.as_str()],
                    |r| r.get::<_, i64>(0),
                )? as u64;
                let mut stmt = self.$conn.prepare_cached(
                    "SELECT json_extract(body, '$.audit.outcome') AS o, COUNT(*) FROM jobs
                     WHERE o IS NOT NULL GROUP BY o",
                )?;
                for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                    match row? {
                        (o, n) if o == "passed" => c.audits_passed = n as u64,
                        (o, n) if o == "failed" => c.audits_failed = n as u64,
                        _ => {}
                    }
                }
                Ok(c)
            }

            /// Every provider.
            pub(crate) fn providers(&self) -> Result<Vec<ProviderRow>> {
                let mut stmt = self
                    .$conn
                    .prepare_cached("SELECT body FROM providers ORDER BY address")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for body in rows {
                    out.push(decode(&body?)?);
                }
                Ok(out)
            }

            /// Feed events after `after`, oldest first.
            pub(crate) fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<FeedEvent>> {
                let mut stmt = self.$conn.prepare_cached(
                    "SELECT id, at_ms, kind, body FROM feed WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                let rows = stmt.query_map(
                    params![after.min(i64::MAX as u64) as i64, limit as i64],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)? as u64,
                            r.get::<_, i64>(1)? as u64,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    },
                )?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, at_ms, kind, body) = row?;
                    out.push(FeedEvent {
                        id,
                        at_ms,
                        kind: serde_json::from_value(serde_json::Value::String(kind))
                            .map_err(|e| Error::Corrupt(format!("feed event {id}: {e}")))?,
                        data: decode(&body)?,
                    });
                }
                Ok(out)
            }

            /// A job's events, oldest first.
            pub(crate) fn events(&self, job: u64) -> Result<Vec<JobEvent>> {
                let mut stmt = self.$conn.prepare_cached(
                    "SELECT at_ms, message FROM events WHERE job = ?1 ORDER BY rowid",
                )?;
                let rows = stmt.query_map([job as i64], |r| {
                    Ok(JobEvent {
                        at_ms: r.get::<_, i64>(0)? as u64,
                        message: r.get(1)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
        }
    };
}

reads!(Reader, c);
reads!(Tx, t);

impl Tx<'_> {
    /// Adds an event to the live feed.
    fn feed(&self, kind: FeedKind, data: &serde_json::Value) -> Result<()> {
        self.t
            .prepare_cached("INSERT INTO feed (at_ms, kind, body) VALUES (?1, ?2, ?3)")?
            .execute(params![
                crate::node::now_ms() as i64,
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                data.to_string()
            ])?;
        self.fed.set(Some(self.t.last_insert_rowid()));
        Ok(())
    }

    /// Inserts or replaces a job (a change of state goes to the live feed).
    pub(crate) fn put_job(&self, job: &JobRow) -> Result<()> {
        let previous: Option<String> = self
            .t
            .prepare_cached("SELECT state FROM jobs WHERE id = ?1")?
            .query_row([job.id as i64], |r| r.get(0))
            .optional()?;
        if previous.as_deref() != Some(job.state.as_str()) {
            self.feed(
                FeedKind::Job,
                &serde_json::json!({
                    "id": job.id,
                    "state": job.state,
                    "previous": previous,
                    "name": job.spec.name,
                    "requester": job.requester,
                    "provider": job.provider,
                }),
            )?;
        }
        self.t
            .prepare_cached(
                "INSERT OR REPLACE INTO jobs
                 (id, state, provider, todo, receipt_todo, cores, mem, gpus, accept_by, deadline, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                job.id as i64,
                job.state.as_str(),
                job.provider,
                job.todo.map(Todo::as_str),
                job.receipt_todo as i64,
                job.spec.resources.cpu_cores as i64,
                job.spec.resources.memory_bytes as i64,
                job.spec.resources.gpus as i64,
                job.accept_by.min(i64::MAX as u64) as i64,
                job.deadline.min(i64::MAX as u64) as i64,
                encode(job)
            ])?;
        Ok(())
    }

    /// Inserts or replaces a provider (the change goes to the live feed).
    pub(crate) fn put_provider(&self, p: &ProviderRow) -> Result<()> {
        self.feed(
            FeedKind::Provider,
            &serde_json::json!({
                "address": p.address,
                "capacity": p.capacity,
                "kinds": p.kinds,
                "verifiedCores": p.verified_cores,
                "jobsCompleted": p.completed,
                "jobsFailed": p.failed,
                "leasesLost": p.lost,
                "earned": p.earned,
            }),
        )?;
        self.t
            .prepare_cached("INSERT OR REPLACE INTO providers (address, body) VALUES (?1, ?2)")?
            .execute(params![p.address, encode(p)])?;
        Ok(())
    }

    /// Appends to a job's history (and to the live feed).
    pub(crate) fn event(&self, job: u64, at_ms: u64, message: &str) -> Result<()> {
        self.feed(
            FeedKind::JobEvent,
            &serde_json::json!({ "id": job, "message": message }),
        )?;
        self.t
            .prepare_cached("INSERT INTO events (job, at_ms, message) VALUES (?1, ?2, ?3)")?
            .execute(params![job as i64, at_ms as i64, message])?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cairn_compute::{BlobRef, JobFile};

    pub(crate) fn row(id: u64) -> JobRow {
        let spec = JobFile::from_toml("name = \"t\"\nmodule = \"m\"\n[price]\nper_mfuel = 1\n")
            .unwrap()
            .resolve(BlobRef::of(b"m"), vec![], None)
            .unwrap();
        JobRow {
            id,
            spec_digest: hex::encode(spec.digest()),
            spec,
            requester: "0x01".into(),
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
            accept_by: 100,
            deadline: 1000,
            challenge_ends: None,
            submitted_ms: 1,
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
        }
    }

    #[test]
    fn rows_from_before_the_verification_policy_open_in_probation() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("n.db")).unwrap();
        // A provider and a job as an older node wrote them: no streak, no verification.
        let mut old_provider = serde_json::to_value(ProviderRow {
            address: "0xp".into(),
            capacity: Resources::default(),
            ask: Price::default(),
            gpu_names: vec![],
            kinds: vec![],
            devices: vec![],
            version: "0.1.0".into(),
            completed: 7,
            failed: 0,
            lost: 0,
            earned: 70,
            verified_cores: None,
            streak: 99,
        })
        .unwrap();
        old_provider.as_object_mut().unwrap().remove("streak");
        let mut old_job: serde_json::Value = serde_json::to_value(row(1)).unwrap();
        old_job.as_object_mut().unwrap().remove("verification");
        s.conn
            .execute(
                "INSERT INTO providers (address, body) VALUES ('0xp', ?1)",
                [old_provider.to_string()],
            )
            .unwrap();
        s.conn
            .execute(
                "INSERT INTO jobs (id, state, body) VALUES (1, 'queued', ?1)",
                [old_job.to_string()],
            )
            .unwrap();
        let p = s.read().provider("0xp").unwrap().unwrap();
        assert_eq!((p.completed, p.streak), (7, 0));
        assert_eq!(s.read().job(1).unwrap().unwrap().verification, None);
        // The streak and the decision persist once written.
        let decision = cairn_compute::verify::Policy::default().decide(
            cairn_compute::JobKind::Train,
            p.streak,
            42,
        );
        s.tx(|t| {
            t.put_provider(&ProviderRow { streak: 12, ..p })?;
            t.put_job(&JobRow {
                verification: Some(decision.clone()),
                ..row(1)
            })
        })
        .unwrap();
        drop(s);
        let s = Store::open(&dir.path().join("n.db")).unwrap();
        assert_eq!(s.read().provider("0xp").unwrap().unwrap().streak, 12);
        assert_eq!(
            s.read().job(1).unwrap().unwrap().verification,
            Some(decision)
        );
    }

    #[test]
    fn rows_round_trip_and_indexed_columns_follow_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("n.db")).unwrap();
        s.tx(|t| {
            let mut j = row(1);
            t.put_job(&j)?;
            j.id = 2;
            j.state = JobState::Assigned;
            j.provider = Some("0xp".into());
            j.todo = Some(Todo::Assign);
            t.put_job(&j)?;
            t.event(2, 5, "assigned")
        })
        .unwrap();
        let r = s.read();
        assert_eq!(r.job(1).unwrap().unwrap(), row(1));
        assert_eq!(r.jobs_in(&[JobState::Queued]).unwrap().len(), 1);
        assert_eq!(r.leased_to("0xp").unwrap()[0].id, 2);
        assert_eq!(r.jobs_todo(Todo::Assign, 10).unwrap()[0].id, 2);
        assert_eq!(r.events(2).unwrap()[0].message, "assigned");
        let used = r.leased_resources().unwrap();
        assert_eq!(used["0xp"].memory_bytes, row(2).spec.resources.memory_bytes);
        assert_eq!(r.jobs_overdue(50, 0).unwrap().len(), 0);
        assert_eq!(r.jobs_overdue(95, 5).unwrap().len(), 1); // the queued one, by accept_by
        assert_eq!(r.jobs_overdue(1000, 0).unwrap().len(), 2);
        assert!(r.job(3).unwrap().is_none());
        // Reopening keeps everything.
        drop(s);
        let s = Store::open(&dir.path().join("n.db")).unwrap();
        assert_eq!(s.read().job(2).unwrap().unwrap().state, JobState::Assigned);
    }
}
