//! A `train` or `infer` job end to end, as a provider's worker runs it: inputs in, output files,
//! the trace root and the metered units out.
//!
//! `train` outputs: `model.safetensors`, `metrics.csv` (`step,batch_loss,eval_loss`),
//! `trace.json` and every checkpoint under `checkpoints/` (what audits re-execute from).
//! `infer` outputs: `predictions.csv` for a market model; for a text model (`gru`)
//! `completions.jsonl`, one JSON object per prompt line of the other inputs (files in name
//! order, blank lines skipped):
//!
//! ```text
//! {"prompt":"the wor","next":[{"symbol":"l","p":0.61},…5 most likely],"completion":"ld is"}
//! ```
//!
//! `next` is the model's distribution over the symbol after the prompt (its five most likely
//! symbols, most likely first, ties by id); `completion` the `infer.generate` symbols it
//! generates greedily (each the most likely after everything before it). Both print a
//! one-line summary on stdout.
use crate::{
    Error, Result, data, gru, kernels, model_file,
    trace::{TraceFile, checkpoint_name, trace_root},
    train::{self, layer_shapes},
};
use cairn_compute::{InferSpec, TrainSpec, tensor::INFER_MODEL_INPUT};
use sha2::{Digest as _, Sha256};
use std::{fmt::Write as _, sync::atomic::AtomicBool};

/// What a tensor job produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRun {
    /// Files under `/output`, by name.
    pub outputs: Vec<(String, Vec<u8>)>,
    /// The summary line.
    pub stdout: Vec<u8>,
    /// The trace root committed with the result.
    pub trace_root: [u8; 32],
    /// Metered units (`steps × parameters`, or `samples × parameters`).
    pub units: u64,
}

/// Runs a `train` job.
pub fn run_train(
    spec: &TrainSpec,
    inputs: &[(String, Vec<u8>)],
    threads: usize,
    halt: &AtomicBool,
) -> Result<TensorRun> {
    match run_train_until_halted(spec, inputs, threads, halt)? {
        (run, true) => Ok(run),
        (_, false) => Err(Error::Cancelled),
    }
}

/// [`run_train`], but a halt returns what the run did up to its last checkpoint (and `false`):
/// the checkpoints so far, their `trace.json` and root, and the units of those steps
/// (`last checkpoint's step × parameters`) — what a stopped run is billed, proven by its trace.
pub fn run_train_until_halted(
    spec: &TrainSpec,
    inputs: &[(String, Vec<u8>)],
    threads: usize,
    halt: &AtomicBool,
) -> Result<(TensorRun, bool)> {
    run_train_resumed(spec, inputs, threads, halt, &[])
}

/// [`run_train_until_halted`] continuing from the first checkpoints of an earlier run of the
/// same job ([`train::resume`]): the outputs are those of an uninterrupted run (the same trace
/// root and model), except that `metrics.csv` has batch losses only for the steps run here.
pub fn run_train_resumed(
    spec: &TrainSpec,
    inputs: &[(String, Vec<u8>)],
    threads: usize,
    halt: &AtomicBool,
    earlier: &[Vec<u8>],
) -> Result<(TensorRun, bool)> {
    run_train_resumed_observed(spec, inputs, threads, halt, earlier, &mut |_, _| {})
}

/// [`run_train_resumed`], calling `on_checkpoint(step, bytes)` for each checkpoint as this run
/// writes it ([`train::resume_observed`]).
pub fn run_train_resumed_observed(
    spec: &TrainSpec,
    inputs: &[(String, Vec<u8>)],
    threads: usize,
    halt: &AtomicBool,
    earlier: &[Vec<u8>],
    on_checkpoint: &mut dyn FnMut(u64, &[u8]),
) -> Result<(TensorRun, bool)> {
    let samples = data::samples(&spec.data, "train.data", inputs)?;
    let (run, complete) =
        train::resume_observed(spec, &samples, threads, halt, earlier, on_checkpoint)?;
    if !complete {
        let steps: Vec<u64> = spec.checkpoint_steps()[..run.checkpoints.len()].to_vec();
        let trace = TraceFile::new(steps.clone(), &run.checkpoints);
        let done = steps.last().copied().unwrap_or(0);
        let mut outputs = vec![(
            "trace.json".to_owned(),
            serde_json::to_vec_pretty(&trace).expect("serializable"),
        )];
        for (step, bytes) in steps.iter().zip(&run.checkpoints) {
            outputs.push((checkpoint_name(*step), bytes.clone()));
        }
        let stdout = format!(
            "stopped after step {done} of {}: {} checkpoints in the trace\n",
            spec.steps,
            run.checkpoints.len()
        );
        return Ok((
            TensorRun {
                outputs,
                stdout: stdout.into_bytes(),
                trace_root: trace_root(&run.checkpoints),
                units: done.saturating_mul(spec.parameters()),
            },
            false,
        ));
    }
    let model = model_file::encode_with_vocab(spec, &run.state.params, samples.vocab.as_ref())?;
    let steps = spec.checkpoint_steps();
    let trace = TraceFile::new(steps.clone(), &run.checkpoints);
    let root = trace_root(&run.checkpoints);
    let mut metrics = String::from("step,batch_loss,eval_loss\n");
    let mut evals = run.eval.iter().peekable();
    for (s, loss) in run.losses.iter().enumerate() {
        let step = run.first_step + s as u64 + 1;
        let _ = write!(metrics, "{step},{loss}");
        if evals.peek().is_some_and(|(at, _)| *at < step) {
            evals.next();
        }
        match evals.peek() {
            Some((at, e)) if *at == step => {
                let _ = writeln!(metrics, ",{e}");
            }
            _ => metrics.push_str(",\n"),
        }
    }
    let last = run.eval.last().map_or(f32::NAN, |e| e.1);
    let stdout = format!(
        "trained {} ({} parameters) for {} steps on {} samples: loss {} → {}; trace root {}\n",
        spec.model,
        spec.parameters(),
        spec.steps,
        samples.n,
        run.eval.first().map_or(f32::NAN, |e| e.1),
        last,
        hex::encode(root)
    );
    let mut outputs = vec![
        ("model.safetensors".to_owned(), model),
        ("metrics.csv".to_owned(), metrics.into_bytes()),
        (
            "trace.json".to_owned(),
            serde_json::to_vec_pretty(&trace).expect("serializable"),
        ),
    ];
    for (step, bytes) in steps.iter().zip(run.checkpoints) {
        outputs.push((checkpoint_name(*step), bytes));
    }
    Ok((
        TensorRun {
            outputs,
            stdout: stdout.into_bytes(),
            trace_root: root,
            units: spec.work_units(),
        },
        true,
    ))
}

/// Runs an `infer` job: the model (input `model.safetensors`) over the samples the model's
/// reader makes of the other inputs, in batches. The trace is one leaf: the predictions.
pub fn run_infer(
    spec: &InferSpec,
    inputs: &[(String, Vec<u8>)],
    threads: usize,
    halt: &AtomicBool,
) -> Result<TensorRun> {
    let model = inputs
        .iter()
        .find(|(n, _)| n == INFER_MODEL_INPUT)
        .ok_or_else(|| Error::invalid("infer.model", format!("no input {INFER_MODEL_INPUT}")))?;
    let want = spec.model_sha256().unwrap_or_default();
    if hex::encode(Sha256::digest(&model.1)) != want {
        return Err(Error::invalid(
            "infer.model",
            format!("{INFER_MODEL_INPUT} is not {}", spec.model),
        ));
    }
    let (train_spec, params) = model_file::decode(&model.1)?;
    if train_spec.model == "gru" {
        return infer_text(spec, &train_spec, &params, &model.1, inputs, threads, halt);
    }
    let samples = data::market_samples(&train_spec.data, "infer.model", inputs)?;
    let shapes = layer_shapes(&train_spec);
    let batch = spec.batch_size as usize;
    let mut out = String::from("sample");
    for a in &train_spec.data.assets {
        let _ = write!(out, ",{a}_vol");
    }
    out.push('\n');
    for start in (0..samples.n).step_by(batch) {
        if halt.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let n = batch.min(samples.n - start);
        let x = &samples.x[start * samples.features..(start + n) * samples.features];
        let pred = train::predict(&shapes, &params, x, n, threads);
        for (r, row) in pred.chunks(samples.targets).enumerate() {
            let _ = write!(out, "{}", start + r);
            for v in row {
                // Back to the data's units (the reader scales by 10).
                let _ = write!(out, ",{}", v / 10.0);
            }
            out.push('\n');
        }
    }
    let bytes = out.into_bytes();
    let root = trace_root(std::slice::from_ref(&bytes));
    let stdout = format!(
        "inferred {} samples with model {} ({} parameters)\n",
        samples.n,
        spec.model,
        train_spec.parameters()
    );
    Ok(TensorRun {
        outputs: vec![("predictions.csv".to_owned(), bytes)],
        stdout: stdout.into_bytes(),
        trace_root: root,
        units: (samples.n as u64).saturating_mul(train_spec.parameters()),
    })
}

/// The prompts of a text `infer` job: every line of every input but the model, files in name
/// order, blank lines skipped, as symbol ids of `vocab`; with their text.
fn prompts(vocab: &data::Vocab, inputs: &[(String, Vec<u8>)]) -> Result<Vec<(String, Vec<usize>)>> {
    let mut files: Vec<&(String, Vec<u8>)> = inputs
        .iter()
        .filter(|(n, _)| n != INFER_MODEL_INPUT)
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (name, bytes) in files {
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let at = || format!("inputs: {name}, line {}", i + 1);
            let (text, ids) = match vocab {
                data::Vocab::Bytes => (
                    String::from_utf8_lossy(line).into_owned(),
                    line.iter().map(|&b| usize::from(b)).collect(),
                ),
                data::Vocab::Chars(_) => {
                    let text = std::str::from_utf8(line).map_err(|_| {
                        Error::invalid(at(), "a prompt for a chars model must be UTF-8")
                    })?;
                    let ids = vocab.encode(text).map_err(|c| {
                        Error::invalid(
                            at(),
                            format!("the character {c:?} is not in the model's vocabulary"),
                        )
                    })?;
                    (text.to_owned(), ids)
                }
            };
            out.push((text, ids));
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "inputs",
            "a text model's infer job needs prompts: input files with one prompt per line",
        ));
    }
    Ok(out)
}

/// One line of `completions.jsonl`.
#[derive(serde::Serialize)]
struct Completion<'a> {
    prompt: &'a str,
    next: Vec<Next>,
    completion: String,
}

/// A likely next symbol.
#[derive(serde::Serialize)]
struct Next {
    symbol: String,
    p: f32,
}

/// The `k` most likely ids of a probability row, most likely first, ties by id.
fn top(p: &[f32], k: usize) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..p.len()).collect();
    ids.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    ids.truncate(k);
    ids
}

/// `infer` for a `gru` model: prompts in, next-symbol distributions and greedy completions out.
/// Prompts of equal length are read together, `batch_size` at a time, one symbol per step.
fn infer_text(
    spec: &InferSpec,
    train_spec: &TrainSpec,
    params: &[f32],
    model: &[u8],
    inputs: &[(String, Vec<u8>)],
    threads: usize,
    halt: &AtomicBool,
) -> Result<TensorRun> {
    let vocab = model_file::decode_vocab(model)?
        .ok_or_else(|| Error::malformed("model file", "a gru model without a vocabulary"))?;
    let shape = gru::GruShape::of(train_spec);
    let prompts = prompts(&vocab, inputs)?;
    let mut by_len: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, (_, ids)) in prompts.iter().enumerate() {
        by_len.entry(ids.len()).or_default().push(i);
    }
    let generate = spec.generate as usize;
    // Per prompt: the five likeliest next ids, the next-symbol distribution, the completion.
    type Done = (Vec<usize>, Vec<f32>, Vec<usize>);
    let mut results: Vec<Option<Done>> = vec![None; prompts.len()];
    let mut symbols = 0u64;
    for (len, group) in by_len {
        for chunk in group.chunks(spec.batch_size as usize) {
            if halt.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let mut reader = gru::Reader::new(shape, params, chunk.len(), threads);
            let mut ids_t = vec![0usize; chunk.len()];
            for t in 0..len {
                for (b, &p) in chunk.iter().enumerate() {
                    ids_t[b] = prompts[p].1[t];
                }
                reader.feed(&ids_t);
            }
            let first = kernels::softmax(&reader.logits(), shape.vocab);
            let mut generated = vec![Vec::with_capacity(generate); chunk.len()];
            let mut probs = first.clone();
            for g in 0..generate {
                for (b, out) in generated.iter_mut().enumerate() {
                    // Only symbols of the vocabulary (a chars model may have spare rows).
                    let row = &probs[b * shape.vocab..b * shape.vocab + vocab.len()];
                    ids_t[b] = top(row, 1)[0];
                    out.push(ids_t[b]);
                }
                if g + 1 < generate {
                    reader.feed(&ids_t);
                    probs = kernels::softmax(&reader.logits(), shape.vocab);
                }
            }
            symbols += ((len + generate) * chunk.len()) as u64;
            for (b, &p) in chunk.iter().enumerate() {
                let row = first[b * shape.vocab..b * shape.vocab + vocab.len()].to_vec();
                let best = top(&row, 5);
                results[p] = Some((best, row, std::mem::take(&mut generated[b])));
            }
        }
    }
    let mut out = Vec::new();
    for ((text, _), r) in prompts.iter().zip(results) {
        let (best, row, generated) = r.expect("every prompt is in a group");
        let line = Completion {
            prompt: text,
            next: best
                .into_iter()
                .map(|id| Next {
                    symbol: vocab.symbol(id),
                    p: row[id],
                })
                .collect(),
            completion: generated.into_iter().map(|id| vocab.symbol(id)).collect(),
        };
        serde_json::to_writer(&mut out, &line).expect("serializable");
        out.push(b'\n');
    }
    let root = trace_root(std::slice::from_ref(&out));
    let stdout = format!(
        "completed {} prompts ({generate} symbols each) with model {} ({} parameters)\n",
        prompts.len(),
        spec.model,
        train_spec.parameters()
    );
    Ok(TensorRun {
        outputs: vec![("completions.jsonl".to_owned(), out)],
        stdout: stdout.into_bytes(),
        trace_root: root,
        units: symbols.saturating_mul(train_spec.parameters()),
    })
}

/// Rows of the longest input (a dataset reader makes at most one sample per row).
fn max_rows(inputs: &[(String, Vec<u8>)]) -> u64 {
    inputs
        .iter()
        .map(|(_, b)| b.iter().filter(|&&c| c == b'\n' || c == b'\r').count() as u64 + 1)
        .max()
        .unwrap_or(0)
}

fn input_bytes(inputs: &[(String, Vec<u8>)]) -> u64 {
    inputs.iter().map(|(_, b)| b.len() as u64).sum()
}

/// Bytes a `train` job holds at its peak, an upper estimate from the spec and its inputs alone
/// (before anything is parsed): the input files, the samples the reader makes of them (at most
/// one per row), the running state and every checkpoint kept for the trace (parameters, Adam's
/// moments), the gradients, one batch's activations and the model file.
pub fn train_memory(spec: &TrainSpec, inputs: &[(String, Vec<u8>)]) -> u64 {
    let p = spec.parameters();
    let moments = if spec.optimiser == "adam" { 2 * p } else { 0 };
    let state = 48 + 4 * (p + moments);
    let checkpoints = spec.checkpoint_steps().len() as u64;
    let (samples, activations) = if spec.data.is_text() {
        // Every symbol twice as f32 (windows and next symbols), and per step and layer six
        // batch × hidden vectors kept for backpropagation through time, plus the logits.
        let b = u64::from(spec.batch_size);
        let per_step = 6 * b * u64::from(spec.hidden) * u64::from(spec.layers) * 4;
        (
            input_bytes(inputs).saturating_mul(8),
            per_step
                .saturating_mul(u64::from(spec.data.window))
                .saturating_add(8 * b * spec.data.targets()),
        )
    } else {
        let width = u64::from(spec.hidden).max(spec.data.features());
        (
            max_rows(inputs) * (spec.data.features() + spec.data.targets()) * 4,
            4 * u64::from(spec.batch_size) * width * (u64::from(spec.layers) + 2) * 2,
        )
    };
    input_bytes(inputs)
        .saturating_add(samples)
        .saturating_add(state.saturating_mul(checkpoints.saturating_add(1)))
        .saturating_add(8 * p)
        .saturating_add(activations)
}

/// Bytes an `infer` job holds at its peak, an upper estimate: the inputs (the model file among
/// them), the decoded parameters, the samples (at most one per row) and the predictions text.
pub fn infer_memory(spec: &InferSpec, inputs: &[(String, Vec<u8>)]) -> u64 {
    let model = inputs
        .iter()
        .find(|(n, _)| n == INFER_MODEL_INPUT)
        .map_or(0, |(_, b)| b.len() as u64);
    let rows = max_rows(inputs);
    // A sample's features and targets, and a line of predictions, are far below 1 KiB for the
    // readers there are; the batch's activations are bounded by the model's width times it.
    input_bytes(inputs)
        .saturating_add(model)
        .saturating_add(rows.saturating_mul(1024))
        .saturating_add(
            u64::from(spec.batch_size)
                .saturating_mul(model / 4)
                .min(1 << 34),
        )
}

/// Refuses a job whose estimated peak (`need`, for `what`) is over its memory limit, naming
/// the key to raise, before anything is loaded.
pub fn check_memory(what: &str, need: u64, limit: u64) -> Result<()> {
    if need > limit {
        return Err(Error::invalid(
            "resources.memory",
            format!(
                "the {what} needs about {} (inputs, samples, model and training state) but the job allows {}; raise resources.memory",
                cairn_compute::ByteSize(need),
                cairn_compute::ByteSize(limit)
            ),
        ));
    }
    Ok(())
}
