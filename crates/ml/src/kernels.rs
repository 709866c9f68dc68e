//! Cairn's reproducible CPU kernels: the operations the trainer uses, with a fixed reduction
//! order and a partitioning that does not change any result.
//!
//! Every output element is computed by exactly one thread, always as the same sequence of IEEE
//! `f32` additions and multiplications in ascending index order; threads only split the output
//! rows among themselves. So results are bit-identical for any thread count, in any process, on
//! any IEEE-754 machine (Rust never fuses `a * b + c` into an FMA unless asked). General BLAS
//! kernels (candle's `gemm` among them) split the reduction dimension into blocks whose size and
//! order depend on the CPU and the thread count; that is fast, but not a computation a verifier
//! can redo bit for bit.
//!
//! Matrices are row-major `&[f32]`.

/// Below this many multiply-adds a kernel runs on the calling thread (spawning costs more).
const PARALLEL_MIN_WORK: usize = 1 << 20;

/// Runs `f(row, out_row)` for every row of `out` (`rows × cols`), splitting the rows into
/// `threads` contiguous blocks. `work` is the kernel's multiply-add count.
fn for_rows(
    out: &mut [f32],
    cols: usize,
    threads: usize,
    work: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    if cols == 0 {
        return;
    }
    let rows = out.len() / cols;
    let threads = threads.clamp(1, rows.max(1));
    if threads == 1 || work < PARALLEL_MIN_WORK {
        for (i, row) in out.chunks_mut(cols).enumerate() {
            f(i, row);
        }
        return;
    }
    let per = rows.div_ceil(threads);
    std::thread::scope(|s| {
        for (b, block) in out.chunks_mut(per * cols).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (i, row) in block.chunks_mut(cols).enumerate() {
                    f(b * per + i, row);
                }
            });
        }
    });
}

/// `y = x · w + bias` for `x: n × k`, `w: k × m`, `bias: m`; `y[i][j] = bias[j] + Σ_p x[i][p]
/// w[p][j]`, summed in ascending `p`.
pub fn linear(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    n: usize,
    k: usize,
    m: usize,
    threads: usize,
) -> Vec<f32> {
    debug_assert_eq!(x.len(), n * k);
    debug_assert_eq!(w.len(), k * m);
    let mut y = vec![0.0f32; n * m];
    for_rows(&mut y, m, threads, n * k * m, |i, row| {
        row.copy_from_slice(bias);
        let xi = &x[i * k..(i + 1) * k];
        for (p, &a) in xi.iter().enumerate() {
            let wp = &w[p * m..(p + 1) * m];
            for (o, &b) in row.iter_mut().zip(wp) {
                *o += a * b;
            }
        }
    });
    y
}

/// `dx = dy · wᵀ` for `dy: n × m`, `w: k × m`: `dx[i][p] = Σ_j dy[i][j] w[p][j]`, ascending `j`.
pub fn grad_input(dy: &[f32], w: &[f32], n: usize, k: usize, m: usize, threads: usize) -> Vec<f32> {
    let mut dx = vec![0.0f32; n * k];
    for_rows(&mut dx, k, threads, n * k * m, |i, row| {
        let dyi = &dy[i * m..(i + 1) * m];
        for (p, o) in row.iter_mut().enumerate() {
            let wp = &w[p * m..(p + 1) * m];
            let mut acc = 0.0f32;
            for (&a, &b) in dyi.iter().zip(wp) {
                acc += a * b;
            }
            *o = acc;
        }
    });
    dx
}

/// `dw = xᵀ · dy` for `x: n × k`, `dy: n × m`: `dw[p][j] = Σ_i x[i][p] dy[i][j]`, ascending `i`.
pub fn grad_weight(
    x: &[f32],
    dy: &[f32],
    n: usize,
    k: usize,
    m: usize,
    threads: usize,
) -> Vec<f32> {
    let mut dw = vec![0.0f32; k * m];
    for_rows(&mut dw, m, threads, n * k * m, |p, row| {
        for i in 0..n {
            let a = x[i * k + p];
            let dyi = &dy[i * m..(i + 1) * m];
            for (o, &b) in row.iter_mut().zip(dyi) {
                *o += a * b;
            }
        }
    });
    dw
}

/// `db[j] = Σ_i dy[i][j]`, ascending `i`.
pub fn grad_bias(dy: &[f32], n: usize, m: usize) -> Vec<f32> {
    let mut db = vec![0.0f32; m];
    for i in 0..n {
        for (o, &g) in db.iter_mut().zip(&dy[i * m..(i + 1) * m]) {
            *o += g;
        }
    }
    db
}

/// ReLU in place.
pub fn relu(v: &mut [f32]) {
    for x in v {
        if *x < 0.0 {
            *x = 0.0;
        }
    }
}

/// Zeroes the gradient where the activation was cut off by ReLU.
pub fn relu_backward(grad: &mut [f32], activation: &[f32]) {
    for (g, &a) in grad.iter_mut().zip(activation) {
        if a <= 0.0 {
            *g = 0.0;
        }
    }
}

/// Mean squared error of `pred` against `target`, and its gradient `2 (pred - target) / len`;
/// the sum runs in index order.
pub fn mse(pred: &[f32], target: &[f32]) -> (f32, Vec<f32>) {
    let scale = 2.0 / pred.len() as f32;
    let mut sum = 0.0f32;
    let mut grad = Vec::with_capacity(pred.len());
    for (&p, &t) in pred.iter().zip(target) {
        let d = p - t;
        sum += d * d;
        grad.push(d * scale);
    }
    (sum / pred.len() as f32, grad)
}

/// `eˣ` from IEEE basic operations only (range reduction by `ln 2`, a degree-10 Taylor
/// polynomial in `f64`, the power of two built from its bits): the same bits on every machine,
/// unlike the platform's `exp`, whose last bit varies between C libraries. Relative error below
/// 1e-12 over the clamped range `[-708, 709]`.
pub fn exp(x: f64) -> f64 {
    const LN2_HI: f64 = std::f64::consts::LN_2;
    if x.is_nan() {
        return x;
    }
    let x = x.clamp(-708.0, 709.0);
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = x - k * LN2_HI;
    // Horner over 1/n!, |r| ≤ ln2/2.
    let mut p = 1.0 / 3_628_800.0;
    for d in [
        362_880.0, 40_320.0, 5_040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0,
    ] {
        p = p * r + 1.0 / d;
    }
    // p = Σ rⁿ/n! for n = 0..=10; scale by 2^k, built exactly from its exponent bits.
    let scale = f64::from_bits(((k as i64 + 1023) as u64) << 52);
    p * scale
}

/// `ln x` for `x > 0` from IEEE basic operations only: `x = m·2ᵏ` with `m` in `[√½, √2)`, then
/// `ln m = 2 atanh(s)`, `s = (m − 1)/(m + 1)`, by its odd series to `s¹⁹`. Reports losses, which
/// every provider must print alike; `−∞` for 0, NaN below.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (mut m, mut k) = (x, 0i64);
    while m >= std::f64::consts::SQRT_2 {
        m *= 0.5;
        k += 1;
    }
    while m < std::f64::consts::FRAC_1_SQRT_2 {
        m *= 2.0;
        k -= 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut sum = 0.0;
    for n in (1..=19).rev().step_by(2) {
        sum = sum * s2 + 1.0 / f64::from(n);
    }
    2.0 * s * sum + k as f64 * std::f64::consts::LN_2
}

/// The logistic function `1 / (1 + e⁻ˣ)`, reproducibly ([`exp`]).
pub fn sigmoid(x: f32) -> f32 {
    (1.0 / (1.0 + exp(-f64::from(x)))) as f32
}

/// `tanh x = (e²ˣ − 1)/(e²ˣ + 1)`, reproducibly ([`exp`]); exact ±1 beyond ±20.
pub fn tanh(x: f32) -> f32 {
    let x = f64::from(x);
    if x > 20.0 {
        return 1.0;
    }
    if x < -20.0 {
        return -1.0;
    }
    let e = exp(2.0 * x);
    ((e - 1.0) / (e + 1.0)) as f32
}

/// Mean softmax cross-entropy of `logits` (`n × m`) against the class `targets[i]` of each row,
/// and its gradient `(softmax − one-hot) / n`. Each row's sums run in index order with
/// [`exp`] and [`ln`], so the loss and gradient are the same bits everywhere.
pub fn softmax_cross_entropy(logits: &[f32], targets: &[usize], m: usize) -> (f32, Vec<f32>) {
    let n = targets.len();
    let mut grad = vec![0.0f32; n * m];
    let mut total = 0.0f64;
    for (i, &t) in targets.iter().enumerate() {
        let row = &logits[i * m..(i + 1) * m];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f64;
        let g = &mut grad[i * m..(i + 1) * m];
        for (o, &z) in g.iter_mut().zip(row) {
            let e = exp(f64::from(z - max));
            *o = e as f32;
            sum += e;
        }
        total += ln(sum) - f64::from(row[t] - max);
        for (j, o) in g.iter_mut().enumerate() {
            let p = f64::from(*o) / sum;
            let onehot = if j == t { 1.0 } else { 0.0 };
            *o = ((p - onehot) / n as f64) as f32;
        }
    }
    ((total / n.max(1) as f64) as f32, grad)
}

/// Row-wise softmax of `logits` (`n × m`), reproducibly ([`exp`]).
pub fn softmax(logits: &[f32], m: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; logits.len()];
    for (row, o) in logits.chunks(m).zip(out.chunks_mut(m)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f64;
        let e: Vec<f64> = row.iter().map(|&z| exp(f64::from(z - max))).collect();
        for v in &e {
            sum += v;
        }
        for (x, v) in o.iter_mut().zip(e) {
            *x = (v / sum) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn kernels_are_bit_identical_across_thread_counts() {
        let (n, k, m) = (167, 129, 71); // above the parallel threshold
        let x = pseudo(n * k, 1);
        let w = pseudo(k * m, 2);
        let b = pseudo(m, 3);
        let dy = pseudo(n * m, 4);
        let one = (
            linear(&x, &w, &b, n, k, m, 1),
            grad_input(&dy, &w, n, k, m, 1),
            grad_weight(&x, &dy, n, k, m, 1),
        );
        for t in [2, 3, 7, 64] {
            let many = (
                linear(&x, &w, &b, n, k, m, t),
                grad_input(&dy, &w, n, k, m, t),
                grad_weight(&x, &dy, n, k, m, t),
            );
            let bits = |v: &Vec<f32>| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&one.0), bits(&many.0), "linear, {t} threads");
            assert_eq!(bits(&one.1), bits(&many.1), "grad_input, {t} threads");
            assert_eq!(bits(&one.2), bits(&many.2), "grad_weight, {t} threads");
        }
        // And they compute what they say.
        let y = &one.0;
        let mut e = b[5];
        for p in 0..k {
            e += x[3 * k + p] * w[p * m + 5];
        }
        assert_eq!(y[3 * m + 5].to_bits(), e.to_bits());
    }

    #[test]
    fn mse_and_its_gradient() {
        let (l, g) = mse(&[1.0, 3.0], &[0.0, 1.0]);
        assert_eq!(l, 2.5);
        assert_eq!(g, vec![1.0, 2.0]);
    }

    #[test]
    fn exp_ln_sigmoid_and_tanh_match_the_library_closely() {
        for i in -400..=400 {
            let x = f64::from(i) * 0.05;
            let (a, b) = (exp(x), x.exp());
            assert!(((a - b) / b).abs() < 1e-12, "exp({x}): {a} vs {b}");
            let y = b;
            assert!((ln(y) - x).abs() < 1e-12 * x.abs().max(1.0), "ln({y})");
            let xf = x as f32;
            assert!((sigmoid(xf) - 1.0 / (1.0 + (-xf).exp())).abs() < 1e-6);
            assert!((tanh(xf) - xf.tanh()).abs() < 1e-6, "tanh({xf})");
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(-1.0).is_nan() && exp(f64::NAN).is_nan());
    }

    #[test]
    fn cross_entropy_and_its_gradient() {
        // Two classes with equal logits: loss ln 2, gradient ±1/2 per row.
        let (l, g) = softmax_cross_entropy(&[0.0, 0.0, 3.0, 3.0], &[0, 1], 2);
        assert!((f64::from(l) - std::f64::consts::LN_2).abs() < 1e-7);
        assert_eq!(g, vec![-0.25, 0.25, 0.25, -0.25]);
        let p = softmax(&[1.0, 2.0, 3.0], 3);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6 && p[2] > p[1]);
    }
}
