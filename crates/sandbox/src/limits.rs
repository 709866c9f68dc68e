//! Resource limits of one run.
//!
//! Fuel bounds the work, memory bounds the space, wall time bounds the time
//! a provider spends (a guest stuck in cheap instructions still stops), and
//! the output cap bounds what a provider has to upload. The defaults suit
//! small batch jobs; requesters set their own in the job spec.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default fuel: ten billion units, a few seconds of compute.
pub const DEFAULT_FUEL: u64 = 10_000_000_000;
/// Default linear-memory cap: 256 MiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 * 1024 * 1024;
/// Default wall-time cap: 60 s.
pub const DEFAULT_WALL_TIME: Duration = Duration::from_secs(60);
/// Default cap on `/output` (total) and on each of stdout and stderr: 16 MiB.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Caps applied to one [`Sandbox::run`](crate::Sandbox::run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Fuel budget: one unit per wasm instruction (roughly), plus
    /// [`HOSTCALL_FUEL`](crate::HOSTCALL_FUEL) per WASI call and one unit per
    /// [`BYTES_PER_FUEL`](crate::BYTES_PER_FUEL) bytes a call moves.
    /// Exhausting it ends the run with [`Outcome::OutOfFuel`](crate::Outcome::OutOfFuel).
    pub fuel: u64,
    /// Largest linear memory the module may have, in bytes; growing past it
    /// ends the run with [`Outcome::MemoryLimit`](crate::Outcome::MemoryLimit).
    /// Files in `/scratch` are capped at the same number of bytes.
    pub memory_bytes: u64,
    /// Wall-clock budget for instantiation plus `_start`; exceeding it ends
    /// the run with [`Outcome::TimedOut`](crate::Outcome::TimedOut).
    pub wall_time: Duration,
    /// Cap on the total bytes of files in `/output` (writes beyond fail with
    /// `ENOSPC`) and on each of stdout and stderr (bytes beyond are dropped
    /// and a one-line note is appended).
    pub max_output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: DEFAULT_FUEL,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            wall_time: DEFAULT_WALL_TIME,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

impl Limits {
    /// These limits with another fuel budget.
    pub fn with_fuel(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }

    /// These limits with another memory cap.
    pub fn with_memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// These limits with another wall-time cap.
    pub fn with_wall_time(mut self, wall_time: Duration) -> Self {
        self.wall_time = wall_time;
        self
    }

    /// These limits with another output cap.
    pub fn with_max_output_bytes(mut self, bytes: u64) -> Self {
        self.max_output_bytes = bytes;
        self
    }
}
