//! The built-in default playbook beyond the story: markets, non-safety cases, floors, virality.

use crate::story::french_phone_fire;
use firewatch_domain::{HazardCode, Severity};
use firewatch_policy::*;
use jiff::Timestamp;

fn in_market(code: &str) -> Evaluation {
    let mut f = french_phone_fire();
    f.market = code.into();
    Playbook::default_playbook().evaluate(&f)
}

#[test]
fn regulator_clocks_depend_on_the_market() {
    let cases = [
        ("US", "24h", "US"),
        ("DE", "48h", "DE"),
        ("IT", "48h", "UTC"),
        ("CA", "2d", "CA"),
        ("JP", "72h", "UTC"),
    ];
    for (market, duration, calendar) in cases {
        let eval = in_market(market);
        let c = eval.clock("regulator_report").unwrap();
        assert_eq!(c.duration.to_string(), duration, "{market}");
        assert_eq!(c.calendar.name(), calendar, "{market}");
        assert!(!c.pausable);
    }
    let us = in_market("US");
    let reference = us
        .clock("regulator_report")
        .unwrap()
        .reference
        .clone()
        .unwrap();
    assert!(reference.contains("15(b)"), "{reference}");
}

#[test]
fn the_us_regulator_deadline_is_24_elapsed_hours_even_over_thanksgiving() {
    let eval = in_market("US");
    let c = eval.clock("regulator_report").unwrap();
    let start: Timestamp = "2026-11-25T22:00:00Z".parse().unwrap();
    assert_eq!(
        c.deadline(start, &[]),
        Some("2026-11-26T22:00:00Z".parse().unwrap())
    );
}

#[test]
fn the_eu_undue_delay_default_is_configurable() {
    let text = DEFAULT_PLAYBOOK_TOML.replace(
        "regulator_clock = { duration = \"48h\", basis = \"calendar\", reference = \"GPSR Art. 20",
        "regulator_clock = { duration = \"36h\", basis = \"calendar\", reference = \"GPSR Art. 20",
    );
    assert_ne!(
        text, DEFAULT_PLAYBOOK_TOML,
        "the EU setting moved in default.toml"
    );
    let p = Playbook::from_toml_str("custom.toml", &text).unwrap();
    let eval = p.evaluate(&french_phone_fire());
    assert_eq!(
        eval.clock("regulator_report").unwrap().duration.to_string(),
        "36h"
    );
}

#[test]
fn a_non_safety_case_may_have_a_paid_remedy_and_no_regulator_clock() {
    let mut f = CaseFacts::new(Severity::S4);
    f.market = "FR".into();
    let eval = Playbook::default_playbook().evaluate(&f);
    assert!(!eval.facts.is_safety);
    assert_eq!(eval.effects.team.as_deref(), Some("customer-care"));
    assert_eq!(
        decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Discount, 50)),
        RemedyDecision::Allowed
    );
    assert!(eval.clock("regulator_report").is_none());
    assert_eq!(
        eval.clock("resolution").unwrap().duration.to_string(),
        "30d"
    );
    assert!(resolution_blockers(&eval, &CaseProgress::default()).is_empty());
    // A supervisor (not hq) approves exceptions on ordinary cases.
    let reason = "Long-standing customer, commercial gesture.";
    assert_eq!(
        may_approve_exception(&eval, "standard-remedies", Role::Supervisor, reason),
        Ok(())
    );
    assert!(matches!(
        may_approve_exception(&eval, "standard-remedies", Role::Agent, reason),
        Err(PolicyError::WrongApprover { .. })
    ));
}

#[test]
fn an_s2_case_gets_the_two_business_day_safety_review_and_no_device_retrieval() {
    let mut f = CaseFacts::new(Severity::S2);
    f.hazards = vec![HazardCode::ThermalSmoke];
    f.market = "DE".into();
    let eval = Playbook::default_playbook().evaluate(&f);
    let review = eval.clock("safety_review").unwrap();
    assert_eq!(review.rule_id, "safety-clocks");
    assert_eq!(review.basis, ClockBasis::BusinessHours);
    assert!(
        eval.effects
            .tasks
            .iter()
            .all(|t| t.task != TaskKind::DeviceRetrieval)
    );
    let d = decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Repair, 20));
    assert!(
        matches!(d, RemedyDecision::Refused { ref rule_id, .. } if rule_id == "safety-cost-free")
    );
}

#[test]
fn a_severity_floor_raises_the_case_and_re_evaluates_the_rules() {
    let mut f = CaseFacts::new(Severity::S3);
    f.hazards = vec![HazardCode::ThermalOverheating];
    f.product.category = "e-bike".into();
    f.market = "US".into();
    let eval = Playbook::default_playbook().evaluate(&f);
    assert_eq!(eval.input_severity, Severity::S3);
    assert_eq!(eval.facts.severity, Severity::S2);
    assert_eq!(eval.effects.severity, Severity::S2);
    assert!(eval.matched_rule("battery-hazard-floor").is_some());
}

#[test]
fn a_story_likely_to_go_viral_escalates_to_hq_and_tells_pr() {
    let mut f = french_phone_fire();
    f.mentions = MentionFacts {
        count: 4,
        max_predicted_reach: 250_000.0,
        max_p_exceed: 0.83,
    };
    let eval = Playbook::default_playbook().evaluate(&f);
    assert_eq!(eval.effects.escalate_to, Some(Level::Hq));
    let targets: Vec<&str> = eval
        .notifications_on_match()
        .iter()
        .map(|n| n.target.as_str())
        .collect();
    assert!(targets.contains(&"role:pr"), "{targets:?}");
    let quiet = Playbook::default_playbook().evaluate(&french_phone_fire());
    assert_eq!(quiet.effects.escalate_to, Some(Level::Safety));
}

#[test]
fn every_listed_market_has_a_calendar_with_weekends_and_2026_2027_holidays() {
    let p = Playbook::default_playbook();
    for market in ["US", "FR", "DE", "IN", "BR", "ID", "CN", "CA"] {
        let cal = p.market_calendar(market);
        assert_eq!(cal.name(), market);
        let holidays: Vec<_> = cal.holidays().collect();
        assert!(holidays.iter().any(|d| d.year() == 2026), "{market}");
        assert!(holidays.iter().any(|d| d.year() == 2027), "{market}");
        // 2026-11-28 is a Saturday, 2026-11-29 a Sunday.
        assert!(!cal.is_working_day(jiff::civil::Date::constant(2026, 11, 28)));
        assert!(!cal.is_working_day(jiff::civil::Date::constant(2026, 11, 29)));
        assert!(cal.working_day_length() >= jiff::SignedDuration::from_hours(7));
    }
    // New Year's Day is a holiday everywhere except where the law moves it.
    for market in ["US", "FR", "DE", "BR", "ID", "CN", "CA"] {
        assert!(
            !p.market_calendar(market)
                .is_working_day(jiff::civil::Date::constant(2027, 1, 1))
        );
    }
}

#[test]
fn an_evaluation_serializes_to_json_for_storage_and_display() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let v = serde_json::to_value(&eval).unwrap();
    assert_eq!(v["facts"]["severity"], "S1");
    assert_eq!(v["trace"][0]["rule_id"], "safety-cost-free");
    assert_eq!(v["trace"][0]["outcome"]["result"], "matched");
    let clocks = v["effects"]["clocks"].as_array().unwrap();
    assert!(
        clocks.iter().any(
            |c| c["name"] == "regulator_report" && c["calendar"]["time_zone"] == "Europe/Paris"
        )
    );
}

#[test]
fn a_runtime_error_in_a_rule_is_recorded_and_the_rule_does_not_match() {
    // Passes the smoke samples (the index exists there) but fails on a case without hazards.
    let text = "[[rules]]\nid = \"first-hazard\"\nwhen = \"case.severity == 'S4' || case.hazards[0] == 'thermal.smoke'\"\n";
    let p = Playbook::from_toml_str("p.toml", text).unwrap();
    let mut f = CaseFacts::new(Severity::S2);
    f.hazards.clear();
    let eval = p.evaluate(&f);
    assert!(eval.matched.is_empty());
    assert_eq!(eval.errors().count(), 1);
}

mod invariants {
    use super::*;
    use firewatch_domain::InjuryLevel;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn playbook() -> &'static Playbook {
        static P: OnceLock<Playbook> = OnceLock::new();
        P.get_or_init(Playbook::default_playbook)
    }

    fn severity() -> impl Strategy<Value = Severity> {
        prop_oneof![
            Just(Severity::S1),
            Just(Severity::S2),
            Just(Severity::S3),
            Just(Severity::S4)
        ]
    }

    fn injury() -> impl Strategy<Value = InjuryLevel> {
        prop_oneof![
            Just(InjuryLevel::None),
            Just(InjuryLevel::Minor),
            Just(InjuryLevel::Serious),
            Just(InjuryLevel::Fatal),
            Just(InjuryLevel::Unknown)
        ]
    }

    fn hazards() -> impl Strategy<Value = Vec<HazardCode>> {
        prop::sample::subsequence(HazardCode::ALL.to_vec(), 0..=HazardCode::ALL.len())
    }

    prop_compose! {
        fn facts()(
            sev in severity(),
            hazards in hazards(),
            potential in hazards(),
            injuries in injury(),
            market in prop::sample::select(vec!["FR", "US", "CA", "DE", "JP", "BR", "CN", "IN", "ID", "", "fr", "ZZ"]),
            category in prop::sample::select(vec!["phone", "e-bike", "power-bank", "laptop", ""]),
            price in 0.0f64..5000.0,
            count in 0i64..1000,
            reach in 0.0f64..1e7,
            p in 0.0f64..1.0,
        ) -> CaseFacts {
            let mut f = CaseFacts::new(sev);
            f.hazards = hazards;
            f.potential_hazards = potential;
            f.injuries = injuries;
            f.market = market.to_string();
            f.product.category = category.to_string();
            f.product.price = price;
            f.product.currency = "EUR".into();
            f.mentions = MentionFacts { count, max_predicted_reach: reach, max_p_exceed: p };
            f
        }
    }

    fn kind() -> impl Strategy<Value = RemedyKind> {
        prop::sample::select(RemedyKind::ALL.to_vec())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn the_default_playbook_never_fails_at_run_time(f in facts()) {
            let eval = playbook().evaluate(&f);
            prop_assert_eq!(eval.errors().count(), 0);
            prop_assert_eq!(eval.trace.len(), playbook().rules().len());
            // Severity can only rise.
            prop_assert!(eval.facts.severity <= f.severity);
        }

        #[test]
        fn on_every_safety_case_a_paying_customer_is_refused_by_safety_cost_free(
            f in facts(), k in kind(), pays in 1u8..=100,
        ) {
            let eval = playbook().evaluate(&f);
            let d = decide_remedy(&eval, &RemedyProposal::new(k, pays));
            if eval.facts.is_safety {
                let refused_by_cost_free = matches!(&d, RemedyDecision::Refused { rule_id, .. } if rule_id == "safety-cost-free");
                prop_assert!(refused_by_cost_free, "{:?}", d);
            }
        }

        #[test]
        fn on_every_safety_case_a_free_replacement_or_repair_is_allowed(f in facts(), repair in any::<bool>()) {
            let eval = playbook().evaluate(&f);
            let k = if repair { RemedyKind::Repair } else { RemedyKind::Replacement };
            if eval.facts.is_safety {
                prop_assert_eq!(decide_remedy(&eval, &RemedyProposal::new(k, 0)), RemedyDecision::Allowed);
            }
        }

        #[test]
        fn every_s1_case_needs_device_retrieval_with_custody_and_a_regulator_clock(f in facts()) {
            let eval = playbook().evaluate(&f);
            if eval.facts.severity == Severity::S1 {
                let dr = eval.effects.tasks.iter().find(|t| t.task == TaskKind::DeviceRetrieval);
                prop_assert!(dr.is_some_and(|t| t.chain_of_custody));
                prop_assert!(eval.clock("regulator_report").is_some_and(|c| !c.pausable));
            }
            if f.person_hurt() {
                prop_assert!(eval.effects.tasks.iter().any(|t| t.task == TaskKind::InjuryFollowUp));
            }
        }

        #[test]
        fn only_hq_approves_exceptions_on_safety_cases(f in facts(), role in prop::sample::select(Role::ALL.to_vec())) {
            let eval = playbook().evaluate(&f);
            let r = may_approve_exception(&eval, "safety-cost-free", role, "The customer asked for an upgrade model.");
            if eval.facts.is_safety {
                prop_assert_eq!(r.is_ok(), role == Role::Hq);
            } else {
                prop_assert!(r.is_err());
            }
        }
    }
}
