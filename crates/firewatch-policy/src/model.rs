//! The vocabulary of playbooks: roles, remedy kinds, tasks, notification channels, and the
//! effects a rule can have.

use crate::clock::{ClockBasis, ClockKind, Level};
use crate::duration::ClockDuration;
use firewatch_domain::Severity;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Declares a closed set of lower-case names with `as_str`, `FromStr` (with an error that
/// lists the expected names), `Display` and serde in both directions.
macro_rules! names {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($(#[$vm:meta])* $var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$var),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " `{}` (expected {})"),
                        other,
                        [$($s),+].join("|")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

names!(
    /// A user role (DESIGN section 2).
    Role, "role", {
        Agent => "agent",
        Supervisor => "supervisor",
        Safety => "safety",
        Hq => "hq",
        Pr => "pr",
        Admin => "admin",
    }
);

names!(
    /// A remedy kind (DESIGN section 4).
    RemedyKind, "remedy kind", {
        Refund => "refund",
        Replacement => "replacement",
        Repair => "repair",
        Discount => "discount",
        Goodwill => "goodwill",
    }
);

names!(
    /// A task that a rule can require before a case may be resolved.
    TaskKind, "task", {
        /// Get the device back for analysis (optionally with chain-of-custody entries).
        DeviceRetrieval => "device_retrieval",
        /// Follow up with a person who was hurt.
        InjuryFollowUp => "injury_follow_up",
        /// A product-safety engineer reviewed the case.
        SafetyReview => "safety_review",
        /// The report to the market's regulator was filed.
        RegulatorReport => "regulator_report",
    }
);

names!(
    /// How a notification is delivered.
    Channel, "channel", {
        Webhook => "webhook",
        Email => "email",
    }
);

names!(
    /// When a notification is sent.
    NotifyOn, "notification trigger", {
        /// When the rule starts to match the case.
        Match => "match",
        /// When one of the rule's clocks (or the named one) breaches.
        Breach => "breach",
    }
);

impl Role {
    /// The escalation level this role sits at, if any.
    pub fn level(self) -> Option<Level> {
        match self {
            Role::Agent => Some(Level::Agent),
            Role::Supervisor => Some(Level::Supervisor),
            Role::Safety => Some(Level::Safety),
            Role::Hq => Some(Level::Hq),
            Role::Pr | Role::Admin => None,
        }
    }
}

/// Who must approve which remedies. Every listed role must approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRequirement {
    pub roles: Vec<Role>,
    /// The remedy kinds this applies to; empty = every kind.
    pub kinds: Vec<RemedyKind>,
}

impl ApprovalRequirement {
    pub fn applies_to(&self, kind: RemedyKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }
}

/// A task required before resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRequirement {
    pub task: TaskKind,
    /// For device_retrieval: at least one chain-of-custody entry is needed.
    pub chain_of_custody: bool,
}

/// Where a clock's duration comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockSource {
    /// Written in the rule.
    Fixed {
        duration: ClockDuration,
        basis: ClockBasis,
    },
    /// The case market's regulator clock (`duration = "market"`).
    Market,
}

/// A clock as written in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockSpec {
    pub name: String,
    pub kind: ClockKind,
    pub source: ClockSource,
    /// A calendar name; None = the case market's calendar.
    pub calendar: Option<String>,
    pub pausable: bool,
    pub reference: Option<String>,
}

/// A notification as written in a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationSpec {
    pub channel: Channel,
    /// E-mail: an address or `role:<role>`; webhook: an http(s) URL or `endpoint:<name>`.
    pub target: String,
    pub on: NotifyOn,
    /// For `on = "breach"`: only this clock's breach (None = any of the rule's clocks).
    pub clock: Option<String>,
}

/// Everything a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct RuleEffects {
    pub severity_floor: Option<Severity>,
    pub team: Option<String>,
    /// None = every kind not forbidden.
    pub allowed_remedies: Option<BTreeSet<RemedyKind>>,
    pub forbidden_remedies: BTreeSet<RemedyKind>,
    pub max_customer_pays_percent: Option<u8>,
    /// A refund must give back at least this percentage of the product's price.
    pub min_refund_percent: Option<u16>,
    pub approvals_required: Vec<ApprovalRequirement>,
    /// Who may approve an exception to this rule (with a written reason). None = nobody.
    pub exception_approver: Option<Role>,
    pub tasks_required_before_resolution: Vec<TaskRequirement>,
    pub clocks: Vec<ClockSpec>,
    pub notifications: Vec<NotificationSpec>,
    /// Raise the case's escalation level to at least this when the rule matches.
    pub escalate_to: Option<Level>,
}

impl RuleEffects {
    /// Whether this rule allows a remedy kind (ignoring price constraints).
    pub fn allows_kind(&self, kind: RemedyKind) -> bool {
        !self.forbidden_remedies.contains(&kind)
            && self
                .allowed_remedies
                .as_ref()
                .is_none_or(|a| a.contains(&kind))
    }
}

/// A market's regulator clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegulatorClock {
    pub duration: ClockDuration,
    pub basis: ClockBasis,
    pub reference: Option<String>,
}

/// Settings of one market (an ISO country) or of a group of markets (e.g. EU).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MarketSettings {
    /// For a group: its member countries.
    pub members: Vec<String>,
    pub calendar: Option<String>,
    pub regulator_clock: Option<RegulatorClock>,
}
