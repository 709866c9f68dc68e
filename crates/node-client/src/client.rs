//! A client of the node's HTTP API, for workers and the CLI. Requests that act for an account
//! are signed with its key ([`crate::sign_request`]).
use crate::sign_request;
use alloy::signers::local::PrivateKeySigner;
use cairn_compute::{
    BlobRef,
    api::{
        AUTH_HEADER, Assignment, CheckpointRef, Heartbeat, HeartbeatReply, JobLogs, JobView,
        NodeInfo, Progress, ProviderAdvert, ProviderView, RunReport, SubmitJob,
    },
};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a node request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered (or the connection broke): worth retrying.
    #[error("cannot reach the node at {url}: {reason}; is the node running at that address?")]
    Unreachable {
        /// Base URL.
        url: String,
        /// Transport error.
        reason: String,
    },
    /// The node answered with an error.
    #[error("the node refused ({status}): {detail}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The node's explanation.
        detail: String,
    },
    /// The answer did not parse.
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
}

impl ClientError {
    /// Whether retrying the same request later may succeed (transport failures and 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Api { status, .. } => *status >= 500 || *status == 429,
            Self::Decode(_) => false,
        }
    }
}

/// HTTP client for one node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    base: String,
    http: reqwest::Client,
    signer: Option<PrivateKeySigner>,
}

impl NodeClient {
    /// A client for the node at `base` (e.g. `http://127.0.0.1:7400`).
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
            signer: None,
        }
    }

    /// Signs requests with `signer`.
    pub fn with_signer(mut self, signer: PrivateKeySigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or(body);
        Err(ClientError::Api { status, detail })
    }

    async fn json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
        resp.json()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Self::json(
            self.send(self.http.get(format!("{}{path}", self.base)))
                .await?,
        )
        .await
    }

    /// POSTs `body` as JSON, signed when the client has a signer.
    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<reqwest::Response, ClientError> {
        let bytes = serde_json::to_vec(body).expect("serializable");
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(s) = &self.signer {
            req = req.header(AUTH_HEADER, sign_request(s, "POST", path, &bytes));
        }
        self.send(req.body(bytes)).await
    }

    /// The node's self-description, waiting up to `at_most` for a node that is still starting
    /// (connection refused) to answer.
    pub async fn info_when_up(&self, at_most: Duration) -> Result<NodeInfo, ClientError> {
        let deadline = std::time::Instant::now() + at_most;
        loop {
            match self.info().await {
                Err(ClientError::Unreachable { .. }) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                r => return r,
            }
        }
    }

    /// The node's self-description.
    pub async fn info(&self) -> Result<NodeInfo, ClientError> {
        self.get("/info").await
    }

    /// Stores a blob.
    pub async fn put_blob(&self, bytes: Vec<u8>) -> Result<BlobRef, ClientError> {
        let mut req = self
            .http
            .put(format!("{}/blob", self.base))
            .timeout(Duration::from_secs(600));
        if let Some(s) = self.signer.clone() {
            // Signing hashes the whole body: off the async runtime.
            let (header, bytes) = tokio::task::spawn_blocking(move || {
                (sign_request(&s, "PUT", "/blob", &bytes), bytes)
            })
            .await
            .map_err(|e| ClientError::Decode(format!("signing a blob upload: {e}")))?;
            req = req.header(AUTH_HEADER, header).body(bytes);
        } else {
            req = req.body(bytes);
        }
        let resp = self.send(req).await?;
        Self::json(resp).await
    }

    /// The size of the blob with SHA-256 `sha256` (hex), `None` when the store lacks it. Reads
    /// the blob (and checks its digest): meant for small blobs such as model files.
    pub async fn blob_size(&self, sha256: &str) -> Result<Option<u64>, ClientError> {
        let resp = match self
            .send(
                self.http
                    .get(format!("{}/blob/{sha256}", self.base))
                    .timeout(Duration::from_secs(600)),
            )
            .await
        {
            Ok(r) => r,
            Err(ClientError::Api { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        })?;
        if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)) != sha256 {
            return Err(ClientError::Decode(format!(
                "blob sha256:{sha256} came back with other content"
            )));
        }
        Ok(Some(bytes.len() as u64))
    }

    /// Fetches the bytes the node serves under `sha256`, unchecked: for a verifier that checks
    /// them against something else (a checkpoint against its trace root).
    pub async fn blob_as_served(&self, sha256: &str) -> Result<Vec<u8>, ClientError> {
        let resp = self
            .send(
                self.http
                    .get(format!("{}/blob/{sha256}", self.base))
                    .timeout(Duration::from_secs(600)),
            )
            .await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: e.to_string(),
            })?
            .to_vec())
    }

    /// Fetches a blob and checks it is the one named.
    pub async fn blob(&self, r: &BlobRef) -> Result<Vec<u8>, ClientError> {
        let resp = self
            .send(
                self.http
                    .get(format!("{}/blob/{}", self.base, r.sha256))
                    .timeout(Duration::from_secs(600)),
            )
            .await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: e.to_string(),
            })?
            .to_vec();
        // Hashing a large blob takes a while: off the async runtime.
        let check = r.clone();
        let (ok, bytes) = tokio::task::spawn_blocking(move || (check.matches(&bytes), bytes))
            .await
            .map_err(|e| ClientError::Decode(format!("checking a blob: {e}")))?;
        if !ok {
            return Err(ClientError::Decode(format!(
                "blob sha256:{} came back with other content",
                r.sha256
            )));
        }
        Ok(bytes)
    }

    /// Submits an escrowed job; the client's signer must be the escrow's requester.
    pub async fn submit(&self, req: &SubmitJob) -> Result<JobView, ClientError> {
        Self::json(self.post("/jobs", req).await?).await
    }

    /// Answers the node's calibration challenge (signed by the provider).
    pub async fn calibrate(
        &self,
        answer: &cairn_compute::calibration::Answer,
    ) -> Result<ProviderView, ClientError> {
        let who = self
            .signer
            .as_ref()
            .map(|s| s.address().to_string())
            .unwrap_or_default();
        Self::json(
            self.post(&format!("/providers/{who}/calibration"), answer)
                .await?,
        )
        .await
    }

    /// A page of jobs, newest first.
    pub async fn jobs(
        &self,
        q: &cairn_compute::api::JobQuery,
    ) -> Result<Vec<JobView>, ClientError> {
        let mut parts = Vec::new();
        if let Some(r) = &q.requester {
            parts.push(format!("requester={r}"));
        }
        if let Some(s) = q.state {
            parts.push(format!("state={}", s.as_str()));
        }
        if let Some(b) = q.before {
            parts.push(format!("before={b}"));
        }
        if let Some(l) = q.limit {
            parts.push(format!("limit={l}"));
        }
        self.get(&format!("/jobs?{}", parts.join("&"))).await
    }

    /// A job's status.
    pub async fn job(&self, id: u64) -> Result<JobView, ClientError> {
        self.get(&format!("/jobs/{id}")).await
    }

    /// A job's spec.
    pub async fn spec(&self, id: u64) -> Result<cairn_compute::JobSpec, ClientError> {
        self.get(&format!("/jobs/{id}/spec")).await
    }

    /// A job's history and streams.
    pub async fn logs(&self, id: u64) -> Result<JobLogs, ClientError> {
        self.get(&format!("/jobs/{id}/logs")).await
    }

    /// Cancels a job (signed by the requester).
    pub async fn cancel(&self, id: u64) -> Result<JobView, ClientError> {
        Self::json(
            self.post(&format!("/jobs/{id}/cancel"), &serde_json::json!({}))
                .await?,
        )
        .await
    }

    /// Advertises the signer as a provider.
    pub async fn advertise(&self, ad: &ProviderAdvert) -> Result<ProviderView, ClientError> {
        Self::json(self.post("/providers", ad).await?).await
    }

    /// A provider's view.
    pub async fn provider(&self, address: &str) -> Result<ProviderView, ClientError> {
        self.get(&format!("/providers/{address}")).await
    }

    /// Every provider.
    pub async fn providers(&self) -> Result<Vec<ProviderView>, ClientError> {
        self.get("/providers").await
    }

    fn me(&self) -> String {
        self.signer
            .as_ref()
            .map(|s| s.address().to_string())
            .unwrap_or_default()
    }

    /// Sends a heartbeat.
    pub async fn heartbeat(&self, hb: &Heartbeat) -> Result<HeartbeatReply, ClientError> {
        let path = format!("/providers/{}/heartbeat", self.me());
        Self::json(self.post(&path, hb).await?).await
    }

    /// Long-polls for a lease.
    pub async fn claim(&self) -> Result<Option<Assignment>, ClientError> {
        let path = format!("/providers/{}/claim", self.me());
        let resp = self.post(&path, &serde_json::json!({})).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        Self::json(resp).await.map(Some)
    }

    /// Reports that a leased job started.
    pub async fn started(&self, id: u64) -> Result<JobView, ClientError> {
        Self::json(
            self.post(&format!("/jobs/{id}/started"), &serde_json::json!({}))
                .await?,
        )
        .await
    }

    /// Gives a leased job back.
    pub async fn release(&self, id: u64, reason: &str) -> Result<JobView, ClientError> {
        Self::json(
            self.post(
                &format!("/jobs/{id}/release"),
                &serde_json::json!({ "reason": reason }),
            )
            .await?,
        )
        .await
    }

    /// Reports the checkpoint a running `train` job wrote at `step`, already uploaded with
    /// [`NodeClient::put_blob`].
    pub async fn progress(
        &self,
        id: u64,
        step: u64,
        checkpoint: &BlobRef,
    ) -> Result<CheckpointRef, ClientError> {
        let body = Progress {
            step,
            checkpoint: checkpoint.clone(),
        };
        Self::json(self.post(&format!("/jobs/{id}/progress"), &body).await?).await
    }

    /// Reports a run's end.
    pub async fn report(&self, report: &RunReport) -> Result<JobView, ClientError> {
        Self::json(
            self.post(&format!("/jobs/{}/result", report.job_id), report)
                .await?,
        )
        .await
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = inner.source();
    }
    s
}
