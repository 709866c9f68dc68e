//! The reproducible trainer, on Cairn's own kernels ([`crate::kernels`]), with SGD or Adam: an
//! MLP with ReLU hidden layers and a linear head on mean squared error (`mlp`), or a GRU
//! language model on softmax cross-entropy (`gru`, [`crate::gru`]). The state, checkpoints,
//! trace and audits are the same for both: a flat parameter vector and its optimiser moments.
//!
//! ```text
//!  TrainState::init(spec) ─▶ step ─▶ step ─▶ … (checkpoint every k steps: state bytes → leaf)
//!          checkpoint 0            checkpoint 1 …                 checkpoint n (after the last)
//! ```
//!
//! Everything a step does is a function of the state before it, the spec and the dataset: the
//! batch of step `s` is drawn from a SplitMix64 stream keyed by `(seed, s)`, so any segment can
//! be re-executed from its committed starting checkpoint alone (what an audit does). Adam's bias
//! corrections keep `β^t` as running products in the state, not `powi`, and only IEEE basic
//! operations and `sqrt` are used: the same bits on every machine and thread count.
use crate::{
    Error, Result,
    data::Samples,
    gru::{self, GruShape},
    kernels,
};
use cairn_compute::TrainSpec;
use std::sync::atomic::{AtomicBool, Ordering};

/// Adam's first-moment decay.
pub const BETA1: f32 = 0.9;
/// Adam's second-moment decay.
pub const BETA2: f32 = 0.999;
/// Adam's denominator guard.
pub const EPSILON: f32 = 1e-8;

const STATE_MAGIC: &[u8; 16] = b"cairn-train-st1\n";

/// `(inputs, outputs)` of every layer of the spec's MLP.
pub fn layer_shapes(spec: &TrainSpec) -> Vec<(usize, usize)> {
    let f = spec.data.features() as usize;
    let h = spec.hidden as usize;
    let t = spec.data.targets() as usize;
    let mut shapes = vec![(f, h)];
    for _ in 1..spec.layers {
        shapes.push((h, h));
    }
    shapes.push((h, t));
    shapes
}

/// A deterministic 64-bit stream (SplitMix64).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)` with 24 bits.
    pub fn unit_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Everything training carries from one step to the next: the parameters (per layer: weights
/// `in × out` row-major, then biases), the optimiser's moments and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// Steps taken.
    pub step: u64,
    /// Parameters, layer by layer.
    pub params: Vec<f32>,
    /// Adam's first moments (empty for SGD).
    pub m: Vec<f32>,
    /// Adam's second moments (empty for SGD).
    pub v: Vec<f32>,
    /// `β₁^step`.
    pub beta1_pow: f32,
    /// `β₂^step`.
    pub beta2_pow: f32,
}

impl TrainState {
    /// The state before the first step: weights uniform in `±1/√inputs` from the seed, zero
    /// biases and moments (`gru`: [`GruShape::init`] from the same stream).
    pub fn init(spec: &TrainSpec) -> Self {
        let mut rng = SplitMix64::new(spec.seed ^ 0x005E_ED0F_CA1B);
        let params = if spec.model == "gru" {
            GruShape::of(spec).init(|| rng.unit_f32())
        } else {
            let mut params = Vec::with_capacity(spec.parameters() as usize);
            for (i, o) in layer_shapes(spec) {
                let bound = 1.0 / (i as f32).sqrt();
                for _ in 0..i * o {
                    params.push((rng.unit_f32() * 2.0 - 1.0) * bound);
                }
                params.extend(std::iter::repeat_n(0.0, o));
            }
            params
        };
        let moments = if spec.optimiser == "adam" {
            vec![0.0; params.len()]
        } else {
            vec![]
        };
        Self {
            step: 0,
            m: moments.clone(),
            v: moments,
            params,
            beta1_pow: 1.0,
            beta2_pow: 1.0,
        }
    }

    /// The canonical bytes: magic, step, `β` powers, then the three vectors with their lengths,
    /// all little-endian. A checkpoint is these bytes; its trace leaf is their RFC 6962 leaf
    /// hash.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.params.len() + self.m.len() + self.v.len();
        let mut out = Vec::with_capacity(48 + 4 * n);
        out.extend_from_slice(STATE_MAGIC);
        out.extend_from_slice(&self.step.to_le_bytes());
        out.extend_from_slice(&self.beta1_pow.to_le_bytes());
        out.extend_from_slice(&self.beta2_pow.to_le_bytes());
        for v in [&self.params, &self.m, &self.v] {
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            for x in v.iter() {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    /// Decodes [`TrainState::to_bytes`], checking the sizes against `spec`.
    pub fn from_bytes(bytes: &[u8], spec: &TrainSpec) -> Result<Self> {
        let bad = |d: &str| Error::malformed("checkpoint", d);
        let rest = bytes
            .strip_prefix(STATE_MAGIC.as_slice())
            .ok_or_else(|| bad("not a Cairn training state"))?;
        let mut cur = rest;
        let mut take = |n: usize| -> Result<&[u8]> {
            if cur.len() < n {
                return Err(bad("truncated"));
            }
            let (a, b) = cur.split_at(n);
            cur = b;
            Ok(a)
        };
        let step = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let beta1_pow = f32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        let beta2_pow = f32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        let params_len = spec.parameters() as usize;
        let moments_len = if spec.optimiser == "adam" {
            params_len
        } else {
            0
        };
        let mut vecs = Vec::with_capacity(3);
        for want in [params_len, moments_len, moments_len] {
            let len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
            if len != want as u64 {
                return Err(bad(&format!(
                    "a vector of {len} values where the spec needs {want}"
                )));
            }
            let raw = take(4 * want)?;
            vecs.push(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect::<Vec<f32>>(),
            );
        }
        if !cur.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let v = vecs.pop().expect("three");
        let m = vecs.pop().expect("three");
        let params = vecs.pop().expect("three");
        Ok(Self {
            step,
            params,
            m,
            v,
            beta1_pow,
            beta2_pow,
        })
    }

    /// The RFC 6962 leaf hash of the checkpoint bytes: this state's leaf in the trace.
    pub fn leaf(&self) -> [u8; 32] {
        cairn_tlog::leaf_hash(&self.to_bytes())
    }
}

/// Forward pass of the MLP over `n` rows of `x`, keeping every layer's output (the input is not
/// included). ReLU on hidden layers.
fn forward(
    shapes: &[(usize, usize)],
    params: &[f32],
    x: &[f32],
    n: usize,
    threads: usize,
) -> Vec<Vec<f32>> {
    let mut acts: Vec<Vec<f32>> = Vec::with_capacity(shapes.len());
    let mut off = 0;
    for (l, &(i, o)) in shapes.iter().enumerate() {
        let w = &params[off..off + i * o];
        let b = &params[off + i * o..off + i * o + o];
        off += i * o + o;
        let input = if l == 0 { x } else { &acts[l - 1] };
        let mut z = kernels::linear(input, w, b, n, i, o, threads);
        if l + 1 < shapes.len() {
            kernels::relu(&mut z);
        }
        acts.push(z);
    }
    acts
}

/// Predictions of the model `params` for `n` rows of `x` (`n × outputs`).
pub fn predict(
    shapes: &[(usize, usize)],
    params: &[f32],
    x: &[f32],
    n: usize,
    threads: usize,
) -> Vec<f32> {
    forward(shapes, params, x, n, threads)
        .pop()
        .unwrap_or_default()
}

/// Runs training steps of one spec over one dataset.
#[derive(Debug)]
pub struct Trainer<'a> {
    spec: &'a TrainSpec,
    data: &'a Samples,
    shapes: Vec<(usize, usize)>,
    gru: Option<GruShape>,
    threads: usize,
}

/// Samples of the whole-dataset loss a `gru` run reports at each checkpoint (spread evenly).
const GRU_EVAL_SAMPLES: usize = 1024;

impl<'a> Trainer<'a> {
    /// A trainer using `threads` threads (any count gives the same bits).
    pub fn new(spec: &'a TrainSpec, data: &'a Samples, threads: usize) -> Result<Self> {
        if spec.model == "gru" {
            let shape = GruShape::of(spec);
            let Some(vocab) = &data.vocab else {
                return Err(Error::invalid(
                    "train.data.reader",
                    "model gru needs a text dataset (reader = \"text\")",
                ));
            };
            if vocab.len() > shape.vocab
                || data.features != spec.data.window as usize
                || data.targets != 1
            {
                return Err(Error::invalid(
                    "train.data",
                    format!(
                        "the dataset has {} symbols and windows of {}; the model has room for {} and reads {}",
                        vocab.len(),
                        data.features,
                        shape.vocab,
                        spec.data.window
                    ),
                ));
            }
            if data.n == 0 {
                return Err(Error::invalid(
                    "train.data",
                    "the dataset yields no samples",
                ));
            }
            return Ok(Self {
                spec,
                data,
                shapes: vec![],
                gru: Some(shape),
                threads: threads.max(1),
            });
        }
        if data.vocab.is_some() {
            return Err(Error::invalid(
                "train.model",
                "a text dataset trains model gru, not mlp",
            ));
        }
        let shapes = layer_shapes(spec);
        if data.features != shapes[0].0 || data.targets != shapes[shapes.len() - 1].1 {
            return Err(Error::invalid(
                "train.data",
                format!(
                    "the dataset has {} features and {} targets per sample; the model expects {} and {}",
                    data.features,
                    data.targets,
                    shapes[0].0,
                    shapes[shapes.len() - 1].1
                ),
            ));
        }
        if data.n == 0 {
            return Err(Error::invalid(
                "train.data",
                "the dataset yields no samples",
            ));
        }
        Ok(Self {
            spec,
            data,
            shapes,
            gru: None,
            threads: threads.max(1),
        })
    }

    /// The shape of a `gru` model (`None` for `mlp`).
    pub fn gru_shape(&self) -> Option<GruShape> {
        self.gru
    }

    /// The symbol ids (`rows × window`) and next ids of `rows` of a text dataset.
    fn sequences(&self, rows: impl Iterator<Item = usize>) -> (Vec<usize>, Vec<usize>) {
        let mut ids = Vec::new();
        let mut next = Vec::new();
        for i in rows {
            ids.extend(self.data.x_row(i).iter().map(|&v| v as usize));
            next.push(self.data.y_row(i)[0] as usize);
        }
        (ids, next)
    }

    /// The layer shapes (of an `mlp`; empty for `gru`).
    pub fn shapes(&self) -> &[(usize, usize)] {
        &self.shapes
    }

    /// The sample indices of step `step` (0-based): `batch_size` draws from the stream keyed by
    /// the seed and the step.
    pub fn batch(&self, step: u64) -> Vec<usize> {
        let mut rng = SplitMix64::new(
            self.spec.seed ^ step.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03),
        );
        (0..self.spec.batch_size)
            .map(|_| rng.below(self.data.n))
            .collect()
    }

    /// Gradients of the batch loss with respect to every parameter, and the loss.
    pub fn gradients(&self, params: &[f32], step: u64) -> (f32, Vec<f32>) {
        let idx = self.batch(step);
        if let Some(shape) = &self.gru {
            let (ids, next) = self.sequences(idx.into_iter());
            return gru::gradients(shape, params, &ids, &next, self.data.features, self.threads);
        }
        let n = idx.len();
        let (f, t) = (self.data.features, self.data.targets);
        let mut x = Vec::with_capacity(n * f);
        let mut y = Vec::with_capacity(n * t);
        for &i in &idx {
            x.extend_from_slice(self.data.x_row(i));
            y.extend_from_slice(self.data.y_row(i));
        }
        let acts = forward(&self.shapes, params, &x, n, self.threads);
        let (loss, mut g) = kernels::mse(acts.last().expect("one layer at least"), &y);
        let mut grads = vec![0.0f32; params.len()];
        let mut offsets = Vec::with_capacity(self.shapes.len());
        let mut off = 0;
        for &(i, o) in &self.shapes {
            offsets.push(off);
            off += i * o + o;
        }
        for l in (0..self.shapes.len()).rev() {
            let (i, o) = self.shapes[l];
            let input: &[f32] = if l == 0 { &x } else { &acts[l - 1] };
            let off = offsets[l];
            let dw = kernels::grad_weight(input, &g, n, i, o, self.threads);
            let db = kernels::grad_bias(&g, n, o);
            grads[off..off + i * o].copy_from_slice(&dw);
            grads[off + i * o..off + i * o + o].copy_from_slice(&db);
            if l > 0 {
                let w = &params[off..off + i * o];
                let mut dx = kernels::grad_input(&g, w, n, i, o, self.threads);
                kernels::relu_backward(&mut dx, &acts[l - 1]);
                g = dx;
            }
        }
        (loss, grads)
    }

    /// One optimiser step; returns the batch loss.
    pub fn step(&self, state: &mut TrainState) -> f32 {
        let (loss, grads) = self.gradients(&state.params, state.step);
        let lr = self.spec.learning_rate as f32;
        if self.spec.optimiser == "adam" {
            state.beta1_pow *= BETA1;
            state.beta2_pow *= BETA2;
            let c1 = 1.0 - state.beta1_pow;
            let c2 = 1.0 - state.beta2_pow;
            for (((p, m), v), &g) in state
                .params
                .iter_mut()
                .zip(state.m.iter_mut())
                .zip(state.v.iter_mut())
                .zip(&grads)
            {
                *m = BETA1 * *m + (1.0 - BETA1) * g;
                *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                let mhat = *m / c1;
                let vhat = *v / c2;
                *p -= lr * mhat / (vhat.sqrt() + EPSILON);
            }
        } else {
            for (p, &g) in state.params.iter_mut().zip(&grads) {
                *p -= lr * g;
            }
        }
        state.step += 1;
        loss
    }

    /// Runs `state` forward to step `until`.
    pub fn run_to(
        &self,
        state: &mut TrainState,
        until: u64,
        halt: &AtomicBool,
    ) -> Result<Vec<f32>> {
        let mut losses = Vec::new();
        while state.step < until {
            if halt.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            losses.push(self.step(state));
        }
        Ok(losses)
    }

    /// Mean squared error of `params` over the whole dataset (`gru`: mean cross-entropy over
    /// at most 1024 samples spread evenly over it).
    pub fn eval_loss(&self, params: &[f32]) -> f32 {
        if let Some(shape) = &self.gru {
            let every = self.data.n.div_ceil(GRU_EVAL_SAMPLES).max(1);
            let rows: Vec<usize> = (0..self.data.n).step_by(every).collect();
            let (ids, next) = self.sequences(rows.iter().copied());
            let w = self.data.features;
            let lg = gru::logits(shape, params, &ids, next.len(), w, self.threads);
            return kernels::softmax_cross_entropy(&lg, &next, shape.vocab).0;
        }
        let pred = predict(
            &self.shapes,
            params,
            &self.data.x,
            self.data.n,
            self.threads,
        );
        kernels::mse(&pred, &self.data.y).0
    }
}

/// A finished run: the checkpoints of its trace and its metrics.
#[derive(Clone, Debug)]
pub struct TrainRun {
    /// The final state.
    pub state: TrainState,
    /// Checkpoint bytes at [`TrainSpec::checkpoint_steps`], in order.
    pub checkpoints: Vec<Vec<u8>>,
    /// Batch loss of every step from [`TrainRun::first_step`] on.
    pub losses: Vec<f32>,
    /// The step the run started from (0, or the checkpoint it resumed from).
    pub first_step: u64,
    /// `(step, loss over the whole dataset)` at every checkpoint.
    pub eval: Vec<(u64, f32)>,
}

/// Trains `spec` on `data` from the initial state, recording the trace checkpoints.
pub fn train(
    spec: &TrainSpec,
    data: &Samples,
    threads: usize,
    halt: &AtomicBool,
) -> Result<TrainRun> {
    match train_until_halted(spec, data, threads, halt)? {
        (run, true) => Ok(run),
        (_, false) => Err(Error::Cancelled),
    }
}

/// [`train`], but a halt returns the run as far as its last checkpoint (and `false`): the
/// steps a stopped run did, proven by the checkpoints of its trace so far.
pub fn train_until_halted(
    spec: &TrainSpec,
    data: &Samples,
    threads: usize,
    halt: &AtomicBool,
) -> Result<(TrainRun, bool)> {
    resume(spec, data, threads, halt, &[])
}

/// [`train_until_halted`] from the checkpoints of an earlier run of the same spec (the first
/// ones of its trace, in order; none starts afresh): training continues from the last one, and
/// the finished trace — those checkpoints, then the new ones — has the same root as a run that
/// never stopped. Checkpoints that do not decode under `spec`, are not at their scheduled steps,
/// or do not start at the initial state are refused.
pub fn resume(
    spec: &TrainSpec,
    data: &Samples,
    threads: usize,
    halt: &AtomicBool,
    earlier: &[Vec<u8>],
) -> Result<(TrainRun, bool)> {
    resume_observed(spec, data, threads, halt, earlier, &mut |_, _| {})
}

/// [`resume`], calling `on_checkpoint(step, bytes)` for every checkpoint this run writes (not
/// the `earlier` ones), as soon as it is written: a worker uploads them while training goes on,
/// so another provider can resume from them if this one fails.
pub fn resume_observed(
    spec: &TrainSpec,
    data: &Samples,
    threads: usize,
    halt: &AtomicBool,
    earlier: &[Vec<u8>],
    on_checkpoint: &mut dyn FnMut(u64, &[u8]),
) -> Result<(TrainRun, bool)> {
    let trainer = Trainer::new(spec, data, threads)?;
    let schedule = spec.checkpoint_steps();
    if earlier.len() > schedule.len() {
        return Err(Error::malformed(
            "resume checkpoints",
            format!(
                "{} checkpoints where the spec schedules {}",
                earlier.len(),
                schedule.len()
            ),
        ));
    }
    let mut state = TrainState::init(spec);
    let mut checkpoints = Vec::with_capacity(schedule.len());
    let mut eval = Vec::new();
    for (i, (bytes, &at)) in earlier.iter().zip(&schedule).enumerate() {
        let s = TrainState::from_bytes(bytes, spec)
            .map_err(|e| Error::malformed(format!("resume checkpoint {i}"), e.to_string()))?;
        if s.step != at {
            return Err(Error::malformed(
                format!("resume checkpoint {i}"),
                format!("at step {} where the spec schedules step {at}", s.step),
            ));
        }
        if i == 0 && s != state {
            return Err(Error::malformed(
                "resume checkpoint 0",
                "not the spec's initial state",
            ));
        }
        eval.push((at, trainer.eval_loss(&s.params)));
        checkpoints.push(bytes.clone());
        state = s;
    }
    let first_step = state.step;
    let mut losses = Vec::with_capacity((spec.steps - first_step) as usize);
    let mut last = state.clone();
    for &at in &schedule[earlier.len()..] {
        match trainer.run_to(&mut state, at, halt) {
            Ok(l) => losses.extend(l),
            Err(Error::Cancelled) => {
                losses.truncate((last.step - first_step) as usize);
                let run = TrainRun {
                    state: last,
                    checkpoints,
                    losses,
                    first_step,
                    eval,
                };
                return Ok((run, false));
            }
            Err(e) => return Err(e),
        }
        let bytes = state.to_bytes();
        on_checkpoint(at, &bytes);
        checkpoints.push(bytes);
        eval.push((at, trainer.eval_loss(&state.params)));
        last = state.clone();
    }
    Ok((
        TrainRun {
            state,
            checkpoints,
            losses,
            first_step,
            eval,
        },
        true,
    ))
}
