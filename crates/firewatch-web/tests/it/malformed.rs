//! Malformed requests to every route of the route table, by a caller the route admits (a
//! bearer token for the API, a browser session with its CSRF token for pages): a body of
//! the wrong type, a body that does not parse, fields of the wrong type, a query string of
//! the wrong type, a path parameter that is not UTF-8. Whatever a route answers, it never
//! answers in axum's plain text: the API answers problem+json, pages problem+json or an
//! HTML page. There is no response layer rewriting plain text after the fact, so this holds
//! only because every handler's extractors reject in problem+json (`firewatch_web::extract`).

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use firewatch_domain::Role;
use firewatch_web::routes::{Access, RouteSpec, table};
use firewatch_web::ui::is_page;
use tower::ServiceExt;

/// What a malformed request carries: content type and body.
const BODIES: &[(&str, &str)] = &[
    ("text/plain", "not what this route reads"),
    ("application/json", "{\"unclosed\": "),
    (
        "application/json",
        "{\"limit\": \"many\", \"to\": 7, \"body\": []}",
    ),
    (
        "application/x-www-form-urlencoded",
        "reason=%ZZ&kind=&to=7&body",
    ),
    ("multipart/form-data", "--no-boundary-declared--"),
    ("application/octet-stream", "\u{0}\u{1}\u{2}"),
];

/// Query strings and path parameters of the wrong type or encoding.
const QUERIES: &[&str] = &[
    "",
    "?limit=many&offset=-1&severity=S9&mine=maybe",
    "?%FF=%FE",
];
const PARAMS: &[&str] = &["1", "%FF%FE", "-1"];

#[tokio::test]
async fn no_route_answers_a_malformed_request_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_users(dir.path()).await;
    let tokens = tokens(&store).await;
    let sessions = sessions(&store).await;
    let router = router(store, dir.path(), unlimited_intake());
    let mut checked = 0;
    let mut client_errors = 0;
    // Logout ends the session it is called with: walk it last.
    let mut specs: Vec<&RouteSpec> = table().iter().collect();
    specs.sort_by_key(|s| s.path == "/logout");
    for spec in specs {
        let page = is_page(spec.path);
        let role: Option<Role> = match spec.access {
            Access::Public => None,
            Access::Roles(roles) => roles.first().copied(),
        };
        for param in PARAMS {
            for query in QUERIES {
                let uri = format!("{}{query}", concrete(spec.path, param));
                // A GET carries no body: one content type is enough.
                let bodies = if spec.method == Method::GET {
                    &BODIES[..1]
                } else {
                    BODIES
                };
                for (content_type, body) in bodies {
                    let mut req = Request::builder()
                        .method(spec.method.clone())
                        .uri(&uri)
                        .header(header::CONTENT_TYPE, *content_type)
                        .header("sec-fetch-site", "same-origin");
                    let mut body = body.to_string();
                    if let Some(role) = role {
                        if page {
                            let (_, cookie, csrf) = sessions.iter().find(|s| s.0 == role).unwrap();
                            req = req.header(header::COOKIE, format!("fw_session={cookie}"));
                            body = format!("csrf={csrf}&{body}");
                        } else {
                            let (_, token) = tokens.iter().find(|t| t.0 == role).unwrap();
                            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
                        }
                    }
                    let body = if spec.method == Method::GET {
                        Body::empty()
                    } else {
                        Body::from(body)
                    };
                    let resp = router
                        .clone()
                        .oneshot(req.body(body).unwrap())
                        .await
                        .unwrap();
                    let what = format!("{} {uri} ({content_type})", spec.method);
                    let status = resp.status();
                    let content_type = resp
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    // (Only /metrics answers in plain text, with a 200: Prometheus' format.)
                    assert!(
                        status.is_success() || !content_type.starts_with("text/plain"),
                        "{what}: {status} in plain text"
                    );
                    if status.is_client_error() {
                        client_errors += 1;
                        assert!(
                            content_type.starts_with("application/problem+json")
                                || (page && content_type.starts_with("text/html")),
                            "{what}: {status} as {content_type:?}"
                        );
                    }
                    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= table().len() * PARAMS.len() * QUERIES.len());
    assert!(client_errors > checked / 4, "{client_errors} of {checked}");
}
