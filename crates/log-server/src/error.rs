//! One error type for every handler: a status, a short error and a detail for the user.
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// An HTTP error answer.
#[derive(Debug)]
pub struct ApiError {
    /// Status code.
    pub status: StatusCode,
    /// Short machine-friendly error.
    pub error: &'static str,
    /// What was wrong and what to do.
    pub detail: String,
    /// Seconds to wait before retrying (429), sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "bad_request",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            error: "not_found",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn too_large(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error: "too_large",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "unavailable",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn starting(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "starting",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn storage_full(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INSUFFICIENT_STORAGE,
            error: "storage_full",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn too_many(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "rate_limited",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "unauthorized",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error: "forbidden",
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        // Internals go to the log, not to the client.
        tracing::error!(error = %detail, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "internal",
            detail: "the log failed to process the request; see the server log".into(),
            retry_after: None,
        }
    }
}

impl From<cairn_log::Error> for ApiError {
    fn from(e: cairn_log::Error) -> Self {
        match e {
            cairn_log::Error::Rejected(d) if d.contains("limit") => Self::too_large(d),
            cairn_log::Error::Rejected(d) => Self::bad_request(d),
            cairn_log::Error::OutOfRange(d) => Self::not_found(d),
            e @ cairn_log::Error::Halted(_) => Self {
                error: "read_only",
                ..Self::unavailable(e.to_string())
            },
            cairn_log::Error::StorageFull(d) => Self::storage_full(format!(
                "the log is out of disk space and refuses new writes until it has space again \
                 ({d}); retry later"
            )),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(crate::ErrorBody {
                error: self.error.to_owned(),
                detail: self.detail,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        r
    }
}

/// Middleware that turns every error answer that is not JSON already — an unknown route, a
/// method the route does not take, a body over the route's limit, an extractor's rejection —
/// into the JSON error body with the same status, so clients parse one error format.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::header;
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let described = crate::OPENAPI_PATH;
    let (error, detail) = match status {
        StatusCode::NOT_FOUND if text.is_empty() => (
            "no_route",
            format!("there is no route {method} {path}; the API is described at {described}"),
        ),
        StatusCode::NOT_FOUND => ("not_found", text),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{path} does not take {method}; the API is described at {described}"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too_large",
            format!(
                "the body of {method} {path} is over the route's limit; send less ({})",
                if text.is_empty() { "no detail" } else { &text }
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", text),
        s if s.is_client_error() => ("bad_request", text),
        _ => {
            tracing::error!(%status, detail = %text, "internal error");
            (
                "internal",
                "the server failed to process the request; see its log".to_owned(),
            )
        }
    };
    let mut out = (
        status,
        Json(crate::ErrorBody {
            error: error.to_owned(),
            detail,
        }),
    )
        .into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
