//! `training-run/v1`: a training job ran on some datasets with some code and hyper-parameters,
//! on some providers, and was (or was not) verified. The statement's subjects are what the run
//! produced (checkpoints, the model file); model statements point here by envelope digest.
use super::{Predicate, TRAINING_RUN_V1};
use crate::{Digest, FieldError, check, digest::BLAKE3};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Predicate of [`TRAINING_RUN_V1`] (`https://cairn.dev/attestation/training-run/v1`).
///
/// ```json
/// {"jobId": "job-42", "datasets": ["blake3:<64 hex>"], "code": "sha256:<64 hex>",
///  "hyperparameters": {"lr": 0.0003, "epochs": 3, "betas": [0.9, 0.999]},
///  "stepTraceRoot": "blake3:<64 hex>", "providers": ["provider-a"],
///  "verification": {"outcome": "verified", "method": "replay"}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingRunV1 {
    /// The job's id in the Cairn job system.
    pub job_id: String,
    /// Roots (`blake3:<hex>`) of the datasets trained on; at least one, no duplicates.
    pub datasets: Vec<Digest>,
    /// Digest of the training code (container image, wasm module, source archive, git commit).
    pub code: Digest,
    /// Hyper-parameters by name; values are strings, numbers, booleans or arrays of those.
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, Value>,
    /// Root of the committed per-step trace, when the run recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_trace_root: Option<Digest>,
    /// Ids of the compute providers that ran the job; at least one, no duplicates.
    pub providers: Vec<String>,
    /// Whether and how the run was verified.
    pub verification: Verification,
}

/// How a training run was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verification {
    /// The outcome.
    pub outcome: VerificationOutcome,
    /// The method used (`replay`, `spot-check`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Free-text detail (which steps were checked, why it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Outcome of verifying a training run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationOutcome {
    /// The run was checked and matched its claims.
    Verified,
    /// The run was checked and did not match its claims.
    Failed,
    /// The run was not (yet) checked.
    Unverified,
}

impl TrainingRunV1 {
    /// [`TRAINING_RUN_V1`].
    pub const PREDICATE_TYPE: &'static str = TRAINING_RUN_V1;
}

/// Whether `value` is a JSON scalar other than null.
fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

impl Predicate for TrainingRunV1 {
    fn predicate_type(&self) -> &'static str {
        TRAINING_RUN_V1
    }

    fn validate(&self) -> Result<(), FieldError> {
        check::text("predicate.jobId", &self.job_id)?;
        if self.datasets.is_empty() {
            return Err(FieldError::new(
                "predicate.datasets",
                "must list at least one dataset root",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, root) in self.datasets.iter().enumerate() {
            let path = format!("predicate.datasets[{i}]");
            check::algorithm(&path, root, BLAKE3)?;
            if !seen.insert(root) {
                return Err(FieldError::new(
                    path,
                    format!("duplicate dataset root {root}"),
                ));
            }
        }
        for (name, value) in &self.hyperparameters {
            let path = format!("predicate.hyperparameters.{name}");
            check::text(&path, name)?;
            let ok = is_scalar(value)
                || matches!(value, Value::Array(items) if items.iter().all(is_scalar));
            if !ok {
                return Err(FieldError::new(
                    path,
                    "must be a string, number, boolean, or an array of those",
                ));
            }
        }
        if self.providers.is_empty() {
            return Err(FieldError::new(
                "predicate.providers",
                "must list at least one provider",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, provider) in self.providers.iter().enumerate() {
            let path = format!("predicate.providers[{i}]");
            check::text(&path, provider)?;
            if !seen.insert(provider) {
                return Err(FieldError::new(
                    path,
                    format!("duplicate provider {provider:?}"),
                ));
            }
        }
        check::opt_text(
            "predicate.verification.method",
            self.verification.method.as_deref(),
        )?;
        if let Some(detail) = &self.verification.detail {
            check::prose("predicate.verification.detail", detail)?;
        }
        Ok(())
    }

    /// The dataset roots, then the code.
    fn upstream_digests(&self) -> Vec<Digest> {
        let mut digests = self.datasets.clone();
        digests.push(self.code.clone());
        digests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutation of a valid sample and the start of the error it must cause.
    type Case = (fn(&mut TrainingRunV1), &'static str);

    fn sample() -> TrainingRunV1 {
        TrainingRunV1 {
            job_id: "job-42".into(),
            datasets: vec![Digest::from_blake3([1; 32]), Digest::from_blake3([5; 32])],
            code: Digest::from_sha256([6; 32]),
            hyperparameters: BTreeMap::from([
                ("lr".to_owned(), serde_json::json!(0.0003)),
                ("betas".to_owned(), serde_json::json!([0.9, 0.999])),
            ]),
            step_trace_root: Some(Digest::from_blake3([7; 32])),
            providers: vec!["provider-a".into()],
            verification: Verification {
                outcome: VerificationOutcome::Verified,
                method: Some("replay".into()),
                detail: None,
            },
        }
    }

    #[test]
    fn valid_sample_passes_and_links_to_datasets_and_code() {
        let t = sample();
        t.validate().unwrap();
        assert_eq!(
            t.upstream_digests(),
            vec![
                Digest::from_blake3([1; 32]),
                Digest::from_blake3([5; 32]),
                Digest::from_sha256([6; 32]),
            ]
        );
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["verification"]["outcome"], "verified");
        assert_eq!(json["jobId"], "job-42");
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [Case; 8] = [
            (
                |t| t.job_id = String::new(),
                "predicate.jobId: must not be empty",
            ),
            (
                |t| t.datasets.clear(),
                "predicate.datasets: must list at least one",
            ),
            (
                |t| t.datasets[1] = Digest::from_sha256([5; 32]),
                "predicate.datasets[1]: must be a blake3 digest",
            ),
            (
                |t| t.datasets[1] = t.datasets[0].clone(),
                "predicate.datasets[1]: duplicate dataset root",
            ),
            (
                |t| {
                    t.hyperparameters
                        .insert("opt".into(), serde_json::json!({"nested": 1}));
                },
                "predicate.hyperparameters.opt: must be a string, number, boolean",
            ),
            (
                |t| t.providers.clear(),
                "predicate.providers: must list at least one",
            ),
            (
                |t| t.providers.push("provider-a".into()),
                "predicate.providers[1]: duplicate provider",
            ),
            (
                |t| t.verification.method = Some("\u{0}".into()),
                "predicate.verification.method: must not contain control characters",
            ),
        ];
        for (mutate, expected) in cases {
            let mut t = sample();
            mutate(&mut t);
            let err = t.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn unknown_outcome_is_rejected_when_decoding() {
        let mut json = serde_json::to_value(sample()).unwrap();
        json["verification"]["outcome"] = "probably".into();
        let err = crate::json::decode::<TrainingRunV1>(json, "predicate").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("predicate.verification.outcome: unknown variant `probably`"),
            "{err}"
        );
    }
}
