//! Clock durations as written in playbooks: `"24h"`, `"2d"`, `"1d12h"`, `"90m"`, `"30s"`.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The longest duration a clock may have: 366 days (bounds the clock arithmetic's work).
pub const MAX_DAYS: i64 = 366;

/// A clock duration: whole days plus seconds.
///
/// Days are kept apart from seconds because their meaning depends on the clock's basis:
/// on a `calendar` clock a day is a calendar day in the clock's time zone (23 or 25 hours
/// across a DST change), on a `business_hours` clock a day is one working day, i.e. the
/// total length of the calendar's working hours on one day (8 hours for `09:00-17:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClockDuration {
    days: i64,
    seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration (expected e.g. \"24h\", \"2d\", \"1d12h\", \"90m\")")]
    Empty,
    #[error(
        "bad duration `{0}` (expected numbers with units d, h, m, s, e.g. \"24h\", \"2d\", \"1d12h\")"
    )]
    Syntax(String),
    #[error("duration `{0}` must be longer than zero")]
    Zero(String),
    #[error("duration `{0}` is longer than the maximum of {MAX_DAYS} days")]
    TooLong(String),
}

impl ClockDuration {
    /// `days` calendar/working days plus `seconds`. Both must be >= 0.
    pub fn new(days: i64, seconds: i64) -> Result<Self, DurationError> {
        let d = ClockDuration { days, seconds };
        if days < 0 || seconds < 0 {
            return Err(DurationError::Syntax(d.to_string()));
        }
        if d.nominal_seconds() > MAX_DAYS * 86_400 {
            return Err(DurationError::TooLong(d.to_string()));
        }
        Ok(d)
    }

    pub fn from_hours(hours: i64) -> Result<Self, DurationError> {
        ClockDuration::new(0, hours.saturating_mul(3600))
    }

    pub fn days(self) -> i64 {
        self.days
    }

    pub fn seconds(self) -> i64 {
        self.seconds
    }

    /// Days counted as 24 hours: used to compare two durations of the same basis.
    pub fn nominal_seconds(self) -> i64 {
        self.days
            .saturating_mul(86_400)
            .saturating_add(self.seconds)
    }

    pub fn is_zero(self) -> bool {
        self.days == 0 && self.seconds == 0
    }
}

impl FromStr for ClockDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        let syntax = || DurationError::Syntax(text.to_string());
        let (mut days, mut seconds) = (0i64, 0i64);
        let mut seen = String::new();
        let mut digits = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                if digits.len() >= 6 {
                    return Err(DurationError::TooLong(text.to_string()));
                }
                digits.push(c);
                continue;
            }
            let unit = c.to_ascii_lowercase();
            // Units must come in decreasing order, each at most once: "1d12h", not "12h1d".
            let order = "dhms";
            let pos = order.find(unit).ok_or_else(syntax)?;
            if digits.is_empty() || seen.chars().any(|u| order.find(u).unwrap_or(0) >= pos) {
                return Err(syntax());
            }
            let n: i64 = digits.parse().map_err(|_| syntax())?;
            digits.clear();
            seen.push(unit);
            match unit {
                'd' => days = n,
                'h' => seconds += n * 3600,
                'm' => seconds += n * 60,
                _ => seconds += n,
            }
        }
        if !digits.is_empty() {
            return Err(syntax());
        }
        let d = ClockDuration { days, seconds };
        if d.is_zero() {
            return Err(DurationError::Zero(text.to_string()));
        }
        if d.nominal_seconds() > MAX_DAYS * 86_400 {
            return Err(DurationError::TooLong(text.to_string()));
        }
        Ok(d)
    }
}

impl fmt::Display for ClockDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0s");
        }
        if self.days > 0 {
            write!(f, "{}d", self.days)?;
        }
        let (h, m, s) = (
            self.seconds / 3600,
            (self.seconds % 3600) / 60,
            self.seconds % 60,
        );
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl Serialize for ClockDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_days_and_combinations_parse() {
        let d: ClockDuration = "24h".parse().unwrap();
        assert_eq!((d.days(), d.seconds()), (0, 86_400));
        let d: ClockDuration = "2d".parse().unwrap();
        assert_eq!((d.days(), d.seconds()), (2, 0));
        let d: ClockDuration = "1d12h30m15s".parse().unwrap();
        assert_eq!((d.days(), d.seconds()), (1, 12 * 3600 + 30 * 60 + 15));
        assert_eq!(d.to_string(), "1d12h30m15s");
        assert_eq!("48h".parse::<ClockDuration>().unwrap().to_string(), "48h");
    }

    #[test]
    fn malformed_zero_and_huge_durations_are_refused() {
        for bad in ["", "h", "24", "24x", "1h1d", "1h2h", "-1h", "1.5h", "24 h"] {
            assert!(bad.parse::<ClockDuration>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            "0h".parse::<ClockDuration>(),
            Err(DurationError::Zero("0h".into()))
        );
        assert!(matches!(
            "367d".parse::<ClockDuration>(),
            Err(DurationError::TooLong(_))
        ));
        assert!("366d".parse::<ClockDuration>().is_ok());
    }
}
