//! What triage returns.

use firewatch_domain::{HazardCode, InjuryLevel, Modality, Severity, default_severity};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A span of the ORIGINAL input: `text == &input[start..end]` (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// One hazard code found in the text with its modality and evidence spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HazardFinding {
    pub code: HazardCode,
    pub modality: Modality,
    pub evidence: Vec<Evidence>,
}

/// The kind of injury a person suffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjuryKind {
    Burn,
    Other,
}

/// A person was injured (occurred, not negated, not hedged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjuryFinding {
    pub kind: InjuryKind,
    pub evidence: Vec<Evidence>,
}

/// A catalog product mentioned in the text. `score` is the match confidence in 0..=1
/// (1.0 model with its brand next to it, 0.9 model or alias alone, 0.8 one-character typo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductMatch {
    pub brand: String,
    pub model: String,
    pub score: f32,
    pub evidence: Vec<Evidence>,
}

/// The result of triaging one narrative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageResult {
    /// ISO 639-1 code: en fr es de pt it hi zh id, or "und".
    pub language: String,
    /// Occurred and potential hazards, one finding per code (occurred wins over potential).
    pub hazards: Vec<HazardFinding>,
    /// Hazards mentioned only under negation ("no smoke"), for review.
    pub negated: Vec<HazardFinding>,
    /// Hazard words used figuratively ("sales exploded"), for review.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figurative: Vec<HazardFinding>,
    /// People injured.
    pub injuries: Vec<InjuryFinding>,
    /// Products mentioned, the incident's product first.
    pub products: Vec<ProductMatch>,
    /// `default_severity` over the occurred hazards with the reported injury unknown.
    pub severity: Severity,
}

impl TriageResult {
    /// The codes of the occurred hazards, in taxonomy order.
    pub fn occurred_codes(&self) -> Vec<HazardCode> {
        let mut v: Vec<HazardCode> = self
            .hazards
            .iter()
            .filter(|h| h.modality == Modality::Occurred)
            .map(|h| h.code)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The codes of the potential-only hazards.
    pub fn potential_codes(&self) -> Vec<HazardCode> {
        let mut v: Vec<HazardCode> = self
            .hazards
            .iter()
            .filter(|h| h.modality == Modality::Potential)
            .map(|h| h.code)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Severity with the injury level the reporter gave (DESIGN section 5).
    pub fn severity_with(&self, reported: InjuryLevel) -> Severity {
        default_severity(&self.occurred_codes(), reported)
    }

    /// The incident's product, if any.
    pub fn primary_product(&self) -> Option<&ProductMatch> {
        self.products.first()
    }

    /// A human-readable multi-line rendering (for `firewatch triage --format text`).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "language: {}", self.language);
        let _ = writeln!(s, "severity: {}", self.severity);
        let section = |s: &mut String, title: &str, list: &[HazardFinding]| {
            if list.is_empty() {
                let _ = writeln!(s, "{title}: none");
                return;
            }
            let _ = writeln!(s, "{title}:");
            for h in list {
                let modality = match h.modality {
                    Modality::Occurred => "occurred",
                    Modality::Potential => "potential",
                };
                let _ = writeln!(s, "  - {} ({modality}): {}", h.code, quote_all(&h.evidence));
            }
        };
        section(&mut s, "hazards", &self.hazards);
        if !self.negated.is_empty() {
            section(&mut s, "negated", &self.negated);
        }
        if !self.figurative.is_empty() {
            section(&mut s, "figurative", &self.figurative);
        }
        if self.injuries.is_empty() {
            let _ = writeln!(s, "injuries: none");
        } else {
            let _ = writeln!(s, "injuries:");
            for i in &self.injuries {
                let kind = match i.kind {
                    InjuryKind::Burn => "burn",
                    InjuryKind::Other => "other",
                };
                let _ = writeln!(s, "  - {kind}: {}", quote_all(&i.evidence));
            }
        }
        if self.products.is_empty() {
            let _ = writeln!(s, "products: none");
        } else {
            let _ = writeln!(s, "products:");
            for (k, p) in self.products.iter().enumerate() {
                let tag = if k == 0 { " [incident]" } else { "" };
                let _ = writeln!(
                    s,
                    "  - {} {} (score {:.2}){tag}: {}",
                    p.brand,
                    p.model,
                    p.score,
                    quote_all(&p.evidence)
                );
            }
        }
        s
    }
}

fn quote_all(ev: &[Evidence]) -> String {
    ev.iter()
        .map(|e| format!("\"{}\" @{}..{}", e.text, e.start, e.end))
        .collect::<Vec<_>>()
        .join(", ")
}
