//! Static files compiled into the binary, served under a content-hashed name with a year of
//! caching (a new build changes the name). No outside resource is ever referenced.

use crate::extract::ApiPath;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const APP_CSS: &str = include_str!("../../static/app.css");

struct Asset {
    name: String,
    url: String,
    body: &'static str,
    mime: &'static str,
}

fn assets() -> &'static [Asset] {
    static A: OnceLock<Vec<Asset>> = OnceLock::new();
    A.get_or_init(|| {
        let hash = hex::encode(Sha256::digest(APP_CSS.as_bytes()));
        let name = format!("app.{}.css", &hash[..16]);
        vec![Asset {
            url: format!("/static/{name}"),
            name,
            body: APP_CSS,
            mime: "text/css; charset=utf-8",
        }]
    })
}

/// The stylesheet's URL (with its content hash).
pub fn css_url() -> &'static str {
    &assets()[0].url
}

pub async fn serve(ApiPath(file): ApiPath<String>) -> Response {
    match assets().iter().find(|a| a.name == file) {
        Some(a) => {
            let mut r = a.body.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            r
        }
        None => crate::error::ApiError::not_found("static file").into_response(),
    }
}
