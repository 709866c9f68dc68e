//! The witness's HTTP interface (tlog-witness `add-checkpoint`).
use crate::{AddCheckpoint, Witness, WitnessError};
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

/// Largest request body accepted (a checkpoint, 63 proof lines and signatures fit easily).
const MAX_BODY: usize = 64 * 1024;

/// The witness's routes: `POST /add-checkpoint`, `GET /<origin hash>/checkpoint` (the latest
/// cosigned checkpoint of a log, for monitors), and `GET /` with its verifier key.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest_checkpoint))
        .route(
            "/",
            get(|State(w): State<Arc<Witness>>| async move { format!("{}\n", w.vkey()) }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

/// `GET /<origin hash>/checkpoint`: the latest checkpoint cosigned for that log, as a signed
/// note carrying the log's signature and this witness's cosignature.
///
/// Our reading, stated because we could not check it against the spec text while writing
/// this: the path is the one Cairn's issue 9 names for C2SP tlog-witness monitoring, and
/// `<origin hash>` is the lowercase hex SHA-256 of the checkpoint's origin line
/// ([`crate::origin_hash`]). If the spec settles on another encoding, only `origin_hash`
/// changes. Unknown hashes (and logs not cosigned since this endpoint existed) are 404.
async fn latest_checkpoint(
    State(w): State<Arc<Witness>>,
    axum::extract::Path(hash): axum::extract::Path<String>,
) -> Response {
    match w.latest_checkpoint(&hash) {
        Some(note) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            note,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "no cosigned checkpoint for origin hash {hash:?} (lowercase hex SHA-256 of the \
                 origin line)\n"
            ),
        )
            .into_response(),
    }
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let result = std::str::from_utf8(&body)
        .map_err(|_| WitnessError::BadRequest("the body is not UTF-8".into()))
        .and_then(AddCheckpoint::parse)
        .and_then(|req| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            w.add_checkpoint(&req, now)
        });
    match result {
        Ok(sig) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            sig.to_line(),
        )
            .into_response(),
        Err(WitnessError::OldSizeMismatch(size) | WitnessError::RootMismatch(size)) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "text/x.tlog.size")],
            format!("{size}\n"),
        )
            .into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            tracing::info!(status = status.as_u16(), error = %e, "add-checkpoint refused");
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{e}\n"),
            )
                .into_response()
        }
    }
}
