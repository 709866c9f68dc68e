//! Errors of the log. Messages name the input that was wrong and what to do.
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// File-system trouble under the log directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A storage path that is not a plain relative path.
    #[error("invalid storage path {0:?}")]
    BadPath(String),
    /// A stored entry that does not parse.
    #[error("malformed log entry: {0}")]
    BadEntry(String),
    /// The submitted statement was rejected (bad JSON, bad signature, unknown type, too big...).
    #[error("{0}")]
    Rejected(String),
    /// An index beyond the log, or a proof asked for an impossible size.
    #[error("{0}")]
    OutOfRange(String),
    /// The index database failed.
    #[error("lineage index: {0}")]
    Index(String),
    /// A Merkle or format operation failed.
    #[error(transparent)]
    Tlog(#[from] cairn_tlog::Error),
    /// The journal or the signed-checkpoint floor is damaged: the log is read-only.
    #[error("{0}")]
    Damaged(String),
    /// The log is read-only after detecting damage; it never signs another checkpoint until
    /// the journal is restored.
    #[error("the log is read-only: {0}")]
    Halted(String),
    /// Writes fail for lack of space; new entries are refused until space returns.
    #[error("the log's storage is full: {0}")]
    StorageFull(String),
    /// The log has shut down (or its writer thread died after an I/O error).
    #[error("the log is shut down{0}")]
    Closed(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::Index(e.to_string())
    }
}

impl From<cairn_tlog::EntryError> for Error {
    fn from(e: cairn_tlog::EntryError) -> Self {
        Self::BadEntry(e.to_string())
    }
}
