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
        if spec.model != "mlp" {
            return Err(crate::Error::invalid(
                "train.model",
                format!(
                    "the plain MLP baseline trains mlp, not {:?} (PlainGru trains gru)",
                    spec.model
                ),
            ));
        }
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

/// The `gru` model on plain candle (the baseline of the reproducible GRU): the same initial
/// weights (transposed into candle-nn's `GRU` layout), batches and Adam, on candle-nn's `GRU`
/// cell, embedding, cross-entropy and autograd.
pub struct PlainGru<'a> {
    trainer: Trainer<'a>,
    embedding: Var,
    cells: Vec<candle_nn::rnn::GRU>,
    head: (Var, Var),
    hidden: usize,
    opt: AdamW,
    device: Device,
}

impl std::fmt::Debug for PlainGru<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainGru")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl<'a> PlainGru<'a> {
    /// The spec's `gru` at its initial state, on `device`.
    pub fn new(spec: &'a TrainSpec, data: &'a Samples, device: Device) -> Result<Self> {
        use candle_nn::rnn::{GRU, GRUConfig};
        if spec.model != "gru" {
            return Err(crate::Error::invalid(
                "train.model",
                format!("the plain GRU baseline trains gru, not {:?}", spec.model),
            ));
        }
        let trainer = Trainer::new(spec, data, 1)?;
        let shape = crate::gru::GruShape::of(spec);
        let init = TrainState::init(spec);
        let mut vars = Vec::new();
        let mut tensors = std::collections::HashMap::new();
        let mut off = 0;
        for (name, dims) in shape.tensors() {
            let len: usize = dims.iter().product();
            let t = Tensor::from_slice(&init.params[off..off + len], dims.as_slice(), &device)?;
            off += len;
            // candle-nn keeps GRU weights as `3·hidden × inputs` (PyTorch's layout).
            let t = if name.contains("weight_") {
                t.t()?.contiguous()?
            } else {
                t
            };
            let v = Var::from_tensor(&t)?;
            vars.push(v.clone());
            tensors.insert(name, v);
        }
        let mut cells = Vec::new();
        for l in 0..shape.layers {
            let p = |n: &str| tensors[&format!("gru.l{l}.{n}")].as_tensor().clone();
            let map = std::collections::HashMap::from([
                ("weight_ih_l0".to_owned(), p("weight_ih")),
                ("weight_hh_l0".to_owned(), p("weight_hh")),
                ("bias_ih_l0".to_owned(), p("bias_ih")),
                ("bias_hh_l0".to_owned(), p("bias_hh")),
            ]);
            let vb = candle_nn::VarBuilder::from_tensors(map, candle_core::DType::F32, &device);
            cells.push(GRU::new(
                shape.hidden,
                shape.hidden,
                GRUConfig::default(),
                vb,
            )?);
        }
        let opt = AdamW::new(
            vars,
            ParamsAdamW {
                lr: spec.learning_rate,
                beta1: f64::from(crate::train::BETA1),
                beta2: f64::from(crate::train::BETA2),
                eps: f64::from(crate::train::EPSILON),
                weight_decay: 0.0,
            },
        )?;
        Ok(Self {
            trainer,
            embedding: tensors["embedding.weight"].clone(),
            head: (tensors["head.weight"].clone(), tensors["head.bias"].clone()),
            cells,
            hidden: shape.hidden,
            opt,
            device,
        })
    }

    /// Logits after `batch` sequences of `window` ids.
    fn forward(&self, ids: &[u32], batch: usize, window: usize) -> Result<Tensor> {
        use candle_core::IndexOp;
        use candle_nn::rnn::RNN;
        let ids = Tensor::from_slice(ids, (batch, window), &self.device)?;
        let emb = candle_nn::Embedding::new(self.embedding.as_tensor().clone(), self.hidden);
        let x = candle_nn::Module::forward(&emb, &ids)?;
        let mut states = self
            .cells
            .iter()
            .map(|c| c.zero_state(batch))
            .collect::<candle_core::Result<Vec<_>>>()?;
        for t in 0..window {
            let mut input = x.i((.., t, ..))?.contiguous()?;
            for (c, s) in self.cells.iter().zip(states.iter_mut()) {
                *s = c.step(&input, s)?;
                input = s.h().clone();
            }
        }
        let last = states.last().expect("one layer at least").h().clone();
        Ok(last
            .matmul(self.head.0.as_tensor())?
            .broadcast_add(self.head.1.as_tensor())?)
    }

    fn rows(&self, rows: &[usize], data: &Samples) -> (Vec<u32>, Vec<u32>) {
        let mut ids = Vec::with_capacity(rows.len() * data.features);
        let mut next = Vec::with_capacity(rows.len());
        for &i in rows {
            ids.extend(data.x_row(i).iter().map(|&v| v as u32));
            next.push(data.y_row(i)[0] as u32);
        }
        (ids, next)
    }

    /// Step `step` (0-based) on the reproducible trainer's batch; returns the batch loss.
    pub fn step(&mut self, step: u64, data: &Samples) -> Result<f32> {
        let idx = self.trainer.batch(step);
        let (ids, next) = self.rows(&idx, data);
        let logits = self.forward(&ids, idx.len(), data.features)?;
        let target = Tensor::from_vec(next, idx.len(), &self.device)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &target)?;
        self.opt.backward_step(&loss)?;
        Ok(loss.to_scalar::<f32>()?)
    }

    /// Logits of the next symbol after samples `rows` of `data`.
    pub fn logits(&self, rows: &[usize], data: &Samples) -> Result<Vec<f32>> {
        let (ids, _) = self.rows(rows, data);
        Ok(self
            .forward(&ids, rows.len(), data.features)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }
}
