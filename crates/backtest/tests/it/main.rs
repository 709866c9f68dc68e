//! The backtester on the shipped Binance daily files and on random price paths.
use cairn_backtest::{
    FeatureStore, NoRecord, RankBy, SweepOptions, backtest, run, sweep, walk_forward,
};
use cairn_market::{Aligned, ImportOptions, align, parse_csv, read_csv};
use cairn_strategy::Plan;
use proptest::prelude::*;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn daily() -> Aligned {
    let dir = repo().join("data/market");
    let btc = read_csv(&dir.join("BTCUSDT_1d.csv"), &ImportOptions::default()).unwrap();
    let bnb = read_csv(&dir.join("BNBUSDT_1d.csv"), &ImportOptions::default()).unwrap();
    align(&[&btc, &bnb]).unwrap()
}

const PLAIN: &str = r#"
name = "plain"
[budget]
amount = 100
schedule = "weekly"
[[assets]]
symbol = "BTC"
weight = 0.6
[[assets]]
symbol = "BNB"
weight = 0.4
[execution]
pool_depth = 10000000
"#;

/// Plain DCA by the most direct computation there is: every 7th daily bar (the files have no
/// gaps), each asset gets `100 × weight` through x·y=k with a 0.3% fee.
#[test]
fn plain_dca_holdings_match_a_direct_computation_exactly() {
    let data = daily();
    let plan = Plan::from_toml(PLAIN).unwrap();
    let bt = backtest(&plan, &data, 0..data.len()).unwrap();
    let depth = 10_000_000.0;
    let mut units = [0.0f64; 2];
    let mut buys = 0;
    for t in (0..data.len()).step_by(7) {
        buys += 1;
        for (i, w) in [0.6, 0.4].into_iter().enumerate() {
            let a = 100.0 * w * (1.0 - 0.003);
            let p = data.close[i][t];
            units[i] += a * depth / (p * (depth + a));
        }
    }
    assert_eq!(bt.report.decisions.periods, buys);
    assert_eq!(bt.report.assets[0].units, units[0]);
    assert_eq!(bt.report.assets[1].units, units[1]);
    // The plain-DCA benchmark of a plain plan is the plan itself.
    assert_eq!(bt.report.assets[0].plain_dca_units, units[0]);
    assert_eq!(bt.report.strategy.invested, 100.0 * buys as f64);
    let last = data.len() - 1;
    let value = units[0] * data.close[0][last] + units[1] * data.close[1][last];
    let m = &bt.report.strategy;
    assert!((m.value - (value + m.cash)).abs() < 1e-6 * value);
    assert!(m.cash.abs() < 1e-6, "cash {}", m.cash);
}

#[test]
fn risk_gated_plan_reports_every_metric_and_charts() {
    let data = daily();
    let text =
        std::fs::read_to_string(repo().join("examples/plans/risk-gated-btc60-bnb40.toml")).unwrap();
    let plan = Plan::from_toml(&text).unwrap();
    let bt = backtest(&plan, &data, 0..data.len()).unwrap();
    let r = &bt.report;
    let json = serde_json::to_value(r).unwrap();
    for k in [
        "invested",
        "value",
        "pnl",
        "max_drawdown",
        "volatility",
        "sharpe",
        "sortino",
        "calmar",
        "ulcer_index",
        "var_historical",
        "cvar_historical",
        "var_parametric",
        "cvar_parametric",
    ] {
        assert!(
            json["strategy"][k].is_number(),
            "{k}: {}",
            json["strategy"][k]
        );
        assert!(json["plain_dca"][k].is_number(), "plain {k}");
    }
    assert!(r.strategy.cvar_historical >= r.strategy.var_historical);
    assert!(
        r.decisions.skips.values().sum::<u32>() > 0,
        "the risk rules never fired"
    );
    let table = r.to_table();
    assert!(table.contains("Sortino") && table.contains("lump-sum avg"));
    let dir = tempfile::tempdir().unwrap();
    let files = bt.write_charts(dir.path()).unwrap();
    assert_eq!(files.len(), 8);
    for f in &files {
        assert!(
            std::fs::metadata(f).unwrap().len() > 1000,
            "{}",
            f.display()
        );
    }
}

#[test]
fn sweep_ranks_and_matches_single_runs() {
    let data = daily();
    let text =
        std::fs::read_to_string(repo().join("examples/plans/risk-gated-btc60-bnb40.toml")).unwrap();
    let plan = Plan::from_toml(&text).unwrap();
    let points = plan.sweep.clone().unwrap().points(&plan).unwrap();
    let s = sweep(
        &points,
        &data,
        0..data.len(),
        &SweepOptions {
            threads: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(s.rows.len(), points.len());
    assert!(s.rows.windows(2).all(|w| w[0].score >= w[1].score));
    // A sweep row equals a full backtest of the same point.
    let best = &s.rows[0];
    let bt = backtest(&points[best.index].plan, &data, 0..data.len()).unwrap();
    assert_eq!(best.holdings[0], bt.report.assets[0].units);
    assert_eq!(best.metrics.sharpe, bt.report.strategy.sharpe);
    let wf = walk_forward(
        &points,
        &data,
        3,
        &SweepOptions {
            rank_by: RankBy::Sharpe,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(wf.folds.len(), 3);
    assert!(wf.folds.iter().all(|f| f.test_from > f.train_to));
}

#[test]
fn four_hour_gaps_are_intervals_without_trading() {
    let dir = repo().join("../shared/data/market");
    if !dir.join("BTCUSDT_4h.csv").exists() {
        eprintln!("skipping: no 4-hour files");
        return;
    }
    let btc = read_csv(&dir.join("BTCUSDT_4h.csv"), &ImportOptions::default()).unwrap();
    let bnb = read_csv(&dir.join("BNBUSDT_4h.csv"), &ImportOptions::default()).unwrap();
    let data = align(&[&btc, &bnb]).unwrap();
    let plan = Plan::from_toml(&PLAIN.replace("weekly", "daily")).unwrap();
    let bt = backtest(&plan, &data, 0..data.len()).unwrap();
    assert!(!bt.report.data.gaps.is_empty());
    // One buy per calendar day that has a bar.
    let days: std::collections::BTreeSet<i64> =
        data.time.iter().map(|t| t.div_euclid(86_400_000)).collect();
    assert_eq!(bt.report.decisions.periods as usize, days.len());
}

fn path_csv(symbol: &str, steps: &[f64]) -> Aligned {
    let mut p = 100.0;
    let mut text = String::from("ts,close\n");
    for (i, s) in steps.iter().enumerate() {
        p *= s.exp();
        text.push_str(&format!("{},{}\n", 1_600_000_000 + i as i64 * 86_400, p));
    }
    let s = parse_csv(
        text.as_bytes(),
        symbol,
        &ImportOptions::default().with_symbol(symbol),
    )
    .unwrap();
    align(&[&s]).unwrap()
}

fn two_assets(a: &[f64], b: &[f64]) -> Aligned {
    let x = path_csv("AAA", a);
    let y = path_csv("BBB", b);
    let mut al = x.clone();
    al.symbols.push("BBB".into());
    al.close.push(y.close[0].clone());
    al
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn balances_never_negative_and_budget_never_exceeded(
        a in prop::collection::vec(-0.15f64..0.15, 120..250),
        b_seed in -0.15f64..0.15,
        w0 in 0.1f64..0.9,
        gas in 0.0f64..5.0,
        min_order in 0.0f64..30.0,
        rules in any::<bool>(),
        partial in any::<bool>(),
        depth in prop::option::of(1e3f64..1e7),
        sched in 0usize..4,
    ) {
        let b: Vec<f64> = a.iter().enumerate().map(|(i, x)| -x * 0.7 + b_seed * ((i % 7) as f64 - 3.0) / 3.0).collect();
        let data = two_assets(&a, &b);
        let mut text = format!(
            "[budget]\namount = 50\nschedule = \"{}\"\n[[assets]]\nsymbol = \"AAA\"\nweight = {w0}\nmax_allocation = {}\n[[assets]]\nsymbol = \"BBB\"\nweight = {}\n[execution]\ngas_per_buy = {gas}\nmin_order = {min_order}\non_short = \"{}\"\n",
            ["daily", "weekly", "biweekly", "monthly"][sched],
            (w0 + 0.15).min(1.0),
            1.0 - w0,
            if partial { "partial" } else { "skip" },
        );
        if let Some(d) = depth {
            text.push_str(&format!("pool_depth = {d}\n"));
        }
        if rules {
            text.push_str("[risk]\nvol_window = 10\nvar_window = 20\nrebalance = true\n[risk.vol_target]\ntarget = 0.8\n[risk.drawdown]\nbands = [{below = 0.1, multiplier = 1.5}, {below = 0.3, multiplier = 2.5}]\n[risk.pause]\nmax_vol = 2.5\nmax_var = 0.12\n");
        }
        let plan = Plan::from_toml(&text).unwrap();
        let mut store = FeatureStore::new(&data);
        store.prepare([&plan], 0..data.len()).unwrap();
        let view = store.view(&plan, 0..data.len()).unwrap();
        let out = run(&plan, &view, &mut NoRecord);
        let t = out.totals;
        let eps = 1e-9 * t.invested.max(1.0);
        prop_assert!(t.cash >= 0.0);
        prop_assert!(out.holdings.iter().all(|h| *h >= 0.0 && h.is_finite()));
        prop_assert!(t.spent + t.gas <= t.invested + eps, "spent {} gas {} invested {}", t.spent, t.gas, t.invested);
        prop_assert!((t.cash - (t.invested - t.spent - t.gas)).abs() <= eps, "cash drifted: {t:?}");
        if !rules && gas == 0.0 && min_order == 0.0 && depth.is_none() {
            // Weights respected: cost per asset in proportion to the weights.
            let total = out.cost[0] + out.cost[1];
            prop_assert!((out.cost[0] / total - w0).abs() < 1e-9);
        }
    }
}

/// Hourly closes from per-hour log returns, one asset.
fn hourly(symbol: &str, steps: &[f64]) -> Aligned {
    let mut p = 100.0;
    let mut text = String::from("ts,close\n");
    for (i, s) in steps.iter().enumerate() {
        p *= s.exp();
        text.push_str(&format!("{},{}\n", 1_600_000_000 + i as i64 * 3600, p));
    }
    let s = parse_csv(
        text.as_bytes(),
        symbol,
        &ImportOptions::default().with_symbol(symbol),
    )
    .unwrap();
    align(&[&s]).unwrap()
}

/// On hourly data a one-day VaR threshold sees one-day losses: a 10-day slide of 0.5% an hour
/// (about 11% a day) pauses the buys, though no single hour loses more than 0.5%. With
/// `window_unit = "bars"` (one-bar VaR, the old meaning) the same threshold never fires.
#[test]
fn var_pause_fires_on_hourly_data() {
    let steps: Vec<f64> = (0..24 * 60)
        .map(|h| {
            if (24 * 30..24 * 40).contains(&h) {
                -0.005
            } else if h % 2 == 0 {
                0.004
            } else {
                -0.0038
            }
        })
        .collect();
    let data = hourly("BTC", &steps);
    let text = "[budget]\namount = 10\nschedule = \"daily\"\n[[assets]]\nsymbol = \"BTC\"\nweight = 1\n[risk]\nvar_window = 10\n[risk.pause]\nmax_var = 0.08\n";
    let bt = backtest(&Plan::from_toml(text).unwrap(), &data, 0..data.len()).unwrap();
    let paused = bt
        .report
        .decisions
        .skips
        .get("paused_var")
        .copied()
        .unwrap_or(0);
    assert!(paused >= 5, "{:?}", bt.report.decisions);
    let day = bt
        .report
        .log
        .iter()
        .find(|p| p.assets[0].rules == ["paused_var"])
        .unwrap();
    assert!(day.assets[0].var > 0.08 && day.assets[0].detail.contains("VaR"));
    let bars = text.replace("[risk]\n", "[risk]\nwindow_unit = \"bars\"\n");
    let bt = backtest(&Plan::from_toml(&bars).unwrap(), &data, 0..data.len()).unwrap();
    assert!(!bt.report.decisions.skips.contains_key("paused_var"));
}

/// A drawdown band asking for 3x the budget in a long slide buys what the cash allows every
/// period (capped, counted and logged) instead of skipping every other period.
#[test]
fn drawdown_multiplier_is_capped_by_the_cash_and_reported() {
    let steps: Vec<f64> = (0..200)
        .map(|i| if i < 20 { 0.01 } else { -0.01 })
        .collect();
    let data = path_csv("AAA", &steps);
    let text = "[budget]\namount = 100\nschedule = \"weekly\"\n[[assets]]\nsymbol = \"AAA\"\nweight = 1\n[risk.drawdown]\nbands = [{below = 0.2, multiplier = 3}]\nmax_multiplier = 3\n[execution]\non_short = \"skip\"\n";
    let bt = backtest(&Plan::from_toml(text).unwrap(), &data, 0..data.len()).unwrap();
    let d = &bt.report.decisions;
    assert!(d.capped_buys > 10, "{d:?}");
    assert_eq!(d.buys, d.periods, "{d:?}");
    assert!(!d.skips.contains_key("insufficient_funds"), "{d:?}");
    let capped: Vec<_> = bt
        .report
        .log
        .iter()
        .filter(|p| p.assets[0].rules.contains(&"capped_by_cash"))
        .collect();
    assert_eq!(capped.len() as u32, d.capped_buys);
    let p = capped[0];
    assert!(p.assets[0].rules.contains(&"drawdown_band"));
    assert!((p.assets[0].amount_in - p.cash).abs() < 1e-6, "{p:?}");
    let table = bt.report.to_table();
    assert!(table.contains("capped by the cash available"), "{table}");
    assert!(table.contains(&format!("decision log ({} periods)", d.periods)));
    assert!(table.contains("capped by the cash: x3.00 asked"), "{table}");
    let json = serde_json::to_value(&bt.report).unwrap();
    assert_eq!(json["log"].as_array().unwrap().len() as u32, d.periods);
    assert_eq!(json["decisions"]["capped_buys"], d.capped_buys);
    assert!(json["log"][0]["assets"][0]["price"].as_f64().unwrap() > 0.0);
}

/// Holdings print with the precision of a crypto asset, not rounded to cents.
#[test]
fn holdings_print_with_eight_decimals() {
    let data = daily();
    let plan = Plan::from_toml(PLAIN).unwrap();
    let bt = backtest(&plan, &data, 0..data.len()).unwrap();
    let u = bt.report.assets[0].units;
    let table = bt.report.to_table();
    assert!(table.contains(&format!("{u:.8}")), "{table}");
    assert!(u > 1.0 && format!("{u:.8}").len() > 9);
}
