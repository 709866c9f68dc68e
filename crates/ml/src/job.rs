//! A `train` or `infer` job end to end, as a provider's worker runs it: inputs in, output files,
//! the trace root and the metered units out.
//!
//! `train` outputs: `model.safetensors`, `metrics.csv` (`step,batch_loss,eval_loss`),
//! `trace.json` and every checkpoint under `checkpoints/` (what audits re-execute from).
//! `infer` outputs: `predictions.csv`. Both print a one-line summary on stdout.
use crate::{
    Error, Result, data, model_file,
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
    let samples = data::market_samples(&spec.data, "train.data", inputs)?;
    let (run, complete) = train::train_until_halted(spec, &samples, threads, halt)?;
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
    let model = model_file::encode(spec, &run.state.params)?;
    let steps = spec.checkpoint_steps();
    let trace = TraceFile::new(steps.clone(), &run.checkpoints);
    let root = trace_root(&run.checkpoints);
    let mut metrics = String::from("step,batch_loss,eval_loss\n");
    let mut evals = run.eval.iter().peekable();
    for (s, loss) in run.losses.iter().enumerate() {
        let step = s as u64 + 1;
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
    let samples = max_rows(inputs) * (spec.data.features() + spec.data.targets()) * 4;
    let width = u64::from(spec.hidden).max(spec.data.features());
    let activations = 4 * u64::from(spec.batch_size) * width * (u64::from(spec.layers) + 2) * 2;
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
