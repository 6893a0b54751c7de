//! The audit log, its verification, and token administration.

use crate::AppState;
use crate::auth::Principal;
use crate::dto::*;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use firewatch_store::{Actor, AuditVerdict, EventFilter};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    entity: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<axum::Json<EventList>> {
    let events = state
        .store
        .list_events(&EventFilter {
            entity: q.entity,
            after_seq: q.after.unwrap_or(0),
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
        })
        .await?;
    Ok(axum::Json(EventList {
        events: events.iter().map(Event::from).collect(),
    }))
}

pub async fn verify(State(state): State<AppState>) -> ApiResult<axum::Json<AuditVerification>> {
    Ok(axum::Json(match state.store.verify_audit().await? {
        AuditVerdict::Ok { events } => AuditVerification {
            status: "ok".into(),
            events: Some(events),
            first_bad_seq: None,
            detail: format!("{events} events, chain intact"),
        },
        AuditVerdict::Broken(b) => AuditVerification {
            status: "broken".into(),
            events: None,
            first_bad_seq: Some(b.first_bad_seq()),
            detail: b.to_string(),
        },
    }))
}

pub async fn me(Extension(p): Extension<Principal>) -> axum::Json<Me> {
    axum::Json(Me {
        name: p.name,
        role: p.role.as_str().into(),
    })
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("token {id}")))?;
    state.store.revoke_token(id, &Actor(p.name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
