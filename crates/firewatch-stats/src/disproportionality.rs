//! Frequentist and Bayesian disproportionality measures from a 2x2 table of reports.
//!
//! For a (product, event) pair with `a` reports mentioning both, `n_product` reports of the
//! product, `n_event` reports of the event and `n_total` reports in all:
//!
//! |              | event      | not event          |
//! |--------------|------------|--------------------|
//! | product      | a          | b = n_product - a  |
//! | not product  | c = n_event - a | d = n_total - a - b - c |
//!
//! - RR (openEBGM's relative reporting ratio) = `N / E`, where `E` is the expected count (see
//!   [`crate::counts`]).
//! - PRR = `(a / (a + b)) / (c / (c + d))` (Evans et al. 2001); infinite when `c = 0`.
//! - PRR chi-square: the Yates-corrected Pearson chi-square of the 2x2 table, 1 df (the
//!   statistic of Evans' criterion PRR >= 2, chi² >= 4, a >= 3).
//! - ROR = `a d / (b c)`, 95% CI `exp(ln ROR ± 1.959964 √(1/a + 1/b + 1/c + 1/d))`; no
//!   continuity correction, so a zero cell gives an infinite or NaN value (written `Inf`/`NA`).
//! - BCPNN IC (Norén et al. 2006/2013, shrinkage 0.5): `IC = log2((a + 0.5) / (E + 0.5))`,
//!   `IC025 = log2(G⁻¹(0.025; a + 0.5, rate E + 0.5))`, the exact 2.5% quantile of the gamma
//!   posterior (rather than the usual closed-form approximation).

use crate::special::{Tail, gamma_quantile};

/// 97.5% quantile of the standard normal.
pub const Z975: f64 = 1.959_963_984_540_054;

/// The counts of a 2x2 table in report units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoByTwo {
    /// reports with both the product and the event
    pub a: f64,
    /// reports with the product, without the event
    pub b: f64,
    /// reports with the event, without the product
    pub c: f64,
    /// reports with neither
    pub d: f64,
}

impl TwoByTwo {
    /// Build from the pair count and the marginal report counts.
    pub fn from_margins(n: u64, n_product: u64, n_event: u64, n_total: u64) -> Self {
        let a = n as f64;
        let b = n_product as f64 - a;
        let c = n_event as f64 - a;
        let d = n_total as f64 - a - b - c;
        TwoByTwo { a, b, c, d }
    }
}

/// All measures for one pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    /// N / E
    pub rr: f64,
    /// proportional reporting ratio
    pub prr: f64,
    /// Yates-corrected chi-square of the 2x2 table
    pub prr_chi2: f64,
    /// reporting odds ratio
    pub ror: f64,
    /// lower 95% limit of the ROR
    pub ror_lower: f64,
    /// upper 95% limit of the ROR
    pub ror_upper: f64,
    /// information component
    pub ic: f64,
    /// lower 2.5% credibility limit of the IC
    pub ic025: f64,
}

/// Proportional reporting ratio.
pub fn prr(t: &TwoByTwo) -> f64 {
    let num = t.a / (t.a + t.b);
    let den = t.c / (t.c + t.d);
    if den == 0.0 {
        if num > 0.0 { f64::INFINITY } else { f64::NAN }
    } else {
        num / den
    }
}

/// Yates-corrected chi-square statistic (1 df) of the 2x2 table.
pub fn chi_square_yates(t: &TwoByTwo) -> f64 {
    let n = t.a + t.b + t.c + t.d;
    let r1 = t.a + t.b;
    let r2 = t.c + t.d;
    let c1 = t.a + t.c;
    let c2 = t.b + t.d;
    let den = r1 * r2 * c1 * c2;
    if den == 0.0 {
        return f64::NAN;
    }
    let diff = ((t.a * t.d - t.b * t.c).abs() - n / 2.0).max(0.0);
    n * diff * diff / den
}

/// Reporting odds ratio with its 95% Wald interval on the log scale.
pub fn ror(t: &TwoByTwo) -> (f64, f64, f64) {
    let est = (t.a * t.d) / (t.b * t.c);
    let se = (1.0 / t.a + 1.0 / t.b + 1.0 / t.c + 1.0 / t.d).sqrt();
    if !(est > 0.0 && est.is_finite() && se.is_finite()) {
        let nan = f64::NAN;
        return (if est.is_nan() { nan } else { est }, nan, nan);
    }
    let l = est.ln();
    (est, (l - Z975 * se).exp(), (l + Z975 * se).exp())
}

/// BCPNN information component and its exact lower 2.5% limit, from the observed count and
/// the expected count.
pub fn information_component(observed: f64, expected: f64) -> (f64, f64) {
    ic_with_quantile(observed, expected, ic_gamma_q025(observed))
}

/// The 2.5% quantile of Gamma(observed + 0.5, rate 1): IC025's only costly part, which
/// depends on the count alone (so callers scoring many pairs can cache it per count).
pub fn ic_gamma_q025(observed: f64) -> f64 {
    gamma_quantile(observed + 0.5, 0.025, Tail::Lower)
}

fn ic_with_quantile(observed: f64, expected: f64, q025: f64) -> (f64, f64) {
    let rate = expected + 0.5;
    ((observed + 0.5).log2() - rate.log2(), (q025 / rate).log2())
}

/// Every measure for one pair: `n` reports with both, margins, and the expected count `e`.
pub fn measures(n: u64, n_product: u64, n_event: u64, n_total: u64, e: f64) -> Measures {
    measures_with_q025(n, n_product, n_event, n_total, e, ic_gamma_q025(n as f64))
}

/// [`measures`] with IC025's gamma quantile supplied (see [`ic_gamma_q025`]).
pub fn measures_with_q025(
    n: u64,
    n_product: u64,
    n_event: u64,
    n_total: u64,
    e: f64,
    q025: f64,
) -> Measures {
    let t = TwoByTwo::from_margins(n, n_product, n_event, n_total);
    let (ror, ror_lower, ror_upper) = ror(&t);
    let (ic, ic025) = ic_with_quantile(n as f64, e, q025);
    Measures {
        rr: n as f64 / e,
        prr: prr(&t),
        prr_chi2: chi_square_yates(&t),
        ror,
        ror_lower,
        ror_upper,
        ic,
        ic025,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_table_gives_known_prr_ror_and_chi_square() {
        // a=20, b=80, c=100, d=9800
        let t = TwoByTwo::from_margins(20, 100, 120, 10_000);
        assert_eq!((t.b, t.c, t.d), (80.0, 100.0, 9800.0));
        assert!((prr(&t) - (0.2 / (100.0 / 9900.0))).abs() < 1e-12);
        let (r, lo, hi) = ror(&t);
        assert!((r - 20.0 * 9800.0 / 8000.0).abs() < 1e-12);
        let se = (1.0 / 20.0 + 1.0 / 80.0 + 1.0 / 100.0 + 1.0 / 9800.0_f64).sqrt();
        assert!((lo - (r.ln() - Z975 * se).exp()).abs() < 1e-12);
        assert!(lo < r && r < hi);
        // Yates chi-square by hand
        let n = 10_000.0;
        let num = n * ((20.0 * 9800.0 - 80.0 * 100.0_f64).abs() - n / 2.0).powi(2);
        let chi = num / (100.0 * 9900.0 * 120.0 * 9880.0);
        assert!((chi_square_yates(&t) - chi).abs() < 1e-9 * chi);
    }

    #[test]
    fn prr_is_infinite_when_no_other_product_has_the_event() {
        let t = TwoByTwo::from_margins(3, 10, 3, 1000);
        assert!(prr(&t).is_infinite());
        assert!(ror(&t).0.is_infinite());
    }

    #[test]
    fn information_component_lower_limit_is_below_the_estimate() {
        let (ic, ic025) = information_component(5.0, 1.0);
        assert!((ic - (5.5_f64 / 1.5).log2()).abs() < 1e-12);
        assert!(ic025 < ic);
        // the usual approximation IC - 3.3 (O+.5)^-1/2 - 2 (O+.5)^-3/2 is close
        let approx = ic - 3.3 / 5.5_f64.sqrt() - 2.0 / 5.5_f64.powf(1.5);
        assert!((ic025 - approx).abs() < 0.1, "{ic025} vs {approx}");
    }
}
