//! The authorization matrix: every route in the route table, called anonymously and by every
//! role, is allowed or denied exactly as the table says. Because the router is built from the
//! same table, a new route is covered here without writing anything.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use firewatch_domain::Role;
use firewatch_web::routes::{Access, table};
use tower::ServiceExt;

/// Path parameters name nothing that exists (so that, e.g., the admin's token revocation
/// cannot revoke the tokens this test uses).
fn path_for(template: &str) -> String {
    concrete(template, "999999")
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
    let store = store_with_users(dir.path()).await;
    let tokens = tokens(&store).await;
    let router = router(store, dir.path(), unlimited_intake());
    let mut checked = 0;
    for spec in table() {
        let path = path_for(spec.path);
        let callers: Vec<(Option<Role>, Option<&str>)> = std::iter::once((None, None))
            .chain(tokens.iter().map(|(r, t)| (Some(*r), Some(t.as_str()))))
            .collect();
        for (role, token) in callers {
            let resp = router
                .clone()
                .oneshot(api_request(&spec.method, &path, token))
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
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_users(dir.path()).await;
    let sessions = sessions(&store).await;
    let router = router(store, dir.path(), firewatch_web::WebConfig::default());
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
