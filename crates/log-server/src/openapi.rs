//! The log service's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes; served at [`OPENAPI_PATH`]. The tlog-tiles read paths are documented as the
//! text and bytes C2SP specifies; the JSON answers built in the handlers are described by the
//! types below.
use crate::{Bundle, api, submit::Submission};
use serde::{Deserialize, Serialize};
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::{
        self, Content, HttpMethod, Ref, ResponseBuilder,
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

/// Where the log serves its OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The body of every error answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Short code: `bad_request`, `not_found`, `too_large`, `forbidden`, `rate_limited`,
    /// `unavailable`, `read_only`, `starting`, `storage_full`, `method_not_allowed`,
    /// `internal`.
    pub error: String,
    /// What was wrong and what to do.
    pub detail: String,
}

/// `POST /add`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddAnswer {
    /// The entry's index.
    pub index: u64,
    /// The same envelope was already in the log (this is its entry).
    pub duplicate: bool,
    /// `sha256:` of the envelope's canonical JSON.
    pub envelope_digest: String,
    /// Whether a served checkpoint covers the entry (only with `?wait=integrated`).
    pub integrated: bool,
    /// The offline-verifiable bundle (only with `?wait=integrated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Bundle>,
}

/// `GET /entry/{index}`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryAnswer {
    /// Entry index.
    pub index: u64,
    /// Whether a served checkpoint covers it.
    pub integrated: bool,
    /// The log entry (kind, time, digests).
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
    /// The DSSE envelope.
    #[schema(value_type = Object)]
    pub envelope: serde_json::Value,
    /// The signer's Ed25519 public key (base64), if stored.
    pub public_key: Option<String>,
}

/// `PUT /blob`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BlobStored {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

/// One entry of a lineage answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineageHit {
    /// Entry index.
    pub index: u64,
    /// How the statement mentions the digest (subject, material, ...).
    pub role: String,
    /// Statement kind.
    pub kind: String,
    /// Whether a served checkpoint covers it.
    pub integrated: bool,
    /// `sha256:` of the envelope.
    pub envelope_digest: String,
    /// The statement's predicate type.
    pub predicate_type: Option<String>,
    /// The statement's subjects.
    #[schema(value_type = Option<Vec<Object>>)]
    pub subject: Option<serde_json::Value>,
}

/// `GET /lineage/{digest}`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LineageAnswer {
    /// The digest asked about, normalised.
    pub digest: String,
    /// Entries mentioning it.
    pub entries: Vec<LineageHit>,
}

/// `GET /log`'s answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogInfo {
    /// The log's origin line.
    pub origin: String,
    /// The checkpoint verifier key (C2SP note format).
    pub verifier_key: String,
    /// Entries covered by the served checkpoint.
    pub size: u64,
    /// Entries covered by the latest checkpoint the log signed.
    pub signed_size: u64,
    /// Why the log is read-only, if it is.
    pub read_only: Option<String>,
    /// The storage failure that stops writes, if any.
    pub storage_error: Option<String>,
    /// Witnesses: `{name, verifierKey}`.
    #[schema(value_type = Vec<Object>)]
    pub witnesses: Vec<serde_json::Value>,
    /// The anchor contract and chain, when anchoring is on.
    #[schema(value_type = Option<Object>)]
    pub anchor: Option<serde_json::Value>,
}

/// `GET /anchor`'s answer: where the log anchors its checkpoints and the latest anchor.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnchorAnswer {
    /// The `ProvenanceAnchor` contract (checksummed address).
    pub contract: String,
    /// The chain it is on.
    pub chain_id: u64,
    /// How often the log anchors a grown checkpoint, seconds.
    pub interval_secs: u64,
    /// The latest anchor on chain, once there is one.
    pub latest: Option<LatestAnchor>,
    /// Why the last attempt failed, if it did (the log retries).
    pub last_error: Option<String>,
    /// Unix ms of the last attempt.
    pub checked_ms: Option<u64>,
}

/// An anchored checkpoint: the tree size and root the chain holds, and the transaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatestAnchor {
    /// Entries the anchored checkpoint covers (entries `0..size`).
    pub size: u64,
    /// Its RFC 6962 root, 64 hex digits.
    pub root: String,
    /// The block the anchor transaction is in.
    pub block_number: u64,
    /// The anchor transaction (`0x` + 64 hex digits).
    pub tx_hash: String,
    /// Gas it used, when this process sent it.
    pub gas_used: Option<u64>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn transparency log",
        description = "A C2SP tlog-tiles transparency log of signed in-toto statements, with proofs, offline bundles, content-addressed blobs and a lineage index. Every error is JSON `{\"error\": <code>, \"detail\": <what was wrong>}`."
    ),
    paths(
        api::checkpoint,
        api::tile,
        api::add,
        api::proof,
        api::bundle,
        api::consistency,
        api::entry,
        api::blob,
        api::put_blob,
        api::lineage,
        api::info,
        api::anchor,
        api::metrics,
        api::openapi_json,
    ),
    components(schemas(ErrorBody, Submission)),
    modifiers(&CommonErrors),
    tags(
        (name = "tlog-tiles", description = "C2SP tlog-tiles read paths"),
        (name = "log", description = "Submissions, proofs, entries and lineage"),
        (name = "blobs", description = "Content-addressed blobs"),
    )
)]
struct LogApi;

/// The log service's OpenAPI document.
pub fn document() -> openapi::OpenApi {
    LogApi::openapi()
}

/// The document as served (built once).
pub(crate) fn document_json() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        document()
            .to_json()
            .expect("an OpenAPI document serializes")
    })
}

/// Adds the upload-token scheme and the error answers every operation can give.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "uploadToken",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        add_common_errors(
            doc,
            &["uploadToken"],
            "A write that needs a token (an upload nothing logged names) came with a wrong one",
        );
    }
}

/// Adds the error answers shared by every operation of `doc`: 400 and 500 everywhere, 404
/// where the path names something, 413 on writes, 401 (`unauthorized` says when) on
/// operations behind one of the security schemes named in `secured`. Shared with the node.
pub fn add_common_errors(doc: &mut openapi::OpenApi, secured: &[&str], unauthorized: &str) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            (HttpMethod::Get, item.get.as_mut()),
            (HttpMethod::Put, item.put.as_mut()),
            (HttpMethod::Post, item.post.as_mut()),
            (HttpMethod::Delete, item.delete.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let r = &mut op.responses.responses;
            let mut add = |code: &str, d: &str| {
                r.entry(code.to_owned()).or_insert_with(|| error(d).into());
            };
            add(
                "400",
                "The request is malformed: bad JSON, a bad parameter or a body that does not decode",
            );
            add(
                "500",
                "The server failed; the detail does not leak internals",
            );
            if path.contains('{') {
                add("404", "Nothing by that name");
            }
            if matches!(method, HttpMethod::Put | HttpMethod::Post) {
                add("413", "The body is over the route's limit");
            }
            let is_secured = op.security.as_ref().is_some_and(|reqs| {
                let v = serde_json::to_value(reqs).unwrap_or_default();
                secured
                    .iter()
                    .any(|s| v.to_string().contains(&format!("\"{s}\"")))
            });
            if is_secured {
                add("401", unauthorized);
            }
        }
    }
}
