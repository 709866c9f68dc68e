//! A full backtest of one plan: the strategy, plain DCA and lump sum on the same data and cost
//! model, with metrics, per-asset average costs, decision counts, a text table, JSON (via
//! serde) and charts.
use crate::{
    Result,
    chart::{Chart, Line, Markers, Shape, YFormat, colors},
    engine::{self, Recorder, RunOutput, SKIP_LABELS},
    features::FeatureStore,
    metrics::Metrics,
};
use cairn_market::{Aligned, time::format_ms};
use cairn_strategy::{Action, Clip, Decision, MarketSnapshot, Plan};
use serde::Serialize;
use std::{collections::BTreeMap, fmt::Write as _, ops::Range, path::Path};

/// What happened on one bar of a recorded run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// A swap.
    Buy {
        /// Bar.
        t: usize,
        /// Plan asset index.
        asset: usize,
        /// Quote in.
        amount_in: f64,
        /// Base out.
        units: f64,
    },
    /// A skipped asset.
    Skip {
        /// Bar.
        t: usize,
        /// Plan asset index.
        asset: usize,
        /// Reason label.
        reason: &'static str,
    },
}

/// Per-bar series of a run, for charts and historical VaR.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Bar indices recorded.
    pub bars: Vec<usize>,
    /// Account value per bar.
    pub value: Vec<f64>,
    /// Cumulative deposits per bar.
    pub invested: Vec<f64>,
    /// NAV drawdown per bar.
    pub drawdown: Vec<f64>,
    /// Returns (bars after the first deposit only).
    pub returns: Vec<f64>,
    /// Buys and skips.
    pub events: Vec<Event>,
    /// Each due period: bar, cash after the deposit, the market seen and the decision.
    pub decisions: Vec<(usize, f64, MarketSnapshot, Decision)>,
}

impl Recorder for Trace {
    fn bar(&mut self, t: usize, value: f64, invested: f64, ret: f64, dd: f64) {
        self.bars.push(t);
        self.value.push(value);
        self.invested.push(invested);
        self.drawdown.push(dd);
        if !ret.is_nan() {
            self.returns.push(ret);
        }
    }
    fn decision(&mut self, t: usize, cash: f64, market: &MarketSnapshot, d: &Decision) {
        self.decisions.push((t, cash, *market, *d));
        for (asset, a) in d.actions().iter().enumerate() {
            self.events.push(match a {
                Action::Buy(o) => Event::Buy {
                    t,
                    asset,
                    amount_in: o.amount_in,
                    units: o.expected_out,
                },
                Action::Skip(r) => Event::Skip {
                    t,
                    asset,
                    reason: r.label(),
                },
            });
        }
    }
}

/// The data a report covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataInfo {
    /// Assets.
    pub symbols: Vec<String>,
    /// Bar interval, e.g. `1d`, `4h`.
    pub interval: String,
    /// Bars simulated.
    pub bars: usize,
    /// First bar.
    pub from: String,
    /// Last bar.
    pub to: String,
    /// Gaps in the shared clock within the range (intervals without trading).
    pub gaps: Vec<GapInfo>,
}

/// A gap in the shared clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapInfo {
    /// Last bar before.
    pub after: String,
    /// First bar after.
    pub before: String,
    /// Bars missing.
    pub missing: u64,
}

/// Per-asset outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetReport {
    /// Asset.
    pub symbol: String,
    /// Units held at the end.
    pub units: f64,
    /// Their value at the last close.
    pub value: f64,
    /// Swaps.
    pub buys: u32,
    /// Average cost (quote in plus gas, per unit).
    pub avg_cost: f64,
    /// Plain DCA's units.
    pub plain_dca_units: f64,
    /// Plain DCA's average cost.
    pub plain_dca_avg_cost: f64,
    /// Lump sum's units.
    pub lump_sum_units: f64,
    /// Lump sum's average cost.
    pub lump_sum_avg_cost: f64,
    /// Last close.
    pub last_price: f64,
}

/// Decision counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionInfo {
    /// Due periods.
    pub periods: u32,
    /// Periods missed in data gaps.
    pub missed_periods: u64,
    /// Swaps.
    pub buys: u32,
    /// Swaps whose risk multiplier asked for more than the cash available and was capped to
    /// it (the period's log names them `capped_by_cash`).
    pub capped_buys: u32,
    /// Skips by reason.
    pub skips: BTreeMap<String, u32>,
}

/// The full backtest report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Plan name.
    pub plan: String,
    /// Data covered.
    pub data: DataInfo,
    /// The plan's metrics.
    pub strategy: Metrics,
    /// Plain DCA with the same budget, schedule, weights and costs.
    pub plain_dca: Metrics,
    /// Everything the plan deposited, invested at the first bar.
    pub lump_sum: Metrics,
    /// Per asset.
    pub assets: Vec<AssetReport>,
    /// Decision counts.
    pub decisions: DecisionInfo,
    /// The strategy's decision for every due period, in time order.
    pub log: Vec<PeriodLog>,
}

/// One due period of the strategy: what the policy saw and what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodLog {
    /// Bar time.
    pub date: String,
    /// Cash available to the decision (after the period's deposit).
    pub cash: f64,
    /// Per plan asset.
    pub assets: Vec<AssetDecision>,
}

/// One asset's decision in a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetDecision {
    /// Asset.
    pub symbol: String,
    /// Price seen (the bar's close; the fill's pool is centred there).
    pub price: f64,
    /// Annualised realised (or model) volatility seen; null when no rule needs it.
    pub vol: f64,
    /// Drawdown below the running high; null when no rule needs it.
    pub drawdown: f64,
    /// One-day VaR; null when no rule needs it.
    pub var: f64,
    /// `buy` or `skip`.
    pub action: &'static str,
    /// The rules that shaped the decision: `plain`, `vol_target`, `drawdown_band`,
    /// `max_multiplier`, a clip (`capped_by_cash`, `max_allocation`, `max_order`,
    /// `price_impact`, `funds`) or a skip reason (`paused_var`, `insufficient_funds`, ...).
    pub rules: Vec<&'static str>,
    /// The same in words, with the values.
    pub detail: String,
    /// Quote units swapped in (0 when skipped).
    pub amount_in: f64,
    /// Base units bought.
    pub units: f64,
    /// The combined risk multiplier asked for (before clips).
    pub multiplier: f64,
}

fn asset_decision(
    plan: &Plan,
    i: usize,
    m: &cairn_strategy::AssetMarket,
    a: &Action,
) -> AssetDecision {
    let mut rules = Vec::new();
    let mut words = Vec::new();
    let (action, amount_in, units, multiplier) = match a {
        Action::Buy(o) => {
            if o.vol_scale != 1.0 {
                rules.push("vol_target");
                words.push(format!(
                    "vol target x{:.2} (vol {})",
                    o.vol_scale,
                    pct(m.vol)
                ));
            }
            if o.band != 1.0 {
                rules.push("drawdown_band");
                words.push(format!(
                    "drawdown band x{} (drawdown {})",
                    o.band,
                    pct(m.drawdown)
                ));
            }
            if o.multiplier < o.vol_scale * o.band - 1e-12 {
                rules.push("max_multiplier");
                words.push(format!("max_multiplier {}", o.multiplier));
            }
            if let Some(c) = o.clip {
                rules.push(c.label());
                words.push(match c {
                    Clip::Cash => format!(
                        "capped by the cash: x{:.2} asked, {:.2} bought",
                        o.multiplier, o.amount_in
                    ),
                    Clip::Funds => "scaled down to the cash".into(),
                    Clip::MaxAllocation => "clipped to max_allocation".into(),
                    Clip::MaxOrder => "clipped to max_order".into(),
                    Clip::PriceImpact => "clipped to max_price_impact_bps".into(),
                });
            }
            if rules.is_empty() {
                rules.push("plain");
                words.push("plain buy".into());
            }
            ("buy", o.amount_in, o.expected_out, o.multiplier)
        }
        Action::Skip(r) => {
            rules.push(r.label());
            words.push(r.to_string());
            ("skip", 0.0, 0.0, f64::NAN)
        }
    };
    AssetDecision {
        symbol: plan.assets[i].symbol.clone(),
        price: m.price,
        vol: m.vol,
        drawdown: m.drawdown,
        var: m.var,
        action,
        rules,
        detail: words.join("; "),
        amount_in,
        units,
        multiplier,
    }
}

/// A backtest's report and the traces behind it.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// The report.
    pub report: Report,
    /// Strategy trace.
    pub strategy: Trace,
    /// Plain DCA trace.
    pub plain: Trace,
    /// Lump-sum trace.
    pub lump: Trace,
    /// Bar times of the data.
    pub time: Vec<i64>,
    /// Closes per plan asset.
    pub close: Vec<Vec<f64>>,
}

fn interval_name(ms: i64) -> String {
    let s = ms / 1000;
    if s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn metrics(out: &RunOutput, trace: &Trace, bpy: f64, conf: f64) -> Metrics {
    Metrics::from_run(out.totals, &out.stats, &trace.returns, bpy, conf)
}

fn avg(cost: f64, units: f64) -> f64 {
    if units > 0.0 { cost / units } else { f64::NAN }
}

/// Runs the plan, plain DCA and lump sum over `range` of `data` and builds the report.
pub fn backtest(plan: &Plan, data: &Aligned, range: Range<usize>) -> Result<Backtest> {
    if range.len() < 2 {
        return Err(crate::Error::TooShort(format!(
            "{} bar(s) to simulate; at least 2 are needed",
            range.len()
        )));
    }
    let plain_plan = plan.plain();
    let mut store = FeatureStore::new(data);
    store.prepare([plan, &plain_plan], range.clone())?;
    let view = store.view(plan, range.clone())?;
    let plain_view = store.view(&plain_plan, range.clone())?;
    let bpy = data.bars_per_year();
    let conf = plan.risk.var_confidence;

    let mut st = Trace::default();
    let s_out = engine::run(plan, &view, &mut st);
    let mut pt = Trace::default();
    let p_out = engine::run(&plain_plan, &plain_view, &mut pt);
    let mut lt = Trace::default();
    let l_out = engine::lump_sum(plan, &view, s_out.totals.invested, &mut lt);

    let last = range.end - 1;
    let assets = plan
        .assets
        .iter()
        .enumerate()
        .map(|(i, a)| AssetReport {
            symbol: a.symbol.clone(),
            units: s_out.holdings[i],
            value: s_out.holdings[i] * view.close[i][last],
            buys: s_out.buys[i],
            avg_cost: avg(s_out.cost[i], s_out.holdings[i]),
            plain_dca_units: p_out.holdings[i],
            plain_dca_avg_cost: avg(p_out.cost[i], p_out.holdings[i]),
            lump_sum_units: l_out.holdings[i],
            lump_sum_avg_cost: avg(l_out.cost[i], l_out.holdings[i]),
            last_price: view.close[i][last],
        })
        .collect();
    let skips = SKIP_LABELS
        .iter()
        .zip(s_out.skips)
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| (l.to_string(), n))
        .collect();
    let gaps = data
        .gaps
        .iter()
        .filter(|g| g.index > range.start && g.index < range.end)
        .map(|g| GapInfo {
            after: format_ms(g.after_ms),
            before: format_ms(g.before_ms),
            missing: g.missing,
        })
        .collect();
    let report = Report {
        plan: plan.name.clone(),
        data: DataInfo {
            symbols: plan.assets.iter().map(|a| a.symbol.clone()).collect(),
            interval: interval_name(data.interval_ms),
            bars: range.len(),
            from: format_ms(data.time[range.start]),
            to: format_ms(data.time[last]),
            gaps,
        },
        strategy: metrics(&s_out, &st, bpy, conf),
        plain_dca: metrics(&p_out, &pt, bpy, conf),
        lump_sum: metrics(&l_out, &lt, bpy, conf),
        assets,
        decisions: DecisionInfo {
            periods: s_out.periods,
            missed_periods: s_out.missed,
            buys: s_out.buys.iter().sum(),
            capped_buys: s_out.capped,
            skips,
        },
        log: st
            .decisions
            .iter()
            .map(|(t, cash, m, d)| PeriodLog {
                date: format_ms(data.time[*t]),
                cash: *cash,
                assets: d
                    .actions()
                    .iter()
                    .enumerate()
                    .map(|(i, a)| asset_decision(plan, i, &m.assets[i], a))
                    .collect(),
            })
            .collect(),
    };
    Ok(Backtest {
        report,
        strategy: st,
        plain: pt,
        lump: lt,
        time: data.time.clone(),
        close: (0..plan.assets.len())
            .map(|i| view.close[i].to_vec())
            .collect(),
    })
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 1e5 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.6}")
    }
}

/// Base-asset units with the precision exchanges keep for crypto assets (8 decimals, a
/// satoshi for BTC), so small holdings are not rounded away.
fn units(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.8}")
    } else {
        "-".into()
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.2}%", v * 100.0)
    } else {
        "-".into()
    }
}

fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "-".into()
    }
}

impl Report {
    /// The report as an aligned text table.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let d = &self.data;
        let _ = writeln!(s, "plan       {}", self.plan);
        let _ = writeln!(
            s,
            "data       {} {}  {} .. {}  {} bars  {} gap(s)",
            d.symbols.join("+"),
            d.interval,
            d.from,
            d.to,
            d.bars,
            d.gaps.len()
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<22}{:>16}{:>16}{:>16}",
            "", "strategy", "plain DCA", "lump sum"
        );
        let (a, b, c) = (&self.strategy, &self.plain_dca, &self.lump_sum);
        type Row = (&'static str, fn(&Metrics) -> f64, fn(f64) -> String);
        let rows: [Row; 20] = [
            ("invested", |m| m.invested, num),
            ("spent (swapped)", |m| m.spent, num),
            ("fees", |m| m.fees, num),
            ("gas", |m| m.gas, num),
            ("cash left", |m| m.cash, num),
            ("value", |m| m.value, num),
            ("P&L", |m| m.pnl, num),
            ("P&L %", |m| m.pnl_pct, pct),
            ("time-weighted return", |m| m.twr, pct),
            ("CAGR", |m| m.cagr, pct),
            ("max drawdown", |m| m.max_drawdown, pct),
            ("volatility (ann.)", |m| m.volatility, pct),
            ("Sharpe", |m| m.sharpe, ratio),
            ("Sortino", |m| m.sortino, ratio),
            ("Calmar", |m| m.calmar, ratio),
            ("Ulcer index", |m| m.ulcer_index, pct),
            ("VaR hist (1 bar)", |m| m.var_historical, pct),
            ("CVaR hist (1 bar)", |m| m.cvar_historical, pct),
            ("VaR param (1 bar)", |m| m.var_parametric, pct),
            ("CVaR param (1 bar)", |m| m.cvar_parametric, pct),
        ];
        for (name, get, f) in rows {
            let _ = writeln!(
                s,
                "{name:<22}{:>16}{:>16}{:>16}",
                f(get(a)),
                f(get(b)),
                f(get(c))
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<8}{:>18}{:>14}{:>6}{:>14}{:>16}{:>16}",
            "asset", "units", "value", "buys", "avg cost", "plain DCA avg", "lump-sum avg"
        );
        for x in &self.assets {
            let _ = writeln!(
                s,
                "{:<8}{:>18}{:>14}{:>6}{:>14}{:>16}{:>16}",
                x.symbol,
                units(x.units),
                num(x.value),
                x.buys,
                num(x.avg_cost),
                num(x.plain_dca_avg_cost),
                num(x.lump_sum_avg_cost)
            );
        }
        let dec = &self.decisions;
        let skips = if dec.skips.is_empty() {
            "none".to_string()
        } else {
            dec.skips
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "\ndecisions  {} periods ({} missed in gaps), {} buys ({} capped by the cash available); skips: {skips}",
            dec.periods, dec.missed_periods, dec.buys, dec.capped_buys
        );
        s.push_str(&self.log_table());
        s
    }

    /// The per-period decision log as text: one line per due period, each asset's price,
    /// action, amounts and the rules that fired.
    pub fn log_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\ndecision log ({} periods)", self.log.len());
        let width = self.log.iter().map(|p| p.date.len()).max().unwrap_or(10);
        for p in &self.log {
            let _ = write!(s, "{:<width$}  cash {:>10}", p.date, num(p.cash));
            for a in &p.assets {
                if a.action == "buy" {
                    let _ = write!(
                        s,
                        "  | {} @ {}: buy {} -> {} [{}]",
                        a.symbol,
                        num(a.price),
                        num(a.amount_in),
                        units(a.units),
                        a.detail
                    );
                } else {
                    let _ = write!(
                        s,
                        "  | {} @ {}: skip [{}]",
                        a.symbol,
                        num(a.price),
                        a.detail
                    );
                }
            }
            s.push('\n');
        }
        s
    }
}

impl Backtest {
    /// The charts: equity curve, drawdown, and each asset's price with its buys.
    pub fn charts(&self) -> Vec<(String, Chart)> {
        let t = |tr: &Trace, v: &[f64]| -> Vec<(i64, f64)> {
            tr.bars
                .iter()
                .zip(v)
                .map(|(&b, &x)| (self.time[b], x))
                .collect()
        };
        let name = &self.report.plan;
        let equity = Chart {
            title: format!("Equity: {name}"),
            y_label: "value (quote, log scale)".into(),
            y_format: YFormat::Number,
            log_y: true,
            lines: vec![
                Line {
                    name: "invested".into(),
                    color: colors::GREY,
                    points: t(&self.strategy, &self.strategy.invested),
                },
                Line {
                    name: "lump sum".into(),
                    color: colors::GREEN,
                    points: t(&self.lump, &self.lump.value),
                },
                Line {
                    name: "plain DCA".into(),
                    color: colors::ORANGE,
                    points: t(&self.plain, &self.plain.value),
                },
                Line {
                    name: "strategy".into(),
                    color: colors::BLUE,
                    points: t(&self.strategy, &self.strategy.value),
                },
            ],
            markers: vec![],
        };
        let neg = |v: &[f64]| v.iter().map(|x| -x).collect::<Vec<_>>();
        let drawdown = Chart {
            title: format!("Drawdown of the time-weighted NAV: {name}"),
            y_label: "drawdown".into(),
            y_format: YFormat::Percent,
            log_y: false,
            lines: vec![
                Line {
                    name: "plain DCA".into(),
                    color: colors::ORANGE,
                    points: t(&self.plain, &neg(&self.plain.drawdown)),
                },
                Line {
                    name: "strategy".into(),
                    color: colors::RED,
                    points: t(&self.strategy, &neg(&self.strategy.drawdown)),
                },
            ],
            markers: vec![],
        };
        let mut out = vec![
            ("equity".to_string(), equity),
            ("drawdown".to_string(), drawdown),
        ];
        let range = self.strategy.bars.first().copied().unwrap_or(0)
            ..self.strategy.bars.last().map_or(0, |b| b + 1);
        for (i, sym) in self.report.data.symbols.iter().enumerate() {
            let price: Vec<(i64, f64)> = range
                .clone()
                .map(|b| (self.time[b], self.close[i][b]))
                .collect();
            let mut buys = Vec::new();
            let mut paused = Vec::new();
            for e in &self.strategy.events {
                match *e {
                    Event::Buy { t, asset, .. } if asset == i => {
                        buys.push((self.time[t], self.close[i][t]))
                    }
                    Event::Skip { t, asset, reason }
                        if asset == i && reason.starts_with("paused") =>
                    {
                        paused.push((self.time[t], self.close[i][t]))
                    }
                    _ => {}
                }
            }
            out.push((
                format!("buys_{sym}"),
                Chart {
                    title: format!(
                        "{sym}: price and each buy ({} buys, {} paused)",
                        buys.len(),
                        paused.len()
                    ),
                    y_label: format!("{sym} price (quote, log scale)"),
                    y_format: YFormat::Number,
                    log_y: true,
                    lines: vec![Line {
                        name: format!("{sym} close"),
                        color: colors::GREY,
                        points: price,
                    }],
                    markers: vec![
                        Markers {
                            name: "buy".into(),
                            color: colors::GREEN,
                            shape: Shape::Up,
                            points: buys,
                        },
                        Markers {
                            name: "paused".into(),
                            color: colors::RED,
                            shape: Shape::Cross,
                            points: paused,
                        },
                    ],
                },
            ));
        }
        out
    }

    /// Writes every chart as SVG and PNG into `dir`; returns the paths.
    pub fn write_charts(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths = Vec::new();
        for (stem, chart) in self.charts() {
            paths.extend(chart.write(&dir.join(stem))?);
        }
        Ok(paths)
    }
}
