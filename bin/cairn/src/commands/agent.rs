//! `cairn agent backtest`: replay a DCA plan over real candles, sweep its parameters, or
//! walk it forward.
use crate::{
    cli::{AgentCmd, BacktestArgs},
    config::Settings,
    output,
};
use anyhow::{Context, bail};
use cairn_backtest::{RankBy, SweepOptions, backtest, default_grid, sweep, walk_forward};
use cairn_market::{Aligned, ImportOptions, Series, align, read_csv, time::format_ms};
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
        AgentCmd::Vault(_) | AgentCmd::Run(_) | AgentCmd::Status(_) => {
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

/// Imports every `--data` file, reports gaps on stderr, and aligns them.
pub(crate) fn load_data(
    args: &[String],
    strict: bool,
    quiet: bool,
) -> anyhow::Result<(Vec<Series>, Aligned)> {
    let mut series = Vec::new();
    for a in args {
        let (symbol, path) = parse_data_arg(a);
        let mut opts = ImportOptions::default().with_strict(strict);
        opts.symbol = symbol;
        let s = read_csv(&path, &opts)?;
        if !quiet {
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
        }
        series.push(s);
    }
    let refs: Vec<&Series> = series.iter().collect();
    let aligned = align(&refs)?;
    Ok((series, aligned))
}

pub(crate) fn range_of(
    data: &Aligned,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<Range<usize>> {
    let parse = |flag: &str, s: &str| {
        cairn_market::time::parse_timestamp(s)
            .with_context(|| format!("--{flag} {s:?} is not a date; use YYYY-MM-DD"))
    };
    let start = match from {
        Some(s) => {
            let t = parse("from", s)?;
            data.time.partition_point(|&x| x < t)
        }
        None => 0,
    };
    let end = match to {
        Some(s) => {
            let t = parse("to", s)?;
            data.time.partition_point(|&x| x <= t)
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
    let (series, data) = load_data(&args.data, args.strict, false)?;
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
                output::json(&json!({ "walk_forward": wf, "inputs": inputs_json(&series) }));
            } else {
                let mut s = format!(
                    "walk-forward: {} folds, {} configurations, ranked by {:?}\n\n{:<24}{:<24}{:>12}{:>12}{:>12}  chosen\n",
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
                        "{:<24}{:<24}{:>12.3}{:>12.3}{:>12.3}  {chosen}\n",
                        format!("{}..{}", f.train_from, f.train_to),
                        format!("{}..{}", f.test_from, f.test_to),
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
