//! The agent's state in SQLite: the price history it has seen, one row per schedule slot, and
//! one row per (slot, asset) order with its execution state. Every transition is committed
//! before the action it enables, so a process killed anywhere resumes from the last row:
//!
//! ```text
//!  slot decided (orders planned) ──▶ order sent (nonce, hash, signed bytes recorded BEFORE
//!      broadcast) ──▶ filled | failed ──▶ slot done ──▶ statements logged
//! ```
use crate::{Error, Result};
pub use cairn_attest::predicate::Execution;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// An order's execution state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderState {
    /// Decided, nothing sent.
    Planned,
    /// Signed and recorded; possibly broadcast.
    Sent,
    /// Done: bought (or, for a skip, nothing to do).
    Filled,
    /// Not bought: refused in simulation, reverted, or a skip.
    Failed,
    /// The policy decided not to buy.
    Skipped,
}

impl OrderState {
    fn as_str(self) -> &'static str {
        match self {
            OrderState::Planned => "planned",
            OrderState::Sent => "sent",
            OrderState::Filled => "filled",
            OrderState::Failed => "failed",
            OrderState::Skipped => "skipped",
        }
    }
    fn parse(s: &str) -> OrderState {
        match s {
            "planned" => OrderState::Planned,
            "sent" => OrderState::Sent,
            "filled" => OrderState::Filled,
            "skipped" => OrderState::Skipped,
            _ => OrderState::Failed,
        }
    }
    /// Whether nothing more will happen to the order.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Filled | OrderState::Failed | OrderState::Skipped
        )
    }
}

/// One asset's part of a slot's decision and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRow {
    /// Schedule slot (period index).
    pub slot: i64,
    /// Asset index in the plan.
    pub asset: usize,
    /// Plan symbol.
    pub symbol: String,
    /// Execution state.
    pub state: OrderState,
    /// The rule that fired, in words.
    pub reason: String,
    /// The policy's amount in, whole stablecoin (what the portfolio is charged).
    pub amount_in_f: f64,
    /// Stablecoin base units to spend (0 for a skip).
    pub amount_in: String,
    /// Least asset base units accepted (oracle price minus the plan's slippage).
    pub min_out: String,
    /// Asset base units received.
    pub fill: Option<String>,
    /// The transaction's nonce (live).
    pub nonce: Option<u64>,
    /// The transaction's hash (live).
    pub tx_hash: Option<String>,
    /// The signed transaction (live), to rebroadcast the very same bytes.
    #[serde(skip)]
    pub raw_tx: Option<Vec<u8>>,
    /// Block number when sent (where the reconciliation looks for the vault's events).
    pub sent_block: Option<u64>,
    /// Block the fill was mined in.
    pub fill_block: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The slot's inputs as JSON (prices, reserves, metrics).
    pub inputs: String,
    /// Index of the decision statement in the transparency log.
    pub log_index: Option<u64>,
    /// Where the buy was sent (live): venue, router and token path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Execution>,
}

/// A signed buy about to be broadcast.
#[derive(Debug, Clone, Copy)]
pub struct SentTx<'a> {
    /// Its nonce.
    pub nonce: u64,
    /// Its hash.
    pub hash: &'a str,
    /// Its signed bytes (broadcast again, byte for byte, after a lost answer).
    pub raw: &'a [u8],
    /// The block number when it was signed (where reconciliation looks for the vault's events).
    pub block: u64,
    /// Where it goes (kept when `None`: a replacement goes where the first went).
    pub route: Option<&'a Execution>,
}

/// What became of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The new state.
    pub state: OrderState,
    /// Asset base units received.
    pub fill: Option<&'a str>,
    /// The block the transaction was mined in.
    pub block: Option<u64>,
    /// The transaction (when it differs from the one recorded, or to record it).
    pub tx_hash: Option<&'a str>,
    /// Why it failed.
    pub error: Option<&'a str>,
}

impl<'a> Outcome<'a> {
    /// A failure that never reached the chain (nothing filled, no block, no new transaction).
    pub fn failed(why: &'a str) -> Self {
        Self {
            state: OrderState::Failed,
            fill: None,
            block: None,
            tx_hash: None,
            error: Some(why),
        }
    }
}

/// A slot (one due period) and its totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotRow {
    /// Period index.
    pub slot: i64,
    /// Chain time it was decided at (unix ms).
    pub time_ms: i64,
    /// Whether every order is final and the portfolio updated.
    pub done: bool,
    /// Cash before the decision (the period's budget added).
    pub cash_before: f64,
    /// Cash after the fills.
    pub cash_after: Option<f64>,
}

/// Takes the exclusive lock beside the state at `path` (`<path>.lock`): one agent process per
/// state, so two processes never decide or send for the same slot. Held until the file is
/// dropped.
pub fn lock(path: &Path) -> Result<std::fs::File> {
    let lock_path = path.with_extension("lock");
    let err = |reason: String| Error::Store {
        path: lock_path.display().to_string(),
        reason,
    };
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| err(e.to_string()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(err(
            "another agent is running with this state; stop it first".into(),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(err(e.to_string())),
    }
}

/// The SQLite state of one agent (one plan, one mode, one vault).
#[derive(Debug)]
pub struct Store {
    // Behind a mutex so the store (and the agent) can be shared across threads (the MCP server).
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prices (slot INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, prices TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS slots (
  slot INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
  cash_before REAL NOT NULL, cash_after REAL);
CREATE TABLE IF NOT EXISTS orders (
  slot INTEGER NOT NULL, asset INTEGER NOT NULL, symbol TEXT NOT NULL, state TEXT NOT NULL,
  reason TEXT NOT NULL, amount_in_f REAL NOT NULL, amount_in TEXT NOT NULL, min_out TEXT NOT NULL,
  fill TEXT, nonce INTEGER, tx_hash TEXT, raw_tx BLOB, sent_block INTEGER, fill_block INTEGER,
  error TEXT, inputs TEXT NOT NULL, log_index INTEGER, logged INTEGER NOT NULL DEFAULT 0,
  route TEXT, PRIMARY KEY (slot, asset));
";

/// Columns added after the first release, added to older databases on open.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[("orders", "route", "TEXT")];

impl Store {
    /// Opens (creating) the state at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Store {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| Error::Store {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let s = Store {
            conn: std::sync::Mutex::new(conn),
            path: path.to_owned(),
        };
        s.c()
            .execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; {SCHEMA}"
            ))
            .map_err(|e| s.err(e))?;
        s.add_columns()?;
        Ok(s)
    }

    /// Opens an existing state for reading only, beside the agent that writes it (the compute
    /// node's `/agent` API, a dashboard): no schema is created, nothing is migrated or written,
    /// and the agent's process lock (`<state>.lock`) is not taken. WAL lets it read while the
    /// agent commits; a write through this store fails.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        use rusqlite::OpenFlags;
        let err = |reason: String| Error::Store {
            path: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(err("no such file (the agent has not run yet)".into()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(e.to_string()))?;
        conn.execute_batch("PRAGMA query_only = 1; PRAGMA busy_timeout = 5000;")
            .map_err(|e| err(e.to_string()))?;
        Ok(Store {
            conn: std::sync::Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    fn add_columns(&self) -> Result<()> {
        let conn = self.c();
        for (table, column, ty) in ADDED_COLUMNS {
            let has: bool = conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
                    [column],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(|e| self.err(e))?
                > 0;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    fn c(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Store {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.c()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a metadata value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.c()
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Removes a metadata value (absent is fine).
    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.c()
            .execute("DELETE FROM meta WHERE key = ?1", params![key])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The price history, oldest first: `(slot, time_ms, prices in plan order)`.
    pub fn prices(&self) -> Result<Vec<(i64, i64, Vec<f64>)>> {
        let conn = self.c();
        let mut st = conn
            .prepare("SELECT slot, time_ms, prices FROM prices ORDER BY slot")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (slot, t, p) = row.map_err(|e| self.err(e))?;
            let p: Vec<f64> = serde_json::from_str(&p).map_err(|e| self.err(e))?;
            out.push((slot, t, p));
        }
        Ok(out)
    }

    /// Records a slot's decision: its prices, the slot row, every order and one metadata value,
    /// in one transaction (all or nothing).
    pub fn record_decision(
        &mut self,
        slot: i64,
        time_ms: i64,
        prices: &[f64],
        cash_before: f64,
        orders: &[OrderRow],
        meta: (&str, &str),
    ) -> Result<()> {
        let path = self.path.display().to_string();
        let e = |e: rusqlite::Error| Error::Store {
            path: path.clone(),
            reason: e.to_string(),
        };
        let mut conn = self.c();
        let tx = conn.transaction().map_err(e)?;
        tx.execute(
            "INSERT OR REPLACE INTO prices (slot, time_ms, prices) VALUES (?1, ?2, ?3)",
            params![
                slot,
                time_ms,
                serde_json::to_string(prices).unwrap_or_default()
            ],
        )
        .map_err(e)?;
        tx.execute(
            "INSERT INTO slots (slot, time_ms, cash_before) VALUES (?1, ?2, ?3)",
            params![slot, time_ms, cash_before],
        )
        .map_err(e)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![meta.0, meta.1],
        )
        .map_err(e)?;
        for o in orders {
            tx.execute(
                "INSERT INTO orders (slot, asset, symbol, state, reason, amount_in_f, amount_in,
                   min_out, inputs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    o.slot,
                    o.asset as i64,
                    o.symbol,
                    o.state.as_str(),
                    o.reason,
                    o.amount_in_f,
                    o.amount_in,
                    o.min_out,
                    o.inputs
                ],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    /// Records a signed transaction (and where it goes) before it is broadcast; a replacement
    /// at the same nonce is recorded the same way.
    pub fn record_sent(&self, slot: i64, asset: usize, tx: &SentTx<'_>) -> Result<()> {
        let route = tx
            .route
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| self.err(e))?;
        self.c()
            .execute(
                "UPDATE orders SET state = 'sent', nonce = ?3, tx_hash = ?4, raw_tx = ?5,
                   sent_block = ?6, route = COALESCE(?7, route) WHERE slot = ?1 AND asset = ?2",
                params![
                    slot,
                    asset as i64,
                    tx.nonce as i64,
                    tx.hash,
                    tx.raw,
                    tx.block as i64,
                    route
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Returns a sent order to `planned` (its transaction can never be mined).
    pub fn record_unsent(&self, slot: i64, asset: usize) -> Result<()> {
        self.c()
            .execute(
                "UPDATE orders SET state = 'planned', nonce = NULL, tx_hash = NULL,
                   raw_tx = NULL, sent_block = NULL WHERE slot = ?1 AND asset = ?2",
                params![slot, asset as i64],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records the outcome of an order.
    pub fn record_outcome(&self, slot: i64, asset: usize, o: &Outcome<'_>) -> Result<()> {
        self.c()
            .execute(
                "UPDATE orders SET state = ?3, fill = ?4, fill_block = ?5,
                   tx_hash = COALESCE(?6, tx_hash), error = ?7 WHERE slot = ?1 AND asset = ?2",
                params![
                    slot,
                    asset as i64,
                    o.state.as_str(),
                    o.fill,
                    o.block.map(|b| b as i64),
                    o.tx_hash,
                    o.error
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Closes a slot with the cash left after its fills.
    pub fn finish_slot(&self, slot: i64, cash_after: f64) -> Result<()> {
        self.c()
            .execute(
                "UPDATE slots SET done = 1, cash_after = ?2 WHERE slot = ?1",
                params![slot, cash_after],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records where an order's decision statement landed in the log.
    pub fn record_logged(&self, slot: i64, asset: usize, index: u64) -> Result<()> {
        self.c()
            .execute(
                "UPDATE orders SET logged = 1, log_index = ?3 WHERE slot = ?1 AND asset = ?2",
                params![slot, asset as i64, index as i64],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every slot, oldest first.
    pub fn slots(&self) -> Result<Vec<SlotRow>> {
        let conn = self.c();
        let mut st = conn
            .prepare("SELECT slot, time_ms, done, cash_before, cash_after FROM slots ORDER BY slot")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(SlotRow {
                    slot: r.get(0)?,
                    time_ms: r.get(1)?,
                    done: r.get::<_, i64>(2)? != 0,
                    cash_before: r.get(3)?,
                    cash_after: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    fn orders_where(&self, clause: &str, arg: i64) -> Result<Vec<OrderRow>> {
        let sql = format!(
            "SELECT slot, asset, symbol, state, reason, amount_in_f, amount_in, min_out, fill, nonce,
               tx_hash, raw_tx, sent_block, fill_block, error, inputs, log_index, route
             FROM orders WHERE {clause} ORDER BY slot, asset"
        );
        let conn = self.c();
        let mut st = conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([arg], |r| {
                Ok(OrderRow {
                    slot: r.get(0)?,
                    asset: r.get::<_, i64>(1)? as usize,
                    symbol: r.get(2)?,
                    state: OrderState::parse(&r.get::<_, String>(3)?),
                    reason: r.get(4)?,
                    amount_in_f: r.get(5)?,
                    amount_in: r.get(6)?,
                    min_out: r.get(7)?,
                    fill: r.get(8)?,
                    nonce: r.get::<_, Option<i64>>(9)?.map(|n| n as u64),
                    tx_hash: r.get(10)?,
                    raw_tx: r.get(11)?,
                    sent_block: r.get::<_, Option<i64>>(12)?.map(|n| n as u64),
                    fill_block: r.get::<_, Option<i64>>(13)?.map(|n| n as u64),
                    error: r.get(14)?,
                    inputs: r.get(15)?,
                    log_index: r.get::<_, Option<i64>>(16)?.map(|n| n as u64),
                    route: r
                        .get::<_, Option<String>>(17)?
                        .and_then(|j| serde_json::from_str(&j).ok()),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// The orders of one slot.
    pub fn orders_of(&self, slot: i64) -> Result<Vec<OrderRow>> {
        self.orders_where("slot = ?1", slot)
    }

    /// Every order, oldest first.
    pub fn orders(&self) -> Result<Vec<OrderRow>> {
        self.orders_where("?1 = ?1", 0)
    }

    /// Final orders whose decision statement is not in the log yet.
    pub fn unlogged(&self) -> Result<Vec<OrderRow>> {
        self.orders_where(
            "logged = 0 AND state IN ('filled', 'failed', 'skipped') AND ?1 = ?1",
            0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(slot: i64, asset: usize) -> OrderRow {
        OrderRow {
            slot,
            asset,
            symbol: "BTC".into(),
            state: OrderState::Planned,
            reason: "buy".into(),
            amount_in_f: 60.0,
            amount_in: "60000000".into(),
            min_out: "1".into(),
            fill: None,
            nonce: None,
            tx_hash: None,
            raw_tx: None,
            sent_block: None,
            fill_block: None,
            error: None,
            inputs: "{}".into(),
            log_index: None,
            route: None,
        }
    }

    #[test]
    fn a_read_only_store_reads_what_the_agent_wrote_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("cairn-agent-ro-{}", std::process::id()));
        let path = dir.join("state.sqlite");
        assert!(
            Store::open_read_only(&path).is_err(),
            "a missing state is not created"
        );
        assert!(!path.exists());
        let w = Store::open(&path).unwrap();
        w.set_meta("plan", "sha256:00").unwrap();
        let r = Store::open_read_only(&path).unwrap();
        assert_eq!(r.meta("plan").unwrap().as_deref(), Some("sha256:00"));
        // The writer's next commit is seen; the reader cannot write.
        w.set_meta("plan", "sha256:11").unwrap();
        assert_eq!(r.meta("plan").unwrap().as_deref(), Some("sha256:11"));
        assert!(r.set_meta("plan", "sha256:22").is_err());
        assert_eq!(w.meta("plan").unwrap().as_deref(), Some("sha256:11"));
        // Reading takes no lock: the agent's own lock is still free.
        drop(lock(&path).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_slot_is_recorded_once_and_its_orders_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("cairn-agent-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("s.sqlite");
        {
            let mut s = Store::open(&path).unwrap();
            s.record_decision(3, 1_000, &[1.0], 100.0, &[order(3, 0)], ("k", "v"))
                .unwrap();
            // The same slot again is refused: a slot is decided once.
            assert!(
                s.record_decision(3, 2_000, &[2.0], 100.0, &[order(3, 0)], ("k", "w"))
                    .is_err()
            );
            let route = Execution {
                venue: "pancake".into(),
                router: format!("0x{}", "11".repeat(20)),
                path: vec![
                    format!("0x{}", "22".repeat(20)),
                    format!("0x{}", "33".repeat(20)),
                ],
            };
            let tx = SentTx {
                nonce: 7,
                hash: "0xabc",
                raw: &[1, 2, 3],
                block: 42,
                route: Some(&route),
            };
            s.record_sent(3, 0, &tx).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let o = &s.orders_of(3).unwrap()[0];
        assert_eq!(o.state, OrderState::Sent);
        assert_eq!((o.nonce, o.sent_block), (Some(7), Some(42)));
        assert_eq!(o.raw_tx.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(s.prices().unwrap(), vec![(3, 1_000, vec![1.0])]);
        assert_eq!(
            s.meta("k").unwrap().as_deref(),
            Some("v"),
            "rolled back with its slot"
        );
        s.record_outcome(
            3,
            0,
            &Outcome {
                state: OrderState::Filled,
                fill: Some("5"),
                block: Some(43),
                tx_hash: None,
                error: None,
            },
        )
        .unwrap();
        let o = &s.orders_of(3).unwrap()[0];
        assert_eq!(o.tx_hash.as_deref(), Some("0xabc"), "the hash is kept");
        assert_eq!(s.unlogged().unwrap().len(), 1);
        s.record_logged(3, 0, 9).unwrap();
        assert!(s.unlogged().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn one_process_holds_a_state() {
        let dir = std::env::temp_dir().join(format!("cairn-agent-lock-{}", std::process::id()));
        let path = dir.join("s.sqlite");
        let held = lock(&path).unwrap();
        let again = lock(&path).unwrap_err().to_string();
        assert!(again.contains("another agent is running"), "{again}");
        drop(held);
        lock(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
