#![doc = include_str!("../README.md")]

mod error;
mod plan;
mod policy;
pub mod pretrade;
pub mod risk;
mod schedule;
pub mod snapshot;
mod sweep;

pub use error::{Error, Result};
pub use plan::{
    AssetPlan, Band, BarWindows, Budget, Dex, DrawdownBands, Execution, MAX_ASSETS, ModelKind,
    ModelRef, OnShort, Pause, Plan, Risk, VarMethod, VolTarget, WindowUnit,
};
pub use policy::{
    Action, AssetMarket, Clip, Decision, MarketSnapshot, Order, PortfolioState, RiskMeasure,
    SkipReason, decide,
};
pub use pretrade::{CheckedOrder, Pool, PreTradeError, check_order};
pub use schedule::{Due, Schedule, Scheduler};
pub use sweep::{MAX_GRID_POINTS, ParamValue, SWEEP_KEYS, SweepPoint, SweepSpec, apply};

/// Per-asset market features at bar `t` from the closes up to `t`, computed with the plan's
/// windows converted to bars of `interval_ms` ([`Risk::bar_windows`]): what the live agent
/// feeds [`decide`]. The backtester precomputes the same values for every bar with the series
/// forms in [`risk`].
pub fn features_at(close: &[f64], t: usize, risk: &Risk, interval_ms: i64) -> AssetMarket {
    let w = risk.bar_windows(interval_ms);
    AssetMarket {
        price: close.get(t).copied().unwrap_or(f64::NAN),
        vol: risk::realised_vol_at(close, t, w.vol, cairn_market::bars_per_year(interval_ms)),
        drawdown: risk::drawdown_at(close, t, w.lookback),
        var: risk::var_at(
            close,
            t,
            w.var,
            w.var_horizon,
            risk.var_confidence,
            risk.var_method,
        ),
    }
}
