//! Parameter sweeps (every grid point, in parallel, ranked) and walk-forward validation (fit on
//! one window, test on the next) to see whether the best in-sample parameters hold up.
//!
//! Sweeps rank on one-pass statistics ([`crate::Stats`]); historical VaR needs a configuration's
//! whole return series, so it is left out of sweep rows (Gaussian VaR is kept) and reported
//! by a full backtest of the chosen configuration.
use crate::{
    Error, Result,
    engine::{self, NoRecord},
    features::FeatureStore,
    metrics::Metrics,
    report::{Report, backtest},
};
use cairn_market::{Aligned, time::format_ms};
use cairn_strategy::{ParamValue, Plan, SweepPoint, SweepSpec};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use std::{collections::BTreeMap, ops::Range, time::Instant};

/// The metric a sweep ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Sharpe ratio (higher is better).
    #[default]
    Sharpe,
    /// Sortino ratio.
    Sortino,
    /// Calmar ratio.
    Calmar,
    /// Final P&L.
    Pnl,
    /// CAGR of the NAV.
    Cagr,
    /// Max drawdown (lower is better).
    MaxDrawdown,
    /// Ulcer index (lower is better).
    Ulcer,
}

impl RankBy {
    /// Names accepted by [`RankBy::from_name`].
    pub const NAMES: &'static str = "sharpe, sortino, calmar, pnl, cagr, max_drawdown, ulcer";

    /// Parses a metric name.
    pub fn from_name(s: &str) -> Option<RankBy> {
        Some(match s {
            "sharpe" => RankBy::Sharpe,
            "sortino" => RankBy::Sortino,
            "calmar" => RankBy::Calmar,
            "pnl" => RankBy::Pnl,
            "cagr" => RankBy::Cagr,
            "max_drawdown" => RankBy::MaxDrawdown,
            "ulcer" => RankBy::Ulcer,
            _ => return None,
        })
    }

    /// A score where higher is better; NaN scores rank last.
    pub fn score(self, m: &Metrics) -> f64 {
        let v = match self {
            RankBy::Sharpe => m.sharpe,
            RankBy::Sortino => m.sortino,
            RankBy::Calmar => m.calmar,
            RankBy::Pnl => m.pnl,
            RankBy::Cagr => m.cagr,
            RankBy::MaxDrawdown => -m.max_drawdown,
            RankBy::Ulcer => -m.ulcer_index,
        };
        if v.is_nan() { f64::NEG_INFINITY } else { v }
    }
}

/// How to run a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Ranking metric.
    pub rank_by: RankBy,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Worker threads (None: rayon's default, one per core).
    pub threads: Option<usize>,
}

/// One ranked configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    /// 1 = best.
    pub rank: usize,
    /// Index in grid order.
    pub index: usize,
    /// The swept parameters.
    pub params: BTreeMap<String, ParamValue>,
    /// The ranking score.
    pub score: f64,
    /// Metrics (historical VaR/CVaR omitted: NaN).
    pub metrics: Metrics,
    /// Base units per plan asset at the end.
    pub holdings: Vec<f64>,
}

/// A finished sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepOutcome {
    /// Ranking metric.
    pub rank_by: RankBy,
    /// Rows, best first.
    pub rows: Vec<SweepRow>,
    /// Bars per configuration.
    pub bars: usize,
    /// Bar × configuration steps simulated.
    pub steps: u64,
    /// Seconds computing shared features.
    pub prepare_seconds: f64,
    /// Seconds simulating.
    pub simulate_seconds: f64,
    /// `steps / (prepare + simulate)`.
    pub steps_per_second: f64,
    /// Worker threads used.
    pub threads: usize,
}

fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n.max(1));
    }
    b.build()
        .map_err(|e| Error::TooShort(format!("cannot start worker threads: {e}")))
}

fn progress_bar(len: u64, show: bool, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(len),
        if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} configs ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_string());
    pb
}

/// Runs every point over `range` of `data` in parallel and ranks the results.
pub fn sweep(
    points: &[SweepPoint],
    data: &Aligned,
    range: Range<usize>,
    opts: &SweepOptions,
) -> Result<SweepOutcome> {
    if points.is_empty() {
        return Err(Error::TooShort("the sweep grid is empty".into()));
    }
    let workers = pool(opts.threads)?;
    let threads = workers.current_num_threads();
    workers.install(|| {
        let started = Instant::now();
        let mut store = FeatureStore::new(data);
        store.prepare(points.iter().map(|p| &p.plan), range.clone())?;
        let prepare_seconds = started.elapsed().as_secs_f64();
        let pb = progress_bar(points.len() as u64, opts.progress, "sweep");
        let sim = Instant::now();
        let bpy = data.bars_per_year();
        let mut rows = points
            .par_iter()
            .enumerate()
            .map(|(index, p)| {
                let view = store.view(&p.plan, range.clone())?;
                let out = engine::run(&p.plan, &view, &mut NoRecord);
                pb.inc(1);
                let metrics =
                    Metrics::from_run(out.totals, &out.stats, &[], bpy, p.plan.risk.var_confidence);
                Ok(SweepRow {
                    rank: 0,
                    index,
                    params: p.params.iter().cloned().collect(),
                    score: opts.rank_by.score(&metrics),
                    metrics,
                    holdings: out.holdings[..p.plan.assets.len()].to_vec(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let simulate_seconds = sim.elapsed().as_secs_f64();
        pb.finish_and_clear();
        rows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        for (k, r) in rows.iter_mut().enumerate() {
            r.rank = k + 1;
        }
        let steps = (range.len() as u64) * points.len() as u64;
        Ok(SweepOutcome {
            rank_by: opts.rank_by,
            rows,
            bars: range.len(),
            steps,
            prepare_seconds,
            simulate_seconds,
            steps_per_second: steps as f64 / (prepare_seconds + simulate_seconds),
            threads,
        })
    })
}

/// A grid for plans without a `[sweep]` table: the main knob of each rule the plan enables
/// (and the schedule), a few values each.
pub fn default_grid(plan: &Plan) -> SweepSpec {
    let nums = |v: &[f64]| v.iter().map(|x| ParamValue::Number(*x)).collect::<Vec<_>>();
    let mut g = BTreeMap::new();
    g.insert(
        "budget.schedule".to_string(),
        ["daily", "weekly", "biweekly", "monthly"]
            .iter()
            .map(|s| ParamValue::Text(s.to_string()))
            .collect(),
    );
    if plan.risk.vol_target.is_some() {
        g.insert("risk.vol_target.target".into(), nums(&[0.3, 0.5, 0.7, 0.9]));
        g.insert("risk.vol_window".into(), nums(&[14.0, 30.0, 60.0]));
    }
    if plan.risk.drawdown.is_some() {
        g.insert(
            "risk.drawdown.max_multiplier".into(),
            nums(&[1.5, 2.0, 3.0]),
        );
    }
    if plan
        .risk
        .pause
        .as_ref()
        .is_some_and(|p| p.max_vol.is_some())
    {
        g.insert("risk.pause.max_vol".into(), nums(&[0.8, 1.2, 2.0]));
    }
    SweepSpec { grid: g }
}

/// One walk-forward fold.
#[derive(Debug, Clone, Serialize)]
pub struct Fold {
    /// Training window, first bar.
    pub train_from: String,
    /// Training window, last bar.
    pub train_to: String,
    /// Test window, first bar.
    pub test_from: String,
    /// Test window, last bar.
    pub test_to: String,
    /// Parameters chosen on the training window.
    pub chosen: BTreeMap<String, ParamValue>,
    /// Their training score.
    pub train_score: f64,
    /// Their test-window score.
    pub test_score: f64,
    /// Full out-of-sample report of the chosen parameters (with plain DCA and lump sum).
    pub test: Report,
}

/// Walk-forward validation result.
#[derive(Debug, Clone, Serialize)]
pub struct WalkForward {
    /// Ranking metric.
    pub rank_by: RankBy,
    /// Folds in time order.
    pub folds: Vec<Fold>,
    /// Mean in-sample score of the chosen parameters.
    pub mean_train_score: f64,
    /// Mean out-of-sample score of the chosen parameters.
    pub mean_test_score: f64,
    /// Mean out-of-sample score of plain DCA on the same windows.
    pub mean_plain_test_score: f64,
}

/// Splits the data into `folds + 1` consecutive windows; for each fold, sweeps the grid on
/// window `i` and backtests the best point on window `i + 1` (starting from an empty account,
/// with features computed from the data before it, so nothing looks ahead).
pub fn walk_forward(
    points: &[SweepPoint],
    data: &Aligned,
    folds: usize,
    opts: &SweepOptions,
) -> Result<WalkForward> {
    let n = data.len();
    let win = n / (folds + 1);
    if folds == 0 || win < 30 {
        return Err(Error::TooShort(format!(
            "walk-forward with {folds} fold(s) over {n} bars leaves windows of {win} bars; use fewer folds (each window needs at least 30 bars)"
        )));
    }
    let mut out = Vec::new();
    let quiet = SweepOptions {
        progress: false,
        ..opts.clone()
    };
    let pb = progress_bar(folds as u64, opts.progress, "walk-forward");
    for i in 0..folds {
        let train = i * win..(i + 1) * win;
        let test = (i + 1) * win..if i + 1 == folds { n } else { (i + 2) * win };
        let s = sweep(points, data, train.clone(), &quiet)?;
        let best = &s.rows[0];
        let plan = &points[best.index].plan;
        let bt = backtest(plan, data, test.clone())?;
        out.push(Fold {
            train_from: format_ms(data.time[train.start]),
            train_to: format_ms(data.time[train.end - 1]),
            test_from: format_ms(data.time[test.start]),
            test_to: format_ms(data.time[test.end - 1]),
            chosen: best.params.clone(),
            train_score: best.score,
            test_score: opts.rank_by.score(&bt.report.strategy),
            test: bt.report,
        });
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mean = |f: &dyn Fn(&Fold) -> f64| out.iter().map(f).sum::<f64>() / out.len() as f64;
    Ok(WalkForward {
        rank_by: opts.rank_by,
        mean_train_score: mean(&|f| f.train_score),
        mean_test_score: mean(&|f| f.test_score),
        mean_plain_test_score: mean(&|f| opts.rank_by.score(&f.test.plain_dca)),
        folds: out,
    })
}
