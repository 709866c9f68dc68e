//! The simulator: replays a plan bar by bar through the shared policy.
//!
//! ```text
//!  for each bar t:
//!    due period? ── deposit budget ── snapshot(t) ── cairn_strategy::decide ── swap at the
//!                                                                   constant-product quote
//!    value_t = cash + Σ holdings·close_t ── time-weighted return ── Stats (+ Recorder)
//! ```
//!
//! Decisions use closes up to and including `t` and fill at `close_t` in a pool centred at
//! that price (arbitrage re-centres the pool between bars). Bars missing from the data are
//! intervals without trading: the loop never sees them, and a period that falls entirely in a
//! gap is missed (no deposit, no buy) and counted. The loop allocates nothing: per-asset state
//! lives in fixed arrays and the recorder is a type parameter, so a sweep's recorder compiles
//! away.

// Per-asset state lives in parallel fixed arrays indexed by asset.
#![allow(clippy::needless_range_loop)]

use crate::{
    features::View,
    metrics::{Stats, Totals},
};
use cairn_strategy::{
    Action, AssetMarket, Clip, Decision, MAX_ASSETS, MarketSnapshot, Plan, PortfolioState,
    RiskMeasure, SkipReason, decide,
};

/// Skip-reason labels in the order of [`RunOutput::skips`].
pub const SKIP_LABELS: [&str; 6] = [
    "paused_volatility",
    "paused_var",
    "no_price",
    "max_allocation",
    "below_min_order",
    "insufficient_funds",
];

fn skip_index(r: &SkipReason) -> usize {
    // Same order as SKIP_LABELS (a test pins it); a match, not a string search, because this
    // runs on every skipped asset of every configuration.
    match r {
        SkipReason::Paused {
            measure: RiskMeasure::Volatility,
            ..
        } => 0,
        SkipReason::Paused {
            measure: RiskMeasure::ValueAtRisk,
            ..
        } => 1,
        SkipReason::NoPrice => 2,
        SkipReason::MaxAllocation { .. } => 3,
        SkipReason::BelowMinOrder { .. } => 4,
        SkipReason::InsufficientFunds { .. } => 5,
    }
}

/// Observes a run. Methods default to doing nothing.
pub trait Recorder {
    /// After each bar: account value, cumulative deposits, the bar's return (NaN before the
    /// first deposit) and the NAV drawdown.
    #[inline(always)]
    fn bar(&mut self, _t: usize, _value: f64, _invested: f64, _ret: f64, _dd: f64) {}
    /// After each due period's decision: the cash it had (after the deposit), the market it
    /// saw and what it decided.
    #[inline(always)]
    fn decision(&mut self, _t: usize, _cash: f64, _market: &MarketSnapshot, _d: &Decision) {}
}

/// A recorder that keeps nothing (sweeps).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecord;
impl Recorder for NoRecord {}

/// Final state and counters of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOutput {
    /// Money totals.
    pub totals: Totals,
    /// Return statistics.
    pub stats: Stats,
    /// Base units held per plan asset.
    pub holdings: [f64; MAX_ASSETS],
    /// Cost basis per asset: quote swapped in plus gas.
    pub cost: [f64; MAX_ASSETS],
    /// Swaps per asset.
    pub buys: [u32; MAX_ASSETS],
    /// Swaps whose risk multiplier was capped by the cash available ([`Clip::Cash`]).
    pub capped: u32,
    /// Skips per reason ([`SKIP_LABELS`] order), over all assets.
    pub skips: [u32; 6],
    /// Due periods.
    pub periods: u32,
    /// Periods missed inside data gaps.
    pub missed: u64,
}

impl Default for RunOutput {
    fn default() -> Self {
        RunOutput {
            totals: Totals::default(),
            stats: Stats::default(),
            holdings: [0.0; MAX_ASSETS],
            cost: [0.0; MAX_ASSETS],
            buys: [0; MAX_ASSETS],
            capped: 0,
            skips: [0; 6],
            periods: 0,
            missed: 0,
        }
    }
}

#[inline(always)]
fn at(s: Option<&[f64]>, t: usize) -> f64 {
    match s {
        Some(s) => s[t],
        None => f64::NAN,
    }
}

/// Runs `plan` over `view`, reporting to `rec`.
pub fn run<R: Recorder>(plan: &Plan, view: &View<'_>, rec: &mut R) -> RunOutput {
    // Monomorphise on the asset count so the per-bar valuation is a fixed-size loop.
    match view.n {
        1 => run_n::<1, R>(plan, view, rec),
        2 => run_n::<2, R>(plan, view, rec),
        3 => run_n::<3, R>(plan, view, rec),
        _ => run_n::<MAX_ASSETS, R>(plan, view, rec),
    }
}

#[inline(always)]
fn step<R: Recorder>(
    out: &mut RunOutput,
    rec: &mut R,
    prev_value: &mut f64,
    t: usize,
    value: f64,
    flow: f64,
) {
    let (ret, dd) = if *prev_value > 0.0 {
        let r = (value - flow) / *prev_value - 1.0;
        (r, out.stats.push(r))
    } else {
        (f64::NAN, 0.0)
    };
    *prev_value = value;
    rec.bar(t, value, out.totals.invested, ret, dd);
}

fn run_n<const N: usize, R: Recorder>(plan: &Plan, view: &View<'_>, rec: &mut R) -> RunOutput {
    let fee = plan.execution.fee();
    let amount = plan.budget.amount;
    let gas_each = plan.execution.gas_per_buy;
    let mut out = RunOutput::default();
    let mut state = PortfolioState::with_cash(plan.budget.initial_cash);
    out.totals.invested = plan.budget.initial_cash;
    let mut prev_value = state.cash;
    let buys = view.buys;
    let mut bi = 0usize;
    let mut next_buy = buys.first().map_or(usize::MAX, |b| b.bar as usize);
    let close: [&[f64]; N] = std::array::from_fn(|i| view.close[i]);
    let mut t = view.range.start;
    let end = view.range.end;
    while t < end {
        if t == next_buy {
            out.missed += u64::from(buys[bi].missed);
            out.periods += 1;
            bi += 1;
            next_buy = buys.get(bi).map_or(usize::MAX, |b| b.bar as usize);
            state.cash += amount;
            out.totals.invested += amount;
            let mut snap = MarketSnapshot {
                time_ms: view.time[t],
                assets: [AssetMarket::priced(f64::NAN); MAX_ASSETS],
            };
            for i in 0..N {
                snap.assets[i] = AssetMarket {
                    price: close[i][t],
                    vol: at(view.vol[i], t),
                    drawdown: at(view.dd[i], t),
                    var: at(view.var[i], t),
                };
            }
            let d = decide(plan, &state, &snap);
            let cash_before = state.cash;
            for (i, a) in d.actions().iter().enumerate() {
                match a {
                    Action::Buy(o) => {
                        state.cash -= o.amount_in + gas_each;
                        state.holdings[i] += o.expected_out;
                        out.cost[i] += o.amount_in + gas_each;
                        out.buys[i] += 1;
                        out.capped += u32::from(o.clip == Some(Clip::Cash));
                        out.totals.spent += o.amount_in;
                        out.totals.fees += o.amount_in * fee;
                        out.totals.gas += gas_each;
                    }
                    Action::Skip(r) => out.skips[skip_index(r)] += 1,
                }
            }
            // Cash comparisons in the policy allow for last-bit rounding; never let that show
            // up as a negative balance.
            if state.cash < 0.0 {
                state.cash = 0.0;
            }
            rec.decision(t, cash_before, &snap, &d);
            let mut value = state.cash;
            for i in 0..N {
                value += state.holdings[i] * close[i][t];
            }
            step(&mut out, rec, &mut prev_value, t, value, amount);
            t += 1;
            continue;
        }
        // Between due periods cash and holdings are constant: value the bars in a tight loop.
        let seg_end = next_buy.min(end);
        let cash = state.cash;
        let h: [f64; N] = std::array::from_fn(|i| state.holdings[i]);
        let seg: [&[f64]; N] = std::array::from_fn(|i| &close[i][t..seg_end]);
        let len = seg_end - t;
        for s in &seg {
            assert_eq!(s.len(), len);
        }
        for k in 0..len {
            let mut value = cash;
            for i in 0..N {
                value += h[i] * seg[i][k];
            }
            step(&mut out, rec, &mut prev_value, t + k, value, 0.0);
        }
        t = seg_end;
    }
    out.totals.cash = state.cash;
    out.totals.value = prev_value;
    out.holdings = state.holdings;
    out
}

/// Lump sum: `total` quote units split by the plan's weights and swapped at the first bar of
/// the range with the same DEX costs (one swap per asset, so one gas each), then held.
pub fn lump_sum<R: Recorder>(plan: &Plan, view: &View<'_>, total: f64, rec: &mut R) -> RunOutput {
    let n = view.n.min(MAX_ASSETS);
    let mut out = RunOutput::default();
    let Some(t0) = view.range.clone().next() else {
        return out;
    };
    let exec = &plan.execution;
    let gas = exec.gas_per_buy;
    let mut cash = total;
    for (i, a) in plan.assets.iter().enumerate().take(n) {
        let spend = ((total - gas * n as f64) * a.weight).max(0.0);
        let pool = cairn_strategy::Pool::at_price(exec, view.close[i][t0]);
        out.holdings[i] = pool.quote_buy(spend);
        out.cost[i] = spend + gas;
        out.buys[i] = 1;
        out.totals.spent += spend;
        out.totals.fees += spend * exec.fee();
        out.totals.gas += gas;
        cash -= spend + gas;
    }
    let cash = cash.max(0.0);
    out.totals.invested = total;
    out.periods = 1;
    let mut prev = 0.0;
    for t in view.range.clone() {
        let mut value = cash;
        for i in 0..n {
            value += out.holdings[i] * view.close[i][t];
        }
        let (ret, dd) = if t == t0 {
            // The entry costs (fees, gas, impact) are the first bar's return.
            let r = value / total - 1.0;
            (r, out.stats.push(r))
        } else if prev > 0.0 {
            let r = value / prev - 1.0;
            (r, out.stats.push(r))
        } else {
            (f64::NAN, 0.0)
        };
        prev = value;
        rec.bar(t, value, total, ret, dd);
    }
    out.totals.cash = cash;
    out.totals.value = prev;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_index_matches_labels() {
        let reasons = [
            SkipReason::Paused {
                measure: RiskMeasure::Volatility,
                value: 1.0,
                limit: 0.5,
            },
            SkipReason::Paused {
                measure: RiskMeasure::ValueAtRisk,
                value: 1.0,
                limit: 0.5,
            },
            SkipReason::NoPrice,
            SkipReason::MaxAllocation {
                share: 0.9,
                max: 0.7,
            },
            SkipReason::BelowMinOrder {
                amount: 1.0,
                min: 5.0,
            },
            SkipReason::InsufficientFunds {
                needed: 2.0,
                available: 1.0,
            },
        ];
        for r in reasons {
            assert_eq!(SKIP_LABELS[skip_index(&r)], r.label());
        }
    }
}
