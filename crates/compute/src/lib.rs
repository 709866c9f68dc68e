#![doc = include_str!("../README.md")]

pub mod api;
pub mod calibration;
mod error;
pub mod matching;
mod resources;
mod spec;
mod state;
pub mod tensor;
mod units;
pub mod verify;

pub use error::{Error, Result};
pub use matching::{Demand, NoMatch, Offer, choose, reputation};
pub use resources::{MAX_PRICE, Price, Resources};
pub use spec::{
    BlobRef, DEFAULT_ACCEPT_WITHIN_SECS, DEFAULT_CPU_CORES, DEFAULT_DEADLINE_SECS, DEFAULT_FUEL,
    DEFAULT_MAX_OUTPUT, DEFAULT_MEMORY, DEFAULT_WALL_TIME_SECS, InputRef, JobFile, JobKind,
    JobSpec, Limits, LimitsToml, MAX_ARG_BYTES, MAX_ARGS, MAX_FUEL, MAX_INPUTS, MAX_MEMORY,
    MAX_NAME_BYTES, MAX_OUTPUT, MAX_WALL_TIME_SECS, MIN_MEMORY, ResourcesToml, ScheduleToml,
    validate_input_name,
};
pub use state::{JobState, StopReason};
pub use tensor::{DataSpec, InferSpec, TrainSpec};
pub use units::{ByteSize, USDT_DECIMALS, fmt_usdt};
