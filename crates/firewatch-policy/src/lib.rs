//! Playbooks: CEL rules, remedy policy, clocks and business-hours calendars. Pure.
//!
//! - [`Playbook::from_toml_str`] loads and validates a playbook; [`Playbook::default_playbook`]
//!   is the built-in one.
//! - [`Playbook::evaluate`] turns [`CaseFacts`] into an [`Evaluation`]: which rules matched and
//!   why, and the merged effects (severity floor, team, remedies, approvals, tasks, clocks,
//!   notifications, escalation).
//! - [`decide_remedy`], [`may_approve_exception`] and [`resolution_blockers`] answer the
//!   questions the case workflow asks, from an evaluation.
//! - [`deadline`], [`clock_state`] and [`next_level`] are the clock arithmetic and the
//!   escalation ladder.
//!
//! Nothing here does I/O or reads a clock: time is always a parameter. This is the only
//! crate that names `cel`.

pub mod calendar;
pub mod clock;
pub mod duration;
pub mod error;
pub mod facts;
pub mod model;
pub mod playbook;
pub mod remedy;
pub mod signals;

pub use calendar::{Calendar, CalendarError};
pub use clock::{
    ClockBasis, ClockKind, ClockPlan, ClockState, Level, Pause, active_time, clock_state, deadline,
    next_level, pauses_from_waiting,
};
pub use duration::{ClockDuration, DurationError};
pub use error::{Location, PlaybookError, PolicyError, Problem};
pub use facts::{CaseFacts, MentionFacts, ProductFacts};
pub use model::{
    ApprovalRequirement, Channel, ClockSource, ClockSpec, MarketSettings, NotificationSpec,
    NotifyOn, RegulatorClock, RemedyKind, Role, RuleEffects, TaskKind, TaskRequirement,
};
pub use playbook::{
    DEFAULT_PLAYBOOK_TOML, Evaluation, MatchedRule, MergedEffects, NotificationPlan, Playbook,
    RequiredTask, Rule, RuleApproval, RuleOutcome, RuleTrace,
};
pub use remedy::{
    AllowedRemedy, Blocker, CaseProgress, CustodyEntry, Missing, RemedyDecision, RemedyProposal,
    allowed_remedies, decide_remedy, may_approve_exception, resolution_blockers,
};
pub use signals::{Criterion, Require, SignalFigures, SignalThresholds};
