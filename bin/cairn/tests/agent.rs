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
    // The shipped files start on different days: say which one limits the range.
    let err = stderr(&o);
    assert!(
        err.contains("note: the files cover different dates")
            && err.contains("(BNB starts last)")
            && err.contains("dropped: BTC 81 bar(s) before"),
        "{err}"
    );
    let v = json(&o);
    assert_eq!(v["coverage"]["limits_start"], serde_json::json!(["BNB"]));
    let r = &v["report"];
    assert!(r["log"].as_array().unwrap().len() as u64 == r["decisions"]["periods"]);
    assert!(r["log"][0]["assets"][0]["price"].as_f64().unwrap() > 0.0);
    assert!(r["log"][0]["assets"][0]["rules"].is_array());
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
        let c = 100 + d;
        text.push_str(&format!("2020-02-{d:02},{c},{c},{c},{c},1\n"));
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
    assert_clear_error(
        &args(true),
        &["line 11", "strict import rejects gaps", "--strict"],
    );
}

/// Hourly candles for two assets over `days` days, `BTC` around 30000 and `BNB` around 300.
fn hourly_files(dir: &std::path::Path, days: i64) -> [std::path::PathBuf; 2] {
    let mut out = Vec::new();
    for (sym, base) in [("BTC", 30_000.0), ("BNB", 300.0)] {
        let mut text = String::from("timestamp,open,high,low,close,volume\n");
        for h in 0..days * 24 {
            let c: f64 = base * (1.0 + 0.05 * ((h as f64) * 0.07).sin());
            let t = 1_704_067_200 + h * 3600; // 2024-01-01
            text.push_str(&format!("{t},{c},{c},{c},{c},1\n"));
        }
        let p = dir.join(format!("{sym}USDT_1h.csv"));
        std::fs::write(&p, text).unwrap();
        out.push(p);
    }
    [out[0].clone(), out[1].clone()]
}

#[test]
fn inconsistent_rows_are_flagged_and_strict_names_file_line_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let [btc, bnb] = hourly_files(dir.path(), 20);
    // A close 1000x above its bar's high on line 50 (a typo).
    let text = std::fs::read_to_string(&btc).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let cells: Vec<&str> = lines[49].split(',').collect();
    let high: f64 = cells[2].parse().unwrap();
    lines[49] = format!(
        "{},{},{},{},{},1",
        cells[0],
        cells[1],
        high,
        cells[3],
        high * 1000.0
    );
    std::fs::write(&btc, lines.join("\r\n") + "\r\n").unwrap();
    let run = |strict: bool| {
        let mut c = cairn(dir.path());
        c.args([
            "agent",
            "backtest",
            "examples/plans/plain-dca-btc60-bnb40.toml",
            "--no-charts",
            "--data",
        ])
        .arg(&btc)
        .arg(&bnb);
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let o = run(false);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("BTCUSDT_1h.csv: line 50: inconsistent prices")
            && err.contains("close is above high"),
        "{err}"
    );
    assert!(
        err.contains("line 50: close") && err.contains("jumps back"),
        "{err}"
    );
    assert_clear_error(
        &run(true),
        &[
            "BTCUSDT_1h.csv: line 50: inconsistent prices",
            &format!("high {high}"),
            "--strict",
        ],
    );
}

#[test]
fn a_file_whose_ticker_names_another_asset_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bnb_text = std::fs::read_to_string(repo().join("data/market/BNBUSDT_1d.csv")).unwrap();
    let mut text = String::new();
    for (i, l) in bnb_text.lines().enumerate() {
        text.push_str(if i == 0 { "ticker," } else { "BNBUSDT," });
        text.push_str(l);
        text.push('\n');
    }
    let fake = dir.path().join("btc.csv");
    std::fs::write(&fake, text).unwrap();
    let run = |extra: &[&str]| {
        cairn(dir.path())
            .args([
                "agent",
                "backtest",
                "examples/plans/plain-dca-btc60-bnb40.toml",
                "--no-charts",
                "--data",
            ])
            .arg(format!("BTC={}", fake.display()))
            .arg(DAILY[1])
            .args(extra)
            .output()
            .unwrap()
    };
    assert_clear_error(
        &run(&[]),
        &[
            "btc.csv: line 2",
            "ticker column says \"BNBUSDT\" (BNB)",
            "used as BTC",
            "--ignore-ticker",
        ],
    );
    let o = run(&["--ignore-ticker"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn to_date_on_hourly_data_includes_the_whole_day_and_walk_forward_columns_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let [btc, bnb] = hourly_files(dir.path(), 40);
    let o = cairn(dir.path())
        .args([
            "--json",
            "agent",
            "backtest",
            "examples/plans/plain-dca-btc60-bnb40.toml",
            "--no-charts",
            "--from",
            "2024-01-03",
            "--to",
            "2024-01-10",
            "--data",
        ])
        .arg(&btc)
        .arg(&bnb)
        .output()
        .unwrap();
    let v = json(&o);
    assert_eq!(v["report"]["data"]["from"], "2024-01-03");
    assert_eq!(v["report"]["data"]["to"], "2024-01-10 23:00");
    assert_eq!(v["report"]["data"]["bars"], 8 * 24);

    let o = cairn(dir.path())
        .args([
            "agent",
            "backtest",
            "examples/plans/plain-dca-btc60-bnb40.toml",
            "--walk-forward",
            "2",
            "--no-progress",
            "--data",
        ])
        .arg(&btc)
        .arg(&bnb)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with("2024-01-01"))
        .unwrap_or_else(|| panic!("{text}"));
    // Every timestamp is followed by whitespace: no column runs into the next.
    assert!(!row.contains("00:002024") && !row.contains(":00-"), "{row}");
    let cols: Vec<&str> = row.split("  ").filter(|c| !c.trim().is_empty()).collect();
    assert!(
        cols[0].trim().starts_with("2024-01-01") && cols[0].contains(" .. "),
        "{row}"
    );
    assert!(cols[1].trim().starts_with("2024-01-"), "{row}");
}
