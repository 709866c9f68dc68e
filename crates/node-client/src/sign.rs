//! Signed requests: a provider or requester proves it holds its chain key by signing each
//! request (method, path, time, body digest) with EIP-191 `personal_sign`. The node recovers
//! the address and accepts each signature once.
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use cairn_compute::api::auth_message;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `x-cairn-auth` header value for a request.
pub fn sign_request(signer: &PrivateKeySigner, method: &str, path: &str, body: &[u8]) -> String {
    let ms = now_ms();
    let msg = auth_message(method, path, ms, body);
    let sig = signer
        .sign_message_sync(msg.as_bytes())
        .expect("local secp256k1 signing does not fail");
    format!(
        "{}:{ms}:0x{}",
        signer.address(),
        alloy::primitives::hex::encode(sig.as_bytes())
    )
}

/// Unix milliseconds now.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
