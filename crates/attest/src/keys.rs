//! Ed25519 signing keys and their files.
//!
//! **Secret key format** (file or environment variable): one line of ASCII,
//!
//! ```text
//! cairn-ed25519-secret-v1:<standard base64, with padding, of the 32-byte Ed25519 seed>
//! ```
//!
//! followed by a newline in files; surrounding whitespace is ignored when reading. The prefix
//! names the algorithm and format version so a future format cannot be misread as this one.
//! [`Key::write_file`] creates the file with mode `0600` and never overwrites an existing one.
//!
//! **Key id** ("signer key hash"): the lowercase hex SHA-256 of the 32-byte public key. It is
//! the DSSE `keyid` of Cairn signatures and what the transparency log records as the signer.
//!
//! Secret material lives only inside [`Key`], which has no `Display`, a `Debug` that prints the
//! key id only, and zeroizes the seed on drop.
use crate::{Error, Result};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use std::{fmt, io::Write as _, path::Path};
use zeroize::Zeroizing;

/// Prefix of a secret key line.
pub const SECRET_KEY_PREFIX: &str = "cairn-ed25519-secret-v1:";

/// Environment variable conventionally holding a secret key line for `cairn attest`.
pub const KEY_ENV: &str = "CAIRN_ATTEST_KEY";

/// An Ed25519 signing key.
pub struct Key {
    signing: SigningKey,
}

impl Key {
    /// A new key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(Error::Random)?;
        Ok(Self::from_seed(&seed))
    }

    /// The key with this 32-byte seed (RFC 8032 "private key").
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// The key id: lowercase hex SHA-256 of the public key.
    pub fn key_id(&self) -> String {
        self.public().key_id()
    }

    /// Signs `message` (a DSSE PAE), returning the 64-byte signature.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The secret key line, without a newline. Handle with care: it is the secret.
    pub fn to_secret_line(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.signing.to_bytes());
        Zeroizing::new(format!(
            "{SECRET_KEY_PREFIX}{}",
            STANDARD.encode(seed.as_ref())
        ))
    }

    /// Parses a secret key line; `origin` (a path or `$VAR`) names the source in errors, which
    /// never contain the text.
    pub fn from_secret_line(text: &str, origin: &str) -> Result<Self> {
        let invalid = |reason| Error::KeyFormat {
            origin: origin.to_owned(),
            reason,
        };
        let line = text.trim();
        if line.is_empty() {
            return Err(invalid("it is empty"));
        }
        let encoded = line
            .strip_prefix(SECRET_KEY_PREFIX)
            .ok_or_else(|| invalid("it does not start with `cairn-ed25519-secret-v1:`"))?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| invalid("the part after the prefix is not standard base64"))?,
        );
        let seed: &[u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| invalid("the seed is not 32 bytes"))?;
        Ok(Self::from_seed(seed))
    }

    /// Writes the key to a new file with mode `0600` (on Unix). Refuses to overwrite an existing
    /// file; the parent directory must exist.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let io = |source| Error::KeyFile {
            path: path.to_owned(),
            source,
        };
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                Error::KeyFileExists {
                    path: path.to_owned(),
                }
            } else {
                io(source)
            }
        })?;
        let mut line = self.to_secret_line();
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads a key written by [`Key::write_file`] (or any file holding one secret key line).
    pub fn read_file(path: &Path) -> Result<Self> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| Error::KeyFile {
                    path: path.to_owned(),
                    source,
                })?,
            );
        Self::from_secret_line(&text, &path.display().to_string())
    }

    /// Reads a secret key line from the environment variable `var` (see [`KEY_ENV`]).
    pub fn from_env(var: &str) -> Result<Self> {
        let text = Zeroizing::new(std::env::var(var).map_err(|_| Error::KeyEnvMissing {
            var: var.to_owned(),
        })?);
        Self::from_secret_line(&text, &format!("${var}"))
    }
}

impl fmt::Debug for Key {
    // Never let `{:?}` leak the seed into logs: show only the public key id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key (verifying key). Displays as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// A public key from its 32 bytes; rejects bytes that are not a curve point and weak
    /// (small-order) keys.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::PublicKeyFormat {
            reason: "the bytes are not a valid Ed25519 point",
        })?;
        if key.is_weak() {
            return Err(Error::PublicKeyFormat {
                reason: "it is a weak (small-order) Ed25519 key",
            });
        }
        Ok(Self(key))
    }

    /// Parses 64 hex characters (either case) or base64 (standard or URL-safe) of 32 bytes.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            crate::dsse::decode_base64(text).ok()
        };
        let bytes = bytes.ok_or(Error::PublicKeyFormat {
            reason: "it is neither hex nor base64",
        })?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::PublicKeyFormat {
            reason: "it is not 32 bytes",
        })?;
        Self::from_bytes(&bytes)
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Lowercase hex of the 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// Standard base64 (with padding) of the 32 bytes.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// The signer key hash: SHA-256 of the 32-byte public key.
    pub fn key_hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The key id: lowercase hex of [`PublicKey::key_hash`].
    pub fn key_id(&self) -> String {
        hex::encode(self.key_hash())
    }

    /// Whether `signature` is a valid (strict RFC 8032) signature of `message` by this key.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <&[u8; 64]>::try_from(signature) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(bytes);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032, section 7.1, TEST 1.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn rfc_key() -> Key {
        Key::from_seed(&hex::decode(SEED).unwrap().try_into().unwrap())
    }

    #[test]
    fn public_key_matches_rfc_8032_test_1() {
        let key = rfc_key();
        assert_eq!(key.public().to_hex(), PUBLIC);
        // RFC 8032 TEST 1 signs the empty message.
        let sig = key.sign(b"");
        assert_eq!(
            hex::encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(key.public().verifies(b"", &sig));
        assert!(!key.public().verifies(b"x", &sig));
        assert!(!key.public().verifies(b"", &sig[..63]));
    }

    #[test]
    fn key_id_is_sha256_of_public_key() {
        let public = rfc_key().public();
        let expected = crate::Digest::sha256_of(&hex::decode(PUBLIC).unwrap());
        assert_eq!(public.key_id(), expected.hex());
        assert_eq!(hex::encode(public.key_hash()), expected.hex());
    }

    #[test]
    fn public_key_parses_hex_and_base64() {
        let public = rfc_key().public();
        assert_eq!(PublicKey::parse(&public.to_hex()).unwrap(), public);
        assert_eq!(
            PublicKey::parse(&public.to_hex().to_uppercase()).unwrap(),
            public
        );
        assert_eq!(PublicKey::parse(&public.to_base64()).unwrap(), public);
        assert!(PublicKey::parse("abcd").is_err());
        assert!(PublicKey::parse("not base64!").is_err());
        // The identity point is a valid encoding but a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let err = PublicKey::from_bytes(&identity).unwrap_err().to_string();
        assert!(err.contains("weak"), "{err}");
    }

    #[test]
    fn secret_line_round_trips_and_debug_hides_it() {
        let key = rfc_key();
        let line = key.to_secret_line();
        assert!(line.starts_with(SECRET_KEY_PREFIX));
        let back = Key::from_secret_line(&format!("  {}\n", *line), "test").unwrap();
        assert_eq!(back.public(), key.public());
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.key_id()), "{debug}");
        let b64_seed = line.strip_prefix(SECRET_KEY_PREFIX).unwrap();
        assert!(
            !debug.contains(SEED) && !debug.contains(b64_seed),
            "{debug}"
        );
    }

    #[test]
    fn malformed_secret_lines_are_rejected_without_echoing_them() {
        let short = format!("{SECRET_KEY_PREFIX}{}", STANDARD.encode([7u8; 31]));
        let cases = [
            ("", "it is empty"),
            ("ed25519:AAAA", "does not start with"),
            (&format!("{SECRET_KEY_PREFIX}!!!"), "not standard base64"),
            (short.as_str(), "not 32 bytes"),
        ];
        for (text, reason) in cases {
            let err = Key::from_secret_line(text, "/tmp/k")
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason) && err.contains("/tmp/k"), "{err}");
            if !text.is_empty() {
                assert!(!err.contains(text), "{err}");
            }
        }
    }
}
