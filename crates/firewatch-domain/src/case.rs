//! Case statuses and the explicit transition table.

use crate::lifecycle::{check_move, list};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    New,
    Triaged,
    InProgress,
    WaitingCustomer,
    Resolved,
    Closed,
    Reopened,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 7] = [
        CaseStatus::New,
        CaseStatus::Triaged,
        CaseStatus::InProgress,
        CaseStatus::WaitingCustomer,
        CaseStatus::Resolved,
        CaseStatus::Closed,
        CaseStatus::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::New => "new",
            CaseStatus::Triaged => "triaged",
            CaseStatus::InProgress => "in_progress",
            CaseStatus::WaitingCustomer => "waiting_customer",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Closed => "closed",
            CaseStatus::Reopened => "reopened",
        }
    }

    /// The transition table. Everything not listed is illegal. `closed` is final except for
    /// reopening, because a safety case can come back when the same unit fails again.
    pub fn allowed_next(self) -> &'static [CaseStatus] {
        use CaseStatus::*;
        match self {
            New => &[Triaged, InProgress, Closed],
            Triaged => &[InProgress, WaitingCustomer, Resolved, Closed],
            InProgress => &[WaitingCustomer, Resolved],
            WaitingCustomer => &[InProgress, Resolved],
            Resolved => &[Closed, Reopened],
            Closed => &[Reopened],
            Reopened => &[Triaged, InProgress, WaitingCustomer, Resolved],
        }
    }

    pub fn can_move_to(self, to: CaseStatus) -> bool {
        self.allowed_next().contains(&to)
    }

    pub fn is_open(self) -> bool {
        !matches!(self, CaseStatus::Resolved | CaseStatus::Closed)
    }
}

crate::lifecycle::lifecycle!(CaseStatus, "case");

/// An attempted move that the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a case cannot go from {from} to {to}; allowed from {from}: {}", list(.allowed))]
pub struct IllegalTransition {
    pub from: CaseStatus,
    pub to: CaseStatus,
    pub allowed: Vec<CaseStatus>,
}

pub fn check_transition(from: CaseStatus, to: CaseStatus) -> Result<(), IllegalTransition> {
    check_move(from, to).map_err(|allowed| IllegalTransition { from, to, allowed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseStatus::*;

    #[test]
    fn the_happy_path_is_allowed() {
        for (a, b) in [
            (New, Triaged),
            (Triaged, InProgress),
            (InProgress, WaitingCustomer),
            (WaitingCustomer, InProgress),
            (InProgress, Resolved),
            (Resolved, Closed),
            (Closed, Reopened),
            (Reopened, InProgress),
        ] {
            assert!(check_transition(a, b).is_ok(), "{a} -> {b}");
        }
    }

    #[test]
    fn an_illegal_transition_names_the_allowed_ones() {
        let err = check_transition(New, Resolved).unwrap_err();
        assert_eq!(err.allowed, vec![Triaged, InProgress, Closed]);
        assert_eq!(
            err.to_string(),
            "a case cannot go from new to resolved; allowed from new: triaged, in_progress, closed"
        );
    }

    #[test]
    fn no_status_moves_to_itself_or_to_new() {
        for s in CaseStatus::ALL {
            assert!(!s.can_move_to(s), "{s} -> {s}");
            assert!(!s.can_move_to(New), "{s} -> new");
        }
    }

    #[test]
    fn every_status_is_reachable_from_new_and_closed_only_leads_to_reopened() {
        let mut seen = vec![New];
        let mut frontier = vec![New];
        while let Some(s) = frontier.pop() {
            for &n in s.allowed_next() {
                if !seen.contains(&n) {
                    seen.push(n);
                    frontier.push(n);
                }
            }
        }
        assert_eq!(seen.len(), CaseStatus::ALL.len());
        assert_eq!(Closed.allowed_next(), &[Reopened]);
    }

    #[test]
    fn statuses_parse_from_their_names() {
        for s in CaseStatus::ALL {
            assert_eq!(s.as_str().parse::<CaseStatus>().unwrap(), s);
        }
        assert!("open".parse::<CaseStatus>().is_err());
    }
}
