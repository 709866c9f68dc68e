//! An attacker (or a bad disk) edits the journal between runs: flipped bytes, truncation into
//! acknowledged records, reordered records. The log must never sign a second history: it opens
//! read-only, names the offset, serves what it published and refuses entries. Only a torn tail
//! of never-published records may be cut.
use super::{config, request};
use cairn_log::{Error, Log};
use cairn_tlog::{Checkpoint, NoteSigner, verify_consistency};
use std::{collections::BTreeMap, path::Path};

const FILE_HEADER: usize = 16;
const RECORD_HEADER: usize = 20;

/// Byte ranges of the journal's records.
fn records(journal: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = FILE_HEADER;
    while pos + RECORD_HEADER <= journal.len() {
        let n = u32::from_le_bytes(journal[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push(pos..pos + RECORD_HEADER + n);
        pos += RECORD_HEADER + n;
    }
    out
}

/// Every checkpoint the log ever signed or served, as (size → roots seen). A second history
/// shows up as two roots for one size, or two checkpoints that are not consistent.
#[derive(Default)]
struct Observer {
    seen: BTreeMap<u64, cairn_tlog::Hash>,
}

impl Observer {
    fn see(&mut self, note: &str, signer: &NoteSigner) {
        if note.is_empty() {
            return;
        }
        let (cp, _) = Checkpoint::open(note, &signer.verifier()).unwrap();
        if let Some(root) = self.seen.insert(cp.size, cp.root) {
            assert_eq!(root, cp.root, "two roots signed for size {}", cp.size);
        }
    }

    fn see_log(&mut self, log: &Log, signer: &NoteSigner) {
        self.see(&log.checkpoint(), signer);
        self.see(&log.latest_signed(), signer);
    }

    /// Every pair of observed checkpoints is consistent, using the largest log as prover.
    fn assert_one_history(&self, log: &Log) {
        let (&big, &big_root) = self.seen.iter().next_back().unwrap();
        for (&size, root) in &self.seen {
            let proof = log.consistency_proof(size, big).unwrap();
            verify_consistency(size, big, root, &big_root, &proof).unwrap();
        }
    }
}

async fn filled_log(dir: &Path, signer: &NoteSigner, n: u64, obs: &mut Observer) {
    let log = Log::open(config(dir), signer.clone()).unwrap();
    for i in 0..n {
        log.add(request(i)).await.unwrap();
        if i % 7 == 0 {
            obs.see_log(&log, signer);
        }
    }
    log.wait_integrated(n - 1).await.unwrap();
    obs.see_log(&log, signer);
    log.close();
}

/// Opens the damaged log and checks it is read-only: the error names the offset, nothing new
/// is signed, entries are refused, the journal is left as it was.
async fn assert_read_only(dir: &Path, signer: &NoteSigner, offset: usize, obs: &mut Observer) {
    let journal = std::fs::read(dir.join("journal")).unwrap();
    let floor = std::fs::read(dir.join("published-checkpoint")).unwrap();
    let log = Log::open(config(dir), signer.clone()).unwrap();
    let why = log.halted().expect("the log must be read-only");
    assert!(why.contains(&format!("offset {offset}")), "{why}");
    assert!(why.contains("Restore the journal"), "{why}");
    obs.see_log(&log, signer);
    let err = log.add(request(10_000)).await.unwrap_err();
    assert!(matches!(err, Error::Halted(_)), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    log.close();
    assert_eq!(std::fs::read(dir.join("journal")).unwrap(), journal);
    assert_eq!(
        std::fs::read(dir.join("published-checkpoint")).unwrap(),
        floor,
        "no new checkpoint was signed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_mid_journal_stops_the_log_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let mut obs = Observer::default();
    filled_log(dir.path(), &signer, 300, &mut obs).await;
    let path = dir.path().join("journal");
    let mut bytes = std::fs::read(&path).unwrap();
    let r = records(&bytes)[100].clone();
    bytes[r.start + 40] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    assert_read_only(dir.path(), &signer, r.start, &mut obs).await;
    // Even when the flipped record is past every published checkpoint, the intact records
    // after it show it is not a torn tail.
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    let (served, _) = Checkpoint::open(&log.checkpoint(), &signer.verifier()).unwrap();
    assert_eq!(served.size, 300, "the published checkpoint is still served");
    log.close();
    bytes[r.start + 40] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    assert!(
        log.halted().is_none(),
        "restoring the journal heals the log"
    );
    log.add(request(300)).await.unwrap();
    log.wait_integrated(300).await.unwrap();
    obs.see_log(&log, &signer);
    obs.assert_one_history(&log);
    log.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_envelope_of_a_published_record_is_found_by_the_background_check() {
    // Start-up re-hashes every entry against the signed checkpoint but checks envelope
    // checksums only past it; the published ones are checked in the background.
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let mut obs = Observer::default();
    filled_log(dir.path(), &signer, 300, &mut obs).await;
    let path = dir.path().join("journal");
    let clean = Log::open(config(dir.path()), signer.clone()).unwrap();
    for _ in 0..500 {
        if clean.journal_verified() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(clean.journal_verified(), "an intact journal is verified");
    assert!(clean.halted().is_none());
    clean.close();

    let mut bytes = std::fs::read(&path).unwrap();
    let r = records(&bytes)[150].clone();
    // Inside the envelope (after the 20-byte header and the 74-byte entry).
    bytes[r.start + RECORD_HEADER + 74 + 3] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    let mut why = None;
    for _ in 0..500 {
        why = log.halted();
        if why.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let why = why.expect("the background check stops the log read-only");
    assert!(why.contains(&format!("offset {}", r.start)), "{why}");
    assert!(why.contains("record 150"), "{why}");
    assert!(!log.journal_verified());
    let err = log.add(request(10_000)).await.unwrap_err();
    assert!(matches!(err, Error::Halted(_)), "{err}");
    obs.see_log(&log, &signer);
    obs.assert_one_history(&log);
    log.close();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the journal is left as it was"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn damage_past_the_published_checkpoint_with_intact_records_after_it_is_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let mut obs = Observer::default();
    filled_log(dir.path(), &signer, 50, &mut obs).await;
    // Pretend the last published checkpoint was at 40: records 40..50 were acknowledged
    // but not yet published when the process died.
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    let early = {
        let root = log.root(40).unwrap();
        Checkpoint::new("cairn.test/log", 40, root)
            .sign(&signer)
            .unwrap()
            .to_string()
    };
    log.close();
    std::fs::write(dir.path().join("published-checkpoint"), &early).unwrap();
    std::fs::remove_file(dir.path().join("public/checkpoint")).unwrap();
    let path = dir.path().join("journal");
    let mut bytes = std::fs::read(&path).unwrap();
    let r = records(&bytes)[45].clone();
    bytes[r.start + 30] ^= 0x80;
    std::fs::write(&path, &bytes).unwrap();
    assert_read_only(dir.path(), &signer, r.start, &mut obs).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncating_into_acknowledged_records_stops_the_log_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let mut obs = Observer::default();
    filled_log(dir.path(), &signer, 300, &mut obs).await;
    let path = dir.path().join("journal");
    let bytes = std::fs::read(&path).unwrap();
    let last = records(&bytes).last().unwrap().clone();
    // Cut 5 bytes off the end: the last, published record is torn.
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    assert_read_only(dir.path(), &signer, last.start, &mut obs).await;
    // Cut at a record boundary: no record is torn, but published ones are missing.
    let cut = records(&bytes)[250].start;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    assert_read_only(dir.path(), &signer, cut, &mut obs).await;
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    assert!(log.halted().unwrap().contains("truncated"));
    log.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn reordered_records_stop_the_log_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let mut obs = Observer::default();
    filled_log(dir.path(), &signer, 300, &mut obs).await;
    let path = dir.path().join("journal");
    let bytes = std::fs::read(&path).unwrap();
    let rs = records(&bytes);
    let (a, b) = (rs[120].clone(), rs[121].clone());
    let mut swapped = bytes[..a.start].to_vec();
    swapped.extend_from_slice(&bytes[b.clone()]);
    swapped.extend_from_slice(&bytes[a.clone()]);
    swapped.extend_from_slice(&bytes[b.end..]);
    assert_eq!(swapped.len(), bytes.len());
    std::fs::write(&path, &swapped).unwrap();
    assert_read_only(dir.path(), &signer, a.start, &mut obs).await;
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    assert!(log.halted().unwrap().contains("out of order"));
    log.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_torn_tail_of_unpublished_records_is_cut_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let mut obs = Observer::default();
    filled_log(dir.path(), &signer, 20, &mut obs).await;
    let path = dir.path().join("journal");
    let mut bytes = std::fs::read(&path).unwrap();
    let intact = bytes.len();
    // Half of a record that a crashed group commit was writing.
    bytes.extend_from_slice(b"CJ\0\0\x80\0\0\0\x14\0\0\0\0\0\0\0\x01\x02");
    std::fs::write(&path, &bytes).unwrap();
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    assert!(log.halted().is_none());
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, intact);
    assert_eq!(log.add(request(20)).await.unwrap().index, 20);
    log.wait_integrated(20).await.unwrap();
    obs.see_log(&log, &signer);
    obs.assert_one_history(&log);
    log.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_1_journal_is_migrated_and_keeps_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    // Version 1: u32 length | u32 CRC-32 of payload | payload, no file header.
    let mut v1 = Vec::new();
    let mut leaves = Vec::new();
    for i in 0..30u64 {
        let req = request(i);
        let entry = cairn_log::LogEntry {
            kind: req.kind,
            envelope_sha256: req.envelope_sha256,
            signer_key_hash: req.signer_key_hash,
            time_ms: 1_700_000_000_000 + i,
        }
        .encode();
        leaves.push(cairn_tlog::leaf_hash(&entry));
        let mut payload = entry.to_vec();
        payload.extend_from_slice(&req.envelope);
        v1.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v1.extend_from_slice(&crc32(&payload).to_le_bytes());
        v1.extend_from_slice(&payload);
    }
    std::fs::write(dir.path().join("journal"), &v1).unwrap();
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    assert!(log.halted().is_none());
    assert_eq!(log.size(), 30);
    assert_eq!(
        log.root(30).unwrap(),
        cairn_tlog::MemoryTree::from_leaves(leaves).root()
    );
    assert_eq!(log.envelope(7).unwrap(), request(7).envelope);
    assert_eq!(log.add(request(30)).await.unwrap().index, 30);
    log.close();
    let bytes = std::fs::read(dir.path().join("journal")).unwrap();
    assert!(bytes.starts_with(b"cairn-journal/2\n"));
    assert_eq!(records(&bytes).len(), 31);
}

fn crc32(data: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), independent of the implementation under test.
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_journal_stops_the_log_read_only_and_is_not_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let mut obs = Observer::default();
    filled_log(dir.path(), &signer, 20, &mut obs).await;
    std::fs::remove_file(dir.path().join("journal")).unwrap();
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    let why = log.halted().expect("read-only");
    assert!(why.contains("empty or missing"), "{why}");
    obs.see_log(&log, &signer);
    assert!(matches!(
        log.add(request(99)).await.unwrap_err(),
        Error::Halted(_)
    ));
    log.close();
    assert!(!dir.path().join("journal").exists());
}
