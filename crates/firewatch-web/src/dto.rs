//! Wire shapes of the JSON API. Kept apart from store records so that a refactor cannot
//! silently change the public JSON; the OpenAPI components are generated from these types.

use firewatch_store::{AttachmentRecord, CaseRecord, NoteRecord, ReportRecord};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The intake body (DESIGN section 6). Documented here for OpenAPI; the handler validates
/// the raw JSON itself so that every offending field is reported at once.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    /// 1..20000 characters.
    pub narrative: String,
    /// BCP 47 tag.
    pub language: Option<String>,
    pub product: Option<ProductIn>,
    /// RFC 3339.
    pub occurred_at: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub reporter: Option<ReporterIn>,
    /// none | minor | serious | fatal | unknown
    pub injuries: Option<String>,
    /// web | phone | email | social | news | regulator | api
    pub channel: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIn {
    pub brand: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// YYYY-MM-DD
    pub purchase_date: Option<String>,
    pub price: Option<PriceIn>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceIn {
    pub amount: f64,
    /// ISO 4217
    pub currency: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReporterIn {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HazardOut {
    /// A hazard code of DESIGN section 5, e.g. thermal.explosion.
    pub code: String,
    /// occurred | potential
    pub modality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IntakeResponse {
    pub report_id: String,
    pub case_id: String,
    /// The reference given to the reporter, e.g. FW-000123.
    pub reference: String,
    pub hazards: Vec<HazardOut>,
    /// S1..S4
    pub severity: String,
    pub attachment_ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CaseSummary {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub severity: String,
    pub hazards: Vec<String>,
    pub title: String,
    pub assignee: Option<String>,
    pub country: Option<String>,
    pub channel: String,
    pub product_brand: Option<String>,
    pub product_model: Option<String>,
    /// RFC 3339
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CaseList {
    pub cases: Vec<CaseSummary>,
    pub next_offset: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ReportOut {
    pub id: String,
    pub received_at: String,
    pub channel: String,
    pub narrative: String,
    pub language: Option<String>,
    pub country: Option<String>,
    pub occurred_at: Option<String>,
    pub injuries: String,
    pub severity: String,
    pub product: serde_json::Value,
    pub reporter: serde_json::Value,
    /// The stored triage result: hazards with evidence spans, products, language.
    pub triage: serde_json::Value,
    pub attachments: Vec<AttachmentOut>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AttachmentOut {
    pub id: String,
    pub media_type: String,
    pub size: i64,
    pub width: i64,
    pub height: i64,
    pub url: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Note {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub entity: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub hash: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EventList {
    pub events: Vec<Event>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseSummary,
    pub reports: Vec<ReportOut>,
    pub notes: Vec<Note>,
    pub timeline: Vec<Event>,
    pub allowed_transitions: Vec<String>,
    /// Playbook state (issue 5): clocks, remedies, escalations, tasks, custody, policy.
    #[serde(flatten)]
    pub playbook: serde_json::Map<String, serde_json::Value>,
    /// Social and news mentions linked to the case, and their escalations.
    #[serde(default)]
    pub mentions: Vec<crate::api::social::MentionOut>,
    #[serde(default)]
    pub mention_escalations: Vec<crate::api::social::EscalationOut>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// The target status.
    pub to: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// A user name, or null to unassign.
    pub assignee: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AuditVerification {
    /// ok | broken
    pub status: String,
    pub events: Option<u64>,
    pub first_bad_seq: Option<i64>,
    pub detail: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    pub name: String,
    pub role: String,
}

pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_default()
}

impl From<&CaseRecord> for CaseSummary {
    fn from(c: &CaseRecord) -> Self {
        CaseSummary {
            id: c.id.clone(),
            reference: c.reference(),
            status: c.status.as_str().into(),
            severity: c.severity.as_str().into(),
            hazards: c.hazards.clone(),
            title: c.title.clone(),
            assignee: c.assignee.clone(),
            country: c.country.clone(),
            channel: c.channel.clone(),
            product_brand: c.product_brand.clone(),
            product_model: c.product_model.clone(),
            created_at: rfc3339(c.created_at_ms),
            updated_at: rfc3339(c.updated_at_ms),
        }
    }
}

impl From<&NoteRecord> for Note {
    fn from(n: &NoteRecord) -> Self {
        Note {
            id: n.id,
            author: n.author.clone(),
            body: n.body.clone(),
            created_at: rfc3339(n.created_at_ms),
        }
    }
}

impl From<&AttachmentRecord> for AttachmentOut {
    fn from(a: &AttachmentRecord) -> Self {
        AttachmentOut {
            id: a.id.clone(),
            media_type: a.media_type.clone(),
            size: a.size,
            width: a.width,
            height: a.height,
            url: format!("/api/v1/attachments/{}", a.id),
        }
    }
}

impl From<&firewatch_domain::audit::ChainedEvent> for Event {
    fn from(e: &firewatch_domain::audit::ChainedEvent) -> Self {
        let parse = |s: &Option<String>| s.as_deref().and_then(|t| serde_json::from_str(t).ok());
        Event {
            seq: e.seq,
            at: rfc3339(e.at_ms),
            actor: e.actor.clone(),
            kind: e.kind.clone(),
            entity: e.entity.clone(),
            before: parse(&e.before),
            after: parse(&e.after),
            hash: e.hash.clone(),
        }
    }
}

pub fn report_out(r: &ReportRecord, attachments: Vec<AttachmentOut>) -> ReportOut {
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    ReportOut {
        id: r.id.clone(),
        received_at: rfc3339(r.received_at_ms),
        channel: r.channel.clone(),
        narrative: r.narrative.clone(),
        language: r.language.clone(),
        country: r.country.clone(),
        occurred_at: r.occurred_at.clone(),
        injuries: r.injuries.clone(),
        severity: r.severity.as_str().into(),
        product: parse(&r.product_json),
        reporter: parse(&r.reporter_json),
        triage: parse(&r.triage_json),
        attachments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_format_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_772_323_200_123), "2026-03-01T00:00:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }
}
