//! The policy: `(plan, portfolio, market) → decision`, with a reason for every skip.
//!
//! ```text
//!  market snapshot ──▶ pause? ──▶ size: budget × weight × vol scale × drawdown band (capped)
//!                                   │
//!  portfolio ───────────────────────▶ allocation caps (excess → underweight assets)
//!                                   │
//!                                   ▼
//!                 clip: max_order, price impact ──▶ min_order ──▶ funds (skip+carry | partial)
//!                                   │
//!                                   ▼
//!                 constant-product quote ──▶ orders with amountOutMin
//! ```
//!
//! [`decide`] is pure and allocation-free (fixed arrays of [`MAX_ASSETS`]): the backtester calls
//! it on every due period of every configuration of a sweep, the live agent once per period.

// Per-asset state lives in parallel fixed arrays indexed by asset; index loops read clearer
// than zipping five arrays.
#![allow(clippy::needless_range_loop)]

use crate::{
    plan::{MAX_ASSETS, OnShort, Plan},
    pretrade::{Pool, min_out},
};
use std::fmt;

/// What the policy knows about one asset at decision time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssetMarket {
    /// Current price (quote per base).
    pub price: f64,
    /// Annualised realised volatility (NaN while warming up).
    pub vol: f64,
    /// Drawdown below the running high, fraction.
    pub drawdown: f64,
    /// One-bar VaR, loss fraction (NaN while warming up).
    pub var: f64,
}

impl AssetMarket {
    /// An asset with a price and no risk estimates yet.
    pub const fn priced(price: f64) -> Self {
        AssetMarket {
            price,
            vol: f64::NAN,
            drawdown: 0.0,
            var: f64::NAN,
        }
    }
}

const EMPTY_MARKET: AssetMarket = AssetMarket {
    price: f64::NAN,
    vol: f64::NAN,
    drawdown: f64::NAN,
    var: f64::NAN,
};

/// The market at decision time, assets in plan order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketSnapshot {
    /// Bar time (UTC ms).
    pub time_ms: i64,
    /// Per-asset view; entries past the plan's asset count are ignored.
    pub assets: [AssetMarket; MAX_ASSETS],
}

impl MarketSnapshot {
    /// A snapshot from per-asset views in plan order (at most [`MAX_ASSETS`]).
    pub fn new(time_ms: i64, assets: &[AssetMarket]) -> Self {
        let mut a = [EMPTY_MARKET; MAX_ASSETS];
        for (dst, src) in a.iter_mut().zip(assets) {
            *dst = *src;
        }
        MarketSnapshot { time_ms, assets: a }
    }
}

/// The agent's funds, assets in plan order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PortfolioState {
    /// Quote units the agent may spend (the period budget plus anything carried).
    pub cash: f64,
    /// Base units held per asset.
    pub holdings: [f64; MAX_ASSETS],
}

impl PortfolioState {
    /// Cash and no holdings.
    pub const fn with_cash(cash: f64) -> Self {
        PortfolioState {
            cash,
            holdings: [0.0; MAX_ASSETS],
        }
    }
}

/// Which risk measure triggered a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskMeasure {
    /// Realised volatility.
    Volatility,
    /// Value at risk.
    ValueAtRisk,
}

/// Why an asset was not bought this period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SkipReason {
    /// A risk measure is above the plan's pause threshold.
    Paused {
        /// Which measure.
        measure: RiskMeasure,
        /// Its value.
        value: f64,
        /// The threshold.
        limit: f64,
    },
    /// No valid price for the asset.
    NoPrice,
    /// The asset is at or above its maximum allocation.
    MaxAllocation {
        /// Its share of holdings before the buy.
        share: f64,
        /// The cap.
        max: f64,
    },
    /// The order came out below `execution.min_order`.
    BelowMinOrder {
        /// The order size.
        amount: f64,
        /// The minimum.
        min: f64,
    },
    /// The cash cannot pay for the period's orders; it is carried to the next period.
    InsufficientFunds {
        /// Orders plus gas.
        needed: f64,
        /// Cash available.
        available: f64,
    },
}

impl SkipReason {
    /// Short stable label (for counting reasons in reports).
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::Paused {
                measure: RiskMeasure::Volatility,
                ..
            } => "paused_volatility",
            SkipReason::Paused {
                measure: RiskMeasure::ValueAtRisk,
                ..
            } => "paused_var",
            SkipReason::NoPrice => "no_price",
            SkipReason::MaxAllocation { .. } => "max_allocation",
            SkipReason::BelowMinOrder { .. } => "below_min_order",
            SkipReason::InsufficientFunds { .. } => "insufficient_funds",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Paused {
                measure,
                value,
                limit,
            } => {
                let m = match measure {
                    RiskMeasure::Volatility => "realised volatility",
                    RiskMeasure::ValueAtRisk => "VaR",
                };
                write!(f, "paused: {m} {value:.4} above {limit}")
            }
            SkipReason::NoPrice => write!(f, "no valid price"),
            SkipReason::MaxAllocation { share, max } => {
                write!(f, "share {share:.4} at or above max_allocation {max}")
            }
            SkipReason::BelowMinOrder { amount, min } => {
                write!(f, "order {amount:.2} below min_order {min}")
            }
            SkipReason::InsufficientFunds { needed, available } => write!(
                f,
                "needs {needed:.2} but {available:.2} available; skipped and carried"
            ),
        }
    }
}

/// Why an order is smaller than the risk rules asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clip {
    /// Limited by the asset's maximum allocation.
    MaxAllocation,
    /// Limited by `execution.max_order`.
    MaxOrder,
    /// Limited by `execution.max_price_impact_bps`.
    PriceImpact,
    /// Scaled down to the cash available (`on_short = "partial"`).
    Funds,
    /// The risk multipliers asked for more than the cash available: the part above the plain
    /// buy (budget × weight) was cut to what the cash pays for, instead of skipping the
    /// period.
    Cash,
}

impl Clip {
    /// Short stable label (for reports).
    pub fn label(self) -> &'static str {
        match self {
            Clip::MaxAllocation => "max_allocation",
            Clip::MaxOrder => "max_order",
            Clip::PriceImpact => "price_impact",
            Clip::Funds => "funds",
            Clip::Cash => "capped_by_cash",
        }
    }
}

/// One buy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Quote units in (excluding gas).
    pub amount_in: f64,
    /// Base units the constant-product quote gives.
    pub expected_out: f64,
    /// `amountOutMin`: the quote less the slippage tolerance.
    pub min_out: f64,
    /// The combined risk multiplier applied to `budget × weight` (before clips).
    pub multiplier: f64,
    /// The volatility-target scale in it (1 without the rule or while warming up).
    pub vol_scale: f64,
    /// The drawdown band multiplier in it (1 above every band or without the rule).
    pub band: f64,
    /// Set when the order was made smaller than the multiplier asked.
    pub clip: Option<Clip>,
}

/// What to do with one asset this period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Buy.
    Buy(Order),
    /// Do not buy, for a reason.
    Skip(SkipReason),
}

/// The policy's answer for one due period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Bar time (UTC ms).
    pub time_ms: i64,
    /// Per-asset actions in plan order; the first `n` are meaningful.
    pub actions: [Action; MAX_ASSETS],
    /// Number of assets.
    pub n: usize,
    /// Sum of the buys' `amount_in`.
    pub total_in: f64,
    /// Gas for the buys.
    pub gas: f64,
}

impl Decision {
    /// Actions of the plan's assets.
    pub fn actions(&self) -> &[Action] {
        &self.actions[..self.n]
    }

    /// `(asset index, order)` for each buy.
    pub fn orders(&self) -> impl Iterator<Item = (usize, &Order)> {
        self.actions()
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                Action::Buy(o) => Some((i, o)),
                Action::Skip(_) => None,
            })
    }

    /// Cash the decision spends (orders plus gas).
    pub fn spend(&self) -> f64 {
        self.total_in + self.gas
    }
}

/// Tolerance for cash comparisons: sums of weights times a budget may differ from the budget
/// in the last bits, which must not turn a plain DCA buy into an "insufficient funds" skip.
fn fits(needed: f64, cash: f64) -> bool {
    needed <= cash + 1e-9 * cash.abs().max(1.0)
}

/// Decides one due period's buys. Call once per period the [`crate::Scheduler`] reports due,
/// after adding the period's budget to `state.cash`.
pub fn decide(plan: &Plan, state: &PortfolioState, market: &MarketSnapshot) -> Decision {
    let n = plan.assets.len().min(MAX_ASSETS);
    let exec = &plan.execution;
    let risk = &plan.risk;
    let base = plan.budget.amount;
    let mut amount = [0.0f64; MAX_ASSETS];
    let mut mult = [1.0f64; MAX_ASSETS];
    let mut vol_scale = [1.0f64; MAX_ASSETS];
    let mut band = [1.0f64; MAX_ASSETS];
    let mut clip: [Option<Clip>; MAX_ASSETS] = [None; MAX_ASSETS];
    let mut skip: [Option<SkipReason>; MAX_ASSETS] = [None; MAX_ASSETS];

    // 1. Pause rules and sizing.
    for i in 0..n {
        let m = &market.assets[i];
        if !(m.price.is_finite() && m.price > 0.0) {
            skip[i] = Some(SkipReason::NoPrice);
            continue;
        }
        if let Some(p) = &risk.pause {
            if let Some(limit) = p.max_vol
                && m.vol > limit
            {
                skip[i] = Some(SkipReason::Paused {
                    measure: RiskMeasure::Volatility,
                    value: m.vol,
                    limit,
                });
                continue;
            }
            if let Some(limit) = p.max_var
                && m.var > limit
            {
                skip[i] = Some(SkipReason::Paused {
                    measure: RiskMeasure::ValueAtRisk,
                    value: m.var,
                    limit,
                });
                continue;
            }
        }
        let mut k = 1.0;
        if let Some(v) = &risk.vol_target
            && m.vol > 0.0
        {
            vol_scale[i] = (v.target / m.vol).clamp(v.min_scale, v.max_scale);
            k *= vol_scale[i];
        }
        if let Some(d) = &risk.drawdown
            && m.drawdown > 0.0
        {
            band[i] = d.multiplier(m.drawdown);
            k *= band[i];
        }
        k = k.min(risk.max_multiplier);
        mult[i] = k;
        amount[i] = base * plan.assets[i].weight * k;
    }

    // 2. Allocation caps; the excess of a capped asset goes to underweight ones on request.
    if plan.assets[..n].iter().any(|a| a.max_allocation < 1.0) {
        allocate(plan, state, market, n, &mut amount, &mut clip, &mut skip);
    }

    // 3. Clip to max_order and the price-impact cap, then drop orders below min_order.
    // With the depth in quote units the impact cap is the same input for every price.
    let impact_cap =
        Pool::at_price(exec, 1.0).max_input_for_impact(exec.max_price_impact_bps / 10_000.0);
    for i in 0..n {
        if skip[i].is_some() {
            continue;
        }
        if let Some(max) = exec.max_order
            && amount[i] > max
        {
            amount[i] = max;
            clip[i] = Some(Clip::MaxOrder);
        }
        if amount[i] > impact_cap {
            amount[i] = impact_cap;
            clip[i] = Some(Clip::PriceImpact);
        }
        if amount[i] <= 0.0 || amount[i] < exec.min_order {
            skip[i] = Some(SkipReason::BelowMinOrder {
                amount: amount[i],
                min: exec.min_order,
            });
        }
    }

    // 4. Funds: skip and carry, or scale down.
    let mut count = 0usize;
    let mut total = 0.0;
    for i in 0..n {
        if skip[i].is_none() {
            count += 1;
            total += amount[i];
        }
    }
    let needed = total + exec.gas_per_buy * count as f64;
    if count > 0 && !fits(needed, state.cash) {
        // First cut what the multipliers asked above the plain buys, down to the cash: "buy
        // more in a crash" then buys what it can instead of skipping the period.
        let spendable = state.cash - exec.gas_per_buy * count as f64;
        let mut floor = [0.0f64; MAX_ASSETS];
        let (mut floor_total, mut extra_total) = (0.0, 0.0);
        for i in 0..n {
            if skip[i].is_none() {
                let plain = base * plan.assets[i].weight;
                floor[i] = amount[i].min(plain.max(exec.min_order));
                floor_total += floor[i];
                extra_total += amount[i] - floor[i];
            }
        }
        if extra_total > 0.0 && fits(floor_total, spendable) {
            let s = ((spendable - floor_total) / extra_total).clamp(0.0, 1.0);
            total = 0.0;
            for i in 0..n {
                if skip[i].is_none() {
                    if amount[i] > floor[i] {
                        amount[i] = floor[i] + s * (amount[i] - floor[i]);
                        clip[i] = Some(Clip::Cash);
                    }
                    total += amount[i];
                }
            }
        }
    }
    let needed = total + exec.gas_per_buy * count as f64;
    if count > 0 && !fits(needed, state.cash) {
        let spendable = state.cash - exec.gas_per_buy * count as f64;
        let scale = spendable / total;
        let partial = exec.on_short == OnShort::Partial && scale > 0.0;
        total = 0.0;
        for i in 0..n {
            if skip[i].is_some() {
                continue;
            }
            if partial {
                amount[i] *= scale;
                clip[i] = Some(Clip::Funds);
                if amount[i] < exec.min_order || amount[i] <= 0.0 {
                    skip[i] = Some(SkipReason::BelowMinOrder {
                        amount: amount[i],
                        min: exec.min_order,
                    });
                    count -= 1;
                } else {
                    total += amount[i];
                }
            } else {
                skip[i] = Some(SkipReason::InsufficientFunds {
                    needed,
                    available: state.cash,
                });
            }
        }
        if !partial {
            count = 0;
        }
    }

    // 5. Quotes.
    let mut actions = [Action::Skip(SkipReason::NoPrice); MAX_ASSETS];
    for i in 0..n {
        actions[i] = match skip[i] {
            Some(r) => Action::Skip(r),
            None => {
                let out = Pool::at_price(exec, market.assets[i].price).quote_buy(amount[i]);
                Action::Buy(Order {
                    amount_in: amount[i],
                    expected_out: out,
                    min_out: min_out(out, exec.slippage_tolerance_bps),
                    multiplier: mult[i],
                    vol_scale: vol_scale[i],
                    band: band[i],
                    clip: clip[i],
                })
            }
        };
    }
    Decision {
        time_ms: market.time_ms,
        actions,
        n,
        total_in: total,
        gas: exec.gas_per_buy * count as f64,
    }
}

#[allow(clippy::too_many_arguments)]
fn allocate(
    plan: &Plan,
    state: &PortfolioState,
    market: &MarketSnapshot,
    n: usize,
    amount: &mut [f64; MAX_ASSETS],
    clip: &mut [Option<Clip>; MAX_ASSETS],
    skip: &mut [Option<SkipReason>; MAX_ASSETS],
) {
    let mut value = [0.0f64; MAX_ASSETS];
    let mut held = 0.0;
    for i in 0..n {
        if market.assets[i].price > 0.0 {
            value[i] = state.holdings[i] * market.assets[i].price;
        }
        held += value[i];
    }
    let x: f64 = amount[..n].iter().sum();
    let after = held + x;
    let share = |i: usize| if held > 0.0 { value[i] / held } else { 0.0 };
    let mut excess = 0.0;
    for i in 0..n {
        let cap = plan.assets[i].max_allocation;
        if skip[i].is_some() || cap >= 1.0 {
            continue;
        }
        let headroom = cap * after - value[i];
        if headroom < amount[i] {
            if headroom <= 0.0 || headroom < plan.execution.min_order {
                excess += amount[i];
                amount[i] = 0.0;
                skip[i] = Some(SkipReason::MaxAllocation {
                    share: share(i),
                    max: cap,
                });
            } else {
                excess += amount[i] - headroom;
                amount[i] = headroom;
                clip[i] = Some(Clip::MaxAllocation);
            }
        }
    }
    if !plan.risk.rebalance || excess <= 0.0 {
        return;
    }
    // Underweight: below target weight (every asset counts as underweight before the first
    // buy), not skipped and not itself capped.
    let mut wsum = 0.0;
    let mut under = [false; MAX_ASSETS];
    for i in 0..n {
        let w = plan.assets[i].weight;
        if skip[i].is_none() && clip[i].is_none() && (held <= 0.0 || share(i) < w) {
            under[i] = true;
            wsum += w;
        }
    }
    if wsum <= 0.0 {
        return;
    }
    for i in 0..n {
        if !under[i] {
            continue;
        }
        let a = &plan.assets[i];
        let mut extra = excess * a.weight / wsum;
        if a.max_allocation < 1.0 {
            let headroom = a.max_allocation * after - value[i] - amount[i];
            if headroom < extra {
                extra = headroom.max(0.0);
                clip[i] = Some(Clip::MaxAllocation);
            }
        }
        amount[i] += extra;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: &str) -> Plan {
        Plan::from_toml(&format!(
            "[budget]\namount = 100\nschedule = \"weekly\"\n[[assets]]\nsymbol = \"BTC\"\nweight = 0.6\nmax_allocation = 0.7\n[[assets]]\nsymbol = \"BNB\"\nweight = 0.4\n{extra}"
        ))
        .unwrap()
    }

    fn market(vol: f64, dd: f64, var: f64) -> MarketSnapshot {
        let a = AssetMarket {
            price: 100.0,
            vol,
            drawdown: dd,
            var,
        };
        MarketSnapshot::new(0, &[a, AssetMarket { price: 10.0, ..a }])
    }

    fn buy(d: &Decision, i: usize) -> Order {
        match d.actions[i] {
            Action::Buy(o) => o,
            Action::Skip(r) => panic!("asset {i} skipped: {r}"),
        }
    }

    #[test]
    fn plain_buys_weights_with_fee() {
        let p = plan("");
        let d = decide(
            &p,
            &PortfolioState::with_cash(100.0),
            &market(0.5, 0.0, 0.01),
        );
        let btc = buy(&d, 0);
        assert_eq!(btc.amount_in, 60.0);
        assert_eq!(btc.expected_out, 60.0 * 0.997 / 100.0);
        assert_eq!(buy(&d, 1).amount_in, 40.0);
        assert_eq!(d.spend(), 100.0);
    }

    #[test]
    fn vol_target_and_drawdown_scale_with_caps() {
        let p = plan(
            "[risk]\nmax_multiplier = 3\n[risk.vol_target]\ntarget = 0.5\nmax_scale = 2\nmin_scale = 0.5\n[risk.drawdown]\nbands = [{below = 0.2, multiplier = 1.5}]\n",
        );
        let cash = PortfolioState::with_cash(1000.0);
        // vol 1.0 -> scale 0.5; no drawdown.
        assert_eq!(
            buy(&decide(&p, &cash, &market(1.0, 0.0, 0.0)), 0).amount_in,
            30.0
        );
        // vol 0.1 -> 5 capped at 2; drawdown 30% -> 1.5; product 3.
        let o = buy(&decide(&p, &cash, &market(0.1, 0.3, 0.0)), 0);
        assert_eq!((o.multiplier, o.amount_in), (3.0, 180.0));
        // NaN vol (warm-up) -> no scaling.
        assert_eq!(
            buy(&decide(&p, &cash, &market(f64::NAN, 0.0, 0.0)), 0).amount_in,
            60.0
        );
    }

    #[test]
    fn pauses_name_the_measure() {
        let p = plan("[risk.pause]\nmax_vol = 1.0\nmax_var = 0.05\n");
        let cash = PortfolioState::with_cash(100.0);
        let d = decide(&p, &cash, &market(1.2, 0.0, 0.01));
        assert!(matches!(
            d.actions[0],
            Action::Skip(SkipReason::Paused {
                measure: RiskMeasure::Volatility,
                ..
            })
        ));
        let d = decide(&p, &cash, &market(0.5, 0.0, 0.08));
        assert!(matches!(
            d.actions[1],
            Action::Skip(SkipReason::Paused {
                measure: RiskMeasure::ValueAtRisk,
                ..
            })
        ));
        assert_eq!(d.spend(), 0.0);
    }

    #[test]
    fn skip_and_carry_or_partial_when_short() {
        let p = plan("[execution]\ngas_per_buy = 1\n");
        let d = decide(&p, &PortfolioState::with_cash(50.0), &market(0.5, 0.0, 0.0));
        assert!(
            matches!(d.actions[0], Action::Skip(SkipReason::InsufficientFunds { needed, .. }) if needed == 102.0)
        );
        assert_eq!(d.spend(), 0.0);
        let p = plan("[execution]\ngas_per_buy = 1\non_short = \"partial\"\n");
        let d = decide(&p, &PortfolioState::with_cash(52.0), &market(0.5, 0.0, 0.0));
        assert!((d.spend() - 52.0).abs() < 1e-12);
        assert_eq!(buy(&d, 0).clip, Some(Clip::Funds));
    }

    #[test]
    fn multipliers_are_capped_by_the_cash_instead_of_skipping() {
        let p = plan("[risk.drawdown]\nbands = [{below = 0.2, multiplier = 2}]\n");
        // The bands ask 2 x 100 but only 150 is available: the plain 100 is kept and the
        // extra cut to 50, instead of skipping the period.
        let d = decide(
            &p,
            &PortfolioState::with_cash(150.0),
            &market(0.5, 0.3, 0.0),
        );
        let (btc, bnb) = (buy(&d, 0), buy(&d, 1));
        assert_eq!(btc.clip, Some(Clip::Cash));
        assert_eq!((btc.multiplier, btc.band), (2.0, 2.0));
        assert!((btc.amount_in - 90.0).abs() < 1e-9, "{}", btc.amount_in);
        assert!((bnb.amount_in - 60.0).abs() < 1e-9);
        assert!((d.spend() - 150.0).abs() < 1e-9);
        // With room for all of it nothing is capped.
        let d = decide(
            &p,
            &PortfolioState::with_cash(200.0),
            &market(0.5, 0.3, 0.0),
        );
        assert_eq!(buy(&d, 0).clip, None);
        // Not even the plain buys fit: skip and carry as before.
        let d = decide(&p, &PortfolioState::with_cash(80.0), &market(0.5, 0.3, 0.0));
        assert!(matches!(
            d.actions[0],
            Action::Skip(SkipReason::InsufficientFunds { .. })
        ));
    }

    #[test]
    fn over_allocated_asset_gives_its_slice_to_the_underweight_one() {
        let p = plan("[risk]\nrebalance = true\n");
        let mut s = PortfolioState::with_cash(100.0);
        s.holdings[0] = 9.0; // 900 of BTC
        s.holdings[1] = 10.0; // 100 of BNB: BTC share 0.9 > 0.7
        let d = decide(&p, &s, &market(0.5, 0.0, 0.0));
        assert!(matches!(
            d.actions[0],
            Action::Skip(SkipReason::MaxAllocation { .. })
        ));
        assert_eq!(buy(&d, 1).amount_in, 100.0);
        // Without rebalance the slice stays in cash.
        let d = decide(&plan(""), &s, &market(0.5, 0.0, 0.0));
        assert_eq!(d.spend(), 40.0);
    }

    #[test]
    fn price_impact_and_max_order_clip() {
        let p =
            plan("[execution]\npool_depth = 10000\nmax_price_impact_bps = 10\nmax_order = 50\n");
        let d = decide(
            &p,
            &PortfolioState::with_cash(100.0),
            &market(0.5, 0.0, 0.0),
        );
        let o = buy(&d, 0);
        assert_eq!(o.clip, Some(Clip::PriceImpact));
        let pool = Pool::at_price(&p.execution, 100.0);
        assert!((pool.price_impact(o.amount_in) - 0.001).abs() < 1e-12);
        assert!(o.min_out < o.expected_out);
    }
}
