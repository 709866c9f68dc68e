//! `inference/v1`: a receipt that a model turned an input into an output. The statement's subject
//! is the output; the predicate points at the model (found through its model statement) and the
//! input.
use super::{INFERENCE_V1, Predicate, require_subject};
use crate::{Digest, FieldError, Subject, check, digest::SHA256};
use serde::{Deserialize, Serialize};

/// Predicate of [`INFERENCE_V1`] (`https://cairn.dev/attestation/inference/v1`).
///
/// ```json
/// {"model": "sha256:<64 hex>", "input": "sha256:<64 hex>", "output": "sha256:<64 hex>",
///  "provider": "provider-a", "jobId": "job-43"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InferenceV1 {
    /// `sha256` of the model file (the subject of its model statement).
    pub model: Digest,
    /// Digest of the input.
    pub input: Digest,
    /// `sha256` of the output; must also be a subject of the statement.
    pub output: Digest,
    /// Id of the provider that ran the inference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The job's id in the Cairn job system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

impl InferenceV1 {
    /// [`INFERENCE_V1`].
    pub const PREDICATE_TYPE: &'static str = INFERENCE_V1;
}

impl Predicate for InferenceV1 {
    fn predicate_type(&self) -> &'static str {
        INFERENCE_V1
    }

    fn validate(&self) -> Result<(), FieldError> {
        check::algorithm("predicate.model", &self.model, SHA256)?;
        check::algorithm("predicate.output", &self.output, SHA256)?;
        check::opt_text("predicate.provider", self.provider.as_deref())?;
        check::opt_text("predicate.jobId", self.job_id.as_deref())
    }

    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        require_subject(subjects, &self.output, "predicate.output")
    }

    /// The model, then the input.
    fn upstream_digests(&self) -> Vec<Digest> {
        vec![self.model.clone(), self.input.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutation of a valid sample and the start of the error it must cause.
    type Case = (fn(&mut InferenceV1), &'static str);

    fn sample() -> InferenceV1 {
        InferenceV1 {
            model: Digest::from_sha256([3; 32]),
            input: Digest::from_sha256([8; 32]),
            output: Digest::from_sha256([9; 32]),
            provider: Some("provider-a".into()),
            job_id: None,
        }
    }

    #[test]
    fn valid_sample_passes_and_links_to_model_and_input() {
        let i = sample();
        i.validate().unwrap();
        i.check_subjects(&[Subject::new("out.json", &i.output)])
            .unwrap();
        assert_eq!(i.upstream_digests(), vec![i.model.clone(), i.input.clone()]);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [Case; 4] = [
            (
                |i| i.model = Digest::from_blake3([3; 32]),
                "predicate.model: must be a sha256",
            ),
            (
                |i| i.output = Digest::from_blake3([9; 32]),
                "predicate.output: must be a sha256",
            ),
            (
                |i| i.provider = Some("".into()),
                "predicate.provider: must not be empty",
            ),
            (
                |i| i.job_id = Some("a\tb".into()),
                "predicate.jobId: must not contain control",
            ),
        ];
        for (mutate, expected) in cases {
            let mut i = sample();
            mutate(&mut i);
            let err = i.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
        let input_only = [Subject::new("in", &sample().input)];
        let err = sample()
            .check_subjects(&input_only)
            .unwrap_err()
            .to_string();
        assert!(err.contains("predicate.output"), "{err}");
    }
}
