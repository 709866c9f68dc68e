//! Performance metrics of a run.
//!
//! Returns are time-weighted: on a bar where the plan deposits `F`, the return is
//! `(V_t − F) / V_{t−1} − 1`, so deposits are not mistaken for gains. Drawdown and the Ulcer
//! index are measured on the NAV index built from those returns (starting at 1), not on the
//! raw account value that deposits keep pushing up. Annualisation uses the bars per 365-day year
//! (crypto trades every day); the risk-free rate is 0.
//!
//! | metric | formula |
//! |---|---|
//! | volatility | `sd(r)·√B` (sample sd, n−1) |
//! | Sharpe | `mean(r)/sd(r)·√B` |
//! | Sortino | `mean(r)/√(Σmin(r,0)²/n)·√B` |
//! | CAGR | `NAV_end^(B/n) − 1` |
//! | max drawdown | `max_t (1 − NAV_t / max_{s≤t} NAV_s)` |
//! | Calmar | `CAGR / max drawdown` |
//! | Ulcer index | `√(mean_t dd_t²)` (a fraction, not percent) |
//! | VaR, CVaR | one bar, at the plan's confidence: see `cairn_strategy::risk` |
//!
//! [`Stats`] accumulates everything but historical VaR in one pass, so a sweep can rank
//! thousands of configurations without storing their return series.
use cairn_strategy::risk;
use serde::Serialize;

/// One-pass accumulator over per-bar returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Number of returns.
    pub n: u64,
    /// Σ r.
    pub sum: f64,
    /// Σ r².
    pub sum_sq: f64,
    /// Σ min(r, 0)².
    pub down_sq: f64,
    /// NAV index (starts at 1).
    pub nav: f64,
    /// Highest NAV so far.
    pub peak: f64,
    /// `1 / peak`.
    pub inv_peak: f64,
    /// Largest drawdown of the NAV so far.
    pub max_dd: f64,
    /// Σ dd² over bars with a return.
    pub dd_sq: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
            down_sq: 0.0,
            nav: 1.0,
            peak: 1.0,
            inv_peak: 1.0,
            max_dd: 0.0,
            dd_sq: 0.0,
        }
    }
}

impl Stats {
    /// Adds one return; returns the NAV drawdown after it.
    #[inline(always)]
    pub fn push(&mut self, r: f64) -> f64 {
        self.n += 1;
        self.sum += r;
        self.sum_sq += r * r;
        let d = r.min(0.0);
        self.down_sq += d * d;
        self.nav *= 1.0 + r;
        // New highs are rare next to bars below the high: keep 1/peak and multiply, so the
        // common bar needs one division (its return) instead of two.
        if self.nav >= self.peak {
            self.peak = self.nav;
            self.inv_peak = 1.0 / self.nav;
        }
        let dd = (1.0 - self.nav * self.inv_peak).max(0.0);
        self.max_dd = self.max_dd.max(dd);
        self.dd_sq += dd * dd;
        dd
    }

    /// Mean return.
    pub fn mean(&self) -> f64 {
        self.sum / self.n as f64
    }

    /// Sample standard deviation of returns.
    pub fn sd(&self) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        let n = self.n as f64;
        let m = self.sum / n;
        ((self.sum_sq - n * m * m).max(0.0) / (n - 1.0)).sqrt()
    }

    /// Annualised volatility.
    pub fn volatility(&self, bars_per_year: f64) -> f64 {
        self.sd() * bars_per_year.sqrt()
    }

    /// Annualised Sharpe ratio (risk-free 0).
    pub fn sharpe(&self, bars_per_year: f64) -> f64 {
        self.mean() / self.sd() * bars_per_year.sqrt()
    }

    /// Annualised Sortino ratio (target 0).
    pub fn sortino(&self, bars_per_year: f64) -> f64 {
        let dd = (self.down_sq / self.n as f64).sqrt();
        self.mean() / dd * bars_per_year.sqrt()
    }

    /// Compound annual growth of the NAV.
    pub fn cagr(&self, bars_per_year: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.nav.powf(bars_per_year / self.n as f64) - 1.0
    }

    /// CAGR over max drawdown.
    pub fn calmar(&self, bars_per_year: f64) -> f64 {
        self.cagr(bars_per_year) / self.max_dd
    }

    /// Root mean square drawdown.
    pub fn ulcer(&self) -> f64 {
        (self.dd_sq / self.n as f64).sqrt()
    }
}

/// Everything reported about one run (strategy, plain DCA or lump sum).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Cash deposited (initial cash plus each period's budget).
    pub invested: f64,
    /// Quote units swapped into assets (fees included, gas excluded).
    pub spent: f64,
    /// DEX fees paid.
    pub fees: f64,
    /// Gas paid.
    pub gas: f64,
    /// Cash left (carried, paused or unspent).
    pub cash: f64,
    /// Final value: cash plus holdings at the last close.
    pub value: f64,
    /// `value − invested`.
    pub pnl: f64,
    /// `pnl / invested`.
    pub pnl_pct: f64,
    /// Time-weighted return (NAV − 1).
    pub twr: f64,
    /// Compound annual growth of the NAV.
    pub cagr: f64,
    /// Largest NAV drawdown.
    pub max_drawdown: f64,
    /// Annualised volatility of returns.
    pub volatility: f64,
    /// Annualised Sharpe ratio.
    pub sharpe: f64,
    /// Annualised Sortino ratio.
    pub sortino: f64,
    /// CAGR / max drawdown.
    pub calmar: f64,
    /// Ulcer index (fraction).
    pub ulcer_index: f64,
    /// One-bar historical VaR (loss fraction).
    pub var_historical: f64,
    /// One-bar historical CVaR.
    pub cvar_historical: f64,
    /// One-bar Gaussian VaR.
    pub var_parametric: f64,
    /// One-bar Gaussian CVaR.
    pub cvar_parametric: f64,
    /// Bars with a return (after the first deposit).
    pub bars: u64,
}

/// Money totals of a run, the inputs to [`Metrics::from_run`] besides the returns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Cash deposited.
    pub invested: f64,
    /// Quote swapped in.
    pub spent: f64,
    /// Fees paid.
    pub fees: f64,
    /// Gas paid.
    pub gas: f64,
    /// Cash left.
    pub cash: f64,
    /// Final value.
    pub value: f64,
}

impl Metrics {
    /// Metrics from totals, the streaming stats and (for historical VaR) the return series;
    /// pass an empty `returns` to leave historical VaR/CVaR as NaN (sweeps).
    pub fn from_run(
        totals: Totals,
        stats: &Stats,
        returns: &[f64],
        bars_per_year: f64,
        confidence: f64,
    ) -> Metrics {
        let (var_h, cvar_h) = if returns.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            risk::historical_var_cvar(returns, confidence, &mut Vec::new())
        };
        let (var_p, cvar_p) = if stats.n >= 2 {
            risk::gaussian_var_cvar(stats.mean(), stats.sd(), confidence)
        } else {
            (f64::NAN, f64::NAN)
        };
        let pnl = totals.value - totals.invested;
        Metrics {
            invested: totals.invested,
            spent: totals.spent,
            fees: totals.fees,
            gas: totals.gas,
            cash: totals.cash,
            value: totals.value,
            pnl,
            pnl_pct: pnl / totals.invested,
            twr: stats.nav - 1.0,
            cagr: stats.cagr(bars_per_year),
            max_drawdown: stats.max_dd,
            volatility: stats.volatility(bars_per_year),
            sharpe: stats.sharpe(bars_per_year),
            sortino: stats.sortino(bars_per_year),
            calmar: stats.calmar(bars_per_year),
            ulcer_index: stats.ulcer(),
            var_historical: var_h,
            cvar_historical: cvar_h,
            var_parametric: var_p,
            cvar_parametric: cvar_p,
            bars: stats.n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} != {b}");
    }

    #[test]
    fn metrics_by_hand() {
        // Returns +10%, -20%, +25%, -10%, bars_per_year 4.
        // NAV: 1.1, 0.88, 1.1, 0.99. Peak 1.1 -> dd: 0, 0.2, 0, 0.1.
        let r = [0.1, -0.2, 0.25, -0.1];
        let mut s = Stats::default();
        for x in r {
            s.push(x);
        }
        approx(s.nav, 0.99);
        approx(s.max_dd, 0.2);
        // mean 0.0125; deviations .0875 -.2125 .2375 -.1125; squares sum
        // .00765625 + .04515625 + .05640625 + .01265625 = .121875; sd = sqrt(.121875/3)
        let sd = (0.121_875f64 / 3.0).sqrt();
        approx(s.mean(), 0.0125);
        approx(s.sd(), sd);
        approx(s.volatility(4.0), sd * 2.0);
        approx(s.sharpe(4.0), 0.0125 / sd * 2.0);
        // downside: (0.04 + 0.01) / 4 = 0.0125
        approx(s.sortino(4.0), 0.0125 / 0.0125f64.sqrt() * 2.0);
        // CAGR: 0.99^(4/4) - 1 = -0.01; Calmar -0.01 / 0.2
        approx(s.cagr(4.0), -0.01);
        approx(s.calmar(4.0), -0.05);
        // Ulcer: sqrt((0 + .04 + 0 + .01) / 4)
        approx(s.ulcer(), 0.0125f64.sqrt());
        let m = Metrics::from_run(
            Totals {
                invested: 100.0,
                value: 90.0,
                ..Totals::default()
            },
            &s,
            &r,
            4.0,
            0.75,
        );
        // k = ceil(0.25 * 4) = 1: worst return -0.2.
        approx(m.var_historical, 0.2);
        approx(m.cvar_historical, 0.2);
        approx(m.pnl, -10.0);
        approx(m.pnl_pct, -0.1);
        approx(m.twr, -0.01);
        let z = cairn_strategy::risk::normal_quantile(0.75);
        approx(m.var_parametric, z * sd - 0.0125);
    }
}
