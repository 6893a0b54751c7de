//! Social and news watch: `GET /api/v1/mentions` (filters: product, hazard, case, minimum
//! forecast) and `GET /api/v1/connectors` (admins: cursor, last event, errors). The mentions of
//! a case are also in its detail (`CaseDetail.mentions`).

use crate::AppState;
use crate::dto::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use axum::extract::State;
use firewatch_store::social::{ConnectorRecord, EscalationRecord, MentionFilter, MentionRecord};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MentionQuery {
    /// `Brand Model`, or the model alone.
    pub product: Option<String>,
    /// A hazard code (e.g. `fire`).
    pub hazard: Option<String>,
    pub case: Option<String>,
    /// Minimum predicted final reshares.
    pub min_forecast: Option<f64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct MentionHazard {
    pub code: String,
    pub modality: String,
}

/// A SEISMIC forecast of the final number of reshares, with its 90% interval. `null` bounds
/// mean infinite (supercritical).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ForecastOut {
    pub predicted_final: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Probability that the final size passes the reach threshold.
    pub p_exceed: f64,
    pub infinite: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct MentionOut {
    pub post_id: String,
    pub case_id: String,
    pub source: String,
    pub author: String,
    pub followers: Option<i64>,
    pub text: String,
    pub url: Option<String>,
    pub lang: Option<String>,
    /// RFC 3339
    pub created_at: String,
    pub product: String,
    pub hazards: Vec<MentionHazard>,
    /// reporter_handle | similar_open_case | new_case
    pub link_reason: String,
    pub engagements: i64,
    pub forecast: Option<ForecastOut>,
    pub escalated_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct MentionList {
    pub mentions: Vec<MentionOut>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EscalationOut {
    pub id: i64,
    pub post_id: String,
    pub roles: Vec<String>,
    pub reason: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConnectorOut {
    pub name: String,
    pub cursor: Option<String>,
    pub last_event_at: Option<String>,
    pub events: i64,
    pub errors: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConnectorList {
    pub connectors: Vec<ConnectorOut>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl From<&MentionRecord> for MentionOut {
    fn from(m: &MentionRecord) -> Self {
        MentionOut {
            post_id: m.post_id.clone(),
            case_id: m.case_id.clone(),
            source: m.source.clone(),
            author: m.author.clone(),
            followers: m.followers,
            text: m.text.clone(),
            url: m.url.clone(),
            lang: m.lang.clone(),
            created_at: rfc3339(m.created_at_us / 1000),
            product: format!("{} {}", m.product_brand, m.product_model),
            hazards: m
                .hazards
                .iter()
                .map(|h| MentionHazard {
                    code: h.code.clone(),
                    modality: h.modality.clone(),
                })
                .collect(),
            link_reason: m.link_reason.clone(),
            engagements: m.engagements,
            forecast: m.forecast.map(|f| ForecastOut {
                predicted_final: finite(f.predicted_final),
                lower: finite(f.lower),
                upper: finite(f.upper),
                p_exceed: f.p_exceed,
                infinite: f.infinite,
            }),
            escalated_at: m.escalated_at_ms.map(rfc3339),
        }
    }
}

impl From<&EscalationRecord> for EscalationOut {
    fn from(e: &EscalationRecord) -> Self {
        EscalationOut {
            id: e.id,
            post_id: e.post_id.clone(),
            roles: e.roles.clone(),
            reason: serde_json::from_str(&e.reason).unwrap_or(serde_json::Value::Null),
            created_at: rfc3339(e.created_at_ms),
        }
    }
}

impl From<&ConnectorRecord> for ConnectorOut {
    fn from(c: &ConnectorRecord) -> Self {
        ConnectorOut {
            name: c.name.clone(),
            cursor: c.cursor.clone(),
            last_event_at: c.last_event_at_ms.map(rfc3339),
            events: c.events,
            errors: c.errors,
            last_error: c.last_error.clone(),
            last_error_at: c.last_error_at_ms.map(rfc3339),
            updated_at: rfc3339(c.updated_at_ms),
        }
    }
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::validation(vec![firewatch_domain::intake::FieldError {
        field: field.into(),
        code: "value",
        message: message.into(),
    }])
}

pub async fn mentions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MentionQuery>,
) -> ApiResult<axum::Json<MentionList>> {
    let short = |field: &str, v: Option<String>| -> ApiResult<Option<String>> {
        match v {
            Some(s) if s.is_empty() || s.len() > 200 => {
                Err(bad(field, "must have 1..200 characters"))
            }
            other => Ok(other),
        }
    };
    if let Some(m) = q.min_forecast
        && !(m.is_finite() && m >= 0.0)
    {
        return Err(bad("min_forecast", "must be a finite number >= 0"));
    }
    let filter = MentionFilter {
        product: short("product", q.product)?,
        hazard: short("hazard", q.hazard)?,
        case_id: short("case", q.case)?,
        min_forecast: q.min_forecast,
        limit: q.limit.unwrap_or(100).clamp(1, 500),
    };
    let list = state.store.list_mentions(&filter).await?;
    Ok(axum::Json(MentionList {
        mentions: list.iter().map(MentionOut::from).collect(),
    }))
}

pub async fn connectors(State(state): State<AppState>) -> ApiResult<axum::Json<ConnectorList>> {
    let list = state.store.list_connectors().await?;
    Ok(axum::Json(ConnectorList {
        connectors: list.iter().map(ConnectorOut::from).collect(),
    }))
}

/// The case detail's social part.
pub async fn case_social(
    state: &AppState,
    case_id: &str,
) -> ApiResult<(Vec<MentionOut>, Vec<EscalationOut>)> {
    let mentions = state
        .store
        .list_mentions(&MentionFilter {
            case_id: Some(case_id.to_string()),
            limit: 500,
            ..MentionFilter::default()
        })
        .await?;
    let escalations = state.store.case_escalations(case_id).await?;
    Ok((
        mentions.iter().map(MentionOut::from).collect(),
        escalations.iter().map(EscalationOut::from).collect(),
    ))
}
