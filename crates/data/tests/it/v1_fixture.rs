//! Format v1 manifests, roots and proofs still verify: a manifest and a
//! proof written by the v1-only release (tests/fixtures/v1/), checked against
//! the same dataset regenerated here.

use std::path::Path;

use cairn_data::{
    Expected, FileProof, Format, Manifest, Options, add, prove, verify, verify_file_proof,
};

use crate::util::{pseudo_random, write};

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v1")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"hello");
    write(dir.path(), "sub/b.bin", &pseudo_random(300_000, 1));
    write(dir.path(), "empty", b"");
    dir
}

const V1_ROOT: &str = "blake3:21bf80a6be978bf34cfa8a6e5265c1b6f9539910ec48300df5c5c74f4902784b";

#[test]
fn v1_manifests_parse_and_keep_their_exact_text() {
    for name in ["manifest.json", "manifest-no-chunks.json"] {
        let text = fixture(name);
        let m = Manifest::from_json(&text).unwrap();
        assert_eq!(m.format(), Format::V1);
        assert_eq!(m.root().to_string(), V1_ROOT);
        // Re-serialized byte for byte: the SHA-256 of the canonical bytes
        // that old dataset statements carry is still reproducible.
        assert_eq!(m.to_json() + "\n", text);
    }
    // A v1 entry without its SHA-256 is refused, naming the field.
    let text = fixture("manifest-no-chunks.json");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["files"][0].as_object_mut().unwrap().remove("sha256");
    let err = Manifest::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(err.contains("files[0].sha256"), "{err}");
}

#[test]
fn a_v1_dataset_verifies_by_manifest_and_by_root() {
    let dir = dataset();
    let m = Manifest::from_json(&fixture("manifest.json")).unwrap();
    let opts = Options::default();
    let r = verify(dir.path(), Expected::Manifest(&m), &opts).unwrap();
    assert!(r.matches());
    assert_eq!(r.actual.format(), Format::V1);
    assert!(r.diff.unwrap().is_empty());
    // A root alone: v2 does not give it, so it is tried as v1.
    let r = verify(dir.path(), Expected::Root(m.root()), &opts).unwrap();
    assert!(r.matches());
    // Hashing in v1 on request gives the same manifest (chunk lists included).
    let again = add(
        dir.path(),
        &opts.clone().with_format(Format::V1).with_chunk_lists(true),
    )
    .unwrap();
    assert_eq!(again.manifest, m);
    // A change is still found, by file.
    write(dir.path(), "a.txt", b"hellO");
    let r = verify(dir.path(), Expected::Manifest(&m), &opts).unwrap();
    assert!(!r.matches());
    assert_eq!(r.diff.unwrap().modified, vec!["a.txt".to_string()]);
    assert!(
        !verify(dir.path(), Expected::Root(m.root()), &opts)
            .unwrap()
            .matches()
    );
}

#[test]
fn a_v1_proof_still_checks() {
    let dir = dataset();
    let proof = FileProof::from_json(&fixture("proof-sub-b.json")).unwrap();
    assert_eq!(proof.version, 1);
    let root = V1_ROOT.parse().unwrap();
    let file = dir.path().join("sub/b.bin");
    verify_file_proof(&proof, &file, &root).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[7] ^= 1;
    assert!(verify_file_proof(&proof, &bytes, &root).is_err());
    // The v1 proof is the one `prove` gives when asked for v1.
    let p = prove(
        dir.path(),
        Path::new("sub/b.bin"),
        &Options::default().with_format(Format::V1),
    )
    .unwrap();
    assert_eq!(p, proof);
}
