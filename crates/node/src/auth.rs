//! Signed requests: a provider or requester proves it holds its chain key by signing each
//! request (method, path, time, body digest) with EIP-191 `personal_sign`. The node recovers
//! the address; no accounts, passwords or sessions.
use crate::{Error, Result, node::now_ms};
use alloy::{
    primitives::{Address, Signature},
    signers::{SignerSync, local::PrivateKeySigner},
};
use cairn_compute::api::{AUTH_HEADER, AUTH_MAX_SKEW_MS, auth_message, auth_message_for};

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

/// Signatures seen within the freshness window: a signed request is accepted once. A captured
/// request replayed inside the window (a second "cancel", an old heartbeat) is refused.
#[derive(Debug, Default)]
pub(crate) struct Replays {
    seen: std::sync::Mutex<Seen>,
}

/// Signature digests, and the same in the order they were seen (to forget old ones).
type Seen = (
    std::collections::HashSet<[u8; 32]>,
    std::collections::VecDeque<(u64, [u8; 32])>,
);

impl Replays {
    /// Records a signature made at `ms`; `false` if it was seen before.
    fn first_use(&self, sig: &[u8], ms: u64) -> bool {
        let digest: [u8; 32] = alloy::primitives::keccak256(sig).0;
        let mut g = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *g;
        // Forget what has aged out of the window (it would be refused as stale anyway).
        let horizon = now_ms().saturating_sub(2 * AUTH_MAX_SKEW_MS);
        while order.front().is_some_and(|(t, _)| *t < horizon) {
            if let Some((_, d)) = order.pop_front() {
                set.remove(&d);
            }
        }
        if !set.insert(digest) {
            return false;
        }
        order.push_back((ms.max(now_ms()), digest));
        true
    }
}

/// The address that signed this request, after checking the signature, its age, and that it
/// was not used before.
pub(crate) fn verify(
    replays: &Replays,
    headers: &axum::http::HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Address> {
    use sha2::Digest as _;
    verify_digest(
        replays,
        headers,
        method,
        path,
        &sha2::Sha256::digest(body).into(),
    )
}

/// [`verify`] for a body whose SHA-256 was computed while it streamed in.
pub(crate) fn verify_digest(
    replays: &Replays,
    headers: &axum::http::HeaderMap,
    method: &str,
    path: &str,
    body_sha256: &[u8; 32],
) -> Result<Address> {
    let value = headers
        .get(AUTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::Unauthorized(format!(
                "this request must be signed: send {AUTH_HEADER}: <address>:<unix ms>:<signature>"
            ))
        })?;
    let mut parts = value.splitn(3, ':');
    let (Some(addr), Some(ms), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Unauthorized(format!(
            "{AUTH_HEADER} must be <address>:<unix ms>:<signature>"
        )));
    };
    let claimed: Address = addr
        .parse()
        .map_err(|_| Error::Unauthorized(format!("{AUTH_HEADER}: bad address {addr:?}")))?;
    let ms: u64 = ms
        .parse()
        .map_err(|_| Error::Unauthorized(format!("{AUTH_HEADER}: bad timestamp {ms:?}")))?;
    if now_ms().abs_diff(ms) > AUTH_MAX_SKEW_MS {
        return Err(Error::Unauthorized(format!(
            "{AUTH_HEADER}: the signature is from {ms}, more than {} s from the node's clock; check the clock",
            AUTH_MAX_SKEW_MS / 1000
        )));
    }
    let bytes = alloy::primitives::hex::decode(sig)
        .map_err(|_| Error::Unauthorized(format!("{AUTH_HEADER}: the signature is not hex")))?;
    let sig = Signature::from_raw(&bytes)
        .map_err(|e| Error::Unauthorized(format!("{AUTH_HEADER}: bad signature: {e}")))?;
    let msg = auth_message_for(method, path, ms, body_sha256);
    let signer = sig
        .recover_address_from_msg(msg.as_bytes())
        .map_err(|e| Error::Unauthorized(format!("{AUTH_HEADER}: bad signature: {e}")))?;
    if signer != claimed {
        return Err(Error::Unauthorized(format!(
            "{AUTH_HEADER}: signed by {signer}, not {claimed} (wrong key, or the request was altered)"
        )));
    }
    if !replays.first_use(&bytes, ms) {
        return Err(Error::Unauthorized(format!(
            "{AUTH_HEADER}: this signed request was already used; sign each request anew"
        )));
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTH_HEADER, v.parse().unwrap());
        h
    }

    #[test]
    fn signatures_bind_the_request() {
        let r = Replays::default();
        let key = PrivateKeySigner::random();
        let v = sign_request(&key, "POST", "/jobs/1/result", b"{}");
        assert_eq!(
            verify(&r, &headers(&v), "POST", "/jobs/1/result", b"{}").unwrap(),
            key.address()
        );
        for (m, p, b) in [
            ("POST", "/jobs/2/result", &b"{}"[..]),
            ("GET", "/jobs/1/result", b"{}"),
            ("POST", "/jobs/1/result", b"{\"x\":1}"),
        ] {
            let e = verify(&r, &headers(&v), m, p, b).unwrap_err().to_string();
            assert!(
                e.contains("signed by") || e.contains("bad signature"),
                "{e}"
            );
        }
        assert!(
            verify(&r, &HeaderMap::new(), "POST", "/", b"")
                .unwrap_err()
                .to_string()
                .contains("must be signed")
        );
        let other = PrivateKeySigner::random();
        let forged = v.replacen(&key.address().to_string(), &other.address().to_string(), 1);
        assert!(verify(&r, &headers(&forged), "POST", "/jobs/1/result", b"{}").is_err());
        let old = format!("{}:1:0x00", key.address());
        assert!(
            verify(&r, &headers(&old), "POST", "/", b"")
                .unwrap_err()
                .to_string()
                .contains("clock")
        );
    }

    #[test]
    fn a_signed_request_is_accepted_once() {
        let r = Replays::default();
        let key = PrivateKeySigner::random();
        let v = sign_request(&key, "POST", "/jobs/1/cancel", b"{}");
        assert!(verify(&r, &headers(&v), "POST", "/jobs/1/cancel", b"{}").is_ok());
        let e = verify(&r, &headers(&v), "POST", "/jobs/1/cancel", b"{}").unwrap_err();
        assert!(e.to_string().contains("already used"), "{e}");
    }
}
