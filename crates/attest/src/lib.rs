#![doc = include_str!("../README.md")]

mod check;
mod digest;
mod dsse;
mod error;
mod json;
mod keys;
mod lineage;
pub mod predicate;
mod statement;

pub use digest::{BLAKE3, Digest, SHA256};
pub use dsse::{
    DEFAULT_MAX_ENVELOPE_BYTES, Envelope, Limits, PAYLOAD_TYPE_IN_TOTO, Signature, pae,
};
pub use error::{Error, FieldError, Result};
pub use keys::{KEY_ENV, Key, PublicKey, SECRET_KEY_PREFIX};
pub use lineage::{Lineage, LineageIndex, LineageStep};
pub use predicate::{
    DatasetV1, DecisionKind, DecisionV1, DisputeEvent, DisputeV1, InferenceV1, JobReceiptV1,
    KNOWN_PREDICATE_TYPES, KnownPredicate, ModelV1, Predicate, ReceiptOutput, ReceiptPayment,
    ReceiptReplica, TrainingRunV1, Verification, VerificationOutcome,
};
pub use statement::{
    STATEMENT_TYPE_V1, Statement, Subject, parse_known_statement, parse_statement,
};
