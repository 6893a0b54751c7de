//! Feeds the demo cascade's shares (the post, reposts, quotes) to firewatch-forecast's SEISMIC
//! forecaster and prints, every 15 minutes, the shares so far, the predicted final number of
//! reshares with its interval, and the probability of passing a threshold.
//!
//! `cargo run --release -p firewatch-demo --example forecast [THRESHOLD]`

use firewatch_demo::CascadeKind;
use firewatch_forecast::{CascadeForecaster, Prediction};

fn show(p: Prediction) -> String {
    match p {
        Prediction::Finite(x) => format!("{x:.0}"),
        Prediction::Infinite => "inf".into(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threshold: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500.0);
    let world = firewatch_demo::generate(&firewatch_demo::WorldConfig::default());
    let shares: Vec<(f64, f64)> = world
        .cascade
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                CascadeKind::Post | CascadeKind::Repost | CascadeKind::Quote
            )
        })
        .map(|e| (e.offset_ms as f64 / 1000.0, e.followers as f64))
        .collect();
    let mut f = CascadeForecaster::new();
    let mut next = 0;
    println!(
        "threshold {threshold} reshares; {} shares in 6 h",
        shares.len()
    );
    for minutes in (15..=360).step_by(15) {
        let now = f64::from(minutes) * 60.0;
        while next < shares.len() && shares[next].0 <= now {
            f.push(shares[next].0, shares[next].1)?;
            next += 1;
        }
        let fc = f.forecast(now, threshold, 100.0)?;
        println!(
            "{:>4} min  observed {:>4}  predicted {:>6} [{} .. {}]  p(> {threshold}) {:.2}",
            minutes,
            fc.observed,
            show(fc.predicted_final),
            show(fc.lower),
            show(fc.upper),
            fc.p_exceed
        );
    }
    Ok(())
}
