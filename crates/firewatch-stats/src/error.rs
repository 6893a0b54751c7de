//! The crate's one error type.

/// Errors from the statistics library and the offline commands.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// An argument outside its domain (negative count, alpha outside (0, 1), ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A required column is absent from a CSV header.
    #[error("{input}: missing column `{column}` (header has: {header})")]
    MissingColumn {
        /// which input (e.g. "reports", "exposure", "input")
        input: String,
        /// the column that was asked for
        column: String,
        /// the header that was found, comma-separated
        header: String,
    },
    /// A cell that must be a number is not.
    #[error("{input}: line {line}, column `{column}`: `{value}` is not a valid number")]
    NotNumeric {
        /// which input
        input: String,
        /// 1-based line number in the file (the header is line 1)
        line: u64,
        /// column name
        column: String,
        /// the offending cell
        value: String,
    },
    /// A malformed CSV record (wrong field count, unterminated quote, bad UTF-8 in a name).
    #[error("{input}: line {line}: {message}")]
    Malformed {
        /// which input
        input: String,
        /// 1-based line number
        line: u64,
        /// what is wrong
        message: String,
    },
    /// The input has no header or no data rows.
    #[error("{0}: empty input (no data rows)")]
    EmptyInput(String),
    /// The hyperparameter fit failed from every starting point.
    #[error("hyperparameter fit failed: {0}")]
    FitFailed(String),
    /// No critical value exists for these MaxSPRT parameters.
    #[error("no MaxSPRT critical value: {0}")]
    NoSolution(String),
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for this crate.
pub type Result<T, E = StatsError> = std::result::Result<T, E>;
