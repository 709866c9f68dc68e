#![doc = include_str!("../README.md")]

pub mod agent_api;
mod audit;
mod auth;
mod chain_loop;
mod config;
mod dashboard;
pub mod dispute;
mod dispute_task;
mod error;
mod http;
pub mod ledger;
mod metrics;
mod node;
mod openapi;
mod progress;
mod receipts;
mod replication;
mod store;

pub use auth::sign_request;
/// The client side (moved to `cairn-node-client`), re-exported.
pub use cairn_node_client::{ClientError, NodeClient};
pub use config::{
    DEFAULT_AUDIT_SAMPLES, DEFAULT_BATCH, DEFAULT_BLOB_GRACE, DEFAULT_CLAIM_WAIT,
    DEFAULT_HEARTBEAT, DEFAULT_LEASE, DEFAULT_LISTEN, DEFAULT_OVERRUN_GRACE, DEFAULT_SLASH_BPS,
    DEFAULT_TICK, DEFAULT_WRITE_BURST_PER_ADDRESS, DEFAULT_WRITE_BURST_PER_KEY,
    DEFAULT_WRITES_PER_SEC_PER_ADDRESS, DEFAULT_WRITES_PER_SEC_PER_KEY, NodeConfig, WriteLimits,
};
pub use error::{Error, ErrorBody, Result};
pub use http::{MAX_BLOB_BYTES, router};
pub use ledger::{Ledger, MemoryLedger, Metered};
pub use node::Node;
pub use openapi::{OPENAPI_PATH, document as openapi_document};
