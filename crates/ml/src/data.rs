//! Built-in dataset readers.
//!
//! `market`: one OHLCV CSV per asset (parsed and validated by `cairn-market`), aligned on shared
//! bar times. A sample at bar `t` has, per asset, the last `window` simple returns
//! `close[t-i]/close[t-i-1] - 1` as features and, per asset, the realised volatility over the
//! next `horizon` bars, `sqrt(Σ r²)`, as the target; both scaled by 10 so that daily crypto
//! moves are near unit size. Only IEEE basic operations are used (no `ln`), so every platform
//! computes the same bits.
use crate::{Error, Result};
use cairn_compute::DataSpec;
use cairn_market::{ImportOptions, Series, align, parse_csv};

/// Samples as row-major `f32` matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// `n × features`.
    pub x: Vec<f32>,
    /// `n × targets`.
    pub y: Vec<f32>,
    /// Number of samples.
    pub n: usize,
    /// Features per sample.
    pub features: usize,
    /// Targets per sample.
    pub targets: usize,
}

impl Samples {
    /// Row `i` of the features.
    pub fn x_row(&self, i: usize) -> &[f32] {
        &self.x[i * self.features..(i + 1) * self.features]
    }

    /// Row `i` of the targets.
    pub fn y_row(&self, i: usize) -> &[f32] {
        &self.y[i * self.targets..(i + 1) * self.targets]
    }
}

/// Scale of features and targets.
const SCALE: f64 = 10.0;

/// Reads the `market` samples of `spec` from the job's inputs (`(name, bytes)`); `key` is the
/// spec key errors are reported on (`train.data`).
pub fn market_samples(spec: &DataSpec, key: &str, inputs: &[(String, Vec<u8>)]) -> Result<Samples> {
    let names: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
    let files = spec
        .files_for(key, &names)
        .map_err(|e| Error::invalid(format!("{key}.assets"), e.to_string()))?;
    let mut series: Vec<Series> = Vec::with_capacity(files.len());
    for (asset, name) in spec.assets.iter().zip(files) {
        let bytes = &inputs
            .iter()
            .find(|(n, _)| n == name)
            .expect("found above")
            .1;
        let s = parse_csv(
            bytes.as_slice(),
            name,
            &ImportOptions::default().with_symbol(asset.clone()),
        )
        .map_err(|source| Error::Market {
            name: name.to_owned(),
            source: Box::new(source),
        })?;
        series.push(s);
    }
    let refs: Vec<&Series> = series.iter().collect();
    let aligned = align(&refs).map_err(|source| Error::Market {
        name: names.join(", "),
        source: Box::new(source),
    })?;
    let bars = aligned.len();
    let (w, h) = (spec.window as usize, spec.horizon as usize);
    // Returns r[a][t] for t ≥ 1.
    let returns: Vec<Vec<f64>> = aligned
        .close
        .iter()
        .map(|c| {
            let mut r = vec![0.0; c.len()];
            for t in 1..c.len() {
                r[t] = c[t] / c[t - 1] - 1.0;
            }
            r
        })
        .collect();
    // Sample at t uses r[t-w+1..=t] and r[t+1..=t+h].
    if bars < w + h + 2 {
        return Err(Error::invalid(
            format!("{key}.window"),
            format!(
                "the assets share {bars} bars, fewer than window + horizon + 2 = {}",
                w + h + 2
            ),
        ));
    }
    let (first, last) = (w, bars - 1 - h);
    let n = last - first + 1;
    let assets = returns.len();
    let mut x = Vec::with_capacity(n * assets * w);
    let mut y = Vec::with_capacity(n * assets);
    for t in first..=last {
        for r in &returns {
            for i in 0..w {
                x.push((r[t + 1 - w + i] * SCALE) as f32);
            }
        }
        for r in &returns {
            let mut ss = 0.0f64;
            for v in &r[t + 1..=t + h] {
                ss += v * v;
            }
            y.push((ss.sqrt() * SCALE) as f32);
        }
    }
    Ok(Samples {
        x,
        y,
        n,
        features: assets * w,
        targets: assets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(closes: &[f64]) -> Vec<u8> {
        let mut s = String::from("timestamp,open,high,low,close,volume\n");
        for (i, c) in closes.iter().enumerate() {
            s.push_str(&format!("2024-01-{:02},{c},{c},{c},{c},1\n", i + 1));
        }
        s.into_bytes()
    }

    #[test]
    fn features_are_past_returns_and_targets_future_volatility() {
        let spec = DataSpec {
            reader: "market".into(),
            assets: vec!["BTC".into()],
            window: 2,
            horizon: 2,
        };
        let closes = [100.0, 110.0, 99.0, 99.0, 108.9, 108.9];
        let s = market_samples(&spec, "train.data", &[("BTC.csv".into(), csv(&closes))]).unwrap();
        // t = 2..=3: features r[t-1], r[t]; target sqrt(r[t+1]² + r[t+2]²).
        assert_eq!(s.n, 2);
        assert_eq!(s.x_row(0), &[1.0f32, ((99.0 / 110.0 - 1.0) * 10.0) as f32]);
        let r4 = 108.9f64 / 99.0 - 1.0;
        assert_eq!(s.y_row(1)[0], ((0.0 + r4 * r4 + 0.0).sqrt() * 10.0) as f32);
        let e = market_samples(&spec, "train.data", &[("ETH.csv".into(), csv(&closes))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("train.data.assets") && e.contains("BTC"), "{e}");
    }
}
