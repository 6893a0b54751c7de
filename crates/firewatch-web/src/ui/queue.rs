//! The agents' queue: severity first, then the nearest running (or breached) clock, with
//! filters; paginated over an index (`case_queue_order_idx`, migration 0006).

use super::{Ctx, error_page, html, human_duration};
use crate::AppState;
use crate::error::ApiError;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use firewatch_domain::{CaseStatus, Severity};
use firewatch_store::CaseFilter;
use serde::Deserialize;

pub const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    severity: Option<String>,
    status: Option<String>,
    mine: Option<String>,
    closed: Option<String>,
    offset: Option<u32>,
}

pub struct Row {
    pub id: String,
    pub reference: String,
    pub severity: &'static str,
    pub status: &'static str,
    pub title: String,
    pub product: String,
    pub assignee: String,
    pub deadline: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    ctx: &'a Ctx,
    rows: Vec<Row>,
    severities: &'static [Severity],
    statuses: &'static [CaseStatus],
    severity: String,
    status: String,
    mine: bool,
    closed: bool,
    prev: Option<String>,
    next: Option<String>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn link(severity: &str, status: &str, mine: bool, closed: bool, offset: u32) -> String {
    let mut q = vec![];
    if !severity.is_empty() {
        q.push(format!("severity={severity}"));
    }
    if !status.is_empty() {
        q.push(format!("status={status}"));
    }
    if mine {
        q.push("mine=1".into());
    }
    if closed {
        q.push("closed=1".into());
    }
    if offset > 0 {
        q.push(format!("offset={offset}"));
    }
    format!("/queue?{}", q.join("&"))
}

pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    query: Result<Query<QueueQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return error_page(&ctx, ApiError::bad_request("bad-query", "bad filter")).await;
    };
    let severity = nonempty(q.severity).and_then(|s| s.parse::<Severity>().ok());
    let status = nonempty(q.status).and_then(|s| s.parse::<CaseStatus>().ok());
    let mine = q.mine.is_some();
    let closed = q.closed.is_some();
    let offset = q.offset.unwrap_or(0).min(1_000_000);
    let filter = CaseFilter {
        status,
        severity,
        assignee: if mine {
            ctx.user.as_ref().map(|u| u.name.clone())
        } else {
            None
        },
        open_only: !closed,
        limit: PAGE_SIZE + 1,
        offset,
    };
    let rows = match state.store.ui().queue(&filter).await {
        Ok(r) => r,
        Err(e) => return error_page(&ctx, e.into()).await,
    };
    let more = rows.len() as u32 > PAGE_SIZE;
    let now = jiff::Timestamp::now().as_millisecond();
    let out = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|r| {
            let c = r.case;
            Row {
                reference: format!("FW-{:06}", c.number),
                severity: c.severity.as_str(),
                status: c.status.as_str(),
                product: [c.product_brand.as_deref(), c.product_model.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                assignee: c.assignee.unwrap_or_default(),
                deadline: r
                    .next_deadline_ms
                    .map(|d| human_duration((d - now) / 1000))
                    .unwrap_or_default(),
                overdue: r.next_deadline_ms.is_some_and(|d| d <= now),
                title: c.title,
                id: c.id,
            }
        })
        .collect();
    let sev_s = severity.map(|s| s.as_str()).unwrap_or("");
    let st_s = status.map(|s| s.as_str()).unwrap_or("");
    let page = QueuePage {
        ctx: &ctx,
        rows: out,
        severities: &[Severity::S1, Severity::S2, Severity::S3, Severity::S4],
        statuses: &CaseStatus::ALL,
        severity: sev_s.to_string(),
        status: st_s.to_string(),
        mine,
        closed,
        prev: (offset > 0)
            .then(|| link(sev_s, st_s, mine, closed, offset.saturating_sub(PAGE_SIZE))),
        next: more.then(|| link(sev_s, st_s, mine, closed, offset + PAGE_SIZE)),
    };
    html(&ctx, StatusCode::OK, page.render())
}
