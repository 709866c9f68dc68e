//! C2SP tlog-cosignature v1 with Ed25519 (signature type 0x04): a witness's
//! timestamped statement that a checkpoint is the largest consistent tree
//! head it has seen for that log.
//!
//! ```text
//!   signed message:  "cosignature/v1\n" "time <t>\n" <checkpoint body>
//!   signature line:  — <witness name> base64(key ID || u64 BE t || Ed25519 sig)
//!   key ID:          SHA-256(name || "\n" || 0x04 || public key)[:4]
//! ```
//!
//! The message does not include the witness name, so a key must never be
//! shared between two cosigner names; the distinct type byte keeps a
//! cosigner key from being confused with a plain note key.

use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::keys::{
    TYPE_COSIGNATURE_V1, check_name, format_skey, format_vkey, hex_id, key_id, parse_skey,
    parse_vkey, random_signing_key,
};
use crate::note::{Note, NoteSignature};

/// Largest timestamp a cosignature may carry (2^63 - 1, per the spec).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Length of a v1 Ed25519 cosignature after the key ID: timestamp + signature.
const COSIGNATURE_LEN: usize = 8 + 64;

/// The message an Ed25519 v1 cosignature signs.
fn message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{body}").into_bytes()
}

/// The timestamp carried by a v1 Ed25519 cosignature, without verifying it.
pub fn cosignature_timestamp(sig: &NoteSignature) -> Result<u64> {
    if sig.signature.len() != COSIGNATURE_LEN {
        return Err(Error::Cosignature {
            name: sig.name.clone(),
            detail: format!(
                "is {} bytes after the key ID; an Ed25519 cosignature is {COSIGNATURE_LEN} (8-byte time, 64-byte signature)",
                sig.signature.len()
            ),
        });
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&sig.signature[..8]);
    let timestamp = u64::from_be_bytes(t);
    if timestamp > MAX_TIMESTAMP {
        return Err(Error::Cosignature {
            name: sig.name.clone(),
            detail: format!("timestamp {timestamp} is above the maximum 2^63-1"),
        });
    }
    Ok(timestamp)
}

/// A witness (cosigner) with an Ed25519 key.
#[derive(Clone)]
pub struct Cosigner {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("Cosigner")
            .field("name", &self.name)
            .field("key_id", &hex_id(self.key_id))
            .finish_non_exhaustive()
    }
}

impl Cosigner {
    /// A cosigner for `name` (non-empty, no whitespace or `+`) with `key`.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<Self> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, TYPE_COSIGNATURE_V1, key.verifying_key().as_bytes());
        Ok(Self { name, key_id, key })
    }

    /// A cosigner with a fresh random key.
    pub fn generate(name: impl Into<String>) -> Result<Self> {
        Self::new(name, random_signing_key()?)
    }

    /// Parse `PRIVATE+KEY+<name>+<hex ID>+<base64(0x04 || seed)>`.
    pub fn from_skey(skey: &str) -> Result<Self> {
        let p = parse_skey(skey, TYPE_COSIGNATURE_V1)?;
        Ok(Self {
            name: p.name,
            key_id: p.key_id,
            key: p.key,
        })
    }

    /// The signer key string (type 0x04). It is a secret: store it like one.
    pub fn to_skey(&self) -> String {
        format_skey(&self.name, TYPE_COSIGNATURE_V1, &self.key)
    }

    /// The verifier key string `<name>+<hex ID>+<base64(0x04 || public key)>`.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, TYPE_COSIGNATURE_V1, &self.key.verifying_key())
    }

    /// The cosigner name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Cosign a checkpoint body at `timestamp` (POSIX seconds). The body must
    /// parse as a checkpoint and the timestamp must be at most
    /// [`MAX_TIMESTAMP`]: a witness never vouches for text it can't read.
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<NoteSignature> {
        Checkpoint::parse_body(body)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(Error::Cosignature {
                name: self.name.clone(),
                detail: format!("timestamp {timestamp} is above the maximum 2^63-1"),
            });
        }
        let sig = self.key.sign(&message(body, timestamp));
        let mut signature = Vec::with_capacity(COSIGNATURE_LEN);
        signature.extend_from_slice(&timestamp.to_be_bytes());
        signature.extend_from_slice(&sig.to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        })
    }
}

/// Verifies v1 Ed25519 cosignatures by one witness key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for `name` with public key `key`.
    pub fn new(name: impl Into<String>, key: VerifyingKey) -> Result<Self> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, TYPE_COSIGNATURE_V1, key.as_bytes());
        Ok(Self { name, key_id, key })
    }

    /// Parse `<name>+<hex ID>+<base64(0x04 || public key)>`, checking the ID.
    pub fn from_vkey(vkey: &str) -> Result<Self> {
        let p = parse_vkey(vkey, TYPE_COSIGNATURE_V1)?;
        Ok(Self {
            name: p.name,
            key_id: p.key_id,
            key: p.key,
        })
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, TYPE_COSIGNATURE_V1, &self.key)
    }

    /// The cosigner name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `sig` claims to be by this key (same name and key ID).
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }

    /// Verify a cosignature over a checkpoint body; returns its timestamp.
    pub fn verify(&self, body: &str, sig: &NoteSignature) -> Result<u64> {
        if !self.matches(sig) {
            return Err(Error::WrongKey {
                sig_name: sig.name.clone(),
                sig_id: hex_id(sig.key_id),
                key_name: self.name.clone(),
                key_id: hex_id(self.key_id),
            });
        }
        let timestamp = cosignature_timestamp(sig)?;
        let ok = Signature::from_slice(&sig.signature[8..]).is_ok_and(|s| {
            self.key
                .verify_strict(&message(body, timestamp), &s)
                .is_ok()
        });
        if ok {
            Ok(timestamp)
        } else {
            Err(Error::BadSignature {
                name: sig.name.clone(),
                key_id: hex_id(sig.key_id),
            })
        }
    }

    /// Verify this witness's cosignature on a signed checkpoint note:
    /// `Ok(None)` when the note carries none, `Ok(Some(timestamp))` when it
    /// carries a valid one, an error when it carries an invalid one.
    pub fn verify_note(&self, note: &Note) -> Result<Option<u64>> {
        match note.signature_by(&self.name, self.key_id) {
            None => Ok(None),
            Some(sig) => self.verify(&note.text, sig).map(Some),
        }
    }
}

impl fmt::Display for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}
