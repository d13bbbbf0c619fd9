//! Who is calling: `Authorization: Bearer <api key>` names an application.

use axum::{extract::FromRequestParts, http::request::Parts};
use mailroom_model::ApplicationId;

use crate::{error::ApiError, router::AppState};

/// The application whose API key authenticated the request.
pub struct AppAuth {
    pub application_id: ApplicationId,
}

impl FromRequestParts<AppState> for AppAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_credential(parts)?;
        match state.store.application_for_api_key(key).await? {
            Some(application_id) => Ok(AppAuth { application_id }),
            None => Err(ApiError::unauthorized(
                "the API key is unknown or has been revoked",
            )),
        }
    }
}

/// The credential of a `Bearer` authorization header.
fn bearer_credential(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing Authorization header: send 'Authorization: Bearer <api key>'",
            )
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, credential) = value.trim().split_once(' ').ok_or_else(|| {
        ApiError::unauthorized("the Authorization header must be 'Bearer <api key>'")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "the Authorization header must be 'Bearer <api key>'",
        ));
    }
    Ok(credential.trim())
}
