//! Plugs the triage engine into the HTTP layer's narrow `TriageEngine` interface.

use firewatch_domain::InjuryLevel;
use firewatch_triage::{Catalog, Triager};
use firewatch_web::{AssessedHazard, Assessment, TriageEngine};
use std::path::Path;

pub struct Engine(pub Triager);

impl TriageEngine for Engine {
    fn assess(
        &self,
        narrative: &str,
        language_hint: Option<&str>,
        reported_injury: InjuryLevel,
    ) -> Assessment {
        Engine::assess_with(&self.0, narrative, language_hint, reported_injury)
    }
}

impl Engine {
    fn assess_with(
        triager: &Triager,
        narrative: &str,
        language_hint: Option<&str>,
        reported_injury: InjuryLevel,
    ) -> Assessment {
        let result = triager.triage(narrative, language_hint);
        Assessment {
            hazards: result
                .hazards
                .iter()
                .map(|h| AssessedHazard {
                    code: h.code,
                    modality: h.modality,
                })
                .collect(),
            severity: result.severity_with(reported_injury),
            language: (result.language != "und").then(|| result.language.clone()),
            product: result
                .products
                .first()
                .map(|p| (p.brand.clone(), p.model.clone())),
            detail: serde_json::to_value(&result).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Loads the catalog CSV when one is configured or present in the data directory.
pub fn load_catalog(explicit: Option<&Path>, data_dir: &Path) -> anyhow::Result<Catalog> {
    let default = data_dir.join("catalog.csv");
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None if default.exists() => default,
        None => return Ok(Catalog::from_products(Vec::new())),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read the catalog {}: {e}", path.display()))?;
    Catalog::from_csv_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Triage whose catalog can be swapped while serving: intake reads the current `Arc`, a
/// products change installs a new one (built off the request path).
pub struct SwappableEngine {
    current: std::sync::RwLock<std::sync::Arc<Triager>>,
}

impl SwappableEngine {
    pub fn new(products: &[firewatch_store::signals::ProductRecord]) -> SwappableEngine {
        SwappableEngine {
            current: std::sync::RwLock::new(std::sync::Arc::new(Triager::new(catalog_of(
                products,
            )))),
        }
    }

    fn triager(&self) -> std::sync::Arc<Triager> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The stored products as triage's catalog.
pub fn catalog_of(products: &[firewatch_store::signals::ProductRecord]) -> Catalog {
    Catalog::from_products(
        products
            .iter()
            .map(|p| firewatch_triage::Product {
                brand: p.brand.clone(),
                model: p.model.clone(),
                aliases: p.aliases.clone(),
                category: p.category.clone(),
                price: p.price,
                currency: p.currency.clone(),
            })
            .collect(),
    )
}

impl TriageEngine for SwappableEngine {
    fn assess(
        &self,
        narrative: &str,
        language_hint: Option<&str>,
        reported_injury: InjuryLevel,
    ) -> Assessment {
        let triager = self.triager();
        Engine::assess_with(&triager, narrative, language_hint, reported_injury)
    }
}

impl firewatch_web::signals::CatalogSink for SwappableEngine {
    fn replace(&self, products: &[firewatch_store::signals::ProductRecord]) {
        let next = std::sync::Arc::new(Triager::new(catalog_of(products)));
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        tracing::info!(products = products.len(), "triage catalog reloaded");
    }
}
