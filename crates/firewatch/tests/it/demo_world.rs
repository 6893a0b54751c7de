//! The demo world's reports counted as the store counts them, and the signals the
//! background job would open on them month by month. Shared by the `demo` end-to-end test
//! and `examples/explore_thresholds.rs` (which includes this file by path).

use firewatch_demo::World;
use firewatch_policy::SignalThresholds;
use firewatch_stats::gps::{self, Theta};
use firewatch_store::signals::{Attribution, CountRow, ExposureRecord, ProductRecord};
use firewatch_web::signals::{Snapshot, month_of_day};
use std::collections::{BTreeMap, HashMap};

/// The world's reports as the store counts them: each narrative through triage (as intake
/// does), attributed to a product, market and day, summed per (product, hazard, modality,
/// market, day).
pub fn counted(world: &World) -> (Vec<ProductRecord>, Vec<ExposureRecord>, Vec<CountRow>) {
    let new_products =
        firewatch_web::csv_import::parse_products_csv(&world.catalog_csv, |_| {}).unwrap();
    let products: Vec<ProductRecord> = new_products
        .into_iter()
        .enumerate()
        .map(|(i, p)| ProductRecord {
            id: i as i64 + 1,
            brand: p.brand,
            model: p.model,
            aliases: p.aliases,
            category: p.category,
            price: p.price,
            currency: p.currency,
            created_at_ms: 0,
            updated_at_ms: 0,
        })
        .collect();
    let id_of = |brand: &str, model: &str| {
        products
            .iter()
            .find(|p| {
                p.model.eq_ignore_ascii_case(model)
                    && (brand.is_empty() || p.brand.eq_ignore_ascii_case(brand))
            })
            .map(|p| p.id)
    };
    let exposure: Vec<ExposureRecord> =
        firewatch_web::csv_import::parse_exposure_csv(&world.exposure_csv, |_| {})
            .unwrap()
            .into_iter()
            .map(|e| ExposureRecord {
                product_id: id_of(&e.brand, &e.model).expect("exposure of a catalog product"),
                market: e.market,
                month: e.month,
                units: e.units,
            })
            .collect();
    let triager = firewatch_triage::Triager::new(
        firewatch_triage::Catalog::from_csv_str(&world.catalog_csv).unwrap(),
    );
    let mut totals: BTreeMap<(i64, String, String, String, i64), i64> = BTreeMap::new();
    for r in &world.reports {
        let narrative = r.intake["narrative"].as_str().unwrap_or_default();
        let lang = r.intake["language"].as_str();
        let triage = serde_json::to_string(&triager.triage(narrative, lang)).unwrap();
        let received = r
            .received_at
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond();
        let a = Attribution::of_report(
            &triage,
            &r.intake["product"].to_string(),
            r.intake["country"].as_str(),
            received,
        );
        let Some(pid) = a.candidates.iter().find_map(|(b, m)| id_of(b, m)) else {
            continue;
        };
        let rows = std::iter::once(("*".to_string(), "report"))
            .chain(a.occurred.iter().map(|h| (h.clone(), "occurred")))
            .chain(a.potential.iter().map(|h| (h.clone(), "potential")));
        for (hazard, modality) in rows {
            *totals
                .entry((pid, hazard, modality.into(), a.market.clone(), a.day))
                .or_default() += 1;
        }
    }
    let counts = totals
        .into_iter()
        .map(
            |((product_id, hazard, modality, market, day), n)| CountRow {
                product_id,
                hazard,
                modality,
                market,
                day,
                n,
            },
        )
        .collect();
    (products, exposure, counts)
}

/// The signals the background job would open over the world's 18 months, evaluating every
/// `step` days with hyperparameters refitted monthly, as (product, hazard) -> month opened.
/// `classes`: test hazard classes in place of their codes (the current job); without,
/// every code on its own (the job before hazard classes).
pub type Counted = (Vec<ProductRecord>, Vec<ExposureRecord>, Vec<CountRow>);

pub fn replay_signals(
    (products, exposure, counts): &Counted,
    t: &SignalThresholds,
    classes: bool,
    step: usize,
) -> BTreeMap<(String, String), String> {
    let cv = firewatch_stats::maxsprt::critical_value(
        t.maxsprt_sample_size,
        t.maxsprt_alpha,
        t.maxsprt_min_events,
    )
    .ok();
    let first = counts.iter().map(|c| c.day).min().unwrap();
    let last = counts.iter().map(|c| c.day).max().unwrap();
    let mut opened: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut theta = (Theta::from_array(t.gps_prior), false);
    let mut fitted_month = String::new();
    let name: HashMap<i64, String> = products.iter().map(|p| (p.id, p.model.clone())).collect();
    for today in (first..=last).step_by(step) {
        let snap = Snapshot::new(
            today,
            products.clone(),
            exposure.clone(),
            counts.clone(),
            theta.0,
            theta.1,
        );
        let month = month_of_day(today);
        if month != fitted_month {
            fitted_month = month.clone();
            let points = snap.gps_points();
            if points.len() >= t.gps_min_pairs as usize {
                let starts: Vec<Theta> = gps::DEFAULT_STARTS
                    .iter()
                    .map(|a| Theta::from_array(*a))
                    .collect();
                if let Ok(f) = gps::auto_hyper_threads(&points, &starts, 2) {
                    theta = (f.theta, true);
                }
            }
        }
        for p in products {
            let hazards = if classes {
                snap.evaluation_hazards(p.id)
            } else {
                snap.hazards_of(p.id)
                    .into_iter()
                    .filter(|h| !h.starts_with("class:"))
                    .collect()
            };
            for h in hazards {
                let key = (name[&p.id].clone(), h.clone());
                if opened.contains_key(&key) {
                    continue;
                }
                if snap.crossing(t, cv, p.id, &h).is_some() {
                    opened.insert(key, month.clone());
                }
            }
        }
    }
    opened
}
