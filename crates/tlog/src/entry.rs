//! The log entry: a small fixed-size record pointing at a statement.
//!
//! Entries stay small so tiles and entry bundles stay small; the DSSE envelope they point at is
//! stored once, content-addressed by its SHA-256, and served from the blob endpoint.
//!
//! ```text
//! offset  size  field
//!      0     1  version (1)
//!      1     1  statement kind (see StatementKind)
//!      2    32  SHA-256 of the canonical DSSE envelope bytes
//!     34    32  SHA-256 of the signer's Ed25519 public key
//!     66     8  time the log sequenced it, milliseconds since the Unix epoch, big-endian
//! ```
use serde::{Deserialize, Serialize};

/// A log entry whose bytes do not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EntryError(String);

/// Encoded size of an entry.
pub const ENTRY_SIZE: usize = 74;
const VERSION: u8 = 1;

/// What a statement is about, from its predicate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum StatementKind {
    /// A predicate type this version of the log does not classify.
    Other = 0,
    /// A dataset was registered.
    Dataset = 1,
    /// A model was produced.
    Model = 2,
    /// A training run happened.
    TrainingRun = 3,
    /// An inference was served.
    Inference = 4,
    /// The wallet agent decided something.
    AgentDecision = 5,
    /// A compute job finished (receipt).
    JobReceipt = 6,
}

impl StatementKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::Other,
            1 => Self::Dataset,
            2 => Self::Model,
            3 => Self::TrainingRun,
            4 => Self::Inference,
            5 => Self::AgentDecision,
            6 => Self::JobReceipt,
            _ => return None,
        })
    }
}

/// One log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Kind of statement.
    pub kind: StatementKind,
    /// SHA-256 of the canonical envelope bytes.
    #[serde(with = "hex32")]
    pub envelope_sha256: [u8; 32],
    /// SHA-256 of the signer's public key.
    #[serde(with = "hex32")]
    pub signer_key_hash: [u8; 32],
    /// Sequencing time, ms since the Unix epoch.
    pub time_ms: u64,
}

impl LogEntry {
    /// The entry's bytes as they appear in entry bundles (and are hashed into the tree).
    pub fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut out = [0u8; ENTRY_SIZE];
        out[0] = VERSION;
        out[1] = self.kind as u8;
        out[2..34].copy_from_slice(&self.envelope_sha256);
        out[34..66].copy_from_slice(&self.signer_key_hash);
        out[66..74].copy_from_slice(&self.time_ms.to_be_bytes());
        out
    }

    /// Parses an entry, rejecting unknown versions and kinds.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() != ENTRY_SIZE {
            return Err(EntryError(format!(
                "{} bytes, expected {ENTRY_SIZE}",
                bytes.len()
            )));
        }
        if bytes[0] != VERSION {
            return Err(EntryError(format!(
                "version {} (this log writes {VERSION})",
                bytes[0]
            )));
        }
        let kind = StatementKind::from_u8(bytes[1])
            .ok_or_else(|| EntryError(format!("unknown statement kind {}", bytes[1])))?;
        let mut envelope_sha256 = [0u8; 32];
        envelope_sha256.copy_from_slice(&bytes[2..34]);
        let mut signer_key_hash = [0u8; 32];
        signer_key_hash.copy_from_slice(&bytes[34..66]);
        let time_ms = u64::from_be_bytes(bytes[66..74].try_into().expect("8 bytes"));
        Ok(Self {
            kind,
            envelope_sha256,
            signer_key_hash,
            time_ms,
        })
    }
}

mod hex32 {
    pub(crate) fn serialize<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_reject_garbage() {
        let e = LogEntry {
            kind: StatementKind::Model,
            envelope_sha256: [7; 32],
            signer_key_hash: [9; 32],
            time_ms: 1_700_000_000_123,
        };
        let bytes = e.encode();
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes[1], 2);
        assert_eq!(LogEntry::decode(&bytes).unwrap(), e);
        assert!(LogEntry::decode(&bytes[..73]).is_err());
        let mut bad = bytes;
        bad[1] = 99;
        assert!(
            LogEntry::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("kind 99")
        );
        bad = bytes;
        bad[0] = 2;
        assert!(
            LogEntry::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
    }
}
