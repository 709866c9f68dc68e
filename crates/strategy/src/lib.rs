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
    AssetPlan, Band, Budget, Dex, DrawdownBands, Execution, MAX_ASSETS, ModelKind, ModelRef,
    OnShort, Pause, Plan, Risk, VarMethod, VolTarget,
};
pub use policy::{
    Action, AssetMarket, Clip, Decision, MarketSnapshot, Order, PortfolioState, RiskMeasure,
    SkipReason, decide,
};
pub use pretrade::{CheckedOrder, Pool, PreTradeError, check_order};
pub use schedule::{Due, Schedule, Scheduler};
pub use sweep::{MAX_GRID_POINTS, ParamValue, SWEEP_KEYS, SweepPoint, SweepSpec, apply};

/// Per-asset market features at bar `t` from the closes up to `t`, computed with the plan's
/// windows: what the live agent feeds [`decide`]. The backtester precomputes the same values
/// for every bar with the series forms in [`risk`].
pub fn features_at(close: &[f64], t: usize, risk: &Risk, bars_per_year: f64) -> AssetMarket {
    AssetMarket {
        price: close.get(t).copied().unwrap_or(f64::NAN),
        vol: risk::realised_vol_at(close, t, risk.vol_window, bars_per_year),
        drawdown: risk::drawdown_at(close, t, risk.drawdown.as_ref().and_then(|d| d.lookback)),
        var: risk::var_at(
            close,
            t,
            risk.var_window,
            risk.var_confidence,
            risk.var_method,
        ),
    }
}
