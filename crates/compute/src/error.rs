//! Why a job spec (or a size, price or state change) was rejected. Every message names the key in
//! `job.toml` and what is allowed, so a requester can fix the file without reading the source.

/// Errors from parsing and validating job specs and from the job state machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The TOML is malformed, a key is unknown or a value has the wrong type.
    #[error("invalid job spec: {0}")]
    Parse(String),
    /// A value is outside its allowed range.
    #[error("invalid job spec: `{key}` = {value} is out of range; allowed: {allowed}")]
    OutOfRange {
        /// Dotted key, e.g. `resources.memory` or `inputs[2]`.
        key: String,
        /// The value given.
        value: String,
        /// The allowed range or set, in words.
        allowed: String,
    },
    /// A value has the right type but cannot be used (a path that escapes, keys that disagree).
    #[error("invalid job spec: `{key}`: {detail}")]
    Invalid {
        /// Dotted key the problem is reported on.
        key: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// A job was asked to move to a state its current state cannot reach.
    #[error("job {job}: cannot go from {from} to {to}")]
    Transition {
        /// The job id.
        job: u64,
        /// Its current state.
        from: crate::JobState,
        /// The state asked for.
        to: crate::JobState,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn range(
        key: impl Into<String>,
        value: impl ToString,
        allowed: impl Into<String>,
    ) -> Self {
        Self::OutOfRange {
            key: key.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    pub(crate) fn invalid(key: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            detail: detail.into(),
        }
    }
}

/// Checks `lo <= v <= hi`, naming `key` and `allowed` on failure.
pub(crate) fn check_u64(key: &str, v: u64, lo: u64, hi: u64, allowed: &str) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Error::range(key, v, allowed))
    }
}
