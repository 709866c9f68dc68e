#![doc = include_str!("../README.md")]

mod align;
mod error;
mod import;
mod series;
pub mod time;

pub use align::{AlignReport, Aligned, Coverage, align};
pub use error::{Error, Result};
pub use import::{
    DEFAULT_OUTLIER_FACTOR, ImportOptions, TIME_ALIASES, pair_base, parse_csv, read_csv,
    symbol_from_name,
};
pub use series::{Anomaly, AnomalyKind, Gap, Series, bars_per_year};
