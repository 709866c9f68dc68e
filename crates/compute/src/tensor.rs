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
//! A character-level language model on a text corpus (every input file, in name order):
//!
//! ```toml
//! kind = "train"
//! dataset = "examples/jobs/charlm/corpus"
//! [train]
//! model = "gru"                    # embedding (hidden wide) → GRU layers → linear head, softmax
//! hidden = 64                      # GRU state (and embedding) width
//! layers = 1                       # stacked GRU layers
//! learning_rate = 0.01
//! steps = 300
//! [train.data]
//! reader = "text"                  # samples: window characters of context → the next one
//! vocab = "chars"                  # chars: the corpus's distinct characters (UTF-8); bytes: 256
//! vocab_size = 96                  # symbols the model has room for (chars only; at least the
//!                                  # corpus's distinct characters)
//! window = 32                      # characters of context (steps of backpropagation through time)
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
/// Largest `chars` vocabulary of the `text` reader.
pub const MAX_VOCAB: u64 = 4_096;
/// Symbols of the `bytes` vocabulary.
pub const BYTE_VOCAB: u64 = 256;

/// The model architectures the `train` runner builds.
pub const MODELS: [&str; 2] = ["mlp", "gru"];
/// The optimisers.
pub const OPTIMISERS: [&str; 2] = ["sgd", "adam"];
/// The dataset readers.
pub const READERS: [&str; 2] = ["market", "text"];
/// The vocabularies of the `text` reader.
pub const VOCABS: [&str; 2] = ["chars", "bytes"];

/// `[train.data]`: which built-in reader turns the dataset's files into samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// `market`: features are the last `window` simple returns of every asset, targets the
    /// realised volatility (root of summed squared returns) of every asset over the next
    /// `horizon` bars. `text`: every input file, in name order, as one sequence of symbols of
    /// the `vocab`; a sample is `window` symbols of context and the symbol after them.
    pub reader: String,
    /// `market`: asset symbols, in order; each needs an input CSV whose file name starts with
    /// it (`BTCUSDT_1d.csv` for `BTC`). Not used by `text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    /// `market`: returns per asset in one sample; `text`: symbols of context.
    #[serde(default = "default_window")]
    pub window: u32,
    /// `market`: bars the target volatility covers. Not used by `text`.
    #[serde(default = "default_horizon")]
    pub horizon: u32,
    /// `text`: `chars` (the distinct Unicode characters of the corpus, which must be UTF-8, in
    /// code point order) or `bytes` (the 256 byte values).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vocab: String,
    /// `text` with `vocab = "chars"`: symbols the model has room for (its embedding rows and
    /// outputs), at least the corpus's distinct characters. The spec alone fixes the model's
    /// size, so metering never depends on the data. `bytes` is always 256.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vocab_size: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
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
    /// trained with (stored in the model file); for a `text` model every other input file
    /// holds prompts, one per line.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    /// `text` models: characters generated greedily after each prompt (0: only the
    /// next-character probabilities). Not used by market models.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generate: u32,
}

/// Most characters an `infer` job generates per prompt.
pub const MAX_GENERATE: u64 = 4_096;

/// The name the model file of an `infer` job has under `/input`.
pub const INFER_MODEL_INPUT: &str = "model.safetensors";

impl DataSpec {
    /// Whether this is the `text` reader.
    pub fn is_text(&self) -> bool {
        self.reader == "text"
    }

    /// Input features per sample (`text`: the context symbols).
    pub fn features(&self) -> u64 {
        if self.is_text() {
            return u64::from(self.window);
        }
        self.assets.len() as u64 * u64::from(self.window)
    }

    /// Targets per sample (`text`: one output per vocabulary symbol).
    pub fn targets(&self) -> u64 {
        if self.is_text() {
            return self.vocab_len();
        }
        self.assets.len() as u64
    }

    /// Symbols of the `text` vocabulary (0 for other readers).
    pub fn vocab_len(&self) -> u64 {
        match self.vocab.as_str() {
            "bytes" => BYTE_VOCAB,
            "chars" => u64::from(self.vocab_size),
            _ => 0,
        }
    }

    fn validate_text(&self, key: &str) -> Result<()> {
        if !self.assets.is_empty() {
            return Err(Error::invalid(
                format!("{key}.assets"),
                "the text reader reads every input file; remove assets",
            ));
        }
        match self.vocab.as_str() {
            "chars" => check_u64(
                &format!("{key}.vocab_size"),
                self.vocab_size.into(),
                2,
                MAX_VOCAB,
                "2 to 4096 symbols (at least the corpus's distinct characters)",
            )?,
            "bytes" if self.vocab_size == 0 || u64::from(self.vocab_size) == BYTE_VOCAB => {}
            "bytes" => {
                return Err(Error::range(
                    format!("{key}.vocab_size"),
                    self.vocab_size,
                    "256 or unset (the bytes vocabulary has 256 symbols)",
                ));
            }
            other => {
                return Err(Error::invalid(
                    format!("{key}.vocab"),
                    format!(
                        "{other:?} is not a vocabulary; the text reader needs one of: {}",
                        VOCABS.join(", ")
                    ),
                ));
            }
        }
        check_u64(
            &format!("{key}.window"),
            self.window.into(),
            1,
            MAX_WINDOW,
            "1 to 512 characters of context",
        )
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
        if self.is_text() {
            return self.validate_text(key);
        }
        if !self.vocab.is_empty() || self.vocab_size != 0 {
            return Err(Error::invalid(
                format!("{key}.vocab"),
                "only the text reader has a vocabulary; remove vocab and vocab_size",
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
    /// For `text`: every input, in the order given (at least one).
    pub fn files_for<'a>(&self, key: &str, names: &[&'a str]) -> Result<Vec<&'a str>> {
        if self.is_text() {
            if names.is_empty() {
                return Err(Error::invalid(
                    key,
                    "the text reader needs at least one input file (the corpus)",
                ));
            }
            return Ok(names.to_vec());
        }
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
        if self.model == "gru" {
            return gru_parameters(
                self.data.vocab_len(),
                u64::from(self.hidden),
                u64::from(self.layers),
            );
        }
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
        match (self.model.as_str(), self.data.is_text()) {
            ("gru", false) => {
                return Err(Error::invalid(
                    "train.data.reader",
                    format!(
                        "model \"gru\" is a language model and reads text; set reader = \"text\" (not {:?})",
                        self.data.reader
                    ),
                ));
            }
            ("mlp", true) => {
                return Err(Error::invalid(
                    "train.model",
                    "the text reader's samples are symbol sequences; use model = \"gru\" (mlp reads market features)",
                ));
            }
            _ => {}
        }
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
        )?;
        check_u64(
            "infer.generate",
            self.generate.into(),
            0,
            MAX_GENERATE,
            "0 to 4096 characters per prompt",
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

/// Parameters of the `gru` model: an embedding of `vocab × hidden`, `layers` GRU layers (input
/// and recurrent weights `hidden × 3·hidden` each, two biases of `3·hidden`) and a linear head
/// `hidden × vocab` with its bias.
pub fn gru_parameters(vocab: u64, hidden: u64, layers: u64) -> u64 {
    let embedding = vocab.saturating_mul(hidden);
    let gates = hidden.saturating_mul(3);
    let layer = hidden
        .saturating_mul(gates)
        .saturating_mul(2)
        .saturating_add(gates.saturating_mul(2));
    let head = hidden.saturating_mul(vocab).saturating_add(vocab);
    embedding
        .saturating_add(layers.saturating_mul(layer))
        .saturating_add(head)
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

#[cfg(test)]
mod text_tests {
    use crate::JobFile;

    const CHARLM: &str = r#"
name = "charlm"
kind = "train"
dataset = "corpus"
[train]
model = "gru"
hidden = 16
layers = 2
learning_rate = 0.01
steps = 10
checkpoint_every = 5
[train.data]
reader = "text"
vocab = "chars"
vocab_size = 40
window = 8
[price]
per_mfuel = 5
"#;

    #[test]
    fn a_gru_spec_meters_its_embedding_layers_and_head() {
        let f = JobFile::from_toml(CHARLM).unwrap();
        let t = f.train.as_ref().unwrap();
        let (v, h) = (40, 16);
        let layer = 2 * (h * 3 * h) + 2 * 3 * h;
        assert_eq!(t.parameters(), v * h + 2 * layer + h * v + v);
        assert_eq!(t.data.features(), 8);
        assert_eq!(t.data.targets(), 40);
        // bytes: 256 symbols whatever the corpus.
        let b = JobFile::from_toml(
            &CHARLM.replace("vocab = \"chars\"\nvocab_size = 40", "vocab = \"bytes\""),
        )
        .unwrap();
        assert_eq!(b.train.unwrap().data.targets(), 256);
        // The canonical JSON of a market spec does not grow the text fields.
        let m = super::DataSpec {
            reader: "market".into(),
            assets: vec!["BTC".into()],
            window: 4,
            horizon: 3,
            vocab: String::new(),
            vocab_size: 0,
        };
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("vocab"), "{json}");
    }

    #[test]
    fn bad_text_specs_name_the_field() {
        let cases = [
            (
                "vocab = \"chars\"",
                "vocab = \"words\"",
                "`train.data.vocab`",
            ),
            ("vocab = \"chars\"\n", "", "`train.data.vocab`"),
            (
                "vocab_size = 40",
                "vocab_size = 100000",
                "`train.data.vocab_size`",
            ),
            (
                "vocab_size = 40",
                "vocab_size = 1",
                "`train.data.vocab_size`",
            ),
            (
                "vocab = \"chars\"\nvocab_size = 40",
                "vocab = \"bytes\"\nvocab_size = 40",
                "`train.data.vocab_size`",
            ),
            ("window = 8", "window = 0", "`train.data.window`"),
            (
                "reader = \"text\"",
                "reader = \"text\"\nassets = [\"BTC\"]",
                "`train.data.assets`",
            ),
            ("model = \"gru\"", "model = \"mlp\"", "`train.model`"),
            (
                "reader = \"text\"\nvocab = \"chars\"\nvocab_size = 40",
                "reader = \"market\"\nassets = [\"BTC\"]",
                "`train.data.reader`",
            ),
            ("hidden = 16", "hidden = 4096", "`train.hidden`"),
        ];
        for (from, to, key) in cases {
            let text = CHARLM.replace(from, to);
            let e = JobFile::from_toml(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{to}: {e}");
        }
        // A market spec may not carry a vocabulary.
        let e = JobFile::from_toml(
            &CHARLM
                .replace("model = \"gru\"", "model = \"mlp\"")
                .replace(
                    "reader = \"text\"",
                    "reader = \"market\"\nassets = [\"BTC\"]",
                ),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`train.data.vocab`"), "{e}");
    }
}
