//! `cairn agent backtest`: replay a DCA plan over real candles, sweep its parameters, or
//! walk it forward.
use crate::{
    cli::{AgentCmd, BacktestArgs},
    config::Settings,
    output,
};
use anyhow::{Context, bail};
use cairn_backtest::{RankBy, SweepOptions, backtest, default_grid, sweep, walk_forward};
use cairn_market::{
    Aligned, Coverage, Error as MarketError, ImportOptions, Series, align, read_csv,
    time::format_ms,
};
use cairn_strategy::Plan;
use serde_json::json;
use std::{
    ops::Range,
    path::{Path, PathBuf},
    process::ExitCode,
};

pub(super) fn run(cmd: &AgentCmd, settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        AgentCmd::Backtest(args) => backtest_cmd(args, settings, json),
        AgentCmd::Vault(_)
        | AgentCmd::Run(_)
        | AgentCmd::Status(_)
        | AgentCmd::Mcp(_)
        | AgentCmd::Resume(_) => {
            unreachable!("async agent commands run in commands::vault and commands::agent_run")
        }
    }
}

/// Reads and validates a plan file.
pub(super) fn load_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read plan {}", path.display()))?;
    Plan::from_toml(&text).with_context(|| format!("{}", path.display()))
}

/// `SYMBOL=PATH` or `PATH` (the symbol then comes from a ticker column or the file name).
fn parse_data_arg(arg: &str) -> (Option<String>, PathBuf) {
    if let Some((sym, path)) = arg.split_once('=')
        && !sym.is_empty()
        && sym.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return (Some(sym.to_ascii_uppercase()), PathBuf::from(path));
    }
    (None, PathBuf::from(arg))
}

/// How `--data` files are imported.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DataOptions {
    /// `--strict`: reject gaps, inconsistent rows and outliers.
    pub(crate) strict: bool,
    /// `--ignore-ticker`: use the given symbol even when a ticker column names another.
    pub(crate) ignore_ticker: bool,
    /// No warnings or notes on stderr.
    pub(crate) quiet: bool,
}

/// Imports every `--data` file, reports gaps, suspicious rows and how the date ranges were cut
/// on stderr, and aligns them.
pub(crate) fn load_data(args: &[String], o: DataOptions) -> anyhow::Result<(Vec<Series>, Aligned)> {
    let mut series = Vec::new();
    for a in args {
        let (symbol, path) = parse_data_arg(a);
        let mut opts = ImportOptions::default()
            .with_strict(o.strict)
            .with_ignore_ticker(o.ignore_ticker);
        opts.symbol = symbol;
        let s = read_csv(&path, &opts).map_err(|e| match e {
            MarketError::Gap { .. } | MarketError::Anomaly { .. } => anyhow::anyhow!(
                "{e} (--strict; drop it to import gaps, inconsistent rows and outliers with warnings)"
            ),
            MarketError::TickerMismatch { ref expected, .. } => {
                let expected = expected.clone();
                anyhow::anyhow!("{e} (--ignore-ticker uses the file as {expected} anyway)")
            }
            e => e.into(),
        })?;
        if !o.quiet {
            for (k, g) in s.gaps.iter().enumerate() {
                if k == 20 {
                    eprintln!("warning: {}: {} more gap(s)", s.source, s.gaps.len() - 20);
                    break;
                }
                eprintln!(
                    "warning: {}: line {}: gap of {} missing bar(s) between {} and {}; treated as an interval without trading (--strict rejects gaps)",
                    s.source,
                    g.line,
                    g.missing,
                    format_ms(g.after_ms),
                    format_ms(g.before_ms)
                );
            }
            for (k, a) in s.anomalies.iter().enumerate() {
                if k == 20 {
                    eprintln!(
                        "warning: {}: {} more suspicious row(s)",
                        s.source,
                        s.anomalies.len() - 20
                    );
                    break;
                }
                eprintln!(
                    "warning: {}: line {}: {}; used as written (check the row; --strict rejects it)",
                    s.source, a.line, a.detail
                );
            }
        }
        series.push(s);
    }
    let refs: Vec<&Series> = series.iter().collect();
    let aligned = align(&refs)?;
    if !o.quiet
        && let Some(note) = coverage_note(&aligned.coverage())
    {
        eprintln!("{note}");
    }
    Ok((series, aligned))
}

/// What cutting the inputs to their shared date range dropped, in words; `None` when nothing.
fn coverage_note(c: &Coverage) -> Option<String> {
    if !c.cuts() && c.dropped.iter().all(|d| d.unmatched == 0) {
        return None;
    }
    let ranges = c
        .dropped
        .iter()
        .map(|d| {
            format!(
                "{} {} .. {}",
                d.symbol,
                format_ms(d.first_ms),
                format_ms(d.last_ms)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut why = Vec::new();
    if !c.limits_start.is_empty() {
        why.push(format!("{} starts last", c.limits_start.join(" and ")));
    }
    if !c.limits_end.is_empty() {
        why.push(format!("{} ends first", c.limits_end.join(" and ")));
    }
    let dropped = c
        .dropped
        .iter()
        .filter(|d| d.before_start + d.after_end + d.unmatched > 0)
        .map(|d| {
            let mut parts = Vec::new();
            if d.before_start > 0 {
                parts.push(format!("{} bar(s) before", d.before_start));
            }
            if d.after_end > 0 {
                parts.push(format!("{} bar(s) after", d.after_end));
            }
            if d.unmatched > 0 {
                parts.push(format!("{} bar(s) another file lacks", d.unmatched));
            }
            format!("{} {}", d.symbol, parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!(
        "note: the files cover different dates ({ranges}); using the shared range {} .. {}{}; dropped: {dropped}",
        format_ms(c.from_ms),
        format_ms(c.to_ms),
        if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join(", "))
        }
    ))
}

pub(crate) fn range_of(
    data: &Aligned,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<Range<usize>> {
    let bad = |flag: &str, s: &str| {
        anyhow::anyhow!("--{flag} {s:?} is not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM")
    };
    let start = match from {
        Some(s) => {
            let t = cairn_market::time::parse_timestamp(s).ok_or_else(|| bad("from", s))?;
            data.time.partition_point(|&x| x < t)
        }
        None => 0,
    };
    let end = match to {
        // A date includes that whole day (every intraday bar of it).
        Some(s) => {
            let t = cairn_market::time::parse_range_end(s).ok_or_else(|| bad("to", s))?;
            data.time.partition_point(|&x| x < t)
        }
        None => data.len(),
    };
    if end < start + 2 {
        bail!(
            "the range --from/--to leaves {} bar(s) of data ({} .. {}); at least 2 are needed",
            end.saturating_sub(start),
            format_ms(data.time[0]),
            format_ms(data.time[data.len() - 1])
        );
    }
    Ok(start..end)
}

fn inputs_json(series: &[Series]) -> serde_json::Value {
    series
        .iter()
        .map(|s| {
            json!({
                "file": s.source,
                "symbol": s.symbol,
                "bars": s.len(),
                "from": format_ms(s.time[0]),
                "to": format_ms(s.time[s.len() - 1]),
                "anomalies": s.anomalies,
                "gaps": s.gaps.iter().map(|g| json!({
                    "line": g.line,
                    "after": format_ms(g.after_ms),
                    "before": format_ms(g.before_ms),
                    "missing": g.missing,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn backtest_cmd(args: &BacktestArgs, settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let plan = load_plan(&args.plan)?;
    let (series, data) = load_data(
        &args.data,
        DataOptions {
            strict: args.strict,
            ignore_ticker: args.ignore_ticker,
            quiet: false,
        },
    )?;
    let coverage = data.coverage();
    let range = range_of(&data, args.from.as_deref(), args.to.as_deref())?;
    let rank_by = RankBy::from_name(&args.rank_by).with_context(|| {
        format!(
            "--rank-by {:?} is unknown; use one of: {}",
            args.rank_by,
            RankBy::NAMES
        )
    })?;
    let opts = SweepOptions {
        rank_by,
        progress: !args.no_progress,
        threads: args.threads,
    };
    if args.sweep || args.walk_forward.is_some() {
        let grid = plan.sweep.clone().unwrap_or_else(|| default_grid(&plan));
        let points = grid.points(&plan)?;
        if let Some(folds) = args.walk_forward {
            let wf = walk_forward(&points, &data.slice(range), folds, &opts)?;
            if json {
                output::json(&json!({
                    "walk_forward": wf,
                    "inputs": inputs_json(&series),
                    "coverage": coverage,
                }));
            } else {
                let span = |a: &str, b: &str| format!("{a} .. {b}");
                let tw = wf
                    .folds
                    .iter()
                    .map(|f| span(&f.train_from, &f.train_to).len())
                    .max()
                    .unwrap_or(0)
                    .max(5)
                    + 2;
                let xw = wf
                    .folds
                    .iter()
                    .map(|f| span(&f.test_from, &f.test_to).len())
                    .max()
                    .unwrap_or(0)
                    .max(4)
                    + 2;
                let mut s = format!(
                    "walk-forward: {} folds, {} configurations, ranked by {:?}\n\n{:<tw$}{:<xw$}{:>12}{:>12}{:>12}  chosen\n",
                    wf.folds.len(),
                    points.len(),
                    rank_by,
                    "train",
                    "test",
                    "train",
                    "test",
                    "plain test"
                );
                for f in &wf.folds {
                    let chosen = f
                        .chosen
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    s.push_str(&format!(
                        "{:<tw$}{:<xw$}{:>12.3}{:>12.3}{:>12.3}  {chosen}\n",
                        span(&f.train_from, &f.train_to),
                        span(&f.test_from, &f.test_to),
                        f.train_score,
                        f.test_score,
                        rank_by.score(&f.test.plain_dca)
                    ));
                }
                s.push_str(&format!(
                    "\nmean score: in-sample {:.3}, out-of-sample {:.3}, plain DCA out-of-sample {:.3}\n",
                    wf.mean_train_score, wf.mean_test_score, wf.mean_plain_test_score
                ));
                output::print(&s);
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut outcome = sweep(&points, &data, range.clone(), &opts)?;
        let best = backtest(&points[outcome.rows[0].index].plan, &data, range)?;
        if args.top > 0 {
            outcome.rows.truncate(args.top);
        }
        if json {
            output::json(&json!({
                "sweep": outcome,
                "configurations": points.len(),
                "best": best.report,
                "inputs": inputs_json(&series),
                "coverage": coverage,
            }));
        } else {
            let mut s = format!(
                "sweep: {} configurations x {} bars = {} steps in {:.3} s ({:.1} M steps/s on {} threads; features {:.3} s)\nranked by {:?}\n\n{:>5}{:>10}{:>10}{:>10}{:>14}  parameters\n",
                points.len(),
                outcome.bars,
                outcome.steps,
                outcome.prepare_seconds + outcome.simulate_seconds,
                outcome.steps_per_second / 1e6,
                outcome.threads,
                outcome.prepare_seconds,
                rank_by,
                "rank",
                "score",
                "sharpe",
                "max dd",
                "P&L",
            );
            for r in &outcome.rows {
                let params = r
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                s.push_str(&format!(
                    "{:>5}{:>10.3}{:>10.3}{:>9.1}%{:>14.2}  {params}\n",
                    r.rank,
                    r.score,
                    r.metrics.sharpe,
                    r.metrics.max_drawdown * 100.0,
                    r.metrics.pnl
                ));
            }
            s.push_str("\nbest configuration, full report:\n\n");
            s.push_str(&best.report.to_table());
            output::print(&s);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let bt = backtest(&plan, &data, range)?;
    let charts = if args.no_charts {
        Vec::new()
    } else {
        let dir = args.charts.clone().unwrap_or_else(|| {
            let stem = args
                .plan
                .file_stem()
                .map_or("plan".into(), |s| s.to_string_lossy().into_owned());
            settings.data_dir.join("backtests").join(stem)
        });
        bt.write_charts(&dir)?
    };
    if json {
        output::json(&json!({
            "report": bt.report,
            "inputs": inputs_json(&series),
            "coverage": coverage,
            "charts": charts.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }));
    } else {
        let mut s = bt.report.to_table();
        if !charts.is_empty() {
            s.push_str("\ncharts\n");
            for c in &charts {
                s.push_str(&format!("  {}\n", c.display()));
            }
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}
