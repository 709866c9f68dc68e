//! verify() reports exactly the added / removed / modified paths; manifests
//! round-trip and reject tampering.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_data::{DatasetDiff, Error, Expected, Manifest, Options, add, verify};

use crate::util::{pseudo_random, write};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn verify_reports_exact_differences() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "keep.txt", b"unchanged");
    write(d, "a/mod.bin", &pseudo_random(200_000, 1));
    write(d, "a/same-size.bin", &pseudo_random(5_000, 2));
    write(d, "gone.txt", b"to be removed");
    write(d, "z/gone2", b"also removed");
    let opts = Options::default();
    let m = add(d, &opts).unwrap().manifest;

    let clean = verify(d, Expected::Manifest(&m), &opts).unwrap();
    assert!(clean.matches());
    assert_eq!(clean.diff.as_ref().map(DatasetDiff::is_empty), Some(true));

    // One byte changed, one same-size rewrite, two removals, two additions.
    let mut bytes = pseudo_random(200_000, 1);
    bytes[123_456] ^= 4;
    write(d, "a/mod.bin", &bytes);
    write(d, "a/same-size.bin", &pseudo_random(5_000, 3));
    std::fs::remove_file(d.join("gone.txt")).unwrap();
    std::fs::remove_dir_all(d.join("z")).unwrap();
    write(d, "new.txt", b"new");
    write(d, "a/b/new2", b"");

    let r = verify(d, Expected::Manifest(&m), &opts).unwrap();
    assert!(!r.matches());
    let diff = r.diff.unwrap();
    assert_eq!(diff.added, names(&["a/b/new2", "new.txt"]));
    assert_eq!(diff.removed, names(&["gone.txt", "z/gone2"]));
    assert_eq!(diff.modified, names(&["a/mod.bin", "a/same-size.bin"]));

    // With only the root: mismatch, and no per-file claims.
    let r = verify(d, Expected::Root(m.root()), &opts).unwrap();
    assert!(!r.matches());
    assert!(r.diff.is_none());
    assert_eq!(r.expected_root, m.root());
    let now = r.actual.root();
    assert!(verify(d, Expected::Root(now), &opts).unwrap().matches());
}

#[test]
fn renaming_a_file_changes_the_root() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x", b"same bytes");
    let before = add(dir.path(), &Options::default()).unwrap().manifest;
    std::fs::rename(dir.path().join("x"), dir.path().join("y")).unwrap();
    let r = verify(dir.path(), Expected::Manifest(&before), &Options::default()).unwrap();
    assert!(!r.matches());
    let diff = r.diff.unwrap();
    assert_eq!((diff.added, diff.removed), (names(&["y"]), names(&["x"])));
}

#[test]
fn manifest_json_round_trip_and_tamper_checks() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "b", &pseudo_random(150_000, 4));
    write(dir.path(), "a", b"hello");
    let opts = Options::default().with_chunk_lists(true);
    let m = add(dir.path(), &opts).unwrap().manifest;
    assert!(m.files().iter().all(|f| f.chunks.is_some()));

    let json = m.to_json();
    assert_eq!(Manifest::from_json(&json).unwrap(), m);
    assert_eq!(
        Manifest::from_json(std::str::from_utf8(&m.canonical_bytes()).unwrap()).unwrap(),
        m
    );
    // Canonical bytes: compact and stable; chunk lists do not change the root.
    assert!(!m.canonical_bytes().contains(&b'\n'));
    let slim = m.without_chunk_lists();
    assert_eq!(slim.root(), m.root());
    assert_ne!(slim.digest(), m.digest());
    assert_eq!(
        slim.digest(),
        Manifest::from_json(&slim.to_json()).unwrap().digest()
    );

    let field_of = |e: Error| match e {
        Error::InvalidManifest { field, reason } => format!("{field}: {reason}"),
        other => panic!("expected InvalidManifest, got {other:?}"),
    };
    // Wrong declared root.
    let other_root = format!("\"root\": \"blake3:{}\"", "00".repeat(32));
    let tampered = json.replacen(&format!("\"root\": \"{}\"", m.root()), &other_root, 1);
    assert!(field_of(Manifest::from_json(&tampered).unwrap_err()).starts_with("root"));
    // A changed size no longer matches the chunk list.
    let tampered = json.replace("\"size\": 5,", "\"size\": 6,");
    let msg = field_of(Manifest::from_json(&tampered).unwrap_err());
    assert!(msg.starts_with("files[0].chunks"), "{msg}");
    // Unsorted files.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["files"].as_array_mut().unwrap().reverse();
    let msg = field_of(Manifest::from_json(&v.to_string()).unwrap_err());
    assert!(
        msg.starts_with("files[1].path") && msg.contains("sorted"),
        "{msg}"
    );
    // Unknown fields and other versions.
    assert!(matches!(
        Manifest::from_json(&json.replacen("\"version\": 2", "\"version\": 2, \"x\": 0", 1)),
        Err(Error::Json { .. })
    ));
    assert!(
        field_of(
            Manifest::from_json(&json.replacen("\"version\": 2", "\"version\": 9", 1)).unwrap_err()
        )
        .contains("version")
    );
}

#[test]
fn thread_count_does_not_change_the_root_and_progress_reaches_total() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..9 {
        write(
            dir.path(),
            &format!("f{i}"),
            &pseudo_random(1000 + i * 150_000, i as u64),
        );
    }
    let max_done = std::sync::Arc::new(AtomicU64::new(0));
    let seen_total = std::sync::Arc::new(AtomicU64::new(0));
    let files = std::sync::Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let (md, st, fs) = (max_done.clone(), seen_total.clone(), files.clone());
    let opts = Options::default()
        .with_threads(3)
        .with_read_block(256 * 1024)
        .with_progress(move |done: u64, total: u64, file: &str| {
            md.fetch_max(done, Ordering::Relaxed);
            st.store(total, Ordering::Relaxed);
            fs.lock().unwrap().insert(file.to_owned());
        });
    let r3 = add(dir.path(), &opts).unwrap();
    let r1 = add(dir.path(), &Options::default().with_threads(1)).unwrap();
    assert_eq!(r3.manifest, r1.manifest);
    assert_eq!(r3.stats.threads, 3);
    let total = r3.manifest.total_size();
    assert_eq!(seen_total.load(Ordering::Relaxed), total);
    assert_eq!(max_done.load(Ordering::Relaxed), total);
    assert_eq!(files.lock().unwrap().len(), 9);
}
