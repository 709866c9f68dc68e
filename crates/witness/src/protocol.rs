//! The `add-checkpoint` request body and the errors the protocol defines.
use base64::{Engine, engine::general_purpose::STANDARD};
use cairn_tlog::Hash;

/// Most consistency-proof lines a request may carry (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// Size of the checkpoint the client believes the witness last cosigned.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the new checkpoint.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

/// Why a witness refused, with the HTTP status the protocol assigns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// Malformed request, or old size above the checkpoint size (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No trusted key verifies the checkpoint (403).
    #[error("no trusted log signature verifies the checkpoint: {0}")]
    Forbidden(String),
    /// The witness does not know this log origin (404).
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// The client's old size is not the witness's latest cosigned size (409, body = that size).
    #[error("old size does not match: the witness last cosigned size {0}")]
    OldSizeMismatch(u64),
    /// Same size as the latest cosigned checkpoint but a different root: a fork. tlog-witness
    /// answers "409 Conflict" (body = that size, so a client sees its old size was right and
    /// the root is what differs).
    #[error("same tree size {0} with a different root hash: the log forked")]
    RootMismatch(u64),
    /// The consistency proof does not verify, or is not empty where it must be (from size 0,
    /// or to the same size), or a size-0 checkpoint does not carry the empty-tree root (422).
    #[error("consistency proof does not verify: {0}")]
    Inconsistent(String),
    /// The witness could not record its state (500).
    #[error("witness storage: {0}")]
    Internal(String),
}

impl WitnessError {
    /// The HTTP status code tlog-witness assigns to this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::UnknownOrigin(_) => 404,
            Self::OldSizeMismatch(_) | Self::RootMismatch(_) => 409,
            Self::Inconsistent(_) => 422,
            Self::Internal(_) => 500,
        }
    }
}

impl AddCheckpoint {
    /// Encodes the request body.
    pub fn encode(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses a request body strictly.
    pub fn parse(body: &str) -> Result<Self, WitnessError> {
        let bad = |m: String| WitnessError::BadRequest(m);
        let (first, mut rest) = body
            .split_once('\n')
            .ok_or_else(|| bad("the body has no `old <size>` line".into()))?;
        let size = first
            .strip_prefix("old ")
            .ok_or_else(|| bad(format!("first line {first:?} must be `old <size>`")))?;
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let old_size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| {
                bad(format!(
                    "old size {size:?} is not a decimal without leading zeros"
                ))
            })?;
        let mut proof = Vec::new();
        loop {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or_else(|| bad("missing the empty line before the checkpoint".into()))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(format!(
                    "more than {MAX_PROOF_LINES} consistency proof lines"
                )));
            }
            let raw = STANDARD
                .decode(line)
                .map_err(|_| bad(format!("proof line {} is not base64", proof.len() + 1)))?;
            let hash: Hash = raw.try_into().map_err(|_| {
                bad(format!(
                    "proof line {} is not a 32-byte hash",
                    proof.len() + 1
                ))
            })?;
            proof.push(hash);
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: rest.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_round_trip_and_malformed_ones_are_named() {
        let req = AddCheckpoint {
            old_size: 5,
            proof: vec![[1; 32], [2; 32]],
            checkpoint: "o\n6\nAAAA\n\n— o abc\n".into(),
        };
        assert_eq!(AddCheckpoint::parse(&req.encode()).unwrap(), req);
        for (body, needle) in [
            ("old 05\n\nx", "leading zeros"),
            ("new 5\n\nx", "old <size>"),
            ("old 5\nnot base64!\n\nx", "proof line 1"),
            ("old 5\nAAAA\n\nx", "32-byte"),
            ("old 5\n", "empty line"),
        ] {
            let e = AddCheckpoint::parse(body).unwrap_err().to_string();
            assert!(e.contains(needle), "{body:?}: {e}");
        }
    }
}
