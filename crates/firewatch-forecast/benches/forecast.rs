//! Cost of the incremental SEISMIC forecaster per event: one push plus one forecast, over the
//! real 15,563-share cascade. Run: `cargo bench -p firewatch-forecast --bench forecast`.

use divan::{Bencher, black_box};
use firewatch_forecast::{CascadeForecaster, ForecastGrid, SeismicParams, parse_cascade_csv};

const CASCADE: &str = include_str!("../tests/fixtures/tweet_cascade.csv");

fn main() {
    divan::main();
}

fn events() -> Vec<(f64, f64)> {
    parse_cascade_csv(CASCADE.as_bytes()).expect("fixture")
}

/// Whole cascade, push + forecast after every event; divan reports per event (items).
#[divan::bench(args = [(600.0, 21_600.0), (600.0, 86_400.0), (60.0, 21_600.0)])]
fn push_and_forecast_per_event(bencher: Bencher, (step, horizon): (f64, f64)) {
    let ev = events();
    bencher
        .counter(divan::counter::ItemsCount::new(ev.len()))
        .bench(|| {
            let mut fc = CascadeForecaster::with_grid(
                SeismicParams::default(),
                ForecastGrid { step, horizon },
            )
            .unwrap();
            let mut acc = 0.0;
            for &(t, d) in &ev {
                fc.push(t, d).unwrap();
                acc += fc.forecast(t, 10_000.0, 100.0).unwrap().p_exceed;
            }
            black_box(acc)
        });
}

/// The batch computation at a single instant (what a non-incremental server would redo per event).
#[divan::bench]
fn batch_once_at_six_hours(bencher: Bencher) {
    let ev = events();
    let (t, d): (Vec<f64>, Vec<f64>) = ev.into_iter().unzip();
    let params = SeismicParams::default();
    bencher.bench(|| {
        let inf = firewatch_forecast::infectiousness(&t, &d, &[21_600.0], &params).unwrap();
        black_box(inf[0].estimate)
    });
}
