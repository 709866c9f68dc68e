//! C2SP tlog-proof@v1: a self-contained, offline-verifiable proof that an
//! entry is in a log ("spicy signature").
//!
//! ```text
//!   c2sp.org/tlog-proof@v1
//!   [extra <base64 opaque data>]       optional, unauthenticated
//!   index <leaf index>
//!   <base64 hash>                       inclusion proof, leaf sibling first
//!   ...
//!   <blank line>
//!   <signed checkpoint note, verbatim, with any cosignatures>
//! ```
//!
//! [`TlogProof::parse`] checks the whole layout, including that the trailing
//! checkpoint is a well-formed signed note with a valid checkpoint body;
//! [`TlogProof::verify`] then checks the log signature and the Merkle path.

use base64::Engine;

use crate::checkpoint::{Checkpoint, parse_decimal, parse_hash};
use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::keys::b64;
use crate::note::{Note, NoteVerifier};
use crate::proof::verify_inclusion;

/// The first line of every tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most hashes an inclusion proof in a tree with a 64-bit size can have.
pub const MAX_PROOF_HASHES: usize = 64;

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated application data (the `extra` line).
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// RFC 6962 inclusion proof, from the leaf's sibling up.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim (ends with a newline).
    pub checkpoint: String,
}

/// Line-by-line reader that knows its line number.
struct Lines<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Result<&'a str> {
        self.line += 1;
        match self.rest.split_once('\n') {
            Some((line, rest)) => {
                self.rest = rest;
                Ok(line)
            }
            None => Err(self.err(if self.rest.is_empty() {
                "unexpected end of proof; a blank line and the checkpoint must follow the proof hashes"
                    .to_string()
            } else {
                "line does not end with a newline".to_string()
            })),
        }
    }

    fn err(&self, detail: String) -> Error {
        Error::TlogProof {
            line: self.line,
            detail,
        }
    }
}

impl TlogProof {
    /// A proof without extra data.
    pub fn new(index: u64, proof: Vec<Hash>, checkpoint: impl Into<String>) -> Self {
        Self {
            extra: None,
            index,
            proof,
            checkpoint: checkpoint.into(),
        }
    }

    /// The text form.
    pub fn format(&self) -> String {
        let mut s = String::with_capacity(64 + self.proof.len() * 45 + self.checkpoint.len());
        s.push_str(TLOG_PROOF_HEADER);
        s.push('\n');
        if let Some(extra) = &self.extra {
            s.push_str("extra ");
            s.push_str(&b64().encode(extra));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&b64().encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parse the text form strictly.
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = Lines {
            rest: text,
            line: 0,
        };
        let header = lines.next()?;
        if header != TLOG_PROOF_HEADER {
            return Err(lines.err(format!(
                "expected {TLOG_PROOF_HEADER:?}, found {header:?}; this is not a tlog-proof v1"
            )));
        }

        let mut line = lines.next()?;
        let mut extra = None;
        if let Some(data) = line.strip_prefix("extra ") {
            extra = Some(b64().decode(data).map_err(|e| {
                lines.err(format!("extra data is not canonical standard base64: {e}"))
            })?);
            line = lines.next()?;
        }

        let index_text = line.strip_prefix("index ").ok_or_else(|| {
            lines.err(format!(
                "expected \"index <number>\"{}, found {line:?}",
                if extra.is_none() {
                    " or \"extra <base64>\""
                } else {
                    ""
                }
            ))
        })?;
        let index = parse_decimal(index_text).map_err(|d| lines.err(format!("index {d}")))?;

        let mut proof = Vec::new();
        loop {
            let line = lines.next()?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(lines.err(format!(
                    "more than {MAX_PROOF_HASHES} proof hashes; no tree with a 64-bit size needs that many"
                )));
            }
            proof.push(parse_hash(line).map_err(|d| lines.err(format!("proof hash {d}")))?);
        }

        let checkpoint = lines.rest;
        let first = lines.line + 1;
        let note = Note::parse(checkpoint).map_err(|e| Error::TlogProof {
            line: first,
            detail: format!("checkpoint: {e}"),
        })?;
        Checkpoint::parse_body(&note.text).map_err(|e| Error::TlogProof {
            line: first,
            detail: format!("checkpoint: {e}"),
        })?;
        Ok(Self {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// Verify the proof for an entry with leaf hash `leaf`: the checkpoint
    /// must be signed by `log_key`, and the inclusion proof must lead from
    /// `leaf` at `index` to its root. Returns the checkpoint and the note, so
    /// the caller can apply its witness (cosignature) policy.
    pub fn verify(&self, leaf: &Hash, log_key: &NoteVerifier) -> Result<(Checkpoint, Note)> {
        let (checkpoint, note) = Checkpoint::open(&self.checkpoint, log_key)?;
        verify_inclusion(
            leaf,
            self.index,
            checkpoint.size,
            &self.proof,
            &checkpoint.root,
        )?;
        Ok((checkpoint, note))
    }
}

impl std::fmt::Display for TlogProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format())
    }
}
