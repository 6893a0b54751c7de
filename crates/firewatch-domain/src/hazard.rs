//! Hazard codes, modality, injury level and the default severity rule (DESIGN section 5).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The v1 hazard taxonomy. The string form (`thermal.explosion`, ...) is the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HazardCode {
    #[serde(rename = "thermal.explosion")]
    ThermalExplosion,
    #[serde(rename = "thermal.fire")]
    ThermalFire,
    #[serde(rename = "thermal.smoke")]
    ThermalSmoke,
    #[serde(rename = "thermal.overheating")]
    ThermalOverheating,
    #[serde(rename = "thermal.melting")]
    ThermalMelting,
    #[serde(rename = "battery.swelling")]
    BatterySwelling,
    #[serde(rename = "battery.leak")]
    BatteryLeak,
    #[serde(rename = "electrical.shock")]
    ElectricalShock,
    #[serde(rename = "electrical.sparks")]
    ElectricalSparks,
    #[serde(rename = "injury.burn")]
    InjuryBurn,
    #[serde(rename = "injury.other")]
    InjuryOther,
    #[serde(rename = "damage.property")]
    DamageProperty,
}

impl HazardCode {
    pub const ALL: [HazardCode; 12] = [
        HazardCode::ThermalExplosion,
        HazardCode::ThermalFire,
        HazardCode::ThermalSmoke,
        HazardCode::ThermalOverheating,
        HazardCode::ThermalMelting,
        HazardCode::BatterySwelling,
        HazardCode::BatteryLeak,
        HazardCode::ElectricalShock,
        HazardCode::ElectricalSparks,
        HazardCode::InjuryBurn,
        HazardCode::InjuryOther,
        HazardCode::DamageProperty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HazardCode::ThermalExplosion => "thermal.explosion",
            HazardCode::ThermalFire => "thermal.fire",
            HazardCode::ThermalSmoke => "thermal.smoke",
            HazardCode::ThermalOverheating => "thermal.overheating",
            HazardCode::ThermalMelting => "thermal.melting",
            HazardCode::BatterySwelling => "battery.swelling",
            HazardCode::BatteryLeak => "battery.leak",
            HazardCode::ElectricalShock => "electrical.shock",
            HazardCode::ElectricalSparks => "electrical.sparks",
            HazardCode::InjuryBurn => "injury.burn",
            HazardCode::InjuryOther => "injury.other",
            HazardCode::DamageProperty => "damage.property",
        }
    }

    pub fn is_injury(self) -> bool {
        matches!(self, HazardCode::InjuryBurn | HazardCode::InjuryOther)
    }
}

impl fmt::Display for HazardCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hazard classes for defect signals: codes that describe one failure mode, counted once
/// per report under the class code (`class:<name>`) so that a defect that shows as smoke in
/// one report and fire or swelling in the next adds up to one signal, tested once, instead of
/// six thin ones tested six times. Like a MedDRA SMQ grouping preferred terms.
///
/// `class:thermal`: a battery thermal event and its direct signs and consequence: explosion,
/// fire, smoke, overheating, melting, swelling, and the burn it causes.
pub const HAZARD_CLASSES: &[(&str, &[HazardCode])] = &[(
    "class:thermal",
    &[
        HazardCode::ThermalExplosion,
        HazardCode::ThermalFire,
        HazardCode::ThermalSmoke,
        HazardCode::ThermalOverheating,
        HazardCode::ThermalMelting,
        HazardCode::BatterySwelling,
        HazardCode::InjuryBurn,
    ],
)];

/// The class code of a hazard code (`thermal.fire` -> `class:thermal`), if it has one.
pub fn hazard_class_of(code: &str) -> Option<&'static str> {
    HAZARD_CLASSES
        .iter()
        .find(|(_, members)| members.iter().any(|m| m.as_str() == code))
        .map(|(class, _)| *class)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hazard code `{0}`")]
pub struct UnknownHazard(pub String);

impl FromStr for HazardCode {
    type Err = UnknownHazard;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HazardCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownHazard(s.to_string()))
    }
}

/// Whether a hazard happened or is only a risk / hedge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Occurred,
    Potential,
}

/// Severity: S1 critical .. S4 non-safety. `Ord` puts S1 first (most severe is smallest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    S1,
    S2,
    S3,
    S4,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::S1 => "S1",
            Severity::S2 => "S2",
            Severity::S3 => "S3",
            Severity::S4 => "S4",
        }
    }

    /// 1 for S1 .. 4 for S4.
    pub fn rank(self) -> u8 {
        self as u8 + 1
    }

    /// The more severe of the two.
    pub fn max_severity(self, other: Severity) -> Severity {
        self.min(other)
    }

    pub fn is_safety(self) -> bool {
        self != Severity::S4
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "S1" | "s1" => Ok(Severity::S1),
            "S2" | "s2" => Ok(Severity::S2),
            "S3" | "s3" => Ok(Severity::S3),
            "S4" | "s4" => Ok(Severity::S4),
            other => Err(format!("unknown severity `{other}` (expected S1..S4)")),
        }
    }
}

/// Injury level as reported on intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InjuryLevel {
    None,
    Minor,
    Serious,
    Fatal,
    #[default]
    Unknown,
}

impl InjuryLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            InjuryLevel::None => "none",
            InjuryLevel::Minor => "minor",
            InjuryLevel::Serious => "serious",
            InjuryLevel::Fatal => "fatal",
            InjuryLevel::Unknown => "unknown",
        }
    }
}

impl FromStr for InjuryLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(InjuryLevel::None),
            "minor" => Ok(InjuryLevel::Minor),
            "serious" => Ok(InjuryLevel::Serious),
            "fatal" => Ok(InjuryLevel::Fatal),
            "unknown" => Ok(InjuryLevel::Unknown),
            other => Err(format!(
                "unknown injury level `{other}` (expected none|minor|serious|fatal|unknown)"
            )),
        }
    }
}

/// DESIGN section 5: S1 if explosion, fire, any injury or property damage; S2 for any other
/// hazard except overheating alone; S3 for overheating alone; S4 when none. A reported
/// serious or fatal injury raises to S1. Only *occurred* hazards are passed here.
pub fn default_severity(occurred: &[HazardCode], reported_injury: InjuryLevel) -> Severity {
    let from_hazards = if occurred.iter().any(|h| {
        matches!(
            h,
            HazardCode::ThermalExplosion | HazardCode::ThermalFire | HazardCode::DamageProperty
        ) || h.is_injury()
    }) {
        Severity::S1
    } else if occurred
        .iter()
        .any(|h| *h != HazardCode::ThermalOverheating)
    {
        Severity::S2
    } else if !occurred.is_empty() {
        Severity::S3
    } else {
        Severity::S4
    };
    if matches!(reported_injury, InjuryLevel::Serious | InjuryLevel::Fatal) {
        Severity::S1
    } else {
        from_hazards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazard_codes_round_trip_through_their_string_form() {
        for code in HazardCode::ALL {
            assert_eq!(code.as_str().parse::<HazardCode>().unwrap(), code);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert!("thermal.boom".parse::<HazardCode>().is_err());
    }

    #[test]
    fn severity_follows_design_section_5() {
        use HazardCode::*;
        let none = InjuryLevel::None;
        assert_eq!(default_severity(&[ThermalExplosion], none), Severity::S1);
        assert_eq!(
            default_severity(&[ThermalSmoke, ThermalFire], none),
            Severity::S1
        );
        assert_eq!(default_severity(&[InjuryBurn], none), Severity::S1);
        assert_eq!(default_severity(&[DamageProperty], none), Severity::S1);
        assert_eq!(default_severity(&[ThermalSmoke], none), Severity::S2);
        assert_eq!(
            default_severity(&[ThermalOverheating, BatterySwelling], none),
            Severity::S2
        );
        assert_eq!(default_severity(&[ThermalOverheating], none), Severity::S3);
        assert_eq!(default_severity(&[], none), Severity::S4);
        assert_eq!(default_severity(&[], InjuryLevel::Serious), Severity::S1);
        assert_eq!(
            default_severity(&[ThermalOverheating], InjuryLevel::Fatal),
            Severity::S1
        );
        assert_eq!(
            default_severity(&[ThermalOverheating], InjuryLevel::Minor),
            Severity::S3
        );
    }

    #[test]
    fn s1_is_the_most_severe() {
        assert!(Severity::S1 < Severity::S4);
        assert_eq!(Severity::S3.max_severity(Severity::S1), Severity::S1);
        assert_eq!(Severity::S2.rank(), 2);
    }
}
