//! Hostile requests against the whole router (built from the route table, over a real
//! SQLite store in a temporary directory): every response carries the security headers,
//! and every path parameter of every route refuses path-traversal and other hostile ids
//! with a 4xx problem, never a 500 and never a file's content.

use crate::common::*;
use axum::http::{Method, StatusCode, header};
use firewatch_domain::Role;
use firewatch_web::routes::{Access, table};
use firewatch_web::security::{API_CSP, HTML_CSP};
use tower::ServiceExt;

struct Fixture {
    router: axum::Router,
    tokens: Vec<(Role, String)>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    // A file outside the blob root that a traversal would reach.
    std::fs::write(dir.path().join("secret.txt"), "TOP-SECRET-CONTENT").unwrap();
    let store = store_with_users(dir.path()).await;
    let tokens = tokens(&store).await;
    Fixture {
        router: router(store, dir.path(), unlimited_intake()),
        tokens,
        _dir: dir,
    }
}

impl Fixture {
    /// A token of a role the route admits (none for public routes).
    fn token_for(&self, access: Access) -> Option<&str> {
        match access {
            Access::Public => None,
            Access::Roles(roles) => self
                .tokens
                .iter()
                .find(|(r, _)| roles.contains(r))
                .map(|(_, t)| t.as_str()),
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = self
            .router
            .clone()
            .oneshot(api_request(&method, uri, token))
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 8 << 20)
            .await
            .unwrap();
        (status, headers, bytes.to_vec())
    }
}

fn assert_security_headers(what: &str, h: &axum::http::HeaderMap) {
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{what}");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{what}");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"));
    if html {
        assert_eq!(csp, HTML_CSP, "{what}");
    } else {
        assert!(csp.starts_with("default-src 'none'"), "{what}: {csp}");
    }
}

#[tokio::test]
async fn every_route_answers_with_the_security_headers() {
    let f = fixture().await;
    let mut checked = 0;
    for spec in table() {
        let uri = concrete(spec.path, "1");
        // Anonymous, and with a token the route admits.
        for token in [None, f.token_for(spec.access)] {
            let (status, h, _) = f.call(spec.method.clone(), &uri, token).await;
            assert_security_headers(&format!("{} {uri} -> {status}", spec.method), &h);
            checked += 1;
        }
    }
    // Unknown routes and methods too.
    let (_, h, _) = f.call(Method::GET, "/nope/../../etc/passwd", None).await;
    assert_security_headers("fallback", &h);
    let (_, h, _) = f.call(Method::PATCH, "/healthz", None).await;
    assert_security_headers("405", &h);
    assert!(checked >= 2 * table().len());
    let (_, h, _) = f.call(Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(h[header::CONTENT_SECURITY_POLICY], API_CSP);
}

/// Path parameters an attacker would try: traversal (raw, percent-encoded, double-encoded,
/// backslashes), absolute paths, NUL, over-long ids and SQL fragments.
const HOSTILE_IDS: &[&str] = &[
    "..",
    "%2e%2e",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "..%2F..%2Fsecret.txt",
    "%2e%2e%2f%2e%2e%2fsecret.txt",
    "..%252F..%252Fsecret.txt",
    "..%5C..%5Csecret.txt",
    "%2Fetc%2Fpasswd",
    "blobs%2F..%2Fsecret.txt",
    "a%00b",
    "1%20OR%201%3D1",
    "'%3B%20DROP%20TABLE%20cases%3B--",
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "%F0%9F%94%A5",
];

#[tokio::test]
async fn hostile_path_parameters_get_a_problem_on_every_route() {
    let f = fixture().await;
    let long = "9".repeat(10_000);
    let mut checked = 0;
    for spec in table().iter().filter(|s| s.path.contains('{')) {
        let token = f.token_for(spec.access);
        for id in HOSTILE_IDS.iter().copied().chain([long.as_str()]) {
            let uri = concrete(spec.path, id);
            let (status, h, body) = f.call(spec.method.clone(), &uri, token).await;
            let what = format!("{} {uri}", spec.method);
            let text = String::from_utf8_lossy(&body);
            // This fixture runs without the signals service: those routes answer 503
            // before they look at the id.
            let no_signals = status == StatusCode::SERVICE_UNAVAILABLE
                && (text.contains("/problems/signals-unavailable")
                    || spec.path.starts_with("/safety/"));
            assert!(
                status.is_client_error() || no_signals,
                "{what}: expected a 4xx problem, got {status}: {}",
                String::from_utf8_lossy(&body)
            );
            assert!(!text.contains("TOP-SECRET"), "{what} leaked a file");
            assert!(!text.contains("root:x:0:0"), "{what} leaked /etc/passwd");
            // The API answers problem+json; pages answer people with an (escaped) HTML page.
            let content_type = h[header::CONTENT_TYPE].to_str().unwrap();
            let page = !spec.path.starts_with("/api/");
            assert!(
                content_type.starts_with("application/problem+json")
                    || (page && content_type.starts_with("text/html")),
                "{what}: {content_type:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}
