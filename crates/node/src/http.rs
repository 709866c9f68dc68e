//! The HTTP API (see [`cairn_compute::api`] for the routes and bodies).
use crate::{Error, Node, Result, auth, error::ErrorBody};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use cairn_compute::{
    BlobRef, JobState,
    api::{
        Assignment, CheckpointRef, FeedEvent, Heartbeat, HeartbeatReply, JobLogs, JobView,
        NodeInfo, Progress, ProviderAdvert, ProviderView, RunReport, SubmitJob,
    },
    calibration::Answer,
};
use serde::de::DeserializeOwned;

/// Largest blob the node stores (module or input): 256 MiB.
pub const MAX_BLOB_BYTES: usize = cairn_compute::MAX_OUTPUT as usize;
/// Largest body of a submission or a run report (a spec or a report lists every file).
const MAX_JSON_BYTES: usize = 4 << 20;
/// Largest body of a calibration answer (one hash per claimed core).
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// Largest body of the other signed writes (heartbeat, claim, started, cancel, release,
/// advertise) and of anything else: reads take none.
const MAX_SMALL_BYTES: usize = 64 << 10;

/// The node's router. Every write route has its own body limit (the streamed blob upload
/// counts its bytes itself); every error answer is JSON (see
/// [`cairn_log_server::json_errors`]); requests are traced.
pub fn router(node: Node) -> Router {
    let json = || DefaultBodyLimit::max(MAX_JSON_BYTES);
    let small = || DefaultBodyLimit::max(MAX_SMALL_BYTES);
    Router::new()
        .route("/info", get(info))
        .route("/blob", put(put_blob).layer(DefaultBodyLimit::disable()))
        .route("/blob/{sha256}", get(get_blob))
        .route("/jobs", post(submit).layer(json()).get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/logs", get(logs))
        .route("/jobs/{id}/spec", get(spec))
        .route("/jobs/{id}/cancel", post(cancel).layer(small()))
        .route("/jobs/{id}/started", post(started).layer(small()))
        .route("/jobs/{id}/result", post(result).layer(json()))
        .route("/jobs/{id}/release", post(release).layer(small()))
        .route("/jobs/{id}/progress", post(progress).layer(small()))
        .route("/providers", post(advertise).layer(small()).get(providers))
        .route("/providers/{addr}", get(provider))
        .route(
            "/providers/{addr}/heartbeat",
            post(heartbeat).layer(small()),
        )
        .route("/providers/{addr}/claim", post(claim).layer(small()))
        .route(
            "/providers/{addr}/calibration",
            post(calibration).layer(DefaultBodyLimit::max(MAX_ANSWER_BYTES)),
        )
        .route("/events", get(events))
        .route("/agent", get(crate::agent_api::status))
        .route("/agent/decisions", get(crate::agent_api::decisions))
        .route(crate::openapi::OPENAPI_PATH, get(openapi_json))
        .route("/metrics", get(metrics))
        .merge(crate::dashboard::router())
        .route_layer(axum::middleware::from_fn_with_state(
            node.clone(),
            limit_writes,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            node.clone(),
            crate::metrics::track,
        ))
        .layer(small())
        .layer(axum::middleware::from_fn(cairn_log_server::json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(node)
}

/// The per-address budget of the write routes, checked before the request is read (the
/// per-key budget is checked once its signature verified: [`auth::verify`]). Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`, or all clients share one budget.
async fn limit_writes(
    State(node): State<Node>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::Method;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let ip = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if let Err(wait) = node.shared.replays.per_address.take(&ip, 1.0) {
            let who = ip.map_or_else(|| "this client".to_owned(), |ip| format!("client {ip}"));
            return auth::over_limit(&who, wait).into_response();
        }
    }
    next.run(req).await
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("the body must be a JSON {what}: {e}")))
}

/// The body of a write that carries nothing: empty, or a JSON object (what clients send).
fn no_body(body: &[u8]) -> Result<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    parse::<serde_json::Map<String, serde_json::Value>>(body, "object (or nothing)").map(|_| ())
}

fn job_id(s: &str) -> Result<u64> {
    s.parse()
        .map_err(|_| Error::BadRequest(format!("job id {s:?} is not a number")))
}

/// The signer, who must be the provider named in the path.
fn provider_signer(
    replays: &auth::Replays,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    addr: &str,
    body: &[u8],
) -> Result<alloy::primitives::Address> {
    let signer = auth::verify(replays, headers, method, path, body)?;
    let named = crate::node::parse_address("provider", addr)?;
    if named != signer {
        return Err(Error::Unauthorized(format!(
            "the request is for {named} but was signed by {signer}"
        )));
    }
    Ok(signer)
}

/// Feed events read from the store per query.
const FEED_BATCH: usize = 256;

#[utoipa::path(get, path = "/events", tag = "events",
    description = "Server-sent events: job state changes (`job`), job history lines (`jobEvent`) and provider changes (`provider`), each with its id; `data` is a FeedEvent. Without `Last-Event-ID` the stream starts with the next event; with it, it replays what came after that id first (from the node's database, across restarts). The stream ends when the node stops.",
    params(("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "An endless `text/event-stream` of FeedEvents", body = FeedEvent, content_type = "text/event-stream")))]
async fn events(State(node): State<Node>, headers: HeaderMap) -> Result<Response> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use std::collections::VecDeque;
    let watch = node.feed_watch();
    let after = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "Last-Event-ID {v:?} is not an event id (a non-negative integer)"
                ))
            })?,
        None => *watch.borrow(),
    };
    struct Cursor {
        node: Node,
        after: u64,
        watch: tokio::sync::watch::Receiver<u64>,
        stop: tokio::sync::watch::Receiver<bool>,
        buf: VecDeque<FeedEvent>,
        /// Counted in `cairn_node_sse_subscribers` while the stream is open.
        _subscriber: crate::metrics::Subscriber,
    }
    let cursor = Cursor {
        _subscriber: crate::metrics::Subscriber::new(node.clone()),
        stop: node.stopping(),
        node,
        after,
        watch,
        buf: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if *c.stop.borrow() {
                return None;
            }
            if let Some(ev) = c.buf.pop_front() {
                c.after = ev.id;
                let kind = serde_json::to_value(ev.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let event = Event::default()
                    .id(ev.id.to_string())
                    .event(kind)
                    .json_data(&ev)
                    .unwrap_or_else(|_| Event::default().comment("unencodable event"));
                return Some((Ok::<_, std::convert::Infallible>(event), c));
            }
            let node = c.node.clone();
            let after = c.after;
            let batch = tokio::task::spawn_blocking(move || node.feed_after(after, FEED_BATCH))
                .await
                .ok()
                .and_then(|r| {
                    r.inspect_err(|e| tracing::error!(error = %e, "reading the live feed"))
                        .ok()
                })?;
            if !batch.is_empty() {
                c.buf.extend(batch);
                continue;
            }
            tokio::select! {
                changed = c.watch.changed() => changed.ok()?,
                _ = c.stop.wait_for(|s| *s) => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[utoipa::path(get, path = "/openapi.json", tag = "node",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "node",
    description = "Prometheus text format (0.0.4): requests by route and status, jobs by state, providers, the escrow queue, audits passed and failed, open event streams, chain-loop errors, rate-limited writes.",
    responses((status = 200, description = "The metrics", body = String, content_type = "text/plain; version=0.0.4")))]
async fn metrics(State(node): State<Node>) -> Result<Response> {
    let body = crate::metrics::render(&node)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; version=0.0.4"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/info", tag = "node",
    responses((status = 200, description = "The node's chain, contract, token, lease timing and receipt key", body = NodeInfo)))]
async fn info(State(node): State<Node>) -> Response {
    Json(node.info()).into_response()
}

/// Stores a blob from a signed request (a requester's module and inputs, a provider's
/// outputs). The body streams to a temporary file while it is hashed, so a large upload never
/// sits in memory nor blocks the runtime; the signature (over the body's SHA-256) is checked
/// before the blob becomes visible. Unreferenced blobs are collected after a grace period.
#[utoipa::path(put, path = "/blob", tag = "blobs", security(("signedRequest" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The blob's bytes (at most 256 MiB); the signature covers their SHA-256"),
    responses((status = 200, description = "Stored under its SHA-256", body = BlobRef)))]
async fn put_blob(
    State(node): State<Node>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    use http_body_util::BodyExt as _;
    use sha2::Digest as _;
    use tokio::io::AsyncWriteExt as _;
    let store = node.blobs().clone();
    let tmp = tokio::task::spawn_blocking({
        let store = store.clone();
        move || store.temp()
    })
    .await
    .map_err(|e| Error::Corrupt(e.to_string()))?
    .map_err(|e| Error::io("creating an upload file", e))?;
    let mut file = tokio::fs::File::from_std(
        tmp.reopen()
            .map_err(|e| Error::io("opening an upload file", e))?,
    );
    let mut hasher = sha2::Sha256::new();
    let mut size: u64 = 0;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::BadRequest(format!("reading the upload: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        size += chunk.len() as u64;
        if size > MAX_BLOB_BYTES as u64 {
            return Err(Error::TooLarge(format!(
                "the blob is larger than the node's limit of {} bytes (256 MiB)",
                MAX_BLOB_BYTES
            )));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io("writing an upload", e))?;
    }
    file.flush()
        .await
        .map_err(|e| Error::io("writing an upload", e))?;
    drop(file);
    let digest: [u8; 32] = hasher.finalize().into();
    let signer = auth::verify_digest(&node.shared.replays, &headers, "PUT", "/blob", &digest)?;
    tokio::task::spawn_blocking(move || store.persist(tmp, &digest))
        .await
        .map_err(|e| Error::Corrupt(e.to_string()))?
        .map_err(|e| Error::io("storing a blob", e))?;
    let r = BlobRef {
        sha256: hex::encode(digest),
        size,
    };
    tracing::debug!(%signer, sha256 = %r.sha256, size, "blob stored");
    Ok(Json(r).into_response())
}

#[utoipa::path(get, path = "/blob/{sha256}", tag = "blobs",
    params(("sha256" = String, Path, description = "Lowercase hex SHA-256 of the blob")),
    responses((status = 200, description = "The blob's bytes", body = Vec<u8>, content_type = "application/octet-stream")))]
async fn get_blob(State(node): State<Node>, Path(sha): Path<String>) -> Result<Response> {
    let mut d = [0u8; 32];
    hex::decode_to_slice(&sha, &mut d)
        .map_err(|_| Error::BadRequest(format!("{sha:?} is not a hex SHA-256")))?;
    let store = node.blobs().clone();
    let bytes = tokio::task::spawn_blocking(move || store.get(&d))
        .await
        .map_err(|e| Error::Corrupt(e.to_string()))?
        .map_err(|e| Error::io("reading a blob", e))?
        .ok_or_else(|| Error::NotFound(format!("no blob sha256:{sha}")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[utoipa::path(post, path = "/jobs", tag = "jobs", security(("signedRequest" = [])),
    description = "Submits a job whose payment is already escrowed on chain with the spec's digest; signed by the escrow's requester.",
    request_body = SubmitJob,
    responses((status = 201, description = "Accepted and queued", body = JobView),
        (status = 409, description = "Already submitted, or the escrow does not match", body = ErrorBody),
        (status = 502, description = "The chain could not be read", body = ErrorBody)))]
async fn submit(State(node): State<Node>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let signer = auth::verify(&node.shared.replays, &headers, "POST", "/jobs", &body)?;
    let req: SubmitJob = parse(&body, "SubmitJob")?;
    let view = node.submit_signed(signer, req).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(get, path = "/jobs", tag = "jobs",
    description = "A page of jobs, newest first.",
    params(("requester" = Option<String>, Query, description = "Only this requester's jobs (0x address)"),
        ("state" = Option<JobState>, Query, description = "Only jobs in this state"),
        ("before" = Option<u64>, Query, description = "Only jobs with ids below this one (the next page)"),
        ("limit" = Option<usize>, Query, description = "At most this many (1 to 500; default 50)")),
    responses((status = 200, description = "The jobs", body = Vec<JobView>)))]
async fn jobs(
    State(node): State<Node>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Result<Response> {
    let q: cairn_compute::api::JobQuery = serde_urlencoded_query(q.as_deref().unwrap_or(""))?;
    Ok(Json(node.jobs(&q)?).into_response())
}

/// Parses `requester=0x..&state=running&before=10&limit=5`, naming what is wrong.
fn serde_urlencoded_query(q: &str) -> Result<cairn_compute::api::JobQuery> {
    let mut out = cairn_compute::api::JobQuery::default();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |what: &str| Error::BadRequest(format!("query {k}={v:?}: {what}"));
        match k {
            "requester" => out.requester = Some(v.to_owned()),
            "state" => {
                out.state = Some(
                    cairn_compute::JobState::parse(v)
                        .ok_or_else(|| bad("not a job state (queued, assigned, running, committed, settled, failed, expired, cancelled)"))?,
                )
            }
            "before" => out.before = Some(v.parse().map_err(|_| bad("not a job id"))?),
            "limit" => out.limit = Some(v.parse().map_err(|_| bad("not a number"))?),
            _ => return Err(bad("unknown parameter; use requester, state, before or limit")),
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = u64, Path, description = "Job id (the escrow's)")),
    responses((status = 200, description = "The job: state, why, result, receipt", body = JobView)))]
async fn job(State(node): State<Node>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(node.job(job_id(&id)?)?).into_response())
}

#[utoipa::path(get, path = "/jobs/{id}/spec", tag = "jobs",
    params(("id" = u64, Path, description = "Job id")),
    responses((status = 200, description = "The job's validated spec as the node escrowed it (what an auditor re-executes)", body = Object)))]
async fn spec(State(node): State<Node>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(node.spec(job_id(&id)?)?).into_response())
}

#[utoipa::path(get, path = "/jobs/{id}/logs", tag = "jobs",
    params(("id" = u64, Path, description = "Job id")),
    responses((status = 200, description = "The node's history of the job and the run's streams", body = JobLogs)))]
async fn logs(State(node): State<Node>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(node.logs(job_id(&id)?)?).into_response())
}

/// The signer of a `POST /jobs/{id}/{action}` request, its signature verified (and not a
/// replay).
fn signed_job_post(
    node: &Node,
    headers: &HeaderMap,
    id: &str,
    action: &str,
    body: &[u8],
) -> Result<alloy::primitives::Address> {
    auth::verify(
        &node.shared.replays,
        headers,
        "POST",
        &format!("/jobs/{id}/{action}"),
        body,
    )
}

#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs", security(("signedRequest" = [])),
    description = "Cancels a job; signed by its requester. The body is empty or any JSON (it is signed, not read).",
    params(("id" = u64, Path, description = "Job id")),
    responses((status = 200, description = "The job, cancelled (or cancelling while it runs)", body = JobView),
        (status = 409, description = "The job can no longer be cancelled", body = ErrorBody)))]
async fn cancel(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = signed_job_post(&node, &headers, &id, "cancel", &body)?;
    no_body(&body)?;
    Ok(Json(node.cancel(signer, job_id(&id)?)?).into_response())
}

#[utoipa::path(post, path = "/jobs/{id}/started", tag = "providers", security(("signedRequest" = [])),
    description = "The lease holder says it started the run. The body is empty (it is signed, not read).",
    params(("id" = u64, Path, description = "Job id")),
    responses((status = 200, description = "The job, running", body = JobView),
        (status = 409, description = "The job is not leased to the signer", body = ErrorBody)))]
async fn started(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = signed_job_post(&node, &headers, &id, "started", &body)?;
    no_body(&body)?;
    Ok(Json(node.started(signer, job_id(&id)?)?).into_response())
}

#[utoipa::path(post, path = "/jobs/{id}/release", tag = "providers", security(("signedRequest" = [])),
    description = "The lease holder gives the job back: `{\"reason\": \"...\"}`.",
    params(("id" = u64, Path, description = "Job id")),
    request_body(content = serde_json::Value, description = "`{\"reason\": \"why\"}`"),
    responses((status = 200, description = "The job, back in the queue", body = JobView),
        (status = 409, description = "The job is not leased to the signer", body = ErrorBody)))]
async fn release(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = signed_job_post(&node, &headers, &id, "release", &body)?;
    let why: serde_json::Value = parse(&body, "{\"reason\": ...}")?;
    let why = why["reason"]
        .as_str()
        .unwrap_or("no reason given")
        .to_owned();
    Ok(Json(node.release(signer, job_id(&id)?, &why)?).into_response())
}

#[utoipa::path(post, path = "/jobs/{id}/progress", tag = "providers", security(("signedRequest" = [])),
    description = "The lease holder of a running `train` job uploaded (`PUT /blob`) the checkpoint it wrote at `step`, the next of the spec's checkpoint steps: the node records it, so another provider resumes from it if this one fails. A retry of the last report changes nothing.",
    params(("id" = u64, Path, description = "Job id")),
    request_body = Progress,
    responses((status = 200, description = "The checkpoint as recorded", body = CheckpointRef),
        (status = 400, description = "Not a train job, not a checkpoint step, not in the store, or not a checkpoint of this job at that step", body = ErrorBody),
        (status = 409, description = "The job is not leased to the signer, or the step is out of order", body = ErrorBody)))]
async fn progress(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = signed_job_post(&node, &headers, &id, "progress", &body)?;
    let p: Progress = parse(&body, "Progress")?;
    let id = job_id(&id)?;
    let node2 = node.clone();
    let r = tokio::task::spawn_blocking(move || node2.progress(signer, id, &p))
        .await
        .map_err(|e| Error::Corrupt(e.to_string()))??;
    Ok(Json(r).into_response())
}

#[utoipa::path(post, path = "/jobs/{id}/result", tag = "providers", security(("signedRequest" = [])),
    params(("id" = u64, Path, description = "Job id")),
    request_body = RunReport,
    responses((status = 200, description = "The job with its result", body = JobView),
        (status = 409, description = "The job is not leased to the signer, or the report contradicts the chain", body = ErrorBody),
        (status = 502, description = "The chain could not be read", body = ErrorBody)))]
async fn result(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = signed_job_post(&node, &headers, &id, "result", &body)?;
    let report: RunReport = parse(&body, "RunReport")?;
    if report.job_id != job_id(&id)? {
        return Err(Error::BadRequest(format!(
            "the report is for job {}, posted to job {id}",
            report.job_id
        )));
    }
    Ok(Json(node.report(signer, report).await?).into_response())
}

#[utoipa::path(post, path = "/providers", tag = "providers", security(("signedRequest" = [])),
    request_body = ProviderAdvert,
    responses((status = 200, description = "The provider as the node sees it (with a calibration to answer, if any)", body = ProviderView),
        (status = 409, description = "The chain refused (not staked enough)", body = ErrorBody),
        (status = 502, description = "The chain could not be read", body = ErrorBody)))]
async fn advertise(State(node): State<Node>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let signer = auth::verify(&node.shared.replays, &headers, "POST", "/providers", &body)?;
    let ad: ProviderAdvert = parse(&body, "ProviderAdvert")?;
    Ok(Json(node.advertise(signer, ad).await?).into_response())
}

#[utoipa::path(get, path = "/providers", tag = "providers",
    responses((status = 200, description = "Every provider the node knows", body = Vec<ProviderView>)))]
async fn providers(State(node): State<Node>) -> Result<Response> {
    Ok(Json(node.providers()?).into_response())
}

#[utoipa::path(get, path = "/providers/{addr}", tag = "providers",
    params(("addr" = String, Path, description = "The provider's 0x address")),
    responses((status = 200, description = "The provider", body = ProviderView)))]
async fn provider(State(node): State<Node>, Path(addr): Path<String>) -> Result<Response> {
    Ok(Json(node.provider(&addr)?).into_response())
}

#[utoipa::path(post, path = "/providers/{addr}/heartbeat", tag = "providers", security(("signedRequest" = [])),
    params(("addr" = String, Path, description = "The provider's 0x address; must be the signer")),
    request_body = Heartbeat,
    responses((status = 200, description = "Jobs to abandon or cancel", body = HeartbeatReply)))]
async fn heartbeat(
    State(node): State<Node>,
    Path(addr): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let path = format!("/providers/{addr}/heartbeat");
    let signer = provider_signer(&node.shared.replays, &headers, "POST", &path, &addr, &body)?;
    let hb: Heartbeat = parse(&body, "Heartbeat")?;
    Ok(Json(node.heartbeat(signer, &hb)?).into_response())
}

#[utoipa::path(post, path = "/providers/{addr}/calibration", tag = "providers", security(("signedRequest" = [])),
    params(("addr" = String, Path, description = "The provider's 0x address; must be the signer")),
    request_body = Answer,
    responses((status = 200, description = "The provider with the cores the answer verified", body = ProviderView),
        (status = 409, description = "No calibration is pending, or it expired", body = ErrorBody)))]
async fn calibration(
    State(node): State<Node>,
    Path(addr): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let path = format!("/providers/{addr}/calibration");
    let signer = provider_signer(&node.shared.replays, &headers, "POST", &path, &addr, &body)?;
    let answer: cairn_compute::calibration::Answer = parse(&body, "calibration Answer")?;
    Ok(Json(node.calibrate(signer, answer).await?).into_response())
}

#[utoipa::path(post, path = "/providers/{addr}/claim", tag = "providers", security(("signedRequest" = [])),
    description = "Long-polls for a lease. The body is empty (it is signed, not read).",
    params(("addr" = String, Path, description = "The provider's 0x address; must be the signer")),
    responses((status = 200, description = "A lease on a job", body = Assignment),
        (status = 204, description = "Nothing to run within the wait")))]
async fn claim(
    State(node): State<Node>,
    Path(addr): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let path = format!("/providers/{addr}/claim");
    let signer = provider_signer(&node.shared.replays, &headers, "POST", &path, &addr, &body)?;
    no_body(&body)?;
    let wait = node.shared.config.claim_wait;
    match node.claim_wait(signer, wait).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
