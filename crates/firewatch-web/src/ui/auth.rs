//! Login, logout, the language switch, and browser sessions: expiry (idle and absolute),
//! rate limiting and lockout of logins (per user name and per client address, audited).

use super::i18n::Lang;
use super::{
    CSRF_COOKIE, Ctx, LANG_COOKIE, SESSION_COOKIE, UiSession, cookie, html, random_token,
    safe_next, see_other, set_cookie,
};
use crate::AppState;
use crate::auth::{Principal, token_hash, verify_password};
use crate::error::ApiError;
use crate::extract::{ApiForm, ApiQuery};
use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use firewatch_store::Actor;
use firewatch_store::ui::NewSession;
use serde::Deserialize;
use std::net::SocketAddr;

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT_MS: i64 = 30 * 60 * 1000;
/// ... and this long after login, whatever the activity.
pub const ABSOLUTE_TIMEOUT_MS: i64 = 12 * 3600 * 1000;
/// Activity is written at most this often (the idle clock's resolution).
const TOUCH_EVERY_MS: i64 = 60 * 1000;
/// Failed logins counted over this window.
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60 * 1000;
/// A user name is locked after this many failures in the window (until the window passes).
pub const MAX_FAILURES_PER_USER: i64 = 5;
/// A client address is blocked after this many failures in the window, whatever the names.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;

/// Why a session is no longer valid, if it is not.
pub fn expired(now_ms: i64, created_ms: i64, last_seen_ms: i64) -> Option<&'static str> {
    if now_ms - created_ms >= ABSOLUTE_TIMEOUT_MS {
        Some("absolute_timeout")
    } else if now_ms - last_seen_ms >= IDLE_TIMEOUT_MS {
        Some("idle_timeout")
    } else {
        None
    }
}

/// The session behind the `fw_session` cookie: its user as a principal (the same user and
/// role model as bearer tokens). Expired sessions are ended (audited) and ignored.
pub async fn session_from_cookie(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Principal, UiSession)>, ApiError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let id_hash = token_hash(value);
    let Some(s) = state.store.ui().session(&id_hash).await? else {
        return Ok(None);
    };
    let now = jiff::Timestamp::now().as_millisecond();
    if let Some(reason) = expired(now, s.created_at_ms, s.last_seen_at_ms) {
        state
            .store
            .ui()
            .end_session(&id_hash, reason, &Actor("system:sessions".into()))
            .await?;
        return Ok(None);
    }
    if now - s.last_seen_at_ms >= TOUCH_EVERY_MS {
        state.store.ui().touch_session(&id_hash, None).await?;
    }
    Ok(Some((
        Principal {
            name: s.user.name.clone(),
            role: s.user.role,
        },
        UiSession {
            id_hash,
            csrf: s.csrf,
            lang: s.lang.as_deref().and_then(Lang::parse),
        },
    )))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    ctx: &'a Ctx,
    error: Option<&'a str>,
    next: &'a str,
    user: &'a str,
}

pub fn login_page(ctx: &Ctx, status: StatusCode, error: Option<&str>, next: &str) -> Response {
    let page = LoginPage {
        ctx,
        error,
        next,
        user: "",
    };
    html(ctx, status, page.render())
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(ctx: Ctx, ApiQuery(q): ApiQuery<NextQuery>) -> Response {
    if ctx.user.is_some() {
        return see_other(&safe_next(q.next.as_deref()));
    }
    login_page(&ctx, StatusCode::OK, None, &safe_next(q.next.as_deref()))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
    #[allow(dead_code)]
    csrf: String,
}

/// A hash to verify against when the user does not exist, so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| crate::auth::hash_password("not a real password at all").unwrap_or_default())
}

pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiForm(form): ApiForm<LoginForm>,
) -> Result<Response, Response> {
    let address = connect
        .map(|Extension(c)| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let name: String = form.user.trim().chars().take(64).collect();
    let next = safe_next(form.next.as_deref());
    let store = state.store.ui();
    let since = jiff::Timestamp::now().as_millisecond() - LOCKOUT_WINDOW_MS;
    let failures = store
        .login_failures(&name, &address, since)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let locked = if failures.by_address >= MAX_FAILURES_PER_ADDRESS {
        Some("address")
    } else if failures.by_user >= MAX_FAILURES_PER_USER {
        Some("user")
    } else {
        None
    };
    if let Some(scope) = locked {
        store
            .audit_lockout(&name, &address, scope)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        let page = LoginPage {
            ctx: &ctx,
            error: Some("login.locked"),
            next: &next,
            user: &name,
        };
        let mut resp = html(&ctx, StatusCode::TOO_MANY_REQUESTS, page.render());
        resp.headers_mut()
            .insert(header::RETRY_AFTER, (LOCKOUT_WINDOW_MS / 1000).into());
        return Ok(resp);
    }
    let user = state
        .store
        .find_user(&name)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let ok = match &user {
        Some(u) if !u.disabled => u
            .password_hash
            .as_deref()
            .is_some_and(|h| verify_password(&form.password, h)),
        _ => {
            let _ = verify_password(&form.password, dummy_hash());
            false
        }
    };
    store
        .record_login(&name, &address, ok)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let Some(user) = user.filter(|_| ok) else {
        let page = LoginPage {
            ctx: &ctx,
            error: Some("login.failed"),
            next: &next,
            user: &name,
        };
        return Ok(html(&ctx, StatusCode::UNAUTHORIZED, page.render()));
    };
    // A new session id at every login (no fixation); the CSRF token is new too.
    let value = random_token();
    store
        .create_session(NewSession {
            id_hash: token_hash(&value),
            user: user.name.clone(),
            csrf: random_token(),
            lang: Some(ctx.lang.code().to_string()),
            address,
        })
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let to = if next == "/" {
        "/queue".to_string()
    } else {
        next
    };
    let mut resp = see_other(&to);
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &value, ABSOLUTE_TIMEOUT_MS / 1000),
    );
    Ok(resp)
}

pub async fn logout(
    State(state): State<AppState>,
    session: Option<Extension<UiSession>>,
    principal: Option<Extension<crate::auth::Principal>>,
) -> Response {
    if let (Some(Extension(s)), Some(Extension(p))) = (session, principal)
        && let Err(e) = state
            .store
            .ui()
            .end_session(&s.id_hash, "logout", &Actor(p.name))
            .await
    {
        return ApiError::from(e).into_response();
    }
    let mut resp = see_other("/login");
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(CSRF_COOKIE, "", 0));
    resp
}

#[derive(Debug, Deserialize)]
pub struct LangForm {
    lang: String,
    next: Option<String>,
    #[allow(dead_code)]
    csrf: String,
}

/// The user picks the language: a cookie for a year, and the session remembers it.
pub async fn set_lang(
    State(state): State<AppState>,
    session: Option<Extension<UiSession>>,
    ApiForm(form): ApiForm<LangForm>,
) -> Response {
    let lang = Lang::parse(&form.lang).unwrap_or(Lang::En);
    if let Some(Extension(s)) = session
        && let Err(e) = state
            .store
            .ui()
            .touch_session(&s.id_hash, Some(lang.code().to_string()))
            .await
    {
        return ApiError::from(e).into_response();
    }
    let mut resp = see_other(&safe_next(form.next.as_deref()));
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LANG_COOKIE, lang.code(), 365 * 86_400),
    );
    resp
}

/// `/`: the queue for staff, the login page otherwise.
pub async fn home(ctx: Ctx) -> Response {
    match ctx.role() {
        Some(firewatch_domain::Role::Admin) => see_other("/admin"),
        Some(firewatch_domain::Role::Pr) => see_other("/social"),
        Some(_) => see_other("/queue"),
        None => see_other("/login"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_when_idle_or_old() {
        let t0 = 1_000_000_000_000;
        assert_eq!(expired(t0 + 1000, t0, t0), None);
        assert_eq!(expired(t0 + IDLE_TIMEOUT_MS, t0, t0), Some("idle_timeout"));
        // Active all along, but past the absolute limit.
        let now = t0 + ABSOLUTE_TIMEOUT_MS;
        assert_eq!(expired(now, t0, now - 1000), Some("absolute_timeout"));
    }

    #[test]
    fn next_is_always_a_local_path() {
        assert_eq!(safe_next(Some("/cases/x?a=1")), "/cases/x?a=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
