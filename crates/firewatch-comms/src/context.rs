//! What a template is filled from: a case ([`CaseContext`]) or a signal ([`SignalContext`]).
//!
//! Free-text fields (`hazard_description`, `what_to_do`, `summary`, remedy `details`) are
//! inserted verbatim: pass them in the language of the template being rendered. Hazard
//! labels, remedy phrases and dates are localised by this crate.

use crate::Lang;
use crate::vocab::{RemedyKind, hazard_label, long_date};
use firewatch_domain::HazardCode;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// How a product is identified to the public.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInfo {
    pub brand: String,
    pub model: String,
    /// A few words on what the product is ("20,000 mAh power bank").
    pub description: Option<String>,
    /// Batch or lot numbers affected.
    #[serde(default)]
    pub batches: Vec<String>,
    /// Serial numbers or serial ranges affected.
    #[serde(default)]
    pub serials: Vec<String>,
    /// GTIN / EAN / UPC barcode, when there is one.
    pub gtin: Option<String>,
    /// A public URL of a picture of the product.
    pub picture_url: Option<String>,
    /// When and where it was sold.
    pub sold_from: Option<Date>,
    pub sold_to: Option<Date>,
    /// ISO 3166-1 alpha-2 markets.
    #[serde(default)]
    pub markets: Vec<String>,
}

/// Whom the public contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub organisation: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
    /// Opening hours, free text in the template's language.
    pub hours: Option<String>,
}

/// The remedy offered. Only cost-free kinds exist here: a remedy the customer pays for is
/// refused upstream by the playbook (DESIGN C4), and the checker flags cost wording.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedy {
    pub kinds: Vec<RemedyKind>,
    /// How to obtain it (free text, template language): "free collection by courier".
    pub details: Option<String>,
}

/// A case, as seen by a customer reply, a public statement or a recall notice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseContext {
    /// The case reference shown to the public.
    pub reference: String,
    /// The firm speaking (maker, importer, retailer).
    pub firm: String,
    /// The customer's name, for replies.
    pub customer_name: Option<String>,
    pub product: ProductInfo,
    #[serde(default)]
    pub hazards: Vec<HazardCode>,
    /// Plain-language description of the hazard.
    pub hazard_description: String,
    /// What the reader must do now ("Stop using the power bank and unplug it").
    pub what_to_do: String,
    pub remedy: Remedy,
    pub contact: Contact,
    /// What happened / what the firm is doing (public statements).
    pub summary: Option<String>,
    pub reported_on: Option<Date>,
    pub incident_on: Option<Date>,
    pub published_on: Option<Date>,
}

/// A defect signal (a pattern across cases), as seen by a public statement or recall notice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalContext {
    pub reference: String,
    pub firm: String,
    pub product: ProductInfo,
    #[serde(default)]
    pub hazards: Vec<HazardCode>,
    pub hazard_description: String,
    pub what_to_do: String,
    pub remedy: Remedy,
    pub contact: Contact,
    pub summary: Option<String>,
    /// Units affected (from exposure).
    pub units_affected: Option<u64>,
    /// Incidents known.
    pub incident_count: Option<u64>,
    pub published_on: Option<Date>,
    /// Until when the recall runs.
    pub recall_until: Option<Date>,
}

/// What a template renders: a case or a signal.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Case(&'a CaseContext),
    Signal(&'a SignalContext),
}

impl<'a> From<&'a CaseContext> for Subject<'a> {
    fn from(c: &'a CaseContext) -> Self {
        Subject::Case(c)
    }
}

impl<'a> From<&'a SignalContext> for Subject<'a> {
    fn from(s: &'a SignalContext) -> Self {
        Subject::Signal(s)
    }
}

// ---- the template view (see README "Template variables") ----

#[derive(Serialize)]
pub(crate) struct View<'a> {
    subject: &'static str,
    lang: &'static str,
    reference: &'a str,
    firm: &'a str,
    customer: Option<CustomerView<'a>>,
    product: ProductView<'a>,
    hazards: Vec<HazardView>,
    hazard_labels: Vec<&'static str>,
    hazard_description: &'a str,
    what_to_do: &'a str,
    remedy: RemedyView<'a>,
    contact: &'a Contact,
    summary: Option<&'a str>,
    units_affected: Option<u64>,
    incident_count: Option<u64>,
    dates: DatesView,
}

#[derive(Serialize)]
struct CustomerView<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct ProductView<'a> {
    name: String,
    brand: &'a str,
    model: &'a str,
    description: Option<&'a str>,
    batches: &'a [String],
    serials: &'a [String],
    gtin: Option<&'a str>,
    picture_url: Option<&'a str>,
    sold_from: Option<String>,
    sold_to: Option<String>,
    markets: &'a [String],
}

#[derive(Serialize)]
struct HazardView {
    code: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct RemedyView<'a> {
    kinds: Vec<&'static str>,
    labels: Vec<&'static str>,
    details: Option<&'a str>,
}

#[derive(Serialize)]
struct DatesView {
    reported: Option<String>,
    incident: Option<String>,
    published: Option<String>,
    recall_until: Option<String>,
}

fn product_view(p: &ProductInfo, lang: Lang) -> ProductView<'_> {
    ProductView {
        name: format!("{} {}", p.brand.trim(), p.model.trim())
            .trim()
            .to_string(),
        brand: &p.brand,
        model: &p.model,
        description: p.description.as_deref(),
        batches: &p.batches,
        serials: &p.serials,
        gtin: p.gtin.as_deref(),
        picture_url: p.picture_url.as_deref(),
        sold_from: p.sold_from.map(|d| long_date(d, lang)),
        sold_to: p.sold_to.map(|d| long_date(d, lang)),
        markets: &p.markets,
    }
}

fn remedy_view(r: &Remedy, lang: Lang) -> RemedyView<'_> {
    RemedyView {
        kinds: r.kinds.iter().map(|k| k.as_str()).collect(),
        labels: r.kinds.iter().map(|k| k.label(lang)).collect(),
        details: r.details.as_deref(),
    }
}

fn hazards_view(h: &[HazardCode], lang: Lang) -> Vec<HazardView> {
    h.iter()
        .map(|c| HazardView {
            code: c.as_str(),
            label: hazard_label(*c, lang),
        })
        .collect()
}

impl<'a> View<'a> {
    pub(crate) fn new(subject: Subject<'a>, lang: Lang) -> View<'a> {
        let d = |o: Option<Date>| o.map(|d| long_date(d, lang));
        match subject {
            Subject::Case(c) => View {
                subject: "case",
                lang: lang.as_str(),
                reference: &c.reference,
                firm: &c.firm,
                customer: c.customer_name.as_deref().map(|name| CustomerView { name }),
                product: product_view(&c.product, lang),
                hazard_labels: c.hazards.iter().map(|h| hazard_label(*h, lang)).collect(),
                hazards: hazards_view(&c.hazards, lang),
                hazard_description: &c.hazard_description,
                what_to_do: &c.what_to_do,
                remedy: remedy_view(&c.remedy, lang),
                contact: &c.contact,
                summary: c.summary.as_deref(),
                units_affected: None,
                incident_count: None,
                dates: DatesView {
                    reported: d(c.reported_on),
                    incident: d(c.incident_on),
                    published: d(c.published_on),
                    recall_until: None,
                },
            },
            Subject::Signal(s) => View {
                subject: "signal",
                lang: lang.as_str(),
                reference: &s.reference,
                firm: &s.firm,
                customer: None,
                product: product_view(&s.product, lang),
                hazard_labels: s.hazards.iter().map(|h| hazard_label(*h, lang)).collect(),
                hazards: hazards_view(&s.hazards, lang),
                hazard_description: &s.hazard_description,
                what_to_do: &s.what_to_do,
                remedy: remedy_view(&s.remedy, lang),
                contact: &s.contact,
                summary: s.summary.as_deref(),
                units_affected: s.units_affected,
                incident_count: s.incident_count,
                dates: DatesView {
                    reported: None,
                    incident: None,
                    published: d(s.published_on),
                    recall_until: d(s.recall_until),
                },
            },
        }
    }
}

/// The sample case every template is test-rendered against before [`crate::Templates::set`]
/// accepts it (all optional fields filled).
pub fn sample_case() -> CaseContext {
    CaseContext {
        reference: "FW-2026-000123".into(),
        firm: "Voltra Devices SAS".into(),
        customer_name: Some("Alex Martin".into()),
        product: ProductInfo {
            brand: "Voltra".into(),
            model: "PB-20K".into(),
            description: Some("20,000 mAh power bank".into()),
            batches: vec!["L2405".into(), "L2406".into()],
            serials: vec!["VPB20K2405000001 to VPB20K2406099999".into()],
            gtin: Some("3700000000017".into()),
            picture_url: Some("https://example.invalid/img/pb-20k.jpg".into()),
            sold_from: Some(jiff::civil::date(2024, 6, 1)),
            sold_to: Some(jiff::civil::date(2025, 3, 31)),
            markets: vec!["FR".into(), "BE".into(), "DE".into()],
        },
        hazards: vec![HazardCode::ThermalOverheating, HazardCode::ThermalFire],
        hazard_description: "The battery can overheat while charging and catch fire.".into(),
        what_to_do: "Stop using the power bank now and do not charge it.".into(),
        remedy: Remedy {
            kinds: vec![RemedyKind::Refund, RemedyKind::Replacement],
            details: Some("We send you a prepaid return box.".into()),
        },
        contact: Contact {
            organisation: "Voltra Devices SAS".into(),
            phone: Some("+33 1 23 45 67 89".into()),
            email: Some("recall@voltra.example".into()),
            url: Some("https://voltra.example/recall".into()),
            hours: Some("Monday to Saturday, 8:00 to 20:00".into()),
        },
        summary: Some("A customer reported that the power bank caught fire while charging.".into()),
        reported_on: Some(jiff::civil::date(2026, 11, 2)),
        incident_on: Some(jiff::civil::date(2026, 11, 1)),
        published_on: Some(jiff::civil::date(2026, 11, 20)),
    }
}

/// The sample signal (all optional fields filled), built from [`sample_case`].
pub fn sample_signal() -> SignalContext {
    let c = sample_case();
    SignalContext {
        reference: "SIG-2026-0042".into(),
        firm: c.firm,
        product: c.product,
        hazards: c.hazards,
        hazard_description: c.hazard_description,
        what_to_do: c.what_to_do,
        remedy: c.remedy,
        contact: c.contact,
        summary: c.summary,
        units_affected: Some(48_200),
        incident_count: Some(7),
        published_on: c.published_on,
        recall_until: Some(jiff::civil::date(2027, 11, 20)),
    }
}

/// A sparse case: only required fields, every `Option` empty and every list empty. Templates
/// must render it too (guard optional fields with `{% if %}`).
pub fn sparse_case() -> CaseContext {
    CaseContext {
        reference: "FW-2026-000124".into(),
        firm: "Voltra Devices SAS".into(),
        product: ProductInfo {
            brand: "Voltra".into(),
            model: "PB-20K".into(),
            ..ProductInfo::default()
        },
        hazard_description: "The battery can overheat.".into(),
        what_to_do: "Stop using the product.".into(),
        contact: Contact {
            organisation: "Voltra".into(),
            ..Contact::default()
        },
        ..CaseContext::default()
    }
}
