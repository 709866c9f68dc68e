//! Shared text encodings of signed-note keys (Go `sumdb/note` compatible):
//!
//! ```text
//!   verifier key:  <name>+<hex key ID>+<base64(type || public key)>
//!   signer key:    PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>
//!   key ID:        SHA-256(name || "\n" || type || public key)[:4]
//! ```
//!
//! Note signers use type 0x01 and cosigners 0x04; the same encoding and the
//! same checks serve both, so they live here once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Signature type byte of plain Ed25519 note signatures (C2SP signed-note).
pub(crate) const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of timestamped Ed25519 cosignatures (C2SP tlog-cosignature).
pub(crate) const TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The strict standard base64 engine (padding required, canonical trailing bits).
pub(crate) fn b64() -> &'static base64::engine::GeneralPurpose {
    &STANDARD
}

/// Key names: non-empty, no Unicode whitespace, no control characters, no `+`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

pub(crate) fn check_name(name: &str) -> Result<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::KeyName {
            name: name.to_string(),
        })
    }
}

/// `SHA-256(name || "\n" || type || key)[:4]`.
pub(crate) fn key_id(name: &str, key_type: u8, public_key: &[u8]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', key_type])
        .chain_update(public_key)
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

pub(crate) fn hex_id(id: [u8; 4]) -> String {
    format!("{:08x}", u32::from_be_bytes(id))
}

/// A parsed Ed25519 key string of a known type.
pub(crate) struct ParsedKey<K> {
    pub(crate) name: String,
    pub(crate) key_id: [u8; 4],
    pub(crate) key: K,
}

fn type_hint(found: u8) -> &'static str {
    match found {
        TYPE_ED25519 => " (an Ed25519 note signing key)",
        TYPE_COSIGNATURE_V1 => " (an Ed25519 cosigner key)",
        0x02 => " (an ECDSA key, not supported)",
        0x06 => " (an ML-DSA-44 cosigner key, not supported)",
        _ => "",
    }
}

/// The three fields of a key string, syntax-checked.
struct RawKey<'a> {
    name: &'a str,
    id: [u8; 4],
    /// Type byte followed by 32 key bytes.
    data: Zeroizing<Vec<u8>>,
}

/// Split `<name>+<hex8>+<base64>` and check name, ID syntax and key type.
fn split_key<'a>(s: &'a str, kind: &'static str, key_type: u8) -> Result<RawKey<'a>> {
    let bad = |detail: String| Error::Key { kind, detail };
    // The name has no '+', the ID is hex; only the base64 part may contain '+'.
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad(
            "expected <name>+<8 hex digit key ID>+<base64 key>".to_string()
        ));
    };
    check_name(name)?;
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!(
            "key ID {id_hex:?} must be exactly 8 hex digits"
        )));
    }
    let id = u32::from_str_radix(id_hex, 16)
        .map_err(|_| bad(format!("key ID {id_hex:?} is not hex")))?
        .to_be_bytes();
    let raw = Zeroizing::new(
        b64()
            .decode(data)
            .map_err(|e| bad(format!("key data is not canonical standard base64: {e}")))?,
    );
    match raw.first() {
        None => return Err(bad("key data is empty".to_string())),
        Some(&t) if t != key_type => {
            return Err(bad(format!(
                "key type byte is 0x{t:02x}{}, expected 0x{key_type:02x}{}",
                type_hint(t),
                type_hint(key_type)
            )));
        }
        Some(_) => {}
    }
    if raw.len() != 33 {
        return Err(bad(format!(
            "Ed25519 key data must be 32 bytes after the type byte, got {}",
            raw.len() - 1
        )));
    }
    Ok(RawKey {
        name,
        id,
        data: raw,
    })
}

/// Parse a verifier key of the given type.
pub(crate) fn parse_vkey(s: &str, key_type: u8) -> Result<ParsedKey<VerifyingKey>> {
    const KIND: &str = "verifier key";
    let RawKey {
        name,
        id,
        data: raw,
    } = split_key(s, KIND, key_type)?;
    let mut pk = [0u8; 32];
    pk.copy_from_slice(&raw[1..]);
    let key = VerifyingKey::from_bytes(&pk).map_err(|_| Error::Key {
        kind: KIND,
        detail: "the 32 key bytes are not a valid Ed25519 public key".to_string(),
    })?;
    let want = key_id(name, key_type, &pk);
    if want != id {
        return Err(Error::Key {
            kind: KIND,
            detail: format!(
                "key ID {} does not match the name and key (expected {}); the key was altered or mis-copied",
                hex_id(id),
                hex_id(want)
            ),
        });
    }
    Ok(ParsedKey {
        name: name.to_string(),
        key_id: id,
        key,
    })
}

/// Parse a signer key of the given type (`PRIVATE+KEY+` prefix).
pub(crate) fn parse_skey(s: &str, key_type: u8) -> Result<ParsedKey<SigningKey>> {
    const KIND: &str = "signer key";
    let rest = s.strip_prefix("PRIVATE+KEY+").ok_or(Error::Key {
        kind: KIND,
        detail: "must start with \"PRIVATE+KEY+\"".to_string(),
    })?;
    let RawKey {
        name,
        id,
        data: raw,
    } = split_key(rest, KIND, key_type)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&raw[1..]);
    let key = SigningKey::from_bytes(&seed);
    // The ID is over the public key, so it can only be checked after deriving it.
    let want = key_id(name, key_type, key.verifying_key().as_bytes());
    if want != id {
        return Err(Error::Key {
            kind: KIND,
            detail: format!(
                "key ID {} does not match the name and key (expected {}); the key was altered or mis-copied",
                hex_id(id),
                hex_id(want)
            ),
        });
    }
    Ok(ParsedKey {
        name: name.to_string(),
        key_id: id,
        key,
    })
}

pub(crate) fn format_vkey(name: &str, key_type: u8, key: &VerifyingKey) -> String {
    let mut data = [0u8; 33];
    data[0] = key_type;
    data[1..].copy_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex_id(key_id(name, key_type, key.as_bytes())),
        b64().encode(data)
    )
}

pub(crate) fn format_skey(name: &str, key_type: u8, key: &SigningKey) -> String {
    let mut data = Zeroizing::new([0u8; 33]);
    data[0] = key_type;
    data[1..].copy_from_slice(key.as_bytes());
    format!(
        "PRIVATE+KEY+{name}+{}+{}",
        hex_id(key_id(name, key_type, key.verifying_key().as_bytes())),
        b64().encode(*data)
    )
}

/// A fresh Ed25519 key from the operating system's random number generator.
pub(crate) fn random_signing_key() -> Result<SigningKey> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}
