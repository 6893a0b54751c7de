use thiserror::Error;

/// Everything that can go wrong in this crate. Inputs are validated; nothing panics on bad data.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ForecastError {
    /// Two parallel inputs have different lengths.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    /// A time, follower count or parameter is not a finite, non-negative number.
    #[error("invalid value at index {index}: {what} = {value}")]
    InvalidValue {
        index: usize,
        what: &'static str,
        value: f64,
    },
    /// Estimator parameters that make no sense (non-positive windows, theta = 1, ...).
    #[error("invalid SEISMIC parameters: {0}")]
    InvalidParams(String),
    /// An event pushed to a [`crate::CascadeForecaster`] is earlier than the previous one.
    #[error(
        "event at {time} s is earlier than the previous event at {previous} s; push events in time order"
    )]
    OutOfOrder { time: f64, previous: f64 },
    /// A forecast was asked for before the first event or at a negative / non-finite time.
    #[error("cannot forecast at {0} s: {1}")]
    BadForecastTime(f64, &'static str),
    /// The cascade CSV could not be read; line and column are 1-based.
    #[error("cascade CSV line {line}, column {column}: {message}")]
    Csv {
        line: usize,
        column: usize,
        message: String,
    },
    /// The cascade CSV could not be read at all (I/O error while reading).
    #[error("reading the cascade CSV: {0}")]
    Read(String),
    /// The cascade holds no event.
    #[error("the cascade is empty")]
    EmptyCascade,
}
