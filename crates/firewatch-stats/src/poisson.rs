//! Exact Poisson intervals (Garwood 1936) for counts and for incident rates per million
//! units, and the exact rate ratio of one product against the rest of its category.
//!
//! Garwood: for an observed count `n` and confidence `1 - α`,
//! `lower = χ²(α/2; 2n) / 2` (0 when `n = 0`) and `upper = χ²(1 - α/2; 2n + 2) / 2`,
//! i.e. gamma quantiles `G⁻¹(α/2; n, 1)` and `G⁻¹(1 - α/2; n + 1, 1)`.
//!
//! Rate ratio: conditional on the total `n1 + n0`, `n1` is binomial with
//! `p = r u1 / (r u1 + u0)` where `r` is the rate ratio; the Clopper-Pearson interval for `p`
//! maps to the exact interval for `r = p / (1 - p) · u0 / u1`.

use crate::special::{Tail, beta_quantile, gamma_quantile};
use crate::{Result, StatsError};

/// A point estimate with a two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// point estimate
    pub estimate: f64,
    /// lower limit
    pub lower: f64,
    /// upper limit
    pub upper: f64,
}

fn check_confidence(confidence: f64) -> Result<f64> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(StatsError::InvalidArgument(format!(
            "confidence must be in (0, 1), got {confidence}"
        )));
    }
    Ok(1.0 - confidence)
}

/// Exact (Garwood) interval for the mean of a Poisson count `n` at `confidence` (e.g. 0.95).
pub fn garwood_interval(n: u64, confidence: f64) -> Result<Interval> {
    let alpha = check_confidence(confidence)?;
    let nf = n as f64;
    let lower = if n == 0 {
        0.0
    } else {
        gamma_quantile(nf, alpha / 2.0, Tail::Lower)
    };
    let upper = gamma_quantile(nf + 1.0, alpha / 2.0, Tail::Upper);
    Ok(Interval {
        estimate: nf,
        lower,
        upper,
    })
}

/// Incident rate per million units sold, with the exact Garwood interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateEstimate {
    /// incident count
    pub count: u64,
    /// units sold (exposure)
    pub units: f64,
    /// `count / units * 1e6`, with the interval scaled the same way
    pub per_million: Interval,
}

/// Rate per million units with its exact interval. `units` must be positive.
pub fn rate_per_million(count: u64, units: f64, confidence: f64) -> Result<RateEstimate> {
    if !(units > 0.0 && units.is_finite()) {
        return Err(StatsError::InvalidArgument(format!(
            "units must be a positive number, got {units}"
        )));
    }
    let ci = garwood_interval(count, confidence)?;
    let scale = 1e6 / units;
    Ok(RateEstimate {
        count,
        units,
        per_million: Interval {
            estimate: ci.estimate * scale,
            lower: ci.lower * scale,
            upper: ci.upper * scale,
        },
    })
}

/// Exact rate ratio `(n1 / u1) / (n0 / u0)` of a product (`n1` incidents over `u1` units)
/// against the rest of its category (`n0` over `u0`), with the conditional (Clopper-Pearson)
/// interval. The estimate is infinite when `n0 = 0`; the upper limit is infinite when `n0 = 0`;
/// the lower limit is 0 when `n1 = 0`.
pub fn rate_ratio(n1: u64, u1: f64, n0: u64, u0: f64, confidence: f64) -> Result<Interval> {
    let alpha = check_confidence(confidence)?;
    if !(u1 > 0.0 && u0 > 0.0 && u1.is_finite() && u0.is_finite()) {
        return Err(StatsError::InvalidArgument(format!(
            "units must be positive, got {u1} and {u0}"
        )));
    }
    let (x, y) = (n1 as f64, n0 as f64);
    let to_ratio = |p: f64| {
        if p >= 1.0 {
            f64::INFINITY
        } else {
            p / (1.0 - p) * u0 / u1
        }
    };
    let estimate = if n0 == 0 {
        if n1 == 0 { f64::NAN } else { f64::INFINITY }
    } else {
        (x / u1) / (y / u0)
    };
    let p_lo = if n1 == 0 {
        0.0
    } else {
        beta_quantile(x, y + 1.0, alpha / 2.0)
    };
    let p_hi = if n0 == 0 {
        1.0
    } else {
        beta_quantile(x + 1.0, y, 1.0 - alpha / 2.0)
    };
    Ok(Interval {
        estimate,
        lower: to_ratio(p_lo),
        upper: to_ratio(p_hi),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::{gamma_p, gamma_q};

    #[test]
    fn garwood_limits_have_the_nominal_tail_probabilities() {
        for n in [1_u64, 2, 5, 17, 300] {
            let ci = garwood_interval(n, 0.95).unwrap();
            // P(X >= n | lower) = 0.025  <=>  P(n, lower) = 0.025
            assert!((gamma_p(n as f64, ci.lower) - 0.025).abs() < 1e-13);
            // P(X <= n | upper) = 0.025  <=>  Q(n + 1, upper) = 0.025
            assert!((gamma_q(n as f64 + 1.0, ci.upper) - 0.025).abs() < 1e-13);
            assert!(ci.lower < n as f64 && (n as f64) < ci.upper);
        }
    }

    #[test]
    fn garwood_for_zero_has_lower_zero_and_upper_minus_log_alpha_half() {
        let ci = garwood_interval(0, 0.95).unwrap();
        assert_eq!(ci.lower, 0.0);
        assert!((ci.upper - (-(0.025_f64).ln())).abs() < 1e-13);
    }

    #[test]
    fn rate_per_million_scales_count_and_interval() {
        let r = rate_per_million(3, 2_000_000.0, 0.95).unwrap();
        let ci = garwood_interval(3, 0.95).unwrap();
        assert!((r.per_million.estimate - 1.5).abs() < 1e-12);
        assert!((r.per_million.upper - ci.upper / 2.0).abs() < 1e-12);
        assert!(rate_per_million(1, 0.0, 0.95).is_err());
    }

    #[test]
    fn rate_ratio_of_equal_rates_covers_one() {
        let rr = rate_ratio(10, 1e5, 100, 1e6, 0.95).unwrap();
        assert!((rr.estimate - 1.0).abs() < 1e-12);
        assert!(rr.lower < 1.0 && rr.upper > 1.0);
        let high = rate_ratio(40, 1e5, 100, 1e6, 0.95).unwrap();
        assert!(high.lower > 1.0);
    }

    #[test]
    fn confidence_outside_zero_one_is_rejected() {
        assert!(garwood_interval(3, 1.0).is_err());
        assert!(garwood_interval(3, 0.0).is_err());
    }
}
