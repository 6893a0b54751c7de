//! Regulator exports of a case or signal: a US CPSC Section 15(b) report and an EU Safety
//! Business Gateway accident notification (GPSR Art. 20), each as JSON and as CSV, validated
//! against the JSON Schemas in `schemas/` before they are returned.
//!
//! The lead fills one [`ExportInput`] from the store; see the field docs for where each
//! value comes from. README.md ("Export field mapping") maps every output field to its input.

use crate::schema::{Schema, Violation};
use firewatch_domain::{HazardCode, InjuryLevel, Severity};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The JSON Schema of the CPSC 15(b) export (also at `schemas/cpsc_15b.schema.json`).
pub const CPSC_15B_SCHEMA: &str = include_str!("../schemas/cpsc_15b.schema.json");
/// The JSON Schema of the EU SBG accident export (also at `schemas/eu_sbg_accident.schema.json`).
pub const EU_SBG_ACCIDENT_SCHEMA: &str = include_str!("../schemas/eu_sbg_accident.schema.json");

/// EU member states and the EEA countries that use the Safety Gate (ISO 3166-1 alpha-2).
pub const EU_EEA: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
];

/// What an export is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExportSubject {
    #[default]
    Case,
    Signal,
}

/// The economic operator's role (GPSR Art. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OperatorRole {
    #[default]
    Manufacturer,
    AuthorisedRepresentative,
    Importer,
    Distributor,
    FulfilmentServiceProvider,
    Retailer,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The firm reporting (from the installation's settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firm {
    pub name: String,
    pub role: OperatorRole,
    pub address: Address,
    /// Who the regulator talks to.
    pub contact: Person,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub amount: f64,
    /// ISO 4217.
    pub currency: String,
}

/// The product (from the catalog, the case's product details and the signal).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportProduct {
    pub brand: String,
    pub model: String,
    /// What it is ("20,000 mAh power bank").
    pub description: String,
    /// Catalog category ("power bank", "phone").
    pub category: Option<String>,
    #[serde(default)]
    pub batches: Vec<String>,
    #[serde(default)]
    pub serials: Vec<String>,
    /// Date codes printed on the product.
    #[serde(default)]
    pub date_codes: Vec<String>,
    /// GTIN / EAN / UPC.
    pub gtin: Option<String>,
    pub manufactured_from: Option<Date>,
    pub manufactured_to: Option<Date>,
    pub sold_from: Option<Date>,
    pub sold_to: Option<Date>,
    pub price: Option<Price>,
    /// ISO 3166-1 alpha-2.
    pub country_of_origin: Option<String>,
    /// Public URLs of product photos.
    #[serde(default)]
    pub photos: Vec<String>,
}

/// Units sold in one market (sum of the exposure rows for the product and market).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketUnits {
    /// ISO 3166-1 alpha-2.
    pub market: String,
    pub units: u64,
}

/// One incident (a report linked to the case or signal).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Report id.
    pub reference: String,
    pub occurred_on: Option<Date>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// What happened, in the firm's words (not the raw narrative with personal data).
    pub description: String,
    #[serde(default)]
    pub hazards: Vec<HazardCode>,
    pub injury: InjuryLevel,
    pub injury_description: Option<String>,
    pub property_damage: bool,
}

/// A corrective measure (Safety Gate "category of measure" plus the remedies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    RecallFromConsumers,
    WithdrawalFromMarket,
    StopOfSales,
    WarningConsumers,
    Refund,
    Replacement,
    Repair,
    Investigation,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectiveAction {
    pub measures: Vec<Measure>,
    pub description: String,
    pub started_on: Option<Date>,
}

/// Everything an export needs. The lead fills it from the store:
/// - `reference`, `subject`: the case or signal id;
/// - `prepared_on`: today, from the caller's clock (this crate has none);
/// - `aware_on`: when the firm first had the information (the case's creation date, or the
///   signal's first `new` event) — the start of the CPSC 24-hour clock;
/// - `firm`: installation settings; `product`: catalog row + case/signal product details;
/// - `units_by_market`: exposure rows summed per market for the product;
/// - `hazards`, `hazard_description`, `severity`: the case's or signal's triage facts and a
///   safety engineer's plain description;
/// - `incidents`: the linked reports (for a case, its reports; for a signal, its cases');
/// - `corrective_action`: the remedies and recall decided, `None` while undecided (both
///   schemas then refuse the export, naming `corrective_action` / `measures_taken`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportInput {
    pub reference: String,
    pub subject: ExportSubject,
    pub prepared_on: Date,
    pub aware_on: Option<Date>,
    pub firm: Firm,
    pub product: ExportProduct,
    #[serde(default)]
    pub units_by_market: Vec<MarketUnits>,
    #[serde(default)]
    pub hazards: Vec<HazardCode>,
    pub hazard_description: String,
    pub severity: Option<Severity>,
    #[serde(default)]
    pub incidents: Vec<Incident>,
    pub corrective_action: Option<CorrectiveAction>,
}

/// Which export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    Cpsc15b,
    EuSbgAccident,
}

impl ExportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Cpsc15b => "cpsc_15b",
            ExportKind::EuSbgAccident => "eu_sbg_accident",
        }
    }
}

/// Why an export was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The export does not satisfy its schema; `violations` name each field.
    #[error("{} export is incomplete: {}", kind.as_str(), violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        kind: ExportKind,
        violations: Vec<Violation>,
    },
    /// A bug: the embedded schema itself could not be used.
    #[error("{} schema unusable: {message}", kind.as_str())]
    Schema { kind: ExportKind, message: String },
    #[error("{} export could not be serialised: {message}", kind.as_str())]
    Serialize { kind: ExportKind, message: String },
}

impl ExportError {
    /// The offending fields, for the API's problem+json.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            ExportError::Invalid { violations, .. } => {
                violations.iter().map(|v| v.field.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// A validated export in both formats.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub kind: ExportKind,
    /// The validated document.
    pub value: serde_json::Value,
    /// Pretty-printed JSON, fields in schema order, trailing newline.
    pub json: String,
    /// Two-column CSV (`field,value`), one row per leaf, keys sorted within each object,
    /// CRLF line ends (RFC 4180).
    pub csv: String,
}

// ---------------------------------------------------------------- documents

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
struct AddressDoc<'a> {
    street: &'a str,
    postal_code: &'a str,
    city: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    country: &'a str,
}

#[derive(Serialize)]
struct PersonDoc<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
}

#[derive(Serialize)]
struct FirmDoc<'a> {
    name: &'a str,
    role: OperatorRole,
    address: AddressDoc<'a>,
    contact: PersonDoc<'a>,
}

fn firm_doc(f: &Firm) -> FirmDoc<'_> {
    FirmDoc {
        name: &f.name,
        role: f.role,
        address: AddressDoc {
            street: &f.address.street,
            postal_code: &f.address.postal_code,
            city: &f.address.city,
            region: f.address.region.as_deref(),
            country: &f.address.country,
        },
        contact: PersonDoc {
            name: &f.contact.name,
            title: f.contact.title.as_deref(),
            phone: f.contact.phone.as_deref(),
            email: f.contact.email.as_deref(),
        },
    }
}

#[derive(Serialize)]
struct IncidentDoc<'a> {
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    description: &'a str,
    hazards: &'a [HazardCode],
    injury: InjuryLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    injury_description: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    property_damage: bool,
}

fn incident_doc(i: &Incident) -> IncidentDoc<'_> {
    IncidentDoc {
        reference: &i.reference,
        date: i.occurred_on.map(|d| d.to_string()),
        country: i.country.as_deref(),
        description: &i.description,
        hazards: &i.hazards,
        injury: i.injury,
        injury_description: i.injury_description.as_deref(),
        property_damage: i.property_damage,
    }
}

#[derive(Serialize)]
struct ActionDoc<'a> {
    measures: &'a [Measure],
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_on: Option<String>,
}

fn action_doc(a: &CorrectiveAction) -> ActionDoc<'_> {
    ActionDoc {
        measures: &a.measures,
        description: &a.description,
        started_on: a.started_on.map(|d| d.to_string()),
    }
}

fn ds(d: Option<Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

#[derive(Serialize)]
struct CpscProductDoc<'a> {
    description: &'a str,
    brand: &'a str,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    serial_numbers: &'a [String],
    date_codes: &'a [String],
    batch_numbers: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    upc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manufactured_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manufactured_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sold_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sold_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retail_price: Option<&'a Price>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_of_origin: Option<&'a str>,
    photos: &'a [String],
}

#[derive(Serialize)]
struct UnitsDoc<'a> {
    united_states: u64,
    total: u64,
    by_market: &'a [MarketUnits],
}

#[derive(Serialize)]
struct HazardDoc<'a> {
    codes: &'a [HazardCode],
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
}

#[derive(Serialize)]
struct IncidentsDoc<'a> {
    total: usize,
    with_injury: usize,
    serious_injuries: usize,
    deaths: usize,
    property_damage: usize,
    list: Vec<IncidentDoc<'a>>,
}

#[derive(Serialize)]
struct CpscDoc<'a> {
    report_type: &'static str,
    schema_version: u32,
    reference: &'a str,
    subject: ExportSubject,
    prepared_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_firm_aware: Option<String>,
    firm: FirmDoc<'a>,
    product: CpscProductDoc<'a>,
    units_in_commerce: UnitsDoc<'a>,
    hazard: HazardDoc<'a>,
    incidents: IncidentsDoc<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    corrective_action: Option<ActionDoc<'a>>,
}

#[derive(Serialize)]
struct EuProductDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    description: &'a str,
    brand: &'a str,
    model: &'a str,
    batch_numbers: &'a [String],
    serial_numbers: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    gtin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_of_origin: Option<&'a str>,
    photos: &'a [String],
}

#[derive(Serialize)]
struct AccidentDoc<'a> {
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member_state: Option<&'a str>,
    description: &'a str,
    hazards: &'a [HazardCode],
    injury_level: InjuryLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    injury_description: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    property_damage: bool,
}

#[derive(Serialize)]
struct RiskDoc<'a> {
    risk_types: Vec<&'static str>,
    hazard_codes: &'a [HazardCode],
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
}

#[derive(Serialize)]
struct EuDoc<'a> {
    report_type: &'static str,
    schema_version: u32,
    reference: &'a str,
    subject: ExportSubject,
    prepared_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_operator_aware: Option<String>,
    economic_operator: FirmDoc<'a>,
    product: EuProductDoc<'a>,
    member_states_concerned: Vec<&'a str>,
    units_in_member_states: Vec<&'a MarketUnits>,
    accidents: Vec<AccidentDoc<'a>>,
    risk: RiskDoc<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    measures_taken: Option<ActionDoc<'a>>,
}

/// Safety Gate risk types for a hazard code (the vocabulary of Safety Gate alerts).
pub fn safety_gate_risk_types(code: HazardCode) -> &'static [&'static str] {
    use HazardCode::*;
    match code {
        ThermalExplosion => &["Fire", "Injuries"],
        ThermalFire | ThermalSmoke | ThermalMelting | BatterySwelling | ElectricalSparks => {
            &["Fire"]
        }
        ThermalOverheating | InjuryBurn => &["Burns"],
        BatteryLeak => &["Chemical"],
        ElectricalShock => &["Electric shock"],
        InjuryOther => &["Injuries"],
        DamageProperty => &["Damage to property"],
    }
}

fn is_eu(code: &str) -> bool {
    EU_EEA.contains(&code)
}

/// EU/EEA member states concerned: markets where units were sold, plus countries where an
/// incident happened, sorted.
pub fn member_states_concerned(input: &ExportInput) -> Vec<&str> {
    let mut set: BTreeSet<&str> = input
        .units_by_market
        .iter()
        .filter(|m| m.units > 0 && is_eu(&m.market))
        .map(|m| m.market.as_str())
        .collect();
    set.extend(
        input
            .incidents
            .iter()
            .filter_map(|i| i.country.as_deref())
            .filter(|c| is_eu(c)),
    );
    set.into_iter().collect()
}

fn cpsc_doc(input: &ExportInput) -> CpscDoc<'_> {
    let p = &input.product;
    let inc = &input.incidents;
    CpscDoc {
        report_type: "cpsc_15b",
        schema_version: 1,
        reference: &input.reference,
        subject: input.subject,
        prepared_on: input.prepared_on.to_string(),
        date_firm_aware: ds(input.aware_on),
        firm: firm_doc(&input.firm),
        product: CpscProductDoc {
            description: &p.description,
            brand: &p.brand,
            model: &p.model,
            category: p.category.as_deref(),
            serial_numbers: &p.serials,
            date_codes: &p.date_codes,
            batch_numbers: &p.batches,
            upc: p.gtin.as_deref(),
            manufactured_from: ds(p.manufactured_from),
            manufactured_to: ds(p.manufactured_to),
            sold_from: ds(p.sold_from),
            sold_to: ds(p.sold_to),
            retail_price: p.price.as_ref(),
            country_of_origin: p.country_of_origin.as_deref(),
            photos: &p.photos,
        },
        units_in_commerce: UnitsDoc {
            united_states: input
                .units_by_market
                .iter()
                .filter(|m| m.market == "US")
                .map(|m| m.units)
                .sum(),
            total: input.units_by_market.iter().map(|m| m.units).sum(),
            by_market: &input.units_by_market,
        },
        hazard: HazardDoc {
            codes: &input.hazards,
            description: &input.hazard_description,
            severity: input.severity,
        },
        incidents: IncidentsDoc {
            total: inc.len(),
            with_injury: inc
                .iter()
                .filter(|i| {
                    matches!(
                        i.injury,
                        InjuryLevel::Minor | InjuryLevel::Serious | InjuryLevel::Fatal
                    )
                })
                .count(),
            serious_injuries: inc
                .iter()
                .filter(|i| i.injury == InjuryLevel::Serious)
                .count(),
            deaths: inc
                .iter()
                .filter(|i| i.injury == InjuryLevel::Fatal)
                .count(),
            property_damage: inc.iter().filter(|i| i.property_damage).count(),
            list: inc.iter().map(incident_doc).collect(),
        },
        corrective_action: input.corrective_action.as_ref().map(action_doc),
    }
}

fn eu_doc(input: &ExportInput) -> EuDoc<'_> {
    let p = &input.product;
    let mut risk_types: Vec<&'static str> = input
        .hazards
        .iter()
        .flat_map(|h| safety_gate_risk_types(*h).iter().copied())
        .collect();
    risk_types.sort_unstable();
    risk_types.dedup();
    EuDoc {
        report_type: "eu_sbg_accident",
        schema_version: 1,
        reference: &input.reference,
        subject: input.subject,
        prepared_on: input.prepared_on.to_string(),
        date_operator_aware: ds(input.aware_on),
        economic_operator: firm_doc(&input.firm),
        product: EuProductDoc {
            category: p.category.as_deref(),
            description: &p.description,
            brand: &p.brand,
            model: &p.model,
            batch_numbers: &p.batches,
            serial_numbers: &p.serials,
            gtin: p.gtin.as_deref(),
            country_of_origin: p.country_of_origin.as_deref(),
            photos: &p.photos,
        },
        member_states_concerned: member_states_concerned(input),
        units_in_member_states: input
            .units_by_market
            .iter()
            .filter(|m| is_eu(&m.market))
            .collect(),
        accidents: input
            .incidents
            .iter()
            .map(|i| AccidentDoc {
                reference: &i.reference,
                date: ds(i.occurred_on),
                member_state: i.country.as_deref(),
                description: &i.description,
                hazards: &i.hazards,
                injury_level: i.injury,
                injury_description: i.injury_description.as_deref(),
                property_damage: i.property_damage,
            })
            .collect(),
        risk: RiskDoc {
            risk_types,
            hazard_codes: &input.hazards,
            description: &input.hazard_description,
            severity: input.severity,
        },
        measures_taken: input.corrective_action.as_ref().map(action_doc),
    }
}

fn finish<T: Serialize>(
    kind: ExportKind,
    doc: &T,
    schema_text: &str,
) -> Result<Export, ExportError> {
    let ser = |e: serde_json::Error| ExportError::Serialize {
        kind,
        message: e.to_string(),
    };
    let value = serde_json::to_value(doc).map_err(ser)?;
    let schema = Schema::parse(schema_text).map_err(|e| ExportError::Schema {
        kind,
        message: e.to_string(),
    })?;
    let violations = schema.validate(&value);
    if !violations.is_empty() {
        return Err(ExportError::Invalid { kind, violations });
    }
    let mut json = serde_json::to_string_pretty(doc).map_err(ser)?;
    json.push('\n');
    let csv = to_csv(&value);
    Ok(Export {
        kind,
        value,
        json,
        csv,
    })
}

/// The CPSC Section 15(b) report, validated against `schemas/cpsc_15b.schema.json`.
pub fn cpsc_15b(input: &ExportInput) -> Result<Export, ExportError> {
    finish(ExportKind::Cpsc15b, &cpsc_doc(input), CPSC_15B_SCHEMA)
}

/// The EU Safety Business Gateway accident notification (GPSR Art. 20), validated against
/// `schemas/eu_sbg_accident.schema.json`.
pub fn eu_sbg_accident(input: &ExportInput) -> Result<Export, ExportError> {
    finish(
        ExportKind::EuSbgAccident,
        &eu_doc(input),
        EU_SBG_ACCIDENT_SCHEMA,
    )
}

/// Either export by kind.
pub fn export(kind: ExportKind, input: &ExportInput) -> Result<Export, ExportError> {
    match kind {
        ExportKind::Cpsc15b => cpsc_15b(input),
        ExportKind::EuSbgAccident => eu_sbg_accident(input),
    }
}

// ---------------------------------------------------------------- CSV

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn flatten(path: &str, v: &serde_json::Value, rows: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(&p, &m[k], rows);
            }
        }
        Value::Array(a) if a.is_empty() => rows.push((path.to_string(), String::new())),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let parts: Vec<String> = a.iter().map(scalar).collect();
            rows.push((path.to_string(), parts.join("; ")));
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), x, rows);
            }
        }
        other => rows.push((path.to_string(), scalar(other))),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `field,value` rows of a JSON document (see [`Export::csv`]).
pub fn to_csv(v: &serde_json::Value) -> String {
    let mut rows = Vec::new();
    flatten("", v, &mut rows);
    let mut out = String::from("field,value\r\n");
    for (k, val) in rows {
        out.push_str(&csv_field(&k));
        out.push(',');
        out.push_str(&csv_field(&val));
        out.push_str("\r\n");
    }
    out
}
