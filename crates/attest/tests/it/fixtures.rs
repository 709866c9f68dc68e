//! Sample keys and statements shared by the tests.
use cairn_attest::{
    DatasetV1, DecisionKind, DecisionV1, Digest, InferenceV1, Key, ModelV1, TrainingRunV1,
    Verification, VerificationOutcome,
};
use std::collections::BTreeMap;

/// RFC 8032 section 7.1 TEST 1 seed (also key "A" of the DSSE test vectors).
pub(crate) const SEED_A: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// RFC 8032 section 7.1 TEST 2 seed (key "B" of the DSSE test vectors).
pub(crate) const SEED_B: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

pub(crate) fn key(seed_hex: &str) -> Key {
    Key::from_seed(&hex::decode(seed_hex).unwrap().try_into().unwrap())
}

pub(crate) fn key_a() -> Key {
    key(SEED_A)
}

pub(crate) fn key_b() -> Key {
    key(SEED_B)
}

pub(crate) fn dataset(root: u8, manifest: &[u8]) -> DatasetV1 {
    DatasetV1 {
        name: format!("dataset-{root}"),
        root: Digest::from_blake3([root; 32]),
        file_count: 2,
        total_bytes: 2048,
        manifest: Digest::sha256_of(manifest),
        license: Some("CC0-1.0".into()),
        source: Some("https://example.org/data".into()),
    }
}

pub(crate) fn training_run(datasets: Vec<Digest>) -> TrainingRunV1 {
    TrainingRunV1 {
        job_id: "job-1".into(),
        datasets,
        code: Digest::sha256_of(b"train.py"),
        hyperparameters: BTreeMap::from([
            ("lr".to_owned(), serde_json::json!(0.001)),
            ("epochs".to_owned(), serde_json::json!(3)),
        ]),
        step_trace_root: None,
        providers: vec!["provider-a".into(), "provider-b".into()],
        verification: Verification {
            outcome: VerificationOutcome::Verified,
            method: Some("replay".into()),
            detail: None,
        },
    }
}

pub(crate) fn model(model_bytes: &[u8], training_run_envelope: Digest) -> ModelV1 {
    ModelV1 {
        model: Digest::sha256_of(model_bytes),
        format: "safetensors".into(),
        training_run: training_run_envelope,
        parameters: Some(1_000),
    }
}

pub(crate) fn inference(model_bytes: &[u8], input: &[u8], output: &[u8]) -> InferenceV1 {
    InferenceV1 {
        model: Digest::sha256_of(model_bytes),
        input: Digest::sha256_of(input),
        output: Digest::sha256_of(output),
        provider: Some("provider-a".into()),
        job_id: Some("job-2".into()),
    }
}

pub(crate) fn decision(plan: &[u8], inputs: Digest) -> DecisionV1 {
    DecisionV1 {
        plan: Digest::sha256_of(plan),
        inputs,
        kind: DecisionKind::Buy,
        amounts: BTreeMap::from([("amountIn".to_owned(), "500000".to_owned())]),
        reason: "model predicts +2% within the hour".into(),
        risk: BTreeMap::from([("maxDrawdown".to_owned(), 0.05)]),
        models: Vec::new(),
        execution: None,
    }
}
