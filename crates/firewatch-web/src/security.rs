//! Security headers on every response. HTML gets a strict Content-Security-Policy without
//! `'unsafe-inline'`; everything else (JSON, problem+json, CSV, images) gets a policy that
//! allows nothing. A handler may set its own policy (the attachment route adds `sandbox`),
//! but it can never weaken the rules: a policy with `'unsafe-inline'` or `'unsafe-eval'`
//! is replaced, and one without `frame-ancestors` gets `frame-ancestors 'none'` appended.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

/// The policy for HTML pages: scripts and styles only from files served by firewatch.
pub const HTML_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
/// The policy for everything that is not HTML.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// `axum::middleware::map_response` hook: sets the headers on `resp`.
pub async fn headers(mut resp: Response) -> Response {
    apply(resp.headers_mut());
    resp
}

/// Sets nosniff, Referrer-Policy, X-Frame-Options and the CSP on a header map.
pub fn apply(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
    let default = if html { HTML_CSP } else { API_CSP };
    let csp = match h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
    {
        None => default.to_string(),
        Some(own) if own.contains("'unsafe-inline'") || own.contains("'unsafe-eval'") => {
            default.to_string()
        }
        Some(own) if own.contains("frame-ancestors") => own.to_string(),
        Some(own) => format!(
            "{}; frame-ancestors 'none'",
            own.trim_end_matches([';', ' '])
        ),
    };
    match HeaderValue::from_str(&csp) {
        Ok(v) => {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        Err(_) => {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(API_CSP),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(ct: &str, csp: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        if let Some(c) = csp {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(c).unwrap(),
            );
        }
        apply(&mut h);
        h
    }

    fn csp(h: &HeaderMap) -> &str {
        h[header::CONTENT_SECURITY_POLICY].to_str().unwrap()
    }

    #[test]
    fn html_gets_the_strict_page_policy_and_json_the_empty_one() {
        let h = with("text/html; charset=utf-8", None);
        assert_eq!(csp(&h), HTML_CSP);
        assert!(!csp(&h).contains("unsafe-inline"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(csp(&with("application/problem+json", None)), API_CSP);
        assert_eq!(csp(&with("TEXT/HTML", None)), HTML_CSP);
    }

    #[test]
    fn a_handler_policy_is_kept_but_never_weakened() {
        let h = with("image/png", Some("default-src 'none'; sandbox"));
        assert_eq!(
            csp(&h),
            "default-src 'none'; sandbox; frame-ancestors 'none'"
        );
        let h = with(
            "text/html",
            Some("default-src 'self'; script-src 'self' 'unsafe-inline'"),
        );
        assert_eq!(csp(&h), HTML_CSP);
        let h = with(
            "text/html",
            Some("default-src 'self'; frame-ancestors 'none'"),
        );
        assert_eq!(csp(&h), "default-src 'self'; frame-ancestors 'none'");
    }
}
