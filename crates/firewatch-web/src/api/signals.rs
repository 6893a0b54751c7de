//! Defect signals: the list with their statistics, one signal with its linked cases,
//! per-market figures, monthly observed vs expected counts and timeline, and lifecycle
//! transitions (safety, hq).

use super::ApiJson;
use super::products::signals_of;
use crate::AppState;
use crate::auth::Principal;
use crate::dto::{Event, TransitionRequest, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::signals::{MonthPoint, Snapshot, WINDOWS, WindowStats};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use firewatch_domain::intake::FieldError;
use firewatch_domain::{HazardCode, SignalStatus, check_signal_transition};
use firewatch_store::signals::{SignalFilter, SignalRecord};
use firewatch_store::{Actor, EventFilter, StoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalQuery {
    status: Option<String>,
    /// A product id, or its model (case-insensitive), or "brand model".
    product: Option<String>,
    hazard: Option<String>,
    market: Option<String>,
    window: Option<u32>,
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    market: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ProductRef {
    pub id: i64,
    pub brand: String,
    pub model: String,
    pub category: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SignalOut {
    pub id: String,
    pub number: i64,
    pub reference: String,
    pub product: ProductRef,
    pub hazard: String,
    #[schemars(with = "String")]
    pub status: SignalStatus,
    pub opened_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    #[schemars(with = "Vec<String>")]
    pub allowed_transitions: Vec<SignalStatus>,
    pub trigger: serde_json::Value,
    pub stats: Vec<WindowStats>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GpsOut {
    pub theta: [f64; 5],
    pub fitted: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SignalList {
    pub signals: Vec<SignalOut>,
    pub next_offset: Option<u32>,
    pub gps: GpsOut,
    pub maxsprt_critical_value: Option<f64>,
    #[schemars(with = "serde_json::Value")]
    pub thresholds: firewatch_policy::SignalThresholds,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LinkedCaseOut {
    pub case_id: String,
    pub reference: String,
    pub status: String,
    pub severity: String,
    pub title: String,
    pub report_id: String,
    pub market: String,
    pub received_on: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SignalDetail {
    #[serde(flatten)]
    pub signal: SignalOut,
    pub cases: Vec<LinkedCaseOut>,
    pub monthly: Vec<MonthPoint>,
    pub timeline: Vec<Event>,
    pub gps: GpsOut,
}

fn field_error(field: &str, message: String) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: "value",
        message,
    }])
}

fn market_param(m: Option<String>) -> ApiResult<Option<String>> {
    m.map(|m| {
        let m = m.trim().to_ascii_uppercase();
        if m.len() == 2 && m.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(m)
        } else {
            Err(field_error(
                "market",
                format!("`{m}` is not an ISO 3166-1 alpha-2 code"),
            ))
        }
    })
    .transpose()
}

fn day_string(day: i64) -> String {
    rfc3339(day * 86_400_000).chars().take(10).collect()
}

fn signal_out(s: &SignalRecord, stats: Vec<WindowStats>) -> SignalOut {
    SignalOut {
        id: s.id.clone(),
        number: s.number,
        reference: format!("SIG-{:06}", s.number),
        product: ProductRef {
            id: s.product_id,
            brand: s.brand.clone(),
            model: s.model.clone(),
            category: s.category.clone(),
        },
        hazard: s.hazard.clone(),
        status: s.status,
        opened_at: rfc3339(s.opened_at_ms),
        updated_at: rfc3339(s.updated_at_ms),
        closed_at: s.closed_at_ms.map(rfc3339),
        allowed_transitions: s.status.allowed_next().to_vec(),
        trigger: s.trigger.clone(),
        stats,
    }
}

fn gps_out(snap: &Snapshot) -> GpsOut {
    GpsOut {
        theta: snap.theta.to_array(),
        fitted: snap.theta_fitted,
    }
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<SignalQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<SignalList>> {
    let signals = signals_of(&state)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("bad-query", e.body_text()))?;
    let status = q
        .status
        .map(|s| {
            s.parse::<SignalStatus>()
                .map_err(|m| field_error("status", m))
        })
        .transpose()?;
    let hazard = q
        .hazard
        .map(|h| {
            // A code, or a hazard class (`class:thermal`), which is what signals are opened on.
            match firewatch_domain::HAZARD_CLASSES
                .iter()
                .find(|(c, _)| *c == h)
            {
                Some((c, _)) => Ok(c.to_string()),
                None => h
                    .parse::<HazardCode>()
                    .map(|c| c.as_str().to_string())
                    .map_err(|_| field_error("hazard", format!("unknown hazard code `{h}`"))),
            }
        })
        .transpose()?;
    let market = market_param(q.market)?;
    let windows: Vec<u32> = match q.window {
        None => WINDOWS.to_vec(),
        Some(w) if WINDOWS.contains(&w) => vec![w],
        Some(w) => {
            return Err(field_error(
                "window",
                format!("{w} is not one of 30, 90, 365"),
            ));
        }
    };
    let product_id = match q.product {
        None => None,
        Some(p) => {
            let p = p.trim().to_string();
            let products = signals.store.list_products().await?;
            let found = products.iter().find(|r| {
                p.parse::<i64>().ok() == Some(r.id)
                    || r.model.eq_ignore_ascii_case(&p)
                    || format!("{} {}", r.brand, r.model).eq_ignore_ascii_case(&p)
            });
            match found {
                Some(r) => Some(r.id),
                None => {
                    return Err(field_error(
                        "product",
                        format!("no product `{p}` in the catalog"),
                    ));
                }
            }
        }
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = SignalFilter {
        status,
        product_id,
        hazard,
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let records = signals.store.list_signals(&filter).await?;
    let snap = signals.snapshot().await?;
    let out = records
        .iter()
        .map(|s| {
            let stats = windows
                .iter()
                .map(|w| signals.stats(&snap, s.product_id, &s.hazard, *w, market.as_deref()))
                .collect();
            signal_out(s, stats)
        })
        .collect();
    Ok(axum::Json(SignalList {
        next_offset: (records.len() as u32 == limit).then(|| filter.offset + limit),
        signals: out,
        gps: gps_out(&snap),
        maxsprt_critical_value: signals.critical_value(),
        thresholds: signals.thresholds.clone(),
    }))
}

pub async fn detail(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    query: Result<Query<DetailQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<SignalDetail>> {
    let signals = signals_of(&state)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("bad-query", e.body_text()))?;
    let market = market_param(q.market)?;
    let s = signals
        .store
        .get_signal(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("signal {id}")))?;
    let snap = signals.snapshot().await?;
    let daily = signals.store.signal_counts(snap.today - 364).await?;
    let scopes: Vec<Option<String>> = match &market {
        Some(m) => vec![Some(m.clone())],
        None => std::iter::once(None)
            .chain(
                snap.markets_of(s.product_id, &s.hazard)
                    .into_iter()
                    .map(Some),
            )
            .collect(),
    };
    let mut stats = Vec::new();
    for w in WINDOWS {
        for m in &scopes {
            stats.push(signals.stats(&snap, s.product_id, &s.hazard, w, m.as_deref()));
        }
    }
    let cases = signals
        .store
        .signal_cases(s.product_id, &s.hazard, 500)
        .await?
        .into_iter()
        .map(|c| LinkedCaseOut {
            reference: format!("FW-{:06}", c.number),
            case_id: c.case_id,
            status: c.status.as_str().to_string(),
            severity: c.severity.as_str().to_string(),
            title: c.title,
            report_id: c.report_id,
            market: c.market,
            received_on: day_string(c.received_day),
        })
        .collect();
    let timeline = state
        .store
        .list_events(&EventFilter {
            entity: Some(format!("signal:{id}")),
            after_seq: 0,
            limit: 1000,
        })
        .await?;
    Ok(axum::Json(SignalDetail {
        monthly: snap.monthly(&daily, s.product_id, &s.hazard, market.as_deref()),
        gps: gps_out(&snap),
        signal: signal_out(&s, stats),
        cases,
        timeline: timeline.iter().map(Event::from).collect(),
    }))
}

pub async fn transition(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TransitionRequest>,
) -> ApiResult<axum::Json<SignalOut>> {
    let signals = signals_of(&state)?;
    let to = body
        .to
        .parse::<SignalStatus>()
        .map_err(|m| field_error("to", m))?;
    let current = signals
        .store
        .get_signal(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("signal {id}")))?;
    if let Err(e) = check_signal_transition(current.status, to) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "illegal-transition",
            "This status change is not allowed",
            e.to_string(),
        )
        .with("from", e.from)
        .with("to", e.to)
        .with("allowed", &e.allowed));
    }
    let reason = body.reason.map(|r| r.chars().take(2000).collect());
    let s = signals
        .store
        .transition_signal(&id, to, reason, &Actor(p.name))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::new(
                StatusCode::CONFLICT,
                "illegal-transition",
                "This status change is not allowed",
                m,
            ),
            other => ApiError::from(other),
        })?;
    Ok(axum::Json(signal_out(&s, Vec::new())))
}
