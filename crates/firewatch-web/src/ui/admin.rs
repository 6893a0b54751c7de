//! Admin pages: users (add with the password rules, set a password: ends their sessions),
//! API tokens (list per user, create: shown once, only its SHA-256 is stored; revoke), products, the exposure upload, the playbook (view, validate, apply), connector
//! state, and the webhook/e-mail outbox with its dead letters. Every action calls the same
//! store method or API handler as the JSON API.

use super::{Ctx, UiSession, csrf_ok, error_page, html, see_other};
use crate::AppState;
use crate::api;
use crate::auth::{Principal, check_password_rules, hash_password, new_token};
use crate::error::ApiError;
use crate::extract::{ApiBytes, ApiForm, ApiMultipart, ApiPath, ApiQuery};
use askama::Template;
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use firewatch_domain::Role;
use firewatch_store::Actor;
use serde::Deserialize;

pub struct UserRow {
    pub name: String,
    pub role: String,
    pub password: bool,
    pub disabled: bool,
    pub tokens: usize,
}

/// One API token of a user, as the admin page lists it (never the token itself).
pub struct TokenRow {
    pub id: i64,
    pub user: String,
    pub label: String,
    pub created: String,
    pub revoked: Option<String>,
}

/// A token just created: shown on the resulting page only, never stored in clear.
pub struct NewToken {
    pub id: i64,
    pub user: String,
    pub token: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage<'a> {
    ctx: &'a Ctx,
    notice: Option<(bool, String)>,
    users: Vec<UserRow>,
    token_rows: Vec<TokenRow>,
    new_token: Option<NewToken>,
    roles: &'static [Role],
    products: Vec<(String, String, String, String)>,
    playbook_version: i64,
    playbook_source: String,
    playbook_text: String,
    connectors: Vec<(String, String, String, i64, i64, String)>,
    jobs: Vec<(i64, String, String, String, i64, String)>,
    dead: Vec<(i64, String, String, String, i64, String)>,
}

fn ms(v: Option<i64>) -> String {
    v.map(super::when).unwrap_or_default()
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    notice: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    render_with(state, ctx, notice, None, status).await
}

async fn render_with(
    state: &AppState,
    ctx: &Ctx,
    notice: Option<(bool, String)>,
    new_token: Option<NewToken>,
    status: StatusCode,
) -> Response {
    let ui = state.store.ui();
    let users = match ui.list_users().await {
        Ok(u) => u,
        Err(e) => return error_page(ctx, e.into()).await,
    };
    let mut rows = Vec::new();
    let mut token_rows = Vec::new();
    for u in users {
        let list = match state.store.list_tokens(&u.name).await {
            Ok(t) => t,
            Err(e) => return error_page(ctx, e.into()).await,
        };
        let tokens = list.iter().filter(|t| t.revoked_at_ms.is_none()).count();
        token_rows.extend(list.into_iter().map(|t| TokenRow {
            id: t.id,
            user: t.user,
            label: t.label.unwrap_or_default(),
            created: super::when(t.created_at_ms),
            revoked: t.revoked_at_ms.map(super::when),
        }));
        rows.push(UserRow {
            password: u.password_hash.is_some(),
            role: u.role.as_str().to_string(),
            disabled: u.disabled,
            name: u.name,
            tokens,
        });
    }
    let products = match &state.signals {
        Some(s) => match s.store.list_products().await {
            Ok(p) => p
                .iter()
                .map(|p| {
                    (
                        p.brand.clone(),
                        p.model.clone(),
                        p.category.clone(),
                        p.price.map(|x| format!("{x:.2}")).unwrap_or_default(),
                    )
                })
                .collect(),
            Err(e) => return error_page(ctx, e.into()).await,
        },
        None => Vec::new(),
    };
    let active = state.store.playbooks().active_playbook();
    let connectors = match state.store.list_connectors().await {
        Ok(c) => c
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.cursor.clone().unwrap_or_default(),
                    ms(c.last_event_at_ms),
                    c.events,
                    c.errors,
                    c.last_error.clone().unwrap_or_default(),
                )
            })
            .collect(),
        Err(e) => return error_page(ctx, e.into()).await,
    };
    let job_rows = |state_name: Option<&'static str>| {
        let pb = state.store.playbooks();
        async move {
            pb.list_jobs(state_name, 50).await.map(|jobs| {
                jobs.iter()
                    .map(|j| {
                        (
                            j.id,
                            j.kind.clone(),
                            j.target.clone(),
                            j.state.clone(),
                            j.attempts,
                            j.last_error.clone().unwrap_or_default(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        }
    };
    let jobs = match job_rows(None).await {
        Ok(j) => j,
        Err(e) => return error_page(ctx, e.into()).await,
    };
    let dead = match job_rows(Some("dead")).await {
        Ok(j) => j,
        Err(e) => return error_page(ctx, e.into()).await,
    };
    let page = AdminPage {
        ctx,
        notice,
        users: rows,
        token_rows,
        new_token,
        roles: &Role::ALL,
        products,
        playbook_version: active.version,
        playbook_source: active.source_name.clone(),
        playbook_text: active.text.clone(),
        connectors,
        jobs,
        dead,
    };
    html(ctx, status, page.render())
}

pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<super::DoneQuery>,
) -> Response {
    let notice = q.done.map(|_| (true, ctx.t("admin.done").to_string()));
    render(&state, &ctx, notice, StatusCode::OK).await
}

fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    name: String,
    role: String,
    password: String,
}

pub async fn add_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiForm(f): ApiForm<UserForm>,
) -> Response {
    let name = f.name.trim().to_string();
    let fail = |m: String| (false, m);
    let result: Result<(), (bool, String)> = async {
        if !valid_user_name(&name) {
            return Err(fail(
                "a user name has 1..64 characters among letters, digits and . _ - @".into(),
            ));
        }
        let role = f.role.parse::<Role>().map_err(fail)?;
        check_password_rules(&name, &f.password).map_err(|e| fail(e.to_string()))?;
        let hash = hash_password(&f.password).map_err(|e| fail(e.to_string()))?;
        state
            .store
            .create_user(&name, role, Some(hash), &Actor(p.name.clone()))
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => see_other("/admin?done=user#users"),
        Err(n) => render(&state, &ctx, Some(n), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    password: String,
}

pub async fn set_password(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(name): ApiPath<String>,
    ApiForm(f): ApiForm<PasswordForm>,
) -> Response {
    let result = async {
        check_password_rules(&name, &f.password).map_err(|e| e.to_string())?;
        let hash = hash_password(&f.password).map_err(|e| e.to_string())?;
        state
            .store
            .ui()
            .set_password(&name, hash, &Actor(p.name.clone()))
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(()) => see_other("/admin?done=password#users"),
        Err(m) => {
            render(
                &state,
                &ctx,
                Some((false, m)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    user: String,
    #[serde(default)]
    label: String,
}

/// Creates an API token for a user: the same generation and store call as
/// `firewatch token create` ([`new_token`], only the SHA-256 reaches the store, which writes
/// the audit event). The token is on the resulting page only (no redirect: it is not kept).
pub async fn create_token(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiForm(f): ApiForm<TokenForm>,
) -> Response {
    let user = f.user.trim().to_string();
    let label = f.label.trim();
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        let m = ctx.t("admin.token_label_invalid").to_string();
        return render(
            &state,
            &ctx,
            Some((false, m)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let label = (!label.is_empty()).then(|| label.to_string());
    let (token, hash) = new_token();
    match state
        .store
        .create_token(&user, hash, label, &Actor(p.name))
        .await
    {
        Ok(rec) => {
            let m = ctx.t("admin.token_created").to_string();
            let new = NewToken {
                id: rec.id,
                user: rec.user,
                token,
            };
            render_with(&state, &ctx, Some((true, m)), Some(new), StatusCode::OK).await
        }
        Err(e) => {
            let e: ApiError = e.into();
            let status = e.status();
            render(&state, &ctx, Some((false, e.detail())), status).await
        }
    }
}

/// Revokes an API token (the store's `revoke_token`, audited there); a revoked token stays
/// listed with its revocation time.
pub async fn revoke_token(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        let e = ApiError::not_found(format!("token {id}"));
        return render(&state, &ctx, Some((false, e.detail())), e.status()).await;
    };
    match state.store.revoke_token(id, &Actor(p.name)).await {
        Ok(()) => see_other("/admin?done=token#tokens"),
        Err(e) => {
            let e: ApiError = e.into();
            let status = e.status();
            render(&state, &ctx, Some((false, e.detail())), status).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PlaybookForm {
    text: String,
    action: String,
}

pub async fn playbook(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiForm(f): ApiForm<PlaybookForm>,
) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let query = match Query::try_from_uri(&Uri::from_static("/?name=admin-page.toml")) {
        Ok(Query(q)) => ApiQuery(q),
        Err(e) => return error_page(&ctx, ApiError::bad_request("bad-query", e.body_text())).await,
    };
    let body = ApiBytes(Bytes::from(f.text.replace("\r\n", "\n")));
    let result = if f.action == "apply" {
        api::playbooks::put_playbook(State(state.clone()), Extension(p), headers, query, body)
            .await
            .map(|v| format!("{} {}", ctx.t("admin.done"), v.0["version"]))
    } else {
        api::playbooks::validate_playbook(headers, query, body)
            .await
            .map(|v| format!("{} {}", ctx.t("admin.done"), v.0["rules"]))
    };
    match result {
        Ok(m) => render(&state, &ctx, Some((true, m)), StatusCode::OK).await,
        Err(e) => {
            let status = e.status();
            render(&state, &ctx, Some((false, e.detail())), status).await
        }
    }
}

pub async fn retry(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
) -> Response {
    match state.store.playbooks().retry_job(id, &Actor(p.name)).await {
        Ok(_) => see_other("/admin?done=retry#outbox"),
        Err(e) => {
            render(
                &state,
                &ctx,
                Some((false, e.to_string())),
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

/// The exposure CSV, uploaded as a file: the same import as `POST /api/v1/exposure`.
pub async fn exposure(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    session: Option<Extension<UiSession>>,
    Extension(p): Extension<Principal>,
    ApiMultipart(mut multipart): ApiMultipart,
) -> Response {
    let mut csrf = None;
    let mut file = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.ok(),
            Some("file") => file = field.bytes().await.ok(),
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
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return render(
            &state,
            &ctx,
            Some((false, "no file".into())),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let req = match Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(file))
    {
        Ok(r) => r,
        Err(e) => return error_page(&ctx, ApiError::internal("exposure upload", e)).await,
    };
    match api::exposure::import(State(state.clone()), Extension(p), req).await {
        Ok(r) => {
            let m = format!(
                "{} {} rows ({} new, {} updated)",
                ctx.t("admin.done"),
                r.0.rows,
                r.0.created,
                r.0.updated
            );
            render(&state, &ctx, Some((true, m)), StatusCode::OK).await
        }
        Err(e) => {
            let status = e.status();
            render(&state, &ctx, Some((false, e.detail())), status).await
        }
    }
}
