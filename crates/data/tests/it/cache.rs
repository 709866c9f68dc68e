//! The incremental cache re-hashes only what changed.

use std::time::{Duration, SystemTime};

use cairn_data::{CacheStatus, Options, add};

use crate::util::{age, age_all, pseudo_random, write};

fn dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6u64 {
        write(
            dir.path(),
            &format!("part-{i}.bin"),
            &pseudo_random(40_000 + i as usize * 30_000, i),
        );
    }
    write(dir.path(), "nested/deep/file.txt", b"some text");
    age_all(dir.path());
    dir
}

#[test]
fn second_add_reuses_everything_and_one_change_rehashes_one_file() {
    let dir = dataset();
    let cache = tempfile::tempdir().unwrap();
    let opts = Options::default().with_cache_dir(cache.path());

    let first = add(dir.path(), &opts).unwrap();
    assert_eq!(first.stats.cache, CacheStatus::Created);
    assert_eq!((first.stats.files_hashed, first.stats.files_reused), (7, 0));
    assert_eq!(first.stats.bytes_hashed, first.stats.bytes_total);
    assert!(first.stats.cache_write_error.is_none());

    let second = add(dir.path(), &opts).unwrap();
    assert_eq!(second.stats.cache, CacheStatus::Loaded { entries: 7 });
    assert_eq!(
        (second.stats.files_hashed, second.stats.files_reused),
        (0, 7)
    );
    assert_eq!(second.stats.bytes_hashed, 0);
    assert_eq!(second.manifest, first.manifest);

    // Same size, new bytes.
    let changed = dir.path().join("part-3.bin");
    std::fs::write(&changed, pseudo_random(130_000, 99)).unwrap();
    age(&changed);
    let third = add(dir.path(), &opts).unwrap();
    assert_eq!((third.stats.files_hashed, third.stats.files_reused), (1, 6));
    assert_eq!(third.stats.bytes_hashed, 130_000);
    assert_ne!(third.manifest.root(), first.manifest.root());
    // The cached result equals a from-scratch hash.
    let fresh = add(dir.path(), &Options::default()).unwrap();
    assert_eq!(third.manifest, fresh.manifest);
    assert_eq!(fresh.stats.cache, CacheStatus::Disabled);
}

#[test]
fn rewrite_that_restores_mtime_is_still_detected() {
    // tar/rsync -t style: same size, mtime set back; ctime still moves.
    let dir = dataset();
    let cache = tempfile::tempdir().unwrap();
    let opts = Options::default().with_cache_dir(cache.path());
    let first = add(dir.path(), &opts).unwrap();
    let p = dir.path().join("part-0.bin");
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&p, pseudo_random(40_000, 1234)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let again = add(dir.path(), &opts).unwrap();
    assert_eq!(again.stats.files_hashed, 1);
    assert_ne!(again.manifest.root(), first.manifest.root());
}

#[test]
fn freshly_modified_files_are_not_trusted_yet() {
    let dir = dataset();
    let cache = tempfile::tempdir().unwrap();
    let opts = Options::default().with_cache_dir(cache.path());
    add(dir.path(), &opts).unwrap();
    // Written "now": within RACY_WINDOW of being hashed, so hashed again next time.
    write(dir.path(), "fresh.bin", b"just written");
    let r1 = add(dir.path(), &opts).unwrap();
    assert_eq!(r1.stats.files_hashed, 1);
    let r2 = add(dir.path(), &opts).unwrap();
    assert_eq!(r2.stats.files_hashed, 1, "a racy entry must not be reused");
    let f = std::fs::File::options()
        .write(true)
        .open(dir.path().join("fresh.bin"))
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    drop(f);
    add(dir.path(), &opts).unwrap();
    let r4 = add(dir.path(), &opts).unwrap();
    assert_eq!(r4.stats.files_hashed, 0);
}

#[test]
fn removed_files_leave_the_manifest_and_corrupt_caches_are_ignored() {
    let dir = dataset();
    let cache = tempfile::tempdir().unwrap();
    let opts = Options::default().with_cache_dir(cache.path());
    add(dir.path(), &opts).unwrap();
    std::fs::remove_file(dir.path().join("part-5.bin")).unwrap();
    let r = add(dir.path(), &opts).unwrap();
    assert_eq!(r.manifest.files().len(), 6);
    assert_eq!(r.stats.files_hashed, 0);

    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one cache file, no temp files left: {files:?}"
    );
    std::fs::write(&files[0], b"{not json").unwrap();
    let r = add(dir.path(), &opts).unwrap();
    assert!(
        matches!(r.stats.cache, CacheStatus::Discarded { .. }),
        "{:?}",
        r.stats.cache
    );
    assert_eq!(r.stats.files_hashed, 6);
    assert_eq!(add(dir.path(), &opts).unwrap().stats.files_hashed, 0);
}

#[test]
fn chunk_lists_requested_later_force_a_rehash() {
    let dir = dataset();
    let cache = tempfile::tempdir().unwrap();
    let opts = Options::default().with_cache_dir(cache.path());
    add(dir.path(), &opts).unwrap();
    let with = add(dir.path(), &opts.clone().with_chunk_lists(true)).unwrap();
    assert_eq!(with.stats.files_hashed, 7);
    assert!(with.manifest.files().iter().all(|f| f.chunks.is_some()));
    let again = add(dir.path(), &opts.with_chunk_lists(true)).unwrap();
    assert_eq!(again.stats.files_hashed, 0);
    assert_eq!(again.manifest, with.manifest);
}

#[test]
fn cache_dir_inside_the_dataset_is_left_out() {
    let dir = dataset();
    let without = add(dir.path(), &Options::default()).unwrap().manifest;
    let opts = Options::default().with_cache_dir(dir.path().join(".cairn-cache"));
    let first = add(dir.path(), &opts).unwrap();
    assert!(dir.path().join(".cairn-cache").is_dir());
    let second = add(dir.path(), &opts).unwrap();
    assert_eq!(first.manifest, without);
    assert_eq!(second.manifest, without);
    assert_eq!(second.stats.files_hashed, 0);
}

#[test]
fn entries_are_kept_per_format_and_sha256_and_old_cache_files_are_discarded() {
    let dir = dataset();
    let cache = tempfile::tempdir().unwrap();
    let v2 = Options::default().with_cache_dir(cache.path());
    add(dir.path(), &v2).unwrap();
    // A v1 run never takes v2 entries.
    let v1 = add(dir.path(), &v2.clone().with_format(cairn_data::Format::V1)).unwrap();
    assert_eq!(v1.stats.files_hashed, 7);
    let fresh_v1 = add(
        dir.path(),
        &Options::default().with_format(cairn_data::Format::V1),
    )
    .unwrap();
    assert_eq!(v1.manifest, fresh_v1.manifest);
    // SHA-256 asked for: entries without it are not enough.
    let with = add(dir.path(), &v2.clone().with_sha256(true)).unwrap();
    assert_eq!(with.stats.files_hashed, 7);
    let again = add(dir.path(), &v2.clone().with_sha256(true)).unwrap();
    assert_eq!(again.stats.files_hashed, 0);
    assert!(again.manifest.files().iter().all(|f| f.sha256.is_some()));
    // Not asked for: entries with it are reused, and it is left out.
    let without = add(dir.path(), &v2).unwrap();
    assert_eq!(without.stats.files_hashed, 0);
    assert!(without.manifest.files().iter().all(|f| f.sha256.is_none()));
    assert_eq!(without.manifest.root(), with.manifest.root());

    // A cache file of the earlier layout (version 1) is discarded, not misread.
    let file = std::fs::read_dir(cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["version"] = 1.into();
    std::fs::write(&file, v.to_string()).unwrap();
    let r = add(dir.path(), &v2).unwrap();
    assert!(
        matches!(&r.stats.cache, CacheStatus::Discarded { reason } if reason.contains("v1")),
        "{:?}",
        r.stats.cache
    );
    assert_eq!(r.stats.files_hashed, 7);
}
