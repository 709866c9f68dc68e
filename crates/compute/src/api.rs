//! The node's HTTP API: request and answer bodies shared by `cairn-node` (server), `cairn-worker`
//! and the CLI (clients), so both sides compile against one definition.
//!
//! ```text
//! GET  /info                          NodeInfo: chain, contract, token, lease timing, receipt key
//! PUT  /blob                          bytes → BlobRef (content-addressed store)
//! GET  /blob/<sha256 hex>             bytes
//! POST /jobs                          signed by the requester: SubmitJob → JobView (payment
//!                                     already escrowed on chain)
//! GET  /jobs/<id>                     JobView (state, why, result, receipt)
//! GET  /jobs/<id>/logs                JobLogs (events, stdout, stderr)
//! POST /jobs/<id>/cancel              signed by the requester → JobView
//! POST /providers                     signed ProviderAdvert → ProviderView
//! POST /providers/<addr>/heartbeat    signed Heartbeat → HeartbeatReply
//! POST /providers/<addr>/claim        signed; long-polls for an Assignment (204: none)
//! POST /jobs/<id>/started             signed by the lease holder
//! POST /jobs/<id>/result              signed RunReport
//! POST /jobs/<id>/release             signed: the provider gives the job back
//! POST /jobs/<id>/progress            signed by the lease holder of a `train` job: Progress (a
//!                                     checkpoint it uploaded) → CheckpointRef
//! GET  /providers[/<addr>]            ProviderView(s)
//! GET  /events                        server-sent FeedEvents: job states, job history, providers
//! GET  /openapi.json                  this API as an OpenAPI 3.1 document
//! ```
//!
//! Requests that act for a provider or requester carry an `x-cairn-auth` header:
//! `<address>:<unix ms>:<0x signature>`, an EIP-191 personal-sign signature of
//! [`auth_message`] by that address's key. The node accepts a timestamp within
//! [`AUTH_MAX_SKEW_MS`] of its clock.
use crate::{JobKind, JobSpec, JobState, Price, Resources, StopReason};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The header that carries a request signature.
pub const AUTH_HEADER: &str = "x-cairn-auth";
/// How far a signed request's timestamp may be from the node's clock.
pub const AUTH_MAX_SKEW_MS: u64 = 60_000;

/// The text a client signs for a request: method, path, timestamp and the body's SHA-256, so a
/// signature cannot be replayed on another request or with another body.
pub fn auth_message(method: &str, path: &str, unix_ms: u64, body: &[u8]) -> String {
    auth_message_for(method, path, unix_ms, &Sha256::digest(body).into())
}

/// [`auth_message`] for a body whose SHA-256 is already known (a streamed upload).
pub fn auth_message_for(method: &str, path: &str, unix_ms: u64, body_sha256: &[u8; 32]) -> String {
    format!(
        "cairn-node-request\n{method} {path}\n{unix_ms}\n{}",
        hex::encode(body_sha256)
    )
}

/// What the node tells clients about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Software version.
    pub version: String,
    /// Chain id of the escrow contract.
    pub chain_id: u64,
    /// An RPC URL for that chain (clients may use their own).
    pub rpc_url: String,
    /// The ComputeMarket contract.
    pub market: String,
    /// The ERC-20 token of stakes and payments.
    pub token: String,
    /// The operator that assigns and settles (the node's chain account).
    pub operator: String,
    /// Minimum stake for a provider, in token base units.
    pub min_stake: String,
    /// How often workers should heartbeat.
    pub heartbeat_ms: u64,
    /// A lease lapses after this long without a heartbeat.
    pub lease_ms: u64,
    /// The node's Ed25519 receipt-signing key (base64).
    pub receipt_key: String,
    /// The transparency log receipts go to, if any.
    pub log: Option<String>,
}

/// A provider's offer, sent when its worker starts (and whenever it changes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderAdvert {
    /// Its chain address (`0x…`); must be the request signer.
    pub address: String,
    /// Resources offered.
    pub capacity: Resources,
    /// Its ask.
    pub ask: Price,
    /// GPU model names, as NVML reported them.
    #[serde(default)]
    pub gpu_names: Vec<String>,
    /// Job kinds its worker runs (a worker from before job kinds runs `wasm` only).
    #[serde(default = "wasm_only")]
    pub kinds: Vec<JobKind>,
    /// Devices its tensor runners use (`cpu`, `cuda:0`, ...).
    #[serde(default)]
    pub devices: Vec<String>,
    /// Worker software version.
    pub version: String,
}

/// The kinds of a provider that names none: `wasm`.
pub fn wasm_only() -> Vec<JobKind> {
    vec![JobKind::Wasm]
}

/// A provider as the node sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    /// Address.
    pub address: String,
    /// Resources offered.
    pub capacity: Resources,
    /// Resources not leased.
    pub free: Resources,
    /// Ask.
    pub ask: Price,
    /// GPU names.
    pub gpu_names: Vec<String>,
    /// Job kinds it runs.
    #[serde(default = "wasm_only")]
    pub kinds: Vec<JobKind>,
    /// Devices its tensor runners use.
    #[serde(default)]
    pub devices: Vec<String>,
    /// 0 to 1.
    pub reputation: f64,
    /// Heartbeats current.
    pub online: bool,
    /// Milliseconds since the last heartbeat.
    pub last_seen_ms_ago: u64,
    /// Jobs it completed and was paid for (or will be).
    pub jobs_completed: u64,
    /// Jobs that ended in a module fault on it (not held against it).
    pub jobs_failed: u64,
    /// Leases it lost by missing heartbeats.
    pub leases_lost: u64,
    /// Token base units settled to it.
    pub earned: u64,
    /// Jobs it holds now.
    pub leased: Vec<u64>,
    /// Cores the node has verified by calibration (`None`: not yet); only these are matched.
    #[serde(default)]
    pub verified_cores: Option<u32>,
    /// A calibration the provider must answer before it is matched (`POST
    /// /providers/{address}/calibration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::calibration::Challenge>,
    /// Accepted `train` results since its first or its last invalid one: the verification
    /// policy audits its next result with probability 1 during probation, then about 1/streak
    /// ([`crate::verify::Policy`]).
    #[serde(default)]
    pub valid_streak: u64,
}

/// A worker's heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// Jobs it is running.
    #[serde(default)]
    pub running: Vec<u64>,
}

/// The node's answer to a heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatReply {
    /// Jobs the worker should abandon: no longer its own (the lease lapsed or went to
    /// another provider). Nothing is reported for them.
    pub abandon: Vec<u64>,
    /// Jobs the requester cancelled while they ran: stop the sandbox at once and report the
    /// metering (the work done so far is paid).
    #[serde(default)]
    pub cancel: Vec<u64>,
}

/// `GET /jobs`: a page of jobs, newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobQuery {
    /// Only this requester's jobs (`0x…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    /// Only jobs in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// Only jobs with ids below this one (the next page: the last id of this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// At most this many (1 to 500; default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The most jobs one `GET /jobs` page holds.
pub const MAX_JOB_PAGE: usize = 500;

/// A lease on a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// Job id (the escrow contract's job id).
    pub job_id: u64,
    /// What to run.
    pub spec: JobSpec,
    /// Attempt number (1 for the first provider).
    pub attempt: u32,
    /// Unix ms by which the result must be committed on chain.
    pub deadline_unix_ms: u64,
    /// A `train` job another provider started and did not finish: the checkpoints it left in
    /// the node's store, in step order from step 0 (empty: start afresh). The new provider
    /// fetches them, checks them against their digests and continues from the last one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resume: Vec<CheckpointRef>,
}

/// `POST /jobs/<id>/progress`: the lease holder of a running `train` job uploaded the checkpoint
/// it wrote at `step` (with `PUT /blob`). The node keeps the job's checkpoints in order, so
/// another provider can resume from the last one if this one fails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Progress {
    /// The step the checkpoint was taken at (one of the spec's checkpoint steps, the next one
    /// after those the node holds).
    pub step: u64,
    /// The checkpoint's bytes in the node's store.
    pub checkpoint: crate::BlobRef,
}

/// A checkpoint of a running `train` job the node holds (present in its store, decoded under
/// the job's spec and at its scheduled step).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointRef {
    /// Its step.
    pub step: u64,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The provider that wrote it (`0x…`).
    pub provider: String,
}

impl CheckpointRef {
    /// The blob to fetch.
    pub fn blob(&self) -> crate::BlobRef {
        crate::BlobRef {
            sha256: self.sha256.clone(),
            size: self.size,
        }
    }
}

/// A `train` job that moved to another provider after its provider failed, and where it went
/// on from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resumed {
    /// The step of the checkpoint it continues from.
    pub step: u64,
    /// That checkpoint's hex SHA-256.
    pub checkpoint: String,
    /// The provider that continues it.
    pub provider: String,
    /// The provider that failed (it wrote the checkpoint).
    pub failed: String,
}

impl std::fmt::Display for Resumed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resumed from step {} (checkpoint sha256:{}) on provider {} after provider {} failed",
            self.step, self.checkpoint, self.provider, self.failed
        )
    }
}

/// The requester's submission, after escrowing payment with the spec's digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitJob {
    /// The escrow's job id.
    pub job_id: u64,
    /// The spec whose digest was escrowed.
    pub spec: JobSpec,
}

/// A file a job produced.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputRef {
    /// Path under `/output` (or `stdout`/`stderr` for the streams).
    pub name: String,
    /// Hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

impl OutputRef {
    /// The reference for `bytes` named `name`.
    pub fn of(name: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            name: name.into(),
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }
}

/// The digest a provider commits on chain: SHA-256 of the canonical JSON
/// `{"files":[...sorted by name...],"stdout":<OutputRef>}`. Two honest providers running the
/// same deterministic module produce the same digest.
pub fn output_digest(files: &[OutputRef], stdout: &OutputRef) -> [u8; 32] {
    let mut sorted = files.to_vec();
    sorted.sort();
    let doc = serde_json::json!({ "files": sorted, "stdout": stdout });
    Sha256::digest(serde_json::to_vec(&doc).expect("serializable")).into()
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum RunOutcome {
    /// Exit status 0; outputs are the result.
    Succeeded,
    /// Stopped by the sandbox or a non-zero exit.
    Failed {
        /// Why.
        reason: StopReason,
    },
}

/// What a worker reports when a run ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunReport {
    /// Job id.
    pub job_id: u64,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Metered units consumed: fuel for `wasm`, `steps × parameters` for `train`,
    /// `samples × parameters` for `infer`.
    pub fuel_used: u64,
    /// Wall time in milliseconds.
    pub wall_time_ms: u64,
    /// Files under `/output`, uploaded to the node's store.
    pub outputs: Vec<OutputRef>,
    /// Standard output, uploaded.
    pub stdout: OutputRef,
    /// Standard error, uploaded.
    pub stderr: OutputRef,
    /// Hex [`output_digest`], committed on chain for a success.
    pub output_digest: String,
    /// Hex trace root committed with it.
    pub trace_root: String,
    /// The commit transaction, for a success.
    pub commit_tx: Option<String>,
}

/// A job as `cairn job status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    /// Job id.
    pub id: u64,
    /// Spec name.
    pub name: String,
    /// State.
    pub state: JobState,
    /// Why it is stuck, waiting or stopped, in words (None when simply progressing).
    pub reason: Option<String>,
    /// The structured stop reason, for terminal states other than `settled`.
    pub stop: Option<StopReason>,
    /// Requester address.
    pub requester: String,
    /// Current (or last) provider.
    pub provider: Option<String>,
    /// Providers that held it, in order.
    pub providers: Vec<String>,
    /// Hex SHA-256 of the spec.
    pub spec_digest: String,
    /// Escrowed payment, token base units.
    pub payment: u64,
    /// Paid to the provider (after the fee), once settled.
    pub paid: Option<u64>,
    /// Refunded to the requester, once refunded.
    pub refunded: Option<u64>,
    /// Unix ms of submission.
    pub submitted_ms: u64,
    /// Unix ms a provider started it (latest attempt).
    pub started_ms: Option<u64>,
    /// Unix ms it reached a terminal state.
    pub finished_ms: Option<u64>,
    /// The run report, when one came in.
    pub result: Option<RunReport>,
    /// The receipt in the transparency log.
    pub receipt: Option<ReceiptRef>,
    /// Chain transactions about it, by purpose (`assign`, `commit`, `settle`, `refund`, ...).
    /// (Pairs `[purpose, transaction hash]`.)
    #[schema(value_type = Vec<Vec<String>>)]
    pub txs: Vec<(String, String)>,
    /// How its result was verified (`train` jobs: the node's sampled step audit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditView>,
    /// Whether the verification policy checks its result, how and why (`train` and `wasm`
    /// jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::verify::Decision>,
    /// The replication of a checked `wasm` result: the replica jobs, their providers and
    /// whether their outputs agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationView>,
    /// For a replica job: the job whose result it re-runs (the operator escrowed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<u64>,
    /// The latest checkpoint a provider uploaded while running it (`train` jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<CheckpointRef>,
    /// Where it resumed after a provider failed (`train` jobs; the latest such hand-off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<Resumed>,
}

/// How a replicated result stands: the same job run again by other providers (other
/// addresses), the output digests and trace roots compared, a third run breaking a tie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationView {
    /// `waiting` (for a replica's result), `agreed`, `disagreed` (the original was the odd one
    /// out: disputed), `unreplicated` (no replica result before the deadline: the documented
    /// fallback) or `no-majority` (three different results).
    pub outcome: String,
    /// Chain time after which the node stops waiting for replicas (a margin before the
    /// original's challenge window closes, so a disagreement can still be challenged).
    pub deadline: u64,
    /// The replica jobs, in the order they were escrowed.
    pub replicas: Vec<ReplicaView>,
    /// What happened, in words (the latest step).
    pub detail: String,
}

impl ReplicationView {
    /// Whether the replicas decided the result (agreed, or found it wrong).
    pub fn decided(&self) -> bool {
        matches!(self.outcome.as_str(), "agreed" | "disagreed")
    }
}

/// One replica of a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaView {
    /// The replica's job id on the market.
    pub job: u64,
    /// The provider that ran it (once assigned).
    pub provider: Option<String>,
    /// Its committed output digest (once it committed).
    pub output_digest: Option<String>,
    /// Its committed trace root (once it committed).
    pub trace_root: Option<String>,
    /// Whether its output digest and trace root equal the original's (once it committed).
    pub agrees: Option<bool>,
    /// The replica ended without a result (expired, failed): another may take its place.
    #[serde(default)]
    pub gone: bool,
}

/// The node's sampled step audit of a `train` result: which segments of the committed trace it
/// re-executed, from which seed, at what cost, and what it found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// `sampled-step-audit`.
    pub method: String,
    /// `passed` or `failed`.
    pub outcome: String,
    /// The sampling seed: drawn from the node's secret and the committed result, so the
    /// provider could not know it before committing; published once the audit is done.
    pub seed: u64,
    /// Segments the node was configured to sample.
    pub samples: u32,
    /// The segments re-executed (segment `i`: checkpoint `i` to `i + 1`).
    pub segments: Vec<u64>,
    /// Training steps re-executed.
    pub steps_replayed: u64,
    /// Training steps of the whole run.
    pub steps_total: u64,
    /// Checkpoints fetched (with their inclusion proofs) of those in the trace.
    pub checkpoints_fetched: u64,
    /// Checkpoints in the trace.
    pub checkpoints_total: u64,
    /// Wall time of the audit, milliseconds.
    pub wall_ms: u64,
    /// What did not check out; empty when it passed.
    pub findings: Vec<String>,
}

impl AuditView {
    /// Whether the audit passed.
    pub fn passed(&self) -> bool {
        self.outcome == "passed"
    }
}

/// Where a job's receipt is in the transparency log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptRef {
    /// The log's URL.
    pub log: String,
    /// Entry index.
    pub index: u64,
    /// `sha256:` of the envelope.
    pub envelope_digest: String,
}

/// One event in a job's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobEvent {
    /// Unix ms.
    pub at_ms: u64,
    /// What happened.
    pub message: String,
}

/// What a live-feed event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum FeedKind {
    /// A job changed state: `{id, state, previous, name, requester, provider}`.
    Job,
    /// A line of a job's history: `{id, message}`.
    JobEvent,
    /// A provider's record changed (advertised, calibrated, paid, lost a lease): `{address,
    /// capacity, kinds, verifiedCores, jobsCompleted, jobsFailed, leasesLost, earned}`.
    Provider,
}

/// One event of the node's live feed (`GET /events`, server-sent events): the SSE `event` is
/// the kind, its `id` the event's id (resume with `Last-Event-ID`), its `data` this object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedEvent {
    /// Increasing id.
    pub id: u64,
    /// Unix ms the node recorded it.
    pub at_ms: u64,
    /// What it is about.
    pub kind: FeedKind,
    /// The details (see [`FeedKind`]).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `cairn job logs`: the node's history of the job and the run's streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLogs {
    /// Job id.
    pub id: u64,
    /// Events, oldest first.
    pub events: Vec<JobEvent>,
    /// Standard output of the last run (lossy UTF-8).
    pub stdout: Option<String>,
    /// Standard error of the last run (lossy UTF-8).
    pub stderr: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_digest_ignores_file_order_but_not_content() {
        let a = OutputRef::of("a.txt", b"1");
        let b = OutputRef::of("b.txt", b"2");
        let out = OutputRef::of("stdout", b"hi");
        let d1 = output_digest(&[a.clone(), b.clone()], &out);
        assert_eq!(d1, output_digest(&[b.clone(), a.clone()], &out));
        assert_ne!(d1, output_digest(&[a, OutputRef::of("b.txt", b"3")], &out));
    }

    #[test]
    fn auth_messages_bind_method_path_time_and_body() {
        let m = auth_message("POST", "/jobs/1/result", 5, b"{}");
        assert_ne!(m, auth_message("POST", "/jobs/2/result", 5, b"{}"));
        assert_ne!(m, auth_message("POST", "/jobs/1/result", 6, b"{}"));
        assert_ne!(m, auth_message("POST", "/jobs/1/result", 5, b"{ }"));
        assert!(m.starts_with("cairn-node-request\nPOST /jobs/1/result\n5\n"));
    }

    #[test]
    fn outcomes_serialize_with_a_status_tag() {
        let v = serde_json::to_value(RunOutcome::Failed {
            reason: StopReason::OutOfFuel { limit: 9 },
        })
        .unwrap();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["reason"]["kind"], "outOfFuel");
    }
}
