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
    ENTRY_SIZE, Error, LineageHit, LogConfig, LogEntry, Mention, Result, StatementKind,
    index::{LineageIndex, LineageReader},
    journal::{Journal, JournalReader, Located, Opened},
    storage::{FsStorage, LogStorage},
};
use cairn_tlog::{
    Checkpoint, Hash, MemoryTree, NodeSource, Note, NoteSigner, TILE_WIDTH, TileId, TlogProof,
    consistency_proof, encode_bundle, inclusion_proof, leaf_hash, tree_root, verify_consistency,
};
use std::{
    collections::HashMap,
    io::Write,
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
    /// Why the last write of tiles or checkpoint failed, while it keeps failing.
    storage_error: Option<String>,
}

struct Shared {
    config: LogConfig,
    storage: Arc<dyn LogStorage>,
    state: Mutex<State>,
    wake: Condvar,
    /// Size of the checkpoint served (and used for bundles).
    integrated: watch::Sender<u64>,
    /// Size of the latest checkpoint the log signed (tiles exist up to it).
    signed_size: watch::Sender<u64>,
    /// The latest checkpoint the log signed: the floor nothing may go below or fork from.
    signed: RwLock<Floor>,
    /// When recent checkpoints were signed: (size, time), newest last.
    sign_times: Mutex<std::collections::VecDeque<(u64, Instant)>>,
    /// When the served checkpoint was signed.
    served_signed_at: Mutex<Instant>,
    /// Why the log stopped accepting entries for good (damage, a fork refused), if it did.
    halted: RwLock<Option<String>>,
    tree: RwLock<MemoryTree>,
    entries: RwLock<Vec<[u8; ENTRY_SIZE]>>,
    envelopes: RwLock<Vec<Located>>,
    by_digest: RwLock<HashMap<[u8; 32], u64>>,
    /// The served checkpoint note.
    checkpoint: RwLock<String>,
    signer: NoteSigner,
    reader: Option<JournalReader>,
    index: Mutex<LineageIndex>,
    /// Lookups read on their own connection, never behind an index batch being written.
    lookups: Mutex<LineageReader>,
    /// Whether every journal record's checksum has been checked since start-up (the published
    /// prefix is checked in the background).
    journal_verified: std::sync::atomic::AtomicBool,
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

/// The latest signed checkpoint, kept durably in `<dir>/published-checkpoint`.
#[derive(Clone)]
struct Floor {
    size: u64,
    root: Hash,
    note: String,
}

/// The file holding the latest checkpoint the log signed.
const FLOOR_FILE: &str = "published-checkpoint";

/// Reads the floor: the latest checkpoint this log signed. Logs from before the floor existed
/// fall back to their published `checkpoint`.
fn read_floor(
    dir: &std::path::Path,
    storage: &dyn LogStorage,
    signer: &NoteSigner,
) -> Result<Option<Floor>> {
    let path = dir.join(FLOOR_FILE);
    let (text, from) = match std::fs::read_to_string(&path) {
        Ok(t) => (t, path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match storage.get("checkpoint")? {
            Some(b) => match String::from_utf8(b) {
                Ok(t) => (t, "public/checkpoint".to_owned()),
                Err(_) => return Ok(None),
            },
            None => return Ok(None),
        },
        Err(e) => return Err(Error::io(&path, e)),
    };
    let (cp, _) = Checkpoint::open(&text, &signer.verifier()).map_err(|e| {
        Error::Damaged(format!(
            "{from} holds the latest checkpoint this log signed, but it does not verify with \
             the log key ({e}); restore it from a backup or a witness's copy"
        ))
    })?;
    Ok(Some(Floor {
        size: cp.size,
        root: cp.root,
        note: text,
    }))
}

/// Writes the floor durably (temp file, fsync, rename, fsync directory) before the checkpoint
/// is shown to anyone.
fn write_floor(dir: &std::path::Path, note: &str) -> Result<()> {
    let path = dir.join(FLOOR_FILE);
    let io = |e: std::io::Error| Error::io(&path, e);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(note.as_bytes()).map_err(io)?;
    tmp.as_file().sync_data().map_err(io)?;
    tmp.persist(&path).map_err(|e| io(e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)
}

/// The background half of start-up: checks the checksums of the `published` records that
/// [`Log::open`] only parsed, and stops the log read-only if one does not check.
fn verify_journal(shared: &Shared, path: &std::path::Path, published: u64, what_to_do: &str) {
    let started = Instant::now();
    match crate::journal::verify_published(path, published) {
        Ok(None) => {
            shared
                .journal_verified
                .store(true, std::sync::atomic::Ordering::Release);
            tracing::info!(
                records = published,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "journal checksums verified"
            );
        }
        Ok(Some(d)) => {
            let msg = format!(
                "journal {} is damaged at byte offset {}: {}. {what_to_do}",
                path.display(),
                d.offset,
                d.reason
            );
            tracing::error!(reason = %msg, "the log is read-only");
            *shared.halted.write().expect("lock") = Some(msg);
        }
        Err(e) => {
            let msg = format!(
                "journal {} could not be read back to verify it: {e}. {what_to_do}",
                path.display()
            );
            tracing::error!(reason = %msg, "the log is read-only");
            *shared.halted.write().expect("lock") = Some(msg);
        }
    }
}

impl Log {
    /// Opens the log in `config.dir`, recovering from the journal, and starts its threads.
    ///
    /// A journal that is damaged beyond a torn tail, or that does not reproduce the latest
    /// checkpoint the log signed, opens the log *read-only* ([`Log::halted`] says why): it
    /// serves what it published and refuses new entries, and never signs a second history.
    pub fn open(config: LogConfig, signer: NoteSigner) -> Result<Self> {
        let started = Instant::now();
        std::fs::create_dir_all(&config.dir).map_err(|e| Error::io(&config.dir, e))?;
        let storage: Arc<dyn LogStorage> = match &config.storage {
            Some(s) => s.clone(),
            None => Arc::new(FsStorage::new(config.dir.join("public"))?),
        };
        let floor = read_floor(&config.dir, storage.as_ref(), &signer)?;
        let floor_size = floor.as_ref().map_or(0, |f| f.size);
        let journal_path = config.dir.join("journal");
        let Opened {
            journal,
            records,
            damage,
            cut,
        } = Journal::open(&journal_path, floor_size)?;
        // The tree on one core, the lookup tables on another.
        let (tree, (by_digest, entries, envelopes)) = std::thread::scope(|s| {
            let tree =
                s.spawn(|| MemoryTree::from_leaves(records.iter().map(|r| leaf_hash(&r.entry))));
            let mut by_digest = HashMap::with_capacity(records.len());
            for (i, r) in records.iter().enumerate() {
                by_digest.insert(r.entry[2..34].try_into().expect("32 bytes"), i as u64);
            }
            let entries: Vec<_> = records.iter().map(|r| r.entry).collect();
            let envelopes: Vec<_> = records.iter().map(|r| r.envelope).collect();
            (
                tree.join().expect("tree builder"),
                (by_digest, entries, envelopes),
            )
        });
        drop(records);
        let size = entries.len() as u64;
        let what_to_do = "The log is read-only: it serves what it published and accepts no \
                          entries. Restore the journal from a backup or replica and restart; do \
                          not delete or truncate it, or the log would sign a second history.";
        let mut halted = damage.map(|d| {
            format!(
                "journal {} is damaged at byte offset {}: {}. {what_to_do}",
                journal_path.display(),
                d.offset,
                d.reason
            )
        });
        if halted.is_none()
            && let Some(f) = floor.as_ref().filter(|f| f.size > size)
        {
            halted = Some(format!(
                "journal {} holds {size} entries but the log signed a checkpoint of {} entries. \
                 {what_to_do}",
                journal_path.display(),
                f.size
            ));
        }
        if halted.is_none()
            && let Some(f) = &floor
        {
            let root = tree_root(&tree, f.size)?;
            // Start-up did not check the published records' checksums: a damaged one shows up
            // here first. Find it, to name its offset.
            let damaged = match root != f.root {
                true => crate::journal::verify_published(&journal_path, f.size)?,
                false => None,
            };
            if let Some(d) = damaged {
                halted = Some(format!(
                    "journal {} is damaged at byte offset {}: {}. {what_to_do}",
                    journal_path.display(),
                    d.offset,
                    d.reason
                ));
            } else if root != f.root {
                halted = Some(format!(
                    "journal {} does not reproduce the checkpoint this log signed at size {} \
                     (root {} rebuilt, {} signed). {what_to_do}",
                    journal_path.display(),
                    f.size,
                    hex::encode(root),
                    hex::encode(f.root)
                ));
            }
        }
        let reader = match &journal {
            Some(j) => Some(j.reader()?),
            None => JournalReader::open(&journal_path).ok(),
        };
        let mut index = LineageIndex::open(&config.dir.join("index.sqlite"))?;
        let lookups = LineageReader::open(&config.dir.join("index.sqlite"))?;
        if halted.is_none()
            && let (Some(extract), Some(reader)) = (&config.mentions, &reader)
        {
            let from = index.indexed()?.min(size);
            let batch = envelopes[from as usize..]
                .iter()
                .map(|at| reader.read(*at).map(|env| extract(&env)))
                .collect::<Result<Vec<_>>>()?;
            index.add(from, &batch)?;
        }
        let (floor, checkpoint, served) = match (&halted, floor) {
            (Some(why), floor) => {
                tracing::error!(reason = %why, "the log is read-only");
                let note = floor.as_ref().map(|f| f.note.clone()).unwrap_or_default();
                let served = floor.as_ref().map_or(0, |f| f.size.min(size));
                let floor = floor.unwrap_or(Floor {
                    size: 0,
                    root: cairn_tlog::empty_root(),
                    note: String::new(),
                });
                (floor, note, served)
            }
            (None, floor) => {
                // Tiles up to the published checkpoint were written before it was published;
                // only the tail beyond it is rewritten (everything when the public files are
                // gone).
                let published = storage
                    .get("checkpoint")?
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|t| {
                        Checkpoint::open(&t, &signer.verifier())
                            .ok()
                            .map(|c| (c.0, t))
                    })
                    .filter(|(cp, _)| {
                        cp.size <= size && tree_root(&tree, cp.size).ok() == Some(cp.root)
                    });
                let from = match (&floor, published.as_ref().map(|p| &p.0)) {
                    (Some(f), Some(p)) if p.size == f.size && p.root == f.root => f.size,
                    _ => 0,
                };
                write_tiles(storage.as_ref(), &tree, &entries, from, size)?;
                let floor = match floor {
                    Some(f) if f.size == size => f,
                    _ => {
                        let note = sign_checkpoint(&config.origin, &signer, &tree, size)?;
                        write_floor(&config.dir, &note)?;
                        Floor {
                            size,
                            root: tree_root(&tree, size)?,
                            note,
                        }
                    }
                };
                // With witnesses, keep serving what they cosigned last (the cosigning loop
                // publishes newer ones); without, serve the latest signed checkpoint.
                match published {
                    Some((cp, text)) if config.witness_gated => (floor, text, cp.size),
                    _ => {
                        let note = floor.note.clone();
                        storage.put("checkpoint", note.as_bytes())?;
                        (floor, note, size)
                    }
                }
            }
        };
        tracing::info!(
            origin = %config.origin,
            size,
            elapsed_ms = started.elapsed().as_millis() as u64,
            read_only = halted.is_some(),
            torn_tail_bytes = cut,
            "log opened"
        );

        let (integrated, _) = watch::channel(served);
        let (signed_size, _) = watch::channel(floor.size);
        let shared = Arc::new(Shared {
            config,
            storage,
            state: Mutex::new(State {
                indexed: size,
                ..State::default()
            }),
            wake: Condvar::new(),
            integrated,
            signed_size,
            signed: RwLock::new(floor),
            sign_times: Mutex::new([(served, Instant::now())].into()),
            served_signed_at: Mutex::new(Instant::now()),
            halted: RwLock::new(halted),
            tree: RwLock::new(tree),
            entries: RwLock::new(entries),
            envelopes: RwLock::new(envelopes),
            by_digest: RwLock::new(by_digest),
            checkpoint: RwLock::new(checkpoint),
            signer,
            reader,
            index: Mutex::new(index),
            lookups: Mutex::new(lookups),
            journal_verified: std::sync::atomic::AtomicBool::new(floor_size == 0),
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
        let mut threads = vec![seq, int, idx];
        if floor_size > 0 && shared.halted.read().expect("lock").is_none() {
            let shared = shared.clone();
            let (path, what_to_do) = (journal_path.clone(), what_to_do.to_owned());
            threads.push(
                std::thread::Builder::new()
                    .name("log-verifier".into())
                    .spawn(move || verify_journal(&shared, &path, floor_size, &what_to_do))
                    .map_err(|e| Error::Closed(format!(": cannot start the verifier: {e}")))?,
            );
        }
        Ok(Self {
            shared,
            submit,
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    /// Why the log is read-only, if it is: a damaged journal, or a journal that does not
    /// reproduce the latest checkpoint the log signed. The message names the journal offset
    /// and what to do.
    pub fn halted(&self) -> Option<String> {
        self.shared.halted.read().expect("lock").clone()
    }

    /// Whether every record of the journal has had its checksum checked since the log opened.
    /// Start-up checks the records after the published checkpoint; those before it are checked
    /// in the background, and damage found there stops the log read-only like damage found at
    /// start-up.
    pub fn journal_verified(&self) -> bool {
        self.shared
            .journal_verified
            .load(std::sync::atomic::Ordering::Acquire)
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
        if let Some(why) = self.halted() {
            return Err(Error::Halted(why));
        }
        if let Some(why) = self
            .shared
            .state
            .lock()
            .expect("lock")
            .storage_error
            .clone()
        {
            return Err(Error::StorageFull(why));
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

    /// A receiver that sees the served checkpoint's size change at each publication.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.integrated.subscribe()
    }

    /// A receiver that sees the size of the latest *signed* checkpoint change (with witnesses,
    /// the served one follows once they cosigned).
    pub fn subscribe_signed(&self) -> watch::Receiver<u64> {
        self.shared.signed_size.subscribe()
    }

    /// Size of the served checkpoint: every entry below it has a bundle.
    pub fn size(&self) -> u64 {
        *self.shared.integrated.borrow()
    }

    /// Entries sequenced (durable), integrated or not.
    pub fn sequenced(&self) -> u64 {
        self.shared.entries.read().expect("lock").len() as u64
    }

    /// The served checkpoint (a signed note, with the witnesses' cosignatures when the log has
    /// witnesses). Empty only when a read-only log has never published one.
    pub fn checkpoint(&self) -> String {
        self.shared.checkpoint.read().expect("lock").clone()
    }

    /// The latest checkpoint the log signed, which may be ahead of the served one while its
    /// witnesses have not cosigned it yet.
    pub fn latest_signed(&self) -> String {
        self.shared.signed.read().expect("lock").note.clone()
    }

    /// Why writes fail right now (the disk is full or failing), if they do. Clears by itself
    /// once a write succeeds again.
    pub fn storage_error(&self) -> Option<String> {
        self.shared
            .state
            .lock()
            .expect("lock")
            .storage_error
            .clone()
    }

    /// Serves `note` — a checkpoint this log signed, with witness cosignatures — as the
    /// published checkpoint, if it is at least as large as the one served now. Signatures
    /// already on a served note of the same body are kept. Returns whether it is served.
    ///
    /// The note must carry the log's own signature over a checkpoint of this log whose root is
    /// the log's root at that size; anything else is refused.
    pub fn publish_cosigned(&self, note: &Note) -> Result<bool> {
        let text = note.to_string();
        let (cp, _) = Checkpoint::open(&text, &self.shared.signer.verifier())?;
        if cp.size > *self.shared.signed_size.borrow() {
            return Err(Error::OutOfRange(format!(
                "checkpoint size {} is beyond the latest signed checkpoint",
                cp.size
            )));
        }
        if tree_root(&*self.shared.tree.read().expect("lock"), cp.size)? != cp.root {
            return Err(Error::Rejected(format!(
                "checkpoint at size {} has a root this log never had",
                cp.size
            )));
        }
        let mut current = self.shared.checkpoint.write().expect("lock");
        let cur = Note::parse(&current).ok();
        let cur_size = cur
            .as_ref()
            .and_then(|n| Checkpoint::parse_body(&n.text).ok())
            .map_or(0, |c| c.size);
        if cp.size < cur_size {
            return Ok(false);
        }
        let mut merged = note.clone();
        if let Some(cur) = cur.filter(|c| c.text == note.text) {
            for sig in cur.signatures {
                if merged.signature_by(&sig.name, sig.key_id).is_none() {
                    merged.signatures.push(sig);
                }
            }
        }
        let text = merged.to_string();
        self.shared.storage.put("checkpoint", text.as_bytes())?;
        *current = text;
        drop(current);
        if let Some(&(_, at)) = self
            .shared
            .sign_times
            .lock()
            .expect("lock")
            .iter()
            .find(|(size, _)| *size == cp.size)
        {
            *self.shared.served_signed_at.lock().expect("lock") = at;
        }
        self.shared.integrated.send_if_modified(|s| {
            let grew = cp.size > *s;
            *s = (*s).max(cp.size);
            grew
        });
        Ok(true)
    }

    /// How long ago the served checkpoint was signed (since this process started, at most).
    pub fn served_age(&self) -> std::time::Duration {
        self.shared.served_signed_at.lock().expect("lock").elapsed()
    }

    /// Size of the latest checkpoint the log signed.
    pub fn signed_size(&self) -> u64 {
        *self.shared.signed_size.borrow()
    }

    /// Adds witness cosignatures to the served checkpoint. Ignored when the served checkpoint
    /// is newer than `note` (see [`Log::publish_cosigned`]).
    pub fn attach_cosignatures(&self, note: &Note) -> Result<()> {
        self.publish_cosigned(note).map(|_| ())
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
        Ok(LogEntry::decode(bytes)?)
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
        match &self.shared.reader {
            Some(r) => r.read(at),
            None => Err(Error::Halted(self.halted().unwrap_or_default())),
        }
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
        let signed =
            (*self.shared.signed_size.borrow()).min(self.shared.tree.read().expect("lock").len());
        if size > signed {
            return Err(Error::OutOfRange(format!(
                "tree size {size} is beyond the latest checkpoint ({signed})"
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
        self.shared.lookups.lock().expect("lock").lookup(digest)
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
    journal: Option<Journal>,
    rx: mpsc::Receiver<(AddRequest, Reply)>,
    mut next: u64,
) {
    let mut journal = journal;
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
        let Some(journal) = journal.as_mut() else {
            // Read-only: a damaged journal is never appended to.
            let why = shared
                .halted
                .read()
                .expect("lock")
                .clone()
                .unwrap_or_default();
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(Error::Halted(why.clone())));
            }
            continue;
        };
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
                // Nothing in this batch is durable: forget it, tell the submitters, and keep
                // going — the journal cut itself back, and a later batch may succeed (a full
                // disk gets space back).
                let first = next - fresh.len() as u64;
                for (req, _) in &batch {
                    if by_digest
                        .get(&req.envelope_sha256)
                        .is_some_and(|&i| i >= first)
                    {
                        by_digest.remove(&req.envelope_sha256);
                    }
                }
                next = first;
                let err = storage_failure(e);
                tracing::error!(error = %err, "journal commit failed; the batch was refused");
                drop(by_digest);
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(match &err {
                        Error::StorageFull(m) => Error::StorageFull(m.clone()),
                        other => Error::Closed(format!(" after an error: {other}")),
                    }));
                }
                continue;
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
        match integrate(&shared, &mut size, &pending) {
            Ok(()) => {}
            Err(Error::Halted(msg)) => {
                tracing::error!(error = %msg, "the log stops: read-only");
                *shared.halted.write().expect("lock") = Some(msg.clone());
                let mut st = shared.state.lock().expect("lock");
                st.failed = Some(msg);
                st.integrator_done = true;
                drop(st);
                shared.wake.notify_all();
                return;
            }
            Err(e) => {
                // Acknowledged entries are durable in the journal; keep them pending and retry
                // until the tiles and checkpoint can be written (a full disk gets space back).
                let err = storage_failure_ref(&e);
                tracing::error!(error = %err, "integration failed; retrying");
                let mut st = shared.state.lock().expect("lock");
                st.storage_error = Some(err);
                let later = std::mem::take(&mut st.pending);
                st.pending = pending;
                st.pending.extend(later);
                if st.closed {
                    st.failed = Some(e.to_string());
                    st.integrator_done = true;
                    drop(st);
                    shared.wake.notify_all();
                    return;
                }
                let _ = shared
                    .wake
                    .wait_timeout(st, std::time::Duration::from_millis(250))
                    .expect("lock");
                continue;
            }
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
        // Idempotent: a retry after a failed write does not push the leaves twice.
        let mut tree = shared.tree.write().expect("lock");
        let have = tree.len();
        for p in &pending[(have - old) as usize..] {
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
    // Never sign what does not extend the floor (the latest checkpoint signed) append-only.
    let floor = shared.signed.read().expect("lock").clone();
    let root = tree_root(&*tree, new)?;
    let extends = new >= floor.size
        && consistency_proof(&*tree, floor.size, new)
            .ok()
            .is_some_and(|p| verify_consistency(floor.size, new, &floor.root, &root, &p).is_ok());
    if !extends {
        return Err(Error::Halted(format!(
            "refusing to sign a checkpoint of size {new} that does not extend the signed \
             checkpoint of size {} append-only; restart the log to check the journal",
            floor.size
        )));
    }
    let checkpoint = sign_checkpoint(&shared.config.origin, &shared.signer, &tree, new)?;
    drop(tree);
    write_floor(&shared.config.dir, &checkpoint)?;
    if shared
        .state
        .lock()
        .expect("lock")
        .storage_error
        .take()
        .is_some()
    {
        tracing::info!(size = new, "writes succeed again; the log accepts entries");
    }
    *shared.signed.write().expect("lock") = Floor {
        size: new,
        root,
        note: checkpoint.clone(),
    };
    *size = new;
    {
        let mut times = shared.sign_times.lock().expect("lock");
        times.push_back((new, Instant::now()));
        if times.len() > 4096 {
            times.pop_front();
        }
    }
    shared.signed_size.send_replace(new);
    if !shared.config.witness_gated {
        // Under the lock, so a concurrent attach_cosignatures never writes an older note over it.
        let mut current = shared.checkpoint.write().expect("lock");
        shared.storage.put("checkpoint", checkpoint.as_bytes())?;
        *current = checkpoint;
        drop(current);
        *shared.served_signed_at.lock().expect("lock") = Instant::now();
        shared.integrated.send_replace(new);
    }
    Ok(())
}

/// A failed write as the error the caller sees: a full disk is [`Error::StorageFull`].
fn storage_failure(e: Error) -> Error {
    match e {
        Error::Io { path, source } if is_no_space(&source) => Error::StorageFull(format!(
            "{}: {source}; free space on the log's disk (the log resumes by itself)",
            path.display()
        )),
        other => other,
    }
}

fn storage_failure_ref(e: &Error) -> String {
    match e {
        Error::Io { path, source } if is_no_space(source) => format!(
            "{}: {source}; free space on the log's disk (the log resumes by itself)",
            path.display()
        ),
        other => other.to_string(),
    }
}

fn is_no_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
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

/// Whether the tile starting at `lo` became full in this step (it was partial at `old`, it is
/// full at `hi`): its partial versions can go.
fn completed(lo: u64, old: u64, hi: u64) -> bool {
    hi - lo == TILE_WIDTH && old > lo && old < lo + TILE_WIDTH
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
        if completed(lo, old, hi) {
            storage.delete(&format!("{}.p", tile.entries_path()))?;
        }
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
            if completed(lo, a, hi) {
                storage.delete(&format!("{}.p", tile.path()))?;
            }
        }
    }
    Ok(())
}
