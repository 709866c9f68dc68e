//! The plan: what to buy, how often, with which risk rules and execution limits.
//!
//! A plan is the single source of truth for the agent's policy. The backtester replays it over
//! history, the live agent (part 2) runs it against a DEX, and its limits become the on-chain
//! vault's parameters; so it is parsed strictly (unknown keys are errors) and every number is
//! range-checked with a message naming the key.
//!
//! ```toml
//! name = "BTC 60 / BNB 40, risk-gated"
//! [budget]
//! amount = 100.0           # quote units (USDT) per period
//! schedule = "weekly"      # daily | weekly | biweekly | monthly
//! [[assets]]
//! symbol = "BTC"
//! weight = 0.6
//! [[assets]]
//! symbol = "BNB"
//! weight = 0.4
//! [risk.vol_target]
//! target = 0.6             # annualised
//! ```
use crate::{
    error::{Error, Result, check_open_low, check_range, fmt_num},
    schedule::Schedule,
    sweep::SweepSpec,
};
use serde::{Deserialize, Serialize};

/// Most assets one plan may hold (the policy keeps per-asset state in fixed arrays so that a
/// decision allocates nothing).
pub const MAX_ASSETS: usize = 4;

/// A complete, validated DCA plan. Build with [`Plan::from_toml`], which validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Human-readable name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Quote asset the budget is in (informational; prices are quoted in it).
    #[serde(default = "default_quote")]
    pub quote: String,
    /// How much to invest and when.
    pub budget: Budget,
    /// What to buy, with target weights and allocation caps.
    pub assets: Vec<AssetPlan>,
    /// Risk rules; all optional (absent: plain DCA).
    #[serde(default)]
    pub risk: Risk,
    /// DEX cost model and order limits.
    #[serde(default)]
    pub execution: Execution,
    /// Parameter grid for `backtest --sweep` (ignored by the live agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSpec>,
}

fn default_name() -> String {
    "plan".into()
}
fn default_quote() -> String {
    "USDT".into()
}

/// Budget per period and the schedule, like Binance Auto-Invest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Quote units added to the agent's cash each period and spent by the plan.
    pub amount: f64,
    /// How often a period starts.
    pub schedule: Schedule,
    /// First period start, ISO date or date-time (UTC). Absent: the first bar of the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Cash the agent holds before the first period.
    #[serde(default)]
    pub initial_cash: f64,
}

/// One asset of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetPlan {
    /// Base-asset symbol, matched to a price series (e.g. `BTC`).
    pub symbol: String,
    /// Target share of each period's budget; all weights sum to 1.
    pub weight: f64,
    /// Largest share of the holdings' value this asset may reach through buying.
    #[serde(default = "one")]
    pub max_allocation: f64,
}

fn one() -> f64 {
    1.0
}

/// How VaR is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VarMethod {
    /// Empirical quantile of past returns.
    #[default]
    Historical,
    /// Gaussian quantile from the window's mean and standard deviation.
    Parametric,
}

/// The unit of the risk windows (`vol_window`, `var_window`, `drawdown.lookback`) and the
/// horizon of `pause.max_var`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowUnit {
    /// Days, whatever the bar size: a window of 30 is 30 daily bars or 180 four-hour bars, and
    /// VaR is over one-day returns (overlapping on intraday data). On daily data this is the
    /// same as [`WindowUnit::Bars`], so plans written for daily data keep their meaning.
    #[default]
    Days,
    /// Bars of the data the plan runs on, and one-bar VaR (what plans meant before windows were
    /// measured in time).
    Bars,
}

/// The risk windows of a plan in bars of one data set (see [`Risk::bar_windows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BarWindows {
    /// Log returns in the realised-volatility estimate.
    pub vol: usize,
    /// Returns in the VaR estimate.
    pub var: usize,
    /// Bars each VaR return spans (1 on daily data; 24 on hourly data).
    pub var_horizon: usize,
    /// Bars of the drawdown's running high (`None`: all history).
    pub lookback: Option<usize>,
}

/// Risk rules. Windows are in days by default (`window_unit`), converted to bars of the data
/// the plan runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    /// Unit of the windows below and of the VaR horizon.
    #[serde(default)]
    pub window_unit: WindowUnit,
    /// Days (or bars) of log returns in the realised-volatility estimate.
    #[serde(default = "Risk::default_vol_window")]
    pub vol_window: usize,
    /// Days (or bars) of returns in the VaR estimate.
    #[serde(default = "Risk::default_var_window")]
    pub var_window: usize,
    /// VaR confidence level (0.95: the loss exceeded on 5% of bars).
    #[serde(default = "Risk::default_var_confidence")]
    pub var_confidence: f64,
    /// VaR estimator.
    #[serde(default)]
    pub var_method: VarMethod,
    /// Cap on the product of all buy multipliers.
    #[serde(default = "Risk::default_max_multiplier")]
    pub max_multiplier: f64,
    /// When an asset is above its `max_allocation`, give its slice to the underweight assets.
    #[serde(default)]
    pub rebalance: bool,
    /// Volatility targeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vol_target: Option<VolTarget>,
    /// Drawdown bands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawdown: Option<DrawdownBands>,
    /// Pause thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
    /// A volatility or regime model trained on the compute layer, named by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
}

impl Risk {
    /// Default realised-volatility window (bars).
    pub const DEFAULT_VOL_WINDOW: usize = 30;
    /// Default VaR window (bars).
    pub const DEFAULT_VAR_WINDOW: usize = 90;
    /// Default VaR confidence.
    pub const DEFAULT_VAR_CONFIDENCE: f64 = 0.95;
    /// Default cap on the combined buy multiplier.
    pub const DEFAULT_MAX_MULTIPLIER: f64 = 3.0;

    fn default_vol_window() -> usize {
        Self::DEFAULT_VOL_WINDOW
    }
    fn default_var_window() -> usize {
        Self::DEFAULT_VAR_WINDOW
    }
    fn default_var_confidence() -> f64 {
        Self::DEFAULT_VAR_CONFIDENCE
    }
    fn default_max_multiplier() -> f64 {
        Self::DEFAULT_MAX_MULTIPLIER
    }

    /// True when no rule changes plain DCA.
    pub fn is_plain(&self) -> bool {
        self.vol_target.is_none() && self.drawdown.is_none() && self.pause.is_none()
    }

    /// The windows in bars of data with bars of `interval_ms`. In days, a window of `d` days
    /// is `round(d × bars per day)` bars (at least 2 for volatility and VaR, 1 for the
    /// lookback) and the VaR horizon is one day (`round(bars per day)`, at least 1 bar).
    pub fn bar_windows(&self, interval_ms: i64) -> BarWindows {
        let lookback = self.drawdown.as_ref().and_then(|d| d.lookback);
        match self.window_unit {
            WindowUnit::Bars => BarWindows {
                vol: self.vol_window,
                var: self.var_window,
                var_horizon: 1,
                lookback,
            },
            WindowUnit::Days => {
                let per_day = cairn_market::time::DAY_MS as f64 / interval_ms.max(1) as f64;
                let bars = |d: usize, min: usize| ((d as f64 * per_day).round() as usize).max(min);
                BarWindows {
                    vol: bars(self.vol_window, 2),
                    var: bars(self.var_window, 2),
                    var_horizon: (per_day.round() as usize).max(1),
                    lookback: lookback.map(|l| bars(l, 1)),
                }
            }
        }
    }
}

impl Default for Risk {
    fn default() -> Self {
        Risk {
            window_unit: WindowUnit::Days,
            vol_window: Self::DEFAULT_VOL_WINDOW,
            var_window: Self::DEFAULT_VAR_WINDOW,
            var_confidence: Self::DEFAULT_VAR_CONFIDENCE,
            var_method: VarMethod::Historical,
            max_multiplier: Self::DEFAULT_MAX_MULTIPLIER,
            rebalance: false,
            vol_target: None,
            drawdown: None,
            pause: None,
            model: None,
        }
    }
}

/// Scale each buy by `target / realised volatility`, clamped to `[min_scale, max_scale]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolTarget {
    /// Target annualised volatility (0.6 = 60%).
    pub target: f64,
    /// Largest scale factor.
    #[serde(default = "VolTarget::default_max_scale")]
    pub max_scale: f64,
    /// Smallest scale factor.
    #[serde(default = "VolTarget::default_min_scale")]
    pub min_scale: f64,
}

impl VolTarget {
    /// Default largest scale.
    pub const DEFAULT_MAX_SCALE: f64 = 2.0;
    /// Default smallest scale.
    pub const DEFAULT_MIN_SCALE: f64 = 0.25;
    fn default_max_scale() -> f64 {
        Self::DEFAULT_MAX_SCALE
    }
    fn default_min_scale() -> f64 {
        Self::DEFAULT_MIN_SCALE
    }
}

/// One drawdown band: at `below` or more under the running high, multiply the buy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Drawdown from the running high, as a fraction (0.2 = 20% below).
    pub below: f64,
    /// Buy multiplier in this band.
    pub multiplier: f64,
}

/// Buy more as the price falls below its running high, up to a cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawdownBands {
    /// Bands by increasing depth.
    pub bands: Vec<Band>,
    /// Cap on the band multiplier.
    #[serde(default = "DrawdownBands::default_max_multiplier")]
    pub max_multiplier: f64,
    /// Days (or bars, see [`Risk::window_unit`]) over which the running high is taken
    /// (absent: all history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback: Option<usize>,
}

impl DrawdownBands {
    /// Default cap on the band multiplier.
    pub const DEFAULT_MAX_MULTIPLIER: f64 = 2.0;
    fn default_max_multiplier() -> f64 {
        Self::DEFAULT_MAX_MULTIPLIER
    }

    /// The multiplier for a drawdown: the deepest band reached, capped; 1 above every band.
    pub fn multiplier(&self, drawdown: f64) -> f64 {
        let mut m = 1.0;
        for b in &self.bands {
            if drawdown >= b.below {
                m = b.multiplier;
            }
        }
        m.min(self.max_multiplier)
    }
}

/// Pause buying an asset while its risk is above a threshold.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// Annualised realised volatility above which the asset is not bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vol: Option<f64>,
    /// One-day VaR (loss fraction at `risk.var_confidence`; one-bar with
    /// `window_unit = "bars"`) above which the asset is not bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_var: Option<f64>,
}

/// What a referenced model estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Per-bar volatility forecast, used in place of realised volatility.
    Volatility,
    /// Market regime classifier.
    Regime,
}

/// A model trained on the compute layer, named by content digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// What the model estimates.
    pub kind: ModelKind,
    /// `sha256:<64 hex>` or `blake3:<64 hex>`.
    pub digest: String,
}

/// Known DEXes and their swap fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dex {
    /// Uniswap V2: 0.30% fee.
    #[default]
    UniswapV2,
    /// PancakeSwap V2: 0.25% fee.
    PancakeswapV2,
}

impl Dex {
    /// Swap fee in basis points.
    pub fn fee_bps(self) -> f64 {
        match self {
            Dex::UniswapV2 => 30.0,
            Dex::PancakeswapV2 => 25.0,
        }
    }
}

/// What to do when the cash cannot pay for a period's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnShort {
    /// Skip the period's buys and carry the cash into the next period.
    #[default]
    Skip,
    /// Scale the orders down to the cash available.
    Partial,
}

/// DEX cost model and order limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Execution {
    /// The DEX (sets the fee unless `fee_bps` is given).
    #[serde(default)]
    pub dex: Dex,
    /// Swap fee override in basis points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_bps: Option<f64>,
    /// Quote-side reserve of each constant-product pool (absent: no price impact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_depth: Option<f64>,
    /// Gas cost per swap, in quote units.
    #[serde(default)]
    pub gas_per_buy: f64,
    /// Largest price impact (excluding the fee) an order may have; larger orders are clipped.
    #[serde(default = "Execution::default_max_price_impact_bps")]
    pub max_price_impact_bps: f64,
    /// `amountOutMin` is the quoted output less this tolerance.
    #[serde(default = "Execution::default_slippage_tolerance_bps")]
    pub slippage_tolerance_bps: f64,
    /// Orders below this (quote units) are skipped.
    #[serde(default)]
    pub min_order: f64,
    /// Orders above this (quote units) are clipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_order: Option<f64>,
    /// What to do when funds are short.
    #[serde(default)]
    pub on_short: OnShort,
    /// Where the live agent sends buys: `best` (the route whose pool pays the most for each
    /// order; the default) or a route's name (`uniswap-v2`, `pancake`), checked against the
    /// chain's routes when the agent starts. The backtester's costs come from `dex`/`fee_bps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
}

impl Execution {
    /// Default price-impact cap (1%).
    pub const DEFAULT_MAX_PRICE_IMPACT_BPS: f64 = 100.0;
    /// Default slippage tolerance (0.5%).
    pub const DEFAULT_SLIPPAGE_TOLERANCE_BPS: f64 = 50.0;
    fn default_max_price_impact_bps() -> f64 {
        Self::DEFAULT_MAX_PRICE_IMPACT_BPS
    }
    fn default_slippage_tolerance_bps() -> f64 {
        Self::DEFAULT_SLIPPAGE_TOLERANCE_BPS
    }

    /// The swap fee as a fraction.
    pub fn fee(&self) -> f64 {
        self.fee_bps.unwrap_or_else(|| self.dex.fee_bps()) / 10_000.0
    }
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            dex: Dex::UniswapV2,
            fee_bps: None,
            pool_depth: None,
            gas_per_buy: 0.0,
            max_price_impact_bps: Self::DEFAULT_MAX_PRICE_IMPACT_BPS,
            slippage_tolerance_bps: Self::DEFAULT_SLIPPAGE_TOLERANCE_BPS,
            min_order: 0.0,
            max_order: None,
            on_short: OnShort::Skip,
            venue: None,
        }
    }
}

impl Plan {
    /// Parses and validates `plan.toml` text.
    pub fn from_toml(text: &str) -> Result<Plan> {
        let plan: Plan = toml::from_str(text).map_err(|e| {
            // toml's message carries the line, the key and (for unknown keys) the allowed ones;
            // fold it onto one line for a CLI's single `error:` line.
            Error::Parse(
                e.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Serializes the plan back to TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Start of the first period (UTC ms), if the plan sets one.
    pub fn start_ms(&self) -> Option<i64> {
        self.budget
            .start
            .as_deref()
            .and_then(cairn_market::time::parse_timestamp)
    }

    /// A copy without risk rules, allocation caps or order limits: plain DCA with the same
    /// budget, schedule, weights and DEX costs (the benchmark a risk-aware plan is judged
    /// against).
    pub fn plain(&self) -> Plan {
        let mut p = self.clone();
        p.name = format!("{} (plain DCA)", self.name);
        p.risk = Risk::default();
        for a in &mut p.assets {
            a.max_allocation = 1.0;
        }
        p.execution.max_order = None;
        p.execution.on_short = OnShort::Partial;
        p.sweep = None;
        p
    }

    /// Checks every value against its allowed range and the plan's internal consistency.
    pub fn validate(&self) -> Result<()> {
        let b = &self.budget;
        check_open_low(
            "budget.amount",
            b.amount,
            0.0,
            1e12,
            "greater than 0 and at most 1e12 quote units per period",
        )?;
        check_range(
            "budget.initial_cash",
            b.initial_cash,
            0.0,
            1e15,
            "0 to 1e15 quote units",
        )?;
        if let Some(s) = &b.start
            && cairn_market::time::parse_timestamp(s).is_none()
        {
            return Err(Error::OutOfRange {
                key: "budget.start".into(),
                value: format!("{s:?}"),
                allowed:
                    "an ISO date or date-time such as \"2020-01-01\" or \"2020-01-01T00:00:00Z\""
                        .into(),
            });
        }
        if self.assets.is_empty() || self.assets.len() > MAX_ASSETS {
            return Err(Error::OutOfRange {
                key: "assets".into(),
                value: format!("{} entries", self.assets.len()),
                allowed: format!("1 to {MAX_ASSETS} [[assets]] entries"),
            });
        }
        let mut sum = 0.0;
        for (i, a) in self.assets.iter().enumerate() {
            let key = |f: &str| format!("assets[{i}].{f}");
            if a.symbol.is_empty()
                || a.symbol.len() > 16
                || !a.symbol.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(Error::OutOfRange {
                    key: key("symbol"),
                    value: format!("{:?}", a.symbol),
                    allowed: "1 to 16 ASCII letters or digits, e.g. \"BTC\"".into(),
                });
            }
            if self.assets[..i]
                .iter()
                .any(|b| b.symbol.eq_ignore_ascii_case(&a.symbol))
            {
                return Err(Error::Inconsistent {
                    key: key("symbol"),
                    detail: format!("{} is listed twice; list each asset once", a.symbol),
                });
            }
            check_open_low(
                &key("weight"),
                a.weight,
                0.0,
                1.0,
                "greater than 0 and at most 1",
            )?;
            check_range(
                &key("max_allocation"),
                a.max_allocation,
                a.weight,
                1.0,
                &format!("from the asset's weight ({}) to 1", fmt_num(a.weight)),
            )?;
            sum += a.weight;
        }
        if (sum - 1.0).abs() > 1e-9 {
            return Err(Error::Inconsistent {
                key: "assets[*].weight".into(),
                detail: format!("weights sum to {}; they must sum to 1", fmt_num(sum)),
            });
        }
        self.validate_risk()?;
        self.validate_execution()?;
        if let Some(s) = &self.sweep {
            s.validate(self)?;
        }
        Ok(())
    }

    fn validate_risk(&self) -> Result<()> {
        let r = &self.risk;
        check_range(
            "risk.vol_window",
            r.vol_window as f64,
            2.0,
            10_000.0,
            "2 to 10000 (days, or bars with window_unit = \"bars\")",
        )?;
        check_range(
            "risk.var_window",
            r.var_window as f64,
            10.0,
            10_000.0,
            "10 to 10000 (days, or bars with window_unit = \"bars\")",
        )?;
        check_range(
            "risk.var_confidence",
            r.var_confidence,
            0.5,
            0.999,
            "0.5 to 0.999",
        )?;
        check_range(
            "risk.max_multiplier",
            r.max_multiplier,
            1.0,
            10.0,
            "1 to 10",
        )?;
        if let Some(v) = &r.vol_target {
            check_open_low(
                "risk.vol_target.target",
                v.target,
                0.01,
                5.0,
                "greater than 0.01 and at most 5 (annualised volatility; 0.6 = 60%)",
            )?;
            check_range(
                "risk.vol_target.max_scale",
                v.max_scale,
                1.0,
                10.0,
                "1 to 10",
            )?;
            check_range("risk.vol_target.min_scale", v.min_scale, 0.0, 1.0, "0 to 1")?;
        }
        if let Some(d) = &r.drawdown {
            if d.bands.is_empty() || d.bands.len() > 16 {
                return Err(Error::OutOfRange {
                    key: "risk.drawdown.bands".into(),
                    value: format!("{} bands", d.bands.len()),
                    allowed: "1 to 16 bands".into(),
                });
            }
            for (i, band) in d.bands.iter().enumerate() {
                let key = |f: &str| format!("risk.drawdown.bands[{i}].{f}");
                check_open_low(
                    &key("below"),
                    band.below,
                    0.0,
                    0.99,
                    "greater than 0 and at most 0.99 (fraction below the running high)",
                )?;
                check_range(&key("multiplier"), band.multiplier, 1.0, 10.0, "1 to 10")?;
                if i > 0 && band.below <= d.bands[i - 1].below {
                    return Err(Error::Inconsistent {
                        key: key("below"),
                        detail: "bands must be listed by increasing depth".into(),
                    });
                }
            }
            check_range(
                "risk.drawdown.max_multiplier",
                d.max_multiplier,
                1.0,
                10.0,
                "1 to 10",
            )?;
            if let Some(l) = d.lookback {
                check_range(
                    "risk.drawdown.lookback",
                    l as f64,
                    2.0,
                    1_000_000.0,
                    "2 to 1000000 (days, or bars with risk.window_unit = \"bars\")",
                )?;
            }
        }
        if let Some(p) = &r.pause {
            if let Some(v) = p.max_vol {
                check_open_low(
                    "risk.pause.max_vol",
                    v,
                    0.0,
                    10.0,
                    "greater than 0 and at most 10 (annualised volatility)",
                )?;
            }
            if let Some(v) = p.max_var {
                check_open_low(
                    "risk.pause.max_var",
                    v,
                    0.0,
                    1.0,
                    "greater than 0 and at most 1 (loss fraction over one day, or one bar with risk.window_unit = \"bars\")",
                )?;
            }
        }
        if let Some(m) = &r.model {
            let ok = m.digest.split_once(':').is_some_and(|(alg, hex)| {
                matches!(alg, "sha256" | "blake3")
                    && hex.len() == 64
                    && hex.bytes().all(|c| c.is_ascii_hexdigit())
            });
            if !ok {
                return Err(Error::OutOfRange {
                    key: "risk.model.digest".into(),
                    value: format!("{:?}", m.digest),
                    allowed: "\"sha256:<64 hex digits>\" or \"blake3:<64 hex digits>\"".into(),
                });
            }
        }
        Ok(())
    }

    fn validate_execution(&self) -> Result<()> {
        let e = &self.execution;
        if let Some(f) = e.fee_bps {
            check_range(
                "execution.fee_bps",
                f,
                0.0,
                100.0,
                "0 to 100 basis points (30 = Uniswap V2, 25 = PancakeSwap V2)",
            )?;
        }
        if let Some(d) = e.pool_depth {
            check_range(
                "execution.pool_depth",
                d,
                1.0,
                1e15,
                "1 to 1e15 quote units (omit for no price impact)",
            )?;
        }
        check_range(
            "execution.gas_per_buy",
            e.gas_per_buy,
            0.0,
            1e6,
            "0 to 1e6 quote units",
        )?;
        check_open_low(
            "execution.max_price_impact_bps",
            e.max_price_impact_bps,
            0.0,
            5000.0,
            "greater than 0 and at most 5000 basis points",
        )?;
        check_range(
            "execution.slippage_tolerance_bps",
            e.slippage_tolerance_bps,
            0.0,
            5000.0,
            "0 to 5000 basis points",
        )?;
        check_range(
            "execution.min_order",
            e.min_order,
            0.0,
            1e12,
            "0 to 1e12 quote units",
        )?;
        if let Some(v) = &e.venue
            && (v.is_empty()
                || v.len() > 32
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(Error::OutOfRange {
                key: "execution.venue".into(),
                value: format!("{v:?}"),
                allowed: "\"best\" or a route's name in lower case (\"uniswap-v2\", \"pancake\")"
                    .into(),
            });
        }
        if let Some(m) = e.max_order {
            check_range(
                "execution.max_order",
                m,
                e.min_order.max(f64::MIN_POSITIVE),
                1e15,
                &format!(
                    "greater than 0, at least execution.min_order ({}), at most 1e15",
                    fmt_num(e.min_order)
                ),
            )?;
        }
        Ok(())
    }

    /// Symbols in plan order.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.assets.iter().map(|a| a.symbol.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_venue_is_optional_and_must_be_a_route_name() {
        let with = |v: &str| Plan::from_toml(&format!("{BASE}\n[execution]\nvenue = {v:?}\n"));
        assert_eq!(Plan::from_toml(BASE).unwrap().execution.venue, None);
        assert_eq!(
            with("pancake").unwrap().execution.venue.as_deref(),
            Some("pancake")
        );
        let e = with("Pancake Swap").unwrap_err().to_string();
        assert!(e.contains("execution.venue") && e.contains("best"), "{e}");
    }

    const BASE: &str = r#"
[budget]
amount = 100
schedule = "weekly"
[[assets]]
symbol = "BTC"
weight = 0.6
[[assets]]
symbol = "BNB"
weight = 0.4
"#;

    fn with(extra: &str) -> Result<Plan> {
        Plan::from_toml(&format!("{BASE}\n{extra}"))
    }

    #[test]
    fn minimal_plan_parses_with_defaults() {
        let p = Plan::from_toml(BASE).unwrap();
        assert_eq!(p.assets.len(), 2);
        assert!(p.risk.is_plain());
        assert_eq!(p.execution.fee(), 0.003);
        assert_eq!(p.assets[0].max_allocation, 1.0);
        let again = Plan::from_toml(&p.to_toml()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn errors_name_key_and_range() {
        let cases = [
            (
                "[risk.vol_target]\ntarget = 9",
                "`risk.vol_target.target` = 9 is out of range; allowed: greater than 0.01 and at most 5",
            ),
            (
                "[risk]\nvar_confidence = 0.2",
                "`risk.var_confidence` = 0.2 is out of range; allowed: 0.5 to 0.999",
            ),
            ("[execution]\nfee_bps = 500", "`execution.fee_bps` = 500"),
            ("[risk.pause]\nmax_var = 2", "`risk.pause.max_var` = 2"),
            (
                "[risk.drawdown]\nbands = [{below = 0.3, multiplier = 2}, {below = 0.1, multiplier = 3}]",
                "`risk.drawdown.bands[1].below`",
            ),
            (
                "[risk.model]\nkind = \"volatility\"\ndigest = \"abc\"",
                "`risk.model.digest`",
            ),
            (
                "[execution]\ndex = \"sushiswap\"",
                "unknown variant `sushiswap`",
            ),
            ("[risk]\nvol_windw = 3", "unknown field `vol_windw`"),
        ];
        for (extra, want) in cases {
            let e = with(extra).unwrap_err().to_string();
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
        let e = Plan::from_toml(&BASE.replace("0.4", "0.3"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`assets[*].weight`: weights sum to 0.9"), "{e}");
        let e = Plan::from_toml(&BASE.replace("amount = 100", "amount = -5"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`budget.amount` = -5 is out of range"), "{e}");
        let e = Plan::from_toml(&BASE.replace("\"BNB\"", "\"btc\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`assets[1].symbol`"), "{e}");
        let e = Plan::from_toml(&BASE.replace("weekly", "hourly"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hourly") && e.contains("daily"), "{e}");
    }

    #[test]
    fn drawdown_multiplier_picks_deepest_band_and_caps() {
        let d = DrawdownBands {
            bands: vec![
                Band {
                    below: 0.1,
                    multiplier: 1.5,
                },
                Band {
                    below: 0.3,
                    multiplier: 2.5,
                },
            ],
            max_multiplier: 2.0,
            lookback: None,
        };
        assert_eq!(d.multiplier(0.05), 1.0);
        assert_eq!(d.multiplier(0.1), 1.5);
        assert_eq!(d.multiplier(0.29), 1.5);
        assert_eq!(d.multiplier(0.5), 2.0);
    }

    #[test]
    fn windows_are_days_whatever_the_bar_size() {
        let p = with("[risk]\nvol_window = 30\nvar_window = 90\n[risk.drawdown]\nbands = [{below = 0.2, multiplier = 1.5}]\nlookback = 10").unwrap();
        let day = cairn_market::time::DAY_MS;
        let w = p.risk.bar_windows(day);
        assert_eq!(
            (w.vol, w.var, w.var_horizon, w.lookback),
            (30, 90, 1, Some(10))
        );
        let w = p.risk.bar_windows(day / 24);
        assert_eq!(
            (w.vol, w.var, w.var_horizon, w.lookback),
            (720, 2160, 24, Some(240))
        );
        let w = p.risk.bar_windows(day / 6);
        assert_eq!((w.vol, w.var, w.var_horizon), (180, 540, 6));
        // Weekly bars: at least two returns, one-bar horizon.
        let w = p.risk.bar_windows(7 * day);
        assert_eq!(
            (w.vol, w.var, w.var_horizon, w.lookback),
            (4, 13, 1, Some(1))
        );
        // The old meaning on request.
        let p = with("[risk]\nwindow_unit = \"bars\"\nvol_window = 30").unwrap();
        let w = p.risk.bar_windows(day / 24);
        assert_eq!((w.vol, w.var, w.var_horizon), (30, 90, 1));
        assert_eq!(Plan::from_toml(&p.to_toml()).unwrap(), p);
    }

    #[test]
    fn plain_drops_risk_rules() {
        let p = with("[risk.vol_target]\ntarget = 0.5\n[risk.pause]\nmax_vol = 1.0").unwrap();
        assert!(!p.risk.is_plain());
        assert!(p.plain().risk.is_plain());
    }
}
