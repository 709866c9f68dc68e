//! Built-in dataset readers.
//!
//! `market`: one OHLCV CSV per asset (parsed and validated by `cairn-market`), aligned on shared
//! bar times. A sample at bar `t` has, per asset, the last `window` simple returns
//! `close[t-i]/close[t-i-1] - 1` as features and, per asset, the realised volatility over the
//! next `horizon` bars, `sqrt(Σ r²)`, as the target; both scaled by 10 so that daily crypto
//! moves are near unit size. Only IEEE basic operations are used (no `ln`), so every platform
//! computes the same bits.
//!
//! `text`: every input file, in name order, concatenated into one sequence of symbols — bytes,
//! or the corpus's distinct characters in code point order (a vocabulary the corpus alone
//! determines). Sample `i` is the `window` symbols from position `i` (its features, symbol ids
//! as `f32`, exact below 2²⁴) and the symbol after them (its one target). The windows overlap,
//! so the samples are views into one token array rather than copies.
use crate::{Error, Result};
use cairn_compute::DataSpec;
use cairn_market::{ImportOptions, Series, align, parse_csv};

/// Largest text corpus the `text` reader accepts (bytes over all inputs).
pub const MAX_CORPUS_BYTES: usize = 64 << 20;

/// The symbols of a `text` dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vocab {
    /// The 256 byte values.
    Bytes,
    /// Distinct characters, ascending by code point; a symbol's id is its index.
    Chars(Vec<char>),
}

impl Vocab {
    /// Symbols in use.
    pub fn len(&self) -> usize {
        match self {
            Self::Bytes => 256,
            Self::Chars(c) => c.len(),
        }
    }

    /// Whether there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of `text`, or the first character the vocabulary lacks.
    pub fn encode(&self, text: &str) -> std::result::Result<Vec<usize>, char> {
        match self {
            Self::Bytes => Ok(text.bytes().map(usize::from).collect()),
            Self::Chars(chars) => text
                .chars()
                .map(|c| chars.binary_search(&c).map_err(|_| c))
                .collect(),
        }
    }

    /// Symbol `id` as text: the character, or for bytes the character of an ASCII byte and
    /// `\xNN` for any other.
    pub fn symbol(&self, id: usize) -> String {
        match self {
            Self::Bytes if id < 0x80 => char::from(id as u8).to_string(),
            Self::Bytes => format!("\\x{id:02x}"),
            Self::Chars(c) => c.get(id).map_or_else(String::new, char::to_string),
        }
    }
}

/// Samples as row-major `f32` matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// The features: row `i` starts at `i × stride`.
    pub x: Vec<f32>,
    /// The targets: row `i` starts at `i × targets`.
    pub y: Vec<f32>,
    /// Number of samples.
    pub n: usize,
    /// Features per sample.
    pub features: usize,
    /// Targets per sample.
    pub targets: usize,
    /// Distance between the starts of two feature rows: `features` for `market`, 1 for the
    /// overlapping windows of `text`.
    pub stride: usize,
    /// The vocabulary of a `text` dataset.
    pub vocab: Option<Vocab>,
}

impl Samples {
    /// Row `i` of the features.
    pub fn x_row(&self, i: usize) -> &[f32] {
        &self.x[i * self.stride..i * self.stride + self.features]
    }

    /// Row `i` of the targets.
    pub fn y_row(&self, i: usize) -> &[f32] {
        &self.y[i * self.targets..(i + 1) * self.targets]
    }
}

/// Reads the samples of `spec` with its reader ([`market_samples`] or [`text_samples`]).
pub fn samples(spec: &DataSpec, key: &str, inputs: &[(String, Vec<u8>)]) -> Result<Samples> {
    if spec.is_text() {
        text_samples(spec, key, inputs)
    } else {
        market_samples(spec, key, inputs)
    }
}

/// The `text` corpus of `inputs` (every file, in name order) as symbol ids, with its
/// vocabulary under `spec` (`key` names the spec in errors).
pub fn text_tokens(
    spec: &DataSpec,
    key: &str,
    inputs: &[(String, Vec<u8>)],
) -> Result<(Vec<usize>, Vocab)> {
    let mut files: Vec<&(String, Vec<u8>)> = inputs.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let names = || {
        if files.is_empty() {
            "none".to_owned()
        } else {
            files
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let total: usize = files.iter().map(|f| f.1.len()).sum();
    if total == 0 {
        return Err(Error::invalid(
            key,
            format!("the text corpus is empty (inputs: {})", names()),
        ));
    }
    if total > MAX_CORPUS_BYTES {
        return Err(Error::invalid(
            key,
            format!(
                "the text corpus has {total} bytes, more than the {MAX_CORPUS_BYTES} the text reader takes"
            ),
        ));
    }
    match spec.vocab.as_str() {
        "bytes" => {
            let tokens = files
                .iter()
                .flat_map(|f| f.1.iter().map(|&b| usize::from(b)))
                .collect();
            Ok((tokens, Vocab::Bytes))
        }
        _ => {
            let mut text = String::with_capacity(total);
            for (name, bytes) in &files {
                match std::str::from_utf8(bytes) {
                    Ok(t) => text.push_str(t),
                    Err(e) => {
                        return Err(Error::invalid(
                            format!("{key}.vocab"),
                            format!(
                                "input {name} is not UTF-8 (at byte {}); a chars vocabulary needs UTF-8 text, use vocab = \"bytes\" for other data",
                                e.valid_up_to()
                            ),
                        ));
                    }
                }
            }
            let mut chars: Vec<char> = text.chars().collect();
            chars.sort_unstable();
            chars.dedup();
            if chars.len() > spec.vocab_size as usize {
                return Err(Error::invalid(
                    format!("{key}.vocab_size"),
                    format!(
                        "the corpus has {} distinct characters, more than vocab_size = {}; raise vocab_size to at least {}",
                        chars.len(),
                        spec.vocab_size,
                        chars.len()
                    ),
                ));
            }
            let vocab = Vocab::Chars(chars);
            let tokens = vocab
                .encode(&text)
                .expect("every character is in the vocabulary");
            Ok((tokens, vocab))
        }
    }
}

/// Reads the `text` samples of `spec`: `window` symbols of context → the next symbol.
pub fn text_samples(spec: &DataSpec, key: &str, inputs: &[(String, Vec<u8>)]) -> Result<Samples> {
    let (tokens, vocab) = text_tokens(spec, key, inputs)?;
    let w = spec.window as usize;
    if tokens.len() <= w {
        return Err(Error::invalid(
            format!("{key}.window"),
            format!(
                "the corpus has {} symbols; a sample needs window + 1 = {} (lower window or add text)",
                tokens.len(),
                w + 1
            ),
        ));
    }
    let n = tokens.len() - w;
    Ok(Samples {
        x: tokens.iter().map(|&t| t as f32).collect(),
        y: tokens[w..].iter().map(|&t| t as f32).collect(),
        n,
        features: w,
        targets: 1,
        stride: 1,
        vocab: Some(vocab),
    })
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
        stride: assets * w,
        vocab: None,
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
            vocab: String::new(),
            vocab_size: 0,
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

    fn text_spec(vocab: &str, size: u32, window: u32) -> DataSpec {
        DataSpec {
            reader: "text".into(),
            assets: vec![],
            window,
            horizon: 7,
            vocab: vocab.into(),
            vocab_size: size,
        }
    }

    #[test]
    fn text_samples_are_windows_and_the_next_symbol() {
        let ins = vec![
            ("b.txt".into(), b"cab".to_vec()),
            ("a.txt".into(), b"abc".to_vec()),
        ];
        // Name order: "abc" + "cab"; vocabulary a, b, c.
        let s = samples(&text_spec("chars", 8, 2), "train.data", &ins).unwrap();
        assert_eq!(s.vocab, Some(Vocab::Chars(vec!['a', 'b', 'c'])));
        assert_eq!(s.n, 4);
        assert_eq!(s.x_row(0), &[0.0, 1.0]);
        assert_eq!(s.y_row(0), &[2.0]);
        assert_eq!(s.x_row(3), &[2.0, 0.0]);
        assert_eq!(s.y_row(3), &[1.0]);
        let b = samples(&text_spec("bytes", 0, 5), "train.data", &ins).unwrap();
        assert_eq!((b.n, b.x_row(0)[0], b.y_row(0)[0]), (1, 97.0, 98.0));
        assert_eq!(Vocab::Bytes.symbol(0xe9), "\\xe9");
    }

    #[test]
    fn bad_text_corpora_name_the_field() {
        type Case = (DataSpec, Vec<(String, Vec<u8>)>, &'static str);
        let cases: [Case; 4] = [
            (
                text_spec("chars", 8, 2),
                vec![("a.txt".into(), vec![])],
                "`train.data`",
            ),
            (
                text_spec("chars", 8, 9),
                vec![("a.txt".into(), b"abcabc".to_vec())],
                "`train.data.window`",
            ),
            (
                text_spec("chars", 2, 2),
                vec![("a.txt".into(), b"abcabc".to_vec())],
                "`train.data.vocab_size`",
            ),
            (
                text_spec("chars", 8, 2),
                vec![("a.bin".into(), vec![b'a', 0xff, b'b'])],
                "`train.data.vocab`",
            ),
        ];
        for (spec, ins, key) in cases {
            let e = samples(&spec, "train.data", &ins).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        // Bytes take anything.
        let ok = samples(
            &text_spec("bytes", 0, 2),
            "train.data",
            &[("a.bin".into(), vec![b'a', 0xff, b'b'])],
        );
        assert_eq!(ok.unwrap().n, 1);
    }
}
