//! The log engine: sequencing with group commit, then integration into tiles and a checkpoint.
//!
//! ```text
//!  add() ──▶ channel ──▶ sequencer thread ──▶ journal (append batch, fdatasync) ──▶ ack {index}
//!                               │ pending entries
//!                               ▼
//!                        integrator thread ──▶ Merkle tree ──▶ tiles + entry bundles
//!                                                  │        ──▶ lineage index (SQLite)
//!                                                  └──────────▶ signed checkpoint ──▶ watchers
//! ```
//!
//! An entry is *sequenced* once it has an index and is durable in the journal — that is when
//! `add` returns. It is *integrated* once a published, signed checkpoint covers it. The two are
//! separate states with separate latencies, as in Tessera.
use crate::{
    Error, LineageHit, LogConfig, LogEntry, Mention, Result, StatementKind,
    entry::ENTRY_SIZE,
    index::LineageIndex,
    journal::{Journal, JournalReader, Located},
    storage::{FsStorage, LogStorage},
};
use cairn_tlog::{
    Checkpoint, Hash, MemoryTree, NodeSource, Note, NoteSigner, TILE_WIDTH, TileId, TlogProof,
    consistency_proof, encode_bundle, inclusion_proof, leaf_hash, tree_root,
};
use std::{
    collections::HashMap,
    sync::{Arc, Condvar, Mutex, RwLock, mpsc},
    thread::JoinHandle,
    time::{Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{oneshot, watch};

/// A statement to append, already validated and signed by its author.
#[derive(Debug, Clone)]
pub struct AddRequest {
    /// The canonical DSSE envelope bytes (stored as the blob the entry points at).
    pub envelope: Vec<u8>,
    /// SHA-256 of `envelope`.
    pub envelope_sha256: [u8; 32],
    /// Kind of statement.
    pub kind: StatementKind,
    /// SHA-256 of the signer's public key.
    pub signer_key_hash: [u8; 32],
    /// Digests the statement mentions, when the caller already parsed it (the HTTP handler
    /// has); `None` lets the log's [`LogConfig::mentions`] extractor parse the envelope.
    pub mentions: Option<Vec<Mention>>,
}

/// The answer to an add: the entry's index, durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sequenced {
    /// Index of the entry.
    pub index: u64,
    /// Whether the same envelope was already in the log (the existing index is returned).
    pub duplicate: bool,
}

type Reply = oneshot::Sender<Result<Sequenced>>;

struct Pending {
    entry: [u8; ENTRY_SIZE],
    envelope: Vec<u8>,
    mentions: Option<Vec<Mention>>,
}

#[derive(Default)]
struct State {
    /// Sequenced, not yet integrated.
    pending: Vec<Pending>,
    /// Integrated, not yet in the lineage index: (first index, entries).
    to_index: Vec<(u64, Vec<Pending>)>,
    /// Entries in the lineage index (a prefix of the log).
    indexed: u64,
    closed: bool,
    integrator_done: bool,
    failed: Option<String>,
}

struct Shared {
    config: LogConfig,
    storage: Arc<dyn LogStorage>,
    state: Mutex<State>,
    wake: Condvar,
    integrated: watch::Sender<u64>,
    tree: RwLock<MemoryTree>,
    entries: RwLock<Vec<[u8; ENTRY_SIZE]>>,
    envelopes: RwLock<Vec<Located>>,
    by_digest: RwLock<HashMap<[u8; 32], u64>>,
    checkpoint: RwLock<String>,
    signer: NoteSigner,
    reader: JournalReader,
    index: Mutex<LineageIndex>,
}

/// A running log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Log {
    shared: Arc<Shared>,
    submit: mpsc::Sender<(AddRequest, Reply)>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("origin", &self.shared.config.origin)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Opens the log in `config.dir`, recovering from the journal, and starts its threads.
    pub fn open(config: LogConfig, signer: NoteSigner) -> Result<Self> {
        std::fs::create_dir_all(&config.dir).map_err(|e| Error::io(&config.dir, e))?;
        let storage: Arc<dyn LogStorage> = Arc::new(FsStorage::new(config.dir.join("public"))?);
        let (journal, replayed) = Journal::open(&config.dir.join("journal"))?;
        let mut tree = MemoryTree::new();
        let mut entries = Vec::with_capacity(replayed.len());
        let mut envelopes = Vec::with_capacity(replayed.len());
        let mut by_digest = HashMap::with_capacity(replayed.len());
        for (i, r) in replayed.iter().enumerate() {
            tree.push(leaf_hash(&r.entry));
            by_digest.insert(r.entry[2..34].try_into().expect("32 bytes"), i as u64);
            entries.push(r.entry);
            envelopes.push(r.envelope);
        }
        let size = entries.len() as u64;
        let reader = journal.reader()?;
        let mut index = LineageIndex::open(&config.dir.join("index.sqlite"))?;
        if let Some(extract) = &config.mentions {
            let from = index.indexed()?.min(size);
            let batch = envelopes[from as usize..]
                .iter()
                .map(|at| reader.read(*at).map(|env| extract(&env)))
                .collect::<Result<Vec<_>>>()?;
            index.add(from, &batch)?;
        }
        // Everything published is derived from the journal: rewrite it all so nothing a crash
        // lost or half-wrote survives.
        write_tiles(storage.as_ref(), &tree, &entries, 0, size)?;
        let checkpoint = sign_checkpoint(&config.origin, &signer, &tree, size)?;
        storage.put("checkpoint", checkpoint.as_bytes())?;
        tracing::info!(origin = %config.origin, size, "log opened");

        let (integrated, _) = watch::channel(size);
        let shared = Arc::new(Shared {
            config,
            storage,
            state: Mutex::new(State {
                indexed: size,
                ..State::default()
            }),
            wake: Condvar::new(),
            integrated,
            tree: RwLock::new(tree),
            entries: RwLock::new(entries),
            envelopes: RwLock::new(envelopes),
            by_digest: RwLock::new(by_digest),
            checkpoint: RwLock::new(checkpoint),
            signer,
            reader,
            index: Mutex::new(index),
        });
        let (submit, rx) = mpsc::channel();
        let seq = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("log-sequencer".into())
                .spawn(move || sequencer(shared, journal, rx, size))
                .map_err(|e| Error::Closed(format!(": cannot start the sequencer: {e}")))?
        };
        let int = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("log-integrator".into())
                .spawn(move || integrator(shared, size))
                .map_err(|e| Error::Closed(format!(": cannot start the integrator: {e}")))?
        };
        let idx = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("log-indexer".into())
                .spawn(move || indexer(shared))
                .map_err(|e| Error::Closed(format!(": cannot start the indexer: {e}")))?
        };
        Ok(Self {
            shared,
            submit,
            threads: Arc::new(Mutex::new(vec![seq, int, idx])),
        })
    }

    /// The origin line of this log's checkpoints.
    pub fn origin(&self) -> &str {
        &self.shared.config.origin
    }

    /// The storage the log publishes tiles and checkpoints to.
    pub fn storage(&self) -> &Arc<dyn LogStorage> {
        &self.shared.storage
    }

    /// The log's checkpoint signer (for its verifier key).
    pub fn signer(&self) -> &NoteSigner {
        &self.shared.signer
    }

    /// Appends a statement. Returns once the entry is durable with its index (or the index of
    /// the identical envelope already in the log).
    pub async fn add(&self, req: AddRequest) -> Result<Sequenced> {
        if req.envelope.len() > self.shared.config.max_envelope_bytes {
            return Err(Error::Rejected(format!(
                "envelope is {} bytes; the limit is {} bytes",
                req.envelope.len(),
                self.shared.config.max_envelope_bytes
            )));
        }
        if let Some(&index) = self
            .shared
            .by_digest
            .read()
            .expect("lock")
            .get(&req.envelope_sha256)
        {
            return Ok(Sequenced {
                index,
                duplicate: true,
            });
        }
        let (tx, rx) = oneshot::channel();
        self.submit.send((req, tx)).map_err(|_| self.closed())?;
        rx.await.map_err(|_| self.closed())?
    }

    fn closed(&self) -> Error {
        let failed = self.shared.state.lock().expect("lock").failed.clone();
        Error::Closed(
            failed
                .map(|f| format!(" after an error: {f}"))
                .unwrap_or_default(),
        )
    }

    /// Waits until a published checkpoint covers `index`; returns that checkpoint's size.
    pub async fn wait_integrated(&self, index: u64) -> Result<u64> {
        let mut rx = self.shared.integrated.subscribe();
        let size = *rx
            .wait_for(|&s| s > index)
            .await
            .map_err(|_| self.closed())?;
        Ok(size)
    }

    /// A receiver that sees the checkpoint size change at each publication.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.integrated.subscribe()
    }

    /// Size of the latest published checkpoint.
    pub fn size(&self) -> u64 {
        *self.shared.integrated.borrow()
    }

    /// The latest signed checkpoint (a signed note).
    pub fn checkpoint(&self) -> String {
        self.shared.checkpoint.read().expect("lock").clone()
    }

    /// Replaces the published checkpoint note by one carrying extra (witness) signatures over
    /// the same body. Ignored when a newer checkpoint was published meanwhile.
    pub fn attach_cosignatures(&self, note: &Note) -> Result<()> {
        let mut current = self.shared.checkpoint.write().expect("lock");
        let cur = Note::parse(&current)?;
        if cur.text != note.text {
            return Ok(());
        }
        let mut merged = cur;
        for sig in &note.signatures {
            if !merged
                .signatures
                .iter()
                .any(|s| s.name == sig.name && s.key_id == sig.key_id)
            {
                merged.signatures.push(sig.clone());
            }
        }
        let text = merged.to_string();
        self.shared.storage.put("checkpoint", text.as_bytes())?;
        *current = text;
        Ok(())
    }

    /// The entry at `index` (sequenced entries included).
    pub fn entry(&self, index: u64) -> Result<LogEntry> {
        let entries = self.shared.entries.read().expect("lock");
        let bytes = entries.get(index as usize).ok_or_else(|| {
            Error::OutOfRange(format!(
                "no entry {index}: the log has {} entries",
                entries.len()
            ))
        })?;
        LogEntry::decode(bytes)
    }

    /// The envelope an entry points at.
    pub fn envelope(&self, index: u64) -> Result<Vec<u8>> {
        let at = *self
            .shared
            .envelopes
            .read()
            .expect("lock")
            .get(index as usize)
            .ok_or_else(|| Error::OutOfRange(format!("no entry {index}")))?;
        self.shared.reader.read(at)
    }

    /// The envelope with this SHA-256, if logged.
    pub fn envelope_by_digest(&self, sha256: &[u8; 32]) -> Result<Option<(u64, Vec<u8>)>> {
        let index = self
            .shared
            .by_digest
            .read()
            .expect("lock")
            .get(sha256)
            .copied();
        index.map(|i| self.envelope(i).map(|e| (i, e))).transpose()
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.check_size(size)?;
        if index >= size {
            return Err(Error::OutOfRange(format!(
                "entry {index} is not in a tree of size {size}"
            )));
        }
        Ok(inclusion_proof(
            &*self.shared.tree.read().expect("lock"),
            index,
            size,
        )?)
    }

    /// Consistency proof between two published tree sizes.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        self.check_size(new)?;
        if old > new {
            return Err(Error::OutOfRange(format!(
                "old size {old} is larger than new size {new}"
            )));
        }
        Ok(consistency_proof(
            &*self.shared.tree.read().expect("lock"),
            old,
            new,
        )?)
    }

    /// Root of the tree of `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash> {
        self.check_size(size)?;
        Ok(tree_root(&*self.shared.tree.read().expect("lock"), size)?)
    }

    fn check_size(&self, size: u64) -> Result<()> {
        let integrated = self.size();
        if size > integrated {
            return Err(Error::OutOfRange(format!(
                "tree size {size} is beyond the latest checkpoint ({integrated})"
            )));
        }
        Ok(())
    }

    /// An offline proof (C2SP tlog-proof) of entry `index` against the latest checkpoint.
    pub fn tlog_proof(&self, index: u64) -> Result<TlogProof> {
        let checkpoint = self.checkpoint();
        let size = Checkpoint::parse_body(&Note::parse(&checkpoint)?.text)?.size;
        Ok(TlogProof {
            extra: None,
            index,
            proof: self.inclusion_proof(index, size)?,
            checkpoint,
        })
    }

    /// Entries mentioning `digest` (`sha256:<hex>`, `blake3:<hex>`...).
    ///
    /// Read-your-writes: waits (briefly) until the index covers every entry integrated when
    /// the call was made.
    pub fn lineage(&self, digest: &str) -> Result<Vec<LineageHit>> {
        let target = self.size();
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let mut st = self.shared.state.lock().expect("lock");
        while st.indexed < target && !st.integrator_done && Instant::now() < deadline {
            st = self
                .shared
                .wake
                .wait_timeout(st, std::time::Duration::from_millis(20))
                .expect("lock")
                .0;
        }
        drop(st);
        self.shared.index.lock().expect("lock").lookup(digest)
    }

    /// Stops accepting entries, finishes what is queued and joins the threads.
    pub fn close(&self) {
        {
            let mut st = self.shared.state.lock().expect("lock");
            st.closed = true;
        }
        self.shared.wake.notify_all();
        // Dropping our sender is not enough while clones exist: the sequencer also checks
        // `closed` between batches.
        let threads = std::mem::take(&mut *self.threads.lock().expect("lock"));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn sequencer(
    shared: Arc<Shared>,
    mut journal: Journal,
    rx: mpsc::Receiver<(AddRequest, Reply)>,
    mut next: u64,
) {
    let cfg = &shared.config;
    let mut batch: Vec<(AddRequest, Reply)> = Vec::with_capacity(cfg.batch_max);
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(first) => batch.push(first),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if shared.state.lock().expect("lock").closed {
                    break;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let deadline = Instant::now() + cfg.batch_delay;
        while batch.len() < cfg.batch_max {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            match rx.recv_timeout(left) {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }

        // Assign indexes in arrival order; a repeat (even within this batch) gets the first index.
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut fresh = Vec::new();
        let mut staged: Vec<Located> = Vec::new();
        {
            let mut by_digest = shared.by_digest.write().expect("lock");
            let time_ms = now_ms();
            for (req, _) in &batch {
                if let Some(&index) = by_digest.get(&req.envelope_sha256) {
                    outcomes.push(Sequenced {
                        index,
                        duplicate: true,
                    });
                    continue;
                }
                let entry = LogEntry {
                    kind: req.kind,
                    envelope_sha256: req.envelope_sha256,
                    signer_key_hash: req.signer_key_hash,
                    time_ms,
                }
                .encode();
                staged.push(journal.stage(&entry, &req.envelope));
                by_digest.insert(req.envelope_sha256, next);
                outcomes.push(Sequenced {
                    index: next,
                    duplicate: false,
                });
                fresh.push(entry);
                next += 1;
            }
            if let Err(e) = journal.commit() {
                // Nothing in this batch is durable: forget it and stop accepting entries.
                for (req, _) in &batch {
                    if by_digest
                        .get(&req.envelope_sha256)
                        .is_some_and(|&i| i >= next - fresh.len() as u64)
                    {
                        by_digest.remove(&req.envelope_sha256);
                    }
                }
                let msg = e.to_string();
                tracing::error!(error = %msg, "journal commit failed; the log stops accepting entries");
                shared.state.lock().expect("lock").failed = Some(msg.clone());
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(Error::Closed(format!(" after an error: {msg}"))));
                }
                return;
            }
            // Publish positions before releasing the digest map, so a reader that finds the
            // digest also finds the envelope.
            shared
                .envelopes
                .write()
                .expect("lock")
                .extend_from_slice(&staged);
            shared
                .entries
                .write()
                .expect("lock")
                .extend_from_slice(&fresh);
        }
        {
            let mut st = shared.state.lock().expect("lock");
            let mut fresh_iter = fresh.into_iter();
            for ((req, _), outcome) in batch.iter_mut().zip(&outcomes) {
                if !outcome.duplicate {
                    let entry = fresh_iter.next().expect("one entry per fresh request");
                    st.pending.push(Pending {
                        entry,
                        envelope: std::mem::take(&mut req.envelope),
                        mentions: req.mentions.take(),
                    });
                }
            }
        }
        shared.wake.notify_all();
        for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
            let _ = reply.send(Ok(outcome));
        }
    }
    let mut st = shared.state.lock().expect("lock");
    st.closed = true;
    drop(st);
    shared.wake.notify_all();
}

fn integrator(shared: Arc<Shared>, mut size: u64) {
    loop {
        let pending = {
            let mut st = shared.state.lock().expect("lock");
            while st.pending.is_empty() && !st.closed {
                st = shared.wake.wait(st).expect("lock");
            }
            if st.pending.is_empty() && st.closed {
                st.integrator_done = true;
                drop(st);
                shared.wake.notify_all();
                return;
            }
            std::mem::take(&mut st.pending)
        };
        let from = size;
        if let Err(e) = integrate(&shared, &mut size, &pending) {
            let msg = e.to_string();
            tracing::error!(error = %msg, "integration failed; the log stops publishing");
            let mut st = shared.state.lock().expect("lock");
            st.failed = Some(msg);
            st.integrator_done = true;
            drop(st);
            shared.wake.notify_all();
            return;
        }
        shared
            .state
            .lock()
            .expect("lock")
            .to_index
            .push((from, pending));
        shared.wake.notify_all();
    }
}

/// Keeps the lineage index behind the checkpoint, off its critical path: publishing a
/// checkpoint never waits for SQLite.
fn indexer(shared: Arc<Shared>) {
    loop {
        let batches = {
            let mut st = shared.state.lock().expect("lock");
            while st.to_index.is_empty() && !st.integrator_done {
                st = shared.wake.wait(st).expect("lock");
            }
            if st.to_index.is_empty() {
                return;
            }
            std::mem::take(&mut st.to_index)
        };
        for (from, pending) in batches {
            let mentions: Vec<Vec<Mention>> = pending
                .into_iter()
                .map(|p| match (p.mentions, &shared.config.mentions) {
                    (Some(m), _) => m,
                    (None, Some(extract)) => extract(&p.envelope),
                    (None, None) => Vec::new(),
                })
                .collect();
            let n = mentions.len() as u64;
            if let Err(e) = shared.index.lock().expect("lock").add(from, &mentions) {
                tracing::error!(error = %e, "lineage index update failed; lookups stay behind");
                return;
            }
            shared.state.lock().expect("lock").indexed = from + n;
            shared.wake.notify_all();
        }
    }
}

fn integrate(shared: &Shared, size: &mut u64, pending: &[Pending]) -> Result<()> {
    let old = *size;
    let new = old + pending.len() as u64;
    {
        let mut tree = shared.tree.write().expect("lock");
        for p in pending {
            tree.push(leaf_hash(&p.entry));
        }
    }
    let tree = shared.tree.read().expect("lock");
    {
        let entries = shared.entries.read().expect("lock");
        write_tiles(
            shared.storage.as_ref(),
            &tree,
            &entries[..new as usize],
            old,
            new,
        )?;
    }
    let checkpoint = sign_checkpoint(&shared.config.origin, &shared.signer, &tree, new)?;
    drop(tree);
    {
        // Under the lock, so a concurrent attach_cosignatures never writes an older note over it.
        let mut current = shared.checkpoint.write().expect("lock");
        shared.storage.put("checkpoint", checkpoint.as_bytes())?;
        *current = checkpoint;
    }
    *size = new;
    shared.integrated.send_replace(new);
    Ok(())
}

fn sign_checkpoint(
    origin: &str,
    signer: &NoteSigner,
    tree: &MemoryTree,
    size: u64,
) -> Result<String> {
    Ok(Checkpoint::new(origin, size, tree_root(tree, size)?)
        .sign(signer)?
        .to_string())
}

/// Writes every hash tile and entry bundle that changes when the tree grows from `old` to `new`
/// entries (all of them when `old` is 0).
fn write_tiles(
    storage: &dyn LogStorage,
    tree: &MemoryTree,
    entries: &[[u8; ENTRY_SIZE]],
    old: u64,
    new: u64,
) -> Result<()> {
    if new == old {
        return Ok(());
    }
    for n in old / TILE_WIDTH..=(new - 1) / TILE_WIDTH {
        let lo = n * TILE_WIDTH;
        let hi = new.min(lo + TILE_WIDTH);
        let items: Vec<&[u8]> = entries[lo as usize..hi as usize]
            .iter()
            .map(|e| &e[..])
            .collect();
        let tile = TileId {
            level: 0,
            index: n,
            width: (hi - lo) as u16,
        };
        storage.put(&tile.entries_path(), &encode_bundle(&items)?)?;
    }
    for level in 0u8.. {
        let shift = 8 * u32::from(level);
        if shift >= 64 {
            break;
        }
        let (a, b) = (old >> shift, new >> shift);
        if b == 0 {
            break;
        }
        if a == b {
            continue;
        }
        for n in a / TILE_WIDTH..=(b - 1) / TILE_WIDTH {
            let lo = n * TILE_WIDTH;
            let hi = b.min(lo + TILE_WIDTH);
            let mut bytes = Vec::with_capacity(((hi - lo) * 32) as usize);
            for i in lo..hi {
                bytes.extend_from_slice(&tree.node(shift as u8, i)?);
            }
            let tile = TileId {
                level,
                index: n,
                width: (hi - lo) as u16,
            };
            storage.put(&tile.path(), &bytes)?;
        }
    }
    Ok(())
}
