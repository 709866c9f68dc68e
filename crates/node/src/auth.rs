//! Signed requests: a provider or requester proves it holds its chain key by signing each
//! request (method, path, time, body digest) with EIP-191 `personal_sign`. The node recovers
//! the address; no accounts, passwords or sessions.
use crate::{Error, Result, node::now_ms};
use alloy::{
    primitives::{Address, Signature},
    signers::{SignerSync, local::PrivateKeySigner},
};
use cairn_compute::api::{AUTH_HEADER, AUTH_MAX_SKEW_MS, auth_message};

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

/// The address that signed this request, after checking the signature and its age.
pub(crate) fn verify(
    headers: &axum::http::HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
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
    let msg = auth_message(method, path, ms, body);
    let signer = sig
        .recover_address_from_msg(msg.as_bytes())
        .map_err(|e| Error::Unauthorized(format!("{AUTH_HEADER}: bad signature: {e}")))?;
    if signer != claimed {
        return Err(Error::Unauthorized(format!(
            "{AUTH_HEADER}: signed by {signer}, not {claimed} (wrong key, or the request was altered)"
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
        let key = PrivateKeySigner::random();
        let v = sign_request(&key, "POST", "/jobs/1/result", b"{}");
        assert_eq!(
            verify(&headers(&v), "POST", "/jobs/1/result", b"{}").unwrap(),
            key.address()
        );
        for (m, p, b) in [
            ("POST", "/jobs/2/result", &b"{}"[..]),
            ("GET", "/jobs/1/result", b"{}"),
            ("POST", "/jobs/1/result", b"{\"x\":1}"),
        ] {
            let e = verify(&headers(&v), m, p, b).unwrap_err().to_string();
            assert!(
                e.contains("signed by") || e.contains("bad signature"),
                "{e}"
            );
        }
        assert!(
            verify(&HeaderMap::new(), "POST", "/", b"")
                .unwrap_err()
                .to_string()
                .contains("must be signed")
        );
        let other = PrivateKeySigner::random();
        let forged = v.replacen(&key.address().to_string(), &other.address().to_string(), 1);
        assert!(verify(&headers(&forged), "POST", "/jobs/1/result", b"{}").is_err());
        let old = format!("{}:1:0x00", key.address());
        assert!(
            verify(&headers(&old), "POST", "/", b"")
                .unwrap_err()
                .to_string()
                .contains("clock")
        );
    }
}
