//! Signed requests: a provider or requester proves it holds its chain key by signing each
//! request (method, path, time, body digest) with EIP-191 `personal_sign`. The node recovers
//! the address; no accounts, passwords or sessions.
use crate::{Error, Result, node::now_ms};
use alloy::primitives::{Address, Signature};
use cairn_compute::api::{AUTH_HEADER, AUTH_MAX_SKEW_MS, auth_message_for};
pub use cairn_node_client::sign_request;

/// Signatures seen within the freshness window: a signed request is accepted once. A captured
/// request replayed inside the window (a second "cancel", an old heartbeat) is refused. Also
/// the write budgets: per client address (checked before a write is read) and per signing key
/// (checked once the signature verified, so nobody spends another key's budget).
pub(crate) struct Replays {
    seen: std::sync::Mutex<Seen>,
    per_key: cairn_log_server::Limiter<Address>,
    pub(crate) per_address: cairn_log_server::Limiter<Option<std::net::IpAddr>>,
}

impl std::fmt::Debug for Replays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replays").finish_non_exhaustive()
    }
}

impl Default for Replays {
    fn default() -> Self {
        Self::new(&crate::WriteLimits::default())
    }
}

/// Signature digests, and the same in the order they were seen (to forget old ones).
type Seen = (
    std::collections::HashSet<[u8; 32]>,
    std::collections::VecDeque<(u64, [u8; 32])>,
);

/// A refusal over a write budget: 429 with `Retry-After`.
pub(crate) fn over_limit(what: &str, wait: std::time::Duration) -> Error {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    Error::TooManyRequests {
        detail: format!("{what} is over its rate limit; retry in {secs} s"),
        retry_after_secs: secs,
    }
}

impl Replays {
    /// Empty, with these write budgets.
    pub(crate) fn new(l: &crate::WriteLimits) -> Self {
        Self {
            seen: Default::default(),
            per_key: cairn_log_server::Limiter::new(l.per_sec_per_key, l.burst_per_key),
            per_address: cairn_log_server::Limiter::new(l.per_sec_per_address, l.burst_per_address),
        }
    }

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
    // A request over its key's budget is not recorded as used: it may be sent again later.
    replays
        .per_key
        .take(&signer, 1.0)
        .map_err(|wait| over_limit(&format!("signer {signer}"), wait))?;
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
    use alloy::signers::local::PrivateKeySigner;
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
