//! The sequencing journal: the log's durable source of truth.
//!
//! Every sequenced entry is appended here, with the envelope it points at, in index order, and
//! the batch is `fdatasync`ed before any submitter is told its index. Tiles, bundles, the
//! checkpoint and the lineage index are all derived from the journal and are rebuilt from it
//! after a crash, which is why a torn tail (a batch that was being written when the process
//! died, and so was never acknowledged) is simply cut off on open.
//!
//! ```text
//! record := u32 LE payload length | u32 LE CRC-32 of payload | payload
//! payload := entry (74 bytes) | envelope bytes
//! ```
use crate::{Error, Result, entry::ENTRY_SIZE};
use std::{
    fs::{File, OpenOptions},
    io::{BufReader, Read, Seek, SeekFrom, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

const HEADER: usize = 8;

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

/// The open journal.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    end: u64,
    buf: Vec<u8>,
}

impl Journal {
    /// Opens (or creates) the journal, replays every intact record and truncates a torn tail.
    pub(crate) fn open(path: &Path) -> Result<(Self, Vec<Replayed>)> {
        let io = |e: std::io::Error| Error::io(path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut records = Vec::new();
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut pos = 0u64;
        let mut header = [0u8; HEADER];
        let mut payload = Vec::new();
        while pos + HEADER as u64 <= len {
            reader.read_exact(&mut header).map_err(io)?;
            let n = u32::from_le_bytes(header[..4].try_into().expect("4")) as u64;
            let crc = u32::from_le_bytes(header[4..].try_into().expect("4"));
            if n < ENTRY_SIZE as u64 || pos + HEADER as u64 + n > len {
                break;
            }
            payload.resize(n as usize, 0);
            reader.read_exact(&mut payload).map_err(io)?;
            if crc32fast::hash(&payload) != crc {
                break;
            }
            let mut entry = [0u8; ENTRY_SIZE];
            entry.copy_from_slice(&payload[..ENTRY_SIZE]);
            let envelope = Located {
                offset: pos + (HEADER + ENTRY_SIZE) as u64,
                len: (n as usize - ENTRY_SIZE) as u32,
            };
            records.push(Replayed { entry, envelope });
            pos += HEADER as u64 + n;
        }
        drop(reader);
        if pos < len {
            tracing::warn!(
                path = %path.display(),
                kept = pos,
                dropped = len - pos,
                "cutting a torn journal tail (a batch that was never acknowledged)"
            );
            file.set_len(pos).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok((
            Self {
                path: path.to_owned(),
                file,
                end: pos,
                buf: Vec::with_capacity(1 << 20),
            },
            records,
        ))
    }

    /// Buffers one record; returns where its envelope will be. Nothing is durable until
    /// [`Journal::commit`].
    pub(crate) fn stage(&mut self, entry: &[u8; ENTRY_SIZE], envelope: &[u8]) -> Located {
        let n = (ENTRY_SIZE + envelope.len()) as u32;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(entry);
        hasher.update(envelope);
        let at = self.end + self.buf.len() as u64;
        self.buf.extend_from_slice(&n.to_le_bytes());
        self.buf.extend_from_slice(&hasher.finalize().to_le_bytes());
        self.buf.extend_from_slice(entry);
        self.buf.extend_from_slice(envelope);
        Located {
            offset: at + (HEADER + ENTRY_SIZE) as u64,
            len: envelope.len() as u32,
        }
    }

    /// Writes the staged records and waits until they are on stable storage.
    pub(crate) fn commit(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let io = |e: std::io::Error| Error::io(&self.path, e);
        self.file.write_all(&self.buf).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.end += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// A second handle for concurrent reads of committed envelopes.
    pub(crate) fn reader(&self) -> Result<JournalReader> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(JournalReader {
            file,
            path: self.path.clone(),
        })
    }
}

/// Reads envelopes out of the journal by position.
pub(crate) struct JournalReader {
    file: File,
    path: PathBuf,
}

impl JournalReader {
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
    fn committed_records_replay_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut j, replayed) = Journal::open(&path).unwrap();
        assert!(replayed.is_empty());
        let a = j.stage(&[1; ENTRY_SIZE], b"first envelope");
        let b = j.stage(&[2; ENTRY_SIZE], b"second");
        j.commit().unwrap();
        let reader = j.reader().unwrap();
        assert_eq!(reader.read(a).unwrap(), b"first envelope");
        assert_eq!(reader.read(b).unwrap(), b"second");
        drop(j);

        // Simulate a crash in the middle of writing a third record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
        drop(f);
        let before = std::fs::metadata(&path).unwrap().len();

        let (mut j, replayed) = Journal::open(&path).unwrap();
        assert_eq!(replayed.len(), 2);
        assert_eq!(replayed[1].entry, [2; ENTRY_SIZE]);
        assert_eq!(replayed[0].envelope, a);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before - 10);
        let c = j.stage(&[3; ENTRY_SIZE], b"third");
        j.commit().unwrap();
        assert_eq!(j.reader().unwrap().read(c).unwrap(), b"third");
        let (_, replayed) = Journal::open(&path).unwrap();
        assert_eq!(replayed.len(), 3);
    }

    #[test]
    fn a_flipped_byte_ends_replay_at_that_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.stage(&[1; ENTRY_SIZE], b"one");
        let second = j.stage(&[2; ENTRY_SIZE], b"two");
        j.commit().unwrap();
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[second.offset as usize] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
        let (_, replayed) = Journal::open(&path).unwrap();
        assert_eq!(replayed.len(), 1);
    }
}
