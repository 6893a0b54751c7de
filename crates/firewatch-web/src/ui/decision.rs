//! What a page's approve and reject buttons post (remedies, statements): the object's id
//! from the path, the signed-in user and the decision form. One extractor, so that each
//! page's `approve` and `reject` are one line over its `decide`.

use super::Ctx;
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{ApiForm, ApiPath};
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

pub struct Decision<F> {
    pub state: AppState,
    pub ctx: Ctx,
    pub principal: Principal,
    /// The path's `{id}`.
    pub id: String,
    pub form: F,
}

impl<F: DeserializeOwned> FromRequest<AppState> for Decision<F> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::from_parts(&parts);
        // `authorize` puts the principal on every route that admits roles only.
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::internal("decision", "no principal on a roles route"))?;
        let ApiPath(id) = ApiPath::<String>::from_request_parts(&mut parts, state).await?;
        let ApiForm(form) =
            ApiForm::<F>::from_request(Request::from_parts(parts, body), state).await?;
        Ok(Decision {
            state: state.clone(),
            ctx,
            principal,
            id,
            form,
        })
    }
}
