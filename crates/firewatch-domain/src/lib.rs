//! firewatch's vocabulary and pure rules. No I/O, no clocks, no HTTP, no SQL.

pub mod audit;
pub mod case;
pub mod hazard;
pub mod intake;
pub mod lifecycle;
pub mod role;
pub mod signal;

pub use case::{CaseStatus, IllegalTransition, check_transition};
pub use hazard::{
    HAZARD_CLASSES, HazardCode, InjuryLevel, Modality, Severity, default_severity, hazard_class_of,
};
pub use role::Role;
pub use signal::{IllegalSignalTransition, SignalStatus, check_signal_transition};
