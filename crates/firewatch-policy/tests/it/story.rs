//! DESIGN section 1: a six-day-old phone smokes, explodes and sets a bag on fire in France.

use firewatch_domain::{HazardCode, InjuryLevel, default_severity};
use firewatch_policy::*;
use jiff::Timestamp;

pub fn french_phone_fire() -> CaseFacts {
    let hazards = vec![
        HazardCode::ThermalSmoke,
        HazardCode::ThermalExplosion,
        HazardCode::ThermalFire,
        HazardCode::DamageProperty,
    ];
    let mut f = CaseFacts::new(default_severity(&hazards, InjuryLevel::None));
    f.hazards = hazards;
    f.injuries = InjuryLevel::None;
    f.market = "FR".into();
    f.product = ProductFacts {
        brand: "Acme".into(),
        model: "Nova 5".into(),
        category: "phone".into(),
        price: 899.0,
        currency: "EUR".into(),
    };
    f.channel = "phone".into();
    f
}

#[test]
fn the_french_fire_is_an_s1_safety_case_handled_by_product_safety() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    assert_eq!(eval.facts.severity, firewatch_domain::Severity::S1);
    assert!(eval.facts.is_safety);
    assert_eq!(eval.effects.team.as_deref(), Some("product-safety"));
    assert_eq!(eval.effects.escalate_to, Some(Level::Safety));
    let matched: Vec<&str> = eval.matched.iter().map(|m| m.rule_id.as_str()).collect();
    assert!(matched.contains(&"safety-cost-free"), "{matched:?}");
    assert!(matched.contains(&"s1-critical"), "{matched:?}");
    assert!(
        !matched.contains(&"injury-follow-up"),
        "nobody was hurt: {matched:?}"
    );
    // The trace says why: rule id, condition and result for every rule.
    let t = eval
        .trace
        .iter()
        .find(|t| t.rule_id == "s1-critical")
        .unwrap();
    assert_eq!(t.when, "case.severity == 'S1'");
    assert_eq!(t.outcome, RuleOutcome::Matched);
    assert_eq!(eval.trace.len(), Playbook::default_playbook().rules().len());
    assert_eq!(eval.errors().count(), 0);
}

#[test]
fn a_replacement_half_paid_by_the_customer_is_refused_with_the_rule_id() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let decision = decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Replacement, 50));
    let RemedyDecision::Refused {
        rule_id,
        explanation,
        allowed,
    } = decision
    else {
        panic!("expected a refusal, got {decision:?}");
    };
    assert_eq!(rule_id, "safety-cost-free");
    assert!(explanation.contains("50%"), "{explanation}");
    assert!(explanation.contains("safety case (S1)"), "{explanation}");
    assert!(explanation.contains("hq"), "{explanation}");
    let free_replacement = allowed
        .iter()
        .find(|a| a.kind == RemedyKind::Replacement)
        .expect("a replacement is allowed");
    assert_eq!(free_replacement.max_customer_pays_percent, 0);
    assert!(allowed.iter().all(|a| a.kind != RemedyKind::Discount));
}

#[test]
fn a_free_replacement_is_allowed() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let d = decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Replacement, 0));
    assert_eq!(d, RemedyDecision::Allowed);
    let d = decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Repair, 0));
    assert_eq!(d, RemedyDecision::Allowed);
}

#[test]
fn a_discount_or_a_partial_refund_is_refused_on_a_safety_case() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let d = decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Discount, 0));
    assert!(
        matches!(d, RemedyDecision::Refused { ref rule_id, .. } if rule_id == "safety-cost-free"),
        "{d:?}"
    );
    let mut refund = RemedyProposal::new(RemedyKind::Refund, 0);
    refund.amount = Some(450.0);
    let d = decide_remedy(&eval, &refund);
    let RemedyDecision::Refused { explanation, .. } = d else {
        panic!("{d:?}")
    };
    assert!(explanation.contains("899.00 EUR"), "{explanation}");
    refund.amount = Some(899.0);
    assert_eq!(decide_remedy(&eval, &refund), RemedyDecision::Allowed);
}

#[test]
fn a_goodwill_gift_needs_a_supervisor() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let d = decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Goodwill, 0));
    assert_eq!(
        d,
        RemedyDecision::NeedsApproval {
            roles: vec![Role::Supervisor],
            rule_id: "goodwill-needs-supervisor".into()
        }
    );
}

#[test]
fn only_hq_may_approve_an_exception_and_only_with_a_reason() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let reason = "Customer insists on an upgrade model and pays the difference.";
    assert_eq!(
        may_approve_exception(&eval, "safety-cost-free", Role::Supervisor, reason),
        Err(PolicyError::OnlyHqOnSafetyCase {
            rule_id: "safety-cost-free".into(),
            role: Role::Supervisor
        })
    );
    assert!(matches!(
        may_approve_exception(&eval, "safety-cost-free", Role::Hq, "   "),
        Err(PolicyError::ReasonRequired { .. })
    ));
    assert_eq!(
        may_approve_exception(&eval, "safety-cost-free", Role::Hq, reason),
        Ok(())
    );
    assert!(matches!(
        may_approve_exception(&eval, "standard-remedies", Role::Hq, reason),
        Err(PolicyError::RuleNotApplicable { .. })
    ));
    assert!(matches!(
        may_approve_exception(&eval, "s1-critical", Role::Hq, reason),
        Err(PolicyError::NoExceptions { .. })
    ));
}

#[test]
fn the_case_cannot_be_resolved_until_the_device_is_retrieved_with_custody() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let mut progress = CaseProgress::default();
    let blockers = resolution_blockers(&eval, &progress);
    let device = blockers
        .iter()
        .find(|b| b.task == TaskKind::DeviceRetrieval)
        .expect("device retrieval blocks");
    assert_eq!(device.missing, Missing::Task);
    assert_eq!(device.rule_id, "s1-critical");

    progress.completed_tasks.insert(TaskKind::DeviceRetrieval);
    let blockers = resolution_blockers(&eval, &progress);
    let device = blockers
        .iter()
        .find(|b| b.task == TaskKind::DeviceRetrieval)
        .expect("custody is missing");
    assert_eq!(device.missing, Missing::CustodyEntry);

    progress.custody.push(CustodyEntry {
        holder: "Courier DPD, parcel 123".into(),
        at: "2026-11-27T10:00:00Z".parse::<Timestamp>().unwrap(),
        location: "Lyon".into(),
    });
    progress.completed_tasks.insert(TaskKind::SafetyReview);
    progress.completed_tasks.insert(TaskKind::RegulatorReport);
    assert_eq!(resolution_blockers(&eval, &progress), vec![]);
}

#[test]
fn a_custody_entry_without_holder_or_place_still_blocks() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let mut progress = CaseProgress::default();
    progress.completed_tasks.extend([
        TaskKind::DeviceRetrieval,
        TaskKind::SafetyReview,
        TaskKind::RegulatorReport,
    ]);
    progress.custody.push(CustodyEntry {
        holder: " ".into(),
        at: "2026-11-27T10:00:00Z".parse::<Timestamp>().unwrap(),
        location: "Lyon".into(),
    });
    let b = resolution_blockers(&eval, &progress);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].missing, Missing::CustodyDetails { entry: 0 });
}

#[test]
fn when_a_person_was_hurt_the_injury_follow_up_blocks_resolution() {
    let mut facts = french_phone_fire();
    facts.hazards.push(HazardCode::InjuryBurn);
    let eval = Playbook::default_playbook().evaluate(&facts);
    let b = resolution_blockers(&eval, &CaseProgress::default());
    let injury = b
        .iter()
        .find(|b| b.task == TaskKind::InjuryFollowUp)
        .unwrap();
    assert_eq!(injury.rule_id, "injury-follow-up");
}

#[test]
fn the_french_case_runs_an_eu_regulator_clock_of_48_hours_that_never_pauses() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let reg = eval.clock("regulator_report").expect("regulator clock");
    assert_eq!(reg.kind, ClockKind::Regulator);
    assert_eq!(reg.duration.to_string(), "48h");
    assert!(!reg.pausable);
    assert_eq!(reg.calendar.name(), "FR");
    let start: Timestamp = "2026-11-26T08:00:00Z".parse().unwrap();
    let paused = [(start, None)];
    let st = clock_state(reg, start, "2026-11-28T08:00:00Z".parse().unwrap(), &paused);
    assert!(st.breached && !st.paused);
    // Breach notifications go to safety, hq and the webhook.
    let n = eval.notifications_on_breach("regulator_report");
    assert_eq!(n.len(), 3);
    // The S1 safety review is the 24-hour one, not the 2-business-day one of S2/S3.
    let review = eval.clock("safety_review").unwrap();
    assert_eq!(review.rule_id, "s1-critical");
    assert_eq!(review.duration.to_string(), "24h");
    // First customer contact is a pausable courtesy clock on the French calendar.
    let contact = eval.clock("first_customer_contact").unwrap();
    assert_eq!(contact.kind, ClockKind::Courtesy);
    assert!(contact.pausable);
    assert_eq!(contact.basis, ClockBasis::BusinessHours);
}

#[test]
fn breach_escalates_one_level_at_a_time_to_hq() {
    let mut level = Level::Agent;
    let mut seen = vec![level];
    while let Some(next) = next_level(level) {
        level = next;
        seen.push(level);
    }
    assert_eq!(
        seen,
        vec![Level::Agent, Level::Supervisor, Level::Safety, Level::Hq]
    );
}

#[test]
fn the_refusal_explains_itself_in_plain_language() {
    let eval = Playbook::default_playbook().evaluate(&french_phone_fire());
    let d = decide_remedy(&eval, &RemedyProposal::new(RemedyKind::Replacement, 50));
    let RemedyDecision::Refused { explanation, .. } = d else {
        panic!("{d:?}")
    };
    println!("{explanation}");
    assert!(explanation.contains("free replacement"), "{explanation}");
    assert!(
        explanation.contains("refund of at least the price paid"),
        "{explanation}"
    );
    assert!(!explanation.contains("discount"), "{explanation}");
}
