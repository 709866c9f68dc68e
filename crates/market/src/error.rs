//! Why an import failed. Every row-level variant names the file and the line (the header is
//! line 1) so a person can open the file at the offending row.
use std::path::PathBuf;

/// Errors from reading, validating or aligning candle series.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV layer could not split a row (bad quoting, wrong field count, invalid UTF-8).
    #[error("{source_name}: line {line}: malformed CSV row: {detail}")]
    Csv {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// What the CSV reader reported.
        detail: String,
    },
    /// The header lacks a column the importer needs.
    #[error(
        "{source_name}: no {wanted} column in the header [{header}]; name it one of: {aliases}"
    )]
    MissingColumn {
        /// File name or label.
        source_name: String,
        /// The role that is missing (time or close).
        wanted: &'static str,
        /// Accepted header names for that role.
        aliases: &'static str,
        /// The header as read.
        header: String,
    },
    /// A cell could not be read as the column's type.
    #[error(
        "{source_name}: line {line}: column `{column}` holds {value:?}, which is not {expected}"
    )]
    BadCell {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// Header name of the column.
        column: String,
        /// The cell as written.
        value: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// A price was zero, negative or not finite.
    #[error(
        "{source_name}: line {line}: {column} price {value} is not positive; prices must be > 0"
    )]
    NonPositivePrice {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// Which price column.
        column: String,
        /// The value read.
        value: f64,
    },
    /// A row has `high < low` or a negative volume.
    #[error("{source_name}: line {line}: {detail}")]
    InconsistentRow {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// What is inconsistent.
        detail: String,
    },
    /// Two rows carry the same timestamp.
    #[error(
        "{source_name}: line {line}: duplicate timestamp {time} (already on line {first_line}); remove one of the rows"
    )]
    Duplicate {
        /// File name or label.
        source_name: String,
        /// 1-based line number of the second occurrence.
        line: u64,
        /// 1-based line number of the first occurrence.
        first_line: u64,
        /// The timestamp, formatted.
        time: String,
    },
    /// A row's timestamp is earlier than the previous row's.
    #[error(
        "{source_name}: line {line}: timestamp {time} is earlier than {previous} on line {previous_line}; rows must be in increasing time order"
    )]
    NotMonotonic {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// This row's timestamp, formatted.
        time: String,
        /// 1-based line number of the previous row.
        previous_line: u64,
        /// The previous row's timestamp, formatted.
        previous: String,
    },
    /// Two consecutive rows are closer than the series' bar interval.
    #[error(
        "{source_name}: line {line}: {time} is only {step_ms} ms after the previous row, less than the bar interval of {interval_ms} ms"
    )]
    Irregular {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// The row's timestamp, formatted.
        time: String,
        /// Distance to the previous row.
        step_ms: i64,
        /// The series' bar interval.
        interval_ms: i64,
    },
    /// Strict mode and the series has missing bars.
    #[error(
        "{source_name}: line {line}: gap of {missing} missing bar(s) between {after} and {before}; strict import rejects gaps (without it they are intervals without trading)"
    )]
    Gap {
        /// File name or label.
        source_name: String,
        /// 1-based line number of the row after the gap.
        line: u64,
        /// Number of missing bars.
        missing: u64,
        /// Last timestamp before the gap, formatted.
        after: String,
        /// First timestamp after the gap, formatted.
        before: String,
    },
    /// Strict mode and a row's prices contradict each other, or its close stands far from the
    /// previous one.
    #[error("{source_name}: line {line}: {detail}; strict import rejects such rows")]
    Anomaly {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// Which check failed.
        kind: crate::AnomalyKind,
        /// The values involved.
        detail: String,
    },
    /// The file's ticker column names another instrument than the one it is used as.
    #[error(
        "{source_name}: line {line}: the ticker column says {ticker:?} ({ticker_base}) but the file is used as {expected} (from the {origin}); give the {ticker_base} series its own symbol, or the right file for {expected}"
    )]
    TickerMismatch {
        /// File name or label.
        source_name: String,
        /// 1-based line number of the first data row.
        line: u64,
        /// The symbol the file is used as.
        expected: String,
        /// Where that symbol came from (`given symbol` or `file name`).
        origin: &'static str,
        /// The ticker as written.
        ticker: String,
        /// The ticker's base asset.
        ticker_base: String,
    },
    /// The file holds no data rows (or too few to infer a bar interval).
    #[error("{source_name}: {detail}")]
    TooFewRows {
        /// File name or label.
        source_name: String,
        /// What is missing.
        detail: String,
    },
    /// A ticker column names more than one instrument.
    #[error(
        "{source_name}: line {line}: ticker {found:?} differs from {first:?} on earlier rows; give one instrument per file"
    )]
    MixedTickers {
        /// File name or label.
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// The first ticker seen.
        first: String,
        /// The differing ticker.
        found: String,
    },
    /// Series given to [`crate::align`] cannot be combined.
    #[error("cannot align series: {0}")]
    Align(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
