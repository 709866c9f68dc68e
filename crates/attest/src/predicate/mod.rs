//! Cairn predicate types: one typed struct per kind of claim, each with a versioned URI.
//!
//! The predicates link to each other by digest, so a verifier can walk from an output file back
//! to the data a model was trained on:
//!
//! ```text
//!  output file ──subject──▶ inference/v1 ──model──▶ model/v1 (subject: model file)
//!                               │                        │ trainingRun = envelope digest
//!                               └─input                  ▼
//!                                              training-run/v1 ──datasets──▶ dataset/v1 (root)
//!                                                        └─code
//!  decision/v1 ──plan, inputs──▶ (any attested artifact, e.g. an inference output)
//!  job-receipt/v1 (subject: outputs) ──spec, module, inputs, inputRoots──▶ dataset/v1 (root)
//! ```
//!
//! [`Predicate::upstream_digests`] lists the arrows leaving a statement;
//! [`crate::Statement::provided_digests`] and the envelope digest are what arrows land on.
use crate::{Digest, FieldError, Result, Subject, json, statement::unknown_predicate_type};
use serde::Serialize;
use serde_json::Value;

mod dataset;
mod decision;
mod dispute;
mod inference;
mod job_receipt;
mod model;
mod training_run;

pub use dataset::DatasetV1;
pub use decision::{DecisionKind, DecisionV1, Execution};
pub use dispute::{DisputeEvent, DisputeV1};
pub use inference::InferenceV1;
pub use job_receipt::{JobReceiptV1, ReceiptOutput, ReceiptPayment, ReceiptReplica};
pub use model::ModelV1;
pub use training_run::{TrainingRunV1, Verification, VerificationOutcome};

/// `predicateType` of [`DatasetV1`].
pub const DATASET_V1: &str = "https://cairn.dev/attestation/dataset/v1";
/// `predicateType` of [`ModelV1`].
pub const MODEL_V1: &str = "https://cairn.dev/attestation/model/v1";
/// `predicateType` of [`TrainingRunV1`].
pub const TRAINING_RUN_V1: &str = "https://cairn.dev/attestation/training-run/v1";
/// `predicateType` of [`InferenceV1`].
pub const INFERENCE_V1: &str = "https://cairn.dev/attestation/inference/v1";
/// `predicateType` of [`DecisionV1`].
pub const DECISION_V1: &str = "https://cairn.dev/attestation/decision/v1";
/// `predicateType` of [`JobReceiptV1`].
pub const JOB_RECEIPT_V1: &str = "https://cairn.dev/attestation/job-receipt/v1";
/// `predicateType` of [`DisputeV1`].
pub const DISPUTE_V1: &str = "https://cairn.dev/attestation/dispute/v1";

/// Every predicate type [`crate::parse_known_statement`] accepts.
pub const KNOWN_PREDICATE_TYPES: [&str; 7] = [
    DATASET_V1,
    MODEL_V1,
    TRAINING_RUN_V1,
    INFERENCE_V1,
    DECISION_V1,
    JOB_RECEIPT_V1,
    DISPUTE_V1,
];

/// A typed predicate: its type URI, its validation, and its lineage links.
pub trait Predicate: Serialize {
    /// The `predicateType` URI.
    fn predicate_type(&self) -> &'static str;

    /// Checks every field. Error paths start with `predicate` (`predicate.fileCount`), as in the
    /// statement JSON.
    fn validate(&self) -> Result<(), FieldError>;

    /// Checks that the statement's subjects include the artifact the predicate describes (a
    /// model statement must have the model file as a subject). Default: nothing to check.
    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        let _ = subjects;
        Ok(())
    }

    /// Digests of the artifacts and attestations this claim depends on, in field order: the
    /// edges a lineage walk follows upstream.
    fn upstream_digests(&self) -> Vec<Digest>;

    /// Digests other than the subjects' by which this statement can be found (a dataset's root).
    /// Default: none.
    fn identity_digests(&self) -> Vec<Digest> {
        Vec::new()
    }
}

/// Errors unless some subject carries `digest`; `field` is the predicate field that names it.
pub(crate) fn require_subject(
    subjects: &[Subject],
    digest: &Digest,
    field: &str,
) -> Result<(), FieldError> {
    if subjects.iter().any(|s| s.has_digest(digest)) {
        Ok(())
    } else {
        Err(FieldError::new(
            "subject",
            format!(
                "no subject has digest {digest}, named by {field}; list that artifact as a subject"
            ),
        ))
    }
}

/// Any one Cairn predicate, as returned by [`crate::parse_known_statement`]. Serializes as the
/// inner predicate.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum KnownPredicate {
    /// [`DATASET_V1`].
    Dataset(DatasetV1),
    /// [`MODEL_V1`].
    Model(ModelV1),
    /// [`TRAINING_RUN_V1`].
    TrainingRun(TrainingRunV1),
    /// [`INFERENCE_V1`].
    Inference(InferenceV1),
    /// [`DECISION_V1`].
    Decision(DecisionV1),
    /// [`JOB_RECEIPT_V1`].
    JobReceipt(JobReceiptV1),
    /// [`DISPUTE_V1`].
    Dispute(DisputeV1),
}

impl KnownPredicate {
    /// Decodes a predicate of type `predicate_type` from JSON. Does not validate field values
    /// (see [`Predicate::validate`]); decoding errors name the path under `predicate`.
    pub fn from_value(predicate_type: &str, value: Value) -> Result<Self> {
        const AT: &str = "predicate";
        Ok(match predicate_type {
            DATASET_V1 => Self::Dataset(json::decode(value, AT)?),
            MODEL_V1 => Self::Model(json::decode(value, AT)?),
            TRAINING_RUN_V1 => Self::TrainingRun(json::decode(value, AT)?),
            INFERENCE_V1 => Self::Inference(json::decode(value, AT)?),
            DECISION_V1 => Self::Decision(json::decode(value, AT)?),
            JOB_RECEIPT_V1 => Self::JobReceipt(json::decode(value, AT)?),
            DISPUTE_V1 => Self::Dispute(json::decode(value, AT)?),
            other => return Err(unknown_predicate_type(other)),
        })
    }

    /// The inner predicate as a trait object.
    fn inner(&self) -> &dyn DynPredicate {
        match self {
            Self::Dataset(p) => p,
            Self::Model(p) => p,
            Self::TrainingRun(p) => p,
            Self::Inference(p) => p,
            Self::Decision(p) => p,
            Self::JobReceipt(p) => p,
            Self::Dispute(p) => p,
        }
    }
}

/// The object-safe part of [`Predicate`], so [`KnownPredicate`] delegates in one place.
trait DynPredicate {
    fn predicate_type(&self) -> &'static str;
    fn validate(&self) -> Result<(), FieldError>;
    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError>;
    fn upstream_digests(&self) -> Vec<Digest>;
    fn identity_digests(&self) -> Vec<Digest>;
}

impl<P: Predicate> DynPredicate for P {
    fn predicate_type(&self) -> &'static str {
        Predicate::predicate_type(self)
    }
    fn validate(&self) -> Result<(), FieldError> {
        Predicate::validate(self)
    }
    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        Predicate::check_subjects(self, subjects)
    }
    fn upstream_digests(&self) -> Vec<Digest> {
        Predicate::upstream_digests(self)
    }
    fn identity_digests(&self) -> Vec<Digest> {
        Predicate::identity_digests(self)
    }
}

impl Predicate for KnownPredicate {
    fn predicate_type(&self) -> &'static str {
        self.inner().predicate_type()
    }
    fn validate(&self) -> Result<(), FieldError> {
        self.inner().validate()
    }
    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        self.inner().check_subjects(subjects)
    }
    fn upstream_digests(&self) -> Vec<Digest> {
        self.inner().upstream_digests()
    }
    fn identity_digests(&self) -> Vec<Digest> {
        self.inner().identity_digests()
    }
}

macro_rules! known_from {
    ($($ty:ident => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for KnownPredicate {
            fn from(predicate: $ty) -> Self {
                Self::$variant(predicate)
            }
        }
    )*};
}

known_from! {
    DatasetV1 => Dataset,
    ModelV1 => Model,
    TrainingRunV1 => TrainingRun,
    InferenceV1 => Inference,
    DecisionV1 => Decision,
    JobReceiptV1 => JobReceipt,
}
