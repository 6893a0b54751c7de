//! Business-hours calendars: a time zone, working days, working hours, holidays.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// How many days the interval walker looks ahead before giving up. With at least one working
/// day a week, at most [`MAX_HOLIDAYS`] holidays and durations of at most 366 days, a
/// deadline is always found well inside this horizon.
pub(crate) const MAX_SCAN_DAYS: i64 = 20_000;
/// Upper bound on a calendar's holiday and extra-working-day lists.
pub const MAX_HOLIDAYS: usize = 2_000;

/// The time zone database compiled into the binary (no file access, same on every host).
fn tzdb() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Looks up an IANA time zone name in the bundled database.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    if name == "UTC" {
        return Some(TimeZone::UTC);
    }
    tzdb().get(name).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown IANA time zone `{0}`")]
    UnknownTimeZone(String),
    #[error("unknown weekday `{0}` (expected mon, tue, wed, thu, fri, sat, sun)")]
    UnknownWeekday(String),
    #[error("weekday `{0}` is listed twice")]
    DuplicateWeekday(String),
    #[error("a calendar needs at least one working day")]
    NoWorkingDays,
    #[error("a calendar needs at least one working-hours window")]
    NoWorkingHours,
    #[error("bad working-hours window `{0}` (expected \"HH:MM-HH:MM\" with start before end)")]
    BadWindow(String),
    #[error("working-hours windows `{0}` and `{1}` overlap or are out of order")]
    OverlappingWindows(String, String),
    #[error("bad date `{0}` (expected YYYY-MM-DD)")]
    BadDate(String),
    #[error("too many dates ({0}, at most {MAX_HOLIDAYS})")]
    TooManyDates(usize),
}

/// A business-hours calendar. Build it with [`Calendar::new`] (or through a playbook).
#[derive(Debug, Clone)]
pub struct Calendar {
    name: String,
    time_zone_name: String,
    tz: TimeZone,
    /// Index 0 = Monday.
    working_days: [bool; 7],
    windows: Vec<(Time, Time)>,
    holidays: BTreeSet<Date>,
    extra_working_days: BTreeSet<Date>,
}

impl PartialEq for Calendar {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.time_zone_name == other.time_zone_name
            && self.working_days == other.working_days
            && self.windows == other.windows
            && self.holidays == other.holidays
            && self.extra_working_days == other.extra_working_days
    }
}

const WEEKDAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday_index(w: Weekday) -> usize {
    (w.to_monday_one_offset() - 1) as usize
}

/// Parses `"09:00-17:30"`.
pub(crate) fn parse_window(s: &str) -> Result<(Time, Time), CalendarError> {
    let bad = || CalendarError::BadWindow(s.to_string());
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let parse_hm = |t: &str| -> Result<Time, CalendarError> {
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: i8 = h.parse().map_err(|_| bad())?;
        let m: i8 = m.parse().map_err(|_| bad())?;
        if h == 24 && m == 0 {
            // "24:00" closes at the end of the day.
            return Ok(Time::MAX);
        }
        Time::new(h, m, 0, 0).map_err(|_| bad())
    };
    let (open, close) = (parse_hm(a)?, parse_hm(b)?);
    if open >= close {
        return Err(bad());
    }
    Ok((open, close))
}

pub(crate) fn parse_date(s: &str) -> Result<Date, CalendarError> {
    let bad = || CalendarError::BadDate(s.to_string());
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let y: i16 = parts[0].parse().map_err(|_| bad())?;
    let m: i8 = parts[1].parse().map_err(|_| bad())?;
    let d: i8 = parts[2].parse().map_err(|_| bad())?;
    Date::new(y, m, d).map_err(|_| bad())
}

fn fmt_time(t: Time) -> String {
    if t == Time::MAX {
        "24:00".to_string()
    } else {
        format!("{:02}:{:02}", t.hour(), t.minute())
    }
}

impl Calendar {
    /// Builds a calendar. `working_days` are `mon`..`sun`, `working_hours` are `"HH:MM-HH:MM"`
    /// windows in increasing order, dates are `YYYY-MM-DD`. `extra_working_days` are dates
    /// that are worked although their weekday is not (make-up days); a holiday wins over them.
    pub fn new(
        name: &str,
        time_zone_name: &str,
        working_days: &[&str],
        working_hours: &[&str],
        holidays: &[&str],
        extra_working_days: &[&str],
    ) -> Result<Calendar, CalendarError> {
        let tz = time_zone(time_zone_name)
            .ok_or_else(|| CalendarError::UnknownTimeZone(time_zone_name.to_string()))?;
        let mut days = [false; 7];
        for d in working_days {
            let i = WEEKDAY_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(d.trim()))
                .ok_or_else(|| CalendarError::UnknownWeekday(d.to_string()))?;
            if days[i] {
                return Err(CalendarError::DuplicateWeekday(d.to_string()));
            }
            days[i] = true;
        }
        if !days.iter().any(|d| *d) {
            return Err(CalendarError::NoWorkingDays);
        }
        if working_hours.is_empty() {
            return Err(CalendarError::NoWorkingHours);
        }
        let mut windows: Vec<(Time, Time)> = Vec::new();
        for (i, w) in working_hours.iter().enumerate() {
            let win = parse_window(w)?;
            if let Some(prev) = windows.last()
                && win.0 < prev.1
            {
                return Err(CalendarError::OverlappingWindows(
                    working_hours[i - 1].to_string(),
                    w.to_string(),
                ));
            }
            windows.push(win);
        }
        let parse_dates = |list: &[&str]| -> Result<BTreeSet<Date>, CalendarError> {
            if list.len() > MAX_HOLIDAYS {
                return Err(CalendarError::TooManyDates(list.len()));
            }
            list.iter().map(|s| parse_date(s.trim())).collect()
        };
        Ok(Calendar {
            name: name.to_string(),
            time_zone_name: time_zone_name.to_string(),
            tz,
            working_days: days,
            windows,
            holidays: parse_dates(holidays)?,
            extra_working_days: parse_dates(extra_working_days)?,
        })
    }

    /// Monday to Friday, 09:00-17:00 UTC, no holidays: the fallback when a playbook names none.
    pub fn utc_office() -> Calendar {
        Calendar {
            name: "UTC".to_string(),
            time_zone_name: "UTC".to_string(),
            tz: TimeZone::UTC,
            working_days: [true, true, true, true, true, false, false],
            windows: vec![(Time::constant(9, 0, 0, 0), Time::constant(17, 0, 0, 0))],
            holidays: BTreeSet::new(),
            extra_working_days: BTreeSet::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn time_zone_name(&self) -> &str {
        &self.time_zone_name
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn holidays(&self) -> impl Iterator<Item = Date> + '_ {
        self.holidays.iter().copied()
    }

    /// Whether `date` (a local date in the calendar's zone) is a working day.
    pub fn is_working_day(&self, date: Date) -> bool {
        if self.holidays.contains(&date) {
            return false;
        }
        self.extra_working_days.contains(&date) || self.working_days[weekday_index(date.weekday())]
    }

    /// The nominal length of one working day: the sum of the working-hours windows.
    pub fn working_day_length(&self) -> SignedDuration {
        self.windows
            .iter()
            .map(|(a, b)| a.duration_until(*b))
            .fold(SignedDuration::ZERO, |acc, d| acc.saturating_add(d))
    }

    /// The working intervals `[open, close)` as instants, in order, starting with the one that
    /// contains or follows `from` (clipped to start at `from`). DST-correct: each window's
    /// local open and close times are resolved in the calendar's zone on that very date (a
    /// local time that does not exist is moved forward, an ambiguous one takes the earlier
    /// instant).
    pub fn working_intervals(
        &self,
        from: Timestamp,
    ) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let first = self.tz.to_datetime(from).date();
        let mut day = 0i64;
        let mut date = Some(first);
        let mut pending: Vec<(Timestamp, Timestamp)> = Vec::new();
        std::iter::from_fn(move || {
            loop {
                if let Some(iv) = pending.pop() {
                    return Some(iv);
                }
                let d = date?;
                if day > MAX_SCAN_DAYS {
                    return None;
                }
                day += 1;
                date = d.tomorrow().ok();
                if !self.is_working_day(d) {
                    continue;
                }
                let mut today: Vec<(Timestamp, Timestamp)> = Vec::new();
                for (open, close) in &self.windows {
                    let (Ok(a), Ok(b)) = (
                        self.tz.to_timestamp(d.to_datetime(*open)),
                        self.tz.to_timestamp(d.to_datetime(*close)),
                    ) else {
                        continue;
                    };
                    let a = a.max(from);
                    if a < b {
                        today.push((a, b));
                    }
                }
                today.reverse();
                pending = today;
            }
        })
    }
}

impl Serialize for Calendar {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Calendar", 6)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("time_zone", &self.time_zone_name)?;
        let days: Vec<&str> = WEEKDAY_NAMES
            .iter()
            .zip(self.working_days)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect();
        s.serialize_field("working_days", &days)?;
        let hours: Vec<String> = self
            .windows
            .iter()
            .map(|(a, b)| format!("{}-{}", fmt_time(*a), fmt_time(*b)))
            .collect();
        s.serialize_field("working_hours", &hours)?;
        let holidays: Vec<String> = self.holidays.iter().map(|d| d.to_string()).collect();
        s.serialize_field("holidays", &holidays)?;
        let extra: Vec<String> = self
            .extra_working_days
            .iter()
            .map(|d| d.to_string())
            .collect();
        s.serialize_field("extra_working_days", &extra)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> Calendar {
        Calendar::new(
            "FR",
            "Europe/Paris",
            &["mon", "tue", "wed", "thu", "fri"],
            &["09:00-12:00", "14:00-18:00"],
            &["2026-05-01"],
            &["2026-05-02"],
        )
        .unwrap()
    }

    #[test]
    fn weekends_and_holidays_are_not_working_days_but_make_up_days_are() {
        let c = paris();
        assert!(c.is_working_day(Date::constant(2026, 4, 30))); // Thursday
        assert!(!c.is_working_day(Date::constant(2026, 5, 1))); // holiday, Friday
        assert!(c.is_working_day(Date::constant(2026, 5, 2))); // make-up Saturday
        assert!(!c.is_working_day(Date::constant(2026, 5, 3))); // Sunday
        assert_eq!(c.working_day_length(), SignedDuration::from_hours(7));
    }

    #[test]
    fn working_intervals_follow_local_time_across_dst() {
        let c = paris();
        // Friday 2026-03-27 20:00 UTC; DST starts in Paris on Sunday 2026-03-29.
        let from: Timestamp = "2026-03-27T20:00:00Z".parse().unwrap();
        let ivs: Vec<_> = c.working_intervals(from).take(2).collect();
        // Monday 09:00 CEST = 07:00 UTC (it was 08:00 UTC the week before).
        assert_eq!(
            ivs[0].0,
            "2026-03-30T07:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            ivs[0].1,
            "2026-03-30T10:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            ivs[1].0,
            "2026-03-30T12:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn an_interval_in_progress_is_clipped_to_the_start() {
        let c = paris();
        let from: Timestamp = "2026-03-27T09:30:00Z".parse().unwrap(); // 10:30 CET
        let first = c.working_intervals(from).next().unwrap();
        assert_eq!(first, (from, "2026-03-27T11:00:00Z".parse().unwrap()));
    }

    #[test]
    fn bad_calendars_are_refused_with_a_reason() {
        let days = ["mon"];
        let hours = ["09:00-17:00"];
        assert_eq!(
            Calendar::new("x", "Mars/Base", &days, &hours, &[], &[]),
            Err(CalendarError::UnknownTimeZone("Mars/Base".into()))
        );
        assert!(matches!(
            Calendar::new("x", "UTC", &["mon", "funday"], &hours, &[], &[]),
            Err(CalendarError::UnknownWeekday(_))
        ));
        assert!(matches!(
            Calendar::new("x", "UTC", &days, &["17:00-09:00"], &[], &[]),
            Err(CalendarError::BadWindow(_))
        ));
        assert!(matches!(
            Calendar::new("x", "UTC", &days, &["09:00-13:00", "12:00-17:00"], &[], &[]),
            Err(CalendarError::OverlappingWindows(_, _))
        ));
        assert!(matches!(
            Calendar::new("x", "UTC", &days, &hours, &["2026-02-30"], &[]),
            Err(CalendarError::BadDate(_))
        ));
        assert_eq!(
            Calendar::new("x", "UTC", &[], &hours, &[], &[]),
            Err(CalendarError::NoWorkingDays)
        );
    }
}
