//! One error type for the crate. Messages name the JSON field or the input they are about and say
//! what to do, because they end up in front of a person running `cairn attest` or reading a log
//! rejection.
use std::{fmt, path::PathBuf};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A field of a statement or envelope that failed validation, with its JSON path
/// (`subject[1].digest.sha256`, `predicate.fileCount`) and what is wrong with it.
///
/// Displays as `path: reason`, e.g. `subject[1].digest.sha256: must be 64 lowercase hex characters`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the offending field, as it appears in the statement or envelope JSON.
    pub path: String,
    /// What is wrong with the field.
    pub reason: String,
}

impl FieldError {
    /// A field error at `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// Everything that can go wrong while building, signing, parsing or verifying attestations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of a statement, predicate or envelope is missing, malformed or out of range.
    #[error("{0}")]
    Invalid(#[from] FieldError),

    /// The input is not JSON at all (syntax error, truncated input, not UTF-8).
    #[error("{what} is not valid JSON: {source}")]
    Json {
        /// What was being parsed (`statement`, `envelope`).
        what: &'static str,
        /// The parser's message, with line and column.
        source: serde_json::Error,
    },

    /// A value could not be encoded as JSON (for example a map with non-string keys in a custom
    /// predicate).
    #[error("cannot encode the {what} as JSON: {source}")]
    Encode {
        /// What was being encoded (`statement`).
        what: &'static str,
        /// The encoder's message.
        source: serde_json::Error,
    },

    /// The statement's `predicateType` is not one this crate knows.
    #[error(
        "predicateType: unknown predicate type \"{found}\"; allowed: {}",
        allowed.join(", ")
    )]
    UnknownPredicateType {
        /// The predicate type found in the statement.
        found: String,
        /// Every predicate type this crate accepts.
        allowed: Vec<&'static str>,
    },

    /// The envelope is larger than the configured limit.
    #[error(
        "envelope is {size} bytes, over the limit of {limit} bytes; attest large data by digest \
         (put it in a file and name the file as a subject) or raise Limits::max_envelope_bytes"
    )]
    TooLarge {
        /// Size of the envelope JSON in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },

    /// The envelope carries no signature at all.
    #[error("signatures: the envelope has no signatures; sign it before submitting")]
    Unsigned,

    /// A signature by the verifying key's id is present but does not verify.
    #[error(
        "signatures[{index}].sig: Ed25519 signature by key {keyid} does not verify over the \
         payload and payloadType; the envelope was altered after signing or signed by another key"
    )]
    BadSignature {
        /// Index of the signature in `signatures`.
        index: usize,
        /// The key id the signature claims (the verifying key's id).
        keyid: String,
    },

    /// A signature verifies under the key, but its `keyid` names another key.
    #[error(
        "signatures[{index}].keyid: is \"{found}\" but the signing key's id is \"{expected}\" \
         (lowercase hex SHA-256 of the public key); the keyid was altered"
    )]
    KeyIdMismatch {
        /// Index of the signature in `signatures`.
        index: usize,
        /// The keyid in the envelope.
        found: String,
        /// The id of the key the signature verifies under.
        expected: String,
    },

    /// No signature in the envelope was made by the key(s) the caller trusts.
    #[error(
        "signatures: no valid signature by key {expected} (the envelope's keyids: {}); check that \
         you verify with the signer's public key",
        if found.is_empty() { "none".to_owned() } else { found.join(", ") }
    )]
    NoSignatureByKey {
        /// The id of the key the caller verified with.
        expected: String,
        /// The keyids present in the envelope.
        found: Vec<String>,
    },

    /// Fewer distinct trusted keys signed the envelope than the threshold requires.
    #[error(
        "signatures: {valid} distinct trusted key(s) signed the envelope, {threshold} required"
    )]
    BelowThreshold {
        /// Distinct trusted keys with a valid signature.
        valid: usize,
        /// The number required.
        threshold: usize,
    },

    /// A key file could not be read or written.
    #[error("key file {}: {source}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// `Key::write_file` refuses to overwrite a key.
    #[error(
        "key file {} already exists; refusing to overwrite a key (move it away or choose another \
         path)",
        path.display()
    )]
    KeyFileExists {
        /// The existing file.
        path: PathBuf,
    },

    /// The environment variable that should hold a key is not set (or not UTF-8).
    #[error(
        "environment variable {var} is not set; set it to the contents of a Cairn key file \
         (`cairn-ed25519-secret-v1:<base64 seed>`) or pass a key file"
    )]
    KeyEnvMissing {
        /// The variable name.
        var: String,
    },

    /// A secret key's text is not in the Cairn key format. Never includes the text itself.
    #[error(
        "key from {origin} is not a Cairn Ed25519 secret key: {reason}; expected one line \
         `cairn-ed25519-secret-v1:<base64 of the 32-byte seed>`"
    )]
    KeyFormat {
        /// Where the key came from (a path or `$VAR`).
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A public key is not 32 bytes of hex or base64, or not a valid (non-weak) Ed25519 point.
    #[error("public key: {reason}; expected 64 hex characters or base64 of 32 bytes")]
    PublicKeyFormat {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The operating system's random number generator failed while generating a key.
    #[error("cannot generate a key: the OS random number generator failed: {0}")]
    Random(getrandom::Error),
}
