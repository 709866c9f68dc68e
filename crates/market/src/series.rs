//! Candle series in structure-of-arrays form: one `Vec<f64>` per field, so simulators stream
//! through contiguous closes without touching the rest.
use serde::Serialize;

/// A run of missing bars: the exchange produced no candle between two rows.
///
/// Gaps are facts (exchange outages), not errors: by default the simulator treats them as
/// intervals without trading; strict import rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// 1-based line of the row after the gap (the header is line 1).
    pub line: u64,
    /// Index in the series of the bar after the gap.
    pub index: usize,
    /// Timestamp (UTC ms) of the last bar before the gap.
    pub after_ms: i64,
    /// Timestamp (UTC ms) of the first bar after the gap.
    pub before_ms: i64,
    /// How many bars are missing.
    pub missing: u64,
}

/// What kind of suspicious row an [`Anomaly`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// The row's prices contradict each other: `low > min(open, close)` or
    /// `high < max(open, close)` (a typo in one of them, or columns in the wrong order).
    Ohlc,
    /// The close jumps far from the previous close (by more than the import's outlier factor
    /// either way); when the next close jumps back, only this row is flagged.
    Outlier,
}

/// A row that imported but should not be trusted blindly: flagged with its line, like gaps, so
/// a person can look at it; strict import rejects it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// 1-based line of the row (the header is line 1).
    pub line: u64,
    /// Index of the bar in the series.
    pub index: usize,
    /// The bar's time (UTC ms).
    pub time_ms: i64,
    /// What is wrong.
    pub kind: AnomalyKind,
    /// The values involved, in words.
    pub detail: String,
}

/// One instrument's candles, validated: strictly increasing times on a regular grid (except at
/// the reported [`Gap`]s), positive prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Instrument symbol (base asset, e.g. `BTC`).
    pub symbol: String,
    /// Where the candles came from (file name), for messages.
    pub source: String,
    /// Bar interval in milliseconds (the most common step between rows).
    pub interval_ms: i64,
    /// Candle open times, UTC milliseconds, strictly increasing.
    pub time: Vec<i64>,
    /// Open prices.
    pub open: Vec<f64>,
    /// High prices.
    pub high: Vec<f64>,
    /// Low prices.
    pub low: Vec<f64>,
    /// Close prices.
    pub close: Vec<f64>,
    /// Volumes (base asset; 0 when the file has no volume column).
    pub volume: Vec<f64>,
    /// Missing-bar runs, in time order.
    pub gaps: Vec<Gap>,
    /// Suspicious rows (inconsistent OHLC, outliers), in line order.
    pub anomalies: Vec<Anomaly>,
}

impl Series {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Bars per 365-day year at this interval (crypto markets trade every day).
    pub fn bars_per_year(&self) -> f64 {
        bars_per_year(self.interval_ms)
    }
}

/// Bars per 365-day year for a bar interval in milliseconds.
pub fn bars_per_year(interval_ms: i64) -> f64 {
    365.0 * crate::time::DAY_MS as f64 / interval_ms.max(1) as f64
}

/// Finds gaps (steps longer than `interval_ms`) in strictly increasing times. `lines[i]` is the
/// file line of bar `i`.
pub(crate) fn find_gaps(time: &[i64], lines: &[u64], interval_ms: i64) -> Vec<Gap> {
    let mut gaps = Vec::new();
    for i in 1..time.len() {
        let step = time[i] - time[i - 1];
        if step > interval_ms {
            gaps.push(Gap {
                line: lines[i],
                index: i,
                after_ms: time[i - 1],
                before_ms: time[i],
                missing: ((step + interval_ms - 1) / interval_ms - 1) as u64,
            });
        }
    }
    gaps
}

/// The most common step between consecutive times (the smallest one on a tie).
pub(crate) fn infer_interval(time: &[i64]) -> Option<i64> {
    let mut steps: Vec<i64> = time.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_unstable();
    let (mut best, mut best_n) = (steps[0], 0usize);
    let mut i = 0;
    while i < steps.len() {
        let j = steps[i..].iter().take_while(|&&s| s == steps[i]).count();
        if j > best_n {
            best = steps[i];
            best_n = j;
        }
        i += j;
    }
    Some(best)
}
