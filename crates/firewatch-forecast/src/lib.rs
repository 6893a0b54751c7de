//! SEISMIC reach forecasting for social cascades. Pure: no I/O, no clocks.
//!
//! This crate re-implements the R package **seismic** 1.1 (Zhao, Erdogdu, He, Rajaraman and
//! Leskovec, *SEISMIC: A Self-Exciting Point Process Model for Predicting Tweet Popularity*,
//! KDD 2015), operation by operation, so that its numbers match the package's
//! `get.infectiousness` and `pred.cascade` (see `tests/it.rs`, which checks the package's own
//! example cascade against values produced by R, to 1e-6 relative and tighter).
//!
//! * [`infectiousness`] and [`predict_cascade`]: the batch functions, one result per prediction time.
//! * [`CascadeForecaster`]: the incremental form for the server (events pushed as they arrive).
//! * [`seismic_offline`]: the logic behind `firewatch stats seismic --cascade FILE --at SECONDS`.
//!
//! # The model in one paragraph
//!
//! A cascade is the original post (time 0) plus its reshares `s_i`, each reshare seen by `d_i`
//! followers. The reaction time of a follower has the density φ ("memory kernel"): constant `c` up
//! to `cutoff` (s0 = 300 s), then a power law `c (t/s0)^-(1+θ)`. The rate of new reshares at time `t`
//! is `p(t) Σ d_i φ(t - s_i)`, where `p` is the infectiousness. SEISMIC estimates `p` at a
//! prediction time `T` as (triangle-weighted count of reshares in a window before `T`) / (the same
//! weighting integrated against the intensity), and predicts the final size as
//! `R_T + p Σ d_i (1 - Φ(T - s_i)) / (1 - p n*)`, a branching-process total that diverges when
//! `p n* >= 1` (the supercritical case, [`Prediction::Infinite`]).

mod batch;
mod chisq;
mod error;
mod incremental;
mod kernel;
mod offline;

pub use batch::{Infectiousness, Prediction, infectiousness, predict_cascade};
pub use error::ForecastError;
pub use incremental::{CascadeForecaster, Forecast, ForecastGrid};
pub use offline::{SeismicReport, parse_cascade_csv, seismic_offline};

/// Parameters of the SEISMIC estimator.
///
/// The defaults are the R package's defaults, which is what "matching R" requires:
/// the memory kernel's `theta = 0.2314843`, `cutoff = 300` s and `c = 0.0006265725`
/// (fitted on Twitter data; the paper quotes θ ≈ 0.242 and s0 = 300 s, but the package ships
/// 0.2314843, and c is the matching normalisation `θ / (s0 (1 + θ))`), and
/// `get.infectiousness`'s `max.window = 7200`, `min.window = 300`, `min.count = 5`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeismicParams {
    /// Exponent of the power-law part of the memory kernel.
    pub theta: f64,
    /// Where the memory kernel switches from constant to power law (s0), in seconds.
    pub cutoff: f64,
    /// Constant density of the memory kernel before `cutoff`.
    pub c: f64,
    /// Largest span of the triangular weighting window, in seconds.
    pub max_window: f64,
    /// Smallest span of the triangular weighting window, in seconds.
    pub min_window: f64,
    /// Fewest shares (original included) the window must hold before it is widened.
    pub min_count: usize,
}

impl Default for SeismicParams {
    fn default() -> Self {
        Self {
            theta: 0.2314843,
            cutoff: 300.0,
            c: 0.0006265725,
            max_window: 2.0 * 60.0 * 60.0,
            min_window: 300.0,
            min_count: 5,
        }
    }
}

impl SeismicParams {
    /// A memory kernel with another exponent and cutoff, normalised (`c = θ / (s0 (1 + θ))`), for
    /// example the paper's `θ = 0.242`. The window parameters keep their defaults.
    pub fn with_kernel(theta: f64, cutoff: f64) -> Result<Self, ForecastError> {
        if !(theta.is_finite() && theta > 0.0 && theta != 1.0 && cutoff.is_finite() && cutoff > 0.0)
        {
            return Err(ForecastError::InvalidParams(format!(
                "theta must be positive and not 1, cutoff positive; got theta={theta}, cutoff={cutoff}"
            )));
        }
        Ok(Self {
            theta,
            cutoff,
            c: theta / (cutoff * (1.0 + theta)),
            ..Self::default()
        })
    }

    pub(crate) fn validate(&self) -> Result<(), ForecastError> {
        let ok = self.theta.is_finite()
            && self.theta > 0.0
            && self.theta != 1.0
            && self.cutoff.is_finite()
            && self.cutoff > 0.0
            && self.c.is_finite()
            && self.c > 0.0
            && self.min_window.is_finite()
            && self.min_window > 0.0
            && self.max_window.is_finite()
            && self.max_window >= self.min_window;
        if ok {
            Ok(())
        } else {
            Err(ForecastError::InvalidParams(format!("{self:?}")))
        }
    }
}

/// The default n* (average degree / followers scale) of `pred.cascade`.
pub const DEFAULT_N_STAR: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_kernel_is_normalised_to_one() {
        let p = SeismicParams::default();
        let mass = p.c * p.cutoff + p.c * p.cutoff / p.theta;
        assert!((mass - 1.0).abs() < 1e-6, "{mass}");
    }

    #[test]
    fn with_kernel_normalises_the_paper_exponent() {
        let p = SeismicParams::with_kernel(0.242, 300.0).unwrap();
        let mass = p.c * p.cutoff * (1.0 + 1.0 / p.theta);
        assert!((mass - 1.0).abs() < 1e-12);
        assert!(SeismicParams::with_kernel(-1.0, 300.0).is_err());
        assert!(SeismicParams::with_kernel(0.2, f64::NAN).is_err());
    }
}
