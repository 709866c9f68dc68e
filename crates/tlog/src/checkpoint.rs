//! C2SP tlog-checkpoint: the note body a log signs to commit to a tree head.
//!
//! ```text
//!   <origin>\n                 e.g. example.com/log42
//!   <tree size>\n              decimal, no leading zeros
//!   <base64 root hash>\n       exactly 32 bytes
//!   [<extension line>\n]*      optional, non-empty
//! ```
//!
//! Parsing is canonical: a body that parses re-encodes to the same bytes.
//! That matters because signatures cover the exact bytes, and two spellings
//! of one tree head would let a log show different texts to different
//! clients.

use base64::Engine;

use crate::error::{Error, Result};
use crate::hash::{HASH_SIZE, Hash};
use crate::keys::b64;
use crate::note::{Note, NoteSigner, NoteVerifier};

/// A transparency log checkpoint (signed tree head body).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The log's origin line (unique log identity, usually a schema-less URL).
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree.
    pub root: Hash,
    /// Opaque extension lines (without newlines); use is discouraged by the spec.
    pub extensions: Vec<String>,
}

/// Parse a tree size or index: decimal ASCII with no leading zeros.
pub(crate) fn parse_decimal(s: &str) -> std::result::Result<u64, String> {
    if s.is_empty() {
        return Err("is empty; expected a decimal number".to_string());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a decimal number"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!(
            "{s:?} has a leading zero; numbers are written without leading zeros"
        ));
    }
    s.parse::<u64>()
        .map_err(|_| format!("{s:?} does not fit in 64 bits"))
}

/// Decode one canonical base64 hash of exactly 32 bytes.
pub(crate) fn parse_hash(s: &str) -> std::result::Result<Hash, String> {
    let raw = b64()
        .decode(s)
        .map_err(|e| format!("{s:?} is not canonical standard base64: {e}"))?;
    Hash::try_from(raw.as_slice()).map_err(|_| {
        format!(
            "{s:?} decodes to {} bytes; a SHA-256 hash is {HASH_SIZE}",
            raw.len()
        )
    })
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note body: origin, size, base64 root and extension lines, each
    /// ending in a newline. Use [`check`](Self::check) first if the origin or
    /// extensions come from untrusted input.
    pub fn to_body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            b64().encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Check that [`to_body`](Self::to_body) would produce a valid body:
    /// non-empty origin and extensions, no newlines or control characters in them.
    pub fn check(&self) -> Result<()> {
        check_line("origin", &self.origin)?;
        for e in &self.extensions {
            check_line("extension", e)?;
        }
        Ok(())
    }

    /// Parse a checkpoint body strictly (see the module docs).
    pub fn parse_body(text: &str) -> Result<Self> {
        let body = text.strip_suffix('\n').ok_or(Error::Checkpoint {
            line: "final",
            detail: "the body must end with a newline".to_string(),
        })?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_line("origin", origin)?;
        let size_line = lines.next().ok_or(Error::Checkpoint {
            line: "size",
            detail: "is missing; a checkpoint has at least origin, size and root hash lines"
                .to_string(),
        })?;
        let size = parse_decimal(size_line).map_err(|detail| Error::Checkpoint {
            line: "size",
            detail,
        })?;
        let root_line = lines.next().ok_or(Error::Checkpoint {
            line: "root hash",
            detail: "is missing; a checkpoint has at least origin, size and root hash lines"
                .to_string(),
        })?;
        let root = parse_hash(root_line).map_err(|detail| Error::Checkpoint {
            line: "root hash",
            detail,
        })?;
        let mut extensions = Vec::new();
        for e in lines {
            check_line("extension", e)?;
            extensions.push(e.to_string());
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Sign this checkpoint as a note with `signer` (the log key).
    pub fn sign(&self, signer: &NoteSigner) -> Result<Note> {
        self.check()?;
        let mut note = Note::new(self.to_body())?;
        note.add_signature(signer.sign(&note.text));
        Ok(note)
    }

    /// Parse a signed checkpoint note, verify it against the log's key, and
    /// parse its body. Signatures by other keys (witnesses) are ignored here.
    pub fn open(signed_note: &str, log_key: &NoteVerifier) -> Result<(Self, Note)> {
        let note = Note::parse(signed_note)?;
        note.verify(&[log_key])?;
        let checkpoint = Self::parse_body(&note.text)?;
        Ok((checkpoint, note))
    }
}

fn check_line(line: &'static str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::Checkpoint {
            line,
            detail: "is empty; it must be non-empty".to_string(),
        });
    }
    if let Some(c) = s.chars().find(|&c| c < ' ') {
        return Err(Error::Checkpoint {
            line,
            detail: format!("contains control character U+{:04X} in {s:?}", u32::from(c)),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_rules() {
        assert_eq!(parse_decimal("0"), Ok(0));
        assert_eq!(parse_decimal("20852163"), Ok(20852163));
        assert_eq!(parse_decimal("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_decimal("18446744073709551616").is_err());
        assert!(parse_decimal("007").unwrap_err().contains("leading zero"));
        assert!(parse_decimal("00").is_err());
        assert!(parse_decimal("+1").is_err());
        assert!(parse_decimal("-1").is_err());
        assert!(parse_decimal(" 1").is_err());
        assert!(parse_decimal("").is_err());
    }
}
