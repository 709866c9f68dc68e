#![doc = include_str!("../README.md")]

mod bench;
mod error;
mod job;
mod limits;
mod report;
mod sandbox;
mod wasi;

pub use bench::{DEFAULT_BENCH_RUNS, DEFAULT_KERNEL_ARGS, KernelBench, bench_kernel};
pub use error::{Error, Result};
pub use job::{ARGV0, WasmJob};
pub use limits::{
    DEFAULT_FUEL, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MEMORY_BYTES, DEFAULT_WALL_TIME, Limits,
};
pub use report::{Outcome, RunReport};
pub use sandbox::{EPOCH_TICK, MAX_MODULE_BYTES, Sandbox};
pub use wasi::{BYTES_PER_FUEL, HOSTCALL_FUEL};
