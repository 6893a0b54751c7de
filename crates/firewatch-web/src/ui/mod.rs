//! The web UI (issue 7): server-rendered pages (askama templates compiled into the binary),
//! browser sessions, CSRF protection, English and French. Every page is a route in
//! [`crate::routes::table`], so the one `authorize` middleware checks its roles exactly as
//! for the JSON API; a browser session resolves to the same user and role as a bearer token.
//! Pages call the same store methods and API handlers as the JSON API: no business rule
//! lives here.
//!
//! Security: the session cookie is HttpOnly, SameSite=Strict and holds 32 random bytes
//! (only their SHA-256 is stored); every POST from a browser must come from this origin
//! (`Sec-Fetch-Site`/`Origin`) and carry the session's (or, before login, the `fw_csrf`
//! cookie's) CSRF token; templates escape every value; pages set a CSP without
//! 'unsafe-inline' and use only the CSS served from `/static/`.

pub mod admin;
pub mod auth;
pub mod case;
pub mod dashboard;
pub mod decision;
pub mod i18n;
pub mod public;
pub mod queue;
pub mod social;
pub mod statements;
pub mod statics;
pub mod svg;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::Access;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use firewatch_domain::Role;
use i18n::Lang;

pub const SESSION_COOKIE: &str = "fw_session";
pub const CSRF_COOKIE: &str = "fw_csrf";
pub const LANG_COOKIE: &str = "fw_lang";
/// The CSP of every page: no inline script or style, nothing from outside.
pub const PAGE_CSP: &str = crate::security::HTML_CSP;

/// Whether a route of the table is a page (HTML) rather than the JSON API or operations.
pub fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/") || ["/healthz", "/readyz", "/metrics"].contains(&path))
}

/// `?done=...`: what a page says after the POST that redirected to it.
#[derive(Debug, serde::Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

/// The browser session behind a request (set by `authorize` when the cookie is valid).
#[derive(Debug, Clone)]
pub struct UiSession {
    pub id_hash: String,
    pub csrf: String,
    pub lang: Option<Lang>,
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

pub fn set_cookie(name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1; Max-Age=0"))
}

pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// What every page needs: the language, who is signed in, the CSRF token for its forms.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<Principal>,
    pub csrf: String,
    /// A new anonymous CSRF token to set as a cookie with the page.
    new_csrf_cookie: bool,
    /// The current path and query (for the language switch and the login's `next`).
    pub here: String,
    pub css: &'static str,
}

impl Ctx {
    pub fn from_parts(parts: &Parts) -> Ctx {
        let session = parts.extensions.get::<UiSession>();
        let user = parts.extensions.get::<Principal>().cloned();
        let lang = session
            .and_then(|s| s.lang)
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse))
            .or_else(|| Lang::from_accept_language(&parts.headers))
            .unwrap_or(Lang::En);
        let (csrf, new_csrf_cookie) = match session {
            Some(s) => (s.csrf.clone(), false),
            None => match cookie(&parts.headers, CSRF_COOKIE) {
                Some(c) if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    (c.to_string(), false)
                }
                _ => (random_token(), true),
            },
        };
        Ctx {
            lang,
            user,
            csrf,
            new_csrf_cookie,
            here: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
            css: statics::css_url(),
        }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The label of an enumerated value: `tf("status", "new")` is `t("status.new")`.
    pub fn tf(&self, prefix: &str, value: &str) -> &'static str {
        self.lang.t(&format!("{prefix}.{value}"))
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.role)
    }

    /// Whether the signed-in user may use `method path` (from the route table).
    pub fn may(&self, method: &str, path: &str) -> bool {
        let Ok(m) = method.parse::<Method>() else {
            return false;
        };
        match crate::routes::access_for(&m, path) {
            Some(Access::Public) => true,
            Some(Access::Roles(roles)) => self.role().is_some_and(|r| roles.contains(&r)),
            None => false,
        }
    }

    pub fn user_name(&self) -> &str {
        self.user.as_ref().map(|u| u.name.as_str()).unwrap_or("")
    }

    pub fn role_name(&self) -> &str {
        self.user.as_ref().map(|u| u.role.as_str()).unwrap_or("")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, Self::Rejection> {
        Ok(Ctx::from_parts(parts))
    }
}

/// An HTML response for a rendered page, with the page CSP, no caching, and the anonymous
/// CSRF cookie when the page created one.
pub fn html(ctx: &Ctx, status: StatusCode, body: Result<String, askama::Error>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return ApiError::internal("template", e).into_response(),
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if ctx.new_csrf_cookie {
        h.append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, &ctx.csrf, 86_400),
        );
    }
    resp
}

/// A 303 to `to` (after a POST).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A local path to go back to: absolute, not protocol-relative, no backslash.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/".into(),
    }
}

#[derive(askama::Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub ctx: &'a Ctx,
    pub title_key: &'a str,
    pub message_key: &'a str,
    pub detail: Option<String>,
}

pub fn message(
    ctx: &Ctx,
    status: StatusCode,
    title_key: &str,
    message_key: &str,
    detail: Option<String>,
) -> Response {
    use askama::Template;
    let page = MessagePage {
        ctx,
        title_key,
        message_key,
        detail,
    };
    html(ctx, status, page.render())
}

/// An API error shown as a page: the problem's detail as text.
pub async fn error_page(ctx: &Ctx, e: ApiError) -> Response {
    let status = e.status();
    let key = match status {
        StatusCode::NOT_FOUND => "error.not_found",
        StatusCode::FORBIDDEN => "error.forbidden",
        _ => "error.title",
    };
    // Internal errors keep their detail in the log (ApiError::internal already logged it).
    let detail = (status != StatusCode::INTERNAL_SERVER_ERROR).then(|| e.detail());
    message(ctx, status, "error.title", key, detail)
}

/// Called by `authorize` before the role check: resolves the browser session (when there is
/// no bearer token), and answers page requests that must not reach their handler: anonymous
/// (the login form, 401), a role the route does not allow (403 page), a cross-site or
/// token-less browser POST (403). `None` lets the request through.
pub async fn gate(
    state: &AppState,
    req: &mut Request,
    path: &str,
    access: Access,
    principal: &mut Option<Principal>,
    had_bearer: bool,
) -> Option<Response> {
    if !had_bearer && principal.is_none() {
        match auth::session_from_cookie(state, req.headers()).await {
            Ok(Some((p, s))) => {
                *principal = Some(p.clone());
                req.extensions_mut().insert(p);
                req.extensions_mut().insert(s);
            }
            Ok(None) => {}
            Err(e) => return Some(e.into_response()),
        }
    }
    let browser = !had_bearer;
    let page = is_page(path);
    if page && browser {
        let page_ctx = || {
            let (mut parts, _) = Request::new(Body::empty()).into_parts();
            parts.headers = req.headers().clone();
            parts.uri = req.uri().clone();
            parts.extensions = req.extensions().clone();
            Ctx::from_parts(&parts)
        };
        match (access, principal.as_ref()) {
            (Access::Roles(_), None) => {
                let ctx = page_ctx();
                let next = if req.method() == Method::GET {
                    ctx.here.clone()
                } else {
                    "/".into()
                };
                return Some(auth::login_page(
                    &ctx,
                    StatusCode::UNAUTHORIZED,
                    Some("login.required"),
                    &next,
                ));
            }
            (Access::Roles(roles), Some(p)) if !roles.contains(&p.role) => {
                let ctx = page_ctx();
                return Some(message(
                    &ctx,
                    StatusCode::FORBIDDEN,
                    "error.title",
                    "error.forbidden",
                    None,
                ));
            }
            _ => {}
        }
    }
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD);
    if browser && unsafe_method && (page || cookie(req.headers(), SESSION_COOKIE).is_some()) {
        if let Some(resp) = check_origin(req) {
            return Some(resp);
        }
        if page && let Some(resp) = check_form_token(req).await {
            return Some(resp);
        }
    }
    None
}

/// A refused browser post (cross-site, missing or wrong form token): problem+json like every
/// other refusal, so scripts and people get the same answer.
fn forbidden_text(msg: &'static str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, "csrf", "Request refused", msg).into_response()
}

/// A browser POST must come from this site: `Sec-Fetch-Site` same-origin (or none, typed by
/// the user), else an `Origin` whose host is the request's `Host`.
fn check_origin(req: &Request) -> Option<Response> {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return (!matches!(site, "same-origin" | "none"))
            .then(|| forbidden_text("cross-site request refused"));
    }
    if let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = h
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        return (origin == "null" || origin_host != host)
            .then(|| forbidden_text("cross-origin request refused"));
    }
    None
}

/// Every URL-encoded page form carries `csrf`, equal to the session's token (or, before
/// login, to the `fw_csrf` cookie). Multipart forms (the public report, exposure upload) are
/// checked by their handlers with [`csrf_ok`]; other body types are refused.
async fn check_form_token(req: &mut Request) -> Option<Response> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        return None;
    }
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Some(forbidden_text("pages accept form posts only"));
    }
    let body = std::mem::take(req.body_mut());
    let Ok(bytes) = axum::body::to_bytes(body, 2 << 20).await else {
        return Some(ApiError::too_large("form too large").into_response());
    };
    let token = form_value(bytes.clone(), "csrf").await;
    *req.body_mut() = Body::from(bytes);
    if csrf_ok(
        req.headers(),
        req.extensions().get::<UiSession>(),
        token.as_deref(),
    ) {
        None
    } else {
        Some(forbidden_text(
            "missing or wrong CSRF token; reload the form",
        ))
    }
}

/// One field of a URL-encoded form body.
pub async fn form_value(body: axum::body::Bytes, name: &str) -> Option<String> {
    use axum::extract::FromRequest;
    let req = Request::builder()
        .method(Method::POST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .ok()?;
    let axum::extract::Form(pairs) =
        axum::extract::Form::<Vec<(String, String)>>::from_request(req, &())
            .await
            .ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Whether `token` is this browser's CSRF token (constant-time comparison).
pub fn csrf_ok(headers: &HeaderMap, session: Option<&UiSession>, token: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    let expected = match session {
        Some(s) => Some(s.csrf.as_str()),
        None => cookie(headers, CSRF_COOKIE),
    };
    match (expected, token) {
        (Some(e), Some(t)) if !e.is_empty() => e.as_bytes().ct_eq(t.as_bytes()).into(),
        _ => false,
    }
}

/// Formats milliseconds as `YYYY-MM-DD HH:MM UTC`.
pub fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A duration in seconds as `2 d 3 h`, `3 h 5 min`, `4 min`; negative means overdue.
pub fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let text = if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    };
    if secs < 0 { format!("-{text}") } else { text }
}
