//! How a run ended and what it produced.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a run ended. Every variant but [`Outcome::TimedOut`] is a pure
/// function of the job and the limits, so two honest providers agree on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// `_start` returned (code 0) or the guest called `proc_exit(code)`.
    Exited(i32),
    /// The fuel budget ran out.
    OutOfFuel,
    /// The module's memory would have grown past [`Limits::memory_bytes`](crate::Limits::memory_bytes).
    MemoryLimit,
    /// The wall-time cap was reached (depends on the provider's speed).
    TimedOut,
    /// The guest trapped (unreachable, division by zero, out-of-bounds
    /// access, stack overflow, ...); the text is wasmtime's trap description.
    Trapped(String),
    /// The guest asked for something the sandbox refuses (a network import,
    /// a path outside the preopened directories, a non-WASI import).
    Denied(String),
    /// The run was stopped from outside (the requester cancelled the job).
    Cancelled,
}

impl Outcome {
    /// Whether the guest exited with status 0.
    pub fn is_success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with status {code}"),
            Outcome::OutOfFuel => write!(f, "out of fuel: the job used its whole fuel budget"),
            Outcome::MemoryLimit => {
                write!(
                    f,
                    "memory limit: the module tried to grow its memory past the cap"
                )
            }
            Outcome::TimedOut => write!(f, "timed out: the wall-time cap was reached"),
            Outcome::Trapped(why) => write!(f, "trapped: {why}"),
            Outcome::Denied(why) => write!(f, "denied: {why}"),
            Outcome::Cancelled => write!(f, "cancelled: the run was stopped from outside"),
        }
    }
}

/// Everything one run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// Fuel consumed (the billing unit). Exact when the guest exits, is
    /// denied, or executes `unreachable` (e.g. C `abort()`); the whole budget
    /// on [`Outcome::OutOfFuel`], and also on [`Outcome::MemoryLimit`],
    /// [`Outcome::TimedOut`] and other traps, where wasmtime's counter lags
    /// the work done (see the crate docs, "Billing").
    pub fuel_used: u64,
    /// Wall time of instantiation plus `_start` (compilation not included).
    pub wall_time: Duration,
    /// Captured stdout, at most `max_output_bytes` plus a truncation note.
    pub stdout: Vec<u8>,
    /// Captured stderr, at most `max_output_bytes` plus a truncation note.
    pub stderr: Vec<u8>,
    /// Files left under `/output`, as (path relative to `/output`, bytes), sorted by path.
    pub outputs: Vec<(String, Vec<u8>)>,
}

impl RunReport {
    /// The report of a run that ended before the module was instantiated.
    pub(crate) fn not_started(outcome: Outcome) -> Self {
        RunReport {
            outcome,
            fuel_used: 0,
            wall_time: Duration::ZERO,
            stdout: Vec::new(),
            stderr: Vec::new(),
            outputs: Vec::new(),
        }
    }
}
