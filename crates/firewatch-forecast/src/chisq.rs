//! Chi-square / gamma quantiles and tails for the infectiousness interval.
//!
//! Only integer shapes occur (R's `qchisq(q, 2n)` with `n` reshares), and for an integer shape
//! the regularised incomplete gamma function is a Poisson sum, computed here directly:
//! `Q(n, x) = e^-x Σ_{k<n} x^k / k!`. (The `puruspe` crate was tried first: its `gammp` returns
//! NaN for shape 100 and `x >= 20`, and `invgammp` then panics; `statrs` warns about its
//! inverse-CDF solvers. A 60-line exact form is safer than either.) Accuracy is about 1e-11
//! relative, limited by `exp` of an exponent of size `n ln n`.

/// `ln(n!)`: exact summation below 20, Stirling's series (error < 1e-17 relative) above.
fn ln_factorial(n: u64) -> f64 {
    if n < 20 {
        return (2..=n).map(|k| k as f64).product::<f64>().ln();
    }
    let x = n as f64;
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    x * x.ln() - x
        + 0.5 * (std::f64::consts::TAU * x).ln()
        + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)))
}

/// `(P(n, x), Q(n, x))` for integer shape `n >= 1` and `x >= 0`, each computed without
/// cancellation (the smaller tail is summed, the other is its complement).
fn gamma_pq(n: u64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if x.is_infinite() {
        return (1.0, 0.0);
    }
    let nf = n as f64;
    if x < nf {
        // P = e^-x x^n / n! (1 + x/(n+1) + x^2/((n+1)(n+2)) + ...)
        let lead = (nf * x.ln() - x - ln_factorial(n)).exp();
        let (mut term, mut sum, mut k) = (1.0f64, 1.0f64, nf);
        loop {
            k += 1.0;
            term *= x / k;
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
        }
        let p = (lead * sum).min(1.0);
        (p, 1.0 - p)
    } else {
        // Q = e^-x x^(n-1) / (n-1)! (1 + (n-1)/x + (n-1)(n-2)/x^2 + ...)
        let m = n - 1;
        let lead = ((m as f64) * x.ln() - x - ln_factorial(m)).exp();
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        let mut k = m;
        while k > 0 {
            term *= k as f64 / x;
            sum += term;
            if term <= sum * 1e-17 {
                break;
            }
            k -= 1;
        }
        let q = (lead * sum).min(1.0);
        (1.0 - q, q)
    }
}

/// `qchisq(q, 2n) / (2n)`, the factor R applies to the estimate for its interval bounds:
/// `qchisq(q, 2n) = 2 x` where `P(n, x) = q`. Bracketed Newton iteration from the
/// Wilson-Hilferty approximation.
pub(crate) fn chisq_ratio(q: f64, n: usize) -> f64 {
    if n == 0 || !(q > 0.0 && q < 1.0) {
        return f64::NAN;
    }
    let shape = n as u64;
    let a = n as f64;
    let ln_norm = ln_factorial(shape - 1);
    let z = normal_quantile_rough(q);
    let wh = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * a.sqrt());
    let mut x = if wh > 0.0 { a * wh * wh * wh } else { a * 0.5 };
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    for _ in 0..200 {
        let (p, upper) = gamma_pq(shape, x);
        // use the smaller tail for the residual, so that it keeps full relative precision
        let err = if q < 0.5 { p - q } else { (1.0 - q) - upper };
        if err == 0.0 {
            break;
        }
        if err < 0.0 {
            lo = lo.max(x);
        } else {
            hi = hi.min(x);
        }
        let density = ((a - 1.0) * x.ln() - x - ln_norm).exp();
        let mut next = x - err / density;
        if !(next.is_finite() && next > lo && next < hi) {
            next = if hi.is_finite() {
                0.5 * (lo + hi)
            } else {
                2.0 * x.max(1.0)
            };
        }
        let done = (next - x).abs() <= 4.0 * f64::EPSILON * x;
        x = next;
        if done {
            break;
        }
    }
    x / a
}

/// Abramowitz & Stegun 26.2.23 (error < 4.5e-4): only a starting point for Newton.
fn normal_quantile_rough(q: f64) -> f64 {
    let (pp, sign) = if q < 0.5 { (q, -1.0) } else { (1.0 - q, 1.0) };
    let t = (-2.0 * pp.ln()).sqrt();
    let num = 2.515517 + t * (0.802853 + t * 0.010328);
    let den = 1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308));
    sign * (t - num / den)
}

/// Upper tail `Q(a, x)` of a gamma with integer shape `a` (given as a float) and scale 1; safe on
/// any input (NaN for a non-positive or non-integer shape).
pub(crate) fn gamma_upper_tail(a: f64, x: f64) -> f64 {
    if !(a >= 1.0 && a.fract() == 0.0 && a < 1e12) || x.is_nan() {
        return f64::NAN;
    }
    gamma_pq(a as u64, x).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn the_chi_square_ratio_matches_high_precision_values() {
        // R: qchisq(0.05, 2) / 2 = 0.05129329438755058; qchisq(0.95, 2) / 2 = 2.995732273553991
        assert!(rel(chisq_ratio(0.05, 1), 0.051_293_294_387_550_58) < 1e-13);
        assert!(rel(chisq_ratio(0.95, 1), 2.995_732_273_553_991) < 1e-13);
        // mpmath (40 digits): findroot(gammainc(n, 0, x, regularized) = q) / n
        for (q, n, expected) in [
            (0.05, 100, 0.841_392_772_183_142),
            (0.95, 100, 1.169_971_344_461_624_6),
            (0.05, 2500, 0.967_331_898_014_465_1),
            (0.95, 2500, 1.033_122_903_735_160_6),
        ] {
            let got = chisq_ratio(q, n);
            assert!(rel(got, expected) < 1e-11, "q={q} n={n}: {got}");
        }
    }

    #[test]
    fn the_tail_inverts_the_quantile_for_many_shapes() {
        for n in [1usize, 2, 5, 19, 20, 21, 37, 99, 100, 101, 500, 1000, 5000] {
            for q in [0.05, 0.95] {
                let x = chisq_ratio(q, n) * n as f64;
                let tail = gamma_upper_tail(n as f64, x);
                assert!((tail - (1.0 - q)).abs() < 1e-11, "n={n} q={q}: {tail}");
            }
        }
    }

    #[test]
    fn ln_factorial_is_continuous_across_the_switch_to_stirling() {
        let exact20: f64 = (2..=20).map(|k| (k as f64).ln()).sum();
        assert!(rel(ln_factorial(20), exact20) < 1e-14);
        assert!(rel(ln_factorial(19) + 20f64.ln(), ln_factorial(20)) < 1e-14);
    }

    #[test]
    fn degenerate_arguments_give_nan_or_bounds_without_panicking() {
        assert!(chisq_ratio(0.5, 0).is_nan());
        assert!(chisq_ratio(1.5, 3).is_nan());
        assert_eq!(gamma_upper_tail(3.0, -1.0), 1.0);
        assert_eq!(gamma_upper_tail(3.0, f64::INFINITY), 0.0);
        assert!(gamma_upper_tail(0.0, 1.0).is_nan());
        assert!(gamma_upper_tail(2.5, 1.0).is_nan());
    }
}
