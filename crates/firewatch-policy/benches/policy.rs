//! Costs of the policy engine: loading the default playbook, evaluating a case, deciding a
//! remedy, and business-hours deadlines. `cargo bench -p firewatch-policy`.

use firewatch_domain::{HazardCode, InjuryLevel, Severity};
use firewatch_policy::*;
use jiff::Timestamp;

fn main() {
    divan::main();
}

fn story() -> CaseFacts {
    let mut f = CaseFacts::new(Severity::S1);
    f.hazards = vec![
        HazardCode::ThermalSmoke,
        HazardCode::ThermalExplosion,
        HazardCode::ThermalFire,
    ];
    f.injuries = InjuryLevel::None;
    f.market = "FR".into();
    f.product.category = "phone".into();
    f.product.price = 899.0;
    f
}

#[divan::bench]
fn load_default_playbook() -> Playbook {
    Playbook::from_toml_str("default.toml", divan::black_box(DEFAULT_PLAYBOOK_TOML)).unwrap()
}

#[divan::bench]
fn evaluate_default_playbook(bencher: divan::Bencher) {
    let p = Playbook::default_playbook();
    let f = story();
    bencher.bench(|| p.evaluate(divan::black_box(&f)));
}

#[divan::bench]
fn decide_remedy_on_an_evaluation(bencher: divan::Bencher) {
    let eval = Playbook::default_playbook().evaluate(&story());
    let proposal = RemedyProposal::new(RemedyKind::Replacement, 50);
    bencher.bench(|| decide_remedy(divan::black_box(&eval), &proposal));
}

#[divan::bench(args = ["4h", "2d", "30d"])]
fn business_hours_deadline_in_paris(bencher: divan::Bencher, d: &str) {
    let p = Playbook::default_playbook();
    let cal = p.calendar("FR").unwrap().clone();
    let d: ClockDuration = d.parse().unwrap();
    let start: Timestamp = "2026-12-18T15:00:00Z".parse().unwrap();
    let pauses = [(
        "2026-12-21T09:00:00Z".parse::<Timestamp>().unwrap(),
        Some("2026-12-22T12:00:00Z".parse::<Timestamp>().unwrap()),
    )];
    bencher.bench(|| {
        deadline(
            divan::black_box(start),
            d,
            ClockBasis::BusinessHours,
            &cal,
            &pauses,
        )
    });
}

/// The costliest kind of `when` the limits allow: two nested comprehensions over literal
/// lists as long as the 400-node limit permits.
#[divan::bench]
fn worst_case_rule_within_limits(bencher: divan::Bencher) {
    let list: Vec<String> = (0..70).map(|i| i.to_string()).collect();
    let list = format!("[{}]", list.join(","));
    let when = format!("{list}.exists(a, {list}.exists(b, a + b < 0))");
    let text = format!("[[rules]]\nid = \"worst\"\nwhen = \"{when}\"\n");
    let p = Playbook::from_toml_str("worst.toml", &text).unwrap();
    let f = story();
    bencher.bench(|| p.evaluate(divan::black_box(&f)));
}
