//! The lineage index: which entries mention a digest.
//!
//! Rekor v2 dropped its search index; its users miss it. Here every digest a statement names —
//! its subjects and the upstream artifacts its predicate points at — maps to the entry index,
//! so `cairn lineage <digest>` is one lookup. The index is derived data (rebuilt from the
//! journal when behind), so SQLite runs with `synchronous=OFF`.
use crate::Result;
use rusqlite::{Connection, params};
use serde::Serialize;
use std::path::Path;

/// How an entry mentions a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The digest is a subject of the statement (what it is about).
    Subject,
    /// The statement's predicate refers to the digest (an input: dataset, model, run...).
    Reference,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Reference => "reference",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "subject" {
            Self::Subject
        } else {
            Self::Reference
        }
    }
}

/// A digest named by a statement, normalised as `<algorithm>:<lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mention {
    /// The digest.
    pub digest: String,
    /// How the statement names it.
    pub role: Role,
}

/// One hit of a lineage lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineageHit {
    /// Entry index.
    pub index: u64,
    /// How that entry mentions the digest.
    pub role: Role,
}

pub(crate) struct LineageIndex {
    conn: Connection,
}

impl LineageIndex {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=OFF;
             CREATE TABLE IF NOT EXISTS mentions (digest TEXT NOT NULL, idx INTEGER NOT NULL, role TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS mentions_digest ON mentions(digest);
             CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);",
        )?;
        Ok(Self { conn })
    }

    /// How many entries (a prefix of the log) are indexed.
    pub(crate) fn indexed(&self) -> Result<u64> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT v FROM meta WHERE k = 'indexed'", [], |r| r.get(0))
            .ok();
        Ok(v.unwrap_or(0) as u64)
    }

    /// Adds the mentions of entries `[from, from + batch.len())` in one transaction.
    pub(crate) fn add(&mut self, from: u64, batch: &[Vec<Mention>]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            // Entries at or past `from` may have been indexed before a crash: replace them.
            tx.execute("DELETE FROM mentions WHERE idx >= ?1", params![from as i64])?;
            let mut insert =
                tx.prepare_cached("INSERT INTO mentions (digest, idx, role) VALUES (?1, ?2, ?3)")?;
            for (i, mentions) in batch.iter().enumerate() {
                for m in mentions {
                    insert.execute(params![m.digest, (from + i as u64) as i64, m.role.as_str()])?;
                }
            }
            tx.execute(
                "INSERT INTO meta (k, v) VALUES ('indexed', ?1) ON CONFLICT(k) DO UPDATE SET v = ?1",
                params![(from + batch.len() as u64) as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn lookup(&self, digest: &str) -> Result<Vec<LineageHit>> {
        lookup_on(&self.conn, digest)
    }
}

/// A read-only connection for lookups: in WAL mode they read the last committed state and
/// never wait for the indexer's write transaction (nor its lock).
pub(crate) struct LineageReader {
    conn: Connection,
}

impl LineageReader {
    /// Opens the index at `path` (created by [`LineageIndex::open`] first) read-only.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self { conn })
    }

    /// Entries mentioning `digest`, as of the last committed index batch.
    pub(crate) fn lookup(&self, digest: &str) -> Result<Vec<LineageHit>> {
        lookup_on(&self.conn, digest)
    }
}

fn lookup_on(conn: &Connection, digest: &str) -> Result<Vec<LineageHit>> {
    let mut q =
        conn.prepare_cached("SELECT idx, role FROM mentions WHERE digest = ?1 ORDER BY idx")?;
    let rows = q.query_map(params![digest], |r| {
        Ok(LineageHit {
            index: r.get::<_, i64>(0)? as u64,
            role: Role::parse(&r.get::<_, String>(1)?),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup answers while the indexer holds a write transaction open, from the last
    /// committed batch (before, lookups shared the indexer's connection and its lock).
    #[test]
    fn lookups_answer_while_an_index_batch_is_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let mut idx = LineageIndex::open(&path).unwrap();
        let m = |d: &str| Mention {
            digest: d.into(),
            role: Role::Subject,
        };
        idx.add(0, &[vec![m("sha256:aa")]]).unwrap();
        let reader = LineageReader::open(&path).unwrap();
        let tx = idx.conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO mentions (digest, idx, role) VALUES ('sha256:aa', 1, 'subject')",
            [],
        )
        .unwrap();
        // The write transaction is open (its lock held) and the reader answers.
        let (send, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(reader.lookup("sha256:aa").map(|h| h.len()));
        });
        let hits = answer
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the lookup waited for the write transaction");
        assert_eq!(hits.unwrap(), 1, "only the committed batch is visible");
        tx.commit().unwrap();
        assert_eq!(
            LineageReader::open(&path)
                .unwrap()
                .lookup("sha256:aa")
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn lookups_find_every_entry_naming_a_digest() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = LineageIndex::open(&dir.path().join("index.sqlite")).unwrap();
        let m = |d: &str, role| Mention {
            digest: d.into(),
            role,
        };
        idx.add(
            0,
            &[
                vec![m("sha256:aa", Role::Subject)],
                vec![
                    m("sha256:bb", Role::Subject),
                    m("sha256:aa", Role::Reference),
                ],
            ],
        )
        .unwrap();
        assert_eq!(idx.indexed().unwrap(), 2);
        assert_eq!(
            idx.lookup("sha256:aa").unwrap(),
            vec![
                LineageHit {
                    index: 0,
                    role: Role::Subject
                },
                LineageHit {
                    index: 1,
                    role: Role::Reference
                }
            ]
        );
        assert!(idx.lookup("sha256:cc").unwrap().is_empty());
        // Re-indexing from 1 (as after a crash) replaces, never duplicates.
        idx.add(1, &[vec![m("sha256:bb", Role::Subject)]]).unwrap();
        assert_eq!(idx.lookup("sha256:aa").unwrap().len(), 1);
        assert_eq!(idx.lookup("sha256:bb").unwrap().len(), 1);
    }
}
