//! Clock arithmetic: deadlines in calendar time or business hours, pauses, clock state,
//! and the escalation ladder. Time is always a parameter; nothing here reads a clock.

use crate::calendar::Calendar;
use crate::duration::ClockDuration;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A pause of a clock: from, and until (None = still paused).
pub type Pause = (Timestamp, Option<Timestamp>);

/// How a clock's duration is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockBasis {
    /// Elapsed time; a day is a calendar day in the calendar's time zone.
    Calendar,
    /// Only the calendar's working hours on working days count.
    BusinessHours,
}

/// What a clock is for. Regulator clocks never pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// A promise to the customer (e.g. first contact); usually pausable while waiting on them.
    Courtesy,
    /// An internal service level (acknowledgement, safety review, resolution).
    Internal,
    /// A legal reporting deadline (CPSC 15(b), GPSR Art. 20, CCPSA s.14). Never pauses.
    Regulator,
}

/// One level of the escalation ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Agent,
    Supervisor,
    Safety,
    Hq,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Agent, Level::Supervisor, Level::Safety, Level::Hq];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Agent => "agent",
            Level::Supervisor => "supervisor",
            Level::Safety => "safety",
            Level::Hq => "hq",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The escalation ladder: agent -> supervisor -> safety -> hq; hq is the top.
pub fn next_level(current: Level) -> Option<Level> {
    match current {
        Level::Agent => Some(Level::Supervisor),
        Level::Supervisor => Some(Level::Safety),
        Level::Safety => Some(Level::Hq),
        Level::Hq => None,
    }
}

/// Turns a case's status history into pauses: `changes` are `(at, waiting)` pairs in time
/// order, `waiting` = the case entered (true) or left (false) `waiting_customer`. A pause
/// still open at the end has `until = None`. Repeated states are ignored.
pub fn pauses_from_waiting(changes: &[(Timestamp, bool)]) -> Vec<Pause> {
    let mut out: Vec<Pause> = Vec::new();
    let mut open: Option<Timestamp> = None;
    for &(at, waiting) in changes {
        match (waiting, open) {
            (true, None) => open = Some(at),
            (false, Some(from)) => {
                out.push((from, Some(at.max(from))));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        out.push((from, None));
    }
    out
}

/// Valid pauses as sorted, merged, half-open intervals; `Timestamp::MAX` = open-ended.
fn normalise_pauses(pauses: &[Pause]) -> Vec<(Timestamp, Timestamp)> {
    let mut v: Vec<(Timestamp, Timestamp)> = pauses
        .iter()
        .map(|(a, b)| (*a, b.unwrap_or(Timestamp::MAX)))
        .filter(|(a, b)| a < b)
        .collect();
    v.sort();
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `[a, b)` minus the (sorted, merged) pauses.
fn subtract(
    a: Timestamp,
    b: Timestamp,
    pauses: &[(Timestamp, Timestamp)],
) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    let mut cur = a;
    for &(pa, pb) in pauses {
        if pb <= cur {
            continue;
        }
        if pa >= b {
            break;
        }
        if pa > cur {
            out.push((cur, pa));
        }
        cur = cur.max(pb);
        if cur >= b {
            return out;
        }
    }
    if cur < b {
        out.push((cur, b));
    }
    out
}

/// The intervals during which a clock of this basis can run, from `from` on.
fn active_intervals<'a>(
    basis: ClockBasis,
    calendar: &'a Calendar,
    from: Timestamp,
) -> Box<dyn Iterator<Item = (Timestamp, Timestamp)> + 'a> {
    match basis {
        ClockBasis::Calendar => Box::new(std::iter::once((from, Timestamp::MAX))),
        ClockBasis::BusinessHours => Box::new(calendar.working_intervals(from)),
    }
}

/// The amount of clock time `duration` stands for, measured from `start`.
fn budget(
    start: Timestamp,
    duration: ClockDuration,
    basis: ClockBasis,
    calendar: &Calendar,
) -> Option<SignedDuration> {
    let secs = SignedDuration::from_secs(duration.seconds());
    match basis {
        ClockBasis::Calendar => {
            let zoned = start.to_zoned_datetime(calendar.time_zone().clone());
            let end = zoned.checked_add(duration.days().days()).ok()?;
            let end = end.timestamp().checked_add(secs).ok()?;
            Some(start.duration_until(end))
        }
        ClockBasis::BusinessHours => {
            let day = calendar.working_day_length();
            let days = i32::try_from(duration.days()).ok()?;
            day.checked_mul(days)?.checked_add(secs)
        }
    }
}

/// When a clock started at `start` with `duration` runs out.
///
/// On a `calendar` clock the duration is elapsed time (whole days are calendar days in the
/// calendar's zone, so "2d" across a DST change is 47 or 49 hours); on a `business_hours`
/// clock only working hours on working days count, in the calendar's zone. Time inside a
/// pause does not count. Returns `None` when an open-ended pause (until = None) suspends the
/// clock before it runs out: there is no deadline while it stays paused.
///
/// The caller decides whether the clock may pause: [`clock_state`] ignores pauses for
/// clocks that are not pausable (regulator clocks).
pub fn deadline(
    start: Timestamp,
    duration: ClockDuration,
    basis: ClockBasis,
    calendar: &Calendar,
    pauses: &[Pause],
) -> Option<Timestamp> {
    let mut left = budget(start, duration, basis, calendar)?;
    let pauses = normalise_pauses(pauses);
    if left.is_zero() {
        return Some(start);
    }
    // Pauses are merged and sorted, so an open-ended one is the last.
    let suspended_from = pauses
        .last()
        .filter(|(_, until)| *until == Timestamp::MAX)
        .map(|(from, _)| *from);
    for (a, b) in active_intervals(basis, calendar, start) {
        if suspended_from.is_some_and(|from| a >= from) {
            // Suspended for good: no need to walk the calendar any further.
            return None;
        }
        for (x, y) in subtract(a, b, &pauses) {
            let len = x.duration_until(y);
            if y == Timestamp::MAX || len >= left {
                return x.checked_add(left).ok();
            }
            left -= len;
        }
    }
    None
}

/// Clock time (elapsed or business, minus pauses) between `from` and `to`.
pub fn active_time(
    from: Timestamp,
    to: Timestamp,
    basis: ClockBasis,
    calendar: &Calendar,
    pauses: &[Pause],
) -> SignedDuration {
    let pauses = normalise_pauses(pauses);
    let mut total = SignedDuration::ZERO;
    if to <= from {
        return total;
    }
    for (a, b) in active_intervals(basis, calendar, from) {
        if a >= to {
            break;
        }
        for (x, y) in subtract(a, b.min(to), &pauses) {
            total += x.duration_until(y);
        }
    }
    total
}

/// What the engine needs to know about one clock. Produced by a playbook evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockPlan {
    pub name: String,
    pub kind: ClockKind,
    pub duration: ClockDuration,
    pub basis: ClockBasis,
    pub pausable: bool,
    pub calendar: Calendar,
    /// The rule that set this clock.
    pub rule_id: String,
    /// For regulator clocks: the legal reference (e.g. "CPSA Section 15(b)").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl ClockPlan {
    /// The deadline, honouring `pausable` (pauses are ignored when the clock may not pause).
    pub fn deadline(&self, started: Timestamp, pauses: &[Pause]) -> Option<Timestamp> {
        let pauses = if self.pausable { pauses } else { &[] };
        deadline(started, self.duration, self.basis, &self.calendar, pauses)
    }
}

/// A clock's state at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockState {
    /// When it runs out, or None while an open pause suspends it.
    pub deadline: Option<Timestamp>,
    /// The deadline if the clock resumed at `now` (equals `deadline` when not paused).
    pub projected_deadline: Option<Timestamp>,
    /// projected_deadline - now: negative once breached.
    pub remaining: Option<SignedDuration>,
    /// `now` is at or past the deadline.
    pub breached: bool,
    /// The clock is pausable and inside a pause at `now`.
    pub paused: bool,
}

/// The state of `clock` started at `started`, at `now`, given the case's pauses (the
/// intervals it spent in `waiting_customer`). Pauses are ignored for clocks that are not
/// pausable, so regulator clocks never pause.
pub fn clock_state(
    clock: &ClockPlan,
    started: Timestamp,
    now: Timestamp,
    pauses: &[Pause],
) -> ClockState {
    let pauses: &[Pause] = if clock.pausable { pauses } else { &[] };
    let paused = pauses
        .iter()
        .any(|(a, b)| *a <= now && b.is_none_or(|b| b > now));
    let dl = deadline(
        started,
        clock.duration,
        clock.basis,
        &clock.calendar,
        pauses,
    );
    // Close open pauses at `now` to project the deadline if work resumed now.
    let closed: Vec<Pause> = pauses
        .iter()
        .map(|(a, b)| (*a, Some(b.unwrap_or(now.max(*a)))))
        .collect();
    let projected = deadline(
        started,
        clock.duration,
        clock.basis,
        &clock.calendar,
        &closed,
    );
    let breached = projected.is_some_and(|d| now >= d);
    ClockState {
        deadline: dl,
        projected_deadline: projected,
        remaining: projected.map(|d| now.duration_until(d)),
        breached,
        paused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn ny() -> Calendar {
        Calendar::new(
            "US",
            "America/New_York",
            &["mon", "tue", "wed", "thu", "fri"],
            &["09:00-17:00"],
            &["2026-11-26"],
            &[],
        )
        .unwrap()
    }

    fn h(n: i64) -> ClockDuration {
        ClockDuration::from_hours(n).unwrap()
    }

    #[test]
    fn the_ladder_goes_agent_supervisor_safety_hq_and_stops() {
        assert_eq!(next_level(Level::Agent), Some(Level::Supervisor));
        assert_eq!(next_level(Level::Supervisor), Some(Level::Safety));
        assert_eq!(next_level(Level::Safety), Some(Level::Hq));
        assert_eq!(next_level(Level::Hq), None);
    }

    #[test]
    fn waiting_customer_periods_become_pauses() {
        let t = |h: i64| {
            ts("2026-06-01T00:00:00Z")
                .checked_add(SignedDuration::from_hours(h))
                .unwrap()
        };
        let changes = [
            (t(1), true),
            (t(2), true),
            (t(3), false),
            (t(4), false),
            (t(5), true),
        ];
        assert_eq!(
            pauses_from_waiting(&changes),
            vec![(t(1), Some(t(3))), (t(5), None)]
        );
        assert!(pauses_from_waiting(&[]).is_empty());
    }

    #[test]
    fn a_calendar_clock_of_24_hours_is_24_elapsed_hours() {
        let start = ts("2026-03-07T15:00:00Z");
        let d = deadline(start, h(24), ClockBasis::Calendar, &ny(), &[]).unwrap();
        assert_eq!(d, ts("2026-03-08T15:00:00Z"));
    }

    #[test]
    fn a_calendar_day_across_spring_forward_is_23_hours() {
        // America/New_York springs forward on 2026-03-08.
        let start = ts("2026-03-07T17:00:00Z"); // 12:00 EST
        let one_day = ClockDuration::new(1, 0).unwrap();
        let d = deadline(start, one_day, ClockBasis::Calendar, &ny(), &[]).unwrap();
        assert_eq!(d, ts("2026-03-08T16:00:00Z")); // 12:00 EDT
    }

    #[test]
    fn business_hours_skip_the_night_the_weekend_and_thanksgiving() {
        // Wednesday 2026-11-25 16:00 EST = 21:00 UTC; 2h of business time:
        // 1h on Wednesday, Thursday is Thanksgiving, 1h on Friday from 09:00 EST.
        let start = ts("2026-11-25T21:00:00Z");
        let d = deadline(start, h(2), ClockBasis::BusinessHours, &ny(), &[]).unwrap();
        assert_eq!(d, ts("2026-11-27T15:00:00Z"));
        // Friday 16:00 + 2h -> Monday 10:00.
        let start = ts("2026-11-27T21:00:00Z");
        let d = deadline(start, h(2), ClockBasis::BusinessHours, &ny(), &[]).unwrap();
        assert_eq!(d, ts("2026-11-30T15:00:00Z"));
    }

    #[test]
    fn a_business_day_is_one_working_day_length() {
        let start = ts("2026-11-23T14:00:00Z"); // Monday 09:00 EST
        let one_day = ClockDuration::new(1, 0).unwrap();
        let d = deadline(start, one_day, ClockBasis::BusinessHours, &ny(), &[]).unwrap();
        assert_eq!(d, ts("2026-11-23T22:00:00Z")); // 17:00 the same day
    }

    #[test]
    fn a_closed_pause_pushes_the_deadline_by_its_length() {
        let start = ts("2026-06-01T00:00:00Z");
        let pauses = [(ts("2026-06-01T02:00:00Z"), Some(ts("2026-06-01T05:00:00Z")))];
        let d = deadline(start, h(10), ClockBasis::Calendar, &ny(), &pauses).unwrap();
        assert_eq!(d, ts("2026-06-01T13:00:00Z"));
    }

    #[test]
    fn an_open_pause_suspends_the_deadline_and_the_state_projects_it() {
        let start = ts("2026-06-01T00:00:00Z");
        let pauses = [(ts("2026-06-01T02:00:00Z"), None)];
        assert_eq!(
            deadline(start, h(10), ClockBasis::Calendar, &ny(), &pauses),
            None
        );
        let plan = ClockPlan {
            name: "first_customer_contact".into(),
            kind: ClockKind::Courtesy,
            duration: h(10),
            basis: ClockBasis::Calendar,
            pausable: true,
            calendar: ny(),
            rule_id: "r".into(),
            reference: None,
        };
        let now = ts("2026-06-01T20:00:00Z");
        let st = clock_state(&plan, start, now, &pauses);
        assert!(st.paused);
        assert!(!st.breached);
        assert_eq!(st.deadline, None);
        // 2h used before the pause, 8h left from now.
        assert_eq!(st.projected_deadline, Some(ts("2026-06-02T04:00:00Z")));
        assert_eq!(st.remaining, Some(SignedDuration::from_hours(8)));
    }

    #[test]
    fn a_regulator_clock_ignores_pauses_and_breaches() {
        let plan = ClockPlan {
            name: "regulator_report".into(),
            kind: ClockKind::Regulator,
            duration: h(24),
            basis: ClockBasis::Calendar,
            pausable: false,
            calendar: ny(),
            rule_id: "r".into(),
            reference: Some("CPSA Section 15(b)".into()),
        };
        let start = ts("2026-06-01T00:00:00Z");
        let pauses = [(ts("2026-06-01T01:00:00Z"), None)];
        let st = clock_state(&plan, start, ts("2026-06-02T00:00:00Z"), &pauses);
        assert!(!st.paused);
        assert!(st.breached);
        assert_eq!(st.deadline, Some(ts("2026-06-02T00:00:00Z")));
        assert_eq!(st.remaining, Some(SignedDuration::ZERO));
        let st = clock_state(&plan, start, ts("2026-06-01T23:00:00Z"), &pauses);
        assert!(!st.breached);
        assert_eq!(st.remaining, Some(SignedDuration::from_hours(1)));
    }

    #[test]
    fn active_time_counts_only_working_hours_outside_pauses() {
        let cal = ny();
        let from = ts("2026-11-23T14:00:00Z"); // Mon 09:00 EST
        let to = ts("2026-11-24T22:00:00Z"); // Tue 17:00 EST
        assert_eq!(
            active_time(from, to, ClockBasis::BusinessHours, &cal, &[]),
            SignedDuration::from_hours(16)
        );
        let pauses = [(ts("2026-11-23T20:00:00Z"), Some(ts("2026-11-24T15:00:00Z")))];
        // Paused Mon 15:00 .. Tue 10:00 EST: loses 2h Monday and 1h Tuesday.
        assert_eq!(
            active_time(from, to, ClockBasis::BusinessHours, &cal, &pauses),
            SignedDuration::from_hours(13)
        );
    }
}
