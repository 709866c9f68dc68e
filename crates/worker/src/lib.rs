#![doc = include_str!("../README.md")]

pub mod claims;
pub mod detect;
pub mod disputes;
mod error;
pub mod resume;
pub mod retry;
pub mod runner;
mod state;
mod worker;

pub use claims::{Claim, ClaimGuard, MachineClaims};
pub use detect::{Detected, Gpu, detect};
pub use error::{Error, Result};
pub use runner::{RunError, RunJob, RunResult, Runner, Runners, stop_reason};
pub use state::{JobRecord, JobStatus, STATE_FILE, WorkerState, state_dir};
pub use worker::{Worker, WorkerConfig, trace_root};
