//! `cairn bench backtest`: bar × configuration steps per second of a sweep of the risk-gated
//! plan over the daily and (when present) 4-hour candles.
use crate::{
    cli::{BenchBacktestArgs, BenchCmd},
    output,
};
use anyhow::Context;
use cairn_backtest::{bench, bench_grid};
use std::{path::PathBuf, process::ExitCode};

/// The risk-gated example plan, compiled in so the benchmark runs from any directory.
const RISK_GATED: &str = include_str!("../../../../examples/plans/risk-gated-btc60-bnb40.toml");

pub(super) fn run(
    cmd: &BenchCmd,
    settings: &crate::config::Settings,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCmd::Backtest(args) => backtest(args, json),
        BenchCmd::Log(args) => super::bench_log::log(args, settings, json),
        BenchCmd::Data(args) => super::bench_log::data(args, json),
        BenchCmd::Dedup(args) => super::bench_log::dedup(args, json),
        BenchCmd::Wasm(args) => super::bench_log::wasm(args, json),
        BenchCmd::Train(args) => super::bench_log::train(args, json),
        BenchCmd::Verify(args) => super::bench_verify::verify(args, json),
        // Async: dispatched by `commands::run` before reaching here.
        BenchCmd::Compute(_) => anyhow::bail!("`bench compute` runs on the async path"),
        BenchCmd::Vault(_) => anyhow::bail!("`bench vault` runs on the async path"),
        BenchCmd::Agent(_) => anyhow::bail!("`bench agent` runs on the async path"),
    }
}

fn market_dir(args: &BenchBacktestArgs) -> PathBuf {
    if let Some(d) = &args.market {
        return d.clone();
    }
    let shared = PathBuf::from("../shared/data/market");
    if shared.join("BTCUSDT_4h.csv").exists() {
        shared
    } else {
        PathBuf::from("data/market")
    }
}

fn backtest(args: &BenchBacktestArgs, json: bool) -> anyhow::Result<ExitCode> {
    let plan = match &args.plan {
        Some(p) => super::agent::load_plan(p)?,
        None => cairn_strategy::Plan::from_toml(RISK_GATED).context("built-in plan")?,
    };
    let dir = market_dir(args);
    let mut sets = Vec::new();
    for interval in ["1d", "4h"] {
        let files: Vec<String> = plan
            .assets
            .iter()
            .map(|a| dir.join(format!("{}USDT_{interval}.csv", a.symbol)))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if files.len() == plan.assets.len() {
            let (_, data) = super::agent::load_data(
                &files,
                super::agent::DataOptions {
                    quiet: true,
                    ..Default::default()
                },
            )?;
            sets.push((
                format!(
                    "{} {interval}",
                    plan.assets
                        .iter()
                        .map(|a| a.symbol.as_str())
                        .collect::<Vec<_>>()
                        .join("+")
                ),
                data,
            ));
        }
    }
    anyhow::ensure!(
        !sets.is_empty(),
        "no candle files for {} in {}; pass --market DIR with <SYMBOL>USDT_1d.csv files",
        plan.assets
            .iter()
            .map(|a| a.symbol.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        dir.display()
    );
    let refs: Vec<(String, &cairn_market::Aligned)> =
        sets.iter().map(|(n, d)| (n.clone(), d)).collect();
    let r = bench(
        &plan,
        &refs,
        &bench_grid(),
        args.repeat,
        args.threads,
        !args.no_progress,
    )?;
    if json {
        output::json(&r);
    } else {
        let mut s = format!(
            "bench backtest: sweep of \"{}\" ({} configurations), {} threads\n\n{:<12}{:>8}{:>9}{:>8}{:>14}{:>10}{:>12}{:>16}\n",
            plan.name,
            r.cases.first().map_or(0, |c| c.configs),
            r.threads,
            "data",
            "bars",
            "configs",
            "repeat",
            "steps",
            "seconds",
            "features s",
            "steps/s"
        );
        for c in &r.cases {
            s.push_str(&format!(
                "{:<12}{:>8}{:>9}{:>8}{:>14}{:>10.3}{:>12.3}{:>14.1} M\n",
                c.name,
                c.bars,
                c.configs,
                c.repeat,
                c.steps,
                c.seconds,
                c.prepare_seconds,
                c.steps_per_second / 1e6
            ));
        }
        s.push_str(&format!(
            "{:<12}{:>8}{:>9}{:>8}{:>14}{:>10.3}{:>12}{:>14.1} M\n",
            "total",
            "",
            "",
            "",
            r.steps,
            r.seconds,
            "",
            r.steps_per_second / 1e6
        ));
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}
