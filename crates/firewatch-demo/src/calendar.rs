//! Months and civil dates, just what the generator needs (no clock, no time zone database).

use std::fmt;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1..=12
    pub month: u32,
}

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// The month `n` months later (n may be negative).
    pub fn plus(self, n: i32) -> Month {
        let idx = self.year * 12 + self.month as i32 - 1 + n;
        Month {
            year: idx.div_euclid(12),
            month: idx.rem_euclid(12) as u32 + 1,
        }
    }

    pub fn days(self) -> u32 {
        match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if is_leap(self.year) => 29,
            _ => 28,
        }
    }

    pub fn date(self, day: u32) -> Date {
        Date {
            year: self.year,
            month: self.month,
            day: day.clamp(1, self.days()),
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// A civil date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    pub fn to_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days(z: i64) -> Date {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    pub fn plus_days(self, n: i64) -> Date {
        Date::from_days(self.to_days() + n)
    }

    pub fn month(self) -> Month {
        Month {
            year: self.year,
            month: self.month,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Formats a UTC offset in minutes as `+05:30`.
pub fn offset_str(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Unix seconds of a local civil time at a UTC offset.
pub fn unix_seconds(date: Date, seconds_of_day: u32, offset_minutes: i32) -> i64 {
    date.to_days() * 86_400 + i64::from(seconds_of_day) - i64::from(offset_minutes) * 60
}

/// RFC 3339 in UTC (`2026-03-14T18:05:00Z`) from Unix seconds.
pub fn rfc3339_utc(unix: i64) -> String {
    let d = Date::from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!("{d}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_add_and_print() {
        let m = Month::parse("2025-06").unwrap();
        assert_eq!(m.plus(17).to_string(), "2026-11");
        assert_eq!(m.plus(-6).to_string(), "2024-12");
        assert_eq!(Month::parse("2026-02").unwrap().days(), 28);
        assert_eq!(Month::parse("2028-02").unwrap().days(), 29);
        for bad in ["2025-13", "2025-6", "x", "2025-00"] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn days_round_trip() {
        let d = Date {
            year: 2026,
            month: 3,
            day: 14,
        };
        assert_eq!(d.to_days(), 20_526);
        for n in -1000..1000 {
            let x = d.plus_days(n);
            assert_eq!(x.to_days(), d.to_days() + n);
        }
        assert_eq!(d.plus_days(20).to_string(), "2026-04-03");
        assert_eq!(rfc3339_utc(1_767_323_045), "2026-01-02T03:04:05Z");
        assert_eq!(offset_str(330), "+05:30");
        assert_eq!(offset_str(-180), "-03:00");
    }
}
