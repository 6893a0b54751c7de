//! Special functions the rest of the crate builds on: the regularised incomplete gamma
//! function with its log prefactor (so callers that evaluate many points at the same shape
//! can pass `ln Γ(a)` once), gamma and beta quantiles by safeguarded root finding, and the
//! Poisson tail probabilities used by MaxSPRT.
//!
//! `ln_gamma`, `digamma` and `beta_reg` come from statrs; the incomplete gamma is our own
//! (series / Lentz continued fraction, as in Numerical Recipes §6.2) because the posterior
//! quantiles of the Gamma-Poisson Shrinker evaluate it millions of times and need the density
//! from the same prefactor. It is cross-checked against puruspe and statrs in the tests.

pub use statrs::function::gamma::{digamma, ln_gamma};

const EPS: f64 = 1e-16;
const MAX_ITER: usize = 100_000;

/// Regularised incomplete gamma at shape `a` > 0 and `x` >= 0, given `lga = ln Γ(a)`.
///
/// Returns `(P, Q, lp)` with `P = P(a, x)`, `Q = 1 - P` (each computed without
/// cancellation) and `lp = a ln x - x - ln Γ(a)`, so that the Gamma(a, 1) density at `x` is
/// `exp(lp) / x`.
pub fn gamma_pq_with(a: f64, x: f64, lga: f64) -> (f64, f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0, f64::NEG_INFINITY);
    }
    if x.is_infinite() {
        return (1.0, 0.0, f64::NEG_INFINITY);
    }
    let lp = a * x.ln() - x - lga;
    if x < a + 1.0 {
        // series: P = e^lp / a * sum_{n>=0} x^n / ((a+1)...(a+n))
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        let p = (sum.ln() + lp).exp().min(1.0);
        (p, 1.0 - p, lp)
    } else {
        // continued fraction for Q (modified Lentz)
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        let q = (h.ln() + lp).exp().min(1.0);
        (1.0 - q, q, lp)
    }
}

/// Regularised lower incomplete gamma `P(a, x)`.
pub fn gamma_p(a: f64, x: f64) -> f64 {
    gamma_pq_with(a, x, ln_gamma(a)).0
}

/// Regularised upper incomplete gamma `Q(a, x) = 1 - P(a, x)`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    gamma_pq_with(a, x, ln_gamma(a)).1
}

/// Which tail a quantile is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// solve `P(X <= x) = p`
    Lower,
    /// solve `P(X > x) = p`
    Upper,
}

/// Quantile of the Gamma(shape `a`, rate 1) distribution: the `x` with `P(a, x) = p`
/// ([`Tail::Lower`]) or `Q(a, x) = p` ([`Tail::Upper`]). Newton steps on `ln` of the tail
/// probability in `ln x`, kept inside a bisection bracket; relative accuracy ~1e-14.
pub fn gamma_quantile(a: f64, p: f64, tail: Tail) -> f64 {
    if p <= 0.0 {
        return if tail == Tail::Lower {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if p >= 1.0 {
        return if tail == Tail::Lower {
            f64::INFINITY
        } else {
            0.0
        };
    }
    let lga = ln_gamma(a);
    let target = p.ln();
    // h(t) increasing in t = ln x: ln P - ln p, or ln p - ln Q
    let eval = |t: f64| -> (f64, f64) {
        let (pp, qq, lp) = gamma_pq_with(a, t.exp(), lga);
        let dens = lp.exp(); // d P / d t
        match tail {
            Tail::Lower => (pp.ln() - target, dens / pp),
            Tail::Upper => (target - qq.ln(), dens / qq),
        }
    };
    // starting point: Wilson-Hilferty for moderate a, the small-x tail otherwise
    let z = normal_quantile(if tail == Tail::Lower { p } else { 1.0 - p });
    let wh = {
        let c = 1.0 / (9.0 * a);
        a * (1.0 - c + z * c.sqrt()).powi(3)
    };
    let t0 = if wh > 0.0 && a > 0.5 {
        wh.ln()
    } else {
        // P(a, x) ~ x^a / Γ(a+1) for small x
        let pl = if tail == Tail::Lower { p } else { 1.0 - p };
        ((pl.ln() + ln_gamma(a + 1.0)) / a).min(a.max(1.0).ln())
    };
    solve_increasing(eval, t0).exp()
}

/// Solve `h(t) = 0` for an increasing `h` with derivative, from a start point: Newton steps,
/// kept inside the bracket found so far (bisection when a step leaves it, doubling steps
/// outwards while there is no bracket). Stops once a Newton step is below 1e-10 (the
/// quadratic convergence then leaves an error near 1e-20) or the bracket is below 1e-15.
pub(crate) fn solve_increasing(mut h: impl FnMut(f64) -> (f64, f64), t0: f64) -> f64 {
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    let mut t = t0;
    let mut step_cap = 1.0;
    for _ in 0..500 {
        let (v, d) = h(t);
        if v == 0.0 {
            return t;
        }
        if v < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        let mut nt = if d > 0.0 && d.is_finite() && v.is_finite() {
            t - v / d
        } else {
            f64::NAN
        };
        let scale = t.abs().max(1.0);
        if nt.is_finite() && (nt - t).abs() <= 1e-10 * scale {
            return nt;
        }
        let bracketed = lo.is_finite() && hi.is_finite();
        if !nt.is_finite() || nt <= lo || nt >= hi || (!bracketed && (nt - t).abs() > step_cap) {
            nt = if bracketed {
                0.5 * (lo + hi)
            } else {
                step_cap *= 2.0;
                if v < 0.0 { t + step_cap } else { t - step_cap }
            };
        }
        let moved = (nt - t).abs();
        t = nt;
        let scale = t.abs().max(1.0);
        if moved <= 1e-10 * scale || (bracketed && hi - lo <= 1e-15 * scale) {
            break;
        }
    }
    t
}

/// Standard normal quantile (Acklam's rational approximation with one Halley refinement
/// step on erfc; absolute error below 1e-15 over (0, 1)).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let plow = 0.02425;
    let x = if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // one Halley step, with Φ from the incomplete gamma: Φ(x) = Q(1/2, x²/2) / 2 for x <= 0
    let half_tail = 0.5 * gamma_pq_with(0.5, 0.5 * x * x, 0.5 * std::f64::consts::PI.ln()).1;
    let cdf = if x <= 0.0 { half_tail } else { 1.0 - half_tail };
    let e = cdf - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Quantile of the Beta(a, b) distribution by bisection on the regularised incomplete beta
/// function (monotone, 1e-15 absolute on the probability scale of `x`).
pub fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if statrs::function::beta::beta_reg(a, b, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `P(N >= k)` for `N ~ Poisson(mu)`; 1 for `k <= 0`.
pub fn poisson_sf_ge(k: i64, mu: f64) -> f64 {
    if k <= 0 {
        return 1.0;
    }
    if mu <= 0.0 {
        return 0.0;
    }
    gamma_p(k as f64, mu)
}

/// `P(N = k)` for `N ~ Poisson(mu)`, computed in log space.
pub fn poisson_pmf(k: i64, mu: f64) -> f64 {
    if k < 0 {
        return 0.0;
    }
    if mu <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    let kf = k as f64;
    (kf * mu.ln() - mu - ln_gamma(kf + 1.0)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn incomplete_gamma_agrees_with_puruspe_over_a_grid() {
        for &a in &[0.05, 0.3, 1.0, 2.5, 7.0, 30.0, 250.0, 3000.0] {
            for &xr in &[1e-4, 0.01, 0.3, 0.9, 1.0, 1.1, 2.0, 5.0] {
                let x = a * xr;
                let (p, q, _) = gamma_pq_with(a, x, ln_gamma(a));
                // puruspe returns NaN in part of the grid; statrs then stands in
                let mut rp = puruspe::gammp(a, x);
                let mut rq = puruspe::gammq(a, x);
                if !(rp.is_finite() && rq.is_finite()) {
                    rp = statrs::function::gamma::gamma_lr(a, x);
                    rq = statrs::function::gamma::gamma_ur(a, x);
                }
                // puruspe is itself only good to ~1e-11 at tiny x
                assert!((p - rp).abs() < 1e-10, "P({a},{x}) = {p} vs {rp}");
                assert!((q - rq).abs() < 1e-10, "Q({a},{x}) = {q} vs {rq}");
                assert!((p + q - 1.0).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn incomplete_gamma_matches_mpmath_where_puruspe_is_loose() {
        // mpmath.gammainc(0.05, 0, 5e-6, regularized=True) = 0.5579696002803568925...
        assert!((gamma_p(0.05, 5e-6) - 0.557_969_600_280_356_9).abs() < 1e-15);
    }

    #[test]
    fn gamma_quantile_inverts_both_tails() {
        for &a in &[0.02, 0.2, 1.0, 3.3, 17.0, 400.0] {
            for &p in &[1e-6, 1e-4, 0.025, 0.05, 0.5, 0.95, 0.975] {
                let x = gamma_quantile(a, p, Tail::Lower);
                assert!(rel(gamma_p(a, x), p) < 1e-11, "lower a={a} p={p} x={x}");
                let y = gamma_quantile(a, p, Tail::Upper);
                assert!(rel(gamma_q(a, y), p) < 1e-11, "upper a={a} p={p} y={y}");
            }
        }
    }

    #[test]
    fn normal_quantile_matches_known_values() {
        let z = normal_quantile(0.975);
        assert!((z - 1.959_963_984_540_054).abs() < 1e-14, "{z}");
        assert!((normal_quantile(0.05) + 1.644_853_626_951_472_2).abs() < 1e-14);
        assert!((normal_quantile(1e-10) + 6.361_340_902_404_056).abs() < 1e-12);
    }

    #[test]
    fn beta_quantile_inverts_the_incomplete_beta() {
        for &(a, b, p) in &[(1.0, 5.0, 0.025), (3.0, 40.0, 0.975), (0.5, 0.5, 0.3)] {
            let x = beta_quantile(a, b, p);
            assert!((statrs::function::beta::beta_reg(a, b, x) - p).abs() < 1e-13);
        }
    }

    #[test]
    fn poisson_tail_and_pmf_are_consistent() {
        let mu = 3.7;
        let mut cdf = 0.0;
        for k in 0..6 {
            cdf += poisson_pmf(k, mu);
        }
        assert!((1.0 - cdf - poisson_sf_ge(6, mu)).abs() < 1e-14);
        assert_eq!(poisson_sf_ge(0, mu), 1.0);
    }
}
