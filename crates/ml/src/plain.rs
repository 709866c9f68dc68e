//! Plain candle training, the baseline the reproducible trainer is measured against (and the
//! path a `cuda` build runs on GPUs): the same model, batches, initial weights and optimiser,
//! on candle's tensors, autograd, `candle-nn` optimisers and its CPU (or CUDA) kernels. Its
//! results are close to the reproducible trainer's but not bit-identical, and may differ
//! between thread counts and machines, so it never produces a committed trace.
use crate::{
    Result,
    data::Samples,
    train::{TrainState, Trainer},
};
use cairn_compute::TrainSpec;
use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, SGD};

/// The device plain runs use: the first CUDA GPU in a `cuda` build when one is present, else
/// the CPU.
pub fn device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::new_cuda(0) {
        return d;
    }
    Device::Cpu
}

enum Opt {
    Sgd(SGD),
    Adam(AdamW),
}

/// A model and optimiser on candle.
pub struct PlainTrainer<'a> {
    trainer: Trainer<'a>,
    layers: Vec<(Var, Var)>,
    opt: Opt,
    device: Device,
}

impl std::fmt::Debug for PlainTrainer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainTrainer")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl<'a> PlainTrainer<'a> {
    /// The spec's model at its initial state, on `device`.
    pub fn new(spec: &'a TrainSpec, data: &'a Samples, device: Device) -> Result<Self> {
        let trainer = Trainer::new(spec, data, 1)?;
        let init = TrainState::init(spec);
        let mut layers = Vec::new();
        let mut off = 0;
        for &(i, o) in trainer.shapes() {
            let w = Tensor::from_slice(&init.params[off..off + i * o], (i, o), &device)?;
            let b = Tensor::from_slice(&init.params[off + i * o..off + i * o + o], o, &device)?;
            off += i * o + o;
            layers.push((Var::from_tensor(&w)?, Var::from_tensor(&b)?));
        }
        let vars: Vec<Var> = layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect();
        let lr = spec.learning_rate;
        let opt = if spec.optimiser == "adam" {
            Opt::Adam(AdamW::new(
                vars,
                ParamsAdamW {
                    lr,
                    beta1: f64::from(crate::train::BETA1),
                    beta2: f64::from(crate::train::BETA2),
                    eps: f64::from(crate::train::EPSILON),
                    weight_decay: 0.0,
                },
            )?)
        } else {
            Opt::Sgd(SGD::new(vars, lr)?)
        };
        Ok(Self {
            trainer,
            layers,
            opt,
            device,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for (l, (w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            if l + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Step `step` (0-based) with the same batch the reproducible trainer draws; returns the
    /// batch loss.
    pub fn step(&mut self, step: u64, data: &Samples) -> Result<f32> {
        let idx = self.trainer.batch(step);
        let mut x = Vec::with_capacity(idx.len() * data.features);
        let mut y = Vec::with_capacity(idx.len() * data.targets);
        for &i in &idx {
            x.extend_from_slice(data.x_row(i));
            y.extend_from_slice(data.y_row(i));
        }
        let x = Tensor::from_vec(x, (idx.len(), data.features), &self.device)?;
        let y = Tensor::from_vec(y, (idx.len(), data.targets), &self.device)?;
        let loss = candle_nn::loss::mse(&self.forward(&x)?, &y)?;
        match &mut self.opt {
            Opt::Sgd(o) => o.backward_step(&loss)?,
            Opt::Adam(o) => o.backward_step(&loss)?,
        }
        Ok(loss.to_scalar::<f32>()?)
    }

    /// Predictions for `n` rows of `x`.
    pub fn predict(&self, x: &[f32], n: usize, features: usize) -> Result<Vec<f32>> {
        let x = Tensor::from_slice(x, (n, features), &self.device)?;
        Ok(self.forward(&x)?.flatten_all()?.to_vec1::<f32>()?)
    }
}
