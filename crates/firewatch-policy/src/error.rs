//! Errors: load-time problems with a playbook, and refusals of policy operations.

use crate::model::Role;
use std::fmt;

/// Where in a playbook file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (syntax errors, top-level fields).
    File,
    /// A rule, by id (or by position `rules[3]` when it has no usable id).
    Rule(String),
    Calendar(String),
    Market(String),
}

/// One problem found while loading a playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    /// The offending field, e.g. `when`, `clocks[1].duration`.
    pub field: Option<String>,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(location: Location, field: Option<&str>, message: impl Into<String>) -> Self {
        Problem {
            location,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

/// A playbook was refused. `Display` gives one line per problem, each naming the file, the
/// rule (or calendar, market) and the field:
/// `playbook.toml: rule "safety-cost-free": field when: CEL parse error at 1:9: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PlaybookError {
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl PlaybookError {
    /// One line per problem (the same text as `Display`).
    pub fn lines(&self) -> Vec<String> {
        self.problems.iter().map(|p| self.line(p)).collect()
    }

    fn line(&self, p: &Problem) -> String {
        let mut s = format!("{}:", self.source_name);
        match &p.location {
            Location::File => {}
            Location::Rule(id) => s.push_str(&format!(" rule \"{id}\":")),
            Location::Calendar(n) => s.push_str(&format!(" calendar \"{n}\":")),
            Location::Market(n) => s.push_str(&format!(" market \"{n}\":")),
        }
        if let Some(f) = &p.field {
            s.push_str(&format!(" field {f}:"));
        }
        s.push(' ');
        s.push_str(&p.message);
        s
    }
}

impl fmt::Display for PlaybookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

/// Refusals of policy operations (exceptions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("an exception needs a written reason of at least {min} characters")]
    ReasonRequired { min: usize },
    #[error("the reason is too long (at most {max} characters)")]
    ReasonTooLong { max: usize },
    #[error("rule \"{rule_id}\" does not apply to this case")]
    RuleNotApplicable { rule_id: String },
    #[error("rule \"{rule_id}\" allows no exceptions")]
    NoExceptions { rule_id: String },
    #[error(
        "only the hq role may approve an exception on a safety case (rule \"{rule_id}\"), not {role}"
    )]
    OnlyHqOnSafetyCase { rule_id: String, role: Role },
    #[error("only the {required} role may approve an exception to rule \"{rule_id}\", not {role}")]
    WrongApprover {
        rule_id: String,
        required: Role,
        role: Role,
    },
}
