//! C2SP tlog-proof offline proofs.
#![no_main]
use cairn_tlog::{NoteSigner, SigningKey, TlogProof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = TlogProof::parse(text) else {
        return;
    };
    let log = NoteSigner::new("fuzz.example/log", SigningKey::from_bytes(&[1; 32])).unwrap();
    let _ = p.verify(&[0; 32], &log.verifier());
    let _ = TlogProof::parse(&p.format());
});
