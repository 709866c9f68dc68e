//! Volatility forecasters: a `train` job's model of the `market` reader, used outside a job —
//! by the wallet agent, whose risk rules read its forecast instead of the realised estimate.
//!
//! The contract is the `market` reader's ([`crate::data`]), fixed by the model file's own
//! training spec (safetensors metadata `cairn.train`), so a model needs nothing else:
//!
//! ```text
//!  closes of every model asset (model order, one per bar, oldest first, t = now)
//!    ─▶ features: per asset, the last `window` simple returns close[t-i]/close[t-i-1] - 1, × 10
//!    ─▶ the MLP (Cairn's reproducible kernels, one thread)
//!    ─▶ per asset: the realised volatility sqrt(Σ r²) over the next `horizon` bars, × 10
//! ```
//!
//! [`VolModel::forecast`] returns the horizon's volatility in plain units (÷ 10);
//! [`annualised`] turns it into the annualised volatility the policy's rules use. The bars must
//! be the ones the model was trained on (the repository's example trains on daily candles).
use crate::{
    Error, Result, model_file,
    train::{layer_shapes, predict},
};
use cairn_compute::TrainSpec;
use sha2::{Digest as _, Sha256};

/// The reader's scale of features and targets (see [`crate::data`]).
const SCALE: f64 = 10.0;

/// A volatility model loaded from a model file.
#[derive(Clone, Debug)]
pub struct VolModel {
    spec: TrainSpec,
    params: Vec<f32>,
    shapes: Vec<(usize, usize)>,
    sha256: [u8; 32],
}

impl VolModel {
    /// Loads a model file (safetensors with Cairn's training spec) whose reader is `market`.
    pub fn from_bytes(bytes: &[u8]) -> Result<VolModel> {
        let (spec, params) = model_file::decode(bytes)?;
        if spec.data.reader != "market" {
            return Err(Error::malformed(
                "model file",
                format!(
                    "its reader is {:?}: a volatility model is trained by the \"market\" reader",
                    spec.data.reader
                ),
            ));
        }
        let shapes = layer_shapes(&spec);
        Ok(VolModel {
            sha256: Sha256::digest(bytes).into(),
            spec,
            params,
            shapes,
        })
    }

    /// SHA-256 of the model file (the `model/v1` statement's subject).
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The assets the model reads and forecasts, in its order.
    pub fn assets(&self) -> &[String] {
        &self.spec.data.assets
    }

    /// Returns per asset in one input.
    pub fn window(&self) -> usize {
        self.spec.data.window as usize
    }

    /// Bars the forecast volatility covers.
    pub fn horizon(&self) -> usize {
        self.spec.data.horizon as usize
    }

    /// Closes (per model asset) needed for one forecast: `window + 1`.
    pub fn bars_needed(&self) -> usize {
        self.window() + 1
    }

    /// The training spec the model file carries.
    pub fn spec(&self) -> &TrainSpec {
        &self.spec
    }

    /// The input row at bar `t` of `closes` (one slice per model asset, in model order), exactly
    /// as the `market` reader builds a sample's features; `None` before `window` returns exist
    /// or when a price is not finite and positive.
    pub fn features(&self, closes: &[&[f64]], t: usize) -> Option<Vec<f32>> {
        let w = self.window();
        if closes.len() != self.assets().len() || t < w {
            return None;
        }
        let mut x = Vec::with_capacity(closes.len() * w);
        for c in closes {
            if t >= c.len() {
                return None;
            }
            for i in 0..w {
                let (prev, now) = (c[t - w + i], c[t + 1 - w + i]);
                if !(prev.is_finite() && prev > 0.0 && now.is_finite() && now > 0.0) {
                    return None;
                }
                x.push(((now / prev - 1.0) * SCALE) as f32);
            }
        }
        Some(x)
    }

    /// The forecast at bar `t`: per model asset, the realised volatility over the next
    /// `horizon` bars (root of summed squared simple returns), or `None` as for
    /// [`VolModel::features`]. Negative outputs (the model is a regression) read as 0.
    pub fn forecast(&self, closes: &[&[f64]], t: usize) -> Option<Vec<f64>> {
        let x = self.features(closes, t)?;
        let y = predict(&self.shapes, &self.params, &x, 1, 1);
        Some(y.iter().map(|&v| (f64::from(v) / SCALE).max(0.0)).collect())
    }
}

/// The annualised volatility of a forecast over `horizon` bars, with `bars_per_year` bars a
/// year: `forecast / √horizon` per bar, times `√bars_per_year` (the policy's convention).
pub fn annualised(forecast: f64, horizon: usize, bars_per_year: f64) -> f64 {
    forecast / (horizon.max(1) as f64).sqrt() * bars_per_year.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{data::market_samples, train::TrainState};

    fn csv(closes: &[f64]) -> Vec<u8> {
        let mut s = String::from("timestamp,open,high,low,close,volume\n");
        for (i, c) in closes.iter().enumerate() {
            let day = i as i64 * 86_400_000 + 1_704_067_200_000;
            s.push_str(&format!("{day},{c},{c},{c},{c},1\n"));
        }
        s.into_bytes()
    }

    fn spec(reader: &str) -> TrainSpec {
        serde_json::from_value(serde_json::json!({
            "model": "mlp", "hidden": 8, "layers": 1, "seed": 3, "optimiser": "sgd",
            "learning_rate": 0.01, "batch_size": 4, "steps": 2, "checkpoint_every": 1,
            "data": {"reader": reader, "assets": ["BTC", "BNB"], "window": 3, "horizon": 2},
        }))
        .unwrap()
    }

    fn closes(seed: u64, n: usize) -> Vec<f64> {
        let mut r = crate::train::SplitMix64::new(seed);
        let mut p = 100.0;
        (0..n)
            .map(|_| {
                p *= 1.0 + (r.unit_f32() as f64 - 0.5) * 0.1;
                p
            })
            .collect()
    }

    #[test]
    fn features_and_forecasts_are_the_readers_and_the_models() {
        let spec = spec("market");
        let state = TrainState::init(&spec);
        let bytes = model_file::encode(&spec, &state.params).unwrap();
        let m = VolModel::from_bytes(&bytes).unwrap();
        assert_eq!(m.assets(), ["BTC", "BNB"]);
        assert_eq!(m.sha256(), <[u8; 32]>::from(Sha256::digest(&bytes)));
        let (btc, bnb) = (closes(1, 12), closes(2, 12));
        let samples = market_samples(
            &spec.data,
            "train.data",
            &[("BTC.csv".into(), csv(&btc)), ("BNB.csv".into(), csv(&bnb))],
        )
        .unwrap();
        // The reader's first sample is at bar `window`.
        for s in 0..samples.n {
            let t = s + m.window();
            let x = m.features(&[&btc, &bnb], t).unwrap();
            assert_eq!(x.as_slice(), samples.x_row(s), "sample {s}");
            let f = m.forecast(&[&btc, &bnb], t).unwrap();
            let y = predict(&m.shapes, &m.params, samples.x_row(s), 1, 1);
            for (a, b) in f.iter().zip(&y) {
                assert_eq!(*a, (f64::from(*b) / SCALE).max(0.0));
            }
        }
        assert!(m.features(&[&btc, &bnb], 2).is_none(), "before the window");
        assert!(m.features(&[&btc], 5).is_none(), "an asset missing");
        let mut bad = btc.clone();
        bad[4] = 0.0;
        assert!(m.features(&[&bad, &bnb], 5).is_none(), "a zero price");
    }

    #[test]
    fn only_market_models_are_volatility_models() {
        let mut spec = spec("market");
        spec.data.reader = "text".into();
        spec.data.assets.clear();
        spec.data.vocab = "bytes".into();
        let state = TrainState::init(&spec);
        let bytes = model_file::encode(&spec, &state.params).unwrap();
        let e = VolModel::from_bytes(&bytes).unwrap_err().to_string();
        assert!(e.contains("market"), "{e}");
        let e = VolModel::from_bytes(b"not a model")
            .unwrap_err()
            .to_string();
        assert!(e.contains("model file"), "{e}");
    }

    #[test]
    fn annualising_divides_by_the_horizon_and_scales_by_the_year() {
        // 7 daily bars with 2% per bar: sqrt(7)·0.02 over the horizon, 0.02·sqrt(365) a year.
        let h = 7f64.sqrt() * 0.02;
        assert!((annualised(h, 7, 365.0) - 0.02 * 365f64.sqrt()).abs() < 1e-12);
    }
}
