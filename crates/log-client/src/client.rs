//! A client for the log's HTTP API, used by the CLI, the agent and the node.
use crate::Bundle;
use base64::{Engine, engine::general_purpose::STANDARD};
use cairn_tlog::Hash;
use serde::Deserialize;
use std::time::Duration;

/// Why a log request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered.
    #[error("cannot reach the log at {url}: {reason}; is the log running at that address?")]
    Unreachable {
        /// Base URL.
        url: String,
        /// Transport error.
        reason: String,
    },
    /// The log answered with an error.
    #[error("the log refused ({status}): {detail}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The log's explanation.
        detail: String,
    },
    /// The answer did not parse.
    #[error("unexpected answer from the log: {0}")]
    Decode(String),
}

/// The body of `POST /add`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Submission {
    /// The DSSE envelope.
    #[schema(value_type = Object)]
    pub envelope: serde_json::Value,
    /// The signer's Ed25519 public key (hex or base64).
    pub public_key: String,
}

/// The answer to a submission.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitResponse {
    /// Entry index.
    pub index: u64,
    /// Whether the envelope was already logged.
    pub duplicate: bool,
    /// `sha256:` of the canonical envelope.
    pub envelope_digest: String,
    /// Whether a checkpoint covers it.
    pub integrated: bool,
    /// The offline bundle, when the submission waited for integration.
    #[serde(default)]
    pub bundle: Option<Bundle>,
}

/// HTTP client for one log.
#[derive(Debug, Clone)]
pub struct LogClient {
    base: String,
    http: reqwest::Client,
}

impl LogClient {
    /// A client for the log at `base` (e.g. `http://127.0.0.1:7300`).
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
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

    async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let resp = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        resp.text()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let resp = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        resp.json()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Submits an envelope; with `wait`, returns once it is integrated, with its bundle.
    pub async fn add(
        &self,
        submission: &Submission,
        wait: bool,
    ) -> Result<SubmitResponse, ClientError> {
        let q = if wait { "?wait=integrated" } else { "" };
        let resp = self
            .send(
                self.http
                    .post(format!("{}/add{q}", self.base))
                    .json(submission),
            )
            .await?;
        resp.json()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// The latest checkpoint note.
    pub async fn checkpoint(&self) -> Result<String, ClientError> {
        self.get_text("/checkpoint").await
    }

    /// The bundle of an integrated entry.
    pub async fn bundle(&self, index: u64) -> Result<Bundle, ClientError> {
        self.get_json(&format!("/bundle/{index}")).await
    }

    /// A consistency proof between two sizes.
    pub async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>, ClientError> {
        let text = self.get_text(&format!("/consistency/{old}/{new}")).await?;
        text.lines()
            .map(|l| {
                STANDARD
                    .decode(l)
                    .ok()
                    .and_then(|b| Hash::try_from(b.as_slice()).ok())
                    .ok_or_else(|| ClientError::Decode(format!("bad proof line {l:?}")))
            })
            .collect()
    }

    /// Entries that mention `digest`.
    pub async fn lineage(&self, digest: &str) -> Result<serde_json::Value, ClientError> {
        self.get_json(&format!("/lineage/{digest}")).await
    }

    /// The log's self-description.
    pub async fn info(&self) -> Result<serde_json::Value, ClientError> {
        self.get_json("/log").await
    }

    /// Stores a blob; returns its `sha256:` digest.
    pub async fn put_blob(&self, bytes: Vec<u8>) -> Result<String, ClientError> {
        let resp = self
            .send(self.http.put(format!("{}/blob", self.base)).body(bytes))
            .await?;
        let v: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        v["digest"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Decode("no digest".into()))
    }

    /// Fetches a blob by SHA-256 hex.
    pub async fn blob(&self, sha256_hex: &str) -> Result<Vec<u8>, ClientError> {
        let resp = self
            .send(
                self.http
                    .get(format!("{}/blob/sha256/{sha256_hex}", self.base)),
            )
            .await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?
            .to_vec())
    }
}
