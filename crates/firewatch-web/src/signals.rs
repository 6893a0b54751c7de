//! Defect signals in the server: statistics per (product, hazard) over 30, 90 and 365-day
//! windows, overall and per market, from the incremental counters and the exposure; the
//! thresholds of the playbook's `[signals]` section; and the background job that evaluates
//! the products marked by intake, refits the GPS hyperparameters and keeps triage's catalog
//! in step with the stored products.
//!
//! Definitions (documented in ARCHITECTURE.md):
//! - count: reports of the product with the hazard occurred, received in the window
//!   (and from the market, per market);
//! - units: units in the field = units sold in every month up to the current one (in the
//!   market, per market); rate = count / units * 1e6 with the exact Garwood interval;
//! - category: the other products of the same category with units > 0; its rate is their
//!   count over their units; rate ratio against it is exact (conditional binomial);
//! - disproportionality: 2x2 table of reports (product vs the rest, hazard vs not) in the
//!   window; E = n_product * n_hazard / n_total; RR, PRR (Yates chi-square), ROR (95% CI),
//!   IC (IC025); EBGM/EB05/EB95 with the fitted or the playbook's GPS hyperparameters;
//! - MaxSPRT: expected = units * category rate; LLR against the exact critical value for
//!   the playbook's (T, alpha, M).

use firewatch_policy::{SignalFigures, SignalThresholds};
use firewatch_stats::gps::{self, Point, Scorer, Theta};
use firewatch_stats::{disproportionality, maxsprt, poisson};
use firewatch_store::signals::*;
use firewatch_store::{Actor, StoreError};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The windows, in days, ending today (UTC).
pub const WINDOWS: [u32; 3] = [30, 90, 365];

/// Receives the stored catalog whenever it changes (the binary swaps triage's catalog).
pub trait CatalogSink: Send + Sync + 'static {
    fn replace(&self, products: &[ProductRecord]);
}

/// The signals service shared by the handlers and the background job.
pub struct Signals {
    pub store: Arc<dyn SignalStore>,
    pub thresholds: SignalThresholds,
    critical_value: Option<f64>,
    catalog: Option<Arc<dyn CatalogSink>>,
    /// The catalog version triage has; the lock also serialises reloads, so a slow reload
    /// of an older catalog cannot land after a newer one.
    products_seen: tokio::sync::Mutex<Option<(i64, i64)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct IntervalOut {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

impl From<poisson::Interval> for IntervalOut {
    fn from(i: poisson::Interval) -> Self {
        IntervalOut {
            estimate: i.estimate,
            lower: i.lower,
            upper: i.upper,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Disproportionality {
    pub expected: f64,
    pub rr: f64,
    pub prr: f64,
    pub prr_chi2: f64,
    pub ror: f64,
    pub ror_lower: f64,
    pub ror_upper: f64,
    pub ic: f64,
    pub ic025: f64,
    pub ebgm: f64,
    pub eb05: f64,
    pub eb95: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MaxSprt {
    pub expected: f64,
    pub llr: f64,
    pub critical_value: Option<f64>,
}

/// Every statistic of one (product, hazard) in one window and market scope.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WindowStats {
    pub window_days: u32,
    /// `None`: all markets.
    pub market: Option<String>,
    pub count: u64,
    pub potential_count: u64,
    pub product_reports: u64,
    pub hazard_reports: u64,
    pub total_reports: u64,
    pub units: Option<f64>,
    pub rate_per_million: Option<IntervalOut>,
    pub category_count: Option<u64>,
    pub category_units: Option<f64>,
    pub category_rate_per_million: Option<f64>,
    pub rate_ratio: Option<IntervalOut>,
    pub disproportionality: Option<Disproportionality>,
    pub maxsprt: Option<MaxSprt>,
    /// The criteria that hold (empty when the thresholds are not crossed).
    pub crossed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MonthPoint {
    pub month: String,
    pub observed: u64,
    /// Units in the field times the rest of the category's rate that month.
    pub expected: Option<f64>,
}

#[derive(Default)]
struct Agg {
    occ: HashMap<(i64, String), u64>,
    pot: HashMap<(i64, String), u64>,
    reports: HashMap<i64, u64>,
    hazard: HashMap<String, u64>,
    total: u64,
}

/// A consistent view of products, exposure and counters for one evaluation.
pub struct Snapshot {
    pub today: i64,
    pub month: String,
    products: HashMap<i64, ProductRecord>,
    exposure: Vec<ExposureRecord>,
    pub theta: Theta,
    pub theta_fitted: bool,
    aggs: HashMap<(u32, Option<String>), Agg>,
    units: HashMap<(i64, Option<String>), f64>,
    scorer: Option<Scorer>,
}

/// `YYYY-MM` of a day number (days since 1970-01-01), proleptic Gregorian.
pub fn month_of_day(day: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}")
}

/// Today as a day number (UTC).
pub fn today() -> i64 {
    day_of_ms(jiff::Timestamp::now().as_millisecond())
}

fn finite(v: f64) -> bool {
    v.is_finite()
}

impl Snapshot {
    pub fn new(
        today: i64,
        products: Vec<ProductRecord>,
        exposure: Vec<ExposureRecord>,
        counts: Vec<CountRow>,
        theta: Theta,
        theta_fitted: bool,
    ) -> Snapshot {
        let month = month_of_day(today);
        // One pass over the counters: each row adds to every window that holds its day,
        // overall and for its market.
        let mut aggs: HashMap<(u32, Option<String>), Agg> = HashMap::new();
        for c in counts.iter().filter(|c| c.day <= today) {
            let n = c.n.max(0) as u64;
            for w in WINDOWS
                .into_iter()
                .filter(|w| c.day > today - i64::from(*w))
            {
                for scope in [None, Some(c.market.clone())] {
                    let a = aggs.entry((w, scope)).or_default();
                    match c.modality.as_str() {
                        "report" => {
                            *a.reports.entry(c.product_id).or_default() += n;
                            a.total += n;
                        }
                        "occurred" => {
                            *a.occ.entry((c.product_id, c.hazard.clone())).or_default() += n;
                            *a.hazard.entry(c.hazard.clone()).or_default() += n;
                        }
                        "potential" => {
                            *a.pot.entry((c.product_id, c.hazard.clone())).or_default() += n;
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut units: HashMap<(i64, Option<String>), f64> = HashMap::new();
        for e in exposure.iter().filter(|e| e.month <= month) {
            *units.entry((e.product_id, None)).or_default() += e.units as f64;
            *units
                .entry((e.product_id, Some(e.market.clone())))
                .or_default() += e.units as f64;
        }
        let max_n = aggs
            .values()
            .flat_map(|a| a.occ.values())
            .copied()
            .max()
            .unwrap_or(1)
            .min(u64::from(u32::MAX)) as u32;
        let scorer = Scorer::new(theta, max_n.max(1)).ok();
        Snapshot {
            today,
            month,
            products: products.into_iter().map(|p| (p.id, p)).collect(),
            exposure,
            theta,
            theta_fitted,
            aggs,
            units,
            scorer,
        }
    }

    pub fn product(&self, id: i64) -> Option<&ProductRecord> {
        self.products.get(&id)
    }

    fn units(&self, pid: i64, market: Option<&str>) -> f64 {
        self.units
            .get(&(pid, market.map(str::to_string)))
            .copied()
            .unwrap_or(0.0)
    }

    /// Hazards with at least one occurred report of the product in the last 365 days.
    pub fn hazards_of(&self, pid: i64) -> Vec<String> {
        let mut v: Vec<String> = self
            .aggs
            .get(&(365, None))
            .map(|a| {
                a.occ
                    .keys()
                    .filter(|(p, _)| *p == pid)
                    .map(|(_, h)| h.clone())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// What the signal job tests for a product: its hazard classes (`class:thermal`) in place
    /// of their member codes, and the codes that belong to no class. Testing each member
    /// and the class would test one failure mode several times.
    pub fn evaluation_hazards(&self, pid: i64) -> Vec<String> {
        let all = self.hazards_of(pid);
        all.iter()
            .filter(|h| {
                firewatch_domain::hazard_class_of(h).is_none_or(|c| !all.iter().any(|x| x == c))
            })
            .cloned()
            .collect()
    }

    /// The statistics that open a signal for (product, hazard), if some window crosses the
    /// thresholds: the shortest such window, all markets first, then each market when
    /// `market_scopes` is on.
    pub fn crossing(
        &self,
        t: &SignalThresholds,
        critical_value: Option<f64>,
        pid: i64,
        hazard: &str,
    ) -> Option<WindowStats> {
        let mut scopes: Vec<Option<String>> = vec![None];
        if t.market_scopes {
            scopes.extend(self.markets_of(pid, hazard).into_iter().map(Some));
        }
        WINDOWS.iter().find_map(|w| {
            scopes.iter().find_map(|m| {
                let s = self.stats(t, critical_value, pid, hazard, *w, m.as_deref());
                (!s.crossed.is_empty()).then_some(s)
            })
        })
    }

    /// Markets with an occurred report of the pair in the last 365 days.
    pub fn markets_of(&self, pid: i64, hazard: &str) -> Vec<String> {
        self.aggs
            .iter()
            .filter_map(|((w, scope), a)| match scope {
                Some(m) if *w == 365 && a.occ.contains_key(&(pid, hazard.to_string())) => {
                    Some(m.clone())
                }
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The other products of the category with units in the scope.
    fn category_rest(&self, pid: i64, market: Option<&str>) -> Vec<i64> {
        let Some(p) = self.products.get(&pid) else {
            return Vec::new();
        };
        if p.category.is_empty() {
            return Vec::new();
        }
        self.products
            .values()
            .filter(|q| q.id != pid && q.category == p.category && self.units(q.id, market) > 0.0)
            .map(|q| q.id)
            .collect()
    }

    pub fn stats(
        &self,
        t: &SignalThresholds,
        critical_value: Option<f64>,
        pid: i64,
        hazard: &str,
        window: u32,
        market: Option<&str>,
    ) -> WindowStats {
        let empty = Agg::default();
        let a = self
            .aggs
            .get(&(window, market.map(str::to_string)))
            .unwrap_or(&empty);
        let key = (pid, hazard.to_string());
        let count = a.occ.get(&key).copied().unwrap_or(0);
        let potential_count = a.pot.get(&key).copied().unwrap_or(0);
        let n_p = a.reports.get(&pid).copied().unwrap_or(0);
        let n_h = a.hazard.get(hazard).copied().unwrap_or(0);
        let n = a.total;
        let units = self.units(pid, market);
        let rate = (units > 0.0)
            .then(|| poisson::rate_per_million(count, units, t.rate_confidence).ok())
            .flatten();
        let rest = self.category_rest(pid, market);
        let rest_units: f64 = rest.iter().map(|q| self.units(*q, market)).sum();
        let rest_count: u64 = rest
            .iter()
            .map(|q| a.occ.get(&(*q, hazard.to_string())).copied().unwrap_or(0))
            .sum();
        let has_rest = rest_units > 0.0;
        let category_rate = has_rest.then(|| rest_count as f64 / rest_units * 1e6);
        let rate_ratio = (has_rest && units > 0.0)
            .then(|| {
                poisson::rate_ratio(count, units, rest_count, rest_units, t.rate_confidence).ok()
            })
            .flatten()
            .map(IntervalOut::from);
        let disp = (count > 0 && n_p > 0 && n_h > 0 && n > 0).then(|| {
            let e = n_p as f64 * n_h as f64 / n as f64;
            let m = disproportionality::measures(count, n_p, n_h, n, e);
            let post = self
                .scorer
                .as_ref()
                .map(|s| s.score(count.min(u64::from(u32::MAX)) as u32, e));
            Disproportionality {
                expected: e,
                rr: m.rr,
                prr: m.prr,
                prr_chi2: m.prr_chi2,
                ror: m.ror,
                ror_lower: m.ror_lower,
                ror_upper: m.ror_upper,
                ic: m.ic,
                ic025: m.ic025,
                ebgm: post.map_or(f64::NAN, |p| p.ebgm),
                eb05: post.map_or(f64::NAN, |p| p.eb05),
                eb95: post.map_or(f64::NAN, |p| p.eb95),
            }
        });
        let sprt = (has_rest && units > 0.0).then(|| {
            let expected = units * rest_count as f64 / rest_units;
            MaxSprt {
                expected,
                llr: maxsprt::llr(count as f64, expected),
                critical_value,
            }
        });
        let figures = SignalFigures {
            count,
            eb05: disp.as_ref().map(|d| d.eb05).filter(|v| finite(*v)),
            llr: sprt.as_ref().map(|s| s.llr).filter(|v| !v.is_nan()),
            critical_value,
            rate_lower: rate.map(|r| r.per_million.lower),
            category_rate,
        };
        let crossed = t
            .crossed(&figures)
            .map(|c| c.iter().map(|c| c.as_str().to_string()).collect())
            .unwrap_or_default();
        WindowStats {
            window_days: window,
            market: market.map(str::to_string),
            count,
            potential_count,
            product_reports: n_p,
            hazard_reports: n_h,
            total_reports: n,
            units: (units > 0.0).then_some(units),
            rate_per_million: rate.map(|r| r.per_million.into()),
            category_count: has_rest.then_some(rest_count),
            category_units: has_rest.then_some(rest_units),
            category_rate_per_million: category_rate,
            rate_ratio,
            disproportionality: disp,
            maxsprt: sprt,
            crossed,
        }
    }

    /// Observed and expected counts per month over the last 365 days (for the chart), from
    /// the daily counters (`SignalStore::signal_counts`).
    pub fn monthly(
        &self,
        daily: &[CountRow],
        pid: i64,
        hazard: &str,
        market: Option<&str>,
    ) -> Vec<MonthPoint> {
        let first = self.today - 364;
        let mut months: Vec<String> = Vec::new();
        let mut d = first;
        while d <= self.today {
            let m = month_of_day(d);
            if months.last() != Some(&m) {
                months.push(m);
            }
            d += 1;
        }
        let rest = self.category_rest(pid, market);
        let in_scope = |c: &&CountRow| {
            c.day >= first
                && c.day <= self.today
                && c.modality == "occurred"
                && c.hazard == hazard
                && market.is_none_or(|m| m == c.market)
        };
        let mut observed: HashMap<String, u64> = HashMap::new();
        let mut rest_obs: HashMap<String, u64> = HashMap::new();
        for c in daily.iter().filter(in_scope) {
            let m = month_of_day(c.day);
            if c.product_id == pid {
                *observed.entry(m).or_default() += c.n.max(0) as u64;
            } else if rest.contains(&c.product_id) {
                *rest_obs.entry(m).or_default() += c.n.max(0) as u64;
            }
        }
        let field = |id: i64, month: &str| -> f64 {
            self.exposure
                .iter()
                .filter(|e| {
                    e.product_id == id
                        && e.month.as_str() <= month
                        && market.is_none_or(|m| m == e.market)
                })
                .map(|e| e.units as f64)
                .sum()
        };
        months
            .into_iter()
            .map(|m| {
                let rest_units: f64 = rest.iter().map(|q| field(*q, &m)).sum();
                let own = field(pid, &m);
                let expected = (rest_units > 0.0)
                    .then(|| own * rest_obs.get(&m).copied().unwrap_or(0) as f64 / rest_units);
                MonthPoint {
                    observed: observed.get(&m).copied().unwrap_or(0),
                    expected,
                    month: m,
                }
            })
            .collect()
    }

    /// GPS data points: every (product, hazard) with reports in the last 365 days.
    pub fn gps_points(&self) -> Vec<Point> {
        let Some(a) = self.aggs.get(&(365, None)) else {
            return Vec::new();
        };
        if a.total == 0 {
            return Vec::new();
        }
        a.occ
            .iter()
            // The units the job tests: a class stands for its members.
            .filter(|((pid, h), _)| {
                firewatch_domain::hazard_class_of(h)
                    .is_none_or(|c| !a.occ.contains_key(&(*pid, c.to_string())))
            })
            .filter_map(|((pid, h), n)| {
                let n_p = a.reports.get(pid).copied().unwrap_or(0);
                let n_h = a.hazard.get(h).copied().unwrap_or(0);
                let e = n_p as f64 * n_h as f64 / a.total as f64;
                (*n > 0 && e > 0.0).then_some(Point {
                    n: (*n).min(u64::from(u32::MAX)) as u32,
                    e,
                    w: 1.0,
                })
            })
            .collect()
    }
}

fn actor() -> Actor {
    Actor("system:signals".into())
}

impl Signals {
    pub fn new(
        store: Arc<dyn SignalStore>,
        thresholds: SignalThresholds,
        catalog: Option<Arc<dyn CatalogSink>>,
    ) -> Signals {
        let critical_value = match maxsprt::critical_value(
            thresholds.maxsprt_sample_size,
            thresholds.maxsprt_alpha,
            thresholds.maxsprt_min_events,
        ) {
            Ok(cv) => Some(cv),
            Err(e) => {
                tracing::warn!(error = %e, "no MaxSPRT critical value for the playbook's [signals]; that criterion is off");
                None
            }
        };
        Signals {
            store,
            thresholds,
            critical_value,
            catalog,
            products_seen: tokio::sync::Mutex::new(None),
        }
    }

    pub fn critical_value(&self) -> Option<f64> {
        self.critical_value
    }

    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let today = today();
        let products = self.store.list_products().await?;
        let exposure = self.store.list_exposure().await?;
        // Summed per window by the database: one row per (product, hazard, modality,
        // market, window) instead of one per day.
        let counts = self.store.signal_count_windows(today).await?;
        let hyper = self.store.get_hyper().await?;
        let (theta, fitted) = match hyper {
            Some(h) => (Theta::from_array(h.theta), true),
            None => (Theta::from_array(self.thresholds.gps_prior), false),
        };
        tokio::task::spawn_blocking(move || {
            Snapshot::new(today, products, exposure, counts, theta, fitted)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("snapshot task: {e}")))
    }

    pub fn stats(
        &self,
        snap: &Snapshot,
        pid: i64,
        hazard: &str,
        window: u32,
        market: Option<&str>,
    ) -> WindowStats {
        snap.stats(
            &self.thresholds,
            self.critical_value,
            pid,
            hazard,
            window,
            market,
        )
    }

    /// Hands the stored catalog to triage when it changed since the last call.
    pub async fn reload_catalog_if_changed(&self) -> Result<bool, StoreError> {
        let Some(sink) = self.catalog.clone() else {
            return Ok(false);
        };
        let mut seen = self.products_seen.lock().await;
        let version = self.store.products_version().await?;
        if *seen == Some(version) {
            return Ok(false);
        }
        let products = self.store.list_products().await?;
        tokio::task::spawn_blocking(move || sink.replace(&products))
            .await
            .map_err(|e| StoreError::Unavailable(format!("catalog reload: {e}")))?;
        *seen = Some(version);
        Ok(true)
    }

    /// Evaluates the products (all of them with `None`) and opens a signal for each
    /// (product, hazard) whose thresholds are crossed in some window and scope (all markets
    /// first, then each market; the shortest window first). Returns the opened signals.
    pub async fn evaluate(
        &self,
        products: Option<Vec<i64>>,
    ) -> Result<Vec<SignalRecord>, StoreError> {
        let snap = self.snapshot().await?;
        let ids: Vec<i64> = match products {
            Some(ids) => ids,
            None => {
                let mut v: Vec<i64> = snap.products.keys().copied().collect();
                v.sort();
                v
            }
        };
        let mut opened = Vec::new();
        for pid in ids {
            if snap.product(pid).is_none() {
                continue;
            }
            let active: Vec<SignalRecord> = self
                .store
                .list_signals(&SignalFilter {
                    product_id: Some(pid),
                    limit: 1000,
                    ..Default::default()
                })
                .await?
                .into_iter()
                .filter(|s| s.status.blocks_reopening())
                .collect();
            for hazard in snap.evaluation_hazards(pid) {
                if active.iter().any(|s| s.hazard == hazard) {
                    continue;
                }
                let found = snap.crossing(&self.thresholds, self.critical_value, pid, &hazard);
                let Some(s) = found else { continue };
                let trigger = serde_json::json!({
                    "window_days": s.window_days, "market": s.market, "criteria": s.crossed,
                    "stats": s, "gps_theta": snap.theta.to_array(), "gps_theta_fitted": snap.theta_fitted,
                    "thresholds": self.thresholds,
                });
                let new = NewSignal {
                    product_id: pid,
                    hazard: hazard.clone(),
                    trigger,
                    quiet_after_dismissal_ms: i64::from(self.thresholds.reopen_after_days)
                        * 86_400_000,
                };
                if let Some(rec) = self.store.open_signal(new, &actor()).await? {
                    tracing::info!(signal = %rec.id, product = pid, %hazard, "signal opened");
                    opened.push(rec);
                }
            }
        }
        Ok(opened)
    }

    /// Fits the GPS hyperparameters (several starts, squashed when large) and stores them,
    /// when there are at least `gps_min_pairs` pairs; returns the stored record.
    pub async fn refit(&self) -> Result<Option<HyperRecord>, StoreError> {
        let snap = self.snapshot().await?;
        let points = snap.gps_points();
        if points.len() < self.thresholds.gps_min_pairs.max(2) as usize {
            return Ok(None);
        }
        let fit = tokio::task::spawn_blocking(move || {
            let data = if points.len() > 5_000 {
                gps::auto_squash(&points, &gps::SquashOptions::default()).unwrap_or(points)
            } else {
                points
            };
            let starts: Vec<Theta> = gps::DEFAULT_STARTS
                .iter()
                .map(|a| Theta::from_array(*a))
                .collect();
            let threads = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(2);
            gps::auto_hyper_threads(&data, &starts, threads).map(|f| (f, data.len()))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("fit task: {e}")))?;
        match fit {
            Ok((f, pairs)) => {
                let rec = HyperRecord {
                    theta: f.theta.to_array(),
                    nll: Some(f.nll),
                    pairs: pairs as i64,
                    fitted_at_ms: jiff::Timestamp::now().as_millisecond(),
                };
                self.store.save_hyper(rec.clone(), &actor()).await?;
                Ok(Some(rec))
            }
            Err(e) => {
                tracing::warn!(error = %e, "GPS hyperparameter fit failed; keeping the previous ones");
                Ok(None)
            }
        }
    }

    /// The background job: every half second, swap triage's catalog if products changed and
    /// evaluate the products intake marked; once a day (and at start) evaluate everything;
    /// refit the hyperparameters every `refit_hours` (the time of the last fit is stored, so
    /// the schedule survives restarts).
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut job = JobState {
                last_full_day: i64::MIN,
                next_refit_check: Instant::now(),
                next_evaluation: Instant::now(),
            };
            loop {
                if let Err(e) = self.tick(&mut job).await {
                    tracing::warn!(error = %e, "signal job failed; retrying");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    async fn tick(&self, job: &mut JobState) -> Result<(), StoreError> {
        self.reload_catalog_if_changed().await?;
        if Instant::now() >= job.next_refit_check {
            job.next_refit_check = Instant::now() + Duration::from_secs(600);
            let due = match self.store.get_hyper().await? {
                None => true,
                Some(h) => {
                    jiff::Timestamp::now().as_millisecond() - h.fitted_at_ms
                        >= i64::from(self.thresholds.refit_hours) * 3_600_000
                }
            };
            if due && self.refit().await?.is_some() {
                job.last_full_day = i64::MIN;
            }
        }
        if Instant::now() < job.next_evaluation {
            return Ok(());
        }
        let started = Instant::now();
        let dirty = self.store.dirty_products().await?;
        if today() != job.last_full_day {
            self.evaluate(None).await?;
            job.last_full_day = today();
        } else if !dirty.is_empty() {
            self.evaluate(Some(dirty.iter().map(|(p, _)| *p).collect()))
                .await?;
        }
        if !dirty.is_empty() {
            self.store.clear_dirty(dirty).await?;
        }
        // Under a stream of reports, evaluating takes at most about a fifth of the time.
        job.next_evaluation = Instant::now() + started.elapsed() * 4;
        Ok(())
    }
}

/// The background job's schedule (in memory; what must survive a restart is stored: the
/// dirty marks and the time of the last fit).
struct JobState {
    last_full_day: i64,
    next_refit_check: Instant,
    next_evaluation: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_days() {
        assert_eq!(month_of_day(0), "1970-01");
        assert_eq!(month_of_day(31), "1970-02");
        // 2024-02-29 is day 19782; 2026-11-26 is day 20783.
        assert_eq!(month_of_day(19_782), "2024-02");
        assert_eq!(month_of_day(19_783), "2024-03");
        assert_eq!(month_of_day(20_783), "2026-11");
        assert_eq!(month_of_day(-1), "1969-12");
    }

    fn product(id: i64, category: &str) -> ProductRecord {
        ProductRecord {
            id,
            brand: "B".into(),
            model: format!("M{id}"),
            aliases: vec![],
            category: category.into(),
            price: None,
            currency: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    fn row(pid: i64, hazard: &str, modality: &str, market: &str, day: i64, n: i64) -> CountRow {
        CountRow {
            product_id: pid,
            hazard: hazard.into(),
            modality: modality.into(),
            market: market.into(),
            day,
            n,
        }
    }

    #[test]
    fn window_stats_follow_the_definitions() {
        let today = 20_783;
        let products = vec![
            product(1, "phone"),
            product(2, "phone"),
            product(3, "phone"),
        ];
        let exposure = vec![
            ExposureRecord {
                product_id: 1,
                market: "FR".into(),
                month: "2026-10".into(),
                units: 100_000,
            },
            ExposureRecord {
                product_id: 2,
                market: "FR".into(),
                month: "2026-10".into(),
                units: 300_000,
            },
            ExposureRecord {
                product_id: 3,
                market: "FR".into(),
                month: "2026-11".into(),
                units: 100_000,
            },
            // A future month does not count as units in the field.
            ExposureRecord {
                product_id: 3,
                market: "FR".into(),
                month: "2026-12".into(),
                units: 900_000,
            },
        ];
        let counts = vec![
            row(1, "*", "report", "FR", today, 8),
            row(1, "thermal.fire", "occurred", "FR", today, 6),
            row(1, "thermal.fire", "occurred", "FR", today - 60, 2),
            row(1, "*", "report", "FR", today - 60, 2),
            row(2, "*", "report", "FR", today, 5),
            row(2, "thermal.fire", "occurred", "FR", today, 1),
            row(3, "*", "report", "DE", today - 200, 4),
            row(3, "thermal.fire", "occurred", "DE", today - 200, 1),
        ];
        let snap = Snapshot::new(
            today,
            products,
            exposure,
            counts.clone(),
            Theta::from_array(gps::DEFAULT_STARTS[0]),
            false,
        );
        let t = SignalThresholds::default();
        let s30 = snap.stats(&t, Some(3.0), 1, "thermal.fire", 30, None);
        assert_eq!(
            (
                s30.count,
                s30.product_reports,
                s30.hazard_reports,
                s30.total_reports
            ),
            (6, 8, 7, 13)
        );
        assert_eq!(s30.units, Some(100_000.0));
        let rate = s30.rate_per_million.unwrap();
        assert!((rate.estimate - 60.0).abs() < 1e-9);
        // Rest of the category: products 2 and 3 with 400,000 units and 1 fire in 30 days.
        assert_eq!(s30.category_count, Some(1));
        assert_eq!(s30.category_units, Some(400_000.0));
        assert!((s30.category_rate_per_million.unwrap() - 2.5).abs() < 1e-9);
        let sp = s30.maxsprt.as_ref().unwrap();
        assert!((sp.expected - 0.25).abs() < 1e-12);
        assert!((sp.llr - (0.25 - 6.0 + 6.0 * (6.0f64 / 0.25).ln())).abs() < 1e-9);
        let d = s30.disproportionality.as_ref().unwrap();
        assert!((d.expected - 8.0 * 7.0 / 13.0).abs() < 1e-12);
        // PRR = (a/(a+b)) / (c/(c+d)) with a=6, b=2, c=1, d=4.
        assert!((d.prr - (6.0 / 8.0) / (1.0 / 5.0)).abs() < 1e-9);
        assert!(
            s30.crossed.contains(&"rate".to_string()),
            "{:?}",
            s30.crossed
        );
        let s90 = snap.stats(&t, Some(3.0), 1, "thermal.fire", 90, None);
        assert_eq!(s90.count, 8);
        let s365 = snap.stats(&t, Some(3.0), 1, "thermal.fire", 365, Some("DE"));
        assert_eq!((s365.count, s365.units, s365.crossed.len()), (0, None, 0));
        assert_eq!(snap.hazards_of(1), vec!["thermal.fire"]);
        assert_eq!(snap.markets_of(3, "thermal.fire"), vec!["DE"]);
        let months = snap.monthly(&counts, 1, "thermal.fire", None);
        assert_eq!(months.last().unwrap().month, "2026-11");
        assert_eq!(months.last().unwrap().observed, 6);
        // November: units in the field 100,000 (own) and 400,000 (rest); the rest saw 1.
        assert!((months.last().unwrap().expected.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(months.iter().map(|m| m.observed).sum::<u64>(), 8);
    }

    const HAZARDS: [&str; 8] = [
        "thermal.fire",
        "thermal.smoke",
        "battery.swelling",
        "thermal.overheating",
        "thermal.melting",
        "electrical.sparks",
        "electrical.shock",
        "battery.leak",
    ];

    /// A deterministic Poisson draw (inversion with a 64-bit LCG seeded by `seed`).
    fn poisson(mean: f64, seed: u64) -> usize {
        let mut x = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 33;
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        let (mut k, mut p) = (0usize, (-mean).exp());
        let mut cdf = p;
        while u > cdf && k < 1000 {
            k += 1;
            p *= mean / k as f64;
            cdf += p;
        }
        k
    }

    /// A store with `products` phones (units 100,000 each) and one-hazard reports received
    /// now: `count(i, hazard)` of them for product i.
    async fn world(
        products: usize,
        count: impl Fn(usize, &str) -> usize,
    ) -> (Arc<firewatch_store::sqlite::SqliteStore>, tempfile::TempDir) {
        use firewatch_domain::intake::{Channel, NewReport, ProductDetails, Reporter};
        use firewatch_domain::{InjuryLevel, Severity};
        use firewatch_store::{IntakeCommand, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            firewatch_store::sqlite::SqliteStore::open(&dir.path().join("fw.sqlite"))
                .await
                .unwrap(),
        );
        let cli = Actor("cli".into());
        let list: Vec<NewProduct> = (0..products)
            .map(|i| NewProduct {
                brand: "Acme".into(),
                model: format!("P{i}"),
                aliases: vec![],
                category: "phone".into(),
                price: None,
                currency: None,
            })
            .collect();
        store.upsert_products(list, &cli).await.unwrap();
        let month = month_of_day(today());
        let rows = (0..products)
            .map(|i| NewExposure {
                line: i as u64 + 2,
                brand: "Acme".into(),
                model: format!("P{i}"),
                market: "FR".into(),
                month: month.clone(),
                units: 100_000,
            })
            .collect();
        store.upsert_exposure(rows, &cli).await.unwrap();
        let now = jiff::Timestamp::now().as_millisecond();
        let mut tasks = Vec::new();
        for i in 0..products {
            let hazards: Vec<&str> = HAZARDS
                .iter()
                .flat_map(|h| std::iter::repeat_n(*h, count(i, h)))
                .collect();
            for (k, h) in hazards.into_iter().enumerate() {
                let triage = serde_json::json!({
                    "hazards": [{"code": h, "modality": "occurred"}],
                    "products": [{"brand": "Acme", "model": format!("P{i}")}],
                });
                let cmd = IntakeCommand {
                    idempotency_key: None,
                    request_hash: format!("{i}-{k}"),
                    report: NewReport {
                        narrative: "x".into(),
                        language: None,
                        product: ProductDetails::default(),
                        occurred_at: None,
                        country: Some("FR".into()),
                        reporter: Reporter::default(),
                        injuries: InjuryLevel::None,
                        channel: Channel::Web,
                    },
                    hazards: vec![h.to_string()],
                    reported_hazards: vec![],
                    case_product: (Some("Acme".into()), Some(format!("P{i}"))),
                    triage_json: triage.to_string(),
                    severity: Severity::S1,
                    attachments: vec![],
                    received_at_ms: now,
                    actor: Actor::public(),
                };
                let store = store.clone();
                tasks.push(tokio::spawn(async move { store.intake(cmd).await }));
            }
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        (store, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_job_refits_the_hyperparameters_and_opens_each_pair_once() {
        use firewatch_store::Store;
        // 120 phones x 3 hazards drawn from two kinds of pairs (rate 1.5 and 9, as the
        // two-component prior expects); P7 has 40 fires.
        let (store, _dir) = world(60, |i, h| {
            let hk = HAZARDS.iter().position(|x| *x == h).unwrap_or(0);
            match (i, hk) {
                (7, 0) => 40,
                _ => poisson(
                    0.4 * 1.25f64.powi(((i * 7 + hk * 13) % 17) as i32),
                    (i * 8 + hk) as u64,
                ),
            }
        })
        .await;
        let signals = Signals::new(store.clone(), SignalThresholds::default(), None);
        let fit = signals
            .refit()
            .await
            .unwrap()
            .expect("the pairs are enough to fit");
        let snap = signals.snapshot().await.unwrap();
        assert_eq!(fit.pairs as usize, snap.gps_points().len());
        // 60 products x (the thermal class + 3 codes outside it), those with a report.
        assert!(fit.pairs > 150, "{}", fit.pairs);
        assert!(fit.nll.unwrap().is_finite());
        assert!(Theta::from_array(fit.theta).validate().is_ok());
        // Stored as JSON: equal up to the last bit of a decimal round trip.
        let stored = store.get_hyper().await.unwrap().unwrap();
        assert_eq!(
            (stored.pairs, stored.fitted_at_ms),
            (fit.pairs, fit.fitted_at_ms)
        );
        for (a, b) in stored.theta.iter().zip(fit.theta) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
        }
        let snap = signals.snapshot().await.unwrap();
        assert!(snap.theta_fitted);
        assert_eq!(snap.theta.to_array(), stored.theta);
        let opened = signals.evaluate(None).await.unwrap();
        let pairs: Vec<(String, String)> = opened
            .iter()
            .map(|s| (s.model.clone(), s.hazard.clone()))
            .collect();
        assert!(
            pairs.contains(&("P7".into(), "class:thermal".into())),
            "{pairs:?}"
        );
        // Every opened signal crossed the thresholds with at least min_count reports.
        for sig in &opened {
            assert!(
                sig.trigger["stats"]["count"].as_u64().unwrap()
                    >= u64::from(SignalThresholds::default().min_count),
                "{sig:?}"
            );
            assert!(!sig.trigger["criteria"].as_array().unwrap().is_empty());
        }
        // The statistics the trigger recorded are those of the window that opened it.
        let p7 = opened
            .iter()
            .find(|s| s.model == "P7" && s.hazard == "class:thermal")
            .unwrap();
        // The 40 fires and P7's other thermal reports, each counted once in the class.
        assert!(p7.trigger["stats"]["count"].as_u64().unwrap() >= 40);
        assert!(
            !pairs.contains(&("P7".into(), "thermal.fire".into())),
            "a class member is not tested on its own: {pairs:?}"
        );
        assert_eq!(p7.trigger["window_days"], 30);
        assert!(signals.evaluate(None).await.unwrap().is_empty());
        let events = store
            .list_events(&firewatch_store::EventFilter {
                entity: Some("signal-hyper".into()),
                limit: 10,
                after_seq: 0,
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "signal.hyper_fitted");
    }

    #[tokio::test]
    async fn too_few_pairs_keep_the_playbook_prior() {
        let (store, _dir) = world(3, |_, h| usize::from(h == "thermal.fire")).await;
        let signals = Signals::new(store.clone(), SignalThresholds::default(), None);
        assert_eq!(signals.refit().await.unwrap(), None);
        let snap = signals.snapshot().await.unwrap();
        assert!(!snap.theta_fitted);
        assert_eq!(snap.theta.to_array(), SignalThresholds::default().gps_prior);
        assert!(signals.critical_value().is_some_and(|cv| cv > 0.0));
    }
}
