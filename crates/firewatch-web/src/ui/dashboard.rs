//! The safety dashboard: the signals table and, per signal (product and hazard), the chart of
//! monthly incidents against the expected count with its 95% band. The data comes from the
//! JSON API's signal handlers (`api::signals::list` / `detail`), so the numbers are the same.

use super::{Ctx, error_page, html, message, svg};
use crate::AppState;
use crate::api::signals::{SignalDetail, SignalOut, detail, list};
use crate::extract::ApiPath;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;

pub struct SignalRow {
    pub id: String,
    pub reference: String,
    pub product: String,
    pub hazard: String,
    pub status: String,
    pub count: String,
    pub rate: String,
    pub eb05: String,
    pub opened: String,
}

pub struct Chart {
    pub id: String,
    pub title: String,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "safety.html")]
struct SafetyPage<'a> {
    ctx: &'a Ctx,
    rows: Vec<SignalRow>,
    charts: Vec<Chart>,
}

#[derive(Template)]
#[template(path = "signal.html")]
struct SignalPage<'a> {
    ctx: &'a Ctx,
    row: SignalRow,
    chart: Chart,
    cases: Vec<(String, String, String, String)>,
}

fn row(s: &SignalOut) -> SignalRow {
    let year = s
        .stats
        .iter()
        .find(|w| w.window_days == 365 && w.market.is_none());
    SignalRow {
        id: s.id.clone(),
        reference: s.reference.clone(),
        product: format!("{} {}", s.product.brand, s.product.model),
        hazard: s.hazard.clone(),
        status: format!("{:?}", s.status).to_lowercase(),
        count: year.map(|w| w.count.to_string()).unwrap_or_default(),
        rate: year
            .and_then(|w| w.rate_per_million)
            .map(|r| format!("{:.1} [{:.1}, {:.1}]", r.estimate, r.lower, r.upper))
            .unwrap_or_default(),
        eb05: year
            .and_then(|w| w.disproportionality.as_ref())
            .map(|d| format!("{:.2}", d.eb05))
            .unwrap_or_default(),
        opened: s.opened_at.chars().take(10).collect(),
    }
}

fn chart(ctx: &Ctx, d: &SignalDetail) -> Chart {
    let title = format!(
        "{} — {} {} · {}",
        ctx.t("safety.chart"),
        d.signal.product.brand,
        d.signal.product.model,
        d.signal.hazard
    );
    let points: Vec<(String, u64, Option<f64>)> = d
        .monthly
        .iter()
        .map(|m| (m.month.clone(), m.observed, m.expected))
        .collect();
    Chart {
        id: d.signal.id.clone(),
        svg: svg::monthly_chart(&points, &title),
        title,
    }
}

async fn signal_detail(state: &AppState, id: &str) -> Result<SignalDetail, crate::error::ApiError> {
    let q = Query::try_from_uri(&Uri::from_static("/"))
        .map_err(|e| crate::error::ApiError::bad_request("bad-query", e.body_text()))?;
    detail(State(state.clone()), ApiPath(id.to_string()), Ok(q))
        .await
        .map(|j| j.0)
}

pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Response {
    if state.signals.is_none() {
        return message(
            &ctx,
            StatusCode::OK,
            "safety.title",
            "safety.unavailable",
            None,
        );
    }
    let uri = Uri::from_static("/?limit=100&window=365");
    let q = match Query::try_from_uri(&uri) {
        Ok(q) => q,
        Err(e) => {
            return error_page(
                &ctx,
                crate::error::ApiError::bad_request("bad-query", e.body_text()),
            )
            .await;
        }
    };
    let signals = match list(State(state.clone()), Ok(q)).await {
        Ok(l) => l.0.signals,
        Err(e) => return error_page(&ctx, e).await,
    };
    let mut charts = Vec::new();
    for s in signals.iter().take(3) {
        match signal_detail(&state, &s.id).await {
            Ok(d) => charts.push(chart(&ctx, &d)),
            Err(e) => return error_page(&ctx, e).await,
        }
    }
    let page = SafetyPage {
        ctx: &ctx,
        rows: signals.iter().map(row).collect(),
        charts,
    };
    html(&ctx, StatusCode::OK, page.render())
}

pub async fn signal_page(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiPath(id): ApiPath<String>,
) -> Response {
    if state.signals.is_none() {
        // The same status as the API's signals-unavailable problem.
        return message(
            &ctx,
            StatusCode::SERVICE_UNAVAILABLE,
            "safety.title",
            "safety.unavailable",
            None,
        );
    }
    let d = match signal_detail(&state, &id).await {
        Ok(d) => d,
        Err(e) => return error_page(&ctx, e).await,
    };
    let page = SignalPage {
        ctx: &ctx,
        row: row(&d.signal),
        chart: chart(&ctx, &d),
        cases: d
            .cases
            .iter()
            .map(|c| {
                (
                    c.case_id.clone(),
                    c.reference.clone(),
                    c.severity.clone(),
                    c.title.clone(),
                )
            })
            .collect(),
    };
    html(&ctx, StatusCode::OK, page.render())
}
