//! `cairn agent backtest` run as a user would: a bad plan is rejected naming the key, a bad CSV
//! naming the row, a backtest of the shipped daily data prints the metrics as JSON and writes
//! the charts, and a sweep ranks its grid.
mod common;

use common::{assert_clear_error, cairn, repo, stderr};
use serde_json::Value;
use std::process::Output;

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "cairn failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

const DAILY: [&str; 2] = ["data/market/BTCUSDT_1d.csv", "data/market/BNBUSDT_1d.csv"];

#[test]
fn bad_plan_is_rejected_naming_the_key_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let text = std::fs::read_to_string(repo().join("examples/plans/risk-gated-btc60-bnb40.toml"))
        .unwrap()
        .replace("target = 0.6 ", "target = 12 ");
    std::fs::write(&plan, text).unwrap();
    let o = cairn(dir.path())
        .args(["agent", "backtest"])
        .arg(&plan)
        .arg("--data")
        .args(DAILY)
        .output()
        .unwrap();
    assert_clear_error(
        &o,
        &["plan.toml", "risk.vol_target.target", "12", "at most 5"],
    );
}

#[test]
fn bad_csv_is_rejected_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("BTCUSDT_1d.csv");
    std::fs::write(
        &csv,
        "timestamp,open,high,low,close,volume\n2020-01-01,1,1,1,1,1\n2020-01-02,1,1,1,1,1\n2020-01-02,1,1,1,1,1\n",
    )
    .unwrap();
    let o = cairn(dir.path())
        .args([
            "agent",
            "backtest",
            "examples/plans/plain-dca-btc60-bnb40.toml",
            "--data",
        ])
        .arg(&csv)
        .arg(DAILY[1])
        .output()
        .unwrap();
    assert_clear_error(
        &o,
        &["BTCUSDT_1d.csv", "line 4", "duplicate timestamp 2020-01-02"],
    );
    std::fs::write(&csv, "Date,Close\n2020-01-01,5\n2020-01-02,-5\n").unwrap();
    let o = cairn(dir.path())
        .args([
            "agent",
            "backtest",
            "examples/plans/plain-dca-btc60-bnb40.toml",
            "--data",
        ])
        .arg(&csv)
        .arg(DAILY[1])
        .output()
        .unwrap();
    assert_clear_error(&o, &["line 3", "not positive"]);
}

#[test]
fn backtest_of_shipped_daily_data_reports_metrics_and_writes_charts() {
    let dir = tempfile::tempdir().unwrap();
    let charts = dir.path().join("charts");
    let o = cairn(dir.path())
        .args([
            "--json",
            "agent",
            "backtest",
            "examples/plans/risk-gated-btc60-bnb40.toml",
            "--data",
        ])
        .args(DAILY)
        .arg("--charts")
        .arg(&charts)
        .output()
        .unwrap();
    let v = json(&o);
    let r = &v["report"];
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
        for run in ["strategy", "plain_dca", "lump_sum"] {
            assert!(r[run][k].is_number(), "{run}.{k} = {}", r[run][k]);
        }
    }
    assert_eq!(r["data"]["symbols"], serde_json::json!(["BTC", "BNB"]));
    assert!(r["assets"][0]["avg_cost"].as_f64().unwrap() > 0.0);
    assert!(r["assets"][0]["plain_dca_avg_cost"].as_f64().unwrap() > 0.0);
    assert!(r["strategy"]["invested"].as_f64().unwrap() > 40_000.0);
    let files = v["charts"].as_array().unwrap();
    assert_eq!(files.len(), 8);
    for stem in ["equity", "drawdown", "buys_BTC", "buys_BNB"] {
        for ext in ["svg", "png"] {
            let p = charts.join(format!("{stem}.{ext}"));
            assert!(
                std::fs::metadata(&p)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{}",
                p.display()
            );
        }
    }
    let png = std::fs::read(charts.join("equity.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

#[test]
fn text_table_and_sweep_ranking() {
    let dir = tempfile::tempdir().unwrap();
    let o = cairn(dir.path())
        .args([
            "agent",
            "backtest",
            "examples/plans/plain-dca-btc60-bnb40.toml",
            "--no-charts",
            "--data",
        ])
        .args(DAILY)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Sharpe") && text.contains("plain DCA") && text.contains("lump sum"),
        "{text}"
    );

    let o = cairn(dir.path())
        .args([
            "--json",
            "agent",
            "backtest",
            "examples/plans/risk-gated-btc60-bnb40.toml",
            "--sweep",
            "--no-progress",
            "--top",
            "0",
            "--data",
        ])
        .args(DAILY)
        .output()
        .unwrap();
    let v = json(&o);
    let rows = v["sweep"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), v["configurations"].as_u64().unwrap() as usize);
    assert_eq!(rows.len(), 54);
    assert_eq!(rows[0]["rank"], 1);
    assert!(rows[0]["score"].as_f64() >= rows[rows.len() - 1]["score"].as_f64());
    assert!(v["best"]["strategy"]["sharpe"].is_number());
}

#[test]
fn gaps_are_reported_with_rows_and_strict_rejects_them() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("BTCUSDT_1d.csv");
    let mut text = String::from("timestamp,open,high,low,close,volume\n");
    for d in 1..=28 {
        if d == 10 || d == 11 {
            continue;
        }
        text.push_str(&format!("2020-02-{d:02},1,1,1,{},1\n", 100 + d));
    }
    std::fs::write(&csv, &text).unwrap();
    std::fs::write(
        dir.path().join("BNBUSDT_1d.csv"),
        text.replace(",1\n", ",2\n"),
    )
    .unwrap();
    let args = |strict: bool| {
        let mut c = cairn(dir.path());
        c.args([
            "agent",
            "backtest",
            "examples/plans/plain-dca-btc60-bnb40.toml",
            "--no-charts",
            "--data",
        ])
        .arg(&csv)
        .arg(dir.path().join("BNBUSDT_1d.csv"));
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let o = args(false);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("line 11: gap of 2 missing bar(s) between 2020-02-09 and 2020-02-12"),
        "{}",
        stderr(&o)
    );
    assert_clear_error(&args(true), &["line 11", "--strict rejects gaps"]);
}
