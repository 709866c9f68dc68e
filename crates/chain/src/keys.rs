//! Where a signing key comes from. Keys are read at run time, never compiled in, never printed.
use crate::{Error, Result};
use alloy::signers::local::PrivateKeySigner;
use std::{fmt, path::PathBuf};

/// The environment variable read for a private key when no key file is given.
pub const PRIVATE_KEY_ENV: &str = "CAIRN_PRIVATE_KEY";

/// A source of one secp256k1 private key (hex, optionally `0x`-prefixed, surrounding whitespace
/// ignored).
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A file holding the key.
    File(PathBuf),
    /// An environment variable holding the key.
    Env(String),
    /// A key already in memory (for example a devnet account reported by anvil).
    Hex(String),
}

impl fmt::Debug for KeySource {
    // Never let a `{:?}` leak key material into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            Self::Env(v) => f.debug_tuple("Env").field(v).finish(),
            Self::Hex(_) => f.write_str("Hex(<redacted>)"),
        }
    }
}

impl KeySource {
    /// Loads the signer.
    pub fn load(&self) -> Result<PrivateKeySigner> {
        let (text, origin) = match self {
            Self::File(path) => (
                std::fs::read_to_string(path).map_err(|source| Error::KeyFile {
                    path: path.clone(),
                    source,
                })?,
                path.display().to_string(),
            ),
            Self::Env(var) => (
                std::env::var(var).map_err(|_| Error::KeyEnvMissing { var: var.clone() })?,
                format!("${var}"),
            ),
            Self::Hex(hex) => (hex.clone(), "memory".to_owned()),
        };
        text.trim()
            .parse::<PrivateKeySigner>()
            .map_err(|_| Error::KeyInvalid { origin })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_with_whitespace_loads_and_debug_hides_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let signer = PrivateKeySigner::random();
        std::fs::write(
            &path,
            format!("  0x{}\n", alloy::hex::encode(signer.to_bytes())),
        )
        .unwrap();
        assert_eq!(
            KeySource::File(path).load().unwrap().address(),
            signer.address()
        );
        let hex = alloy::hex::encode(signer.to_bytes());
        assert!(!format!("{:?}", KeySource::Hex(hex.clone())).contains(&hex));
    }

    #[test]
    fn bad_keys_name_their_origin_but_not_their_content() {
        let err = KeySource::Hex("0xnot-a-key".into()).load().unwrap_err();
        assert!(matches!(err, Error::KeyInvalid { .. }));
        assert!(!err.to_string().contains("not-a-key"));
        let err = KeySource::File("/nonexistent/key".into())
            .load()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/key"));
        let err = KeySource::Env("CAIRN_TEST_UNSET_VAR_42".into())
            .load()
            .unwrap_err();
        assert!(err.to_string().contains("CAIRN_TEST_UNSET_VAR_42"));
    }
}
