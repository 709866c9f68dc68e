//! HTTP handlers.
use crate::{
    ApiError, BUNDLE_MEDIA_TYPE, BlobStore, Bundle, BundleEntry, RateLimits,
    limits::Meters,
    openapi::{
        AddAnswer, AnchorAnswer, BlobStored, EntryAnswer, ErrorBody, LineageAnswer, LogInfo,
    },
    submit,
    submit::Submission,
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State, rejection::BytesRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use cairn_attest::Limits;
use cairn_log::Log;
use serde::Deserialize;
use serde_json::json;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Largest blob `PUT /blob` accepts (dataset manifests).
pub const MAX_BLOB_BYTES: usize = 64 * 1024 * 1024;

/// Largest body of any other request (reads take none).
const MAX_OTHER_BYTES: usize = 64 << 10;

/// How the service runs, and what it publishes about itself at `GET /log`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ServerConfig {
    /// Witnesses the log asks for cosignatures: (name, verifier key).
    pub witnesses: Vec<(String, String)>,
    /// The anchor contract and chain, when anchoring is on.
    pub anchor: Option<serde_json::Value>,
    /// The anchoring's state, served at `GET /anchor` (none: the log anchors nothing).
    #[serde(skip)]
    pub anchoring: Option<crate::AnchorWatch>,
    /// Write budgets per client address and per signer key.
    #[serde(skip)]
    pub rate_limits: RateLimits,
    /// Bearer tokens that may upload blobs no logged statement names yet
    /// (`Authorization: Bearer <token>`). Without one, `PUT /blob` takes only referenced blobs.
    #[serde(skip)]
    pub upload_tokens: Vec<String>,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    log: Log,
    blobs: BlobStore,
    limits: Limits,
    config: Arc<ServerConfig>,
    adds: Arc<AtomicU64>,
    duplicates: Arc<AtomicU64>,
    rejected: Arc<AtomicU64>,
    blob_full: Arc<std::sync::atomic::AtomicBool>,
    meters: Arc<Meters>,
    limited: Arc<AtomicU64>,
}

impl AppState {
    /// State for a log, its blob store and envelope limits.
    pub fn new(log: Log, blobs: BlobStore, limits: Limits, config: ServerConfig) -> Self {
        Self {
            meters: Arc::new(Meters::new(&config.rate_limits)),
            limited: Arc::default(),
            log,
            blobs,
            limits,
            config: Arc::new(config),
            adds: Arc::default(),
            duplicates: Arc::default(),
            rejected: Arc::default(),
            blob_full: Arc::default(),
        }
    }
}

/// The routes (see the crate docs).
pub fn router(state: AppState) -> Router {
    let add_limit = state.limits.max_envelope_bytes * 2 + 1024;
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*rest}", get(tile))
        .route("/add", post(add).layer(DefaultBodyLimit::max(add_limit)))
        .route("/proof/{index}", get(proof))
        .route("/bundle/{index}", get(bundle))
        .route("/consistency/{old}/{new}", get(consistency))
        .route("/entry/{index}", get(entry))
        .route("/blob/sha256/{hex}", get(blob))
        .route(
            "/blob",
            put(put_blob).layer(DefaultBodyLimit::max(MAX_BLOB_BYTES)),
        )
        .route("/lineage/{digest}", get(lineage))
        .route("/log", get(info))
        .route("/anchor", get(anchor))
        .route("/metrics", get(metrics))
        .route(crate::openapi::OPENAPI_PATH, get(openapi_json))
        // Reads and anything else: no body.
        .layer(DefaultBodyLimit::max(MAX_OTHER_BYTES))
        .layer(axum::middleware::from_fn(crate::json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

#[utoipa::path(get, path = "/openapi.json", tag = "log",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
async fn openapi_json() -> Response {
    text(
        StatusCode::OK,
        "application/json",
        "no-cache",
        crate::openapi::document_json(),
    )
}

fn text(
    status: StatusCode,
    ctype: &'static str,
    cache: &'static str,
    body: impl Into<axum::body::Body>,
) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

#[utoipa::path(get, path = "/checkpoint", tag = "tlog-tiles",
    description = "The latest checkpoint as a C2SP signed note: the log's signature and its witnesses' cosignatures.",
    responses((status = 200, description = "The signed note", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 503, description = "The log is read-only after detecting damage", body = ErrorBody)))]
async fn checkpoint(State(s): State<AppState>) -> Response {
    let note = s.log.checkpoint();
    if note.is_empty() {
        return ApiError::from(cairn_log::Error::Halted(s.log.halted().unwrap_or_default()))
            .into_response();
    }
    // Mutable resource: tlog-tiles asks that it not be cached beyond a few seconds.
    text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "no-cache",
        note,
    )
}

#[utoipa::path(get, path = "/tile/{path}", tag = "tlog-tiles",
    description = "C2SP tlog-tiles: hash tiles `<L>/<N>[.p/<W>]` and entry bundles `entries/<N>[.p/<W>]` (big-endian u16 length prefixes). Immutable once served.",
    params(("path" = String, Path, description = "The rest of the tile path, e.g. `0/000` or `entries/x001/234.p/17`")),
    responses((status = 200, description = "The tile's bytes", body = Vec<u8>, content_type = "application/octet-stream")))]
async fn tile(State(s): State<AppState>, Path(rest): Path<String>) -> Result<Response, ApiError> {
    let path = format!("tile/{rest}");
    cairn_tlog::TileId::parse(&path).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match s.log.storage().get(&path)? {
        // A tile path names fixed content (a partial tile has its width in the path).
        Some(bytes) => Ok(text(
            StatusCode::OK,
            "application/octet-stream",
            "public, max-age=31536000, immutable",
            bytes,
        )),
        None => Err(ApiError::not_found(format!("{path} does not exist (yet)"))),
    }
}

#[derive(Deserialize)]
struct AddQuery {
    wait: Option<String>,
}

/// The client's address, when the server runs with connect info.
pub(crate) struct ClientAddr(Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

fn over_limit(s: &AppState, what: &str, wait: Duration) -> ApiError {
    s.limited.fetch_add(1, Ordering::Relaxed);
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut e = ApiError::too_many(format!("{what} is over its rate limit; retry in {secs} s"));
    e.retry_after = Some(secs);
    e
}

#[utoipa::path(post, path = "/add", tag = "log",
    description = "Submits a DSSE envelope with an in-toto Statement v1 of a known Cairn predicate type, signed by the Ed25519 key sent with it. The signature is the authentication: the entry records the key's hash.",
    params(("wait" = Option<String>, Query, description = "`sequenced` (default) answers once the entry is durable; `integrated` waits (up to 30 s) for a served checkpoint and returns the bundle")),
    request_body = Submission,
    responses((status = 200, description = "Sequenced (or found: a duplicate)", body = AddAnswer),
        (status = 401, description = "The envelope is not signed by the key sent with it", body = ErrorBody),
        (status = 429, description = "Over the rate limit of the client address or signer key (Retry-After)", body = ErrorBody),
        (status = 503, description = "Read-only, or not integrated within 30 s", body = ErrorBody),
        (status = 507, description = "Out of disk space", body = ErrorBody)))]
async fn add(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Query(q): Query<AddQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    s.meters
        .adds_by_address
        .take(&addr, 1.0)
        .map_err(|w| over_limit(&s, "this address", w))?;
    let body = body.map_err(body_error)?;
    let wait = match q.wait.as_deref() {
        None | Some("sequenced") => false,
        Some("integrated") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "wait={other:?}: use wait=sequenced or wait=integrated"
            )));
        }
    };
    let (req, key, _) = submit::prepare(&body, &s.limits).inspect_err(|_| {
        s.rejected.fetch_add(1, Ordering::Relaxed);
    })?;
    s.meters
        .adds_by_key
        .take(&req.signer_key_hash, 1.0)
        .map_err(|w| over_limit(&s, "this signer key", w))?;
    // The key is a blob under its own SHA-256 — the entry's signer key hash.
    put_blob_checked(&s, &key.to_bytes())?;
    let digest = format!("sha256:{}", hex::encode(req.envelope_sha256));
    let seq = s.log.add(req).await?;
    let counter = if seq.duplicate {
        &s.duplicates
    } else {
        &s.adds
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let mut out = json!({ "index": seq.index, "duplicate": seq.duplicate, "envelopeDigest": digest, "integrated": false });
    if wait {
        tokio::time::timeout(Duration::from_secs(30), s.log.wait_integrated(seq.index))
            .await
            .map_err(|_| {
                ApiError::unavailable(format!(
                    "entry {} is sequenced (durable) but no served checkpoint covers it after \
                     30 s{}; fetch /bundle/{} later",
                    seq.index,
                    if s.log.signed_size() > seq.index {
                        " (the log signed one; its witnesses have not cosigned it yet)"
                    } else {
                        ""
                    },
                    seq.index
                ))
            })??;
        out["integrated"] = json!(true);
        out["bundle"] =
            serde_json::to_value(make_bundle(&s, seq.index)?).map_err(ApiError::internal)?;
    }
    Ok(Json(out).into_response())
}

fn make_bundle(s: &AppState, index: u64) -> Result<Bundle, ApiError> {
    let sequenced = s.log.sequenced();
    if index >= sequenced {
        return Err(ApiError::not_found(format!(
            "no entry {index}: the log has {sequenced} entries"
        )));
    }
    if index >= s.log.size() {
        return Err(ApiError::not_found(format!(
            "entry {index} is not integrated yet (checkpoint size {}); retry shortly",
            s.log.size()
        )));
    }
    let entry = s.log.entry(index)?;
    let envelope =
        cairn_attest::Envelope::from_json(&s.log.envelope(index)?).map_err(ApiError::internal)?;
    let key = s
        .blobs
        .get(&entry.signer_key_hash)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "public key of entry {index} is missing from the blob store"
            ))
        })?;
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        envelope,
        public_key: STANDARD.encode(key),
        entry: BundleEntry {
            index,
            kind: entry.kind,
            time_ms: entry.time_ms,
        },
        tlog_proof: s.log.tlog_proof(index)?.format(),
    })
}

/// Stores a blob; a full disk is a 507 (and the storage-full gauge) until a write succeeds.
fn put_blob_checked(s: &AppState, bytes: &[u8]) -> Result<[u8; 32], ApiError> {
    match s.blobs.put(bytes) {
        Ok(d) => {
            s.blob_full.store(false, Ordering::Relaxed);
            Ok(d)
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ) =>
        {
            s.blob_full.store(true, Ordering::Relaxed);
            Err(ApiError::storage_full(
                "the log is out of disk space and refuses new writes until it has space again; \
                 retry later",
            ))
        }
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// A body the server could not read (over the route's limit, or cut off) as a JSON error.
fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(format!("the request body is too large: {}", e.body_text()))
    } else {
        ApiError::bad_request(format!("cannot read the request body: {}", e.body_text()))
    }
}

fn parse_index(raw: &str) -> Result<u64, ApiError> {
    // Decimal digits only, as tlog paths write numbers: no sign, no leading zeros.
    let canonical = !raw.is_empty()
        && raw.bytes().all(|b| b.is_ascii_digit())
        && (raw == "0" || !raw.starts_with('0'));
    raw.parse().ok().filter(|_| canonical).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{raw:?} is not an entry index (decimal digits, no sign or leading zeros)"
        ))
    })
}

#[utoipa::path(get, path = "/proof/{index}", tag = "log",
    params(("index" = u64, Path, description = "Entry index (decimal, no leading zeros)")),
    responses((status = 200, description = "C2SP tlog-proof against the latest checkpoint", body = String, content_type = "text/plain; charset=utf-8")))]
async fn proof(State(s): State<AppState>, Path(index): Path<String>) -> Result<Response, ApiError> {
    let index = parse_index(&index)?;
    let b = make_bundle(&s, index)?;
    Ok(text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "no-cache",
        b.tlog_proof,
    ))
}

#[utoipa::path(get, path = "/bundle/{index}", tag = "log",
    params(("index" = u64, Path, description = "Entry index")),
    responses((status = 200, description = "An offline-verifiable bundle: envelope, key, entry and tlog-proof", body = Bundle)))]
async fn bundle(
    State(s): State<AppState>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(make_bundle(&s, parse_index(&index)?)?).into_response())
}

#[utoipa::path(get, path = "/consistency/{old}/{new}", tag = "log",
    params(("old" = u64, Path, description = "Older tree size"), ("new" = u64, Path, description = "Newer tree size")),
    responses((status = 200, description = "RFC 6962 consistency proof, one base64 hash per line", body = String, content_type = "text/plain; charset=utf-8")))]
async fn consistency(
    State(s): State<AppState>,
    Path((old, new)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (old, new) = (parse_index(&old)?, parse_index(&new)?);
    if old > new {
        return Err(ApiError::bad_request(format!(
            "old size {old} is larger than new size {new}"
        )));
    }
    let proof = s.log.consistency_proof(old, new)?;
    let body: String = proof
        .iter()
        .map(|h| format!("{}\n", STANDARD.encode(h)))
        .collect();
    Ok(text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "public, max-age=31536000, immutable",
        body,
    ))
}

#[utoipa::path(get, path = "/entry/{index}", tag = "log",
    params(("index" = u64, Path, description = "Entry index")),
    responses((status = 200, description = "The entry, its envelope and the signer's public key", body = EntryAnswer)))]
async fn entry(State(s): State<AppState>, Path(index): Path<String>) -> Result<Response, ApiError> {
    let index = parse_index(&index)?;
    let entry = s.log.entry(index)?;
    let envelope: serde_json::Value =
        serde_json::from_slice(&s.log.envelope(index)?).map_err(ApiError::internal)?;
    let key = s
        .blobs
        .get(&entry.signer_key_hash)
        .map_err(ApiError::internal)?
        .map(|k| STANDARD.encode(k));
    Ok(Json(json!({
        "index": index,
        "integrated": index < s.log.size(),
        "entry": entry,
        "envelope": envelope,
        "publicKey": key,
    }))
    .into_response())
}

fn parse_sha256(hex_str: &str) -> Result<[u8; 32], ApiError> {
    let bytes = hex::decode(hex_str)
        .ok()
        .filter(|b| b.len() == 32 && hex_str.bytes().all(|c| !c.is_ascii_uppercase()));
    bytes
        .map(|b| b.try_into().expect("32 bytes"))
        .ok_or_else(|| {
            ApiError::bad_request(format!("{hex_str:?} is not 64 lowercase hex characters"))
        })
}

#[utoipa::path(get, path = "/blob/sha256/{hex}", tag = "blobs",
    params(("hex" = String, Path, description = "Lowercase hex SHA-256")),
    responses((status = 200, description = "An envelope (JSON) or another blob (bytes)", body = Vec<u8>, content_type = "application/octet-stream")))]
async fn blob(
    State(s): State<AppState>,
    Path(hex_str): Path<String>,
) -> Result<Response, ApiError> {
    let digest = parse_sha256(&hex_str)?;
    if let Some((_, env)) = s.log.envelope_by_digest(&digest)? {
        return Ok(text(
            StatusCode::OK,
            "application/json",
            "public, max-age=31536000, immutable",
            env,
        ));
    }
    match s.blobs.get(&digest).map_err(ApiError::internal)? {
        Some(b) => Ok(text(
            StatusCode::OK,
            "application/octet-stream",
            "public, max-age=31536000, immutable",
            b,
        )),
        None => Err(ApiError::not_found(format!("no blob sha256:{hex_str}"))),
    }
}

#[utoipa::path(put, path = "/blob", tag = "blobs", security((), ("uploadToken" = [])),
    description = "Stores a blob (at most 64 MiB): anonymously only one a logged statement names (a dataset manifest), any with an upload token.",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored", body = BlobStored),
        (status = 401, description = "An Authorization header with a token the log does not accept", body = ErrorBody),
        (status = 403, description = "No logged statement names the blob, and no token was sent", body = ErrorBody),
        (status = 429, description = "Over the client's upload budget", body = ErrorBody),
        (status = 507, description = "Out of disk space", body = ErrorBody)))]
async fn put_blob(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(body_error)?;
    s.meters
        .blob_bytes_by_address
        .take(&addr, body.len() as f64)
        .map_err(|w| over_limit(&s, "blob uploads from this address", w))?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let authenticated = token.is_some_and(|t| s.config.upload_tokens.iter().any(|u| u == t));
    if headers.contains_key(header::AUTHORIZATION) && !authenticated {
        return Err(ApiError::unauthorized(
            "the upload token is not one this log accepts (send Authorization: Bearer <token> \
             with a token the log was started with, or no Authorization header for a blob a \
             logged statement names)",
        ));
    }
    if !authenticated {
        // Anonymous uploads only of blobs a logged statement names (a dataset manifest):
        // strangers cannot fill the disk with bytes nobody vouches for.
        let digest = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body))
        );
        if s.log.lineage(&digest)?.is_empty() {
            return Err(ApiError::forbidden(format!(
                "no logged statement names {digest}: add the statement that references this \
                 blob first, then upload it (or upload with an authorized token)"
            )));
        }
    }
    let digest = put_blob_checked(&s, &body)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "digest": format!("sha256:{}", hex::encode(digest)), "size": body.len() })),
    )
        .into_response())
}

#[utoipa::path(get, path = "/lineage/{digest}", tag = "log",
    params(("digest" = String, Path, description = "`<algorithm>:<hex>`, e.g. `sha256:…` or `blake3:…`")),
    responses((status = 200, description = "Entries whose statements mention the digest", body = LineageAnswer)))]
async fn lineage(
    State(s): State<AppState>,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let parsed: cairn_attest::Digest = digest
        .parse()
        .map_err(|e| ApiError::bad_request(format!("{digest:?}: {e} (use <algorithm>:<hex>)")))?;
    let mut out = Vec::new();
    for hit in s.log.lineage(&parsed.to_string())? {
        let entry = s.log.entry(hit.index)?;
        let statement = cairn_attest::Envelope::from_json(&s.log.envelope(hit.index)?)
            .ok()
            .and_then(|e| cairn_attest::parse_statement(&e.payload).ok());
        out.push(json!({
            "index": hit.index,
            "role": hit.role,
            "kind": entry.kind,
            "integrated": hit.index < s.log.size(),
            "envelopeDigest": format!("sha256:{}", hex::encode(entry.envelope_sha256)),
            "predicateType": statement.as_ref().map(|st| st.predicate_type.clone()),
            "subject": statement.as_ref().map(|st| st.subject.clone()),
        }));
    }
    Ok(Json(json!({ "digest": parsed.to_string(), "entries": out })).into_response())
}

#[utoipa::path(get, path = "/log", tag = "log",
    responses((status = 200, description = "Origin, verifier key, sizes, witnesses, anchor contract", body = LogInfo)))]
async fn info(State(s): State<AppState>) -> Response {
    Json(json!({
        "origin": s.log.origin(),
        "verifierKey": s.log.signer().to_vkey(),
        "size": s.log.size(),
        "signedSize": s.log.signed_size(),
        "readOnly": s.log.halted(),
        "storageError": s.log.storage_error(),
        "witnesses": s.config.witnesses.iter().map(|(n, k)| json!({"name": n, "verifierKey": k})).collect::<Vec<_>>(),
        "anchor": s.config.anchor,
    }))
    .into_response()
}

#[utoipa::path(get, path = "/anchor", tag = "log",
    description = "The latest checkpoint this log anchored on chain (`ProvenanceAnchor`): its size and root, the block and transaction, and the contract. Entries below `latest.size` are covered by it.",
    responses((status = 200, description = "The anchoring and its latest anchor (`latest` null until the first one)", body = AnchorAnswer),
        (status = 404, description = "This log does not anchor its checkpoints", body = ErrorBody)))]
async fn anchor(State(s): State<AppState>) -> Response {
    match &s.config.anchoring {
        Some(w) => Json(w.get()).into_response(),
        None => ApiError::not_found(
            "this log does not anchor its checkpoints on chain (its operator has not turned anchoring on)",
        )
        .into_response(),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "log",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4")))]
async fn metrics(State(s): State<AppState>) -> Response {
    let body = format!(
        "# HELP cairn_log_tree_size Entries covered by the latest checkpoint.\n\
         # TYPE cairn_log_tree_size gauge\n\
         cairn_log_tree_size {}\n\
         # HELP cairn_log_adds_total Statements appended through this process.\n\
         # TYPE cairn_log_adds_total counter\n\
         cairn_log_adds_total {}\n\
         # HELP cairn_log_duplicates_total Submissions that were already in the log.\n\
         # TYPE cairn_log_duplicates_total counter\n\
         cairn_log_duplicates_total {}\n\
         # HELP cairn_log_rejected_total Submissions rejected as invalid.\n\
         # TYPE cairn_log_rejected_total counter\n\
         cairn_log_rejected_total {}\n\
         # HELP cairn_log_rate_limited_total Writes refused over a client's rate limit.\n\
         # TYPE cairn_log_rate_limited_total counter\n\
         cairn_log_rate_limited_total {}\n\
         # HELP cairn_log_signed_size Entries covered by the latest checkpoint the log signed (served once witnesses cosign it).\n\
         # TYPE cairn_log_signed_size gauge\n\
         cairn_log_signed_size {}\n\
         # HELP cairn_log_checkpoint_age_seconds Seconds since the served checkpoint was signed.\n\
         # TYPE cairn_log_checkpoint_age_seconds gauge\n\
         cairn_log_checkpoint_age_seconds {:.3}\n\
         # HELP cairn_log_read_only 1 when the log stopped read-only (damaged journal, or a journal that does not reproduce its signed checkpoint); see GET /log.\n\
         # TYPE cairn_log_read_only gauge\n\
         cairn_log_read_only {}\n\
         # HELP cairn_log_journal_verified 1 once every journal record's checksum was checked since start (records the log published are checked in the background).\n\
         # TYPE cairn_log_journal_verified gauge\n\
         cairn_log_journal_verified {}\n\
         # HELP cairn_log_storage_full 1 while writes fail (disk full); new entries get 507.\n\
         # TYPE cairn_log_storage_full gauge\n\
         cairn_log_storage_full {}\n",
        s.log.size(),
        s.adds.load(Ordering::Relaxed),
        s.duplicates.load(Ordering::Relaxed),
        s.rejected.load(Ordering::Relaxed),
        s.limited.load(Ordering::Relaxed),
        s.log.signed_size(),
        s.log.served_age().as_secs_f64(),
        u8::from(s.log.halted().is_some()),
        u8::from(s.log.journal_verified()),
        u8::from(s.log.storage_error().is_some() || s.blob_full.load(Ordering::Relaxed)),
    );
    text(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        "no-cache",
        body,
    )
}
