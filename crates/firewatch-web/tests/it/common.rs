//! What the web crate's integration tests share: a router built from the route table over a
//! real SQLite store in a temporary directory, with a user (and token) of every role.

use axum::body::Body;
use axum::http::{Method, Request};
use firewatch_domain::{InjuryLevel, Role, Severity};
use firewatch_store::sqlite::SqliteStore;
use firewatch_store::{Actor, FsBlobStore, Store};
use firewatch_web::{AppState, Assessment, TriageEngine, WebConfig, app, auth};
use std::path::Path;
use std::sync::Arc;

/// Triage is not under test here: every narrative gets no hazard.
pub struct NoHazards;

impl TriageEngine for NoHazards {
    fn assess(&self, _: &str, _: Option<&str>, _: InjuryLevel) -> Assessment {
        Assessment {
            hazards: vec![],
            severity: Severity::S4,
            language: None,
            product: None,
            detail: serde_json::Value::Null,
        }
    }
}

/// A fresh SQLite store in `dir` with a user `user-{role}` of every role.
pub async fn store_with_users(dir: &Path) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::open(&dir.join("fw.sqlite")).await.unwrap());
    for role in Role::ALL {
        store
            .create_user(&user_of(role), role, None, &Actor::cli())
            .await
            .unwrap();
    }
    store
}

/// The name of the user of `role` made by [`store_with_users`].
pub fn user_of(role: Role) -> String {
    format!("user-{role}")
}

/// A bearer token for the user of every role.
pub async fn tokens(store: &SqliteStore) -> Vec<(Role, String)> {
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let (token, hash) = auth::new_token();
        store
            .create_token(&user_of(role), hash, None, &Actor::cli())
            .await
            .unwrap();
        tokens.push((role, token));
    }
    tokens
}

/// A browser session `(role, cookie, csrf token)` for the user of every role.
pub async fn sessions(store: &SqliteStore) -> Vec<(Role, String, String)> {
    use firewatch_store::ui::NewSession;
    let mut sessions = Vec::new();
    for role in Role::ALL {
        let cookie = format!("{:064x}", role as u8 as u128 + 1);
        let csrf = format!("{:064x}", role as u8 as u128 + 100);
        store
            .ui()
            .create_session(NewSession {
                id_hash: auth::token_hash(&cookie),
                user: user_of(role),
                csrf: csrf.clone(),
                lang: None,
                address: "127.0.0.1".into(),
            })
            .await
            .unwrap();
        sessions.push((role, cookie, csrf));
    }
    sessions
}

/// The whole application over `store`, blobs under `dir`.
pub fn router(store: Arc<SqliteStore>, dir: &Path, config: WebConfig) -> axum::Router {
    app(AppState::new(
        store,
        Arc::new(FsBlobStore::new(dir.join("blobs"))),
        Arc::new(NoHazards),
        config,
    ))
}

/// The configuration of the API tests: intake is not rate-limited.
pub fn unlimited_intake() -> WebConfig {
    WebConfig {
        intake_per_minute: 10_000,
        intake_burst: 10_000,
        ..WebConfig::default()
    }
}

/// A route template with every path parameter replaced by `param`.
pub fn concrete(template: &str, param: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { param } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// A JSON API request: `{}` as the body of methods that take one.
pub fn api_request(method: &Method, uri: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = if method == Method::GET || method == Method::DELETE {
        Body::empty()
    } else {
        Body::from("{}")
    };
    req.body(body).unwrap()
}
