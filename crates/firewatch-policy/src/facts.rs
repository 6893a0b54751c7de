//! The facts of a case that playbook rules see as the CEL variable `case`.

use firewatch_domain::{HazardCode, InjuryLevel, Severity};
use serde::{Deserialize, Serialize};

/// Longest string handed to CEL (longer ones are cut): bounds evaluation cost.
pub const MAX_FACT_STRING: usize = 256;
/// Most list items handed to CEL: bounds the cost of `exists`/`all`/`map` over facts.
pub const MAX_FACT_LIST: usize = 64;

/// The product the case is about. Unknown fields are empty strings and a zero price.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductFacts {
    pub brand: String,
    pub model: String,
    pub category: String,
    /// Price paid (or catalog price), in `currency`; 0 when unknown.
    pub price: f64,
    pub currency: String,
}

/// Public mentions of the case (social posts, news) and their reach forecasts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MentionFacts {
    pub count: i64,
    /// The largest forecast final reach among the case's mentions.
    pub max_predicted_reach: f64,
    /// The largest probability that a mention crosses the configured reach threshold.
    pub max_p_exceed: f64,
}

/// What a playbook knows about a case. Built by the application from the case, its
/// reports' triage results and its mentions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFacts {
    pub severity: Severity,
    /// Hazards that occurred.
    #[serde(default)]
    pub hazards: Vec<HazardCode>,
    /// Hazards that are only a risk or a hedge.
    #[serde(default)]
    pub potential_hazards: Vec<HazardCode>,
    #[serde(default)]
    pub injuries: InjuryLevel,
    /// ISO 3166-1 alpha-2 country code, upper case (e.g. "FR"); empty when unknown.
    #[serde(default)]
    pub market: String,
    #[serde(default)]
    pub product: ProductFacts,
    /// web|phone|email|social|news|regulator|api
    #[serde(default)]
    pub channel: String,
    pub is_safety: bool,
    #[serde(default)]
    pub mentions: MentionFacts,
}

impl CaseFacts {
    /// Facts for a case of this severity with nothing else known; `is_safety` follows the
    /// severity (S1..S3).
    pub fn new(severity: Severity) -> CaseFacts {
        CaseFacts {
            severity,
            hazards: Vec::new(),
            potential_hazards: Vec::new(),
            injuries: InjuryLevel::Unknown,
            market: String::new(),
            product: ProductFacts::default(),
            channel: String::new(),
            is_safety: severity.is_safety(),
            mentions: MentionFacts::default(),
        }
    }

    /// Whether a person was hurt: an occurred injury hazard or a reported minor, serious or
    /// fatal injury.
    pub fn person_hurt(&self) -> bool {
        self.hazards.iter().any(|h| h.is_injury())
            || matches!(
                self.injuries,
                InjuryLevel::Minor | InjuryLevel::Serious | InjuryLevel::Fatal
            )
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_FACT_STRING) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

fn codes(list: &[HazardCode]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = list.iter().map(|h| h.as_str()).collect();
    v.sort_unstable();
    v.dedup();
    v.truncate(MAX_FACT_LIST);
    v
}

/// The bounded, CEL-friendly view of [`CaseFacts`]: strings are cut, lists deduplicated and
/// capped, non-finite numbers become 0, and `severity_rank` (1 for S1 .. 4 for S4) is added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CelCase {
    severity: &'static str,
    severity_rank: i64,
    hazards: Vec<&'static str>,
    potential_hazards: Vec<&'static str>,
    injuries: &'static str,
    person_hurt: bool,
    market: String,
    product: CelProduct,
    channel: String,
    is_safety: bool,
    mentions: CelMentions,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CelProduct {
    brand: String,
    model: String,
    category: String,
    price: f64,
    currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CelMentions {
    count: i64,
    max_predicted_reach: f64,
    max_p_exceed: f64,
}

impl CelCase {
    pub(crate) fn from_facts(f: &CaseFacts) -> CelCase {
        CelCase {
            severity: f.severity.as_str(),
            severity_rank: i64::from(f.severity.rank()),
            hazards: codes(&f.hazards),
            potential_hazards: codes(&f.potential_hazards),
            injuries: f.injuries.as_str(),
            person_hurt: f.person_hurt(),
            market: cut(f.market.trim()).to_ascii_uppercase(),
            product: CelProduct {
                brand: cut(&f.product.brand),
                model: cut(&f.product.model),
                category: cut(&f.product.category),
                price: finite(f.product.price),
                currency: cut(&f.product.currency),
            },
            channel: cut(&f.channel),
            is_safety: f.is_safety,
            mentions: CelMentions {
                count: f.mentions.count.max(0),
                max_predicted_reach: finite(f.mentions.max_predicted_reach),
                max_p_exceed: finite(f.mentions.max_p_exceed),
            },
        }
    }
}

/// Sample facts used to smoke-evaluate every rule at load time, so that a typo in a field
/// name or a type error surfaces when the playbook is loaded, not on the first real case.
/// Two shapes: a rich S1 case and an empty S4 case.
pub(crate) fn smoke_samples() -> [CaseFacts; 2] {
    let rich = CaseFacts {
        severity: Severity::S1,
        hazards: vec![
            HazardCode::ThermalSmoke,
            HazardCode::ThermalExplosion,
            HazardCode::ThermalFire,
            HazardCode::InjuryBurn,
        ],
        potential_hazards: vec![HazardCode::BatterySwelling],
        injuries: InjuryLevel::Minor,
        market: "FR".into(),
        product: ProductFacts {
            brand: "Acme".into(),
            model: "X1".into(),
            category: "phone".into(),
            price: 799.0,
            currency: "EUR".into(),
        },
        channel: "phone".into(),
        is_safety: true,
        mentions: MentionFacts {
            count: 3,
            max_predicted_reach: 120_000.0,
            max_p_exceed: 0.9,
        },
    };
    [rich, CaseFacts::new(Severity::S4)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cel_view_bounds_strings_lists_and_numbers() {
        let mut f = CaseFacts::new(Severity::S2);
        f.market = "x".repeat(10_000);
        f.hazards = vec![HazardCode::ThermalSmoke; 500];
        f.product.price = f64::NAN;
        let v = CelCase::from_facts(&f);
        assert_eq!(v.market.len(), MAX_FACT_STRING);
        assert_eq!(v.hazards, vec!["thermal.smoke"]);
        assert_eq!(v.product.price, 0.0);
        assert_eq!(v.severity_rank, 2);
    }

    #[test]
    fn a_person_is_hurt_by_an_injury_hazard_or_a_reported_injury() {
        let mut f = CaseFacts::new(Severity::S1);
        f.injuries = InjuryLevel::None;
        assert!(!f.person_hurt());
        f.hazards.push(HazardCode::InjuryBurn);
        assert!(f.person_hurt());
        f.hazards.clear();
        f.injuries = InjuryLevel::Serious;
        assert!(f.person_hurt());
        f.injuries = InjuryLevel::Unknown;
        assert!(!f.person_hurt());
    }
}
