//! Cases: the queue, one case, transitions, notes, assignment and photos.

use super::ApiJson;
use crate::AppState;
use crate::auth::Principal;
use crate::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use firewatch_domain::{CaseStatus, Role, Severity};
use firewatch_store::{Actor, CaseFilter, EventFilter};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    status: Option<String>,
    severity: Option<String>,
    assignee: Option<String>,
    open: Option<bool>,
    limit: Option<u32>,
    offset: Option<u32>,
}

fn field_error(field: &str, message: String) -> ApiError {
    ApiError::validation(vec![firewatch_domain::intake::FieldError {
        field: field.into(),
        code: "value",
        message,
    }])
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> ApiResult<axum::Json<CaseList>> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = CaseFilter {
        status: q
            .status
            .map(|s| {
                s.parse::<CaseStatus>()
                    .map_err(|m| field_error("status", m))
            })
            .transpose()?,
        severity: q
            .severity
            .map(|s| {
                s.parse::<Severity>()
                    .map_err(|m| field_error("severity", m))
            })
            .transpose()?,
        assignee: q.assignee,
        open_only: q.open.unwrap_or(false),
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let cases = state.store.list_cases(&filter).await?;
    let next_offset = (cases.len() as u32 == limit).then(|| filter.offset + limit);
    Ok(axum::Json(CaseList {
        cases: cases.iter().map(CaseSummary::from).collect(),
        next_offset,
    }))
}

pub async fn detail(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<CaseDetail>> {
    let case = state
        .store
        .get_case(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id}")))?;
    let mut reports = Vec::new();
    for r in state.store.case_reports(&id).await? {
        let attachments = state.store.report_attachments(&r.id).await?;
        reports.push(report_out(
            &r,
            attachments.iter().map(AttachmentOut::from).collect(),
        ));
    }
    let notes = state.store.case_notes(&id).await?;
    let (mentions, escalations) = super::social::case_social(&state, &id).await?;
    let timeline = state
        .store
        .list_events(&EventFilter {
            entity: Some(format!("case:{id}")),
            after_seq: 0,
            limit: 1000,
        })
        .await?;
    let playbook = match state.store.playbooks().case_policy(&id).await? {
        Some(view) => super::playbooks::policy_parts(&view),
        None => Default::default(),
    };
    Ok(axum::Json(CaseDetail {
        allowed_transitions: case
            .status
            .allowed_next()
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        case: CaseSummary::from(&case),
        reports,
        notes: notes.iter().map(Note::from).collect(),
        timeline: timeline.iter().map(Event::from).collect(),
        playbook,
        mentions,
        mention_escalations: escalations,
    }))
}

pub async fn transition(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TransitionRequest>,
) -> ApiResult<axum::Json<CaseSummary>> {
    let to = body
        .to
        .parse::<CaseStatus>()
        .map_err(|m| field_error("to", m))?;
    let reason = body.reason.map(|r| r.chars().take(2000).collect());
    let case = state
        .store
        .transition_case(&id, to, reason, &Actor(p.name))
        .await?;
    Ok(axum::Json(CaseSummary::from(&case)))
}

pub async fn add_note(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NoteRequest>,
) -> ApiResult<(StatusCode, axum::Json<Note>)> {
    let text = body.body.trim();
    if text.is_empty() || text.chars().count() > 20_000 {
        return Err(field_error("body", "a note has 1..20000 characters".into()));
    }
    let note = state
        .store
        .add_note(&id, text.to_string(), &Actor(p.name))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(Note::from(&note))))
}

pub async fn assign(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> ApiResult<axum::Json<CaseSummary>> {
    if p.role == Role::Agent && body.assignee.as_deref() != Some(p.name.as_str()) {
        return Err(ApiError::forbidden(
            "an agent may only assign a case to themselves",
        ));
    }
    let case = state
        .store
        .assign_case(&id, body.assignee, &Actor(p.name))
        .await?;
    Ok(axum::Json(CaseSummary::from(&case)))
}

/// Serves the re-encoded copy (no EXIF/GPS) with its own content type, never sniffed.
pub async fn attachment(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let a = state
        .store
        .get_attachment(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("attachment {id}")))?;
    let blobs = state.blobs.clone();
    let sha = a.clean_sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&sha))
        .await
        .map_err(|e| ApiError::internal("blob read", e))?
        .map_err(|e| ApiError::internal("blob read", e))?
        .ok_or_else(|| {
            ApiError::internal("blob read", format!("blob {} missing", a.clean_sha256))
        })?;
    let ext = if a.media_type == "image/jpeg" {
        "jpg"
    } else {
        "png"
    };
    let disposition = format!("inline; filename=\"{}.{ext}\"", a.id);
    Ok((
        [
            (header::CONTENT_TYPE, a.media_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
