//! The memory kernel and its integrals against the triangular weighting kernel, written
//! operation by operation as in the R package (`memory.ccdf`, `linear.kernel`, `power.kernel`,
//! `integral.memory.kernel` in `R/tweetfunctions.R`), so that rounding matches too.

use crate::SeismicParams;

/// `memory.ccdf`: probability that the reaction time exceeds `t`.
#[inline]
pub(crate) fn memory_ccdf(t: f64, p: &SeismicParams) -> f64 {
    let t = if t < 0.0 { 0.0 } else { t };
    if t <= p.cutoff {
        1.0 - p.c * t
    } else {
        p.c * p.cutoff.powf(1.0 + p.theta) / p.theta * t.powf(-p.theta)
    }
}

/// `linear.kernel`: integral from `t1` to `t2` of `c (slope (t - ptime) + 1)`.
#[inline]
fn linear_kernel(t1: f64, t2: f64, ptime: f64, slope: f64, p: &SeismicParams) -> f64 {
    let c = p.c;
    c * (t2 - ptime * slope * t2 + slope * (t2 * t2) / 2.0)
        - c * (t1 - ptime * slope * t1 + slope * (t1 * t1) / 2.0)
}

/// `power.kernel`: integral from `t1` to `t2` of `c ((t - s)/cutoff)^-(1+θ) (slope (t - ptime) + 1)`.
#[inline]
fn power_kernel(t1: f64, t2: f64, ptime: f64, share: f64, slope: f64, p: &SeismicParams) -> f64 {
    let (c, theta) = (p.c, p.theta);
    let scale = c * p.cutoff.powf(1.0 + theta);
    let denom = (theta - 1.0) * theta;
    let poly =
        |t: f64| share * slope - theta + (theta - 1.0) * ptime * slope - theta * slope * t + 1.0;
    scale * (t2 - share).powf(-theta) * poly(t2) / denom
        - scale * (t1 - share).powf(-theta) * poly(t1) / denom
}

/// `integral.memory.kernel` for one share: the integral over the window before `ptime` of the
/// share's memory kernel times the triangular weight. The five cases and their precedence (a later
/// assignment in R overwrites an earlier one when windows are narrower than the cutoff) are R's.
#[inline]
pub(crate) fn integral_memory_kernel(
    ptime: f64,
    share: f64,
    slope: f64,
    window: f64,
    p: &SeismicParams,
) -> f64 {
    let cutoff = p.cutoff;
    if ptime > share + window + cutoff {
        power_kernel(ptime - window, ptime, ptime, share, slope, p)
    } else if ptime > share + window {
        linear_kernel(ptime - window, share + cutoff, ptime, slope, p)
            + power_kernel(share + cutoff, ptime, ptime, share, slope, p)
    } else if ptime > share + cutoff {
        linear_kernel(share, share + cutoff, ptime, slope, p)
            + power_kernel(share + cutoff, ptime, ptime, share, slope, p)
    } else if ptime > share {
        linear_kernel(share, ptime, ptime, slope, p)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf(t: f64, p: &SeismicParams) -> f64 {
        if t < p.cutoff {
            p.c
        } else {
            p.c * (t / p.cutoff).powf(-(1.0 + p.theta))
        }
    }

    /// Midpoint rule over [a, b] with many steps; only for checking the closed forms.
    fn numeric(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
        let n = 200_000;
        let h = (b - a) / n as f64;
        (0..n).map(|i| f(a + (i as f64 + 0.5) * h)).sum::<f64>() * h
    }

    #[test]
    fn the_ccdf_is_continuous_at_the_cutoff_and_decreasing() {
        let p = SeismicParams::default();
        let below = memory_ccdf(p.cutoff, &p);
        let above = memory_ccdf(p.cutoff + 1e-9, &p);
        assert!((below - above).abs() < 1e-6, "{below} vs {above}");
        assert_eq!(memory_ccdf(-5.0, &p), 1.0);
        assert!(memory_ccdf(1000.0, &p) > memory_ccdf(2000.0, &p));
    }

    #[test]
    fn the_closed_form_integrals_match_numerical_integration_in_every_case() {
        let p = SeismicParams::default();
        let ptime = 10_000.0;
        let window = 3_000.0;
        let slope = 1.0 / window;
        // one share time in each of the five cases (window wider than the cutoff)
        for share in [9_900.0, 9_000.0, 6_900.0, 2_000.0, 10_500.0] {
            let closed = integral_memory_kernel(ptime, share, slope, window, &p);
            let lo = (ptime - window).max(share);
            let num = if ptime <= share {
                0.0
            } else {
                numeric(lo, ptime, |t| {
                    pdf(t - share, &p) * (slope * (t - ptime) + 1.0)
                })
            };
            assert!(
                (closed - num).abs() <= 1e-6 * num.abs().max(1e-9),
                "share {share}: {closed} vs {num}"
            );
        }
    }
}
