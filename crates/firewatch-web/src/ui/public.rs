//! The public report form: no login, in the reporter's language, photos by multipart upload,
//! a reference number on success. The report goes through the same intake as the API
//! (`api::intake::ingest`), with the same anonymous rate limit.

use super::{Ctx, UiSession, csrf_ok, html, random_token};
use crate::AppState;
use crate::api::intake::{Photo, Submission, ingest};
use crate::extract::ApiMultipart;
use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::net::SocketAddr;

#[derive(Default)]
pub struct Fields {
    pub narrative: String,
    pub brand: String,
    pub model: String,
    pub country: String,
    pub occurred_at: String,
    pub injuries: String,
    pub name: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "report_form.html")]
struct FormPage<'a> {
    ctx: &'a Ctx,
    f: &'a Fields,
    idem: String,
    error: Option<String>,
    injuries: &'static [&'static str],
}

#[derive(Template)]
#[template(path = "report_done.html")]
struct DonePage<'a> {
    ctx: &'a Ctx,
    reference: String,
}

const INJURIES: &[&str] = &["unknown", "none", "minor", "serious", "fatal"];

fn form(ctx: &Ctx, f: &Fields, error: Option<String>, status: StatusCode) -> Response {
    let page = FormPage {
        ctx,
        f,
        idem: random_token(),
        error,
        injuries: INJURIES,
    };
    html(ctx, status, page.render())
}

pub async fn show(ctx: Ctx) -> Response {
    form(&ctx, &Fields::default(), None, StatusCode::OK)
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    session: Option<Extension<UiSession>>,
    principal: Option<Extension<crate::auth::Principal>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiMultipart(mut multipart): ApiMultipart,
) -> Response {
    let mut f = Fields::default();
    let mut photos = Vec::new();
    let mut csrf = None;
    let mut idem = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return form(&ctx, &f, Some(e.body_text()), StatusCode::BAD_REQUEST),
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "photos" {
            let filename = field.file_name().map(str::to_string);
            let bytes = match field.bytes().await {
                Ok(b) => b,
                Err(e) => return form(&ctx, &f, Some(e.body_text()), StatusCode::BAD_REQUEST),
            };
            if !bytes.is_empty() {
                photos.push(Photo { bytes, filename });
            }
            continue;
        }
        let text = match field.text().await {
            Ok(t) => t.chars().take(20_000).collect::<String>(),
            Err(e) => return form(&ctx, &f, Some(e.body_text()), StatusCode::BAD_REQUEST),
        };
        match name.as_str() {
            "csrf" => csrf = Some(text),
            "idem" => idem = Some(text),
            "narrative" => f.narrative = text,
            "brand" => f.brand = text,
            "model" => f.model = text,
            "country" => f.country = text,
            "occurred_at" => f.occurred_at = text,
            "injuries" => f.injuries = text,
            "name" => f.name = text,
            "email" => f.email = text,
            _ => {}
        }
    }
    if !csrf_ok(&headers, session.as_deref(), csrf.as_deref()) {
        return super::message(
            &ctx,
            StatusCode::FORBIDDEN,
            "error.title",
            "error.csrf",
            None,
        );
    }
    let principal = principal.map(|Extension(p)| p);
    if principal.is_none() {
        let ip = connect
            .map(|Extension(c)| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        if state.check_intake_rate(ip).is_err() {
            return form(
                &ctx,
                &f,
                Some(ctx.t("report.rate").to_string()),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
    }
    let mut body = serde_json::Map::new();
    body.insert("narrative".into(), f.narrative.trim().into());
    let mut product = serde_json::Map::new();
    if let Some(b) = opt(&f.brand) {
        product.insert("brand".into(), b.into());
    }
    if let Some(m) = opt(&f.model) {
        product.insert("model".into(), m.into());
    }
    if !product.is_empty() {
        body.insert("product".into(), product.into());
    }
    if let Some(c) = opt(&f.country) {
        body.insert("country".into(), c.to_ascii_uppercase().into());
    }
    if let Some(d) = opt(&f.occurred_at) {
        body.insert("occurred_at".into(), d.into());
    }
    if let Some(i) = opt(&f.injuries).filter(|i| INJURIES.contains(&i.as_str())) {
        body.insert("injuries".into(), i.into());
    }
    let mut reporter = serde_json::Map::new();
    if let Some(n) = opt(&f.name) {
        reporter.insert("name".into(), n.into());
    }
    if let Some(e) = opt(&f.email) {
        reporter.insert("email".into(), e.into());
    }
    if !reporter.is_empty() {
        body.insert("reporter".into(), reporter.into());
    }
    // The form's one-time key: a double submit replays the first receipt.
    let key = idem
        .map(|k| k.trim().to_string())
        .filter(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|k| format!("webform-{k}"));
    let submission = Submission {
        body: serde_json::Value::Object(body),
        photos,
        idempotency_key: key,
        principal,
        received_at_ms: None,
    };
    match ingest(&state, submission).await {
        Ok(done) => {
            let page = DonePage {
                ctx: &ctx,
                reference: format!("FW-{:06}", done.receipt.case_number),
            };
            html(
                &ctx,
                if done.created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                page.render(),
            )
        }
        Err(e) => {
            let status = e.status();
            form(&ctx, &f, Some(e.detail()), status)
        }
    }
}
