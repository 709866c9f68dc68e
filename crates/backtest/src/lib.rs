#![doc = include_str!("../README.md")]

mod bench;
pub mod chart;
mod engine;
mod error;
mod features;
mod metrics;
mod report;
mod sweep;

pub use bench::{BenchCase, BenchReport, bench, bench_grid};
pub use engine::{NoRecord, Recorder, RunOutput, SKIP_LABELS, lump_sum, run};
pub use error::{Error, Result};
pub use features::{BuyBar, FeatureStore, View};
pub use metrics::{Metrics, Stats, Totals};
pub use report::{
    AssetDecision, AssetReport, Backtest, DataInfo, DecisionInfo, Event, GapInfo, PeriodLog,
    Report, Trace, backtest,
};
pub use sweep::{
    Fold, RankBy, SweepOptions, SweepOutcome, SweepRow, WalkForward, default_grid, sweep,
    walk_forward,
};
