//! The transparency log as an HTTP service.
//!
//! ```text
//! GET  /checkpoint                     signed note (log signature + witness cosignatures)
//! GET  /tile/<L>/<N>[.p/<W>]           C2SP tlog-tiles hash tiles
//! GET  /tile/entries/<N>[.p/<W>]       entry bundles (big-endian u16 length prefixes)
//! POST /add                            {"envelope": DSSE, "publicKey": base64|hex} → {"index", ...}
//!                                      (?wait=integrated also returns the tlog-proof)
//! GET  /proof/<index>                  C2SP tlog-proof against the latest checkpoint
//! GET  /consistency/<old>/<new>        consistency proof, one base64 hash per line
//! GET  /entry/<index>                  the entry, its envelope and the signer's public key
//! GET  /blob/sha256/<hex>              content-addressed blobs (envelopes, keys, manifests)
//! PUT  /blob                           store a blob → {"digest": "sha256:<hex>"}: only a blob a
//!                                      logged statement names, or with an upload token
//! GET  /lineage/<alg:hex>              entries mentioning a digest
//! GET  /log                            origin, verifier key, size, witnesses, anchor contract
//! GET  /anchor                         the latest on-chain anchor (tx, block, size, root, contract)
//! GET  /metrics                        Prometheus text format
//! GET  /openapi.json                   this API as an OpenAPI 3.1 document
//! ```
//!
//! Errors are JSON `{"error": ..., "detail": ...}` (unknown routes and bodies over a route's
//! limit too) with a 4xx status for bad input, 401 for an envelope whose signature does not
//! verify, 429 over a
//! client's rate limit (per address and per signer key, see [`RateLimits`]), 503 when the log
//! is read-only after detecting damage, 507 while its disk is full.
//!
//! Serve the router with `into_make_service_with_connect_info::<SocketAddr>()` so limits apply
//! per client address (without it, all clients share one budget).

mod api;
pub mod bench;
mod blobs;
mod cosign;
mod error;
mod limits;
mod openapi;
mod periodic_anchor;
mod starting;
mod submit;

pub use api::{AppState, MAX_BLOB_BYTES, ServerConfig, router};
pub use blobs::BlobStore;
/// The client side (moved to `cairn-log-client`), re-exported for code that serves and reads.
pub use cairn_log_client::{
    BUNDLE_MEDIA_TYPE, Bundle, BundleEntry, ClientError, LogClient, SubmitResponse, TrustPolicy,
    Verified,
};
pub use cosign::{WitnessEndpoint, cosign_loop};
pub use error::{ApiError, json_errors};
pub use limits::{
    DEFAULT_ADD_BURST_PER_ADDRESS, DEFAULT_ADD_BURST_PER_KEY, DEFAULT_ADDS_PER_SEC_PER_ADDRESS,
    DEFAULT_ADDS_PER_SEC_PER_KEY, DEFAULT_BLOB_BURST_PER_ADDRESS,
    DEFAULT_BLOB_BYTES_PER_SEC_PER_ADDRESS, Limiter, RateLimits,
};
pub use openapi::{
    AddAnswer, BlobStored, EntryAnswer, ErrorBody, LineageAnswer, LineageHit, LogInfo,
    OPENAPI_PATH, add_common_errors, document as openapi_document,
};
pub use periodic_anchor::{AnchorStatus, AnchorWatch, anchor_loop, anchor_once};
pub use starting::{StartingRouter, WAIT_FOR_OPEN};
pub use submit::{Submission, kind_of, mentions_of, prepare, statement_mentions};
