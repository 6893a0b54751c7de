//! Batch SEISMIC: `get.infectiousness` and `pred.cascade` of the R package, one result per
//! prediction time.

use crate::chisq::chisq_ratio;
use crate::kernel::Kernel;
use crate::{ForecastError, SeismicParams};

/// The infectiousness estimate at one prediction time, as `get.infectiousness` returns it
/// (`infectiousness`, `p.low`, `p.up`), plus the pieces it is made of.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Infectiousness {
    /// Point estimate `p̂ = weighted_count / kernel_integral` (R's `infectiousness`); 0 when the
    /// window holds no reshare.
    pub estimate: f64,
    /// Lower bound `p̂ qchisq(0.05, 2n) / 2n` (R's `p.low`). Note: these are the 5% and 95%
    /// quantiles, a two-sided 90% interval, although the R documentation calls it 95%.
    pub lower: f64,
    /// Upper bound `p̂ qchisq(0.95, 2n) / 2n` (R's `p.up`).
    pub upper: f64,
    /// `n`: reshares (the original excluded) inside the weighting window (R's `rt.num`).
    pub window_count: usize,
    /// Triangle-weighted count of those reshares (R's `rt.count.weighted`).
    pub weighted_count: f64,
    /// Σ followers × integral of memory kernel × weight (R's `sum(M.I[, j])`).
    pub kernel_integral: f64,
    /// Span of the weighting window actually used, in seconds (NaN when no share precedes the time).
    pub window: f64,
}

impl Infectiousness {
    /// Builds the estimate from the window statistics exactly as R does (zero when nothing was
    /// weighted).
    pub(crate) fn from_parts(weighted: f64, integral: f64, n: usize, window: f64) -> Self {
        let mut out = Self {
            window_count: n,
            weighted_count: weighted,
            kernel_integral: integral,
            window,
            ..Self::default()
        };
        if weighted == 0.0 {
            return out;
        }
        let est = weighted / integral;
        out.estimate = est;
        out.lower = est * chisq_ratio(0.05, n);
        out.upper = est * chisq_ratio(0.95, n);
        out
    }
}

/// A predicted final cascade size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prediction {
    /// A finite predicted total number of shares (original excluded, as in R).
    Finite(f64),
    /// Supercritical: infectiousness × n* ≥ 1, the branching process does not die out; R returns `Inf`.
    Infinite,
}

impl Prediction {
    /// The value as a float, `f64::INFINITY` for [`Prediction::Infinite`].
    pub fn as_f64(self) -> f64 {
        match self {
            Prediction::Finite(v) => v,
            Prediction::Infinite => f64::INFINITY,
        }
    }

    /// True for [`Prediction::Infinite`].
    pub fn is_infinite(self) -> bool {
        matches!(self, Prediction::Infinite)
    }
}

impl std::fmt::Display for Prediction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prediction::Finite(v) => write!(f, "{v:.1}"),
            Prediction::Infinite => f.write_str("infinite (supercritical)"),
        }
    }
}

/// Checks the inputs and returns (time, followers) pairs sorted by time (stable).
///
/// R's `get.infectiousness` sorts the times but not the follower counts with them; for input in
/// time order (the documented precondition, and the case of every real export) both agree. For
/// unsorted input this implementation keeps each follower count with its own share.
pub(crate) fn sorted_pairs(
    share_times: &[f64],
    followers: &[f64],
) -> Result<Vec<(f64, f64)>, ForecastError> {
    if share_times.len() != followers.len() {
        return Err(ForecastError::LengthMismatch {
            what: "share_times and followers",
            left: share_times.len(),
            right: followers.len(),
        });
    }
    for (i, (&t, &d)) in share_times.iter().zip(followers).enumerate() {
        check_value(i, "share time", t)?;
        check_value(i, "followers", d)?;
    }
    let mut pairs: Vec<(f64, f64)> = share_times
        .iter()
        .copied()
        .zip(followers.iter().copied())
        .collect();
    if !pairs.is_sorted_by(|a, b| a.0 <= b.0) {
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    Ok(pairs)
}

pub(crate) fn check_value(
    index: usize,
    what: &'static str,
    value: f64,
) -> Result<(), ForecastError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ForecastError::InvalidValue { index, what, value })
    }
}

/// The weighting window R uses at `ptime`: `(slope, window)` with `window = clamp(ptime / 2,
/// min.window, max.window)`, widened back to the `min.count`-th latest share when the window holds
/// fewer than `min.count` shares (original included). `None` when no share precedes `ptime` (R's
/// `NA`, which yields a zero estimate).
pub(crate) fn window_at(ptime: f64, times: &[f64], p: &SeismicParams) -> Option<(f64, f64)> {
    let (slope, window) = standard_window(ptime, p);
    let lo = times.partition_point(|&t| t < ptime - window);
    let hi = times.partition_point(|&t| t < ptime);
    if hi.saturating_sub(lo) >= p.min_count {
        return Some((slope, window));
    }
    fallback_window(ptime, times, hi, p)
}

/// R's clamped window before the `min.count` check.
pub(crate) fn standard_window(ptime: f64, p: &SeismicParams) -> (f64, f64) {
    let mut slope = 1.0 / (ptime / 2.0);
    if slope < 1.0 / p.max_window {
        slope = 1.0 / p.max_window;
    }
    if slope > 1.0 / p.min_window {
        slope = 1.0 / p.min_window;
    }
    let mut window = ptime / 2.0;
    if window > p.max_window {
        window = p.max_window;
    }
    if window < p.min_window {
        window = p.min_window;
    }
    (slope, window)
}

/// `ind2[max(lcv - min.count, 1):lcv]`: the window reaches back to share number
/// `max(lcv - min.count, 1)` (1-based) among the `lcv` shares before `ptime`.
pub(crate) fn fallback_window(
    ptime: f64,
    times: &[f64],
    before: usize,
    p: &SeismicParams,
) -> Option<(f64, f64)> {
    if before == 0 {
        return None;
    }
    let first = before.saturating_sub(p.min_count).max(1) - 1;
    let span = ptime - times[first];
    Some((1.0 / span, span))
}

/// The infectiousness at one prediction time over shares **sorted by time** (the first being the
/// original post); the public entry point is [`infectiousness`], which validates and sorts.
#[cfg(test)]
pub(crate) fn infectiousness_at(
    pairs: &[(f64, f64)],
    ptime: f64,
    p: &SeismicParams,
) -> Infectiousness {
    let times: Vec<f64> = pairs.iter().map(|e| e.0).collect();
    infectiousness_at_sorted(pairs, &times, ptime, p)
}

pub(crate) fn infectiousness_at_sorted(
    pairs: &[(f64, f64)],
    times: &[f64],
    ptime: f64,
    p: &SeismicParams,
) -> Infectiousness {
    let Some((slope, window)) = window_at(ptime, times, p) else {
        return Infectiousness {
            window: f64::NAN,
            ..Infectiousness::default()
        };
    };
    let end = times.partition_point(|&t| t < ptime);
    // Shares at or after ptime contribute zero to the kernel integral (case `p.time <= share.time`).
    let kernel = Kernel::new(p);
    let integral: f64 = pairs[..end]
        .iter()
        .map(|&(s, d)| d * kernel.integral(ptime, s, slope, window))
        .sum();
    let start = times.partition_point(|&t| t < ptime - window).max(1); // drop the original
    let mut weighted = 0.0;
    let mut n = 0usize;
    for &s in times.get(start..end).unwrap_or(&[]) {
        weighted += slope * (s - ptime) + 1.0;
        n += 1;
    }
    Infectiousness::from_parts(weighted, integral, n, window)
}

/// `get.infectiousness(share.time, degree, p.time)` with the given parameters: one estimate per
/// prediction time. `share_times[k]` and `followers[k]` describe one share; the earliest share is
/// taken as the original post (R's `share.time[-1]`), as in the package.
pub fn infectiousness(
    share_times: &[f64],
    followers: &[f64],
    pred_times: &[f64],
    params: &SeismicParams,
) -> Result<Vec<Infectiousness>, ForecastError> {
    params.validate()?;
    let pairs = sorted_pairs(share_times, followers)?;
    for (i, &t) in pred_times.iter().enumerate() {
        if !t.is_finite() {
            return Err(ForecastError::InvalidValue {
                index: i,
                what: "prediction time",
                value: t,
            });
        }
    }
    let times: Vec<f64> = pairs.iter().map(|e| e.0).collect();
    Ok(pred_times
        .iter()
        .map(|&pt| infectiousness_at_sorted(&pairs, &times, pt, params))
        .collect())
}

/// `pred.cascade(p.time, infectiousness, share.time, degree, n.star)`: the predicted final size at
/// each prediction time, from the estimates of [`infectiousness`] (pass `estimate`s, or bounds to
/// get the interval's ends).
pub fn predict_cascade(
    share_times: &[f64],
    followers: &[f64],
    pred_times: &[f64],
    infectiousness: &[f64],
    n_star: f64,
    params: &SeismicParams,
) -> Result<Vec<Prediction>, ForecastError> {
    params.validate()?;
    if pred_times.len() != infectiousness.len() {
        return Err(ForecastError::LengthMismatch {
            what: "pred_times and infectiousness",
            left: pred_times.len(),
            right: infectiousness.len(),
        });
    }
    if !(n_star.is_finite() && n_star > 0.0) {
        return Err(ForecastError::InvalidValue {
            index: 0,
            what: "n_star",
            value: n_star,
        });
    }
    let pairs = sorted_pairs(share_times, followers)?;
    Ok(pred_times
        .iter()
        .zip(infectiousness)
        .map(|(&pt, &inf)| {
            let (count, ccdf_sum) = observed_and_ccdf(&pairs, pt, params);
            final_size(count, ccdf_sum, inf, n_star)
        })
        .collect())
}

/// `(Σ [s <= ptime], Σ d × ccdf(ptime - s) over s <= ptime)`.
pub(crate) fn observed_and_ccdf(
    pairs: &[(f64, f64)],
    ptime: f64,
    p: &SeismicParams,
) -> (usize, f64) {
    let end = pairs.partition_point(|e| e.0 <= ptime);
    let kernel = Kernel::new(p);
    let sum = pairs[..end]
        .iter()
        .map(|&(s, d)| d * kernel.ccdf(ptime - s))
        .sum();
    (end, sum)
}

/// `rt0 + rt1 / (1 - p n*)` with `rt0 = count - 1` and `rt1 = p Σ d ccdf`; infinite when
/// `p n* >= 1`. R multiplies `d * p` before the ccdf; factoring `p` out changes the last bits
/// only (well inside the 1e-9 tolerance the tests use).
pub(crate) fn final_size(count: usize, ccdf_sum: f64, inf: f64, n_star: f64) -> Prediction {
    if inf.is_nan() || inf * n_star >= 1.0 {
        return Prediction::Infinite;
    }
    let rt0 = count as f64 - 1.0;
    let rt1 = inf * ccdf_sum;
    Prediction::Finite(rt0 + rt1 / (1.0 - inf * n_star))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_half_the_age_clamped_to_the_bounds() {
        let p = SeismicParams::default();
        assert_eq!(standard_window(0.0, &p), (1.0 / 300.0, 300.0));
        assert_eq!(standard_window(1200.0, &p), (1.0 / 600.0, 600.0));
        assert_eq!(standard_window(86_400.0, &p), (1.0 / 7200.0, 7200.0));
    }

    #[test]
    fn a_sparse_window_is_widened_back_to_the_min_count_th_latest_share() {
        let p = SeismicParams::default();
        // 8 shares long ago, none in the standard window at 10_000 s.
        let times = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0];
        let (slope, window) = window_at(10_000.0, &times, &p).unwrap();
        // lcv = 8, first = max(8 - 5, 1) = 3 (1-based) -> times[2] = 20
        assert_eq!(window, 10_000.0 - 20.0);
        assert_eq!(slope, 1.0 / window);
        // with 3 shares, R takes share 1 (the original)
        let (_, window) = window_at(1000.0, &times[..3], &p).unwrap();
        assert_eq!(window, 1000.0);
        assert!(window_at(0.0, &times, &p).is_none());
    }

    #[test]
    fn an_empty_window_gives_a_zero_estimate_like_r() {
        let p = SeismicParams::default();
        let pairs = [(0.0, 100.0)];
        let inf = infectiousness_at(&pairs, 500.0, &p);
        assert_eq!(inf.estimate, 0.0);
        assert_eq!((inf.lower, inf.upper), (0.0, 0.0));
    }

    #[test]
    fn supercritical_estimates_are_infinite_not_huge() {
        assert_eq!(final_size(10, 50.0, 0.01, 100.0), Prediction::Infinite);
        assert_eq!(final_size(10, 50.0, 0.02, 100.0), Prediction::Infinite);
        match final_size(10, 50.0, 0.005, 100.0) {
            Prediction::Finite(v) => assert!((v - (9.0 + 0.25 / 0.5)).abs() < 1e-12),
            Prediction::Infinite => panic!("subcritical must be finite"),
        }
    }

    #[test]
    fn mismatched_or_invalid_inputs_are_errors_not_panics() {
        let p = SeismicParams::default();
        assert!(matches!(
            infectiousness(&[0.0, 1.0], &[1.0], &[10.0], &p),
            Err(ForecastError::LengthMismatch { .. })
        ));
        assert!(matches!(
            infectiousness(&[0.0, f64::NAN], &[1.0, 2.0], &[10.0], &p),
            Err(ForecastError::InvalidValue { index: 1, .. })
        ));
        assert!(infectiousness(&[0.0], &[-3.0], &[10.0], &p).is_err());
        assert!(predict_cascade(&[0.0], &[1.0], &[1.0, 2.0], &[0.0], 100.0, &p).is_err());
        assert!(predict_cascade(&[0.0], &[1.0], &[1.0], &[0.0], 0.0, &p).is_err());
    }

    #[test]
    fn unsorted_input_is_sorted_with_followers_kept_in_pairs() {
        let p = SeismicParams::default();
        let times = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 400.0];
        let followers = [500.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
        let sorted = infectiousness(&times, &followers, &[600.0], &p).unwrap();
        let shuffled_t = [400.0, 0.0, 90.0, 30.0, 150.0, 60.0, 120.0];
        let shuffled_d = [60.0, 500.0, 30.0, 10.0, 50.0, 20.0, 40.0];
        let shuffled = infectiousness(&shuffled_t, &shuffled_d, &[600.0], &p).unwrap();
        assert_eq!(sorted, shuffled);
        assert!(sorted[0].estimate > 0.0);
    }
}
