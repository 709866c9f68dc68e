//! RFC 6962 proof verification with hostile sizes, indexes and proofs (the shift overflow at
//! tree sizes of 2^63 and more was found here).
#![no_main]
use cairn_tlog::{Hash, verify_consistency, verify_inclusion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 24 {
        return;
    }
    let a = u64::from_le_bytes(data[..8].try_into().unwrap());
    let b = u64::from_le_bytes(data[8..16].try_into().unwrap());
    let c = u64::from_le_bytes(data[16..24].try_into().unwrap());
    let proof: Vec<Hash> = data[24..]
        .chunks_exact(32)
        .map(|h| h.try_into().unwrap())
        .collect();
    let leaf = [c as u8; 32];
    let _ = verify_inclusion(&leaf, a, b, &proof, &[1; 32]);
    let _ = verify_consistency(a, b, &leaf, &[2; 32], &proof);
    let _ = verify_consistency(a.min(b), a.max(b), &leaf, &[2; 32], &proof);
});
