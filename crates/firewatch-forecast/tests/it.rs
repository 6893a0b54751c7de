//! Integration tests: the R package's own example cascade against values computed by R, and the
//! incremental forecaster against the batch functions.

use firewatch_forecast::{
    CascadeForecaster, ForecastGrid, Prediction, SeismicParams, infectiousness, parse_cascade_csv,
    predict_cascade, seismic_offline,
};

const CASCADE: &str = include_str!("fixtures/tweet_cascade.csv");
const REFERENCE: &str = include_str!("fixtures/seismic_reference_predictions.csv");

struct RefRow {
    time: f64,
    observed: usize,
    infectiousness: f64,
    p_up: f64,
    p_low: f64,
    predicted: f64,
}

fn reference() -> Vec<RefRow> {
    REFERENCE
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<f64> = line
                .split(',')
                .map(|x| {
                    if x == "Inf" {
                        f64::INFINITY
                    } else {
                        x.parse().expect("reference number")
                    }
                })
                .collect();
            RefRow {
                time: f[0],
                observed: f[1] as usize,
                infectiousness: f[2],
                p_up: f[3],
                p_low: f[4],
                predicted: f[5],
            }
        })
        .collect()
}

fn cascade() -> (Vec<f64>, Vec<f64>) {
    parse_cascade_csv(CASCADE.as_bytes())
        .expect("fixture parses")
        .into_iter()
        .unzip()
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

#[test]
fn the_fixture_is_the_full_cascade() {
    let (t, d) = cascade();
    assert_eq!(t.len(), 15_563);
    assert_eq!((t[0], d[0]), (0.0, 2290.0));
    assert_eq!(reference().len(), 37);
}

#[test]
fn batch_infectiousness_and_predictions_match_r_to_1e_11_relative() {
    let (t, d) = cascade();
    let rows = reference();
    let pred_times: Vec<f64> = rows.iter().map(|r| r.time).collect();
    let params = SeismicParams::default();
    let inf = infectiousness(&t, &d, &pred_times, &params).unwrap();
    let est: Vec<f64> = inf.iter().map(|i| i.estimate).collect();
    let preds = predict_cascade(&t, &d, &pred_times, &est, 100.0, &params).unwrap();
    let mut worst = 0.0f64;
    let mut infinite = 0;
    for ((row, inf), pred) in rows.iter().zip(&inf).zip(&preds) {
        for (ours, theirs, what) in [
            (inf.estimate, row.infectiousness, "estimate"),
            (inf.upper, row.p_up, "p.up"),
            (inf.lower, row.p_low, "p.low"),
        ] {
            let e = rel(ours, theirs);
            assert!(
                e < 1e-11,
                "t={} {what}: ours {ours} R {theirs} (rel {e:e})",
                row.time
            );
            worst = worst.max(e);
        }
        match pred {
            Prediction::Infinite => {
                assert!(
                    row.predicted.is_infinite(),
                    "t={}: we say infinite, R says {}",
                    row.time,
                    row.predicted
                );
                infinite += 1;
            }
            Prediction::Finite(v) => {
                let e = rel(*v, row.predicted);
                assert!(
                    e < 1e-11,
                    "t={} prediction: ours {v} R {} (rel {e:e})",
                    row.time,
                    row.predicted
                );
                worst = worst.max(e);
            }
        }
    }
    assert_eq!(infinite, 2, "R's supercritical rows are 1800 and 2400 s");
    eprintln!("worst relative error against R: {worst:e}");
}

/// Streams the cascade into the forecaster, forecasting at every grid instant as soon as the
/// stream has passed it (what the server does), and compares with the batch functions.
fn stream_and_compare(grid: ForecastGrid, times: &[f64], followers: &[f64], tol: f64) -> usize {
    let params = SeismicParams::default();
    let mut fc = CascadeForecaster::with_grid(params, grid).unwrap();
    let instants: Vec<f64> = (0..)
        .map(|k| k as f64 * grid.step)
        .take_while(|&p| p <= grid.horizon)
        .collect();
    let batch = infectiousness(times, followers, &instants, &params).unwrap();
    let est: Vec<f64> = batch.iter().map(|i| i.estimate).collect();
    let lower: Vec<f64> = batch.iter().map(|i| i.lower).collect();
    let upper: Vec<f64> = batch.iter().map(|i| i.upper).collect();
    let pred = predict_cascade(times, followers, &instants, &est, 100.0, &params).unwrap();
    let pred_lo = predict_cascade(times, followers, &instants, &lower, 100.0, &params).unwrap();
    let pred_hi = predict_cascade(times, followers, &instants, &upper, 100.0, &params).unwrap();
    let mut next = 0;
    let mut checked = 0;
    let mut check = |fc: &mut CascadeForecaster, k: usize| {
        let f = fc.forecast(instants[k], 1000.0, 100.0).unwrap();
        assert_eq!(f.at, instants[k]);
        let b = &batch[k];
        for (ours, theirs) in [
            (f.infectiousness.estimate, b.estimate),
            (f.infectiousness.lower, b.lower),
            (f.infectiousness.upper, b.upper),
        ] {
            assert!(
                rel(ours, theirs) <= tol,
                "t={}: {ours} vs batch {theirs}",
                instants[k]
            );
        }
        assert_eq!(f.infectiousness.window_count, b.window_count);
        for (ours, theirs) in [
            (f.predicted_final, pred[k]),
            (f.lower, pred_lo[k]),
            (f.upper, pred_hi[k]),
        ] {
            match (ours, theirs) {
                (Prediction::Infinite, Prediction::Infinite) => {}
                (Prediction::Finite(a), Prediction::Finite(b)) => {
                    assert!(rel(a, b) <= tol, "t={}: {a} vs {b}", instants[k])
                }
                other => panic!("t={}: {other:?}", instants[k]),
            }
        }
        checked += 1;
    };
    for (&t, &d) in times.iter().zip(followers) {
        while next < instants.len() && instants[next] < t {
            check(&mut fc, next);
            next += 1;
        }
        fc.push(t, d).unwrap();
    }
    while next < instants.len() {
        check(&mut fc, next);
        next += 1;
    }
    checked
}

#[test]
fn the_incremental_forecaster_equals_the_batch_bit_for_bit_on_a_one_minute_grid() {
    let (t, d) = cascade();
    let n = stream_and_compare(
        ForecastGrid {
            step: 60.0,
            horizon: 6.0 * 3600.0,
        },
        &t,
        &d,
        0.0,
    );
    assert_eq!(n, 361);
}

#[test]
fn the_incremental_forecaster_reproduces_r_on_the_reference_grid() {
    let (t, d) = cascade();
    let mut fc = CascadeForecaster::with_grid(
        SeismicParams::default(),
        ForecastGrid {
            step: 600.0,
            horizon: 21_600.0,
        },
    )
    .unwrap();
    for (&t, &d) in t.iter().zip(&d) {
        fc.push(t, d).unwrap();
    }
    for row in reference() {
        let f = fc.forecast(row.time + 599.0, 5000.0, 100.0).unwrap();
        assert_eq!(f.at, row.time);
        assert_eq!(f.observed, row.observed);
        assert!(rel(f.infectiousness.estimate, row.infectiousness) < 1e-9);
        assert_eq!(f.infinite, row.predicted.is_infinite(), "t={}", row.time);
        assert!(
            rel(f.predicted_final.as_f64(), row.predicted) < 1e-9 || row.predicted.is_infinite()
        );
    }
}

#[test]
fn sparse_cascades_take_the_widened_window_incrementally_too() {
    // a burst, then silence, then a few late shares: the min.count rule applies at many instants
    let mut times = vec![0.0];
    let mut followers = vec![900.0];
    for i in 1..12 {
        times.push(i as f64 * 37.0);
        followers.push(40.0 + i as f64 * 13.0);
    }
    for late in [5_000.0, 5_100.0, 9_000.0, 20_000.0] {
        times.push(late);
        followers.push(300.0);
    }
    let n = stream_and_compare(
        ForecastGrid {
            step: 300.0,
            horizon: 30_000.0,
        },
        &times,
        &followers,
        0.0,
    );
    assert_eq!(n, 101);
}

#[test]
fn the_exceedance_probability_is_a_tail_consistent_with_the_interval() {
    let (t, d) = cascade();
    let mut fc = CascadeForecaster::new();
    for (&t, &d) in t.iter().zip(&d).take_while(|(t, _)| **t <= 4.0 * 3600.0) {
        fc.push(t, d).unwrap();
    }
    let f = fc.forecast(4.0 * 3600.0, 0.0, 100.0).unwrap();
    let (Prediction::Finite(lo), Prediction::Finite(mid), Prediction::Finite(hi)) =
        (f.lower, f.predicted_final, f.upper)
    else {
        panic!("finite at 4 h: {f:?}");
    };
    assert!(lo < mid && mid < hi);
    assert_eq!(f.p_exceed, 1.0, "threshold 0 is already passed");
    let at = |thr: f64, fc: &mut CascadeForecaster| {
        fc.forecast(4.0 * 3600.0, thr, 100.0).unwrap().p_exceed
    };
    assert!((at(lo, &mut fc) - 0.95).abs() < 1e-9, "{}", at(lo, &mut fc));
    assert!((at(hi, &mut fc) - 0.05).abs() < 1e-9, "{}", at(hi, &mut fc));
    let mut last = 1.0;
    for thr in [0.5 * lo, lo, mid, hi, 2.0 * hi, 1e9] {
        let p = at(thr, &mut fc);
        assert!((0.0..=1.0).contains(&p) && p <= last, "{thr}: {p}");
        last = p;
    }
    assert!(f.p_infinite < 1e-6, "{}", f.p_infinite);
}

#[test]
fn a_supercritical_forecast_is_flagged_infinite_and_likely_to_exceed() {
    let (t, d) = cascade();
    let mut fc = CascadeForecaster::new();
    for (&t, &d) in t.iter().zip(&d).take_while(|(t, _)| **t <= 1800.0) {
        fc.push(t, d).unwrap();
    }
    let f = fc.forecast(1800.0, 10_000.0, 100.0).unwrap();
    assert!(f.infinite && f.predicted_final.is_infinite());
    assert!(f.p_infinite > 0.9 && f.p_exceed >= f.p_infinite, "{f:?}");
}

#[test]
fn pushes_out_of_order_or_invalid_are_rejected_without_changing_state() {
    let mut fc = CascadeForecaster::new();
    assert!(fc.forecast(10.0, 1.0, 100.0).is_err(), "no event yet");
    fc.push(0.0, 10.0).unwrap();
    fc.push(50.0, 10.0).unwrap();
    assert!(fc.push(40.0, 10.0).is_err());
    assert!(fc.push(f64::NAN, 10.0).is_err());
    assert!(fc.push(60.0, -1.0).is_err());
    assert_eq!(fc.len(), 2);
    assert!(fc.forecast(-1.0, 1.0, 100.0).is_err());
    assert!(fc.forecast(100.0, 1.0, 0.0).is_err());
    // past the horizon: the last instant, and the share is counted but not stored
    fc.push(1e9, 10.0).unwrap();
    assert_eq!(fc.len(), 3);
    assert_eq!(
        fc.forecast(2e9, 1.0, 100.0).unwrap().at,
        ForecastGrid::default().horizon
    );
}

#[test]
fn the_offline_command_reproduces_the_reference_row_at_one_hour() {
    let report = seismic_offline(CASCADE.as_bytes(), 3600.0, 100.0).unwrap();
    let row = reference().into_iter().find(|r| r.time == 3600.0).unwrap();
    assert_eq!(report.total_shares, 15_563);
    assert_eq!(report.observed, row.observed);
    assert!(rel(report.infectiousness.estimate, row.infectiousness) < 1e-9);
    assert!(rel(report.predicted_final.as_f64(), row.predicted) < 1e-9);
    let text = report.to_string();
    assert!(text.contains("7580.8"), "{text}");
    let inf = seismic_offline(CASCADE.as_bytes(), 2400.0, 100.0).unwrap();
    assert!(inf.to_string().contains("infinite"), "{inf}");
}
