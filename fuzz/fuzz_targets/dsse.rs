//! DSSE envelopes carrying in-toto statements: parse, canonicalize, verify.
#![no_main]
use cairn_attest::{Envelope, Key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::from_json(data) else {
        return;
    };
    // The canonical form parses back to the same envelope.
    let canonical = env.canonical_json();
    let again = Envelope::from_json(&canonical).expect("canonical JSON parses");
    assert_eq!(again.canonical_json(), canonical);
    let key = Key::from_seed(&[9; 32]);
    let _ = env.verify(&key.public());
});
