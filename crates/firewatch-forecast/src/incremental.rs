//! Incremental SEISMIC for the server: events are pushed as they arrive and a forecast can be
//! asked for at any moment.
//!
//! # How it stays cheap, and why it equals the batch computation
//!
//! Every quantity SEISMIC needs at a prediction time `T` is a sum over the shares before `T` of
//! a term that depends only on that share and on `T` (and on the window at `T`):
//!
//! * the kernel integral `I(T) = Σ d_i K_T(s_i)`, whose window is R's `clamp(T / 2, 300, 7200)`;
//! * the shares in that window, their triangle-weighted count and their number `n`;
//! * the observed count `Σ [s_i <= T]` and `Σ d_i ccdf(T - s_i)` for the prediction.
//!
//! The memory kernel's power-law tail makes `K_T(s)` non-separable in `(T, s)`, so no finite set
//! of running sums gives `I(T)` at an arbitrary `T` exactly. Instead the forecaster evaluates at a
//! **bounded, fixed set of prediction times**: the grid `0, step, 2 step, ..., horizon` (by
//! default every 10 minutes over 24 hours, 145 instants, R's own usage is the same grid over 6 h).
//! Each grid instant keeps the sums above; [`CascadeForecaster::push`] adds the new share's term
//! to every instant at or after it. A push therefore costs at most `K` kernel evaluations, where
//! `K` (the grid size) is a constant chosen at construction and independent of the cascade size `n`:
//! O(1) per event, amortised over nothing (O(K) in the worst case, and less for later events).
//! A forecast reads the sums of the latest grid instant `<= now` and turns them into an estimate,
//! an interval (two chi-square quantiles) and a tail probability; the result is cached until a
//! push changes that instant's sums, so asking after every event costs a comparison except once
//! per grid instant (or when a late share lands before the current instant).
//!
//! Because the per-instant terms are the same expressions the batch code uses (one shared
//! `Kernel`), added in the same (time) order, the result equals [`crate::infectiousness`] +
//! [`crate::predict_cascade`] at each grid instant **bit for bit** (the integration tests check
//! exact equality on the 15,563-share cascade at every instant of a one-minute grid, and on a
//! sparse cascade where R's `min.count` widening applies).
//!
//! The only data-dependent part of R's window is the `min.count` rule: when fewer than 5 shares
//! fall in the standard window, R widens it back to an earlier share. That can only be decided
//! once the instant is reached; it is then computed from the stored shares with the batch code and
//! cached per instant (recomputed only if a late share arrives before that instant). This happens
//! only for quiet windows, at most once per grid instant, so the total stays O(K · n) over the
//! cascade's life, i.e. O(K) per event amortised.
//!
//! Shares after the horizon affect no grid instant and are not stored: memory is bounded by the
//! shares inside the horizon.

use crate::batch::{
    Infectiousness, Prediction, check_value, final_size, infectiousness_at_sorted, standard_window,
};
use crate::chisq::gamma_upper_tail;
use crate::kernel::Kernel;
use crate::{ForecastError, SeismicParams};

/// The prediction instants of a [`CascadeForecaster`]: `0, step, 2·step, ... <= horizon`, in
/// seconds after the original post.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastGrid {
    /// Spacing of the prediction instants, seconds (> 0).
    pub step: f64,
    /// Last prediction instant, seconds (>= 0). Forecasts asked later use the last instant.
    pub horizon: f64,
}

impl Default for ForecastGrid {
    /// Every 10 minutes for 24 hours (145 instants).
    fn default() -> Self {
        Self {
            step: 600.0,
            horizon: 24.0 * 3600.0,
        }
    }
}

/// One SEISMIC forecast, at the latest grid instant not after the requested time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// The grid instant the forecast is computed at (seconds after the original post).
    pub at: f64,
    /// Shares observed up to `at`, the original included (R's `sum(share.time <= p.time)`).
    pub observed: usize,
    /// The infectiousness estimate and its interval at `at`.
    pub infectiousness: Infectiousness,
    /// Predicted final number of reshares (original excluded, as R's `pred.cascade`).
    pub predicted_final: Prediction,
    /// Prediction at the interval's lower infectiousness (R's `p.low`, 5% quantile).
    pub lower: Prediction,
    /// Prediction at the interval's upper infectiousness (R's `p.up`, 95% quantile).
    pub upper: Prediction,
    /// Probability that the final size exceeds the threshold; see [`CascadeForecaster::forecast`].
    pub p_exceed: f64,
    /// Probability that the cascade is supercritical (infectiousness × n* >= 1) under the same model.
    pub p_infinite: f64,
    /// The point estimate is supercritical (`predicted_final` is [`Prediction::Infinite`]).
    pub infinite: bool,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    ptime: f64,
    slope: f64,
    window: f64,
    integral: f64,
    in_window_all: usize,
    weighted: f64,
    n: usize,
    observed: usize,
    ccdf_sum: f64,
    /// Bumped by every push that changes this instant's sums (cache key for forecasts).
    version: u64,
}

/// Incremental SEISMIC forecaster for one cascade (see the module docs for the cost argument).
#[derive(Debug, Clone)]
pub struct CascadeForecaster {
    params: SeismicParams,
    kernel: Kernel,
    grid: ForecastGrid,
    slots: Vec<Slot>,
    events: Vec<(f64, f64)>,
    times: Vec<f64>,
    last_time: Option<f64>,
    beyond_horizon: usize,
    /// (slot index, shares before the slot's instant, estimate) of the last min.count fallback.
    fallback: Option<(usize, usize, Infectiousness)>,
    /// The last forecast and its key (slot, slot version, threshold bits, n* bits): forecasts
    /// asked again before the instant's sums change cost a comparison.
    last: Option<((usize, u64, u64, u64), Forecast)>,
}

impl CascadeForecaster {
    /// A forecaster with R's default parameters and the default grid (10 min over 24 h).
    pub fn new() -> Self {
        Self::with_grid(SeismicParams::default(), ForecastGrid::default())
            .unwrap_or_else(|_| unreachable!("defaults are valid"))
    }

    /// A forecaster with explicit parameters and prediction grid. The grid may hold at most
    /// 100,000 instants (each push costs one kernel evaluation per later instant).
    pub fn with_grid(params: SeismicParams, grid: ForecastGrid) -> Result<Self, ForecastError> {
        params.validate()?;
        if !(grid.step.is_finite()
            && grid.step > 0.0
            && grid.horizon.is_finite()
            && grid.horizon >= 0.0)
        {
            return Err(ForecastError::InvalidParams(format!(
                "bad forecast grid {grid:?}"
            )));
        }
        let count = (grid.horizon / grid.step).floor() + 1.0;
        if count > 100_000.0 {
            return Err(ForecastError::InvalidParams(format!(
                "forecast grid of {count} instants is too fine (at most 100000)"
            )));
        }
        let slots = (0..count as usize)
            .map(|k| {
                let ptime = k as f64 * grid.step;
                let (slope, window) = standard_window(ptime, &params);
                Slot {
                    ptime,
                    slope,
                    window,
                    integral: 0.0,
                    in_window_all: 0,
                    weighted: 0.0,
                    n: 0,
                    observed: 0,
                    ccdf_sum: 0.0,
                    version: 0,
                }
            })
            .collect();
        Ok(Self {
            params,
            kernel: Kernel::new(&params),
            grid,
            slots,
            events: Vec::new(),
            times: Vec::new(),
            last_time: None,
            beyond_horizon: 0,
            fallback: None,
            last: None,
        })
    }

    /// The prediction grid.
    pub fn grid(&self) -> ForecastGrid {
        self.grid
    }

    /// Shares pushed so far (the original included), including those after the horizon.
    pub fn len(&self) -> usize {
        self.events.len() + self.beyond_horizon
    }

    /// No share pushed yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records one share at `time` seconds after the original post, seen by `followers` people.
    /// The first push is the original post itself. Shares must come in time order (equal times
    /// are fine); a late share is an [`ForecastError::OutOfOrder`] error and is not recorded.
    pub fn push(&mut self, time: f64, followers: f64) -> Result<(), ForecastError> {
        check_value(self.len(), "share time", time)?;
        check_value(self.len(), "followers", followers)?;
        if let Some(previous) = self.last_time
            && time < previous
        {
            return Err(ForecastError::OutOfOrder { time, previous });
        }
        self.last_time = Some(time);
        let is_original = self.is_empty();
        let first = self.first_slot_at_or_after(time);
        if first >= self.slots.len() {
            self.beyond_horizon += 1;
            return Ok(());
        }
        self.events.push((time, followers));
        self.times.push(time);
        let kernel = &self.kernel;
        for slot in &mut self.slots[first..] {
            slot.version += 1;
            slot.observed += 1;
            let (integral, ccdf) =
                kernel.integral_and_ccdf(slot.ptime, time, slot.slope, slot.window);
            slot.ccdf_sum += followers * ccdf;
            if time < slot.ptime {
                slot.integral += followers * integral;
                if time >= slot.ptime - slot.window {
                    slot.in_window_all += 1;
                    if !is_original {
                        slot.weighted += slot.slope * (time - slot.ptime) + 1.0;
                        slot.n += 1;
                    }
                }
            }
        }
        Ok(())
    }

    fn first_slot_at_or_after(&self, time: f64) -> usize {
        let guess = (time / self.grid.step).ceil();
        let mut k = if guess >= self.slots.len() as f64 {
            self.slots.len()
        } else {
            guess as usize
        };
        while k > 0 && self.slots[k - 1].ptime >= time {
            k -= 1;
        }
        while k < self.slots.len() && self.slots[k].ptime < time {
            k += 1;
        }
        k
    }

    /// The forecast at the latest grid instant `<= now` (the last instant if `now` is past the
    /// horizon), with n* = `n_star` and the probability that the final size exceeds `threshold`
    /// reshares.
    ///
    /// **Model for `p_exceed`.** R's interval `p̂ · qchisq(q, 2n) / 2n` is exactly the `q`-quantile
    /// of a gamma distribution with shape `n` (the reshares in the window) and scale `p̂ / n`. We
    /// take that gamma as the uncertainty of the infectiousness `p`. The final size
    /// `R + p S / (1 - p n*)` (R reshares so far, S = Σ d ccdf) increases with `p` and is infinite
    /// from `p = 1/n*`, so `P(final > threshold) = P(p > p_T)` with
    /// `p_T = (threshold - R) / (S + (threshold - R) n*)`, i.e. the gamma's upper tail at `p_T`.
    /// The probability is 1 when the threshold is already passed and 0 when there is no reshare
    /// in the window (estimate 0). By construction, `p_exceed` is 0.95 at the `lower` prediction
    /// and 0.05 at the `upper` one.
    pub fn forecast(
        &mut self,
        now: f64,
        threshold: f64,
        n_star: f64,
    ) -> Result<Forecast, ForecastError> {
        if !now.is_finite() || now < 0.0 {
            return Err(ForecastError::BadForecastTime(
                now,
                "time must be finite and >= 0",
            ));
        }
        if !(n_star.is_finite() && n_star > 0.0) {
            return Err(ForecastError::InvalidValue {
                index: 0,
                what: "n_star",
                value: n_star,
            });
        }
        if threshold.is_nan() {
            return Err(ForecastError::InvalidValue {
                index: 0,
                what: "threshold",
                value: threshold,
            });
        }
        if self.is_empty() {
            return Err(ForecastError::BadForecastTime(now, "no share pushed yet"));
        }
        let mut k = ((now / self.grid.step).floor() as usize).min(self.slots.len() - 1);
        while k > 0 && self.slots[k].ptime > now {
            k -= 1;
        }
        let slot = self.slots[k];
        let key = (k, slot.version, threshold.to_bits(), n_star.to_bits());
        if let Some((cached_key, cached)) = self.last
            && cached_key == key
        {
            return Ok(cached);
        }
        let inf = if slot.in_window_all >= self.params.min_count {
            Infectiousness::from_parts(slot.weighted, slot.integral, slot.n, slot.window)
        } else {
            self.fallback_estimate(k, slot.ptime)
        };
        let predicted_final = final_size(slot.observed, slot.ccdf_sum, inf.estimate, n_star);
        let lower = final_size(slot.observed, slot.ccdf_sum, inf.lower, n_star);
        let upper = final_size(slot.observed, slot.ccdf_sum, inf.upper, n_star);
        let reshares = slot.observed as f64 - 1.0;
        let p_exceed = exceed_probability(&inf, reshares, slot.ccdf_sum, threshold, n_star);
        let p_infinite = tail_above(&inf, 1.0 / n_star);
        let forecast = Forecast {
            at: slot.ptime,
            observed: slot.observed,
            infectiousness: inf,
            predicted_final,
            lower,
            upper,
            p_exceed,
            p_infinite,
            infinite: predicted_final.is_infinite(),
        };
        self.last = Some((key, forecast));
        Ok(forecast)
    }

    fn fallback_estimate(&mut self, k: usize, ptime: f64) -> Infectiousness {
        let before = self.times.partition_point(|&t| t < ptime);
        if let Some((slot, count, inf)) = self.fallback
            && slot == k
            && count == before
        {
            return inf;
        }
        let inf = infectiousness_at_sorted(&self.events, &self.times, ptime, &self.params);
        self.fallback = Some((k, before, inf));
        inf
    }
}

impl Default for CascadeForecaster {
    fn default() -> Self {
        Self::new()
    }
}

/// `P(p > x)` for `p ~ Gamma(shape n, scale p̂ / n)`; 0 when there is no estimate.
pub(crate) fn tail_above(inf: &Infectiousness, x: f64) -> f64 {
    if inf.estimate <= 0.0 || inf.window_count == 0 {
        return 0.0;
    }
    let n = inf.window_count as f64;
    gamma_upper_tail(n, x * n / inf.estimate)
}

/// `P(final > threshold)` under the gamma model documented on [`CascadeForecaster::forecast`].
pub(crate) fn exceed_probability(
    inf: &Infectiousness,
    reshares: f64,
    ccdf_sum: f64,
    threshold: f64,
    n_star: f64,
) -> f64 {
    if threshold < reshares {
        return 1.0;
    }
    let excess = threshold - reshares;
    let denom = ccdf_sum + excess * n_star;
    // an infinite threshold (or no ccdf mass) is passed only by a supercritical cascade
    let p_t = if denom > 0.0 && excess.is_finite() {
        excess / denom
    } else {
        1.0 / n_star
    };
    tail_above(inf, p_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_forecast_is_refreshed_when_a_late_share_lands_before_its_instant() {
        let mut fc = CascadeForecaster::new();
        for (t, d) in [
            (0.0, 500.0),
            (10.0, 40.0),
            (20.0, 40.0),
            (30.0, 40.0),
            (400.0, 40.0),
            (450.0, 40.0),
        ] {
            fc.push(t, d).unwrap();
        }
        let before = fc.forecast(700.0, 50.0, 100.0).unwrap();
        assert_eq!(before.at, 600.0);
        assert_eq!(fc.forecast(700.0, 50.0, 100.0).unwrap(), before, "cached");
        fc.push(500.0, 40.0).unwrap(); // still before the 600 s instant
        let after = fc.forecast(700.0, 50.0, 100.0).unwrap();
        assert_eq!(after.observed, before.observed + 1);
        assert_ne!(after.infectiousness, before.infectiousness);
        fc.push(650.0, 40.0).unwrap(); // after the instant: no change
        assert_eq!(fc.forecast(700.0, 50.0, 100.0).unwrap(), after);
        // another threshold is another question, not the cached answer
        assert_ne!(
            fc.forecast(700.0, 5.0, 100.0).unwrap().p_exceed,
            after.p_exceed
        );
        let never = fc.forecast(700.0, f64::INFINITY, 100.0).unwrap();
        assert_eq!(never.p_exceed, never.p_infinite);
        assert!(never.p_exceed.is_finite());
    }

    #[test]
    fn grids_that_are_invalid_or_too_fine_are_rejected() {
        let p = SeismicParams::default();
        assert!(
            CascadeForecaster::with_grid(
                p,
                ForecastGrid {
                    step: 0.0,
                    horizon: 10.0
                }
            )
            .is_err()
        );
        assert!(
            CascadeForecaster::with_grid(
                p,
                ForecastGrid {
                    step: 1.0,
                    horizon: 1e9
                }
            )
            .is_err()
        );
        assert!(
            CascadeForecaster::with_grid(
                p,
                ForecastGrid {
                    step: 60.0,
                    horizon: f64::NAN
                }
            )
            .is_err()
        );
    }
}
