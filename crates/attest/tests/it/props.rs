//! Property tests: any envelope survives canonical JSON, and its digest ignores spelling.
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use cairn_attest::{Envelope, Signature};
use proptest::prelude::*;

fn envelope() -> impl Strategy<Value = Envelope> {
    let signature = (
        "[0-9a-f]{0,64}",
        proptest::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(keyid, sig)| Signature { keyid, sig });
    (
        proptest::collection::vec(any::<u8>(), 0..300),
        "\\PC{0,40}",
        proptest::collection::vec(signature, 0..4),
    )
        .prop_map(|(payload, payload_type, signatures)| Envelope {
            payload,
            payload_type,
            signatures,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn canonical_json_round_trips(envelope in envelope()) {
        let json = envelope.canonical_json();
        let back = Envelope::from_json(&json).unwrap();
        // Same content, signatures possibly reordered into canonical order.
        prop_assert_eq!(&back.payload, &envelope.payload);
        prop_assert_eq!(&back.payload_type, &envelope.payload_type);
        let mut expected = envelope.signatures.clone();
        expected.sort_by(|a, b| (&a.keyid, &a.sig).cmp(&(&b.keyid, &b.sig)));
        prop_assert_eq!(&back.signatures, &expected);
        prop_assert_eq!(back.canonical_json(), json);
        prop_assert_eq!(back.digest(), envelope.digest());
    }

    #[test]
    fn digest_ignores_base64_alphabet_padding_and_whitespace(envelope in envelope()) {
        let mut value: serde_json::Value =
            serde_json::from_slice(&envelope.canonical_json()).unwrap();
        value["payload"] = URL_SAFE_NO_PAD.encode(&envelope.payload).into();
        let respelled = serde_json::to_vec_pretty(&value).unwrap();
        prop_assert_eq!(Envelope::from_json(&respelled).unwrap().digest(), envelope.digest());
    }
}
