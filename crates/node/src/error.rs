//! Errors of the node, and how they answer over HTTP.
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// What can go wrong in the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was malformed or names something invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The request was not signed, or not by the right account.
    #[error("{0}")]
    Unauthorized(String),
    /// The job, provider or blob does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the job's state (already settled, not yours any more, ...).
    #[error("{0}")]
    Conflict(String),
    /// The request body is larger than the node accepts.
    #[error("{0}")]
    TooLarge(String),
    /// The client or its key is over its write budget.
    #[error("{detail}")]
    TooManyRequests {
        /// What is over which limit.
        detail: String,
        /// Seconds until the budget allows the write, sent as `Retry-After`.
        retry_after_secs: u64,
    },
    /// The chain refused or could not be reached.
    #[error("chain: {0}")]
    Chain(#[from] cairn_escrow::Error),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        source: std::io::Error,
    },
    /// Another node process holds the data directory.
    #[error(
        "another compute node is using {dir} (it holds {lock}); stop it first, or give this node its own data directory"
    )]
    DirInUse {
        /// The data directory.
        dir: std::path::PathBuf,
        /// The lock file.
        lock: std::path::PathBuf,
    },
    /// The data directory belongs to another market (another contract, or a chain that was
    /// reset): its jobs are escrowed there, and mixing the two would lock requesters' funds.
    #[error(
        "the node state in {dir} belongs to {recorded}, but the node was started against {current}; its jobs are escrowed there. Point the node at that market and chain, or start it with a fresh data directory (the old one keeps its history)"
    )]
    WrongMarket {
        /// The data directory.
        dir: std::path::PathBuf,
        /// The market the state was made with.
        recorded: String,
        /// The market the node was started against.
        current: String,
    },
    /// Stored state did not decode (a bug or a foreign database).
    #[error("corrupt node state: {0}")]
    Corrupt(String),
}

/// The body of every error answer: a short machine-friendly code and what was wrong.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Short code: `bad_request`, `unauthorized`, `not_found`, `conflict`, `too_large`,
    /// `rate_limited`, `chain_rejected`, `chain_unavailable`, `method_not_allowed`, `internal`.
    pub error: String,
    /// What was wrong and what to do.
    pub detail: String,
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<cairn_compute::Error> for Error {
    fn from(e: cairn_compute::Error) -> Self {
        match e {
            cairn_compute::Error::Transition { .. } => Self::Conflict(e.to_string()),
            e => Self::BadRequest(e.to_string()),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, error, detail) = match &self {
            Self::BadRequest(d) => (StatusCode::BAD_REQUEST, "bad_request", d.clone()),
            Self::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "unauthorized", d.clone()),
            Self::NotFound(d) => (StatusCode::NOT_FOUND, "not_found", d.clone()),
            Self::Conflict(d) => (StatusCode::CONFLICT, "conflict", d.clone()),
            Self::TooLarge(d) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", d.clone()),
            Self::TooManyRequests {
                detail,
                retry_after_secs,
            } => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(
                        axum::http::header::RETRY_AFTER,
                        retry_after_secs.to_string(),
                    )],
                    Json(ErrorBody {
                        error: "rate_limited".to_owned(),
                        detail: detail.clone(),
                    }),
                )
                    .into_response();
            }
            Self::Chain(e) if e.revert_name().is_some() => {
                (StatusCode::CONFLICT, "chain_rejected", e.to_string())
            }
            Self::Chain(e) => (StatusCode::BAD_GATEWAY, "chain_unavailable", e.to_string()),
            other => {
                // Internals go to the node's log, not to the client.
                tracing::error!(error = %other, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the node failed to process the request; see its log".to_owned(),
                )
            }
        };
        (
            status,
            Json(ErrorBody {
                error: error.to_owned(),
                detail,
            }),
        )
            .into_response()
    }
}
