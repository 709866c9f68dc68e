//! What a provider hands a verifier for a `train` result (crates/ml): `trace.json` (the leaves
//! under the committed root) and the checkpoint files (training states) it names.
#![no_main]
use cairn_compute::JobFile;
use cairn_ml::{trace::TraceFile, train::TrainState};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A small reproducible MLP, the shape of the README's volatility job.
const JOB: &str = r#"
name = "fuzz"
kind = "train"
dataset = "data"
[price]
per_mfuel = 1
[train]
model = "mlp"
hidden = 4
layers = 1
seed = 1
optimiser = "adam"
learning_rate = 0.01
batch_size = 2
steps = 4
checkpoint_every = 2
[train.data]
reader = "market"
assets = ["BTC"]
window = 3
horizon = 1
"#;

fuzz_target!(|data: &[u8]| {
    static SPEC: OnceLock<cairn_compute::TrainSpec> = OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        JobFile::from_toml(JOB)
            .expect("the fuzz job parses")
            .train
            .expect("a train job")
    });
    if let Ok(state) = TrainState::from_bytes(data, spec) {
        // Whatever decodes encodes back to the same bytes.
        assert_eq!(state.to_bytes(), data);
    }
    if let Ok(trace) = serde_json::from_slice::<TraceFile>(data)
        && let Ok(leaves) = trace.leaf_hashes()
    {
        assert_eq!(leaves.len(), trace.steps.len());
        let _ = trace.root_bytes();
    }
});
