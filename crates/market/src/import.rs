//! The OHLCV CSV importer.
//!
//! Exchanges and data vendors disagree on layouts, so the importer reads the header rather than
//! assuming column positions: names match in any case (`Close`, `CLOSE`), the time column may be
//! `timestamp`, `date`, `time`, `datetime` or `open_time`, times may be epoch seconds,
//! milliseconds or ISO dates, lines may end in LF, CRLF or CR, and extra columns (trade counts,
//! close times) are ignored. What it never lets through is data a backtest would silently get
//! wrong: duplicate or out-of-order times and non-positive prices are rejected naming the line,
//! and a ticker column naming another instrument than the file is used as is refused. Missing
//! bars ([`Gap`]s) and suspicious rows ([`Anomaly`]s: OHLC that contradict each other, outliers)
//! are reported with their lines, or rejected in strict mode.
use crate::{
    Anomaly, AnomalyKind, Error, Gap, Result, Series,
    series::{find_gaps, infer_interval},
    time::{format_ms, parse_timestamp},
};
use std::{io::Read, path::Path};

/// Accepted header names for the time column.
pub const TIME_ALIASES: &[&str] = &[
    "timestamp",
    "date",
    "time",
    "datetime",
    "open_time",
    "opentime",
    "open time",
    "ts",
];
const TIME_ALIASES_TEXT: &str = "timestamp, date, time, datetime, open_time, ts";
const CLOSE_ALIASES_TEXT: &str = "close, c, price";
const TICKER_ALIASES: &[&str] = &["ticker", "symbol", "pair", "instrument"];

/// Default factor by which a close may jump from the previous close before the row is flagged
/// as an outlier (5: a close above 5× or below 1/5 of the previous one).
pub const DEFAULT_OUTLIER_FACTOR: f64 = 5.0;

/// Import settings.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Reject series with missing bars, inconsistent rows or outliers instead of reporting
    /// them.
    pub strict: bool,
    /// Symbol to give the series; else the ticker column, else the file name
    /// (see [`symbol_from_name`]).
    pub symbol: Option<String>,
    /// Use the given symbol (or the file name's) even when a ticker column names another
    /// instrument. Off by default: such a file is refused.
    pub ignore_ticker: bool,
    /// A close more than this factor above or below the previous close is an outlier
    /// ([`DEFAULT_OUTLIER_FACTOR`]); must be greater than 1.
    pub outlier_factor: f64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            strict: false,
            symbol: None,
            ignore_ticker: false,
            outlier_factor: DEFAULT_OUTLIER_FACTOR,
        }
    }
}

impl ImportOptions {
    /// Sets strict handling of gaps, inconsistent rows and outliers.
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Sets the symbol.
    pub fn with_symbol(mut self, symbol: impl Into<String>) -> Self {
        self.symbol = Some(symbol.into());
        self
    }

    /// Sets whether a contradicting ticker column is ignored.
    pub fn with_ignore_ticker(mut self, ignore: bool) -> Self {
        self.ignore_ticker = ignore;
        self
    }
}

/// Quote-currency suffixes stripped from pair names (`BTCUSDT` → `BTC`).
const QUOTE_SUFFIXES: &[&str] = &["FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "USD"];

/// The base-asset symbol in a file or pair name: `BTCUSDT_1d.csv` → `BTC`, `bnb-usdt.csv` →
/// `BNB`, `ETH.csv` → `ETH`.
pub fn symbol_from_name(name: &str) -> String {
    let stem = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    split_pair(&stem).0
}

/// The base asset of a file name that names a pair (`BTCUSDT_1d.csv` → `BTC`); `None` when
/// the name carries no quote suffix (`prices.csv`), so it says nothing about the instrument.
pub fn pair_base(name: &str) -> Option<String> {
    let stem = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match split_pair(&stem) {
        (base, true) => Some(base),
        (_, false) => None,
    }
}

/// The base asset of a pair written `BTCUSDT`, `BTC-USDT`, `btc_usdt`, `BTC/USDT` or
/// `BTC:USDT`, and whether a quote part was recognised.
fn split_pair(pair: &str) -> (String, bool) {
    let mut parts = pair.split(['_', '-', '.', ' ', '/', ':']);
    let first = parts.next().unwrap_or("").to_ascii_uppercase();
    for q in QUOTE_SUFFIXES {
        if first.len() > q.len()
            && let Some(base) = first.strip_suffix(q)
        {
            return (base.to_string(), true);
        }
    }
    let quoted = parts
        .next()
        .is_some_and(|p| QUOTE_SUFFIXES.contains(&p.to_ascii_uppercase().as_str()));
    (first, quoted)
}

/// Reads and validates a CSV file.
pub fn read_csv(path: &Path, opts: &ImportOptions) -> Result<Series> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let expect = match (&opts.symbol, opts.ignore_ticker) {
        (_, true) => None,
        (Some(s), false) => Some((s.clone(), "given symbol")),
        (None, false) => pair_base(&name).map(|b| (b, "file name")),
    };
    let mut o = opts.clone();
    if opts.ignore_ticker && o.symbol.is_none() {
        o.symbol = Some(symbol_from_name(&name));
    }
    let mut series = parse(std::io::BufReader::new(file), &name, &o, expect)?;
    if series.symbol.is_empty() {
        series.symbol = symbol_from_name(&name);
    }
    Ok(series)
}

/// Turns CRLF and lone CR line ends into LF, so that the CSV reader's line numbers count
/// every line end (it counts only LF).
struct LfReader<R> {
    inner: R,
    after_cr: bool,
}

impl<R: Read> Read for LfReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut w = 0;
            for r in 0..n {
                let b = buf[r];
                if b == b'\n' && self.after_cr {
                    self.after_cr = false;
                    continue;
                }
                self.after_cr = b == b'\r';
                buf[w] = if b == b'\r' { b'\n' } else { b };
                w += 1;
            }
            if w > 0 {
                return Ok(w);
            }
        }
    }
}

struct Columns {
    time: usize,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: usize,
    volume: Option<usize>,
    ticker: Option<usize>,
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&h.as_str()))
}

fn columns(header: &[String], source: &str) -> Result<Columns> {
    let joined = || header.join(", ");
    let time = find(header, TIME_ALIASES).ok_or_else(|| Error::MissingColumn {
        source_name: source.to_string(),
        wanted: "time",
        aliases: TIME_ALIASES_TEXT,
        header: joined(),
    })?;
    let close = find(header, &["close", "c", "price", "close_price"]).ok_or_else(|| {
        Error::MissingColumn {
            source_name: source.to_string(),
            wanted: "close",
            aliases: CLOSE_ALIASES_TEXT,
            header: joined(),
        }
    })?;
    Ok(Columns {
        time,
        open: find(header, &["open", "o", "open_price"]),
        high: find(header, &["high", "h", "high_price"]),
        low: find(header, &["low", "l", "low_price"]),
        close,
        volume: find(header, &["volume", "vol", "v", "base_volume"]),
        ticker: find(header, TICKER_ALIASES),
    })
}

/// Reads and validates CSV text from any reader. `source` names it in messages.
///
/// An empty symbol in the result means neither `opts.symbol` nor a ticker column named one
/// ([`read_csv`] then falls back to the file name).
///
/// A ticker column that names another instrument than `opts.symbol` is an error unless
/// `opts.ignore_ticker`.
pub fn parse_csv<R: Read>(reader: R, source: &str, opts: &ImportOptions) -> Result<Series> {
    let expect = match (&opts.symbol, opts.ignore_ticker) {
        (Some(s), false) => Some((s.clone(), "given symbol")),
        _ => None,
    };
    parse(reader, source, opts, expect)
}

fn parse<R: Read>(
    reader: R,
    source: &str,
    opts: &ImportOptions,
    expect: Option<(String, &'static str)>,
) -> Result<Series> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(LfReader {
            inner: reader,
            after_cr: false,
        });
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        Error::Csv {
            source_name: source.to_string(),
            line,
            detail: e.to_string(),
        }
    };
    let header: Vec<String> = rdr
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let cols = columns(&header, source)?;

    let mut s = Series {
        symbol: opts.symbol.clone().unwrap_or_default(),
        source: source.to_string(),
        interval_ms: 0,
        time: Vec::new(),
        open: Vec::new(),
        high: Vec::new(),
        low: Vec::new(),
        close: Vec::new(),
        volume: Vec::new(),
        gaps: Vec::new(),
        anomalies: Vec::new(),
    };
    let mut lines: Vec<u64> = Vec::new();
    let mut ticker: Option<String> = None;
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(e)),
        }
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let cell = |i: usize| rec.get(i).unwrap_or("");
        let t_raw = cell(cols.time);
        let t = parse_timestamp(t_raw).ok_or_else(|| Error::BadCell {
            source_name: source.to_string(),
            line,
            column: header[cols.time].clone(),
            value: t_raw.to_string(),
            expected: "a timestamp (epoch seconds/milliseconds or YYYY-MM-DD[ HH:MM:SS])",
        })?;
        let num = |i: usize| -> Result<f64> {
            let raw = cell(i);
            raw.parse::<f64>().map_err(|_| Error::BadCell {
                source_name: source.to_string(),
                line,
                column: header[i].clone(),
                value: raw.to_string(),
                expected: "a number",
            })
        };
        let price = |i: usize| -> Result<f64> {
            let v = num(i)?;
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(Error::NonPositivePrice {
                    source_name: source.to_string(),
                    line,
                    column: header[i].clone(),
                    value: v,
                })
            }
        };
        let close = price(cols.close)?;
        let open = cols.open.map(price).transpose()?.unwrap_or(close);
        let high = cols.high.map(price).transpose()?.unwrap_or(close);
        let low = cols.low.map(price).transpose()?.unwrap_or(close);
        let volume = cols.volume.map(num).transpose()?.unwrap_or(0.0);
        if high < low {
            return Err(Error::InconsistentRow {
                source_name: source.to_string(),
                line,
                detail: format!("high {high} is below low {low}"),
            });
        }
        if low > open.min(close) || high < max2(open, close) {
            let what = if high < max2(open, close) {
                if close > high {
                    "close is above high"
                } else {
                    "open is above high"
                }
            } else if close < low {
                "close is below low"
            } else {
                "open is below low"
            };
            s.anomalies.push(Anomaly {
                line,
                index: s.time.len(),
                time_ms: t,
                kind: AnomalyKind::Ohlc,
                detail: format!(
                    "inconsistent prices: open {open} high {high} low {low} close {close} ({what})"
                ),
            });
        }
        if !(volume.is_finite() && volume >= 0.0) {
            return Err(Error::InconsistentRow {
                source_name: source.to_string(),
                line,
                detail: format!("volume {volume} is negative or not finite"),
            });
        }
        if let Some(i) = cols.ticker {
            let tk = cell(i);
            match &ticker {
                None => {
                    if let Some((want, origin)) = &expect {
                        let base = split_pair(tk).0;
                        if !base.eq_ignore_ascii_case(want) && !tk.eq_ignore_ascii_case(want) {
                            return Err(Error::TickerMismatch {
                                source_name: source.to_string(),
                                line,
                                expected: want.clone(),
                                origin,
                                ticker: tk.to_string(),
                                ticker_base: base,
                            });
                        }
                    }
                    ticker = Some(tk.to_string());
                }
                Some(first) if first != tk => {
                    return Err(Error::MixedTickers {
                        source_name: source.to_string(),
                        line,
                        first: first.clone(),
                        found: tk.to_string(),
                    });
                }
                Some(_) => {}
            }
        }
        if let (Some(&prev), Some(&prev_line)) = (s.time.last(), lines.last()) {
            if t == prev {
                return Err(Error::Duplicate {
                    source_name: source.to_string(),
                    line,
                    first_line: prev_line,
                    time: format_ms(t),
                });
            }
            if t < prev {
                return Err(Error::NotMonotonic {
                    source_name: source.to_string(),
                    line,
                    time: format_ms(t),
                    previous_line: prev_line,
                    previous: format_ms(prev),
                });
            }
        }
        s.time.push(t);
        s.open.push(open);
        s.high.push(high);
        s.low.push(low);
        s.close.push(close);
        s.volume.push(volume);
        lines.push(line);
    }
    if s.time.len() < 2 {
        return Err(Error::TooFewRows {
            source_name: source.to_string(),
            detail: format!(
                "{} data row(s); at least 2 are needed to infer the bar interval",
                s.time.len()
            ),
        });
    }
    let interval = infer_interval(&s.time).unwrap_or(1);
    for (w, &line) in s.time.windows(2).zip(&lines[1..]) {
        let step = w[1] - w[0];
        if step < interval {
            return Err(Error::Irregular {
                source_name: source.to_string(),
                line,
                time: format_ms(w[1]),
                step_ms: step,
                interval_ms: interval,
            });
        }
    }
    s.interval_ms = interval;
    s.gaps = find_gaps(&s.time, &lines, interval);
    flag_outliers(&mut s, &lines, opts.outlier_factor);
    if opts.strict {
        // The first problem in file order.
        let gap = s.gaps.first().map(|g| (g.line, gap_error(source, g)));
        let anomaly = s.anomalies.first().map(|a| {
            (
                a.line,
                Error::Anomaly {
                    source_name: source.to_string(),
                    line: a.line,
                    kind: a.kind,
                    detail: a.detail.clone(),
                },
            )
        });
        let first = match (gap, anomaly) {
            (Some(g), Some(a)) => Some(if a.0 < g.0 { a.1 } else { g.1 }),
            (g, a) => g.or(a).map(|x| x.1),
        };
        if let Some(e) = first {
            return Err(e);
        }
    }
    if s.symbol.is_empty()
        && let Some(tk) = ticker
    {
        s.symbol = symbol_from_name(&tk);
    }
    Ok(s)
}

fn max2(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// Flags closes that jump by more than `factor` from the previous close. When the next close
/// jumps back (a spike: one bad row), only the spike is flagged, not the good row after it.
fn flag_outliers(s: &mut Series, lines: &[u64], factor: f64) {
    if factor.is_nan() || factor <= 1.0 {
        return;
    }
    let lim = factor.ln();
    let c = &s.close;
    let mut found = Vec::new();
    let mut i = 1;
    while i < c.len() {
        let jump = (c[i] / c[i - 1]).ln();
        if jump.abs() > lim {
            let spike = i + 1 < c.len() && (c[i + 1] / c[i]).ln() * jump.signum() < -lim;
            found.push(Anomaly {
                line: lines[i],
                index: i,
                time_ms: s.time[i],
                kind: AnomalyKind::Outlier,
                detail: format!(
                    "close {} is {:.1}x the previous close {} (line {}){}",
                    c[i],
                    c[i] / c[i - 1],
                    c[i - 1],
                    lines[i - 1],
                    if spike {
                        format!(" and the next close {} jumps back", c[i + 1])
                    } else {
                        String::new()
                    }
                ),
            });
            if spike {
                i += 2;
                continue;
            }
        }
        i += 1;
    }
    if !found.is_empty() {
        s.anomalies.extend(found);
        s.anomalies.sort_by_key(|a| a.line);
    }
}

fn gap_error(source: &str, g: &Gap) -> Error {
    Error::Gap {
        source_name: source.to_string(),
        line: g.line,
        missing: g.missing,
        after: format_ms(g.after_ms),
        before: format_ms(g.before_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Series> {
        parse_csv(text.as_bytes(), "t.csv", &ImportOptions::default())
    }

    #[test]
    fn reads_the_shipped_layout() {
        let s = parse(
            "timestamp,open,high,low,close,volume\n2017-08-17,1,2,0.5,1.5,10\n2017-08-18,1.5,2,1,2,11\n",
        )
        .unwrap();
        assert_eq!(s.close, vec![1.5, 2.0]);
        assert_eq!(s.interval_ms, 86_400_000);
        assert!(s.gaps.is_empty());
    }

    #[test]
    fn header_in_any_case_epoch_ms_and_ticker_column() {
        let s = parse(
            "Ticker,OPEN_TIME,Open,High,Low,Close,Volume,trades\nBNBUSDT,1510000000000,1,1,1,1,0,3\nBNBUSDT,1510014400000,1,2,1,2,0,4\n",
        )
        .unwrap();
        assert_eq!(s.symbol, "BNB");
        assert_eq!(s.time, vec![1_510_000_000_000, 1_510_014_400_000]);
        assert_eq!(s.interval_ms, 14_400_000);
    }

    #[test]
    fn seconds_and_close_only() {
        let s = parse("date,close\n1510000000,5\n1510086400,6\n1510172800,7\n").unwrap();
        assert_eq!(s.open, s.close);
        assert_eq!(s.time[0], 1_510_000_000_000);
    }

    #[test]
    fn rejections_name_the_line() {
        let cases = [
            (
                "date,close\n2020-01-01,1\n2020-01-01,2\n",
                "line 3: duplicate",
            ),
            (
                "date,close\n2020-01-02,1\n2020-01-01,2\n",
                "line 3: timestamp 2020-01-01 is earlier",
            ),
            (
                "date,close\n2020-01-01,1\n2020-01-02,0\n",
                "line 3: close price 0 is not positive",
            ),
            (
                "date,close\n2020-01-01,-1\n2020-01-02,1\n",
                "line 2: close price -1",
            ),
            (
                "date,close\n2020-01-01,abc\n2020-01-02,1\n",
                "line 2: column `close` holds \"abc\"",
            ),
            (
                "date,close\n2020-01-01,1\nsoon,1\n",
                "line 3: column `date`",
            ),
            (
                "date,open,high,low,close\n2020-01-01,1,1,2,1\n2020-01-02,1,1,1,1\n",
                "line 2: high 1 is below low 2",
            ),
            ("when,close\n2020-01-01,1\n", "no time column"),
            ("date,close\n2020-01-01,1\n", "1 data row"),
            (
                "ticker,date,close\nBTCUSDT,2020-01-01,1\nETHUSDT,2020-01-02,1\n",
                "line 3: ticker",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
    }

    #[test]
    fn gaps_are_reported_or_rejected_in_strict_mode() {
        let text = "date,close\n2020-01-01,1\n2020-01-02,1\n2020-01-05,1\n2020-01-06,1\n";
        let s = parse(text).unwrap();
        assert_eq!(s.gaps.len(), 1);
        let g = s.gaps[0];
        assert_eq!((g.line, g.index, g.missing), (4, 2, 2));
        let e = parse_csv(
            text.as_bytes(),
            "t.csv",
            &ImportOptions::default().with_strict(true),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 4: gap of 2 missing bar(s) between 2020-01-02 and 2020-01-05"),
            "{e}"
        );
    }

    #[test]
    fn irregular_step_is_rejected() {
        let e = parse("ts,close\n0,1\n86400,1\n172800,1\n176400,1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 5"), "{e}");
    }

    #[test]
    fn crlf_and_cr_only_files_report_the_right_lines() {
        for nl in ["\n", "\r\n", "\r"] {
            let text = [
                "date,close",
                "2020-01-01,1",
                "2020-01-02,1",
                "2020-01-02,1",
                "",
            ]
            .join(nl);
            let e = parse(&text).unwrap_err().to_string();
            assert!(
                e.contains("line 4: duplicate timestamp 2020-01-02 (already on line 3)"),
                "{nl:?}: {e}"
            );
            let text = [
                "date,close",
                "2020-01-01,1",
                "2020-01-02,1",
                "2020-01-05,1",
                "2020-01-06,1",
            ]
            .join(nl);
            let s = parse(&text).unwrap();
            assert_eq!(s.gaps[0].line, 4, "{nl:?}");
            assert_eq!(s.close.len(), 4);
        }
    }

    #[test]
    fn inconsistent_ohlc_is_flagged_with_its_line_and_strict_rejects_it() {
        // Line 3: a close 1000x above its bar's high (a typo).
        let text = "date,open,high,low,close\n2020-01-01,10,11,9,10\n2020-01-02,10,11,9,10000\n2020-01-03,10,11,9,10\n2020-01-04,10,11,9,10.5\n";
        let s = parse(text).unwrap();
        let ohlc: Vec<_> = s
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::Ohlc)
            .collect();
        assert_eq!(ohlc.len(), 1);
        assert_eq!((ohlc[0].line, ohlc[0].index), (3, 1));
        assert!(
            ohlc[0].detail.contains("close is above high"),
            "{:?}",
            ohlc[0]
        );
        let e = parse_csv(
            text.as_bytes(),
            "t.csv",
            &ImportOptions::default().with_strict(true),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.csv: line 3: inconsistent prices: open 10 high 11 low 9 close 10000"),
            "{e}"
        );
        // low above the open.
        let s = parse("date,open,high,low,close\n2020-01-01,8,11,9,10\n2020-01-02,10,11,9,10\n")
            .unwrap();
        assert_eq!(s.anomalies[0].line, 2);
        assert!(s.anomalies[0].detail.contains("open is below low"));
    }

    #[test]
    fn outliers_flag_the_spike_not_the_row_after_it() {
        let s = parse("date,close\n2020-01-01,100\n2020-01-02,101\n2020-01-03,99000\n2020-01-04,102\n2020-01-05,103\n")
            .unwrap();
        assert_eq!(s.anomalies.len(), 1, "{:?}", s.anomalies);
        let a = &s.anomalies[0];
        assert_eq!((a.line, a.kind), (4, AnomalyKind::Outlier));
        assert!(a.detail.contains("close 99000") && a.detail.contains("jumps back"));
        // Ordinary moves (even 50% in a bar) are not outliers.
        let s = parse("date,close\n2020-01-01,100\n2020-01-02,150\n2020-01-03,75\n").unwrap();
        assert!(s.anomalies.is_empty());
        let e = parse_csv(
            "date,close\n2020-01-01,100\n2020-01-02,0.01\n2020-01-03,100\n".as_bytes(),
            "t.csv",
            &ImportOptions::default().with_strict(true),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t.csv: line 3: close 0.01"), "{e}");
    }

    #[test]
    fn a_ticker_column_naming_another_asset_is_refused() {
        let text = "symbol,date,close\nBNBUSDT,2020-01-01,1\nBNBUSDT,2020-01-02,1\n";
        let e = parse_csv(
            text.as_bytes(),
            "btc.csv",
            &ImportOptions::default().with_symbol("BTC"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("btc.csv: line 2: the ticker column says \"BNBUSDT\" (BNB) but the file is used as BTC (from the given symbol)"),
            "{e}"
        );
        let s = parse_csv(
            text.as_bytes(),
            "btc.csv",
            &ImportOptions::default()
                .with_symbol("BTC")
                .with_ignore_ticker(true),
        )
        .unwrap();
        assert_eq!(s.symbol, "BTC");
        // The matching symbol, in any spelling of the pair.
        for tk in ["BNB", "bnb/usdt", "BNB-USDT"] {
            let t = text.replace("BNBUSDT", tk);
            let s = parse_csv(
                t.as_bytes(),
                "x",
                &ImportOptions::default().with_symbol("BNB"),
            );
            assert_eq!(s.unwrap().symbol, "BNB", "{tk}");
        }
        // A file named for a pair is held to its name.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BTCUSDT_1h.csv");
        std::fs::write(&path, text).unwrap();
        let e = read_csv(&path, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("(from the file name)"), "{e}");
        let s = read_csv(&path, &ImportOptions::default().with_ignore_ticker(true)).unwrap();
        assert_eq!(s.symbol, "BTC");
        // A name that names no pair leaves the ticker in charge.
        let path = dir.path().join("prices.csv");
        std::fs::write(&path, text).unwrap();
        assert_eq!(
            read_csv(&path, &ImportOptions::default()).unwrap().symbol,
            "BNB"
        );
    }

    #[test]
    fn symbols_from_names() {
        assert_eq!(pair_base("data/BTCUSDT_1d.csv").as_deref(), Some("BTC"));
        assert_eq!(pair_base("btc-usdt.csv").as_deref(), Some("BTC"));
        assert_eq!(pair_base("prices.csv"), None);
        assert_eq!(symbol_from_name("data/market/BTCUSDT_1d.csv"), "BTC");
        assert_eq!(symbol_from_name("bnb-usdt.csv"), "BNB");
        assert_eq!(symbol_from_name("ETH.csv"), "ETH");
        assert_eq!(symbol_from_name("USDT.csv"), "USDT");
    }
}
