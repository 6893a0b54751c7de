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
        let result = self.0.triage(narrative, language_hint);
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
