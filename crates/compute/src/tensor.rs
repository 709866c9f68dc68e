//! The tensor job kinds, `train` and `infer`: their `job.toml` sections, validation and metering.
//!
//! ```toml
//! kind = "train"
//! dataset = "data/market"          # one OHLCV CSV per asset
//! [train]
//! model = "mlp"                    # mlp
//! hidden = 32                      # units per hidden layer
//! layers = 2                       # hidden layers
//! seed = 7
//! optimiser = "adam"               # sgd | adam
//! learning_rate = 0.001
//! batch_size = 32
//! steps = 400
//! checkpoint_every = 50            # a trace checkpoint every k steps (and at the end)
//! [train.data]
//! reader = "market"                # next-period realised volatility from returns
//! assets = ["BTC", "BNB"]
//! window = 16                      # returns per asset in a sample
//! horizon = 7                      # bars of future returns the volatility is measured over
//! ```
//!
//! Metering is in units a verifier recomputes from the spec alone: a `train` job costs
//! `steps × parameters` units ([`TrainSpec::work_units`]), an `infer` job `samples × parameters`.
//! The price per million units is `price.per_mfuel`, and `limits.fuel` caps the units, exactly
//! as fuel does for `wasm`.
use crate::{Error, Result, error::check_u64};
use serde::{Deserialize, Serialize};

/// Largest model a tensor job may describe (parameters).
pub const MAX_PARAMETERS: u64 = 100_000_000;
/// Most training steps.
pub const MAX_STEPS: u64 = 10_000_000;
/// Largest batch.
pub const MAX_BATCH: u64 = 65_536;
/// Widest hidden layer.
pub const MAX_HIDDEN: u64 = 4_096;
/// Most hidden layers.
pub const MAX_LAYERS: u64 = 8;
/// Longest input window (returns per asset).
pub const MAX_WINDOW: u64 = 512;
/// Longest volatility horizon (bars).
pub const MAX_HORIZON: u64 = 365;
/// Most assets a market reader combines.
pub const MAX_ASSETS: usize = 16;
/// Most checkpoints a trace may hold (the trace is committed, its checkpoints stored).
pub const MAX_CHECKPOINTS: u64 = 10_000;

/// The model architectures the `train` runner builds.
pub const MODELS: [&str; 1] = ["mlp"];
/// The optimisers.
pub const OPTIMISERS: [&str; 2] = ["sgd", "adam"];
/// The dataset readers.
pub const READERS: [&str; 1] = ["market"];

/// `[train.data]`: which built-in reader turns the dataset's files into samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// `market`: features are the last `window` simple returns of every asset, targets the
    /// realised volatility (root of summed squared returns) of every asset over the next
    /// `horizon` bars.
    pub reader: String,
    /// Asset symbols, in order; each needs an input CSV whose file name starts with it
    /// (`BTCUSDT_1d.csv` for `BTC`).
    pub assets: Vec<String>,
    /// Returns per asset in one sample.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Bars the target volatility covers.
    #[serde(default = "default_horizon")]
    pub horizon: u32,
}

fn default_window() -> u32 {
    16
}
fn default_horizon() -> u32 {
    7
}
fn default_hidden() -> u32 {
    32
}
fn default_layers() -> u32 {
    2
}
fn default_batch() -> u32 {
    32
}
fn default_checkpoint_every() -> u64 {
    50
}
fn default_optimiser() -> String {
    "adam".into()
}

/// `[train]`: what to train and how. Part of the resolved spec, so its digest is escrowed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Architecture: one of [`MODELS`].
    pub model: String,
    /// Units per hidden layer.
    #[serde(default = "default_hidden")]
    pub hidden: u32,
    /// Hidden layers.
    #[serde(default = "default_layers")]
    pub layers: u32,
    /// Seeds the initial weights and the batch order.
    #[serde(default)]
    pub seed: u64,
    /// One of [`OPTIMISERS`].
    #[serde(default = "default_optimiser")]
    pub optimiser: String,
    /// Learning rate (finite, above 0, at most 10).
    pub learning_rate: f64,
    /// Samples per step.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    /// Optimiser steps.
    pub steps: u64,
    /// A trace checkpoint every this many steps (and one after the last step).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// The dataset reader.
    pub data: DataSpec,
}

/// `[infer]`: a trained model over inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InferSpec {
    /// The model file (`sha256:<hex>` of a `model.safetensors` a `train` job produced). The
    /// resolved spec lists it as the input `model.safetensors`.
    pub model: String,
    /// Samples per forward pass. The inputs are read with the reader settings the model was
    /// trained with (stored in the model file).
    #[serde(default = "default_batch")]
    pub batch_size: u32,
}

/// The name the model file of an `infer` job has under `/input`.
pub const INFER_MODEL_INPUT: &str = "model.safetensors";

impl DataSpec {
    /// Input features per sample.
    pub fn features(&self) -> u64 {
        self.assets.len() as u64 * u64::from(self.window)
    }

    /// Targets per sample.
    pub fn targets(&self) -> u64 {
        self.assets.len() as u64
    }

    fn validate(&self, key: &str) -> Result<()> {
        if !READERS.contains(&self.reader.as_str()) {
            return Err(Error::invalid(
                format!("{key}.reader"),
                format!(
                    "unknown reader {:?}; known: {}",
                    self.reader,
                    READERS.join(", ")
                ),
            ));
        }
        if self.assets.is_empty() || self.assets.len() > MAX_ASSETS {
            return Err(Error::range(
                format!("{key}.assets"),
                format!("{} assets", self.assets.len()),
                format!("1 to {MAX_ASSETS} asset symbols"),
            ));
        }
        for (i, a) in self.assets.iter().enumerate() {
            if a.is_empty() || a.len() > 16 || !a.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::invalid(
                    format!("{key}.assets[{i}]"),
                    format!("{a:?} is not a symbol (1 to 16 letters or digits)"),
                ));
            }
            if self.assets[..i].iter().any(|b| b.eq_ignore_ascii_case(a)) {
                return Err(Error::invalid(
                    format!("{key}.assets[{i}]"),
                    format!("{a:?} is listed twice"),
                ));
            }
        }
        check_u64(
            &format!("{key}.window"),
            self.window.into(),
            1,
            MAX_WINDOW,
            "1 to 512 returns",
        )?;
        check_u64(
            &format!("{key}.horizon"),
            self.horizon.into(),
            1,
            MAX_HORIZON,
            "1 to 365 bars",
        )
    }

    /// The input file for each asset: the first `.csv` input (by name) whose file name starts
    /// with the symbol, case-insensitively.
    pub fn files_for<'a>(&self, key: &str, names: &[&'a str]) -> Result<Vec<&'a str>> {
        self.assets
            .iter()
            .enumerate()
            .map(|(i, a)| {
                names
                    .iter()
                    .copied()
                    .find(|n| {
                        let base = n.rsplit('/').next().unwrap_or(n).to_ascii_uppercase();
                        base.starts_with(&a.to_ascii_uppercase()) && base.ends_with(".CSV")
                    })
                    .ok_or_else(|| {
                        Error::invalid(
                            format!("{key}.assets[{i}]"),
                            format!(
                                "no input CSV for {a:?} (its file name must start with the symbol, e.g. {a}USDT_1d.csv); inputs: {}",
                                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                            ),
                        )
                    })
            })
            .collect()
    }
}

impl TrainSpec {
    /// Trainable parameters of the model the spec describes.
    pub fn parameters(&self) -> u64 {
        mlp_parameters(
            self.data.features(),
            u64::from(self.hidden),
            u64::from(self.layers),
            self.data.targets(),
        )
    }

    /// Metered units of the whole run: `steps × parameters`.
    pub fn work_units(&self) -> u64 {
        self.steps.saturating_mul(self.parameters())
    }

    /// Steps at which the trace records a checkpoint: 0, every `checkpoint_every`, and the last.
    pub fn checkpoint_steps(&self) -> Vec<u64> {
        let mut out: Vec<u64> = (0..self.steps)
            .step_by(self.checkpoint_every.max(1) as usize)
            .collect();
        out.push(self.steps);
        out
    }

    /// The canonical bytes (compact JSON in field order): the "program" of a train job, stored
    /// as its module blob so the receipt's module digest names the training recipe.
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a train spec always serializes")
    }

    /// Checks every value, naming the `job.toml` key at fault.
    pub fn validate(&self) -> Result<()> {
        if !MODELS.contains(&self.model.as_str()) {
            return Err(Error::invalid(
                "train.model",
                format!(
                    "unknown model {:?}; known: {}",
                    self.model,
                    MODELS.join(", ")
                ),
            ));
        }
        if !OPTIMISERS.contains(&self.optimiser.as_str()) {
            return Err(Error::invalid(
                "train.optimiser",
                format!(
                    "unknown optimiser {:?}; known: {}",
                    self.optimiser,
                    OPTIMISERS.join(", ")
                ),
            ));
        }
        check_u64(
            "train.hidden",
            self.hidden.into(),
            1,
            MAX_HIDDEN,
            "1 to 4096 units",
        )?;
        check_u64(
            "train.layers",
            self.layers.into(),
            1,
            MAX_LAYERS,
            "1 to 8 hidden layers",
        )?;
        let lr = self.learning_rate;
        if !lr.is_finite() || lr <= 0.0 || lr > 10.0 {
            return Err(Error::range(
                "train.learning_rate",
                lr,
                "a finite number above 0 and at most 10",
            ));
        }
        check_u64(
            "train.batch_size",
            self.batch_size.into(),
            1,
            MAX_BATCH,
            "1 to 65536 samples",
        )?;
        check_u64(
            "train.steps",
            self.steps,
            1,
            MAX_STEPS,
            "1 to 10000000 steps",
        )?;
        check_u64(
            "train.checkpoint_every",
            self.checkpoint_every,
            1,
            self.steps,
            &format!("1 to {} (train.steps)", self.steps),
        )?;
        let checkpoints = self.steps.div_ceil(self.checkpoint_every) + 1;
        if checkpoints > MAX_CHECKPOINTS {
            return Err(Error::range(
                "train.checkpoint_every",
                self.checkpoint_every,
                format!(
                    "at least {} (at most {MAX_CHECKPOINTS} checkpoints per run)",
                    self.steps.div_ceil(MAX_CHECKPOINTS - 1)
                ),
            ));
        }
        self.data.validate("train.data")?;
        let params = self.parameters();
        if params > MAX_PARAMETERS {
            return Err(Error::range(
                "train.hidden",
                self.hidden,
                format!(
                    "a model of at most {MAX_PARAMETERS} parameters (this one has {params}); lower train.hidden or train.layers"
                ),
            ));
        }
        Ok(())
    }
}

impl InferSpec {
    /// The model file's SHA-256 (hex), if `model` is `sha256:<64 lowercase hex>`.
    pub fn model_sha256(&self) -> Option<&str> {
        let hex = self.model.strip_prefix("sha256:")?;
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then_some(hex)
    }

    /// The canonical bytes: the "program" of an infer job (its module blob).
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an infer spec always serializes")
    }

    /// Checks every value, naming the `job.toml` key at fault.
    pub fn validate(&self) -> Result<()> {
        if self.model_sha256().is_none() {
            return Err(Error::invalid(
                "infer.model",
                format!(
                    "{:?} is not sha256:<64 lowercase hex digits> (the digest of a model.safetensors a train job produced)",
                    self.model
                ),
            ));
        }
        check_u64(
            "infer.batch_size",
            self.batch_size.into(),
            1,
            MAX_BATCH,
            "1 to 65536 samples",
        )
    }
}

/// Parameters of an MLP with `layers` hidden layers of `hidden` units (weights and biases).
pub fn mlp_parameters(inputs: u64, hidden: u64, layers: u64, outputs: u64) -> u64 {
    let first = inputs.saturating_mul(hidden).saturating_add(hidden);
    let middle = layers
        .saturating_sub(1)
        .saturating_mul(hidden.saturating_mul(hidden).saturating_add(hidden));
    let last = hidden.saturating_mul(outputs).saturating_add(outputs);
    first.saturating_add(middle).saturating_add(last)
}

#[cfg(test)]
mod tests {
    use crate::{BlobRef, InputRef, JobFile};

    const TRAIN: &str = r#"
name = "vol"
kind = "train"
dataset = "market"
[train]
model = "mlp"
hidden = 8
layers = 2
seed = 1
optimiser = "adam"
learning_rate = 0.01
batch_size = 16
steps = 100
checkpoint_every = 25
[train.data]
reader = "market"
assets = ["BTC", "BNB"]
window = 4
horizon = 3
[price]
per_mfuel = 5
"#;

    fn input(name: &str) -> InputRef {
        InputRef {
            name: name.into(),
            blob: BlobRef::of(name.as_bytes()),
        }
    }

    #[test]
    fn a_train_file_resolves_with_its_program_and_metering() {
        let f = JobFile::from_toml(TRAIN).unwrap();
        let t = f.train.as_ref().unwrap();
        // 8 inputs → 8 hidden → 8 hidden → 2 outputs.
        assert_eq!(t.parameters(), 8 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2);
        assert_eq!(t.work_units(), 100 * t.parameters());
        assert_eq!(t.checkpoint_steps(), vec![0, 25, 50, 75, 100]);
        let program = f.program().unwrap();
        let inputs = vec![input("BTCUSDT_1d.csv"), input("BNBUSDT_1d.csv")];
        let spec = f
            .resolve(BlobRef::of(&program), inputs.clone(), None)
            .unwrap();
        assert_eq!(spec.train.as_ref(), Some(t));
        // The module must be the program.
        assert!(
            f.resolve(BlobRef::of(b"other"), inputs, None)
                .unwrap_err()
                .to_string()
                .contains("`module`")
        );
        // Every asset needs a CSV.
        let e = f
            .resolve(BlobRef::of(&program), vec![input("BTCUSDT_1d.csv")], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("train.data.assets[1]") && e.contains("BNB"),
            "{e}"
        );
    }

    #[test]
    fn bad_train_specs_name_the_field() {
        let cases = [
            ("model = \"mlp\"", "model = \"cnn\"", "`train.model`"),
            (
                "optimiser = \"adam\"",
                "optimiser = \"rmsprop\"",
                "`train.optimiser`",
            ),
            (
                "learning_rate = 0.01",
                "learning_rate = nan",
                "`train.learning_rate`",
            ),
            (
                "learning_rate = 0.01",
                "learning_rate = inf",
                "`train.learning_rate`",
            ),
            (
                "learning_rate = 0.01",
                "learning_rate = -1.0",
                "`train.learning_rate`",
            ),
            ("hidden = 8", "hidden = 100000", "`train.hidden`"),
            (
                "hidden = 8\nlayers = 2",
                "hidden = 4096\nlayers = 8",
                "`train.hidden`",
            ),
            ("batch_size = 16", "batch_size = 0", "`train.batch_size`"),
            ("steps = 100", "steps = 0", "`train.steps`"),
            (
                "checkpoint_every = 25",
                "checkpoint_every = 1000",
                "`train.checkpoint_every`",
            ),
            ("window = 4", "window = 100000", "`train.data.window`"),
            (
                "assets = [\"BTC\", \"BNB\"]",
                "assets = []",
                "`train.data.assets`",
            ),
            (
                "reader = \"market\"",
                "reader = \"images\"",
                "`train.data.reader`",
            ),
            ("dataset = \"market\"\n", "", "`dataset`"),
            ("[price]", "[limits]\nfuel = 1000\n[price]", "`limits.fuel`"),
            ("kind = \"train\"", "kind = \"infer\"", "`infer`"),
        ];
        for (from, to, key) in cases {
            let text = TRAIN.replace(from, to);
            let e = JobFile::from_toml(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{to}: {e}");
        }
        let e = JobFile::from_toml(&TRAIN.replace("[train]", "module = \"x.wasm\"\n[train]"));
        assert!(e.is_err());
    }

    #[test]
    fn infer_files_name_the_model_by_digest() {
        let model = BlobRef::of(b"weights");
        let text = format!(
            "name = \"p\"\nkind = \"infer\"\ninputs = [\"BTC.csv\"]\n[infer]\nmodel = \"sha256:{}\"\n[price]\nper_mfuel = 1\n",
            model.sha256
        );
        let f = JobFile::from_toml(&text).unwrap();
        let program = f.program().unwrap();
        let m = InputRef {
            name: super::INFER_MODEL_INPUT.into(),
            blob: model,
        };
        f.resolve(BlobRef::of(&program), vec![m, input("BTC.csv")], None)
            .unwrap();
        let e = f
            .resolve(BlobRef::of(&program), vec![input("BTC.csv")], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`infer.model`"), "{e}");
        let e = JobFile::from_toml(&text.replace("sha256:", "md5:"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`infer.model`"), "{e}");
    }
}
