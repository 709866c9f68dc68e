#![doc = include_str!("../README.md")]

mod align;
mod error;
mod import;
mod series;
pub mod time;

pub use align::{AlignReport, Aligned, align};
pub use error::{Error, Result};
pub use import::{ImportOptions, TIME_ALIASES, parse_csv, read_csv, symbol_from_name};
pub use series::{Gap, Series, bars_per_year};
