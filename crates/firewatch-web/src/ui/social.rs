//! The social monitor: mentions with their reach forecasts, and for the most forecast ones
//! the engagement curve against the forecast final size and its interval.

use super::{Ctx, error_page, html, svg};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use firewatch_store::social::MentionFilter;

pub struct MentionRow {
    pub case_id: String,
    pub author: String,
    pub text: String,
    pub product: String,
    pub engagements: i64,
    pub forecast: String,
    pub p_exceed: String,
    pub bar: String,
}

pub struct Curve {
    pub title: String,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "social.html")]
struct SocialPage<'a> {
    ctx: &'a Ctx,
    rows: Vec<MentionRow>,
    curves: Vec<Curve>,
}

pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Response {
    let mut mentions = match state
        .store
        .list_mentions(&MentionFilter {
            limit: 200,
            ..MentionFilter::default()
        })
        .await
    {
        Ok(m) => m,
        Err(e) => return error_page(&ctx, e.into()).await,
    };
    let key = |m: &firewatch_store::social::MentionRecord| {
        m.forecast
            .as_ref()
            .map(|f| {
                if f.infinite {
                    f64::INFINITY
                } else {
                    f.predicted_final
                }
            })
            .unwrap_or(m.engagements as f64)
    };
    mentions.sort_by(|a, b| key(b).total_cmp(&key(a)));
    let top: Vec<&str> = mentions
        .iter()
        .take(3)
        .map(|m| m.post_id.as_str())
        .collect();
    let mut curves = Vec::new();
    if !top.is_empty() {
        let engagements = match state.store.all_engagements().await {
            Ok(e) => e,
            Err(e) => return error_page(&ctx, e.into()).await,
        };
        for m in mentions
            .iter()
            .filter(|m| top.contains(&m.post_id.as_str()))
        {
            let start = m.created_at_us;
            let mut times = Vec::new();
            for e in engagements.iter().filter(|e| e.post_id == m.post_id) {
                for _ in 0..e.amount.clamp(1, 10_000) {
                    times.push(((e.at_us - start).max(0) as f64) / 1e6);
                }
            }
            times.sort_by(f64::total_cmp);
            let f = m.forecast.as_ref();
            let title = format!(
                "{} — {}: {}",
                ctx.t("social.curve"),
                m.author,
                m.text.chars().take(60).collect::<String>()
            );
            curves.push(Curve {
                svg: svg::forecast_curve(
                    &times,
                    f.filter(|f| !f.infinite).map(|f| f.predicted_final),
                    f.map(|f| f.lower),
                    f.map(|f| f.upper),
                    &title,
                ),
                title,
            });
        }
    }
    let rows = mentions
        .iter()
        .map(|m| {
            let f = m.forecast.as_ref();
            MentionRow {
                case_id: m.case_id.clone(),
                author: m.author.clone(),
                text: m.text.clone(),
                product: format!("{} {}", m.product_brand, m.product_model),
                engagements: m.engagements,
                forecast: f
                    .map(|f| {
                        if f.infinite {
                            "∞".to_string()
                        } else {
                            format!("{:.0} [{:.0}, {:.0}]", f.predicted_final, f.lower, f.upper)
                        }
                    })
                    .unwrap_or_default(),
                p_exceed: f.map(|f| format!("{:.2}", f.p_exceed)).unwrap_or_default(),
                bar: svg::reach_bar(
                    m.engagements as f64,
                    f.map(|f| f.predicted_final),
                    f.map(|f| f.lower),
                    f.map(|f| f.upper),
                    f.is_some_and(|f| f.infinite),
                ),
            }
        })
        .collect();
    let page = SocialPage {
        ctx: &ctx,
        rows,
        curves,
    };
    html(&ctx, StatusCode::OK, page.render())
}
