//! Defect-signal statuses and their explicit transition table (DESIGN C7).
//!
//! `new -> investigating -> confirmed -> recall`, and `dismissed` from `new`,
//! `investigating` or `confirmed`. `recall` and `dismissed` are final: a dismissed signal
//! stays dismissed, and the same product and hazard may open a new signal later.

use crate::lifecycle::{check_move, list};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalStatus {
    New,
    Investigating,
    Confirmed,
    Recall,
    Dismissed,
}

impl SignalStatus {
    pub const ALL: [SignalStatus; 5] = [
        SignalStatus::New,
        SignalStatus::Investigating,
        SignalStatus::Confirmed,
        SignalStatus::Recall,
        SignalStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalStatus::New => "new",
            SignalStatus::Investigating => "investigating",
            SignalStatus::Confirmed => "confirmed",
            SignalStatus::Recall => "recall",
            SignalStatus::Dismissed => "dismissed",
        }
    }

    /// The transition table. Everything not listed is illegal.
    pub fn allowed_next(self) -> &'static [SignalStatus] {
        use SignalStatus::*;
        match self {
            New => &[Investigating, Dismissed],
            Investigating => &[Confirmed, Dismissed],
            Confirmed => &[Recall, Dismissed],
            Recall | Dismissed => &[],
        }
    }

    pub fn can_move_to(self, to: SignalStatus) -> bool {
        self.allowed_next().contains(&to)
    }

    /// An open signal blocks a second one for the same product and hazard. A recall stays
    /// open in that sense: further reports belong to the recall, not to a new signal.
    pub fn blocks_reopening(self) -> bool {
        !matches!(self, SignalStatus::Dismissed)
    }
}

crate::lifecycle::lifecycle!(SignalStatus, "signal");

/// An attempted move that the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signal cannot go from {from} to {to}; allowed from {from}: {}", list(.allowed))]
pub struct IllegalSignalTransition {
    pub from: SignalStatus,
    pub to: SignalStatus,
    pub allowed: Vec<SignalStatus>,
}

pub fn check_signal_transition(
    from: SignalStatus,
    to: SignalStatus,
) -> Result<(), IllegalSignalTransition> {
    check_move(from, to).map_err(|allowed| IllegalSignalTransition { from, to, allowed })
}

#[cfg(test)]
mod tests {
    use super::SignalStatus::*;
    use super::*;

    #[test]
    fn the_lifecycle_table_is_exactly_the_documented_one() {
        let expected: &[(SignalStatus, SignalStatus)] = &[
            (New, Investigating),
            (New, Dismissed),
            (Investigating, Confirmed),
            (Investigating, Dismissed),
            (Confirmed, Recall),
            (Confirmed, Dismissed),
        ];
        for from in SignalStatus::ALL {
            for to in SignalStatus::ALL {
                let listed = expected.contains(&(from, to));
                assert_eq!(
                    check_signal_transition(from, to).is_ok(),
                    listed,
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn recall_and_dismissed_are_final_and_nothing_returns_to_new() {
        assert!(Recall.allowed_next().is_empty());
        assert!(Dismissed.allowed_next().is_empty());
        for s in SignalStatus::ALL {
            assert!(!s.can_move_to(New), "{s} -> new");
            assert!(!s.can_move_to(s), "{s} -> {s}");
        }
        let e = check_signal_transition(Recall, Dismissed).unwrap_err();
        assert!(e.to_string().contains("none (final)"), "{e}");
    }

    #[test]
    fn every_status_is_reachable_from_new() {
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
        assert_eq!(seen.len(), SignalStatus::ALL.len());
    }

    #[test]
    fn an_illegal_move_names_the_allowed_ones_and_statuses_parse() {
        let e = check_signal_transition(New, Recall).unwrap_err();
        assert_eq!(e.allowed, vec![Investigating, Dismissed]);
        assert_eq!(
            e.to_string(),
            "a signal cannot go from new to recall; allowed from new: investigating, dismissed"
        );
        for s in SignalStatus::ALL {
            assert_eq!(s.as_str().parse::<SignalStatus>().unwrap(), s);
        }
        assert!("open".parse::<SignalStatus>().is_err());
        assert!(!Dismissed.blocks_reopening());
        assert!(Recall.blocks_reopening() && New.blocks_reopening());
    }
}
