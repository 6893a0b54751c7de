//! Poisson maximised sequential probability ratio test (Kulldorff et al. 2011), continuous
//! monitoring, with exact critical values.
//!
//! With `c` events observed when `μ` are expected under H0, the log-likelihood ratio is
//! `LLR(c, μ) = (μ - c) + c ln(c / μ)` for `c > μ` and 0 otherwise. The test signals the first
//! time `LLR >= CV` with at least `M` events, up to the end of surveillance `T` (in expected
//! counts).
//!
//! ## The exact type I error (what `Sequential::CV.Poisson` computes)
//!
//! For `c` events the LLR decreases in `μ` (for `μ < c`), so the `c`-th event signals iff it
//! arrives before the boundary time `μ_c < c` that solves `LLR(c, μ_c) = CV`. Writing
//! `μ_c = c w`, `w - ln w = 1 + CV / c`, i.e. `μ_c = -c W₀(-e^{-1 - CV/c})` (Lambert W,
//! principal branch). `μ_c` increases with `c`. Under H0 the counts form a Poisson process, so
//! with `S_c` the arrival time of the `c`-th event
//!
//! `α(CV) = P(∃ c >= M : S_c <= min(μ_c, T))`.
//!
//! `S_c <= μ_c` is the same as `N(μ_c) >= c`, so it suffices to look at the process at the
//! times `μ_M < μ_{M+1} < … < μ_{K-1} < T` where `K` is the first `c` with `μ_c >= T`: keep the
//! distribution of the count over the not-yet-absorbed states `0..c-1` at `μ_c`, absorb the
//! mass at `>= c`, convolve with Poisson(`μ_{c+1} - μ_c`) increments, and finish at `T` by
//! absorbing `N(T) >= K`. If `μ_M >= T` the test reduces to `N(T) >= M`. This is the Markov
//! chain of `CV.Poisson`'s `Perror_I`; we then solve `α(CV) = alpha` for `CV` to ~1e-12
//! (α is continuous and strictly decreasing in `CV` wherever `μ_M < T`), where R stops at
//! 1e-8 on the alpha or CV scale.
//!
//! Differences from R: R precomputes boundaries only for `c <= 1200` (so it fails for very long
//! surveillance); here they are computed as needed. R's `M <= 100` limit is not enforced. The
//! domain checks are R's: `T > 0`, `alpha` in `[1e-7, 0.5]`, `M >= 1`, and
//! `P(N(T) >= M) >= alpha`.

use crate::special::{ln_gamma, poisson_pmf, poisson_sf_ge};
use crate::{Result, StatsError};

/// Poisson log-likelihood ratio for `observed` events when `expected` are expected under H0
/// (0 when `observed <= expected`).
pub fn llr(observed: f64, expected: f64) -> f64 {
    if observed <= expected {
        return 0.0;
    }
    if expected <= 0.0 {
        return f64::INFINITY;
    }
    (expected - observed) + observed * (observed / expected).ln()
}

/// The boundary time `μ_c`: the expected count at which `c` observed events give
/// `LLR = cv` (with `μ_c < c`). Solves `e^s - 1 - s = cv / c` for `s = ln(μ_c / c) < 0` by
/// Newton's method from the left (the function is convex and decreasing there, so the
/// iteration is monotone).
pub fn boundary_time(c: u64, cv: f64) -> f64 {
    let cf = c as f64;
    if cv <= 0.0 {
        return cf;
    }
    let k = cv / cf;
    let g = |s: f64| s.exp_m1() - s - k;
    let mut s = -(2.0 * k).sqrt() - k;
    while g(s) < 0.0 {
        s *= 2.0;
    }
    for _ in 0..200 {
        let gs = g(s);
        let d = s.exp_m1(); // g'(s) = e^s - 1 < 0
        let ns = s - gs / d;
        if !(ns.is_finite()) || ns <= s {
            break;
        }
        let done = (ns - s).abs() <= 1e-16 * s.abs();
        s = ns;
        if done {
            break;
        }
    }
    cf * s.exp()
}

fn check(sample_size: f64, alpha: f64, min_events: u32) -> Result<()> {
    if !(sample_size > 0.0 && sample_size.is_finite()) {
        return Err(StatsError::InvalidArgument(format!(
            "sample size must be > 0, got {sample_size}"
        )));
    }
    if !(1e-7..=0.5).contains(&alpha) {
        return Err(StatsError::InvalidArgument(format!(
            "alpha must be in [1e-7, 0.5], got {alpha}"
        )));
    }
    if min_events < 1 {
        return Err(StatsError::InvalidArgument(
            "the minimum number of events M must be >= 1".into(),
        ));
    }
    Ok(())
}

/// Poisson increments' pmf for `0..=jmax`, truncated once negligible.
fn increment_pmf(dt: f64, jmax: usize, out: &mut Vec<f64>) {
    out.clear();
    if dt <= 0.0 {
        out.push(1.0);
        return;
    }
    let ldt = dt.ln();
    for j in 0..=jmax {
        let jf = j as f64;
        let v = (jf * ldt - dt - ln_gamma(jf + 1.0)).exp();
        out.push(v);
        if jf > dt && v < 1e-25 {
            break;
        }
    }
}

/// Tails `P(Poisson(dt) >= m)` for `m = 0..=mmax`, summed from the top so that small tails keep
/// their relative precision.
fn increment_tails(dt: f64, mmax: usize, out: &mut Vec<f64>) {
    out.clear();
    out.resize(mmax + 2, 0.0);
    // beyond dt + 40 + 10 sqrt(dt) the tail is below 1e-30: leave it at 0
    let top = ((dt + 40.0 + 10.0 * dt.sqrt()).ceil() as usize).min(mmax);
    out[top + 1] = poisson_sf_ge(top as i64 + 1, dt);
    for m in (0..=top).rev() {
        out[m] = out[m + 1] + poisson_pmf(m as i64, dt);
    }
    out[0] = 1.0;
}

/// Exact probability of a signal under H0 for critical value `cv`, surveillance length
/// `sample_size` (expected counts) and minimum number of events `min_events`.
pub fn type_one_error(cv: f64, sample_size: f64, min_events: u32) -> f64 {
    let t_end = sample_size;
    let m = min_events as u64;
    let mu_m = boundary_time(m, cv);
    if mu_m >= t_end {
        return poisson_sf_ge(m as i64, t_end);
    }
    // state at time mu_M: counts 0..M-1 alive
    let mut alive: Vec<f64> = (0..m).map(|s| poisson_pmf(s as i64, mu_m)).collect();
    let mut alpha = poisson_sf_ge(m as i64, mu_m);
    let mut prev_mu = mu_m;
    let mut c = m; // alive holds counts 0..c-1 at time mu_c
    let mut pmf = Vec::new();
    let mut tails = Vec::new();
    loop {
        let next_c = c + 1;
        let mu_next = boundary_time(next_c, cv);
        let (t_next, last) = if mu_next >= t_end {
            (t_end, true)
        } else {
            (mu_next, false)
        };
        let dt = t_next - prev_mu;
        // absorb: count k + increment >= next_c (at the end: >= K = next_c as well)
        let need = next_c as usize; // largest increment needed is next_c - 0
        increment_tails(dt, need, &mut tails);
        for (k, &p) in alive.iter().enumerate() {
            if p != 0.0 {
                alpha += p * tails[need - k];
            }
        }
        if last {
            return alpha;
        }
        // convolve into counts 0..next_c-1
        increment_pmf(dt, need, &mut pmf);
        let mut next = vec![0.0; next_c as usize];
        for (k, &p) in alive.iter().enumerate() {
            if p == 0.0 {
                continue;
            }
            let jmax = (next_c as usize - 1 - k).min(pmf.len() - 1);
            for j in 0..=jmax {
                next[k + j] += p * pmf[j];
            }
        }
        alive = next;
        prev_mu = mu_next;
        c = next_c;
    }
}

/// Exact critical value (log-likelihood-ratio scale) of the continuous Poisson MaxSPRT:
/// the `CV` with `type_one_error(CV, sample_size, min_events) = alpha`.
pub fn critical_value(sample_size: f64, alpha: f64, min_events: u32) -> Result<f64> {
    check(sample_size, alpha, min_events)?;
    let floor = poisson_sf_ge(min_events as i64, sample_size);
    if floor < alpha {
        return Err(StatsError::NoSolution(format!(
            "P(N(T) >= M) = {floor:.6} < alpha: for M = {min_events} and alpha = {alpha}, the \
             sample size must be larger"
        )));
    }
    let f = |cv: f64| type_one_error(cv, sample_size, min_events) - alpha;
    // bracket: f(0) >= 0 (f decreases in cv)
    let mut lo = 0.0;
    let mut flo = f(lo);
    if flo <= 0.0 {
        return Err(StatsError::NoSolution(format!(
            "alpha = {alpha} is not below the largest attainable type I error"
        )));
    }
    let mut hi = 1.0;
    let mut fhi = f(hi);
    while fhi > 0.0 {
        lo = hi;
        flo = fhi;
        hi *= 2.0;
        fhi = f(hi);
        if hi > 1e4 {
            return Err(StatsError::NoSolution("critical value diverges".into()));
        }
    }
    // Illinois regula falsi with bisection safeguard
    let mut side = 0i8;
    for _ in 0..300 {
        if hi - lo <= 1e-13 * hi.max(1.0) {
            break;
        }
        let mut x = (lo * fhi - hi * flo) / (fhi - flo);
        if !(x > lo && x < hi) {
            x = 0.5 * (lo + hi);
        }
        let fx = f(x);
        if fx == 0.0 {
            return Ok(x);
        }
        if fx > 0.0 {
            lo = x;
            flo = fx;
            if side == -1 {
                fhi *= 0.5;
            }
            side = -1;
        } else {
            hi = x;
            fhi = fx;
            if side == 1 {
                flo *= 0.5;
            }
            side = 1;
        }
    }
    Ok(0.5 * (lo + hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_time_gives_the_critical_llr() {
        for c in [1_u64, 2, 7, 50, 400] {
            for cv in [0.5, 2.9, 5.7] {
                let mu = boundary_time(c, cv);
                assert!(mu < c as f64 && mu > 0.0);
                assert!((llr(c as f64, mu) - cv).abs() < 1e-11, "c={c} cv={cv}");
            }
        }
    }

    #[test]
    fn boundary_time_increases_with_the_number_of_events() {
        let b: Vec<f64> = (1..30).map(|c| boundary_time(c, 3.0)).collect();
        assert!(b.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn llr_is_zero_when_no_excess() {
        assert_eq!(llr(2.0, 3.0), 0.0);
        assert!((llr(4.0, 1.0) - (1.0 - 4.0 + 4.0 * 4.0_f64.ln())).abs() < 1e-14);
    }

    #[test]
    fn type_one_error_decreases_with_the_critical_value() {
        let a: Vec<f64> = [1.0, 2.0, 3.0, 4.0, 5.0]
            .iter()
            .map(|&cv| type_one_error(cv, 20.0, 2))
            .collect();
        assert!(a.windows(2).all(|w| w[0] > w[1]), "{a:?}");
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(critical_value(0.0, 0.05, 1).is_err());
        assert!(critical_value(10.0, 0.6, 1).is_err());
        assert!(critical_value(10.0, 0.05, 0).is_err());
        // P(N(1) >= 5) is tiny: no solution
        assert!(matches!(
            critical_value(1.0, 0.05, 5),
            Err(StatsError::NoSolution(_))
        ));
    }
}
