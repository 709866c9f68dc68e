//! Offline bundles: the JSON a verifier reads, its DSSE envelope and its tlog-proof.
//!
//! `Bundle::from_json` lives in cairn-log-server, which links alloy and axum; building those
//! for fuzzing would cost minutes, so this target fuzzes what the bundle parser is made of —
//! the JSON object, the DSSE envelope inside it and the tlog-proof text — the same way.
#![no_main]
use cairn_attest::{Envelope, PublicKey};
use cairn_tlog::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(env) = v.get("envelope")
        && let Ok(env) = Envelope::from_json(env.to_string().as_bytes())
        && let Some(key) = v.get("publicKey").and_then(|k| k.as_str())
        && let Ok(key) = PublicKey::parse(key)
    {
        let _ = env.verify(&key);
    }
    if let Some(p) = v.get("tlogProof").and_then(|p| p.as_str()) {
        let _ = TlogProof::parse(p);
    }
});
