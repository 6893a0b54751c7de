//! RFC 9457 problem details. Every error the API returns goes through [`ApiError`]; internal
//! errors are logged with an id and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use firewatch_domain::intake::FieldError;
use firewatch_store::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};

/// Boxed so that `Result<T, ApiError>` stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<ProblemData>);

#[derive(Debug)]
pub struct ProblemData {
    pub status: StatusCode,
    /// Stable slug; the `type` is `/problems/{slug}`.
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub fields: Vec<FieldError>,
    pub extra: Map<String, Value>,
    pub retry_after_secs: Option<u64>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError(Box::new(ProblemData {
            status,
            slug,
            title,
            detail: detail.into(),
            fields: Vec::new(),
            extra: Map::new(),
            retry_after_secs: None,
        }))
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.0.extra.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.0.retry_after_secs = Some(secs);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The human explanation, with the offending fields when there are any.
    pub fn detail(&self) -> String {
        if self.0.fields.is_empty() {
            self.0.detail.clone()
        } else {
            let fields: Vec<String> = self.0.fields.iter().map(|f| f.to_string()).collect();
            format!("{}: {}", self.0.detail, fields.join("; "))
        }
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let detail = format!("invalid fields: {}", names.join(", "));
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request has invalid fields",
            detail,
        );
        e.0.fields = fields;
        e
    }

    pub fn bad_request(slug: &'static str, detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            slug,
            "The request is malformed",
            detail,
        )
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{} not found", what.into()),
        )
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            "send `Authorization: Bearer TOKEN` with a valid, unrevoked token",
        )
    }

    /// A role that the route table does not allow on this route.
    pub fn role_denied(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "role-denied",
            "Not allowed for your role",
            detail,
        )
    }

    /// Allowed on the route, but not on this object or with these values.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "The request is too large",
            detail,
        )
    }

    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported content type",
            detail,
        )
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::now_v7();
        tracing::error!(error_id = %id, %context, error = %err, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("an internal error occurred (id {id}); nothing was changed"),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::IllegalTransition(t) => ApiError::new(
                StatusCode::CONFLICT,
                "illegal-transition",
                "This status change is not allowed",
                t.to_string(),
            )
            .with("from", t.from)
            .with("to", t.to)
            .with("allowed", &t.allowed),
            StoreError::Conflict(detail) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            StoreError::Unavailable(detail) => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-unavailable",
                    "Storage is unavailable",
                    format!(
                        "{detail}; nothing was stored, retry later with the same Idempotency-Key"
                    ),
                );
                e.0.retry_after_secs = Some(5);
                e
            }
            StoreError::Refused(r) => {
                let r = *r;
                let mut e = ApiError::new(
                    StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                    r.slug,
                    r.title,
                    r.detail,
                );
                e.0.extra = r.data;
                e
            }
            other => ApiError::internal("store", other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let p = *self.0;
        let body = Problem {
            kind: format!("/problems/{}", p.slug),
            title: p.title,
            status: p.status.as_u16(),
            detail: &p.detail,
            errors: &p.fields,
            extra: &p.extra,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = (p.status, bytes).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = p.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
