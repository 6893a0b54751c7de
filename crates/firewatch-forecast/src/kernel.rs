//! The memory kernel and its integrals against the triangular weighting kernel, written
//! operation by operation as in the R package (`memory.ccdf`, `linear.kernel`, `power.kernel`,
//! `integral.memory.kernel` in `R/tweetfunctions.R`), so that rounding matches too.

use crate::SeismicParams;

/// The memory kernel's constants, computed once (the same values R computes inline, so results
/// are bit-identical to evaluating its expressions as written).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kernel {
    theta: f64,
    cutoff: f64,
    c: f64,
    /// `c * cutoff^(1+theta)`
    scale: f64,
    /// `c * cutoff^(1+theta) / theta`
    ccdf_scale: f64,
    /// `(theta - 1) * theta`
    denom: f64,
}

impl Kernel {
    pub(crate) fn new(p: &SeismicParams) -> Self {
        let scale = p.c * p.cutoff.powf(1.0 + p.theta);
        Self {
            theta: p.theta,
            cutoff: p.cutoff,
            c: p.c,
            scale,
            ccdf_scale: scale / p.theta,
            denom: (p.theta - 1.0) * p.theta,
        }
    }

    /// `memory.ccdf`: probability that the reaction time exceeds `t`.
    #[inline]
    pub(crate) fn ccdf(&self, t: f64) -> f64 {
        let t = if t < 0.0 { 0.0 } else { t };
        if t <= self.cutoff {
            1.0 - self.c * t
        } else {
            self.ccdf_scale * t.powf(-self.theta)
        }
    }

    /// `linear.kernel`: integral from `t1` to `t2` of `c (slope (t - ptime) + 1)`.
    #[inline]
    fn linear(&self, t1: f64, t2: f64, ptime: f64, slope: f64) -> f64 {
        let c = self.c;
        c * (t2 - ptime * slope * t2 + slope * (t2 * t2) / 2.0)
            - c * (t1 - ptime * slope * t1 + slope * (t1 * t1) / 2.0)
    }

    /// `power.kernel` from `t1` to `ptime` (its only use has `t2 = ptime`), given
    /// `(ptime - share)^-theta` as `pow_at_p`: integral of
    /// `c ((t - s)/cutoff)^-(1+θ) (slope (t - ptime) + 1)`.
    #[inline]
    fn power_to_p(&self, t1: f64, ptime: f64, share: f64, slope: f64, pow_at_p: f64) -> f64 {
        let theta = self.theta;
        let poly = |t: f64| {
            share * slope - theta + (theta - 1.0) * ptime * slope - theta * slope * t + 1.0
        };
        self.scale * pow_at_p * poly(ptime) / self.denom
            - self.scale * (t1 - share).powf(-theta) * poly(t1) / self.denom
    }

    /// `integral.memory.kernel` for one share: the integral over the window before `ptime` of the
    /// share's memory kernel times the triangular weight. The five cases and their precedence (a
    /// later assignment in R overwrites an earlier one when windows are narrower than the cutoff)
    /// are R's.
    #[inline]
    pub(crate) fn integral(&self, ptime: f64, share: f64, slope: f64, window: f64) -> f64 {
        if ptime > share + self.cutoff {
            self.integral_with_pow(
                ptime,
                share,
                slope,
                window,
                (ptime - share).powf(-self.theta),
            )
        } else {
            self.integral_with_pow(ptime, share, slope, window, f64::NAN)
        }
    }

    /// [`Kernel::integral`] and [`Kernel::ccdf`] at `ptime - share` together, sharing the one
    /// `(ptime - share)^-theta` both need (the incremental forecaster's inner loop).
    #[inline]
    pub(crate) fn integral_and_ccdf(
        &self,
        ptime: f64,
        share: f64,
        slope: f64,
        window: f64,
    ) -> (f64, f64) {
        let u = ptime - share;
        if u > self.cutoff {
            let pow = u.powf(-self.theta);
            (
                self.integral_with_pow(ptime, share, slope, window, pow),
                self.ccdf_scale * pow,
            )
        } else {
            (
                self.integral_with_pow(ptime, share, slope, window, f64::NAN),
                self.ccdf(u),
            )
        }
    }

    /// `pow_at_p` is `(ptime - share)^-theta`, only read when `ptime > share + cutoff`.
    #[inline]
    fn integral_with_pow(
        &self,
        ptime: f64,
        share: f64,
        slope: f64,
        window: f64,
        pow_at_p: f64,
    ) -> f64 {
        let cutoff = self.cutoff;
        if ptime > share + window + cutoff {
            self.power_to_p(ptime - window, ptime, share, slope, pow_at_p)
        } else if ptime > share + window {
            self.linear(ptime - window, share + cutoff, ptime, slope)
                + self.power_to_p(
                    share + cutoff,
                    ptime,
                    share,
                    slope,
                    pow_at_p_or(pow_at_p, ptime - share, self.theta),
                )
        } else if ptime > share + cutoff {
            self.linear(share, share + cutoff, ptime, slope)
                + self.power_to_p(share + cutoff, ptime, share, slope, pow_at_p)
        } else if ptime > share {
            self.linear(share, ptime, ptime, slope)
        } else {
            0.0
        }
    }
}

/// In R's fourth case with a window narrower than the cutoff, `ptime - share` can be below the
/// cutoff, where the caller did not compute the power: compute it here.
#[inline]
fn pow_at_p_or(pow: f64, u: f64, theta: f64) -> f64 {
    if pow.is_nan() { u.powf(-theta) } else { pow }
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
        let k = Kernel::new(&p);
        let below = k.ccdf(p.cutoff);
        let above = k.ccdf(p.cutoff + 1e-9);
        assert!((below - above).abs() < 1e-6, "{below} vs {above}");
        assert_eq!(k.ccdf(-5.0), 1.0);
        assert!(k.ccdf(1000.0) > k.ccdf(2000.0));
    }

    #[test]
    fn narrow_windows_follow_r_overwrite_order_without_nan() {
        // window 100 < cutoff 300: shares between ptime - 400 and ptime - 100 take R's 4th case
        let p = SeismicParams::default();
        let k = Kernel::new(&p);
        for share in [9_650.0, 9_750.0, 9_850.0, 9_950.0] {
            let (v, _) = k.integral_and_ccdf(10_000.0, share, 1.0 / 100.0, 100.0);
            assert!(v.is_finite(), "share {share}: {v}");
            assert_eq!(
                v.to_bits(),
                k.integral(10_000.0, share, 1.0 / 100.0, 100.0).to_bits()
            );
        }
    }

    #[test]
    fn the_closed_form_integrals_match_numerical_integration_in_every_case() {
        let p = SeismicParams::default();
        let ptime = 10_000.0;
        let window = 3_000.0;
        let slope = 1.0 / window;
        // one share time in each of the five cases (window wider than the cutoff)
        for share in [9_900.0, 9_000.0, 6_900.0, 2_000.0, 10_500.0] {
            let k = Kernel::new(&p);
            let closed = k.integral(ptime, share, slope, window);
            let (joint, ccdf) = k.integral_and_ccdf(ptime, share, slope, window);
            assert_eq!(
                (joint.to_bits(), ccdf.to_bits()),
                (closed.to_bits(), k.ccdf(ptime - share).to_bits())
            );
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
