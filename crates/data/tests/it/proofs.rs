//! Membership proofs: every proof verifies; any flipped bit fails.

use cairn_data::{
    Error, FileEntry, FileProof, Manifest, Options, ProofFailure, add, hash_bytes, prove,
    verify_file_proof,
};
use proptest::prelude::*;

use crate::util::{pseudo_random, write};

fn entry(path: &str, data: &[u8]) -> FileEntry {
    let d = hash_bytes(data, false);
    FileEntry {
        path: path.to_owned(),
        size: d.size,
        sha256: d.sha256,
        root: d.root,
        chunk_count: d.chunk_count,
        chunks: None,
    }
}

/// A dataset of `n` files with distinct names and small random contents.
fn dataset() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::btree_map(
        "[a-z]{1,3}(/[a-z]{1,3})?",
        prop::collection::vec(any::<u8>(), 0..2000),
        1..12,
    )
    .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_file_proof_verifies_and_a_flipped_bit_fails(
        files in dataset(),
        pick in any::<prop::sample::Index>(),
        bit in any::<prop::sample::Index>(),
    ) {
        // Paths like "a" and "a/b" cannot both be files; drop such clashes.
        let files: Vec<_> = files
            .iter()
            .filter(|(p, _)| !files.iter().any(|(q, _)| q.starts_with(&format!("{p}/"))))
            .cloned()
            .collect();
        let m = Manifest::from_entries(files.iter().map(|(p, d)| entry(p, d)).collect()).unwrap();
        let (path, data) = &files[pick.index(files.len())];
        let proof = m.prove(path).unwrap();
        let root = m.root();
        prop_assert!(verify_file_proof(&proof, data, &root).is_ok());

        // JSON round trip keeps it valid.
        let back = FileProof::from_json(&proof.to_json()).unwrap();
        prop_assert_eq!(&back, &proof);

        // A flipped bit in the file is caught (or a changed length if empty).
        let mut bad = data.clone();
        if bad.is_empty() {
            bad.push(0);
        } else {
            let i = bit.index(bad.len() * 8);
            bad[i / 8] ^= 1 << (i % 8);
        }
        let is_mismatch = matches!(
            verify_file_proof(&proof, &bad, &root),
            Err(Error::ProofMismatch { .. })
        );
        prop_assert!(is_mismatch);

        // A flipped bit in any audit-path hash, the file root or the SHA-256 is caught.
        for k in 0..proof.audit_path.len() {
            let mut p = proof.clone();
            p.audit_path[k].0[bit.index(32)] ^= 1;
            prop_assert!(verify_file_proof(&p, data, &root).is_err());
        }
        let mut p = proof.clone();
        p.file.root.0[bit.index(32)] ^= 0x80;
        prop_assert!(verify_file_proof(&p, data, &root).is_err());
        // A v2 proof carries no SHA-256; one that does is malformed.
        let mut p = proof.clone();
        p.file.sha256 = Some(cairn_data::Sha256Hash([bit.index(256) as u8; 32]));
        prop_assert!(verify_file_proof(&p, data, &root).is_err());
        // Another root is refused even if the proof names it.
        let mut other = root;
        other.0[0] ^= 1;
        let mut p = proof.clone();
        p.dataset_root = other;
        prop_assert!(verify_file_proof(&p, data, &root).is_err());
        prop_assert!(verify_file_proof(&proof, data, &other).is_err());
    }
}

#[test]
fn prove_from_a_directory_checks_against_the_file_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..7 {
        write(
            dir.path(),
            &format!("d{}/f{i}.bin", i % 3),
            &pseudo_random(10_000 + i * 999, i as u64),
        );
    }
    let opts = Options::default();
    let root = add(dir.path(), &opts).unwrap().manifest.root();
    let target = dir.path().join("d1/f4.bin");
    // By dataset-relative path and by real path: the same proof.
    let p1 = prove(dir.path(), std::path::Path::new("d1/f4.bin"), &opts).unwrap();
    let p2 = prove(dir.path(), &target, &opts).unwrap();
    assert_eq!(p1, p2);
    assert_eq!(p1.file.path, "d1/f4.bin");
    assert_eq!(p1.tree_size, 7);
    verify_file_proof(&p1, &target, &root).unwrap();

    // Another file with the right size but other bytes fails on the digests.
    let other = dir.path().join("other.bin");
    let mut bytes = std::fs::read(&target).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&other, &bytes).unwrap();
    match verify_file_proof(&p1, &other, &root) {
        Err(Error::ProofMismatch {
            failure: ProofFailure::FileRoot { .. },
            path,
        }) => assert_eq!(path, "d1/f4.bin"),
        r => panic!("expected a file root mismatch, got {r:?}"),
    }
    // Wrong size is reported as such, before hashing.
    std::fs::write(&other, b"short").unwrap();
    assert!(matches!(
        verify_file_proof(&p1, &other, &root),
        Err(Error::ProofMismatch {
            failure: ProofFailure::Size {
                expected: 13_996,
                actual: 5
            },
            ..
        })
    ));

    // Outside the dataset or absent: clear errors.
    let outside = tempfile::NamedTempFile::new().unwrap();
    assert!(matches!(
        prove(dir.path(), outside.path(), &opts),
        Err(Error::OutsideDataset { .. })
    ));
    assert!(prove(dir.path(), std::path::Path::new("nope.bin"), &opts).is_err());
}

#[test]
fn single_file_dataset_proof() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("weights.bin");
    std::fs::write(&f, pseudo_random(70_000, 5)).unwrap();
    let opts = Options::default();
    let m = add(&f, &opts).unwrap().manifest;
    assert_eq!(m.files().len(), 1);
    assert_eq!(m.files()[0].path, "weights.bin");
    let p = prove(&f, &f, &opts).unwrap();
    assert!(p.audit_path.is_empty());
    verify_file_proof(&p, &f, &m.root()).unwrap();
}

#[test]
fn malformed_proofs_are_rejected_with_the_field_named() {
    let m = Manifest::from_entries(vec![entry("a", b"x"), entry("b", b"y")]).unwrap();
    let json = m.prove("a").unwrap().to_json();
    assert!(json.contains("\"version\": 2"));
    let bad_version = json.replace("\"version\": 2", "\"version\": 3");
    assert!(matches!(
        FileProof::from_json(&bad_version),
        Err(Error::InvalidProof {
            field: "version",
            ..
        })
    ));
    let bad_path = json.replace("\"path\": \"a\"", "\"path\": \"../a\"");
    assert!(matches!(
        FileProof::from_json(&bad_path),
        Err(Error::InvalidProof {
            field: "file.path",
            ..
        })
    ));
    let bad_index = json.replace("\"index\": 0", "\"index\": 2");
    assert!(matches!(
        FileProof::from_json(&bad_index),
        Err(Error::InvalidProof { field: "index", .. })
    ));
    assert!(FileProof::from_json(&json.replace("\"index\"", "\"extra\": 1, \"index\"")).is_err());
}
