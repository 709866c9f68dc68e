//! The `gru` model: a character-level language model on Cairn's reproducible kernels.
//!
//! ```text
//!  ids (batch × window) ─▶ embedding (vocab × hidden) ─▶ GRU layer 1 … layer L (over the window)
//!        ─▶ last step's state ─▶ head (hidden × vocab) ─▶ softmax cross-entropy vs the next id
//! ```
//!
//! One GRU layer at step `t`, with gate columns ordered `[r | z | n]` (PyTorch's and
//! candle-nn's order):
//!
//! ```text
//!  gx = x·W + b_ih      gh = h·U + b_hh           (W: in × 3h, U: h × 3h, row-major)
//!  r = σ(gx_r + gh_r)   z = σ(gx_z + gh_z)   n = tanh(gx_n + r ⊙ gh_n)
//!  h' = (1 − z) ⊙ n + z ⊙ h
//! ```
//!
//! The backward pass is backpropagation through time over the whole window, written out by
//! hand: steps from the last to the first, layers from the top down, every gradient summed in
//! a fixed order ([`crate::kernels`] for the matrix products; the embedding's rows in sample
//! order). `σ`, `tanh` and the softmax use the kernels' own `exp`, so a step is the same bits
//! with any thread count, in any process.
use crate::kernels;
use cairn_compute::TrainSpec;
use std::ops::Range;

/// The sizes of a `gru` model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GruShape {
    /// Symbols (embedding rows, head outputs).
    pub vocab: usize,
    /// State and embedding width.
    pub hidden: usize,
    /// Stacked GRU layers.
    pub layers: usize,
}

/// Where one GRU layer's tensors lie in the parameter vector.
#[derive(Clone, Debug)]
struct LayerAt {
    w: Range<usize>,
    u: Range<usize>,
    b_ih: Range<usize>,
    b_hh: Range<usize>,
}

impl GruShape {
    /// The shape `spec` describes.
    pub fn of(spec: &TrainSpec) -> Self {
        Self {
            vocab: spec.data.vocab_len() as usize,
            hidden: spec.hidden as usize,
            layers: spec.layers as usize,
        }
    }

    /// The parameter tensors in the order of the parameter vector: name and shape (row-major;
    /// weights are `inputs × outputs`, the transpose of PyTorch's layout).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (v, h) = (self.vocab, self.hidden);
        let mut out = vec![("embedding.weight".to_owned(), vec![v, h])];
        for l in 0..self.layers {
            out.push((format!("gru.l{l}.weight_ih"), vec![h, 3 * h]));
            out.push((format!("gru.l{l}.weight_hh"), vec![h, 3 * h]));
            out.push((format!("gru.l{l}.bias_ih"), vec![3 * h]));
            out.push((format!("gru.l{l}.bias_hh"), vec![3 * h]));
        }
        out.push(("head.weight".to_owned(), vec![h, v]));
        out.push(("head.bias".to_owned(), vec![v]));
        out
    }

    /// Parameters in all.
    pub fn parameters(&self) -> usize {
        self.tensors()
            .iter()
            .map(|(_, d)| d.iter().product::<usize>())
            .sum()
    }

    fn embedding(&self) -> Range<usize> {
        0..self.vocab * self.hidden
    }

    fn layer(&self, l: usize) -> LayerAt {
        let h = self.hidden;
        let per = 2 * h * 3 * h + 2 * 3 * h;
        let start = self.vocab * h + l * per;
        let w = start..start + 3 * h * h;
        let u = w.end..w.end + 3 * h * h;
        let b_ih = u.end..u.end + 3 * h;
        let b_hh = b_ih.end..b_ih.end + 3 * h;
        LayerAt { w, u, b_ih, b_hh }
    }

    fn head(&self) -> (Range<usize>, Range<usize>) {
        let start = self.layer(self.layers).w.start;
        let w = start..start + self.hidden * self.vocab;
        let b = w.end..w.end + self.vocab;
        (w, b)
    }

    /// The initial parameters: the embedding uniform in `±1`, every weight uniform in
    /// `±1/√hidden`, biases zero, drawn in tensor order from `next` (a uniform `[0, 1)` stream).
    pub fn init(&self, mut next: impl FnMut() -> f32) -> Vec<f32> {
        let bound = 1.0 / (self.hidden as f32).sqrt();
        let mut params = Vec::with_capacity(self.parameters());
        for (name, dims) in self.tensors() {
            let len: usize = dims.iter().product();
            if name.contains("bias") {
                params.extend(std::iter::repeat_n(0.0, len));
                continue;
            }
            let scale = if name == "embedding.weight" {
                1.0
            } else {
                bound
            };
            for _ in 0..len {
                params.push((next() * 2.0 - 1.0) * scale);
            }
        }
        params
    }
}

/// What the backward pass needs of one layer at one step.
struct StepCache {
    /// The layer's input (`batch × hidden`).
    x: Vec<f32>,
    /// The state before the step.
    h_prev: Vec<f32>,
    r: Vec<f32>,
    z: Vec<f32>,
    n: Vec<f32>,
    /// `h·U_n + b_hh,n`.
    gh_n: Vec<f32>,
}

/// One step of every layer for a batch whose symbols at this step are `ids_t`: updates
/// `states` (one `batch × hidden` per layer) and, when `keep`, returns each layer's cache.
fn step(
    shape: &GruShape,
    params: &[f32],
    states: &mut [Vec<f32>],
    ids_t: &[usize],
    threads: usize,
    keep: bool,
) -> Vec<StepCache> {
    let h = shape.hidden;
    let batch = ids_t.len();
    let emb = &params[shape.embedding()];
    let mut x = Vec::with_capacity(batch * h);
    for &id in ids_t {
        x.extend_from_slice(&emb[id * h..(id + 1) * h]);
    }
    let mut caches = Vec::with_capacity(if keep { shape.layers } else { 0 });
    for (l, state) in states.iter_mut().enumerate() {
        let at = shape.layer(l);
        let gx = kernels::linear(
            &x,
            &params[at.w.clone()],
            &params[at.b_ih.clone()],
            batch,
            h,
            3 * h,
            threads,
        );
        let gh = kernels::linear(
            state,
            &params[at.u.clone()],
            &params[at.b_hh.clone()],
            batch,
            h,
            3 * h,
            threads,
        );
        let mut r = vec![0.0f32; batch * h];
        let mut z = vec![0.0f32; batch * h];
        let mut n = vec![0.0f32; batch * h];
        let mut gh_n = vec![0.0f32; batch * h];
        let mut next = vec![0.0f32; batch * h];
        for b in 0..batch {
            let gxb = &gx[b * 3 * h..(b + 1) * 3 * h];
            let ghb = &gh[b * 3 * h..(b + 1) * 3 * h];
            for j in 0..h {
                let i = b * h + j;
                let rj = kernels::sigmoid(gxb[j] + ghb[j]);
                let zj = kernels::sigmoid(gxb[h + j] + ghb[h + j]);
                let nj = kernels::tanh(gxb[2 * h + j] + rj * ghb[2 * h + j]);
                next[i] = (1.0 - zj) * nj + zj * state[i];
                (r[i], z[i], n[i], gh_n[i]) = (rj, zj, nj, ghb[2 * h + j]);
            }
        }
        let h_prev = std::mem::replace(state, next);
        if keep {
            caches.push(StepCache {
                x: std::mem::take(&mut x),
                h_prev,
                r,
                z,
                n,
                gh_n,
            });
        }
        x = state.clone();
    }
    caches
}

/// Runs the GRU over `ids` (`batch × window`, row-major) and returns the last step's top-layer
/// state (`batch × hidden`) and, when `keep`, every step's cache (`[t][layer]`).
fn run(
    shape: &GruShape,
    params: &[f32],
    ids: &[usize],
    batch: usize,
    window: usize,
    threads: usize,
    keep: bool,
) -> (Vec<f32>, Vec<Vec<StepCache>>) {
    let mut states = vec![vec![0.0f32; batch * shape.hidden]; shape.layers];
    let mut caches = Vec::with_capacity(if keep { window } else { 0 });
    let mut ids_t = vec![0usize; batch];
    for t in 0..window {
        for (b, id) in ids_t.iter_mut().enumerate() {
            *id = ids[b * window + t];
        }
        let c = step(shape, params, &mut states, &ids_t, threads, keep);
        if keep {
            caches.push(c);
        }
    }
    (states.pop().unwrap_or_default(), caches)
}

/// A batch of sequences read one symbol at a time (inference and generation): the state of
/// every layer, from zero.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    shape: GruShape,
    params: &'a [f32],
    states: Vec<Vec<f32>>,
    batch: usize,
    threads: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `batch` sequences.
    pub fn new(shape: GruShape, params: &'a [f32], batch: usize, threads: usize) -> Self {
        Self {
            shape,
            params,
            states: vec![vec![0.0f32; batch * shape.hidden]; shape.layers],
            batch,
            threads,
        }
    }

    /// Reads the next symbol of every sequence (`ids_t`: one per sequence).
    pub fn feed(&mut self, ids_t: &[usize]) {
        debug_assert_eq!(ids_t.len(), self.batch);
        step(
            &self.shape,
            self.params,
            &mut self.states,
            ids_t,
            self.threads,
            false,
        );
    }

    /// The logits (`batch × vocab`) of the symbol after what was read.
    pub fn logits(&self) -> Vec<f32> {
        let (hw, hb) = self.shape.head();
        kernels::linear(
            self.states.last().expect("at least one layer"),
            &self.params[hw],
            &self.params[hb],
            self.batch,
            self.shape.hidden,
            self.shape.vocab,
            self.threads,
        )
    }
}

/// Logits (`batch × vocab`) of the symbol after each of `batch` sequences of `window` ids.
pub fn logits(
    shape: &GruShape,
    params: &[f32],
    ids: &[usize],
    batch: usize,
    window: usize,
    threads: usize,
) -> Vec<f32> {
    let (last, _) = run(shape, params, ids, batch, window, threads, false);
    let (hw, hb) = shape.head();
    kernels::linear(
        &last,
        &params[hw],
        &params[hb],
        batch,
        shape.hidden,
        shape.vocab,
        threads,
    )
}

/// The mean cross-entropy of predicting `targets` after `ids` (`batch × window`), and its
/// gradient with respect to every parameter (laid out as the parameters).
pub fn gradients(
    shape: &GruShape,
    params: &[f32],
    ids: &[usize],
    targets: &[usize],
    window: usize,
    threads: usize,
) -> (f32, Vec<f32>) {
    let batch = targets.len();
    let h = shape.hidden;
    let (last, caches) = run(shape, params, ids, batch, window, threads, true);
    let (hw, hb) = shape.head();
    let logits = kernels::linear(
        &last,
        &params[hw.clone()],
        &params[hb.clone()],
        batch,
        h,
        shape.vocab,
        threads,
    );
    let (loss, dlogits) = kernels::softmax_cross_entropy(&logits, targets, shape.vocab);
    let mut grads = vec![0.0f32; params.len()];
    grads[hw.clone()].copy_from_slice(&kernels::grad_weight(
        &last,
        &dlogits,
        batch,
        h,
        shape.vocab,
        threads,
    ));
    grads[hb].copy_from_slice(&kernels::grad_bias(&dlogits, batch, shape.vocab));
    // dh[l]: the gradient flowing into layer l's state at the current step (from the step
    // after it, and for the top layer at the last step from the head).
    let mut dh = vec![vec![0.0f32; batch * h]; shape.layers];
    dh[shape.layers - 1] =
        kernels::grad_input(&dlogits, &params[hw], batch, h, shape.vocab, threads);
    let emb = shape.embedding();
    for t in (0..window).rev() {
        // The gradient into the layer above's input at this step, added to the layer below's.
        let mut from_above: Option<Vec<f32>> = None;
        for l in (0..shape.layers).rev() {
            let c = &caches[t][l];
            let at = shape.layer(l);
            let mut d = std::mem::take(&mut dh[l]);
            if let Some(a) = from_above.take() {
                for (x, y) in d.iter_mut().zip(&a) {
                    *x += y;
                }
            }
            let mut dgx = vec![0.0f32; batch * 3 * h];
            let mut dgh = vec![0.0f32; batch * 3 * h];
            let mut dh_prev = vec![0.0f32; batch * h];
            for b in 0..batch {
                for j in 0..h {
                    let i = b * h + j;
                    let (r, z, n) = (c.r[i], c.z[i], c.n[i]);
                    let g = d[i];
                    let dn = g * (1.0 - z);
                    let dz = g * (c.h_prev[i] - n);
                    dh_prev[i] = g * z;
                    let dan = dn * (1.0 - n * n);
                    let dr = dan * c.gh_n[i];
                    let dar = dr * r * (1.0 - r);
                    let daz = dz * z * (1.0 - z);
                    let o = b * 3 * h;
                    (dgx[o + j], dgx[o + h + j], dgx[o + 2 * h + j]) = (dar, daz, dan);
                    (dgh[o + j], dgh[o + h + j], dgh[o + 2 * h + j]) = (dar, daz, dan * r);
                }
            }
            let acc = |grads: &mut [f32], range: Range<usize>, add: Vec<f32>| {
                for (g, a) in grads[range].iter_mut().zip(add) {
                    *g += a;
                }
            };
            acc(
                &mut grads,
                at.w.clone(),
                kernels::grad_weight(&c.x, &dgx, batch, h, 3 * h, threads),
            );
            acc(
                &mut grads,
                at.b_ih.clone(),
                kernels::grad_bias(&dgx, batch, 3 * h),
            );
            acc(
                &mut grads,
                at.u.clone(),
                kernels::grad_weight(&c.h_prev, &dgh, batch, h, 3 * h, threads),
            );
            acc(
                &mut grads,
                at.b_hh.clone(),
                kernels::grad_bias(&dgh, batch, 3 * h),
            );
            let back = kernels::grad_input(&dgh, &params[at.u], batch, h, 3 * h, threads);
            for (x, y) in dh_prev.iter_mut().zip(back) {
                *x += y;
            }
            dh[l] = dh_prev;
            let dx = kernels::grad_input(&dgx, &params[at.w], batch, h, 3 * h, threads);
            if l > 0 {
                from_above = Some(dx);
            } else {
                for b in 0..batch {
                    let id = ids[b * window + t];
                    let row = &mut grads[emb.start + id * h..emb.start + (id + 1) * h];
                    for (g, v) in row.iter_mut().zip(&dx[b * h..(b + 1) * h]) {
                        *g += v;
                    }
                }
            }
        }
    }
    (loss, grads)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain f64 GRU language model, written from the equations in the module docs.
    fn reference_loss(
        shape: &GruShape,
        p: &[f64],
        ids: &[usize],
        targets: &[usize],
        window: usize,
    ) -> f64 {
        let (v, h) = (shape.vocab, shape.hidden);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let mut total = 0.0;
        for (b, &target) in targets.iter().enumerate() {
            let mut hs = vec![vec![0.0f64; h]; shape.layers];
            for t in 0..window {
                let id = ids[b * window + t];
                let mut x: Vec<f64> = p[id * h..(id + 1) * h].to_vec();
                for (l, hl) in hs.iter_mut().enumerate() {
                    let at = shape.layer(l);
                    let (w, u) = (&p[at.w.clone()], &p[at.u.clone()]);
                    let (bi, bh) = (&p[at.b_ih.clone()], &p[at.b_hh.clone()]);
                    let gate = |k: usize, j: usize| -> (f64, f64) {
                        let c = k * h + j;
                        let gx = bi[c] + (0..h).map(|q| x[q] * w[q * 3 * h + c]).sum::<f64>();
                        let gh = bh[c] + (0..h).map(|q| hl[q] * u[q * 3 * h + c]).sum::<f64>();
                        (gx, gh)
                    };
                    let mut next = vec![0.0; h];
                    for j in 0..h {
                        let (rx, rh) = gate(0, j);
                        let (zx, zh) = gate(1, j);
                        let (nx, nh) = gate(2, j);
                        let (r, z) = (sig(rx + rh), sig(zx + zh));
                        let n = (nx + r * nh).tanh();
                        next[j] = (1.0 - z) * n + z * hl[j];
                    }
                    *hl = next;
                    x = hl.clone();
                }
            }
            let (hw, hb) = shape.head();
            let top = &hs[shape.layers - 1];
            let logits: Vec<f64> = (0..v)
                .map(|k| {
                    p[hb.start + k]
                        + (0..h)
                            .map(|q| top[q] * p[hw.start + q * v + k])
                            .sum::<f64>()
                })
                .collect();
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + logits.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
            total += lse - logits[target];
        }
        total / targets.len() as f64
    }

    #[test]
    fn backpropagation_through_time_matches_finite_differences() {
        let shape = GruShape {
            vocab: 7,
            hidden: 5,
            layers: 2,
        };
        let mut s = 12345u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut params = shape.init(&mut next);
        // Non-zero biases, so their gradients are exercised away from the initial point.
        for p in params.iter_mut() {
            if *p == 0.0 {
                *p = (next() - 0.5) * 0.4;
            }
        }
        let window = 4;
        let ids = [0, 3, 6, 2, 1, 1, 5, 4, 6, 0, 2, 3];
        let targets = [5, 2, 1];
        let (loss, grads) = gradients(&shape, &params, &ids, &targets, window, 1);
        let p64: Vec<f64> = params.iter().map(|&x| f64::from(x)).collect();
        let l64 = reference_loss(&shape, &p64, &ids, &targets, window);
        assert!(
            (f64::from(loss) - l64).abs() < 1e-5,
            "loss {loss} vs reference {l64}"
        );
        let eps = 1e-6;
        let mut worst = 0.0f64;
        let mut checked = 0;
        for i in 0..params.len() {
            let mut up = p64.clone();
            up[i] += eps;
            let mut down = p64.clone();
            down[i] -= eps;
            let numeric = (reference_loss(&shape, &up, &ids, &targets, window)
                - reference_loss(&shape, &down, &ids, &targets, window))
                / (2.0 * eps);
            let analytic = f64::from(grads[i]);
            let err = (numeric - analytic).abs() / (numeric.abs() + analytic.abs()).max(1e-3);
            worst = worst.max(err);
            assert!(
                err < 1e-3,
                "parameter {i}: analytic {analytic} vs numeric {numeric}"
            );
            if numeric.abs() > 1e-4 {
                checked += 1;
            }
        }
        // The check is not vacuous: most parameters have a gradient (rows of unused symbols
        // in the embedding do not).
        assert!(checked > params.len() / 2, "{checked} of {}", params.len());
        assert!(worst < 1e-3);
    }

    #[test]
    fn logits_are_the_forward_pass_of_the_gradients() {
        let shape = GruShape {
            vocab: 5,
            hidden: 3,
            layers: 1,
        };
        let mut k = 0.0f32;
        let params = shape.init(|| {
            k = (k + 0.377) % 1.0;
            k
        });
        let ids = [1, 2, 3, 4, 0, 1];
        let lg = logits(&shape, &params, &ids, 2, 3, 1);
        let (loss, _) = gradients(&shape, &params, &ids, &[0, 4], 3, 1);
        let (l2, _) = kernels::softmax_cross_entropy(&lg, &[0, 4], 5);
        assert_eq!(loss.to_bits(), l2.to_bits());
        assert_eq!(shape.parameters(), 5 * 3 + 2 * 3 * 9 + 2 * 9 + 3 * 5 + 5);
    }
}
