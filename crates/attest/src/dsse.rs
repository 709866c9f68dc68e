//! DSSE envelopes (Dead Simple Signing Envelope, v1.0.0): the statement bytes, their type, and
//! Ed25519 signatures over the pre-authentication encoding (PAE) of both.
//!
//! ```text
//!  Statement ──to_json──▶ payload bytes ─┐
//!  payloadType ──────────────────────────┴─▶ PAE ──Ed25519──▶ sig
//!  Envelope {payload: base64, payloadType, signatures: [{keyid, sig: base64}]}
//!  Envelope ──canonical_json──▶ sha256 ──▶ envelope digest (the log's key)
//! ```
//!
//! The signature covers the payload bytes exactly as signed, so verification never
//! re-serializes the statement. Payload and signatures are held decoded; both base64 alphabets,
//! with or without padding, are accepted on input (the DSSE protocol requires it), and output is
//! always standard base64 with padding.
//!
//! **Canonical JSON** of an envelope (what [`Envelope::digest`] hashes): compact serde_json (no
//! whitespace) with fields in the order `payload`, `payloadType`, `signatures`, and in each
//! signature `keyid`, `sig` (an empty `keyid` is omitted); payload and signatures in standard
//! padded base64; signatures sorted by (`keyid`, signature bytes). Resubmitting the same envelope
//! — re-encoded, re-indented or with its signatures reordered — yields the same digest.
use crate::{
    Digest, Error, FieldError, Key, KnownPredicate, Predicate, PublicKey, Result, Statement,
    statement,
};
use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use serde::{Deserialize, Serialize};

/// `payloadType` of in-toto statements.
pub const PAYLOAD_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";

/// Default largest envelope accepted or produced, in bytes of JSON: 64 KiB.
pub const DEFAULT_MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// Limits applied when parsing, signing and verifying envelopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest envelope, in bytes of JSON (as received, or canonical when built here).
    pub max_envelope_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_envelope_bytes: DEFAULT_MAX_ENVELOPE_BYTES,
        }
    }
}

impl Limits {
    /// These limits with a different envelope size limit.
    pub fn with_max_envelope_bytes(mut self, bytes: usize) -> Self {
        self.max_envelope_bytes = bytes;
        self
    }

    /// Errors with [`Error::TooLarge`] when `size` is over the limit.
    fn check(&self, size: usize) -> Result<()> {
        if size > self.max_envelope_bytes {
            return Err(Error::TooLarge {
                size,
                limit: self.max_envelope_bytes,
            });
        }
        Ok(())
    }
}

/// The DSSE v1 pre-authentication encoding of a payload:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let body_len = payload.len().to_string();
    let mut out = Vec::with_capacity(
        10 + type_len.len() + payload_type.len() + body_len.len() + payload.len(),
    );
    for part in [
        b"DSSEv1".as_slice(),
        type_len.as_bytes(),
        payload_type.as_bytes(),
        body_len.as_bytes(),
    ] {
        out.extend_from_slice(part);
        out.push(b' ');
    }
    out.extend_from_slice(payload);
    out
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Which key signed: for Cairn signatures the lowercase hex SHA-256 of the Ed25519 public key
    /// ([`PublicKey::key_id`]). Optional in DSSE (empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
    /// The raw signature bytes (64 for Ed25519); base64 in JSON.
    #[serde(with = "base64_field")]
    pub sig: Vec<u8>,
}

/// A DSSE envelope. Fields are public so tools can inspect and build them; verification only
/// trusts what [`Envelope::verify`] or [`Envelope::verify_signature`] checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The signed bytes (the statement JSON); base64 in JSON.
    #[serde(with = "base64_field")]
    pub payload: Vec<u8>,
    /// How to interpret the payload; [`PAYLOAD_TYPE_IN_TOTO`] for statements.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures.
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Validates `statement`, serializes it, and signs it with `key` under the default
    /// [`Limits`].
    pub fn sign_statement<P: Predicate>(statement: &Statement<P>, key: &Key) -> Result<Self> {
        Self::sign_statement_with(statement, key, &Limits::default())
    }

    /// [`Envelope::sign_statement`] under `limits`: errors with [`Error::TooLarge`] when the
    /// signed envelope would exceed them.
    pub fn sign_statement_with<P: Predicate>(
        statement: &Statement<P>,
        key: &Key,
        limits: &Limits,
    ) -> Result<Self> {
        statement.validate()?;
        let envelope = Self::sign_payload(PAYLOAD_TYPE_IN_TOTO, statement.to_json()?, key);
        limits.check(envelope.canonical_json().len())?;
        Ok(envelope)
    }

    /// Signs arbitrary bytes of type `payload_type` (plain DSSE; nothing is validated).
    pub fn sign_payload(payload_type: &str, payload: Vec<u8>, key: &Key) -> Self {
        let mut envelope = Self {
            payload,
            payload_type: payload_type.to_owned(),
            signatures: Vec::new(),
        };
        envelope.add_signature(key);
        envelope
    }

    /// Adds `key`'s signature (co-signing); replaces an earlier signature with the same key id.
    pub fn add_signature(&mut self, key: &Key) {
        let keyid = key.key_id();
        let sig = key.sign(&pae(&self.payload_type, &self.payload)).to_vec();
        self.signatures.retain(|s| s.keyid != keyid);
        self.signatures.push(Signature { keyid, sig });
    }

    /// The PAE the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Parses envelope JSON under the default [`Limits`].
    pub fn from_json(json: &[u8]) -> Result<Self> {
        Self::from_json_with(json, &Limits::default())
    }

    /// Parses envelope JSON, rejecting input over `limits` before parsing it.
    pub fn from_json_with(json: &[u8], limits: &Limits) -> Result<Self> {
        limits.check(json.len())?;
        let value = crate::json::parse(json, "envelope")?;
        Ok(crate::json::decode(value, "")?)
    }

    /// The canonical JSON bytes (see the module docs): the form to store and to hash.
    pub fn canonical_json(&self) -> Vec<u8> {
        let mut canonical = self.clone();
        canonical
            .signatures
            .sort_by(|a, b| (&a.keyid, &a.sig).cmp(&(&b.keyid, &b.sig)));
        // Serializing strings, byte strings as base64 and a Vec cannot fail.
        serde_json::to_vec(&canonical).unwrap_or_default()
    }

    /// The envelope digest: `sha256` of [`Envelope::canonical_json`]. The transparency log stores
    /// envelopes under it and `model/v1` cites training runs by it.
    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.canonical_json())
    }

    /// `sha256` of the payload bytes (the statement as signed), independent of signatures.
    pub fn statement_digest(&self) -> Digest {
        Digest::sha256_of(&self.payload)
    }

    /// The non-empty key ids of the signatures, in envelope order.
    pub fn key_ids(&self) -> Vec<&str> {
        self.signatures
            .iter()
            .map(|s| s.keyid.as_str())
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// Checks that `key` signed the envelope, Cairn-strictly: a signature counts for `key` only
    /// if its `keyid` is `key`'s id (or empty). Returns the index of the valid signature.
    ///
    /// Errors: [`Error::Unsigned`]; [`Error::BadSignature`] when a signature with `key`'s id does
    /// not verify (payload, payloadType or signature altered); [`Error::KeyIdMismatch`] when a
    /// signature verifies under `key` but names another key id; [`Error::NoSignatureByKey`]
    /// otherwise.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<usize> {
        if self.signatures.is_empty() {
            return Err(Error::Unsigned);
        }
        let expected = key.key_id();
        let message = self.pae();
        let mut bad = None;
        let mut mismatch = None;
        for (index, signature) in self.signatures.iter().enumerate() {
            let verifies = key.verifies(&message, &signature.sig);
            if signature.keyid == expected || signature.keyid.is_empty() {
                if verifies {
                    return Ok(index);
                }
                if signature.keyid == expected {
                    bad.get_or_insert(index);
                }
            } else if verifies {
                mismatch.get_or_insert(index);
            }
        }
        if let Some(index) = bad {
            return Err(Error::BadSignature {
                index,
                keyid: expected,
            });
        }
        if let Some(index) = mismatch {
            return Err(Error::KeyIdMismatch {
                index,
                found: self.signatures[index].keyid.clone(),
                expected,
            });
        }
        Err(Error::NoSignatureByKey {
            expected,
            found: self.key_ids().into_iter().map(str::to_owned).collect(),
        })
    }

    /// Plain DSSE `(t, n)` verification: counts the distinct keys of `trusted` that have a valid
    /// signature, treating `keyid` only as a hint (as the DSSE protocol requires), and errors
    /// with [`Error::BelowThreshold`] unless at least `threshold` (minimum 1) do. Returns the
    /// accepted keys.
    pub fn verify_threshold(
        &self,
        trusted: &[PublicKey],
        threshold: usize,
    ) -> Result<Vec<PublicKey>> {
        if self.signatures.is_empty() {
            return Err(Error::Unsigned);
        }
        let message = self.pae();
        let mut accepted: Vec<PublicKey> = Vec::new();
        for signature in &self.signatures {
            // Try the key the hint names first, then the rest.
            let mut candidates: Vec<&PublicKey> = trusted.iter().collect();
            candidates.sort_by_key(|k| k.key_id() != signature.keyid);
            if let Some(key) = candidates
                .into_iter()
                .find(|k| !accepted.contains(k) && k.verifies(&message, &signature.sig))
            {
                accepted.push(*key);
            }
        }
        let threshold = threshold.max(1);
        if accepted.len() < threshold {
            return Err(Error::BelowThreshold {
                valid: accepted.len(),
                threshold,
            });
        }
        Ok(accepted)
    }

    /// Verifies a Cairn attestation under the default [`Limits`]; see
    /// [`Envelope::verify_with`].
    pub fn verify(&self, key: &PublicKey) -> Result<Statement<KnownPredicate>> {
        self.verify_with(key, &Limits::default())
    }

    /// Verifies a Cairn attestation: size within `limits`, a valid signature by `key`
    /// ([`Envelope::verify_signature`]), `payloadType` is [`PAYLOAD_TYPE_IN_TOTO`], and the payload
    /// is a valid statement with a known Cairn predicate. Returns the statement.
    pub fn verify_with(
        &self,
        key: &PublicKey,
        limits: &Limits,
    ) -> Result<Statement<KnownPredicate>> {
        limits.check(self.canonical_json().len())?;
        self.verify_signature(key)?;
        self.check_payload_type()?;
        statement::parse_known_statement(&self.payload)
    }

    /// Errors unless `payloadType` is [`PAYLOAD_TYPE_IN_TOTO`].
    pub fn check_payload_type(&self) -> Result<()> {
        if self.payload_type == PAYLOAD_TYPE_IN_TOTO {
            return Ok(());
        }
        Err(FieldError::new(
            "payloadType",
            format!(
                "must be \"{PAYLOAD_TYPE_IN_TOTO}\" (found \"{}\")",
                self.payload_type
            ),
        )
        .into())
    }
}

/// Decodes base64 in either alphabet, padded or not; rejects non-canonical trailing bits so
/// each byte string has one decoding.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const ANY_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
    const ANY_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
    ANY_STANDARD
        .decode(text)
        .or_else(|_| ANY_URL_SAFE.decode(text))
}

/// Serde for byte fields as base64: standard padded on output, either alphabet on input.
mod base64_field {
    use super::{STANDARD, decode_base64};
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode_base64(&text).map_err(|err| {
            serde::de::Error::custom(format!("must be standard or URL-safe base64 ({err})"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_protocol_example() {
        // DSSE protocol.md, "Test Vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn pae_of_empty_parts_keeps_the_separators() {
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        // Length is in bytes of UTF-8, not characters.
        assert_eq!(pae("é", b"x"), "DSSEv1 2 é 1 x".as_bytes());
    }

    #[test]
    fn base64_accepts_both_alphabets_and_rejects_garbage() {
        assert_eq!(
            decode_base64("-_-_Pj8=").unwrap(),
            [0xfb, 0xff, 0xbf, 0x3e, 0x3f]
        );
        assert_eq!(
            decode_base64("+/+/Pj8").unwrap(),
            [0xfb, 0xff, 0xbf, 0x3e, 0x3f]
        );
        assert_eq!(decode_base64("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert!(
            decode_base64("aGVsbG8gd29ybGR=").is_err(),
            "non-zero trailing bits"
        );
        assert!(decode_base64("a b").is_err());
    }

    #[test]
    fn limits_reject_large_input_before_parsing() {
        let limits = Limits::default().with_max_envelope_bytes(10);
        let err = Envelope::from_json_with(&[b' '; 11], &limits).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooLarge {
                    size: 11,
                    limit: 10
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("over the limit of 10 bytes"),
            "{err}"
        );
    }

    #[test]
    fn bad_base64_names_the_field() {
        let json =
            br#"{"payload":"e30=","payloadType":"t","signatures":[{"keyid":"k","sig":"%%"}]}"#;
        let err = Envelope::from_json(json).unwrap_err().to_string();
        assert!(
            err.starts_with("signatures[0].sig: must be standard or URL-safe base64"),
            "{err}"
        );
    }
}
