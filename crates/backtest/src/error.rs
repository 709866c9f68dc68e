//! Why a backtest could not run.

/// Errors from preparing or running a backtest, or writing its outputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or validating price data failed.
    #[error(transparent)]
    Market(#[from] cairn_market::Error),
    /// The plan (or a sweep point) is invalid.
    #[error(transparent)]
    Plan(#[from] cairn_strategy::Error),
    /// A plan asset has no price series.
    #[error("plan asset {symbol} has no price data; add a {symbol} price file (have: {have})")]
    MissingAsset {
        /// The asset.
        symbol: String,
        /// Symbols that do have data.
        have: String,
    },
    /// The plan names a model whose forecasts were not supplied.
    #[error(
        "plan names a {kind} model {digest} but no forecasts for it were supplied; remove [risk.model] to use the statistical estimators"
    )]
    ModelUnavailable {
        /// Model kind.
        kind: &'static str,
        /// Its digest.
        digest: String,
    },
    /// The requested range or split leaves too few bars.
    #[error("{0}")]
    TooShort(String),
    /// Writing a report or chart failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("cannot encode PNG {path}: {detail}")]
    Png {
        /// The file.
        path: std::path::PathBuf,
        /// The encoder's message.
        detail: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
