//! What case statuses and signal statuses share: a closed set of named states and an
//! explicit table of allowed moves. Each lifecycle keeps its own table; this module holds the
//! parsing and the wording of refusals so both say the same thing the same way.

/// A status in an explicit transition table.
pub trait Lifecycle: Copy + Eq + 'static {
    /// What the status belongs to, for messages ("case", "signal").
    const SUBJECT: &'static str;
    /// Every status, in display order.
    fn all() -> &'static [Self];
    fn as_str(self) -> &'static str;
    /// The statuses reachable in one move. Everything not listed is illegal.
    fn allowed_next(self) -> &'static [Self];
}

/// Parses a status by its stored name, naming every valid name when it fails.
pub fn parse_status<S: Lifecycle>(s: &str) -> Result<S, String> {
    S::all()
        .iter()
        .copied()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown {} status `{s}` (expected one of {})",
                S::SUBJECT,
                list(S::all())
            )
        })
}

/// `Err` with the statuses reachable from `from` when `to` is not one of them.
pub fn check_move<S: Lifecycle>(from: S, to: S) -> Result<(), Vec<S>> {
    let allowed = from.allowed_next();
    if allowed.contains(&to) {
        Ok(())
    } else {
        Err(allowed.to_vec())
    }
}

/// `a, b, c`, or `none (final)` for a state with no way out.
pub fn list<S: Lifecycle>(allowed: &[S]) -> String {
    if allowed.is_empty() {
        return "none (final)".into();
    }
    allowed
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Display` (the stored name), `FromStr` (by [`parse_status`]) and [`Lifecycle`] for a
/// status enum with inherent `ALL`, `as_str` and `allowed_next`: `lifecycle!(CaseStatus, "case")`.
macro_rules! lifecycle {
    ($status:ident, $subject:literal) => {
        impl std::fmt::Display for $status {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $status {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::lifecycle::parse_status(s)
            }
        }

        impl $crate::lifecycle::Lifecycle for $status {
            const SUBJECT: &'static str = $subject;
            fn all() -> &'static [Self] {
                &$status::ALL
            }
            fn as_str(self) -> &'static str {
                $status::as_str(self)
            }
            fn allowed_next(self) -> &'static [Self] {
                $status::allowed_next(self)
            }
        }
    };
}
pub(crate) use lifecycle;
