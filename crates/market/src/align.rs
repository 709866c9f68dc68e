//! Several instruments on one clock.
//!
//! A portfolio simulator needs, for every bar, a price of every asset. [`align`] keeps the bars
//! whose time all series share (an inner join), so a bar missing from one asset's file (an
//! outage) becomes a bar on which no asset trades, never a bar priced from stale data.
use crate::{Error, Gap, Result, Series, series::find_gaps};
use serde::Serialize;

/// Close prices of several assets on shared bar times, one `Vec<f64>` per asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Aligned {
    /// Asset symbols, in the order given.
    pub symbols: Vec<String>,
    /// Shared bar times (UTC ms), strictly increasing.
    pub time: Vec<i64>,
    /// `close[asset][bar]`.
    pub close: Vec<Vec<f64>>,
    /// The common bar interval (ms).
    pub interval_ms: i64,
    /// Gaps in the shared clock (bars missing from at least one input).
    pub gaps: Vec<Gap>,
    /// Per input series: how many of its bars fell outside the shared clock.
    pub dropped: Vec<AlignReport>,
}

/// What alignment did to one input series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlignReport {
    /// The asset.
    pub symbol: String,
    /// Bars in the input.
    pub bars: usize,
    /// Bars before the first shared time (the asset listed later than another).
    pub before_start: usize,
    /// Bars after the last shared time.
    pub after_end: usize,
    /// Bars inside the shared range whose time another input lacks.
    pub unmatched: usize,
    /// The input's first bar (UTC ms).
    pub first_ms: i64,
    /// The input's last bar (UTC ms).
    pub last_ms: i64,
}

/// How the inputs' date ranges limit the shared range: who starts last, who ends first, and
/// what the others lose to that. Empty `limits_*` when every input covers the same range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// First shared bar (UTC ms).
    pub from_ms: i64,
    /// Last shared bar (UTC ms).
    pub to_ms: i64,
    /// Assets whose late start sets the shared range's start (when others start earlier).
    pub limits_start: Vec<String>,
    /// Assets whose early end sets the shared range's end (when others end later).
    pub limits_end: Vec<String>,
    /// Per input: bars dropped before the start and after the end.
    pub dropped: Vec<AlignReport>,
}

impl Coverage {
    /// True when some input loses bars outside the shared range.
    pub fn cuts(&self) -> bool {
        self.dropped
            .iter()
            .any(|d| d.before_start > 0 || d.after_end > 0)
    }
}

impl Aligned {
    /// Number of shared bars.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// True when no bar is shared.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Bars per 365-day year.
    pub fn bars_per_year(&self) -> f64 {
        crate::series::bars_per_year(self.interval_ms)
    }

    /// Index of an asset by symbol (case-insensitive).
    pub fn index_of(&self, symbol: &str) -> Option<usize> {
        self.symbols
            .iter()
            .position(|s| s.eq_ignore_ascii_case(symbol))
    }

    /// How the inputs' date ranges were cut to the shared one (see [`Coverage`]).
    pub fn coverage(&self) -> Coverage {
        let (from_ms, to_ms) = (self.time[0], self.time[self.time.len() - 1]);
        let starts_early = self.dropped.iter().any(|d| d.before_start > 0);
        let ends_late = self.dropped.iter().any(|d| d.after_end > 0);
        Coverage {
            from_ms,
            to_ms,
            limits_start: self
                .dropped
                .iter()
                .filter(|d| starts_early && d.first_ms == from_ms)
                .map(|d| d.symbol.clone())
                .collect(),
            limits_end: self
                .dropped
                .iter()
                .filter(|d| ends_late && d.last_ms == to_ms)
                .map(|d| d.symbol.clone())
                .collect(),
            dropped: self.dropped.clone(),
        }
    }

    /// A copy restricted to bars `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Aligned {
        let time = self.time[range.clone()].to_vec();
        let lines: Vec<u64> = (0..time.len() as u64).map(|i| i + 2).collect();
        Aligned {
            symbols: self.symbols.clone(),
            gaps: find_gaps(&time, &lines, self.interval_ms),
            time,
            close: self
                .close
                .iter()
                .map(|c| c[range.clone()].to_vec())
                .collect(),
            interval_ms: self.interval_ms,
            dropped: Vec::new(),
        }
    }
}

/// Aligns series on the times they all share. Every series must have the same bar interval
/// and distinct symbols; the result must have at least two bars.
pub fn align(series: &[&Series]) -> Result<Aligned> {
    let first = series
        .first()
        .ok_or_else(|| Error::Align("no series given".into()))?;
    for s in series {
        if s.interval_ms != first.interval_ms {
            return Err(Error::Align(format!(
                "{} has {} ms bars but {} has {} ms bars; give files of one interval",
                s.source, s.interval_ms, first.source, first.interval_ms
            )));
        }
    }
    for (i, a) in series.iter().enumerate() {
        if series[..i]
            .iter()
            .any(|b| b.symbol.eq_ignore_ascii_case(&a.symbol))
        {
            return Err(Error::Align(format!(
                "symbol {} is given twice (last from {})",
                a.symbol, a.source
            )));
        }
    }
    // k-way intersection of sorted time vectors by advancing cursors.
    let n = series.len();
    let mut idx = vec![0usize; n];
    let mut time = Vec::new();
    let mut close: Vec<Vec<f64>> = vec![Vec::new(); n];
    'outer: loop {
        let mut t = i64::MIN;
        for (k, s) in series.iter().enumerate() {
            match s.time.get(idx[k]) {
                Some(&v) => t = t.max(v),
                None => break 'outer,
            }
        }
        let mut all = true;
        for (k, s) in series.iter().enumerate() {
            while idx[k] < s.time.len() && s.time[idx[k]] < t {
                idx[k] += 1;
            }
            match s.time.get(idx[k]) {
                Some(&v) if v == t => {}
                Some(_) => all = false,
                None => break 'outer,
            }
        }
        if all {
            time.push(t);
            for (k, s) in series.iter().enumerate() {
                close[k].push(s.close[idx[k]]);
                idx[k] += 1;
            }
        }
    }
    if time.len() < 2 {
        return Err(Error::Align(format!(
            "the series share {} bar time(s); at least 2 are needed (do the files cover the same period?)",
            time.len()
        )));
    }
    let (t0, t1) = (time[0], time[time.len() - 1]);
    let dropped = series
        .iter()
        .map(|s| {
            let before_start = s.time.iter().take_while(|&&t| t < t0).count();
            let after_end = s.time.iter().rev().take_while(|&&t| t > t1).count();
            AlignReport {
                symbol: s.symbol.clone(),
                bars: s.len(),
                before_start,
                after_end,
                unmatched: s.len() - before_start - after_end - time.len(),
                first_ms: s.time[0],
                last_ms: s.time[s.len() - 1],
            }
        })
        .collect();
    let lines: Vec<u64> = (0..time.len() as u64).map(|i| i + 2).collect();
    Ok(Aligned {
        symbols: series.iter().map(|s| s.symbol.clone()).collect(),
        gaps: find_gaps(&time, &lines, first.interval_ms),
        time,
        close,
        interval_ms: first.interval_ms,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImportOptions, parse_csv};

    fn s(sym: &str, text: &str) -> Series {
        parse_csv(
            text.as_bytes(),
            sym,
            &ImportOptions::default().with_symbol(sym),
        )
        .unwrap()
    }

    #[test]
    fn inner_join_drops_unshared_bars() {
        let a = s(
            "A",
            "ts,close\n0,1\n86400,2\n172800,3\n259200,4\n345600,5\n",
        );
        let b = s("B", "ts,close\n86400,20\n259200,40\n345600,50\n432000,60\n");
        let al = align(&[&a, &b]).unwrap();
        assert_eq!(al.time, vec![86_400_000, 259_200_000, 345_600_000]);
        assert_eq!(al.close, vec![vec![2.0, 4.0, 5.0], vec![20.0, 40.0, 50.0]]);
        assert_eq!(al.gaps.len(), 1);
        assert_eq!(al.dropped[0].before_start, 1);
        assert_eq!(al.dropped[0].unmatched, 1);
        assert_eq!(al.dropped[1].after_end, 1);
        let c = al.coverage();
        assert!(c.cuts());
        assert_eq!(c.limits_start, vec!["B".to_string()]);
        assert_eq!(c.limits_end, vec!["A".to_string()]);
        assert_eq!((c.from_ms, c.to_ms), (86_400_000, 345_600_000));
        let same = align(&[
            &a,
            &s(
                "C",
                "ts,close\n0,1\n86400,2\n172800,3\n259200,4\n345600,5\n",
            ),
        ])
        .unwrap()
        .coverage();
        assert!(!same.cuts() && same.limits_start.is_empty() && same.limits_end.is_empty());
    }

    #[test]
    fn rejects_mixed_intervals_and_duplicate_symbols() {
        let a = s("A", "ts,close\n0,1\n86400,2\n");
        let b = s("B", "ts,close\n0,1\n3600,2\n");
        assert!(
            align(&[&a, &b])
                .unwrap_err()
                .to_string()
                .contains("ms bars")
        );
        assert!(align(&[&a, &a]).unwrap_err().to_string().contains("twice"));
    }
}
