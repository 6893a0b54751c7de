//! Statements, recall notices and regulator notifications in the store (issue 11, DESIGN
//! C8), behind their own narrow trait ([`CommsStore`], reached with `store.comms()`).
//!
//! Rendering, checking and exporting are pure ([`firewatch_comms`]); the store keeps the
//! template versions an admin saved (validated in the sandbox before they are stored), the
//! firm's profile, the facts a case's or signal's communications need, the statements with
//! their versions and approvals, and the notifications marked as submitted to a regulator.
//! Every change writes its audit event in the same transaction.
//!
//! Approvals (decided here, enforced in [`required_approvals`]):
//! - public statements and recall notices need an approval by `pr` AND one by `hq` on the
//!   current version of the text; only `pr` or `hq` may publish them;
//! - customer replies need one approval by any of `agent`, `supervisor`, `safety`, `hq`; the
//!   same roles may publish them;
//! - an edit makes a new version: earlier approvals no longer count; a rejection sends the
//!   statement back to the author (status `rejected`) until it is edited;
//! - a recall notice is published only when the recall-notice checker finds no error, or
//!   with an `hq` override that states a reason (stored on the statement and in the event).
//!
//! Marking a notification submitted to the case's market regulator ([`regulator_for_market`])
//! stops the case's running regulator clocks and completes its `regulator_report` task in the
//! same transaction, so the scheduler cannot breach them afterwards. A submission to another
//! regulator is recorded and stops nothing; so is a signal's (signals have no clocks).

use crate::{Actor, ReportRecord, Result};
use async_trait::async_trait;
use firewatch_comms::export::{
    CorrectiveAction, ExportInput, ExportProduct, ExportSubject, Firm, Incident, MarketUnits, Price,
};
use firewatch_comms::{
    CaseContext, Contact, Lang, NoticeFacts, ProductInfo, Remedy, RemedyKind, SignalContext,
    TemplateKind,
};
use firewatch_domain::{HazardCode, InjuryLevel, Role, Severity};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// What a statement, its facts or a notification is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Case,
    Signal,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Case => "case",
            SubjectKind::Signal => "signal",
        }
    }
}

impl FromStr for SubjectKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "case" => Ok(SubjectKind::Case),
            "signal" => Ok(SubjectKind::Signal),
            other => Err(format!("unknown subject `{other}`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRef {
    pub kind: SubjectKind,
    pub id: String,
}

impl SubjectRef {
    pub fn case(id: impl Into<String>) -> SubjectRef {
        SubjectRef {
            kind: SubjectKind::Case,
            id: id.into(),
        }
    }
    pub fn signal(id: impl Into<String>) -> SubjectRef {
        SubjectRef {
            kind: SubjectKind::Signal,
            id: id.into(),
        }
    }
    /// The audit-log entity (`case:ID`, `signal:ID`): statement events are on their
    /// subject, so the case's timeline shows them.
    pub fn entity(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
    }
}

impl fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.id)
    }
}

/// One stored (admin-saved) template version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateVersion {
    pub id: i64,
    pub kind: TemplateKind,
    pub lang: Lang,
    pub body: String,
    pub created_by: String,
    pub created_at_ms: i64,
}

/// The firm speaking and its public contact (installation settings, admin-edited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommsProfile {
    /// Name, role, address and the person regulators talk to (exports).
    pub firm: Firm,
    /// Whom the public contacts (statements and recall notices).
    pub contact: Contact,
}

/// Product details beyond the catalog row, for notices and exports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactsProduct {
    pub description: Option<String>,
    pub batches: Vec<String>,
    pub serials: Vec<String>,
    pub date_codes: Vec<String>,
    pub gtin: Option<String>,
    /// A public picture of the product (recall notices).
    pub picture_url: Option<String>,
    /// Public photo URLs for the regulator; the picture is used when empty.
    pub photos: Vec<String>,
    pub sold_from: Option<Date>,
    pub sold_to: Option<Date>,
    pub manufactured_from: Option<Date>,
    pub manufactured_to: Option<Date>,
    pub country_of_origin: Option<String>,
    /// Markets where it was sold; exposure markets when empty.
    pub markets: Vec<String>,
}

/// What a case's or signal's communications say beyond the triage facts (edited by safety,
/// hq or pr). Free texts are written in the language of the statements drafted from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommsFacts {
    /// Plain-language description of the hazard.
    pub hazard_description: String,
    /// What the reader must do now.
    pub what_to_do: String,
    pub summary: Option<String>,
    pub product: FactsProduct,
    /// The remedy offered; the case's allowed or approved free remedies when absent.
    pub remedy: Option<Remedy>,
    /// Decided measures (exports refuse while absent, naming the field).
    pub corrective_action: Option<CorrectiveAction>,
    /// Report id -> what happened in the firm's words (exports; no personal data).
    pub incident_descriptions: BTreeMap<String, String>,
    pub recall_until: Option<Date>,
}

/// Everything the store knows about a case or signal that statements and exports need.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectData {
    pub subject: SubjectRef,
    /// `FW-000123` or `SIG-000007`.
    pub reference: String,
    /// When the firm knew (case creation, signal opening).
    pub aware_at_ms: i64,
    pub brand: String,
    pub model: String,
    pub category: Option<String>,
    pub price: Option<(f64, String)>,
    pub hazards: Vec<HazardCode>,
    pub severity: Option<Severity>,
    /// Reports of the case, or of the signal's cases, oldest first.
    pub reports: Vec<ReportRecord>,
    pub customer_name: Option<String>,
    /// Units sold per market (exposure), market order.
    pub units_by_market: Vec<(String, u64)>,
    /// Free remedy kinds allowed or approved on the case.
    pub remedy_kinds: Vec<RemedyKind>,
    pub facts: CommsFacts,
    pub profile: CommsProfile,
}

impl SubjectData {
    /// The language of the first report that names one (the report's language).
    pub fn report_language(&self) -> Option<&str> {
        self.reports.iter().find_map(|r| r.language.as_deref())
    }
}

/// A statement's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementStatus {
    Draft,
    Rejected,
    Published,
}

impl StatementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementStatus::Draft => "draft",
            StatementStatus::Rejected => "rejected",
            StatementStatus::Published => "published",
        }
    }
}

impl FromStr for StatementStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "draft" => Ok(StatementStatus::Draft),
            "rejected" => Ok(StatementStatus::Rejected),
            "published" => Ok(StatementStatus::Published),
            other => Err(format!("unknown statement status `{other}`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementApproval {
    pub id: i64,
    pub version: i64,
    pub role: String,
    pub actor: String,
    /// approved | rejected
    pub decision: String,
    pub reason: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementRecord {
    pub id: String,
    pub subject: SubjectRef,
    pub kind: TemplateKind,
    /// The template language used.
    pub lang: Lang,
    pub requested_lang: Option<String>,
    pub fell_back: bool,
    /// The stored template version used; None = the built-in default.
    pub template_id: Option<i64>,
    pub body: String,
    pub version: i64,
    pub status: StatementStatus,
    /// What the recall-notice checker checks the text against.
    pub facts: NoticeFacts,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_by: String,
    pub updated_at_ms: i64,
    pub published_by: Option<String>,
    pub published_at_ms: Option<i64>,
    pub override_reason: Option<String>,
    /// Every decision, oldest first (all versions).
    pub approvals: Vec<StatementApproval>,
}

impl StatementRecord {
    /// Roles whose approval of the current version is still missing (empty = publishable
    /// as far as approvals go).
    pub fn approvals_missing(&self) -> Vec<&'static str> {
        let current: Vec<&str> = self
            .approvals
            .iter()
            .filter(|a| a.version == self.version && a.decision == "approved")
            .map(|a| a.role.as_str())
            .collect();
        match required_approvals(self.kind) {
            Approvals::AllOf(roles) => roles
                .iter()
                .filter(|r| !current.contains(&r.as_str()))
                .map(|r| r.as_str())
                .collect(),
            Approvals::AnyOf(roles) => {
                if roles.iter().any(|r| current.contains(&r.as_str())) {
                    Vec::new()
                } else {
                    vec!["any of agent, supervisor, safety, hq"]
                }
            }
        }
    }
}

/// Which approvals a kind of statement needs before it is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approvals {
    /// One approval by each of these roles.
    AllOf(&'static [Role]),
    /// One approval by any of these roles.
    AnyOf(&'static [Role]),
}

impl Approvals {
    pub fn roles(self) -> &'static [Role] {
        match self {
            Approvals::AllOf(r) | Approvals::AnyOf(r) => r,
        }
    }
}

pub fn required_approvals(kind: TemplateKind) -> Approvals {
    match kind {
        TemplateKind::CustomerReply => {
            Approvals::AnyOf(&[Role::Agent, Role::Supervisor, Role::Safety, Role::Hq])
        }
        TemplateKind::PublicStatement | TemplateKind::RecallNotice => {
            Approvals::AllOf(&[Role::Pr, Role::Hq])
        }
    }
}

/// Who may publish a statement of this kind (once approved).
pub fn may_publish(kind: TemplateKind, role: Role) -> bool {
    match kind {
        TemplateKind::CustomerReply => {
            matches!(
                role,
                Role::Agent | Role::Supervisor | Role::Safety | Role::Hq
            )
        }
        TemplateKind::PublicStatement | TemplateKind::RecallNotice => {
            matches!(role, Role::Pr | Role::Hq)
        }
    }
}

/// A notification marked as submitted to a regulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationRecord {
    pub id: i64,
    pub subject: SubjectRef,
    pub regulator: String,
    pub reference: String,
    pub submitted_by: String,
    pub submitted_at_ms: i64,
    pub recorded_at_ms: i64,
    /// The regulator clocks this submission stopped.
    pub clocks_stopped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// cpsc | eu_sbg | health_canada | other
    pub regulator: String,
    pub reference: String,
    /// When it was submitted (defaults to now).
    pub submitted_at_ms: Option<i64>,
}

/// The regulators a notification may name.
pub const REGULATORS: [&str; 4] = ["cpsc", "eu_sbg", "health_canada", "other"];

/// The regulator whose deadline a case's regulator clock counts, by the case's market
/// (ISO 3166-1 alpha-2): US -> `cpsc`, CA -> `health_canada`, EU/EEA -> `eu_sbg`; `None`
/// for other or unknown markets, where any submission stops the clock.
pub fn regulator_for_market(country: Option<&str>) -> Option<&'static str> {
    let c = country?.trim().to_ascii_uppercase();
    match c.as_str() {
        "US" => Some("cpsc"),
        "CA" => Some("health_canada"),
        _ if firewatch_comms::export::EU_EEA.contains(&c.as_str()) => Some("eu_sbg"),
        _ => None,
    }
}

#[async_trait]
pub trait CommsStore: Send + Sync {
    /// The newest stored version per (kind, lang); built-ins are not listed.
    async fn stored_templates(&self) -> Result<Vec<TemplateVersion>>;
    /// Every stored version of (kind, lang), oldest first.
    async fn template_history(
        &self,
        kind: TemplateKind,
        lang: Lang,
    ) -> Result<Vec<TemplateVersion>>;
    /// The registry in force: built-ins with the stored versions on top (a stored version
    /// that no longer validates is logged and the built-in stays).
    async fn templates(&self) -> Result<firewatch_comms::Templates>;
    /// Validates `body` in the sandbox (refused with 422 `invalid-template`, naming the
    /// template and line; nothing stored) and stores it as the new version.
    async fn put_template(
        &self,
        kind: TemplateKind,
        lang: Lang,
        body: String,
        actor: &Actor,
    ) -> Result<TemplateVersion>;

    async fn profile(&self) -> Result<CommsProfile>;
    async fn put_profile(&self, profile: CommsProfile, actor: &Actor) -> Result<CommsProfile>;
    async fn facts(&self, subject: &SubjectRef) -> Result<CommsFacts>;
    async fn put_facts(
        &self,
        subject: &SubjectRef,
        facts: CommsFacts,
        actor: &Actor,
    ) -> Result<CommsFacts>;
    /// The case or signal with its reports, exposure, remedies, facts and the profile.
    async fn subject_data(&self, subject: &SubjectRef) -> Result<SubjectData>;

    /// Renders the template of `kind` in `lang` (default: the report's language, English
    /// when there is no template in it) and stores the draft.
    async fn draft_statement(
        &self,
        subject: &SubjectRef,
        kind: TemplateKind,
        lang: Option<String>,
        actor: &Actor,
    ) -> Result<StatementRecord>;
    async fn get_statement(&self, id: &str) -> Result<Option<StatementRecord>>;
    async fn list_statements(&self, subject: &SubjectRef) -> Result<Vec<StatementRecord>>;
    /// A new version of the text (draft or rejected statements only). `expected_version`,
    /// when given, must be the current one (409 otherwise).
    async fn edit_statement(
        &self,
        id: &str,
        body: String,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<StatementRecord>;
    /// Approves (or rejects) the current version in `role`.
    async fn decide_statement(
        &self,
        id: &str,
        role: Role,
        approve: bool,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<StatementRecord>;
    /// Publishes an approved statement (recall notices: checker clean, or an hq override).
    async fn publish_statement(
        &self,
        id: &str,
        role: Role,
        override_reason: Option<String>,
        actor: &Actor,
    ) -> Result<StatementRecord>;
    /// Records that an export was generated (audit only).
    async fn record_export(
        &self,
        subject: &SubjectRef,
        export: &str,
        format: &str,
        sha256: &str,
        actor: &Actor,
    ) -> Result<()>;
    /// Marks a notification submitted and stops the case's regulator clocks.
    async fn mark_submitted(
        &self,
        subject: &SubjectRef,
        notification: NewNotification,
        actor: &Actor,
    ) -> Result<NotificationRecord>;
    async fn list_notifications(&self, subject: &SubjectRef) -> Result<Vec<NotificationRecord>>;
}

// ------------------------------------------------------------------ pure builders

/// The UTC calendar date of a unix-millisecond time.
pub fn date_of_ms(ms: i64) -> Option<Date> {
    let epoch = Date::new(1970, 1, 1).ok()?;
    epoch
        .checked_add(jiff::Span::new().days(ms.div_euclid(86_400_000)))
        .ok()
}

/// `2024-06-01`, `2024-06-01T10:00:00Z`: the date part.
fn date_prefix(s: &str) -> Option<Date> {
    s.get(..10).and_then(|d| d.parse().ok())
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn markets(d: &SubjectData) -> Vec<String> {
    if !d.facts.product.markets.is_empty() {
        return d.facts.product.markets.clone();
    }
    d.units_by_market
        .iter()
        .filter(|(_, u)| *u > 0)
        .map(|(m, _)| m.clone())
        .collect()
}

fn product_info(d: &SubjectData) -> ProductInfo {
    let p = &d.facts.product;
    ProductInfo {
        brand: d.brand.clone(),
        model: d.model.clone(),
        description: non_empty(&p.description),
        batches: p.batches.clone(),
        serials: p.serials.clone(),
        gtin: non_empty(&p.gtin),
        picture_url: non_empty(&p.picture_url),
        sold_from: p.sold_from,
        sold_to: p.sold_to,
        markets: markets(d),
    }
}

fn remedy(d: &SubjectData) -> Remedy {
    d.facts.remedy.clone().unwrap_or_else(|| Remedy {
        kinds: d.remedy_kinds.clone(),
        details: None,
    })
}

/// What a template renders for this subject.
#[derive(Debug, Clone, PartialEq)]
pub enum SubjectContext {
    Case(CaseContext),
    Signal(SignalContext),
}

impl SubjectContext {
    pub fn as_subject(&self) -> firewatch_comms::Subject<'_> {
        match self {
            SubjectContext::Case(c) => firewatch_comms::Subject::Case(c),
            SubjectContext::Signal(s) => firewatch_comms::Subject::Signal(s),
        }
    }

    pub fn notice_facts(&self) -> NoticeFacts {
        match self {
            SubjectContext::Case(c) => NoticeFacts::from(c),
            SubjectContext::Signal(s) => NoticeFacts::from(s),
        }
    }
}

/// The template context of a case or signal.
pub fn template_context(d: &SubjectData) -> SubjectContext {
    let f = &d.facts;
    match d.subject.kind {
        SubjectKind::Case => SubjectContext::Case(CaseContext {
            reference: d.reference.clone(),
            firm: d.profile.firm.name.clone(),
            customer_name: d.customer_name.clone(),
            product: product_info(d),
            hazards: d.hazards.clone(),
            hazard_description: f.hazard_description.clone(),
            what_to_do: f.what_to_do.clone(),
            remedy: remedy(d),
            contact: d.profile.contact.clone(),
            summary: non_empty(&f.summary),
            reported_on: date_of_ms(d.aware_at_ms),
            incident_on: d
                .reports
                .iter()
                .find_map(|r| r.occurred_at.as_deref().and_then(date_prefix)),
            published_on: None,
        }),
        SubjectKind::Signal => SubjectContext::Signal(SignalContext {
            reference: d.reference.clone(),
            firm: d.profile.firm.name.clone(),
            product: product_info(d),
            hazards: d.hazards.clone(),
            hazard_description: f.hazard_description.clone(),
            what_to_do: f.what_to_do.clone(),
            remedy: remedy(d),
            contact: d.profile.contact.clone(),
            summary: non_empty(&f.summary),
            units_affected: Some(d.units_by_market.iter().map(|(_, u)| *u).sum()),
            incident_count: Some(d.reports.len() as u64),
            published_on: None,
            recall_until: f.recall_until,
        }),
    }
}

fn report_hazards(r: &ReportRecord, fallback: &[HazardCode]) -> Vec<HazardCode> {
    let triage: serde_json::Value = serde_json::from_str(&r.triage_json).unwrap_or_default();
    let found: Vec<HazardCode> = triage["hazards"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter(|h| h["modality"] == "occurred")
                .filter_map(|h| h["code"].as_str().and_then(|c| c.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    if found.is_empty() {
        fallback.to_vec()
    } else {
        found
    }
}

/// The input of both regulator exports for this subject, `today` being the caller's date.
pub fn export_input(d: &SubjectData, today: Date) -> ExportInput {
    let f = &d.facts;
    let p = &f.product;
    let photos = if p.photos.is_empty() {
        non_empty(&p.picture_url).into_iter().collect()
    } else {
        p.photos.clone()
    };
    let incidents = d
        .reports
        .iter()
        .map(|r| {
            let hazards = report_hazards(r, &d.hazards);
            let injury = r.injuries.parse().unwrap_or(InjuryLevel::Unknown);
            let description = f
                .incident_descriptions
                .get(&r.id)
                .cloned()
                .unwrap_or_else(|| {
                    let labels: Vec<&str> = hazards
                        .iter()
                        .map(|h| firewatch_comms::hazard_label(*h, Lang::En))
                        .collect();
                    if labels.is_empty() {
                        "Incident reported by a consumer.".to_string()
                    } else {
                        format!("Incident reported by a consumer: {}.", labels.join(", "))
                    }
                });
            Incident {
                reference: r.id.clone(),
                occurred_on: r.occurred_at.as_deref().and_then(date_prefix),
                country: r.country.clone(),
                description,
                property_damage: hazards.contains(&HazardCode::DamageProperty),
                hazards,
                injury,
                injury_description: None,
            }
        })
        .collect();
    ExportInput {
        reference: d.reference.clone(),
        subject: match d.subject.kind {
            SubjectKind::Case => ExportSubject::Case,
            SubjectKind::Signal => ExportSubject::Signal,
        },
        prepared_on: today,
        aware_on: date_of_ms(d.aware_at_ms),
        firm: d.profile.firm.clone(),
        product: ExportProduct {
            brand: d.brand.clone(),
            model: d.model.clone(),
            description: non_empty(&p.description).unwrap_or_default(),
            category: d.category.clone().filter(|c| !c.is_empty()),
            batches: p.batches.clone(),
            serials: p.serials.clone(),
            date_codes: p.date_codes.clone(),
            gtin: non_empty(&p.gtin),
            manufactured_from: p.manufactured_from,
            manufactured_to: p.manufactured_to,
            sold_from: p.sold_from,
            sold_to: p.sold_to,
            price: d
                .price
                .clone()
                .map(|(amount, currency)| Price { amount, currency }),
            country_of_origin: non_empty(&p.country_of_origin),
            photos,
        },
        units_by_market: d
            .units_by_market
            .iter()
            .map(|(market, units)| MarketUnits {
                market: market.clone(),
                units: *units,
            })
            .collect(),
        hazards: d.hazards.clone(),
        hazard_description: f.hazard_description.clone(),
        severity: d.severity,
        incidents,
        corrective_action: f.corrective_action.clone(),
    }
}

/// Free remedy kinds of firewatch-comms for the playbook's remedy kinds (discounts and
/// goodwill gestures are not recall remedies).
pub fn comms_remedy(kind: firewatch_policy::RemedyKind) -> Option<RemedyKind> {
    match kind {
        firewatch_policy::RemedyKind::Refund => Some(RemedyKind::Refund),
        firewatch_policy::RemedyKind::Replacement => Some(RemedyKind::Replacement),
        firewatch_policy::RemedyKind::Repair => Some(RemedyKind::Repair),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: TemplateKind, approvals: &[(i64, &str, &str)]) -> StatementRecord {
        StatementRecord {
            id: "s".into(),
            subject: SubjectRef::case("c"),
            kind,
            lang: Lang::En,
            requested_lang: None,
            fell_back: false,
            template_id: None,
            body: String::new(),
            version: 2,
            status: StatementStatus::Draft,
            facts: NoticeFacts::default(),
            created_by: "a".into(),
            created_at_ms: 0,
            updated_by: "a".into(),
            updated_at_ms: 0,
            published_by: None,
            published_at_ms: None,
            override_reason: None,
            approvals: approvals
                .iter()
                .enumerate()
                .map(|(i, (v, role, decision))| StatementApproval {
                    id: i as i64,
                    version: *v,
                    role: role.to_string(),
                    actor: "x".into(),
                    decision: decision.to_string(),
                    reason: None,
                    created_at_ms: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn public_statements_need_pr_and_hq_on_the_current_version() {
        let k = TemplateKind::PublicStatement;
        assert_eq!(record(k, &[]).approvals_missing(), vec!["pr", "hq"]);
        assert_eq!(
            record(k, &[(2, "pr", "approved")]).approvals_missing(),
            vec!["hq"]
        );
        // An approval of an earlier version does not count.
        assert_eq!(
            record(k, &[(1, "hq", "approved"), (2, "pr", "approved")]).approvals_missing(),
            vec!["hq"]
        );
        assert!(
            record(
                TemplateKind::RecallNotice,
                &[(2, "hq", "approved"), (2, "pr", "approved")]
            )
            .approvals_missing()
            .is_empty()
        );
    }

    #[test]
    fn customer_replies_need_one_casework_approval() {
        let k = TemplateKind::CustomerReply;
        assert_eq!(record(k, &[]).approvals_missing().len(), 1);
        assert_eq!(
            record(k, &[(2, "pr", "approved")])
                .approvals_missing()
                .len(),
            1
        );
        assert!(
            record(k, &[(2, "agent", "approved")])
                .approvals_missing()
                .is_empty()
        );
    }

    #[test]
    fn market_regulators() {
        assert_eq!(regulator_for_market(Some("us")), Some("cpsc"));
        assert_eq!(regulator_for_market(Some("CA")), Some("health_canada"));
        assert_eq!(regulator_for_market(Some("FR")), Some("eu_sbg"));
        assert_eq!(regulator_for_market(Some("NO")), Some("eu_sbg"));
        assert_eq!(regulator_for_market(Some("IN")), None);
        assert_eq!(regulator_for_market(None), None);
    }

    #[test]
    fn publishers_by_kind() {
        assert!(may_publish(TemplateKind::RecallNotice, Role::Pr));
        assert!(may_publish(TemplateKind::RecallNotice, Role::Hq));
        assert!(!may_publish(TemplateKind::RecallNotice, Role::Agent));
        assert!(may_publish(TemplateKind::CustomerReply, Role::Agent));
        assert!(!may_publish(TemplateKind::CustomerReply, Role::Pr));
    }

    #[test]
    fn export_input_maps_reports_and_facts() {
        let report = ReportRecord {
            id: "r1".into(),
            case_id: "c1".into(),
            received_at_ms: 0,
            channel: "web".into(),
            narrative: "x".into(),
            language: Some("fr".into()),
            country: Some("FR".into()),
            occurred_at: Some("2026-03-04T10:00:00Z".into()),
            injuries: "minor".into(),
            product_json: "{}".into(),
            reporter_json: "{}".into(),
            triage_json: r#"{"hazards":[{"code":"thermal.fire","modality":"occurred"},{"code":"damage.property","modality":"occurred"},{"code":"thermal.smoke","modality":"potential"}]}"#.into(),
            severity: Severity::S1,
            idempotency_key: None,
        };
        let d = SubjectData {
            subject: SubjectRef::case("c1"),
            reference: "FW-000001".into(),
            aware_at_ms: 1_772_000_000_000,
            brand: "Acme".into(),
            model: "X1".into(),
            category: Some(String::new()),
            price: Some((799.0, "EUR".into())),
            hazards: vec![HazardCode::ThermalFire],
            severity: Some(Severity::S1),
            reports: vec![report],
            customer_name: None,
            units_by_market: vec![("FR".into(), 10)],
            remedy_kinds: vec![RemedyKind::Replacement],
            facts: CommsFacts {
                product: FactsProduct {
                    picture_url: Some("https://example.test/x1.jpg".into()),
                    ..FactsProduct::default()
                },
                ..CommsFacts::default()
            },
            profile: CommsProfile::default(),
        };
        let today: Date = "2026-03-05".parse().unwrap();
        let e = export_input(&d, today);
        assert_eq!(e.prepared_on, today);
        assert_eq!(e.aware_on, Some("2026-02-25".parse().unwrap()));
        assert_eq!(e.product.category, None, "empty category is omitted");
        assert_eq!(e.product.photos, vec!["https://example.test/x1.jpg"]);
        let i = &e.incidents[0];
        assert_eq!(
            i.hazards,
            vec![HazardCode::ThermalFire, HazardCode::DamageProperty]
        );
        assert!(i.property_damage);
        assert_eq!(i.injury, InjuryLevel::Minor);
        assert_eq!(i.occurred_on, Some("2026-03-04".parse().unwrap()));
        assert!(
            i.description
                .starts_with("Incident reported by a consumer: ")
        );
        match template_context(&d) {
            SubjectContext::Case(c) => {
                assert_eq!(c.remedy.kinds, vec![RemedyKind::Replacement]);
                assert_eq!(c.product.markets, vec!["FR"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
