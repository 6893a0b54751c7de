//! JSON API handlers, one module per resource.

pub mod audit;
pub mod cases;
pub mod comms;
pub mod exposure;
pub mod intake;
pub mod playbooks;
pub mod products;
pub mod signals;
pub mod social;

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// `Json<T>` whose rejections are problem+json: 415 for a wrong content type, 400 for
/// malformed JSON, 422 for wrong types or unknown fields (naming the field), 413 when too big.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(e)) => {
                Err(ApiError::unsupported_media(e.body_text()))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                Err(ApiError::bad_request("malformed-json", e.body_text()))
            }
            Err(JsonRejection::JsonDataError(e)) => {
                let text = e.body_text();
                // serde names the path first: "Failed to deserialize ... : to: invalid type ..."
                let field = text
                    .rsplit_once(": ")
                    .map(|(head, _)| head.rsplit(": ").next().unwrap_or("body").to_string())
                    .unwrap_or_else(|| "body".into());
                Err(ApiError::validation(vec![
                    firewatch_domain::intake::FieldError {
                        field,
                        code: "type",
                        message: text,
                    },
                ]))
            }
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::too_large(e.body_text()))
            }
            Err(e) => Err(ApiError::bad_request("malformed-body", e.body_text())),
        }
    }
}
