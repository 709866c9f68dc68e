//! The HTTP API (see [`cairn_compute::api`] for the routes and bodies).
use crate::{Error, Node, Result, auth};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use cairn_compute::{
    BlobRef,
    api::{Heartbeat, ProviderAdvert, RunReport, SubmitJob},
};
use serde::de::DeserializeOwned;

/// Largest blob the node stores (module or input): 256 MiB.
pub const MAX_BLOB_BYTES: usize = cairn_compute::MAX_OUTPUT as usize;
/// Largest JSON body.
const MAX_JSON_BYTES: usize = 4 << 20;

/// The node's router.
pub fn router(node: Node) -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/blob", put(put_blob).layer(DefaultBodyLimit::disable()))
        .route("/blob/{sha256}", get(get_blob))
        .route("/jobs", post(submit).get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/logs", get(logs))
        .route("/jobs/{id}/spec", get(spec))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/started", post(started))
        .route("/jobs/{id}/result", post(result))
        .route("/jobs/{id}/release", post(release))
        .route("/providers", post(advertise).get(providers))
        .route("/providers/{addr}", get(provider))
        .route("/providers/{addr}/heartbeat", post(heartbeat))
        .route("/providers/{addr}/claim", post(claim))
        .route("/providers/{addr}/calibration", post(calibration))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .with_state(node)
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("the body must be a JSON {what}: {e}")))
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

async fn info(State(node): State<Node>) -> Response {
    Json(node.info()).into_response()
}

/// Stores a blob from a signed request (a requester's module and inputs, a provider's
/// outputs). The body streams to a temporary file while it is hashed, so a large upload never
/// sits in memory nor blocks the runtime; the signature (over the body's SHA-256) is checked
/// before the blob becomes visible. Unreferenced blobs are collected after a grace period.
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

async fn submit(State(node): State<Node>, body: Bytes) -> Result<Response> {
    let req: SubmitJob = parse(&body, "SubmitJob")?;
    let view = node.submit(req).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

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

async fn job(State(node): State<Node>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(node.job(job_id(&id)?)?).into_response())
}

async fn spec(State(node): State<Node>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(node.spec(job_id(&id)?)?).into_response())
}

async fn logs(State(node): State<Node>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(node.logs(job_id(&id)?)?).into_response())
}

async fn cancel(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = auth::verify(
        &node.shared.replays,
        &headers,
        "POST",
        &format!("/jobs/{id}/cancel"),
        &body,
    )?;
    Ok(Json(node.cancel(signer, job_id(&id)?)?).into_response())
}

async fn started(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = auth::verify(
        &node.shared.replays,
        &headers,
        "POST",
        &format!("/jobs/{id}/started"),
        &body,
    )?;
    Ok(Json(node.started(signer, job_id(&id)?)?).into_response())
}

async fn release(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = auth::verify(
        &node.shared.replays,
        &headers,
        "POST",
        &format!("/jobs/{id}/release"),
        &body,
    )?;
    let why: serde_json::Value = parse(&body, "{\"reason\": ...}")?;
    let why = why["reason"]
        .as_str()
        .unwrap_or("no reason given")
        .to_owned();
    Ok(Json(node.release(signer, job_id(&id)?, &why)?).into_response())
}

async fn result(
    State(node): State<Node>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let signer = auth::verify(
        &node.shared.replays,
        &headers,
        "POST",
        &format!("/jobs/{id}/result"),
        &body,
    )?;
    let report: RunReport = parse(&body, "RunReport")?;
    if report.job_id != job_id(&id)? {
        return Err(Error::BadRequest(format!(
            "the report is for job {}, posted to job {id}",
            report.job_id
        )));
    }
    Ok(Json(node.report(signer, report).await?).into_response())
}

async fn advertise(State(node): State<Node>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let signer = auth::verify(&node.shared.replays, &headers, "POST", "/providers", &body)?;
    let ad: ProviderAdvert = parse(&body, "ProviderAdvert")?;
    Ok(Json(node.advertise(signer, ad).await?).into_response())
}

async fn providers(State(node): State<Node>) -> Result<Response> {
    Ok(Json(node.providers()?).into_response())
}

async fn provider(State(node): State<Node>, Path(addr): Path<String>) -> Result<Response> {
    Ok(Json(node.provider(&addr)?).into_response())
}

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

async fn claim(
    State(node): State<Node>,
    Path(addr): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let path = format!("/providers/{addr}/claim");
    let signer = provider_signer(&node.shared.replays, &headers, "POST", &path, &addr, &body)?;
    let wait = node.shared.config.claim_wait;
    match node.claim_wait(signer, wait).await? {
        Some(a) => Ok(Json(a).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
