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

/// The witness's routes: `POST /add-checkpoint`, and `GET /` with its verifier key.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route(
            "/",
            get(|State(w): State<Arc<Witness>>| async move { format!("{}\n", w.vkey()) }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
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
        Err(WitnessError::OldSizeMismatch(size)) => (
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
