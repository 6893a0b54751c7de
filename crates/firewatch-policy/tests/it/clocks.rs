//! Property tests for clock arithmetic across DST changes, weekends and holidays.

use firewatch_policy::*;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

fn default_calendars() -> &'static [Calendar; 2] {
    // Loading the playbook compiles CEL: do it once, not per generated case.
    static CALS: std::sync::OnceLock<[Calendar; 2]> = std::sync::OnceLock::new();
    CALS.get_or_init(|| {
        let p = Playbook::default_playbook();
        // Paris has a lunch break; both carry the 2026-2027 holidays of the default playbook.
        [
            p.calendar("FR").unwrap().clone(),
            p.calendar("US").unwrap().clone(),
        ]
    })
}

fn paris() -> Calendar {
    default_calendars()[0].clone()
}

fn new_york() -> Calendar {
    default_calendars()[1].clone()
}

fn calendars() -> &'static [Calendar; 2] {
    default_calendars()
}

/// Instants within a few days of the 2026 DST changes in Paris and New York, or anywhere
/// in 2026-2027.
fn instant() -> impl Strategy<Value = Timestamp> {
    let near = |center: &str| {
        let c: Timestamp = center.parse().unwrap();
        let s = c.as_second();
        (s - 4 * 86_400..s + 4 * 86_400).prop_map(|x| Timestamp::from_second(x).unwrap())
    };
    let anywhere = {
        let a: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2027-12-31T00:00:00Z".parse().unwrap();
        (a.as_second()..b.as_second()).prop_map(|x| Timestamp::from_second(x).unwrap())
    };
    prop_oneof![
        near("2026-03-29T01:00:00Z"), // Paris springs forward
        near("2026-10-25T01:00:00Z"), // Paris falls back
        near("2026-03-08T07:00:00Z"), // New York springs forward
        near("2026-11-01T06:00:00Z"), // New York falls back
        near("2026-12-25T12:00:00Z"), // Christmas, a Friday
        anywhere,
    ]
}

fn duration() -> impl Strategy<Value = ClockDuration> {
    (0i64..6, 0i64..(3 * 86_400)).prop_filter_map("zero", |(d, s)| {
        let d = ClockDuration::new(d, s).ok()?;
        (!d.is_zero()).then_some(d)
    })
}

fn basis() -> impl Strategy<Value = ClockBasis> {
    prop_oneof![Just(ClockBasis::Calendar), Just(ClockBasis::BusinessHours)]
}

/// Closed pauses: offsets (seconds after start) and lengths.
fn pauses(start: Timestamp) -> impl Strategy<Value = Vec<Pause>> {
    prop::collection::vec((0i64..(10 * 86_400), 1i64..(2 * 86_400)), 0..4).prop_map(move |v| {
        v.into_iter()
            .map(|(off, len)| {
                let a = start.checked_add(SignedDuration::from_secs(off)).unwrap();
                (
                    a,
                    Some(a.checked_add(SignedDuration::from_secs(len)).unwrap()),
                )
            })
            .collect()
    })
}

/// What the duration amounts to in clock time, computed independently of `deadline`.
fn expected_budget(
    start: Timestamp,
    d: ClockDuration,
    basis: ClockBasis,
    cal: &Calendar,
) -> SignedDuration {
    match basis {
        ClockBasis::BusinessHours => {
            cal.working_day_length() * (d.days() as i32) + SignedDuration::from_secs(d.seconds())
        }
        ClockBasis::Calendar => {
            // Calendar days: same local wall time d days later, in the calendar's zone.
            let z = start.to_zoned_datetime(cal.time_zone().clone());
            let dt = z
                .datetime()
                .checked_add(jiff::Span::new().days(d.days()))
                .unwrap();
            // A wall time that occurs twice (the night clocks go back) keeps the start's
            // offset when it is one of the two, so "0 days" is the start itself and "1 day"
            // from 02:30 CET is 02:30 CET, not 02:30 CEST an hour earlier.
            let end = match cal.time_zone().to_ambiguous_timestamp(dt).offset() {
                jiff::tz::AmbiguousOffset::Fold { before, after }
                    if before == z.offset() || after == z.offset() =>
                {
                    z.offset().to_timestamp(dt).unwrap()
                }
                _ => cal.time_zone().to_timestamp(dt).unwrap(),
            };
            start.duration_until(end) + SignedDuration::from_secs(d.seconds())
        }
    }
}

/// Total time covered by (possibly overlapping) closed pauses inside [from, to], second by
/// second over merged intervals.
fn paused_overlap(pauses: &[Pause], from: Timestamp, to: Timestamp) -> SignedDuration {
    let mut iv: Vec<(Timestamp, Timestamp)> = pauses
        .iter()
        .map(|(a, b)| ((*a).max(from), b.unwrap().min(to)))
        .filter(|(a, b)| a < b)
        .collect();
    iv.sort();
    let mut total = SignedDuration::ZERO;
    let mut covered_until = from;
    for (a, b) in iv {
        let a = a.max(covered_until);
        if b > a {
            total += a.duration_until(b);
            covered_until = b;
        }
    }
    total
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_deadline_is_never_before_the_start(start in instant(), d in duration(), b in basis(), cal in 0usize..2) {
        let cal = &calendars()[cal];
        let dl = deadline(start, d, b, cal, &[]).unwrap();
        prop_assert!(dl >= start);
    }

    #[test]
    fn clock_time_between_start_and_deadline_equals_the_duration(
        start in instant(), d in duration(), b in basis(), cal in 0usize..2,
    ) {
        let cal = &calendars()[cal];
        let dl = deadline(start, d, b, cal, &[]).unwrap();
        prop_assert_eq!(active_time(start, dl, b, cal, &[]), expected_budget(start, d, b, cal));
        // And not a second earlier: the deadline is the first instant the budget is used up.
        if dl > start {
            let before = dl.checked_sub(SignedDuration::from_secs(1)).unwrap();
            prop_assert!(active_time(start, before, b, cal, &[]) < expected_budget(start, d, b, cal));
        }
    }

    #[test]
    fn a_business_deadline_falls_within_working_hours_on_a_working_day(
        start in instant(), d in duration(), cal in 0usize..2,
    ) {
        let cal = &calendars()[cal];
        let dl = deadline(start, d, ClockBasis::BusinessHours, cal, &[]).unwrap();
        // The instant just before the deadline is inside a working interval.
        let just_before = dl.checked_sub(SignedDuration::from_secs(1)).unwrap();
        let local = cal.time_zone().to_datetime(just_before);
        prop_assert!(cal.is_working_day(local.date()), "{local} is not a working day");
        let inside = cal.working_intervals(just_before).next().is_some_and(|(a, _)| a == just_before);
        prop_assert!(inside, "{local} is outside working hours");
    }

    #[test]
    fn the_deadline_is_monotone_in_the_duration(
        start in instant(), d in duration(), more_days in 0i64..3, more_secs in 0i64..86_400,
        b in basis(), cal in 0usize..2,
    ) {
        let cal = &calendars()[cal];
        let longer = ClockDuration::new(d.days() + more_days, d.seconds() + more_secs).unwrap();
        let a = deadline(start, d, b, cal, &[]).unwrap();
        let z = deadline(start, longer, b, cal, &[]).unwrap();
        prop_assert!(a <= z, "{d} -> {a}, {longer} -> {z}");
    }

    #[test]
    fn pausing_never_shortens_and_paused_time_does_not_count(
        (start, pauses) in instant().prop_flat_map(|s| (Just(s), pauses(s))),
        d in duration(), b in basis(), cal in 0usize..2,
    ) {
        let cal = &calendars()[cal];
        let free = deadline(start, d, b, cal, &[]).unwrap();
        let paused = deadline(start, d, b, cal, &pauses).unwrap();
        prop_assert!(paused >= free);
        prop_assert_eq!(active_time(start, paused, b, cal, &pauses), expected_budget(start, d, b, cal));
        if b == ClockBasis::Calendar {
            // Independently: elapsed = budget + the paused time inside [start, deadline].
            prop_assert_eq!(
                start.duration_until(paused),
                expected_budget(start, d, b, cal) + paused_overlap(&pauses, start, paused)
            );
        }
    }

    #[test]
    fn a_regulator_clock_state_ignores_pauses(
        start in instant(), hours in 1i64..200, now_off in 0i64..(15 * 86_400),
    ) {
        let plan = ClockPlan {
            name: "regulator_report".into(),
            kind: ClockKind::Regulator,
            duration: ClockDuration::from_hours(hours).unwrap(),
            basis: ClockBasis::Calendar,
            pausable: false,
            calendar: paris(),
            rule_id: "r".into(),
            reference: None,
        };
        let now = start.checked_add(SignedDuration::from_secs(now_off)).unwrap();
        let with = clock_state(&plan, start, now, &[(start, None)]);
        let without = clock_state(&plan, start, now, &[]);
        prop_assert_eq!(&with, &without);
        prop_assert!(!with.paused);
        prop_assert_eq!(with.breached, now >= start.checked_add(SignedDuration::from_hours(hours)).unwrap());
    }

    #[test]
    fn a_courtesy_clock_does_not_breach_while_paused_before_its_deadline(
        start in instant(), hours in 1i64..100, pause_off in 0i64..(4 * 86_400), now_off in 0i64..(20 * 86_400),
    ) {
        let plan = ClockPlan {
            name: "first_customer_contact".into(),
            kind: ClockKind::Courtesy,
            duration: ClockDuration::from_hours(hours).unwrap(),
            basis: ClockBasis::BusinessHours,
            pausable: true,
            calendar: paris(),
            rule_id: "r".into(),
            reference: None,
        };
        let pause_start = start.checked_add(SignedDuration::from_secs(pause_off)).unwrap();
        let now = pause_start.checked_add(SignedDuration::from_secs(now_off)).unwrap();
        let unpaused_deadline = plan.deadline(start, &[]).unwrap();
        let st = clock_state(&plan, start, now, &[(pause_start, None)]);
        prop_assert!(st.paused);
        if pause_start < unpaused_deadline {
            prop_assert!(!st.breached);
            prop_assert_eq!(st.deadline, None);
            prop_assert!(st.projected_deadline.unwrap() >= unpaused_deadline);
        } else {
            prop_assert!(st.breached);
            prop_assert_eq!(st.deadline, Some(unpaused_deadline));
        }
    }
}

#[test]
fn a_friday_afternoon_business_clock_in_paris_skips_the_weekend_and_the_dst_change() {
    // Friday 2026-03-27 17:00 CET (16:00 UTC), 2 business hours: 1h Friday (until 18:00),
    // then Monday 2026-03-30 09:00-10:00 CEST (07:00-08:00 UTC), after the DST change.
    let start: Timestamp = "2026-03-27T16:00:00Z".parse().unwrap();
    let d = deadline(
        start,
        ClockDuration::from_hours(2).unwrap(),
        ClockBasis::BusinessHours,
        &paris(),
        &[],
    );
    assert_eq!(d, Some("2026-03-30T08:00:00Z".parse().unwrap()));
}

#[test]
fn a_business_clock_over_christmas_in_new_york_skips_the_holiday() {
    // Thursday 2026-12-24 16:00 EST, 2 business hours: 1h Thursday, Friday 25th is a holiday,
    // then Monday 28th 09:00-10:00 EST.
    let start: Timestamp = "2026-12-24T21:00:00Z".parse().unwrap();
    let d = deadline(
        start,
        ClockDuration::from_hours(2).unwrap(),
        ClockBasis::BusinessHours,
        &new_york(),
        &[],
    );
    assert_eq!(d, Some("2026-12-28T15:00:00Z".parse().unwrap()));
}

/// Found by the property test above: a calendar clock started inside the repeated hour of the
/// night Paris falls back (02:34:55 CET, the second 02:34:55 that night) runs exactly its
/// seconds; the model once resolved the wall time to the first occurrence and was an hour out.
#[test]
fn a_calendar_clock_started_in_the_repeated_hour_runs_its_exact_length() {
    let start: Timestamp = "2026-10-25T01:34:55Z".parse().unwrap();
    let d = ClockDuration::new(0, 4_281).unwrap();
    let dl = deadline(start, d, ClockBasis::Calendar, &paris(), &[]).unwrap();
    assert_eq!(start.duration_until(dl), SignedDuration::from_secs(4_281));
    assert_eq!(
        expected_budget(start, d, ClockBasis::Calendar, &paris()),
        SignedDuration::from_secs(4_281)
    );
    // One calendar day from the repeated hour is the same wall time the next day: 25 hours.
    let one_day = ClockDuration::new(1, 0).unwrap();
    let dl = deadline(start, one_day, ClockBasis::Calendar, &paris(), &[]).unwrap();
    assert_eq!(dl, "2026-10-26T01:34:55Z".parse::<Timestamp>().unwrap());
    assert_eq!(
        expected_budget(start, one_day, ClockBasis::Calendar, &paris()),
        SignedDuration::from_hours(24)
    );
}
