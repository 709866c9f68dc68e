#![doc = include_str!("../README.md")]

pub mod audit;
pub mod bench;
pub mod data;
mod error;
pub mod forecast;

pub mod gru;
pub mod job;
pub mod kernels;
pub mod model_file;
pub mod plain;
pub mod trace;
pub mod train;

pub use error::{Error, Result};
pub use job::{TensorRun, run_infer, run_train, run_train_resumed};
