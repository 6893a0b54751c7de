//! DuMouchel's Gamma-Poisson Shrinker (DuMouchel 1999; DuMouchel & Pregibon 2001), following
//! openEBGM 0.9.1's formulas.
//!
//! - Prior for the relative rate λ of a pair: `P Gamma(α1, β1) + (1 - P) Gamma(α2, β2)`
//!   (rate parametrisation). The marginal of the count `N` given `E` is a mixture of negative
//!   binomials `NB(size α_k, prob β_k / (β_k + E))`.
//! - Hyperparameters θ = (α1, β1, α2, β2, P) maximise the likelihood of the counts `N >= N*`
//!   (`N* = 1`: truncated at zero), optionally on squashed data with weights
//!   (openEBGM's `negLLsquash`).
//! - Posterior: `Q_n Gamma(α1 + n, β1 + E) + (1 - Q_n) Gamma(α2 + n, β2 + E)`, with `Q_n` the
//!   posterior weight of the first component (openEBGM's `Qn`).
//! - EBGM = `exp(E[ln λ])`; EB05 and EB95 are the 5% and 95% posterior quantiles, solved on the
//!   mixture CDF by safeguarded Halley iteration to a relative 1e-10 in λ or better (openEBGM's
//!   `quantBisect` bisects to an absolute `0.5·10^-digits`).

use crate::special::{digamma, gamma_pq_with, ln_gamma, normal_quantile};
use crate::{Result, StatsError};

/// Hyperparameters θ = (α1, β1, α2, β2, P).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theta {
    /// shape of the first prior component
    pub alpha1: f64,
    /// rate of the first prior component
    pub beta1: f64,
    /// shape of the second prior component
    pub alpha2: f64,
    /// rate of the second prior component
    pub beta2: f64,
    /// mixture weight of the first component
    pub p: f64,
}

impl Theta {
    /// From `[α1, β1, α2, β2, P]`.
    pub fn from_array(a: [f64; 5]) -> Self {
        Theta {
            alpha1: a[0],
            beta1: a[1],
            alpha2: a[2],
            beta2: a[3],
            p: a[4],
        }
    }

    /// As `[α1, β1, α2, β2, P]`.
    pub fn to_array(&self) -> [f64; 5] {
        [self.alpha1, self.beta1, self.alpha2, self.beta2, self.p]
    }

    /// Check that shapes and rates are positive and finite and `0 < P < 1`.
    pub fn validate(&self) -> Result<()> {
        let ok = [self.alpha1, self.beta1, self.alpha2, self.beta2]
            .iter()
            .all(|v| *v > 0.0 && v.is_finite())
            && self.p > 0.0
            && self.p < 1.0;
        if ok {
            Ok(())
        } else {
            Err(StatsError::InvalidArgument(format!(
                "hyperparameters must have positive shapes and rates and 0 < P < 1, got {self:?}"
            )))
        }
    }
}

/// The five starting points of openEBGM's documentation (`theta_init`), also in
/// `tests/fixtures/openebgm_theta_init.csv`.
pub const DEFAULT_STARTS: [[f64; 5]; 5] = [
    [0.2, 0.1, 2.0, 4.0, 1.0 / 3.0],
    [0.1, 0.1, 10.0, 10.0, 0.2],
    [0.3, 0.5, 6.0, 6.0, 0.5],
    [0.5, 0.3, 12.0, 12.0, 0.8],
    [0.2, 0.2, 5.0, 5.0, 0.4],
];

/// One (possibly squashed) data point: count `n`, expected count `e`, weight `w`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// actual count
    pub n: u32,
    /// expected count
    pub e: f64,
    /// number of original points this one stands for
    pub w: f64,
}

// ---------------------------------------------------------------------------------------
// likelihood
// ---------------------------------------------------------------------------------------

/// log of the zero-truncated NB pmf and its derivatives w.r.t. ln α and ln β.
#[inline]
fn comp_log_lik(a: f64, b: f64, n: f64, e: f64, lg_an_minus_lg_a: f64) -> f64 {
    let s = -(e / b).ln_1p(); // ln(b / (b + e))
    let lne = e.ln();
    let lbe = (b + e).ln();
    let trunc = -(-(a * s).exp_m1()).ln(); // -ln(1 - (b/(b+e))^a)
    lg_an_minus_lg_a - ln_gamma(n + 1.0) + a * s + n * (lne - lbe) + trunc
}

/// openEBGM's `negLLsquash` with `N* = 1`: the negative log-likelihood of the points (their
/// counts must be >= 1) under θ, each weighted by `w`.
pub fn neg_log_lik(theta: &Theta, points: &[Point]) -> f64 {
    let (a1, b1, a2, b2, p) = (
        theta.alpha1,
        theta.beta1,
        theta.alpha2,
        theta.beta2,
        theta.p,
    );
    let (lga1, lga2) = (ln_gamma(a1), ln_gamma(a2));
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut total = 0.0;
    for pt in points {
        let n = pt.n as f64;
        let l1 = comp_log_lik(a1, b1, n, pt.e, ln_gamma(a1 + n) - lga1) + lp;
        let l2 = comp_log_lik(a2, b2, n, pt.e, ln_gamma(a2 + n) - lga2) + lq;
        let m = l1.max(l2);
        total -= pt.w * (m + ((l1 - m).exp() + (l2 - m).exp()).ln());
    }
    total
}

/// Points prepared for repeated likelihood evaluations: the expensive `ln Γ` / `ψ` terms
/// depend on the count only, so they are computed once per distinct count per evaluation.
struct FitData {
    distinct_n: Vec<f64>,
    n_idx: Vec<u32>,
    n: Vec<f64>,
    e: Vec<f64>,
    w: Vec<f64>,
    /// `n ln e - ln n!`, common to both components
    common: Vec<f64>,
    total_w: f64,
}

impl FitData {
    fn new(points: &[Point]) -> Self {
        let mut distinct: Vec<u32> = points.iter().map(|p| p.n).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let n_idx = points
            .iter()
            .map(|p| distinct.binary_search(&p.n).unwrap_or(0) as u32)
            .collect();
        FitData {
            distinct_n: distinct.iter().map(|&n| n as f64).collect(),
            n_idx,
            n: points.iter().map(|p| p.n as f64).collect(),
            e: points.iter().map(|p| p.e).collect(),
            w: points.iter().map(|p| p.w).collect(),
            common: points
                .iter()
                .map(|p| p.n as f64 * p.e.ln() - ln_gamma(p.n as f64 + 1.0))
                .collect(),
            total_w: points.iter().map(|p| p.w).sum(),
        }
    }
}

/// Per-evaluation constants of one component.
struct Comp {
    a: f64,
    b: f64,
    lb: f64,
    /// ln Γ(a + n) - ln Γ(a), per distinct n
    lg: Vec<f64>,
    /// ψ(a + n) - ψ(a), per distinct n
    dg: Vec<f64>,
}

impl Comp {
    fn new(a: f64, b: f64, distinct_n: &[f64]) -> Self {
        let (lga, dga) = (ln_gamma(a), digamma(a));
        Comp {
            a,
            b,
            lb: b.ln(),
            lg: distinct_n.iter().map(|&n| ln_gamma(a + n) - lga).collect(),
            dg: distinct_n.iter().map(|&n| digamma(a + n) - dga).collect(),
        }
    }

    /// log zero-truncated NB pmf (without the common terms) and its derivatives w.r.t.
    /// ln a and ln b.
    #[inline]
    fn eval(&self, k: usize, n: f64, e: f64) -> (f64, f64, f64) {
        let (a, b) = (self.a, self.b);
        let be = b + e;
        let lbe = be.ln();
        let s = self.lb - lbe; // ln(b / (b + e))
        let omz = -(a * s).exp_m1(); // 1 - (b / (b + e))^a
        let z = 1.0 - omz;
        let l = self.lg[k] + a * s - n * lbe - omz.ln();
        let d_lna = a * (self.dg[k] + s / omz);
        let d_lnb = a - b * (a + n) / be + a * e * z / (be * omz);
        (l, d_lna, d_lnb)
    }
}

fn nll_range(
    c1: &Comp,
    c2: &Comp,
    lp: f64,
    lq: f64,
    p: f64,
    d: &FitData,
    range: std::ops::Range<usize>,
) -> (f64, [f64; 5]) {
    let mut f = 0.0;
    let mut g = [0.0; 5];
    for i in range {
        let (n, e, w, k) = (d.n[i], d.e[i], d.w[i], d.n_idx[i] as usize);
        let (l1, d1a, d1b) = c1.eval(k, n, e);
        let (l2, d2a, d2b) = c2.eval(k, n, e);
        let (x1, x2) = (l1 + lp, l2 + lq);
        // log-sum-exp with one exp: ll = max + ln(1 + e^{-|x1 - x2|})
        let ed = (-(x1 - x2).abs()).exp();
        let r_max = 1.0 / (1.0 + ed);
        let (r1, r2) = if x1 >= x2 {
            (r_max, 1.0 - r_max)
        } else {
            (1.0 - r_max, r_max)
        };
        f -= w * (x1.max(x2) + ed.ln_1p() + d.common[i]);
        g[0] -= w * r1 * d1a;
        g[1] -= w * r1 * d1b;
        g[2] -= w * r2 * d2a;
        g[3] -= w * r2 * d2b;
        g[4] -= w * (r1 - p);
    }
    (f, g)
}

/// Negative log-likelihood and its gradient w.r.t. u = (ln α1, ln β1, ln α2, ln β2, logit P).
fn nll_and_grad_data(u: &[f64; 5], d: &FitData) -> (f64, [f64; 5]) {
    let p = 1.0 / (1.0 + (-u[4]).exp());
    let c1 = Comp::new(u[0].exp(), u[1].exp(), &d.distinct_n);
    let c2 = Comp::new(u[2].exp(), u[3].exp(), &d.distinct_n);
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    nll_range(&c1, &c2, lp, lq, p, d, 0..d.n.len())
}

#[cfg(test)]
fn nll_and_grad(u: &[f64; 5], points: &[Point]) -> (f64, [f64; 5]) {
    nll_and_grad_data(u, &FitData::new(points))
}

fn to_u(t: &Theta) -> [f64; 5] {
    [
        t.alpha1.ln(),
        t.beta1.ln(),
        t.alpha2.ln(),
        t.beta2.ln(),
        (t.p / (1.0 - t.p)).ln(),
    ]
}

fn from_u(u: &[f64; 5]) -> Theta {
    Theta {
        alpha1: u[0].exp(),
        beta1: u[1].exp(),
        alpha2: u[2].exp(),
        beta2: u[3].exp(),
        p: 1.0 / (1.0 + (-u[4]).exp()),
    }
}

// ---------------------------------------------------------------------------------------
// optimiser: BFGS on the transformed parameters with a backtracking (Armijo) line search
// ---------------------------------------------------------------------------------------

/// Outcome of one maximum-likelihood run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitRun {
    /// starting point
    pub start: Theta,
    /// estimate
    pub theta: Theta,
    /// negative log-likelihood at the estimate
    pub nll: f64,
    /// iterations used
    pub iterations: usize,
    /// likelihood (+ gradient) evaluations used
    pub evaluations: usize,
    /// the gradient test was met
    pub converged: bool,
    /// shapes and rates in (0, `param_limit`), 0 < P < 1
    pub in_bounds: bool,
}

/// Minimise the negative log-likelihood from one starting point.
pub fn fit_from(start: &Theta, points: &[Point], param_limit: f64) -> FitRun {
    fit_prepared(start, &FitData::new(points), param_limit)
}

fn fit_prepared(start: &Theta, data: &FitData, param_limit: f64) -> FitRun {
    let n = 5;
    let mut u = to_u(start);
    let (mut f, mut g) = nll_and_grad_data(&u, data);
    let mut evaluations = 1;
    let scale = data.total_w.max(1.0);
    // gradient tolerances (w.r.t. log/logit parameters): 1e-6 per sqrt(total weight), and
    // the floor set by rounding of f when it stalls
    let gtol = 1e-6 * scale.sqrt();
    let gtol_stall = 1e-3 + 1e-7 * scale;
    let mut h = [[0.0f64; 5]; 5]; // inverse Hessian approximation
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = 1.0 / scale;
    }
    let mut converged = false;
    let mut iterations = 0;
    let mut stalls = 0;
    let mut first_update = true;
    for it in 0..1000 {
        iterations = it;
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if gmax <= gtol {
            converged = true;
            break;
        }
        // direction d = -H g
        let mut d = [0.0; 5];
        for i in 0..n {
            d[i] = -(0..n).map(|j| h[i][j] * g[j]).sum::<f64>();
        }
        let mut slope: f64 = (0..n).map(|i| d[i] * g[i]).sum();
        if slope >= 0.0 || slope.is_nan() {
            // reset to steepest descent
            for (i, row) in h.iter_mut().enumerate() {
                *row = [0.0; 5];
                row[i] = 1.0 / scale;
            }
            for i in 0..n {
                d[i] = -g[i] / scale;
            }
            slope = (0..n).map(|i| d[i] * g[i]).sum();
        }
        // keep steps in u bounded (|du| <= 5)
        let dmax = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut step = if dmax > 5.0 { 5.0 / dmax } else { 1.0 };
        let mut accepted = None;
        for _ in 0..60 {
            let mut un = u;
            for i in 0..n {
                un[i] += step * d[i];
            }
            let (fnew, gnew) = nll_and_grad_data(&un, data);
            evaluations += 1;
            if fnew.is_finite() && fnew <= f + 1e-4 * step * slope {
                accepted = Some((un, fnew, gnew));
                break;
            }
            // minimiser of the quadratic through f, the slope and fnew, kept in [0.1, 0.5] step
            step = if fnew.is_finite() {
                let q = -slope * step * step / (2.0 * (fnew - f - slope * step));
                q.clamp(0.1 * step, 0.5 * step)
            } else {
                0.1 * step
            };
        }
        let Some((un, fnew, gnew)) = accepted else {
            // no decrease possible along d: at a (numerical) minimum
            converged = gmax <= gtol_stall;
            break;
        };
        let s: Vec<f64> = (0..n).map(|i| un[i] - u[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| gnew[i] - g[i]).collect();
        let sy: f64 = (0..n).map(|i| s[i] * y[i]).sum();
        let df = f - fnew;
        u = un;
        f = fnew;
        g = gnew;
        if df.abs() <= 1e-15 * f.abs().max(1.0) {
            stalls += 1;
            if stalls >= 3 {
                let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                converged = gmax <= gtol_stall;
                break;
            }
        } else {
            stalls = 0;
        }
        if sy > 1e-300 {
            if first_update {
                // Shanno-Phua scaling of the initial inverse Hessian
                let yy: f64 = (0..n).map(|i| y[i] * y[i]).sum();
                let gamma = sy / yy;
                for (i, row) in h.iter_mut().enumerate() {
                    *row = [0.0; 5];
                    row[i] = gamma;
                }
                first_update = false;
            }
            // BFGS inverse update: H = (I - rho s y')H(I - rho y s') + rho s s'
            let rho = 1.0 / sy;
            let mut hy = [0.0; 5];
            for i in 0..n {
                hy[i] = (0..n).map(|j| h[i][j] * y[j]).sum();
            }
            let yhy: f64 = (0..n).map(|i| y[i] * hy[i]).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
    }
    let theta = from_u(&u);
    let in_bounds = [theta.alpha1, theta.beta1, theta.alpha2, theta.beta2]
        .iter()
        .all(|v| *v > 0.0 && *v < param_limit)
        && theta.p > 0.0
        && theta.p < 1.0;
    FitRun {
        start: *start,
        theta,
        nll: nll_and_grad_data(&to_u(&theta), data).0,
        iterations,
        evaluations,
        converged,
        in_bounds,
    }
}

/// Result of [`auto_hyper`].
#[derive(Debug, Clone, PartialEq)]
pub struct HyperFit {
    /// the chosen estimate (smallest negative log-likelihood among convergent, in-bounds runs)
    pub theta: Theta,
    /// its negative log-likelihood on the data it was fitted to
    pub nll: f64,
    /// how many other runs ended close to it (openEBGM's `num_close`)
    pub num_close: usize,
    /// a run with a smaller negative log-likelihood that no other start confirmed (reported,
    /// not chosen: a lone optimum of this flat likelihood is usually a spike fitted to a few
    /// extreme pairs)
    pub unconfirmed_better: Option<FitRun>,
    /// every run, in the order of the starts
    pub runs: Vec<FitRun>,
}

/// openEBGM's `autoHyper` (with `min_conv = 1`, tolerances (0.05, 0.05, 0.2, 0.2, 0.025) and
/// `param_limit = 100`): fit from each start, keep convergent in-bounds runs, and choose the
/// one with the smallest negative log-likelihood that at least one other run is close to.
/// Differences from openEBGM: one optimiser (BFGS on log/logit parameters) instead of the
/// fallback chain nlminb → nlm → BFGS; and when the very best run is not confirmed, the best
/// confirmed one is chosen (openEBGM would retry with its next optimiser) and the better,
/// unconfirmed one is reported in [`HyperFit::unconfirmed_better`].
pub fn auto_hyper(points: &[Point], starts: &[Theta]) -> Result<HyperFit> {
    auto_hyper_threads(points, starts, 1)
}

/// [`auto_hyper`] with the runs from the different starts spread over `threads` scoped
/// threads (each run is sequential, so the result does not depend on `threads`).
pub fn auto_hyper_threads(points: &[Point], starts: &[Theta], threads: usize) -> Result<HyperFit> {
    if points.is_empty() {
        return Err(StatsError::FitFailed("no data points".into()));
    }
    if let Some(bad) = points
        .iter()
        .find(|p| p.n == 0 || p.e.is_nan() || p.e <= 0.0)
    {
        return Err(StatsError::FitFailed(format!(
            "points must have N >= 1 and E > 0, found N = {}, E = {}",
            bad.n, bad.e
        )));
    }
    if starts.len() < 2 {
        return Err(StatsError::InvalidArgument(
            "autoHyper needs at least two starting points".into(),
        ));
    }
    const TOL: [f64; 5] = [0.05, 0.05, 0.2, 0.2, 0.025];
    let data = FitData::new(points);
    let runs: Vec<FitRun> = if threads <= 1 || starts.len() < 2 {
        starts
            .iter()
            .map(|s| fit_prepared(s, &data, 100.0))
            .collect()
    } else {
        // one run per start, handed out to `threads` workers from a shared counter
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut done: Vec<(usize, FitRun)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..threads.min(starts.len()))
                .map(|_| {
                    let (next, data) = (&next, &data);
                    sc.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i >= starts.len() {
                                break mine;
                            }
                            mine.push((i, fit_prepared(&starts[i], data, 100.0)));
                        }
                    })
                })
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().expect("fitting thread panicked"))
                .collect()
        });
        done.sort_by_key(|x| x.0);
        done.into_iter().map(|x| x.1).collect()
    };
    let ok: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].converged && runs[i].in_bounds && runs[i].nll.is_finite())
        .collect();
    let close_to = |c: usize| -> usize {
        let cand = runs[c].theta.to_array();
        (0..runs.len())
            .filter(|&i| i != c)
            .filter(|&i| {
                let t = runs[i].theta.to_array();
                (0..5).all(|k| (t[k] - cand[k]).abs() < TOL[k])
            })
            .count()
    };
    // candidates by increasing negLL; the first one confirmed by another run wins
    let mut order = ok.clone();
    order.sort_by(|&a, &b| runs[a].nll.total_cmp(&runs[b].nll));
    let chosen = order
        .iter()
        .map(|&i| (i, close_to(i)))
        .find(|&(_, n)| n >= 1);
    let Some((best, num_close)) = chosen else {
        let detail: Vec<String> = runs
            .iter()
            .map(|r| {
                format!(
                    "{:?} -> {:?} negLL {} converged {} in_bounds {} after {} iterations",
                    r.start.to_array(),
                    r.theta.to_array(),
                    r.nll,
                    r.converged,
                    r.in_bounds,
                    r.iterations
                )
            })
            .collect();
        return Err(StatsError::FitFailed(format!(
            "no estimate converged inside the parameter space and confirmed by another \
             starting point: {}",
            detail.join("; ")
        )));
    };
    let unconfirmed_better = order
        .first()
        .filter(|&&i| i != best && runs[i].nll < runs[best].nll)
        .map(|&i| runs[i]);
    Ok(HyperFit {
        theta: runs[best].theta,
        nll: runs[best].nll,
        num_close,
        unconfirmed_better,
        runs,
    })
}

// ---------------------------------------------------------------------------------------
// data squashing (openEBGM's squashData / autoSquash)
// ---------------------------------------------------------------------------------------

/// openEBGM's `squashData` for one count: the points with `N == count`, sorted by `E`, except
/// the `keep_pts` largest, are replaced by bins of `bin_size` consecutive points (the last bin
/// may be partial) carrying the bin's mean `E` and weight = number of points.
/// `points` must be sorted by `n` (ties in any order); the result is sorted by `n` and stable.
pub fn squash_count(points: &[Point], count: u32, bin_size: usize, keep_pts: usize) -> Vec<Point> {
    let mut out = Vec::with_capacity(points.len());
    let mut these: Vec<Point> = Vec::new();
    for p in points {
        if p.n == count {
            these.push(*p);
        }
    }
    let num_squash = these.len().saturating_sub(keep_pts);
    if bin_size < 1 || num_squash < bin_size {
        return points.to_vec();
    }
    these.sort_by(|a, b| a.e.total_cmp(&b.e));
    let mut squashed = Vec::with_capacity(num_squash / bin_size + 1 + keep_pts);
    for chunk in these[..num_squash].chunks(bin_size) {
        let mean = chunk.iter().map(|p| p.e).sum::<f64>() / chunk.len() as f64;
        squashed.push(Point {
            n: count,
            e: mean,
            w: chunk.len() as f64,
        });
    }
    squashed.extend_from_slice(&these[num_squash..]);
    // rbind(hold, squash, keep) then a stable sort by N: the squashed block sits where N == count
    let mut inserted = false;
    for p in points {
        if p.n == count {
            continue;
        }
        if !inserted && p.n > count {
            out.extend_from_slice(&squashed);
            inserted = true;
        }
        out.push(*p);
    }
    if !inserted {
        out.extend_from_slice(&squashed);
    }
    out
}

/// Settings of [`auto_squash`] (openEBGM's defaults in [`Default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SquashOptions {
    /// points left unsquashed per count (first for the smallest count; the last repeats)
    pub keep_pts: Vec<usize>,
    /// cut-offs on the number of points to squash
    pub cut_offs: Vec<usize>,
    /// super points to end with, one more than `cut_offs`
    pub num_super_pts: Vec<usize>,
}

impl Default for SquashOptions {
    fn default() -> Self {
        SquashOptions {
            keep_pts: vec![100, 75, 50, 25],
            cut_offs: vec![500, 1_000, 10_000, 100_000, 500_000, 1_000_000, 5_000_000],
            num_super_pts: vec![50, 75, 150, 500, 750, 1_000, 2_000, 5_000],
        }
    }
}

/// openEBGM's `autoSquash`: squash every count that has more than `max(keep_pts) + 1` points.
/// Input points are unweighted pairs (`w = 1`) with `n >= 1`.
pub fn auto_squash(points: &[Point], opts: &SquashOptions) -> Result<Vec<Point>> {
    if opts.keep_pts.is_empty() || opts.num_super_pts.len() != opts.cut_offs.len() + 1 {
        return Err(StatsError::InvalidArgument(
            "keep_pts must be non-empty and num_super_pts one longer than cut_offs".into(),
        ));
    }
    let mut data: Vec<Point> = points.to_vec();
    data.sort_by_key(|p| p.n);
    // table(N)
    let mut table: Vec<(u32, usize)> = Vec::new();
    for p in &data {
        match table.last_mut() {
            Some((n, c)) if *n == p.n => *c += 1,
            _ => table.push((p.n, 1)),
        }
    }
    let max_keep = *opts.keep_pts.iter().max().unwrap_or(&0);
    let counts: Vec<(u32, usize)> = table
        .into_iter()
        .filter(|(_, c)| *c > max_keep + 1)
        .collect();
    let keep_for = |pos: usize| -> usize {
        *opts
            .keep_pts
            .get(pos)
            .unwrap_or_else(|| opts.keep_pts.last().unwrap_or(&0))
    };
    for (pos, &(count, num)) in counts.iter().enumerate() {
        let keep = keep_for(pos);
        let to_squash = num - keep;
        let idx = opts
            .cut_offs
            .iter()
            .position(|&c| to_squash < c)
            .unwrap_or(opts.cut_offs.len());
        let supers = opts.num_super_pts[idx];
        let bin = ((to_squash as f64 / supers as f64).floor() as usize).max(2);
        data = squash_count(&data, count, bin, keep);
    }
    Ok(data)
}

// ---------------------------------------------------------------------------------------
// posterior
// ---------------------------------------------------------------------------------------

/// Posterior summaries of one pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    /// posterior weight of the first component
    pub qn: f64,
    /// empirical Bayes geometric mean
    pub ebgm: f64,
    /// 5% posterior quantile
    pub eb05: f64,
    /// 95% posterior quantile
    pub eb95: f64,
}

/// Precomputed per-count quantities for scoring many pairs under one θ.
pub struct Scorer {
    theta: Theta,
    /// ln Γ(α1), ln Γ(α2), ln β1, ln β2, ln P, ln(1 - P)
    consts: [f64; 6],
    // indexed by n (grown on demand)
    lg1: Vec<f64>,
    lg2: Vec<f64>,
    dg1: Vec<f64>,
    dg2: Vec<f64>,
}

impl Scorer {
    /// A scorer for θ (validated), with tables for counts below `max_n`.
    pub fn new(theta: Theta, max_n: u32) -> Result<Self> {
        theta.validate()?;
        let mut s = Scorer {
            theta,
            consts: Self::consts(&theta),
            lg1: Vec::new(),
            lg2: Vec::new(),
            dg1: Vec::new(),
            dg2: Vec::new(),
        };
        s.grow(max_n as usize + 1);
        Ok(s)
    }

    fn consts(t: &Theta) -> [f64; 6] {
        [
            ln_gamma(t.alpha1),
            ln_gamma(t.alpha2),
            t.beta1.ln(),
            t.beta2.ln(),
            t.p.ln(),
            (1.0 - t.p).ln(),
        ]
    }

    fn grow(&mut self, len: usize) {
        let t = self.theta;
        for n in self.lg1.len()..len {
            let nf = n as f64;
            self.lg1.push(ln_gamma(t.alpha1 + nf));
            self.lg2.push(ln_gamma(t.alpha2 + nf));
            self.dg1.push(digamma(t.alpha1 + nf));
            self.dg2.push(digamma(t.alpha2 + nf));
        }
    }

    fn tables(&self, n: u32) -> (f64, f64, f64, f64) {
        let i = n as usize;
        if i < self.lg1.len() {
            (self.lg1[i], self.lg2[i], self.dg1[i], self.dg2[i])
        } else {
            let t = self.theta;
            let nf = n as f64;
            (
                ln_gamma(t.alpha1 + nf),
                ln_gamma(t.alpha2 + nf),
                digamma(t.alpha1 + nf),
                digamma(t.alpha2 + nf),
            )
        }
    }

    /// Qn, EBGM, EB05 and EB95 for count `n` and expected count `e` (> 0).
    pub fn score(&self, n: u32, e: f64) -> Posterior {
        self.score_quantiles(n, e, 0.05, 0.95)
    }

    /// [`Scorer::score`] started from the quantiles of a nearby pair (`hint`, typically the
    /// previous pair in `(n, e)` order): the root finding then usually needs one evaluation
    /// instead of three. The result is the same to the solver's tolerance.
    pub fn score_near(&self, n: u32, e: f64, hint: Option<&Posterior>) -> Posterior {
        self.score_impl(n, e, 0.05, 0.95, hint.map(|h| (h.eb05.ln(), h.eb95.ln())))
    }

    /// Qn, EBGM and the `lo` / `hi` posterior quantiles.
    pub fn score_quantiles(&self, n: u32, e: f64, lo: f64, hi: f64) -> Posterior {
        self.score_impl(n, e, lo, hi, None)
    }

    /// `(Q_n, E[ln λ], mixture)` for one pair.
    fn posterior(&self, n: u32, e: f64) -> (f64, f64, MixComps) {
        let t = &self.theta;
        let nf = n as f64;
        let (lg1, lg2, dg1, dg2) = self.tables(n);
        let (r1, r2) = (t.beta1 + e, t.beta2 + e);
        let (lr1, lr2) = (r1.ln(), r2.ln());
        // log NB pmf without the common -ln n! and n ln e terms
        let [lga1, lga2, lb1, lb2, lp, lq] = self.consts;
        let l1 = lg1 - lga1 + t.alpha1 * (lb1 - lr1) - nf * lr1;
        let l2 = lg2 - lga2 + t.alpha2 * (lb2 - lr2) - nf * lr2;
        let x = lq + l2 - lp - l1;
        let qn = 1.0 / (1.0 + x.exp());
        let elog = qn * (dg1 - lr1) + (1.0 - qn) * (dg2 - lr2);
        let comps = MixComps::new(qn, t.alpha1 + nf, r1, lg1, t.alpha2 + nf, r2, lg2);
        (qn, elog, comps)
    }

    fn score_impl(&self, n: u32, e: f64, lo: f64, hi: f64, start: Option<(f64, f64)>) -> Posterior {
        let (qn, elog, comps) = self.posterior(n, e);
        Posterior {
            qn,
            ebgm: elog.exp(),
            eb05: comps.quantile(lo, start.map(|s| s.0)),
            eb95: comps.quantile(hi, start.map(|s| s.1)),
        }
    }
}

/// The two-component gamma posterior.
struct MixComps {
    q: f64,
    a1: f64,
    r1: f64,
    lga1: f64,
    a2: f64,
    r2: f64,
    lga2: f64,
    /// step below which a Halley step is final: 1e-4 · shape^(-1/3)
    halley_tol: f64,
    /// step below which a Newton step is final: 1e-6 · shape^(-1/4)
    newton_tol: f64,
}

impl MixComps {
    #[allow(clippy::too_many_arguments)]
    fn new(q: f64, a1: f64, r1: f64, lga1: f64, a2: f64, r2: f64, lga2: f64) -> Self {
        let a = a1.max(a2).max(1.0);
        MixComps {
            q,
            a1,
            r1,
            lga1,
            a2,
            r2,
            lga2,
            halley_tol: 1e-4 * a.powf(-1.0 / 3.0),
            newton_tol: 1e-6 * a.powf(-0.25),
        }
    }
}

/// Components whose posterior weight is below this are dropped from the CDF (their effect
/// on a quantile is far below the 1e-8 target).
const NEGLIGIBLE: f64 = 1e-15;

impl MixComps {
    /// CDF at x = e^t and its first two derivatives w.r.t. t.
    #[inline]
    fn cdf(&self, t: f64) -> (f64, f64, f64) {
        let x = t.exp();
        let (mut f, mut d, mut d2) = (0.0, 0.0, 0.0);
        if self.q > NEGLIGIBLE {
            let y = self.r1 * x;
            let (p1, _, lp1) = gamma_pq_with(self.a1, y, self.lga1);
            let dens = self.q * lp1.exp(); // d/dt P(a, r e^t) = e^{lp}
            f += self.q * p1;
            d += dens;
            d2 += dens * (self.a1 - y);
        }
        if 1.0 - self.q > NEGLIGIBLE {
            let w = 1.0 - self.q;
            let y = self.r2 * x;
            let (p2, _, lp2) = gamma_pq_with(self.a2, y, self.lga2);
            let dens = w * lp2.exp();
            f += w * p2;
            d += dens;
            d2 += dens * (self.a2 - y);
        }
        (f, d, d2)
    }

    /// Wilson-Hilferty approximation of a Gamma(a, rate r) quantile, as ln x.
    fn wh(a: f64, r: f64, z: f64) -> f64 {
        let c = 1.0 / (9.0 * a);
        let v = 1.0 - c + z * c.sqrt();
        if v > 0.0 {
            (a * v * v * v / r).ln()
        } else {
            (a / r).ln() - 3.0
        }
    }

    /// The `prob` quantile: Halley's method on `F(e^t) = prob` from the weighted
    /// Wilson-Hilferty start (or a neighbour's quantile), inside a bisection bracket, to about
    /// 1e-12 relative (checked against plain bisection in the tests).
    fn quantile(&self, prob: f64, start: Option<f64>) -> f64 {
        let mut t = if let Some(t0) = start.filter(|t| t.is_finite()) {
            t0
        } else if self.q >= 1.0 - NEGLIGIBLE {
            let z = normal_quantile(prob);
            Self::wh(self.a1, self.r1, z)
        } else if self.q <= NEGLIGIBLE {
            let z = normal_quantile(prob);
            Self::wh(self.a2, self.r2, z)
        } else {
            let z = normal_quantile(prob);
            self.q * Self::wh(self.a1, self.r1, z) + (1.0 - self.q) * Self::wh(self.a2, self.r2, z)
        };
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut step_cap = 1.0;
        for _ in 0..200 {
            let (f, d, d2) = self.cdf(t);
            let v = f - prob;
            if v == 0.0 {
                return t.exp();
            }
            if v < 0.0 {
                lo = t;
            } else {
                hi = t;
            }
            let den = 2.0 * d * d - v * d2;
            // accept a small final step without checking it: in ln x the posterior has a
            // width sigma ~ 1/sqrt(shape), and after a step s the error is about s^3/sigma^2
            // (Halley) or s^2/sigma (Newton); the thresholds keep it below 1e-12
            let (mut nt, accept) = if d > 0.0 && den > 0.0 {
                (t - 2.0 * v * d / den, self.halley_tol)
            } else if d > 0.0 {
                (t - v / d, self.newton_tol)
            } else {
                (f64::NAN, 0.0)
            };
            if nt.is_finite() && (nt - t).abs() < accept {
                return nt.exp();
            }
            if !nt.is_finite() || nt <= lo || nt >= hi {
                nt = if lo.is_finite() && hi.is_finite() {
                    0.5 * (lo + hi)
                } else if v < 0.0 {
                    step_cap *= 2.0;
                    t + step_cap
                } else {
                    step_cap *= 2.0;
                    t - step_cap
                };
            }
            let moved = (nt - t).abs();
            t = nt;
            if moved < 1e-6 || (hi - lo) < 1e-13 {
                break;
            }
        }
        t.exp()
    }
}

/// Posterior weight `Q_n` and EBGM of one pair, without the quantiles (cheap). `theta` is not
/// validated here; use [`Scorer::new`] for that.
pub fn qn_ebgm(theta: &Theta, n: u32, e: f64) -> (f64, f64) {
    let s = Scorer {
        theta: *theta,
        consts: Scorer::consts(theta),
        lg1: Vec::new(),
        lg2: Vec::new(),
        dg1: Vec::new(),
        dg2: Vec::new(),
    };
    let (qn, elog, _) = s.posterior(n, e);
    (qn, elog.exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theta() -> Theta {
        Theta::from_array([3.25, 0.4, 2.03, 1.9, 0.065])
    }

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let pts: Vec<Point> = (1..40)
            .map(|i| Point {
                n: 1 + (i % 7) as u32,
                e: 0.01 * i as f64 + 0.003 * (i * i) as f64,
                w: 1.0 + (i % 3) as f64,
            })
            .collect();
        let u = to_u(&theta());
        let (f0, g) = nll_and_grad(&u, &pts);
        assert!((f0 - neg_log_lik(&theta(), &pts)).abs() < 1e-9);
        for k in 0..5 {
            let h = 1e-6;
            let mut up = u;
            up[k] += h;
            let mut dn = u;
            dn[k] -= h;
            let fd = (nll_and_grad(&up, &pts).0 - nll_and_grad(&dn, &pts).0) / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-5 * fd.abs().max(1.0),
                "k={k}: {fd} vs {}",
                g[k]
            );
        }
    }

    #[test]
    fn posterior_quantiles_bracket_the_geometric_mean() {
        let s = Scorer::new(theta(), 10).unwrap();
        for (n, e) in [(1, 0.03), (3, 0.5), (20, 2.0), (200, 150.0)] {
            let p = s.score(n, e);
            assert!(p.eb05 < p.ebgm && p.ebgm < p.eb95, "{n} {e} {p:?}");
            let c = MixComps::new(
                p.qn,
                3.25 + n as f64,
                0.4 + e,
                ln_gamma(3.25 + n as f64),
                2.03 + n as f64,
                1.9 + e,
                ln_gamma(2.03 + n as f64),
            );
            assert!((c.cdf(p.eb05.ln()).0 - 0.05).abs() < 1e-12);
            assert!((c.cdf(p.eb95.ln()).0 - 0.95).abs() < 1e-12);
        }
    }

    #[test]
    fn posterior_quantiles_agree_with_plain_bisection_to_1e_10() {
        let s = Scorer::new(theta(), 10).unwrap();
        for n in [1u32, 2, 3, 5, 8, 13, 40, 300, 5000] {
            for e in [1e-5, 1e-3, 0.02, 0.3, 1.0, 4.0, 30.0, 400.0, 6000.0] {
                let p = s.score(n, e);
                // warm-started from a neighbour, the same answer
                let near = s.score_near(n, e, Some(&s.score(n, e * 1.05)));
                for (a, b) in [(near.eb05, p.eb05), (near.eb95, p.eb95)] {
                    assert!(((a - b) / b).abs() < 1e-10, "n={n} e={e}: {a} vs {b}");
                }
                let t = s.theta;
                let nf = n as f64;
                let c = MixComps::new(
                    p.qn,
                    t.alpha1 + nf,
                    t.beta1 + e,
                    ln_gamma(t.alpha1 + nf),
                    t.alpha2 + nf,
                    t.beta2 + e,
                    ln_gamma(t.alpha2 + nf),
                );
                for (prob, got) in [(0.05, p.eb05), (0.95, p.eb95)] {
                    let (mut lo, mut hi) = (-60.0f64, 60.0f64);
                    for _ in 0..200 {
                        let mid = 0.5 * (lo + hi);
                        if c.cdf(mid).0 < prob {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    let want = (0.5 * (lo + hi)).exp();
                    assert!(
                        ((got - want) / want).abs() < 1e-10,
                        "n={n} e={e} prob={prob}: {got} vs bisection {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn squashing_keeps_the_total_weight_and_the_largest_points() {
        let pts: Vec<Point> = (0..1000)
            .map(|i| Point {
                n: if i % 10 == 0 { 2 } else { 1 },
                e: (i as f64 * 0.37) % 5.0 + 0.01,
                w: 1.0,
            })
            .collect();
        let sq = auto_squash(&pts, &SquashOptions::default()).unwrap();
        let w: f64 = sq.iter().map(|p| p.w).sum();
        assert_eq!(w, 1000.0);
        assert!(sq.len() < 300);
        assert!(sq.windows(2).all(|w| w[0].n <= w[1].n));
        let max_e1 = pts
            .iter()
            .filter(|p| p.n == 1)
            .map(|p| p.e)
            .fold(0.0, f64::max);
        assert!(sq.iter().any(|p| p.n == 1 && p.e == max_e1 && p.w == 1.0));
        // weighted sums of E are preserved by bin means
        let s0: f64 = pts.iter().map(|p| p.e).sum();
        let s1: f64 = sq.iter().map(|p| p.e * p.w).sum();
        assert!((s0 - s1).abs() < 1e-9 * s0);
    }

    #[test]
    fn qn_and_ebgm_without_quantiles_match_the_full_score() {
        let s = Scorer::new(theta(), 5).unwrap();
        let full = s.score(3, 0.7);
        assert_eq!(qn_ebgm(&theta(), 3, 0.7), (full.qn, full.ebgm));
    }

    #[test]
    fn invalid_theta_is_rejected() {
        assert!(Scorer::new(Theta::from_array([1.0, 1.0, 1.0, 1.0, 1.0]), 3).is_err());
        assert!(Scorer::new(Theta::from_array([-1.0, 1.0, 1.0, 1.0, 0.5]), 3).is_err());
    }
}
