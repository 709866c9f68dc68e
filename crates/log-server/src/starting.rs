//! Serving reads while the log starts.
//!
//! Opening a large log replays its journal (about 2 s per million entries). Meanwhile the
//! published files are already there and already public: this router serves `GET /checkpoint`
//! and `GET /tile/...` straight from them at once, holds every other request until the log is
//! open ([`StartingRouter::ready`]; 503 "starting" after [`WAIT_FOR_OPEN`]), and then hands
//! every request to the full router.
//!
//! ```text
//!  bind ──▶ starting router ── GET /checkpoint, /tile/* ──▶ <dir>/public (as last published)
//!              │                 anything else          ──▶ waits for ready (503 after 30 s)
//!              └── ready(router) ──▶ every request      ──▶ the full router
//! ```
use crate::ApiError;
use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use cairn_log::{FsStorage, LogStorage};
use std::{
    path::Path,
    sync::{Arc, OnceLock},
    time::Duration,
};
use tokio::sync::Notify;
use tower::ServiceExt;

/// How long a request other than a published read waits for the log to open.
pub const WAIT_FOR_OPEN: Duration = Duration::from_secs(30);

/// A router that serves published reads during start-up, then everything through the full
/// router.
#[derive(Clone)]
pub struct StartingRouter {
    storage: Arc<FsStorage>,
    ready: Arc<OnceLock<Router>>,
    opened: Arc<Notify>,
}

impl StartingRouter {
    /// Serves the published files of the log in `log_dir` (its `public/` directory).
    pub fn new(log_dir: &Path) -> cairn_log::Result<Self> {
        Ok(Self {
            storage: Arc::new(FsStorage::new(log_dir.join("public"))?),
            ready: Arc::default(),
            opened: Arc::default(),
        })
    }

    /// From now on every request goes to `router`.
    pub fn ready(&self, router: Router) {
        let _ = self.ready.set(router);
        self.opened.notify_waiters();
    }

    /// The router to serve.
    pub fn router(&self) -> Router {
        let this = self.clone();
        Router::new().fallback(move |req: Request| {
            let this = this.clone();
            async move {
                // Reads are public (tlog-tiles): any web page may read them, e.g. the node's
                // dashboard checking inclusion proofs in the browser. Writes stay same-origin.
                let read = matches!(*req.method(), Method::GET | Method::HEAD);
                let mut r = this.handle(req).await;
                if read {
                    r.headers_mut().insert(
                        header::ACCESS_CONTROL_ALLOW_ORIGIN,
                        HeaderValue::from_static("*"),
                    );
                }
                r
            }
        })
    }

    async fn handle(&self, req: Request) -> Response {
        if let Some(app) = self.ready.get() {
            return forward(app, req).await;
        }
        let path = req.uri().path().trim_start_matches('/').to_owned();
        let published = req.method() == Method::GET
            && (path == "checkpoint"
                || (path.starts_with("tile/") && cairn_tlog::TileId::parse(&path).is_ok()));
        if published && let Ok(Some(bytes)) = self.storage.get(&path) {
            let (ctype, cache) = if path == "checkpoint" {
                ("text/plain; charset=utf-8", "no-cache")
            } else {
                (
                    "application/octet-stream",
                    "public, max-age=31536000, immutable",
                )
            };
            let mut r = (StatusCode::OK, bytes).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            return r;
        }
        let deadline = tokio::time::Instant::now() + WAIT_FOR_OPEN;
        loop {
            let opened = self.opened.notified();
            if let Some(app) = self.ready.get() {
                return forward(app, req).await;
            }
            if tokio::time::timeout_at(deadline, opened).await.is_err() {
                break;
            }
        }
        let mut r = ApiError::starting(
            "the log is still opening (replaying its journal) after 30 s; published checkpoints \
             and tiles are served meanwhile: retry shortly",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    }
}

async fn forward(app: &Router, req: Request) -> Response {
    match app.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, routing::get};

    #[tokio::test]
    async fn reads_are_open_to_other_origins_and_writes_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let starting = StartingRouter::new(dir.path()).unwrap();
        starting.ready(Router::new().route("/log", get(|| async { "ok" }).post(|| async { "ok" })));
        let app = starting.router();
        let cors = |r: &Response| {
            r.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .cloned()
        };
        let r = app
            .clone()
            .oneshot(Request::get("/log").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(cors(&r).unwrap(), "*");
        let r = app
            .oneshot(Request::post("/log").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(cors(&r), None);
    }
}
