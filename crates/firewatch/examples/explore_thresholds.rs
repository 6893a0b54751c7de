//! Not a check: prints the (product, hazard) signals that other thresholds would open on the
//! demo world over its 18 months, next to the planted defect's, to choose the defaults by.
//! `cargo run --release -p firewatch --example explore_thresholds`.

#[path = "../tests/it/demo_world.rs"]
mod demo_world;

use demo_world::{counted, replay_signals};
use firewatch_demo::WorldConfig;
use firewatch_policy::SignalThresholds;

fn main() {
    use firewatch_policy::{Criterion as C, Require as R};
    let world = firewatch_demo::generate(&WorldConfig::default());
    let data = counted(&world);
    let base = SignalThresholds::default();
    let mk = |min: u32, c: Vec<C>, alpha: f64, conf: f64| SignalThresholds {
        min_count: min,
        criteria: c,
        require: R::All,
        maxsprt_alpha: alpha,
        rate_confidence: conf,
        ..base.clone()
    };
    let sets: Vec<(&str, SignalThresholds)> = vec![
        (
            "maxsprt+rate min5 a.05",
            mk(5, vec![C::Maxsprt, C::Rate], 0.05, 0.95),
        ),
        (
            "maxsprt+rate min5 a.01",
            mk(5, vec![C::Maxsprt, C::Rate], 0.01, 0.95),
        ),
        (
            "maxsprt+rate min5 a.001",
            mk(5, vec![C::Maxsprt, C::Rate], 0.001, 0.95),
        ),
        ("maxsprt min5 a.001", mk(5, vec![C::Maxsprt], 0.001, 0.95)),
        ("rate min5 c.999", mk(5, vec![C::Rate], 0.05, 0.999)),
        (
            "maxsprt+rate min5 a.01 c.99",
            mk(5, vec![C::Maxsprt, C::Rate], 0.01, 0.99),
        ),
        (
            "maxsprt+rate min5 a.001 c.99",
            mk(5, vec![C::Maxsprt, C::Rate], 0.001, 0.99),
        ),
    ];
    for (name, t) in sets {
        let o = replay_signals(&data, &t, true, 3);
        let planted = o.get(&(world.planted.model.clone(), "class:thermal".into()));
        let others: Vec<_> = o
            .iter()
            .filter(|(k, _)| k.0 != world.planted.model || k.1 != "class:thermal")
            .collect();
        println!(
            "{name}: planted {planted:?}; {} others: {others:?}",
            others.len()
        );
    }
}
