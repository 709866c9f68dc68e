//! Per-bar risk features and buy bars, computed once and shared by every configuration.
//!
//! A sweep varies a handful of windows across thousands of configurations; recomputing a
//! rolling volatility per configuration would dominate the run. [`FeatureStore::prepare`]
//! collects the distinct (estimator, window) keys of all plans, computes each once (in
//! parallel) with the series forms of `cairn_strategy::risk`, which equal the live agent's
//! point forms bit for bit, and hands each run a [`View`] of slices.
use crate::{Error, Result};
use cairn_market::Aligned;
use cairn_strategy::{MAX_ASSETS, Plan, Schedule, Scheduler, VarMethod, risk};
use rayon::prelude::*;
use std::{collections::HashMap, ops::Range};

/// A due period found in the data: the bar it fires on and the periods missed before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuyBar {
    /// Bar index.
    pub bar: u32,
    /// Periods with no bar since the previous due one.
    pub missed: u32,
}

/// (window bars, horizon bars, confidence bits, method).
type VarKey = (usize, usize, u64, VarMethod);
type SchedKey = (Schedule, i64, usize, usize);

/// Precomputed features and buy bars for one aligned dataset.
#[derive(Debug)]
pub struct FeatureStore<'a> {
    data: &'a Aligned,
    bars_per_year: f64,
    interval_ms: i64,
    vol: HashMap<usize, Vec<Vec<f64>>>,
    var: HashMap<VarKey, Vec<Vec<f64>>>,
    dd: HashMap<Option<usize>, Vec<Vec<f64>>>,
    model_vol: HashMap<String, Vec<Vec<f64>>>,
    sched: HashMap<SchedKey, Vec<BuyBar>>,
}

/// The slices one run reads, assets in plan order.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// Bar times.
    pub time: &'a [i64],
    /// Closes per plan asset.
    pub close: [&'a [f64]; MAX_ASSETS],
    /// Realised (or model) volatility per plan asset, when a rule needs it.
    pub vol: [Option<&'a [f64]>; MAX_ASSETS],
    /// Drawdown per plan asset, when a rule needs it.
    pub dd: [Option<&'a [f64]>; MAX_ASSETS],
    /// VaR per plan asset, when a rule needs it.
    pub var: [Option<&'a [f64]>; MAX_ASSETS],
    /// Due periods within `range`.
    pub buys: &'a [BuyBar],
    /// Bars simulated.
    pub range: Range<usize>,
    /// Number of plan assets.
    pub n: usize,
    /// Bars per year of the data.
    pub bars_per_year: f64,
}

fn needs_vol(p: &Plan) -> bool {
    p.risk.vol_target.is_some() || p.risk.pause.as_ref().is_some_and(|x| x.max_vol.is_some())
}
fn needs_var(p: &Plan) -> bool {
    p.risk.pause.as_ref().is_some_and(|x| x.max_var.is_some())
}
fn var_key(p: &Plan, interval_ms: i64) -> VarKey {
    let w = p.risk.bar_windows(interval_ms);
    (
        w.var,
        w.var_horizon,
        p.risk.var_confidence.to_bits(),
        p.risk.var_method,
    )
}
fn vol_key(p: &Plan, interval_ms: i64) -> usize {
    p.risk.bar_windows(interval_ms).vol
}
fn dd_key(p: &Plan, interval_ms: i64) -> Option<Option<usize>> {
    p.risk
        .drawdown
        .as_ref()
        .map(|_| p.risk.bar_windows(interval_ms).lookback)
}

impl<'a> FeatureStore<'a> {
    /// An empty store over `data`.
    pub fn new(data: &'a Aligned) -> Self {
        FeatureStore {
            data,
            bars_per_year: data.bars_per_year(),
            interval_ms: data.interval_ms,
            vol: HashMap::new(),
            var: HashMap::new(),
            dd: HashMap::new(),
            model_vol: HashMap::new(),
            sched: HashMap::new(),
        }
    }

    /// The dataset.
    pub fn data(&self) -> &'a Aligned {
        self.data
    }

    /// Supplies a volatility model's per-bar forecasts (annualised, one series per data asset
    /// in `data.symbols` order) for plans that name the model's digest.
    pub fn insert_model_vol(&mut self, digest: &str, per_asset: Vec<Vec<f64>>) {
        self.model_vol.insert(digest.to_string(), per_asset);
    }

    /// Computes every feature and buy-bar list the plans need on `range`.
    pub fn prepare<'p>(
        &mut self,
        plans: impl IntoIterator<Item = &'p Plan>,
        range: Range<usize>,
    ) -> Result<()> {
        let data = self.data;
        let bpy = self.bars_per_year;
        let iv = self.interval_ms;
        let mut vols = Vec::new();
        let mut vars = Vec::new();
        let mut dds = Vec::new();
        let mut scheds = Vec::new();
        for p in plans {
            for a in &p.assets {
                if data.index_of(&a.symbol).is_none() {
                    return Err(Error::MissingAsset {
                        symbol: a.symbol.clone(),
                        have: data.symbols.join(", "),
                    });
                }
            }
            if let Some(m) = &p.risk.model
                && (m.kind == cairn_strategy::ModelKind::Regime
                    || !self.model_vol.contains_key(&m.digest))
            {
                // Only volatility forecasts have a place in the policy today; a regime model
                // is named in the plan but not consumed, so refuse rather than ignore it.
                return Err(Error::ModelUnavailable {
                    kind: match m.kind {
                        cairn_strategy::ModelKind::Volatility => "volatility",
                        cairn_strategy::ModelKind::Regime => "regime",
                    },
                    digest: m.digest.clone(),
                });
            }
            if needs_vol(p) && p.risk.model.is_none() && !self.vol.contains_key(&vol_key(p, iv)) {
                vols.push(vol_key(p, iv));
            }
            if needs_var(p) && !self.var.contains_key(&var_key(p, iv)) {
                vars.push(var_key(p, iv));
            }
            if let Some(k) = dd_key(p, iv)
                && !self.dd.contains_key(&k)
            {
                dds.push(k);
            }
            let sk = sched_key(p, data, &range);
            if !self.sched.contains_key(&sk) {
                scheds.push(sk);
            }
        }
        vols.sort_unstable();
        vols.dedup();
        dds.sort_unstable();
        dds.dedup();
        vars.sort_unstable_by_key(|k| (k.0, k.1, k.2, k.3 as u8));
        vars.dedup();
        scheds.sort_unstable_by_key(|k| (k.0 as u8, k.1, k.2, k.3));
        scheds.dedup();
        let per_asset = |f: &(dyn Fn(&[f64]) -> Vec<f64> + Sync)| -> Vec<Vec<f64>> {
            data.close.par_iter().map(|c| f(c)).collect()
        };
        let vol_out: Vec<_> = vols
            .par_iter()
            .map(|&w| (w, per_asset(&|c| risk::realised_vol_series(c, w, bpy))))
            .collect();
        let var_out: Vec<_> = vars
            .par_iter()
            .map(|&k| {
                let conf = f64::from_bits(k.2);
                (k, per_asset(&|c| risk::var_series(c, k.0, k.1, conf, k.3)))
            })
            .collect();
        let dd_out: Vec<_> = dds
            .par_iter()
            .map(|&k| (k, per_asset(&|c| risk::drawdown_series(c, k))))
            .collect();
        let sched_out: Vec<_> = scheds
            .par_iter()
            .map(|&k| (k, buy_bars(&data.time, k)))
            .collect();
        self.vol.extend(vol_out);
        self.var.extend(var_out);
        self.dd.extend(dd_out);
        self.sched.extend(sched_out);
        Ok(())
    }

    /// The slices a run of `plan` over `range` reads. [`Self::prepare`] must have seen the
    /// plan and range.
    pub fn view(&self, plan: &Plan, range: Range<usize>) -> Result<View<'_>> {
        let data = self.data;
        let n = plan.assets.len();
        let mut v = View {
            time: &data.time,
            close: [&[]; MAX_ASSETS],
            vol: [None; MAX_ASSETS],
            dd: [None; MAX_ASSETS],
            var: [None; MAX_ASSETS],
            buys: &[],
            range: range.clone(),
            n,
            bars_per_year: self.bars_per_year,
        };
        let unprepared =
            || Error::TooShort("internal: features were not prepared for this plan".into());
        for (i, a) in plan.assets.iter().enumerate() {
            let k = data
                .index_of(&a.symbol)
                .ok_or_else(|| Error::MissingAsset {
                    symbol: a.symbol.clone(),
                    have: data.symbols.join(", "),
                })?;
            v.close[i] = &data.close[k];
            if needs_vol(plan) {
                let series = match &plan.risk.model {
                    Some(m) => self.model_vol.get(&m.digest),
                    None => self.vol.get(&vol_key(plan, self.interval_ms)),
                };
                v.vol[i] = Some(&series.ok_or_else(unprepared)?[k]);
            }
            if needs_var(plan) {
                v.var[i] = Some(
                    &self
                        .var
                        .get(&var_key(plan, self.interval_ms))
                        .ok_or_else(unprepared)?[k],
                );
            }
            if let Some(key) = dd_key(plan, self.interval_ms) {
                v.dd[i] = Some(&self.dd.get(&key).ok_or_else(unprepared)?[k]);
            }
        }
        v.buys = self
            .sched
            .get(&sched_key(plan, data, &range))
            .ok_or_else(unprepared)?;
        Ok(v)
    }
}

fn sched_key(p: &Plan, data: &Aligned, range: &Range<usize>) -> SchedKey {
    let anchor = p
        .start_ms()
        .unwrap_or_else(|| data.time.get(range.start).copied().unwrap_or(0));
    (p.budget.schedule, anchor, range.start, range.end)
}

fn buy_bars(time: &[i64], (schedule, anchor, start, end): SchedKey) -> Vec<BuyBar> {
    let mut s = Scheduler::new(schedule, anchor);
    let mut out = Vec::new();
    for (t, &ms) in time.iter().enumerate().take(end).skip(start) {
        if let Some(due) = s.on_bar(ms) {
            out.push(BuyBar {
                bar: t as u32,
                missed: due.missed.min(u64::from(u32::MAX)) as u32,
            });
        }
    }
    out
}
