//! Signed notes (C2SP signed-note): parse, re-encode, verify against a fixed key.
#![no_main]
use cairn_tlog::{Note, NoteSignature, NoteSigner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        if let Ok(sig) = NoteSignature::parse_line(line) {
            assert_eq!(NoteSignature::parse_line(&sig.to_line()).unwrap(), sig);
        }
    }
    let Ok(note) = Note::parse(text) else {
        return;
    };
    // A parsed note re-encodes to the same bytes (signed notes are byte-exact).
    assert_eq!(note.to_string(), text);
    let signer = NoteSigner::new("fuzz.example/log", ed25519_key()).unwrap();
    let _ = note.verify(&[&signer.verifier()]);
});

fn ed25519_key() -> cairn_tlog::SigningKey {
    cairn_tlog::SigningKey::from_bytes(&[7; 32])
}
