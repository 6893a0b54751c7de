//! firewatch's vocabulary and pure rules. No I/O, no clocks, no HTTP, no SQL.

pub mod hazard;

pub use hazard::{HazardCode, InjuryLevel, Modality, Severity, default_severity};
