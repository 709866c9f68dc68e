//! Risk estimators: realised volatility, drawdown from a running high, VaR and CVaR
//! (historical and Gaussian).
//!
//! Each estimator has a point form (`*_at`: the value at bar `t` from the closes up to `t`,
//! what the live agent computes once per decision) and a series form (every bar at once, what
//! the backtester precomputes once and shares across a sweep). Both forms go through the same
//! window functions, so they agree bit for bit; a test pins that. Every window ends at bar `t`
//! inclusive: nothing looks ahead.
//!
//! Conventions: volatility is the sample standard deviation (n−1) of log returns, annualised by
//! `sqrt(bars_per_year)`. VaR and CVaR are positive loss fractions of simple returns at
//! confidence `c`: with returns sorted ascending and `k = ceil((1−c)·n)`, historical VaR is
//! `−r_(k)` and CVaR `−mean(r_(1..=k))`; Gaussian VaR is `z_c·σ − μ` and CVaR
//! `σ·φ(z_c)/(1−c) − μ`.
use crate::plan::VarMethod;

/// Log returns `ln(p[i]/p[i-1])`; element 0 is NaN (no previous close).
pub fn log_returns(close: &[f64]) -> Vec<f64> {
    let mut r = Vec::with_capacity(close.len());
    r.push(f64::NAN);
    r.extend(close.windows(2).map(|w| (w[1] / w[0]).ln()));
    r
}

/// Simple returns `p[i]/p[i-1] − 1`; element 0 is NaN.
pub fn simple_returns(close: &[f64]) -> Vec<f64> {
    horizon_returns(close, 1)
}

/// Simple returns over `h` bars, `p[i]/p[i-h] − 1` (overlapping); the first `h` elements are
/// NaN. `h = 1` gives [`simple_returns`].
pub fn horizon_returns(close: &[f64], h: usize) -> Vec<f64> {
    let h = h.max(1);
    let mut r = Vec::with_capacity(close.len());
    r.extend(std::iter::repeat_n(f64::NAN, h.min(close.len())));
    r.extend((h..close.len()).map(|i| close[i] / close[i - h] - 1.0));
    r
}

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (n−1), two-pass; NaN with fewer than 2 values.
pub fn sample_sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (x.len() - 1) as f64).sqrt()
}

/// Annualised realised volatility of a window of log returns.
pub fn realised_vol(log_returns: &[f64], bars_per_year: f64) -> f64 {
    sample_sd(log_returns) * bars_per_year.sqrt()
}

/// Realised volatility at bar `t` over the `window` log returns ending at `t`; NaN while fewer
/// than `window` returns exist.
pub fn realised_vol_at(close: &[f64], t: usize, window: usize, bars_per_year: f64) -> f64 {
    if window < 2 || t < window || t >= close.len() {
        return f64::NAN;
    }
    let r = log_returns(&close[t - window..=t]);
    realised_vol(&r[1..], bars_per_year)
}

/// [`realised_vol_at`] for every bar.
pub fn realised_vol_series(close: &[f64], window: usize, bars_per_year: f64) -> Vec<f64> {
    let r = log_returns(close);
    (0..close.len())
        .map(|t| {
            if window < 2 || t < window {
                f64::NAN
            } else {
                realised_vol(&r[t + 1 - window..=t], bars_per_year)
            }
        })
        .collect()
}

/// Drawdown of `close[t]` below the highest close of the last `lookback` bars (all history
/// when `None`), as a fraction in `[0, 1)`.
pub fn drawdown_at(close: &[f64], t: usize, lookback: Option<usize>) -> f64 {
    if t >= close.len() {
        return f64::NAN;
    }
    let from = lookback.map_or(0, |l| (t + 1).saturating_sub(l.max(1)));
    let high = close[from..=t].iter().copied().fold(f64::MIN, f64::max);
    1.0 - close[t] / high
}

/// [`drawdown_at`] for every bar, in O(n) with a monotonic queue (the max is exact, so the
/// values equal the point form's).
pub fn drawdown_series(close: &[f64], lookback: Option<usize>) -> Vec<f64> {
    let mut out = Vec::with_capacity(close.len());
    match lookback {
        None => {
            let mut high = f64::MIN;
            for &p in close {
                high = high.max(p);
                out.push(1.0 - p / high);
            }
        }
        Some(l) => {
            let l = l.max(1);
            let mut q: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
            for (t, &p) in close.iter().enumerate() {
                while q.back().is_some_and(|&j| close[j] <= p) {
                    q.pop_back();
                }
                q.push_back(t);
                while q.front().is_some_and(|&j| j + l <= t) {
                    q.pop_front();
                }
                out.push(1.0 - p / close[q[0]]);
            }
        }
    }
    out
}

fn tail_count(n: usize, confidence: f64) -> usize {
    // Guard against (1 - 0.95) * 20 = 1.0000000000000009 rounding up to 2.
    let k = ((1.0 - confidence) * n as f64 - 1e-9).ceil();
    (k.max(1.0) as usize).min(n)
}

/// Historical VaR and CVaR of `returns` at `confidence`, sorting into `scratch` (reused to
/// avoid allocating per bar). `(NaN, NaN)` for an empty window or one holding NaN.
pub fn historical_var_cvar(returns: &[f64], confidence: f64, scratch: &mut Vec<f64>) -> (f64, f64) {
    if returns.is_empty() || returns.iter().any(|r| r.is_nan()) {
        return (f64::NAN, f64::NAN);
    }
    scratch.clear();
    scratch.extend_from_slice(returns);
    scratch.sort_unstable_by(f64::total_cmp);
    let k = tail_count(scratch.len(), confidence);
    let var = -scratch[k - 1];
    let cvar = -mean(&scratch[..k]);
    (var, cvar)
}

/// Gaussian VaR and CVaR from the sample mean and standard deviation of `returns`.
pub fn parametric_var_cvar(returns: &[f64], confidence: f64) -> (f64, f64) {
    let (m, sd) = (mean(returns), sample_sd(returns));
    gaussian_var_cvar(m, sd, confidence)
}

/// Gaussian VaR and CVaR for a given mean and standard deviation.
pub fn gaussian_var_cvar(mean: f64, sd: f64, confidence: f64) -> (f64, f64) {
    let z = normal_quantile(confidence);
    let var = z * sd - mean;
    let cvar = sd * normal_pdf(z) / (1.0 - confidence) - mean;
    (var, cvar)
}

/// VaR at bar `t` over the `window` simple returns of `horizon` bars each (overlapping) ending
/// at `t` (NaN while too few). With `horizon` = the bars in a day, the VaR is a one-day VaR
/// whatever the bar size; `horizon` 1 is the one-bar VaR.
pub fn var_at(
    close: &[f64],
    t: usize,
    window: usize,
    horizon: usize,
    confidence: f64,
    method: VarMethod,
) -> f64 {
    let h = horizon.max(1);
    if window < 2 || t + 1 < window + h || t >= close.len() {
        return f64::NAN;
    }
    let r: Vec<f64> = (t + 1 - window..=t)
        .map(|s| close[s] / close[s - h] - 1.0)
        .collect();
    var_of(&r, confidence, method, &mut Vec::new())
}

fn var_of(r: &[f64], confidence: f64, method: VarMethod, scratch: &mut Vec<f64>) -> f64 {
    match method {
        VarMethod::Historical => historical_var_cvar(r, confidence, scratch).0,
        VarMethod::Parametric => parametric_var_cvar(r, confidence).0,
    }
}

/// [`var_at`] for every bar. The historical form keeps the window sorted as it slides (one
/// binary-search removal and insertion per bar instead of a sort), which yields the same
/// sorted multiset, hence bit-identical values.
pub fn var_series(
    close: &[f64],
    window: usize,
    horizon: usize,
    confidence: f64,
    method: VarMethod,
) -> Vec<f64> {
    let h = horizon.max(1);
    let r = horizon_returns(close, h);
    let n = close.len();
    // The first bar with a full window of returns.
    let first = window + h - 1;
    if window < 2 || n <= first {
        return vec![f64::NAN; n];
    }
    let mut out = vec![f64::NAN; first];
    out.reserve(n - first);
    match method {
        VarMethod::Parametric => {
            for t in first..n {
                out.push(parametric_var_cvar(&r[t + 1 - window..=t], confidence).0);
            }
        }
        VarMethod::Historical => {
            let mut sorted: Vec<f64> = r[h..=first].to_vec();
            if sorted.iter().any(|x| x.is_nan()) {
                // Not reachable with validated (positive, finite) prices; keep the slow form.
                let mut scratch = Vec::new();
                for t in first..n {
                    out.push(var_of(
                        &r[t + 1 - window..=t],
                        confidence,
                        method,
                        &mut scratch,
                    ));
                }
                return out;
            }
            sorted.sort_unstable_by(f64::total_cmp);
            let k = tail_count(window, confidence);
            for t in first..n {
                if t > first {
                    let old = r[t - window];
                    if let Ok(i) = sorted.binary_search_by(|x| x.total_cmp(&old)) {
                        sorted.remove(i);
                    }
                    let new = r[t];
                    let at = sorted.partition_point(|x| x.total_cmp(&new).is_lt());
                    sorted.insert(at, new);
                }
                out.push(-sorted[k - 1]);
            }
        }
    }
    out
}

/// Standard normal density.
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Complementary error function: power series for small arguments, a continued fraction
/// (evaluated bottom-up) for large ones.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.abs() < 2.0 {
        // erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        for n in 1..200 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * sum
    } else if x > 0.0 {
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
        let mut f = x;
        for k in (1..=80).rev() {
            f = x + (k as f64 / 2.0) / f;
        }
        (-x * x).exp() / std::f64::consts::PI.sqrt() / f
    } else {
        2.0 - erfc(-x)
    }
}

/// Standard normal cumulative distribution.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Inverse of [`normal_cdf`] by bisection (used once per plan, so exactness beats speed).
pub fn normal_quantile(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= f64::EPSILON * mid.abs().max(1e-300) {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn normal_known_values() {
        // Reference values: Abramowitz & Stegun table 26.1 / standard normal quantiles.
        assert!(close(normal_cdf(0.0), 0.5));
        assert!((normal_cdf(1.96) - 0.975_002_104_851_780).abs() < 1e-13);
        assert!((normal_quantile(0.95) - 1.644_853_626_951_472).abs() < 1e-12);
        assert!((normal_quantile(0.99) - 2.326_347_874_040_841).abs() < 1e-12);
        assert!((erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 1e-18);
        assert!((erfc(-1.0) - 1.842_700_792_949_715).abs() < 1e-14);
    }

    #[test]
    fn vol_by_hand() {
        // Closes 100, 110, 99, 108.9: log returns ln1.1, ln0.9, ln1.1.
        let c = [100.0, 110.0, 99.0, 108.9];
        let (a, b) = (1.1f64.ln(), 0.9f64.ln());
        let m = (2.0 * a + b) / 3.0;
        let sd = (((a - m).powi(2) * 2.0 + (b - m).powi(2)) / 2.0).sqrt();
        assert!(close(realised_vol_at(&c, 3, 3, 365.0), sd * 365f64.sqrt()));
        assert!(realised_vol_at(&c, 2, 3, 365.0).is_nan());
    }

    #[test]
    fn drawdown_by_hand() {
        let c = [100.0, 120.0, 90.0, 60.0, 130.0, 65.0];
        let all = drawdown_series(&c, None);
        assert_eq!(all, vec![0.0, 0.0, 0.25, 0.5, 0.0, 0.5]);
        let l2 = drawdown_series(&c, Some(2));
        assert_eq!(l2[3], 1.0 - 60.0 / 90.0);
        assert_eq!(l2[5], 0.5);
    }

    #[test]
    fn var_by_hand() {
        // 20 returns: -0.10, -0.05, then 18 of +0.01. At 95%, k = 1: VaR 0.10, CVaR 0.10.
        // At 90%, k = 2: VaR 0.05, CVaR 0.075.
        let mut r = vec![0.01; 18];
        r.extend([-0.10, -0.05]);
        let mut s = Vec::new();
        let (v, cv) = historical_var_cvar(&r, 0.95, &mut s);
        assert!(close(v, 0.10) && close(cv, 0.10));
        let (v, cv) = historical_var_cvar(&r, 0.90, &mut s);
        assert!(close(v, 0.05) && close(cv, 0.075), "{v} {cv}");
        // Gaussian: mean 0, sd 0.02 at 95% -> 1.6449 * 0.02; CVaR 0.02 * phi(z) / 0.05.
        let (v, cv) = gaussian_var_cvar(0.0, 0.02, 0.95);
        assert!((v - 0.032_897_072_539_029).abs() < 1e-12);
        assert!((cv - 0.041_254_256_150_149).abs() < 1e-12, "{cv}");
    }

    #[test]
    fn horizon_var_uses_returns_over_the_horizon() {
        // Closes rising 1% a bar except one 6-bar stretch losing 2% a bar: 6-bar returns see
        // the stretch as one loss of about 11%, 1-bar returns as 2% losses.
        let mut c = vec![100.0];
        for i in 1..60 {
            let g = if (30..36).contains(&i) { 0.98 } else { 1.01 };
            c.push(c[i - 1] * g);
        }
        let one = var_at(&c, 59, 40, 1, 0.95, VarMethod::Historical);
        let six = var_at(&c, 59, 40, 6, 0.95, VarMethod::Historical);
        assert!((one - 0.02).abs() < 1e-9, "{one}");
        assert!(six > 0.08, "{six}");
        assert!(var_at(&c, 44, 40, 6, 0.95, VarMethod::Historical).is_nan());
        assert!(!var_at(&c, 45, 40, 6, 0.95, VarMethod::Historical).is_nan());
    }

    #[test]
    fn point_and_series_forms_agree_exactly() {
        let c: Vec<f64> = (0..400)
            .map(|i| 100.0 * (1.0 + 0.3 * ((i as f64) * 0.37).sin() + 0.001 * i as f64))
            .collect();
        let vol = realised_vol_series(&c, 20, 365.0);
        let dd = drawdown_series(&c, Some(50));
        let dd_all = drawdown_series(&c, None);
        let vh = var_series(&c, 30, 1, 0.95, VarMethod::Historical);
        let vp = var_series(&c, 30, 1, 0.99, VarMethod::Parametric);
        let vh6 = var_series(&c, 30, 6, 0.95, VarMethod::Historical);
        let vp6 = var_series(&c, 30, 6, 0.99, VarMethod::Parametric);
        for t in 0..c.len() {
            assert_eq!(
                vol[t].to_bits(),
                realised_vol_at(&c, t, 20, 365.0).to_bits(),
                "vol {t}"
            );
            assert_eq!(dd[t], drawdown_at(&c, t, Some(50)), "dd {t}");
            assert_eq!(dd_all[t], drawdown_at(&c, t, None), "dd {t}");
            assert_eq!(
                vh[t].to_bits(),
                var_at(&c, t, 30, 1, 0.95, VarMethod::Historical).to_bits()
            );
            assert_eq!(
                vp[t].to_bits(),
                var_at(&c, t, 30, 1, 0.99, VarMethod::Parametric).to_bits()
            );
            assert_eq!(
                vh6[t].to_bits(),
                var_at(&c, t, 30, 6, 0.95, VarMethod::Historical).to_bits(),
                "{t}"
            );
            assert_eq!(
                vp6[t].to_bits(),
                var_at(&c, t, 30, 6, 0.99, VarMethod::Parametric).to_bits()
            );
        }
    }
}
