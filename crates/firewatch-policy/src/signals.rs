//! The playbook's `[signals]` section: when the incremental defect-signal statistics open a
//! signal for a (product, hazard). Pure: the statistics are computed elsewhere and handed
//! in as [`SignalFigures`]; this module only holds the thresholds and applies them.
//!
//! ```toml
//! [signals]
//! min_count = 5                                # occurred reports in the window, at least
//! criteria = ["maxsprt", "rate"]               # which tests may open a signal
//! require = "all"                              # "any" or "all" of those criteria
//! eb05_min = 2.0                               # EB05 >= this (when eb05 is a criterion)
//! maxsprt_alpha = 0.001                        # Poisson MaxSPRT: LLR > CV(T, alpha, M)
//! maxsprt_sample_size = 20.0                   # T, in expected events
//! maxsprt_min_events = 3                       # M
//! rate_confidence = 0.95                       # Garwood interval of the rate; its lower
//!                                              # limit must exceed the category's rate
//! gps_prior = [0.2, 0.1, 2.0, 4.0, 0.3333333]  # GPS hyperparameters until a fit exists
//! gps_min_pairs = 20                           # pairs needed before a fit is trusted
//! refit_hours = 24                             # how often the hyperparameters are refitted
//! reopen_after_days = 90                       # a dismissed signal stays quiet this long
//! market_scopes = false                        # also test each market on its own
//! ```
//!
//! What is tested per product: each hazard class (`class:thermal`, see
//! `firewatch_domain::HAZARD_CLASSES`) in place of its member codes, and each code outside
//! the classes.

use crate::error::{Location, Problem};
use serde::{Deserialize, Serialize};

/// One statistical test that may open a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// The Gamma-Poisson Shrinker's EB05 is at least `eb05_min`.
    Eb05,
    /// The Poisson MaxSPRT log-likelihood ratio exceeds its critical value.
    Maxsprt,
    /// The lower limit of the product's rate per million units exceeds the rate of the
    /// rest of its category.
    Rate,
}

impl Criterion {
    pub fn as_str(self) -> &'static str {
        match self {
            Criterion::Eb05 => "eb05",
            Criterion::Maxsprt => "maxsprt",
            Criterion::Rate => "rate",
        }
    }
}

/// Whether one or all enabled criteria must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Require {
    Any,
    All,
}

/// The thresholds of the `[signals]` section (every field optional; defaults below).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalThresholds {
    pub min_count: u32,
    pub criteria: Vec<Criterion>,
    pub require: Require,
    pub eb05_min: f64,
    pub maxsprt_alpha: f64,
    pub maxsprt_sample_size: f64,
    pub maxsprt_min_events: u32,
    pub rate_confidence: f64,
    pub gps_prior: [f64; 5],
    pub gps_min_pairs: u32,
    pub refit_hours: u32,
    pub reopen_after_days: u32,
    /// Also test each market on its own (7 markets x 3 windows more tests per pair): off by
    /// default; the per-market figures are still shown on every signal.
    pub market_scopes: bool,
}

impl Default for SignalThresholds {
    fn default() -> Self {
        // Why these defaults: see the [signals] section of playbooks/default.toml.
        SignalThresholds {
            min_count: 5,
            criteria: vec![Criterion::Maxsprt, Criterion::Rate],
            require: Require::All,
            eb05_min: 2.0,
            maxsprt_alpha: 0.001,
            maxsprt_sample_size: 20.0,
            maxsprt_min_events: 3,
            rate_confidence: 0.95,
            gps_prior: [0.2, 0.1, 2.0, 4.0, 1.0 / 3.0],
            gps_min_pairs: 20,
            refit_hours: 24,
            reopen_after_days: 90,
            market_scopes: false,
        }
    }
}

/// The statistics of one (product, hazard) in one window, as the thresholds need them.
/// `None` means "not computable" (no exposure, no rest of category): that criterion fails.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SignalFigures {
    pub count: u64,
    pub eb05: Option<f64>,
    pub llr: Option<f64>,
    pub critical_value: Option<f64>,
    pub rate_lower: Option<f64>,
    pub category_rate: Option<f64>,
}

impl SignalThresholds {
    /// The criteria that hold for these figures, or `None` when the thresholds are not
    /// crossed (too few reports, or not enough of the enabled criteria hold).
    pub fn crossed(&self, f: &SignalFigures) -> Option<Vec<Criterion>> {
        if f.count < u64::from(self.min_count.max(1)) {
            return None;
        }
        let holds = |c: Criterion| match c {
            Criterion::Eb05 => f.eb05.is_some_and(|v| v >= self.eb05_min),
            Criterion::Maxsprt => {
                matches!((f.llr, f.critical_value), (Some(l), Some(cv)) if l > cv)
            }
            Criterion::Rate => {
                matches!((f.rate_lower, f.category_rate), (Some(lo), Some(cat)) if lo > cat)
            }
        };
        let held: Vec<Criterion> = self
            .criteria
            .iter()
            .copied()
            .filter(|c| holds(*c))
            .collect();
        let ok = match self.require {
            Require::Any => !held.is_empty(),
            Require::All => held.len() == self.criteria.len(),
        };
        ok.then_some(held)
    }

    /// Reads the `[signals]` table (absent: the defaults). Problems name `signals.FIELD`.
    pub(crate) fn from_toml(value: Option<&toml::Value>) -> Result<SignalThresholds, Vec<Problem>> {
        let Some(value) = value else {
            return Ok(SignalThresholds::default());
        };
        let problem = |field: &str, msg: String| {
            Problem::new(Location::File, Some(&format!("signals.{field}")), msg)
        };
        let t: SignalThresholds = match value.clone().try_into() {
            Ok(t) => t,
            Err(e) => {
                let msg = e.to_string();
                let first = msg
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with("TOML parse error"))
                    .unwrap_or("invalid value")
                    .to_string();
                return Err(vec![Problem::new(Location::File, Some("signals"), first)]);
            }
        };
        let mut problems = Vec::new();
        if t.criteria.is_empty() {
            problems.push(problem(
                "criteria",
                "name at least one of eb05, maxsprt, rate".into(),
            ));
        }
        if !(t.eb05_min.is_finite() && t.eb05_min > 0.0) {
            problems.push(problem(
                "eb05_min",
                format!("must be a positive number, got {}", t.eb05_min),
            ));
        }
        if !(1e-7..=0.5).contains(&t.maxsprt_alpha) {
            problems.push(problem(
                "maxsprt_alpha",
                format!("must be in [1e-7, 0.5], got {}", t.maxsprt_alpha),
            ));
        }
        if !(t.maxsprt_sample_size.is_finite()
            && t.maxsprt_sample_size > 0.0
            && t.maxsprt_sample_size <= 10_000.0)
        {
            problems.push(problem(
                "maxsprt_sample_size",
                format!("must be in (0, 10000], got {}", t.maxsprt_sample_size),
            ));
        }
        if t.maxsprt_min_events == 0 {
            problems.push(problem("maxsprt_min_events", "must be at least 1".into()));
        }
        if !(t.rate_confidence > 0.5 && t.rate_confidence < 1.0) {
            problems.push(problem(
                "rate_confidence",
                format!("must be in (0.5, 1), got {}", t.rate_confidence),
            ));
        }
        let [a1, b1, a2, b2, p] = t.gps_prior;
        if !([a1, b1, a2, b2].iter().all(|v| v.is_finite() && *v > 0.0) && p > 0.0 && p < 1.0) {
            problems.push(problem(
                "gps_prior",
                "[alpha1, beta1, alpha2, beta2, p]: positive shapes and rates, 0 < p < 1".into(),
            ));
        }
        if t.refit_hours == 0 {
            problems.push(problem("refit_hours", "must be at least 1".into()));
        }
        if problems.is_empty() {
            Ok(t)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> SignalFigures {
        SignalFigures {
            count: 5,
            eb05: Some(1.0),
            llr: Some(1.0),
            critical_value: Some(3.0),
            rate_lower: Some(10.0),
            category_rate: Some(20.0),
        }
    }

    #[test]
    fn each_criterion_opens_alone_with_any_and_the_minimum_count_gates_them_all() {
        let t = SignalThresholds {
            min_count: 3,
            criteria: vec![Criterion::Eb05, Criterion::Maxsprt, Criterion::Rate],
            require: Require::Any,
            ..SignalThresholds::default()
        };
        assert_eq!(t.crossed(&figures()), None);
        let f = SignalFigures {
            eb05: Some(2.0),
            ..figures()
        };
        assert_eq!(t.crossed(&f), Some(vec![Criterion::Eb05]));
        let f = SignalFigures {
            llr: Some(3.5),
            ..figures()
        };
        assert_eq!(t.crossed(&f), Some(vec![Criterion::Maxsprt]));
        let f = SignalFigures {
            rate_lower: Some(20.5),
            ..figures()
        };
        assert_eq!(t.crossed(&f), Some(vec![Criterion::Rate]));
        let f = SignalFigures {
            count: 2,
            eb05: Some(9.0),
            ..figures()
        };
        assert_eq!(t.crossed(&f), None);
        // Not computable is not crossed.
        let f = SignalFigures {
            rate_lower: None,
            category_rate: Some(0.0),
            ..figures()
        };
        assert_eq!(t.crossed(&f), None);
    }

    #[test]
    fn all_requires_every_enabled_criterion() {
        let t = SignalThresholds {
            require: Require::All,
            criteria: vec![Criterion::Eb05, Criterion::Rate],
            ..SignalThresholds::default()
        };
        let f = SignalFigures {
            eb05: Some(3.0),
            ..figures()
        };
        assert_eq!(t.crossed(&f), None);
        let f = SignalFigures {
            eb05: Some(3.0),
            rate_lower: Some(25.0),
            ..figures()
        };
        assert_eq!(t.crossed(&f), Some(vec![Criterion::Eb05, Criterion::Rate]));
    }

    #[test]
    fn the_section_is_optional_and_bad_values_name_their_field() {
        assert_eq!(
            SignalThresholds::from_toml(None).unwrap(),
            SignalThresholds::default()
        );
        let v: toml::Value = "min_count = 5\neb05_min = 1.5\n"
            .parse::<toml::Table>()
            .unwrap()
            .into();
        let t = SignalThresholds::from_toml(Some(&v)).unwrap();
        assert_eq!((t.min_count, t.eb05_min, t.maxsprt_min_events), (5, 1.5, 3));
        assert!(!t.market_scopes);
        let v: toml::Value = "market_scopes = true\n"
            .parse::<toml::Table>()
            .unwrap()
            .into();
        assert!(SignalThresholds::from_toml(Some(&v)).unwrap().market_scopes);
        let v: toml::Value = "eb05_min = -1\nmaxsprt_alpha = 0.9\n"
            .parse::<toml::Table>()
            .unwrap()
            .into();
        let e = SignalThresholds::from_toml(Some(&v)).unwrap_err();
        let fields: Vec<_> = e.iter().filter_map(|p| p.field.clone()).collect();
        assert_eq!(fields, vec!["signals.eb05_min", "signals.maxsprt_alpha"]);
        let v: toml::Value = "min_cout = 5\n".parse::<toml::Table>().unwrap().into();
        let e = SignalThresholds::from_toml(Some(&v)).unwrap_err();
        assert!(e[0].message.contains("min_cout"), "{:?}", e);
    }

    #[test]
    fn the_default_playbook_carries_the_default_thresholds() {
        let p = crate::Playbook::default_playbook();
        assert_eq!(p.signals(), &SignalThresholds::default());
        let text = crate::DEFAULT_PLAYBOOK_TOML.replace("eb05_min = 2.0", "eb05_min = 0");
        let e = crate::Playbook::from_toml_str("x.toml", &text).unwrap_err();
        assert!(e.to_string().contains("field signals.eb05_min"), "{e}");
    }
}
