//! Garwood intervals and exact rate ratios against SciPy (tests/fixtures/*_reference.csv).

use crate::common::{close, col, num, rows};
use firewatch_stats::poisson::{garwood_interval, rate_ratio};

#[test]
fn garwood_intervals_match_scipy_chi2_quantiles() {
    let (h, data) = rows("poisson_ci_reference.csv");
    assert!(data.len() > 100);
    let (cn, cc, cl, cu) = (
        col(&h, "n"),
        col(&h, "confidence"),
        col(&h, "lower"),
        col(&h, "upper"),
    );
    for r in &data {
        let n: u64 = r[cn].parse().unwrap();
        let ci = garwood_interval(n, num(&r[cc])).unwrap();
        let (lo, hi) = (num(&r[cl]), num(&r[cu]));
        if n == 0 {
            assert_eq!(ci.lower, 0.0);
        } else {
            assert!(
                close(ci.lower, lo, 1e-10),
                "n={n} c={}: lower {} vs {lo}",
                r[cc],
                ci.lower
            );
        }
        assert!(
            close(ci.upper, hi, 1e-10),
            "n={n} c={}: upper {} vs {hi}",
            r[cc],
            ci.upper
        );
    }
}

#[test]
fn exact_rate_ratios_match_scipy_beta_quantiles() {
    let (h, data) = rows("rate_ratio_reference.csv");
    assert!(!data.is_empty());
    let c = |n: &str| col(&h, n);
    for r in &data {
        let n1: u64 = r[c("n1")].parse().unwrap();
        let n0: u64 = r[c("n0")].parse().unwrap();
        let (u1, u0, conf) = (num(&r[c("u1")]), num(&r[c("u0")]), num(&r[c("confidence")]));
        let rr = rate_ratio(n1, u1, n0, u0, conf).unwrap();
        let (est, lo, hi) = (
            num(&r[c("estimate")]),
            num(&r[c("lower")]),
            num(&r[c("upper")]),
        );
        assert!(close(rr.estimate, est, 1e-12), "{r:?}: {rr:?}");
        if n1 == 0 {
            assert_eq!(rr.lower, 0.0);
        } else {
            assert!(close(rr.lower, lo, 1e-9), "{r:?}: {rr:?}");
        }
        assert!(close(rr.upper, hi, 1e-9), "{r:?}: {rr:?}");
    }
}
