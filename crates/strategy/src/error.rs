//! Why a plan was rejected. Every message names the key in `plan.toml` and what is allowed, so a
//! person can fix the file without reading the source.

/// Errors from parsing or validating a plan, or from applying a sweep parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The TOML is malformed, a key is unknown or a value has the wrong type.
    #[error("invalid plan: {0}")]
    Parse(String),
    /// A value is outside its allowed range.
    #[error("invalid plan: `{key}` = {value} is out of range; allowed: {allowed}")]
    OutOfRange {
        /// Dotted key, e.g. `risk.vol_target.target` or `assets[1].weight`.
        key: String,
        /// The value given.
        value: String,
        /// The allowed range or set, in words.
        allowed: String,
    },
    /// The plan is inconsistent across keys (weights not summing to 1, duplicate symbols, ...).
    #[error("invalid plan: `{key}`: {detail}")]
    Inconsistent {
        /// Dotted key the problem is reported on.
        key: String,
        /// What is wrong and what to do.
        detail: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks `lo <= v <= hi` (and finiteness), naming `key` and `allowed` on failure.
pub(crate) fn check_range(key: &str, v: f64, lo: f64, hi: f64, allowed: &str) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            key: key.to_string(),
            value: fmt_num(v),
            allowed: allowed.to_string(),
        })
    }
}

/// Checks `lo < v <= hi`.
pub(crate) fn check_open_low(key: &str, v: f64, lo: f64, hi: f64, allowed: &str) -> Result<()> {
    if v.is_finite() && v > lo && v <= hi {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            key: key.to_string(),
            value: fmt_num(v),
            allowed: allowed.to_string(),
        })
    }
}

pub(crate) fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        // Round away binary noise (0.8999999999999999 -> 0.9) for people reading messages.
        let r = (v * 1e12).round() / 1e12;
        format!("{}", if r.is_finite() { r } else { v })
    }
}
