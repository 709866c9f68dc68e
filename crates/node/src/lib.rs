#![doc = include_str!("../README.md")]

mod audit;
mod auth;
mod chain_loop;
mod client;
mod config;
mod dashboard;
mod error;
mod http;
pub mod ledger;
mod node;
mod openapi;
mod receipts;
mod store;

pub use auth::sign_request;
pub use client::{ClientError, NodeClient};
pub use config::{
    DEFAULT_AUDIT_SAMPLES, DEFAULT_BATCH, DEFAULT_BLOB_GRACE, DEFAULT_CLAIM_WAIT,
    DEFAULT_HEARTBEAT, DEFAULT_LEASE, DEFAULT_LISTEN, DEFAULT_OVERRUN_GRACE, DEFAULT_SLASH_BPS,
    DEFAULT_TICK, NodeConfig,
};
pub use error::{Error, ErrorBody, Result};
pub use http::{MAX_BLOB_BYTES, router};
pub use ledger::{Ledger, MemoryLedger, Metered};
pub use node::Node;
pub use openapi::{OPENAPI_PATH, document as openapi_document};
