//! Playbooks on the API (issue 5): remedies and approvals, escalations, tasks, chain of
//! custody, the case's policy view (clocks, remedies with the policy's answer, escalations,
//! tasks, blockers), the playbook admin routes and the notification dead-letter queue.

use super::ApiJson;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use firewatch_domain::intake::FieldError;
use firewatch_policy::{Level, Location, PlaybookError, RemedyKind, TaskKind};
use firewatch_store::Actor;
use firewatch_store::playbooks::{
    ActivePlaybook, CasePolicyView, ClockRecord, JobRecord, NewCustody, NewRemedy, ProposeOutcome,
    PutPlaybook, RemedyRecord, RemedyStatus,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.into(),
        code: "value",
        message: message.into(),
    }])
}

fn rfc3339(ms: i64) -> Value {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| Value::String(t.to_string()))
        .unwrap_or(Value::Null)
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map(rfc3339).unwrap_or(Value::Null)
}

fn text_field(field: &str, value: Option<String>, max: usize) -> ApiResult<Option<String>> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if v.chars().count() > max => Err(field_error(
            field,
            format!("{field} has at most {max} characters"),
        )),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn required_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(field_error(
            field,
            format!("{field} needs 1..{max} characters"),
        ));
    }
    Ok(v.to_string())
}

// ------------------------------------------------------------------------------ views

/// One clock as the API shows it: its own deadline, the time remaining and its state.
pub fn clock_out(c: &ClockRecord, now_ms: i64) -> Value {
    let remaining = match (c.state.as_str(), c.deadline_ms) {
        ("running", Some(d)) => Some((d - now_ms) / 1000),
        ("breached", Some(d)) => Some((d - now_ms).min(0) / 1000),
        _ => None,
    };
    json!({
        "name": c.name, "kind": c.kind, "basis": c.basis, "duration": c.duration,
        "pausable": c.pausable, "calendar": c.calendar, "rule_id": c.rule_id,
        "reference": c.reference, "started_at": rfc3339(c.started_at_ms),
        "deadline": opt_time(c.deadline_ms), "remaining_seconds": remaining,
        "overdue": c.state == "running" && c.deadline_ms.is_some_and(|d| d <= now_ms),
        "state": c.state, "breached_at": opt_time(c.breached_at_ms),
    })
}

pub fn remedy_out(r: &RemedyRecord) -> Value {
    json!({
        "id": r.id, "case_id": r.case_id, "kind": r.kind, "customer_pays_percent": r.customer_pays_percent,
        "amount": r.amount, "note": r.note, "status": r.status, "policy": r.decision,
        "rule_id": r.rule_id, "approvals_needed": r.approvals_needed, "proposed_by": r.proposed_by,
        "created_at": rfc3339(r.created_at_ms), "updated_at": rfc3339(r.updated_at_ms),
        "approvals": r.approvals.iter().map(|a| json!({
            "actor": a.actor, "role": a.role, "decision": a.decision, "exception": a.exception,
            "rule_id": a.rule_id, "reason": a.reason, "at": rfc3339(a.created_at_ms),
        })).collect::<Vec<_>>(),
    })
}

/// The policy parts of the case detail (clocks, remedies, escalations, tasks, custody,
/// blockers, allowed remedies, the matched rules and their trace).
pub fn policy_parts(v: &CasePolicyView) -> Map<String, Value> {
    let now = jiff::Timestamp::now().as_millisecond();
    let mut m = Map::new();
    m.insert(
        "clocks".into(),
        v.clocks.iter().map(|c| clock_out(c, now)).collect(),
    );
    m.insert(
        "remedies".into(),
        v.remedies.iter().map(remedy_out).collect(),
    );
    m.insert(
        "escalations".into(),
        v.escalations
            .iter()
            .map(|e| {
                json!({"from_level": e.from_level, "level": e.level, "reason": e.reason, "cause": e.cause,
                       "actor": e.actor, "at": rfc3339(e.created_at_ms)})
            })
            .collect(),
    );
    m.insert(
        "tasks".into(),
        v.tasks
            .iter()
            .map(|t| {
                json!({"task": t.task, "rule_id": t.rule_id, "status": t.status, "note": t.note,
                       "completed_by": t.completed_by, "completed_at": opt_time(t.completed_at_ms)})
            })
            .collect(),
    );
    m.insert(
        "custody".into(),
        v.custody
            .iter()
            .map(|c| {
                json!({"holder": c.holder, "location": c.location, "at": rfc3339(c.at_ms),
                       "note": c.note, "recorded_by": c.recorded_by})
            })
            .collect(),
    );
    let policy = v.policy.as_ref();
    m.insert(
        "policy".into(),
        json!({
            "playbook_version": policy.map(|p| p.playbook_version),
            "active_playbook_version": v.active_playbook_version,
            "escalation_level": policy.map(|p| p.level.clone()),
            "matched_rules": policy.map(|p| p.matched.clone()),
            "team": policy.map(|p| p.evaluation["effects"]["team"].clone()),
            "trace": policy.map(|p| p.evaluation["trace"].clone()),
            "evaluated_at": opt_time(policy.map(|p| p.evaluated_at_ms)),
            "allowed_remedies": v.allowed_remedies,
            "resolution_blockers": v.blockers,
        }),
    );
    m
}

pub async fn case_policy(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Map<String, Value>>> {
    let view = state
        .store
        .playbooks()
        .case_policy(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id}")))?;
    Ok(axum::Json(policy_parts(&view)))
}

// ------------------------------------------------------------------------------ remedies

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemedyRequest {
    /// refund | replacement | repair | discount | goodwill
    pub kind: String,
    /// 0..100: how much of the price the customer pays.
    pub customer_pays_percent: i64,
    /// For refunds: the amount given back, in the product's currency.
    pub amount: Option<f64>,
    pub note: Option<String>,
}

pub async fn propose_remedy(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RemedyRequest>,
) -> ApiResult<Response> {
    let mut errors = Vec::new();
    let kind = body.kind.parse::<RemedyKind>().map_err(|m| {
        errors.push(FieldError {
            field: "kind".into(),
            code: "value",
            message: m,
        })
    });
    let pays = u8::try_from(body.customer_pays_percent)
        .ok()
        .filter(|p| *p <= 100);
    if pays.is_none() {
        errors.push(FieldError {
            field: "customer_pays_percent".into(),
            code: "range",
            message: "customer_pays_percent is a percentage between 0 and 100".into(),
        });
    }
    if let Some(a) = body.amount
        && (!a.is_finite() || a < 0.0)
    {
        errors.push(FieldError {
            field: "amount".into(),
            code: "range",
            message: "amount is a non-negative number".into(),
        });
    }
    let note = text_field("note", body.note, 4000);
    let (Ok(kind), Some(pays), Ok(note), true) = (kind, pays, note, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let outcome = state
        .store
        .playbooks()
        .propose_remedy(
            &id,
            NewRemedy {
                kind,
                customer_pays_percent: pays,
                amount: body.amount,
                note,
            },
            &Actor(p.name),
        )
        .await?;
    Ok(match outcome {
        ProposeOutcome::Allowed(r) => {
            (StatusCode::CREATED, axum::Json(remedy_out(&r))).into_response()
        }
        ProposeOutcome::NeedsApproval(r) => {
            (StatusCode::ACCEPTED, axum::Json(remedy_out(&r))).into_response()
        }
        ProposeOutcome::Refused {
            remedy,
            rule_id,
            explanation,
            allowed,
        } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "remedy-refused",
            "The playbook refuses this remedy",
            explanation,
        )
        .with("rule_id", rule_id)
        .with("allowed", allowed)
        .with("remedy_id", remedy.id)
        .into_response(),
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// A written reason (an exception on a safety case needs at least 10 characters).
    pub reason: String,
}

pub async fn approve_remedy(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> ApiResult<axum::Json<Value>> {
    let r = state
        .store
        .playbooks()
        .approve_remedy(&id, p.role, body.reason, &Actor(p.name))
        .await?;
    Ok(axum::Json(remedy_out(&r)))
}

pub async fn reject_remedy(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> ApiResult<axum::Json<Value>> {
    let r = state
        .store
        .playbooks()
        .reject_remedy(&id, p.role, body.reason, &Actor(p.name))
        .await?;
    Ok(axum::Json(remedy_out(&r)))
}

async fn advance(
    state: AppState,
    p: Principal,
    id: String,
    to: RemedyStatus,
) -> ApiResult<axum::Json<Value>> {
    let r = state
        .store
        .playbooks()
        .advance_remedy(&id, to, &Actor(p.name))
        .await?;
    Ok(axum::Json(remedy_out(&r)))
}

pub async fn accept_remedy(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Value>> {
    advance(state, p, id, RemedyStatus::Accepted).await
}

pub async fn fulfil_remedy(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Value>> {
    advance(state, p, id, RemedyStatus::Fulfilled).await
}

// ------------------------------------------------------------------------------ casework

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationRequest {
    /// supervisor | safety | hq; default: one level up.
    pub level: Option<String>,
    pub reason: String,
}

pub async fn escalate(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EscalationRequest>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let level = body
        .level
        .map(|l| {
            Level::parse(&l).ok_or_else(|| {
                field_error(
                    "level",
                    format!("unknown level `{l}` (expected agent|supervisor|safety|hq)"),
                )
            })
        })
        .transpose()?;
    let reason = required_text("reason", &body.reason, 4000)?;
    let e = state
        .store
        .playbooks()
        .escalate(&id, level, reason, &Actor(p.name))
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            json!({"from_level": e.from_level, "level": e.level, "reason": e.reason,
                          "cause": e.cause, "actor": e.actor, "at": rfc3339(e.created_at_ms)}),
        ),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    pub note: Option<String>,
}

/// The body is optional (`{}` or nothing).
pub async fn complete_task(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath((id, task)): ApiPath<(String, String)>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<axum::Json<Value>> {
    let task = task
        .parse::<TaskKind>()
        .map_err(|m| field_error("task", m))?;
    let req: TaskRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TaskRequest { note: None }
    } else {
        serde_json::from_slice(&body).map_err(|e| field_error("body", e.to_string()))?
    };
    let note = text_field("note", req.note, 4000)?;
    let t = state
        .store
        .playbooks()
        .complete_task(&id, task, note, &Actor(p.name))
        .await?;
    Ok(axum::Json(
        json!({"task": t.task, "status": t.status, "note": t.note,
        "completed_by": t.completed_by, "completed_at": opt_time(t.completed_at_ms)}),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustodyRequest {
    /// Who holds the device (a person or an organisation).
    pub holder: String,
    /// Where.
    pub location: String,
    /// Since when (RFC 3339); default now.
    pub at: Option<String>,
    pub note: Option<String>,
}

pub async fn add_custody(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CustodyRequest>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let holder = required_text("holder", &body.holder, 500)?;
    let location = required_text("location", &body.location, 500)?;
    let at_ms = match body.at {
        None => jiff::Timestamp::now().as_millisecond(),
        Some(s) => s
            .parse::<jiff::Timestamp>()
            .map_err(|e| field_error("at", format!("not an RFC 3339 time: {e}")))?
            .as_millisecond(),
    };
    let note = text_field("note", body.note, 4000)?;
    let c = state
        .store
        .playbooks()
        .add_custody(
            &id,
            NewCustody {
                holder,
                location,
                at_ms,
                note,
            },
            &Actor(p.name),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            json!({"id": c.id, "holder": c.holder, "location": c.location, "at": rfc3339(c.at_ms),
                          "note": c.note, "recorded_by": c.recorded_by}),
        ),
    ))
}

pub async fn evaluate(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Map<String, Value>>> {
    state
        .store
        .playbooks()
        .evaluate_case(&id, &Actor(p.name))
        .await?;
    case_policy(State(state), ApiPath(id)).await
}

// ------------------------------------------------------------------------------ admin

fn playbook_out(a: &ActivePlaybook, with_text: bool) -> Value {
    let mut v = json!({
        "version": a.version, "source_name": a.source_name, "name": a.playbook.name(),
        "revision": a.playbook.revision(), "sha256": a.sha256, "created_by": a.created_by,
        "created_at": if a.created_at_ms > 0 { rfc3339(a.created_at_ms) } else { Value::Null },
        "rules": a.playbook.rules().iter().map(|r| json!({"id": r.id, "description": r.description, "when": r.when})).collect::<Vec<_>>(),
    });
    if with_text {
        v["text"] = Value::String(a.text.clone());
    }
    v
}

pub async fn get_playbook(State(state): State<AppState>) -> axum::Json<Value> {
    axum::Json(playbook_out(
        &state.store.playbooks().active_playbook(),
        true,
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybookUpload {
    /// Shown in error lines (default `playbook.toml`).
    pub source_name: Option<String>,
    /// The TOML text.
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub struct PlaybookQuery {
    name: Option<String>,
}

/// A playbook arrives as JSON `{"text": "...", "source_name": "..."}` or as the raw TOML
/// file (any other content type; `?name=` names it).
fn upload(headers: &HeaderMap, query: PlaybookQuery, body: &Bytes) -> ApiResult<(String, String)> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (name, text) = if is_json {
        let u: PlaybookUpload =
            serde_json::from_slice(body).map_err(|e| field_error("body", e.to_string()))?;
        (u.source_name, u.text)
    } else {
        let text = std::str::from_utf8(body)
            .map_err(|_| field_error("body", "the playbook is not UTF-8 text"))?;
        (query.name, text.to_string())
    };
    let name = name
        .map(|n| n.trim().chars().take(200).collect::<String>())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "playbook.toml".into());
    Ok((name, text))
}

fn invalid_playbook(e: &PlaybookError) -> ApiError {
    let problems: Vec<Value> = e
        .problems
        .iter()
        .zip(e.lines())
        .map(|(p, line)| {
            let (kind, name) = match &p.location {
                Location::File => ("file", None),
                Location::Rule(id) => ("rule", Some(id.clone())),
                Location::Calendar(n) => ("calendar", Some(n.clone())),
                Location::Market(n) => ("market", Some(n.clone())),
            };
            json!({"file": e.source_name, "location": kind, "name": name, "field": p.field,
                   "message": p.message, "line": line})
        })
        .collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-playbook",
        "The playbook is invalid",
        e.to_string(),
    )
    .with("problems", problems)
}

pub async fn validate_playbook(
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<PlaybookQuery>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<axum::Json<Value>> {
    let (name, text) = upload(&headers, query, &body)?;
    match firewatch_policy::Playbook::from_toml_str(&name, &text) {
        Ok(p) => Ok(axum::Json(json!({
            "valid": true, "source_name": name, "name": p.name(), "revision": p.revision(),
            "rules": p.rules().iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        }))),
        Err(e) => Err(invalid_playbook(&e)),
    }
}

pub async fn put_playbook(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<PlaybookQuery>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<axum::Json<Value>> {
    let (name, text) = upload(&headers, query, &body)?;
    match state
        .store
        .playbooks()
        .put_playbook(&name, &text, &Actor(p.name))
        .await?
    {
        PutPlaybook::Applied(a) => Ok(axum::Json(playbook_out(&a, false))),
        PutPlaybook::Invalid(e) => Err(invalid_playbook(&e)),
    }
}

fn job_out(j: &JobRecord) -> Value {
    json!({"id": j.id, "event_id": j.event_id, "channel": j.kind, "case_id": j.case_id,
           "target": j.target, "state": j.state, "attempts": j.attempts,
           "next_attempt_at": if j.state == "pending" { rfc3339(j.run_at_ms) } else { Value::Null },
           "last_error": j.last_error, "payload": j.payload,
           "created_at": rfc3339(j.created_at_ms), "updated_at": rfc3339(j.updated_at_ms)})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    state: Option<String>,
    limit: Option<u32>,
}

pub async fn list_notifications(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<axum::Json<Value>> {
    if let Some(s) = &q.state
        && !["pending", "running", "done", "dead"].contains(&s.as_str())
    {
        return Err(field_error(
            "state",
            format!("unknown state `{s}` (expected pending|running|done|dead)"),
        ));
    }
    let jobs = state
        .store
        .playbooks()
        .list_jobs(q.state.as_deref(), q.limit.unwrap_or(100))
        .await?;
    Ok(axum::Json(
        json!({"notifications": jobs.iter().map(job_out).collect::<Vec<_>>()}),
    ))
}

pub async fn retry_notification(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<Value>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("notification {id}")))?;
    let j = state
        .store
        .playbooks()
        .retry_job(id, &Actor(p.name))
        .await?;
    Ok(axum::Json(job_out(&j)))
}
