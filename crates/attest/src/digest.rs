//! Content digests written `algorithm:hex`.
//!
//! Lineage is followed by digest equality, so a digest has exactly one spelling: the algorithm
//! name as given (`sha256`, `blake3`, in-toto's `gitCommit`) and lowercase hex of the length the
//! algorithm produces. Anything else is rejected at parse time rather than silently failing to
//! match later.
use crate::{Error, FieldError, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::{fmt, str::FromStr};

/// Algorithm name of SHA-256 digests.
pub const SHA256: &str = "sha256";
/// Algorithm name of BLAKE3 digests (Cairn dataset roots).
pub const BLAKE3: &str = "blake3";

/// Longest algorithm name accepted.
const MAX_ALGORITHM_LEN: usize = 32;
/// Longest hex digest accepted for an algorithm without a known length (SHA-512 size).
const MAX_HEX_LEN: usize = 128;

/// Hex length of the algorithms whose output size is known; others only need even-length hex.
fn known_hex_len(algorithm: &str) -> Option<usize> {
    match algorithm {
        "sha256" | "blake3" | "sha512_256" | "sha3_256" => Some(64),
        "sha224" | "sha512_224" | "sha3_224" => Some(56),
        "sha384" | "sha3_384" => Some(96),
        "sha512" | "sha3_512" => Some(128),
        "sha1" => Some(40),
        _ => None,
    }
}

/// Checks an algorithm name: ASCII letter first, then letters, digits, `_` or `-`.
pub(crate) fn check_algorithm(algorithm: &str) -> Result<(), String> {
    let mut chars = algorithm.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok_first && ok_rest && algorithm.len() <= MAX_ALGORITHM_LEN {
        Ok(())
    } else {
        Err(format!(
            "digest algorithm must be 1 to {MAX_ALGORITHM_LEN} ASCII letters, digits, '_' or '-', \
             starting with a letter"
        ))
    }
}

/// Checks the hex part of a digest for `algorithm`.
pub(crate) fn check_hex(algorithm: &str, hex: &str) -> Result<(), String> {
    let lower_hex = hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match known_hex_len(algorithm) {
        Some(len) if lower_hex && hex.len() == len => Ok(()),
        Some(len) => Err(format!("must be {len} lowercase hex characters")),
        None if lower_hex
            && !hex.is_empty()
            && hex.len().is_multiple_of(2)
            && hex.len() <= MAX_HEX_LEN =>
        {
            Ok(())
        }
        None => Err(format!(
            "must be an even number (2 to {MAX_HEX_LEN}) of lowercase hex characters"
        )),
    }
}

/// A content digest: an algorithm name and lowercase hex, written `algorithm:hex`
/// (`sha256:9f86…`, `blake3:af13…`). In JSON it is that string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: String,
    hex: String,
}

impl Digest {
    /// A digest from its parts, checked: the algorithm name is ASCII alphanumeric (plus `_`, `-`)
    /// and the hex is lowercase and as long as the algorithm's output where that is known (64 for
    /// `sha256` and `blake3`).
    pub fn new(algorithm: &str, hex: &str) -> Result<Self, FieldError> {
        check_algorithm(algorithm).map_err(|r| FieldError::new("algorithm", r))?;
        check_hex(algorithm, hex).map_err(|r| FieldError::new(algorithm, r))?;
        Ok(Self {
            algorithm: algorithm.to_owned(),
            hex: hex.to_owned(),
        })
    }

    /// The `sha256` digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Self {
        Self::from_sha256(Sha256::digest(bytes).into())
    }

    /// A `sha256` digest from the 32 raw hash bytes.
    pub fn from_sha256(hash: [u8; 32]) -> Self {
        Self {
            algorithm: SHA256.to_owned(),
            hex: hex::encode(hash),
        }
    }

    /// A `blake3` digest from the 32 raw hash bytes (for example a dataset root).
    pub fn from_blake3(hash: [u8; 32]) -> Self {
        Self {
            algorithm: BLAKE3.to_owned(),
            hex: hex::encode(hash),
        }
    }

    /// The algorithm name (`sha256`).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The lowercase hex digest value.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Whether this is a `sha256` digest.
    pub fn is_sha256(&self) -> bool {
        self.algorithm == SHA256
    }

    /// Whether this is a `blake3` digest.
    pub fn is_blake3(&self) -> bool {
        self.algorithm == BLAKE3
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// Parses `algorithm:hex`, with the reason (without a path) on failure.
fn parse(text: &str) -> Result<Digest, String> {
    let (algorithm, hex) = text
        .split_once(':')
        .ok_or_else(|| "must be written `algorithm:hex`, e.g. `sha256:<64 hex>`".to_owned())?;
    check_algorithm(algorithm)?;
    check_hex(algorithm, hex).map_err(|r| format!("{algorithm} digest {r}"))?;
    Ok(Digest {
        algorithm: algorithm.to_owned(),
        hex: hex.to_owned(),
    })
}

impl FromStr for Digest {
    type Err = Error;

    /// Parses `algorithm:hex`; the error's path is `digest`.
    fn from_str(text: &str) -> Result<Self> {
        parse(text).map_err(|reason| FieldError::new("digest", reason).into())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_matches_the_fips_180_2_abc_vector() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        assert_eq!(
            Digest::sha256_of(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parse_and_display_round_trip() {
        let text = format!("blake3:{}", "ab".repeat(32));
        let digest: Digest = text.parse().unwrap();
        assert!(digest.is_blake3());
        assert_eq!(digest.to_string(), text);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
    }

    #[test]
    fn bad_digests_are_rejected_with_the_reason() {
        for (text, needle) in [
            ("sha256", "algorithm:hex"),
            ("sha256:ABCD", "64 lowercase hex"),
            (&format!("sha256:{}", "A".repeat(64)), "64 lowercase hex"),
            (&format!("sha256:{}", "a".repeat(63)), "64 lowercase hex"),
            (&format!("blake3:{}", "g".repeat(64)), "64 lowercase hex"),
            ("9sha:abcd", "starting with a letter"),
            (":abcd", "starting with a letter"),
            ("gitCommit:abc", "even number"),
            ("gitCommit:", "even number"),
        ] {
            let err = text.parse::<Digest>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        // Unknown algorithms with even-length lowercase hex are accepted (in-toto DigestSet).
        assert!("gitCommit:abcd".parse::<Digest>().is_ok());
    }
}
