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
mod tests {
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
        }
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
