//! Extractors whose rejections are problem+json ([`ApiError`]) rather than axum's plain
//! text, for every handler, API and pages alike: [`ApiPath`], [`ApiQuery`], [`ApiForm`],
//! [`ApiMultipart`], [`ApiBytes`] (JSON bodies: [`crate::api::ApiJson`]). A handler that takes one of
//! these answers bad input in the one shape the API documents, with the status axum gives
//! the rejection (400, 413, 415, 422).

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{BytesRejection, FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, FromRequest, FromRequestParts, Multipart, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A rejection as a problem: axum's status and text, a slug and title by status.
fn problem(status: StatusCode, slug: &'static str, detail: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(detail),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media(detail),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::new(status, slug, "The request has invalid fields", detail)
        }
        s if s.is_client_error() => ApiError::new(s, slug, "The request is malformed", detail),
        // A route and its extractor disagree (a programming error): logged, not shown.
        _ => ApiError::internal(slug, detail),
    }
}

/// `Path<T>`: a path parameter that does not decode or parse is a 400 problem.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| problem(e.status(), "bad-path", e.body_text()))
    }
}

/// `Query<T>`: a query string that does not deserialize is a 400 problem.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| problem(e.status(), "bad-query", e.body_text()))
    }
}

/// `Form<T>`: 415 for another content type, 422 for fields that do not deserialize, 413
/// over the body limit.
pub struct ApiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Form::<T>::from_request(req, state)
            .await
            .map(|Form(v)| ApiForm(v))
            .map_err(|e: FormRejection| problem(e.status(), "bad-form", e.body_text()))
    }
}

/// `Multipart`: a body that is not `multipart/form-data` with a boundary is a 400 problem
/// (errors inside the parts are the handler's, see `api::intake`).
pub struct ApiMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Multipart::from_request(req, state)
            .await
            .map(ApiMultipart)
            .map_err(|e: MultipartRejection| {
                problem(e.status(), "malformed-multipart", e.body_text())
            })
    }
}

/// `Bytes`: a body over the limit is a 413 problem, one that cannot be read a 400.
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|e: BytesRejection| problem(e.status(), "bad-body", e.body_text()))
    }
}
