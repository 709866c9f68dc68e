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
}
