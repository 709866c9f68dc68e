//! Signed notes: Go `golang.org/x/mod/sumdb/note` compatibility and strict parsing.

use cairn_tlog::*;

use crate::test_key;

// Known answers from the package documentation and tests of Go's
// golang.org/x/mod/sumdb/note (note.go "Example" section, note_test.go).
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn go_sumdb_note_signing_is_byte_for_byte_compatible() {
    let signer = NoteSigner::from_skey(PETER_SKEY).unwrap();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(signer.to_skey(), PETER_SKEY);
    assert_eq!(signer.to_vkey(), PETER_VKEY);
    assert_eq!(signer.verifier().to_vkey(), PETER_VKEY);

    let mut note = Note::new(TEXT).unwrap();
    note.add_signature(Note::sign(TEXT, &signer));
    assert_eq!(note.to_string(), format!("{TEXT}\n{PETER_SIG}"));
}

#[test]
fn go_sumdb_note_open() {
    let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let enoch = NoteVerifier::from_vkey(ENOCH_VKEY).unwrap();
    assert_eq!(enoch.key_id(), [0xaf, 0x0c, 0xfe, 0x78]);
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let note = Note::parse(&msg).unwrap();
    assert_eq!(note.text, TEXT);
    assert_eq!(note.signatures.len(), 2);
    assert_eq!(note.to_string(), msg, "parse/format round trip");

    // One known key: the other signature is ignored.
    assert_eq!(note.verify(&[&peter]).unwrap(), vec!["PeterNeumann"]);
    assert_eq!(note.verify(&[&enoch]).unwrap(), vec!["EnochRoot"]);
    assert_eq!(
        note.verify(&[&enoch, &peter]).unwrap(),
        vec!["PeterNeumann", "EnochRoot"]
    );
    // No known key.
    let other = NoteSigner::new("PeterNeumann", test_key(1))
        .unwrap()
        .verifier();
    let err = note.verify(&[&other]).unwrap_err();
    assert!(matches!(err, Error::NoKnownSignature { .. }), "{err}");
    assert!(err.to_string().contains("PeterNeumann, EnochRoot"), "{err}");
    assert!(note.verify(&[]).is_err());

    // A known key with a corrupted signature fails the whole note (Go: the
    // "ABCD" splice in TestOpen).
    let (a, b) = PETER_SIG.split_at(60);
    let spliced = format!("{TEXT}\n{a}ABCD{b}{ENOCH_SIG}");
    let note = Note::parse(&spliced).unwrap();
    let err = note.verify(&[&peter]).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("PeterNeumann"), "{err}");
    // ...but is irrelevant when only the other key is trusted.
    assert_eq!(note.verify(&[&enoch]).unwrap(), vec!["EnochRoot"]);

    // Altered text.
    let altered = msg.replacen("cryptography", "cryptographY", 1);
    assert!(matches!(
        Note::parse(&altered).unwrap().verify(&[&peter]),
        Err(Error::BadSignature { .. })
    ));
}

/// Go's TestNewVerifier / TestNewSigner: every proper substring and every
/// single-byte change of a valid key must be rejected.
#[test]
fn mangled_keys_are_rejected() {
    for (key, parse) in [
        (
            PETER_VKEY,
            (|s: &str| NoteVerifier::from_vkey(s).is_ok()) as fn(&str) -> bool,
        ),
        (PETER_SKEY, |s: &str| NoteSigner::from_skey(s).is_ok()),
    ] {
        assert!(parse(key));
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let s = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(!parse(s), "accepted substring {s:?}");
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let s = String::from_utf8(m).unwrap();
            assert!(!parse(&s), "accepted mangled {s:?}");
        }
    }
}

#[test]
fn bad_keys_say_what_is_wrong() {
    let cases = [
        ("PeterNeumann+c74f20a3", "expected <name>"),
        (
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "key name",
        ),
        (
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "key name",
        ),
        (
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "8 hex digits",
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!",
            "base64",
        ),
        (
            "PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "does not match",
        ),
        // Go note_test.go: wrong-length key and unknown algorithm, each with a
        // matching hash. (The first also has non-zero base64 trailing bits,
        // which Go's decoder tolerates and ours, being canonical, does not.)
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "canonical",
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",
            "32 bytes",
        ),
        (
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "type byte is 0x65",
        ),
        // A cosigner key (type 0x04) is not a note key (transparency-dev/formats vector).
        (
            "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
            "cosigner key",
        ),
    ];
    for (vkey, why) in cases {
        let err = NoteVerifier::from_vkey(vkey).expect_err(vkey).to_string();
        assert!(err.contains(why), "{vkey}: expected {why:?} in {err}");
    }
    let err = NoteSigner::from_skey(PETER_VKEY).unwrap_err().to_string();
    assert!(err.contains("PRIVATE+KEY+"), "{err}");
    assert!(NoteSigner::new("bad+name", test_key(1)).is_err());
    assert!(NoteSigner::new("", test_key(1)).is_err());
    assert!(NoteVerifier::new("tab\tname", test_key(1).verifying_key()).is_err());
}

#[test]
fn generated_keys_round_trip() {
    let s = NoteSigner::generate("example.com/log").unwrap();
    let s2 = NoteSigner::from_skey(&s.to_skey()).unwrap();
    assert_eq!(s2.to_vkey(), s.to_vkey());
    let v = NoteVerifier::from_vkey(&s.to_vkey()).unwrap();
    assert_eq!(v, s.verifier());
    assert_eq!(v.to_string(), s.to_vkey());
    let sig = s2.sign("hello\n");
    v.verify("hello\n", &sig).unwrap();
    assert!(v.verify("hello!\n", &sig).is_err());
    // Debug output never contains the secret key.
    let dbg = format!("{s:?}");
    let secret = s.to_skey();
    assert!(
        !dbg.contains(secret.splitn(5, '+').nth(4).unwrap()),
        "{dbg}"
    );
    assert_ne!(
        NoteSigner::generate("x").unwrap().to_vkey(),
        NoteSigner::generate("x").unwrap().to_vkey()
    );
}

#[test]
fn c2sp_signed_note_example_parses_and_round_trips() {
    // The example at the top of C2SP signed-note.md (the key is not published).
    let msg = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let note = Note::parse(msg).unwrap();
    // The text contains a blank line; the signatures start after the last one.
    assert_eq!(
        note.text,
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(note.signatures[0].name, "quasimodo.example/salvatore");
    assert_eq!(note.signatures[0].signature.len(), 64);
    assert_eq!(note.to_string(), msg);
}

#[test]
fn malformed_notes_are_rejected_with_reasons() {
    let good = format!("{TEXT}\n{PETER_SIG}");
    assert!(Note::parse(&good).is_ok());
    let sig_line = PETER_SIG.trim_end();
    let cases: Vec<(String, &str)> = vec![
        // Go note_test.go badMsgs.
        (TEXT.to_string(), "no blank line"),
        (format!("{TEXT}\n"), "no signature lines"),
        (format!("{TEXT}\n{sig_line}"), "must end with a newline"),
        (
            format!("\x01{TEXT}\n{PETER_SIG}"),
            "control character U+0001",
        ),
        (
            format!(
                "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            "base64",
        ),
        (format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"), "em dash"),
        // More.
        (format!("{TEXT}\n- PeterNeumann AAAAAAAA\n"), "em dash"),
        (format!("{TEXT}\n— Peter+Neumann AAAAAAAA\n"), "'+'"),
        (format!("{TEXT}\n— PeterNeumann AAAA\n"), "3 bytes"),
        (format!("{TEXT}\n— PeterNeumann AAAAAAB=\n"), "base64"),
        (format!("{TEXT}\n— PeterNeumann\n"), "must be"),
        (format!("line\r\n\n{PETER_SIG}"), "U+000D"),
        (
            format!("{TEXT}\n{}", PETER_SIG.repeat(101)),
            "more than 100",
        ),
    ];
    for (msg, why) in cases {
        let err = Note::parse(&msg).expect_err(&msg).to_string();
        assert!(err.contains(why), "{msg:?}: expected {why:?} in {err}");
    }
    assert!(Note::parse(&format!("{TEXT}\n{}", PETER_SIG.repeat(100))).is_ok());
    assert!(Note::new("no newline").is_err());
    assert!(Note::new("tab\tin text\n").is_err());
}

#[test]
fn add_signature_replaces_same_key() {
    let signer = NoteSigner::from_skey(PETER_SKEY).unwrap();
    let mut note = Note::parse(&format!("{TEXT}\n{ENOCH_SIG}")).unwrap();
    note.add_signature(NoteSignature {
        name: "PeterNeumann".into(),
        key_id: signer.key_id(),
        signature: vec![0; 64],
    });
    note.add_signature(signer.sign(TEXT));
    assert_eq!(note.signatures.len(), 2);
    assert_eq!(note.to_string(), format!("{TEXT}\n{ENOCH_SIG}{PETER_SIG}"));
}
