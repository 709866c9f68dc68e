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
    let samples = data::market_samples(&spec.data, "train.data", inputs)?;
    let run = train::train(spec, &samples, threads, halt)?;
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
    Ok(TensorRun {
        outputs,
        stdout: stdout.into_bytes(),
        trace_root: root,
        units: spec.work_units(),
    })
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
