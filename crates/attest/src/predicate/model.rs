//! `model/v1`: a model file was produced by a training run. The statement's subject is the model
//! file; the predicate points at the training-run attestation by its envelope digest.
use super::{MODEL_V1, Predicate, require_subject};
use crate::{Digest, FieldError, Subject, check, digest::SHA256};
use serde::{Deserialize, Serialize};

/// Predicate of [`MODEL_V1`] (`https://cairn.dev/attestation/model/v1`).
///
/// ```json
/// {"model": "sha256:<64 hex>", "format": "safetensors",
///  "trainingRun": "sha256:<envelope digest>", "parameters": 124000000}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelV1 {
    /// `sha256` of the model file; must also be a subject of the statement.
    pub model: Digest,
    /// File format (`safetensors`, `gguf`, `onnx`, …).
    pub format: String,
    /// The training-run attestation: [`crate::Envelope::digest`] of its envelope, the digest the
    /// transparency log stores it under.
    pub training_run: Digest,
    /// Number of parameters, if known; at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
}

impl ModelV1 {
    /// [`MODEL_V1`].
    pub const PREDICATE_TYPE: &'static str = MODEL_V1;
}

impl Predicate for ModelV1 {
    fn predicate_type(&self) -> &'static str {
        MODEL_V1
    }

    fn validate(&self) -> Result<(), FieldError> {
        check::algorithm("predicate.model", &self.model, SHA256)?;
        check::text("predicate.format", &self.format)?;
        check::algorithm("predicate.trainingRun", &self.training_run, SHA256)?;
        if self.parameters == Some(0) {
            return Err(FieldError::new(
                "predicate.parameters",
                "must be at least 1 when present (omit it if unknown)",
            ));
        }
        Ok(())
    }

    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        require_subject(subjects, &self.model, "predicate.model")
    }

    /// The training-run envelope.
    fn upstream_digests(&self) -> Vec<Digest> {
        vec![self.training_run.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutation of a valid sample and the start of the error it must cause.
    type Case = (fn(&mut ModelV1), &'static str);

    fn sample() -> ModelV1 {
        ModelV1 {
            model: Digest::from_sha256([3; 32]),
            format: "safetensors".into(),
            training_run: Digest::from_sha256([4; 32]),
            parameters: Some(124_000_000),
        }
    }

    #[test]
    fn valid_sample_passes_and_links_to_training_run() {
        let m = sample();
        m.validate().unwrap();
        m.check_subjects(&[Subject::new("model.safetensors", &m.model)])
            .unwrap();
        assert_eq!(m.upstream_digests(), vec![Digest::from_sha256([4; 32])]);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [Case; 4] = [
            (
                |m| m.model = Digest::from_blake3([3; 32]),
                "predicate.model: must be a sha256",
            ),
            (
                |m| m.format = String::new(),
                "predicate.format: must not be empty",
            ),
            (
                |m| m.training_run = "gitCommit:abcd".parse().unwrap(),
                "predicate.trainingRun: must be a sha256",
            ),
            (
                |m| m.parameters = Some(0),
                "predicate.parameters: must be at least 1",
            ),
        ];
        for (mutate, expected) in cases {
            let mut m = sample();
            mutate(&mut m);
            let err = m.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
        let err = sample().check_subjects(&[]).unwrap_err().to_string();
        assert!(err.contains("predicate.model"), "{err}");
    }
}
