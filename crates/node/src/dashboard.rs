//! The dashboard: static files under `/dashboard/`, embedded at build time from the
//! repository's `web/` directory and the npm packages it uses (see `build.rs`).
//!
//! The page reads the node's JSON API (`/info`, `/providers`, `/jobs`) from the same origin and
//! the transparency log named in `/info` directly (the log answers cross-origin reads), where it
//! checks inclusion proofs itself.
use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

/// (path under `/dashboard/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// The dashboard's routes, for any router state.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/dashboard",
            get(|| async { Redirect::permanent("/dashboard/") }),
        )
        .route("/dashboard/", get(|| async { asset("index.html") }))
        .route(
            "/dashboard/{*file}",
            get(|Path(file): Path<String>| async move { asset(&file) }),
        )
}

fn asset(name: &str) -> Response {
    let Some((_, ctype, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({
                "error": format!("the dashboard has no file {name:?}; open /dashboard/")
            })),
        )
            .into_response();
    };
    let mut r = (StatusCode::OK, *bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    // Small files from the binary: revalidate so a rebuilt node serves its own page.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    async fn get(path: &str) -> (StatusCode, String, Vec<u8>) {
        let app: Router = router();
        let r = app
            .oneshot(axum::http::Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let ctype = r
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, ctype, body)
    }

    #[tokio::test]
    async fn serves_the_page_its_scripts_and_the_npm_chart_library() {
        let (status, ctype, body) = get("/dashboard/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(ctype.starts_with("text/html"), "{ctype}");
        let html = String::from_utf8(body).unwrap();
        assert_eq!(
            html.as_bytes(),
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/index.html")).unwrap()
        );
        // Every script and stylesheet the page names is served.
        for src in html
            .split(['"', '\''])
            .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        {
            let (status, ctype, body) = get(&format!("/dashboard/{src}")).await;
            assert_eq!(status, StatusCode::OK, "{src}");
            assert!(!body.is_empty(), "{src}");
            assert!(
                ctype.starts_with("text/javascript") || ctype.starts_with("text/css"),
                "{src}: {ctype}"
            );
        }
        let (status, _, body) = get("/dashboard/vendor/uPlot.iife.min.js").await;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&body).contains("uPlot"));
    }

    #[tokio::test]
    async fn unknown_files_are_a_json_404_and_the_bare_path_redirects() {
        let (status, ctype, body) = get("/dashboard/../Cargo.toml").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(ctype.starts_with("application/json"), "{ctype}");
        assert!(String::from_utf8_lossy(&body).contains("no file"));
        let (status, _, _) = get("/dashboard/nope.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = get("/dashboard").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    }
}
