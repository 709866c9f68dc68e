//! C2SP tlog-cosignature v1 (Ed25519, type 0x04).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_tlog::*;
use sha2::{Digest, Sha256};

use crate::test_key;

const BODY: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

/// A native type-0x04 verifier key from transparency-dev/formats
/// `note/note_cosigv1_test.go` (TestCoSigV1NewVerifier): checks our key ID
/// algorithm for cosigners against an independent implementation.
const REMORA_VKEY: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

#[test]
fn third_party_cosigner_vkey_parses() {
    let v = CosignatureVerifier::from_vkey(REMORA_VKEY).unwrap();
    assert_eq!(v.name(), "remora.n621.de");
    assert_eq!(v.key_id(), [0xda, 0x77, 0xad, 0xe7]);
    assert_eq!(v.to_vkey(), REMORA_VKEY);
    // A plain note key (type 0x01) is not a cosigner key.
    let err = CosignatureVerifier::from_vkey(
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("type byte is 0x01"), "{err}");
    // Wrong ID for the name.
    let err = CosignatureVerifier::from_vkey(&REMORA_VKEY.replace("remora.", "remorb."))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn third_party_cosignature_timestamps() {
    // transparency-dev/formats note_cosigv1_test.go TestCoSigV1Timestamp:
    // this cosignature carries time 1727964367.
    let raw = STANDARD
        .decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==")
        .unwrap();
    let sig = NoteSignature {
        name: "w".into(),
        key_id: raw[..4].try_into().unwrap(),
        signature: raw[4..].to_vec(),
    };
    assert_eq!(cosignature_timestamp(&sig).unwrap(), 1_727_964_367);
    // ...and a plain Ed25519 note signature is not a cosignature.
    let raw = STANDARD
        .decode("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=")
        .unwrap();
    let sig = NoteSignature {
        name: "w".into(),
        key_id: raw[..4].try_into().unwrap(),
        signature: raw[4..].to_vec(),
    };
    assert!(cosignature_timestamp(&sig).is_err());
}

#[test]
fn spec_example_cosignature_line() {
    // C2SP tlog-cosignature.md: the witness line of the example carries the
    // same time as the spec's example message ("time 1679315147").
    let note = Note::parse(&format!(
        "{BODY}\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    ))
    .unwrap();
    let w = &note.signatures[1];
    assert_eq!(w.name, "witness.example.com/w1");
    assert_eq!(cosignature_timestamp(w).unwrap(), 1_679_315_147);
}

#[test]
fn cosign_and_verify_round_trip() {
    let c = Cosigner::new("witness.example/w1", test_key(3)).unwrap();
    let v = c.verifier();
    // Key ID is SHA-256(name || "\n" || 0x04 || pubkey)[:4], per the spec.
    let mut pre = b"witness.example/w1\n\x04".to_vec();
    pre.extend_from_slice(test_key(3).verifying_key().as_bytes());
    assert_eq!(c.key_id(), Sha256::digest(&pre)[..4]);

    let sig = c.cosign(BODY, 1_679_315_147).unwrap();
    assert_eq!(sig.key_id, c.key_id());
    assert_eq!(sig.signature.len(), 72);
    assert_eq!(sig.signature[..8], 1_679_315_147u64.to_be_bytes());
    // The Ed25519 signature is over "cosignature/v1\ntime <t>\n" || body.
    let msg = format!("cosignature/v1\ntime 1679315147\n{BODY}");
    let ed = ed25519_dalek::Signature::from_slice(&sig.signature[8..]).unwrap();
    test_key(3)
        .verifying_key()
        .verify_strict(msg.as_bytes(), &ed)
        .unwrap();
    assert_eq!(v.verify(BODY, &sig).unwrap(), 1_679_315_147);

    // Wrong body, wrong time, wrong key, truncated signature.
    let other_body = BODY.replace("20852163", "20852164");
    assert!(matches!(
        v.verify(&other_body, &sig),
        Err(Error::BadSignature { .. })
    ));
    let mut later = sig.clone();
    later.signature[7] ^= 1;
    assert!(v.verify(BODY, &later).is_err());
    let other = Cosigner::new("witness.example/w1", test_key(4)).unwrap();
    assert!(matches!(
        other.verifier().verify(BODY, &sig),
        Err(Error::WrongKey { .. })
    ));
    let mut short = sig.clone();
    short.signature.pop();
    let err = v.verify(BODY, &short).unwrap_err().to_string();
    assert!(err.contains("71 bytes"), "{err}");

    // Through a signed note: the log's verifier ignores the cosignature and
    // the witness's verifier finds it.
    let log = NoteSigner::new("example.com/behind-the-sofa", test_key(5)).unwrap();
    let mut note = Checkpoint::parse_body(BODY).unwrap().sign(&log).unwrap();
    assert_eq!(v.verify_note(&note).unwrap(), None);
    note.add_signature(sig);
    let text = note.to_string();
    let (_, opened) = Checkpoint::open(&text, &log.verifier()).unwrap();
    assert_eq!(v.verify_note(&opened).unwrap(), Some(1_679_315_147));
    // A cosigner key and a note key with the same name never match each other.
    let as_note_key = NoteVerifier::new("witness.example/w1", test_key(3).verifying_key()).unwrap();
    assert!(opened.verify(&[&as_note_key]).is_err());
}

#[test]
fn cosigner_refuses_bad_input() {
    let c = Cosigner::new("w", test_key(3)).unwrap();
    assert!(matches!(
        c.cosign("not a checkpoint\n", 1),
        Err(Error::Checkpoint { .. })
    ));
    let err = c.cosign(BODY, MAX_TIMESTAMP + 1).unwrap_err().to_string();
    assert!(err.contains("2^63-1"), "{err}");
    c.cosign(BODY, MAX_TIMESTAMP).unwrap();
    assert!(Cosigner::new("w 1", test_key(3)).is_err());
}

#[test]
fn cosigner_keys_round_trip() {
    let c = Cosigner::generate("witness.example/w2").unwrap();
    let skey = c.to_skey();
    assert!(skey.starts_with("PRIVATE+KEY+witness.example/w2+"));
    let c2 = Cosigner::from_skey(&skey).unwrap();
    assert_eq!(c2.to_vkey(), c.to_vkey());
    let v = CosignatureVerifier::from_vkey(&c.to_vkey()).unwrap();
    assert_eq!(v, c.verifier());
    // The vkey's key data starts with type byte 0x04 ("B" in base64).
    assert!(c.to_vkey().splitn(3, '+').nth(2).unwrap().starts_with('B'));
    // Note and cosigner keys can't be swapped.
    assert!(NoteSigner::from_skey(&skey).is_err());
    assert!(NoteVerifier::from_vkey(&c.to_vkey()).is_err());
    let note_skey = NoteSigner::generate("x").unwrap().to_skey();
    assert!(Cosigner::from_skey(&note_skey).is_err());
    assert!(!format!("{c:?}").contains(skey.splitn(5, '+').nth(4).unwrap()));
}
