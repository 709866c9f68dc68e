//! The sequencing journal: the log's durable source of truth.
//!
//! Every sequenced entry is appended here, with the envelope it points at, in index order, and
//! the batch is `fdatasync`ed before any submitter is told its index. Tiles, bundles, the
//! checkpoint and the lineage index are all derived from the journal and are rebuilt from it
//! after a crash.
//!
//! ```text
//! file    := "cairn-journal/2\n" record*                      (version 2, this version)
//! record  := "CJ" | u16 LE 0 | u32 LE payload length | u64 LE entry index
//!            | u32 LE CRC-32 of the 16 bytes before it and the payload | payload
//! payload := entry (74 bytes) | envelope bytes
//!
//! version 1 (no file header): record := u32 LE payload length | u32 LE CRC-32 of payload | payload
//! ```
//!
//! Damage is never repaired silently. Replay stops at the first record that does not check
//! (bad magic, length past the end, CRC mismatch, an index out of sequence) and classifies it:
//!
//! * a **torn tail** — nothing intact follows it, and every record the log ever published in a
//!   checkpoint (the `floor`) precedes it — is the unfinished last group commit of a crashed
//!   process and is cut off;
//! * anything else (an intact record after the damage, damage inside published records, records
//!   out of order) is reported as [`Damage`] and the journal is left untouched, so the log can
//!   stop read-only instead of signing a second history.
//!
//! A version-1 journal is migrated on open: its intact records are rewritten in the version-2
//! format to a temporary file that replaces the old one only once it is durable.
use crate::{ENTRY_SIZE, Error, Result};
use std::{
    fs::{File, OpenOptions},
    io::{BufWriter, Seek, SeekFrom, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

/// The version-2 file header.
pub(crate) const MAGIC: &[u8; 16] = b"cairn-journal/2\n";
const RECORD_MAGIC: &[u8; 2] = b"CJ";
const HEADER: usize = 20;
const V1_HEADER: usize = 8;
/// Largest payload a plausible record carries (far above any envelope limit).
const MAX_PAYLOAD: u64 = 16 << 20;

/// Where one record's envelope lies in the journal file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Located {
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

/// One replayed record.
pub(crate) struct Replayed {
    pub(crate) entry: [u8; ENTRY_SIZE],
    pub(crate) envelope: Located,
}

/// Damage that is not a torn tail: the journal was changed after it was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    /// Byte offset of the first record that does not check.
    pub(crate) offset: u64,
    /// What is wrong there, and why it is not a torn tail.
    pub(crate) reason: String,
}

/// What opening the journal found.
pub(crate) struct Opened {
    /// The writable journal; `None` when it is damaged (nothing may be appended).
    pub(crate) journal: Option<Journal>,
    /// The intact records before the damage (all of them when there is none).
    pub(crate) records: Vec<Replayed>,
    /// Damage, when the journal is not a clean prefix plus at most a torn tail.
    pub(crate) damage: Option<Damage>,
    /// Bytes of torn tail cut off.
    pub(crate) cut: u64,
}

/// The open journal.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    end: u64,
    next: u64,
    staged: u64,
    buf: Vec<u8>,
    /// Set when a failed write could not be cut back: nothing more may be appended.
    broken: Option<String>,
}

enum Format {
    V1,
    V2,
}

/// The outcome of reading one record at a position.
enum Read {
    Ok {
        entry: [u8; ENTRY_SIZE],
        index: Option<u64>,
        envelope: Located,
        next: u64,
    },
    Bad(String),
}

/// Sequential and forward-scanning reads of the journal file through one buffer, so a replay
/// of a large journal needs neither one syscall per record nor the whole file in memory.
struct Window<'a> {
    file: &'a File,
    len: u64,
    base: u64,
    data: Vec<u8>,
}

impl<'a> Window<'a> {
    const SIZE: usize = 8 << 20;

    fn new(file: &'a File, len: u64) -> Self {
        Self {
            file,
            len,
            base: 0,
            data: Vec::new(),
        }
    }

    /// `n` bytes at `pos`, or `None` past the end of the file.
    fn get(&mut self, pos: u64, n: usize) -> std::io::Result<Option<&[u8]>> {
        if pos + n as u64 > self.len {
            return Ok(None);
        }
        if pos < self.base || pos + n as u64 > self.base + self.data.len() as u64 {
            let size = (self.len - pos).min(n.max(Self::SIZE) as u64) as usize;
            self.data.resize(size, 0);
            self.file.read_exact_at(&mut self.data, pos)?;
            self.base = pos;
        }
        let at = (pos - self.base) as usize;
        Ok(Some(&self.data[at..at + n]))
    }
}

/// Reads the record at `pos`. With `check` false the CRC is not computed (records the log
/// published, verified in the background after start-up); everything else still is.
fn read_record(
    w: &mut Window<'_>,
    pos: u64,
    format: &Format,
    check: bool,
) -> std::io::Result<Read> {
    let len = w.len;
    let header = match format {
        Format::V1 => V1_HEADER,
        Format::V2 => HEADER,
    };
    let mut h = [0u8; HEADER];
    match w.get(pos, header)? {
        Some(b) => h[..header].copy_from_slice(b),
        None => {
            return Ok(Read::Bad(format!(
                "a record header needs {header} bytes, only {} remain",
                len - pos
            )));
        }
    }
    let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().expect("4 bytes"));
    let (n, crc, index) = match format {
        Format::V1 => (u64::from(u32_at(0)), u32_at(4), None),
        Format::V2 => {
            if &h[..2] != RECORD_MAGIC || h[2..4] != [0, 0] {
                return Ok(Read::Bad("no record starts here (bad record magic)".into()));
            }
            let index = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
            (u64::from(u32_at(4)), u32_at(16), Some(index))
        }
    };
    if !(ENTRY_SIZE as u64..=MAX_PAYLOAD).contains(&n) {
        return Ok(Read::Bad(format!("implausible record length {n}")));
    }
    let Some(payload) = w.get(pos + header as u64, n as usize)? else {
        return Ok(Read::Bad(format!(
            "the record claims {n} payload bytes, only {} remain",
            len - pos - header as u64
        )));
    };
    let actual = match format {
        _ if !check => crc,
        Format::V1 => crc32fast::hash(payload),
        Format::V2 => {
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(&h[..16]);
            hasher.update(payload);
            hasher.finalize()
        }
    };
    if actual != crc {
        return Ok(Read::Bad(format!(
            "checksum mismatch (stored {crc:08x}, computed {actual:08x})"
        )));
    }
    let mut entry = [0u8; ENTRY_SIZE];
    entry.copy_from_slice(&payload[..ENTRY_SIZE]);
    Ok(Read::Ok {
        entry,
        index,
        envelope: Located {
            offset: pos + (header + ENTRY_SIZE) as u64,
            len: (n as usize - ENTRY_SIZE) as u32,
        },
        next: pos + header as u64 + n,
    })
}

/// Replays the journal from `start`. Returns the records, where the intact prefix ends, and
/// the damage if the rest is not a torn tail. Checksums are checked from record `verify_from`
/// on (see [`verify_published`] for the records before it).
fn replay(
    w: &mut Window<'_>,
    start: u64,
    format: &Format,
    floor: u64,
    verify_from: u64,
) -> std::io::Result<(Vec<Replayed>, u64, Option<Damage>)> {
    let len = w.len;
    let mut records = Vec::new();
    let mut pos = start;
    while pos < len {
        let check = records.len() as u64 >= verify_from;
        match read_record(w, pos, format, check)? {
            Read::Ok {
                entry,
                index,
                envelope,
                next,
            } => {
                let expected = records.len() as u64;
                if let Some(i) = index.filter(|&i| i != expected) {
                    let reason = format!(
                        "the record there is entry {i}, expected entry {expected}: records are \
                         out of order"
                    );
                    return Ok((
                        records,
                        pos,
                        Some(Damage {
                            offset: pos,
                            reason,
                        }),
                    ));
                }
                records.push(Replayed { entry, envelope });
                pos = next;
            }
            Read::Bad(why) => {
                let have = records.len() as u64;
                if have < floor {
                    let reason = format!(
                        "{why}; only {have} intact records precede it but the log published a \
                         checkpoint of {floor} entries, so acknowledged records are damaged or \
                         missing"
                    );
                    return Ok((
                        records,
                        pos,
                        Some(Damage {
                            offset: pos,
                            reason,
                        }),
                    ));
                }
                let mut later = None;
                for p in pos + 1..len {
                    if let Format::V2 = format
                        && w.get(p, 2)? != Some(RECORD_MAGIC.as_slice())
                    {
                        continue;
                    }
                    if let Read::Ok { .. } = read_record(w, p, format, true)? {
                        later = Some(p);
                        break;
                    }
                }
                if let Some(later) = later {
                    let reason = format!(
                        "{why}; an intact record follows at offset {later}, so this is not a \
                         torn tail"
                    );
                    return Ok((
                        records,
                        pos,
                        Some(Damage {
                            offset: pos,
                            reason,
                        }),
                    ));
                }
                return Ok((records, pos, None));
            }
        }
    }
    if (records.len() as u64) < floor {
        let reason = format!(
            "the journal ends after {} records but the log published a checkpoint of {floor} \
             entries: acknowledged records are missing (was the journal truncated?)",
            records.len()
        );
        return Ok((
            records,
            pos,
            Some(Damage {
                offset: pos,
                reason,
            }),
        ));
    }
    Ok((records, pos, None))
}

fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn encode_record(out: &mut Vec<u8>, index: u64, entry: &[u8; ENTRY_SIZE], envelope: &[u8]) {
    let n = (ENTRY_SIZE + envelope.len()) as u32;
    let start = out.len();
    out.extend_from_slice(RECORD_MAGIC);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&out[start..start + 16]);
    hasher.update(entry);
    hasher.update(envelope);
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(entry);
    out.extend_from_slice(envelope);
}

impl Journal {
    /// Opens (or creates) the journal at `path` and replays it. `floor` is the size of the
    /// latest checkpoint the log has published: records below it were acknowledged and
    /// published, so they are never cut.
    pub(crate) fn open(path: &Path, floor: u64) -> Result<Opened> {
        let io = |e: std::io::Error| Error::io(path, e);
        let file = match File::open(path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let len = match &file {
            Some(f) => f.metadata().map_err(io)?.len(),
            None => 0,
        };
        if len == 0 && floor > 0 {
            // Leave it as it is: an empty or missing journal cannot hold what was published.
            return Ok(Opened {
                journal: None,
                records: Vec::new(),
                damage: Some(Damage {
                    offset: 0,
                    reason: format!(
                        "the journal is empty or missing, but the log published a checkpoint of \
                         {floor} entries"
                    ),
                }),
                cut: 0,
            });
        }
        if len == 0 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .map_err(io)?;
            file.write_all(MAGIC).map_err(io)?;
            file.sync_all().map_err(io)?;
            sync_dir(path)?;
            return Ok(Opened {
                journal: Some(Self::writable(path, MAGIC.len() as u64, 0)?),
                records: Vec::new(),
                damage: None,
                cut: 0,
            });
        }
        let file = file.expect("a non-empty journal exists");
        let mut w = Window::new(&file, len);
        if w.get(0, MAGIC.len()).map_err(io)? != Some(MAGIC.as_slice()) {
            return Self::migrate_v1(path, &mut w, floor);
        }
        // Records the log published are covered by the signed checkpoint (their entries are
        // re-hashed into the tree and checked against it); their envelopes' checksums are
        // verified in the background ([`verify_published`]), so start-up reads only the tail
        // with every check.
        let (records, end, damage) =
            replay(&mut w, MAGIC.len() as u64, &Format::V2, floor, floor).map_err(io)?;
        if damage.is_some() {
            return Ok(Opened {
                journal: None,
                records,
                damage,
                cut: 0,
            });
        }
        let cut = len - end;
        if cut > 0 {
            tracing::warn!(
                path = %path.display(),
                offset = end,
                cut,
                records = records.len(),
                "cutting a torn journal tail: an unfinished group commit after every published \
                 entry (it may have been acknowledged only if the process died between its \
                 fdatasync and the next checkpoint)"
            );
            let file = OpenOptions::new().write(true).open(path).map_err(io)?;
            file.set_len(end).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let n = records.len() as u64;
        Ok(Opened {
            journal: Some(Self::writable(path, end, n)?),
            records,
            damage: None,
            cut,
        })
    }

    fn migrate_v1(path: &Path, w: &mut Window<'_>, floor: u64) -> Result<Opened> {
        let io = |e: std::io::Error| Error::io(path, e);
        let len = w.len;
        let (records, end, damage) = replay(w, 0, &Format::V1, floor, 0).map_err(io)?;
        if damage.is_some() {
            // Leave a damaged journal exactly as it is; nothing is migrated.
            return Ok(Opened {
                journal: None,
                records,
                damage,
                cut: 0,
            });
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
        let mut out = Vec::with_capacity(1 << 20);
        out.extend_from_slice(MAGIC);
        let mut migrated = Vec::with_capacity(records.len());
        let mut writer = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let mut written = 0u64;
        for (i, r) in records.iter().enumerate() {
            let start = written + out.len() as u64;
            let envelope = w
                .get(r.envelope.offset, r.envelope.len as usize)
                .map_err(io)?
                .expect("replayed records lie inside the file");
            encode_record(&mut out, i as u64, &r.entry, envelope);
            migrated.push(Replayed {
                entry: r.entry,
                envelope: Located {
                    offset: start + (HEADER + ENTRY_SIZE) as u64,
                    len: r.envelope.len,
                },
            });
            if out.len() >= 1 << 20 {
                writer.write_all(&out).map_err(|e| Error::io(path, e))?;
                written += out.len() as u64;
                out.clear();
            }
        }
        writer.write_all(&out).map_err(|e| Error::io(path, e))?;
        written += out.len() as u64;
        writer.flush().map_err(|e| Error::io(path, e))?;
        drop(writer);
        tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
        tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
        sync_dir(path)?;
        tracing::info!(
            path = %path.display(),
            records = migrated.len(),
            dropped_torn_tail = len - end,
            "migrated the journal from format version 1 to 2"
        );
        let n = migrated.len() as u64;
        Ok(Opened {
            journal: Some(Self::writable(path, written, n)?),
            records: migrated,
            damage: None,
            cut: len - end,
        })
    }

    fn writable(path: &Path, end: u64, next: u64) -> Result<Self> {
        let io = |e: std::io::Error| Error::io(path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            end,
            next,
            staged: 0,
            buf: Vec::with_capacity(1 << 20),
            broken: None,
        })
    }

    /// Buffers the record of the next entry; returns where its envelope will be. Nothing is
    /// durable until [`Journal::commit`].
    pub(crate) fn stage(&mut self, entry: &[u8; ENTRY_SIZE], envelope: &[u8]) -> Located {
        let at = self.end + self.buf.len() as u64;
        encode_record(&mut self.buf, self.next, entry, envelope);
        self.next += 1;
        self.staged += 1;
        Located {
            offset: at + (HEADER + ENTRY_SIZE) as u64,
            len: envelope.len() as u32,
        }
    }

    /// Writes the staged records and waits until they are on stable storage. On failure the
    /// staged records are dropped, the file is cut back to its last durable length, and the
    /// journal stays usable (a later commit may succeed, e.g. once disk space returns).
    pub(crate) fn commit(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some(why) = &self.broken {
            self.buf.clear();
            self.next -= std::mem::take(&mut self.staged);
            return Err(Error::Closed(format!(" after a journal error: {why}")));
        }
        let written = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.buf.clear();
            // The dropped records' indexes are handed out again.
            self.next -= std::mem::take(&mut self.staged);
            // Cut any partial write: the file must end at a record boundary for replay. If even
            // that fails, appending more would put records after garbage: refuse from now on.
            if let Err(cut) = self
                .file
                .set_len(self.end)
                .and_then(|()| self.file.sync_data())
            {
                self.broken = Some(format!(
                    "cannot cut a failed write back to offset {} ({cut}); restart the log",
                    self.end
                ));
            }
            return Err(Error::io(&self.path, e));
        }
        self.end += self.buf.len() as u64;
        self.buf.clear();
        self.staged = 0;
        Ok(())
    }

    /// A second handle for concurrent reads of committed envelopes.
    pub(crate) fn reader(&self) -> Result<JournalReader> {
        JournalReader::open(&self.path)
    }
}

/// Checks the checksum of each of the first `records` records of the (version 2) journal at
/// `path`: the records start-up did not check. Returns the first damage found.
pub(crate) fn verify_published(path: &Path, records: u64) -> Result<Option<Damage>> {
    let io = |e: std::io::Error| Error::io(path, e);
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut w = Window::new(&file, len);
    let mut pos = MAGIC.len() as u64;
    for i in 0..records {
        match read_record(&mut w, pos, &Format::V2, true).map_err(io)? {
            Read::Ok { next, .. } => pos = next,
            Read::Bad(why) => {
                return Ok(Some(Damage {
                    offset: pos,
                    reason: format!(
                        "{why} in record {i}, which the log published (found by the background \
                         check of the journal after start-up)"
                    ),
                }));
            }
        }
    }
    Ok(None)
}

/// Reads envelopes out of the journal by position.
pub(crate) struct JournalReader {
    file: File,
    path: PathBuf,
}

impl JournalReader {
    /// A reader of the journal at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(Self {
            file,
            path: path.to_owned(),
        })
    }

    pub(crate) fn read(&self, at: Located) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; at.len as usize];
        self.file
            .read_exact_at(&mut buf, at.offset)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_commit_hands_its_indexes_out_again_and_a_write_that_cannot_be_cut_stops_appends() {
        // /dev/full: every write fails with "no space left on device", and it cannot be cut.
        let mut j = Journal::writable(Path::new("/dev/full"), 0, 5).unwrap();
        j.stage(&[1; ENTRY_SIZE], b"one");
        j.stage(&[2; ENTRY_SIZE], b"two");
        let e = j.commit().unwrap_err();
        assert!(
            matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "{e}"
        );
        assert_eq!(
            (j.next, j.staged),
            (5, 0),
            "the failed batch's indexes are free again"
        );
        j.stage(&[3; ENTRY_SIZE], b"three");
        let e = j.commit().unwrap_err();
        assert!(e.to_string().contains("cannot cut a failed write"), "{e}");
        assert_eq!(j.next, 5);
    }
}
