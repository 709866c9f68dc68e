//! Why a tensor job could not run, or why a claimed result did not check out.

/// Errors of the `train` and `infer` runners and of audits.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The job spec or its inputs cannot be used (reported to the requester as an invalid job).
    #[error("invalid job: `{key}`: {detail}")]
    Invalid {
        /// The `job.toml` key (or input name) at fault.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// A dataset file is not a valid OHLCV CSV.
    #[error("invalid job: input {name}: {source}")]
    Market {
        /// The input's name.
        name: String,
        /// The parse error.
        #[source]
        source: Box<cairn_market::Error>,
    },
    /// A model file or a checkpoint cannot be decoded.
    #[error("{what} is malformed: {detail}")]
    Malformed {
        /// Which artefact.
        what: String,
        /// Why.
        detail: String,
    },
    /// A candle operation failed.
    #[error("tensor backend: {0}")]
    Candle(#[from] candle_core::Error),
    /// The run was stopped from outside.
    #[error("cancelled")]
    Cancelled,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(key: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Malformed {
            what: what.into(),
            detail: detail.into(),
        }
    }
}
