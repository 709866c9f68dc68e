//! Parameter grids for `backtest --sweep`: named plan keys, each with a list of values; the
//! sweep runs the Cartesian product.
//!
//! ```toml
//! [sweep.grid]
//! "risk.vol_target.target" = [0.4, 0.6, 0.8]
//! "risk.vol_window" = [14, 30, 60]
//! "budget.schedule" = ["daily", "weekly"]
//! ```
use crate::{
    error::{Error, Result},
    plan::Plan,
    schedule::Schedule,
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt};

/// Largest number of grid points a sweep may have.
pub const MAX_GRID_POINTS: usize = 1_000_000;

/// Keys a sweep may vary.
pub const SWEEP_KEYS: &[&str] = &[
    "budget.amount",
    "budget.schedule",
    "risk.vol_window",
    "risk.var_window",
    "risk.var_confidence",
    "risk.max_multiplier",
    "risk.vol_target.target",
    "risk.vol_target.max_scale",
    "risk.vol_target.min_scale",
    "risk.drawdown.max_multiplier",
    "risk.drawdown.lookback",
    "risk.pause.max_vol",
    "risk.pause.max_var",
    "execution.pool_depth",
    "execution.gas_per_buy",
    "execution.fee_bps",
    "execution.max_price_impact_bps",
];

/// One value of a swept parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A number.
    Number(f64),
    /// A name (schedules).
    Text(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Number(v) => write!(f, "{v}"),
            ParamValue::Text(s) => write!(f, "{s}"),
        }
    }
}

/// The `[sweep]` table of a plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Key → values.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<ParamValue>>,
}

/// One configuration of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// The parameters that differ from the base plan, in grid-key order.
    pub params: Vec<(String, ParamValue)>,
    /// The plan with those parameters applied.
    pub plan: Plan,
}

impl SweepSpec {
    /// Number of grid points.
    pub fn len(&self) -> usize {
        self.grid
            .values()
            .fold(1usize, |acc, v| acc.saturating_mul(v.len()))
    }

    /// True when the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.grid.is_empty()
    }

    /// Checks keys, value types and ranges against `base`.
    pub fn validate(&self, base: &Plan) -> Result<()> {
        let n = self.len();
        if n > MAX_GRID_POINTS {
            return Err(Error::OutOfRange {
                key: "sweep.grid".into(),
                value: format!("{n} points"),
                allowed: format!("at most {MAX_GRID_POINTS} points"),
            });
        }
        let mut plain = base.clone();
        plain.sweep = None;
        for (key, values) in &self.grid {
            if values.is_empty() {
                return Err(Error::Inconsistent {
                    key: format!("sweep.grid.\"{key}\""),
                    detail: "give at least one value".into(),
                });
            }
            for v in values {
                apply(&plain, key, v)?;
            }
        }
        Ok(())
    }

    /// Every configuration of the grid applied to `base` (the base alone for an empty grid).
    pub fn points(&self, base: &Plan) -> Result<Vec<SweepPoint>> {
        self.validate(base)?;
        let mut base = base.clone();
        base.sweep = None;
        let mut points = vec![SweepPoint {
            params: Vec::new(),
            plan: base,
        }];
        for (key, values) in &self.grid {
            let mut next = Vec::with_capacity(points.len() * values.len());
            for p in &points {
                for v in values {
                    let mut params = p.params.clone();
                    params.push((key.clone(), v.clone()));
                    next.push(SweepPoint {
                        params,
                        plan: apply(&p.plan, key, v)?,
                    });
                }
            }
            points = next;
        }
        Ok(points)
    }
}

/// `plan` with `key` set to `value`, validated.
pub fn apply(plan: &Plan, key: &str, value: &ParamValue) -> Result<Plan> {
    let mut p = plan.clone();
    let wrong = |want: &str| Error::Inconsistent {
        key: format!("sweep.grid.\"{key}\""),
        detail: format!("value {value} is not {want}"),
    };
    let num = || match value {
        ParamValue::Number(v) => Ok(*v),
        ParamValue::Text(_) => Err(wrong("a number")),
    };
    let int = || {
        let v = num()?;
        if v >= 0.0 && v.fract() == 0.0 && v <= 1e9 {
            Ok(v as usize)
        } else {
            Err(wrong("a whole number of bars"))
        }
    };
    let absent = |table: &str| Error::Inconsistent {
        key: format!("sweep.grid.\"{key}\""),
        detail: format!("the plan has no [{table}] table to vary; add it to the plan"),
    };
    match key {
        "budget.amount" => p.budget.amount = num()?,
        "budget.schedule" => {
            p.budget.schedule = match value {
                ParamValue::Text(s) => Schedule::from_name(s)
                    .ok_or_else(|| wrong("daily, weekly, biweekly or monthly"))?,
                ParamValue::Number(_) => return Err(wrong("a schedule name")),
            }
        }
        "risk.vol_window" => p.risk.vol_window = int()?,
        "risk.var_window" => p.risk.var_window = int()?,
        "risk.var_confidence" => p.risk.var_confidence = num()?,
        "risk.max_multiplier" => p.risk.max_multiplier = num()?,
        "risk.vol_target.target" | "risk.vol_target.max_scale" | "risk.vol_target.min_scale" => {
            let v = p
                .risk
                .vol_target
                .as_mut()
                .ok_or_else(|| absent("risk.vol_target"))?;
            let x = num()?;
            match key {
                "risk.vol_target.target" => v.target = x,
                "risk.vol_target.max_scale" => v.max_scale = x,
                _ => v.min_scale = x,
            }
        }
        "risk.drawdown.max_multiplier" => {
            p.risk
                .drawdown
                .as_mut()
                .ok_or_else(|| absent("risk.drawdown"))?
                .max_multiplier = num()?
        }
        "risk.drawdown.lookback" => {
            p.risk
                .drawdown
                .as_mut()
                .ok_or_else(|| absent("risk.drawdown"))?
                .lookback = Some(int()?)
        }
        "risk.pause.max_vol" => {
            p.risk.pause.get_or_insert_with(Default::default).max_vol = Some(num()?)
        }
        "risk.pause.max_var" => {
            p.risk.pause.get_or_insert_with(Default::default).max_var = Some(num()?)
        }
        "execution.pool_depth" => p.execution.pool_depth = Some(num()?),
        "execution.gas_per_buy" => p.execution.gas_per_buy = num()?,
        "execution.fee_bps" => p.execution.fee_bps = Some(num()?),
        "execution.max_price_impact_bps" => p.execution.max_price_impact_bps = num()?,
        _ => {
            return Err(Error::OutOfRange {
                key: format!("sweep.grid.\"{key}\""),
                value: "(key)".into(),
                allowed: format!("one of: {}", SWEEP_KEYS.join(", ")),
            });
        }
    }
    p.sweep = None;
    p.validate()?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
[budget]
amount = 100
schedule = "weekly"
[[assets]]
symbol = "BTC"
weight = 1.0
[risk.vol_target]
target = 0.6
[sweep.grid]
"risk.vol_target.target" = [0.4, 0.8]
"budget.schedule" = ["daily", "weekly", "monthly"]
"#;

    #[test]
    fn cartesian_product() {
        let p = Plan::from_toml(PLAN).unwrap();
        let s = p.sweep.clone().unwrap();
        assert_eq!(s.len(), 6);
        let pts = s.points(&p).unwrap();
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[0].plan.budget.schedule, Schedule::Daily);
        assert_eq!(pts[0].plan.risk.vol_target.as_ref().unwrap().target, 0.4);
        assert_eq!(pts[5].plan.budget.schedule, Schedule::Monthly);
        assert_eq!(pts[5].plan.risk.vol_target.as_ref().unwrap().target, 0.8);
        assert!(pts.iter().all(|p| p.plan.sweep.is_none()));
    }

    #[test]
    fn bad_grids_name_the_key() {
        let e = Plan::from_toml(&PLAN.replace("0.4, 0.8", "0.4, 50"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`risk.vol_target.target` = 50"), "{e}");
        let e = Plan::from_toml(&format!("{PLAN}\"risk.nope\" = [1]"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sweep.grid.\"risk.nope\"") && e.contains("one of"),
            "{e}"
        );
        let e = Plan::from_toml(&format!("{PLAN}\"risk.drawdown.max_multiplier\" = [2]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no [risk.drawdown]"), "{e}");
    }
}
