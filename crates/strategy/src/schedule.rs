//! When the plan buys: calendar periods from an anchor, and a [`Scheduler`] that fires on the
//! first bar of each period.
//!
//! Periods are calendar-based (like Binance Auto-Invest) rather than "every N bars", so a plan
//! means the same on daily and 4-hour data and a gap in the data (an exchange outage) does not
//! shift later buys. A period with no bar at all (inside a gap) is missed: nothing is bought or
//! contributed for it, and the scheduler counts it.
use cairn_market::time::{DAY_MS, civil_from_days, days_from_civil, days_in_month};
use serde::{Deserialize, Serialize};

/// How often a period starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Every day at the anchor's time of day.
    Daily,
    /// Every 7 days.
    Weekly,
    /// Every 14 days.
    Biweekly,
    /// On the anchor's day of month (the month's last day when shorter).
    Monthly,
}

impl Schedule {
    /// All schedules, shortest first.
    pub const ALL: [Schedule; 4] = [
        Schedule::Daily,
        Schedule::Weekly,
        Schedule::Biweekly,
        Schedule::Monthly,
    ];

    /// The name used in `plan.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Daily => "daily",
            Schedule::Weekly => "weekly",
            Schedule::Biweekly => "biweekly",
            Schedule::Monthly => "monthly",
        }
    }

    /// Parses a name used in `plan.toml`.
    pub fn from_name(s: &str) -> Option<Schedule> {
        Schedule::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Approximate number of periods per 365-day year.
    pub fn periods_per_year(self) -> f64 {
        match self {
            Schedule::Daily => 365.0,
            Schedule::Weekly => 365.0 / 7.0,
            Schedule::Biweekly => 365.0 / 14.0,
            Schedule::Monthly => 12.0,
        }
    }

    /// Index of the period containing `t_ms`; period 0 starts at `anchor_ms`, negative before.
    pub fn period_index(self, anchor_ms: i64, t_ms: i64) -> i64 {
        let fixed = |len: i64| (t_ms - anchor_ms).div_euclid(len);
        match self {
            Schedule::Daily => fixed(DAY_MS),
            Schedule::Weekly => fixed(7 * DAY_MS),
            Schedule::Biweekly => fixed(14 * DAY_MS),
            Schedule::Monthly => {
                let (y0, m0, d0) = civil_from_days(anchor_ms.div_euclid(DAY_MS));
                let tod = anchor_ms.rem_euclid(DAY_MS);
                let (y, m, _) = civil_from_days(t_ms.div_euclid(DAY_MS));
                let k = (y - y0) * 12 + (i64::from(m) - i64::from(m0));
                let start = |k: i64| {
                    let mi = i64::from(m0) - 1 + k;
                    let (yy, mm) = (y0 + mi.div_euclid(12), (mi.rem_euclid(12) + 1) as u32);
                    days_from_civil(yy, mm, d0.min(days_in_month(yy, mm))) * DAY_MS + tod
                };
                if t_ms < start(k) { k - 1 } else { k }
            }
        }
    }
}

/// A period that has become due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Index of the period (0 = the anchor's).
    pub period: i64,
    /// Periods between the last due one and this one that had no bar (missed).
    pub missed: u64,
}

/// Fires once per period, on the first bar at or after the period's start. The live agent
/// keeps one across restarts (its state is `last_period`); the backtester uses the same type
/// to find the buy bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduler {
    /// The schedule.
    pub schedule: Schedule,
    /// Start of period 0 (UTC ms).
    pub anchor_ms: i64,
    /// The last period that fired, if any.
    pub last_period: Option<i64>,
}

impl Scheduler {
    /// A scheduler that has not fired yet.
    pub fn new(schedule: Schedule, anchor_ms: i64) -> Self {
        Scheduler {
            schedule,
            anchor_ms,
            last_period: None,
        }
    }

    /// Called for each bar in time order: `Some` when this bar starts a new period.
    pub fn on_bar(&mut self, t_ms: i64) -> Option<Due> {
        let p = self.schedule.period_index(self.anchor_ms, t_ms);
        if p < 0 || self.last_period.is_some_and(|last| p <= last) {
            return None;
        }
        let missed = match self.last_period {
            Some(last) => (p - last - 1) as u64,
            None => p as u64,
        };
        self.last_period = Some(p);
        Some(Due { period: p, missed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d) * DAY_MS
    }

    #[test]
    fn fixed_periods() {
        let a = day(2024, 1, 1);
        assert_eq!(Schedule::Daily.period_index(a, a), 0);
        assert_eq!(Schedule::Daily.period_index(a, a - 1), -1);
        assert_eq!(Schedule::Weekly.period_index(a, day(2024, 1, 7)), 0);
        assert_eq!(Schedule::Weekly.period_index(a, day(2024, 1, 8)), 1);
        assert_eq!(Schedule::Biweekly.period_index(a, day(2024, 1, 29)), 2);
    }

    #[test]
    fn monthly_clamps_to_month_end() {
        let a = day(2024, 1, 31);
        assert_eq!(Schedule::Monthly.period_index(a, day(2024, 2, 28)), 0);
        assert_eq!(Schedule::Monthly.period_index(a, day(2024, 2, 29)), 1);
        assert_eq!(Schedule::Monthly.period_index(a, day(2024, 3, 30)), 1);
        assert_eq!(Schedule::Monthly.period_index(a, day(2024, 3, 31)), 2);
        assert_eq!(Schedule::Monthly.period_index(a, day(2025, 1, 31)), 12);
        assert_eq!(Schedule::Monthly.period_index(a, day(2024, 1, 30)), -1);
    }

    #[test]
    fn scheduler_fires_on_first_bar_and_counts_missed_periods() {
        let a = day(2024, 1, 1);
        let mut s = Scheduler::new(Schedule::Daily, a);
        let h = 4 * 3_600_000;
        assert_eq!(s.on_bar(a - h), None);
        assert_eq!(
            s.on_bar(a),
            Some(Due {
                period: 0,
                missed: 0
            })
        );
        assert_eq!(s.on_bar(a + h), None);
        // A gap swallows days 1 and 2.
        assert_eq!(
            s.on_bar(a + 3 * DAY_MS + h),
            Some(Due {
                period: 3,
                missed: 2
            })
        );
    }
}
