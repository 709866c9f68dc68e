//! Known answers from the DSSE specification (secure-systems-lab/dsse): the PAE example of
//! protocol.md and the Ed25519 vectors of testvectors/vectors.json, whose keys are RFC 8032
//! section 7.1 TEST 1 ("A") and TEST 2 ("B").
use crate::fixtures::{key_a, key_b};
use cairn_attest::{Envelope, Error, PublicKey, pae};

/// One vector: envelope JSON, hex of the PAE it signs, verifier configuration, expected result.
struct Vector {
    id: &'static str,
    envelope: &'static str,
    pae_hex: &'static str,
    trusted: &'static [&'static str],
    threshold: usize,
    supported: &'static [&'static str],
    accept: bool,
}

const IN_TOTO: &[&str] = &["application/vnd.in-toto+json"];
const PAE_STATEMENT: &str = "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d";
const SIG_A: &str =
    "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==";

const VECTORS: &[Vector] = &[
    Vector {
        id: "single-signature",
        envelope: r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==","keyid":"A"}]}"#,
        pae_hex: PAE_STATEMENT,
        trusted: &["A"],
        threshold: 1,
        supported: IN_TOTO,
        accept: true,
    },
    Vector {
        id: "url-safe-base64",
        envelope: r#"{"payload":"-_-_Pj8=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW886DbWNWcCmX5twLrAw==","keyid":"A"}]}"#,
        pae_hex: "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203520fbffbf3e3f",
        trusted: &["A"],
        threshold: 1,
        supported: IN_TOTO,
        accept: true,
    },
    Vector {
        id: "payload-type-swapped",
        envelope: r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"application/vnd.example.other+json","signatures":[{"sig":"2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==","keyid":"A"}]}"#,
        // The PAE the signature was made over, not the one this envelope claims.
        pae_hex: PAE_STATEMENT,
        trusted: &["A"],
        threshold: 1,
        supported: &[
            "application/vnd.in-toto+json",
            "application/vnd.example.other+json",
        ],
        accept: false,
    },
    Vector {
        id: "non-ascii-payload-type",
        envelope: r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"application/vnd.exämple+json","signatures":[{"sig":"xmSk/ug66ysT7ayhkCIjhAq42zgZXSsEWuzUaNL7w2eGAdF/NU6/fRXPtmfN+5DNSAs5/i2lUnHjbbjPsu0tAw==","keyid":"A"}]}"#,
        pae_hex: "445353457631203239206170706c69636174696f6e2f766e642e6578c3a46d706c652b6a736f6e203433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d",
        trusted: &["A"],
        threshold: 1,
        supported: &["application/vnd.exämple+json"],
        accept: true,
    },
    Vector {
        id: "empty-payload",
        envelope: r#"{"payload":"","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"gSggCAaTLTYyRH6FIDBem6meyIynsYy8RTHVzwx9tnTb7Bg/1jMWnuVgI/gffqmbsC2VX5/jHfkkDqsj7CDbDg==","keyid":"A"}]}"#,
        pae_hex: "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e203020",
        trusted: &["A"],
        threshold: 1,
        supported: IN_TOTO,
        accept: true,
    },
    Vector {
        id: "empty-payload-type",
        envelope: r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"","signatures":[{"sig":"iC3q/+3Rm0+lpAJRueDmDh15PnwCfxKmS0NAfKsbv+zgulXQC/WM9trc+j1XEqlwDIg/vf/uNfebeD6sxInrDg==","keyid":"A"}]}"#,
        pae_hex: "445353457631203020203433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e742f7631227d",
        trusted: &["A"],
        threshold: 1,
        supported: IN_TOTO,
        accept: false,
    },
    Vector {
        id: "threshold-two-distinct-keys",
        envelope: TWO_SIGS_AB,
        pae_hex: PAE_STATEMENT,
        trusted: &["A", "B"],
        threshold: 2,
        supported: IN_TOTO,
        accept: true,
    },
    Vector {
        id: "threshold-two-one-key-twice",
        envelope: TWO_SIGS_AA,
        pae_hex: PAE_STATEMENT,
        trusted: &["A", "B"],
        threshold: 2,
        supported: IN_TOTO,
        accept: false,
    },
    Vector {
        id: "threshold-two-without-keyids",
        envelope: r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="},{"sig":"c1+67/aT0yqEpwx8PsVY3MLHsj9D0CZ014/Fv/QlG59P+9CobUZ7xECJ/V3USG0Ob9CiE5LjReEZUzNF2l7eBw=="}]}"#,
        pae_hex: PAE_STATEMENT,
        trusted: &["A", "B"],
        threshold: 2,
        supported: IN_TOTO,
        accept: true,
    },
];

/// Signatures by A and B ("threshold-two-distinct-keys").
const TWO_SIGS_AB: &str = r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==","keyid":"A"},{"sig":"c1+67/aT0yqEpwx8PsVY3MLHsj9D0CZ014/Fv/QlG59P+9CobUZ7xECJ/V3USG0Ob9CiE5LjReEZUzNF2l7eBw==","keyid":"B"}]}"#;
/// A's signature twice ("threshold-two-one-key-twice").
const TWO_SIGS_AA: &str = r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==","keyid":"A"},{"sig":"2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA==","keyid":"A"}]}"#;

fn trusted(names: &[&str]) -> Vec<PublicKey> {
    names
        .iter()
        .map(|name| match *name {
            "A" => key_a().public(),
            "B" => key_b().public(),
            other => panic!("unknown key {other}"),
        })
        .collect()
}

#[test]
fn pae_matches_the_protocol_example() {
    // protocol.md, "Test Vectors".
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    // The example's envelope (an ECDSA signature, which we only parse) covers that PAE.
    let example = r#"{"payload": "aGVsbG8gd29ybGQ=",
 "payloadType": "http://example.com/HelloWorld",
 "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}]}"#;
    let envelope = Envelope::from_json(example.as_bytes()).unwrap();
    assert_eq!(
        envelope.pae(),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(envelope.signatures[0].sig.len(), 64);
}

#[test]
fn vector_keys_are_the_rfc_8032_keys() {
    assert_eq!(
        key_a().public().to_hex(),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(
        key_b().public().to_hex(),
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    );
}

#[test]
fn dsse_test_vectors() {
    for v in VECTORS {
        let envelope =
            Envelope::from_json(v.envelope.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", v.id));
        let signed = envelope.verify_threshold(&trusted(v.trusted), v.threshold);
        let supported = v.supported.contains(&envelope.payload_type.as_str());
        assert_eq!(
            signed.is_ok() && supported,
            v.accept,
            "{}: {signed:?}",
            v.id
        );
        if v.id != "payload-type-swapped" {
            assert_eq!(hex::encode(envelope.pae()), v.pae_hex, "{}", v.id);
        }
    }
}

#[test]
fn swapped_payload_type_fails_on_the_signature_and_empty_type_on_support() {
    let by_id = |id: &str| {
        let v = VECTORS.iter().find(|v| v.id == id).unwrap();
        Envelope::from_json(v.envelope.as_bytes()).unwrap()
    };
    let a = [key_a().public()];
    let swapped = by_id("payload-type-swapped");
    assert!(matches!(
        swapped.verify_threshold(&a, 1),
        Err(Error::BelowThreshold {
            valid: 0,
            threshold: 1
        })
    ));
    // Re-labelled with the type it was signed under, the same signature verifies.
    let mut fixed = swapped.clone();
    fixed.payload_type = "application/vnd.in-toto+json".into();
    assert_eq!(hex::encode(fixed.pae()), PAE_STATEMENT);
    fixed.verify_threshold(&a, 1).unwrap();

    let empty_type = by_id("empty-payload-type");
    empty_type.verify_threshold(&a, 1).unwrap();
    let err = empty_type.check_payload_type().unwrap_err().to_string();
    assert!(
        err.starts_with("payloadType: must be \"application/vnd.in-toto+json\""),
        "{err}"
    );
}

#[test]
fn our_signatures_reproduce_the_vectors() {
    // Ed25519 is deterministic, so signing the same payload with key A gives the vector's bytes.
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#.to_vec();
    let envelope = Envelope::sign_payload("application/vnd.in-toto+json", payload, &key_a());
    let json: serde_json::Value = serde_json::from_slice(&envelope.canonical_json()).unwrap();
    assert_eq!(json["signatures"][0]["sig"], SIG_A);
    assert_eq!(
        json["payload"],
        "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ=="
    );
}

#[test]
fn strict_verification_refuses_keyids_that_are_not_key_hashes() {
    // Plain DSSE treats keyid "A" as a hint; Cairn binds keyid to the key hash.
    let v = &VECTORS[0];
    let envelope = Envelope::from_json(v.envelope.as_bytes()).unwrap();
    let err = envelope.verify_signature(&key_a().public()).unwrap_err();
    assert!(
        matches!(err, Error::KeyIdMismatch { index: 0, .. }),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("signatures[0].keyid: is \"A\""),
        "{err}"
    );
}
