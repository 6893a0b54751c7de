//! The authorization matrix: every route in the route table, called anonymously and by every
//! role, is allowed or denied exactly as the table says. Because the router is built from the
//! same table, a new route is covered here without writing anything.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use firewatch_domain::{InjuryLevel, Role, Severity};
use firewatch_store::sqlite::SqliteStore;
use firewatch_store::{Actor, FsBlobStore, Store};
use firewatch_web::routes::{Access, table};
use firewatch_web::{AppState, Assessment, TriageEngine, WebConfig, app, auth};
use std::sync::Arc;
use tower::ServiceExt;

/// Triage is not under test here: every narrative gets no hazard.
struct NoHazards;

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

/// Path parameters name nothing that exists (so that, e.g., the admin's token revocation
/// cannot revoke the tokens this test uses).
fn path_for(template: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { "999999" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

async fn problem_type(resp: axum::response::Response) -> (StatusCode, String) {
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let kind = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string))
        .unwrap_or_default();
    (status, kind)
}

#[tokio::test]
async fn every_route_allows_and_denies_exactly_as_the_route_table_says() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("fw.sqlite"))
            .await
            .unwrap(),
    );
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let name = format!("user-{role}");
        store
            .create_user(&name, role, None, &Actor::cli())
            .await
            .unwrap();
        let (token, hash) = auth::new_token();
        store
            .create_token(&name, hash, None, &Actor::cli())
            .await
            .unwrap();
        tokens.push((role, token));
    }
    let state = AppState::new(
        store,
        Arc::new(FsBlobStore::new(dir.path().join("blobs"))),
        Arc::new(NoHazards),
        WebConfig {
            intake_per_minute: 10_000,
            intake_burst: 10_000,
            ..WebConfig::default()
        },
    );
    let router = app(state);
    let mut checked = 0;
    for spec in table() {
        let path = path_for(spec.path);
        let callers: Vec<(Option<Role>, Option<&str>)> = std::iter::once((None, None))
            .chain(tokens.iter().map(|(r, t)| (Some(*r), Some(t.as_str()))))
            .collect();
        for (role, token) in callers {
            let mut req = Request::builder()
                .method(spec.method.clone())
                .uri(&path)
                .header("content-type", "application/json");
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let body = if spec.method == Method::GET || spec.method == Method::DELETE {
                Body::empty()
            } else {
                Body::from("{}")
            };
            let resp = router
                .clone()
                .oneshot(req.body(body).unwrap())
                .await
                .unwrap();
            let (status, kind) = problem_type(resp).await;
            let allowed = match spec.access {
                Access::Public => true,
                Access::Roles(roles) => role.is_some_and(|r| roles.contains(&r)),
            };
            let who = role.map(|r| r.as_str()).unwrap_or("anonymous");
            if allowed {
                assert!(
                    status != StatusCode::UNAUTHORIZED && kind != "/problems/role-denied",
                    "{} {} must be allowed for {who}, got {status} {kind}",
                    spec.method,
                    spec.path
                );
            } else if role.is_none() {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {} anonymous",
                    spec.method,
                    spec.path
                );
            } else {
                assert_eq!(
                    (status, kind.as_str()),
                    (StatusCode::FORBIDDEN, "/problems/role-denied"),
                    "{} {} must be denied for {who}",
                    spec.method,
                    spec.path
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, table().len() * (Role::ALL.len() + 1));
}

/// The same matrix for browser sessions (issue 7): every page of the route table, called
/// with no session and with a session of every role (forms carry the session's CSRF
/// token), is allowed or denied exactly as the table says.
#[tokio::test]
async fn every_page_allows_and_denies_browser_sessions_as_the_route_table_says() {
    use firewatch_store::ui::NewSession;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("fw.sqlite"))
            .await
            .unwrap(),
    );
    let mut sessions = Vec::new();
    for role in Role::ALL {
        let name = format!("user-{role}");
        store
            .create_user(&name, role, None, &Actor::cli())
            .await
            .unwrap();
        let cookie = format!("{:064x}", role as u8 as u128 + 1);
        let csrf = format!("{:064x}", role as u8 as u128 + 100);
        store
            .ui()
            .create_session(NewSession {
                id_hash: auth::token_hash(&cookie),
                user: name,
                csrf: csrf.clone(),
                lang: None,
                address: "127.0.0.1".into(),
            })
            .await
            .unwrap();
        sessions.push((role, cookie, csrf));
    }
    let state = AppState::new(
        store,
        Arc::new(FsBlobStore::new(dir.path().join("blobs"))),
        Arc::new(NoHazards),
        WebConfig::default(),
    );
    let router = app(state);
    let mut checked = 0;
    // Logout ends the session it is called with: walk it last.
    let mut pages: Vec<_> = table()
        .iter()
        .filter(|s| firewatch_web::ui::is_page(s.path))
        .collect();
    pages.sort_by_key(|s| s.path == "/logout");
    for spec in pages {
        let path = path_for(spec.path);
        let callers: Vec<Option<&(Role, String, String)>> = std::iter::once(None)
            .chain(sessions.iter().map(Some))
            .collect();
        for caller in callers {
            let mut req = Request::builder()
                .method(spec.method.clone())
                .uri(&path)
                .header("sec-fetch-site", "same-origin")
                .header("content-type", "application/x-www-form-urlencoded");
            let mut body = String::from("x=1");
            if let Some((_, cookie, csrf)) = caller {
                req = req.header("cookie", format!("fw_session={cookie}"));
                body = format!("csrf={csrf}");
            }
            let resp = router
                .clone()
                .oneshot(req.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
                .await
                .unwrap();
            let page = String::from_utf8_lossy(&bytes);
            let denied_page = page.contains("Your role may not open this page.");
            let role = caller.map(|c| c.0);
            let allowed = match spec.access {
                Access::Public => true,
                Access::Roles(roles) => role.is_some_and(|r| roles.contains(&r)),
            };
            let who = role.map(|r| r.as_str()).unwrap_or("anonymous");
            if allowed {
                // A session's own token passes the CSRF check.
                assert!(
                    role.is_none() || !page.contains("CSRF"),
                    "{} {} refused the CSRF token of {who}",
                    spec.method,
                    spec.path
                );
                assert!(
                    status != StatusCode::UNAUTHORIZED && !denied_page,
                    "{} {} must be allowed for {who}, got {status}: {}",
                    spec.method,
                    spec.path,
                    page.chars().take(3000).collect::<String>()
                );
            } else if role.is_none() {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {} anonymous",
                    spec.method,
                    spec.path
                );
                assert!(
                    page.contains("id=\"login-submit\""),
                    "{} shows the login form",
                    spec.path
                );
            } else {
                assert!(
                    status == StatusCode::FORBIDDEN && denied_page,
                    "{} {} must be denied for {who}, got {status}",
                    spec.method,
                    spec.path
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} page calls");
}
