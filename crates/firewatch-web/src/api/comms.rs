//! Statements, recall notices and regulator exports on the API (issue 11, DESIGN C8):
//! admin-edited templates, the firm's profile, a subject's communication facts, statements
//! (draft, edit, approve, reject, publish, check), CPSC 15(b) and EU SBG exports, regulator
//! notifications (which stop the case's regulator clocks) and the printable dossier.
//!
//! The rules (who approves what, the checker gate, clocks) live in the store
//! (`firewatch_store::comms`); rendering, checking and exporting in `firewatch_comms`.

use super::ApiJson;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use firewatch_comms::dossier::{
    AuditStatus, DossierClock, DossierNotification, DossierRemedy, DossierReport, DossierStatement,
    DossierView, EvidenceHazard, Photo, TimelineEntry, narrative_segments, render_dossier,
};
use firewatch_comms::export::{ExportError, ExportKind};
use firewatch_comms::{Finding, Lang, TemplateKind, check_recall_notice};
use firewatch_domain::intake::FieldError;
use firewatch_store::comms::{
    CommsFacts, CommsProfile, NewNotification, NotificationRecord, REGULATORS, StatementRecord,
    SubjectRef, TemplateVersion, date_of_ms, export_input,
};
use firewatch_store::{Actor, AuditVerdict, EventFilter};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

fn field_error(field: &str, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code,
        message: message.into(),
    }])
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map(|m| Value::String(rfc3339(m))).unwrap_or(Value::Null)
}

fn today() -> jiff::civil::Date {
    date_of_ms(jiff::Timestamp::now().as_millisecond()).unwrap_or_default()
}

fn parse_kind(s: &str) -> ApiResult<TemplateKind> {
    s.parse().map_err(|_| {
        field_error(
            "kind",
            "value",
            format!(
                "unknown template kind `{s}` (customer_reply, public_statement, recall_notice)"
            ),
        )
    })
}

fn parse_lang(s: &str) -> ApiResult<Lang> {
    s.parse()
        .map_err(|e: firewatch_comms::UnsupportedLang| field_error("lang", "value", e.to_string()))
}

// ------------------------------------------------------------------------------ views

fn template_out(v: &TemplateVersion) -> Value {
    json!({"id": v.id, "kind": v.kind, "lang": v.lang, "body": v.body,
           "created_by": v.created_by, "created_at": rfc3339(v.created_at_ms)})
}

/// UTF-16 offset of byte offset `at` in `text` (what a browser's string indexes use).
fn utf16_at(text: &str, at: usize) -> usize {
    text.get(..at)
        .map(|s| s.encode_utf16().count())
        .unwrap_or(0)
}

/// Findings with their spans as byte offsets (`span`) and UTF-16 offsets (`span_utf16`,
/// for highlighting in the browser), and the text they point at.
pub fn findings_out(text: &str, findings: &[Finding]) -> Vec<Value> {
    findings
        .iter()
        .map(|f| {
            let mut v = json!({"rule": f.rule, "severity": f.severity, "message": f.message,
                               "span": f.span, "span_utf16": Value::Null, "excerpt": Value::Null});
            if let Some(s) = f.span {
                v["span_utf16"] =
                    json!({"start": utf16_at(text, s.start), "end": utf16_at(text, s.end)});
                v["excerpt"] = json!(text.get(s.start..s.end));
            }
            v
        })
        .collect()
}

fn statement_findings(s: &StatementRecord) -> Option<Vec<Value>> {
    (s.kind == TemplateKind::RecallNotice).then(|| {
        findings_out(
            &s.body,
            &check_recall_notice(&s.body, s.lang.as_str(), &s.facts),
        )
    })
}

pub fn statement_out(s: &StatementRecord) -> Value {
    json!({
        "id": s.id, "subject": s.subject.kind, "subject_id": s.subject.id, "kind": s.kind,
        "lang": s.lang, "requested_lang": s.requested_lang, "fell_back": s.fell_back,
        "template_id": s.template_id, "body": s.body, "version": s.version, "status": s.status,
        "facts": s.facts, "created_by": s.created_by, "created_at": rfc3339(s.created_at_ms),
        "updated_by": s.updated_by, "updated_at": rfc3339(s.updated_at_ms),
        "published_by": s.published_by, "published_at": opt_time(s.published_at_ms),
        "override_reason": s.override_reason, "approvals_missing": s.approvals_missing(),
        "approvals": s.approvals.iter().map(|a| json!({
            "version": a.version, "role": a.role, "actor": a.actor, "decision": a.decision,
            "reason": a.reason, "at": rfc3339(a.created_at_ms),
        })).collect::<Vec<_>>(),
        "findings": statement_findings(s),
    })
}

fn notification_out(n: &NotificationRecord) -> Value {
    json!({"id": n.id, "subject": n.subject.kind, "subject_id": n.subject.id,
           "regulator": n.regulator, "reference": n.reference, "submitted_by": n.submitted_by,
           "submitted_at": rfc3339(n.submitted_at_ms), "recorded_at": rfc3339(n.recorded_at_ms),
           "clocks_stopped": n.clocks_stopped})
}

// ------------------------------------------------------------------------------ templates

pub async fn list_templates(State(state): State<AppState>) -> ApiResult<axum::Json<Value>> {
    let t = state.store.comms().templates().await?;
    let stored = state.store.comms().stored_templates().await?;
    let entries: Vec<Value> = t
        .entries()
        .map(|e| {
            let version = stored
                .iter()
                .find(|s| s.kind == e.kind && s.lang == e.lang)
                .map(|s| s.id);
            json!({"kind": e.kind, "lang": e.lang, "builtin": e.builtin, "version": version, "body": e.source})
        })
        .collect();
    Ok(axum::Json(json!({"templates": entries})))
}

pub async fn get_template(
    State(state): State<AppState>,
    ApiPath((kind, lang)): ApiPath<(String, String)>,
) -> ApiResult<axum::Json<Value>> {
    let (kind, lang) = (parse_kind(&kind)?, parse_lang(&lang)?);
    let t = state.store.comms().templates().await?;
    let history = state.store.comms().template_history(kind, lang).await?;
    let body = t
        .get(kind, lang)
        .ok_or_else(|| ApiError::not_found(format!("template {kind}.{lang}")))?;
    Ok(axum::Json(json!({
        "kind": kind, "lang": lang, "body": body, "builtin": history.is_empty(),
        "builtin_body": firewatch_comms::builtin_template(kind, lang),
        "history": history.iter().map(template_out).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// The minijinja source; validated in the sandbox before it is stored.
    pub body: String,
}

pub async fn put_template(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((kind, lang)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<TemplateRequest>,
) -> ApiResult<axum::Json<Value>> {
    let (kind, lang) = (parse_kind(&kind)?, parse_lang(&lang)?);
    let v = state
        .store
        .comms()
        .put_template(kind, lang, req.body, &Actor(p.name))
        .await?;
    Ok(axum::Json(template_out(&v)))
}

// ------------------------------------------------------------------------------ profile, facts

pub async fn get_profile(State(state): State<AppState>) -> ApiResult<axum::Json<CommsProfile>> {
    Ok(axum::Json(state.store.comms().profile().await?))
}

fn from_body<T: serde::de::DeserializeOwned>(body: Value) -> ApiResult<T> {
    serde_json::from_value(body).map_err(|e| field_error("body", "value", e.to_string()))
}

pub async fn put_profile(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<axum::Json<CommsProfile>> {
    let profile: CommsProfile = from_body(body)?;
    Ok(axum::Json(
        state
            .store
            .comms()
            .put_profile(profile, &Actor(p.name))
            .await?,
    ))
}

async fn get_facts(state: &AppState, s: SubjectRef) -> ApiResult<axum::Json<CommsFacts>> {
    Ok(axum::Json(state.store.comms().facts(&s).await?))
}

async fn put_facts(
    state: &AppState,
    p: Principal,
    s: SubjectRef,
    body: Value,
) -> ApiResult<axum::Json<CommsFacts>> {
    let facts: CommsFacts = from_body(body)?;
    Ok(axum::Json(
        state
            .store
            .comms()
            .put_facts(&s, facts, &Actor(p.name))
            .await?,
    ))
}

pub async fn case_facts(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<CommsFacts>> {
    get_facts(&state, SubjectRef::case(id)).await
}

pub async fn signal_facts(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<CommsFacts>> {
    get_facts(&state, SubjectRef::signal(id)).await
}

pub async fn put_case_facts(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<axum::Json<CommsFacts>> {
    put_facts(&state, p, SubjectRef::case(id), body).await
}

pub async fn put_signal_facts(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<axum::Json<CommsFacts>> {
    put_facts(&state, p, SubjectRef::signal(id), body).await
}

// ------------------------------------------------------------------------------ statements

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementRequest {
    /// customer_reply | public_statement | recall_notice
    pub kind: String,
    /// BCP 47 tag; default: the report's language (English when no template exists in it).
    pub lang: Option<String>,
}

async fn draft(
    state: &AppState,
    p: Principal,
    s: SubjectRef,
    req: StatementRequest,
) -> ApiResult<Response> {
    let kind = parse_kind(&req.kind)?;
    let lang = match req.lang.map(|l| l.trim().to_string()) {
        Some(l) if l.is_empty() || l.len() > 35 => {
            return Err(field_error(
                "lang",
                "value",
                "lang is a BCP 47 tag such as fr or fr-BE",
            ));
        }
        other => other,
    };
    let st = state
        .store
        .comms()
        .draft_statement(&s, kind, lang, &Actor(p.name))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(statement_out(&st))).into_response())
}

pub async fn draft_case_statement(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StatementRequest>,
) -> ApiResult<Response> {
    draft(&state, p, SubjectRef::case(id), req).await
}

pub async fn draft_signal_statement(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StatementRequest>,
) -> ApiResult<Response> {
    draft(&state, p, SubjectRef::signal(id), req).await
}

async fn list(state: &AppState, s: SubjectRef) -> ApiResult<axum::Json<Value>> {
    let list = state.store.comms().list_statements(&s).await?;
    let notes = state.store.comms().list_notifications(&s).await?;
    Ok(axum::Json(json!({
        "statements": list.iter().map(statement_out).collect::<Vec<_>>(),
        "regulator_notifications": notes.iter().map(notification_out).collect::<Vec<_>>(),
    })))
}

pub async fn list_case_statements(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Value>> {
    state
        .store
        .get_case(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id}")))?;
    list(&state, SubjectRef::case(id)).await
}

pub async fn list_signal_statements(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Value>> {
    state.store.comms().facts(&SubjectRef::signal(&id)).await?;
    list(&state, SubjectRef::signal(id)).await
}

async fn load(state: &AppState, id: &str) -> ApiResult<StatementRecord> {
    state
        .store
        .comms()
        .get_statement(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("statement {id}")))
}

pub async fn get_statement(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(statement_out(&load(&state, &id).await?)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementEdit {
    /// The new text.
    pub body: String,
    /// The version being edited (409 if someone else edited it meanwhile).
    pub version: Option<i64>,
}

const MAX_BODY: usize = 64 * 1024;

pub async fn edit_statement(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StatementEdit>,
) -> ApiResult<axum::Json<Value>> {
    if req.body.trim().is_empty() || req.body.len() > MAX_BODY {
        return Err(field_error(
            "body",
            "value",
            format!("body needs 1..{MAX_BODY} bytes of text"),
        ));
    }
    let st = state
        .store
        .comms()
        .edit_statement(&id, req.body, req.version, &Actor(p.name))
        .await?;
    Ok(axum::Json(statement_out(&st)))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementDecision {
    pub reason: Option<String>,
}

fn reason(r: Option<String>) -> ApiResult<Option<String>> {
    match r.map(|r| r.trim().to_string()) {
        Some(r) if r.chars().count() > 4000 => Err(field_error(
            "reason",
            "too_long",
            "reason has at most 4000 characters",
        )),
        Some(r) if r.is_empty() => Ok(None),
        other => Ok(other),
    }
}

async fn decide(
    state: &AppState,
    p: Principal,
    id: &str,
    approve: bool,
    req: StatementDecision,
) -> ApiResult<axum::Json<Value>> {
    let st = state
        .store
        .comms()
        .decide_statement(id, p.role, approve, reason(req.reason)?, &Actor(p.name))
        .await?;
    Ok(axum::Json(statement_out(&st)))
}

pub async fn approve_statement(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StatementDecision>,
) -> ApiResult<axum::Json<Value>> {
    decide(&state, p, &id, true, req).await
}

pub async fn reject_statement(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StatementDecision>,
) -> ApiResult<axum::Json<Value>> {
    decide(&state, p, &id, false, req).await
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// hq only: publish a recall notice despite blocking checker findings, and why.
    pub override_reason: Option<String>,
}

pub async fn publish_statement(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<PublishRequest>,
) -> ApiResult<axum::Json<Value>> {
    let st = state
        .store
        .comms()
        .publish_statement(&id, p.role, reason(req.override_reason)?, &Actor(p.name))
        .await?;
    Ok(axum::Json(statement_out(&st)))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Check this text instead of the stored one (the editor's unsaved text).
    pub text: Option<String>,
}

/// The recall-notice checker on a statement (any kind is checked as a recall notice; for
/// other kinds only the minimising-language findings are returned).
pub async fn check_statement(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CheckRequest>,
) -> ApiResult<axum::Json<Value>> {
    let st = load(&state, &id).await?;
    let text = req.text.unwrap_or_else(|| st.body.clone());
    if text.len() > MAX_BODY {
        return Err(field_error("text", "too_long", "text is at most 64 KiB"));
    }
    let findings = if st.kind == TemplateKind::RecallNotice {
        check_recall_notice(&text, st.lang.as_str(), &st.facts)
    } else {
        firewatch_comms::find_minimising_language(&text, st.lang.as_str())
    };
    let blocking = findings
        .iter()
        .filter(|f| f.severity == firewatch_comms::FindingSeverity::Error)
        .count();
    Ok(axum::Json(json!({
        "statement_id": st.id, "kind": st.kind, "lang": st.lang, "text": text,
        "blocking": blocking, "findings": findings_out(&text, &findings),
    })))
}

// ------------------------------------------------------------------------------ exports

fn parse_export(file: &str) -> ApiResult<(ExportKind, &'static str)> {
    let (name, format) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::not_found(format!("export {file}")))?;
    let kind = match name {
        "cpsc-15b" => ExportKind::Cpsc15b,
        "eu-sbg" => ExportKind::EuSbgAccident,
        _ => {
            return Err(ApiError::not_found(format!(
                "export {file} (cpsc-15b or eu-sbg)"
            )));
        }
    };
    let format = match format {
        "json" => "json",
        "csv" => "csv",
        _ => {
            return Err(ApiError::not_found(format!(
                "export {file} (.json or .csv)"
            )));
        }
    };
    Ok((kind, format))
}

async fn export(state: &AppState, p: Principal, s: SubjectRef, file: &str) -> ApiResult<Response> {
    let (kind, format) = parse_export(file)?;
    let data = state.store.comms().subject_data(&s).await?;
    let input = export_input(&data, today());
    let e = match firewatch_comms::export::export(kind, &input) {
        Ok(e) => e,
        Err(err @ ExportError::Invalid { .. }) => {
            let violations: Vec<Value> = match &err {
                ExportError::Invalid { violations, .. } => violations
                    .iter()
                    .map(|v| json!({"field": v.field, "message": v.message}))
                    .collect(),
                _ => Vec::new(),
            };
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "export-incomplete",
                "The export is incomplete",
                format!(
                    "{err}; fill the firm profile (PUT /api/v1/comms/profile) and the {} facts",
                    s.kind.as_str()
                ),
            )
            .with("export", kind.as_str())
            .with("fields", err.fields())
            .with("violations", violations));
        }
        Err(other) => return Err(ApiError::internal("export", other)),
    };
    let body = if format == "json" { e.json } else { e.csv };
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    };
    state
        .store
        .comms()
        .record_export(&s, kind.as_str(), format, &sha, &Actor(p.name))
        .await?;
    let content_type = if format == "json" {
        "application/json"
    } else {
        "text/csv; charset=utf-8"
    };
    let disposition = format!(
        "attachment; filename=\"{}-{}.{format}\"",
        data.reference,
        file.rsplit_once('.').map(|(n, _)| n).unwrap_or("export")
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

pub async fn export_case(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((id, file)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    export(&state, p, SubjectRef::case(id), &file).await
}

pub async fn export_signal(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((id, file)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    export(&state, p, SubjectRef::signal(id), &file).await
}

// ------------------------------------------------------------------------------ notifications

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    /// cpsc | eu_sbg | health_canada | other
    pub regulator: String,
    /// The regulator's reference for the submission.
    pub reference: String,
    /// RFC 3339; default now.
    pub submitted_at: Option<String>,
}

async fn submit(
    state: &AppState,
    p: Principal,
    s: SubjectRef,
    req: NotificationRequest,
) -> ApiResult<Response> {
    let mut errors = Vec::new();
    let regulator = req.regulator.trim().to_string();
    if !REGULATORS.contains(&regulator.as_str()) {
        errors.push(FieldError {
            field: "regulator".into(),
            code: "value",
            message: format!("regulator is one of {}", REGULATORS.join(", ")),
        });
    }
    let reference = req.reference.trim().to_string();
    if reference.is_empty() || reference.chars().count() > 200 {
        errors.push(FieldError {
            field: "reference".into(),
            code: "value",
            message: "reference needs 1..200 characters".into(),
        });
    }
    let submitted_at_ms = match req
        .submitted_at
        .as_deref()
        .map(str::parse::<jiff::Timestamp>)
    {
        None => None,
        Some(Ok(t)) => Some(t.as_millisecond()),
        Some(Err(_)) => {
            errors.push(FieldError {
                field: "submitted_at".into(),
                code: "format",
                message: "submitted_at is an RFC 3339 time".into(),
            });
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let n = state
        .store
        .comms()
        .mark_submitted(
            &s,
            NewNotification {
                regulator,
                reference,
                submitted_at_ms,
            },
            &Actor(p.name),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(notification_out(&n))).into_response())
}

pub async fn submit_case_notification(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<NotificationRequest>,
) -> ApiResult<Response> {
    submit(&state, p, SubjectRef::case(id), req).await
}

pub async fn submit_signal_notification(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<NotificationRequest>,
) -> ApiResult<Response> {
    submit(&state, p, SubjectRef::signal(id), req).await
}

// ------------------------------------------------------------------------------ dossier

pub async fn dossier_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        firewatch_comms::dossier::DOSSIER_CSS,
    )
        .into_response()
}

fn summary_of(after: Option<&str>) -> Option<String> {
    let v: Value = serde_json::from_str(after?).ok()?;
    let mut parts = Vec::new();
    if let Value::Object(m) = &v {
        for (k, val) in m {
            if k == "body" {
                continue;
            }
            let s = match val {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            parts.push(format!("{k}: {s}"));
        }
    }
    let mut s = parts.join(", ");
    if s.chars().count() > 240 {
        s = s.chars().take(240).collect::<String>() + "…";
    }
    (!s.is_empty()).then_some(s)
}

fn evidence_of(narrative: &str, triage_json: &str) -> (Vec<EvidenceHazard>, Vec<(usize, usize)>) {
    let v: Value = serde_json::from_str(triage_json).unwrap_or_default();
    let mut hazards = Vec::new();
    let mut spans = Vec::new();
    for h in v["hazards"].as_array().into_iter().flatten() {
        let mut evidence = Vec::new();
        for e in h["evidence"].as_array().into_iter().flatten() {
            let text = e["text"].as_str().unwrap_or_default().to_string();
            if let (Some(s), Some(t)) = (e["start"].as_u64(), e["end"].as_u64()) {
                let (s, t) = (s as usize, t as usize);
                if narrative.get(s..t) == Some(text.as_str()) {
                    spans.push((s, t));
                }
            }
            evidence.push(text);
        }
        hazards.push(EvidenceHazard {
            code: h["code"].as_str().unwrap_or_default().to_string(),
            modality: h["modality"].as_str().unwrap_or_default().to_string(),
            evidence,
        });
    }
    (hazards, spans)
}

/// The printable dossier of a case: HTML with a linked print stylesheet.
pub async fn dossier(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let case = state
        .store
        .get_case(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id}")))?;
    let reports = state.store.case_reports(&id).await?;
    let policy = state.store.playbooks().case_policy(&id).await?;
    let subject = SubjectRef::case(&id);
    let statements = state.store.comms().list_statements(&subject).await?;
    let notifications = state.store.comms().list_notifications(&subject).await?;
    let mut events = Vec::new();
    let mut after_seq = 0;
    loop {
        let page = state
            .store
            .list_events(&EventFilter {
                entity: Some(subject.entity()),
                after_seq,
                limit: 1000,
            })
            .await?;
        let n = page.len();
        if let Some(last) = page.last() {
            after_seq = last.seq;
        }
        events.extend(page);
        if n < 1000 || events.len() >= 20_000 {
            break;
        }
    }
    let audit = match state.store.verify_audit().await? {
        AuditVerdict::Ok { events } => AuditStatus {
            ok: true,
            summary: format!("verified, {events} events, chain intact"),
        },
        AuditVerdict::Broken(b) => AuditStatus {
            ok: false,
            summary: format!("BROKEN: {b}"),
        },
    };
    let mut dossier_reports = Vec::with_capacity(reports.len());
    for r in &reports {
        let (hazards, spans) = evidence_of(&r.narrative, &r.triage_json);
        let photos = state
            .store
            .report_attachments(&r.id)
            .await?
            .into_iter()
            .map(|a| Photo {
                url: format!("/api/v1/attachments/{}", a.id),
                caption: format!(
                    "{} ({}×{})",
                    a.filename.clone().unwrap_or_else(|| a.id.clone()),
                    a.width,
                    a.height
                ),
            })
            .collect();
        dossier_reports.push(DossierReport {
            id: r.id.clone(),
            received_at: rfc3339(r.received_at_ms),
            channel: r.channel.clone(),
            language: r.language.clone(),
            country: r.country.clone(),
            injuries: r.injuries.clone(),
            segments: narrative_segments(&r.narrative, &spans),
            hazards,
            photos,
        });
    }
    let view = DossierView {
        reference: case.reference(),
        title: case.title.clone(),
        status: case.status.as_str().to_string(),
        severity: case.severity.as_str().to_string(),
        product: [case.product_brand.clone(), case.product_model.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        country: case.country.clone(),
        channel: case.channel.clone(),
        assignee: case.assignee.clone(),
        created_at: rfc3339(case.created_at_ms),
        hazards: case.hazards.clone(),
        audit,
        generated_at: jiff::Timestamp::now().to_string(),
        generated_by: p.name,
        stylesheet: "/static/dossier.css".into(),
        clocks: policy
            .as_ref()
            .map(|v| {
                v.clocks
                    .iter()
                    .map(|c| DossierClock {
                        name: c.name.clone(),
                        kind: c.kind.clone(),
                        state: c.state.clone(),
                        started_at: rfc3339(c.started_at_ms),
                        deadline: c.deadline_ms.map(rfc3339),
                        reference: c.reference.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        reports: dossier_reports,
        remedies: policy
            .as_ref()
            .map(|v| {
                v.remedies
                    .iter()
                    .map(|r| DossierRemedy {
                        kind: r.kind.to_string(),
                        customer_pays_percent: r.customer_pays_percent,
                        status: r.status.as_str().to_string(),
                        proposed_by: r.proposed_by.clone(),
                        decisions: r
                            .approvals
                            .iter()
                            .map(|a| {
                                format!("{} by {} ({}): {}", a.decision, a.actor, a.role, a.reason)
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        statements: statements
            .iter()
            .map(|s| DossierStatement {
                kind: s.kind.to_string(),
                lang: s.lang.to_string(),
                status: s.status.as_str().to_string(),
                version: s.version,
                published_at: s.published_at_ms.map(rfc3339),
                published_by: s.published_by.clone(),
                body: s.body.clone(),
            })
            .collect(),
        notifications: notifications
            .iter()
            .map(|n| DossierNotification {
                regulator: n.regulator.clone(),
                reference: n.reference.clone(),
                submitted_at: rfc3339(n.submitted_at_ms),
                submitted_by: n.submitted_by.clone(),
                clocks_stopped: n.clocks_stopped.clone(),
            })
            .collect(),
        timeline: events
            .iter()
            .map(|e| TimelineEntry {
                seq: e.seq,
                at: rfc3339(e.at_ms),
                actor: e.actor.clone(),
                kind: e.kind.clone(),
                summary: summary_of(e.after.as_deref()),
            })
            .collect(),
    };
    let html = render_dossier(&view).map_err(|e| ApiError::internal("dossier", e))?;
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    Ok(resp)
}
