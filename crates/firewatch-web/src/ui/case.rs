//! The case page: narrative with each hazard's evidence highlighted, photos, products,
//! timeline from the audit log, clocks with the time left, remedies with the policy's answer
//! (propose, approve, reject), escalations, mentions with their reach chart, notes and
//! status changes. The data is the JSON API's case detail (`api::cases::detail`); decisions
//! are the store's and the playbook's (`propose_remedy`, `approve_remedy`, ...).

use super::decision::Decision;
use super::{Ctx, error_page, html, human_duration, see_other, svg};
use crate::AppState;
use crate::api;
use crate::auth::Principal;
use crate::dto::CaseDetail;
use crate::error::ApiError;
use crate::extract::{ApiForm, ApiPath, ApiQuery};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use firewatch_domain::CaseStatus;
use firewatch_policy::RemedyKind;
use firewatch_store::playbooks::{NewRemedy, ProposeOutcome};
use firewatch_store::{Actor, StoreError};
use serde::Deserialize;
use serde_json::Value;

pub const REMEDY_KINDS: [&str; 5] = ["refund", "replacement", "repair", "discount", "goodwill"];

/// A piece of narrative: plain text, or the evidence of a hazard.
pub struct Segment {
    pub text: String,
    pub hazard: Option<String>,
}

/// Splits `text` at the evidence spans (byte offsets into the original narrative, as triage
/// stores them). Spans that overlap an earlier one, fall outside the text or off a character
/// boundary, or do not match their stored text are ignored.
pub fn segments(text: &str, spans: &[(usize, usize, String, String)]) -> Vec<Segment> {
    let mut spans: Vec<&(usize, usize, String, String)> = spans
        .iter()
        .filter(|(s, e, _, ev)| s < e && text.get(*s..*e).is_some_and(|t| t == ev))
        .collect();
    spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e, code, _) in spans {
        if *s < at {
            continue;
        }
        if *s > at {
            out.push(Segment {
                text: text[at..*s].to_string(),
                hazard: None,
            });
        }
        out.push(Segment {
            text: text[*s..*e].to_string(),
            hazard: Some(code.clone()),
        });
        at = *e;
    }
    if at < text.len() {
        out.push(Segment {
            text: text[at..].to_string(),
            hazard: None,
        });
    }
    out
}

pub struct ReportView {
    pub received: String,
    pub channel: String,
    pub language: String,
    pub segments: Vec<Segment>,
    pub photos: Vec<(String, String)>,
    pub products: Vec<String>,
    pub injuries: String,
}

pub struct ClockView {
    pub name: String,
    pub kind: String,
    pub deadline: String,
    pub left: String,
    pub overdue: bool,
    pub state: String,
    pub rule: String,
}

pub struct RemedyView {
    pub id: String,
    pub kind: String,
    pub pays: i64,
    pub status: String,
    pub decision: String,
    pub rule: String,
    pub explanation: String,
    pub waits_for: String,
    pub approvals: Vec<String>,
    pub can_decide: bool,
    pub exception: bool,
}

pub struct AllowedView {
    pub kind: String,
    pub max_pays: i64,
    pub needs: String,
}

pub struct MentionView {
    pub author: String,
    pub text: String,
    pub url: Option<String>,
    pub engagements: i64,
    pub forecast: String,
    pub chart: String,
}

/// What happened after a form: shown above the remedies.
pub enum Flash {
    Ok(&'static str),
    Refused {
        rule_id: String,
        explanation: String,
        allowed: Vec<AllowedView>,
    },
    Error(String),
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    ctx: &'a Ctx,
    d: &'a CaseDetail,
    reports: Vec<ReportView>,
    clocks: Vec<ClockView>,
    remedies: Vec<RemedyView>,
    allowed: Vec<AllowedView>,
    escalations: Vec<String>,
    tasks: Vec<String>,
    blockers: Vec<String>,
    mentions: Vec<MentionView>,
    timeline: Vec<(String, String, String)>,
    kinds: &'static [&'static str],
    flash: Option<Flash>,
    can_propose: bool,
    can_move: bool,
    team: String,
    level: String,
    statements: Vec<super::statements::StatementRow>,
    statement_kinds: &'static [&'static str],
    can_draft: bool,
    can_open_statement: bool,
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn short_time(rfc: &str) -> String {
    rfc.parse::<jiff::Timestamp>()
        .map(|t| super::when(t.as_millisecond()))
        .unwrap_or_else(|_| rfc.to_string())
}

pub fn allowed_views(v: &Value) -> Vec<AllowedView> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| AllowedView {
                    kind: s(&x["kind"]),
                    max_pays: x["max_customer_pays_percent"].as_i64().unwrap_or(0),
                    needs: x["needs_approval"]
                        .as_array()
                        .map(|r| r.iter().map(s).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn report_view(r: &crate::dto::ReportOut) -> ReportView {
    let mut spans = Vec::new();
    for list in ["hazards", "injuries"] {
        for h in r.triage[list].as_array().into_iter().flatten() {
            let code = if list == "hazards" {
                s(&h["code"])
            } else {
                format!("injury: {}", s(&h["kind"]))
            };
            for e in h["evidence"].as_array().into_iter().flatten() {
                if let (Some(a), Some(b)) = (e["start"].as_u64(), e["end"].as_u64()) {
                    spans.push((a as usize, b as usize, code.clone(), s(&e["text"])));
                }
            }
        }
    }
    let mut products: Vec<String> = r.triage["products"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| format!("{} {}", s(&p["brand"]), s(&p["model"])))
        .collect();
    let given = format!("{} {}", s(&r.product["brand"]), s(&r.product["model"]));
    if !given.trim().is_empty() && !products.contains(&given) {
        products.push(given.trim().to_string());
    }
    ReportView {
        received: short_time(&r.received_at),
        channel: r.channel.clone(),
        language: r.language.clone().unwrap_or_default(),
        segments: segments(&r.narrative, &spans),
        photos: r
            .attachments
            .iter()
            .map(|a| (a.url.clone(), format!("{}×{}", a.width, a.height)))
            .collect(),
        products,
        injuries: r.injuries.clone(),
    }
}

pub async fn render(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    flash: Option<Flash>,
    status: StatusCode,
) -> Response {
    let d = match api::cases::detail(State(state.clone()), ApiPath(id.to_string())).await {
        Ok(axum::Json(d)) => d,
        Err(e) => return error_page(ctx, e).await,
    };
    let p = &d.playbook;
    let clocks = p
        .get("clocks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| ClockView {
            name: s(&c["name"]),
            kind: s(&c["kind"]),
            deadline: c["deadline"].as_str().map(short_time).unwrap_or_default(),
            left: c["remaining_seconds"]
                .as_i64()
                .map(human_duration)
                .unwrap_or_default(),
            overdue: c["overdue"].as_bool().unwrap_or(false) || s(&c["state"]) == "breached",
            state: s(&c["state"]),
            rule: s(&c["rule_id"]),
        })
        .collect();
    // The buttons show for the roles the route table and the playbook name (the store still
    // decides): a pending remedy's awaited roles; an exception's approver from its rule.
    let may_decide = ctx.may("POST", "/remedies/{id}/approve");
    let active = state.store.playbooks().active_playbook();
    let exception_approver = |rule: &str| {
        active
            .playbook
            .rules()
            .iter()
            .find(|r| r.id == rule)
            .and_then(|r| r.effects.exception_approver)
    };
    let role = ctx.role();
    let remedies = p
        .get("remedies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let status = s(&r["status"]);
            let policy = &r["policy"];
            RemedyView {
                id: s(&r["id"]),
                kind: s(&r["kind"]),
                pays: r["customer_pays_percent"].as_i64().unwrap_or(0),
                decision: s(&policy["decision"]),
                rule: s(&r["rule_id"]),
                explanation: s(&policy["explanation"]),
                waits_for: r["approvals_needed"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
                approvals: r["approvals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        format!(
                            "{} ({}) {}{}: {}",
                            s(&a["actor"]),
                            s(&a["role"]),
                            s(&a["decision"]),
                            if a["exception"].as_bool() == Some(true) {
                                " [exception]"
                            } else {
                                ""
                            },
                            s(&a["reason"])
                        )
                    })
                    .collect(),
                can_decide: may_decide
                    && match status.as_str() {
                        "pending_approval" => r["approvals_needed"].as_array().is_some_and(|a| {
                            a.iter()
                                .any(|x| Some(s(x).as_str()) == role.map(|r| r.as_str()))
                        }),
                        "refused" => role.is_some_and(|me| {
                            exception_approver(&s(&r["rule_id"])).map(|a| a.as_str())
                                == Some(me.as_str())
                        }),
                        _ => false,
                    },
                exception: status == "refused",
                status,
            }
        })
        .collect();
    let allowed = allowed_views(
        &p.get("policy")
            .map(|x| x["allowed_remedies"].clone())
            .unwrap_or_default(),
    );
    let mut escalations: Vec<String> = p
        .get("escalations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}: {} → {} ({}, {}) {}",
                short_time(e["at"].as_str().unwrap_or("")),
                s(&e["from_level"]),
                s(&e["level"]),
                s(&e["cause"]),
                s(&e["actor"]),
                s(&e["reason"])
            )
        })
        .collect();
    escalations.extend(d.mention_escalations.iter().map(|e| {
        format!(
            "{}: mention {} → {}",
            short_time(&e.created_at),
            e.post_id,
            e.roles.join(", ")
        )
    }));
    let tasks = p
        .get("tasks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{} ({}) — {}",
                s(&t["task"]),
                s(&t["rule_id"]),
                s(&t["status"])
            )
        })
        .collect();
    let blockers = p
        .get("policy")
        .and_then(|x| x["resolution_blockers"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|b| s(&b["explanation"]))
        .collect();
    let mentions = d
        .mentions
        .iter()
        .map(|m| {
            let (pred, lo, hi) = m
                .forecast
                .as_ref()
                .map(|f| (f.predicted_final, f.lower, f.upper))
                .unwrap_or((None, None, None));
            MentionView {
                author: m.author.clone(),
                text: m.text.clone(),
                url: m
                    .url
                    .clone()
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                engagements: m.engagements,
                forecast: match (pred, m.forecast.as_ref().map(|f| f.infinite)) {
                    (_, Some(true)) => "∞".into(),
                    (Some(p), _) => format!("{p:.0}"),
                    _ => String::new(),
                },
                chart: svg::reach_bar(
                    m.engagements as f64,
                    pred,
                    lo,
                    hi,
                    m.forecast.as_ref().is_some_and(|f| f.infinite),
                ),
            }
        })
        .collect();
    let timeline = d
        .timeline
        .iter()
        .rev()
        .map(|e| (short_time(&e.at), e.actor.clone(), e.kind.clone()))
        .collect();
    let policy = p.get("policy").cloned().unwrap_or_default();
    let statements = super::statements::case_rows(state, id).await;
    let page = CasePage {
        ctx,
        reports: d.reports.iter().map(report_view).collect(),
        clocks,
        remedies,
        allowed,
        escalations,
        tasks,
        blockers,
        mentions,
        timeline,
        kinds: &REMEDY_KINDS,
        flash,
        can_propose: ctx.may("POST", "/cases/{id}/remedies"),
        can_move: ctx.may("POST", "/cases/{id}/transition"),
        team: s(&policy["team"]),
        level: s(&policy["escalation_level"]),
        statements,
        statement_kinds: &super::statements::STATEMENT_KINDS,
        can_draft: ctx.may("POST", "/cases/{id}/statements"),
        can_open_statement: ctx.may("GET", "/statements/{id}"),
        d: &d,
    };
    html(ctx, status, page.render())
}

pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<super::DoneQuery>,
) -> Response {
    let flash = match q.done.as_deref() {
        Some("proposed") => Some(Flash::Ok("case.proposed_ok")),
        Some("pending") => Some(Flash::Ok("case.proposed_ok")),
        Some("decided") => Some(Flash::Ok("case.decided")),
        Some("saved") => Some(Flash::Ok("admin.done")),
        _ => None,
    };
    render(&state, &ctx, &id, flash, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct RemedyForm {
    kind: String,
    customer_pays_percent: String,
    amount: Option<String>,
    note: Option<String>,
}

fn store_error_flash(e: StoreError) -> (Flash, StatusCode) {
    match e {
        StoreError::Refused(r) => (
            Flash::Refused {
                rule_id: r.data.get("rule_id").map(s).unwrap_or_default(),
                explanation: r.detail.clone(),
                allowed: allowed_views(r.data.get("allowed").unwrap_or(&Value::Null)),
            },
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
        ),
        other => {
            let code = match &other {
                StoreError::NotFound(_) => StatusCode::NOT_FOUND,
                StoreError::Conflict(_) | StoreError::IllegalTransition(_) => StatusCode::CONFLICT,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            (Flash::Error(other.to_string()), code)
        }
    }
}

/// Propose a remedy: the store applies the playbook; a refusal shows its rule and
/// explanation on the page (422), with what would be allowed.
pub async fn propose(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiForm(f): ApiForm<RemedyForm>,
) -> Response {
    let kind = f.kind.parse::<RemedyKind>();
    let pays = f
        .customer_pays_percent
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= 100);
    let amount = match f.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => a
            .parse::<f64>()
            .ok()
            .filter(|a| a.is_finite() && *a >= 0.0)
            .map(Some)
            .ok_or(()),
    };
    let (Ok(kind), Some(pays), Ok(amount)) = (kind, pays, amount) else {
        return render(
            &state,
            &ctx,
            &id,
            Some(Flash::Error(
                "kind must be a remedy kind, customer pays 0..100, amount a non-negative number"
                    .into(),
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let note = f
        .note
        .map(|n| n.trim().chars().take(4000).collect::<String>())
        .filter(|n| !n.is_empty());
    let outcome = state
        .store
        .playbooks()
        .propose_remedy(
            &id,
            NewRemedy {
                kind,
                customer_pays_percent: pays,
                amount,
                note,
            },
            &Actor(p.name),
        )
        .await;
    match outcome {
        Ok(ProposeOutcome::Allowed(_)) => see_other(&format!("/cases/{id}?done=proposed#remedies")),
        Ok(ProposeOutcome::NeedsApproval(_)) => {
            see_other(&format!("/cases/{id}?done=pending#remedies"))
        }
        Ok(ProposeOutcome::Refused {
            rule_id,
            explanation,
            allowed,
            ..
        }) => {
            let allowed = allowed_views(&serde_json::to_value(&allowed).unwrap_or_default());
            render(
                &state,
                &ctx,
                &id,
                Some(Flash::Refused {
                    rule_id,
                    explanation,
                    allowed,
                }),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            let (flash, status) = store_error_flash(e);
            render(&state, &ctx, &id, Some(flash), status).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    reason: String,
}

async fn decide(d: Decision<DecisionForm>, approve: bool) -> Response {
    let Decision {
        state,
        ctx,
        principal: p,
        id: rid,
        form,
    } = d;
    let remedy = match state.store.playbooks().get_remedy(&rid).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(&ctx, ApiError::not_found(format!("remedy {rid}"))).await,
        Err(e) => return error_page(&ctx, e.into()).await,
    };
    let reason: String = form.reason.trim().chars().take(4000).collect();
    let pb = state.store.playbooks();
    let result = if approve {
        pb.approve_remedy(&rid, p.role, reason, &Actor(p.name))
            .await
    } else {
        pb.reject_remedy(&rid, p.role, reason, &Actor(p.name)).await
    };
    match result {
        Ok(_) => see_other(&format!("/cases/{}?done=decided#remedies", remedy.case_id)),
        Err(e) => {
            let (flash, status) = store_error_flash(e);
            render(&state, &ctx, &remedy.case_id, Some(flash), status).await
        }
    }
}

pub async fn approve(d: Decision<DecisionForm>) -> Response {
    decide(d, true).await
}

pub async fn reject(d: Decision<DecisionForm>) -> Response {
    decide(d, false).await
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    body: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiForm(f): ApiForm<NoteForm>,
) -> Response {
    let body: String = f.body.trim().chars().take(10_000).collect();
    if body.is_empty() {
        return render(
            &state,
            &ctx,
            &id,
            Some(Flash::Error("the note is empty".into())),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match state.store.add_note(&id, body, &Actor(p.name)).await {
        Ok(_) => see_other(&format!("/cases/{id}?done=saved#notes")),
        Err(e) => {
            let (flash, status) = store_error_flash(e);
            render(&state, &ctx, &id, Some(flash), status).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TransitionForm {
    to: String,
    reason: Option<String>,
}

pub async fn transition(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiForm(f): ApiForm<TransitionForm>,
) -> Response {
    let Ok(to) = f.to.parse::<CaseStatus>() else {
        return render(
            &state,
            &ctx,
            &id,
            Some(Flash::Error(format!("unknown status {}", f.to))),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let reason = f
        .reason
        .map(|r| r.trim().chars().take(2000).collect::<String>())
        .filter(|r| !r.is_empty());
    match state
        .store
        .transition_case(&id, to, reason, &Actor(p.name))
        .await
    {
        Ok(_) => see_other(&format!("/cases/{id}?done=saved")),
        Err(e) => {
            let (flash, status) = store_error_flash(e);
            render(&state, &ctx, &id, Some(flash), status).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_spans_split_the_narrative_and_bad_spans_are_ignored() {
        let text = "Le téléphone a explosé puis a pris feu.";
        let start = text.find("explosé").unwrap();
        let end = start + "explosé".len();
        let fire = text.find("pris feu").unwrap();
        let spans = vec![
            (
                start,
                end,
                "thermal.explosion".to_string(),
                "explosé".to_string(),
            ),
            (
                fire,
                fire + "pris feu".len(),
                "thermal.fire".to_string(),
                "pris feu".to_string(),
            ),
            // Not on a character boundary, and a text that does not match: both ignored.
            (start + 5, start + 6, "x".to_string(), "?".to_string()),
            (0, 2, "y".to_string(), "zz".to_string()),
        ];
        let segs = segments(text, &spans);
        let joined: String = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, text);
        let marked: Vec<(&str, &str)> = segs
            .iter()
            .filter_map(|s| s.hazard.as_deref().map(|h| (s.text.as_str(), h)))
            .collect();
        assert_eq!(
            marked,
            vec![
                ("explosé", "thermal.explosion"),
                ("pris feu", "thermal.fire")
            ]
        );
    }
}
