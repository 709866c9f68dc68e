//! Seed prices: the last close of the project's own daily candles.
use crate::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// A price read from a candle file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedPrice {
    /// Close price in quote units.
    pub close: f64,
    /// The candle's timestamp as written in the file.
    pub timestamp: String,
    /// `file@timestamp`, recorded in the manifest.
    pub source: String,
}

/// Reads the close of the last row of a `timestamp,open,high,low,close,volume` CSV file.
pub fn last_close(path: &Path) -> Result<SeedPrice> {
    let err = |reason: String| Error::Prices {
        path: path.into(),
        reason,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| {
        err(format!(
            "{e}; the daily candles ship in data/market/ (or name the directory that holds them)"
        ))
    })?;
    let headers = reader.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| err(format!("no `{name}` column in the header")))
    };
    let (ts_col, close_col) = (col("timestamp")?, col("close")?);
    let mut last = None;
    for (i, row) in reader.records().enumerate() {
        last = Some((i + 2, row.map_err(|e| err(e.to_string()))?));
    }
    let (line, row) = last.ok_or_else(|| err("no data rows".into()))?;
    let close: f64 = row
        .get(close_col)
        .and_then(|c| c.trim().parse().ok())
        .filter(|c: &f64| c.is_finite() && *c > 0.0)
        .ok_or_else(|| err(format!("line {line}: close is not a positive number")))?;
    let timestamp = row.get(ts_col).unwrap_or_default().trim().to_owned();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(SeedPrice {
        close,
        source: format!("{name}@{timestamp}"),
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_last_close_and_rejects_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("X_1d.csv");
        std::fs::write(&p, "timestamp,open,high,low,close,volume\n2020-01-01,1,2,0.5,1.5,10\n2020-01-02,1.5,3,1,2.25,9\n").unwrap();
        let s = last_close(&p).unwrap();
        assert_eq!((s.close, s.timestamp.as_str()), (2.25, "2020-01-02"));
        assert_eq!(s.source, "X_1d.csv@2020-01-02");

        std::fs::write(
            &p,
            "timestamp,open,high,low,close,volume\n2020-01-01,1,2,0.5,-3,10\n",
        )
        .unwrap();
        assert!(last_close(&p).unwrap_err().to_string().contains("line 2"));
        std::fs::write(&p, "timestamp,price\n2020-01-01,1\n").unwrap();
        assert!(last_close(&p).unwrap_err().to_string().contains("`close`"));
        assert!(last_close(&dir.path().join("missing.csv")).is_err());
    }
}
