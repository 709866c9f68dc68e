//! Model files: safetensors (written and read through candle) with the training recipe in the
//! header metadata, so an `infer` job needs nothing but the file.
//!
//! Tensors are `l<i>.weight` (`inputs × outputs`, row-major, as the kernels use them) and
//! `l<i>.bias`; metadata key `cairn.train` holds the `[train]` spec as JSON.
use crate::{Error, Result, train::layer_shapes};
use cairn_compute::TrainSpec;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

/// The metadata key of the training spec.
pub const SPEC_KEY: &str = "cairn.train";

/// The safetensors bytes of `params` (laid out as [`crate::train::TrainState::params`]).
pub fn encode(spec: &TrainSpec, params: &[f32]) -> Result<Vec<u8>> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    let mut off = 0;
    for (l, (i, o)) in layer_shapes(spec).into_iter().enumerate() {
        let w = Tensor::from_slice(&params[off..off + i * o], (i, o), &Device::Cpu)?;
        let b = Tensor::from_slice(&params[off + i * o..off + i * o + o], o, &Device::Cpu)?;
        off += i * o + o;
        tensors.push((format!("l{l}.weight"), w));
        tensors.push((format!("l{l}.bias"), b));
    }
    let meta = HashMap::from([(
        SPEC_KEY.to_owned(),
        String::from_utf8(spec.canonical_json()).expect("JSON is UTF-8"),
    )]);
    safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .map_err(|e| Error::malformed("model file", e.to_string()))
}

/// The spec and the parameters of a model file.
pub fn decode(bytes: &[u8]) -> Result<(TrainSpec, Vec<f32>)> {
    let bad = |d: String| Error::malformed("model file", d);
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(SPEC_KEY))
        .ok_or_else(|| bad(format!("no {SPEC_KEY} metadata (not a Cairn model)")))?;
    let spec: TrainSpec = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    spec.validate().map_err(|e| bad(e.to_string()))?;
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    let mut params = Vec::with_capacity(spec.parameters() as usize);
    for (l, (i, o)) in layer_shapes(&spec).into_iter().enumerate() {
        for (name, dims) in [
            (format!("l{l}.weight"), vec![i, o]),
            (format!("l{l}.bias"), vec![o]),
        ] {
            let t = tensors
                .get(&name)
                .ok_or_else(|| bad(format!("tensor {name} is missing")))?;
            if t.dims() != dims.as_slice() {
                return Err(bad(format!(
                    "tensor {name} has shape {:?}, not {dims:?}",
                    t.dims()
                )));
            }
            params.extend(
                t.flatten_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_vec1::<f32>()?,
            );
        }
    }
    Ok((spec, params))
}
