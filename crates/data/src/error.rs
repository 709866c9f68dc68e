//! One error type for the crate.
//!
//! Every variant names the input it is about (a path, a manifest field, a
//! proof field) and says what to do, because these messages reach users of
//! `cairn data` directly.

use std::path::PathBuf;

use crate::digest::Blake3Hash;

/// Result alias used throughout `cairn-data`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while hashing, verifying or proving a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on a path failed (missing file, permission denied, ...).
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done, e.g. "open" or "read directory".
        op: &'static str,
        /// The path the operation was on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file or directory name is not valid UTF-8; dataset paths must be UTF-8.
    #[error(
        "path {} is not valid UTF-8; dataset paths must be UTF-8 (rename the file)",
        path.display()
    )]
    NonUtf8Path {
        /// The offending path (shown lossily).
        path: PathBuf,
    },

    /// A symbolic link was found and the policy is [`SymlinkPolicy::Error`](crate::SymlinkPolicy::Error).
    #[error(
        "{} is a symbolic link; cairn-data never follows links (one could point outside the dataset): \
         replace it with the file it points to, or skip links with SymlinkPolicy::Skip",
        path.display()
    )]
    Symlink {
        /// The link's path.
        path: PathBuf,
    },

    /// A directory entry is neither a regular file, a directory nor a symlink
    /// (a FIFO, socket or device), which cannot be part of a dataset.
    #[error("{} is a {kind}, not a regular file; remove it from the dataset directory", path.display())]
    UnsupportedFileType {
        /// The entry's path.
        path: PathBuf,
        /// What kind of entry it is.
        kind: &'static str,
    },

    /// A file changed (size or identity) while it was being hashed.
    #[error(
        "{} changed while it was being hashed ({detail}); make sure nothing writes to the dataset and retry",
        path.display()
    )]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// What was seen to change.
        detail: String,
    },

    /// A path given to [`prove`](crate::prove) does not lie inside the dataset directory.
    #[error("{} is not inside the dataset directory {}", path.display(), dir.display())]
    OutsideDataset {
        /// The path that was asked for.
        path: PathBuf,
        /// The dataset directory.
        dir: PathBuf,
    },

    /// A dataset-relative path was asked for but the dataset has no such file.
    #[error(
        "the dataset has no file {path:?} (paths are relative to the dataset directory, '/'-separated)"
    )]
    FileNotInDataset {
        /// The dataset-relative path that was asked for.
        path: String,
    },

    /// A dataset-relative path breaks the path rules of the format.
    #[error("invalid dataset path {path:?}: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// A digest string could not be parsed.
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest {
        /// The text that was given (truncated if long).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A manifest is malformed or internally inconsistent.
    #[error("invalid manifest: {field}: {reason}")]
    InvalidManifest {
        /// Which field, e.g. `files[3].sha256` or `root`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A file proof is malformed (independent of any file's bytes).
    #[error("invalid file proof: {field}: {reason}")]
    InvalidProof {
        /// Which field of the proof.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A well-formed file proof does not check out against the given file or root.
    #[error("file proof for {path:?} does not verify: {failure}")]
    ProofMismatch {
        /// The dataset path the proof is about.
        path: String,
        /// Which check failed.
        failure: ProofFailure,
    },

    /// JSON (de)serialization failed.
    #[error("cannot parse {what} JSON: {source}")]
    Json {
        /// What was being parsed, e.g. "manifest" or "file proof".
        what: &'static str,
        /// The serde_json error, which carries line and column.
        #[source]
        source: serde_json::Error,
    },

    /// The worker thread pool could not be created.
    #[error("cannot start {threads} hashing threads: {reason}")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// The reason given by rayon.
        reason: String,
    },
}

/// Which check of a file proof failed; carried by [`Error::ProofMismatch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofFailure {
    /// The file has a different size than the proof records.
    #[error("file size is {actual} bytes, the proof says {expected}")]
    Size {
        /// Size in the proof.
        expected: u64,
        /// Size of the given file.
        actual: u64,
    },
    /// The file's SHA-256 differs from the proof's.
    #[error("file SHA-256 differs from the proof's")]
    Sha256,
    /// The file's chunk Merkle root differs from the proof's.
    #[error("file BLAKE3 root is {actual}, the proof says {expected}")]
    FileRoot {
        /// Root in the proof.
        expected: Blake3Hash,
        /// Root of the given file.
        actual: Blake3Hash,
    },
    /// The proof was made for another dataset root than the one expected.
    #[error("the proof is for dataset root {in_proof}, expected {expected}")]
    ProofForOtherRoot {
        /// Root the caller expects.
        expected: Blake3Hash,
        /// Root named inside the proof.
        in_proof: Blake3Hash,
    },
    /// The audit path does not lead to the expected dataset root.
    #[error("the audit path leads to {computed}, expected dataset root {expected}")]
    AuditPath {
        /// Root the caller expects.
        expected: Blake3Hash,
        /// Root the audit path produced.
        computed: Blake3Hash,
    },
    /// The audit path has the wrong length for the proof's index and tree size.
    #[error("the audit path has the wrong length for leaf {index} of {tree_size}")]
    PathShape {
        /// Leaf index in the proof.
        index: u64,
        /// Tree size in the proof.
        tree_size: u64,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
