//! Multilingual hazard triage: language, hazards with evidence and modality, injuries,
//! products, severity. Pure and deterministic: no I/O, no clocks, no randomness.
//!
//! ```
//! use firewatch_triage::{Catalog, Triager};
//! use firewatch_domain::{HazardCode, Modality, Severity};
//!
//! let catalog = Catalog::from_csv_str(
//!     "brand,model,aliases,category,price,currency\nSamsung,Galaxy Note7,Note7,phone,849,EUR\n",
//! ).unwrap();
//! let triager = Triager::new(catalog);
//! let r = triager.triage("My Note 7 exploded, no fire though.", None);
//! assert_eq!(r.language, "en");
//! assert_eq!(r.hazards[0].code, HazardCode::ThermalExplosion);
//! assert_eq!(r.hazards[0].modality, Modality::Occurred);
//! assert_eq!(r.negated[0].code, HazardCode::ThermalFire);
//! assert_eq!(r.products[0].model, "Galaxy Note7");
//! assert_eq!(r.severity, Severity::S1);
//! ```

mod catalog;
mod engine;
mod lexicon;
mod normalize;
mod result;

pub use catalog::{Catalog, CatalogError, Product};
pub use engine::Triager;
pub use lexicon::{LANGUAGES, LexiconError};
pub use result::{Evidence, HazardFinding, InjuryFinding, InjuryKind, ProductMatch, TriageResult};
