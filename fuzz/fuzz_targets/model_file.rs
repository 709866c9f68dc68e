//! Model files (safetensors with Cairn's training spec in the header, crates/ml): what `infer`
//! jobs, `cairn agent run --vol-model` and the node's audits load from strangers.
#![no_main]
use cairn_ml::{forecast::VolModel, model_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let vocab = model_file::decode_vocab(data).ok().flatten();
    if let Ok((spec, params)) = model_file::decode(data) {
        // What decodes is what an audit finds the file holds (NaN is never equal to itself).
        if params.iter().all(|p| !p.is_nan()) {
            assert!(model_file::holds(data, &spec, &params, vocab.as_ref()));
        }
    }
    let _ = VolModel::from_bytes(data);
});
