//! `cairn bench backtest`: bar × configuration steps per second of a sweep of the
//! risk-gated plan, feature precomputation included.
use crate::{
    Result,
    sweep::{SweepOptions, sweep},
};
use cairn_market::Aligned;
use cairn_strategy::{ParamValue, Plan, SweepSpec};
use serde::Serialize;
use std::collections::BTreeMap;

/// One dataset's measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchCase {
    /// Dataset label.
    pub name: String,
    /// Bars per configuration.
    pub bars: usize,
    /// Configurations.
    pub configs: usize,
    /// Repetitions.
    pub repeat: usize,
    /// Steps over all repetitions.
    pub steps: u64,
    /// Seconds over all repetitions (features plus simulation).
    pub seconds: f64,
    /// Of which computing shared features.
    pub prepare_seconds: f64,
    /// Steps per second.
    pub steps_per_second: f64,
}

/// The whole benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Per dataset.
    pub cases: Vec<BenchCase>,
    /// All steps.
    pub steps: u64,
    /// All seconds.
    pub seconds: f64,
    /// Overall steps per second.
    pub steps_per_second: f64,
    /// Worker threads.
    pub threads: usize,
}

/// The benchmark grid: 8 vol targets × 3 vol windows × 4 drawdown caps × 4 pause levels × 4
/// schedules = 1,536 configurations.
pub fn bench_grid() -> SweepSpec {
    let nums = |v: &[f64]| v.iter().map(|x| ParamValue::Number(*x)).collect::<Vec<_>>();
    let mut g = BTreeMap::new();
    g.insert(
        "risk.vol_target.target".to_string(),
        nums(&[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    );
    g.insert("risk.vol_window".to_string(), nums(&[14.0, 30.0, 60.0]));
    g.insert(
        "risk.drawdown.max_multiplier".to_string(),
        nums(&[1.5, 2.0, 2.5, 3.0]),
    );
    g.insert(
        "risk.pause.max_vol".to_string(),
        nums(&[0.8, 1.2, 1.6, 2.0]),
    );
    g.insert(
        "budget.schedule".to_string(),
        ["daily", "weekly", "biweekly", "monthly"]
            .iter()
            .map(|s| ParamValue::Text(s.to_string()))
            .collect(),
    );
    SweepSpec { grid: g }
}

/// Sweeps `grid` over each dataset `repeat` times and reports steps per second.
pub fn bench(
    plan: &Plan,
    datasets: &[(String, &Aligned)],
    grid: &SweepSpec,
    repeat: usize,
    threads: Option<usize>,
    progress: bool,
) -> Result<BenchReport> {
    let points = grid.points(plan)?;
    let opts = SweepOptions {
        progress,
        threads,
        ..SweepOptions::default()
    };
    let mut cases = Vec::new();
    let mut used_threads = 0;
    for (name, data) in datasets {
        let (mut steps, mut secs, mut prep) = (0u64, 0.0, 0.0);
        for _ in 0..repeat.max(1) {
            let s = sweep(&points, data, 0..data.len(), &opts)?;
            steps += s.steps;
            secs += s.prepare_seconds + s.simulate_seconds;
            prep += s.prepare_seconds;
            used_threads = s.threads;
        }
        cases.push(BenchCase {
            name: name.clone(),
            bars: data.len(),
            configs: points.len(),
            repeat: repeat.max(1),
            steps,
            seconds: secs,
            prepare_seconds: prep,
            steps_per_second: steps as f64 / secs,
        });
    }
    let steps = cases.iter().map(|c| c.steps).sum();
    let seconds = cases.iter().map(|c| c.seconds).sum();
    Ok(BenchReport {
        cases,
        steps,
        seconds,
        steps_per_second: steps as f64 / seconds,
        threads: used_threads,
    })
}
