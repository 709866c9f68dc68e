//! Checkpoint bodies and signed checkpoints (C2SP tlog-checkpoint).
#![no_main]
use cairn_tlog::{Checkpoint, CosignatureVerifier, Cosigner, NoteSigner, SigningKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cp) = Checkpoint::parse_body(text) {
        // What parses re-encodes to the same body.
        assert_eq!(cp.to_body(), text);
    }
    let log = NoteSigner::new("fuzz.example/log", SigningKey::from_bytes(&[1; 32])).unwrap();
    if let Ok((_, note)) = Checkpoint::open(text, &log.verifier()) {
        let w: CosignatureVerifier =
            Cosigner::new("fuzz.example/w", SigningKey::from_bytes(&[2; 32]))
                .unwrap()
                .verifier();
        let _ = w.verify_note(&note);
    }
});
