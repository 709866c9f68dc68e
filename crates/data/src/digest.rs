//! The two 32-byte digest types and their text forms.
//!
//! BLAKE3 values (chunk hashes, file roots, dataset roots) always travel with
//! an algorithm prefix, `blake3:<64 lowercase hex>`, so a root pasted into a
//! terminal or a ticket says what it is. SHA-256 values are plain lowercase
//! hex because that is what in-toto subject digests (`{"sha256": "<hex>"}`)
//! and `sha256sum` use.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Prefix of the text form of a [`Blake3Hash`].
pub const BLAKE3_PREFIX: &str = "blake3:";

/// A BLAKE3 digest: a chunk hash, a file root or a dataset root.
///
/// Text form: `blake3:` followed by 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Blake3Hash(pub [u8; 32]);

/// A SHA-256 digest of a whole file. Text form: 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hash(pub [u8; 32]);

impl Blake3Hash {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex without the `blake3:` prefix.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl Sha256Hash {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex (the text form).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl From<blake3::Hash> for Blake3Hash {
    fn from(h: blake3::Hash) -> Self {
        Blake3Hash(*h.as_bytes())
    }
}

fn parse_hex32(hex_str: &str, whole: &str) -> Result<[u8; 32]> {
    let shown = || whole.chars().take(80).collect::<String>();
    if hex_str.len() != 64 {
        return Err(Error::InvalidDigest {
            input: shown(),
            reason: "expected exactly 64 hex digits",
        });
    }
    if hex_str.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Error::InvalidDigest {
            input: shown(),
            reason: "hex digits must be lowercase",
        });
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut out).map_err(|_| Error::InvalidDigest {
        input: shown(),
        reason: "not hexadecimal",
    })?;
    Ok(out)
}

impl FromStr for Blake3Hash {
    type Err = Error;

    /// Parses `blake3:<64 lowercase hex>`; the prefix is required.
    fn from_str(s: &str) -> Result<Self> {
        let Some(hex_str) = s.strip_prefix(BLAKE3_PREFIX) else {
            return Err(Error::InvalidDigest {
                input: s.chars().take(80).collect(),
                reason: "expected the form blake3:<64 hex digits>",
            });
        };
        parse_hex32(hex_str, s).map(Blake3Hash)
    }
}

impl FromStr for Sha256Hash {
    type Err = Error;

    /// Parses 64 lowercase hex digits; a leading `sha256:` is accepted too.
    fn from_str(s: &str) -> Result<Self> {
        let hex_str = s.strip_prefix("sha256:").unwrap_or(s);
        parse_hex32(hex_str, s).map(Sha256Hash)
    }
}

impl fmt::Display for Blake3Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{BLAKE3_PREFIX}{}", self.to_hex())
    }
}

impl fmt::Debug for Blake3Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl Serialize for Blake3Hash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Blake3Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Sha256Hash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        // The serialized form is bare hex; do not accept the `sha256:` alias here
        // so that a manifest has exactly one spelling of each digest.
        if s.starts_with("sha256:") {
            return Err(serde::de::Error::custom(
                "sha256 digests are bare lowercase hex in manifests (drop the sha256: prefix)",
            ));
        }
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake3_text_round_trip() {
        let h = Blake3Hash([0xab; 32]);
        let s = h.to_string();
        assert_eq!(s, format!("blake3:{}", "ab".repeat(32)));
        assert_eq!(s.parse::<Blake3Hash>().unwrap(), h);
    }

    #[test]
    fn blake3_parse_rejects_bad_forms() {
        let hex = "ab".repeat(32);
        assert!(hex.parse::<Blake3Hash>().is_err(), "prefix required");
        assert!(
            format!("blake3:{}", &hex[..62])
                .parse::<Blake3Hash>()
                .is_err()
        );
        assert!(
            format!("blake3:{}", hex.to_uppercase())
                .parse::<Blake3Hash>()
                .is_err()
        );
        assert!(
            format!("blake3:{}zz", &hex[..62])
                .parse::<Blake3Hash>()
                .is_err()
        );
        assert!(format!("sha256:{hex}").parse::<Blake3Hash>().is_err());
    }

    #[test]
    fn sha256_text_forms() {
        let h = Sha256Hash([0x01; 32]);
        assert_eq!(h.to_string(), "01".repeat(32));
        assert_eq!(format!("sha256:{h}").parse::<Sha256Hash>().unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", "01".repeat(32)));
        assert_eq!(serde_json::from_str::<Sha256Hash>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Sha256Hash>(&format!("\"sha256:{h}\"")).is_err());
    }
}
