//! The demo world: a deterministic, seeded generator of a fictional maker's catalog, sales,
//! incident reports (with photos and ground truth), and a social cascade about one viral S1
//! case. Pure: no files, no network, no clock. The same [`WorldConfig`] always gives the
//! byte-identical [`World`].
//!
//! ```
//! let world = firewatch_demo::generate(&firewatch_demo::WorldConfig {
//!     reports: 300,
//!     ..Default::default()
//! });
//! assert!(world.catalog_csv.starts_with("brand,model,aliases,category,price,currency\n"));
//! assert!(world.reports.len() > 200);
//! let files = firewatch_demo::write_files(&world);
//! assert!(files.iter().any(|(p, _)| p.ends_with("reports.jsonl")));
//! ```
//!
//! Module map: [`calendar`] (months, dates), [`catalog`] (the 30 Voltra models), [`exposure`]
//! (units sold), `text` (phrase banks, composition), `reports` (allocation of reports to
//! the units in the field, intake JSON, truth), `photos` (drawn images), `cascade` (the self-exciting social
//! cascade), `files` (the `--generate-only` file set).

pub mod calendar;
mod cascade;
pub mod catalog;
pub mod exposure;
mod files;
pub mod jetstream;
mod photos;
mod reports;
mod story;
mod text;

pub use cascade::{CascadeEvent, CascadeKind};
pub use files::write_files;
pub use story::{StoryCase, StoryRemedy, StoryStep};
pub use text::Lang;

use firewatch_domain::{HazardCode, Modality};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// What to generate. [`Default`] is the demo world of issue 9.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorldConfig {
    pub seed: u64,
    /// First month of sales and reports, `YYYY-MM`.
    pub start_month: String,
    /// Number of months (18).
    pub months: usize,
    /// About this many incident reports (the count follows the units in the field, so it is
    /// approximate).
    pub reports: usize,
    /// Share of reports that are safety incidents (an occurred hazard).
    pub safety_share: f64,
    /// Share of reports with photos (safety reports are about four times as likely to have
    /// them as complaints).
    pub photo_share: f64,
    /// The model with the planted defect (a catalog model name).
    pub planted_model: String,
    /// Index of the month (0-based) from which the planted defect shows: 9 is month 10.
    pub planted_start: usize,
    /// Thermal incident rate of the planted model, relative to the baseline, from then on.
    pub planted_factor: f64,
    /// Length of the social cascade, in hours.
    pub cascade_hours: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 2026,
            start_month: "2025-06".into(),
            months: 18,
            reports: 5000,
            safety_share: 0.35,
            photo_share: 0.05,
            planted_model: "PowerCell 20K".into(),
            planted_start: 9,
            planted_factor: 4.0,
            cascade_hours: 6.0,
        }
    }
}

/// Why a configuration cannot be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("start_month `{0}` is not YYYY-MM")]
    StartMonth(String),
    #[error("months must be between 2 and 120, got {0}")]
    Months(usize),
    #[error("planted_start {start} must be between 1 and months - 1 ({months} months)")]
    PlantedStart { start: usize, months: usize },
    #[error("planted_model `{0}` is not a catalog model")]
    PlantedModel(String),
    #[error("{field} must be a finite number in {range}, got {value}")]
    Range {
        field: &'static str,
        range: &'static str,
        value: f64,
    },
    #[error("reports must be between 1 and 1000000, got {0}")]
    Reports(usize),
}

/// Ground truth of one report, for measuring triage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// Hazards the narrative states, with modality; negated and figurative mentions are not
    /// hazards and are absent.
    pub hazards: Vec<(HazardCode, Modality)>,
    /// (brand, catalog model).
    pub product: (String, String),
    /// At least one hazard occurred.
    pub is_safety: bool,
    /// BCP 47 tag of the narrative (`hi-Latn` for romanised Hindi).
    pub language: String,
}

impl Truth {
    /// The report states an occurred hazard of the planted defect's class (thermal.* or
    /// battery.swelling).
    pub fn is_thermal(&self) -> bool {
        self.hazards
            .iter()
            .any(|(h, m)| *m == Modality::Occurred && THERMAL_CLASS.contains(h))
    }
}

/// The hazard codes of the planted defect's class.
pub const THERMAL_CLASS: [HazardCode; 6] = [
    HazardCode::ThermalExplosion,
    HazardCode::ThermalFire,
    HazardCode::ThermalSmoke,
    HazardCode::ThermalOverheating,
    HazardCode::ThermalMelting,
    HazardCode::BatterySwelling,
];

/// One incident report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoReport {
    /// `DEMO-00001`, in time order.
    pub id: String,
    /// The intake JSON (DESIGN section 6), ready for `POST /api/v1/reports`.
    pub intake: serde_json::Value,
    /// Indices into [`World::photos`].
    pub photos: Vec<usize>,
    pub truth: Truth,
    /// Market (ISO 3166-1 alpha-2), also the intake's `country`.
    pub market: String,
    /// Month of the incident, `YYYY-MM`.
    pub month: String,
    /// When the report reached the maker, RFC 3339 UTC (not part of the intake JSON).
    pub received_at: String,
}

/// The planted defect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlantedDefect {
    pub brand: String,
    pub model: String,
    /// `thermal`: any occurred code of [`THERMAL_CLASS`].
    pub hazard_class: String,
    pub hazard_codes: Vec<HazardCode>,
    /// First month with the elevated rate, `YYYY-MM`.
    pub start_month: String,
    /// Its 0-based index (9 = month 10).
    pub start_index: usize,
    pub factor: f64,
    /// Baseline thermal reports per month per million units in the field (sold up to and
    /// including the month), for every model.
    pub baseline_per_million: f64,
}

/// The generated world.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub config: WorldConfig,
    pub catalog_csv: String,
    pub exposure_csv: String,
    pub reports: Vec<DemoReport>,
    /// (file name, encoded PNG or JPEG).
    pub photos: Vec<(String, Vec<u8>)>,
    /// The cascade in firewatch's post JSONL (own shape; likes as Jetstream like frames).
    pub posts_jsonl: String,
    /// The same cascade as data, time-ordered.
    pub cascade: Vec<CascadeEvent>,
    pub story: StoryCase,
    pub planted: PlantedDefect,
    /// Units sold, as data.
    pub exposure: exposure::Exposure,
}

/// Generates the world. Panics only on an invalid configuration (see [`try_generate`]);
/// [`WorldConfig::default`] is valid.
pub fn generate(config: &WorldConfig) -> World {
    match try_generate(config) {
        Ok(w) => w,
        Err(e) => panic!("invalid demo world configuration: {e}"),
    }
}

/// Generates the world, or says which setting is invalid.
pub fn try_generate(config: &WorldConfig) -> Result<World, ConfigError> {
    let start = validate(config)?;
    let planted_idx = catalog::model_index(&config.planted_model)
        .ok_or_else(|| ConfigError::PlantedModel(config.planted_model.clone()))?;
    let exposure = exposure::generate(&mut rng_for(config.seed, 1), start, config.months);
    let drafts = reports::generate(&mut rng_for(config.seed, 2), config, &exposure, planted_idx);
    let thermal_per_million = drafts.thermal_per_million;
    let mut all = drafts.drafts;
    all.push(story::draft(config, start));
    let (reports, photos, story_idx) = reports::finalize(&mut rng_for(config.seed, 3), all);
    let story_idx = story_idx.unwrap_or(0);
    let post_unix = story::call_unix(config, start) + story::POST_AFTER_MINUTES * 60;
    let (cascade, posts_jsonl) = cascade::generate(&mut rng_for(config.seed, 4), config, post_unix);
    let root = cascade.first().map(|e| e.id.clone()).unwrap_or_default();
    let story = story::build(config, start, &reports, story_idx, root);
    let start_month = start.plus(config.planted_start as i32).to_string();
    Ok(World {
        config: config.clone(),
        catalog_csv: catalog::catalog_csv(),
        exposure_csv: exposure.to_csv(),
        reports,
        photos,
        posts_jsonl,
        cascade,
        story,
        planted: PlantedDefect {
            brand: catalog::BRAND.into(),
            model: config.planted_model.clone(),
            hazard_class: "thermal".into(),
            hazard_codes: THERMAL_CLASS.to_vec(),
            start_month,
            start_index: config.planted_start,
            factor: config.planted_factor,
            baseline_per_million: thermal_per_million,
        },
        exposure,
    })
}

fn validate(c: &WorldConfig) -> Result<calendar::Month, ConfigError> {
    let start = calendar::Month::parse(&c.start_month)
        .ok_or_else(|| ConfigError::StartMonth(c.start_month.clone()))?;
    if !(2..=120).contains(&c.months) {
        return Err(ConfigError::Months(c.months));
    }
    if c.planted_start == 0 || c.planted_start >= c.months {
        return Err(ConfigError::PlantedStart {
            start: c.planted_start,
            months: c.months,
        });
    }
    if !(1..=1_000_000).contains(&c.reports) {
        return Err(ConfigError::Reports(c.reports));
    }
    for (field, value, lo, hi, range) in [
        ("safety_share", c.safety_share, 0.0, 0.9, "0..=0.9"),
        ("photo_share", c.photo_share, 0.0, 0.4, "0..=0.4"),
        ("planted_factor", c.planted_factor, 1.0, 50.0, "1..=50"),
        ("cascade_hours", c.cascade_hours, 0.5, 48.0, "0.5..=48"),
    ] {
        if !(value.is_finite() && (lo..=hi).contains(&value)) {
            return Err(ConfigError::Range {
                field,
                range,
                value,
            });
        }
    }
    Ok(start)
}

/// An independent random stream per part of the world, so that changing one part does not
/// shift the others.
pub(crate) fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configurations_are_named() {
        let bad = |f: fn(&mut WorldConfig)| {
            let mut c = WorldConfig::default();
            f(&mut c);
            try_generate(&c).err()
        };
        assert_eq!(
            bad(|c| c.start_month = "June".into()),
            Some(ConfigError::StartMonth("June".into()))
        );
        assert!(matches!(
            bad(|c| c.planted_start = 18),
            Some(ConfigError::PlantedStart { .. })
        ));
        assert!(matches!(
            bad(|c| c.planted_model = "X".into()),
            Some(ConfigError::PlantedModel(_))
        ));
        assert!(matches!(
            bad(|c| c.photo_share = f64::NAN),
            Some(ConfigError::Range {
                field: "photo_share",
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.reports = 0),
            Some(ConfigError::Reports(0))
        ));
    }
}
