//! Model files: safetensors (written and read through candle) with the training recipe in the
//! header metadata, so an `infer` job needs nothing but the file.
//!
//! `mlp` tensors are `l<i>.weight` (`inputs × outputs`, row-major, as the kernels use them) and
//! `l<i>.bias`; `gru` tensors are those of [`crate::gru::GruShape::tensors`]. Metadata key
//! `cairn.train` holds the `[train]` spec as JSON (the only metadata key: safetensors writes the
//! metadata map in hash order, so a second key would make the bytes vary between runs). A `gru`
//! model on a `chars` vocabulary also has the tensor `vocab.chars` (`u32` code points in id
//! order: the corpus decides them, so inference needs them to read prompts and write text).
use crate::{Error, Result, data::Vocab, gru::GruShape, train::layer_shapes};
use cairn_compute::TrainSpec;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

/// The metadata key of the training spec.
pub const SPEC_KEY: &str = "cairn.train";
/// The tensor of a `chars` vocabulary.
pub const VOCAB_TENSOR: &str = "vocab.chars";

/// The tensors of the spec's model, in parameter order: name and shape.
pub fn layout(spec: &TrainSpec) -> Vec<(String, Vec<usize>)> {
    if spec.model == "gru" {
        return GruShape::of(spec).tensors();
    }
    layer_shapes(spec)
        .into_iter()
        .enumerate()
        .flat_map(|(l, (i, o))| {
            [
                (format!("l{l}.weight"), vec![i, o]),
                (format!("l{l}.bias"), vec![o]),
            ]
        })
        .collect()
}

/// The safetensors bytes of `params` (laid out as [`crate::train::TrainState::params`]) of a
/// model without a `chars` vocabulary ([`encode_with_vocab`]).
pub fn encode(spec: &TrainSpec, params: &[f32]) -> Result<Vec<u8>> {
    encode_with_vocab(spec, params, None)
}

/// The safetensors bytes of `params`, with the dataset's vocabulary when it is `chars`.
pub fn encode_with_vocab(
    spec: &TrainSpec,
    params: &[f32],
    vocab: Option<&Vocab>,
) -> Result<Vec<u8>> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    let mut off = 0;
    for (name, dims) in layout(spec) {
        let len: usize = dims.iter().product();
        let slice = params.get(off..off + len).ok_or_else(|| {
            Error::malformed("model parameters", "fewer than the spec's model has")
        })?;
        tensors.push((name, Tensor::from_slice(slice, dims, &Device::Cpu)?));
        off += len;
    }
    if let Some(Vocab::Chars(chars)) = vocab {
        let points: Vec<u32> = chars.iter().map(|&c| u32::from(c)).collect();
        let n = points.len();
        tensors.push((
            VOCAB_TENSOR.to_owned(),
            Tensor::from_vec(points, n, &Device::Cpu)?,
        ));
    }
    let meta = HashMap::from([(
        SPEC_KEY.to_owned(),
        String::from_utf8(spec.canonical_json()).expect("JSON is UTF-8"),
    )]);
    safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .map_err(|e| Error::malformed("model file", e.to_string()))
}

/// The vocabulary of a model file: `chars` from its metadata, `bytes`, or none (`mlp`).
pub fn decode_vocab(bytes: &[u8]) -> Result<Option<Vocab>> {
    let (spec, _) = decode(bytes)?;
    if !spec.data.is_text() {
        return Ok(None);
    }
    if spec.data.vocab == "bytes" {
        return Ok(Some(Vocab::Bytes));
    }
    let bad = |d: String| Error::malformed("model file", d);
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    let t = tensors.get(VOCAB_TENSOR).ok_or_else(|| {
        bad(format!(
            "no tensor {VOCAB_TENSOR} (a chars model needs its vocabulary)"
        ))
    })?;
    let points = t
        .to_dtype(candle_core::DType::U32)
        .and_then(|t| t.to_vec1::<u32>())
        .map_err(|e| bad(format!("tensor {VOCAB_TENSOR}: {e}")))?;
    let chars: Vec<char> = points.iter().filter_map(|&p| char::from_u32(p)).collect();
    if chars.len() != points.len()
        || chars.len() > spec.data.vocab_size as usize
        || chars.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(bad(format!(
            "{VOCAB_TENSOR} is not at most {} distinct characters in ascending order",
            spec.data.vocab_size
        )));
    }
    Ok(Some(Vocab::Chars(chars)))
}

/// Whether `model` is exactly `params` under `spec`, with `vocab` (what an audit checks).
pub fn holds(model: &[u8], spec: &TrainSpec, params: &[f32], vocab: Option<&Vocab>) -> bool {
    match decode(model) {
        Ok((s, p)) if &s == spec && p == params => {
            decode_vocab(model).ok().flatten().as_ref() == vocab
        }
        _ => false,
    }
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
    for (name, dims) in layout(&spec) {
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
    Ok((spec, params))
}
