//! Signing and verifying Cairn envelopes: round trip, an independent check of what is signed,
//! tampering, size limits, and the canonical digest.
use crate::fixtures::{dataset, inference, key_a, key_b};
use base64::{Engine as _, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE};
use cairn_attest::{
    DEFAULT_MAX_ENVELOPE_BYTES, Envelope, Error, KnownPredicate, Limits, PAYLOAD_TYPE_IN_TOTO,
    Statement, Subject,
};
use serde_json::Value;

fn dataset_envelope() -> Envelope {
    let manifest = b"manifest-1";
    let statement = Statement::new(
        vec![Subject::of_bytes("m.json", manifest)],
        dataset(1, manifest),
    );
    Envelope::sign_statement(&statement, &key_a()).unwrap()
}

#[test]
fn sign_then_verify_returns_the_statement() {
    let key = key_a();
    let envelope = dataset_envelope();
    assert_eq!(envelope.payload_type, PAYLOAD_TYPE_IN_TOTO);
    assert_eq!(envelope.signatures.len(), 1);
    assert_eq!(envelope.signatures[0].keyid, key.key_id());
    let parsed = Envelope::from_json(&envelope.canonical_json()).unwrap();
    assert_eq!(parsed, envelope);
    let statement = parsed.verify(&key.public()).unwrap();
    let KnownPredicate::Dataset(d) = &statement.predicate else {
        panic!(
            "expected a dataset predicate, got {:?}",
            statement.predicate
        );
    };
    assert_eq!(d, &dataset(1, b"manifest-1"));
    assert_eq!(statement.subject[0].name, "m.json");
}

#[test]
fn signature_verifies_with_an_independent_pae_and_ed25519() {
    // Rebuild what must have been signed from the JSON alone, without this crate's code.
    let key = key_a();
    let json: Value = serde_json::from_slice(&dataset_envelope().canonical_json()).unwrap();
    let payload = STANDARD.decode(json["payload"].as_str().unwrap()).unwrap();
    let payload_type = json["payloadType"].as_str().unwrap();
    let mut message = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    message.extend_from_slice(&payload);
    let sig: [u8; 64] = STANDARD
        .decode(json["signatures"][0]["sig"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key.public().to_bytes()).unwrap();
    verifying
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig))
        .unwrap();
    // keyid is the hex SHA-256 of the public key.
    let keyid = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        key.public().to_bytes(),
    ));
    assert_eq!(json["signatures"][0]["keyid"], keyid);
    // And the payload is the statement JSON.
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        statement["predicateType"],
        "https://cairn.dev/attestation/dataset/v1"
    );
}

#[test]
fn tampered_payload_fails_naming_the_signature() {
    let mut envelope = dataset_envelope();
    let mut statement: Value = serde_json::from_slice(&envelope.payload).unwrap();
    statement["predicate"]["fileCount"] = 3.into();
    envelope.payload = serde_json::to_vec(&statement).unwrap();
    let err = envelope.verify(&key_a().public()).unwrap_err();
    assert!(matches!(err, Error::BadSignature { index: 0, .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("signatures[0].sig: Ed25519 signature by key"),
        "{err}"
    );
}

#[test]
fn tampered_payload_type_fails() {
    let mut envelope = dataset_envelope();
    envelope.payload_type = "application/json".into();
    let err = envelope.verify(&key_a().public()).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
}

#[test]
fn tampered_signature_fails() {
    let mut envelope = dataset_envelope();
    envelope.signatures[0].sig[10] ^= 1;
    let err = envelope.verify(&key_a().public()).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    // A truncated signature is also just a bad signature, not a panic.
    envelope.signatures[0].sig.truncate(12);
    assert!(matches!(
        envelope.verify(&key_a().public()),
        Err(Error::BadSignature { .. })
    ));
}

#[test]
fn tampered_keyid_fails() {
    let mut envelope = dataset_envelope();
    envelope.signatures[0].keyid = key_b().key_id();
    let err = envelope.verify(&key_a().public()).unwrap_err();
    assert!(
        matches!(err, Error::KeyIdMismatch { index: 0, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&key_a().key_id()) && text.contains(&key_b().key_id()),
        "{text}"
    );
}

#[test]
fn wrong_key_and_unsigned_envelopes_fail() {
    let envelope = dataset_envelope();
    let err = envelope.verify(&key_b().public()).unwrap_err();
    assert!(matches!(err, Error::NoSignatureByKey { .. }), "{err}");
    assert!(
        err.to_string().contains(&key_a().key_id()),
        "lists the keyids present: {err}"
    );
    let mut unsigned = envelope;
    unsigned.signatures.clear();
    assert!(matches!(
        unsigned.verify(&key_a().public()),
        Err(Error::Unsigned)
    ));
}

#[test]
fn co_signatures_each_verify_and_do_not_change_the_statement_digest() {
    let mut envelope = dataset_envelope();
    let before = envelope.statement_digest();
    envelope.add_signature(&key_b());
    envelope.add_signature(&key_b()); // Replaces, does not duplicate.
    assert_eq!(envelope.signatures.len(), 2);
    assert_eq!(envelope.verify_signature(&key_a().public()).unwrap(), 0);
    assert_eq!(envelope.verify_signature(&key_b().public()).unwrap(), 1);
    assert_eq!(envelope.statement_digest(), before);
    envelope
        .verify_threshold(&[key_a().public(), key_b().public()], 2)
        .unwrap();
}

#[test]
fn valid_signature_over_wrong_payload_type_is_rejected_after_signing() {
    let statement = br#"{"_type":"https://in-toto.io/Statement/v1"}"#.to_vec();
    let envelope = Envelope::sign_payload("application/json", statement, &key_a());
    envelope.verify_signature(&key_a().public()).unwrap();
    let err = envelope.verify(&key_a().public()).unwrap_err().to_string();
    assert!(err.starts_with("payloadType: must be"), "{err}");
}

#[test]
fn signing_validates_the_statement_first() {
    let manifest = b"m";
    let mut bad = dataset(1, manifest);
    bad.file_count = 0;
    let statement = Statement::new(vec![Subject::of_bytes("m", manifest)], bad);
    let err = Envelope::sign_statement(&statement, &key_a())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("predicate.fileCount: must be at least 1"),
        "{err}"
    );
}

#[test]
fn size_limit_is_enforced_with_a_clear_error() {
    assert_eq!(DEFAULT_MAX_ENVELOPE_BYTES, 65_536);
    let statement = Statement::new(
        (0..2_000)
            .map(|i| Subject::of_bytes(format!("out-{i}"), b"o"))
            .collect(),
        inference(b"model", b"in", b"o"),
    );
    let err = Envelope::sign_statement(&statement, &key_a()).unwrap_err();
    let Error::TooLarge { size, limit } = err else {
        panic!("expected TooLarge, got {err}");
    };
    assert!(size > limit && limit == DEFAULT_MAX_ENVELOPE_BYTES);
    // Raising the limit lets it through, and parsing honours the same limits.
    let limits = Limits::default().with_max_envelope_bytes(1 << 20);
    let envelope = Envelope::sign_statement_with(&statement, &key_a(), &limits).unwrap();
    let json = envelope.canonical_json();
    assert!(matches!(
        Envelope::from_json(&json),
        Err(Error::TooLarge { .. })
    ));
    let parsed = Envelope::from_json_with(&json, &limits).unwrap();
    assert!(matches!(
        parsed.verify(&key_a().public()),
        Err(Error::TooLarge { .. })
    ));
    parsed.verify_with(&key_a().public(), &limits).unwrap();
}

#[test]
fn canonical_json_has_a_fixed_shape() {
    let envelope = Envelope::sign_payload("t", b"{}".to_vec(), &key_a());
    let json = String::from_utf8(envelope.canonical_json()).unwrap();
    let sig = STANDARD.encode(&envelope.signatures[0].sig);
    assert_eq!(
        json,
        format!(
            r#"{{"payload":"e30=","payloadType":"t","signatures":[{{"keyid":"{}","sig":"{sig}"}}]}}"#,
            key_a().key_id()
        )
    );
    assert_eq!(
        envelope.digest(),
        cairn_attest::Digest::sha256_of(json.as_bytes())
    );
}

#[test]
fn resubmissions_in_other_spellings_have_the_same_digest() {
    let mut envelope = dataset_envelope();
    envelope.add_signature(&key_b());
    let digest = envelope.digest();

    // Pretty-printed, URL-safe base64 without padding, signatures reversed.
    let mut json: Value = serde_json::from_slice(&envelope.canonical_json()).unwrap();
    let url = |bytes: &[u8]| URL_SAFE.encode(bytes).trim_end_matches('=').to_owned();
    json["payload"] = url(&envelope.payload).into();
    let sigs = json["signatures"].as_array_mut().unwrap();
    sigs.reverse();
    for s in sigs.iter_mut() {
        let raw = STANDARD.decode(s["sig"].as_str().unwrap()).unwrap();
        s["sig"] = url(&raw).into();
    }
    let respelled = serde_json::to_vec_pretty(&json).unwrap();
    let again = Envelope::from_json(&respelled).unwrap();
    assert_eq!(again.digest(), digest);
    again.verify(&key_a().public()).unwrap();

    // A different statement is a different digest.
    let other = Statement::new(vec![Subject::of_bytes("m", b"x")], dataset(2, b"x"));
    let other = Envelope::sign_statement(&other, &key_a()).unwrap();
    assert_ne!(other.digest(), digest);
}

#[test]
fn unknown_envelope_fields_and_missing_ones_are_named() {
    let cases = [
        (
            r#"{"payload":"","payloadType":"t","signatures":[],"extra":1}"#,
            "extra: unknown field",
        ),
        (
            r#"{"payload":"","signatures":[]}"#,
            "payloadType: required field is missing",
        ),
        (
            r#"{"payload":"","payloadType":"t","signatures":[{"keyid":"k"}]}"#,
            "signatures[0].sig: required field is missing",
        ),
        (
            r#"{"payload":1,"payloadType":"t","signatures":[]}"#,
            "payload: invalid type",
        ),
    ];
    for (json, expected) in cases {
        let err = Envelope::from_json(json.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(expected), "{json}: {err}");
    }
    assert!(matches!(
        Envelope::from_json(b"{"),
        Err(Error::Json {
            what: "envelope",
            ..
        })
    ));
}

#[test]
fn signed_payload_with_a_duplicate_key_is_rejected() {
    // Parsers disagree on which duplicate wins; a signed statement must mean one thing.
    let manifest = b"m";
    let statement = Statement::new(vec![Subject::of_bytes("m", manifest)], dataset(1, manifest));
    let json = String::from_utf8(statement.to_json().unwrap()).unwrap();
    let doubled = json.replacen(
        "\"predicateType\":",
        "\"predicateType\":\"https://example.com/other/v1\",\"predicateType\":",
        1,
    );
    let envelope = Envelope::sign_payload(PAYLOAD_TYPE_IN_TOTO, doubled.into_bytes(), &key_a());
    envelope.verify_signature(&key_a().public()).unwrap();
    let err = envelope.verify(&key_a().public()).unwrap_err().to_string();
    assert!(
        err.starts_with("predicateType: duplicate key `predicateType`"),
        "{err}"
    );
}
