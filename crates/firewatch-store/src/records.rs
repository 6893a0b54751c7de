//! What the store takes and gives back. These are storage records, not wire DTOs: the
//! HTTP layer maps them to its own JSON shapes.

use firewatch_domain::intake::NewReport;
use firewatch_domain::{CaseStatus, Role, Severity};
use serde::{Deserialize, Serialize};

/// An attachment whose bytes are already durable in the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub sha256: String,
    pub clean_sha256: String,
    pub media_type: String,
    pub size: i64,
    pub width: i64,
    pub height: i64,
    pub filename: Option<String>,
}

/// Everything intake needs to persist one report.
#[derive(Debug, Clone)]
pub struct IntakeCommand {
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request's content, to tell a retry from a different request that
    /// reuses a key.
    pub request_hash: String,
    pub report: NewReport,
    /// Occurred hazard codes, as strings, for the case.
    pub hazards: Vec<String>,
    /// Every hazard found (occurred and potential), as answered to the caller.
    pub reported_hazards: Vec<ReceiptHazard>,
    /// The case's product (brand, model): the reporter's, else the one triage resolved.
    pub case_product: (Option<String>, Option<String>),
    /// The triage result as JSON, stored on the report.
    pub triage_json: String,
    pub severity: Severity,
    pub attachments: Vec<NewAttachment>,
    pub received_at_ms: i64,
    pub actor: super::Actor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptHazard {
    pub code: String,
    pub modality: String,
}

/// What the first successful intake answered; replayed for retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeReceipt {
    pub report_id: String,
    pub case_id: String,
    pub case_number: i64,
    pub hazards: Vec<String>,
    #[serde(default)]
    pub reported_hazards: Vec<ReceiptHazard>,
    pub severity: String,
    pub attachment_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    Created(IntakeReceipt),
    /// The same key with the same content: the first answer, nothing created.
    Replayed(IntakeReceipt),
    /// The same key with different content.
    KeyReused,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    pub id: String,
    pub number: i64,
    pub status: CaseStatus,
    pub severity: Severity,
    pub hazards: Vec<String>,
    pub title: String,
    pub assignee: Option<String>,
    pub country: Option<String>,
    pub channel: String,
    pub product_brand: Option<String>,
    pub product_model: Option<String>,
    pub reporter_handle: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl CaseRecord {
    /// Human reference given to reporters and used on the phone.
    pub fn reference(&self) -> String {
        format!("FW-{:06}", self.number)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportRecord {
    pub id: String,
    pub case_id: String,
    pub received_at_ms: i64,
    pub channel: String,
    pub narrative: String,
    pub language: Option<String>,
    pub country: Option<String>,
    pub occurred_at: Option<String>,
    pub injuries: String,
    pub product_json: String,
    pub reporter_json: String,
    pub triage_json: String,
    pub severity: Severity,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRecord {
    pub id: i64,
    pub case_id: String,
    pub author: String,
    pub body: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub id: String,
    pub report_id: String,
    pub sha256: String,
    pub clean_sha256: String,
    pub media_type: String,
    pub size: i64,
    pub width: i64,
    pub height: i64,
    pub filename: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub created_at_ms: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub user: String,
    pub label: Option<String>,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// The agents' queue filter. Built from typed values, never from SQL text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub severity: Option<Severity>,
    pub assignee: Option<String>,
    /// Only cases that are not resolved or closed.
    pub open_only: bool,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub entity: Option<String>,
    pub after_seq: i64,
    pub limit: u32,
}
