//! Known answers: values pinned once from this implementation and each
//! cross-checked against an independent, straightforward computation.
//! Format v1 values are the ones v1 always had (they must never change);
//! format v2 values are pinned the same way.

use cairn_data::{
    Blake3Hash, FileDigest, Format, HashSpec, Manifest, Options, add, hash_bytes, hash_bytes_with,
    merkle,
};
use sha2::{Digest, Sha256};

use crate::util::{
    bottom_up_root, pseudo_random, reference_file_root, reference_file_root_v2, write,
};

fn v1(data: &[u8]) -> FileDigest {
    hash_bytes_with(data, &HashSpec::v1().with_chunks(true))
}

fn b3(s: &str) -> Blake3Hash {
    s.parse().unwrap()
}

#[test]
fn empty_file_root() {
    let d = v1(b"");
    assert_eq!(d.size, 0);
    assert_eq!(d.chunk_count, 0);
    assert_eq!(d.chunks.as_deref(), Some(&[][..]));
    // Independent: BLAKE3 of the single tag byte 0x03.
    assert_eq!(d.root.0, *blake3::hash(&[0x03]).as_bytes());
    assert_eq!(d.root, b3(EMPTY_FILE_ROOT));
    // SHA-256 of the empty string (FIPS 180-4 / well-known value).
    assert_eq!(
        d.sha256.unwrap().to_string(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

const EMPTY_FILE_ROOT: &str =
    "blake3:e1e0e81d6ea39b0cf8b86ffd440921011f57400cbc3f76a8a171906a9b8d7505";

#[test]
fn hello_file() {
    let d = v1(b"hello");
    assert_eq!(d.chunk_count, 1);
    // Independent: one chunk, leaf = BLAKE3(0x00 || BLAKE3("hello") || u64le(5)).
    let mut leaf = vec![0x00];
    leaf.extend_from_slice(blake3::hash(b"hello").as_bytes());
    leaf.extend_from_slice(&5u64.to_le_bytes());
    assert_eq!(d.root.0, *blake3::hash(&leaf).as_bytes());
    assert_eq!(d.root, b3(HELLO_ROOT));
    assert_eq!(
        d.sha256.unwrap().to_string(),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
}

const HELLO_ROOT: &str = "blake3:da95f8b37e70e85a0f3916a0dc4b3315632ad527b1b7d9641744d17ae6d535ba";

#[test]
fn one_mebibyte_pseudo_random_file() {
    let data = pseudo_random(1 << 20, 42);
    let d = v1(&data);
    let (root, n) = reference_file_root(&data);
    assert_eq!(d.chunk_count, n as u64);
    assert_eq!(d.root.0, root);
    assert_eq!(d.sha256.unwrap().0, <[u8; 32]>::from(Sha256::digest(&data)));
    // Pinned so that a change of chunker (e.g. a fastcdc release that moves
    // cut points) cannot go unnoticed.
    assert_eq!(d.chunk_count, PIN_1M_CHUNKS);
    assert_eq!(d.root, b3(PIN_1M_ROOT));
    let lens: Vec<u64> = d.chunks.unwrap().iter().map(|c| c.len).collect();
    assert_eq!(lens, PIN_1M_LENS);
}

const PIN_1M_CHUNKS: u64 = 12;
const PIN_1M_ROOT: &str = "blake3:b7cdbf0e9523db012d34f35612e371e11e305843c9ca96982b34e5335e61e005";
const PIN_1M_LENS: &[u64] = &[
    110203, 72195, 85872, 109446, 16918, 84397, 99530, 180549, 98363, 86907, 48275, 55921,
];

#[test]
fn empty_dataset_root() {
    let m = Manifest::from_entries_in(Format::V1, vec![]).unwrap();
    assert_eq!(m.root().0, *blake3::hash(&[0x04]).as_bytes());
    assert_eq!(m.root(), merkle::empty_dataset_root());
    let m = Manifest::from_entries(vec![]).unwrap();
    assert_eq!(m.root().0, *blake3::hash(&[0x14]).as_bytes());
}

#[test]
fn small_dataset_root() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"hello");
    write(dir.path(), "sub/b.bin", &pseudo_random(300_000, 1));
    write(dir.path(), "empty", b"");
    let m = add(dir.path(), &Options::default().with_format(Format::V1))
        .unwrap()
        .manifest;
    let paths: Vec<&str> = m.files().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "empty", "sub/b.bin"]);

    // Independent: file leaves by hand, tree bottom-up.
    let leaf = |path: &str, data: &[u8]| {
        let (root, _) = reference_file_root(data);
        let mut h = blake3::Hasher::new();
        h.update(&[0x02]);
        h.update(&(path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(&(data.len() as u64).to_le_bytes());
        h.update(&root);
        h.update(&Sha256::digest(data));
        *h.finalize().as_bytes()
    };
    let leaves = [
        leaf("a.txt", b"hello"),
        leaf("empty", b""),
        leaf("sub/b.bin", &pseudo_random(300_000, 1)),
    ];
    let expect = bottom_up_root(&leaves).unwrap();
    assert_eq!(m.root().0, expect);
    assert_eq!(m.root(), b3(PIN_SMALL_DATASET_ROOT));
}

const PIN_SMALL_DATASET_ROOT: &str =
    "blake3:21bf80a6be978bf34cfa8a6e5265c1b6f9539910ec48300df5c5c74f4902784b";

/// The chunker's constants as written in the format spec (README): a fastcdc
/// release that changed them would change every root.
#[test]
fn fastcdc_constants_match_the_spec() {
    assert_eq!(fastcdc::v2020::MASKS[17], 0x0000_d907_0353_7000);
    assert_eq!(fastcdc::v2020::MASKS[15], 0x0000_d90f_0353_0000);
    let (gear, _) = fastcdc::v2020::get_gear_with_seed(0);
    let mut h = blake3::Hasher::new();
    for g in gear.iter() {
        h.update(&g.to_le_bytes());
    }
    assert_eq!(gear.len(), 256);
    assert_eq!(h.finalize().to_hex().as_str(), GEAR_TABLE_BLAKE3);
}

const GEAR_TABLE_BLAKE3: &str = "9af822d1e10df25d0157a43ccd0a73b56d1c1d0a5d77acb4e6e979522d0fe149";

// ---- format v2 ----

#[test]
fn v2_empty_and_hello() {
    let d = hash_bytes(b"", true);
    assert_eq!((d.size, d.chunk_count, d.sha256), (0, 0, None));
    assert_eq!(d.root.0, *blake3::hash(&[0x13]).as_bytes());
    let d = hash_bytes(b"hello", true);
    let mut leaf = vec![0x10];
    leaf.extend_from_slice(blake3::hash(b"hello").as_bytes());
    leaf.extend_from_slice(&5u64.to_le_bytes());
    assert_eq!(d.root.0, *blake3::hash(&leaf).as_bytes());
    assert_eq!(d.sha256, None);
    // Asked for, the SHA-256 is there and the root is unchanged.
    let with = hash_bytes_with(b"hello", &HashSpec::v2().with_sha256(true));
    assert_eq!(with.root, d.root);
    assert_eq!(
        with.sha256.unwrap().to_string(),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
}

#[test]
fn v2_one_mebibyte_pseudo_random_file() {
    let data = pseudo_random(1 << 20, 42);
    let d = hash_bytes(&data, true);
    let (root, lens) = reference_file_root_v2(&data);
    let got: Vec<u64> = d.chunks.unwrap().iter().map(|c| c.len).collect();
    assert_eq!(got, lens.iter().map(|&l| l as u64).collect::<Vec<_>>());
    assert_eq!(d.root.0, root);
    assert_eq!(d.root, b3(PIN_V2_1M_ROOT));
    assert_eq!(got, PIN_V2_1M_LENS);
}

const PIN_V2_1M_ROOT: &str =
    "blake3:53d4cda48e9a7d9e0e725eff00033d3fc59d570f6c577100b1c95fe33323d48d";
const PIN_V2_1M_LENS: &[u64] = &[
    103677, 212371, 54324, 56970, 80322, 85066, 72292, 96159, 109766, 93692, 83937,
];

#[test]
fn v2_small_dataset_root() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"hello");
    write(dir.path(), "sub/b.bin", &pseudo_random(300_000, 1));
    write(dir.path(), "empty", b"");
    let m = add(dir.path(), &Options::default()).unwrap().manifest;
    assert_eq!(m.format(), Format::V2);
    assert!(m.files().iter().all(|f| f.sha256.is_none()));
    let leaf = |path: &str, data: &[u8]| {
        let (root, _) = reference_file_root_v2(data);
        let mut h = blake3::Hasher::new();
        h.update(&[0x12]);
        h.update(&(path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(&(data.len() as u64).to_le_bytes());
        h.update(&root);
        *h.finalize().as_bytes()
    };
    let leaves = [
        leaf("a.txt", b"hello"),
        leaf("empty", b""),
        leaf("sub/b.bin", &pseudo_random(300_000, 1)),
    ];
    assert_eq!(m.root().0, bottom_up_root(&leaves).unwrap());
    assert_eq!(m.root(), b3(PIN_V2_SMALL_DATASET_ROOT));
    // --sha256 records SHA-256 per file without changing the root.
    let with = add(dir.path(), &Options::default().with_sha256(true))
        .unwrap()
        .manifest;
    assert_eq!(with.root(), m.root());
    assert_eq!(
        with.file("a.txt").unwrap().sha256.unwrap().to_string(),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_ne!(with.canonical_bytes(), m.canonical_bytes());
}

const PIN_V2_SMALL_DATASET_ROOT: &str =
    "blake3:bf3efe1377da0d237aead6147c13d463bd4a8b526bb464d2671803284f92453f";
