//! C2SP tlog-checkpoint bodies and signed checkpoints.

use cairn_tlog::*;
use proptest::prelude::*;

use crate::test_key;

/// The example body in C2SP tlog-checkpoint.md.
const SPEC_BODY: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

#[test]
fn spec_example_parses_and_round_trips() {
    let cp = Checkpoint::parse_body(SPEC_BODY).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20_852_163);
    assert_eq!(
        cp.root[..4],
        [0x0a, 0xc5, 0x18, 0x6a],
        "base64 CsUY... decodes to 0a c5 18 6a ..."
    );
    assert!(cp.extensions.is_empty());
    assert_eq!(cp.to_body(), SPEC_BODY);

    // The signed example in the spec is a valid note (its key is not published).
    let signed = format!(
        "{SPEC_BODY}\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    );
    let note = Note::parse(&signed).unwrap();
    assert_eq!(Checkpoint::parse_body(&note.text).unwrap(), cp);
}

#[test]
fn extensions_and_empty_tree() {
    let body = "log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\next two\n";
    let cp = Checkpoint::parse_body(body).unwrap();
    assert_eq!(cp.size, 0);
    assert_eq!(cp.root, empty_root());
    assert_eq!(cp.extensions, vec!["ext one", "ext two"]);
    assert_eq!(cp.to_body(), body);
}

#[test]
fn malformed_bodies_name_the_line() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("log\n007\n{root}\n"),
            "size line: \"007\" has a leading zero",
        ),
        (format!("log\n-1\n{root}\n"), "size line"),
        (format!("log\n1e3\n{root}\n"), "size line"),
        (format!("log\n\n{root}\n"), "size line: is empty"),
        (format!("log\n18446744073709551616\n{root}\n"), "64 bits"),
        (format!("log\n12\n{root}"), "final line"),
        (format!("\n12\n{root}\n"), "origin line: is empty"),
        ("log\n12\n".to_string(), "root hash line: is missing"),
        ("log\n".to_string(), "size line: is missing"),
        ("log\n12\n!!!!\n".to_string(), "root hash line"),
        // Non-canonical base64: a set trailing bit (I -> J) or missing padding.
        (
            "log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n".to_string(),
            "canonical",
        ),
        (
            "log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n".to_string(),
            "root hash line",
        ),
        // Wrong hash length: 31 and 33 bytes.
        (
            "log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n".to_string(),
            "31 bytes",
        ),
        (
            "log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n".to_string(),
            "33 bytes",
        ),
        (format!("log\n12\n{root}\n\n"), "extension line: is empty"),
        (format!("log\n12\n{root}\nbad\rext\n"), "U+000D"),
    ];
    for (body, why) in cases {
        let err = Checkpoint::parse_body(&body).expect_err(&body).to_string();
        assert!(err.contains(why), "{body:?}: expected {why:?} in {err}");
    }
}

#[test]
fn sign_and_open() {
    let log = NoteSigner::new("example.com/log", test_key(7)).unwrap();
    let cp = Checkpoint::new("example.com/log", 42, [9u8; 32]);
    let note = cp.sign(&log).unwrap();
    let text = note.to_string();
    let (opened, note2) = Checkpoint::open(&text, &log.verifier()).unwrap();
    assert_eq!(opened, cp);
    assert_eq!(note2, note);

    // Another log's key does not open it.
    let other = NoteSigner::new("example.com/log", test_key(8)).unwrap();
    assert!(matches!(
        Checkpoint::open(&text, &other.verifier()),
        Err(Error::NoKnownSignature { .. })
    ));
    // A tampered size does not verify.
    let tampered = text.replacen("\n42\n", "\n43\n", 1);
    assert!(matches!(
        Checkpoint::open(&tampered, &log.verifier()),
        Err(Error::BadSignature { .. })
    ));
    // Invalid origins are refused before signing.
    assert!(
        Checkpoint::new("two\nlines", 1, [0; 32])
            .sign(&log)
            .is_err()
    );
    assert!(Checkpoint::new("", 1, [0; 32]).sign(&log).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn bodies_round_trip(
        origin in "[a-z0-9./-]{1,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in proptest::collection::vec("[ -~]{1,20}", 0..3),
    ) {
        let cp = Checkpoint { origin, size, root, extensions };
        let body = cp.to_body();
        prop_assert_eq!(Checkpoint::parse_body(&body).unwrap(), cp);
    }
}
