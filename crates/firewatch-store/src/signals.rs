//! Defect signals (issue 4): the product catalog, exposure, the incremental report counts
//! and the signals themselves, behind their own narrow trait.
//!
//! Counting happens inside the intake transaction (`count_report` in `sqlite/intake_direct.rs`
//! and `postgres/mod.rs`):
//! the report's product is the first product triage resolved, else the intake's
//! brand/model, looked up in the catalog (brand and model, case-insensitive, or an alias);
//! reports whose product is not in the catalog are not counted. Its hazards are the
//! occurred ones (potential ones are counted separately, with `modality = potential`).

use crate::{Actor, Result};
use async_trait::async_trait;
use firewatch_domain::{CaseStatus, Severity, SignalStatus};
use serde::{Deserialize, Serialize};

/// The `hazard` of the per-product report-count rows (every report of the product).
pub const ALL_REPORTS: &str = "*";

/// One catalog product as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductRecord {
    pub id: i64,
    pub brand: String,
    pub model: String,
    pub aliases: Vec<String>,
    pub category: String,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A product to create or update (keyed by brand and model, case-insensitive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProduct {
    pub brand: String,
    pub model: String,
    pub aliases: Vec<String>,
    pub category: String,
    pub price: Option<f64>,
    pub currency: Option<String>,
}

/// One exposure row: units sold of a product in a market and month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewExposure {
    /// Where the row came from (CSV line or JSON index, 1-based), for error messages.
    pub line: u64,
    pub brand: String,
    pub model: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub market: String,
    /// `YYYY-MM`.
    pub month: String,
    pub units: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureRecord {
    pub product_id: i64,
    pub market: String,
    pub month: String,
    pub units: i64,
}

/// What an idempotent import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpsertSummary {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// One incremental counter: reports of `product_id` with `hazard` (or [`ALL_REPORTS`]) in
/// `modality` from `market` received on `day` (days since 1970-01-01 UTC).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountRow {
    pub product_id: i64,
    pub hazard: String,
    pub modality: String,
    pub market: String,
    pub day: i64,
    pub n: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRecord {
    pub id: String,
    pub number: i64,
    pub product_id: i64,
    pub brand: String,
    pub model: String,
    pub category: String,
    pub hazard: String,
    pub status: SignalStatus,
    /// Why it opened: window, market, criteria and the figures at that moment.
    pub trigger: serde_json::Value,
    pub opened_at_ms: i64,
    pub updated_at_ms: i64,
    pub closed_at_ms: Option<i64>,
}

/// A signal to open when none is active for its product and hazard.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSignal {
    pub product_id: i64,
    pub hazard: String,
    pub trigger: serde_json::Value,
    /// A signal dismissed less than this long ago keeps the pair quiet.
    pub quiet_after_dismissal_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalFilter {
    pub status: Option<SignalStatus>,
    pub product_id: Option<i64>,
    pub hazard: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// A case with a counted report of the signal's product and hazard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedCase {
    pub case_id: String,
    pub number: i64,
    pub status: CaseStatus,
    pub severity: Severity,
    pub title: String,
    pub report_id: String,
    pub market: String,
    pub received_day: i64,
}

/// Fitted (or default) GPS hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HyperRecord {
    pub theta: [f64; 5],
    pub nll: Option<f64>,
    /// (product, hazard) pairs the fit used.
    pub pairs: i64,
    pub fitted_at_ms: i64,
}

#[async_trait]
pub trait SignalStore: Send + Sync + 'static {
    /// Creates or updates products by (brand, model); one audit event per change.
    async fn upsert_products(
        &self,
        products: Vec<NewProduct>,
        actor: &Actor,
    ) -> Result<UpsertSummary>;
    async fn list_products(&self) -> Result<Vec<ProductRecord>>;
    /// Changes whenever a product is added or updated (count, last update).
    async fn products_version(&self) -> Result<(i64, i64)>;

    /// Idempotent upsert per (product, market, month); unknown products refuse the whole
    /// batch (`NotFound` naming the row's line). One audit event listing the changes.
    async fn upsert_exposure(&self, rows: Vec<NewExposure>, actor: &Actor)
    -> Result<UpsertSummary>;
    async fn list_exposure(&self) -> Result<Vec<ExposureRecord>>;

    /// Every counter with `day >= since_day`.
    async fn signal_counts(&self, since_day: i64) -> Result<Vec<CountRow>>;
    /// The counters of the 365 days ending `today`, summed per window: rows of the last 30
    /// days carry `day = today`, of days 31..90 `today - 30`, of days 91..365 `today - 90`
    /// (so "`day > today - w`" still selects the rows of window `w` in 30, 90, 365).
    async fn signal_count_windows(&self, today: i64) -> Result<Vec<CountRow>>;
    /// The counters recomputed from the stored reports (a full recount), for checks and
    /// repair; equal to [`signal_counts`](Self::signal_counts)`(i64::MIN)` when intact.
    async fn recount_signal_counts(&self) -> Result<Vec<CountRow>>;
    /// Products whose signals must be re-evaluated, and the time they were marked.
    async fn dirty_products(&self) -> Result<Vec<(i64, i64)>>;
    /// Removes the marks that were not renewed after `marked_at`.
    async fn clear_dirty(&self, marks: Vec<(i64, i64)>) -> Result<()>;

    /// Opens a signal unless one is active for the pair (or was dismissed recently); audited.
    async fn open_signal(&self, new: NewSignal, actor: &Actor) -> Result<Option<SignalRecord>>;
    async fn get_signal(&self, id: &str) -> Result<Option<SignalRecord>>;
    async fn list_signals(&self, filter: &SignalFilter) -> Result<Vec<SignalRecord>>;
    /// Moves a signal through its lifecycle table; audited.
    async fn transition_signal(
        &self,
        id: &str,
        to: SignalStatus,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<SignalRecord>;
    /// Cases with a counted report of this product where the hazard occurred, newest first.
    async fn signal_cases(
        &self,
        product_id: i64,
        hazard: &str,
        limit: u32,
    ) -> Result<Vec<LinkedCase>>;

    async fn get_hyper(&self) -> Result<Option<HyperRecord>>;
    async fn save_hyper(&self, hyper: HyperRecord, actor: &Actor) -> Result<()>;
}

/// What one stored report contributes to the counters, before its product is looked up in
/// the catalog. Derived only from what the report row keeps (triage JSON, the intake's
/// product JSON, country, receipt time), so a full recount reproduces it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attribution {
    /// (brand, model) candidates in order: triage's products first, then the intake's.
    pub candidates: Vec<(String, String)>,
    pub occurred: Vec<String>,
    pub potential: Vec<String>,
    pub market: String,
    pub day: i64,
}

#[derive(Deserialize, Default)]
struct TriageLite {
    #[serde(default)]
    hazards: Vec<HazardLite>,
    #[serde(default)]
    products: Vec<ProductLite>,
}

#[derive(Deserialize)]
struct HazardLite {
    code: String,
    modality: String,
}

#[derive(Deserialize, Default)]
struct ProductLite {
    #[serde(default)]
    brand: Option<String>,
    #[serde(default)]
    model: Option<String>,
}

/// Days since 1970-01-01 (UTC) of a unix-millisecond time.
pub fn day_of_ms(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

impl Attribution {
    /// `triage_json`: the triage result stored on the report; `product_json`: the intake's
    /// product details. Unparseable JSON contributes nothing (never an error: counting must
    /// not refuse a report).
    pub fn of_report(
        triage_json: &str,
        product_json: &str,
        country: Option<&str>,
        received_at_ms: i64,
    ) -> Attribution {
        let t: TriageLite = serde_json::from_str(triage_json).unwrap_or_default();
        let mut candidates = Vec::new();
        if let Some(p) = t.products.first()
            && let (Some(b), Some(m)) = (&p.brand, &p.model)
        {
            candidates.push((b.trim().to_string(), m.trim().to_string()));
        }
        let intake: ProductLite = serde_json::from_str(product_json).unwrap_or_default();
        let model = intake.model.as_deref().map(str::trim).unwrap_or("");
        if !model.is_empty() {
            let brand = intake.brand.as_deref().map(str::trim).unwrap_or("");
            candidates.push((brand.to_string(), model.to_string()));
        }
        let mut occurred: Vec<String> = Vec::new();
        let mut potential: Vec<String> = Vec::new();
        for h in &t.hazards {
            let list = match h.modality.as_str() {
                "occurred" => &mut occurred,
                "potential" => &mut potential,
                _ => continue,
            };
            if !list.contains(&h.code) {
                list.push(h.code.clone());
            }
        }
        potential.retain(|p| !occurred.contains(p));
        // A report counts once for each hazard class its occurred codes belong to.
        let classes: Vec<String> = occurred
            .iter()
            .filter_map(|h| firewatch_domain::hazard_class_of(h))
            .map(str::to_string)
            .collect();
        for c in classes {
            if !occurred.contains(&c) {
                occurred.push(c);
            }
        }
        occurred.sort();
        potential.sort();
        Attribution {
            candidates,
            occurred,
            potential,
            market: country
                .map(|c| c.trim().to_ascii_uppercase())
                .unwrap_or_default(),
            day: day_of_ms(received_at_ms),
        }
    }
}
