#!/usr/bin/env python3
"""Side-by-side: cairn's DCA sweep versus vectorbt on the same data and configurations.

Both simulate plain DCA into BTC 60% / BNB 40% with a fixed 0.30% fee and no price impact, for
every (budget, schedule) pair of a grid, on the Binance daily and (when present) 4-hour
candles. The script checks that final holdings agree to 1e-9 relative for every configuration
and reports the time each tool takes.

    python3 -m venv /tmp/vbt && /tmp/vbt/bin/pip install vectorbt
    cargo build --release -p cairn
    /tmp/vbt/bin/python bench/vectorbt/compare.py            # from the repository root

Timing: cairn's own in-process measurement of the sweep (schedule + simulation + metrics, the
`prepare_seconds + simulate_seconds` it reports) and, separately, the whole `cairn` process
(CSV import, JSON output); vectorbt's `Portfolio.from_orders` plus `assets()`, best of 3, after a
warm-up call that compiles its numba kernels. The schedule (which bars buy) is computed here
independently of cairn, so a mismatch in either would show up as a holdings difference.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import vectorbt as vbt

FEE = 0.003
WEIGHTS = {"BTC": 0.6, "BNB": 0.4}
SCHEDULES = ["daily", "weekly", "biweekly", "monthly"]
DAY = 86_400_000


def load(path):
    df = pd.read_csv(path)
    df.columns = [c.lower() for c in df.columns]
    t = pd.to_datetime(df["timestamp"], utc=True)
    ms = (t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    return pd.Series(df["close"].to_numpy(float), index=ms.to_numpy(np.int64))


def aligned(market, interval):
    s = {sym: load(os.path.join(market, f"{sym}USDT_{interval}.csv")) for sym in WEIGHTS}
    df = pd.DataFrame(s).dropna()
    return df


def months_since(anchor, t):
    a = pd.Timestamp(anchor, unit="ms", tz="UTC")
    tt = pd.to_datetime(t, unit="ms", utc=True)
    k = (tt.year - a.year) * 12 + (tt.month - a.month)
    # Start of period k: the anchor's day of month (clamped to the month's end) and time of day.
    first = pd.to_datetime({"year": tt.year, "month": tt.month, "day": 1}, utc=True)
    dim = first.dt.days_in_month
    day = np.minimum(a.day, dim)
    tod = (anchor % DAY)
    start = (first - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1) + (day - 1) * DAY + tod
    return np.where(t < start.to_numpy(), k - 1, k)


def buy_mask(t, schedule):
    t0 = t[0]
    if schedule == "monthly":
        idx = months_since(t0, t)
    else:
        length = {"daily": 1, "weekly": 7, "biweekly": 14}[schedule] * DAY
        idx = (t - t0) // length
    idx = np.asarray(idx)
    mask = np.ones(len(t), bool)
    mask[1:] = idx[1:] != idx[:-1]
    return mask


def run_cairn(cairn, market, interval, amounts, threads):
    plan = f"""name = "vectorbt comparison"
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
fee_bps = 30
[sweep.grid]
"budget.amount" = [{", ".join(repr(float(a)) for a in amounts)}]
"budget.schedule" = [{", ".join(f'"{s}"' for s in SCHEDULES)}]
"""
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "plan.toml")
        with open(p, "w") as f:
            f.write(plan)
        cmd = [cairn, "--data-dir", d, "--json", "agent", "backtest", p, "--sweep", "--top", "0",
               "--no-progress", "--threads", str(threads), "--data"]
        cmd += [f"{sym}={os.path.join(market, f'{sym}USDT_{interval}.csv')}" for sym in WEIGHTS]
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"cairn failed: {out.stderr}")
    v = json.loads(out.stdout)
    s = v["sweep"]
    holdings = {}
    for row in s["rows"]:
        key = (float(row["params"]["budget.amount"]), row["params"]["budget.schedule"])
        holdings[key] = row["holdings"]
    return holdings, s["prepare_seconds"] + s["simulate_seconds"], wall, s["steps"]


def run_vectorbt(df, amounts, reps=3):
    t = df.index.to_numpy(np.int64)
    n = len(t)
    masks = {s: buy_mask(t, s) for s in SCHEDULES}
    cols = []
    sizes = []
    prices = []
    for s in SCHEDULES:
        for a in amounts:
            for sym, w in WEIGHTS.items():
                size = np.where(masks[s], a * w * (1.0 - FEE), np.nan)
                sizes.append(size)
                prices.append(df[sym].to_numpy())
                cols.append((a, s, sym))
    size = np.column_stack(sizes)
    close = np.column_stack(prices)
    kw = dict(size_type="value", fees=FEE / (1.0 - FEE), init_cash=1e15, freq="1D")
    # Warm-up: compile numba kernels on a small slice.
    vbt.Portfolio.from_orders(close[:50, :2], size[:50, :2], **kw).assets()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        pf = vbt.Portfolio.from_orders(close, size, **kw)
        assets = pf.assets()
        best = min(best, time.perf_counter() - t0)
    last = np.asarray(assets)[-1]
    holdings = {}
    for (a, s, sym), h in zip(cols, last):
        holdings.setdefault((float(a), s), {})[sym] = float(h)
    return holdings, best, n * len(amounts) * len(SCHEDULES)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cairn", default="target/release/cairn")
    ap.add_argument("--market", default=None)
    ap.add_argument("--amounts", type=int, default=250, help="budgets per schedule (configs = 4x this)")
    args = ap.parse_args()
    market = args.market or ("../shared/data/market" if os.path.exists("../shared/data/market/BTCUSDT_4h.csv") else "data/market")
    amounts = [10.0 + 10.0 * i for i in range(args.amounts)]
    print(f"vectorbt {vbt.__version__}, numpy {np.__version__}, pandas {pd.__version__}; data {market}")
    print(f"{'data':<6}{'bars':>7}{'configs':>9}{'steps':>12}{'vectorbt s':>12}{'cairn 2t s':>12}{'cairn 1t s':>12}"
          f"{'x (2t)':>8}{'x (1t)':>8}{'cairn wall s':>14}{'max rel diff':>14}")
    worst = 0.0
    for interval in ["1d", "4h"]:
        if not os.path.exists(os.path.join(market, f"BTCUSDT_{interval}.csv")):
            continue
        df = aligned(market, interval)
        vh, vs, steps = run_vectorbt(df, amounts)
        ch2, cs2, wall, csteps = run_cairn(args.cairn, market, interval, amounts, 2)
        ch1, cs1, _, _ = run_cairn(args.cairn, market, interval, amounts, 1)
        assert csteps == steps, (csteps, steps)
        diff = 0.0
        for key, v in vh.items():
            c = ch2[key]
            assert ch1[key] == c
            for i, sym in enumerate(WEIGHTS):
                diff = max(diff, abs(c[i] - v[sym]) / abs(v[sym]))
        worst = max(worst, diff)
        print(f"{interval:<6}{len(df):>7}{len(vh):>9}{steps:>12}{vs:>12.4f}{cs2:>12.4f}{cs1:>12.4f}"
              f"{vs / cs2:>8.1f}{vs / cs1:>8.1f}{wall:>14.3f}{diff:>14.2e}")
    ok = worst <= 1e-9
    print(f"final holdings agree to {worst:.2e} relative: {'OK' if ok else 'FAIL'} (required 1e-9)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
