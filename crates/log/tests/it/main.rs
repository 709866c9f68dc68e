//! The log engine end to end: group-committed appends, integration into tiles and a signed
//! checkpoint, proofs, duplicates, limits and recovery from the journal.
use cairn_log::{AddRequest, Error, Log, LogConfig, LogEntry, Mention, Role, StatementKind};
use cairn_tlog::{
    Checkpoint, NoteSigner, TileId, TileNodeSource, decode_bundle, leaf_hash, tree_root,
    verify_consistency, verify_inclusion,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;

fn request(i: u64) -> AddRequest {
    let envelope = format!("{{\"payload\":\"statement {i}\"}}").into_bytes();
    AddRequest {
        envelope_sha256: Sha256::digest(&envelope).into(),
        envelope,
        kind: StatementKind::Dataset,
        signer_key_hash: [7; 32],
        mentions: None,
    }
}

fn config(dir: &std::path::Path) -> LogConfig {
    // Lineage: pretend every envelope mentions its own sha256 and one shared parent.
    let mentions = Arc::new(|env: &[u8]| {
        vec![
            Mention {
                digest: format!("sha256:{}", hex::encode(Sha256::digest(env))),
                role: Role::Subject,
            },
            Mention {
                digest: "sha256:parent".into(),
                role: Role::Reference,
            },
        ]
    });
    LogConfig::new(dir, "cairn.test/log").with_mentions(mentions)
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_integrate_into_tiles_and_a_checkpoint_that_proves_them() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();

    let n = 700u64;
    let mut handles = Vec::new();
    for i in 0..n {
        let log = log.clone();
        handles.push(tokio::spawn(
            async move { log.add(request(i)).await.unwrap() },
        ));
    }
    let mut indexes = Vec::new();
    for h in handles {
        let s = h.await.unwrap();
        assert!(!s.duplicate);
        indexes.push(s.index);
    }
    indexes.sort();
    assert_eq!(
        indexes,
        (0..n).collect::<Vec<_>>(),
        "every entry got its own index"
    );
    let size = log.wait_integrated(n - 1).await.unwrap();
    assert_eq!(size, n);

    // The checkpoint verifies with the log's key and commits to the entries' RFC 6962 root.
    let (cp, _) = Checkpoint::open(&log.checkpoint(), &signer.verifier()).unwrap();
    assert_eq!((cp.origin.as_str(), cp.size), ("cairn.test/log", n));
    let leaves: Vec<_> = (0..n)
        .map(|i| leaf_hash(&log.entry(i).unwrap().encode()))
        .collect();
    assert_eq!(
        cp.root,
        cairn_tlog::MemoryTree::from_leaves(leaves.clone()).root()
    );

    // Published tiles alone reproduce the root, and bundles hold the entries.
    let storage = log.storage().clone();
    let tiles = TileNodeSource::new(n, |t: TileId| {
        Ok(storage.get(&t.path()).unwrap().expect("tile is published"))
    });
    assert_eq!(tree_root(&tiles, n).unwrap(), cp.root);
    // Partial tiles are removed once their full tile exists.
    for full in [
        "tile/0/000",
        "tile/0/001",
        "tile/entries/000",
        "tile/entries/001",
    ] {
        assert!(storage.get(full).unwrap().is_some(), "{full}");
        assert!(
            !dir.path().join("public").join(format!("{full}.p")).exists(),
            "{full}.p is left behind"
        );
    }
    let last_bundle = TileId {
        level: 0,
        index: 2,
        width: (n - 512) as u16,
    };
    let entries =
        decode_bundle(&storage.get(&last_bundle.entries_path()).unwrap().unwrap()).unwrap();
    assert_eq!(entries.len() as u64, n - 512);
    assert_eq!(
        LogEntry::decode(&entries[0]).unwrap(),
        log.entry(512).unwrap()
    );

    // Every entry's inclusion proof verifies; envelopes come back by index and digest.
    for i in [0, 1, 255, 256, 511, n - 1] {
        let proof = log.inclusion_proof(i, n).unwrap();
        verify_inclusion(&leaves[i as usize], i, n, &proof, &cp.root).unwrap();
        let env = log.envelope(i).unwrap();
        assert_eq!(
            <[u8; 32]>::from(Sha256::digest(&env)),
            log.entry(i).unwrap().envelope_sha256
        );
    }
    let tp = log.tlog_proof(42).unwrap();
    assert_eq!(tp.index, 42);
    verify_inclusion(&leaves[42], 42, n, &tp.proof, &cp.root).unwrap();

    // Consistency between an old size and the current one.
    let old_root = log.root(100).unwrap();
    verify_consistency(
        100,
        n,
        &old_root,
        &cp.root,
        &log.consistency_proof(100, n).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        log.inclusion_proof(5, n + 1),
        Err(Error::OutOfRange(_))
    ));

    // Lineage: the shared parent is mentioned by every entry, a subject by exactly one.
    assert_eq!(log.lineage("sha256:parent").unwrap().len() as u64, n);
    let d = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(&request(3).envelope))
    );
    let hits = log.lineage(&d).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].role, Role::Subject);
    log.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_return_the_first_index_and_oversized_entries_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        config(dir.path()),
        NoteSigner::generate("cairn.test/log").unwrap(),
    )
    .unwrap();
    let a = log.add(request(1)).await.unwrap();
    let b = log.add(request(2)).await.unwrap();
    let again = log.add(request(1)).await.unwrap();
    assert_eq!((a.index, b.index), (0, 1));
    assert_eq!(again.index, 0);
    assert!(again.duplicate);

    log.wait_integrated(1).await.unwrap();
    let before = log.checkpoint();
    let mut big = request(9);
    big.envelope = vec![b'x'; cairn_log::DEFAULT_MAX_ENVELOPE_BYTES + 1];
    let err = log.add(big).await.unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(log.size(), 2);
    assert_eq!(log.checkpoint(), before);
    log.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn reopening_recovers_everything_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let root;
    {
        let log = Log::open(config(dir.path()), signer.clone()).unwrap();
        for i in 0..300 {
            log.add(request(i)).await.unwrap();
        }
        log.wait_integrated(299).await.unwrap();
        root = log.root(300).unwrap();
        log.close();
    }
    // Lose every published file: they are derived data.
    std::fs::remove_dir_all(dir.path().join("public")).unwrap();
    let log = Log::open(config(dir.path()), signer.clone()).unwrap();
    assert_eq!(log.size(), 300);
    assert_eq!(log.root(300).unwrap(), root);
    let (cp, _) = Checkpoint::open(&log.checkpoint(), &signer.verifier()).unwrap();
    assert_eq!((cp.size, cp.root), (300, root));
    assert!(log.storage().get("tile/0/000").unwrap().is_some());
    // Dedup survives the restart; new entries continue the sequence.
    assert_eq!(log.add(request(5)).await.unwrap().index, 5);
    assert_eq!(log.add(request(1000)).await.unwrap().index, 300);
    log.close();
}

mod damage;

/// Storage whose writes fail with "no space left on device" while `full` is set.
struct FillableDisk {
    inner: cairn_log::FsStorage,
    full: std::sync::atomic::AtomicBool,
}

impl cairn_log::LogStorage for FillableDisk {
    fn put(&self, path: &str, bytes: &[u8]) -> cairn_log::Result<()> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Io {
                path: path.into(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            });
        }
        self.inner.put(path, bytes)
    }
    fn get(&self, path: &str) -> cairn_log::Result<Option<Vec<u8>>> {
        self.inner.get(path)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_refuses_new_entries_and_recovers_by_itself_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FillableDisk {
        inner: cairn_log::FsStorage::new(dir.path().join("public")).unwrap(),
        full: false.into(),
    });
    let log = Log::open(
        config(dir.path()).with_storage(disk.clone()),
        NoteSigner::generate("cairn.test/log").unwrap(),
    )
    .unwrap();
    log.add(request(0)).await.unwrap();
    log.wait_integrated(0).await.unwrap();

    disk.full.store(true, std::sync::atomic::Ordering::SeqCst);
    // Entries acknowledged before the failure is noticed are durable in the journal but cannot
    // be published; once it is noticed, new entries are refused.
    let mut acked = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let err = loop {
        match log.add(request(acked.len() as u64 + 1)).await {
            Ok(s) => acked.push(s.index),
            Err(e) => break e,
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the failure was not noticed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert!(!acked.is_empty());
    assert!(matches!(err, Error::StorageFull(_)), "{err}");
    assert!(err.to_string().contains("free space"), "{err}");
    assert!(log.storage_error().is_some());
    assert_eq!(log.size(), 1);

    // Space returns: the acknowledged entries reach a checkpoint without a restart.
    disk.full.store(false, std::sync::atomic::Ordering::SeqCst);
    let size = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        log.wait_integrated(*acked.last().unwrap()),
    )
    .await
    .expect("integration resumed by itself")
    .unwrap();
    assert_eq!(size, acked.len() as u64 + 1);
    assert!(log.storage_error().is_none());
    assert_eq!(log.add(request(500)).await.unwrap().index, size);
    log.close();
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_tiles_are_removed_once_their_full_tile_exists() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        config(dir.path()),
        NoteSigner::generate("cairn.test/log").unwrap(),
    )
    .unwrap();
    // One entry at a time: every size from 1 to 300 is published, so partial tiles of many
    // widths are written along the way.
    for i in 0..300 {
        let s = log.add(request(i)).await.unwrap();
        log.wait_integrated(s.index).await.unwrap();
    }
    let public = dir.path().join("public");
    for gone in ["tile/0/000.p", "tile/entries/000.p"] {
        assert!(!public.join(gone).exists(), "{gone} is left behind");
    }
    for kept in [
        "tile/0/000",
        "tile/entries/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
    ] {
        assert!(public.join(kept).exists(), "{kept} is missing");
    }
    log.close();
}
